"""Load-balancer rules on a public IP (haproxy in the router) and their VM members."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.infra import PublicIpAddress
from management.models.network import Network
from management.models.rules import LoadBalancerVmMap, NetworkRule
from management.services.network import firewall, portforwarding, routers

ALGORITHMS = ("roundrobin", "leastconn", "source")


def _algorithm(a: str) -> str:
    if a.lower() not in ALGORITHMS:
        raise ParamError(f"Invalid algorithm {a}; supported: {', '.join(ALGORITHMS)}")
    return a.lower()


def create(session: Session, ip: PublicIpAddress, *, name: str, description: str | None, algorithm: str,
           public_port: int, private_port: int, protocol: str | None, open_firewall: bool,
           cidrs: list[str] | None, network: Network | None = None) -> NetworkRule:
    if not name or not re.match(r"^[A-Za-z0-9_. -]{1,255}$", name):
        raise ParamError(f"Invalid load balancer rule name {name!r}")
    algo = _algorithm(algorithm)
    proto = firewall.norm_protocol(protocol or "tcp", ("tcp", "udp", "tcp-proxy", "ssl"))
    if proto not in ("tcp", "ssl"):
        raise ParamError(f"Protocol {proto} is not supported by the load balancer of this router (tcp or ssl only)")
    firewall.check_ports(public_port, public_port, "public port")
    firewall.check_ports(private_port, private_port, "private port")
    net = firewall.ip_network(session, ip, network)
    firewall.detect_conflict(session, ip, "LoadBalancing", "tcp" if proto == "ssl" else proto, public_port,
                             public_port)
    c = firewall.norm_cidrs(cidrs)
    rule = NetworkRule(purpose="LoadBalancing", traffic_type="Ingress", state="Add", ip_address_id=ip.id,
                       network_id=net.id, account_id=net.account_id, domain_id=net.domain_id, protocol=proto,
                       start_port=public_port, end_port=public_port, dest_start_port=private_port,
                       dest_end_port=private_port, source_cidrs=c, name=name, description=description,
                       algorithm=algo)
    session.add(rule)
    session.flush()
    if open_firewall and ip.vpc_id is None:
        firewall.create_firewall_rule(session, ip, protocol="tcp", start=public_port, end=public_port,
                                      cidrs=c.split(",") if c else None, related=rule.id)
    routers.network_changed(session, net)
    return rule


def update(session: Session, rule: NetworkRule, *, name: str | None, description: str | None,
           algorithm: str | None) -> NetworkRule:
    if name:
        rule.name = name
    if description is not None:
        rule.description = description
    if algorithm:
        rule.algorithm = _algorithm(algorithm)
    session.flush()
    routers.network_changed(session, rule.network_id)
    return rule


def members(session: Session, rule: NetworkRule) -> list[LoadBalancerVmMap]:
    return list(session.scalars(select(LoadBalancerVmMap).where(LoadBalancerVmMap.load_balancer_id == rule.id)
                                .order_by(LoadBalancerVmMap.id)))


def assign(session: Session, rule: NetworkRule, vms: list[tuple[VirtualMachine, str | None]]) -> None:
    net = session.get_one(Network, rule.network_id)
    have = {(m.vm_id, m.vm_ip) for m in members(session, rule)}
    for vm, ip in vms:
        nic = portforwarding.vm_nic(session, vm, net, ip)
        if (vm.id, nic.ip4_address) in have:
            continue
        if vm.account_id != rule.account_id:
            raise ParamError(f"Virtual machine {vm.name} does not belong to the owner of the load balancer rule")
        session.add(LoadBalancerVmMap(load_balancer_id=rule.id, vm_id=vm.id, vm_ip=nic.ip4_address))
        have.add((vm.id, nic.ip4_address))
    rule.state = "Active"
    session.flush()
    routers.network_changed(session, net)


def remove(session: Session, rule: NetworkRule, vms: list[VirtualMachine]) -> None:
    ids = {m.vm_id for m in members(session, rule)}
    for vm in vms:
        if vm.id not in ids:
            raise ParamError(f"Virtual machine {vm.name} is not assigned to load balancer rule {rule.name}")
    session.execute(delete(LoadBalancerVmMap).where(LoadBalancerVmMap.load_balancer_id == rule.id,
                                                    LoadBalancerVmMap.vm_id.in_([v.id for v in vms])))
    session.flush()
    routers.network_changed(session, rule.network_id)
