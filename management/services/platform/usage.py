"""Usage: events recorded as resources come and go (CloudStack's usage_event), and the usage server's job that turns
them into per-period records (cloud_usage) for accounts and projects.

Events are written in the same unit of work as the change that causes them: state changes through the FSM hook
(VM start/stop/destroy/recover, volume destroy/recover, snapshot backed up/destroyed, template copy ready), new
rows through the ORM flush hook (VM and volume creation, NICs joining or leaving a network), public IPs by their
service calling `ip_assigned`/`ip_released`. `CLOCK` stamps them (a test can drive it).

`generate(start, end)` replays each resource's events into intervals (running and allocated VM time, volume,
snapshot and template time with their size, IP time, network offering time per NIC), cuts them at the aggregation
periods (usage.stats.job.aggregation.range minutes, 1440 = daily, aligned to midnight UTC) and writes one record
per resource and period with the hours, as CloudStack's usage parsers do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import PublicIpAddress
from management.models.network import Network, Nic
from management.models.storage import Snapshot, Template, TemplateStoreRef, Volume
from management.models.usage import UsageEvent, UsageRecord

CLOCK: Callable[[], datetime] = utcnow

# CloudStack's UsageTypes: id -> (name, description).
TYPES: dict[int, tuple[str, str]] = {
    1: ("RUNNING_VM", "Running Vm Usage"), 2: ("ALLOCATED_VM", "Allocated Vm Usage"),
    3: ("IP_ADDRESS", "IP Address Usage"), 4: ("NETWORK_BYTES_SENT", "Network Usage (Bytes Sent)"),
    5: ("NETWORK_BYTES_RECEIVED", "Network Usage (Bytes Received)"), 6: ("VOLUME", "Volume Usage"),
    7: ("TEMPLATE", "Template Usage"), 8: ("ISO", "ISO Usage"), 9: ("SNAPSHOT", "Snapshot Usage"),
    10: ("SECURITY_GROUP", "Security Group Usage"), 11: ("LOAD_BALANCER_POLICY", "Load Balancer Usage"),
    12: ("PORT_FORWARDING_RULE", "Port Forwarding Usage"), 13: ("NETWORK_OFFERING", "Network Offering Usage"),
    14: ("VPN_USERS", "VPN users usage"), 21: ("VM_DISK_IO_READ", "VM Disk usage(I/O Read)"),
    22: ("VM_DISK_IO_WRITE", "VM Disk usage(I/O Write)"), 23: ("VM_DISK_BYTES_READ", "VM Disk usage(Bytes Read)"),
    24: ("VM_DISK_BYTES_WRITE", "VM Disk usage(Bytes Write)"), 25: ("VM_SNAPSHOT", "VM Snapshot storage usage"),
    26: ("VOLUME_SECONDARY", "Volume on secondary storage usage"),
    27: ("VM_SNAPSHOT_ON_PRIMARY", "VM Snapshot on primary storage usage"), 28: ("BACKUP", "Backup storage usage"),
    29: ("BUCKET", "Bucket storage usage"), 30: ("NETWORK", "Network usage"), 31: ("VPC", "VPC usage"),
}
RUNNING_VM, ALLOCATED_VM, IP_ADDRESS, VOLUME, TEMPLATE, ISO, SNAPSHOT, NETWORK_OFFERING = 1, 2, 3, 6, 7, 8, 9, 13


# ------------------------------------------------------------------------------------------------ recording

def record(session: Session, etype: str, *, account_id: int, domain_id: int, resource_id: int,
           zone_id: int | None = None, uuid: str | None = None, name: str | None = None,
           offering_id: int | None = None, template_id: int | None = None, size: int | None = None,
           resource_type: str | None = None, details: dict[str, Any] | None = None) -> None:
    session.add(UsageEvent(type=etype, account_id=account_id, domain_id=domain_id, zone_id=zone_id,
                           resource_id=resource_id, resource_uuid=uuid, resource_name=name, offering_id=offering_id,
                           template_id=template_id, size=size, resource_type=resource_type,
                           details=json.dumps(details) if details else None, created=CLOCK()))


def _vm(session: Session, etype: str, vm: VirtualMachine) -> None:
    record(session, etype, account_id=vm.account_id, domain_id=vm.domain_id, zone_id=vm.zone_id, resource_id=vm.id,
           uuid=vm.uuid, name=vm.instance_name, offering_id=vm.service_offering_id, template_id=vm.template_id,
           details={"cpu": vm.cpu, "speed": vm.speed, "memory": vm.ram_size, "hypervisor": vm.hypervisor_type})


def _volume(session: Session, etype: str, vol: Volume) -> None:
    record(session, etype, account_id=vol.account_id, domain_id=vol.domain_id, zone_id=vol.zone_id,
           resource_id=vol.id, uuid=vol.uuid, name=vol.name, offering_id=vol.disk_offering_id,
           template_id=vol.template_id, size=vol.size)


def ip_assigned(session: Session, ip: PublicIpAddress) -> None:
    if ip.account_id is None or ip.is_system:
        return
    record(session, "NET.IPASSIGN", account_id=ip.account_id, domain_id=ip.domain_id or 0, zone_id=ip.zone_id,
           resource_id=ip.id, uuid=ip.uuid, name=ip.public_ip_address, size=1 if ip.source_nat else 0)


def ip_released(session: Session, ip: PublicIpAddress) -> None:
    if ip.account_id is None or ip.is_system:
        return
    record(session, "NET.IPRELEASE", account_id=ip.account_id, domain_id=ip.domain_id or 0, zone_id=ip.zone_id,
           resource_id=ip.id, uuid=ip.uuid, name=ip.public_ip_address)


def _on_transition(session: Session, row: Any, old: str, new: str) -> None:
    if isinstance(row, VirtualMachine):
        if row.vm_type != "User":
            return
        running, gone = ("Running", "Stopping", "Migrating"), ("Destroyed", "Expunging", "Error")
        if new == "Running" and old != "Running":
            _vm(session, "VM.START", row)
        if old in running and new not in running:
            _vm(session, "VM.STOP", row)
        if new in gone and old not in gone:
            _vm(session, "VM.DESTROY", row)
        elif old == "Destroyed" and new == "Stopped":
            _vm(session, "VM.CREATE", row)
    elif isinstance(row, Volume):
        if new == "Destroy" and old != "Destroy":
            _volume(session, "VOLUME.DELETE", row)
        elif old == "Destroy" and new == "Ready":
            _volume(session, "VOLUME.CREATE", row)
    elif isinstance(row, Snapshot):
        if new == "BackedUp" and old != "BackedUp":
            record(session, "SNAPSHOT.CREATE", account_id=row.account_id, domain_id=row.domain_id,
                   zone_id=row.zone_id, resource_id=row.id, uuid=row.uuid, name=row.name,
                   size=row.physical_size or row.size)
        elif new == "Destroyed" and old != "Destroyed":
            record(session, "SNAPSHOT.DELETE", account_id=row.account_id, domain_id=row.domain_id,
                   zone_id=row.zone_id, resource_id=row.id, uuid=row.uuid, name=row.name)
    elif isinstance(row, TemplateStoreRef):
        tmpl = session.get(Template, row.template_id)
        if tmpl is None or tmpl.template_type in ("SYSTEM", "BUILTIN", "ROUTING"):
            return
        kind = "ISO" if tmpl.format == "ISO" else "TEMPLATE"
        if new == "Ready" and old != "Ready":
            record(session, f"{kind}.CREATE", account_id=tmpl.account_id, domain_id=tmpl.domain_id,
                   zone_id=row.zone_id, resource_id=tmpl.id, uuid=tmpl.uuid, name=tmpl.name,
                   size=row.physical_size or row.size or tmpl.size)
        elif new == "Destroyed" and old != "Destroyed":
            record(session, f"{kind}.DELETE", account_id=tmpl.account_id, domain_id=tmpl.domain_id,
                   zone_id=row.zone_id, resource_id=tmpl.id, uuid=tmpl.uuid, name=tmpl.name)


def _after_flush(session: Session, _ctx: Any) -> None:
    for obj in list(session.new):
        if isinstance(obj, VirtualMachine) and obj.vm_type == "User":
            _vm(session, "VM.CREATE", obj)
        elif isinstance(obj, Volume):
            _volume(session, "VOLUME.CREATE", obj)
        elif isinstance(obj, Nic) and obj.vm_type == "User":
            _nic(session, "NETWORK.OFFERING.ASSIGN", obj)
    for obj in list(session.dirty):
        if isinstance(obj, Nic) and obj.vm_type == "User" and _changed_to_set(obj, "removed"):
            _nic(session, "NETWORK.OFFERING.REMOVE", obj)
        elif isinstance(obj, Volume) and _changed(obj, "size") and obj.state not in ("Allocated", "Destroy"):
            _volume(session, "VOLUME.RESIZE", obj)


def _changed(obj: Any, attr: str) -> bool:
    from sqlalchemy import inspect

    hist = inspect(obj).attrs[attr].history
    return bool(hist.deleted) and bool(hist.added) and hist.deleted[0] != hist.added[0]


def _changed_to_set(obj: Any, attr: str) -> bool:
    from sqlalchemy import inspect

    hist = inspect(obj).attrs[attr].history
    return bool(hist.added) and hist.added[0] is not None and (not hist.deleted or hist.deleted[0] is None)


def _nic(session: Session, etype: str, nic: Nic) -> None:
    vm = session.get(VirtualMachine, nic.instance_id)
    net = session.get(Network, nic.network_id)
    if vm is None or net is None:
        return
    record(session, etype, account_id=vm.account_id, domain_id=vm.domain_id, zone_id=vm.zone_id,
           resource_id=vm.id, uuid=vm.uuid, name=vm.instance_name, offering_id=net.network_offering_id,
           details={"nic": nic.id, "default": bool(nic.default_nic), "network": net.uuid})


fsm.on_transition(_on_transition)
if not event.contains(Session, "after_flush", _after_flush):
    event.listen(Session, "after_flush", _after_flush)


# ------------------------------------------------------------------------------------------------ the usage job

@dataclass(slots=True)
class _Open:
    start: datetime
    size: int | None
    offering_id: int | None
    template_id: int | None
    name: str | None
    uuid: str | None
    details: dict[str, Any]


@dataclass(slots=True)
class Interval:
    usage_type: int
    account_id: int
    domain_id: int
    zone_id: int | None
    resource_id: int
    start: datetime
    end: datetime
    size: int | None
    offering_id: int | None
    template_id: int | None
    name: str | None
    uuid: str | None
    details: dict[str, Any]


_PAIRS: dict[int, tuple[set[str], set[str]]] = {
    RUNNING_VM: ({"VM.START"}, {"VM.STOP", "VM.DESTROY"}),
    ALLOCATED_VM: ({"VM.CREATE"}, {"VM.DESTROY"}),
    VOLUME: ({"VOLUME.CREATE", "VOLUME.RESIZE"}, {"VOLUME.DELETE", "VOLUME.RESIZE"}),
    IP_ADDRESS: ({"NET.IPASSIGN"}, {"NET.IPRELEASE"}),
    SNAPSHOT: ({"SNAPSHOT.CREATE"}, {"SNAPSHOT.DELETE"}),
    TEMPLATE: ({"TEMPLATE.CREATE"}, {"TEMPLATE.DELETE"}),
    ISO: ({"ISO.CREATE"}, {"ISO.DELETE"}),
    NETWORK_OFFERING: ({"NETWORK.OFFERING.ASSIGN"}, {"NETWORK.OFFERING.REMOVE"}),
}


def _aware(d: datetime) -> datetime:
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def intervals(events: Iterable[UsageEvent], until: datetime) -> list[Interval]:
    """Pairs each resource's start and stop events into intervals (open ones end at `until`)."""
    out: list[Interval] = []
    for utype, (starts, stops) in _PAIRS.items():
        opened: dict[tuple[int, str], tuple[UsageEvent, _Open]] = {}
        for ev in events:
            if ev.type not in starts | stops:
                continue
            details = json.loads(ev.details) if ev.details else {}
            key = (ev.resource_id, str(details.get("nic", "")) if utype == NETWORK_OFFERING else "")
            at = _aware(ev.created)
            if ev.type in stops and key in opened:
                first, o = opened.pop(key)
                out.append(_interval(utype, first, ev.resource_id, o, at))
            if ev.type in starts and (ev.type == "VOLUME.RESIZE" or (ev.type not in stops and key not in opened)):
                opened[key] = (ev, _Open(at, ev.size, ev.offering_id, ev.template_id, ev.resource_name,
                                         ev.resource_uuid, details))
        for (rid, _k), (first, o) in opened.items():
            out.append(_interval(utype, first, rid, o, until))
    return out


def _interval(utype: int, first: UsageEvent, resource_id: int, o: _Open, end: datetime) -> Interval:
    return Interval(utype, first.account_id, first.domain_id, first.zone_id, resource_id, o.start, end, o.size,
                    o.offering_id, o.template_id, o.name, o.uuid, o.details)


def periods(start: datetime, end: datetime, minutes: int) -> list[tuple[datetime, datetime]]:
    """Aggregation periods covering [start, end), aligned to midnight UTC."""
    step = timedelta(minutes=max(1, minutes))
    origin = start.replace(hour=0, minute=0, second=0, microsecond=0)
    p = origin + ((start - origin) // step) * step
    out = []
    while p < end:
        out.append((p, p + step))
        p += step
    return out


def _describe(iv: Interval, session: Session) -> str:
    if iv.usage_type == RUNNING_VM:
        return f"{iv.name} running time (ServiceOffering: {iv.offering_id}) (Template: {iv.template_id})"
    if iv.usage_type == ALLOCATED_VM:
        return f"{iv.name} allocated (ServiceOffering: {iv.offering_id}) (Template: {iv.template_id})"
    if iv.usage_type == VOLUME:
        extra = f" (Template: {iv.template_id})" if iv.template_id else ""
        extra += f" (DiskOffering: {iv.offering_id})" if iv.offering_id else ""
        return f"Volume Id: {iv.resource_id} usage time{extra}"
    if iv.usage_type == IP_ADDRESS:
        return f"IPAddress: {iv.name}"
    if iv.usage_type == SNAPSHOT:
        return f"Snapshot Id: {iv.resource_id} usage time"
    if iv.usage_type in (TEMPLATE, ISO):
        return f"{'ISO' if iv.usage_type == ISO else 'Template'} Id: {iv.resource_id} usage time"
    return f"Network offering: {iv.offering_id} for Vm : {iv.name} usage time"


def generate(session: Session, start: datetime, end: datetime, *, minutes: int = 1440,
             account_ids: list[int] | None = None) -> int:
    """Recomputes the records of the periods in [start, end) from the events; returns how many were written."""
    start, end = _aware(start), _aware(end)
    spans = periods(start, end, minutes)
    if not spans:
        return 0
    first, last = spans[0][0], spans[-1][1]
    stmt = select(UsageEvent).where(UsageEvent.created < last).order_by(UsageEvent.created, UsageEvent.id)
    if account_ids is not None:
        stmt = stmt.where(UsageEvent.account_id.in_(account_ids))
    events = list(session.scalars(stmt))
    wipe = delete(UsageRecord).where(UsageRecord.start_date >= first, UsageRecord.end_date <= last)
    if account_ids is not None:
        wipe = wipe.where(UsageRecord.account_id.in_(account_ids))
    session.execute(wipe)
    merged: dict[tuple[int, int, int, int | None, int | None, datetime], tuple[Interval, float]] = {}
    for iv in intervals(events, last):
        for p_start, p_end in spans:
            lo, hi = max(iv.start, p_start), min(iv.end, p_end)
            if hi <= lo:
                continue
            hours = (hi - lo).total_seconds() / 3600
            key = (iv.usage_type, iv.account_id, iv.resource_id, iv.offering_id,
                   iv.size if iv.usage_type == VOLUME else None, p_start)
            prev = merged.get(key)
            merged[key] = (iv, hours + (prev[1] if prev else 0.0))
    written = 0
    for (utype, _acct, _rid, _off, _size, p_start), (iv, hours) in sorted(merged.items(), key=lambda kv: (
            kv[0][5], kv[0][1], kv[0][0], kv[0][2])):
        session.add(UsageRecord(
            account_id=iv.account_id, domain_id=iv.domain_id, zone_id=iv.zone_id, usage_type=utype,
            description=_describe(iv, session), usage_display=f"{hours:.6f} Hrs", raw_usage=hours,
            vm_instance_id=iv.resource_id if utype in (RUNNING_VM, ALLOCATED_VM, NETWORK_OFFERING) else None,
            vm_name=iv.name if utype in (RUNNING_VM, ALLOCATED_VM, NETWORK_OFFERING) else None,
            offering_id=iv.offering_id, template_id=iv.template_id, usage_id=iv.resource_id, usage_uuid=iv.uuid,
            resource_type=iv.details.get("hypervisor") if utype in (RUNNING_VM, ALLOCATED_VM) else None,
            size=iv.size if utype in (VOLUME, SNAPSHOT, TEMPLATE, ISO) else None,
            start_date=p_start, end_date=p_start + timedelta(minutes=minutes) - timedelta(seconds=1)))
        written += 1
    session.flush()
    return written


def remove_raw(session: Session, days: int) -> int:
    """removeRawUsageRecords: drops the events older than `days` days."""
    cutoff = CLOCK() - timedelta(days=days)
    return int(session.execute(delete(UsageEvent).where(UsageEvent.created < cutoff)).rowcount or 0)  # type: ignore


def owner_names(session: Session, ids: Iterable[int]) -> dict[int, Account]:
    return {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(set(ids))))}
