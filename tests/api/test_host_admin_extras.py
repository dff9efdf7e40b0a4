"""Host administration extras as CloudStack answers them: cleanVMReservations and releaseHostReservation (the
planner's reservations, here the hosts' allocation ledger) and updateHostPassword (credentials sealed at rest)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from tests.api.test_vm_lifecycle import deploy, expected_ledger, ledger, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def test_clean_vm_reservations_drops_promises_no_vm_holds(server: InProcess, api: ApiClient,
                                                          zone: dict[str, Any]) -> None:
    from management.models.infra import Host

    deploy(api, zone)
    stopped = deploy(api, zone)
    api.run("stopVirtualMachine", id=stopped["id"])
    want = expected_ledger(server, zone)
    leaked = zone["host_ids"][0]
    with server.server.runtime.db.session() as s:  # a claim whose release never ran (a crash in between)
        s.execute(update(Host).where(Host.id == leaked).values(cpu_allocated=Host.cpu_allocated + 4000,
                                                               mem_allocated=Host.mem_allocated + 2**30))
    assert ledger(server, zone) != want
    assert api.run("cleanVMReservations") == {"success": True}
    assert ledger(server, zone) == want
    assert api.client_for(api.new_account()).error("cleanVMReservations")[0] == 401


def test_release_host_reservation(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    from management.models.infra import Host

    vm = deploy(api, zone)
    with server.server.runtime.db.session(write=False) as s:
        hosts = {h.id: h.uuid for h in s.scalars(select(Host).where(Host.id.in_(zone["host_ids"])))}
    used = api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["hostid"]
    (unused,) = set(hosts.values()) - {used}
    assert api.run("releaseHostReservation", id=used) == {"success": True}
    job = api.wait(api("releaseHostReservation", id=unused)["jobid"])
    assert job["jobstatus"] == 2
    assert (job["jobresult"]["errorcode"], job["jobresult"]["errortext"]) == (530, "Failed to release host "
                                                                                   "reservation")
    status, err = api.error("releaseHostReservation", id="0e9c4b6a-0000-4000-8000-0000000000aa")
    assert status == 431 and "Invalid parameter id value" in err["errortext"]


def _host_row(server: InProcess, zone: dict[str, Any], hypervisor: str, details: dict[str, str] | None) -> str:
    from management.models.infra import Cluster, Host, Pod, Zone

    tag = secrets.token_hex(3)
    with server.server.runtime.db.session() as s:
        z = s.scalar(select(Zone).where(Zone.uuid == zone["zone"]))
        pod = s.scalars(select(Pod).where(Pod.zone_id == z.id)).first()
        c = Cluster(name=f"{hypervisor}-{tag}", zone_id=z.id, pod_id=pod.id, hypervisor_type=hypervisor)
        s.add(c)
        s.flush()
        # in Maintenance: nothing probes it (no hypervisor answers at this URL)
        h = Host(name=f"{hypervisor}-{tag}", zone_id=z.id, pod_id=pod.id, cluster_id=c.id, hypervisor_type=hypervisor,
                 url=f"http://sim/{tag}/none", status="Down", resource_state="Maintenance",
                 details_json=json.dumps(details) if details else None)
        s.add(h)
        s.flush()
        return f"{h.uuid} {c.uuid}"


def _stored(server: InProcess, host_uuid: str) -> tuple[str, dict[str, Any]]:
    from management.models.infra import Host

    with server.server.runtime.db.session(write=False) as s:
        raw = s.execute(text("SELECT details_json FROM host WHERE uuid = :u"), {"u": host_uuid}).scalar_one()
        opened = s.scalar(select(Host.details_json).where(Host.uuid == host_uuid))
    return raw, json.loads(opened or "{}")


def test_update_host_password_is_sealed_and_checked(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    kvm, kvm_cluster = _host_row(server, zone, "KVM", None).split()
    secret = "s3cret-" + secrets.token_hex(4)
    assert api("updateHostPassword", hostid=kvm, username=" ro ot ", password=secret) == {"success": True}
    raw, opened = _stored(server, kvm)
    assert opened == {"username": "root", "password": secret}
    assert raw.startswith("enc1:") and secret not in raw
    status, err = api.error("updateHostPassword", hostid=kvm, username="admin", password="x")
    assert (status, err["errortext"]) == (431, "The username is not same for the hosts..")
    assert api("updateHostPassword", clusterid=kvm_cluster, username="root", password="other") == {"success": True}
    assert _stored(server, kvm)[1]["password"] == "other"
    events = api("listEvents", type="HOST.UPDATE").get("event", [])
    assert events and not any(secret in json.dumps(e) for e in events)

    xen, xen_cluster = _host_row(server, zone, "XenServer", {"username": "root", "password": "old"}).split()
    status, err = api.error("updateHostPassword", hostid=xen, username="root", password="new")
    assert (status, err["errortext"]) == (431, "Single host update is not supported by XenServer hypervisors. "
                                               "Please try again informing the Cluster ID.")
    assert api("updateHostPassword", clusterid=xen_cluster, username="root", password="new") == {"success": True}
    assert _stored(server, xen)[1] == {"username": "root", "password": "new"}

    sim_host = api("listHosts", zoneid=zone["zone"], hypervisor="Simulator")["host"][0]
    for params, msg in (({"hostid": sim_host["id"]}, "This operation is not supported for this hypervisor type"),
                        ({"clusterid": sim_host["clusterid"]},
                         "This operation is not supported for this hypervisor type"),
                        ({}, "You should provide an host id."),
                        ({"hostid": kvm, "username": "  "}, "Username should be non empty string")):
        status, err = api.error("updateHostPassword", {"username": "root", "password": "p", **params})
        assert (status, err["errortext"]) == (431, msg)
    status, err = api.error("updateHostPassword", hostid=kvm, username="root")
    assert status == 431 and "password" in err["errortext"]


def test_acquire_and_release_pod_ip_addresses(api: ApiClient, zone: dict[str, Any]) -> None:
    pod = api("listPods", zoneid=zone["zone"])["pod"][0]
    first = api("acquirePodIpAddress", zoneid=zone["zone"], podid=pod["id"])["acquirepodipaddress"]
    assert first["ipaddress"] == pod["startip"][0] == "172.16.15.2"
    assert first["gateway"] == pod["gateway"] and first["cidr"] == "172.16.15.0" and isinstance(first["id"], int)
    taken = [api("acquirePodIpAddress", zoneid=zone["zone"], podid=pod["id"])["acquirepodipaddress"]["ipaddress"]
             for _ in range(8)]
    # the hosts' own addresses (172.16.15.10 and .11) are never handed out
    assert taken == [f"172.16.15.{n}" for n in (3, 4, 5, 6, 7, 8, 9, 12)]
    assert api("releasePodIpAddress", id=first["id"]) == {"success": True}
    status, err = api.error("releasePodIpAddress", id=first["id"])
    assert (status, err["errortext"]) == (530, f"Ip Address with id= {first['id']} is not allocated, so do nothing.")
    again = api("acquirePodIpAddress", zoneid=zone["zone"], podid=pod["id"])["acquirepodipaddress"]
    assert (again["id"], again["ipaddress"]) == (first["id"], "172.16.15.2")
    status, err = api.error("releasePodIpAddress", id=99999999)
    assert (status, err["errortext"]) == (530, "Unable to find ip address by id:99999999")
    for params in ({}, {"podid": "0e9c4b6a-0000-4000-8000-0000000000bb"}):
        status, err = api.error("acquirePodIpAddress", {"zoneid": zone["zone"], **params})
        assert (status, err["errortext"]) == (535, "No such pod exists")
    assert api.error("releasePodIpAddress", id="abc")[0] == 431
    assert api.error("acquirePodIpAddress", zoneid="nope", podid=pod["id"])[0] == 431
    assert api.client_for(api.new_account()).error("acquirePodIpAddress", zoneid=zone["zone"])[0] == 401
