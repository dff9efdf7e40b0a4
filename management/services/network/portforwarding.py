"""Port forwarding rules: public IP ports -> a VM NIC's ports on the IP's network."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.infra import PublicIpAddress
from management.models.network import Network, Nic
from management.models.rules import NetworkRule
from management.services.network import firewall, routers


def vm_nic(session: Session, vm: VirtualMachine, net: Network, guest_ip: str | None = None) -> Nic:
    if vm.removed is not None or vm.state in ("Destroyed", "Expunging", "Error"):
        raise ParamError(f"Virtual machine {vm.name} is in state {vm.state}")
    nic = session.scalar(select(Nic).where(Nic.instance_id == vm.id, Nic.network_id == net.id,
                                           Nic.removed.is_(None)).limit(1))
    if nic is None:
        raise ParamError(f"Virtual machine {vm.name} has no NIC in network {net.name}")
    if guest_ip and guest_ip != nic.ip4_address:
        raise ParamError(f"vmguestip {guest_ip} is not an IP address of virtual machine {vm.name} in network "
                         f"{net.name}")
    return nic


def create(session: Session, ip: PublicIpAddress, vm: VirtualMachine, *, protocol: str, public_start: int,
           public_end: int | None, private_start: int, private_end: int | None, open_firewall: bool,
           cidrs: list[str] | None, guest_ip: str | None = None, network: Network | None = None) -> NetworkRule:
    protocol = firewall.norm_protocol(protocol, ("tcp", "udp"))
    ps, pe = firewall.check_ports(public_start, public_end, "public port")
    qs, qe = firewall.check_ports(private_start, private_end, "private port")
    assert ps is not None and pe is not None and qs is not None and qe is not None
    if pe - ps != qe - qs:
        raise ParamError("Private port range and public port range must have the same size")
    net = firewall.ip_network(session, ip, network)
    if network is not None and network.id != net.id:
        raise ParamError(f"IP address {ip.public_ip_address} is not associated with network {network.name}")
    if vm.account_id != net.account_id and net.acl_type == "Account":
        raise ParamError(f"Virtual machine {vm.name} does not belong to the owner of network {net.name}")
    nic = vm_nic(session, vm, net, guest_ip)
    c = firewall.norm_cidrs(cidrs)
    firewall.detect_conflict(session, ip, "PortForwarding", protocol, ps, pe)
    rule = NetworkRule(purpose="PortForwarding", traffic_type="Ingress", state="Active", ip_address_id=ip.id,
                       network_id=net.id, account_id=net.account_id, domain_id=net.domain_id, protocol=protocol,
                       start_port=ps, end_port=pe, source_cidrs=c, vm_id=vm.id, dest_ip=nic.ip4_address,
                       dest_start_port=qs, dest_end_port=qe)
    session.add(rule)
    session.flush()
    if open_firewall and ip.vpc_id is None:  # a VPC has no firewall service: the tier's ACL decides
        firewall.create_firewall_rule(session, ip, protocol=protocol, start=ps, end=pe,
                                      cidrs=c.split(",") if c else None, related=rule.id)
    routers.network_changed(session, net)
    return rule


def update(session: Session, rule: NetworkRule, *, private_start: int | None, private_end: int | None,
           vm: VirtualMachine | None, guest_ip: str | None, cidrs: list[str] | None = None) -> NetworkRule:
    net = session.get_one(Network, rule.network_id)
    if cidrs is not None:
        rule.source_cidrs = firewall.norm_cidrs(cidrs)
    if vm is not None or guest_ip:
        target = vm or session.get_one(VirtualMachine, rule.vm_id)
        nic = vm_nic(session, target, net, guest_ip)
        rule.vm_id, rule.dest_ip = target.id, nic.ip4_address
    if private_start is not None:
        qs, qe = firewall.check_ports(private_start, private_end if private_end is not None else
                                      private_start + ((rule.end_port or 0) - (rule.start_port or 0)),
                                      "private port")
        if (qe or 0) - (qs or 0) != (rule.end_port or 0) - (rule.start_port or 0):
            raise ParamError("Private port range and public port range must have the same size")
        rule.dest_start_port, rule.dest_end_port = qs, qe
    session.flush()
    routers.network_changed(session, net)
    return rule
