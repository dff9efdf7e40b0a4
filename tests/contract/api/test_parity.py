"""API parity with Apache CloudStack 4.22: the live `listApis` (through the ASGI app, as a client reads it)
compared with the reference inventory vendored in tests/data/cloudstack-api-4.22.json.gz (every @APICommand of
CloudStack 4.22 with its parameters and response classes; interface data only).

What is compared, for every command the reference knows and this server registers (core and plugin alike):
- the parameter names (case-insensitive: listApis prints `login.domainId` camel-cased, we print lower case),
  their types, required flags and string lengths, and the async flag;
- the response: every field of the reference's response class is in listApis' `response` list, unless
  `exempt_fields` in parity_allowlist.yaml says why its value cannot exist here.

How the reference is read:
- Types: CloudStack's listApis prints `@Parameter.type()` (a CommandType) lower-cased
  (ApiDiscoveryServiceImpl.getCmdRequestMap: `type().toString().toLowerCase()`), so INTEGER → "integer",
  LONG → "long", UUID → "uuid", DOUBLE → "double", and so on.
- Lengths: `@Parameter.length()`, 255 when the reference says null.
- Admin and user variants: 64 names have two classes (`FooCmd` and `FooCmdByAdmin`; the admin one usually adds
  optional parameters). One registered command serves both, so its parameters are the union, and a parameter
  is required when every variant that declares it requires it: a caller that one variant lets omit a parameter
  must not be refused by listApis' word. (In 4.22 no parameter is required in one variant and optional or absent
  in the other; `test_reference_variants_agree` keeps that true, so the union loses nothing.)
- Response fields: the reference's response class's @SerializedName fields, `jobid`/`jobstatus` of BaseResponse
  included; nested objects are not walked.

What fails (only regressions, so the test stays green while the families land):
- a core command neither registered nor allow-listed;
- an allow-listed command (`left_out` or `not_yet`) that is registered — the list only shrinks;
- more than 40 commands in `left_out`;
- a registered command that deviates from the reference beyond parity_baseline.yaml, the record of the
  deviations that existed when this test landed — and an entry of that record that no longer deviates (delete it:
  the record only shrinks too).
The remaining gap is printed as a table at the end of the run (see conftest.py here).
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.contract

REFERENCE = REPO / "tests" / "data" / "cloudstack-api-4.22.json.gz"
ALLOWLIST = Path(__file__).with_name("parity_allowlist.yaml")
BASELINE = Path(__file__).with_name("parity_baseline.yaml")
LEFT_OUT_MAX = 40
DEFAULT_LENGTH = 255
# Plugins a sandbox user meets: they must be registered like core commands.
SANDBOX_PLUGINS = ("plugins/metrics", "plugins/database/quota", "plugins/dedicated-resources",
                   "plugins/hypervisors/simulator", "plugins/api/rate-limit", "plugins/maintenance",
                   "plugins/api/discovery")


def is_core(module: str) -> bool:
    return not module.startswith("plugins/")


@dataclass
class RefCommand:
    name: str
    modules: set[str] = field(default_factory=set)
    is_async: bool = False
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-cased name -> type/required/length
    responses: set[str] = field(default_factory=set)  # response class names
    variants: list[dict[str, Any]] = field(default_factory=list)

    @property
    def core(self) -> bool:
        return any(is_core(m) for m in self.modules)


@dataclass
class Reference:
    commands: dict[str, RefCommand]
    responses: dict[str, list[str]]  # class -> field names

    @property
    def core(self) -> set[str]:
        return {n for n, c in self.commands.items() if c.core}


def load_reference() -> Reference:
    raw = json.loads(gzip.decompress(REFERENCE.read_bytes()))
    commands: dict[str, RefCommand] = {}
    for c in raw["commands"]:
        rc = commands.setdefault(c["name"], RefCommand(c["name"]))
        rc.modules.add(c["module"])
        rc.is_async = rc.is_async or c["async"]
        rc.responses.add(c["response_object"])
        rc.variants.append(c)
        for p in c["params"]:
            if p.get("framework"):  # response/starteventid/customjobid: BaseCmd's own, never in listApis
                continue
            key = p["name"].lower()
            mine = {"type": p["type"].lower(), "required": bool(p["required"]),
                    "length": p.get("length") or DEFAULT_LENGTH}
            old = rc.params.get(key)
            if old is not None:
                mine["required"] = mine["required"] and old["required"]
            rc.params[key] = mine
    responses = {cls: [f["name"] for f in fields] for cls, fields in raw["responses"].items()}
    return Reference(commands, responses)


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) or {}
    assert isinstance(data, dict), f"{path.name} must be a mapping"
    return data


# ------------------------------------------------------------------------------------------------ the live side

@pytest.fixture(scope="module")
def live_apis(listapis_text: str) -> dict[str, dict[str, Any]]:
    assert "\n" not in listapis_text.strip(), "listApis must be one line (Marvin reads readlines()[0])"
    return {a["name"]: a for a in json.loads(listapis_text)["listapisresponse"]["api"]}


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_reference()


@pytest.fixture(scope="module")
def allowlist() -> dict[str, Any]:
    return load_yaml(ALLOWLIST)


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return load_yaml(BASELINE)


# ------------------------------------------------------------------------------------------------ comparisons

def param_deviations(ref: RefCommand, api: dict[str, Any]) -> list[str]:
    """How one registered command's listApis entry differs from the reference, as short sortable strings."""
    out: list[str] = []
    ours = {p["name"].lower(): p for p in api["params"]}
    for name, want in sorted(ref.params.items()):
        have = ours.get(name)
        if have is None:
            out.append(f"lacks {name}")
            continue
        if have["type"] != want["type"]:
            out.append(f"type {name} {have['type']}!={want['type']}")
        if bool(have["required"]) != want["required"]:
            out.append(f"required {name} {str(bool(have['required'])).lower()}!={str(want['required']).lower()}")
        if int(have.get("length", DEFAULT_LENGTH)) != want["length"]:
            out.append(f"length {name} {have.get('length')}!={want['length']}")
    out += [f"extra {name}" for name in sorted(set(ours) - set(ref.params))]
    if bool(api["isasync"]) != ref.is_async:
        out.append(f"async {str(bool(api['isasync'])).lower()}!={str(ref.is_async).lower()}")
    return out


def response_gaps(reference: Reference, exempt: dict[str, dict[str, str]],
                  live: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Reference response fields missing from listApis, by response class, over every registered command."""
    gaps: dict[str, set[str]] = defaultdict(set)
    for name, api in live.items():
        ref = reference.commands.get(name)
        if ref is None:
            continue
        ours = {f["name"] for f in api.get("response", [])}
        for cls in ref.responses:
            for f in reference.responses.get(cls, []):
                if f not in ours and f not in exempt.get(cls, {}) and f not in exempt.get("*", {}):
                    gaps[cls].add(f)
    return gaps




# ------------------------------------------------------------------------------------------------ tests

def test_reference_variants_agree(reference: Reference) -> None:
    """The union rule for admin/user variants loses nothing: no parameter is required in one variant and optional
    or absent in another, and no type or length differs between variants."""
    conflicts = []
    for rc in reference.commands.values():
        if len(rc.variants) < 2:
            continue
        per = [{p["name"].lower(): p for p in v["params"] if not p.get("framework")} for v in rc.variants]
        for pname in set().union(*per):
            seen = {(m[pname]["required"], m[pname]["type"], m[pname].get("length")) if pname in m else None
                    for m in per}
            if any(s is not None and s[0] for s in seen) and len(seen) > 1:
                conflicts.append(f"{rc.name}.{pname}: {seen}")
            if len({s[1:] for s in seen if s is not None}) > 1:
                conflicts.append(f"{rc.name}.{pname}: {seen}")
    assert not conflicts, "\n".join(conflicts)


def test_allowlist_is_well_formed(reference: Reference, allowlist: dict[str, Any]) -> None:
    assert set(allowlist) <= {"left_out", "not_yet", "exempt_fields"}, sorted(allowlist)
    left_out: dict[str, str] = allowlist.get("left_out") or {}
    not_yet: dict[str, int] = allowlist.get("not_yet") or {}
    assert len(left_out) <= LEFT_OUT_MAX, f"left_out has {len(left_out)} commands (at most {LEFT_OUT_MAX})"
    for name, why in left_out.items():
        assert isinstance(why, str) and len(why.split()) >= 3, f"left_out {name}: say why ({why!r})"
    for name, issue in not_yet.items():
        assert isinstance(issue, int) and issue > 0, f"not_yet {name}: give the issue number ({issue!r})"
    both = set(left_out) & set(not_yet)
    assert not both, f"in both left_out and not_yet: {sorted(both)}"
    plugins = {n for n, c in reference.commands.items() if c.modules & set(SANDBOX_PLUGINS)}
    unknown = sorted(set(left_out) - reference.core) + sorted(set(not_yet) - reference.core - plugins)
    assert not unknown, f"allow-listed names that are no core (or sandbox plugin) command of the reference: {unknown}"
    for cls, fields in (allowlist.get("exempt_fields") or {}).items():
        assert cls == "*" or cls in reference.responses, f"exempt_fields: no response class {cls}"
        for f, why in fields.items():
            assert cls == "*" or f in reference.responses[cls], f"exempt_fields: {cls} has no field {f}"
            assert isinstance(why, str) and len(why.split()) >= 3, f"exempt_fields {cls}.{f}: say why"


def test_every_core_command_is_registered_or_allow_listed(reference: Reference, allowlist: dict[str, Any],
                                                          live_apis: dict[str, dict[str, Any]],
                                                          parity_report: dict[str, list[str]]) -> None:
    left_out = set(allowlist.get("left_out") or {})
    not_yet: dict[str, int] = allowlist.get("not_yet") or {}
    core = reference.core
    registered = core & set(live_apis)
    missing = core - registered
    by_issue: dict[int, int] = defaultdict(int)
    for name in missing & set(not_yet):
        by_issue[not_yet[name]] += 1
    plugins = {n for n, c in reference.commands.items() if not c.core}
    extra = sorted(set(live_apis) - set(reference.commands))
    parity_report["commands"] = [
        f"core commands registered      {len(registered):4d} / {len(core)}",
        f"listApis commands             {len(live_apis):4d}",
        f"plugin commands registered    {len(plugins & set(live_apis)):4d} / {len(plugins)}",
        f"left_out (permanent, <= {LEFT_OUT_MAX})  {len(left_out):4d}",
        f"not_yet (work in progress)    {len(not_yet):4d}   "
        + ", ".join(f"issue {i}: {n}" for i, n in sorted(by_issue.items())),
        f"registered, not in reference  {len(extra):4d}   {' '.join(extra)}",
    ]
    unlisted = sorted(missing - left_out - set(not_yet))
    stale = sorted((left_out | set(not_yet)) & registered)
    problems = []
    if unlisted:
        problems.append("core commands neither registered nor in parity_allowlist.yaml (register them, or list them "
                        "under not_yet with the issue that covers them):\n  " + "\n  ".join(unlisted))
    if stale:
        problems.append("registered commands still in parity_allowlist.yaml (delete their lines — the list only "
                        "shrinks):\n  " + "\n  ".join(stale))
    assert not problems, "\n".join(problems)


def test_sandbox_plugins_are_registered(reference: Reference, allowlist: dict[str, Any],
                                        live_apis: dict[str, dict[str, Any]],
                                        parity_report: dict[str, list[str]]) -> None:
    """The plugins a sandbox user meets (metrics, quota, dedicated resources, the simulator's, rate limits, host
    maintenance) are held to the core rule: registered, or in `not_yet` with their issue — and never both."""
    not_yet = set(allowlist.get("not_yet") or {})
    wanted = sorted(n for n, c in reference.commands.items() if c.modules & set(SANDBOX_PLUGINS))
    missing = [n for n in wanted if n not in live_apis and n not in not_yet]
    stale = [n for n in wanted if n in live_apis and n in not_yet]
    parity_report["plugins"] = [f"sandbox plugin commands        {len([n for n in wanted if n in live_apis]):4d} / "
                       f"{len(wanted)} registered"]
    assert not missing, f"plugin commands a sandbox user meets, neither registered nor in not_yet: {missing}"
    assert not stale, f"registered plugin commands still in not_yet (delete their lines): {stale}"


def _deviations(reference: Reference, live: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    out = {}
    for name, api in sorted(live.items()):
        ref = reference.commands.get(name)
        if ref is not None:
            devs = param_deviations(ref, api)
            if devs:
                out[name] = devs
    return out


def test_registered_commands_match_the_reference(reference: Reference, baseline: dict[str, Any],
                                                 live_apis: dict[str, dict[str, Any]],
                                                 parity_report: dict[str, list[str]]) -> None:
    known: dict[str, list[str]] = baseline.get("params") or {}
    now = _deviations(reference, live_apis)
    new = {n: [d for d in devs if d not in set(known.get(n) or [])] for n, devs in now.items()}
    new = {n: d for n, d in new.items() if d}
    stale = {n: [d for d in (devs or []) if d not in set(now.get(n, []))] for n, devs in known.items()}
    stale = {n: d for n, d in stale.items() if d}
    kinds: dict[str, int] = defaultdict(int)
    for devs in now.values():
        for d in devs:
            kinds[d.split()[0]] += 1
    parity_report["parameters"] = [
        f"registered commands deviating {len(now):4d}   "
        + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())),
    ] + [f"  {n:42s} {' | '.join(d)}" for n, d in sorted(now.items())]
    problems = []
    if new:
        problems.append("registered commands that deviate from CloudStack 4.22 (fix the command: names, types, "
                        "required flags and lengths as the reference has them):\n"
                        + "\n".join(f"  {n}: {d}" for n, d in sorted(new.items())))
    if stale:
        problems.append("parity_baseline.yaml `params` lists deviations that are gone (delete those lines — the "
                        "record only shrinks):\n" + "\n".join(f"  {n}: {d}" for n, d in sorted(stale.items())))
    assert not problems, "\n".join(problems)


def test_response_fields_match_the_reference(reference: Reference, allowlist: dict[str, Any],
                                             baseline: dict[str, Any],
                                             live_apis: dict[str, dict[str, Any]],
                                             parity_report: dict[str, list[str]]) -> None:
    exempt: dict[str, dict[str, str]] = allowlist.get("exempt_fields") or {}
    known: dict[str, list[str]] = baseline.get("responses") or {}
    now = response_gaps(reference, exempt, live_apis)
    new = {c: sorted(f - set(known.get(c) or [])) for c, f in now.items()}
    new = {c: f for c, f in new.items() if f}
    stale = {c: sorted(set(f or []) - now.get(c, set())) for c, f in known.items()}
    stale = {c: f for c, f in stale.items() if f}
    parity_report["responses"] = [
        f"response fields missing       {sum(len(f) for f in now.values()):4d} in {len(now)} classes; exempt "
        f"{sum(len(f) for f in exempt.values())}",
    ] + [f"  {c:42s} {' '.join(sorted(f))}" for c, f in sorted(now.items())]
    problems = []
    if new:
        problems.append("response fields of the reference missing from listApis (add them where the value exists "
                        "here; else exempt them with a reason in parity_allowlist.yaml `exempt_fields`):\n"
                        + "\n".join(f"  {c}: {f}" for c, f in sorted(new.items())))
    if stale:
        problems.append("parity_baseline.yaml `responses` lists fields that are there now (delete them — the "
                        "record only shrinks):\n" + "\n".join(f"  {c}: {f}" for c, f in sorted(stale.items())))
    assert not problems, "\n".join(problems)


