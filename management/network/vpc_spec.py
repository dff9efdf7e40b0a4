"""What a VPC router is asked to be: plain frozen specs (no database), validated and (de)serialisable like
``provider.RouterSpec``.

A VPC router has a public leg (``PublicSide``: the VPC's public IPs, the source-NAT one first), one leg per tier
(its own bridge and gateway, DHCP/DNS for its guests, its ACL as ordered ingress/egress entries), optional private
gateway legs with static routes, and IPsec: site-to-site connections and remote-access users (``VpnSpec``, shared
with the isolated-network router).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from management.network.provider import (
    IFNAME_RE,
    ROUTER_ID_RE,
    DhcpHost,
    LbBackend,
    LoadBalancerRule,
    PortForward,
    PortRange,
    PublicSide,
    SpecError,
    StaticNat,
    VmMetadata,
    VpnSpec,
    vpn_from_dict,
)

KEY_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
PROTO_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1}


@dataclass(frozen=True)
class AclEntry:
    """One ACL item, already in order: ``cidrs`` are the source (ingress) or destination (egress) CIDRs."""
    allow: bool
    protocol: str = "all"              # tcp | udp | icmp | all | "<number>"
    ports: PortRange | None = None
    cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True)
class Tier:
    key: str                         # the leg's interface name in the router ([a-z][a-z0-9]{0,9})
    bridge: str
    gateway_cidr: str
    domain: str = "cs.internal"
    dns_servers: tuple[str, ...] = ()
    dhcp_hosts: tuple[DhcpHost, ...] = ()
    ingress: tuple[AclEntry, ...] = ()
    egress: tuple[AclEntry, ...] = ()

    @property
    def iface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(self.gateway_cidr)

    @property
    def cidr(self) -> str:
        return str(self.iface.network)

    @property
    def gateway(self) -> str:
        return str(self.iface.ip)


@dataclass(frozen=True)
class PrivateGatewayLeg:
    key: str
    bridge: str
    address_cidr: str                # the router's address on the private network
    gateway: str                     # the next hop on that network
    source_nat: bool = False
    ingress: tuple[AclEntry, ...] = ()
    egress: tuple[AclEntry, ...] = ()


@dataclass(frozen=True)
class Route:
    cidr: str
    via: str


@dataclass(frozen=True)
class VpcRouterSpec:
    router_id: str
    name: str
    cidr: str                                  # the VPC's super CIDR
    public: PublicSide | None = None
    tiers: tuple[Tier, ...] = ()
    gateways: tuple[PrivateGatewayLeg, ...] = ()
    routes: tuple[Route, ...] = ()
    port_forwards: tuple[PortForward, ...] = ()
    static_nats: tuple[StaticNat, ...] = ()
    load_balancers: tuple[LoadBalancerRule, ...] = ()
    vpn: VpnSpec = VpnSpec()
    metadata: dict[str, VmMetadata] = field(default_factory=dict, hash=False, compare=True)

    @property
    def netns(self) -> str:
        return f"dcr-{self.router_id}"

    @property
    def dhcp_hosts(self) -> tuple[DhcpHost, ...]:
        return tuple(h for t in self.tiers for h in t.dhcp_hosts)

    def tier_of(self, ip: str) -> Tier | None:
        addr = ipaddress.IPv4Address(ip)
        return next((t for t in self.tiers if addr in t.iface.network), None)

    def validate(self) -> VpcRouterSpec:
        validate_vpc_spec(self)
        return self


# ------------------------------------------------------------------------------------------------ validation

def _cidr(value: str, what: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise SpecError(f"{what}: {value!r} is not an IPv4 CIDR") from None


def _ip(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise SpecError(f"{what}: {value!r} is not an IPv4 address") from None


def _acl(entries: tuple[AclEntry, ...], what: str) -> None:
    for i, e in enumerate(entries):
        p = e.protocol
        if p not in ("tcp", "udp", "icmp", "all") and not (p.isdigit() and 0 <= int(p) <= 255):
            raise SpecError(f"{what}[{i}]: unknown protocol {p!r}")
        if e.ports is not None and p not in ("tcp", "udp"):
            raise SpecError(f"{what}[{i}]: ports only apply to tcp/udp")
        for c in e.cidrs:
            _cidr(c, f"{what}[{i}].cidrs")


def validate_vpc_spec(spec: VpcRouterSpec) -> None:
    if not ROUTER_ID_RE.match(spec.router_id):
        raise SpecError(f"router_id: {spec.router_id!r} must match [a-z0-9]{{1,10}}")
    vpc = _cidr(spec.cidr, "cidr")
    keys: set[str] = set()
    nets: list[ipaddress.IPv4Network] = []
    for t in spec.tiers:
        if not KEY_RE.match(t.key) or t.key in keys or t.key in ("pub0", "lo", "ipsec0"):
            raise SpecError(f"tier key {t.key!r} is invalid or duplicate")
        keys.add(t.key)
        if not IFNAME_RE.match(t.bridge):
            raise SpecError(f"tier {t.key}: bridge {t.bridge!r} is not an interface name")
        try:
            net = t.iface.network
        except ValueError:
            raise SpecError(f"tier {t.key}: {t.gateway_cidr!r} is not address/prefix") from None
        if not net.subnet_of(vpc):
            raise SpecError(f"tier {t.key}: {net} is outside the VPC cidr {vpc}")
        if any(net.overlaps(o) for o in nets):
            raise SpecError(f"tier {t.key}: {net} overlaps another tier")
        nets.append(net)
        for h in t.dhcp_hosts:
            if _ip(h.ip, f"tier {t.key} dhcp host") not in net:
                raise SpecError(f"tier {t.key}: DHCP host {h.ip} is outside {net}")
        _acl(t.ingress, f"tier {t.key} ingress")
        _acl(t.egress, f"tier {t.key} egress")
    for g in spec.gateways:
        if not KEY_RE.match(g.key) or g.key in keys:
            raise SpecError(f"private gateway key {g.key!r} is invalid or duplicate")
        keys.add(g.key)
        _ip(g.gateway, f"gateway {g.key}")
        ipaddress.IPv4Interface(g.address_cidr)
        _acl(g.ingress, f"gateway {g.key} ingress")
        _acl(g.egress, f"gateway {g.key} egress")
    for r in spec.routes:
        _cidr(r.cidr, "route")
        _ip(r.via, "route via")
    publics = set(spec.public.ips) if spec.public else set()
    for pf in spec.port_forwards:
        if pf.public_ip not in publics:
            raise SpecError(f"port forward: {pf.public_ip} is not a public IP of the router")
        if spec.tier_of(pf.guest_ip) is None:
            raise SpecError(f"port forward: {pf.guest_ip} is in no tier")
    for sn in spec.static_nats:
        if sn.public_ip not in publics or spec.tier_of(sn.guest_ip) is None:
            raise SpecError(f"static NAT {sn.public_ip} -> {sn.guest_ip} is invalid")
    for lb in spec.load_balancers:
        if lb.public_ip not in publics:
            raise SpecError(f"load balancer {lb.name}: {lb.public_ip} is not a public IP of the router")
    for s in spec.vpn.s2s:
        if s.local_ip not in publics:
            raise SpecError(f"vpn connection {s.name}: {s.local_ip} is not a public IP of the router")
        _ip(s.peer_ip, f"vpn connection {s.name} peer")
        for c in s.peer_cidrs + s.local_cidrs:
            _cidr(c, f"vpn connection {s.name}")
    for ra in spec.vpn.remote_access:
        if ra.public_ip not in publics:
            raise SpecError(f"remote access vpn: {ra.public_ip} is not a public IP of the router")


# ------------------------------------------------------------------------------------------------ (de)serialisation

def _build(cls: type, data: dict[str, Any]) -> Any:
    kw: dict[str, Any] = {}
    nested = {"ports": PortRange, "public_ports": PortRange, "guest_ports": PortRange}
    lists = {"dhcp_hosts": DhcpHost, "ingress": AclEntry, "egress": AclEntry, "backends": LbBackend}
    for f in fields(cls):
        if f.name not in data:
            continue
        v = data[f.name]
        if f.name in nested and v is not None:
            v = nested[f.name](**v)
        elif f.name in lists:
            v = tuple(_build(lists[f.name], x) for x in v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[f.name] = v
    return cls(**kw)


def vpc_spec_to_dict(spec: VpcRouterSpec) -> dict[str, Any]:
    d = asdict(spec)
    d["kind"] = "vpc"
    d["metadata"] = {k: {**asdict(v), "user_data": v.user_data.hex()} for k, v in spec.metadata.items()}
    return d


def vpc_spec_from_dict(d: dict[str, Any]) -> VpcRouterSpec:
    return VpcRouterSpec(
        router_id=d["router_id"], name=d["name"], cidr=d["cidr"],
        public=_build(PublicSide, d["public"]) if d.get("public") else None,
        tiers=tuple(_build(Tier, t) for t in d.get("tiers", [])),
        gateways=tuple(_build(PrivateGatewayLeg, g) for g in d.get("gateways", [])),
        routes=tuple(_build(Route, r) for r in d.get("routes", [])),
        port_forwards=tuple(_build(PortForward, p) for p in d.get("port_forwards", [])),
        static_nats=tuple(_build(StaticNat, s) for s in d.get("static_nats", [])),
        load_balancers=tuple(_build(LoadBalancerRule, lb) for lb in d.get("load_balancers", [])),
        vpn=vpn_from_dict(d.get("vpn")),
        metadata={k: _build(VmMetadata, {**v, "user_data": bytes.fromhex(v["user_data"])})
                  for k, v in d.get("metadata", {}).items()},
    )
