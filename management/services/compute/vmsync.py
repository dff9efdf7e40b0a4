"""VM sync: reconcile what the hypervisors report with the database (CloudStack's VM power-state sync).

A periodic round (`vm.sync.interval` seconds, default 60; re-read every round and when a setting changes) asks
every Up host this server manages (`mgmt_server_id`, services/cluster/ownership.py) for `list_domains()` and
compares:

- a domain Stopped/Crashed out of band while the VM is Running -> Stopped (FollowAgentPowerOffReport), host
  capacity released in the same unit of work;
- a Running VM whose domain is missing from its host -> Stopped the same way;
- a domain Running while the VM is Stopped -> Running (FollowAgentPowerOnReport), capacity claimed;
- a domain the database does not know whose name looks like ours (`i-<account>-<vm>-VM`) -> reported as an
  orphan (logged, `orphans` list); never destroyed: it may not be ours.

VMs in transitional states (Starting, Stopping, Migrating, Expunging) belong to the job moving them and are
skipped. Lifecycle events from drivers that declare EVENTS trigger the same reconcile for that one VM at once.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select

from management import fsm, loops, placement
from management.db.base import utcnow
from management.db.prepared import prepared
from management.drivers.base import HypervisorDriver, LifecycleEvent, PowerState
from management.drivers.errors import DriverError
from management.errors import CloudError
from management.fsm import VmEvent
from management.models.compute import VirtualMachine
from management.models.infra import Host
from management.services import hypervisors
from management.services.cluster import ownership
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

OUR_NAME = re.compile(r"^i-\d+-\d+-[A-Za-z0-9]+$")  # i-<account>-<vm>-<instance.name>
MiB = 1024 * 1024
_watch_lock = threading.Lock()
# Called with (runtime, vm id, host id) after a Running VM was found stopped without a request (VM HA registers).
OUT_OF_BAND_STOP_HOOKS: list[Callable[[Runtime, int, int], None]] = []


def watch(runtime: Runtime, host_id: int, driver: HypervisorDriver) -> None:
    """Subscribe to a driver's lifecycle events once (idempotent per driver instance)."""
    if not driver.supports("events"):
        return
    with _watch_lock:
        watched: weakref.WeakSet[Any] = runtime.extras.setdefault("vmsync_watched", weakref.WeakSet())
        if driver in watched:
            return
        watched.add(driver)

    def handle(ev: LifecycleEvent) -> None:
        try:
            _on_event(runtime, host_id, driver, ev)
        except Exception:  # listeners must not raise into the driver
            log.debug("vm sync event handling failed for %s", ev, exc_info=True)

    def on_event(ev: LifecycleEvent) -> None:
        if runtime.extras.get("vmsync_disabled") or hypervisors.is_starting(runtime, ev.vm_uuid):
            return  # a start under way here: its events say what the start will record (the VM is Starting)
        # Off the driver's event thread: handling calls the driver again (get_domain), and a libvirt call made
        # from inside libvirt's own event-loop callback waits for a reply only that loop can deliver.
        threading.Thread(target=handle, args=(ev,), name="vm-sync-event", daemon=True).start()

    driver.register_event_listener(on_event)


hypervisors.watch_drivers(watch)


def _on_event(runtime: Runtime, host_id: int, driver: HypervisorDriver, ev: LifecycleEvent) -> None:
    with runtime.db.session(write=False) as s:
        vm = s.execute(prepared("vmsync-event-vm", lambda: (
            select(VirtualMachine.id, VirtualMachine.update_count, VirtualMachine.state, VirtualMachine.host_id,
                   VirtualMachine.last_host_id)
            .where(VirtualMachine.uuid == bindparam("uuid"), VirtualMachine.removed.is_(None)))),
            {"uuid": ev.vm_uuid}).first()
        if vm is None or vm.state in fsm.TRANSITIONAL:
            return
        vm_id, seen, state, vm_host, last_host = vm
    info = driver.get_domain(ev.vm_uuid)
    power = info.state if info is not None else None
    # Most events confirm what the database says (the job that started the VM already recorded it): no write
    # transaction for those, the SQLite write lock is what concurrent deploys queue for.
    if _differs(state, vm_host, last_host, host_id, power):
        reconcile_vm(runtime, vm_id, host_id, power, seen)


def _differs(state: str, vm_host: int | None, last_host: int | None, host_id: int, power: PowerState | None) -> bool:
    """Whether `reconcile_vm` would change anything (read-only pre-check on a snapshot; it re-checks itself)."""
    off = power in (None, PowerState.STOPPED, PowerState.CRASHED)
    return (state == "Running" and vm_host == host_id and off) or (
        state == "Stopped" and power is PowerState.RUNNING and last_host == host_id)


def reconcile_vm(runtime: Runtime, vm_id: int, host_id: int, power: PowerState | None, seen: int) -> str | None:
    """Apply one host's view of one VM (power None = domain missing). Returns the new state if it changed.

    `seen` is the VM's update_count read BEFORE the hypervisor was asked: if a job changed the VM since, the
    report may predate that change (a stop that raced the listing would otherwise be undone), so it is skipped
    and the next round looks again."""
    try:
        with runtime.db.session() as s:
            vm = s.get_one(VirtualMachine, vm_id)
            if vm.removed is not None or vm.state in fsm.TRANSITIONAL or vm.update_count != seen:
                return None
            off = power in (None, PowerState.STOPPED, PowerState.CRASHED)
            if vm.state == "Running" and vm.host_id == host_id and off:
                fsm.transition(s, vm, VmEvent.FollowAgentPowerOffReport)
                placement.release_host(s, host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
                vm.last_host_id, vm.host_id = host_id, None
                vm.power_state = "PowerOff" if power is not None else "PowerReportMissing"
                vm.power_state_updated = utcnow()
                log.info("VM %s (%s) stopped out of band on host %s", vm.instance_name, vm.uuid, host_id)
                stopped = vm.state
            else:
                stopped = None
            if vm.state == "Stopped" and power is PowerState.RUNNING and vm.last_host_id == host_id:
                fsm.transition(s, vm, VmEvent.FollowAgentPowerOnReport)
                placement.claim_host_unconditional(s, host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
                vm.host_id = host_id
                vm.power_state = "PowerOn"
                vm.power_state_updated = utcnow()
                log.info("VM %s (%s) started out of band on host %s", vm.instance_name, vm.uuid, host_id)
                return vm.state
    except CloudError as exc:  # ConcurrentOperation: a job moved it first; the next round looks again
        log.debug("vm sync skipped VM %s: %s", vm_id, exc)
        return None
    if stopped is not None:
        for hook in list(OUT_OF_BAND_STOP_HOOKS):
            try:
                hook(runtime, vm_id, host_id)
            except Exception:  # noqa: BLE001 - a hook must not break the sync
                log.exception("out-of-band stop hook %r failed for VM %s", hook, vm_id)
    return stopped



STUCK = ("Starting", "Stopping", "Expunging")


def stuck_now(runtime: Runtime) -> dict[int, int]:
    """The VMs in Starting/Stopping/Expunging right now, with their update counts."""
    with runtime.db.session(write=False) as s:
        return dict(s.execute(select(VirtualMachine.id, VirtualMachine.update_count).where(  # type: ignore[arg-type]
            VirtualMachine.removed.is_(None), VirtualMachine.state.in_(STUCK))).all())


def recover_stuck(runtime: Runtime, host_id: int | None, domains: dict[str, Any],
                  at_start: dict[int, int] | None = None) -> int:
    """VMs left in Starting/Stopping/Expunging by a job that no longer runs (a restarted server): settle them
    from what the hypervisor reports, keeping the capacity ledger and volume states consistent.

    `at_start` (VM id -> update count, `stuck_now` when this server started): only those VMs, and only while
    unchanged since. A VM that entered such a state later belongs to an operation of this server, and not every
    one has a job row (HA restarts, calls inside other jobs), so "no pending job" alone does not make it stuck."""
    from management.models.jobs import AsyncJob
    from management.models.storage import Volume
    from management.services.compute import vm as vm_service

    fixed = 0
    with runtime.db.session(write=False) as s:
        busy = select(AsyncJob.instance_uuid).where(AsyncJob.status == 0, AsyncJob.instance_uuid.is_not(None))
        where_host = ((VirtualMachine.host_id == host_id) | (VirtualMachine.last_host_id == host_id)
                      if host_id is not None else
                      VirtualMachine.host_id.is_(None) & VirtualMachine.last_host_id.is_(None))
        stuck = [(vm_id, uuid, state, seen) for vm_id, uuid, state, seen in s.execute(
            select(VirtualMachine.id, VirtualMachine.uuid, VirtualMachine.state, VirtualMachine.update_count).where(
                VirtualMachine.removed.is_(None), VirtualMachine.state.in_(STUCK), where_host,
                VirtualMachine.uuid.not_in(busy)))
            if at_start is None or at_start.get(vm_id) == seen]
    for vm_id, uuid, state, seen in stuck:
        dom = domains.get(uuid)
        running = dom is not None and dom.state == PowerState.RUNNING
        try:
            if state == "Expunging":
                vm_service.expunge(runtime, vm_id)
                fixed += 1
                continue
            with runtime.db.session() as s:
                vm = s.get_one(VirtualMachine, vm_id)
                if vm.state != state or vm.update_count != seen:
                    continue
                if running and host_id is not None:
                    fsm.transition(s, vm, VmEvent.AgentReportRunning)  # Starting/Stopping -> Running
                    if vm.host_id is None:  # crashed before its claim: the domain runs, so claim now
                        placement.claim_host_unconditional(s, host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
                        vm.host_id = host_id
                    for vol in s.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.state == "Creating")):
                        vol.path = vol.uuid
                        fsm.transition(s, vol, fsm.VolumeEvent.OperationSucceeded)
                    vm.last_host_id = vm.host_id or host_id
                    vm.power_state = "PowerOn"
                else:
                    event = VmEvent.OperationFailed if state == "Starting" else VmEvent.AgentReportStopped
                    fsm.transition(s, vm, event)  # -> Stopped
                    for vol in s.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.state == "Creating")):
                        if vol.pool_id is not None:  # spawn is atomic: the disk was never made
                            placement.release_pool(s, vol.pool_id, vol.size)
                        fsm.transition(s, vol, fsm.VolumeEvent.OperationFailed)  # -> Allocated
                        vol.pool_id = None
                    vm_service.release_capacity(s, vm)
                log.warning("vm sync: VM %s was stuck in %s without a job; now %s", uuid, state, vm.state)
                fixed += 1
        except CloudError as exc:
            log.info("vm sync: could not settle stuck VM %s: %s", uuid, exc)
    return fixed


class VmSync:
    def __init__(self, runtime: Runtime, stop_event: threading.Event | None = None) -> None:
        self.runtime = runtime
        # The first round runs at start (CloudStack syncs power states when a host connects): after a reboot the
        # database still says Running for domains that are off, and `devcloud up` waited a whole interval for it.
        self._loop = loops.Loop("vm-sync", self._interval, self.run_once, stop_event=stop_event, at_start=True)
        self.rounds = 0
        self.orphans: dict[int, list[str]] = {}  # unknown domains named like ours (i-<account>-<vm>-VM)
        self.unmanaged: dict[int, list[str]] = {}  # every other domain the database does not know
        self.stuck_at_start = stuck_now(runtime)  # what a dead run left; the first round settles these only

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)

    def _interval(self) -> float:
        from management.services import configuration

        with self.runtime.db.session(write=False) as s:
            return max(configuration.get_float(s, "vm.sync.interval", 60.0), 0.05)

    def run_once(self) -> dict[str, int]:

        # Stuck VMs come from a server that died mid-job; that happens before this server starts, so they are
        # settled in the first round only. Later, a VM in Starting/Stopping is a live operation (a job, or a
        # service call without one) that a round must not race.
        first = self.rounds == 0
        # (VMs never placed first: nothing to ask a hypervisor about them)
        changed = recover_stuck(self.runtime, None, {}, self.stuck_at_start) if first else 0
        # One snapshot of the live VMs per round (not a scan per host), and a write transaction only for the VMs
        # whose host report differs from the database (`_differs`): at 10k VMs the round used to open 10k SQLite
        # write transactions, competing with every deploy for the write lock.
        by_host: dict[int, dict[int, tuple[int, str, str, int | None, int | None, int]]] = {}
        with self.runtime.db.session(write=False) as s:
            hosts = list(s.scalars(select(Host).where(Host.status == "Up", Host.removed.is_(None),
                                                      Host.type == "Routing",
                                                      ownership.owned_hosts(self.runtime))).unique())
            live_uuids = set()
            for row in s.execute(select(VirtualMachine.id, VirtualMachine.uuid, VirtualMachine.state,
                                        VirtualMachine.host_id, VirtualMachine.last_host_id,
                                        VirtualMachine.update_count)
                                 .where(VirtualMachine.removed.is_(None))):
                vm_id, vm_uuid, state, host_id, last_host_id, update_count = row
                live_uuids.add(vm_uuid)
                for hid in {host_id, last_host_id}:
                    if hid is not None:
                        by_host.setdefault(hid, {})[vm_id] = (vm_id, vm_uuid, state, host_id, last_host_id,
                                                              update_count)
        for host in hosts:
            try:
                d = hypervisors.driver_for(self.runtime, host)
                domains = {dom.uuid: dom for dom in d.list_domains()}
            except (DriverError, CloudError) as exc:
                log.info("vm sync: host %s unreachable: %s", host.name, exc)
                continue
            vms = list(by_host.get(host.id, {}).values())
            known = {u for u in domains if u in live_uuids}
            others = [u for u in domains if u not in known]
            if others:  # removed VMs' domains still count as known (they are not orphans of ours)
                with self.runtime.db.session(write=False) as s:
                    known |= set(s.scalars(select(VirtualMachine.uuid).where(VirtualMachine.uuid.in_(others))))
            if first and any(state in STUCK for _, _, state, _, _, _ in vms):
                changed += recover_stuck(self.runtime, host.id, domains, self.stuck_at_start)
            for vm_id, uuid, state, vm_host, last_host, seen in vms:
                dom = domains.get(uuid)
                power = dom.state if dom else None
                if not _differs(state, vm_host, last_host, host.id, power):
                    continue
                if reconcile_vm(self.runtime, vm_id, host.id, power, seen):
                    changed += 1
            orphans = sorted(dom.name for u, dom in domains.items() if u not in known and OUR_NAME.match(dom.name))
            unmanaged = sorted(dom.name for u, dom in domains.items()
                               if u not in known and not OUR_NAME.match(dom.name))
            # reported (logged when the set changes, listed in `orphans`/`unmanaged`), never destroyed
            if orphans and orphans != self.orphans.get(host.id):
                log.warning("vm sync: host %s has domains that look like ours but have no VM: %s", host.name,
                            ", ".join(orphans))
            if unmanaged != self.unmanaged.get(host.id, []):
                log.info("vm sync: host %s runs domains devcloud does not manage (left alone): %s", host.name,
                         ", ".join(unmanaged) or "none")
            self.orphans[host.id] = orphans
            self.unmanaged[host.id] = unmanaged
        self.rounds += 1
        return {"changed": changed, "hosts": len(hosts)}


def start(runtime: Runtime, stop_event: threading.Event | None = None) -> VmSync:
    """Started by server.build: VM sync plus the expunger; both end when `stop_event` is set."""
    sync = runtime.extras.get("vmsync")
    if sync is None:
        sync = runtime.extras["vmsync"] = VmSync(runtime, stop_event)
        sync.start()
        from management.services.compute import expunge

        expunge.start(runtime, stop_event)
    return sync  # type: ignore[no-any-return]


def stop(runtime: Runtime) -> None:
    sync = runtime.extras.pop("vmsync", None)
    if sync is not None:
        sync.stop()
    from management.services.compute import expunge

    expunge.stop(runtime)
