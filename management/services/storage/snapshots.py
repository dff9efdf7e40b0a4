"""Volume snapshots on primary storage: create, delete, revert (the volume returns to the snapshot's content)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.drivers.errors import DriverError
from management.errors import InvalidStateTransition, ParamError
from management.fsm import SnapshotEvent, VolumeEvent
from management.models.compute import VirtualMachine
from management.models.infra import StoragePool
from management.models.storage import Snapshot, Volume
from management.services.hypervisors import driver_error, driver_for_volume, tx
from management.services.runtime import Runtime
from management.services.storage import snapshot_copies


def allocate(session: Session, vol: Volume, name: str | None, *, interval: str = "MANUAL") -> Snapshot:
    """A snapshot row for ``vol``; ``interval`` HOURLY/DAILY/WEEKLY/MONTHLY marks a policy's (recurring) one."""
    if vol.state != "Ready" or vol.pool_id is None:
        raise InvalidStateTransition(f"VolumeId: {vol.uuid} is not in Ready state but {vol.state}. Cannot take "
                                     "snapshot.")  # CloudStack's text (VolumeApiServiceImpl.takeSnapshot)
    vm = session.get(VirtualMachine, vol.instance_id) if vol.instance_id else None
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    snap = Snapshot(name=name or f"{vm.name if vm else 'detached'}_{vol.name}_{stamp}", account_id=vol.account_id,
                    domain_id=vol.domain_id, zone_id=vol.zone_id, volume_id=vol.id, size=vol.size,
                    hypervisor_type=vm.hypervisor_type if vm else None, snapshot_type=interval,
                    interval_type=interval)
    session.add(snap)
    session.flush()
    return snap


def create(runtime: Runtime, snap_id: int) -> None:
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        vol = s.get_one(Volume, snap.volume_id)
        fsm.transition(s, vol, VolumeEvent.SnapshotRequested)
        fsm.transition(s, snap, SnapshotEvent.CreateRequested)
        d = driver_for_volume(runtime, s, vol)
        pool = s.get_one(StoragePool, vol.pool_id)
        vol_uuid, snap_uuid = vol.uuid, snap.uuid
    try:
        if d is None:
            raise DriverError(f"no host can reach volume {vol_uuid}")
        info = d.snapshot_volume(pool.uuid, vol_uuid, snap_uuid)
    except DriverError as exc:
        with tx(runtime) as s:
            fsm.transition(s, s.get_one(Volume, vol.id), VolumeEvent.OperationFailed)
            fsm.transition(s, s.get_one(Snapshot, snap_id), SnapshotEvent.OperationFailed)
        raise driver_error("create a snapshot of", f"volume {vol_uuid}", exc) from None
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        fsm.transition(s, s.get_one(Volume, vol.id), VolumeEvent.OperationSucceeded)
        fsm.transition(s, snap, SnapshotEvent.OperationSucceeded)  # CreatedOnPrimary
        fsm.transition(s, snap, SnapshotEvent.OperationNotPerformed)  # kept on primary: BackedUp
        snap.location = snap_uuid
        snap.physical_size = info.size_bytes


def delete(runtime: Runtime, snap_id: int) -> None:
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        if snap.removed is not None or snap.state == "Destroyed":
            return
        if snap.state in ("Creating", "BackingUp", "Copying"):
            raise InvalidStateTransition(f"Unable to delete snapshot in state {snap.state}")
        fsm.transition(s, snap, SnapshotEvent.DestroyRequested)
        vol = s.get_one(Volume, snap.volume_id)
        d = driver_for_volume(runtime, s, vol) if vol.removed is None else None
        pool = s.get_one(StoragePool, vol.pool_id) if vol.pool_id else None
        vol_uuid, snap_uuid = vol.uuid, snap.uuid
    if d is not None and pool is not None:
        try:
            d.delete_volume_snapshot(pool.uuid, vol_uuid, snap_uuid)
        except DriverError as exc:
            with tx(runtime) as s:
                fsm.transition(s, s.get_one(Snapshot, snap_id), SnapshotEvent.OperationFailed)
            raise driver_error("delete", f"snapshot {snap_uuid}", exc) from None
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        if snap.state == "Destroying":
            fsm.transition(s, snap, SnapshotEvent.OperationSucceeded)
        snap.removed = utcnow()
        snapshot_copies.remove_copies(s, snap)


def revert(runtime: Runtime, snap_id: int) -> None:
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        if snap.state != "BackedUp":
            raise InvalidStateTransition(f"Unable to revert to snapshot in state {snap.state}")
        vol = s.get_one(Volume, snap.volume_id)
        if vol.removed is not None:
            raise ParamError(f"The volume of snapshot {snap.uuid} no longer exists")
        if vol.instance_id is not None:
            vm = s.get_one(VirtualMachine, vol.instance_id)
            if vm.state != "Stopped":
                raise InvalidStateTransition(f"Unable to revert snapshot of a volume whose VM is {vm.state}: the VM "
                                             "must be Stopped")
        fsm.transition(s, vol, VolumeEvent.RevertSnapshotRequested)
        d = driver_for_volume(runtime, s, vol)
        pool = s.get_one(StoragePool, vol.pool_id)
        vol_id, vol_uuid, snap_uuid = vol.id, vol.uuid, snap.uuid
    try:
        if d is None:
            raise DriverError(f"no host can reach volume {vol_uuid}")
        d.revert_volume_snapshot(pool.uuid, vol_uuid, snap_uuid)
    except DriverError as exc:
        with tx(runtime) as s:
            fsm.transition(s, s.get_one(Volume, vol_id), VolumeEvent.OperationFailed)
        raise driver_error("revert", f"snapshot {snap_uuid}", exc) from None
    with tx(runtime) as s:
        fsm.transition(s, s.get_one(Volume, vol_id), VolumeEvent.OperationSucceeded)
