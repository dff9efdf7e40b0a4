"""The simulator's own API (plugins/hypervisors/simulator): mocks that make agent commands fail, wait or answer
given values on simulated hosts, kept in the simulator's memory; the HA provider state of a host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.drivers import simulator_mocks
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    simulator_mocks.clear()
    yield from sim_zone(server, tmp_path)
    simulator_mocks.clear()


def test_a_stop_command_mock_fails_the_stop_then_runs_out(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    r = api.call("configureSimulator", name="StopCommand", value="result:fail", count=1, zoneid=zone["zone"])
    assert r.status_code == 200
    mock = r.json()["simulatormock"]  # CloudStack names this response simulatormock, fields right under it
    assert mock["name"] == "StopCommand" and mock["count"] == 1 and isinstance(mock["id"], int)

    job = api.wait(api("stopVirtualMachine", id=vm["id"])["jobid"])
    assert job["jobstatus"] == 2, job
    assert job["jobresult"]["errortext"].startswith(f"Unable to stop VM {vm['id']} due to an error on its host")
    assert api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Running"

    left = api.call("querySimulatorMock", id=mock["id"]).json()["simulatormock"]
    assert left["count"] == 0  # used up: still listed, acting on nothing
    assert api.run("stopVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Stopped"

    assert api("cleanupSimulatorMock", id=mock["id"]) == {"success": True}
    status, err = api.error("querySimulatorMock", id=mock["id"])
    assert (status, err["errortext"]) == (530, "Failed to query mock")
    status, err = api.error("cleanupSimulatorMock", id=mock["id"])
    assert (status, err["errortext"]) == (530, "Failed to cleanup mock")


def test_a_host_scoped_mock_only_touches_that_host(api: ApiClient, zone: dict[str, Any]) -> None:
    first = deploy(api, zone)
    other = next(h for h in zone["hosts"] if h != first["hostid"])
    api.call("configureSimulator", name="StartCommand", value="result:fail", hostid=first["hostid"])
    # Pinned to the mocked host, the deploy fails; elsewhere it runs.
    job = api.wait(api("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                       templateid=zone["template"], hostid=first["hostid"])["jobid"])
    assert job["jobstatus"] == 2 and "Simulated failure of StartCommand" in job["jobresult"]["errortext"]
    assert deploy(api, zone, hostid=other)["state"] == "Running"


def test_a_stats_mock_answers_the_values_metrics_show(api: ApiClient, zone: dict[str, Any]) -> None:
    api.call("configureSimulator", name="GetHostStatsCommand", value="result:success", hostid=zone["hosts"][0],
             jsonresponse='{"hostStats":{"cpuUtilization":87.5,"totalMemoryKBs":16777216,"freeMemoryKBs":4194304}}')
    host = api("listHostsMetrics", id=zone["hosts"][0])["host"][0]
    assert host["cpuused"] == "87.50%" and host["cputhreshold"] is True and host["cpudisablethreshold"] is True
    assert host["memoryusedgb"] == "12.00 GB"


def test_ha_provider_state_and_transitions(api: ApiClient, zone: dict[str, Any]) -> None:
    assert api("configureSimulatorHAProviderState", hostid=zone["hosts"][0], health=False, activity=True,
               recover=True, fence=False) == {"success": True}
    # Host HA (configureHAForHost) does not run here: no state transition is ever recorded.
    assert api("listSimulatorHAStateTransitions", hostid=zone["hosts"][0]) == {}
    status, _ = api.error("configureSimulator", name="StopCommand")
    assert status == 431  # value is required
