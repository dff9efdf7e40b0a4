"""`devcloud scenario run NAME`: ordered steps from a YAML file against the running sandbox, JUnit XML out.

A scenario file (`scenarios/<name>.yaml`, or a path) has `name`, optional `vars`, and `steps`; every step has a
`name` and one action:

- `call: <command>` with `args` — an API call (async commands wait for their job); `expect` maps a path in the
  result (`virtualmachine.state`, `volume[0].id`) to a value, or to `{contains|ne|in|exists|gte|lte|matches: x}`;
  `expect_error: <code>` expects a CloudStack error; `save: {var: path}` keeps values for later steps.
- `wait:` the same keys as a call plus `timeout` (seconds): repeats the call until `expect` holds.
- `ssh: {host, port, key, user, command, expect|contains, timeout}` — runs a command in a guest, retrying until
  it succeeds (and matches) or the deadline passes; `save: {var: stdout}`.
- `console: {vm: <instance name>, contains|matches: ..., timeout, count: N}` — waits for (the Nth occurrence of)
  text in the guest's serial console log; `save: {var: 1}` keeps a regex group.
- `sleep: seconds` (avoid; prefer waits).

`${var.path}` inside strings is replaced by saved values; predefined: `sandbox.*` (the first VM's facts from
`devcloud up`: ip, port, key, keypair, zone_id, network_id, ip_id, vm_id), `run` (a unique suffix). A step with
`always: true` runs even after a failure (clean-up); other steps after a failure are reported as skipped.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from appliance.client import ApiError, CloudClient
from appliance.zonespec import SCENARIO_DIR

_VAR = re.compile(r"\$\{([^}]+)\}")
_PATH = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
MISSING = object()


class ScenarioError(ValueError):
    pass


class StepFailed(AssertionError):
    pass


def lookup(obj: Any, path: str) -> Any:
    """`a.b[0].c` in nested dicts/lists; MISSING when absent."""
    cur = obj
    for name, idx in _PATH.findall(path):
        if idx:
            if not isinstance(cur, list) or int(idx) >= len(cur):
                return MISSING
            cur = cur[int(idx)]
        else:
            if isinstance(cur, list) and name.isdigit():
                cur = cur[int(name)] if int(name) < len(cur) else MISSING
            elif not isinstance(cur, dict) or name not in cur:
                return MISSING
            else:
                cur = cur[name]
        if cur is MISSING:
            return MISSING
    return cur


def interpolate(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            got = lookup(env, whole.group(1))
            if got is MISSING:
                raise StepFailed(f"undefined variable ${{{whole.group(1)}}}")
            return got

        def sub(m: re.Match[str]) -> str:
            got = lookup(env, m.group(1))
            if got is MISSING:
                raise StepFailed(f"undefined variable ${{{m.group(1)}}}")
            return str(got)

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return value


def _norm(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return v


def _op(op: str, got: Any, arg: Any) -> bool:
    if op == "exists":
        return (got is not MISSING) == bool(arg)
    if got is MISSING:
        return op == "ne"
    if op == "contains":
        return str(arg) in (got if isinstance(got, list) else str(got))
    if op == "ne":
        return bool(_norm(got) != _norm(arg))
    if op == "in":
        return got in arg
    if op == "gte":
        return float(got) >= float(arg)
    if op == "lte":
        return float(got) <= float(arg)
    return re.search(str(arg), str(got)) is not None


def check_expect(result: Any, expect: dict[str, Any]) -> list[str]:
    """The mismatches, one line each ("path: wanted X, got Y")."""
    problems = []
    for path, want in expect.items():
        got = lookup(result, path)
        if isinstance(want, dict) and len(want) == 1 and next(iter(want)) in (
                "contains", "ne", "in", "exists", "gte", "lte", "matches"):
            op, arg = next(iter(want.items()))
            ok = _op(op, got, arg)
            if not ok:
                problems.append(f"{path}: wanted {op} {arg!r}, got {'nothing' if got is MISSING else repr(got)}")
        elif got is MISSING or (_norm(got) != _norm(want) and str(got) != str(want)):
            problems.append(f"{path}: wanted {want!r}, got {'nothing' if got is MISSING else repr(got)}")
    return problems


@dataclass
class StepResult:
    name: str
    status: str  # passed | failed | skipped
    seconds: float = 0.0
    message: str = ""


@dataclass
class Report:
    name: str
    results: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    def junit(self) -> str:
        failures = sum(r.status == "failed" for r in self.results)
        skipped = sum(r.status == "skipped" for r in self.results)
        suites = ET.Element("testsuites")
        suite = ET.SubElement(suites, "testsuite", name=self.name, tests=str(len(self.results)),
                              failures=str(failures), errors="0", skipped=str(skipped), time=f"{self.seconds:.3f}")
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"scenario.{self.name}", name=r.name,
                                 time=f"{r.seconds:.3f}")
            if r.status == "failed":
                ET.SubElement(case, "failure", message=r.message.splitlines()[0][:500] if r.message else "failed"
                              ).text = r.message
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.message or "an earlier step failed")
        ET.indent(suites)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def load(name_or_path: str | Path) -> dict[str, Any]:
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ScenarioError(f"no scenario {name_or_path} ({path})")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ScenarioError(f"{path}: a scenario needs `name` and a list of `steps`")
    actions = ("call", "wait", "ssh", "console", "sleep")
    for i, step in enumerate(data["steps"]):
        if not isinstance(step, dict) or "name" not in step:
            raise ScenarioError(f"{path}: steps[{i}] needs a name")
        found = [a for a in actions if a in step]
        if len(found) != 1:
            raise ScenarioError(f"{path}: steps[{i}] ({step['name']}) needs exactly one of {', '.join(actions)}")
    data.setdefault("name", path.stem)
    return data


class Runner:
    def __init__(self, client: CloudClient, env: dict[str, Any], console_dir: Path,
                 notify: Callable[[str], None] | None = None) -> None:
        self.c = client
        self.env = env
        self.console_dir = console_dir
        self.notify = notify or (lambda _m: None)

    def run(self, scenario: dict[str, Any]) -> Report:
        report = Report(scenario["name"])
        self.env.setdefault("run", uuid.uuid4().hex[:6])
        for k, v in (scenario.get("vars") or {}).items():
            self.env[k] = interpolate(v, self.env)
        t_all = time.monotonic()
        failed = False
        for step in scenario["steps"]:
            name = str(step["name"])
            if failed and not step.get("always"):
                report.results.append(StepResult(name, "skipped"))
                continue
            self.notify(name)
            t0 = time.monotonic()
            try:
                self.step(step)
                report.results.append(StepResult(name, "passed", time.monotonic() - t0))
            except StepFailed as exc:
                if step.get("always") and str(exc).startswith("undefined variable"):
                    # clean-up of something an earlier failure never made
                    report.results.append(StepResult(name, "skipped", 0.0, str(exc)))
                    continue
                failed = True
                report.results.append(StepResult(name, "failed", time.monotonic() - t0, f"StepFailed: {exc}"))
            except (ApiError, TimeoutError, subprocess.SubprocessError, OSError) as exc:
                failed = True
                report.results.append(StepResult(name, "failed", time.monotonic() - t0,
                                                 f"{type(exc).__name__}: {exc}"))
        report.seconds = time.monotonic() - t_all
        return report

    # ---- actions ----------------------------------------------------------------------------------------
    def step(self, step: dict[str, Any]) -> None:
        if "call" in step:
            result = self._call(step)
        elif "wait" in step:
            result = self._wait(step)
        elif "ssh" in step:
            result = self._ssh(interpolate(step["ssh"], self.env))
        elif "console" in step:
            result = self._console(interpolate(step["console"], self.env))
        else:
            time.sleep(float(step["sleep"]))
            result = None
        for var, path in (step.get("save") or {}).items():
            got = lookup(result, str(path)) if not isinstance(result, (str, re.Match)) else (
                result if isinstance(result, str) else result.group(int(path)))
            if got is MISSING:
                raise StepFailed(f"save {var}: no {path} in the result")
            self.env[var] = got

    def _call(self, step: dict[str, Any]) -> Any:
        args = interpolate(step.get("args") or {}, self.env)
        command = step["call"]
        want_error = step.get("expect_error")
        try:
            result = self.c.run(command, **args)
        except ApiError as exc:
            if want_error is not None and (want_error is True or int(want_error) == exc.status):
                return {"errorcode": exc.status, "errortext": exc.text}
            raise
        if want_error is not None:
            raise StepFailed(f"{command} succeeded; expected error {want_error}")
        problems = check_expect(result, interpolate(step.get("expect") or {}, self.env))
        if problems:
            raise StepFailed(f"{command}: " + "; ".join(problems))
        return result

    def _wait(self, step: dict[str, Any]) -> Any:
        spec = step["wait"]
        timeout = float(spec.get("timeout", 60))
        interval = float(spec.get("interval", 1.0))
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            args = interpolate(spec.get("args") or {}, self.env)
            try:
                result = self.c.run(spec["call"], **args)
                problems = check_expect(result, interpolate(spec.get("expect") or {}, self.env))
                if not problems:
                    return result
                last = "; ".join(problems)
            except ApiError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{spec['call']} after {timeout:.0f} s: {last}")
            time.sleep(interval)

    def _ssh(self, spec: dict[str, Any]) -> str:
        from appliance.deploy import ssh_command

        timeout = float(spec.get("timeout", 60))
        deadline = time.monotonic() + timeout
        cmd = ssh_command(spec["key"], str(spec["host"]), int(spec.get("port", 22)), spec.get("user", "root"),
                          str(spec.get("command", "hostname")))
        last = ""
        while True:
            try:
                r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
                out = r.stdout.strip()
                if r.returncode == 0:
                    if "expect" in spec and out != str(spec["expect"]):
                        last = f"stdout {out!r} != {spec['expect']!r}"
                    elif "contains" in spec and str(spec["contains"]) not in out:
                        last = f"stdout {out!r} lacks {spec['contains']!r}"
                    else:
                        return out
                else:
                    last = f"exit {r.returncode}: {r.stderr.strip()[-300:]}"
            except subprocess.TimeoutExpired:
                last = "ssh timed out"
            if time.monotonic() > deadline:
                raise TimeoutError(f"ssh {spec['host']}:{spec.get('port', 22)} `{spec.get('command')}` "
                                   f"after {timeout:.0f} s: {last}")
            time.sleep(1.0)

    def _console(self, spec: dict[str, Any]) -> Any:
        path = self.console_dir / f"{spec['vm']}.log"
        timeout = float(spec.get("timeout", 60))
        start = 0
        if spec.get("from_end") and path.is_file():
            start = path.stat().st_size
        pattern = re.compile(spec["matches"]) if "matches" in spec else re.compile(re.escape(str(spec["contains"])))
        deadline = time.monotonic() + timeout
        while True:
            if path.is_file():
                text = path.read_bytes()[start:].decode(errors="replace")
                found = list(pattern.finditer(text))
                if len(found) >= int(spec.get("count", 1)):
                    return found[int(spec.get("count", 1)) - 1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"console {path} did not show {pattern.pattern!r} within {timeout:.0f} s")
            time.sleep(0.5)
