"""A VM's NICs after deploy: add one on another network (hot-plugged into a running VM), remove one, change the
default one, change a NIC's address, and secondary addresses on a NIC (CloudStack's addNicToVirtualMachine,
removeNicFromVirtualMachine, updateDefaultNicForVirtualMachine, updateVmNicIp, addIpToNic, removeIpFromNic).

Addresses come from the network service (the same allocator as deploy), so the guest network's DHCP server
learns the new NIC the moment it is recorded; a running VM gets the NIC through the driver's plug_nic and its
guest asks for an address on it like on any new interface.
"""

from __future__ import annotations

import re

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.db.prepared import prepared
from management.drivers.errors import DriverError
from management.errors import InternalError, ParamError
from management.models.compute import VirtualMachine
from management.models.infra import Host, Zone
from management.models.network import Network, Nic
from management.models.nic_secondary_ips import NicSecondaryIp
from management.models.vm_snapshots import VMSnapshot
from management.services.hypervisors import driver_for, tx
from management.services.network import ipam
from management.services.network import networks as networks_service
from management.services.runtime import Runtime

_MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


def _snapshots(session: Session, vm: VirtualMachine, *, memory_only: bool = False) -> bool:
    stmt = select(VMSnapshot.id).where(VMSnapshot.vm_id == vm.id, VMSnapshot.removed.is_(None))
    if memory_only:
        stmt = stmt.where(VMSnapshot.snapshot_type == "DiskAndMemory")
    return session.scalar(stmt.limit(1)) is not None


def _not_basic(session: Session, vm: VirtualMachine, action: str) -> None:
    zone = session.get_one(Zone, vm.zone_id)
    if zone.network_type == "Basic":
        raise ParamError(f"Zone {zone.uuid}, has a NetworkType of Basic. Can't {action} on a Basic Network")


def nic_spec(session: Session, vm: VirtualMachine, host: Host | None, nic: Nic):  # type: ignore[no-untyped-def]
    from management.services.compute import vm as vm_service

    return next(n for n in vm_service._nic_specs(session, vm, host) if n.mac == nic.mac_address)


def _running_host(session: Session, vm: VirtualMachine) -> Host | None:
    return session.get(Host, vm.host_id) if vm.state == "Running" and vm.host_id else None


def add_nic(runtime: Runtime, vm_id: int, network_id: int, *, ip: str | None, mac: str | None) -> str:
    """Returns the new NIC's uuid."""
    with tx(runtime) as s:
        vm, net = s.get_one(VirtualMachine, vm_id), s.get_one(Network, network_id)
        # CloudStack refuses any NIC change on a VM with snapshots; only a memory snapshot (whose revert restores
        # the device set) makes it unsafe here, so disk-only snapshots do not block an added NIC
        if _snapshots(s, vm, memory_only=True):
            raise ParamError("NIC cannot be added to VM with VM Snapshots")
        if vm.state not in ("Running", "Stopped"):
            raise ParamError(f"VM {vm.uuid} must be Running or Stopped to add a NIC; it is {vm.state}")
        _not_basic(s, vm, "add a new NIC to a VM")
        if s.scalar(select(Nic.id).where(Nic.instance_id == vm.id, Nic.network_id == net.id,
                                         Nic.removed.is_(None))) is not None:
            raise InternalError(f"A NIC already exists for VM:{vm.instance_name} in network: {net.uuid}")
        if net.zone_id != vm.zone_id:
            raise InternalError(f"VM instance {vm.uuid} is in zone:{vm.zone_id} but network {net.uuid} is in "
                                f"zone:{net.zone_id}")
        if ip is not None:
            ipam.check_ip(ip, "IP address parameter")
        if mac is not None and _MAC.match(mac) and \
                s.scalar(select(Nic.id).where(Nic.mac_address == mac.lower())) is not None:
            raise InternalError(f"A NIC with this MAC address exists for network: {net.uuid}")
        (nic,) = networks_service.allocate_nics(s, vm, [net], {net.id: ip} if ip else None)
        if mac is not None and _MAC.match(mac):
            nic.mac_address = mac.lower()
        host = _running_host(s, vm)
        spec = nic_spec(s, vm, host, nic) if host is not None else None
        nic_id, nic_uuid, vm_uuid = nic.id, nic.uuid, vm.uuid
    if host is not None and spec is not None:
        try:
            if spec.bridge:
                from management.services.infra import kvm

                kvm.ensure_bridges(host.url or "", [spec])
            driver_for(runtime, host).plug_nic(vm_uuid, spec)
        except (DriverError, OSError) as exc:
            with tx(runtime) as s:
                _release(s, s.get_one(Nic, nic_id))
            raise InternalError(f"Unable to add NIC to VM instance {vm_uuid}: {exc}") from None
    return nic_uuid


def _release(session: Session, nic: Nic) -> None:
    for sec in session.scalars(select(NicSecondaryIp).where(NicSecondaryIp.nic_id == nic.id)):
        session.delete(sec)
    nic.removed, nic.state = utcnow(), "Deallocating"
    session.flush()
    net = session.get(Network, nic.network_id)
    if net is not None:
        networks_service.reapply(session, net)


def remove_nic(runtime: Runtime, vm_id: int, nic_id: int) -> None:
    with tx(runtime) as s:
        vm, nic = s.get_one(VirtualMachine, vm_id), s.get_one(Nic, nic_id)
        if _snapshots(s, vm):
            raise ParamError("NIC cannot be removed from VM with VM Snapshots")
        _not_basic(s, vm, "remove a NIC from a VM")
        net = s.get_one(Network, nic.network_id)
        if nic.instance_id != vm.id or nic.removed is not None:
            raise ParamError(f"Nic {nic.uuid} is not a nic on VM instance {vm.uuid}")
        if nic.default_nic:
            raise ParamError(f"Unable to remove nic from VM instance {vm.uuid} in network {net.uuid}, nic is "
                             "default.")
        if vm.state not in ("Running", "Stopped"):
            raise ParamError(f"VM {vm.uuid} must be Running or Stopped to remove a NIC; it is {vm.state}")
        host = s.get(Host, vm.host_id or vm.last_host_id) if (vm.host_id or vm.last_host_id) else None
        vm_uuid, mac = vm.uuid, nic.mac_address
    if host is not None:
        try:
            d = driver_for(runtime, host)
            if d.get_domain(vm_uuid) is not None:
                d.unplug_nic(vm_uuid, mac)
        except DriverError as exc:
            raise InternalError(f"Unable to remove network {net.uuid} from VM instance {vm_uuid}: {exc}") from None
    with tx(runtime) as s:
        _release(s, s.get_one(Nic, nic_id))


def update_default(session: Session, vm: VirtualMachine, nic: Nic) -> None:
    if _snapshots(session, vm):
        raise ParamError("NIC cannot be updated for VM with VM Snapshots")
    _not_basic(session, vm, "change default NIC")
    if nic.instance_id != vm.id or nic.removed is not None:
        raise ParamError(f"Nic {nic.uuid} is not a nic on  VM instance {vm.uuid}")
    if nic.default_nic:
        raise InternalError("refusing to set default nic because chosen nic is already the default")
    if vm.state not in ("Running", "Stopped"):
        raise InternalError(f"refusing to set default VM instance {vm.uuid} is not Running or Stopped")
    current = session.scalar(select(Nic).where(Nic.instance_id == vm.id, Nic.default_nic.is_(True),
                                               Nic.removed.is_(None)))
    if current is None:
        raise InternalError("Failed to find a nic profile for the existing default network. This is bad and "
                            "probably means some sort of configuration corruption")
    # the two NICs swap their device ids as well (CloudStack), so the default one stays device 0
    current.default_nic, nic.default_nic = False, True
    current.device_id, nic.device_id = nic.device_id, current.device_id
    session.flush()
    for net_id in {current.network_id, nic.network_id}:
        networks_service.reapply(session, session.get_one(Network, net_id))  # the default gateway moves


def update_ip(session: Session, nic: Nic, ip: str | None) -> None:
    vm = session.get_one(VirtualMachine, nic.instance_id)
    net = session.get_one(Network, nic.network_id)
    if net.state not in ("Allocated", "Implemented", "Setup"):
        raise ParamError("Network is not in the right state to update vm nic ip. Correct states are: Allocated, "
                         "Implemented, Setup")
    if net.guest_type == "L2":
        raise ParamError("UpdateVmNicIpCmd is not supported in L2 network")
    if vm.state != "Stopped":
        raise ParamError("VM is not Stopped, unable to update the vm nic having the specified id")
    if ip is not None and ip == nic.ip4_address:
        return
    old = nic.ip4_address
    nic.ip4_address = None  # the NIC's own address is free for the allocator while we choose
    session.flush()
    try:
        picked = networks_service.pick_ip(session, net, ip)
    except ParamError:
        nic.ip4_address = old
        raise
    if picked is None:
        nic.ip4_address = old
        raise ParamError(f"Allocating ip to guest nic {nic.uuid} failed, please choose another ip")
    nic.ip4_address, gateway, nic.netmask = picked
    nic.gateway = gateway or nic.gateway
    session.flush()
    networks_service.reapply(session, net)


# ------------------------------------------------------------------------------------------- secondary addresses

def add_secondary_ip(session: Session, nic: Nic, ip: str | None) -> NicSecondaryIp:
    net = session.get_one(Network, nic.network_id)
    vm = session.get_one(VirtualMachine, nic.instance_id)
    if net.guest_type == "L2":
        raise ParamError("Secondary IPs are not supported on L2 networks")
    picked = networks_service.pick_ip(session, net, ip)  # NIC and secondary addresses both count as used
    if picked is None:
        raise InternalError(f"Unable to allocate a secondary IP on nic {nic.uuid}")
    sec = NicSecondaryIp(nic_id=nic.id, vm_id=vm.id, network_id=net.id, account_id=vm.account_id,
                         domain_id=vm.domain_id, ip4_address=picked[0])
    session.add(sec)
    session.flush()
    return sec


def remove_secondary_ip(session: Session, sec: NicSecondaryIp) -> None:
    session.delete(sec)
    session.flush()


def secondary_ips(session: Session, nic_ids: list[int]) -> dict[int, list[NicSecondaryIp]]:
    out: dict[int, list[NicSecondaryIp]] = {}
    if nic_ids:
        stmt = prepared("secondary-ips-of", lambda: select(NicSecondaryIp).where(
            NicSecondaryIp.nic_id.in_(bindparam("ids", expanding=True))).order_by(NicSecondaryIp.id))
        for sec in session.scalars(stmt, {"ids": list(nic_ids)}):
            out.setdefault(sec.nic_id, []).append(sec)
    return out
