"""Host HA and VM HA on the simulator: a host that stops answering is investigated through its storage heartbeat
(read by a neighbour); a dead one is fenced and marked Down, its HA VMs start on the other host, the others are
Stopped; one that is only unreachable goes to Alert and its VMs are left alone. An HA VM that stops without a
request on a healthy host is started again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from management.drivers.base import PowerState
from management.drivers.simulator import SimulatorFaults, set_host_alive
from tests.api.test_vm_lifecycle import deploy, sim, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    from management.models.infra import StoragePool

    for z in sim_zone(server, tmp_path):
        with server.server.runtime.db.session() as s:  # shared (NFS) primary storage: a VM's disks move with it
            s.execute(update(StoragePool).where(StoragePool.zone_id == z["zone_id"])
                      .values(pool_type="NetworkFilesystem", host_address="10.0.0.1"))
        yield z


def _ha_setup(api: ApiClient) -> dict[str, Any]:
    i = api.integration_api
    i("updateConfiguration", name="ping.interval", value="0.2")
    i("updateConfiguration", name="ping.timeout", value="2")
    return i("createServiceOffering", name="ha-small", displaytext="HA", cpunumber=1, cpuspeed=100, memory=64,
             offerha="true")["serviceoffering"]


def _vm(api: ApiClient, vm_id: str) -> dict[str, Any]:
    return api("listVirtualMachines", id=vm_id)["virtualmachine"][0]  # type: ignore[no-any-return]


def _events(api: ApiClient, kind: str) -> list[str]:
    return [e["description"] for e in api("listEvents", type=kind, listall=True, page=1, pagesize=500).get("event", [])]


def test_dead_host_is_fenced_ha_vms_restart_elsewhere_others_stop(api: ApiClient, zone: dict[str, Any]) -> None:
    ha = _ha_setup(api)
    assert ha["offerha"] is True
    h0, h1 = zone["hosts"]
    ha_vm = deploy(api, zone, serviceofferingid=ha["id"], hostid=h0)
    plain = deploy(api, zone, hostid=h0)
    assert (ha_vm["haenable"], plain["haenable"]) == (True, False)
    assert ha_vm["hostid"] == plain["hostid"] == h0

    set_host_alive(zone["urls"][0], False)  # power failure: no answer, no storage heartbeat, domains gone
    try:
        wait_for(lambda: api("listHosts", id=h0)["host"][0]["state"] == "Down", timeout=60, what="host Down")
        # Running on another host: right after the host turns Down the VM may still read Running on h0 until HA
        # has fenced and restarted it
        back = wait_for(lambda: (v := _vm(api, ha_vm["id"]))["state"] == "Running" and v.get("hostid") != h0 and v,
                        timeout=60, what="the HA VM Running again elsewhere")
        assert back["hostid"] == h1
        assert _vm(api, plain["id"])["state"] == "Stopped"
        assert [d.uuid for d in sim(zone["urls"][1]).list_domains()] == [ha_vm["id"]]
        assert api("listHosts", id=h1)["host"][0]["state"] == "Up"
        assert any("Host is down" in d and "fenced" in d for d in _events(api, "HOST.ALERT"))
        assert any(ha_vm["id"] in d for d in _events(api, "HA.ACTION"))
        assert any(plain["id"] in d and "is stopped" in d for d in _events(api, "VM.HA"))
    finally:
        set_host_alive(zone["urls"][0], True)
    wait_for(lambda: api("listHosts", id=h0)["host"][0]["state"] == "Up", timeout=30, what="host Up again")


def test_unreachable_but_alive_host_is_alert_and_its_vms_stay(api: ApiClient, zone: dict[str, Any]) -> None:
    ha = _ha_setup(api)
    h0 = zone["hosts"][0]
    vm = deploy(api, zone, serviceofferingid=ha["id"], hostid=h0)
    faults = SimulatorFaults.for_host(zone["urls"][0])
    faults.set_unreachable(True)  # the management link fails; the host still writes its storage heartbeat
    try:
        wait_for(lambda: api("listHosts", id=h0)["host"][0]["state"] == "Alert", timeout=60, what="host Alert")
        assert any("does not answer the management server but is alive" in d for d in _events(api, "HOST.ALERT"))
        assert _vm(api, vm["id"])["state"] == "Running"
        assert sim(zone["urls"][1]).list_domains() == []
    finally:
        faults.set_unreachable(False)
    wait_for(lambda: api("listHosts", id=h0)["host"][0]["state"] == "Up", timeout=30, what="host Up again")
    assert _vm(api, vm["id"])["state"] == "Running" and _vm(api, vm["id"])["hostid"] == h0


def test_ha_vm_that_stops_on_a_healthy_host_is_started_again(api: ApiClient, zone: dict[str, Any]) -> None:
    ha = _ha_setup(api)
    vm = deploy(api, zone, serviceofferingid=ha["id"], hostid=zone["hosts"][0])
    plain = deploy(api, zone, hostid=zone["hosts"][0])
    d = sim(zone["urls"][0])
    d.ex_set_state(vm["id"], PowerState.CRASHED)
    d.ex_set_state(plain["id"], PowerState.STOPPED)
    wait_for(lambda: _vm(api, plain["id"])["state"] == "Stopped", timeout=30, what="the non-HA VM Stopped")
    jobs = wait_for(lambda: [j for j in api("listAsyncJobs", listall=True).get("asyncjobs", [])
                             if j.get("jobinstanceid") == vm["id"] and j["cmd"].endswith("startVirtualMachineCmd")
                             and j["jobstatus"] == 1] or None, timeout=30, what="the HA restart job to succeed")
    assert len(jobs) == 1
    assert _vm(api, vm["id"])["state"] == "Running"
    assert d.get_domain(vm["id"]).state is PowerState.RUNNING  # type: ignore[union-attr]
    assert _vm(api, plain["id"])["state"] == "Stopped"
    assert any(vm["id"] in e for e in _events(api, "HA.ACTION"))
