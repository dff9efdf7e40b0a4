"""The deploy path's database work: the statements of one deploy do not grow with the VMs around it, and the
address allocator finds a released address again. Counts, never times."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import event

from tests.conftest import InProcess

pytestmark = pytest.mark.api


def _request_deploy(server: InProcess, zone: dict[str, Any], name: str) -> str:
    """One deployVirtualMachine request, run in this thread; its job's id (the job waits in the queue)."""
    reply = server.server.dispatcher.handle(
        [("command", "deployVirtualMachine"), ("response", "json"), ("zoneid", zone["zone"]),
         ("serviceofferingid", zone["small"]), ("templateid", zone["template"]), ("name", name)], integration=True)
    assert reply.status == 200, reply.body
    return str(json.loads(reply.body)["deployvirtualmachineresponse"]["jobid"])


def _deploy_here(server: InProcess, zone: dict[str, Any], name: str) -> str:
    """One deployVirtualMachine request and its job, both run in this thread; the job's id."""
    jobid = _request_deploy(server, zone, name)
    assert server.server.queue.run_one()
    return jobid


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)  # the same statements on both backends
def test_statements_per_deploy_do_not_grow_with_the_vms(server: InProcess, tmp_path: Path) -> None:
    """The SQL statements of one deploy (request and job) are as many with 200 VMs in the network as with 10: the
    free address, the host's capacity and the settings are found without reading the other VMs."""
    from tests.api.test_autoscale import advanced_sim_zone

    me = threading.get_ident()
    counting = [False]
    statements = [0]
    # Three deploys are counted at each size and the fewest statements compared: a settings cache whose 5 s ran
    # out adds one read to the deploy that refreshes it, and no cache refreshes twice within three deploys.
    early, late = (10, 11, 12), (198, 199, 200)
    executed: dict[int, list[Any]] = {i: [] for i in early + late}  # the statement objects each counted deploy ran

    def count(*_args: Any) -> None:  # this thread only: the server's background rounds run in their own
        if counting[0] and threading.get_ident() == me:
            statements[0] += 1

    def note(_conn: Any, clause: Any, *_rest: Any) -> None:
        if counting[0] and threading.get_ident() == me:
            executed[i].append(clause)  # held, so no id is reused by a later object

    for zone in advanced_sim_zone(server, tmp_path, hosts=4, cpus=64, mem_gib=256):
        server.server.queue.stop()  # the jobs run here, one at a time (run_one)
        engine = server.server.runtime.db.engine
        per_deploy: dict[int, int] = {}
        event.listen(engine, "before_cursor_execute", count)
        event.listen(engine, "before_execute", note)
        try:
            for i in range(201):
                counting[0], statements[0] = i in executed, 0
                jobid = _deploy_here(server, zone, f"vm-{i}")
                counting[0] = False
                per_deploy[i] = statements[0]
                job = server.api("queryAsyncJobResult", jobid=jobid)
                assert job["jobstatus"] == 1 and job["jobresult"]["virtualmachine"]["state"] == "Running", job
        finally:
            event.remove(engine, "before_cursor_execute", count)
            event.remove(engine, "before_execute", note)
        fewest = (min(per_deploy[i] for i in early), min(per_deploy[i] for i in late))
        assert fewest[0] == fewest[1], (per_deploy, fewest)
        # The hot statements are built once and reused with new parameters (management.db.prepared): building a
        # statement and its cache key costs more than SQLite's own work for a lookup by key.
        first = {id(c) for c in executed[10]}
        reused = [c for c in executed[200] if id(c) in first]
        # (44 until a new VM's NIC numbering stopped reading its NICs: that statement was one of them)
        assert len(reused) >= 43, (len(reused), len(executed[200]))
        assert len(server.api("listVirtualMachines", listall="true")["virtualmachine"]) == 201


def test_an_expunged_vms_address_is_the_next_one_handed_out(server: InProcess, tmp_path: Path) -> None:
    """The allocator starts from a hint past the used addresses; an address given back below it is found again
    (CloudStack hands out a free address of the network; devcloud the lowest)."""
    from tests.api.test_autoscale import advanced_sim_zone
    from tests.api.test_vm_lifecycle import deploy

    api = server.api
    for zone in advanced_sim_zone(server, tmp_path, hosts=1, cpus=16):
        vms = [deploy(api, zone, name=f"vm-{i}") for i in range(4)]
        ips = [vm["nic"][0]["ipaddress"] for vm in vms]
        assert len(set(ips)) == 4
        api.run("destroyVirtualMachine", id=vms[1]["id"], expunge=True)
        again = deploy(api, zone, name="vm-again")
        assert again["nic"][0]["ipaddress"] == ips[1]
        assert deploy(api, zone, name="vm-next")["nic"][0]["ipaddress"] not in ips


class _Counted(NamedTuple):
    request: list[str]  # the deploy request's statements, whitespace folded
    job: list[str]  # its job's
    elsewhere: list[str]  # "thread: statement" that other threads ran during the job


def _one_deploy_job(server: InProcess, tmp_path: Path) -> _Counted:
    """Deploys "counted" in a warm simulator zone, its request and its job run in this thread, and returns their
    statements (VM sync's event handling runs in threads of its own: `elsewhere`)."""
    from tests.api.test_autoscale import advanced_sim_zone

    me = threading.get_ident()
    counted = _Counted([], [], [])
    into: list[list[str] | None] = [None]

    def seen(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if into[0] is None:
            return
        if threading.get_ident() == me:
            into[0].append(" ".join(sql.split()))
        elif into[0] is counted.job:
            counted.elsewhere.append(f"{threading.current_thread().name}: {sql[:80]}")

    for zone in advanced_sim_zone(server, tmp_path, hosts=2, cpus=16):
        server.server.queue.stop()  # the jobs run here (run_one)
        engine = server.server.runtime.db.engine
        _deploy_here(server, zone, "warm")  # caches filled, the template placed on the pool
        event.listen(engine, "before_cursor_execute", seen)
        try:
            into[0] = counted.request
            _request_deploy(server, zone, "counted")
            into[0] = counted.job
            assert server.server.queue.run_one()
            into[0] = None
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        vm = next(v for v in server.api("listVirtualMachines", listall="true")["virtualmachine"]
                  if v["name"] == "counted")
        assert vm["state"] == "Running" and vm["hostid"]
        (root,) = server.api("listVolumes", virtualmachineid=vm["id"], listall="true")["volume"]
        assert root["state"] == "Ready" and root["storageid"]
    return counted


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_deploy_reads_its_zone_offering_and_template_once(server: InProcess, tmp_path: Path) -> None:
    """The job resolves the zone, offering and template of the request once, and placement uses those rows
    rather than selecting them again; the VM and its root volume are not read back after the spawn; the
    hypervisor's events about the VM while it starts (the simulator sends them) are the start's own, and VM sync
    reads nothing for them."""
    import re

    counted = _one_deploy_job(server, tmp_path)
    mine, elsewhere = counted.job, counted.elsewhere
    reads = [m.group(1) for sql in mine if (m := re.match(r"SELECT .*? FROM (\w+)", sql))]  # the table read first
    assert (reads.count("data_center"), reads.count("service_offering"), reads.count("vm_template")) == (1, 1, 1), \
        reads
    # the unit of work after the spawn starts from the VM and root volume rows the one before it committed
    # (3 and 5 before): volumes for placement and the response's disk offering; the VM for its password, the
    # start, the response and the response's related names
    assert (reads.count("volumes"), reads.count("vm_instance")) == (2, 4), " ".join(reads)
    assert not [s for s in elsewhere if s.startswith("vm-sync-event")], elsewhere


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_deploy_writes_what_changes_with_a_state_in_that_states_statement(server: InProcess,
                                                                             tmp_path: Path) -> None:
    """The root volume's pool is written with its Creating state and its path with Ready, the VM's host and power
    state with Running: one UPDATE each, not a second one beside it. And in a zone without security groups the
    start's lifecycle hook reads nothing (the start knows the zone)."""
    writes = _one_deploy_job(server, tmp_path).job
    volume_updates = [w for w in writes if w.startswith("UPDATE volumes")]
    assert len(volume_updates) == 2, volume_updates
    assert "pool_id=" in volume_updates[0] and "state=" in volume_updates[0], volume_updates
    assert "path=" in volume_updates[1] and "state=" in volume_updates[1], volume_updates
    running = [w for w in writes if w.startswith("UPDATE vm_instance") and "power_state=" in w]
    assert len(running) == 1 and "state=" in running[0].split(" WHERE ")[0].replace("power_state=", ""), running
    assert not [w for w in writes if w.startswith("SELECT vm_instance.vm_type, vm_instance.uuid")], writes


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_job_reads_its_caller_and_journal_in_its_claim(server: InProcess, tmp_path: Path) -> None:
    """The claim's transaction reads the job with its user (one statement) and its journal; running the job opens
    no read transaction of its own for them before its first unit of work."""
    import re

    mine = _one_deploy_job(server, tmp_path).job
    begins = [i for i, sql in enumerate(mine) if sql.startswith("BEGIN")]
    assert len(begins) >= 2 and mine[begins[0]] == "BEGIN IMMEDIATE", mine[:12]
    claim = mine[begins[0]:begins[1]]
    assert any(re.match(r"UPDATE async_job SET executing_msid=", s) for s in claim), claim
    assert any(s.startswith("SELECT async_job.") and " JOIN user " in s for s in claim), claim
    assert any(s.startswith("SELECT async_job_journal.") for s in claim), claim
    assert mine[begins[1]] == "BEGIN IMMEDIATE", mine[begins[1]]  # the job's first unit of work, a write
    assert not [s for s in mine if re.match(r"SELECT user\.", s)], [s[:60] for s in mine]


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_new_vms_nics_are_numbered_without_reading_nics(server: InProcess, tmp_path: Path) -> None:
    """The request creates the VM, so it has no NIC to number after: the request reads no NIC device ids (it still
    reads the network's taken addresses and checks the MAC is unused)."""
    request = _one_deploy_job(server, tmp_path).request
    assert any(s.startswith("INSERT INTO nics ") for s in request), request
    assert not [s for s in request if s.startswith("SELECT nics.device_id ")], request


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_deploy_without_networkids_reads_its_default_network_once(server: InProcess, tmp_path: Path) -> None:
    """The account's default network is read with its row lock to be chosen; whether it needs implementing is
    told from that same read, not from a second one (two before)."""
    request = _one_deploy_job(server, tmp_path).request
    reads = [s for s in request if s.startswith("SELECT networks.")]
    assert len(reads) == 1, reads


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_stop_and_an_expunge_spare_the_security_group_hooks_read(server: InProcess, tmp_path: Path) -> None:
    """In a zone without security groups, the hook that runs after a stop and after an expunge reads nothing: the
    stop and the expunge pass the VM's type and its zone's flag (cached) as they do for a start."""
    from tests.api.test_autoscale import advanced_sim_zone

    me = threading.get_ident()
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if threading.get_ident() == me:
            seen.append(" ".join(sql.split()))

    def here(command: str, **params: str) -> None:
        reply = server.server.dispatcher.handle([("command", command), ("response", "json"), *params.items()],
                                                integration=True)
        assert reply.status == 200, reply.body
        assert server.server.queue.run_one()

    for zone in advanced_sim_zone(server, tmp_path, hosts=2, cpus=16):
        server.server.queue.stop()  # the jobs run here (run_one)
        _deploy_here(server, zone, "short-lived")
        (vm,) = [v for v in server.api("listVirtualMachines", listall="true")["virtualmachine"]
                 if v["name"] == "short-lived"]
        engine = server.server.runtime.db.engine
        event.listen(engine, "before_cursor_execute", note)
        try:
            here("stopVirtualMachine", id=vm["id"])
            stopped = list(seen)
            here("destroyVirtualMachine", id=vm["id"], expunge="true")
        finally:
            event.remove(engine, "before_cursor_execute", note)
        assert any(s.startswith("UPDATE vm_instance SET state=") for s in stopped), stopped
        assert not server.api("listVirtualMachines", id=vm["id"], listall="true").get("virtualmachine")
        hook_reads = [s for s in seen if s.startswith("SELECT vm_instance.vm_type, vm_instance.uuid")]
        assert not hook_reads, hook_reads


def _request_job(server: InProcess, command: str, **params: str) -> str:
    """One asynchronous request, run in this thread; its job's id (the job waits in the queue)."""
    reply = server.server.dispatcher.handle([("command", command), ("response", "json"), *params.items()],
                                            integration=True)
    assert reply.status == 200, reply.body
    return str(next(iter(json.loads(reply.body).values()))["jobid"])


def test_a_networks_first_vm_has_it_implemented_by_the_job_not_the_request(server: InProcess,
                                                                           tmp_path: Path) -> None:
    """CloudStack implements a guest network when its first VM starts (the orchestrator's prepare), inside the
    deploy's job: the request answers without waiting for a router to come up. Until the job runs, the network is
    Allocated, holds no source NAT address, and the VM's NIC has no VLAN; afterwards both carry the network's VLAN.
    A VM deployed with startvm=false leaves its network Allocated until it is started."""
    from tests.api.test_autoscale import advanced_sim_zone

    api = server.api
    for zone in advanced_sim_zone(server, tmp_path, hosts=1, cpus=16):
        server.server.queue.stop()  # the jobs run here (run_one)
        jobid = _request_deploy(server, zone, "first")
        (net,) = api("listNetworks", listall="true")["network"]
        assert net["state"] == "Allocated" and not net.get("broadcasturi"), net
        (pending,) = api("listVirtualMachines", listall="true")["virtualmachine"]
        assert pending["state"] == "Stopped" and not pending["nic"][0].get("broadcasturi"), pending
        assert not api("listPublicIpAddresses", listall="true").get("publicipaddress"), "source NAT in the request"

        assert server.server.queue.run_one()
        job = api("queryAsyncJobResult", jobid=jobid)
        assert job["jobstatus"] == 1, job
        vm = job["jobresult"]["virtualmachine"]
        (net,) = api("listNetworks", listall="true")["network"]
        assert vm["state"] == "Running" and net["state"] == "Implemented", (vm, net)
        assert net["broadcasturi"].startswith("vlan://"), net
        assert vm["nic"][0]["broadcasturi"] == vm["nic"][0]["isolationuri"] == net["broadcasturi"], vm["nic"]
        (snat,) = api("listPublicIpAddresses", listall="true", issourcenat="true")["publicipaddress"]
        assert snat["associatednetworkid"] == net["id"], snat

        later = api("createNetwork", name="later", displaytext="later", networkofferingid=net["networkofferingid"],
                    zoneid=zone["zone"])["network"]
        jobid = _request_job(server, "deployVirtualMachine", zoneid=zone["zone"], serviceofferingid=zone["small"],
                             templateid=zone["template"], name="stopped", networkids=later["id"], startvm="false")
        assert server.server.queue.run_one()
        stopped = api("queryAsyncJobResult", jobid=jobid)["jobresult"]["virtualmachine"]
        later = api("listNetworks", id=later["id"])["network"][0]
        assert stopped["state"] == "Stopped" and later["state"] == "Allocated", (stopped, later)
        assert not stopped["nic"][0].get("broadcasturi"), stopped["nic"]

        jobid = _request_job(server, "startVirtualMachine", id=stopped["id"])
        assert server.server.queue.run_one()
        job = api("queryAsyncJobResult", jobid=jobid)
        assert job["jobstatus"] == 1, job
        started = job["jobresult"]["virtualmachine"]
        later = api("listNetworks", id=later["id"])["network"][0]
        assert started["state"] == "Running" and later["state"] == "Implemented", (started, later)
        assert started["nic"][0]["broadcasturi"] == later["broadcasturi"] != net["broadcasturi"], started["nic"]


def _run(server: InProcess, command: str, **params: str) -> dict[str, Any]:
    jobid = _request_job(server, command, **params)
    assert server.server.queue.run_one()
    job = server.api("queryAsyncJobResult", jobid=jobid)
    assert job["jobstatus"] == 1, job
    return job["jobresult"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("backend_name", ["sqlite", "mysql"], indirect=True)
def test_a_vm_start_brings_its_networks_router_back(server: InProcess, tmp_path: Path) -> None:
    """As CloudStack's prepare does on every start: a VM started on a network whose router was stopped starts the
    router; one whose router was destroyed (the network Shutdown) implements the network again, with a router and
    a VLAN that the VM's NIC then carries."""
    from tests.api.test_autoscale import advanced_sim_zone

    api = server.api
    for zone in advanced_sim_zone(server, tmp_path, hosts=1, cpus=16):
        server.server.queue.stop()  # the jobs run here (run_one)
        vm = _run(server, "deployVirtualMachine", zoneid=zone["zone"], serviceofferingid=zone["small"],
                  templateid=zone["template"], name="web")["virtualmachine"]
        net_id = vm["nic"][0]["networkid"]
        (router,) = api("listRouters", networkid=net_id, listall="true")["router"]
        _run(server, "stopVirtualMachine", id=vm["id"])
        assert _run(server, "stopRouter", id=router["id"])["router"]["state"] == "Stopped"

        started = _run(server, "startVirtualMachine", id=vm["id"])["virtualmachine"]
        (again,) = api("listRouters", networkid=net_id, listall="true")["router"]
        assert started["state"] == "Running" and (again["id"], again["state"]) == (router["id"], "Running"), again

        _run(server, "stopVirtualMachine", id=vm["id"])
        _run(server, "destroyRouter", id=router["id"])
        (net,) = api("listNetworks", id=net_id, listall="true")["network"]
        assert net["state"] == "Shutdown" and not api("listRouters", networkid=net_id, listall="true").get("router")

        started = _run(server, "startVirtualMachine", id=vm["id"])["virtualmachine"]
        (net,) = api("listNetworks", id=net_id, listall="true")["network"]
        (fresh,) = api("listRouters", networkid=net_id, listall="true")["router"]
        assert started["state"] == "Running" and net["state"] == "Implemented", (started, net)
        assert fresh["id"] != router["id"] and fresh["state"] == "Running", fresh
        assert started["nic"][0]["broadcasturi"] == net["broadcasturi"], (started["nic"], net)
