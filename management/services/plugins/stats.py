"""Usage statistics of hosts, VMs and volumes (CloudStack's StatsCollector), read from the hypervisor drivers:
libvirt's domain and node counters on real hosts, the simulator's numbers on simulated ones.

- `host_stats` / `vm_sample`: live values for the metrics lists (a short cache keeps a page of VMs from asking
  a host twice in a row);
- `collect`: one round of samples stored in vm_stats / volume_stats (listVirtualMachinesUsageHistory,
  listVolumesUsageHistory), older ones purged after vm.stats.max.retention.time / vm.disk.stats.max.retention.time
  minutes; plugins/background runs it every vm.stats.interval milliseconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.drivers.base import Capability, DomainStats, HostStats
from management.drivers.errors import DriverError
from management.errors import CloudError
from management.models.compute import VirtualMachine
from management.models.infra import Host
from management.models.platform import VmStats, VolumeStats
from management.models.storage import Volume
from management.services import configuration, hypervisors
from management.services.runtime import Runtime

log = logging.getLogger(__name__)
WRITE_BATCH = 500  # samples per write transaction

configuration.SETTINGS.update({
    "vm.stats.interval": ("60000", "Advanced", None, "The interval (in milliseconds) when vm stats are retrieved "
                          "from agents."),
    "vm.stats.max.retention.time": ("720", "Advanced", None, "The maximum time (in minutes) for keeping VM stats "
                                    "records in the database. The VM stats cleanup process will be disabled if "
                                    "this is set to 0 or less than 0."),
    "vm.disk.stats.max.retention.time": ("720", "Advanced", None, "The maximum time (in minutes) for keeping Volume "
                                         "stats records in the database. The Volume stats cleanup process will be "
                                         "disabled if this is set to 0 or less than 0."),
})

_CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class VmSample:
    """A VM's usage at one moment, in CloudStack's VmStatsEntry terms (KiB, counts, percent)."""

    cpuUtilization: float  # noqa: N815 - CloudStack's names: stored as JSON and read back as such
    numCPUs: int  # noqa: N815
    memoryKBs: float  # noqa: N815
    intFreeMemoryKBs: float  # noqa: N815
    targetMemoryKBs: float  # noqa: N815
    networkReadKBs: float  # noqa: N815
    networkWriteKBs: float  # noqa: N815
    diskReadKBs: float  # noqa: N815
    diskWriteKBs: float  # noqa: N815
    diskReadIOs: float  # noqa: N815
    diskWriteIOs: float  # noqa: N815
    entityType: str = "vm"  # noqa: N815


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hosts: dict[int, tuple[float, HostStats | None]] = {}
        self.domains: dict[str, tuple[float, DomainStats | None]] = {}
        self.cpu: dict[str, tuple[float, int]] = {}  # vm uuid -> (monotonic time, cpu ns) of the last sample


def _state(runtime: Runtime) -> _State:
    st = runtime.extras.get("usage_stats")
    if st is None:
        st = runtime.extras.setdefault("usage_stats", _State())
    return st  # type: ignore[no-any-return]


def host_stats(runtime: Runtime, host: Host) -> HostStats | None:
    """The host's current usage (None when it does not answer)."""
    st = _state(runtime)
    now = time.monotonic()
    with st.lock:
        hit = st.hosts.get(host.id)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    value: HostStats | None = None
    if host.status == "Up":
        try:
            value = hypervisors.driver_for(runtime, host).host_stats()
        except (DriverError, CloudError) as exc:
            log.debug("host %s gave no stats: %s", host.name, exc)
    with st.lock:
        st.hosts[host.id] = (now, value)
    return value


def domain_stats(runtime: Runtime, host: Host, vm_uuid: str) -> DomainStats | None:
    st = _state(runtime)
    now = time.monotonic()
    with st.lock:
        hit = st.domains.get(vm_uuid)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    value: DomainStats | None = None
    try:
        drv = hypervisors.driver_for(runtime, host)
        if drv.supports(Capability.DOMAIN_STATS):
            value = drv.domain_stats(vm_uuid)
    except (DriverError, CloudError) as exc:
        log.debug("VM %s gave no stats: %s", vm_uuid, exc)
    with st.lock:
        st.domains[vm_uuid] = (now, value)
    return value


def _cpu_percent(runtime: Runtime, vm_uuid: str, ds: DomainStats) -> float:
    if ds.cpu_utilization is not None:
        return ds.cpu_utilization
    st = _state(runtime)
    now = time.monotonic()
    with st.lock:
        prev = st.cpu.get(vm_uuid)
        st.cpu[vm_uuid] = (now, ds.cpu_time_ns)
    if prev is None or now <= prev[0] or ds.cpu_time_ns < prev[1]:
        return 0.0
    busy = (ds.cpu_time_ns - prev[1]) / 1e9
    return round(min(100.0, 100.0 * busy / ((now - prev[0]) * max(ds.vcpus, 1))), 2)


def vm_sample(runtime: Runtime, vm: VirtualMachine, host: Host | None) -> VmSample | None:
    """The VM's usage now; None when it is not running or its host gives no stats."""
    if host is None or vm.state != "Running":
        return None
    ds = domain_stats(runtime, host, vm.uuid)
    if ds is None:
        return None
    return VmSample(
        cpuUtilization=_cpu_percent(runtime, vm.uuid, ds), numCPUs=ds.vcpus, memoryKBs=float(ds.memory_kib),
        intFreeMemoryKBs=float(ds.memory_unused_kib if ds.memory_unused_kib is not None else -1),
        targetMemoryKBs=float(ds.memory_target_kib or ds.memory_kib),
        networkReadKBs=ds.net_rx_bytes / 1024.0, networkWriteKBs=ds.net_tx_bytes / 1024.0,
        diskReadKBs=ds.disk_read_bytes / 1024.0, diskWriteKBs=ds.disk_write_bytes / 1024.0,
        diskReadIOs=float(ds.disk_read_requests), diskWriteIOs=float(ds.disk_write_requests))


def collect(runtime: Runtime) -> int:
    """One round: a sample of every running VM (and of each of its volumes) into the history tables; returns how
    many VMs were sampled. Samples past their retention time are removed."""
    with runtime.db.session(write=False) as s:
        rows = list(s.execute(select(VirtualMachine, Host).join(Host, Host.id == VirtualMachine.host_id).where(
            VirtualMachine.state == "Running", VirtualMachine.removed.is_(None))))
        vols = {v.uuid: v.id for v in s.scalars(select(Volume).where(
            Volume.instance_id.in_([vm.id for vm, _h in rows] or [0]), Volume.removed.is_(None)))}
        vm_keep = configuration.get_float(s, "vm.stats.max.retention.time", 720)
        disk_keep = configuration.get_float(s, "vm.disk.stats.max.retention.time", 720)
        s.expunge_all()
    now = utcnow()
    vm_rows: list[dict[str, object]] = []
    vol_rows: list[dict[str, object]] = []
    for vm, host in rows:
        sample = vm_sample(runtime, vm, host)
        if sample is None:
            continue
        vm_rows.append({"vm_id": vm.id, "mgmt_server_id": runtime.msid, "timestamp": now,
                        "vm_stats_data": json.dumps(asdict(sample))})
        ds = domain_stats(runtime, host, vm.uuid)
        for vol_uuid, d in (ds.disks.items() if ds else ()):
            if vol_uuid in vols:
                vol_rows.append({"volume_id": vols[vol_uuid], "mgmt_server_id": runtime.msid, "timestamp": now,
                                 "volume_stats_data": json.dumps({
                                     "path": vol_uuid, "bytesRead": d.read_bytes, "bytesWrite": d.write_bytes,
                                     "ioRead": d.read_requests, "ioWrite": d.write_requests})})
    # Plain executemany in short write transactions: on SQLite every other writer (each deploy's steps) waits
    # while one holds the write lock, and one transaction of ORM objects for every running VM held it for 5 s
    # at 3,000 VMs, past the 30 s busy timeout near 9,000 ("database is locked" for deploys).
    for model, samples in ((VmStats, vm_rows), (VolumeStats, vol_rows)):
        for i in range(0, len(samples), WRITE_BATCH):
            with runtime.db.session() as s:
                s.execute(insert(model), samples[i:i + WRITE_BATCH])
    for model, keep in ((VmStats, vm_keep), (VolumeStats, disk_keep)):
        if keep > 0:
            with runtime.db.session() as s:
                s.execute(delete(model).where(model.timestamp < now - timedelta(minutes=keep)))
    return len(vm_rows)


def interval(runtime: Runtime) -> float:
    """Seconds between collections: vm.stats.interval milliseconds (0 or less: never)."""
    with runtime.db.session(write=False) as s:
        return configuration.get_float(s, "vm.stats.interval", 60000) / 1000.0


def history(session: Session, model: type[VmStats] | type[VolumeStats], owner_col: str, ids: list[int],
            start: object = None, end: object = None) -> dict[int, list[VmStats | VolumeStats]]:
    """Samples of each entity, oldest first, within [start, end]."""
    if not ids:
        return {}
    col = getattr(model, owner_col)
    stmt = select(model).where(col.in_(ids))
    if start is not None:
        stmt = stmt.where(model.timestamp >= start)
    if end is not None:
        stmt = stmt.where(model.timestamp <= end)
    out: dict[int, list[VmStats | VolumeStats]] = {i: [] for i in ids}
    for row in session.scalars(stmt.order_by(model.timestamp, model.id)):
        out[getattr(row, owner_col)].append(row)  # type: ignore[arg-type]
    return out


def sample_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(VmStats)) or 0
