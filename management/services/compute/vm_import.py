"""VM import and unmanage (CloudStack's UnmanagedVMsManager) on KVM hosts through the driver contract
(``foreign_domains`` / ``adopt_domain`` / ``release_domain``).

An unmanaged instance is a domain of a host in the cluster that carries no mark of ours. Importing one (it must be
shut off: its disk files are renamed to the new volumes' ids, as this server addresses volumes by id) makes a
Stopped VM whose id is the domain's UUID and whose instance name is the domain's name, with a ROOT volume (its
first disk) and DATADISK volumes (the others) on the pools holding the files; starting it starts that domain.
Unmanaging removes our mark and the VM's records: the domain and its disks stay on the host as they are."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from management import fsm, placement
from management.db.base import utcnow
from management.drivers import base as drv
from management.drivers.errors import DriverError
from management.errors import InternalError, InvalidStateTransition, ParamError
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import Cluster, Host, StoragePool
from management.models.network import Network, Nic
from management.models.offerings import DiskOffering, ServiceOffering
from management.models.storage import Snapshot, Template, Volume
from management.services.compute import vm as vm_service
from management.services.hypervisors import driver_error, driver_for, tx
from management.services.runtime import Runtime

SUPPORTED = ("KVM",)
MiB = 1024**2


@dataclass(slots=True)
class Found:
    host: Host
    domain: drv.ForeignDomain


def check_cluster(cluster: Cluster) -> None:
    if cluster.hypervisor_type not in SUPPORTED:
        raise ParamError(f"Listing unmanaged instances is not supported for hypervisor {cluster.hypervisor_type}; "
                         "KVM and VMware clusters only")


def unmanaged(runtime: Runtime, session: Session, cluster: Cluster, name: str | None = None) -> list[Found]:
    check_cluster(cluster)
    known = set(session.scalars(select(VirtualMachine.uuid).where(VirtualMachine.removed.is_(None))))
    out = []
    for host in session.scalars(select(Host).where(Host.cluster_id == cluster.id, Host.removed.is_(None),
                                                   Host.status == "Up").order_by(Host.id)).unique():
        try:
            domains = driver_for(runtime, host).foreign_domains()
        except DriverError:
            continue
        for d in domains:
            if d.uuid in known or (name is not None and d.name != name):
                continue
            out.append(Found(host, d))
    return out


def import_instance(runtime: Runtime, session: Session, cluster: Cluster, name: str, *, owner: Account,
                    offering: ServiceOffering, template: Template | None, display_name: str | None,
                    hostname: str | None, details: dict[str, str], disk_offerings: dict[str, DiskOffering],
                    networks: dict[str, Network]) -> str:
    """Creates the records and takes the domain over. Returns the VM's uuid (the domain's UUID)."""
    found = unmanaged(runtime, session, cluster, name)
    if not found:
        raise ParamError(f"Unable to retrieve details for unmanaged VM: {name}")
    host, dom = found[0].host, found[0].domain
    if dom.state != drv.PowerState.STOPPED:
        raise InvalidStateTransition(f"Instance {name} is {dom.state.value}: a KVM instance is imported shut off "
                                     "(its disk files become the new volumes)")
    if not dom.disks:
        raise ParamError(f"No attached disks found for the unmanaged VM: {name}")
    pools: dict[str, StoragePool] = {}
    for disk in dom.disks:
        pool = session.scalar(select(StoragePool).where(StoragePool.uuid == disk.pool,
                                                        StoragePool.removed.is_(None))) if disk.pool else None
        if pool is None:
            raise ParamError(f"Storage pool for disk {disk.path} of VM {name} is not managed by CloudStack; add it "
                             "as primary storage first")
        pools[disk.path] = pool
    host_name = hostname or name
    vm_service.validate_hostname(host_name)
    cpu, speed, ram = vm_service.sizing(offering, {**details, "cpuNumber": str(dom.vcpus),
                                                   "memory": str(dom.memory_mib),
                                                   "cpuSpeed": details.get("cpuSpeed", "1000")})
    vm = VirtualMachine(uuid=dom.uuid, instance_name=dom.name, name=host_name, display_name=display_name or name,
                        vm_type="User", account_id=owner.id, domain_id=owner.domain_id, zone_id=cluster.zone_id,
                        pod_id=host.pod_id, last_host_id=host.id, template_id=template.id if template else None,
                        service_offering_id=offering.id, os_type_id=template.os_type_id if template else None,
                        hypervisor_type=cluster.hypervisor_type, cpu=cpu, speed=speed, ram_size=ram,
                        state="Stopped", power_state="PowerOff", power_state_updated=utcnow(),
                        details_json=json.dumps({"imported": "true"}))
    session.add(vm)
    session.flush()
    volumes: dict[str, tuple[str, str]] = {}
    root: tuple[str, str] | None = None
    for i, disk in enumerate(dom.disks):
        pool = pools[disk.path]
        do = disk_offerings.get(disk.device) if i else None
        vol = Volume(name=f"ROOT-{vm.id}" if i == 0 else f"DATA-{vm.id}-{i}", account_id=owner.id,
                     domain_id=owner.domain_id, zone_id=cluster.zone_id, pool_id=pool.id, instance_id=vm.id,
                     device_id=0 if i == 0 else (i if i < 3 else i + 1), volume_type="ROOT" if i == 0 else "DATADISK",
                     size=disk.size_bytes, disk_offering_id=do.id if do else None,
                     template_id=template.id if template and i == 0 else None, format=disk.format.upper(),
                     state="Allocated", attached=utcnow())
        session.add(vol)
        session.flush()
        vol.path = vol.uuid
        fsm.transition(session, vol, fsm.VolumeEvent.CreateRequested)
        fsm.transition(session, vol, fsm.VolumeEvent.OperationSucceeded)
        pool.allocated_bytes += disk.size_bytes
        volumes[disk.path] = (pool.uuid, vol.uuid)
        if i == 0:
            root = (pool.uuid, vol.uuid)
    for nic in dom.nics:
        net = networks.get(nic.mac) or networks.get(str(dom.nics.index(nic)))
        if net is None:
            continue
        (made,) = _nics(session, vm, net)
        made.mac_address = nic.mac
    session.flush()
    vm_uuid = vm.uuid
    vm_service.release(session)
    try:
        driver_for(runtime, host).adopt_domain(vm_uuid, volumes, root)
    except DriverError as exc:
        with tx(runtime) as s:
            row = s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid))
            if row is not None:
                _forget(s, row)
        raise driver_error("import", f"VM {name}", exc) from None
    return vm_uuid


def _nics(session: Session, vm: VirtualMachine, net: Network) -> list[Nic]:
    from management.services.network import networks as networks_service

    return list(networks_service.allocate_nics(session, vm, [net], {}))


def _forget(s: Session, vm: VirtualMachine) -> None:
    now = utcnow()
    for vol in s.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.removed.is_(None))):
        if vol.pool_id is not None:
            placement.release_pool(s, vol.pool_id, vol.size)
        vol.removed, vol.instance_id = now, None
    vm_service.release_nics(s, vm)
    vm.removed = now


def unmanage(runtime: Runtime, vm_id: int) -> Host | None:
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.state not in ("Running", "Stopped"):
            raise InvalidStateTransition(f"VM {vm.uuid} must be Running or Stopped to be unmanaged, it is "
                                         f"{vm.state}")
        if vm.hypervisor_type not in SUPPORTED:
            raise UnsupportedHypervisor(f"Unmanage VM is currently not allowed for hypervisor {vm.hypervisor_type}")
        vols = [v.id for v in s.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.removed.is_(None)))]
        if s.scalar(select(Snapshot.id).where(Snapshot.volume_id.in_(vols), Snapshot.removed.is_(None)).limit(1)):
            raise InvalidStateTransition(f"Cannot unmanage VM {vm.uuid} as there are volume snapshots for its "
                                         "volume(s). Please remove snapshots before unmanaging.")
        if vm.iso_id is not None:
            raise InvalidStateTransition(f"Cannot unmanage VM {vm.uuid} as there is an ISO attached. Please detach "
                                         "ISO before unmanaging.")
        host_id = vm.host_id or vm.last_host_id
        host = s.get(Host, host_id) if host_id else None
        uuid = vm.uuid
    if host is not None:
        try:
            driver_for(runtime, host).release_domain(uuid)
        except DriverError as exc:
            raise driver_error("unmanage", f"VM {uuid}", exc) from None
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.host_id is not None:
            placement.release_host(s, vm.host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
        _forget(s, vm)
    return host


class UnsupportedHypervisor(InternalError):
    pass
