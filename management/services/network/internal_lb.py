"""Internal load balancing in VPC tiers (CloudStack's ApplicationLoadBalancerService with scheme Internal).

A rule is a ``firewall_rules`` row (purpose LoadBalancing, no public IP) with its internal side in
``load_balancing_internal`` (source IP on the tier); members are the usual ``load_balancer_vm_map`` rows, so
``assignToLoadBalancerRule`` works on it. Every source IP of a tier is served by one appliance (vm_type
InternalLoadBalancerVm, its NIC holding the source IP), created with the first rule on that IP and destroyed with
the last one; where routers are real, the appliance is haproxy in a namespace of its own on the tier
(``network.internal_lb``).
"""

from __future__ import annotations

import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.errors import NetworkRuleConflict, ParamError
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.network import Network, Nic
from management.models.rules import LoadBalancerVmMap, NetworkRule
from management.models.vpc import InternalLbRule, InternalLbVm
from management.network.internal_lb import InternalLbSpec
from management.network.provider import LbBackend, LoadBalancerRule
from management.services import naming
from management.services.network import ipam, routers
from management.services.network import network_offerings as netoffs
from management.services.network import networks as netsvc

ALGORITHMS = ("roundrobin", "leastconn", "source")
VM_TYPE = "InternalLoadBalancerVm"


def supports_internal_lb(session: Session, net: Network) -> bool:
    from management.models.offerings import NetworkOffering

    off = session.get(NetworkOffering, net.network_offering_id)
    return off is not None and "InternalLbVm" in netoffs.services_of(off).get("Lb", [])


def create(session: Session, owner: Account, *, name: str, description: str | None, network: Network,
           source_network: Network, source_ip: str | None, source_port: int, instance_port: int, algorithm: str,
           scheme: str, display: bool | None) -> NetworkRule:
    if scheme.lower() != "internal":
        raise ParamError("Invalid value for scheme. Supported value is internal")
    if not name or not re.match(r"^[A-Za-z0-9_. -]{1,255}$", name):
        raise ParamError(f"Invalid load balancer name {name!r}")
    if algorithm.lower() not in ALGORITHMS:
        raise ParamError(f"Invalid algorithm {algorithm}; supported: {', '.join(ALGORITHMS)}")
    for what, port in (("source port", source_port), ("instance port", instance_port)):
        if not 1 <= port <= 65535:
            raise ParamError(f"Invalid value for {what}: {port}")
    if source_network.id != network.id:
        raise ParamError("The source IP network must be the network the load balancer serves")
    if network.vpc_id is None:
        raise ParamError(f"Network {network.name} is not a VPC tier: internal load balancing needs one")
    if not supports_internal_lb(session, network):
        raise ParamError(f"Scheme Internal is not supported by the network offering of network {network.name}")
    if network.account_id != owner.id:
        raise ParamError(f"Network {network.name} does not belong to account {owner.name}")
    if network.state not in ("Allocated", "Implementing", "Implemented"):
        raise ParamError(f"Network {network.name} is in state {network.state}")
    if network.state != "Implemented":
        netsvc.implement(session, network, strict=False)
    assert network.cidr
    cidr = ipaddress.IPv4Network(network.cidr)
    appliance = None
    if source_ip:
        if ipam.check_ip(source_ip, "sourceipaddress") not in cidr or source_ip == network.gateway:
            raise ParamError(f"The source IP address {source_ip} is not a usable address of network {network.name}")
        appliance = session.scalar(select(InternalLbVm).where(InternalLbVm.network_id == network.id,
                                                              InternalLbVm.source_ip == source_ip))
        if appliance is None and source_ip in netsvc.used_ips(session, network):
            raise ParamError(f"The source IP address {source_ip} is already in use in network {network.name}")
    for other in session.scalars(select(InternalLbRule).where(InternalLbRule.source_network_id == network.id)):
        rule = session.get(NetworkRule, other.rule_id)
        if rule is not None and rule.removed is None and other.source_ip == source_ip and \
                rule.start_port == source_port:
            raise NetworkRuleConflict(f"The load balancer rule {rule.uuid} already uses source port {source_port} "
                                      f"on {source_ip}")
    if appliance is None:
        appliance = _appliance(session, network, owner, source_ip)
    rule = NetworkRule(purpose="LoadBalancing", traffic_type="Ingress", state="Add", ip_address_id=None,
                       network_id=network.id, account_id=network.account_id, domain_id=network.domain_id,
                       protocol="tcp", start_port=source_port, end_port=source_port, dest_start_port=instance_port,
                       dest_end_port=instance_port, source_cidrs="0.0.0.0/0", name=name, description=description,
                       algorithm=algorithm.lower(), for_display=True if display is None else display)
    session.add(rule)
    session.flush()
    session.add(InternalLbRule(rule_id=rule.id, source_ip=appliance.source_ip, source_network_id=network.id))
    session.flush()
    routers.network_changed(session, network)
    return rule


def _appliance(session: Session, net: Network, owner: Account, ip: str | None) -> InternalLbVm:
    """A new appliance for ``ip`` (or a free address of the tier): its VM row, its NIC holding the address."""
    so = routers.router_offering(session)
    vm = VirtualMachine(instance_name="b-pending", name="b-pending", vm_type=VM_TYPE, account_id=owner.id,
                        domain_id=owner.domain_id, zone_id=net.zone_id, service_offering_id=so.id, cpu=so.cpu or 1,
                        speed=so.speed or 0, ram_size=so.ram_size or 256, hypervisor_type="KVM",
                        state="Starting")  # the tier's next apply starts it (see VpcRouterImplementer.apply)
    session.add(vm)
    session.flush()
    vm.instance_name = vm.name = vm.display_name = f"b-{vm.id}-VM"
    picked = netsvc.pick_ip(session, net, ip)
    assert picked is not None
    addr, gateway, netmask = picked
    session.add(Nic(instance_id=vm.id, network_id=net.id, mac_address=ipam.random_mac(
        lambda m: session.scalar(select(Nic.id).where(Nic.mac_address == m)) is not None), ip4_address=addr,
        netmask=netmask, gateway=gateway or None, broadcast_uri=net.broadcast_uri, device_id=0, default_nic=True,
        state="Reserved", mode="Static", traffic_type="Guest", vm_type=VM_TYPE))
    ref = InternalLbVm(vm_id=vm.id, network_id=net.id, source_ip=addr,
                       provider_key=naming.appliance_key(naming.cloud_id(session), "b", vm.id, vm.uuid))
    session.add(ref)
    session.flush()
    return ref


def rules_of(session: Session, appliance: InternalLbVm) -> list[NetworkRule]:
    ids = select(InternalLbRule.rule_id).where(InternalLbRule.source_network_id == appliance.network_id,
                                               InternalLbRule.source_ip == appliance.source_ip)
    return list(session.scalars(select(NetworkRule).where(NetworkRule.id.in_(ids), NetworkRule.removed.is_(None),
                                                          NetworkRule.state != "Revoke").order_by(NetworkRule.id)))


def appliances(session: Session, net: Network) -> list[InternalLbVm]:
    return list(session.scalars(select(InternalLbVm).join(VirtualMachine, VirtualMachine.id == InternalLbVm.vm_id)
                                .where(InternalLbVm.network_id == net.id, VirtualMachine.removed.is_(None))))


def spec_of(session: Session, appliance: InternalLbVm) -> InternalLbSpec:
    net = session.get_one(Network, appliance.network_id)
    assert net.cidr and net.gateway
    lbs = []
    for r in rules_of(session, appliance):
        members = session.scalars(select(LoadBalancerVmMap).where(LoadBalancerVmMap.load_balancer_id == r.id)
                                  .order_by(LoadBalancerVmMap.id))
        backends = tuple(LbBackend(m.vm_ip, r.dest_start_port or 0) for m in members if m.vm_ip)
        if backends:
            lbs.append(LoadBalancerRule(f"ilb{r.id}", appliance.source_ip, r.start_port or 0, backends,
                                        (r.algorithm or "roundrobin")))  # type: ignore[arg-type]
    prefix = ipaddress.IPv4Network(net.cidr).prefixlen
    return InternalLbSpec(router_id=appliance.provider_key, name=f"ilb-{appliance.vm_id}",
                          bridge=netsvc.guest_bridge_name(net), address_cidr=f"{appliance.source_ip}/{prefix}",
                          gateway=net.gateway, load_balancers=tuple(lbs))


def delete(session: Session, rule: NetworkRule) -> None:
    internal = session.get(InternalLbRule, rule.id)
    rule.state, rule.removed = "Revoke", utcnow()
    session.flush()
    if internal is None:
        return
    appliance = session.scalar(select(InternalLbVm).where(InternalLbVm.network_id == internal.source_network_id,
                                                          InternalLbVm.source_ip == internal.source_ip))
    if appliance is not None and not rules_of(session, appliance):
        destroy_appliance(session, appliance)
    routers.network_changed(session, internal.source_network_id)


def destroy_appliance(session: Session, appliance: InternalLbVm) -> None:
    impl = routers.current()
    stop = getattr(impl, "ilb_destroy", None)
    if stop is not None:
        stop(session, appliance)
    vm = session.get_one(VirtualMachine, appliance.vm_id)
    now = utcnow()
    for nic in session.scalars(select(Nic).where(Nic.instance_id == vm.id, Nic.removed.is_(None))):
        nic.removed, nic.state = now, "Deallocating"
    fsm.force_state(session, vm, "Expunging")
    vm.removed = now
    session.delete(appliance)
    session.flush()


def is_internal(session: Session, rule: NetworkRule) -> bool:
    return session.get(InternalLbRule, rule.id) is not None


__all__ = ["VM_TYPE", "appliances", "create", "delete", "destroy_appliance", "is_internal", "rules_of", "spec_of"]

