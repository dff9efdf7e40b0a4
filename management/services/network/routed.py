"""Routed guest networks (CloudStack 4.20): a zone's IPv4 subnets and the guest subnets carved from them for
networks in ROUTED mode (no NAT: the router routes the network's own addresses), the routing firewall rules
that open such a network to the outside, and the zone's IPv6 guest prefixes whose /64s DualStack networks get.

The router side (no source NAT, routing rules and IPv6 in nftables) is ``services.network.routers`` and
``management.network``; this module keeps the records and CloudStack's checks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError, ResourceAllocationError
from management.models.identity import Account
from management.models.infra import Zone
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.models.routing import BgpPeer, GuestIpv4Subnet, Ipv6GuestPrefix, Ipv6GuestSubnet, ZoneIpv4Subnet
from management.models.rules import NetworkRule
from management.services import configuration
from management.services.network import firewall, routers
from management.services.network.routed_spec import is_dual_stack, is_dynamic, is_routed

ENABLED = "routed.network.vpc.enabled"
AUTO_ALLOCATION = "routed.ipv4.network.cidr.auto.allocation.enabled"
MAX_CIDR = "routed.network.ipv4.max.cidr.size"
MIN_CIDR = "routed.network.ipv4.min.cidr.size"


IPV6_OFFERINGS = "ipv6.offering.enabled"
NOT_IN_ROUTED = ("SourceNat", "StaticNat", "PortForwarding", "Lb", "Vpn")


def offering_modes(session: Session, *, guest_type: str, services: Iterable[str], network_mode: str | None,
                   routing_mode: str | None, internet_protocol: str | None,
                   specify_as_number: bool | None) -> dict[str, object]:
    """createNetworkOffering's networkmode/routingmode/internetprotocol/specifyasnumber, checked and normalised
    to the offering's columns."""
    proto = {"ipv4": "IPv4", "dualstack": "DualStack"}.get((internet_protocol or "IPv4").lower())
    if proto is None:
        raise ParamError(f"Unsupported internet protocol {internet_protocol}; supported: IPv4, DualStack")
    if proto == "DualStack":
        if (configuration.get(session, IPV6_OFFERINGS) or "false").lower() != "true":
            raise ParamError(f"Configuration {IPV6_OFFERINGS} needs to be enabled for creating IPv6 supported "
                             "network offering")
        if guest_type != "Isolated":
            raise ParamError("Internet protocol DualStack is supported for Isolated network offerings only")
    mode = (network_mode or "NATTED").upper()
    if mode not in ("NATTED", "ROUTED"):
        raise ParamError(f"Invalid network mode {network_mode}; supported: NATTED, ROUTED")
    if mode == "ROUTED":
        if (configuration.get(session, ENABLED) or "true").lower() != "true":
            raise ParamError(f"Configuration {ENABLED} needs to be enabled")
        if guest_type != "Isolated":
            raise ParamError("ROUTED network mode is supported for Isolated network offerings only")
        bad = [s for s in NOT_IN_ROUTED if s in set(services)]
        if bad:
            raise ParamError(f"Service(s) {', '.join(bad)} are not supported by network offerings in ROUTED mode")
    rmode = None
    if routing_mode:
        rmode = {"static": "Static", "dynamic": "Dynamic"}.get(routing_mode.lower())
        if rmode is None:
            raise ParamError(f"Invalid routing mode {routing_mode}; supported: Static, Dynamic")
        if mode != "ROUTED":
            raise ParamError("Routing mode can be specified for network offerings in ROUTED mode only")
    if specify_as_number and rmode != "Dynamic":
        raise ParamError("AS number can be specified only for network offerings with Dynamic routing mode")
    return {"network_mode": mode, "internet_protocol": proto, "routing_mode": rmode,
            "specify_as_number": bool(specify_as_number)}


def check_enabled(session: Session, zone: Zone) -> None:
    if (configuration.get(session, ENABLED, zone=zone) or "true").lower() != "true":
        raise ParamError("Routed networks and VPCs are not enabled for the zone.")


def _v4net(cidr: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise ParamError(f"Invalid IPv4 subnet: {cidr}") from None
    if "/" not in cidr:
        raise ParamError(f"Invalid IPv4 subnet: {cidr}")
    return net


# ------------------------------------------------------------------------------------------------ zone subnets

def _check_zone_conflicts(session: Session, zone_id: int, net: ipaddress.IPv4Network, ignore: int | None) -> None:
    for other in session.scalars(select(ZoneIpv4Subnet).where(ZoneIpv4Subnet.zone_id == zone_id,
                                                              ZoneIpv4Subnet.removed.is_(None))):
        if other.id != ignore and ipaddress.IPv4Network(other.subnet).overlaps(net):
            raise ParamError(f"Existing zone subnet {other.subnet} has overlap with: {net}")


def create_zone_subnet(session: Session, zone: Zone, subnet: str, owner: Account | None,
                       domain_id: int | None) -> ZoneIpv4Subnet:
    net = _v4net(subnet)
    check_enabled(session, zone)
    _check_zone_conflicts(session, zone.id, net, None)
    row = ZoneIpv4Subnet(zone_id=zone.id, subnet=str(net), account_id=owner.id if owner else None,
                         domain_id=owner.domain_id if owner else domain_id)
    session.add(row)
    session.flush()
    return row


def guest_subnets(session: Session, parent: ZoneIpv4Subnet) -> list[GuestIpv4Subnet]:
    return list(session.scalars(select(GuestIpv4Subnet).where(GuestIpv4Subnet.parent_id == parent.id,
                                                              GuestIpv4Subnet.removed.is_(None))))


def update_zone_subnet(session: Session, row: ZoneIpv4Subnet, subnet: str) -> ZoneIpv4Subnet:
    net = _v4net(subnet)
    _check_zone_conflicts(session, row.zone_id, net, row.id)
    for used in guest_subnets(session, row):
        if not ipaddress.IPv4Network(used.subnet).subnet_of(net):
            raise ParamError(f"Used subnet for guest network {used.subnet} is not within new cidr: {subnet}")
    row.subnet = str(net)
    session.flush()
    return row


def delete_zone_subnet(session: Session, row: ZoneIpv4Subnet) -> None:
    used = [g for g in guest_subnets(session, row) if g.network_id is not None or g.state != "Free"]
    if used:
        raise ParamError(f"The subnet is being used by {len(used)} guest networks.")
    now = utcnow()
    for g in guest_subnets(session, row):
        g.removed = now
    row.removed = now
    session.flush()


def dedicate(session: Session, row: ZoneIpv4Subnet | BgpPeer, nets: list[Network], owner: Account | None,
             domain_id: int | None) -> None:
    """Dedicates a zone subnet or BGP peer to an account or a domain, unless networks of others use it (CloudStack
    says "subnet" for a BGP peer as well)."""
    acct_id = owner.id if owner else None
    dom_id = owner.domain_id if owner else domain_id
    for label, others in (("domains", [n for n in nets if dom_id is not None and n.domain_id != dom_id]),
                          ("accounts", [n for n in nets if acct_id is not None and n.account_id != acct_id])):
        if others:
            raise ParamError(f"The subnet is being used by {len(others)} guest networks of other {label}.")
    row.account_id, row.domain_id = acct_id, dom_id
    session.flush()


def dedicate_zone_subnet(session: Session, row: ZoneIpv4Subnet, owner: Account | None,
                         domain_id: int | None) -> ZoneIpv4Subnet:
    nets = [n for g in guest_subnets(session, row) if g.network_id
            for n in [session.get(Network, g.network_id)] if n is not None]
    dedicate(session, row, nets, owner, domain_id)
    return row


def release_zone_subnet(session: Session, row: ZoneIpv4Subnet) -> ZoneIpv4Subnet:
    row.account_id = row.domain_id = None
    session.flush()
    return row


# ------------------------------------------------------------------------------------------------ guest subnets

def _free_slot(parent: ipaddress.IPv4Network, taken: Iterable[ipaddress.IPv4Network],
               prefix: int) -> ipaddress.IPv4Network | None:
    if prefix < parent.prefixlen:
        return None
    taken = list(taken)
    for cand in parent.subnets(new_prefix=prefix):
        if not any(cand.overlaps(t) for t in taken):
            return cand
    return None


def create_guest_subnet(session: Session, parent: ZoneIpv4Subnet, subnet: str | None,
                        cidr_size: int | None) -> GuestIpv4Subnet:
    if subnet is None and cidr_size is None:
        raise ParamError("One of subnet and cidrsize must be specified")
    if subnet is not None and cidr_size is not None:
        raise ParamError("subnet and cidrsize are mutually exclusive")
    pnet = ipaddress.IPv4Network(parent.subnet)
    taken = [ipaddress.IPv4Network(g.subnet) for g in guest_subnets(session, parent)]
    if subnet is not None:
        net = _v4net(subnet)
        if not net.subnet_of(pnet):
            raise ParamError(f"networkCidr {subnet} is not within parent cidr: {parent.subnet}")
        for t in taken:
            if t.overlaps(net):
                raise ParamError(f"Existing subnet {t} has overlap with: {subnet}")
    else:
        assert cidr_size is not None
        found = _free_slot(pnet, taken, cidr_size)
        if found is None:
            raise ParamError("Failed to automatically allocate a subnet with specified cidrsize")
        net = found
    row = GuestIpv4Subnet(parent_id=parent.id, subnet=str(net), state="Free")
    session.add(row)
    session.flush()
    return row


def delete_guest_subnet(session: Session, row: GuestIpv4Subnet) -> None:
    if row.state != "Free" or row.network_id is not None:
        raise ParamError("Cannot delete the subnet which is in use")
    row.removed = utcnow()
    session.flush()


def _zone_subnets_for(session: Session, zone_id: int, owner: Account) -> list[ZoneIpv4Subnet]:
    rows = list(session.scalars(select(ZoneIpv4Subnet).where(ZoneIpv4Subnet.zone_id == zone_id,
                                                             ZoneIpv4Subnet.removed.is_(None))
                                .order_by(ZoneIpv4Subnet.id)))
    mine = [r for r in rows if r.account_id == owner.id]
    domain = [r for r in rows if r.account_id is None and r.domain_id == owner.domain_id]
    public = [r for r in rows if r.account_id is None and r.domain_id is None]
    return mine + domain + public


def _check_size(session: Session, size: int) -> None:
    lo = int(configuration.get(session, MIN_CIDR) or 24)
    hi = int(configuration.get(session, MAX_CIDR) or 30)
    if not lo <= size <= hi:
        raise ParamError(f"CIDR size {size} is invalid: it must be between {lo} and {hi}")


def subnet_for_network(session: Session, zone: Zone, owner: Account, *, cidr: str | None,
                       cidr_size: int | None) -> GuestIpv4Subnet:
    """The guest subnet a new ROUTED network takes: the given CIDR (registered under its zone subnet when it
    lies in one), or a free one of ``cidr_size`` from the subnets the owner may use."""
    if cidr is not None:
        net = _v4net(cidr)
        existing = session.scalar(select(GuestIpv4Subnet).where(GuestIpv4Subnet.subnet == str(net),
                                                                GuestIpv4Subnet.removed.is_(None)))
        if existing is not None:
            if existing.network_id is not None or existing.vpc_id is not None:
                raise ParamError("The subnet is in use")
            return existing
        parent = next((p for p in session.scalars(select(ZoneIpv4Subnet).where(
            ZoneIpv4Subnet.zone_id == zone.id, ZoneIpv4Subnet.removed.is_(None)))
            if net.subnet_of(ipaddress.IPv4Network(p.subnet))), None)
        if parent is not None and ((parent.domain_id is not None and parent.domain_id != owner.domain_id)
                                   or (parent.account_id is not None and parent.account_id != owner.id)):
            raise ParamError("The owner of the network has no permission to access the subnet")
        for other in session.scalars(select(GuestIpv4Subnet).where(GuestIpv4Subnet.removed.is_(None))):
            if ipaddress.IPv4Network(other.subnet).overlaps(net):
                raise ParamError(f"Existing subnet {other.subnet} has overlap with: {net}")
        row = GuestIpv4Subnet(parent_id=parent.id if parent else None, subnet=str(net), state="Free")
        session.add(row)
        session.flush()
        return row
    if cidr_size is None:
        raise ParamError("network/vpc CidrSize is null")
    _check_size(session, cidr_size)
    subnets = _zone_subnets_for(session, zone.id, owner)
    for parent in subnets:
        free = session.scalar(select(GuestIpv4Subnet).where(
            GuestIpv4Subnet.parent_id == parent.id, GuestIpv4Subnet.removed.is_(None),
            GuestIpv4Subnet.state == "Free", GuestIpv4Subnet.network_id.is_(None),
            GuestIpv4Subnet.subnet.like(f"%/{cidr_size}")).order_by(GuestIpv4Subnet.id).limit(1))
        if free is not None:
            return free
    if (configuration.get(session, AUTO_ALLOCATION) or "true").lower() != "true":
        raise ParamError("CIDR auto-allocation is disabled for this account")
    for parent in subnets:
        try:
            return create_guest_subnet(session, parent, None, cidr_size)
        except ParamError:
            continue
    raise ParamError("Failed to automatically allocate a subnet with specified cidrsize")


def prepare_network(session: Session, caller_is_root: bool, zone: Zone, owner: Account, off: NetworkOffering, *,
                    gateway: str | None, netmask: str | None, cidr_size: int | None, as_number: int | None,
                    peers: list[BgpPeer]) -> tuple[str | None, str | None, GuestIpv4Subnet | None]:
    """Checks createNetwork's routed parameters; for a ROUTED offering, the (gateway, netmask) of the subnet the
    network takes and that subnet's record."""
    if not is_routed(off) and cidr_size is not None:
        raise ParamError("CIDR size can be specified only for ROUTED networks")
    if not is_dynamic(off) and (as_number is not None or peers):
        raise ParamError("AS number and BGP peers can be specified only for networks with Dynamic routing")
    if off.specify_as_number and as_number is None:
        raise ParamError("AS number is required for the network but not passed.")
    if not is_routed(off):
        return gateway, netmask, None
    check_enabled(session, zone)
    if (gateway or netmask) and not caller_is_root:
        raise ParamError("Only root admin can specify gateway and netmask for ROUTED networks")
    if gateway and netmask:
        cidr: str | None = str(ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False))
    elif gateway or netmask:
        raise ParamError("gateway and netmask must be specified together")
    else:
        cidr = None
        if cidr_size is None:
            raise ParamError("CIDR size or gateway/netmask is required for ROUTED networks")
    row = subnet_for_network(session, zone, owner, cidr=cidr, cidr_size=cidr_size)
    sub = ipaddress.IPv4Network(row.subnet)
    return gateway or str(sub.network_address + 1), netmask or str(sub.netmask), row


def assign(session: Session, row: GuestIpv4Subnet, net: Network) -> None:
    row.network_id, row.state, row.allocated = net.id, "Allocated", utcnow()
    session.flush()


def release_network(session: Session, net: Network) -> None:
    """A deleted network gives its guest subnet (IPv4) and /64 (IPv6) back."""
    for row in session.scalars(select(GuestIpv4Subnet).where(GuestIpv4Subnet.network_id == net.id,
                                                             GuestIpv4Subnet.removed.is_(None))):
        row.removed = utcnow()
    for six in session.scalars(select(Ipv6GuestSubnet).where(Ipv6GuestSubnet.network_id == net.id)):
        six.network_id, six.state, six.updated = None, "Free", utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ IPv6 prefixes

def create_prefix(session: Session, zone: Zone, prefix: str) -> Ipv6GuestPrefix:
    try:
        net = ipaddress.IPv6Network(prefix, strict=False)
    except ValueError:
        raise ParamError(f"Invalid IPv6 prefix {prefix}") from None
    if net.prefixlen > 64:
        raise ParamError("IPv6 prefix must be /64 or less")
    for other in session.scalars(select(Ipv6GuestPrefix).where(Ipv6GuestPrefix.zone_id == zone.id,
                                                               Ipv6GuestPrefix.removed.is_(None))):
        if ipaddress.IPv6Network(other.prefix).overlaps(net):
            raise ParamError(f"Prefix {prefix} overlaps with the existing prefix {other.prefix}")
    row = Ipv6GuestPrefix(zone_id=zone.id, prefix=str(net))
    session.add(row)
    session.flush()
    return row


def prefix_usage(session: Session, row: Ipv6GuestPrefix) -> tuple[int, int]:
    net = ipaddress.IPv6Network(row.prefix)
    total = 1 << (64 - net.prefixlen)
    used = len(list(session.scalars(select(Ipv6GuestSubnet.id).where(Ipv6GuestSubnet.prefix_id == row.id,
                                                                     Ipv6GuestSubnet.state != "Free"))))
    return used, total


def delete_prefix(session: Session, row: Ipv6GuestPrefix) -> None:
    used, _ = prefix_usage(session, row)
    if used:
        raise ParamError(f"Unable to delete the prefix {row.prefix} as it is in use by {used} networks")
    row.removed = utcnow()
    session.flush()


def allocate_ipv6(session: Session, net: Network) -> None:
    """A DualStack network's /64 from the zone's prefixes; its gateway is the first address."""
    if net.ip6_cidr:
        return
    for prefix in session.scalars(select(Ipv6GuestPrefix).where(Ipv6GuestPrefix.zone_id == net.zone_id,
                                                                Ipv6GuestPrefix.removed.is_(None))
                                  .order_by(Ipv6GuestPrefix.id)):
        free = session.scalar(select(Ipv6GuestSubnet).where(Ipv6GuestSubnet.prefix_id == prefix.id,
                                                            Ipv6GuestSubnet.state == "Free").limit(1))
        if free is None:
            used = set(session.scalars(select(Ipv6GuestSubnet.subnet).where(Ipv6GuestSubnet.prefix_id ==
                                                                            prefix.id)))
            cand = next((str(s) for s in ipaddress.IPv6Network(prefix.prefix).subnets(new_prefix=64)
                         if str(s) not in used), None)
            if cand is None:
                continue
            free = Ipv6GuestSubnet(prefix_id=prefix.id, subnet=cand)
            session.add(free)
        free.network_id, free.state, free.updated = net.id, "Allocated", utcnow()
        sub = ipaddress.IPv6Network(free.subnet)
        net.ip6_cidr, net.ip6_gateway = str(sub), str(sub.network_address + 1)
        session.flush()
        return
    raise ResourceAllocationError("Unable to allocate IPv6 guest subnet for the network")


# ------------------------------------------------------------------------------------------------ rules

def _cidrs(values: list[str] | None, family: int, default: str) -> str:
    out = []
    for c in values or [default]:
        try:
            net = ipaddress.ip_network(c.strip(), strict=False)
        except ValueError:
            net = None
        if net is None or net.version != family:
            kind = "IPv4" if family == 4 else "IPv6"
            raise ParamError(f"Invalid source {kind} CIDR: {c}" if family == 4 else f"Invalid IPv6 CIDR: {c}")
        out.append(str(net))
    return ",".join(out)


def create_rule(session: Session, net: Network, *, purpose: str, protocol: str, start: int | None,
                end: int | None, sources: list[str] | None, destinations: list[str] | None,
                icmp_type: int | None, icmp_code: int | None, traffic_type: str | None,
                for_display: bool | None) -> NetworkRule:
    """A routing firewall rule (purpose Firewall, no public IP: IPv4 of a ROUTED network) or an IPv6 firewall
    rule (purpose Ipv6Firewall)."""
    tt = (traffic_type or "Ingress").capitalize()
    if tt not in ("Ingress", "Egress"):
        raise ParamError(f"Invalid traffic type {traffic_type}")
    family = 6 if purpose == "Ipv6Firewall" else 4
    proto = (protocol or "").strip().lower()
    proto = {"1": "icmp", "6": "tcp", "17": "udp", "58": "icmp"}.get(proto, proto)
    if family == 6 and proto in ("icmpv6", "ipv6-icmp"):
        proto = "icmp"
    allowed = ("tcp", "udp", "icmp", "all") if tt == "Egress" else ("tcp", "udp", "icmp", "all")
    if proto not in allowed:
        raise ParamError(f"Protocol {protocol} is not supported in zone")
    for p, what in ((start, "publicPort is an invalid value: "), (end, "Public port range is an invalid value: ")):
        if p is not None and not 1 <= p <= 65535:
            raise ParamError(f"{what}{p}")
    if start is not None and end is not None and start > end:
        raise ParamError("Start port can't be bigger than end port")
    if proto != "icmp" and (icmp_type is not None or icmp_code is not None):
        raise ParamError("Can specify icmpCode and icmpType for ICMP protocol only")
    if proto == "icmp" and (start is not None or end is not None):
        raise ParamError("Can't specify start/end port when protocol is ICMP")
    if proto in ("tcp", "udp") and start is not None and end is None:
        end = start
    default = "0.0.0.0/0" if family == 4 else "::/0"
    rule = NetworkRule(purpose=purpose, traffic_type=tt, state="Active", network_id=net.id,
                       account_id=net.account_id, domain_id=net.domain_id, protocol=proto, start_port=start,
                       end_port=end, icmp_type=icmp_type, icmp_code=icmp_code,
                       source_cidrs=_cidrs(sources, family, default), dest_cidrs=_cidrs(destinations, family, default))
    if for_display is not None:
        rule.for_display = for_display
    session.add(rule)
    session.flush()
    routers.network_changed(session, net)
    return rule


def revoke_rule(session: Session, rule: NetworkRule) -> None:
    firewall.revoke(session, rule)


__all__ = ["is_dual_stack", "is_dynamic", "is_routed"]
