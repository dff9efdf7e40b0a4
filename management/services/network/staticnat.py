"""Static NAT: a public IP mapped 1:1 to a VM's guest IP (state on the PublicIpAddress row)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import NetworkRuleConflict, ParamError
from management.models.compute import VirtualMachine
from management.models.infra import PublicIpAddress
from management.models.network import Network
from management.models.rules import NetworkRule
from management.services.network import firewall, ip_forwarding, portable_ips, portforwarding, routers


def enable(session: Session, ip: PublicIpAddress, vm: VirtualMachine, *, network: Network | None = None,
           guest_ip: str | None = None) -> PublicIpAddress:
    if ip.source_nat:
        raise ParamError(f"Can't enable static NAT on the source NAT IP address {ip.public_ip_address}")
    if ip.state not in ("Allocated", "Allocating"):
        raise ParamError(f"IP address {ip.public_ip_address} is not associated")
    if ip.network_id is not None and network is not None and network.id != ip.network_id:
        if not ip.is_portable:
            raise ParamError(f"Invalid network Id={network.uuid}. IP is associated with a different network than "
                             "passed network id")
        portable_ips.transfer(session, ip, network)
    if ip.network_id is None:
        if network is None:
            from management.models.network import Nic

            nic = session.scalar(select(Nic).where(Nic.instance_id == vm.id, Nic.removed.is_(None),
                                                   Nic.default_nic.is_(True)))
            network = session.get(Network, nic.network_id) if nic else None
        if network is None:
            raise ParamError("networkid is required: the IP address is not associated with a network")
        if ip.vpc_id is not None and network.vpc_id != ip.vpc_id:
            raise ParamError(f"The IP address {ip.public_ip_address} belongs to a VPC and network {network.name} "
                             "is not one of its tiers")
        ip.network_id = network.id
    net = session.get_one(Network, ip.network_id)
    nic = portforwarding.vm_nic(session, vm, net, guest_ip)
    if ip.one_to_one_nat and ip.vm_id not in (None, vm.id):
        raise NetworkRuleConflict(f"Static NAT is already enabled on IP address {ip.public_ip_address} for "
                                  "another virtual machine")
    other = session.scalar(select(PublicIpAddress).where(PublicIpAddress.vm_id == vm.id,
                                                         PublicIpAddress.one_to_one_nat.is_(True),
                                                         PublicIpAddress.vm_ip == nic.ip4_address,
                                                         PublicIpAddress.id != ip.id,
                                                         PublicIpAddress.removed.is_(None)))
    if other is not None:
        raise NetworkRuleConflict(f"Virtual machine {vm.name} already has static NAT on IP address "
                                  f"{other.public_ip_address}")
    busy = session.scalar(select(NetworkRule.id).where(
        NetworkRule.ip_address_id == ip.id, NetworkRule.removed.is_(None),
        NetworkRule.purpose.in_(("PortForwarding", "LoadBalancing"))).limit(1))
    if busy is not None:
        raise NetworkRuleConflict(f"IP address {ip.public_ip_address} has port forwarding or load balancing rules; "
                                  "static NAT can't be enabled")
    ip.one_to_one_nat, ip.vm_id, ip.vm_ip = True, vm.id, nic.ip4_address
    session.flush()
    routers.network_changed(session, net)
    return ip


def disable(session: Session, ip: PublicIpAddress) -> None:
    if not ip.one_to_one_nat:
        raise ParamError(f"Static NAT is not enabled on IP address {ip.public_ip_address}")
    ip_forwarding.revoke_all(session, ip)
    ip.one_to_one_nat, ip.vm_id, ip.vm_ip = False, None, None
    session.flush()
    routers.network_changed(session, ip.network_id)


__all__ = ["disable", "enable", "firewall"]
