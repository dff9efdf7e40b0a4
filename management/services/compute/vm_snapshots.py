"""VM snapshots: every disk of a VM (and, for a running VM, optionally its memory) at one instant; revert puts the
VM back there; a volume snapshot can be cut from one (CloudStack's VMSnapshotManager and its KVM strategy).

Rules and texts follow CloudStack: memory only of a Running VM; a running KVM VM only with memory (unless
kvm.vmstoragesnapshot.enabled); at most vmsnapshot.max per VM; one snapshot task per VM at a time; a running VM
reverts only to a memory snapshot and a stopped one only to a disk snapshot. The hypervisor work goes through the
driver contract (snapshot_domain / revert_domain_snapshot / delete_domain_snapshot), whatever the hypervisor.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.drivers.base import Capability
from management.drivers.errors import DriverError, GuestAgentUnavailable
from management.errors import CloudError, InternalError, ParamError
from management.fsm import SnapshotEvent, VMSnapshotEvent
from management.models.compute import VirtualMachine
from management.models.infra import Host, StoragePool
from management.models.storage import Snapshot, Volume
from management.models.vm_snapshots import VMSnapshot
from management.services import configuration
from management.services.hypervisors import driver_for, tx
from management.services.runtime import Runtime

configuration.register("vmsnapshot.max", "10", "Advanced", "Maximum vm snapshots for a single vm")
configuration.register("kvm.vmstoragesnapshot.enabled", "false", "Snapshots", "For live snapshot of virtual machine "
                       "instance on KVM hypervisor without memory. Requires qemu version 1.6+ (on NFS or Local file "
                       "system) and qemu-guest-agent installed on guest VM", scope="zone")
ACTIVE = ("Creating", "Expunging", "Reverting", "Allocated")  # a snapshot task runs on the VM
DISK, DISK_AND_MEMORY = "Disk", "DiskAndMemory"


def _host_of(session: Session, vm: VirtualMachine) -> Host | None:
    hid = vm.host_id or vm.last_host_id
    return session.get(Host, hid) if hid else None


def _setting(session: Session, name: str, default: str) -> str:
    return (configuration.get(session, name, default) or default).strip()


def has_active_tasks(session: Session, vm_id: int) -> bool:
    return session.scalar(select(VMSnapshot.id).where(VMSnapshot.vm_id == vm_id, VMSnapshot.removed.is_(None),
                                                      VMSnapshot.state.in_(ACTIVE)).limit(1)) is not None


def allocate(runtime: Runtime, session: Session, vm: VirtualMachine, *, name: str | None, description: str | None,
             memory: bool) -> VMSnapshot:
    """The create phase of createVMSnapshot: checks, then an Allocated row."""
    if name is not None and len(name) > 255:
        raise ParamError("Creating Instance Snapshot failed due to length of Instance Snapshot vsDisplayName should "
                         "not exceed 255")
    if description is not None and len(description) > 255:
        raise ParamError("Creating Instance Snapshot failed due to length of Instance Snapshot vsDescription should "
                         "not exceed 255")
    snap_name = f"{vm.instance_name}_VS_{utcnow().strftime('%Y%m%d%H%M%S')}"
    display = name or snap_name
    if session.scalar(select(VMSnapshot.id).where(VMSnapshot.vm_id == vm.id, VMSnapshot.display_name == display,
                                                  VMSnapshot.removed.is_(None))) is not None:
        raise ParamError(f"Creating Instance Snapshot failed because Instance Snapshot with name{display}  already "
                         "exists")
    if vm.state not in ("Running", "Stopped"):
        raise ParamError(f"Creating Instance Snapshot failed because Instance:{vm.uuid} is not in Running or Stopped "
                         "state")
    if memory and vm.state != "Running":
        raise ParamError("Can not Snapshot memory when the Instance is not in Running state")
    root = session.scalar(select(Volume).where(Volume.instance_id == vm.id, Volume.volume_type == "ROOT",
                                               Volume.state == "Ready", Volume.removed.is_(None)))
    if root is None or root.pool_id is None:
        raise InternalError(f"Unable to find root volume for the user Instance:{vm.uuid}")
    host = _host_of(session, vm)
    if host is not None:
        d = driver_for(runtime, host)
        if not d.supports(Capability.VM_SNAPSHOT) or (memory and not d.supports(Capability.VM_SNAPSHOT_MEMORY)):
            raise ParamError(f"Instance Snapshot is not enabled for hypervisor type: {vm.hypervisor_type}")
    if (vm.hypervisor_type or "").upper() == "KVM" and vm.state == "Running" and not memory \
            and _setting(session, "kvm.vmstoragesnapshot.enabled", "false").lower() != "true":
        raise InternalError("Creating a snapshot of a running KVM Instance without memory is not supported")
    limit = int(float(_setting(session, "vmsnapshot.max", "10")))
    count = len(session.scalars(select(VMSnapshot.id).where(VMSnapshot.vm_id == vm.id,
                                                            VMSnapshot.removed.is_(None))).all())
    if count >= limit:
        raise InternalError(f"Creating Instance Snapshot failed due to a Instance can just have : {limit} Instance "
                            "Snapshots. Please delete old ones")
    if has_active_tasks(session, vm.id):
        raise InternalError("There are other active Instance Snapshot tasks on the Instance, please try again later")
    snap = VMSnapshot(name=snap_name, display_name=display, description=description, vm_id=vm.id,
                      account_id=vm.account_id, domain_id=vm.domain_id,
                      snapshot_type=DISK_AND_MEMORY if memory and vm.state == "Running" else DISK,
                      service_offering_id=vm.service_offering_id, hypervisor_type=vm.hypervisor_type)
    session.add(snap)
    session.flush()
    return snap


def _current(session: Session, vm_id: int) -> VMSnapshot | None:
    return session.scalar(select(VMSnapshot).where(VMSnapshot.vm_id == vm_id, VMSnapshot.current.is_(True),
                                                   VMSnapshot.removed.is_(None)))


def _make_current(session: Session, snap: VMSnapshot) -> None:
    session.execute(update(VMSnapshot).where(VMSnapshot.vm_id == snap.vm_id, VMSnapshot.id != snap.id)
                    .values(current=False).execution_options(synchronize_session=False))
    snap.current = True


def create(runtime: Runtime, snap_id: int, *, quiesce: bool = False) -> None:
    with tx(runtime) as s:
        snap = s.get_one(VMSnapshot, snap_id)
        vm = s.get_one(VirtualMachine, snap.vm_id)
        host = _host_of(s, vm)
        if host is None:
            raise InternalError(f"Create Instance to Snapshot failed because no root disk was found for {vm.uuid}")
        fsm.transition(s, snap, VMSnapshotEvent.CreateRequested)
        parent = _current(s, vm.id)
        snap.parent_id = parent.id if parent is not None else None
        vm_uuid, instance, snap_uuid, name = vm.uuid, vm.instance_name, snap.uuid, snap.name
        memory = snap.snapshot_type == DISK_AND_MEMORY
    try:
        driver_for(runtime, host).snapshot_domain(vm_uuid, snap_uuid, memory=memory, quiesce=quiesce)
    except DriverError as exc:
        with tx(runtime) as s:
            fsm.transition(s, s.get_one(VMSnapshot, snap_id), VMSnapshotEvent.OperationFailed)
        reason = str(exc)
        if isinstance(exc, GuestAgentUnavailable):  # CloudStack's KVM freeze failure, through its strategy
            reason = f"Could not freeze VM.Failed to freeze VM - {instance} due to {exc.reason}"
        raise InternalError(f"Failed to create Instance Snapshot: {name} due to: {reason}") from None
    with tx(runtime) as s:
        snap = s.get_one(VMSnapshot, snap_id)
        fsm.transition(s, snap, VMSnapshotEvent.OperationSucceeded)
        _make_current(s, snap)


def check_revert(session: Session, snap: VMSnapshot, vm: VirtualMachine) -> None:
    if has_active_tasks(session, vm.id):
        raise ParamError("There are other active Instance Snapshot tasks on the Instance, please try again later")
    if vm.state not in ("Running", "Stopped"):
        raise ParamError("Instance Snapshot reverting failed because the Instance is not in Running or Stopped state.")
    if vm.state == "Stopped" and snap.snapshot_type == DISK_AND_MEMORY:
        raise ParamError("Reverting to the Instance Snapshot is not allowed for stopped Instances when the Snapshot "
                         "contains memory as this would result in an Instance state change. In order to revert to a "
                         "Snapshot with memory you need to first start the Instance.")
    if snap.state != "Ready":
        raise ParamError("Instance Snapshot reverting failed because the Instance Snapshot is not in Created state.")


def revert(runtime: Runtime, snap_id: int) -> None:
    """Disks (and memory) back to the snapshot. A disk-only snapshot of a Running VM: the VM is powered off, its
    disks go back, and it starts again from them (CloudStack 4.22 refuses this revert with 431 and older versions
    left the VM stopped; devcloud does the revert the client asked for and keeps the VM running)."""
    with tx(runtime) as s:
        snap = s.get_one(VMSnapshot, snap_id)
        vm = s.get_one(VirtualMachine, snap.vm_id)
        check_revert(s, snap, vm)
        power_off = vm.state == "Running" and snap.snapshot_type == DISK
        vm_id = vm.id
    if power_off:
        from management.services.compute import vm as vm_service

        vm_service.stop(runtime, vm_id, forced=True)
    with tx(runtime) as s:
        snap = s.get_one(VMSnapshot, snap_id)
        vm = s.get_one(VirtualMachine, snap.vm_id)
        host = _host_of(s, vm)
        assert host is not None  # a Ready snapshot was taken on a host
        fsm.transition(s, snap, VMSnapshotEvent.RevertRequested)
        vm_uuid, snap_uuid, name = vm.uuid, snap.uuid, snap.name
    try:
        driver_for(runtime, host).revert_domain_snapshot(vm_uuid, snap_uuid)
    except DriverError as exc:
        with tx(runtime) as s:
            fsm.transition(s, s.get_one(VMSnapshot, snap_id), VMSnapshotEvent.OperationFailed)
        raise InternalError(f"Revert Instance to Snapshot: {name} failed due to {exc}") from None
    with tx(runtime) as s:
        snap = s.get_one(VMSnapshot, snap_id)
        fsm.transition(s, snap, VMSnapshotEvent.OperationSucceeded)
        _make_current(s, snap)
    if power_off:
        from management.services.compute import vm as vm_service

        vm_service.start(runtime, vm_id)


def delete(runtime: Runtime, snap_id: int) -> None:
    with tx(runtime) as s:
        snap = s.get_one(VMSnapshot, snap_id)
        if snap.state not in ("Ready", "Expunging", "Error", "Allocated"):
            raise ParamError(f"Can't delete the Instance Snapshot {snap.name} due to it is not in [Ready, Expunging, "
                             "Error, Allocated]States")
        if has_active_tasks(s, snap.vm_id) and snap.state not in ("Expunging", "Allocated"):
            raise ParamError("There are other active Instance Snapshot tasks on the Instance, please try again later")
        vm = s.get_one(VirtualMachine, snap.vm_id)
        if snap.state == "Allocated":
            snap.removed = utcnow()
            return
        fsm.transition(s, snap, VMSnapshotEvent.ExpungeRequested)
        host = _host_of(s, vm)
        vm_uuid, snap_uuid, parent_id, was_current = vm.uuid, snap.uuid, snap.parent_id, snap.current
    try:
        if host is not None:
            driver_for(runtime, host).delete_domain_snapshot(vm_uuid, snap_uuid)
    except DriverError as exc:
        with tx(runtime) as s:
            fsm.transition(s, s.get_one(VMSnapshot, snap_id), VMSnapshotEvent.OperationFailed)
        raise InternalError(f"Failed to delete Instance Snapshot {snap_uuid}: {exc}") from None
    with tx(runtime) as s:
        snap = s.get_one(VMSnapshot, snap_id)
        fsm.transition(s, snap, VMSnapshotEvent.OperationSucceeded)
        snap.removed, snap.current = utcnow(), False
        # children hang on the deleted one's parent; the parent becomes current if the deleted one was
        s.execute(update(VMSnapshot).where(VMSnapshot.parent_id == snap_id).values(parent_id=parent_id)
                  .execution_options(synchronize_session=False))
        if was_current and parent_id is not None:
            parent = s.get(VMSnapshot, parent_id)
            if parent is not None and parent.removed is None:
                parent.current = True


def expunge_all(runtime: Runtime, vm_id: int) -> None:
    """A VM being expunged loses its snapshots (the hypervisor side goes with the domain)."""
    with tx(runtime) as s:
        for snap in s.scalars(select(VMSnapshot).where(VMSnapshot.vm_id == vm_id, VMSnapshot.removed.is_(None))):
            snap.removed = utcnow()
            snap.current = False


# ------------------------------------------------------------------------------------ volume snapshot from one

def allocate_volume_snapshot(session: Session, vm_snapshot: VMSnapshot, vol: Volume, name: str | None) -> Snapshot:
    if vol.instance_id != vm_snapshot.vm_id:
        raise ParamError(f"Volume {vol.uuid} does not belong to the Instance of Instance Snapshot "
                         f"{vm_snapshot.uuid}")
    if vm_snapshot.state != "Ready":
        raise ParamError(f"Instance Snapshot {vm_snapshot.uuid} is not in Ready state")
    if vol.pool_id is None:
        raise ParamError(f"Volume {vol.uuid} is not on primary storage")
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    snap = Snapshot(name=name or f"{vm_snapshot.display_name}_{vol.name}_{stamp}", account_id=vol.account_id,
                    domain_id=vol.domain_id, zone_id=vol.zone_id, volume_id=vol.id, size=vol.size,
                    hypervisor_type=vm_snapshot.hypervisor_type)
    session.add(snap)
    session.flush()
    return snap


def create_volume_snapshot(runtime: Runtime, vm_snapshot_id: int, snap_id: int) -> None:
    with tx(runtime) as s:
        vmsnap = s.get_one(VMSnapshot, vm_snapshot_id)
        snap = s.get_one(Snapshot, snap_id)
        vol = s.get_one(Volume, snap.volume_id)
        vm = s.get_one(VirtualMachine, vmsnap.vm_id)
        host = _host_of(s, vm)
        pool = s.get_one(StoragePool, vol.pool_id)
        fsm.transition(s, snap, SnapshotEvent.CreateRequested)
        args = (vm.uuid, vmsnap.uuid, pool.uuid, vol.uuid, snap.uuid)
    try:
        if host is None:
            raise DriverError(f"no host knows VM {args[0]}")
        info = driver_for(runtime, host).snapshot_volume_from_domain_snapshot(*args)
    except (DriverError, CloudError) as exc:
        with tx(runtime) as s:
            fsm.transition(s, s.get_one(Snapshot, snap_id), SnapshotEvent.OperationFailed)
        raise InternalError(f"Failed to create snapshot from Instance Snapshot {args[1]}: {exc}") from None
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        fsm.transition(s, snap, SnapshotEvent.OperationSucceeded)
        fsm.transition(s, snap, SnapshotEvent.OperationNotPerformed)  # kept on primary: BackedUp
        snap.location = snap.uuid
        snap.physical_size = info.size_bytes
