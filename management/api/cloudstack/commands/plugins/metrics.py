"""Metrics (plugins/metrics): the list commands of VMs, hosts, clusters, zones, volumes and primary pools with
their usage figures, the management server's, database's and usage server's own metrics, and the VM and volume
usage history collected by services.plugins.stats.

Each `list*Metrics` command is its base list command (same parameters, same filtering, same rows) whose response
carries the usage fields on top, computed from the drivers' live statistics: libvirt's node and domain counters
on real hosts, the simulator's numbers on simulated ones."""

from __future__ import annotations

import json
import os
import platform
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model
from sqlalchemy import func, select, text

from management.api.cloudstack import registry
from management.api.cloudstack.dates import parse_date
from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import (
    ADMIN,
    ALL_ROLES,
    ApiType,
    Date,
    ListParams,
    Params,
    Ref,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_platform import JobResp
from management.errors import ParamError
from management.models.backups import BackupRepository
from management.models.compute import VirtualMachine
from management.models.governance import Alert
from management.models.identity import UserSession
from management.models.infra import Cluster, Host, ImageStore, Pod, StoragePool, Zone
from management.models.jobs import AsyncJob, ManagementServer
from management.models.objectstore import ObjectStore
from management.models.platform import VmStats, VolumeStats
from management.models.storage import Volume
from management.services import access, configuration
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate
from management.services.plugins import maintenance, stats

GiB = 1024.0**3
_STARTED = datetime.now(UTC).replace(microsecond=0)


def _base(name: str) -> registry.CommandSpec:
    """The base list command (another family's; the lookup imports its module)."""
    spec = registry.lookup(name)
    assert spec is not None, f"base command {name} is not registered"
    return spec


def _fields(**spec: tuple[Any, str]) -> dict[str, Any]:
    return {name: (typ | None, Field(None, description=desc)) for name, (typ, desc) in spec.items()}


def _metrics_command(name: str, base_name: str, extra: dict[str, Any], decorate: Callable[..., None], *,
                     since: str, description: str, roles: frozenset | None = None,
                     response_name: str | None = None) -> None:
    base = _base(base_name)
    assert base.response is not None
    extra = {**_fields(jobid=(str, "the UUID of the latest async job acting on this object"),
                       jobstatus=(int, "the current status of the latest async job acting on this object")),
             **extra}
    model = create_model(f"{name[0].upper()}{name[1:]}Resp", __base__=base.response, **extra)

    def handler(ctx: CallContext, p: Any) -> ListResult:
        result = base.handler(ctx, p)
        assert isinstance(result, ListResult)
        items = [model(**(i.model_dump() if isinstance(i, BaseModel) else i)) for i in result.items]
        decorate(ctx, items)
        return ListResult(items, result.count, keep_key=result.keep_key)

    api_command(name, params=base.params, result_key=base.result_key, response=model, roles=roles or base.roles,
                since=since, description=description, response_name=response_name)(handler)


def _f(value: float, places: int = 2) -> str:
    """Java's String.format("%.2f"): rounds half up (Python's format rounds half to even)."""
    return str(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _pct(value: float) -> str:
    return f"{_f(value)}%"


def _ghz(mhz: float) -> str:
    return f"{_f(mhz / 1000.0)} Ghz"


def _gb(nbytes: float) -> str:
    return f"{_f(nbytes / GiB)} GB"


def _thresholds(ctx: CallContext) -> dict[str, float]:
    g = configuration.get_float
    s = ctx.session
    return {"cpu": g(s, "cluster.cpu.allocated.capacity.notificationthreshold", 0.75),
            "cpu_off": g(s, "cluster.cpu.allocated.capacity.disablethreshold", 0.85),
            "mem": g(s, "cluster.memory.allocated.capacity.notificationthreshold", 0.75),
            "mem_off": g(s, "cluster.memory.allocated.capacity.disablethreshold", 0.85)}


_THRESHOLD_FIELDS = _fields(
    cputhreshold=(bool, "cpu usage notification threshold exceeded"),
    cpudisablethreshold=(bool, "cpu usage disable threshold exceeded"),
    cpuallocatedthreshold=(bool, "cpu allocated notification threshold exceeded"),
    cpuallocateddisablethreshold=(bool, "cpu allocated disable threshold exceeded"),
    memorythreshold=(bool, "memory usage notification threshold exceeded"),
    memorydisablethreshold=(bool, "memory usage disable threshold exceeded"),
    memoryallocatedthreshold=(bool, "memory allocated notification threshold exceeded"),
    memoryallocateddisablethreshold=(bool, "memory allocated disable threshold exceeded"),
)


def _set_thresholds(item: Any, t: dict[str, float], cpu_used: float, cpu_alloc: float, mem_used: float,
                    mem_alloc: float) -> None:
    """Fractions (0..1) of used and allocated CPU and memory against the notification and disable thresholds."""
    item.cputhreshold, item.cpudisablethreshold = cpu_used > t["cpu"], cpu_used > t["cpu_off"]
    item.cpuallocatedthreshold, item.cpuallocateddisablethreshold = cpu_alloc > t["cpu"], cpu_alloc > t["cpu_off"]
    item.memorythreshold, item.memorydisablethreshold = mem_used > t["mem"], mem_used > t["mem_off"]
    item.memoryallocatedthreshold = mem_alloc > t["mem"]
    item.memoryallocateddisablethreshold = mem_alloc > t["mem_off"]


# ------------------------------------------------------------------------------------------------- VMs


_VM_STATS_FIELDS = _fields(
    cpuused=(str, "the amount of the vm's CPU currently used"),
    memorykbs=(int, "the memory used by the VM in KiB"),
    memoryintfreekbs=(int, "the internal memory (KiB) that's free in VM or zero if it can not be calculated"),
    memorytargetkbs=(int, "the target memory in VM (KiB)"),
    networkkbsread=(int, "the incoming network traffic on the VM in KiB"),
    networkkbswrite=(int, "the outgoing network traffic on the host in KiB"),
    diskkbsread=(int, "the VM's disk read in KiB"),
    diskkbswrite=(int, "the VM's disk write in KiB"),
    diskioread=(int, "the read (IO) of disk on the VM"),
    diskiowrite=(int, "the write (IO) of disk on the VM"),
)
_VM_METRICS_FIELDS = {
    **_VM_STATS_FIELDS,
    **_fields(
        ipaddress=(str, "the VM's primary IP address"),
        cputotal=(str, "the total cpu capacity in Ghz"),
        memorytotal=(str, "the total memory capacity in GiB"),
        networkread=(str, "network read in MiB"),
        networkwrite=(str, "network write in MiB"),
        diskread=(str, "disk read in MiB"),
        diskwrite=(str, "disk write in MiB"),
        diskiopstotal=(int, "the total disk iops"),
    ),
}


def _decorate_vms(ctx: CallContext, items: list[Any]) -> None:
    s = ctx.session
    rows = {v.uuid: v for v in s.scalars(select(VirtualMachine).where(VirtualMachine.uuid.in_([i.id for i in items])))}
    hosts = {h.id: h for h in s.scalars(select(Host).where(Host.id.in_({v.host_id for v in rows.values()
                                                                          if v.host_id is not None} or {0})))}
    for item in items:
        if item.cpunumber is not None and item.cpuspeed is not None:
            item.cputotal = f"{_f(item.cpunumber * item.cpuspeed / 1000.0, 1)} Ghz"
        if item.memory is not None:
            item.memorytotal = f"{_f(item.memory / 1024.0)} GiB"
        nics = getattr(item, "nic", None) or []
        if nics:
            first = nics[0]
            item.ipaddress = first.get("ipaddress") if isinstance(first, dict) else getattr(first, "ipaddress", None)
        vm = rows.get(item.id)
        sample = stats.vm_sample(ctx.runtime, vm, hosts.get(vm.host_id)) if vm is not None and vm.host_id else None
        if sample is None:
            continue
        item.cpuused = _pct(sample.cpuUtilization)
        item.memorykbs, item.memorytargetkbs = int(sample.memoryKBs), int(sample.targetMemoryKBs)
        free = int(sample.intFreeMemoryKBs)
        item.memoryintfreekbs = free if 0 <= free < sample.memoryKBs else -1
        item.networkkbsread, item.networkkbswrite = int(sample.networkReadKBs), int(sample.networkWriteKBs)
        item.diskkbsread, item.diskkbswrite = int(sample.diskReadKBs), int(sample.diskWriteKBs)
        item.diskioread, item.diskiowrite = int(sample.diskReadIOs), int(sample.diskWriteIOs)
        item.networkread = f"{_f(item.networkkbsread / 1024.0)} MiB"
        item.networkwrite = f"{_f(item.networkkbswrite / 1024.0)} MiB"
        item.diskread = f"{_f(item.diskkbsread / 1024.0)} MiB"
        item.diskwrite = f"{_f(item.diskkbswrite / 1024.0)} MiB"
        item.diskiopstotal = item.diskioread + item.diskiowrite


_metrics_command("listVirtualMachinesMetrics", "listVirtualMachines", _VM_METRICS_FIELDS, _decorate_vms,
                 since="4.9.3", roles=ALL_ROLES, description="Lists VM metrics")


# ------------------------------------------------------------------------------------------------ hosts


_HOST_FIELDS = {
    **_fields(
        powerstate=(str, "out-of-band management power state"),
        instances=(str, "instances on the host"),
        systeminstances=(str, "system instances on the host"),
        cputotalghz=(str, "the total cpu capacity in Ghz"),
        cpuusedghz=(str, "the total cpu used in Ghz"),
        cpuallocatedghz=(str, "the total cpu allocated in Ghz"),
        cpuloadaverage=(float, "the average cpu load the last minute"),
        memorytotalgb=(str, "the total memory capacity in GiB"),
        memoryusedgb=(str, "the total memory used in GiB"),
        memoryallocatedgb=(str, "the total memory allocated in GiB"),
        networkread=(str, "network read in GiB"),
        networkwrite=(str, "network write in GiB"),
    ),
    **_THRESHOLD_FIELDS,
}


def _decorate_hosts(ctx: CallContext, items: list[Any]) -> None:
    s = ctx.session
    rows = {h.uuid: h for h in s.scalars(select(Host).where(Host.uuid.in_([i.id for i in items])))}
    t = _thresholds(ctx)
    counts: dict[int, tuple[int, int]] = {}
    for host_id, state, n in s.execute(
            select(VirtualMachine.host_id, VirtualMachine.state, func.count()).where(
                VirtualMachine.host_id.in_([h.id for h in rows.values()] or [0]), VirtualMachine.removed.is_(None))
            .group_by(VirtualMachine.host_id, VirtualMachine.state)):
        if host_id is None:
            continue
        running, total = counts.get(host_id, (0, 0))
        counts[host_id] = (running + (n if state == "Running" else 0), total + n)
    for item in items:
        h = rows.get(item.id)
        if h is None:
            continue
        total_mhz = h.cpus * h.speed
        running, total = counts.get(h.id, (0, 0))
        item.instances = f"{running} / {total}"
        item.systeminstances = "0 / 0"  # system VMs and routers do not run on hosts here
        item.cputotalghz, item.cpuallocatedghz = _ghz(total_mhz), _ghz(h.cpu_allocated)
        item.memorytotalgb, item.memoryallocatedgb = _gb(h.total_memory), _gb(h.mem_allocated)
        hs = stats.host_stats(ctx.runtime, h)
        used_pct = hs.cpu_utilization if hs is not None else 0.0
        mem_used = hs.memory_used_bytes if hs is not None else 0
        if hs is not None:
            item.cpuused = _pct(used_pct)
            item.memoryused = mem_used
        item.cpuusedghz = _ghz(used_pct * total_mhz / 100.0)
        item.memoryusedgb = _gb(mem_used)
        _set_thresholds(item, t, used_pct / 100.0, h.cpu_allocated / total_mhz if total_mhz else 0.0,
                        mem_used / h.total_memory if h.total_memory else 0.0,
                        h.mem_allocated / h.total_memory if h.total_memory else 0.0)


_metrics_command("listHostsMetrics", "listHosts", _HOST_FIELDS, _decorate_hosts, since="4.9.3", roles=ADMIN,
                 description="Lists hosts metrics")


# ------------------------------------------------------------------------------------- clusters and zones


_AGGREGATE_FIELDS = {
    **_fields(
        state=(str, "state of the cluster"),
        cputotal=(str, "the total cpu capacity in Ghz"),
        cpuused=(str, "the total cpu used in Ghz"),
        cpuallocated=(str, "the total cpu allocated in Ghz"),
        cpumaxdeviation=(str, "the maximum cpu deviation"),
        memorytotal=(str, "the total cpu capacity in GiB"),
        memoryused=(str, "the total cpu used in GiB"),
        memoryallocated=(str, "the total cpu allocated in GiB"),
        memorymaxdeviation=(str, "the maximum memory deviation"),
    ),
    **_THRESHOLD_FIELDS,
}


def _aggregate(ctx: CallContext, item: Any, hosts: list[Host]) -> None:
    """ClusterMetricsResponse / ZoneMetricsResponse figures over the Up routing hosts given."""
    t = _thresholds(ctx)
    cpu_total = sum(h.cpus * h.speed for h in hosts)
    mem_total = sum(h.total_memory for h in hosts)
    cpu_alloc = sum(h.cpu_allocated for h in hosts)
    mem_alloc = sum(h.mem_allocated for h in hosts)
    samples = [hs for hs in (stats.host_stats(ctx.runtime, h) for h in hosts) if hs is not None]
    cpu_pcts = [hs.cpu_utilization for hs in samples]
    mem_used = sum(hs.memory_used_bytes for hs in samples)
    n = len(hosts)
    item.cputotal, item.memorytotal = _ghz(cpu_total), _gb(mem_total)
    if n:
        avg = sum(cpu_pcts) / n
        item.cpuused = _pct(avg)
        if avg > 0:
            item.cpumaxdeviation = _pct((max(cpu_pcts, default=0.0) - avg) / avg)
        avg_mem = mem_total / n
        if avg_mem > 0:
            item.memorymaxdeviation = _pct((max((hs.memory_used_bytes for hs in samples), default=0) - avg_mem)
                                           * 100.0 / avg_mem)
    if cpu_total:
        item.cpuallocated = _pct(cpu_alloc * 100.0 / cpu_total)
    if mem_total:
        item.memoryused = _pct(mem_used * 100.0 / mem_total)
        item.memoryallocated = _pct(mem_alloc * 100.0 / mem_total)
    _set_thresholds(item, t, (sum(cpu_pcts) / (100.0 * n)) if n else 0.0,
                    cpu_alloc / cpu_total if cpu_total else 0.0, mem_used / mem_total if mem_total else 0.0,
                    mem_alloc / mem_total if mem_total else 0.0)


def _up_hosts(ctx: CallContext, col: Any, value: int) -> tuple[list[Host], int]:
    rows = list(ctx.session.scalars(select(Host).where(col == value, Host.removed.is_(None),
                                                       Host.type == "Routing")))
    return [h for h in rows if h.status == "Up"], len(rows)


def _decorate_clusters(ctx: CallContext, items: list[Any]) -> None:
    rows = {c.uuid: c for c in ctx.session.scalars(select(Cluster).where(Cluster.uuid.in_([i.id for i in items])))}
    for item in items:
        c = rows.get(item.id)
        if c is None:
            continue
        up, total = _up_hosts(ctx, Host.cluster_id, c.id)
        item.state = c.managed_state if c.managed_state != "Managed" else c.allocation_state
        item.hosts = f"{len(up)} / {total}"
        _aggregate(ctx, item, up)


_metrics_command("listClustersMetrics", "listClusters",
                 {**_AGGREGATE_FIELDS, **_fields(hosts=(str, "running / total hosts in the cluster"),
                                                 drsimbalance=(str, "DRS imbalance for the cluster"))},
                 _decorate_clusters, since="4.9.3", roles=ADMIN, description="Lists clusters metrics")


def _decorate_zones(ctx: CallContext, items: list[Any]) -> None:
    s = ctx.session
    rows = {z.uuid: z for z in s.scalars(select(Zone).where(Zone.uuid.in_([i.id for i in items])))}
    for item in items:
        z = rows.get(item.id)
        if z is None:
            continue
        clusters = list(s.scalars(select(Cluster).where(Cluster.zone_id == z.id, Cluster.removed.is_(None))))
        enabled = [c for c in clusters if c.allocation_state == "Enabled"]
        item.state = z.allocation_state
        item.clusters = f"{len(enabled)} / {len(clusters)}"
        up, _total = _up_hosts(ctx, Host.zone_id, z.id)
        _aggregate(ctx, item, up)


_metrics_command("listZonesMetrics", "listZones",
                 {**_AGGREGATE_FIELDS, **_fields(clusters=(str, "healthy / total clusters in the zone"))},
                 _decorate_zones, since="4.9.3", roles=ADMIN, description="Lists zone metrics")


# ------------------------------------------------------------------------------------ storage and volumes


_POOL_FIELDS = _fields(
    disksizeusedgb=(str, "disk size used in GiB"),
    disksizetotalgb=(str, "disk size in GiB"),
    disksizeallocatedgb=(str, "disk size allocated in GiB"),
    disksizeunallocatedgb=(str, "disk size unallocated in GiB"),
    storageusagethreshold=(bool, "storage usage notification threshold exceeded"),
    storageusagedisablethreshold=(bool, "storage usage disable threshold exceeded"),
    storageallocatedthreshold=(bool, "storage allocated notification threshold exceeded"),
    storageallocateddisablethreshold=(bool, "storage allocated disable threshold exceeded"),
)


def _decorate_pools(ctx: CallContext, items: list[Any]) -> None:
    s = ctx.session
    notify = configuration.get_float(s, "cluster.storage.capacity.notificationthreshold", 0.75)
    disable = configuration.get_float(s, "pool.storage.capacity.disablethreshold", 0.85)
    for item in items:
        factor = float(item.overprovisionfactor or 1)
        total = float(item.disksizetotal or 0) * factor
        used, allocated = float(item.disksizeused or 0), float(item.disksizeallocated or 0)
        item.disksizeusedgb, item.disksizetotalgb = _gb(used), _gb(total)
        item.disksizeallocatedgb, item.disksizeunallocatedgb = _gb(allocated), _gb(max(total - allocated, 0))
        item.storageusagethreshold, item.storageusagedisablethreshold = used > total * notify, used > total * disable
        item.storageallocatedthreshold = allocated > total * notify
        item.storageallocateddisablethreshold = allocated > total * disable


_metrics_command("listStoragePoolsMetrics", "listStoragePools", _POOL_FIELDS, _decorate_pools, since="4.9.3",
                 roles=ADMIN, description="Lists storage pool metrics")


_VOLUME_FIELDS = _fields(
    sizegb=(str, "disk size in GiB"),
    diskiopstotal=(int, "the total disk iops"),
    diskioread=(int, "the read (IO) of disk on the vm"),
    diskiowrite=(int, "the write (IO) of disk on the vm"),
    diskkbsread=(int, "the VM's disk read in KiB"),
    diskkbswrite=(int, "the VM's disk write in KiB"),
)


def _decorate_volumes(ctx: CallContext, items: list[Any]) -> None:
    s = ctx.session
    vms = {v.uuid: v for v in s.scalars(select(VirtualMachine).where(
        VirtualMachine.uuid.in_({i.virtualmachineid for i in items if i.virtualmachineid} or {""})))}
    for item in items:
        item.sizegb = _gb(float(item.size or 0))
        vm = vms.get(item.virtualmachineid) if item.virtualmachineid else None
        if vm is None or vm.state != "Running" or vm.host_id is None:
            continue
        host = s.get(Host, vm.host_id)
        ds = stats.domain_stats(ctx.runtime, host, vm.uuid) if host is not None else None
        d = ds.disks.get(item.id) if ds is not None else None
        if d is not None:
            item.diskioread, item.diskiowrite = d.read_requests, d.write_requests
            item.diskkbsread, item.diskkbswrite = d.read_bytes // 1024, d.write_bytes // 1024
            item.diskiopstotal = d.read_requests + d.write_requests


# CloudStack names this response listvolumesresponse (ListVolumesMetricsCmd keeps its base's response name).
_metrics_command("listVolumesMetrics", "listVolumes", _VOLUME_FIELDS, _decorate_volumes, since="4.9.3",
                 roles=ALL_ROLES, response_name="listvolumesresponse", description="Lists volume metrics")


# ------------------------------------------------------------------------------- usage history (samples)


class StatsResp(JobResp):
    timestamp: datetime | None = Field(None, description="the time when the VM stats were collected")
    cpuused: str | None = Field(None, description="the amount of the VM's CPU used (in percentage)")
    diskioread: int | None = Field(None, description="the VM's disk number of read requests (IO) made in the last "
                                   "collection cycle as defined by vm.stats.interval configuration")
    diskiowrite: int | None = Field(None, description="the VM's disk number of write requests (IO) made in the last "
                                    "collection cycle as defined by vm.stats.interval configuration")
    diskiopstotal: int | None = Field(None, description="the total disk iops")
    diskkbsread: int | None = Field(None, description="the VM's disk read in KiB")
    diskkbswrite: int | None = Field(None, description="the VM's disk write in KiB")
    memoryintfreekbs: int | None = Field(None, description="the VM's free memory in KiB")
    memorykbs: int | None = Field(None, description="the memory used by the VM in KiB")
    memorytargetkbs: int | None = Field(None, description="the target memory in VM (KiB)")
    networkkbsread: int | None = Field(None, description="the incoming network traffic on the VM in KiB")
    networkkbswrite: int | None = Field(None, description="the outgoing network traffic on the host in KiB")
    networkread: str | None = Field(None, description="network read in MiB")
    networkwrite: str | None = Field(None, description="network write in MiB")


class VmStatsHistoryResp(JobResp):
    id: str = Field(description="the ID of the virtual machine")
    name: str = Field(description="the name of the virtual machine")
    displayname: str | None = Field(None, description="user generated name. The name of the virtual machine is "
                                    "returned if no displayname exists.")
    stats: list[StatsResp] = Field(default_factory=list, description="the list of VM stats")


class VolumeStatsHistoryResp(JobResp):
    id: str = Field(description="the ID of the volume")
    name: str = Field(description="the name of the volume")
    stats: list[StatsResp] = Field(default_factory=list, description="the list of VM stats")


class UsageHistoryParams(ListParams):
    startdate: Date | None = Field(None, description="start date to filter stats.Use format \"yyyy-MM-dd "
                                   "hh:mm:ss\")")
    enddate: Date | None = Field(None, description="end date to filter stats.Use format \"yyyy-MM-dd hh:mm:ss\")")
    name: str | None = Field(None, description="name of the virtual machine (a substring of it)")


def _window(ctx: CallContext, p: UsageHistoryParams) -> tuple[datetime | None, datetime | None]:
    start = parse_date(p.startdate, "startdate", ctx.command) if p.startdate else None
    end = parse_date(p.enddate, "enddate", ctx.command, end_of_day=True) if p.enddate else None
    if start is not None and end is not None and start > end:
        raise ParamError("startDate cannot be after endDate.")
    return start, end


def _vm_stat(row: VmStats | VolumeStats) -> StatsResp:
    data = json.loads(row.vm_stats_data)  # type: ignore[union-attr]
    total, free = int(data.get("memoryKBs", 0)), int(data.get("intFreeMemoryKBs", -1))
    return StatsResp(timestamp=row.timestamp, cpuused=_f(float(data.get("cpuUtilization", 0))).rstrip("0")
                     .rstrip(".") + "%", networkkbsread=int(data.get("networkReadKBs", 0)),
                     networkkbswrite=int(data.get("networkWriteKBs", 0)),
                     diskkbsread=int(data.get("diskReadKBs", 0)), diskkbswrite=int(data.get("diskWriteKBs", 0)),
                     diskioread=int(data.get("diskReadIOs", 0)), diskiowrite=int(data.get("diskWriteIOs", 0)),
                     memorykbs=total, memoryintfreekbs=free if free < total else -1,
                     memorytargetkbs=int(data.get("targetMemoryKBs", 0)))


def _volume_stat(row: VmStats | VolumeStats) -> StatsResp:
    data = json.loads(row.volume_stats_data)  # type: ignore[union-attr]
    return StatsResp(timestamp=row.timestamp, diskkbsread=int(data.get("bytesRead", 0)) // 1024,
                     diskkbswrite=int(data.get("bytesWrite", 0)) // 1024, diskioread=int(data.get("ioRead", 0)),
                     diskiowrite=int(data.get("ioWrite", 0)))


class VmUsageHistoryParams(UsageHistoryParams):
    id: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(None, description="the ID of the virtual "
                                                                     "machine.")
    ids: Annotated[list[str] | None, Ref("VirtualMachine", "read"), ApiType("list")] = Field(
        None, description="the IDs of the virtual machines, mutually exclusive with id.")


@api_command("listVirtualMachinesUsageHistory", params=VmUsageHistoryParams, result_key="virtualmachine",
             response=VmStatsHistoryResp, since="4.17",
             description="Lists VM stats")
def list_vm_usage_history(ctx: CallContext, p: VmUsageHistoryParams) -> ListResult:
    start, end = _window(ctx, p)
    stmt = select(VirtualMachine).where(VirtualMachine.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, VirtualMachine, ctx.caller, listall=True)
    ids = ([p.id] if p.id else []) + (p.ids or [])
    if ids:
        stmt = stmt.where(VirtualMachine.uuid.in_(ids))
    if p.name:
        stmt = stmt.where(VirtualMachine.display_name.ilike(f"%{p.name}%"))
    stmt = keyword_filter(stmt, p.keyword, VirtualMachine.display_name, VirtualMachine.state)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VirtualMachine.id)
    samples = stats.history(ctx.session, VmStats, "vm_id", [v.id for v in rows], start, end)
    return ListResult([VmStatsHistoryResp(id=v.uuid, name=v.name, displayname=v.display_name or v.name,
                                          stats=[_vm_stat(r) for r in samples.get(v.id, [])]) for v in rows], count)


class SystemVmUsageHistoryParams(UsageHistoryParams):
    id: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(None, description="the ID of the system VM.")
    ids: Annotated[list[str] | None, Ref("VirtualMachine", "read"), ApiType("list")] = Field(
        None, description="the IDs of the system VMs, mutually exclusive with id.")


@api_command("listSystemVmsUsageHistory", params=SystemVmUsageHistoryParams, result_key="systemvm",
             response=VmStatsHistoryResp, roles=ADMIN, since="4.18.0",
             description="Lists System VM stats")
def list_system_vm_usage_history(ctx: CallContext, p: SystemVmUsageHistoryParams) -> ListResult:
    _window(ctx, p)
    return ListResult([], 0)  # no system VM runs here (routers are network namespaces): nothing is sampled


class VolumeUsageHistoryParams(UsageHistoryParams):
    id: Annotated[str | None, Ref("Volume", "read")] = Field(None, description="the ID of the volume.")
    ids: Annotated[list[str] | None, Ref("Volume", "read"), ApiType("list")] = Field(
        None, description="the IDs of the volumes, mutually exclusive with id.")


@api_command("listVolumesUsageHistory", params=VolumeUsageHistoryParams, result_key="volume",
             response=VolumeStatsHistoryResp, since="4.18.0", description="Lists volume stats")
def list_volume_usage_history(ctx: CallContext, p: VolumeUsageHistoryParams) -> ListResult:
    start, end = _window(ctx, p)
    stmt = select(Volume).where(Volume.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, Volume, ctx.caller, listall=True)
    ids = ([p.id] if p.id else []) + (p.ids or [])
    if ids:
        stmt = stmt.where(Volume.uuid.in_(ids))
    if p.name:
        stmt = stmt.where(Volume.name.ilike(f"%{p.name}%"))
    stmt = keyword_filter(stmt, p.keyword, Volume.name, Volume.state)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Volume.id)
    samples = stats.history(ctx.session, VolumeStats, "volume_id", [v.id for v in rows], start, end)
    return ListResult([VolumeStatsHistoryResp(id=v.uuid, name=v.name,
                                              stats=[_volume_stat(r) for r in samples.get(v.id, [])])
                       for v in rows], count)


# ---------------------------------------------------------------------- management server, database, usage


class ManagementServerMetricsResp(JobResp):
    id: str = Field(description="the ID of the management server")
    name: str = Field(description="the name of the management server")
    state: str = Field(description="the state of the management server")
    version: str | None = Field(None, description="the version of the management server")
    javadistribution: str | None = Field(None, description="the runtime distribution name running the management "
                                         "server process")
    javaversion: str | None = Field(None, description="the version of the runtime running the management server "
                                    "process")
    osdistribution: str | None = Field(None, description="the name of the OS distribution running on the "
                                       "management server")
    lastserverstart: datetime | None = Field(None, description="the last time this Management Server was started")
    lastserverstop: datetime | None = Field(None, description="the last time this Management Server was stopped")
    lastboottime: datetime | None = Field(None, description="the last time the host on which this Management Server "
                                          "runs was booted")
    kernelversion: str | None = Field(None, description="the running OS kernel version for this Management Server")
    serviceip: str | None = Field(None, description="the IP Address for this Management Server")
    ipaddress: str | None = Field(None, description="the IP Address for this Management Server")
    peers: list[dict[str, str]] | None = Field(None, description="the Management Server Peers")
    lastagents: list[str] | None = Field(None, description="the last agents this Management Server is responsible "
                                         "for, before shutdown or preparing for maintenance")
    agents: list[str] | None = Field(None, description="the agents this Management Server is responsible for")
    agentscount: int | None = Field(None, description="the number of host agents this Management Server is "
                                    "responsible for")
    pendingjobscount: int | None = Field(None, description="the number of pending jobs in this Management Server")
    availableprocessors: int | None = Field(None, description="the number of processors available to the runtime")
    agentcount: int | None = Field(None, description="the number of agents this Management Server is responsible "
                                   "for")
    sessions: int | None = Field(None, description="the number of client sessions active on this Management "
                                 "Server")
    heapmemoryused: int | None = Field(None, description="the amount of memory used by this Management Server")
    heapmemorytotal: int | None = Field(None, description="the amount of memory allocated to this Management "
                                        "Server")
    threadsblockedcount: int | None = Field(None, description="the number of blocked threads")
    threadsdaemoncount: int | None = Field(None, description="the number of daemon threads")
    threadsrunnablecount: int | None = Field(None, description="the number of runnable threads")
    threadsteminatedcount: int | None = Field(None, description="the number of terminated threads")
    threadstotalcount: int | None = Field(None, description="the number of threads")
    threadswaitingcount: int | None = Field(None, description="the number of waiting threads")
    systemmemorytotal: str | None = Field(None, description="Total system memory")
    systemmemoryfree: str | None = Field(None, description="Free system memory")
    systemmemoryused: str | None = Field(None, description="Amount of memory used")
    systemmemoryvirtualsize: str | None = Field(None, description="Virtual size of the fully loaded process")
    loginfo: str | None = Field(None, description="the log files and their usage on disk")
    systemtotalcpucycles: float | None = Field(None, description="the total system cpu capacity")
    systemloadaverages: list[float] | None = Field(None, description="the load averages for 1 5 and 15 minutes")
    systemcycleusage: list[int] | None = Field(None, description="the system load for user, and system processes "
                                               "and the system idle cycles")
    dbislocal: bool | None = Field(None, description="the state of the database connection of this Management "
                                   "Server")
    usageislocal: bool | None = Field(None, description="the state of the usage server")
    cpuload: str | None = Field(None, description="the current cpu load")
    collectiontime: datetime | None = Field(None, description="the time these statistics were collected")


class ListMgmtsMetricsParams(ListParams):
    id: Uuid | None = Field(None, description="the id of the management server")
    name: str | None = Field(None, description="the name of the management server")
    peers: bool | None = Field(None, description="include peers in the response")
    system: bool | None = Field(None, description="include system level stats")


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def _readable(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1024 or unit == "TB":
            return f"{_f(nbytes)} {unit}" if unit != "bytes" else f"{int(nbytes)} bytes"
        nbytes /= 1024
    return f"{_f(nbytes)} TB"  # pragma: no cover


def _self_metrics(ctx: CallContext, item: dict[str, Any], system: bool) -> None:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = usage.ru_maxrss * 1024
    mem = _meminfo()
    threads = threading.enumerate()
    item.update(
        availableprocessors=os.cpu_count(), heapmemoryused=rss, heapmemorytotal=mem.get("MemTotal"),
        threadstotalcount=len(threads), threadsdaemoncount=sum(1 for t in threads if t.daemon),
        threadsrunnablecount=sum(1 for t in threads if t.is_alive()), threadsblockedcount=0,
        threadswaitingcount=0, threadsteminatedcount=0, sessions=ctx.session.scalar(
            select(func.count()).select_from(UserSession)) or 0,
        systemloadaverages=list(os.getloadavg()), cpuload=_pct(os.getloadavg()[0] * 100 / (os.cpu_count() or 1)),
        dbislocal=ctx.runtime.settings.database_url.startswith("sqlite") or "127.0.0.1" in
        ctx.runtime.settings.database_url or "localhost" in ctx.runtime.settings.database_url,
        usageislocal=True, collectiontime=datetime.now(UTC).replace(microsecond=0))
    if system:
        total, free = mem.get("MemTotal", 0), mem.get("MemAvailable", 0)
        with open("/proc/self/statm") as f:
            vsize = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        ticks = [0, 0, 0]
        try:
            with open("/proc/stat") as f:
                parts = f.readline().split()[1:]
            user, nice, sysc, idle = (int(x) for x in parts[:4])
            ticks = [user + nice, sysc, idle]
        except (OSError, ValueError):
            pass
        item.update(systemmemorytotal=_readable(total), systemmemoryfree=_readable(free),
                    systemmemoryused=_readable(total - free), systemmemoryvirtualsize=_readable(vsize),
                    systemcycleusage=ticks, systemtotalcpucycles=float(os.cpu_count() or 1),
                    loginfo=None)


@api_command("listManagementServersMetrics", params=ListMgmtsMetricsParams, result_key="managementserver",
             response=ManagementServerMetricsResp, roles=ADMIN, since="4.17.0",
             description="Lists Management Server metrics")
def list_management_servers_metrics(ctx: CallContext, p: ListMgmtsMetricsParams) -> ListResult:
    stmt = select(ManagementServer)
    if p.id:
        stmt = stmt.where(ManagementServer.msid == p.id)
    if p.name:
        stmt = stmt.where(ManagementServer.hostname == p.name)
    stmt = keyword_filter(stmt, p.keyword, ManagementServer.hostname)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ManagementServer.msid)
    uname = platform.uname()
    out = []
    for ms in rows:
        st = maintenance.status(ctx.session, ms.msid)
        item: dict[str, Any] = {
            "id": ms.msid, "name": ms.hostname, "state": st.state, "version": ms.version,
            "javadistribution": platform.python_implementation(), "javaversion": platform.python_version(),
            "osdistribution": _os_name(), "kernelversion": uname.release, "lastserverstart": ms.started,
            "serviceip": _address(ms.hostname), "ipaddress": _address(ms.hostname), "agents": st.agents,
            "agentscount": len(st.agents), "agentcount": len(st.agents), "pendingjobscount": st.pending_jobs,
            "lastboottime": _boot_time(),
        }
        if ms.state != "Up":
            item["lastserverstop"] = ms.last_heartbeat
        if p.peers:
            item["peers"] = [{"peermanagementserverid": o.msid, "peername": o.hostname, "peerstate": o.state}
                             for o in ctx.session.scalars(select(ManagementServer).where(
                                 ManagementServer.msid != ms.msid))]
        if ms.msid == ctx.runtime.msid:
            _self_metrics(ctx, item, bool(p.system))
        out.append(ManagementServerMetricsResp(**item))
    return ListResult(out, count)


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _address(hostname: str) -> str | None:
    try:
        return socket.gethostbyname(hostname)
    except OSError:
        return None


def _boot_time() -> datetime | None:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return datetime.fromtimestamp(int(line.split()[1]), UTC)
    except OSError:
        pass
    return None


class DbMetricsResp(JobResp):
    collectiontime: datetime | None = Field(None, description="the time these statistics were collected")
    hostname: str | None = Field(None, description="the name of the active usage server")
    replicas: list[str] | None = Field(None, description="the state of the usage server")
    connections: int | None = Field(None, description="the number of connections to the DB server")
    uptime: int | None = Field(None, description="the uptime of the DB server")
    tlsversions: str | None = Field(None, description="the tls versions currently in use (accepted) by the DB")
    version: str | None = Field(None, description="the version of the currently running DB")
    versioncomment: str | None = Field(None, description="the version of the currently running DB")
    queries: int | None = Field(None, description="the number of queries performed on the DB")
    dbloadaverages: list[float] | None = Field(None, description="the last measured load averages on the DB")


def _mysql_status(ctx: CallContext) -> dict[str, str]:
    rows = ctx.session.execute(text("SHOW GLOBAL STATUS WHERE Variable_name IN ('Uptime', 'Questions', "
                                    "'Threads_connected')"))
    return {str(k): str(v) for k, v in rows}


@api_command("listDbMetrics", params=Params, result_key="dbMetrics", response=DbMetricsResp, roles=ADMIN,
             since="4.17.0", description="list the db hosts and statistics")
def list_db_metrics(ctx: CallContext, p: Params) -> DbMetricsResp:
    bind = ctx.session.get_bind()
    now = datetime.now(UTC).replace(microsecond=0)
    if bind.dialect.name == "sqlite":
        import sqlite3

        return DbMetricsResp(collectiontime=now, hostname="localhost", replicas=[], connections=1,
                             uptime=int((now - _STARTED).total_seconds()), version=sqlite3.sqlite_version,
                             versioncomment="SQLite (embedded)", tlsversions="",
                             dbloadaverages=list(os.getloadavg()))
    version = str(ctx.session.scalar(text("SELECT VERSION()")))
    comment = str(ctx.session.scalar(text("SELECT @@version_comment")))
    tls = str(ctx.session.scalar(text("SELECT @@tls_version")) or "")
    status = _mysql_status(ctx)
    return DbMetricsResp(collectiontime=now, hostname=bind.engine.url.host or "localhost", replicas=[],
                         connections=int(status.get("Threads_connected", 0)), uptime=int(status.get("Uptime", 0)),
                         version=version, versioncomment=comment, tlsversions=tls,
                         queries=int(status.get("Questions", 0)), dbloadaverages=list(os.getloadavg()))


class InfrastructureResp(JobResp):
    zones: int = Field(description="Number of zones")
    pods: int = Field(description="Number of pods")
    clusters: int = Field(description="Number of clusters")
    hosts: int = Field(description="Number of hypervisor hosts")
    storagepools: int = Field(description="Number of primary storage pools")
    imagestores: int = Field(description="Number of secondary (image) stores")
    backuprepositories: int = Field(description="Number of backup repositories")
    objectstores: int = Field(description="Number of object stores")
    systemvms: int = Field(description="Number of system VMs")
    routers: int = Field(description="Number of virtual routers")
    ilbvms: int = Field(description="Number of internal load balancer VMs")
    cpusockets: int = Field(description="Number of CPU sockets over the hypervisor hosts")
    managementservers: int = Field(description="Number of management servers")
    alerts: int = Field(description="Number of alerts")


def _count(ctx: CallContext, model: Any, *where: Any) -> int:
    return int(ctx.session.scalar(select(func.count()).select_from(model).where(model.removed.is_(None), *where))
               or 0)


@api_command("listInfrastructure", params=Params, result_key="infrastructure", response=InfrastructureResp,
             roles=ADMIN, since="4.9.3", description="Lists the counts of the cloud's infrastructure")
def list_infrastructure(ctx: CallContext, p: Params) -> InfrastructureResp:
    routing = (Host.type == "Routing",)
    sockets = ctx.session.scalar(select(func.coalesce(func.sum(Host.cpu_sockets), 0)).where(
        Host.removed.is_(None), *routing))
    vm_types: dict[str, int] = {str(t): int(n) for t, n in ctx.session.execute(
        select(VirtualMachine.vm_type, func.count()).where(VirtualMachine.removed.is_(None))
        .group_by(VirtualMachine.vm_type))}
    return InfrastructureResp(
        zones=_count(ctx, Zone), pods=_count(ctx, Pod), clusters=_count(ctx, Cluster),
        hosts=_count(ctx, Host, *routing), storagepools=_count(ctx, StoragePool),
        imagestores=_count(ctx, ImageStore, ImageStore.role == "Image"),
        backuprepositories=_count(ctx, BackupRepository), objectstores=_count(ctx, ObjectStore),
        systemvms=vm_types.get("SecondaryStorageVm", 0) + vm_types.get("ConsoleProxy", 0),
        routers=vm_types.get("DomainRouter", 0), ilbvms=vm_types.get("InternalLoadBalancerVm", 0),
        cpusockets=int(sockets or 0),
        managementservers=int(ctx.session.scalar(select(func.count()).select_from(ManagementServer)) or 0),
        alerts=int(ctx.session.scalar(select(func.count()).select_from(Alert).where(Alert.archived.is_(False)))
                   or 0))


class UsageServerMetricsResp(JobResp):
    collectiontime: datetime | None = Field(None, description="the time these statistics were collected")
    hostname: str | None = Field(None, description="the name of the active usage server")
    state: str | None = Field(None, description="the state of the usage server")
    lastheartbeat: datetime | None = Field(None, description="the last time this Usage Server checked for jobs")
    lastsuccessfuljob: datetime | None = Field(None, description="the last time a usage job successfully completed")


@api_command("listUsageServerMetrics", params=Params, result_key="usageMetrics", response=UsageServerMetricsResp,
             roles=ADMIN, since="4.17.0", description="retrieve statistics about the usage server")
def list_usage_server_metrics(ctx: CallContext, p: Params) -> UsageServerMetricsResp:
    # No separate usage server process runs here: CloudStack reports such a deployment's usage server as Down.
    last = ctx.session.scalar(select(func.max(AsyncJob.completed)).where(
        AsyncJob.command == "generateUsageRecords", AsyncJob.status == 1))
    return UsageServerMetricsResp(collectiontime=datetime.now(UTC).replace(microsecond=0),
                                  hostname=socket.gethostname(), state="Down", lastsuccessfuljob=last)

