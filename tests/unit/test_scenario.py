"""The scenario runner: paths, variables, expectations, waits, console checks, clean-up steps, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from appliance import scenario as sc
from appliance.client import ApiError

pytestmark = pytest.mark.unit


class FakeClient:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run(self, command: str, **params: Any) -> Any:
        self.calls.append((command, params))
        a = self.answers[command]
        if isinstance(a, Exception):
            raise a
        return a(params) if callable(a) else a


def test_lookup_and_interpolate() -> None:
    obj = {"virtualmachine": {"nic": [{"ipaddress": "10.1.1.2"}], "state": "Running"}}
    assert sc.lookup(obj, "virtualmachine.nic[0].ipaddress") == "10.1.1.2"
    assert sc.lookup(obj, "virtualmachine.nic[1].ipaddress") is sc.MISSING
    env = {"vm": {"id": "abc"}, "n": 3}
    assert sc.interpolate({"id": "${vm.id}", "x": "n=${n}", "raw": "${n}"}, env) == {"id": "abc", "x": "n=3", "raw": 3}
    with pytest.raises(sc.StepFailed, match="undefined variable"):
        sc.interpolate("${nope}", env)


def test_expectations() -> None:
    r = {"vm": {"state": "Running", "cpu": 1, "tags": ["a"]}}
    assert sc.check_expect(r, {"vm.state": "Running", "vm.cpu": "1", "vm.tags": {"contains": "a"}}) == []
    more = {"vm.gone": {"exists": False}, "vm.cpu": {"gte": 1}, "vm.state": {"matches": "^Run"}}
    assert sc.check_expect(r, more) == []
    problems = sc.check_expect(r, {"vm.state": "Stopped", "vm.x": 1})
    assert problems == ["vm.state: wanted 'Stopped', got 'Running'", "vm.x: wanted 1, got nothing"]


def test_run_saves_variables_skips_after_failure_and_cleans_up(tmp_path: Path) -> None:
    client = FakeClient({
        "deployVirtualMachine": {"virtualmachine": {"id": "vm1", "state": "Running"}},
        "stopVirtualMachine": ApiError("stopVirtualMachine", 530, "boom"),
        "destroyVirtualMachine": lambda p: {"success": True, "id": p["id"]},
    })
    data = {"name": "t", "steps": [
        {"name": "deploy", "call": "deployVirtualMachine", "args": {"name": "v-${run}"},
         "expect": {"virtualmachine.state": "Running"}, "save": {"vm": "virtualmachine.id"}},
        {"name": "stop", "call": "stopVirtualMachine", "args": {"id": "${vm}"}},
        {"name": "not run", "call": "deployVirtualMachine"},
        {"name": "destroy", "call": "destroyVirtualMachine", "args": {"id": "${vm}"}, "always": True},
        {"name": "cleanup of nothing", "call": "destroyVirtualMachine", "args": {"id": "${never}"}, "always": True},
    ]}
    report = sc.Runner(client, {"run": "r1"}, tmp_path).run(data)  # type: ignore[arg-type]
    assert [r.status for r in report.results] == ["passed", "failed", "skipped", "passed", "skipped"]
    assert client.calls[0] == ("deployVirtualMachine", {"name": "v-r1"})
    assert client.calls[-1] == ("destroyVirtualMachine", {"id": "vm1"})
    assert not report.ok
    root = ET.fromstring(report.junit().split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "5" and suite.get("failures") == "1"
    assert suite.get("skipped") == "2"
    failure = root.find(".//testcase[@name='stop']/failure")
    assert failure is not None and "boom" in (failure.get("message") or "")


def test_expected_error_and_wait(tmp_path: Path) -> None:
    states = iter(["Starting", "Starting", "Running"])
    client = FakeClient({
        "listVirtualMachines": lambda p: {"virtualmachine": [{"state": next(states)}]},
        "deleteNetwork": ApiError("deleteNetwork", 431, "in use"),
    })
    data = {"name": "w", "steps": [
        {"name": "wait", "wait": {"call": "listVirtualMachines", "expect": {"virtualmachine[0].state": "Running"},
                                  "timeout": 10, "interval": 0.01}},
        {"name": "refused", "call": "deleteNetwork", "expect_error": 431},
    ]}
    report = sc.Runner(client, {}, tmp_path).run(data)  # type: ignore[arg-type]
    assert [r.status for r in report.results] == ["passed", "passed"], report.results


def test_wait_times_out_with_the_last_mismatch(tmp_path: Path) -> None:
    client = FakeClient({"listVirtualMachines": {"virtualmachine": [{"state": "Starting"}]}})
    data = {"name": "w", "steps": [{"name": "wait", "wait": {
        "call": "listVirtualMachines", "expect": {"virtualmachine[0].state": "Running"}, "timeout": 0.05,
        "interval": 0.01}}]}
    report = sc.Runner(client, {}, tmp_path).run(data)  # type: ignore[arg-type]
    assert report.results[0].status == "failed" and "wanted 'Running', got 'Starting'" in report.results[0].message


def test_console_step_counts_occurrences_and_saves_groups(tmp_path: Path) -> None:
    (tmp_path / "i-2-3-VM.log").write_text("boot\nDEVCLOUD-DISK-ADDED vdb\nDEVCLOUD-DISK-ADDED vdc\n")
    data = {"name": "c", "steps": [
        {"name": "second", "console": {"vm": "i-2-3-VM", "matches": r"DEVCLOUD-DISK-ADDED (\w+)", "count": 2,
                                       "timeout": 1}, "save": {"dev": 1}},
        {"name": "third", "console": {"vm": "i-2-3-VM", "contains": "DEVCLOUD-DISK-ADDED", "count": 3,
                                      "timeout": 0.2}},
    ]}
    env: dict[str, Any] = {}
    report = sc.Runner(FakeClient({}), env, tmp_path).run(data)  # type: ignore[arg-type]
    assert [r.status for r in report.results] == ["passed", "failed"]
    assert env["dev"] == "vdc"


def test_shipped_scenarios_load() -> None:
    data = sc.load("smoke-local")
    names = [s["name"] for s in data["steps"]]
    assert "deploy a VM" in names and "revert to the snapshot" in names and "destroy the VM" in names


def test_a_step_needs_one_action(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: bad\nsteps:\n  - name: two\n    call: listZones\n    ssh: {}\n")
    with pytest.raises(sc.ScenarioError, match=r"steps\[0\] \(two\) needs exactly one of"):
        sc.load(p)
