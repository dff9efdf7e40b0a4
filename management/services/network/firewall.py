"""Firewall rules (ingress on a public IP, egress on a network) and the rule conflict check every rule family shares
(CloudStack's FirewallManager.detectRulesConflict)."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import NetworkRuleConflict, ParamError
from management.models.infra import PublicIpAddress
from management.models.network import Network
from management.models.rules import NetworkRule
from management.services.network import portable_ips, quarantine, routers

PROTOCOLS = ("tcp", "udp", "icmp", "all")


def norm_protocol(protocol: str, allowed: tuple[str, ...] = PROTOCOLS) -> str:
    p = (protocol or "").lower()
    if p not in allowed:
        raise ParamError(f"Invalid protocol {protocol}; supported: {', '.join(allowed)}")
    return p


def check_ports(start: int | None, end: int | None, what: str = "port") -> tuple[int | None, int | None]:
    if start is None and end is None:
        return None, None
    if start is None:
        start = end
    if end is None:
        end = start
    assert start is not None and end is not None
    if not (1 <= start <= 65535 and 1 <= end <= 65535):
        raise ParamError(f"Invalid {what} range {start}-{end}: ports must be 1..65535")
    if start > end:
        raise ParamError(f"Invalid {what} range: start {start} is greater than end {end}")
    return start, end


def norm_cidrs(cidrs: list[str] | None, default: str | None = "0.0.0.0/0") -> str | None:
    out = []
    for c in cidrs or []:
        c = c.strip()
        if not c:
            continue
        try:
            out.append(str(ipaddress.IPv4Network(c, strict=False)))
        except ValueError:
            raise ParamError(f"Invalid cidr {c}") from None
    if not out:
        return default
    return ",".join(out)


def ip_network(session: Session, ip: PublicIpAddress, network: Network | None = None) -> Network:
    """The network a rule on ``ip`` belongs to (the IP's associated network)."""
    if ip.state not in ("Allocated", "Allocating") or ip.network_id is None:
        if network is not None and ip.vpc_id is not None and network.vpc_id != ip.vpc_id:
            raise ParamError(f"The IP address {ip.public_ip_address} belongs to a VPC and network {network.name} "
                             "is not one of its tiers")
        if network is not None and ip.state in ("Allocated", "Allocating"):
            ip.network_id = network.id
            session.flush()
            return network
        raise ParamError(f"The IP address {ip.public_ip_address} is not associated with a guest network")
    net = session.get_one(Network, ip.network_id)
    if net.removed is not None:
        raise ParamError(f"The network of IP address {ip.public_ip_address} is destroyed")
    return net


def detect_conflict(session: Session, ip: PublicIpAddress, purpose: str, protocol: str, start: int | None,
                    end: int | None, cidrs: str | None = None, exclude: int | None = None) -> None:
    """537 when a rule of a port-using family overlaps one already on the IP (firewall rules conflict only with
    firewall rules of the same cidrs; port forwarding and load balancing share the public ports)."""
    if ip.one_to_one_nat and purpose in ("PortForwarding", "LoadBalancing"):
        raise NetworkRuleConflict(f"Can't create a {purpose} rule on IP address {ip.public_ip_address}: it has "
                                  "static NAT enabled")
    rows = session.scalars(select(NetworkRule).where(
        NetworkRule.ip_address_id == ip.id, NetworkRule.removed.is_(None), NetworkRule.state != "Revoke",
        NetworkRule.traffic_type == "Ingress"))
    for r in rows:
        if r.id == exclude:
            continue
        fw = purpose == "Firewall"
        if fw != (r.purpose == "Firewall"):
            continue
        if fw and (r.source_cidrs or "") != (cidrs or ""):
            continue
        if r.protocol != protocol and not (fw and "all" in (r.protocol, protocol)):
            continue
        if protocol in ("icmp", "all") or r.protocol in ("icmp", "all"):
            if fw:
                raise NetworkRuleConflict(f"There is already a firewall rule specified for the {protocol} protocol "
                                          f"on IP address {ip.public_ip_address} (rule {r.uuid})")
            continue
        if start is None or r.start_port is None:
            continue
        r_end = r.end_port or r.start_port
        if start <= r_end and r.start_port <= (end or start):
            raise NetworkRuleConflict(
                f"The range specified, {start}-{end or start}, conflicts with rule {r.uuid} which has "
                f"{r.start_port}-{r_end}")


def create_firewall_rule(session: Session, ip: PublicIpAddress, *, protocol: str, start: int | None,
                         end: int | None, cidrs: list[str] | None, icmp_type: int | None = None,
                         icmp_code: int | None = None, related: int | None = None,
                         network: Network | None = None) -> NetworkRule:
    protocol = norm_protocol(protocol)
    if protocol in ("tcp", "udp"):
        start, end = check_ports(start, end)
    elif start is not None or end is not None:
        raise ParamError(f"Ports can only be specified for tcp and udp rules, not {protocol}")
    if protocol != "icmp" and (icmp_type is not None or icmp_code is not None):
        raise ParamError("icmptype/icmpcode can only be specified for the icmp protocol")
    if ip.source_nat is False and ip.one_to_one_nat is False and ip.state == "Free":
        raise ParamError(f"IP address {ip.public_ip_address} is not associated")
    if ip.vpc_id is not None:
        raise ParamError(f"Firewall service is not supported on IP address {ip.public_ip_address} of a VPC: the "
                         "tiers' network ACLs filter its traffic")
    net = ip_network(session, ip, network)
    c = norm_cidrs(cidrs)
    if related is None:
        detect_conflict(session, ip, "Firewall", protocol, start, end, c)
    rule = NetworkRule(purpose="Firewall", traffic_type="Ingress", state="Active", ip_address_id=ip.id,
                       network_id=net.id, account_id=net.account_id if ip.account_id is None else ip.account_id,
                       domain_id=net.domain_id if ip.domain_id is None else ip.domain_id, protocol=protocol,
                       start_port=start, end_port=end, icmp_type=icmp_type, icmp_code=icmp_code, source_cidrs=c,
                       related_id=related)
    session.add(rule)
    session.flush()
    routers.network_changed(session, net)
    return rule


def create_egress_rule(session: Session, net: Network, *, protocol: str, start: int | None, end: int | None,
                       cidrs: list[str] | None, dest_cidrs: list[str] | None, icmp_type: int | None = None,
                       icmp_code: int | None = None) -> NetworkRule:
    if net.guest_type != "Isolated":
        raise ParamError("Egress firewall rules can only be created for isolated networks")
    protocol = norm_protocol(protocol)
    if protocol in ("tcp", "udp"):
        start, end = check_ports(start, end)
    elif start is not None or end is not None:
        raise ParamError(f"Ports can only be specified for tcp and udp rules, not {protocol}")
    src = norm_cidrs(cidrs, default=net.cidr)
    if src and net.cidr:
        for c in src.split(","):
            if not ipaddress.IPv4Network(c).subnet_of(ipaddress.IPv4Network(net.cidr)):
                raise ParamError(f"Source cidr {c} is not within the network cidr {net.cidr}")
    dst = norm_cidrs(dest_cidrs)
    rule = NetworkRule(purpose="Firewall", traffic_type="Egress", state="Active", network_id=net.id,
                       account_id=net.account_id, domain_id=net.domain_id, protocol=protocol, start_port=start,
                       end_port=end, icmp_type=icmp_type, icmp_code=icmp_code, source_cidrs=src, dest_cidrs=dst)
    session.add(rule)
    session.flush()
    routers.network_changed(session, net)
    return rule


def revoke(session: Session, rule: NetworkRule) -> None:
    """Deletes a rule (and the firewall rule it opened) and re-applies the router."""
    rule.state, rule.removed = "Revoke", utcnow()
    for rel in session.scalars(select(NetworkRule).where(NetworkRule.related_id == rule.id,
                                                         NetworkRule.removed.is_(None))):
        rel.state, rel.removed = "Revoke", utcnow()
    session.flush()
    routers.network_changed(session, rule.network_id)


def rules_of_ip(session: Session, ip: PublicIpAddress) -> list[NetworkRule]:
    return list(session.scalars(select(NetworkRule).where(NetworkRule.ip_address_id == ip.id,
                                                          NetworkRule.removed.is_(None))))


def release_ip(session: Session, ip: PublicIpAddress) -> None:
    """disassociateIpAddress (CloudStack's cleanupIpResources + release): every rule on the IP is revoked (firewall,
    port forwarding, load balancing, with their opened firewall rules), static NAT is disabled, the address goes
    back to the free pool, and the network's router is re-applied without it."""
    from management.services.network import networks as netsvc

    net_id, vpc_id = ip.network_id, ip.vpc_id
    now = utcnow()
    for rule in rules_of_ip(session, ip):
        rule.state, rule.removed = "Revoke", now
    if ip.one_to_one_nat:
        ip.one_to_one_nat, ip.vm_id, ip.vm_ip = False, None, None
    session.flush()
    quarantine.on_release(session, ip)
    if ip.is_portable:
        portable_ips.release(session, ip)
    else:
        netsvc.release_public_ip(session, ip)
    routers.network_changed(session, net_id)
    routers.vpc_changed(session, vpc_id)
