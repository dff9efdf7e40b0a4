"""Volumes that change hands: files of a primary pool this server did not create (listVolumesForImport,
importVolume), volumes it stops managing (unmanageVolume), volumes given to another account (assignVolume),
and the image check of a volume (checkVolume)."""

from __future__ import annotations

import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from management import fsm, placement
from management.db.base import utcnow
from management.drivers import base as drv
from management.drivers.errors import DriverError
from management.errors import InternalError, InvalidStateTransition, ParamError
from management.fsm import VolumeEvent
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import Host, StoragePool
from management.models.storage import Snapshot, Template, TemplatePoolRef, Volume
from management.services.hypervisors import driver_error, driver_for, driver_for_volume, hosts_with_pool, tx
from management.services.infra.hosts import pool_spec
from management.services.runtime import Runtime

HIDDEN_PREFIXES = (".", "snap-", "cfg-")


def pool_driver(runtime: Runtime, session: Session, pool: StoragePool) -> drv.HypervisorDriver:
    for host in hosts_with_pool(session, pool):
        if host.status != "Up":
            continue
        try:
            d = driver_for(runtime, host)
            d.ensure_pool(pool_spec(pool))
            return d
        except DriverError:
            continue
    raise InternalError(f"No host in Up state can reach storage pool {pool.name}")


def managed_names(session: Session, pool: StoragePool) -> set[str]:
    names = set()
    for v in session.scalars(select(Volume).where(Volume.pool_id == pool.id, Volume.removed.is_(None))):
        names.update({v.uuid, v.path or v.uuid})
    for ref in session.scalars(select(TemplatePoolRef).where(TemplatePoolRef.pool_id == pool.id)):
        t = session.get(Template, ref.template_id)
        if t is not None:
            names.add(t.uuid)
    return names


def unmanaged(runtime: Runtime, session: Session, pool: StoragePool, path: str | None = None) -> list[drv.VolumeInfo]:
    known = managed_names(session, pool)
    infos = pool_driver(runtime, session, pool).list_volumes(pool.uuid)
    names = [i.uuid for i in infos]
    known.update(session.scalars(select(Template.uuid).where(Template.uuid.in_(names))))  # template copies
    out = []
    for info in infos:
        if info.uuid in known or info.uuid.startswith(HIDDEN_PREFIXES):
            continue
        if path and info.uuid != path and os.path.basename(path) != info.uuid:
            continue
        out.append(info)
    return sorted(out, key=lambda i: i.uuid)


def import_volume(runtime: Runtime, pool_id: int, path: str, *, owner: Account, name: str | None,
                  disk_offering_id: int | None) -> int:
    with tx(runtime) as s:
        pool = s.get_one(StoragePool, pool_id)
        if pool.status != "Up":
            raise InvalidStateTransition(f"Storage pool {pool.name} is not Up")
        file_name = os.path.basename(path.rstrip("/"))
        found = [i for i in unmanaged(runtime, s, pool) if i.uuid == file_name]
        if not found:
            if file_name in managed_names(s, pool):
                raise ParamError(f"Volume {path} is already managed by CloudStack")
            raise ParamError(f"Volume {path} does not exist on storage pool {pool.name}")
        info = found[0]
        vol = Volume(name=name or file_name, account_id=owner.id, domain_id=owner.domain_id, zone_id=pool.zone_id,
                     volume_type="DATADISK", size=info.size_bytes, disk_offering_id=disk_offering_id,
                     format=info.format.upper(), state="Allocated")
        s.add(vol)
        s.flush()
        vol_id, vol_uuid = vol.id, vol.uuid
        d = pool_driver(runtime, s, pool)
    try:
        adopted = d.adopt_volume(pool.uuid, file_name, vol_uuid)
    except DriverError as exc:
        with tx(runtime) as s:
            s.get_one(Volume, vol_id).removed = utcnow()
        raise driver_error("import", f"volume {path}", exc) from None
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        vol.pool_id, vol.path, vol.size = pool_id, vol_uuid, adopted.size_bytes
        fsm.transition(s, vol, VolumeEvent.CreateRequested)
        fsm.transition(s, vol, VolumeEvent.OperationSucceeded)
        s.get_one(StoragePool, pool_id).allocated_bytes += adopted.size_bytes
    return vol_id


def unmanage(session: Session, vol: Volume) -> None:
    if vol.instance_id is not None:
        raise ParamError(f"Volume {vol.uuid} is attached to a VM; detach it before unmanaging it")
    if vol.state != "Ready" or vol.pool_id is None:
        raise InvalidStateTransition(f"Volume {vol.uuid} is not in Ready state but {vol.state}")
    if session.scalar(select(Snapshot.id).where(Snapshot.volume_id == vol.id, Snapshot.removed.is_(None))):
        raise ParamError(f"Volume {vol.uuid} has snapshots; delete them before unmanaging it")
    placement.release_pool(session, vol.pool_id, vol.size)
    vol.removed = utcnow()


def assign(session: Session, vol: Volume, account: Account) -> None:
    if vol.instance_id is not None:
        raise ParamError(f"Volume [{vol.uuid}] is attached to a VM; it cannot be assigned to another account")
    if vol.volume_type != "DATADISK":
        raise ParamError(f"Volume [{vol.uuid}] of type [{vol.volume_type}] cannot be assigned; only data volumes "
                         "can")
    if vol.state not in ("Allocated", "Ready", "Uploaded"):
        raise InvalidStateTransition(f"Volume [{vol.uuid}] is in state [{vol.state}]; it cannot be assigned")
    if account.id == vol.account_id:
        raise ParamError(f"Volume [{vol.uuid}] already belongs to account [{account.name}]")
    vol.account_id, vol.domain_id = account.id, account.domain_id
    for snap in session.scalars(select(Snapshot).where(Snapshot.volume_id == vol.id, Snapshot.removed.is_(None))):
        snap.account_id, snap.domain_id = account.id, account.domain_id


def check(runtime: Runtime, vol_id: int, repair: str | None) -> tuple[dict[str, object], dict[str, object] | None]:
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        vm = s.get(VirtualMachine, vol.instance_id) if vol.instance_id else None
        hv = vm.hypervisor_type if vm is not None else None
        if vol.pool_id is None or vol.state != "Ready":
            raise InvalidStateTransition(f"Volume {vol.uuid} is not in Ready state but {vol.state}")
        pool = s.get_one(StoragePool, vol.pool_id)
        if hv is None:
            host = next(iter(hosts_with_pool(s, pool)), None)
            hv = host.hypervisor_type if isinstance(host, Host) else None
        if hv not in ("KVM", "Simulator"):
            raise ParamError("Check and Repair volumes is supported only for KVM hypervisor")
        if (vol.format or "QCOW2").upper() not in ("QCOW2", "VDI"):
            raise ParamError("Volume format is not supported for checking and repair")
        if vm is not None and vm.state != "Stopped":
            raise InvalidStateTransition(f"Volume {vol.uuid} is attached to VM {vm.uuid} in state {vm.state}; check "
                                         "and repair needs the VM stopped")
        d = driver_for_volume(runtime, s, vol)
        vol_uuid = vol.uuid
    if d is None:
        raise InternalError(f"No host can reach volume {vol_uuid}")
    try:
        return d.check_volume(pool.uuid, vol_uuid, repair)
    except DriverError as exc:
        raise driver_error("check and repair", f"volume {vol_uuid}", exc) from None
