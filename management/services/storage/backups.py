"""Backup and recovery with CloudStack's NAS provider model ("nas"): a backup repository is a directory every KVM
host of the zone sees (a local path, or an NFS export this server mounts); a backup offering imported from the
provider is a repository; a backup is a full copy of each of a VM's volumes under
``<repository>/<instance name>/<yyyy.MM.dd.HH.mm.ss>/`` made by the host's driver (``backup_disks``: one
point-in-time push backup job for a running domain, a qemu-img convert of each volume otherwise), restored by the
driver too (``restore_disk``).

Database work and driver work never share a transaction (the driver call sits between short units of work)."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.drivers import base as drv
from management.drivers.errors import DriverError
from management.errors import CloudError, InternalError, InvalidStateTransition, ParamError
from management.models.backups import Backup, BackupOffering, BackupRepository, BackupSchedule, VmBackupOffering
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import Host, StoragePool, Zone
from management.models.jobs import AsyncJob
from management.models.offerings import DiskOffering, ServiceOffering
from management.models.storage import Volume
from management.services import configuration, cron, scheduling
from management.services.hypervisors import driver_error, driver_for, driver_for_volume, tx
from management.services.infra.hosts import pool_spec
from management.services.runtime import Runtime
from management.storage import nfs

log = logging.getLogger(__name__)

PROVIDERS = {"nas": "NAS Backup Plugin"}
INTERVALS = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "MANUAL")  # Backup.Type, by ordinal
MANUAL = 4
MAX_PER_INTERVAL = {"HOURLY": 8, "DAILY": 8, "WEEKLY": 8, "MONTHLY": 8}  # backup.max.hourly etc. defaults
DISABLED = "Backup and Recovery feature is disabled for the zone"


# ------------------------------------------------------------------------------------------------ framework

def validate_zone(session: Session, zone_id: int | None) -> Zone:
    zone = session.get(Zone, zone_id) if zone_id else None
    value = configuration.get(session, "backup.framework.enabled", "false", zone=zone) if zone else "false"
    if zone is None or (value or "").lower() != "true":
        raise InternalError(DISABLED)
    return zone


def provider_for(session: Session, zone: Zone) -> str:
    name = (configuration.get(session, "backup.framework.provider.plugin", "nas", zone=zone) or "").lower()
    if not name:
        raise InternalError("Invalid backup provider name provided")
    if name not in PROVIDERS:
        raise InternalError(f"Failed to find backup provider by the name: {name}")
    return name


def repository_of(session: Session, offering: BackupOffering) -> BackupRepository:
    repo = session.scalar(select(BackupRepository).where(BackupRepository.uuid == offering.external_id,
                                                         BackupRepository.removed.is_(None)))
    if repo is None:
        raise InternalError("No valid backup repository found for the VM, please check the attached backup "
                            "offering")
    return repo


def repository_dir(runtime: Runtime, repo: BackupRepository) -> str:
    """Where the hosts see the repository: a path (``/dir`` or ``file:///dir``) as it is; ``server:/export`` (nfs)
    mounted by this server under ``<state>/mnt/backup/<uuid>`` (its KVM hosts are this machine)."""
    addr = repo.address.strip()
    if addr.startswith("/"):
        return addr
    if addr.lower().startswith("file://"):
        return urlsplit(addr).path
    server, sep, export = addr.partition(":")
    if not sep or not export.startswith("/"):
        raise ParamError(f"Invalid backup repository address {repo.address}: <server>:/<path> or a directory path")
    if repo.type.lower() != "nfs":
        raise InternalError(f"Backup repositories of type {repo.type} cannot be mounted here; use a directory path")
    target = Path(runtime.settings.state_dir) / "mnt" / "backup" / repo.uuid
    try:
        nfs.ensure_mounted(server, export, target)
    except nfs.MountError as exc:
        raise InternalError(f"Unable to mount backup repository {repo.name} ({repo.address}): {exc}") from None
    return str(target)


def vm_offering(session: Session, vm: VirtualMachine) -> BackupOffering | None:
    row = session.get(VmBackupOffering, vm.id)
    return session.get(BackupOffering, row.offering_id) if row else None


def volumes_info(session: Session, vm: VirtualMachine, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = []
    for v in _vm_volumes(session, vm):
        do = session.get(DiskOffering, v.disk_offering_id) if v.disk_offering_id else None
        out.append({"uuid": v.uuid, "type": v.volume_type, "size": v.size, "path": (names or {}).get(v.uuid, v.path),
                    "deviceId": v.device_id or 0, "diskOfferingId": do.uuid if do else None})
    return out


def _vm_volumes(session: Session, vm: VirtualMachine) -> list[Volume]:
    return list(session.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.removed.is_(None))
                                .order_by(Volume.device_id, Volume.id)))


# ------------------------------------------------------------------------------------------------ offerings

def assign(session: Session, vm: VirtualMachine, offering: BackupOffering) -> None:
    if vm.state not in ("Running", "Stopped", "Shutdown"):
        raise InternalError("VM is not in running or stopped state")
    validate_zone(session, vm.zone_id)
    if session.get(VmBackupOffering, vm.id) is not None:
        raise InternalError("VM already is assigned to a backup offering, please remove the VM from its previous "
                            "offering")
    if offering.provider not in PROVIDERS:
        raise InternalError("Failed to get the backup provider for the zone, please contact the administrator")
    if (vm.hypervisor_type or "") not in ("KVM", "Simulator"):
        raise InternalError(f"Failed to assign the VM to the backup offering: the {offering.provider} provider "
                            f"backs up KVM instances, not {vm.hypervisor_type}")
    session.add(VmBackupOffering(vm_id=vm.id, offering_id=offering.id,
                                 volumes_json=json.dumps(volumes_info(session, vm)), assigned=utcnow()))
    session.flush()


def unassign(session: Session, vm: VirtualMachine) -> None:
    validate_zone(session, vm.zone_id)
    row = session.get(VmBackupOffering, vm.id)
    if row is None:
        raise InternalError("No previously configured backup offering found for the VM")
    session.delete(row)
    session.execute(sql_delete(BackupSchedule).where(BackupSchedule.vm_id == vm.id))
    session.flush()


# ------------------------------------------------------------------------------------------------ backups

def _backup_host(session: Session, vm: VirtualMachine) -> Host:
    host_id: int | None
    if vm.state == "Running":
        if vm.host_id is None:
            raise InternalError(f"Unable to find the hypervisor host for {vm.name}. Make sure the virtual machine "
                                "is running")
        host_id = vm.host_id
    else:
        host_id = vm.last_host_id
        if host_id is None:
            raise InternalError(f"Unable to find the hypervisor host for stopped VM: {vm.instance_name}")
    host = session.get(Host, host_id)
    if host is None or host.status != "Up" or host.hypervisor_type not in ("KVM", "Simulator"):
        raise InternalError("Unable to contact backend control plane to initiate backup")
    return host


def backup_name(vm: VirtualMachine, when: datetime) -> str:
    return f"{vm.name}-{when:%Y-%m-%d %H:%M:%S} GMT"  # DateUtil.displayDateInTimezone(GMT, now)


def take(runtime: Runtime, vm_id: int, *, name: str | None, description: str | None,
         interval: int = MANUAL) -> int:
    """createBackup: checks, a BackingUp row, the driver's copy of every volume, then BackedUp. Returns its id."""
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        validate_zone(s, vm.zone_id)
        offering = vm_offering(s, vm)
        if offering is None:
            raise InternalError("VM has not backup offering configured, cannot create backup before assigning it "
                                "to a backup offering")
        if not offering.user_driven_backup and interval == MANUAL:
            raise InternalError("The assigned backup offering does not allow ad-hoc user backup")
        host = _backup_host(s, vm)
        repo = repository_of(s, offering)
        vols = _vm_volumes(s, vm)
        if any(v.pool_id is None for v in vols):
            raise InternalError(f"VM {vm.uuid} has volumes that were never created on primary storage; start it once "
                                "before backing it up")
        when = utcnow()
        path = f"{vm.instance_name}/{when.strftime('%Y.%m.%d.%H.%M.%S')}"
        names = {v.uuid: f"{'root' if v.volume_type == 'ROOT' else 'datadisk'}.{v.uuid}.qcow2" for v in vols}
        disks = tuple(drv.BackupDisk(s.get_one(StoragePool, v.pool_id).uuid, v.uuid, names[v.uuid]) for v in vols)
        pools = {v.pool_id: s.get_one(StoragePool, v.pool_id) for v in vols}
        backup = Backup(name=name or backup_name(vm, when), description=description, vm_id=vm.id,
                        account_id=vm.account_id, domain_id=vm.domain_id, zone_id=vm.zone_id,
                        backup_offering_id=offering.id, external_id=path, status="BackingUp",
                        protected_size=sum(v.size for v in vols if v.state == "Ready"), interval_type=interval,
                        volumes_json=json.dumps(volumes_info(s, vm, names)),
                        details_json=json.dumps(_vm_details(s, vm)))
        s.add(backup)
        s.flush()
        backup_id, vm_uuid, running = backup.id, vm.uuid, vm.state == "Running"
    target = os.path.join(repository_dir(runtime, repo), path)
    try:
        d = driver_for(runtime, host)
        for pool in pools.values():
            d.ensure_pool(pool_spec(pool))
        sizes = d.backup_disks(vm_uuid if running else None, target, disks)
    except DriverError as exc:
        with tx(runtime) as s:
            s.delete(s.get_one(Backup, backup_id))
        raise InternalError(f"Failed to create VM backup: {exc}") from None
    with tx(runtime) as s:
        b = s.get_one(Backup, backup_id)
        b.status, b.size, b.created = "BackedUp", sum(sizes.values()), utcnow()
    return backup_id


def _vm_details(session: Session, vm: VirtualMachine) -> dict[str, str]:
    so = session.get(ServiceOffering, vm.service_offering_id)
    vols = _vm_volumes(session, vm)
    dos = [session.get(DiskOffering, v.disk_offering_id) if v.disk_offering_id else None for v in vols]
    details = {"serviceofferingid": so.uuid if so else "", "templateid": "", "hypervisor": vm.hypervisor_type or "",
               "diskofferingids": ",".join(d.uuid if d else "" for d in dos),
               "disksizes": ",".join(str(v.size) for v in vols),
               "deviceids": ",".join(str(v.device_id or 0) for v in vols)}
    from management.models.storage import Template

    t = session.get(Template, vm.template_id) if vm.template_id else None
    details["templateid"] = t.uuid if t else ""
    return details


def backup_volumes(backup: Backup) -> list[dict[str, Any]]:
    return list(json.loads(backup.volumes_json or "[]"))


def _location(runtime: Runtime, session: Session, backup: Backup) -> str:
    offering = session.get_one(BackupOffering, backup.backup_offering_id)
    return os.path.join(repository_dir(runtime, repository_of(session, offering)), backup.external_id or "")


def restore(runtime: Runtime, backup_id: int) -> None:
    """restoreBackup: every volume of the (stopped) VM gets its backed-up content back."""
    with tx(runtime) as s:
        b = s.get_one(Backup, backup_id)
        validate_zone(s, b.zone_id)
        vm = s.get(VirtualMachine, b.vm_id)
        if vm is None:
            raise InternalError(f"VM ID {b.vm_id} couldn't be found on existing or removed VMs")
        if vm.removed is None and vm.state not in ("Stopped", "Destroyed"):
            raise InternalError("Existing VM should be stopped before being restored from backup")
        vols = _vm_volumes(s, vm)
        backed = sorted(backup_volumes(b), key=lambda v: v.get("deviceId") or 0)
        if len(vols) != len(backed):
            raise InternalError("Unable to restore VM with the current backup as the backup has different number of "
                                "disks as the VM")
        where = _location(runtime, s, b)
        plan = []
        for vol, info in zip(vols, backed, strict=True):
            d = driver_for_volume(runtime, s, vol)
            if d is None:
                raise InternalError(f"Error restoring VM from backup: no host can reach volume {vol.uuid}")
            plan.append((d, s.get_one(StoragePool, vol.pool_id).uuid, vol.id, vol.uuid, info))
    for d, pool_uuid, _vid, vol_uuid, info in plan:
        try:
            d.restore_disk(pool_uuid, vol_uuid, where, info["path"])
        except DriverError as exc:
            raise InternalError(f"Error restoring VM from backup [{b.uuid}]: {exc}") from None
    with tx(runtime) as s:
        for _d, _p, vid, _u, info in plan:
            s.get_one(Volume, vid).size = int(info.get("size") or 0) or s.get_one(Volume, vid).size


def restore_volume(runtime: Runtime, backup_id: int, volume_uuid: str, vm_id: int) -> int:
    """restoreVolumeFromBackupAndAttachToVM: a new data volume with the backed-up content, attached to the VM.
    Returns the new volume's id."""
    from management.services.storage import volumes as volumes_service

    with tx(runtime) as s:
        b = s.get_one(Backup, backup_id)
        validate_zone(s, b.zone_id)
        vm = s.get_one(VirtualMachine, vm_id)
        if b.zone_id != vm.zone_id:
            raise InternalError("Cross zone backup restoration of volume is not allowed")
        info = next((v for v in backup_volumes(b) if v["uuid"] == volume_uuid), None)
        if info is None:
            raise InternalError(f"Failed to find volume in the backedup volumes of ID {volume_uuid}")
        source = s.scalar(select(Volume).where(Volume.uuid == volume_uuid))
        pool = s.get(StoragePool, source.pool_id) if source is not None and source.pool_id else None
        if pool is None or pool.removed is not None:
            root = next((v for v in _vm_volumes(s, vm) if v.volume_type == "ROOT"), None)
            pool = s.get(StoragePool, root.pool_id) if root is not None and root.pool_id else None
        if pool is None:
            raise InternalError(f"Unable to find a storage pool to restore volume {volume_uuid} to")
        host_id = vm.host_id or vm.last_host_id
        host = s.get(Host, host_id) if host_id else None
        if host is None or host.status != "Up":
            raise InternalError("Unable to contact backend control plane to initiate backup")
        do = s.scalar(select(DiskOffering).where(DiskOffering.uuid == info.get("diskOfferingId"))) \
            if info.get("diskOfferingId") else None
        vol = Volume(name=f"RestoredVol-{source.name if source is not None else volume_uuid}",
                     account_id=vm.account_id, domain_id=vm.domain_id, zone_id=vm.zone_id, volume_type="DATADISK",
                     size=int(info.get("size") or 0), disk_offering_id=do.id if do else None, state="Allocated")
        s.add(vol)
        s.flush()
        where = _location(runtime, s, b)
        new_id, new_uuid = vol.id, vol.uuid
    try:
        d = driver_for(runtime, host)
        d.ensure_pool(pool_spec(pool))
        created = d.restore_disk(pool.uuid, new_uuid, where, info["path"], create=True)
    except DriverError as exc:
        with tx(runtime) as s:
            s.get_one(Volume, new_id).removed = utcnow()
        raise InternalError(f"Error restoring volume [{volume_uuid}] of VM [{vm.uuid}] to host [{host.uuid}] using "
                            f"backup provider [nas] due to: [{exc}].") from None
    with tx(runtime) as s:
        from management import fsm

        vol = s.get_one(Volume, new_id)
        vol.pool_id, vol.path, vol.size = pool.id, new_uuid, created.size_bytes
        fsm.transition(s, vol, fsm.VolumeEvent.CreateRequested)
        fsm.transition(s, vol, fsm.VolumeEvent.OperationSucceeded)
    volumes_service.attach(runtime, new_id, vm_id)
    return new_id


def delete(runtime: Runtime, backup_id: int, *, forced: bool = False) -> None:
    with tx(runtime) as s:
        b = s.get_one(Backup, backup_id)
        validate_zone(s, b.zone_id)
        vm = s.get(VirtualMachine, b.vm_id)
        host = None
        for hid in (vm.host_id, vm.last_host_id) if vm is not None else ():
            h = s.get(Host, hid) if hid else None
            if h is not None and h.status == "Up":
                host = h
                break
        if host is None:
            host = s.scalar(select(Host).where(Host.zone_id == b.zone_id, Host.status == "Up", Host.removed.is_(None),
                                               Host.hypervisor_type.in_(("KVM", "Simulator"))).limit(1))
        if host is None:
            raise InternalError("Unable to contact backend control plane to initiate backup")
        where = _location(runtime, s, b)
    try:
        driver_for(runtime, host).delete_backup(where)
    except DriverError as exc:
        if not forced:
            raise driver_error("delete", f"backup {b.uuid}", exc) from None
    with tx(runtime) as s:
        s.get_one(Backup, backup_id).removed = utcnow()


# ------------------------------------------------------------------------------------------------ schedules

def configure_schedule(session: Session, vm: VirtualMachine, interval: str, schedule: str, timezone: str,
                       max_backups: int | None, quiesce: bool | None, now: datetime) -> BackupSchedule:
    kind = (interval or "").upper()
    if kind not in MAX_PER_INTERVAL:
        raise InternalError("Invalid interval type provided")
    validate_zone(session, vm.zone_id)
    offering = vm_offering(session, vm)
    if offering is None:
        raise InternalError("Cannot configure backup schedule for the VM without having any backup offering")
    if max_backups is not None and max_backups <= 0:
        raise ParamError(f"maxBackups [{max_backups}] for instance {vm.name} should be greater than 0.")
    if max_backups is not None and max_backups > MAX_PER_INTERVAL[kind]:
        raise ParamError(f"maxBackups [{max_backups}] for instance {vm.name} exceeds limit "
                         f"[{MAX_PER_INTERVAL[kind]}] for interval type [{kind}].")
    if not offering.user_driven_backup:
        raise InternalError("The selected backup offering does not allow user-defined backup schedule")
    if max_backups is None:
        raise InternalError("Please specify the maximum number of buckets to retain.")
    tz = cron.zone_id(timezone)
    try:
        nxt = cron.interval_schedule(kind, schedule).next_after(now, tz)
    except cron.CronError:
        raise ParamError(f"Invalid schedule: {schedule} for interval type: {kind}") from None
    row = session.scalar(select(BackupSchedule).where(BackupSchedule.vm_id == vm.id,
                                                      BackupSchedule.schedule_type == kind))
    if row is None:
        row = BackupSchedule(vm_id=vm.id, schedule_type=kind)
        session.add(row)
    row.schedule, row.timezone, row.scheduled_timestamp = schedule, tz, nxt
    row.max_backups, row.quiesce_vm = max_backups, bool(quiesce)
    session.flush()
    return row


def run_schedules(runtime: Runtime, now: datetime) -> None:
    queue_schedules(runtime, now)


def queue_schedules(runtime: Runtime, now: datetime) -> int:
    """The scheduler task: finishes the schedules whose backup job ended (interval type, retention, next time),
    then queues a createBackup job for every schedule that is due."""
    queued = 0
    with runtime.db.session(write=False) as s:
        ids = [r.id for r in s.scalars(select(BackupSchedule))]
    for sid in ids:
        try:
            if _one_schedule(runtime, sid, now):
                queued += 1
        except CloudError as exc:
            log.warning("backup schedule %s: %s", sid, exc.text)
    return queued


def _one_schedule(runtime: Runtime, sid: int, now: datetime) -> bool:
    done: tuple[int, str, int | None, datetime, datetime] | None = None
    with tx(runtime) as s:
        sch = s.get(BackupSchedule, sid)
        if sch is None:
            return False
        if sch.async_job_id is not None:
            job = s.get(AsyncJob, sch.async_job_id)
            if job is not None and job.status == 0:
                return False  # still running
            if job is not None:
                done = (sch.vm_id, sch.schedule_type, sch.max_backups, job.created, job.completed or now)
            sch.async_job_id = None
            sch.scheduled_timestamp = cron.interval_schedule(sch.schedule_type, sch.schedule).next_after(
                now, sch.timezone)
    if done is not None:
        _after_scheduled_backup(runtime, *done)
        return False
    with tx(runtime) as s:
        sch = s.get_one(BackupSchedule, sid)
        if sch.scheduled_timestamp is None or sch.scheduled_timestamp > now:
            return False
        vm = s.get(VirtualMachine, sch.vm_id)
        offering = vm_offering(s, vm) if vm is not None and vm.removed is None else None
        if vm is None or offering is None:
            s.delete(sch)
            return False
        acct = s.get(Account, vm.account_id)
        if not offering.user_driven_backup or acct is None or acct.state != "enabled":
            return False
        try:
            validate_zone(s, vm.zone_id)
        except CloudError:
            return False
        job = scheduling.submit_job(s, "createBackup", {"virtualmachineid": vm.uuid}, account_id=vm.account_id,
                                    domain_id=vm.domain_id, instance_type="VirtualMachine", instance_uuid=vm.uuid,
                                    msid=runtime.msid)
        sch.async_job_id = job.id
        return True


def _after_scheduled_backup(runtime: Runtime, vm_id: int, kind: str, max_backups: int | None, started: datetime,
                            ended: datetime) -> None:
    """The backup a scheduled job made carries the schedule's interval type; the oldest ones beyond the
    schedule's maxbackups are deleted."""
    interval = INTERVALS.index(kind)
    with tx(runtime) as s:
        for b in s.scalars(select(Backup).where(Backup.vm_id == vm_id, Backup.removed.is_(None),
                                                Backup.created >= started - timedelta(seconds=1),
                                                Backup.created <= ended + timedelta(seconds=1),
                                                Backup.interval_type == MANUAL)):
            b.interval_type = interval
        if max_backups is None:
            return
        rows = list(s.scalars(select(Backup.id).where(Backup.vm_id == vm_id, Backup.removed.is_(None),
                                                      Backup.interval_type == interval)
                              .order_by(Backup.created, Backup.id)))
    for old in rows[:max(len(rows) - max_backups, 0)]:
        try:
            delete(runtime, old)
        except CloudError as exc:
            log.warning("retention: deleting backup %s failed: %s", old, exc.text)


def count_backups(session: Session, offering_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Backup).where(
        Backup.backup_offering_id == offering_id, Backup.removed.is_(None))) or 0


def check_vm_stopped_for_restore(vm: VirtualMachine) -> None:
    if vm.removed is not None:
        raise InternalError("The VM could not be found")
    if vm.state != "Stopped":
        raise InvalidStateTransition("The VM should be in stopped state")


scheduling.register("backup_schedules", run_schedules)
