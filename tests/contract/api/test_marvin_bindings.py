"""Marvin's bindings, generated from our listApis, import.

Marvin (Apache CloudStack tools/marvin) builds `marvin.cloudstackAPI` from the listApis of a running server
(`codegenerator.py -e <host>`: one module per command). The only Marvin on PyPI (cloudstack-marvin 4.4.0, 2014)
is Python 2 code (`self.async = ...` is a syntax error today), so this test writes the same modules the way the
generator does and imports every one of them:

- the module starts with the command's description in a `\"\"\"…\"\"\"` docstring; every parameter and response
  field gets `\"\"\"<description>\"\"\"` before `self.<name> = None` (nested response objects a subclass whose
  docstrings open with four quotes); `typeInfo['<name>'] = '<type>'` and `required = [...]` follow;
- the client module gets one `def <command>(self, command, method="GET")` per command and imports
  `<command>Response` from each module, and `__init__.py` lists them in `__all__`.

So a description ending in `"` or holding `\"\"\"` or an invalid escape, a name that is no identifier or is a
keyword, or a non-string description breaks a module: each is reported with the command it came from.
"""

from __future__ import annotations

import ast
import importlib
import json
import keyword
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.contract

INDENT = "    "


def _doc(text: str, quotes: str = '"""') -> str:
    return f"{quotes}{text}\"\"\""


def _response_lines(fields: list[dict[str, Any]], depth: int, subclasses: list[str]) -> list[str]:
    out = []
    for f in fields:
        if f.get("description") is not None:
            out.append(INDENT * depth + _doc(f["description"]))
        sub = f.get("response") if f.get("type") in ("list", "map", "set") else None
        if sub:
            out.append(INDENT * depth + f"self.{f['name']} = []")
            body = [INDENT * 2 + _doc(s["description"], '""""') if s.get("description") is not None else ""
                    for s in sub]
            lines = [f"class {f['name']}:", INDENT + "def __init__(self):"]
            for s, doc in zip(sub, body, strict=True):
                if doc:
                    lines.append(doc)
                lines.append(INDENT * 2 + f"self.{s['name']} = " + ("[]" if s.get("response") else "None"))
            subclasses.append("\n".join(lines) + "\n")
        else:
            out.append(INDENT * depth + f"self.{f['name']} = None")
            if f.get("type") is not None:
                out.append(INDENT * depth + f"self.typeInfo['{f['name']}'] = '{f['type']}'")
    return out


def command_module(api: dict[str, Any]) -> str:
    """One command's module, built as Marvin's CodeGenerator.generate builds it."""
    lines = [_doc(api.get("description", "")), "from baseCmd import *", "from baseResponse import *",
             f"class {api['name']}Cmd (baseCmd):", INDENT + "typeInfo = {}", INDENT + "def __init__(self):",
             INDENT * 2 + f"self.isAsync = \"{str(api.get('isasync', False)).lower()}\""]
    required = []
    for p in api["params"]:
        if p.get("description") is not None:
            lines.append(INDENT * 2 + _doc(p["description"]))
        if str(p.get("required")).lower() == "true":
            lines.append(INDENT * 2 + '"""Required"""')
            required.append(p["name"])
        lines.append(INDENT * 2 + f"self.{p['name']} = " + ("[]" if p.get("type") in ("list", "map") else "None"))
        lines.append(INDENT * 2 + f"self.typeInfo['{p['name']}'] = '{p.get('type', '')}'")
    lines.append(INDENT * 2 + "self.required = [" + "".join(f'"{r}",' for r in required) + "]")
    lines += ["", f"class {api['name']}Response (baseResponse):", INDENT + "typeInfo = {}",
              INDENT + "def __init__(self):"]
    subclasses: list[str] = []
    fields = [f for f in api.get("response", []) if f]
    lines += _response_lines(fields, 2, subclasses) if fields else [INDENT * 2 + "pass"]
    return "\n".join(lines) + "\n\n" + "\n".join(subclasses)


def client_module(names: list[str]) -> str:
    lines = ['"""Test Client for CloudStack API"""', "import copy"]
    lines += [f"from {n} import {n}Response" for n in names]
    lines += ["class CloudStackAPIClient(object):", INDENT + "def __init__(self, connection):",
              INDENT * 2 + "self.connection = connection"]
    for n in names:
        method = "POST" if n in ("login", "logout") else "GET"
        lines += [INDENT + f'def {n}(self, command, method="{method}"):',
                  INDENT * 2 + f"response = {n}Response()",
                  INDENT * 2 + "response = self.connection.marvinRequest(command, response_type=response, "
                  "method=method)",
                  INDENT * 2 + "return response"]
    return "\n".join(lines) + "\n"


def generate(listapis_text: str, out: Path) -> list[str]:
    """Writes cloudstackAPI/ under `out` from a listApis body; returns the command names."""
    first_line = listapis_text.splitlines()[0]  # Marvin: json.loads(apiStream.readlines()[0])
    body = json.loads(first_line)
    assert "listapisresponse" in body and "count" in body["listapisresponse"]
    pkg = out / "cloudstackAPI"
    pkg.mkdir()
    names = []
    for api in body["listapisresponse"]["api"]:
        (pkg / f"{api['name']}.py").write_text(command_module(api))
        names.append(api["name"])
    (pkg / "baseCmd.py").write_text('"""Base Command"""\nclass baseCmd(object):\n    pass\n')
    (pkg / "baseResponse.py").write_text('"""Base class for response"""\nclass baseResponse(object):\n    pass\n')
    (pkg / "cloudstackAPIClient.py").write_text(client_module(names))
    (pkg / "__init__.py").write_text("__all__ = [" + "".join(f'"{n}",' for n in names) + '"cloudstackAPIClient"]\n')
    return names


def _names_problems(api: dict[str, Any]) -> list[str]:
    out = []
    where = api.get("name", "?")
    if not str(where).isidentifier() or keyword.iskeyword(where):
        out.append(f"command name {where!r} is no Python identifier")
    for kind, items in (("param", api.get("params", [])), ("response field", api.get("response", []))):
        for x in items:
            name = x.get("name")
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                out.append(f"{where}: {kind} name {name!r} is no Python identifier")
            if not isinstance(x.get("description", ""), str):
                out.append(f"{where}: {kind} {name} has a non-string description")
    if not isinstance(api.get("description", ""), str):
        out.append(f"{where}: the description is no string")
    return out


def test_generated_bindings_import(listapis_text: str, tmp_path: Path) -> None:
    body = json.loads(listapis_text.splitlines()[0])
    apis = body["listapisresponse"]["api"]
    problems = [p for api in apis for p in _names_problems(api)]
    names = generate(listapis_text, tmp_path)
    pkg = tmp_path / "cloudstackAPI"
    for n in names:  # compile each alone first, so a broken description names its command
        try:
            ast.parse((pkg / f"{n}.py").read_text(), filename=f"{n}.py")
        except SyntaxError as exc:
            problems.append(f"{n}.py does not compile: {exc.msg} (line {exc.lineno}: {exc.text!r})")
    assert not problems, "\n".join(problems)
    sys.path.insert(0, str(pkg))  # the generated modules import each other as top-level modules, as Marvin's do
    try:
        client = importlib.import_module("cloudstackAPIClient")
        for n in names:
            mod = importlib.import_module(n)
            getattr(mod, f"{n}Cmd")()
            getattr(mod, f"{n}Response")()
            assert callable(getattr(client.CloudStackAPIClient, n))
    finally:
        sys.path.remove(str(pkg))
        for n in [*names, "baseCmd", "baseResponse", "cloudstackAPIClient"]:
            sys.modules.pop(n, None)
    assert len(names) == body["listapisresponse"]["count"]


def test_marvin_bindings_catch_a_stray_quote(tmp_path: Path) -> None:
    """The check itself: the description that broke Marvin (listDomainChildren.isrecursive ended in a `"`)."""
    api = {"name": "listDomainChildren", "description": "Lists all children domains", "isasync": False,
           "params": [{"name": "isrecursive", "type": "boolean", "required": False,
                       "description": 'to return the entire tree, use the value "true"'}], "response": []}
    text = json.dumps({"listapisresponse": {"count": 1, "api": [api]}})
    generate(text, tmp_path)
    with pytest.raises(SyntaxError):
        ast.parse((tmp_path / "cloudstackAPI" / "listDomainChildren.py").read_text())


def test_every_description_is_clean(listapis_text: str) -> None:
    """Descriptions a generator can put between triple quotes: no trailing `"`, no `\"\"\"`, no backslash, no
    control characters; every command, parameter and response field has one."""
    bad = []
    for api in json.loads(listapis_text)["listapisresponse"]["api"]:
        texts = [(api["name"], api.get("description"))]
        texts += [(f"{api['name']}.{p['name']}", p.get("description")) for p in api["params"]]
        stack = [(api["name"], f) for f in api.get("response", [])]
        while stack:
            parent, f = stack.pop()
            texts.append((f"{parent}>{f['name']}", f.get("description")))
            stack += [(f"{parent}>{f['name']}", s) for s in f.get("response", [])]
        for where, text in texts:
            if not isinstance(text, str) or not text.strip():
                bad.append(f"{where}: no description")
            elif text.rstrip().endswith('"') or '"""' in text or "\\" in text or any(ord(c) < 32 for c in text):
                bad.append(f"{where}: {text!r}")
    assert not bad, "\n".join(bad)
