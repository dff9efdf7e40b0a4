"""Taking over the jobs of a management server that died (or of this server's previous run).

`sweep` finds every pending job claimed by a run that is no longer Up (a peer declared Down, or a run of this
server before its restart) and puts it back in the queue with a `requeued` journal row, in one compare-and-swap
per job: whoever sweeps first wins, nobody runs a job twice. Any server's worker then claims it as usual, and the
dispatcher, seeing the journal, calls `reconcile` before running the command again:

- an empty journal (only `requeued`): nothing of the job was committed (its transaction died with its server), so
  it simply runs again — a database-only job's effect and its completion commit together, never apart;
- a VM command with committed steps: the VM is settled from what its hypervisor reports (a domain that exists is
  running: the VM is Running; none: the volumes the interrupted spawn was about to create are deleted, the claims
  given back, the VM Stopped), then the command runs again: the driver's operations are idempotent and a repeated
  no-op (start a Running VM, stop a Stopped one) succeeds, so the effect happens once and the job reports it;
- anything else with committed steps fails with a text saying exactly that (never "FAILED" for an effect that a
  re-run could double).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select, update

from management import fsm, placement
from management.db.base import utcnow
from management.drivers.base import PowerState
from management.drivers.errors import DriverError
from management.errors import CloudError, InternalError
from management.fsm import VmEvent, VolumeEvent
from management.jobs import journal
from management.models.compute import VirtualMachine
from management.models.infra import Host
from management.models.jobs import AsyncJob, JobJournal, ManagementServer
from management.models.storage import Volume
from management.services import hypervisors
from management.services.cluster import membership
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

MiB = 1024 * 1024
SETTLE_RETRIES = (1.0, 2.0, 4.0, 8.0)  # seconds between attempts to settle an interrupted VM (15 s in all)
WAKE = "job_queue_wake"  # runtime.extras: a callable that wakes this server's job workers


def sweep(runtime: Runtime, _down: list[str] | None = None) -> list[str]:
    """Requeues every pending job whose claim belongs to a run that is not Up; returns their uuids."""
    requeued: list[str] = []
    with runtime.db.session() as s:
        # One transaction, jobs read first: a claim made by a run that registered after this snapshot is not seen.
        claimed = list(s.execute(select(AsyncJob.id, AsyncJob.uuid, AsyncJob.executing_msid, AsyncJob.claim_runid)
                                 .where(AsyncJob.status == 0, AsyncJob.executing_msid.is_not(None))))
        if not claimed:
            return []
        live = {(m, r) for m, r in s.execute(select(ManagementServer.msid, ManagementServer.runid)
                                             .where(ManagementServer.state == "Up"))}
        for job_id, uuid, msid, runid in claimed:
            if (msid, runid) in live:
                continue
            res = s.execute(update(AsyncJob).where(
                AsyncJob.id == job_id, AsyncJob.status == 0, AsyncJob.executing_msid == msid,
                AsyncJob.claim_runid == runid).values(executing_msid=None, claim_runid=0, last_updated=utcnow()))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                s.add(JobJournal(job_id=job_id, step=journal.REQUEUED,
                                 data_json=f'{{"from": "{msid}", "run": {runid}, "by": "{runtime.msid}"}}'))
                requeued.append(uuid)
    if requeued:
        log.warning("took over %d job(s) of stopped management server runs: %s", len(requeued), ", ".join(requeued))
        wake = runtime.extras.get(WAKE)
        if wake is not None:
            wake()
    return requeued


membership.on_peers_down(sweep)


def _origin(steps: list[tuple[str, dict[str, Any]]]) -> str:
    for step, data in reversed(steps):
        if step == journal.REQUEUED:
            return str(data.get("from", "?"))
    return "?"


def reconcile(runtime: Runtime, job: AsyncJob, steps: list[tuple[str, dict[str, Any]]]) -> CloudError | None:
    """Makes a requeued job that committed part of its work safe to run again; or says why it is not."""
    origin = _origin(steps)
    if job.instance_type == "VirtualMachine" and job.instance_uuid:
        # The dead server's last hypervisor call may still be running in the daemon (libvirtd finishes a domain
        # start whose client went away), and a domain in mid-start refuses calls: settle again a few times.
        for delay in (*SETTLE_RETRIES, None):
            try:
                settle_vm(runtime, job.instance_uuid, steps)
                break
            except (DriverError, CloudError) as exc:
                if delay is None:
                    return InternalError(
                        f"Job interrupted: management server {origin} stopped while running {job.command}, and VM "
                        f"{job.instance_uuid} could not be reconciled with its hypervisor ({exc}); the VM is left "
                        "for VM sync to settle")
                log.info("job %s: VM %s not settled yet (%s); again in %.0fs", job.uuid, job.instance_uuid, exc,
                         delay)
                time.sleep(delay)
        log.info("job %s (%s) resumes after its server %s stopped", job.uuid, job.command, origin)
        return None
    return InternalError(f"Job interrupted: management server {origin} stopped while running {job.command} after "
                         f"part of it was committed; it was not run again (check {job.instance_type or 'the resource'}"
                         f" {job.instance_uuid or ''})".rstrip())


def _spawn_volumes(steps: list[tuple[str, dict[str, Any]]]) -> tuple[int | None, list[tuple[str, str]]]:
    for step, data in reversed(steps):
        if step == "spawn":
            return data.get("host_id"), [(p, v) for p, v in data.get("volumes", [])]
    return None, []


def settle_vm(runtime: Runtime, vm_uuid: str, steps: list[tuple[str, dict[str, Any]]]) -> str | None:
    """Brings a VM left in Starting/Stopping/Expunging by an interrupted job in line with its hypervisor."""
    with runtime.db.session(write=False) as s:
        vm = s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid))
        if vm is None or vm.removed is not None:
            return None
        vm_id, state = vm.id, vm.state
        spawn_host, spawn_vols = _spawn_volumes(steps)
        host_id = vm.host_id or spawn_host or vm.last_host_id
        host = s.get(Host, host_id) if host_id else None
    if state == "Expunging":
        from management.services.compute import vm as vm_service

        vm_service.expunge(runtime, vm_id)
        return "expunged"
    if state not in ("Starting", "Stopping"):
        return state
    dom = None
    d = None
    if host is not None:
        d = hypervisors.driver_for(runtime, host)
        dom = d.get_domain(vm_uuid)
        if dom is not None and state == "Starting" and dom.state is not PowerState.RUNNING:
            dom = d.start(vm_uuid)  # defined by the interrupted spawn, not started yet: finish the start
        if dom is None and state == "Starting":
            for pool_name, vol_uuid in spawn_vols:  # spawn never completed: what it created goes (idempotent)
                d.delete_volume(pool_name, vol_uuid)
    running = dom is not None and dom.state is PowerState.RUNNING
    with runtime.db.session() as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.state != state:
            return vm.state
        if running and host is not None:
            fsm.transition(s, vm, VmEvent.AgentReportRunning)
            if vm.host_id is None:
                placement.claim_host_unconditional(s, host.id, vm.cpu * vm.speed, vm.ram_size * MiB)
                vm.host_id = host.id
            for vol in s.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.state == "Creating")):
                vol.path = vol.uuid
                fsm.transition(s, vol, VolumeEvent.OperationSucceeded)
            vm.last_host_id, vm.power_state, vm.power_state_updated = vm.host_id, "PowerOn", utcnow()
        else:
            fsm.transition(s, vm, VmEvent.OperationFailed if state == "Starting" else VmEvent.AgentReportStopped)
            for vol in s.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.state == "Creating")):
                if vol.pool_id is not None:
                    placement.release_pool(s, vol.pool_id, vol.size)
                fsm.transition(s, vol, VolumeEvent.OperationFailed)  # -> Allocated
                vol.pool_id, vol.path = None, None
            if vm.host_id is not None:
                placement.release_host(s, vm.host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
                if state == "Stopping":
                    vm.last_host_id = vm.host_id
                vm.host_id = None
            vm.power_state, vm.power_state_updated = "PowerOff", utcnow()
        log.warning("VM %s left in %s by an interrupted job is now %s", vm_uuid, state, vm.state)
        return vm.state
