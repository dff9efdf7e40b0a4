"""Hypervisor hosts through the driver contract: one connected driver per host, addHost, state changes,
maintenance, and primary-pool access (`ensure_pool`) for each host.

Host `status` (Up, Down, Disconnected, Connecting, Alert) and `resource_state` (Enabled, Disabled,
PrepareForMaintenance, Maintenance, ErrorInMaintenance) change only through `set_state`, a compare-and-swap on
`update_count` (the same rule as `fsm.transition`; the host table is small enough to keep its rules here).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.drivers import registry as driver_registry
from management.drivers.base import HypervisorDriver, PoolSpec
from management.drivers.errors import DriverError
from management.errors import ConcurrentOperation, InternalError, InvalidStateTransition, ParamError
from management.models.compute import VirtualMachine
from management.models.infra import Cluster, Host, Pod, StoragePool, Zone
from management.services.cluster import ownership
from management.services.runtime import Runtime
from management.services.telemetry import instrument, telemetry

log = logging.getLogger(__name__)

HOST_STATUSES = {"Creating", "Connecting", "Up", "Down", "Disconnected", "Alert", "Removed", "Error",
                 "Rebalancing", "Unknown"}
RESOURCE_STATES = {"Creating", "Enabled", "Disabled", "PrepareForMaintenance", "ErrorInPrepareForMaintenance",
                   "Maintenance", "ErrorInMaintenance", "Error", "Degraded"}
# Allowed resource-state moves (CloudStack's ResourceState.Event table, reduced to what the API triggers).
_RESOURCE_MOVES = {
    "Enabled": {"Disabled", "PrepareForMaintenance", "Maintenance"},
    "Disabled": {"Enabled", "PrepareForMaintenance", "Maintenance"},
    "PrepareForMaintenance": {"Maintenance", "ErrorInPrepareForMaintenance", "Enabled", "ErrorInMaintenance"},
    "ErrorInPrepareForMaintenance": {"Enabled", "PrepareForMaintenance", "Maintenance"},
    "Maintenance": {"Enabled"},
    "ErrorInMaintenance": {"Enabled", "PrepareForMaintenance", "Maintenance"},
    "Creating": {"Enabled", "Disabled"},
}
KNOWN_HYPERVISORS = ["Simulator", "KVM", "XenServer", "LXC"]
ACTIVE_VM_STATES = ("Starting", "Running", "Stopping", "Migrating")


# ---- the driver cache -------------------------------------------------------------------------------------------

class HostRef(Protocol):
    """What the driver cache reads of a host: a Host row, or the host monitor's stand-in (no session held);
    `details_json` (addHost credentials) is read when present."""

    @property
    def id(self) -> int: ...

    @property
    def url(self) -> str: ...

    @property
    def hypervisor_type(self) -> str: ...


class HostDrivers:
    """Connected drivers keyed by host id; a driver is rebuilt when the host's URL changed or after `drop`.

    Drivers are shared: every job, the host monitor and VM sync call the same one concurrently. So one thread builds
    a host's driver while the others wait for it (at start-up, resumed jobs and the monitor used to build one each
    and close each other's in mid-call: libvirt errors "the cause is unknown", once a segfault), and a replaced or
    dropped driver is closed only RETIRE_GRACE seconds later, when the calls that were handed it have ended."""

    RETIRE_GRACE = 600.0  # seconds: longer than any single driver operation (a template copy, a TCG spawn)

    def __init__(self, on_build: Callable[[HypervisorDriver], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._drivers: dict[int, HypervisorDriver] = {}
        self._building: dict[int, threading.Lock] = {}
        self._retired: list[tuple[float, HypervisorDriver]] = []
        self._on_build = on_build  # telemetry times the operations of each driver handed out
        self._clock = clock

    def get(self, host: HostRef) -> HypervisorDriver:
        with self._lock:
            drv = self._drivers.get(host.id)
            building = self._building.setdefault(host.id, threading.Lock())
        if drv is not None and drv.url == host.url:
            return drv
        with building:
            with self._lock:
                drv = self._drivers.get(host.id)
            if drv is not None and drv.url == host.url:
                return drv  # another thread built it while this one waited
            drv = build_driver(host.url, host.hypervisor_type, host_credentials(host))
            drv.connect()
            if self._on_build is not None:
                self._on_build(drv)
            self._install(host.id, drv)
        return drv

    def put(self, host_id: int, driver: HypervisorDriver) -> None:
        if self._on_build is not None:
            self._on_build(driver)
        self._install(host_id, driver)

    def drop(self, host_id: int) -> None:
        with self._lock:
            old = self._drivers.pop(host_id, None)
        self._retire(old)

    def close_all(self) -> None:
        with self._lock:
            drivers, self._drivers = list(self._drivers.values()), {}
            drivers += [d for _, d in self._retired]
            self._retired = []
        for d in drivers:
            _close(d)

    def _install(self, host_id: int, driver: HypervisorDriver) -> None:
        with self._lock:
            old = self._drivers.get(host_id)
            self._drivers[host_id] = driver
        if old is not driver:
            self._retire(old)

    def _retire(self, old: HypervisorDriver | None) -> None:
        now = self._clock()
        with self._lock:
            if old is not None:
                self._retired.append((now, old))
            due = [d for t, d in self._retired if now - t >= self.RETIRE_GRACE]
            self._retired = [(t, d) for t, d in self._retired if now - t < self.RETIRE_GRACE]
        for d in due:
            _close(d)


def _close(driver: HypervisorDriver) -> None:
    try:
        driver.close()
    except Exception:  # noqa: BLE001 - closing a dead connection must not fail the caller
        log.debug("closing %r failed", driver, exc_info=True)


def drivers(runtime: Runtime) -> HostDrivers:
    found = runtime.extras.get("host_drivers")
    if found is None:
        def timed(driver: HypervisorDriver) -> None:
            t = telemetry(runtime)
            instrument(driver, t.driver_observer(type(driver).name))

        found = runtime.extras.setdefault("host_drivers", HostDrivers(on_build=timed))
    return found  # type: ignore[no-any-return]


def driver_for(runtime: Runtime, host: Host) -> HypervisorDriver:
    """The connected driver of a host; raises DriverError (HostUnreachable...) when it can't be reached."""
    return drivers(runtime).get(host)


def host_credentials(host: HostRef) -> dict[str, str]:
    """username/password given to addHost (XenServer pools log in with them), from the host's details."""
    raw = getattr(host, "details_json", None)  # the host monitor probes with a lightweight stand-in
    if not raw:
        return {}
    try:
        details = json.loads(raw)
    except ValueError:
        return {}
    return {k: str(details[k]) for k in ("username", "password") if details.get(k) is not None}


def build_driver(url: str, hypervisor: str | None, credentials: dict[str, str] | None = None) -> HypervisorDriver:
    from management.services.infra import kvm

    options: dict[str, object] = dict(kvm.driver_options(url, hypervisor))
    try:
        if credentials and driver_registry.resolve_driver_name(url, hypervisor) == "xenapi":
            options.update(credentials)
        return driver_registry.driver_for_host(url, hypervisor, **options)
    except driver_registry.UnknownDriver as exc:
        raise ParamError(f"Unsupported hypervisor type {hypervisor} for host url {url}: {exc}") from None
    except DriverError as exc:
        raise InternalError(f"Unable to load the hypervisor driver for {url}: {exc}") from None


def canonical_hypervisor(value: str) -> str:
    for name in KNOWN_HYPERVISORS:
        if name.lower() == value.lower():
            return name
    try:
        driver_registry.resolve_driver_name("", value)
    except driver_registry.UnknownDriver:
        raise ParamError(f"Unable to resolve Hypervisor type {value}; supported: "
                         f"{', '.join(KNOWN_HYPERVISORS)}") from None
    return value


# ---- state changes ----------------------------------------------------------------------------------------------

def set_state(session: Session, host: Host, *, status: str | None = None, resource_state: str | None = None,
              **columns: object) -> Host:
    """Compare-and-swap on (status, resource_state, update_count); the only writer of the two states."""
    if status is not None and status not in HOST_STATUSES:
        raise ValueError(f"unknown host status {status}")
    if (resource_state is not None and resource_state != host.resource_state
            and resource_state not in _RESOURCE_MOVES.get(host.resource_state, set())):
        raise InvalidStateTransition(f"Host {host.name} can't go from resource state {host.resource_state} "
                                         f"to {resource_state}")
    values: dict[str, object] = dict(columns)
    if status is not None:
        values["status"] = status
    if resource_state is not None:
        values["resource_state"] = resource_state
    values["update_count"] = Host.update_count + 1
    old_status = host.status
    res = session.execute(
        update(Host)
        .where(Host.id == host.id, Host.status == host.status, Host.resource_state == host.resource_state,
               Host.update_count == host.update_count)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        session.expire(host)
        raise ConcurrentOperation(f"Host {host.name} was changed by another operation; retry")
    session.expire(host)
    if status is not None and status != old_status:
        for hook in fsm.TRANSITION_HOOKS:  # host status is a state like the FSM ones (alerts listen)
            hook(session, host, old_status, status)
    session.refresh(host)
    return host


# ---- pools ------------------------------------------------------------------------------------------------------

def pool_spec(pool: StoragePool) -> PoolSpec:
    if pool.pool_type == "Filesystem":
        return PoolSpec(name=pool.uuid, path=pool.path)
    return PoolSpec(name=pool.uuid, path=pool.path, kind="nfs", host=pool.host_address)


def pools_for_host(session: Session, host: Host) -> list[StoragePool]:
    stmt = select(StoragePool).where(StoragePool.zone_id == host.zone_id, StoragePool.removed.is_(None))
    rows = list(session.scalars(stmt))
    def sees(p: StoragePool) -> bool:
        if p.scope == "CLUSTER":
            return p.cluster_id == host.cluster_id
        if p.scope == "ZONE":
            return p.hypervisor is None or p.hypervisor.lower() == host.hypervisor_type.lower()
        return p.scope == "HOST" and p.host_id == host.id

    return [p for p in rows if sees(p)]


def hosts_for_pool(session: Session, pool: StoragePool) -> list[Host]:
    stmt = select(Host).where(Host.zone_id == pool.zone_id, Host.removed.is_(None), Host.type == "Routing")
    if pool.scope == "CLUSTER":
        stmt = stmt.where(Host.cluster_id == pool.cluster_id)
    elif pool.scope == "HOST":
        stmt = stmt.where(Host.id == pool.host_id)
    elif pool.hypervisor:
        stmt = stmt.where(Host.hypervisor_type == pool.hypervisor)
    return list(session.scalars(stmt.order_by(Host.id)))


def ensure_pool_on_host(runtime: Runtime, session: Session, host: Host, pool: StoragePool) -> None:
    """Gives the host access to the pool; the first host to answer sizes the pool."""
    drv = driver_for(runtime, host)
    info = drv.ensure_pool(pool_spec(pool))
    if info.capacity_bytes and (not pool.capacity_bytes or pool.pool_type != "Filesystem"):
        pool.capacity_bytes = info.capacity_bytes
        pool.used_bytes = max(info.capacity_bytes - info.available_bytes, 0)
    session.flush()


def ensure_pool_everywhere(runtime: Runtime, session: Session, pool: StoragePool) -> dict[str, str | None]:
    """ensure_pool on every Up host that should see the pool: host name -> None, or why it could not."""
    outcome: dict[str, str | None] = {}
    for host in hosts_for_pool(session, pool):
        if host.status != "Up":
            continue
        try:
            ensure_pool_on_host(runtime, session, host, pool)
            outcome[host.name] = None
        except DriverError as exc:
            log.warning("host %s cannot reach pool %s: %s", host.name, pool.name, exc)
            outcome[host.name] = str(exc)
    return outcome


# ---- addHost ----------------------------------------------------------------------------------------------------

def _host_ip(session: Session, url: str, pod: Pod | None, simulated: bool) -> str | None:
    if simulated and pod is not None and pod.start_ip and pod.end_ip:
        import ipaddress

        taken = set(session.scalars(select(Host.private_ip).where(Host.pod_id == pod.id, Host.removed.is_(None))))
        start, end = int(ipaddress.ip_address(pod.start_ip)), int(ipaddress.ip_address(pod.end_ip))
        for n in range(start, min(end, start + 65536) + 1):
            ip = str(ipaddress.ip_address(n))
            if ip not in taken:
                return ip
    host = urlsplit(url).hostname
    if not host:
        return "127.0.0.1"
    return host


def add_host(runtime: Runtime, session: Session, *, zone: Zone, pod: Pod, cluster: Cluster | None,
             clustername: str | None, url: str, hypervisor: str, hosttags: str | None,
             username: str | None = None, password: str | None = None) -> Host:
    return add_hosts(runtime, session, zone=zone, pod=pod, cluster=cluster, clustername=clustername, url=url,
                     hypervisor=hypervisor, hosttags=hosttags, username=username, password=password)[0]


def add_hosts(runtime: Runtime, session: Session, *, zone: Zone, pod: Pod, cluster: Cluster | None,
              clustername: str | None, url: str, hypervisor: str, hosttags: str | None,
              username: str | None = None, password: str | None = None) -> list[Host]:
    """addHost: the host at `url`, and for a driver that manages a pool (XenAPI: `ex_pool_hosts`) every other
    member of that pool too, as CloudStack does for a XenServer pool master URL."""
    first = _add_one(runtime, session, zone=zone, pod=pod, cluster=cluster, clustername=clustername, url=url,
                     hypervisor=hypervisor, hosttags=hosttags, username=username, password=password)
    added = [first]
    drv = drivers(runtime).get(first)
    members = getattr(drv, "ex_pool_hosts", None)
    if members is None:
        return added
    try:
        others = [m["url"] for m in members() if m["url"].rstrip("/") != url.rstrip("/")]
    except DriverError as exc:
        log.warning("host %s: pool members not discovered: %s", url, exc)
        return added
    for member_url in others:
        if _url_in_use(session, member_url):
            continue
        added.append(_add_one(runtime, session, zone=zone, pod=pod, cluster=first.cluster, clustername=None,
                              url=member_url, hypervisor=hypervisor, hosttags=hosttags, username=username,
                              password=password))
    return added


def _url_in_use(session: Session, url: str) -> bool:
    return session.scalar(select(Host.id).where(Host.url == url, Host.removed.is_(None))) is not None


def _unused_simulator_url(session: Session, url: str) -> str:
    """CloudStack's simulator makes a new mock host at every addHost whatever the URL says (Marvin configurations
    repeat http://sim/c0/h0 in every zone). Here a simulator URL names one simulated machine's state, so a repeated
    URL gets a path of its own: http://sim/c0/h0 -> http://sim/c0/h0-2, the query (host size, faults) kept."""
    p = urlsplit(url)
    for n in itertools.count(2):
        candidate = urlunsplit((p.scheme, p.netloc, f"{p.path.rstrip('/')}-{n}", p.query, p.fragment))
        if not _url_in_use(session, candidate):
            return candidate
    raise AssertionError("unreachable")


def _add_one(runtime: Runtime, session: Session, *, zone: Zone, pod: Pod, cluster: Cluster | None,
             clustername: str | None, url: str, hypervisor: str, hosttags: str | None,
             username: str | None, password: str | None) -> Host:
    hv = canonical_hypervisor(hypervisor)
    if cluster is None:
        if not clustername:
            raise ParamError("Unable to execute API command addhost due to missing parameter clusterid or "
                             "clustername")
        from management.services.infra import infra  # late: infra imports this module

        cluster = session.scalar(select(Cluster).where(Cluster.pod_id == pod.id, Cluster.name == clustername,
                                                       Cluster.removed.is_(None)))
        if cluster is None:
            cluster = infra.add_cluster(session, zone=zone, pod=pod, name=clustername, hypervisor=hv,
                                        clustertype="CloudManaged", allocationstate=None)
    if cluster.pod_id != pod.id or cluster.zone_id != zone.id:
        raise ParamError(f"Cluster {cluster.name} does not belong to pod {pod.name} in zone {zone.name}")
    if cluster.hypervisor_type.lower() != hv.lower():
        raise ParamError(f"Can't add host with hypervisor {hv} to cluster {cluster.name} whose hypervisor is "
                         f"{cluster.hypervisor_type}")
    if _url_in_use(session, url):
        if hv != "Simulator":
            raise ParamError(f"A host with url {url} already exists")
        url = _unused_simulator_url(session, url)
    credentials = {k: v for k, v in (("username", username), ("password", password)) if v is not None}
    driver = build_driver(url, hv, credentials)
    try:
        driver.connect()
        info = driver.host_info()
    except DriverError as exc:
        _close(driver)
        raise InternalError(f"Unable to add the host: cannot connect to {url}: {exc}") from None
    if info.hypervisor_type.lower() != hv.lower() and not (hv == "KVM" and info.hypervisor_type in ("QEMU",)):
        log.info("host %s reports hypervisor %s for a %s cluster", url, info.hypervisor_type, hv)
    simulated = hv == "Simulator"
    now = utcnow()
    host = Host(name=info.hostname, type="Routing", status="Connecting", resource_state="Enabled",
                zone_id=zone.id, pod_id=pod.id, cluster_id=cluster.id, hypervisor_type=hv,
                hypervisor_version=info.hypervisor_version, virt_type=info.virt_type, url=url,
                guid=f"{info.hostname}-{hv}".lower(), private_ip=_host_ip(session, url, pod, simulated),
                cpu_sockets=info.cpu_sockets, cpus=info.cpu_cores, speed=info.cpu_mhz,
                total_memory=info.memory_bytes, host_tags=hosttags or None, last_pinged=now,
                mgmt_server_id=ownership.least_loaded(session, runtime),
                details_json=json.dumps(credentials) if credentials and hv == "XenServer" else None)
    session.add(host)
    session.flush()
    try:
        for pool in pools_for_host(session, host):
            ensure_pool_on_host_with(driver, session, pool)
    except DriverError as exc:
        _close(driver)
        raise InternalError(f"Unable to add the host {url}: it cannot reach primary storage: {exc}") from None
    drivers(runtime).put(host.id, driver)
    set_state(session, host, status="Up")
    log.info("host %s (%s) added: %d cores x %d MHz, %d MiB", host.name, url, host.cpus, host.speed,
             host.total_memory // (1024 * 1024))
    return host


def ensure_pool_on_host_with(driver: HypervisorDriver, session: Session, pool: StoragePool) -> None:
    info = driver.ensure_pool(pool_spec(pool))
    if info.capacity_bytes and (not pool.capacity_bytes or pool.pool_type != "Filesystem"):
        pool.capacity_bytes = info.capacity_bytes
        pool.used_bytes = max(info.capacity_bytes - info.available_bytes, 0)
    session.flush()


# ---- update / delete / maintenance / reconnect ------------------------------------------------------------------

def update_host(session: Session, host: Host, *, allocationstate: str | None, hosttags: str | None,
                name: str | None) -> Host:
    if hosttags is not None:
        host.host_tags = hosttags or None
    if name:
        host.name = name
    session.flush()
    if allocationstate is not None:
        target = {"enable": "Enabled", "disable": "Disabled"}.get(allocationstate.lower())
        if target is None:
            raise ParamError(f"Invalid allocation state {allocationstate}: Enable or Disable")
        if host.resource_state != target:
            if host.resource_state not in ("Enabled", "Disabled"):
                raise InvalidStateTransition(f"Host {host.name} is in resource state {host.resource_state}; "
                                             "cancel maintenance first")
            set_state(session, host, resource_state=target)
    return host


def running_vms(session: Session, host: Host) -> int:
    return len(list(session.scalars(select(VirtualMachine.id).where(
        VirtualMachine.host_id == host.id, VirtualMachine.state.in_(ACTIVE_VM_STATES),
        VirtualMachine.removed.is_(None)))))


def prepare_maintenance(session: Session, host: Host) -> Host:
    """Enabled/Disabled -> PrepareForMaintenance -> Maintenance. The simulator (and today's contract) has no
    live migration, so a host that still runs VMs is refused with a clear error rather than half-evacuated."""
    if host.resource_state == "Maintenance":
        return host
    if host.resource_state not in ("Enabled", "Disabled", "ErrorInMaintenance", "ErrorInPrepareForMaintenance"):
        raise InvalidStateTransition(f"Host {host.name} is in resource state {host.resource_state}; it can't be "
                                     "put into maintenance")
    n = running_vms(session, host)
    if n:
        raise InvalidStateTransition(f"Unable to prepare host {host.name} for maintenance: it runs {n} VM(s) and "
                                     "live migration is not supported by its driver; stop or migrate them first")
    set_state(session, host, resource_state="PrepareForMaintenance")
    set_state(session, host, resource_state="Maintenance")
    return host


def cancel_maintenance(session: Session, host: Host) -> Host:
    if host.resource_state not in ("Maintenance", "PrepareForMaintenance", "ErrorInMaintenance",
                                   "ErrorInPrepareForMaintenance"):
        raise InvalidStateTransition(f"Host {host.name} is not in maintenance mode (resource state "
                                     f"{host.resource_state})")
    set_state(session, host, resource_state="Enabled")
    return host


def reconnect(runtime: Runtime, session: Session, host: Host) -> Host:
    if host.resource_state == "Maintenance":
        raise InvalidStateTransition(f"Host {host.name} is in maintenance; cancel maintenance to reconnect")
    drivers(runtime).drop(host.id)
    try:
        drv = driver_for(runtime, host)
        info = drv.host_info()
        for pool in pools_for_host(session, host):
            ensure_pool_on_host_with(drv, session, pool)
    except DriverError as exc:
        raise InternalError(f"Failed to reconnect host {host.name}: {exc}") from None
    set_state(session, host, status="Up", cpus=info.cpu_cores, speed=info.cpu_mhz, total_memory=info.memory_bytes,
              hypervisor_version=info.hypervisor_version, last_pinged=utcnow(), disconnected=None)
    return host


def delete_host(runtime: Runtime, session: Session, host: Host, *, forced: bool) -> None:
    n = running_vms(session, host)
    if n and not forced:
        raise InvalidStateTransition(f"Unable to delete host {host.name}: it runs {n} VM(s)")
    if not forced and host.resource_state != "Maintenance" and host.status == "Up":
        raise InvalidStateTransition(f"Host {host.name} must be in maintenance (or down) to be deleted; use "
                                     "prepareHostForMaintenance or forced=true")
    set_state(session, host, status="Removed", removed=utcnow())
    drivers(runtime).drop(host.id)
