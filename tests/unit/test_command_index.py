"""Command modules are imported at first use: the index says which module registers each command, and every path
that needs them all (a write, a job, listApis, an entity or a tag type not registered yet) loads the rest. Each case
runs in a fresh interpreter, since this one may have imported every module already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from management.api.cloudstack import commands

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> dict:
    """Runs `code` after importing the API app (as the server does) in a new interpreter; it prints one JSON line."""
    prelude = ("import json, sys\nfrom management.api import app  # noqa\n"
               "from management.api.cloudstack import commands, registry\n"
               "from management.services import access, tags\n"
               "def loaded():\n"
               "    return sorted(m for m in sys.modules if m.startswith('management.api.cloudstack.commands.'))\n")
    out = subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_index_is_current() -> None:
    index = Path(commands.__file__).with_name("index.py")
    text = index.read_text(encoding="utf-8")
    assert commands.render_index(text) == text, (
        "the commands index is stale: run `.venv/bin/python -m management.api.cloudstack.commands` and commit it")


def test_starting_imports_no_command_module_and_a_call_imports_its_own() -> None:
    r = _fresh("before = loaded()\nspec = registry.lookup('LISTZONES')\n"
               "print(json.dumps({'before': before, 'name': spec.name, 'after': loaded(), "
               "'all': commands.is_fully_loaded(), 'count': len(commands.module_names())}))")
    assert r["before"] == ["management.api.cloudstack.commands.index"]
    assert r["name"] == "listZones"
    assert "management.api.cloudstack.commands.infra.zones" in r["after"]
    assert not r["all"] and len(r["after"]) < r["count"] / 2, r["after"]


def test_a_name_missing_from_the_index_still_resolves_and_an_unknown_one_does_not() -> None:
    r = _fresh("from management.api.cloudstack.commands import index\ndel index.MODULES['listzones']\n"
               "spec = registry.lookup('listZones')\n"
               "print(json.dumps({'name': spec and spec.name, 'all': commands.is_fully_loaded(), "
               "'unknown': registry.lookup('frobnicateWidget') is None}))")
    assert r == {"name": "listZones", "all": True, "unknown": True}


def test_listing_every_command_loads_them_all() -> None:
    r = _fresh("n = len(registry.commands())\nprint(json.dumps({'n': n, 'all': commands.is_fully_loaded()}))")
    assert r["all"] and r["n"] == len(commands.index.MODULES)


def test_entities_and_tag_types_of_modules_not_yet_imported_are_found() -> None:
    # Projects and VM snapshots register in their own modules; nothing has imported them yet.
    r = _fresh("before = 'management.api.cloudstack.commands.identity.projects' in loaded()\n"
               "project = access.entity_policy('Project').model.__name__\n"
               "vmsnap = tags.canonical_type('vmsnapshot')\n"
               "print(json.dumps({'before': before, 'project': project, 'vmsnap': vmsnap}))")
    assert r == {"before": False, "project": "Project", "vmsnap": "VMSnapshot"}
