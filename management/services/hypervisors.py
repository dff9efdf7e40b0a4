"""Hypervisor access for the compute and storage services: a host's driver (watched for lifecycle events), the
driver that sees a volume, the error a failed driver call becomes, short units of work between driver calls, and
the VM lifecycle hook points.

It sits below the families that use it (compute, storage, network) and above `services.infra.hosts`, whose driver
cache it reads. Modules higher up plug in by registration instead of being imported from here: VM sync adds its
event watcher (`DRIVER_WATCHERS`), security groups their lifecycle hook (`LIFECYCLE_HOOKS`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.drivers import base as drv
from management.drivers.errors import DriverError
from management.errors import CloudError, InternalError, logged
from management.models.compute import VirtualMachine
from management.models.infra import Host, StoragePool, Zone
from management.models.storage import Volume
from management.services.cache import TTLCache
from management.services.infra import hosts as hosts_service
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

GiB = 1024**3


@contextmanager
def tx(runtime: Runtime) -> Iterator[Session]:
    with runtime.db.session() as s:
        yield s


@dataclass(frozen=True, slots=True)
class VmFacts:
    """What a lifecycle hook needs to know about the VM, none of which changes in its life: passed by a caller
    that has read them already, so that the hook need not read them back."""
    uuid: str
    vm_type: str
    security_groups_enabled: bool  # its zone's


# A zone's security-group flag is set when the zone is created and never changed; this process' own zone writes
# clear the cache all the same.
_ZONE_GROUPS: TTLCache[bool] = TTLCache(300.0, watch=(Zone,))


def facts_of(session: Session, vm: VirtualMachine) -> VmFacts:
    """The VM's facts from its row and its zone's flag (cached: no read once the zone was seen)."""
    groups = _ZONE_GROUPS.get(vm.zone_id, lambda: bool(session.scalar(
        select(Zone.security_groups_enabled).where(Zone.id == vm.zone_id))), session)
    return VmFacts(vm.uuid, vm.vm_type, groups)


# Called after a VM started ("started") or stopped ("stopped") on its hypervisor, outside any transaction, with
# (runtime, vm id, event, facts). Host-side network enforcement (security groups) registers here; a hook's
# failure is logged and never fails the lifecycle operation.
LIFECYCLE_HOOKS: list[Callable[[Runtime, int, str, VmFacts], None]] = []


def notify(runtime: Runtime, vm_id: int, event: str, facts: VmFacts) -> None:
    for hook in list(LIFECYCLE_HOOKS):
        try:
            hook(runtime, vm_id, event, facts)
        except Exception:  # noqa: BLE001 - see LIFECYCLE_HOOKS
            log.warning("VM %s %s hook %r failed", vm_id, event, hook, exc_info=True)


@contextmanager
def starting(runtime: Runtime, vm_uuid: str) -> Iterator[None]:
    """While this process starts a VM on its hypervisor (the VM is Starting in the database): see `is_starting`."""
    busy: set[str] = runtime.extras.setdefault("vms_starting", set())
    busy.add(vm_uuid)
    try:
        yield
    finally:
        busy.discard(vm_uuid)


def is_starting(runtime: Runtime, vm_uuid: str) -> bool:
    """Whether this process is starting the VM: the hypervisor's events about it then report that start."""
    return vm_uuid in runtime.extras.get("vms_starting", ())


# Called with (runtime, host id, driver) every time `driver_for` hands out a driver; VM sync registers its
# lifecycle-event subscription here when it is imported (its `watch` is idempotent per driver).
DRIVER_WATCHERS: list[Callable[[Runtime, int, drv.HypervisorDriver], None]] = []


def watch_drivers(watcher: Callable[[Runtime, int, drv.HypervisorDriver], None]) -> None:
    """Register a driver watcher once (re-importing its module does not add it twice)."""
    if watcher not in DRIVER_WATCHERS:
        DRIVER_WATCHERS.append(watcher)


def driver_for(runtime: Runtime, host: Host) -> drv.HypervisorDriver:
    """The connected driver of `host` (services.infra.hosts' cache), watched by VM sync for lifecycle events."""
    d = hosts_service.driver_for(runtime, host)
    for watcher in list(DRIVER_WATCHERS):
        watcher(runtime, host.id, d)
    return d


def hosts_with_pool(session: Session, pool: StoragePool) -> list[Host]:
    stmt = select(Host).where(Host.zone_id == pool.zone_id, Host.removed.is_(None), Host.type == "Routing")
    if pool.scope == "CLUSTER":
        stmt = stmt.where(Host.cluster_id == pool.cluster_id)
    elif pool.scope == "HOST":
        stmt = stmt.where(Host.id == pool.host_id)
    return list(session.scalars(stmt.order_by(Host.id)).unique())


def driver_for_volume(runtime: Runtime, session: Session, vol: Volume) -> drv.HypervisorDriver | None:
    """A driver that sees the volume: the attached VM's host first, then any host reaching its pool."""
    if vol.pool_id is None:
        return None
    pool = session.get_one(StoragePool, vol.pool_id)
    candidates: list[Host] = []
    if vol.instance_id is not None:
        vm = session.get(VirtualMachine, vol.instance_id)
        for hid in (vm.host_id, vm.last_host_id) if vm else ():
            if hid is not None:
                candidates.append(session.get_one(Host, hid))
    candidates += hosts_with_pool(session, pool)
    seen: set[int] = set()
    for h in candidates:
        if h.id in seen or h.status != "Up":
            continue
        seen.add(h.id)
        try:
            d = driver_for(runtime, h)
            d.ensure_pool(hosts_service.pool_spec(pool))
            if d.get_volume(pool.uuid, vol.uuid) is not None:
                return d
        except DriverError:
            continue
    return None


def driver_error(op: str, what: str, exc: Exception) -> CloudError:
    """A hypervisor's failure as the client sees it: what failed and the request id (the driver's text is logged)."""
    return logged(InternalError, f"Unable to {op} {what} due to an error on its host", exc)
