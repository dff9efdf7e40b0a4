"""Moving VMs and volumes: live migration of a Running VM to another host (its disks staying on shared storage or
copied along), storage migration of a Stopped VM's or a detached volume's disks to another pool, and the
candidate lists (CloudStack's findHostsForMigration / findStoragePoolsForMigration).

A Running VM goes Running -> Migrating -> Running; the destination's capacity is claimed before the driver call and
the source's released after it, so the ledger holds the VM on both hosts while it moves. On failure the VM keeps
running where it was and the destination's claim is given back. The hypervisor side is the driver contract's
``migrate`` (live) and ``migrate_volume`` (offline), whatever the hypervisor.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from management import fsm, placement
from management.db.base import utcnow
from management.drivers.base import Capability
from management.drivers.errors import DriverError
from management.errors import InternalError, ParamError
from management.fsm import VmEvent, VolumeEvent
from management.models.compute import VirtualMachine
from management.models.infra import Host, StoragePool, Zone
from management.models.storage import Volume
from management.services.compute import affinity
from management.services.hypervisors import driver_for, tx
from management.services.infra import hosts as hosts_service
from management.services.runtime import Runtime

MiB = 1024 * 1024
LIVE_HYPERVISORS = ("KVM", "XenServer", "Simulator", "Xen", "VMware", "Hyperv")


def _volumes(session: Session, vm: VirtualMachine) -> list[Volume]:
    return list(session.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.removed.is_(None))
                                .order_by(Volume.device_id, Volume.id)))


def _reaches(session: Session, host: Host, pool: StoragePool) -> bool:
    return pool.id in {p.id for p in hosts_service.pools_for_host(session, host)}


def _is_local(pool: StoragePool) -> bool:
    return pool.scope == "HOST"


@dataclass(slots=True)
class Candidate:
    host: Host
    suitable: bool
    requires_storage_motion: bool


def hosts_for_migration(session: Session, vm: VirtualMachine) -> list[Candidate]:
    if vm.state != "Running":
        raise ParamError("VM is not Running, unable to migrate the vm with specified id")
    src = session.get_one(Host, vm.host_id)
    rules = affinity.constraints(session, vm)
    pools = [session.get_one(StoragePool, v.pool_id) for v in _volumes(session, vm) if v.pool_id is not None]
    need = placement.Need.for_vm(vm.cpu, vm.speed, vm.ram_size)
    out = []
    hosts = session.scalars(select(Host).where(Host.zone_id == vm.zone_id, Host.removed.is_(None),
                                               Host.type == "Routing", Host.id != src.id,
                                               Host.hypervisor_type == src.hypervisor_type).order_by(Host.id))
    for h in hosts:
        motion = any(not _reaches(session, h, p) for p in pools)
        f = placement.factors_for(session, h.cluster) if h.cluster else placement.Factors()
        ok = (h.status == "Up" and h.resource_state == "Enabled" and placement.host_fits(h, need, f)
              and h.id not in rules.avoid and (rules.only is None or h.id in rules.only))
        out.append(Candidate(h, ok, motion))
    return out


def pools_for_migration(session: Session, vol: Volume) -> list[tuple[StoragePool, bool]]:
    """Pools of the volume's zone other than its own, each with whether it can take the volume now."""
    vm = session.get(VirtualMachine, vol.instance_id) if vol.instance_id else None
    host_id = (vm.host_id or vm.last_host_id) if vm else None
    host = session.get(Host, host_id) if host_id else None
    zone = session.get_one(Zone, vol.zone_id)
    factor, threshold = placement.storage_factors(session, zone)
    out = []
    for p in session.scalars(select(StoragePool).where(StoragePool.zone_id == vol.zone_id,
                                                       StoragePool.removed.is_(None)).order_by(StoragePool.id)):
        if p.id == vol.pool_id:
            continue
        room = p.allocated_bytes + vol.size <= placement.pool_capacity(p, factor, threshold)
        reach = host is None or _reaches(session, host, p)
        out.append((p, room and reach and p.status == "Up"))
    return out


# ------------------------------------------------------------------------------------------------- live

def _check_destination(session: Session, vm: VirtualMachine, src: Host, dest: Host) -> None:
    if dest.id == src.id:
        raise ParamError("Cannot migrate VM, VM is already present on this host, please specify valid destination "
                         "host to migrate the VM")
    if dest.status != "Up" or dest.resource_state != "Enabled":
        raise ParamError(f"Cannot migrate VM, destination host is not in correct state, has status: {dest.status}, "
                         f"state: {dest.resource_state}")
    if dest.hypervisor_type != src.hypervisor_type:
        raise InternalError(f"The source and destination hosts are not of the same type and version. Source "
                            f"hypervisor type and version: {src.hypervisor_type} {src.hypervisor_version or ''}, "
                            f"Destination hypervisor type and version: {dest.hypervisor_type} "
                            f"{dest.hypervisor_version or ''}")
    rules = affinity.constraints(session, vm)
    if dest.id in rules.avoid or (rules.only is not None and dest.id not in rules.only):
        raise InternalError("Unable to create deployment, affinity rules associated to the VM conflict")


def plan_live(session: Session, vm: VirtualMachine, dest: Host | None,
              volume_pools: dict[int, int] | None, *, with_storage: bool) -> tuple[Host, dict[int, int]]:
    """Destination host and {volume id: destination pool id} for a live migration; CloudStack's checks."""
    if vm.state != "Running":
        raise ParamError("VM is not Running, unable to migrate the vm with specified id")
    if (vm.hypervisor_type or "") not in LIVE_HYPERVISORS:
        raise ParamError("Unsupported Hypervisor Type for VM migration, we support XenServer/VMware/KVM/Hyperv only")
    src = session.get_one(Host, vm.host_id)
    vols = _volumes(session, vm)
    if dest is None:
        fits = [c for c in hosts_for_migration(session, vm) if c.suitable and not c.requires_storage_motion]
        if not fits:
            raise InternalError("Unable to find a server to migrate the vm to")
        dest = fits[0].host
    _check_destination(session, vm, src, dest)
    mapping: dict[int, int] = {}
    for vol in vols:
        if vol.pool_id is None:
            continue
        pool = session.get_one(StoragePool, vol.pool_id)
        wanted = (volume_pools or {}).get(vol.id)
        if wanted is not None:
            target = session.get_one(StoragePool, wanted)
            if target.id != pool.id:
                if not _reaches(session, dest, target):
                    raise ParamError(f"Destination pool {target.name} for the volume {vol.name} is not reachable "
                                     f"from host {dest.name}")
                mapping[vol.id] = target.id
                continue
        if _reaches(session, dest, pool):
            continue
        if not with_storage:
            if _is_local(pool):
                raise ParamError("Unsupported operation, VM uses Local storage, cannot migrate")
            raise InternalError("Source and destination host are not in same cluster and all volumes are not on zone "
                                f"wide primary store, unable to migrate to host: {dest.uuid}")
        # migrateVirtualMachineWithVolume without a pool for this volume: the destination's first suitable pool
        zone = session.get_one(Zone, vm.zone_id)
        chosen = placement.pick_pool(hosts_service.pools_for_host(session, dest), vol.size,
                                     cluster_id=dest.cluster_id, host_id=dest.id, tags=None,
                                     factor=placement.storage_factors(session, zone)[0],
                                     threshold=placement.storage_factors(session, zone)[1])
        if chosen is None:
            raise InternalError(f"Unable to find a suitable pool on host {dest.name} for volume {vol.name}")
        mapping[vol.id] = chosen.id
    return dest, mapping


def migrate_live(runtime: Runtime, vm_id: int, dest_id: int | None, volume_pools: dict[int, int] | None = None,
                 *, with_storage: bool = False) -> None:
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        dest = s.get(Host, dest_id) if dest_id is not None else None
        dest, mapping = plan_live(s, vm, dest, volume_pools, with_storage=with_storage)
        src = s.get_one(Host, vm.host_id)
        need = placement.Need.for_vm(vm.cpu, vm.speed, vm.ram_size)
        f = placement.factors_for(s, dest.cluster) if dest.cluster else placement.Factors()
        if not placement.claim_host(s, dest, need, f):
            raise InternalError(f"Unable to migrate VM {vm.uuid}: host {dest.name} has not enough capacity")
        pools = {p.id: p for p in s.scalars(select(StoragePool).where(StoragePool.id.in_(
            {v.pool_id for v in _volumes(s, vm) if v.pool_id} | set(mapping.values()))))}
        for vol_id, pool_id in mapping.items():
            vol = s.get_one(Volume, vol_id)
            placement.claim_pool_unconditional(s, pool_id, vol.size)
            fsm.transition(s, vol, VolumeEvent.MigrationRequested)
        fsm.transition(s, vm, VmEvent.MigrationRequested)
        moves = {s.get_one(Volume, vid).uuid: pools[pid].uuid for vid, pid in mapping.items()}
        vm_uuid, src_id, dest_id = vm.uuid, src.id, dest.id
        src_host, dest_host = src, dest
        specs = [hosts_service.pool_spec(p) for p in pools.values()]
        nics = _nic_specs(s, vm, dest)
    try:
        src_d, dest_d = driver_for(runtime, src_host), driver_for(runtime, dest_host)
        if not src_d.supports(Capability.LIVE_MIGRATION) or (moves and
                                                             not src_d.supports(Capability.STORAGE_MIGRATION)):
            raise DriverError(f"the {src_d.name} driver of host {src_host.name} cannot migrate a running VM"
                              + (" with its storage" if moves else ""))
        from management.services.infra import kvm

        if any(n.bridge for n in nics):
            kvm.ensure_bridges(dest_host.url or "", nics)
        for spec in specs:
            dest_d.ensure_pool(spec)
        src_d.migrate(vm_uuid, dest_d, volumes=moves or None)
    except (DriverError, OSError) as exc:
        with tx(runtime) as s:
            vm = s.get_one(VirtualMachine, vm_id)
            placement.release_host(s, dest_id, vm.cpu * vm.speed, vm.ram_size * MiB)
            for vol_id, pool_id in mapping.items():
                vol = s.get_one(Volume, vol_id)
                placement.release_pool(s, pool_id, vol.size)
                fsm.transition(s, vol, VolumeEvent.OperationFailed)
            fsm.transition(s, vm, VmEvent.OperationFailed)  # Migrating -> Running, still on the source
        raise InternalError(f"Failed to migrate VM instance {vm_uuid} from host {src_host.name} to host "
                            f"{dest_host.name}: {exc}") from None
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        placement.release_host(s, src_id, vm.cpu * vm.speed, vm.ram_size * MiB)
        vm.host_id, vm.last_host_id, vm.pod_id = dest_id, dest_id, dest_host.pod_id
        vm.power_state_updated = utcnow()
        for vol_id, pool_id in mapping.items():
            vol = s.get_one(Volume, vol_id)
            if vol.pool_id is not None:
                placement.release_pool(s, vol.pool_id, vol.size)
            vol.pool_id = pool_id
            fsm.transition(s, vol, VolumeEvent.OperationSucceeded)
        fsm.transition(s, vm, VmEvent.OperationSucceeded)  # Migrating -> Running


def _nic_specs(session: Session, vm: VirtualMachine, host: Host):  # type: ignore[no-untyped-def]
    from management.services.compute import vm as vm_service

    return list(vm_service._nic_specs(session, vm, host))


# ------------------------------------------------------------------------------------------------- offline

def _move_volume(runtime: Runtime, vol_id: int, pool_id: int) -> None:
    """Offline copy of one volume to another pool through a host that reaches both."""
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        src, dst = s.get_one(StoragePool, vol.pool_id), s.get_one(StoragePool, pool_id)
        if src.id == dst.id:
            return
        vm = s.get(VirtualMachine, vol.instance_id) if vol.instance_id else None
        hosts = [h for h in hosts_service.hosts_for_pool(s, src) if h.status == "Up" and _reaches(s, h, dst)]
        if vm is not None and (vm.host_id or vm.last_host_id):
            hosts.sort(key=lambda h: h.id != (vm.host_id or vm.last_host_id))
        if not hosts:
            raise InternalError(f"No host reaches both storage pool {src.name} and {dst.name} to migrate volume "
                                f"{vol.name}")
        zone = s.get_one(Zone, vol.zone_id)
        factor, threshold = placement.storage_factors(s, zone)
        if not placement.claim_pool(s, dst, vol.size, placement.pool_capacity(dst, factor, threshold)):
            raise InternalError(f"Storage pool {dst.name} has not enough space for volume {vol.name}")
        fsm.transition(s, vol, VolumeEvent.MigrationRequested)
        host, vol_uuid, src_spec, dst_spec = hosts[0], vol.uuid, hosts_service.pool_spec(src), \
            hosts_service.pool_spec(dst)
    try:
        d = driver_for(runtime, host)
        d.ensure_pool(src_spec)
        d.ensure_pool(dst_spec)
        d.migrate_volume(src_spec.name, vol_uuid, dst_spec.name)
    except DriverError as exc:
        with tx(runtime) as s:
            vol = s.get_one(Volume, vol_id)
            placement.release_pool(s, pool_id, vol.size)
            fsm.transition(s, vol, VolumeEvent.OperationFailed)
        raise InternalError(f"Failed to migrate volume {vol_uuid} to storage pool {dst_spec.name}: {exc}") from None
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        placement.release_pool(s, vol.pool_id, vol.size)  # type: ignore[arg-type]
        vol.pool_id = pool_id
        fsm.transition(s, vol, VolumeEvent.OperationSucceeded)


def migrate_storage(runtime: Runtime, vm_id: int, volume_pools: dict[int, int]) -> None:
    """A Stopped VM's volumes to other pools (migrateVirtualMachine storageid / WithVolume migrateto)."""
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.state != "Stopped":
            raise ParamError(f"VM ID: {vm.uuid} is not in Stopped state to migrate, use hostid parameter to migrate it "
                             "to a new host")
        for vol_id in volume_pools:
            vol = s.get_one(Volume, vol_id)
            if vol.instance_id != vm.id:
                raise ParamError(f"Volume {vol.uuid} doesn't belong to the VM {vm.instance_name} (ID: {vm.uuid}) that "
                                 "has to be migrated")
            if vol.state != "Ready":
                raise InternalError(f"Volume {vol.name} (ID: {vol.uuid}) of the VM is not in Ready state. Cannot "
                                    f"migrate the VM {vm.instance_name} (ID: {vm.uuid}) with its volumes")
        fsm.transition(s, vm, VmEvent.StorageMigrationRequested)  # Stopped -> Migrating
    try:
        for vol_id, pool_id in volume_pools.items():
            _move_volume(runtime, vol_id, pool_id)
    finally:
        with tx(runtime) as s:
            fsm.transition(s, s.get_one(VirtualMachine, vm_id), VmEvent.AgentReportStopped)  # -> Stopped


def migrate_volume(runtime: Runtime, vol_id: int, pool_id: int) -> None:
    """migrateVolume: a detached volume, or one whose VM is Stopped."""
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        if vol.state != "Ready":
            raise ParamError(f"Volume {vol.name} must be in ready state to migrate")
        if vol.pool_id == pool_id:
            raise ParamError(f"Volume {vol.name} is already on storage pool {s.get_one(StoragePool, pool_id).name}")
        vm = s.get(VirtualMachine, vol.instance_id) if vol.instance_id else None
        if vm is not None and vm.state != "Stopped":
            raise ParamError("Volume needs to be detached from VM")
        vm_id = vm.id if vm is not None else None
    if vm_id is not None:
        migrate_storage(runtime, vm_id, {vol_id: pool_id})
    else:
        _move_volume(runtime, vol_id, pool_id)
