"""VM lifecycle on the simulator through the signed API: deploy, stop/start/reboot, destroy/recover/expunge,
failure paths (spawn failure, unreachable host, slow host), capacity ledger, VM sync."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from management.drivers.base import PowerState
from management.drivers.simulator import SimulatorDriver, SimulatorFaults, reset_simulator
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api

GiB = 1024**3


# ------------------------------------------------------------------------------------------------ zone fixture

def build_sim_zone(srv: InProcess, tmp_path: Path, *, hosts: int = 2, cpus: int = 8, mhz: int = 2000,
                   mem_gib: int = 16, network_type: str = "Basic", thresholds: bool = False) -> dict[str, Any]:
    """A simulator zone made of rows (zone, pod, cluster, Up hosts, cluster pool, image store with the builtin
    template). Returns uuids and the host URLs (unique per test, so simulator state never leaks)."""
    from management.models.infra import Cluster, Host, ImageStore, Pod, StoragePool, Zone
    from management.models.offerings import DiskOffering, ServiceOffering
    from management.services import configuration
    from management.services.storage import templates

    tag = secrets.token_hex(4)
    db = srv.server.runtime.db
    with db.session() as s:
        zone = Zone(name=f"Sandbox-simulator-{tag}", network_type=network_type, allocation_state="Enabled",
                    dns1="8.8.8.8", internal_dns1="10.0.0.1")
        s.add(zone)
        s.flush()
        pod = Pod(name=f"POD0-{tag}", zone_id=zone.id, gateway="172.16.15.1", netmask="255.255.255.0",
                  start_ip="172.16.15.2", end_ip="172.16.15.200")
        s.add(pod)
        s.flush()
        cluster = Cluster(name=f"C0-{tag}", zone_id=zone.id, pod_id=pod.id, hypervisor_type="Simulator")
        s.add(cluster)
        s.flush()
        urls = []
        for i in range(hosts):
            url = f"http://sim/{tag}/h{i}?cpu={cpus}&mhz={mhz}&mem={mem_gib}G"
            urls.append(url)
            s.add(Host(name=f"SimulatedAgent.{tag}.{i}", zone_id=zone.id, pod_id=pod.id, cluster_id=cluster.id,
                       hypervisor_type="Simulator", url=url, status="Up", resource_state="Enabled", cpus=cpus,
                       speed=mhz, total_memory=mem_gib * GiB, private_ip=f"172.16.15.{10 + i}"))
        pool_dir = tmp_path / f"pool-{tag}"
        pool_dir.mkdir()
        s.add(StoragePool(name=f"PS0-{tag}", zone_id=zone.id, pod_id=pod.id, cluster_id=cluster.id, scope="CLUSTER",
                          pool_type="Filesystem", url=f"file://{pool_dir}", path=str(pool_dir),
                          capacity_bytes=1024 * GiB, status="Up"))
        store_dir = tmp_path / f"store-{tag}"
        store_dir.mkdir()
        store = ImageStore(name=f"SS0-{tag}", zone_id=zone.id, url=f"file://{store_dir}", protocol="file",
                           provider="NFS", local_path=str(store_dir))
        s.add(store)
        s.flush()
        templates.on_image_store_added(s, store)
        tmpl = templates.ensure_builtin(s)
        so = s.scalar(select(ServiceOffering).where(ServiceOffering.name == "Small Instance"))
        big = s.scalar(select(ServiceOffering).where(ServiceOffering.name == "Medium Instance"))
        do = s.scalar(select(DiskOffering).where(DiskOffering.name == "Small"))
        configuration.set_value(s, "cluster.threshold.enabled", "true" if thresholds else "false")
        host_rows = list(s.scalars(select(Host).where(Host.cluster_id == cluster.id).order_by(Host.id)))
        return {"zone": zone.uuid, "zone_id": zone.id, "pod": pod.uuid, "cluster": cluster.uuid,
                "hosts": [h.uuid for h in host_rows], "host_ids": [h.id for h in host_rows], "urls": urls,
                "template": tmpl.uuid, "small": so.uuid, "medium": big.uuid, "disk": do.uuid, "tag": tag}


def sim_zone(server: InProcess, tmp_path: Path, **kw: Any) -> Iterator[dict[str, Any]]:
    """Fixture body other modules reuse: `yield from sim_zone(server, tmp_path)`."""
    z = build_sim_zone(server, tmp_path, **kw)
    yield z
    for url in z["urls"]:
        reset_simulator(url)


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def deploy(api: ApiClient, z: dict[str, Any], **kw: Any) -> dict[str, Any]:
    params = {"serviceofferingid": z["small"], "zoneid": z["zone"], "templateid": z["template"], **kw}
    return api.run("deployVirtualMachine", params)["virtualmachine"]  # type: ignore[no-any-return]


def sim(url: str) -> SimulatorDriver:
    d = SimulatorDriver(url)
    d.connect()
    return d


def domains(z: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for url in z["urls"]:
        for dom in sim(url).list_domains():
            out[dom.uuid] = dom
    return out


def ledger(srv: InProcess, z: dict[str, Any]) -> dict[int, tuple[int, int]]:
    from management.models.infra import Host

    with srv.server.runtime.db.session(write=False) as s:
        return {h.id: (h.cpu_allocated, h.mem_allocated)
                for h in s.scalars(select(Host).where(Host.id.in_(z["host_ids"])))}


def expected_ledger(srv: InProcess, z: dict[str, Any]) -> dict[int, tuple[int, int]]:
    from management.models.compute import VirtualMachine

    out = {hid: (0, 0) for hid in z["host_ids"]}
    with srv.server.runtime.db.session(write=False) as s:
        for vm in s.scalars(select(VirtualMachine).where(VirtualMachine.state.in_(("Starting", "Running",
                                                                                   "Stopping")))):
            if vm.host_id in out:
                c, m = out[vm.host_id]
                out[vm.host_id] = (c + vm.cpu * vm.speed, m + vm.ram_size * 1024 * 1024)
    return out


# ------------------------------------------------------------------------------------------------ lifecycle

def test_deploy_runs_and_lists_with_client_fields(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    t0 = time.monotonic()
    vm = deploy(api, zone, name="web-1", displayname="Web One", group="web")
    latency = time.monotonic() - t0
    assert vm["state"] == "Running"
    assert vm["name"] == "web-1" and vm["displayname"] == "Web One" and vm["group"] == "web"
    # i-<account>-<vm>-<instance.name>; a fresh cloud's instance.name is VM + its cloud id (services/naming.py)
    assert re.fullmatch(r"i-\d+-\d+-VM[a-z][a-z0-9]{4}", vm["instancename"]), vm["instancename"]
    assert vm["hostid"] in zone["hosts"] and vm["hostname"].startswith("SimulatedAgent")
    assert vm["templatename"] and vm["serviceofferingname"] == "Small Instance"
    assert vm["cpunumber"] == 1 and vm["memory"] == 512 and vm["cpuspeed"] > 0
    assert vm["zonename"].startswith("Sandbox-simulator")
    assert isinstance(vm["nic"], list) and isinstance(vm["securitygroup"], list)
    listed = api("listVirtualMachines", id=vm["id"])
    assert listed["count"] == 1 and listed["virtualmachine"][0]["state"] == "Running"
    assert api("listVirtualMachines", state="Running", zoneid=zone["zone"])["count"] == 1
    assert api("listVirtualMachines", keyword="web-")["count"] == 1
    assert api("listVirtualMachines", hostid=vm["hostid"])["count"] == 1
    assert api("listVirtualMachines", templateid=zone["template"])["count"] >= 1
    dom = domains(zone)[vm["id"]]
    assert dom.state is PowerState.RUNNING and dom.name == vm["instancename"]
    root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert root["state"] == "Ready" and root["vmstate"] == "Running"
    assert ledger(server, zone) == expected_ledger(server, zone)
    assert latency < 10, latency


def test_deploy_skips_a_cluster_without_suitable_storage(server: InProcess, api: ApiClient, zone: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """First fit picks the first cluster's host; its only pool is in maintenance, so the deploy must go to the
    second cluster (with its own pool), and the first cluster's hosts keep an empty ledger."""
    from management.models.infra import Cluster, Host, StoragePool

    tag = secrets.token_hex(4)
    with server.server.runtime.db.session() as s:
        c0 = s.scalar(select(Cluster).where(Cluster.uuid == zone["cluster"]))
        assert c0 is not None
        for p in s.scalars(select(StoragePool).where(StoragePool.cluster_id == c0.id)):
            p.status = "Maintenance"
        c1 = Cluster(name=f"C1-{tag}", zone_id=c0.zone_id, pod_id=c0.pod_id, hypervisor_type="Simulator")
        s.add(c1)
        s.flush()
        url = f"http://sim/{tag}/c1h0?cpu=8&mhz=2000&mem=16G"
        zone["urls"].append(url)  # the fixture resets it
        h = Host(name=f"SimulatedAgent.{tag}.c1", zone_id=c0.zone_id, pod_id=c0.pod_id, cluster_id=c1.id,
                 hypervisor_type="Simulator", url=url, status="Up", resource_state="Enabled", cpus=8, speed=2000,
                 total_memory=16 * 1024**3, private_ip="172.16.15.99")
        pool_dir = tmp_path / f"pool-c1-{tag}"
        pool_dir.mkdir()
        pool = StoragePool(name=f"PS1-{tag}", zone_id=c0.zone_id, pod_id=c0.pod_id, cluster_id=c1.id,
                           scope="CLUSTER", pool_type="Filesystem", url=f"file://{pool_dir}", path=str(pool_dir),
                           capacity_bytes=1024 * 1024**3, status="Up")
        s.add_all([h, pool])
        s.flush()
        h_uuid, pool_uuid = h.uuid, pool.uuid
    before = ledger(server, zone)
    vm = deploy(api, zone)
    assert vm["state"] == "Running" and vm["hostid"] == h_uuid, vm
    root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert root["storageid"] == pool_uuid
    assert ledger(server, zone) == before  # the first cluster's claims were rolled back with the try


def test_stop_start_reboot_and_noops(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    stopped = api.run("stopVirtualMachine", id=vm["id"])["virtualmachine"]
    assert stopped["state"] == "Stopped" and "hostid" not in stopped
    assert domains(zone)[vm["id"]].state is PowerState.STOPPED
    assert ledger(server, zone) == expected_ledger(server, zone)
    assert api.run("stopVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Stopped"  # no-op
    started = api.run("startVirtualMachine", id=vm["id"])["virtualmachine"]
    assert started["state"] == "Running" and started["hostid"] == vm["hostid"]  # back on its last host
    assert api.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"  # no-op
    assert api.run("rebootVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert api.run("stopVirtualMachine", id=vm["id"], forced=True)["virtualmachine"]["state"] == "Stopped"
    job = api.wait(api("rebootVirtualMachine", id=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and "Stopped" in job["jobresult"]["errortext"]
    assert ledger(server, zone) == expected_ledger(server, zone)


def test_destroy_recover_expunge_leaves_nothing(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    destroyed = api.run("destroyVirtualMachine", id=vm["id"])["virtualmachine"]
    assert destroyed["state"] == "Destroyed"
    assert ledger(server, zone) == expected_ledger(server, zone) == {h: (0, 0) for h in zone["host_ids"]}
    assert vm["id"] in domains(zone)  # kept until expunge
    recovered = api("recoverVirtualMachine", id=vm["id"])["virtualmachine"]
    assert recovered["state"] == "Stopped"
    assert api("listVolumes", virtualmachineid=vm["id"])["volume"][0]["state"] == "Ready"
    assert api.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert vm["id"] not in domains(zone)
    # CloudStack resolves the uuid of a removed entity and finds nothing: an empty list, not an error
    assert api("listVirtualMachines", id=vm["id"], listall=True) == {}
    assert api("listVolumes", virtualmachineid=vm["id"]) == {}
    for url in zone["urls"]:  # only the template copy may stay in the pool
        d = sim(url)
        h = d._host  # noqa: SLF001 - inspecting the simulator's own state
        leftovers = [v for p in h.pools.values() for v in p.volumes.values() if not v.is_template]
        assert leftovers == []
    assert ledger(server, zone) == {h: (0, 0) for h in zone["host_ids"]}
    from management.models.infra import StoragePool

    with server.server.runtime.db.session(write=False) as s:
        assert all(p.allocated_bytes == 0 for p in s.scalars(select(StoragePool).where(
            StoragePool.zone_id == zone["zone_id"])))


def test_expunge_command_and_invalid_states(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone, startvm=False)
    assert vm["state"] == "Stopped"
    job = api.wait(api("expungeVirtualMachine", id=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431
    assert "Destroyed" in job["jobresult"]["errortext"]
    api.run("destroyVirtualMachine", id=vm["id"])
    job = api.wait(api("startVirtualMachine", id=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == "Unable to start VM in state Destroyed"
    api.run("expungeVirtualMachine", id=vm["id"])
    assert api("listVirtualMachines", id=vm["id"], listall=True) == {}  # expunged: nothing listed


def test_update_change_scale_and_userdata(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    import base64

    ud = base64.b64encode(b"#cloud-config\nhostname: x\n" * 200).decode()
    r = api.call("deployVirtualMachine", {"serviceofferingid": zone["small"], "zoneid": zone["zone"],
                                          "templateid": zone["template"], "userdata": ud}, method="POST")
    assert r.status_code == 200, r.text
    job = api.wait(r.json()["deployvirtualmachineresponse"]["jobid"])
    vm = job["jobresult"]["virtualmachine"]
    got = api("listVirtualMachines", id=vm["id"], details="all")["virtualmachine"][0]
    assert got["userdata"] == ud
    upd = api("updateVirtualMachine", id=vm["id"], displayname="renamed", group="g2")["virtualmachine"]
    assert upd["displayname"] == "renamed" and upd["group"] == "g2"
    status, err = api.error("changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=zone["medium"])
    assert status == 431 and "Running" in err["errortext"]
    scaled = api.run("scaleVirtualMachine", id=vm["id"], serviceofferingid=zone["medium"])["virtualmachine"]
    assert scaled["serviceofferingname"] == "Medium Instance" and scaled["memory"] == 1024
    assert ledger(server, zone) == expected_ledger(server, zone)
    api.run("stopVirtualMachine", id=vm["id"])
    changed = api("changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=zone["small"])
    assert changed["virtualmachine"]["memory"] == 512
    assert ledger(server, zone) == expected_ledger(server, zone)


def test_restore_gives_a_fresh_root_disk(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    old_root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    r = api.call("restoreVirtualMachine", virtualmachineid=vm["id"])
    body = r.json()
    assert list(body) == ["restorevmresponse"], body
    job = api.wait(body["restorevmresponse"]["jobid"])
    assert job["jobstatus"] == 1, job
    assert job["jobresult"]["virtualmachine"]["state"] == "Running"
    new_root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert new_root["id"] != old_root["id"] and new_root["state"] == "Ready"


# ------------------------------------------------------------------------------------------------ failures

def test_spawn_failure_fails_the_job_and_leaves_nothing(server: InProcess, api: ApiClient,
                                                        zone: dict[str, Any]) -> None:
    for url in zone["urls"]:
        SimulatorFaults.for_host(url).fail("spawn")
    start = api("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                templateid=zone["template"])
    job = api.wait(start["jobid"])
    assert job["jobstatus"] == 2
    assert "Unable to start VM instance" in job["jobresult"]["errortext"]
    assert job["jobresult"]["errorcode"] == 530
    vm = api("listVirtualMachines", id=start["id"])["virtualmachine"][0]
    assert vm["state"] == "Error"
    assert domains(zone) == {}
    for url in zone["urls"]:
        h = sim(url)._host  # noqa: SLF001
        assert [v for p in h.pools.values() for v in p.volumes.values() if not v.is_template] == []
    assert ledger(server, zone) == {h: (0, 0) for h in zone["host_ids"]}
    api.run("destroyVirtualMachine", id=start["id"])  # Error -> Expunging -> gone
    assert api("listVirtualMachines", id=start["id"], listall=True) == {}  # expunged: nothing listed


def test_unreachable_host_retries_on_another(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    SimulatorFaults.for_host(zone["urls"][0]).set_unreachable(True)
    vm = deploy(api, zone)
    assert vm["state"] == "Running" and vm["hostid"] == zone["hosts"][1]
    assert ledger(server, zone) == expected_ledger(server, zone)


def test_insufficient_resources_on_host_retries(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    from management.drivers.errors import InsufficientResources

    SimulatorFaults.for_host(zone["urls"][0]).fail("spawn", error=InsufficientResources("simulated: host full"))
    vm = deploy(api, zone)
    assert vm["hostid"] == zone["hosts"][1]
    assert ledger(server, zone) == expected_ledger(server, zone)


def test_slow_host_still_deploys(api: ApiClient, zone: dict[str, Any]) -> None:
    for url in zone["urls"]:
        SimulatorFaults.for_host(url).slow("spawn", 0.5)
    t0 = time.monotonic()
    vm = deploy(api, zone)
    assert vm["state"] == "Running" and time.monotonic() - t0 >= 0.5


def test_zone_full_gives_533(server: InProcess, api: ApiClient, tmp_path: Path) -> None:
    z = build_sim_zone(server, tmp_path, hosts=1, cpus=1, mhz=1000, mem_gib=1)
    try:
        deploy(api, z)  # 500 MHz, 512 MiB
        deploy(api, z)
        start = api("deployVirtualMachine", serviceofferingid=z["small"], zoneid=z["zone"], templateid=z["template"])
        job = api.wait(start["jobid"])
        assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 533
        assert job["jobresult"]["errortext"].startswith("Unable to create a deployment for VM")
        assert ledger(server, z) == expected_ledger(server, z)
    finally:
        for url in z["urls"]:
            reset_simulator(url)


def test_hostid_pin_and_user_cannot_pin(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone, hostid=zone["hosts"][1])
    assert vm["hostid"] == zone["hosts"][1]
    user = api.client_for(api.new_account())
    status, err = user.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                             templateid=zone["template"], hostid=zone["hosts"][0])
    assert status == 531
    uvm = user.run("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                   templateid=zone["template"])["virtualmachine"]
    assert "hostid" not in uvm and "instancename" not in uvm
    assert user("listVirtualMachines")["count"] == 1
    status, _ = user.error("stopVirtualMachine", id=vm["id"])
    assert status == 531


# ------------------------------------------------------------------------------------------------ VM sync

def test_vm_sync_follows_out_of_band_power_off(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    from management.services.compute import vmsync

    vm = deploy(api, zone)
    url = zone["urls"][zone["hosts"].index(vm["hostid"])]
    sim(url).ex_set_state(vm["id"], PowerState.STOPPED)  # the guest powered itself off
    wait_for(lambda: api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Stopped",
             timeout=10, what="event-driven sync")
    assert ledger(server, zone) == expected_ledger(server, zone)
    # A periodic round also sees a domain that vanished, and reports orphans without touching them.
    vm2 = deploy(api, zone, hostid=zone["hosts"][0])
    server.server.runtime.extras["vmsync_disabled"] = True
    d = sim(zone["urls"][0])
    d.destroy(vm2["id"])
    from management.drivers.base import DomainSpec

    d.spawn(DomainSpec(uuid="00000000-0000-0000-0000-00000000beef", name="i-99-99-VM", vcpus=1, memory_mib=64))
    d.spawn(DomainSpec(uuid="00000000-0000-0000-0000-00000000cafe", name="someone-elses", vcpus=1, memory_mib=64))
    sync = vmsync.VmSync(server.server.runtime)
    result = sync.run_once()
    assert result["changed"] >= 1
    assert api("listVirtualMachines", id=vm2["id"])["virtualmachine"][0]["state"] == "Stopped"
    assert sync.orphans[zone["host_ids"][0]] == ["i-99-99-VM"]
    assert {dom.name for dom in d.list_domains()} >= {"i-99-99-VM", "someone-elses"}  # never destroyed
    assert ledger(server, zone) == expected_ledger(server, zone)


def test_vm_sync_runs_a_round_when_the_server_starts(server: InProcess, api: ApiClient,
                                                     zone: dict[str, Any]) -> None:
    """A domain that went off while no server watched (a reboot: libvirtd down, no event) is seen at start, not
    one vm.sync.interval later."""
    from management.loops import StopEvent
    from management.services.compute import vmsync

    api("updateConfiguration", name="vm.sync.interval", value="600")
    vm = deploy(api, zone)
    rt = server.server.runtime
    rt.extras["vmsync_disabled"] = True  # no lifecycle event: the domain went away unseen
    sim(zone["urls"][zone["hosts"].index(vm["hostid"])]).destroy(vm["id"])
    assert api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Running"
    stop = StopEvent()
    sync = vmsync.VmSync(rt, stop)  # this server starts
    sync.start()
    try:
        wait_for(lambda: api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Stopped",
                 timeout=30, what="the first VM sync round")
    finally:
        stop.set()
        sync.stop()
    assert sync.rounds == 1 and ledger(server, zone) == expected_ledger(server, zone)


def test_expunger_honours_delay_and_interval(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    api("updateConfiguration", name="expunge.delay", value="1")
    api("updateConfiguration", name="expunge.interval", value="1")
    vm = deploy(api, zone)
    api.run("destroyVirtualMachine", id=vm["id"])
    assert api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Destroyed"
    wait_for(lambda: vm["id"] not in domains(zone), timeout=20, what="the expunger")
    wait_for(lambda: api("listVirtualMachines", id=vm["id"]) == {}, timeout=5, what="the VM row to be removed")
    assert ledger(server, zone) == {h: (0, 0) for h in zone["host_ids"]}


def test_password_enabled_template_and_reset(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    from management.models.storage import Template

    with server.server.runtime.db.session() as s:
        s.scalar(select(Template).where(Template.uuid == zone["template"])).password_enabled = True
    try:
        vm = deploy(api, zone)
        assert vm["passwordenabled"] is True and len(vm["password"]) == 12
        assert "password" not in api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
        again = api.run("resetPasswordForVirtualMachine", id=vm["id"])["virtualmachine"]
        assert again["password"] != vm["password"]
    finally:
        with server.server.runtime.db.session() as s:
            s.scalar(select(Template).where(Template.uuid == zone["template"])).password_enabled = False


def test_vm_sync_settles_vms_stuck_without_a_job(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    """After a crash, VMs left in a transitional state with no job are settled from the hypervisor's view."""
    from management import fsm
    from management.models.compute import VirtualMachine
    from management.services.compute import vmsync

    rt = server.server.runtime
    rt.extras["vmsync_disabled"] = True  # only the periodic round acts in this test
    a, b = deploy(api, zone), deploy(api, zone)
    c = deploy(api, zone, startvm=False)
    with rt.db.session() as s:
        for uuid, event in ((a["id"], "StopRequested"), (b["id"], "StopRequested"), (c["id"], "StartRequested")):
            fsm.transition(s, s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == uuid)), event)
    sim(zone["urls"][zone["hosts"].index(b["hostid"])]).stop(b["id"])  # b's stop reached the hypervisor
    vmsync.VmSync(rt).run_once()
    states = {v["id"]: v["state"] for v in api("listVirtualMachines")["virtualmachine"]}
    assert states[a["id"]] == "Running" and states[b["id"]] == "Stopped" and states[c["id"]] == "Stopped"
    assert ledger(server, zone) == expected_ledger(server, zone)


def test_resumed_job_settles_a_vm_whose_hypervisor_is_still_busy(server: InProcess, api: ApiClient,
                                                                  zone: dict[str, Any],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A job taken over after its server died resumes even when the hypervisor refuses the first calls about the VM
    (libvirtd still finishing the dead server's last call): the takeover asks again instead of failing the job."""
    from management import fsm
    from management.models.compute import VirtualMachine
    from management.models.jobs import AsyncJob
    from management.services.ha import takeover

    rt = server.server.runtime
    rt.extras["vmsync_disabled"] = True
    vm = deploy(api, zone)
    with rt.db.session() as s:  # the dead server's stop had begun: the VM is Stopping, its domain still runs
        fsm.transition(s, s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == vm["id"])), "StopRequested")
    url = zone["urls"][zone["hosts"].index(vm["hostid"])]
    SimulatorFaults.for_host(url).fail("get_domain", times=2)
    monkeypatch.setattr(takeover, "SETTLE_RETRIES", (0.01, 0.01, 0.01))
    job = AsyncJob(uuid="00000000-0000-0000-0000-0000000000aa", command="stopVirtualMachine",
                   instance_type="VirtualMachine", instance_uuid=vm["id"])
    refused = takeover.reconcile(rt, job, [("requeued", {"from": "ms-dead"}), ("partial", {})])
    assert refused is None, refused.text if refused else None
    assert api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Running"
    assert ledger(server, zone) == expected_ledger(server, zone)
    # a hypervisor that keeps refusing: the job fails with the reason and the VM is left for VM sync
    with rt.db.session() as s:
        fsm.transition(s, s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == vm["id"])), "StopRequested")
    SimulatorFaults.for_host(url).fail("get_domain")
    try:
        refused = takeover.reconcile(rt, job, [("requeued", {"from": "ms-dead"}), ("partial", {})])
    finally:
        SimulatorFaults.for_host(url).clear("get_domain")
    assert refused is not None and "could not be reconciled with its hypervisor" in refused.text


def test_vm_sync_leaves_alone_a_vm_that_an_operation_of_this_run_moved(server: InProcess, api: ApiClient,
                                                                      zone: dict[str, Any]) -> None:
    """Only what a dead run left is stuck: a VM that entered Starting/Stopping after this server started belongs to
    one of its own operations, with or without a job row (a service call from HA or inside another job), and the
    first round must not settle it under that operation (it used to, and the host's ledger lost or gained a VM)."""
    from management import fsm
    from management.models.compute import VirtualMachine
    from management.services.compute import vmsync

    rt = server.server.runtime
    rt.extras["vmsync_disabled"] = True
    left, live = deploy(api, zone), deploy(api, zone)
    with rt.db.session() as s:  # a dead run's stop, in progress when it died
        fsm.transition(s, s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == left["id"])), "StopRequested")
    sync = vmsync.VmSync(rt)  # this server starts
    with rt.db.session() as s:  # this run's own stop, under way (no job row: a service call)
        fsm.transition(s, s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == live["id"])), "StopRequested")
    before = ledger(server, zone)
    sync.run_once()
    states = {v["id"]: v["state"] for v in api("listVirtualMachines")["virtualmachine"]}
    assert states[left["id"]] == "Running"  # settled from the hypervisor: its domain still runs
    assert states[live["id"]] == "Stopping"  # left to the operation that owns it
    assert ledger(server, zone) == before == expected_ledger(server, zone)
