"""Volumes: create (Allocated until first attach, like CloudStack), attach, detach, resize, delete."""

from __future__ import annotations

import contextlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management import fsm, placement
from management.db.base import utcnow
from management.drivers.errors import DriverError, VolumeNotFound
from management.errors import InvalidStateTransition, ParamError, ResourceInUse, ResourceUnavailable
from management.fsm import VolumeEvent
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import Host, StoragePool, Zone
from management.models.offerings import DiskOffering
from management.models.storage import Snapshot, Volume
from management.services import limits
from management.services.hypervisors import GiB, driver_error, driver_for, driver_for_volume, tx
from management.services.infra.hosts import pool_spec
from management.services.runtime import Runtime
from management.services.storage import snapshot_policies, transfers

MAX_DATA_DISKS = 14  # CloudStack's default for KVM (device ids 1..15 minus the CD-ROM slot 3)


def create(session: Session, owner: Account, zone: Zone, *, name: str | None, offering: DiskOffering | None,
           size_gb: int | None, snapshot: Snapshot | None = None) -> Volume:
    if offering is None and snapshot is None:
        raise ParamError("Either disk offering id or snapshot id must be passed whilst creating volume")
    if offering is not None:
        if offering.customized:
            if not size_gb or size_gb <= 0:
                raise ParamError("This disk offering requires a custom size specified")
            size = int(size_gb) * GiB
        else:
            if size_gb:
                raise ParamError("This disk offering does not allow custom size")
            size = offering.disk_size
    else:
        assert snapshot is not None
        size = session.get_one(Volume, snapshot.volume_id).size
    limits.check(session, owner, {"volume": 1, "primary_storage": size})
    vol = Volume(name=name or "", account_id=owner.id, domain_id=owner.domain_id, zone_id=zone.id,
                 volume_type="DATADISK", size=size, disk_offering_id=offering.id if offering else None,
                 provisioning_type=offering.provisioning_type if offering else "thin")
    session.add(vol)
    session.flush()
    if not name:
        vol.name = f"DATA-{vol.id}"
    return vol


def _next_device_id(session: Session, vm: VirtualMachine) -> int:
    used = set(session.scalars(select(Volume.device_id).where(Volume.instance_id == vm.id,
                                                              Volume.removed.is_(None))))
    for i in range(1, 16):
        if i != 3 and i not in used:
            return i
    raise ResourceUnavailable(f"VM {vm.uuid} has no free device slot for another volume")


def attach(runtime: Runtime, vol_id: int, vm_id: int, device_id: int | None = None) -> None:
    with tx(runtime) as s:
        vol, vm = s.get_one(Volume, vol_id), s.get_one(VirtualMachine, vm_id)
        if vol.instance_id == vm.id:
            return  # attaching twice is a no-op
        if vol.volume_type == "ROOT":
            raise ParamError("Can't attach a ROOT volume")
        if vol.instance_id is not None:
            raise ResourceInUse(f"Volume {vol.uuid} is already attached to another VM; detach it first")
        if vol.state not in ("Allocated", "Ready", "Uploaded"):
            raise InvalidStateTransition(f"Unable to attach volume in state {vol.state}")
        if vm.state not in ("Running", "Stopped"):
            raise InvalidStateTransition(f"Unable to attach a volume to VM in state {vm.state}")
        if vol.zone_id != vm.zone_id:
            raise ParamError("Please specify a VM that is in the same zone as the volume")
        count = s.scalar(select(func.count()).select_from(Volume).where(
            Volume.instance_id == vm.id, Volume.volume_type == "DATADISK", Volume.removed.is_(None)))
        if (count or 0) >= MAX_DATA_DISKS:
            raise ResourceUnavailable(f"Maximum number of data disks ({MAX_DATA_DISKS}) reached for VM {vm.uuid}")
        if device_id is not None and (device_id < 1 or device_id == 3 or device_id > 15):
            raise ParamError(f"deviceId {device_id} is invalid: it must be 1, 2 or 4..15")
        dev = device_id or _next_device_id(s, vm)
        host_id = vm.host_id or vm.last_host_id
        if host_id is None:
            if vol.state == "Uploaded":
                raise InvalidStateTransition(f"Unable to attach uploaded volume {vol.uuid} to VM {vm.uuid} that "
                                             "never ran: start the VM first")
            # The VM never ran: record the attachment; the volume is created when the VM starts.
            vol.instance_id, vol.device_id, vol.attached = vm.id, dev, utcnow()
            return
        host = s.get_one(Host, host_id)
        zone = s.get_one(Zone, vm.zone_id)
        created_pool = None
        uploaded = transfers.uploaded_source(s, vol) if vol.state == "Uploaded" else None  # first attach: import it
        if uploaded:
            created_pool = placement.choose_pool(s, zone, vol.size, cluster_id=host.cluster_id, host_id=host.id,
                                                 tags=None, what=f"volume {vol.name}")
            vol.pool_id = created_pool.id
            fsm.transition(s, vol, VolumeEvent.CopyRequested)
        elif vol.state == "Allocated":
            tags = s.get_one(DiskOffering, vol.disk_offering_id).tags if vol.disk_offering_id else None
            created_pool = placement.choose_pool(s, zone, vol.size, cluster_id=host.cluster_id, host_id=host.id,
                                                 tags=tags, what=f"volume {vol.name}")
            vol.pool_id = created_pool.id
            fsm.transition(s, vol, VolumeEvent.CreateRequested)
        else:
            fsm.transition(s, vol, VolumeEvent.AttachRequested)
        pool = s.get_one(StoragePool, vol.pool_id)
        vm_uuid, vol_uuid, size = vm.uuid, vol.uuid, vol.size
    try:
        d = driver_for(runtime, host)
        d.ensure_pool(pool_spec(pool))
        if uploaded:
            d.import_volume(pool.uuid, vol_uuid, uploaded)
        elif created_pool is not None:
            d.create_volume(pool.uuid, vol_uuid, size)
        if d.get_domain(vm_uuid) is not None:
            d.attach_volume(vm_uuid, pool.uuid, vol_uuid, dev)
    except DriverError as exc:
        with tx(runtime) as s:
            vol = s.get_one(Volume, vol_id)
            fsm.transition(s, vol, VolumeEvent.OperationFailed)
            if created_pool is not None:
                placement.release_pool(s, created_pool.id, size)
                vol.pool_id = None
        if created_pool is not None:
            with contextlib.suppress(DriverError):
                d.delete_volume(pool.uuid, vol_uuid)
        if isinstance(exc, VolumeNotFound):
            raise ResourceUnavailable(f"Volume {vol_uuid} is not reachable from the VM's host {host.name}; it "
                                      "lives on storage that host cannot see") from None
        raise driver_error("attach", f"volume {vol_uuid}", exc) from None
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        if created_pool is not None:
            vol.path = vol.uuid
        fsm.transition(s, vol, VolumeEvent.OperationSucceeded)
        vol.instance_id, vol.device_id, vol.attached = vm_id, dev, utcnow()


def create_on_primary(runtime: Runtime, vol_id: int) -> None:
    """Creates the disk of an Allocated (never attached) volume on primary storage, detached: it becomes Ready.

    CloudStack creates a data volume's disk only on its first attach; an EC2 volume exists (and can be snapshotted)
    from CreateVolume on. The pool is one the zone's first Up host reaches, so a later attach there needs no copy."""
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        if vol.state != "Allocated" or vol.pool_id is not None:
            return
        zone = s.get_one(Zone, vol.zone_id)
        host = s.scalar(select(Host).where(Host.zone_id == zone.id, Host.removed.is_(None), Host.type == "Routing",
                                           Host.status == "Up").order_by(Host.id).limit(1))
        if host is None:
            raise ResourceUnavailable(f"No host is Up in zone {zone.name} to create volume {vol.uuid} on")
        tags = s.get_one(DiskOffering, vol.disk_offering_id).tags if vol.disk_offering_id else None
        pool = placement.choose_pool(s, zone, vol.size, cluster_id=host.cluster_id, host_id=host.id, tags=tags,
                                     what=f"volume {vol.name}")
        vol.pool_id = pool.id
        fsm.transition(s, vol, VolumeEvent.CreateRequested)
        vol_uuid, size = vol.uuid, vol.size
    try:
        d = driver_for(runtime, host)
        d.ensure_pool(pool_spec(pool))
        d.create_volume(pool.uuid, vol_uuid, size)
    except DriverError as exc:
        with tx(runtime) as s:
            vol = s.get_one(Volume, vol_id)
            fsm.transition(s, vol, VolumeEvent.OperationFailed)
            placement.release_pool(s, pool.id, size)
            vol.pool_id = None
        raise driver_error("create", f"volume {vol_uuid}", exc) from None
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        vol.path = vol.uuid
        fsm.transition(s, vol, VolumeEvent.OperationSucceeded)


def detach(runtime: Runtime, vol_id: int, *, force_db: bool = False) -> None:
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        if vol.instance_id is None:
            return
        if vol.volume_type == "ROOT" and not force_db:
            raise ParamError("Please specify a volume that is not the ROOT volume of the VM")
        vm = s.get_one(VirtualMachine, vol.instance_id)
        if vm.state not in ("Running", "Stopped", "Destroyed") and not force_db:
            raise InvalidStateTransition(f"Unable to detach a volume from VM in state {vm.state}")
        host_id = vm.host_id or vm.last_host_id
        host = s.get_one(Host, host_id) if host_id and vol.pool_id else None
        vm_uuid, vol_uuid = vm.uuid, vol.uuid
    if host is not None:
        try:
            d = driver_for(runtime, host)
            if d.get_domain(vm_uuid) is not None:
                d.detach_volume(vm_uuid, vol_uuid)
        except DriverError as exc:
            raise driver_error("detach", f"volume {vol_uuid}", exc) from None
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        vol.instance_id, vol.device_id, vol.attached = None, None, None


def resize(runtime: Runtime, vol_id: int, new_size: int, *, shrink_ok: bool = False,
           offering: DiskOffering | None = None) -> None:
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        if new_size < vol.size and not shrink_ok:
            raise ParamError(f"Going from existing size of {vol.size} to size of {new_size} would shrink the volume. "
                             "Need to sign off by supplying the shrinkok parameter with value of true.")
        if vol.state == "Allocated":
            vol.size = new_size
            if offering is not None:
                vol.disk_offering_id = offering.id
            return
        delta = new_size - vol.size
        pool = s.get_one(StoragePool, vol.pool_id)
        zone = s.get_one(Zone, vol.zone_id)
        factor, threshold = placement.storage_factors(s, zone)
        if delta > 0 and not placement.claim_pool(s, pool, delta, placement.pool_capacity(pool, factor, threshold)):
            raise ResourceUnavailable(f"Storage pool {pool.name} has not enough space to resize volume {vol.uuid}")
        fsm.transition(s, vol, VolumeEvent.ResizeRequested)
        d = driver_for_volume(runtime, s, vol)
        vol_uuid = vol.uuid
    try:
        if d is None:
            raise DriverError(f"no host can reach volume {vol_uuid}")
        d.resize_volume(pool.uuid, vol_uuid, new_size)
    except DriverError as exc:
        with tx(runtime) as s:
            vol = s.get_one(Volume, vol_id)
            fsm.transition(s, vol, VolumeEvent.OperationFailed)
            if delta > 0:
                placement.release_pool(s, pool.id, delta)
        raise driver_error("resize", f"volume {vol_uuid}", exc) from None
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        fsm.transition(s, vol, VolumeEvent.OperationSucceeded)
        if delta < 0:  # a shrink gives the space back once the hypervisor did it
            placement.release_pool(s, pool.id, -delta)
        vol.size = new_size
        if offering is not None:
            vol.disk_offering_id = offering.id


def delete(runtime: Runtime, vol_id: int) -> None:
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        if vol.removed is not None:
            return
        if vol.instance_id is not None:
            raise ResourceInUse(f"Please specify a volume that is not attached to any VM (volume {vol.uuid} is "
                                "attached)")
        if vol.volume_type == "ROOT":
            raise ParamError("Can't delete a ROOT volume; destroy its VM")
        if vol.state not in ("Allocated", "Ready", "Destroy", "Uploaded"):
            raise InvalidStateTransition(f"Unable to delete volume in state {vol.state}")
        if vol.state != "Destroy":
            fsm.transition(s, vol, VolumeEvent.DestroyRequested)
        d = driver_for_volume(runtime, s, vol) if vol.pool_id else None
        pool = s.get_one(StoragePool, vol.pool_id) if vol.pool_id else None
        vol_uuid = vol.uuid
    if d is not None and pool is not None:
        try:
            d.delete_volume(pool.uuid, vol_uuid)
        except DriverError as exc:
            raise driver_error("delete", f"volume {vol_uuid}", exc) from None
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        fsm.transition(s, vol, VolumeEvent.ExpungingRequested)
        fsm.transition(s, vol, VolumeEvent.OperationSucceeded)
        if vol.pool_id is not None:
            placement.release_pool(s, vol.pool_id, vol.size)
        vol.removed = utcnow()
        snapshot_policies.delete_for_volume(s, vol.id)
        for snap in s.scalars(select(Snapshot).where(Snapshot.volume_id == vol.id, Snapshot.removed.is_(None))):
            if snap.state != "Destroyed":
                fsm.transition(s, snap, fsm.SnapshotEvent.DestroyRequested)
                if snap.state == "Destroying":
                    fsm.transition(s, snap, fsm.SnapshotEvent.OperationSucceeded)
            snap.removed = utcnow()
