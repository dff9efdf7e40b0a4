"""What a ROUTED or DualStack network adds to its router's spec: no source NAT and the routing firewall rules
(IPv4), the network's /64 with the router's public IPv6 and the IPv6 firewall rules. Also the offering
predicates the network services share (``is_routed`` ...)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import InsufficientCapacity
from management.models.infra import VlanIpRange
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.models.rules import NetworkRule
from management.network.provider import Ipv6Side, PortRange, RoutedRule
from management.services.network import network_details


def is_routed(off: NetworkOffering | None) -> bool:
    return off is not None and (off.network_mode or "").upper() == "ROUTED"


def is_dual_stack(off: NetworkOffering | None) -> bool:
    return off is not None and (off.internet_protocol or "").lower() == "dualstack"


def is_dynamic(off: NetworkOffering | None) -> bool:
    return off is not None and (off.routing_mode or "").lower() == "dynamic" and (is_routed(off) or
                                                                                  is_dual_stack(off))


def router_public_ipv6(session: Session, net: Network, vlan: VlanIpRange | None) -> tuple[str, int, str] | None:
    """(address, prefix length, gateway) of the network router's public IPv6: taken once from the IPv6 part of
    the public range and kept in the network's details."""
    if vlan is None or not vlan.ip6_cidr or not vlan.ip6_gateway:
        return None
    cidr = ipaddress.IPv6Network(vlan.ip6_cidr, strict=False)
    have = network_details.get(net, "router.ip6")
    if not have:
        taken = set()
        for other in session.scalars(select(Network).where(Network.details_json.is_not(None),
                                                           Network.removed.is_(None))):
            taken.add(network_details.get(other, "router.ip6"))
        lo_s, _, hi_s = (vlan.ip6_range or "").partition("-")
        lo = ipaddress.IPv6Address(lo_s) if lo_s else cidr.network_address + 2
        hi = ipaddress.IPv6Address(hi_s) if hi_s else cidr.network_address + 0xFFFF
        gw = ipaddress.IPv6Address(vlan.ip6_gateway)
        cand = lo
        while cand <= hi and (str(cand) in taken or cand == gw):
            cand += 1
        if cand > hi:
            raise InsufficientCapacity("Insufficient address capacity: no free public IPv6 address in the range")
        have = str(cand)
        network_details.put(net, **{"router.ip6": have})
        session.flush()
    return have, cidr.prefixlen, vlan.ip6_gateway


def public_ipv6_of(net: Network) -> str | None:
    return network_details.get(net, "router.ip6")


def _csv(v: str | None, any_net: str) -> tuple[str, ...]:
    items = tuple(c.strip() for c in (v or "").split(",") if c.strip())
    return () if items == (any_net,) else items


def _icmp(x: int | None) -> int | None:
    return x if x is not None and x >= 0 else None


def _rule(r: NetworkRule, any_net: str) -> RoutedRule:
    ports = PortRange(r.start_port, r.end_port) if r.start_port is not None else None
    return RoutedRule(r.protocol, ports, _csv(r.source_cidrs, any_net),  # type: ignore[arg-type]
                      _csv(r.dest_cidrs, any_net), _icmp(r.icmp_type), _icmp(r.icmp_code))


def spec_fields(session: Session, net: Network, off: NetworkOffering, rules: Iterable[NetworkRule],
                public_range: VlanIpRange | None) -> dict[str, Any]:
    """The RouterSpec fields of a network's routed IPv4 and IPv6 (none for a plain NATed IPv4 network)."""
    rules = list(rules)
    out: dict[str, Any] = {}
    if is_routed(off):
        out["routed"] = True
        out["routed_ingress"] = tuple(_rule(r, "0.0.0.0/0") for r in rules if r.purpose == "Firewall"
                                      and r.ip_address_id is None and r.traffic_type == "Ingress")
    if is_dual_stack(off) and net.ip6_cidr and net.ip6_gateway:
        pub = router_public_ipv6(session, net, public_range)
        out["ipv6"] = Ipv6Side(net.ip6_cidr, net.ip6_gateway, *(pub or (None, 64, None)))
        six = [r for r in rules if r.purpose == "Ipv6Firewall"]
        out["ipv6_ingress"] = tuple(_rule(r, "::/0") for r in six if r.traffic_type == "Ingress")
        out["ipv6_egress"] = tuple(_rule(r, "::/0") for r in six if r.traffic_type == "Egress")
    return out
