"""assignVirtualMachine: a stopped VM and its volumes move to another account, with CloudStack's checks (no
rules or snapshots that would stay behind with the old owner, the new owner's limits) and its networking: in a
basic zone the VM keeps the shared network and joins the new owner's security groups; in an advanced zone its
NICs move to the given networks of the new owner or to the new owner's default isolated network."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.identity import Account, User
from management.models.infra import PublicIpAddress, Zone
from management.models.network import Network
from management.models.rules import LoadBalancerVmMap, NetworkRule, SecurityGroup, SecurityGroupVmMap
from management.models.storage import Snapshot, Volume
from management.services import limits
from management.services.network import networks as networks_service
from management.services.network import security_groups

log = logging.getLogger(__name__)


def _check_movable(s: Session, vm: VirtualMachine, old: Account, new: Account) -> list[Volume]:
    if vm.state != "Stopped":
        raise ParamError(f"VM is {vm.state}, unable to move the vm {vm.uuid}")
    if new.state.lower() == "disabled":
        raise ParamError(f"The new account owner {new.name} is disabled.")
    if old.id == new.id:
        raise ParamError(f"The new account is the same as the old account. Account id ={old.id}")
    rules = set(s.scalars(select(NetworkRule.purpose).where(NetworkRule.vm_id == vm.id,
                                                            NetworkRule.state != "Revoke")))
    if "PortForwarding" in rules:
        raise ParamError("Remove the Port forwarding rules for this VM before assigning to another user.")
    if "StaticNat" in rules:
        raise ParamError("Remove the StaticNat rules for this VM before assigning to another user.")
    if s.scalar(select(LoadBalancerVmMap.vm_id).where(LoadBalancerVmMap.vm_id == vm.id).limit(1)) is not None:
        raise ParamError("Remove the load balancing rules for this VM before assigning to another user.")
    nat = s.scalar(select(PublicIpAddress).where(PublicIpAddress.vm_id == vm.id, PublicIpAddress.one_to_one_nat)
                   .limit(1))
    if nat is not None:
        raise ParamError(f"Remove the one to one nat rule for this VM for ip {nat.public_ip_address}")
    volumes = list(s.scalars(select(Volume).where(Volume.instance_id == vm.id, Volume.removed.is_(None))))
    for vol in volumes:
        kept = s.scalar(select(Snapshot.id).where(Snapshot.volume_id == vol.id, Snapshot.removed.is_(None),
                                                  Snapshot.state.not_in(("Destroyed", "Error"))).limit(1))
        if kept is not None:
            raise ParamError(f"Snapshots exists for volume: {vol.name}, Detach volume or remove snapshots for "
                             "volume before assigning VM to another user.")
    return volumes


def _move_networking(s: Session, vm: VirtualMachine, zone: Zone, new: Account, networks: list[Network],
                     groups: list[SecurityGroup]) -> None:
    if zone.network_type == "Basic":
        if networks:
            raise ParamError("Can't move vm with network Ids; this is a basic zone VM")
    elif not zone.security_groups_enabled and groups:
        raise ParamError("Can't move vm with security groups; security group feature is not enabled in this zone")
    for g in groups:
        if g.account_id != new.id:
            raise ParamError(f"Security group {g.name} does not belong to the new owner of the VM")
    s.execute(delete(SecurityGroupVmMap).where(SecurityGroupVmMap.vm_id == vm.id))
    if zone.security_groups_enabled:
        security_groups.join(s, vm, groups or [security_groups.default_group(s, new)])
    if zone.network_type == "Basic":
        return  # the zone's shared network stays the VM's
    for net in networks:
        if net.account_id != new.id and net.guest_type != "Shared":
            raise ParamError(f"Network {net.name} does not belong to the new owner of the VM")
    networks_service.release_nics(s, vm)
    networks_service.allocate_nics(s, vm, networks or [networks_service.default_network(s, new, zone)])


def assign(s: Session, vm: VirtualMachine, new: Account, *, networks: list[Network],
           groups: list[SecurityGroup]) -> VirtualMachine:
    old = s.get_one(Account, vm.account_id)
    volumes = _check_movable(s, vm, old, new)
    limits.check(s, new, {"user_vm": 1, "cpu": vm.cpu, "memory": vm.ram_size, "volume": len(volumes),
                          "primary_storage": sum(v.size for v in volumes)})
    zone = s.get_one(Zone, vm.zone_id)
    vm.group_name = None  # instance groups belong to the old owner
    vm.keypairs = None  # so do its SSH key pairs
    vm.account_id, vm.domain_id = new.id, new.domain_id
    vm.user_id = s.scalar(select(User.id).where(User.account_id == new.id, User.removed.is_(None))
                          .order_by(User.id).limit(1))
    for vol in volumes:
        vol.account_id, vol.domain_id = new.id, new.domain_id
    _move_networking(s, vm, zone, new, networks, groups)
    s.flush()
    log.info("VM %s moved from account %s to account %s", vm.uuid, old.uuid, new.uuid)
    return vm
