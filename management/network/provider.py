"""The network provider contract: plain typed specs in, coarse idempotent operations out.

The services layer translates database rows (networks, NICs, public IPs, rules) into a ``RouterSpec`` and hands it to
a ``NetworkProvider``. Nothing here knows about the database; the specs are frozen dataclasses that can be compared
and serialised (``spec_to_dict`` / ``spec_from_dict``), so a provider can remember what it applied last.

Semantics follow CloudStack's virtual router:
- ingress to a public IP is closed until a ``FirewallRule`` opens it (port forwarding / load balancer rules with
  ``open_firewall=True`` open their own public port, as ``openfirewall=true`` does in CloudStack);
- egress: ``egress_default`` is ``"allow"`` or ``"deny"``; ``EgressRule``s are exceptions to it (deny rules when the
  default is allow, allow rules when the default is deny);
- the source-NAT IP masquerades the guest CIDR; static NAT is a 1:1 DNAT+SNAT of a second public IP.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Protocol, runtime_checkable

Proto = Literal["tcp", "udp", "icmp", "all"]
PROTOS = ("tcp", "udp", "icmp", "all")
LB_ALGORITHMS = ("roundrobin", "leastconn", "source")
ROUTER_ID_RE = re.compile(r"^[a-z0-9]{1,10}$")
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
MAX_PORT_SPAN = 1024  # a forwarded range that changes ports is expanded port by port


class SpecError(ValueError):
    """A spec is invalid; the message names the offending field."""


class ProviderError(RuntimeError):
    """A provider operation failed on the host (a command failed, a daemon did not start)."""


# ------------------------------------------------------------------------------------------------ specs

@dataclass(frozen=True)
class DhcpHost:
    mac: str
    ip: str
    hostname: str


@dataclass(frozen=True)
class GuestSide:
    bridge: str                      # host bridge the guests' NICs attach to (created if missing)
    gateway_cidr: str                # the router's guest address, e.g. "10.1.1.1/24"
    vlan: int | None = None          # informational: isolation = one bridge per network (see vr.py)
    dhcp_range: tuple[str, str] | None = None   # None = static leases only (CloudStack's behaviour)
    domain: str = "cs.internal"
    dns_servers: tuple[str, ...] = ()  # upstream resolvers for names outside the domain
    lease_seconds: int = 86400


@dataclass(frozen=True)
class PublicSide:
    bridge: str                      # the host's "public" bridge (see host.ensure_public_bridge)
    ips: tuple[str, ...]             # the router's public IPs (the source-NAT IP included)
    prefix: int                      # prefix length of the public range
    gateway: str
    source_nat_ip: str | None = None


@dataclass(frozen=True)
class PortRange:
    start: int
    end: int | None = None

    @property
    def last(self) -> int:
        return self.end if self.end is not None else self.start

    @property
    def span(self) -> int:
        return self.last - self.start + 1

    def nft(self) -> str:
        return str(self.start) if self.last == self.start else f"{self.start}-{self.last}"


@dataclass(frozen=True)
class FirewallRule:
    """Ingress on a public IP (``public_ip`` None = every public IP)."""
    public_ip: str | None
    protocol: Proto = "tcp"
    ports: PortRange | None = None
    cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True)
class EgressRule:
    protocol: Proto = "all"
    ports: PortRange | None = None
    cidrs: tuple[str, ...] = ("0.0.0.0/0",)   # destination CIDRs
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True)
class PortForward:
    public_ip: str
    public_ports: PortRange
    guest_ip: str
    guest_ports: PortRange
    protocol: Literal["tcp", "udp"] = "tcp"
    open_firewall: bool = False
    cidrs: tuple[str, ...] = ("0.0.0.0/0",)   # used when open_firewall


@dataclass(frozen=True)
class StaticNat:
    public_ip: str
    guest_ip: str


@dataclass(frozen=True)
class LbBackend:
    ip: str
    port: int


@dataclass(frozen=True)
class LbStickiness:
    """CloudStack's stickiness methods: LbCookie / AppCookie (HTTP) or SourceBased; ``params`` as (name, value)."""
    method: Literal["LbCookie", "AppCookie", "SourceBased"]
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.params if k == name), default)


@dataclass(frozen=True)
class LbHealthCheck:
    """An HTTP GET of ``ping_path`` on every backend every ``interval`` s; ``unhealthy`` failures take it out,
    ``healthy`` successes bring it back."""
    ping_path: str = "/"
    response_time: int = 2
    interval: int = 5
    healthy: int = 2
    unhealthy: int = 10


@dataclass(frozen=True)
class LoadBalancerRule:
    name: str
    public_ip: str
    public_port: int
    backends: tuple[LbBackend, ...]
    algorithm: Literal["roundrobin", "leastconn", "source"] = "roundrobin"
    open_firewall: bool = False
    cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    stickiness: LbStickiness | None = None
    health_check: LbHealthCheck | None = None
    # PEM of certificate, chain and private key: haproxy terminates TLS on the public port (protocol ssl)
    ssl_pem: str | None = None


@dataclass(frozen=True)
class RoutedRule:
    """A rule of traffic that is routed, not NATed (a ROUTED network's IPv4, any network's IPv6): ``sources`` to
    ``destinations`` (empty: any)."""
    protocol: Proto = "all"
    ports: PortRange | None = None
    sources: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True)
class Ipv6Side:
    """A DualStack network: the guest /64 (guests configure themselves from the router's advertisements), the
    router's guest address in it, and its public IPv6 with the upstream gateway."""
    guest_cidr: str
    gateway: str
    public_ip: str | None = None
    public_prefix: int = 64
    public_gateway: str | None = None


@dataclass(frozen=True)
class VmMetadata:
    """What the metadata service answers to the VM whose guest IP is the key of ``RouterSpec.metadata``."""
    instance_id: str
    local_hostname: str
    user_data: bytes = b""
    public_keys: tuple[str, ...] = ()
    availability_zone: str = ""
    local_ipv4: str = ""
    public_ipv4: str = ""
    vm_id: str = ""          # CloudStack's vm-id (uuid); defaults to instance_id
    service_offering: str = ""


@dataclass(frozen=True)
class S2sConnection:
    """A site-to-site IPsec connection from ``local_ip`` (a public IP of the router) to a customer gateway."""
    name: str
    local_ip: str
    peer_ip: str
    local_cidrs: tuple[str, ...]
    peer_cidrs: tuple[str, ...]
    psk: str
    ike_proposals: tuple[str, ...]   # strongSwan proposal keywords, e.g. ("aes128-sha1-modp1536",)
    esp_proposals: tuple[str, ...]
    ike_version: Literal["ike", "ikev1", "ikev2"] = "ike"
    ike_lifetime: int = 86400
    esp_lifetime: int = 3600
    dpd: bool = False
    passive: bool = False
    force_encap: bool = False
    split: bool = False


@dataclass(frozen=True)
class VpnUserCred:
    name: str
    password: str


@dataclass(frozen=True)
class RemoteAccess:
    """Remote-access VPN on ``public_ip``: IKEv1 with the pre-shared key plus XAuth (the VPN users' names and
    passwords); clients get addresses from ``pool`` and reach ``local_cidrs``."""
    public_ip: str
    psk: str
    pool: tuple[str, str]
    local_cidrs: tuple[str, ...]
    users: tuple[VpnUserCred, ...] = ()


@dataclass(frozen=True)
class VpnSpec:
    s2s: tuple[S2sConnection, ...] = ()
    remote_access: tuple[RemoteAccess, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.s2s and not self.remote_access

    @property
    def peer_cidrs(self) -> tuple[str, ...]:
        """Networks reached through the tunnels (never source-NATed)."""
        out = [c for s in self.s2s for c in s.peer_cidrs]
        out += [str(n) for r in self.remote_access for n in pool_networks(r.pool)]
        return tuple(dict.fromkeys(out))


def pool_networks(pool: tuple[str, str]) -> list[ipaddress.IPv4Network]:
    """The CIDRs covering an address range (the remote-access pool)."""
    lo, hi = ipaddress.IPv4Address(pool[0]), ipaddress.IPv4Address(pool[1])
    return list(ipaddress.summarize_address_range(lo, hi))


@dataclass(frozen=True)
class RouterSpec:
    router_id: str                   # [a-z0-9]{1,10}: netns dcr-<id>, host devices vrg-<id>/vrp-<id>
    name: str
    guest: GuestSide
    public: PublicSide | None = None
    dhcp_hosts: tuple[DhcpHost, ...] = ()
    firewall: tuple[FirewallRule, ...] = ()
    egress: tuple[EgressRule, ...] = ()
    egress_default: Literal["allow", "deny"] = "allow"
    port_forwards: tuple[PortForward, ...] = ()
    static_nats: tuple[StaticNat, ...] = ()
    load_balancers: tuple[LoadBalancerRule, ...] = ()
    metadata: dict[str, VmMetadata] = field(default_factory=dict, hash=False, compare=True)
    # ROUTED network: the guest CIDR is not NATed; traffic to it from outside needs a routed_ingress rule
    routed: bool = False
    routed_ingress: tuple[RoutedRule, ...] = ()
    ipv6: Ipv6Side | None = None
    ipv6_ingress: tuple[RoutedRule, ...] = ()
    ipv6_egress: tuple[RoutedRule, ...] = ()     # exceptions to egress_default, as for IPv4
    vpn: VpnSpec = VpnSpec()          # remote-access VPN on the source-NAT IP (IPsec, see network/vpn.py)

    # ---- derived names
    @property
    def netns(self) -> str:
        return f"dcr-{self.router_id}"

    @property
    def guest_iface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(self.guest.gateway_cidr)

    @property
    def gateway_ip(self) -> str:
        return str(self.guest_iface.ip)

    @property
    def guest_cidr(self) -> str:
        return str(self.guest_iface.network)

    def validate(self) -> RouterSpec:
        validate_router_spec(self)
        return self


# ------------------------------------------------------------------------------------------------ status

@dataclass(frozen=True)
class ServiceHealth:
    name: str
    running: bool
    pid: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class RouterStatus:
    router_id: str
    state: Literal["Running", "Stopped"]
    services: tuple[ServiceHealth, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.state == "Running" and all(s.running for s in self.services)

    def service(self, name: str) -> ServiceHealth | None:
        return next((s for s in self.services if s.name == name), None)


@dataclass(frozen=True)
class ApplyResult:
    """What an operation changed: an empty ``changed`` means it was a no-op."""
    router_id: str
    changed: tuple[str, ...] = ()     # e.g. ("netns", "nftables", "dnsmasq:restart", "haproxy:reload")
    seconds: float = 0.0


# ------------------------------------------------------------------------------------------------ contract

class NamespaceSpec(Protocol):
    """What every spec a namespace provider converges has (RouterSpec, VpcRouterSpec, InternalLbSpec)."""

    @property
    def router_id(self) -> str: ...

    @property
    def netns(self) -> str: ...

    def validate(self) -> Any: ...


@runtime_checkable
class NetworkProvider(Protocol):
    """A guest network's router. Every operation is idempotent and coarse (whole spec in)."""

    def implement(self, spec: RouterSpec) -> ApplyResult:
        """Create or converge the router to ``spec``; unchanged parts are left untouched (no restart)."""

    def apply_rules(self, spec: RouterSpec) -> ApplyResult:
        """Converge only the rule-bearing parts (nftables, haproxy, dnsmasq hosts, metadata); router must exist."""

    def status(self, router: RouterSpec | str) -> RouterStatus:
        """Running/Stopped and per-service health."""

    def reboot(self, router: RouterSpec | str) -> ApplyResult:
        """Stop every service and the namespace, then implement the last applied spec (or the given one)."""

    def destroy(self, router: RouterSpec | str) -> ApplyResult:
        """Remove everything the router owns; succeeds when it is already gone."""


# ------------------------------------------------------------------------------------------------ validation

def _ip(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise SpecError(f"{what}: {value!r} is not an IPv4 address") from None


def _cidr(value: str, what: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise SpecError(f"{what}: {value!r} is not an IPv4 CIDR") from None


def _ports(pr: PortRange | None, what: str) -> None:
    if pr is None:
        return
    if not (1 <= pr.start <= 65535 and 1 <= pr.last <= 65535 and pr.start <= pr.last):
        raise SpecError(f"{what}: invalid port range {pr.start}-{pr.last}")


def _proto_rule(rule: FirewallRule | EgressRule, what: str) -> None:
    if rule.protocol not in PROTOS:
        raise SpecError(f"{what}: unknown protocol {rule.protocol!r}")
    if rule.ports is not None and rule.protocol not in ("tcp", "udp"):
        raise SpecError(f"{what}: ports only apply to tcp/udp")
    if (rule.icmp_type is not None or rule.icmp_code is not None) and rule.protocol != "icmp":
        raise SpecError(f"{what}: icmp type/code only apply to icmp")
    _ports(rule.ports, what)
    for c in rule.cidrs:
        _cidr(c, f"{what}.cidrs")


def validate_router_spec(spec: RouterSpec) -> None:
    if not ROUTER_ID_RE.match(spec.router_id):
        raise SpecError(f"router_id: {spec.router_id!r} must match [a-z0-9]{{1,10}} (device names are <= 15 chars)")
    g = spec.guest
    if not IFNAME_RE.match(g.bridge):
        raise SpecError(f"guest.bridge: {g.bridge!r} is not a valid interface name (<= 15 chars)")
    try:
        iface = ipaddress.IPv4Interface(g.gateway_cidr)
    except ValueError:
        raise SpecError(f"guest.gateway_cidr: {g.gateway_cidr!r} is not address/prefix") from None
    if "/" not in g.gateway_cidr or iface.network.prefixlen > 30:
        raise SpecError("guest.gateway_cidr: needs a prefix of /30 or larger")
    net = iface.network
    if g.vlan is not None and not 1 <= g.vlan <= 4094:
        raise SpecError(f"guest.vlan: {g.vlan} is not in 1..4094")
    if g.dhcp_range is not None:
        lo, hi = (_ip(a, "guest.dhcp_range") for a in g.dhcp_range)
        if lo not in net or hi not in net or lo > hi:
            raise SpecError("guest.dhcp_range: must be an ordered range inside the guest CIDR")
    if not DOMAIN_RE.match(g.domain):
        raise SpecError(f"guest.domain: {g.domain!r} is not a domain name")
    for d in g.dns_servers:
        _ip(d, "guest.dns_servers")
    seen_mac: set[str] = set()
    seen_ip: set[str] = set()
    seen_name: set[str] = set()
    for h in spec.dhcp_hosts:
        if not MAC_RE.match(h.mac):
            raise SpecError(f"dhcp_hosts: {h.mac!r} is not a lower-case MAC address")
        if _ip(h.ip, "dhcp_hosts.ip") not in net or h.ip == str(iface.ip):
            raise SpecError(f"dhcp_hosts: {h.ip} is outside {net} or is the gateway")
        if not HOSTNAME_RE.match(h.hostname):
            raise SpecError(f"dhcp_hosts: {h.hostname!r} is not a host name")
        for val, seen, what in ((h.mac, seen_mac, "mac"), (h.ip, seen_ip, "ip"), (h.hostname.lower(), seen_name,
                                                                                  "hostname")):
            if val in seen:
                raise SpecError(f"dhcp_hosts: duplicate {what} {val}")
            seen.add(val)
    public_ips: set[str] = set()
    p = spec.public
    if p is not None:
        if not IFNAME_RE.match(p.bridge):
            raise SpecError(f"public.bridge: {p.bridge!r} is not a valid interface name")
        if not p.ips:
            raise SpecError("public.ips: a router with a public side needs at least one public IP")
        if not 1 <= p.prefix <= 32:
            raise SpecError(f"public.prefix: {p.prefix} is not a prefix length")
        for ip in p.ips:
            if _ip(ip, "public.ips") in net:
                raise SpecError(f"public.ips: {ip} is inside the guest CIDR")
            public_ips.add(ip)
        _ip(p.gateway, "public.gateway")
        if p.source_nat_ip is not None and p.source_nat_ip not in public_ips:
            raise SpecError(f"public.source_nat_ip: {p.source_nat_ip} is not one of the router's public IPs")

    def need_public(ip: str, what: str) -> None:
        _ip(ip, what)
        if ip not in public_ips:
            raise SpecError(f"{what}: {ip} is not one of the router's public IPs")

    def need_guest(ip: str, what: str) -> None:
        if _ip(ip, what) not in net:
            raise SpecError(f"{what}: {ip} is not inside the guest CIDR {net}")

    for i, r in enumerate(spec.firewall):
        _proto_rule(r, f"firewall[{i}]")
        if r.public_ip is not None:
            need_public(r.public_ip, f"firewall[{i}].public_ip")
    for i, e in enumerate(spec.egress):
        _proto_rule(e, f"egress[{i}]")
    if spec.egress_default not in ("allow", "deny"):
        raise SpecError(f"egress_default: {spec.egress_default!r} is not allow/deny")
    snat_ips = {s.public_ip for s in spec.static_nats}
    used: dict[tuple[str, str, int], str] = {}

    def claim(ip: str, proto: str, pr: PortRange, owner: str) -> None:
        for port in range(pr.start, pr.last + 1):
            key = (ip, proto, port)
            if key in used:
                raise SpecError(f"{owner}: {proto} port {port} on {ip} is already used by {used[key]}")
            used[key] = owner

    for i, pf in enumerate(spec.port_forwards):
        what = f"port_forwards[{i}]"
        need_public(pf.public_ip, f"{what}.public_ip")
        need_guest(pf.guest_ip, f"{what}.guest_ip")
        if pf.protocol not in ("tcp", "udp"):
            raise SpecError(f"{what}: protocol must be tcp or udp")
        _ports(pf.public_ports, what)
        _ports(pf.guest_ports, what)
        if pf.public_ports.span != pf.guest_ports.span:
            raise SpecError(f"{what}: public and private port ranges differ in size")
        if pf.public_ports.start != pf.guest_ports.start and pf.public_ports.span > MAX_PORT_SPAN:
            raise SpecError(f"{what}: a shifted port range may span at most {MAX_PORT_SPAN} ports")
        if pf.public_ip in snat_ips:
            raise SpecError(f"{what}: {pf.public_ip} has static NAT enabled")
        for c in pf.cidrs:
            _cidr(c, f"{what}.cidrs")
        claim(pf.public_ip, pf.protocol, pf.public_ports, what)
    guests_natted: set[str] = set()
    publics_natted: set[str] = set()
    for i, sn in enumerate(spec.static_nats):
        what = f"static_nats[{i}]"
        need_public(sn.public_ip, f"{what}.public_ip")
        need_guest(sn.guest_ip, f"{what}.guest_ip")
        if p is not None and sn.public_ip == p.source_nat_ip:
            raise SpecError(f"{what}: {sn.public_ip} is the source-NAT IP")
        if sn.guest_ip in guests_natted or sn.public_ip in publics_natted:
            raise SpecError(f"{what}: duplicate static NAT for {sn.public_ip} / {sn.guest_ip}")
        guests_natted.add(sn.guest_ip)
        publics_natted.add(sn.public_ip)
    names: set[str] = set()
    for i, lb in enumerate(spec.load_balancers):
        what = f"load_balancers[{i}]"
        if not re.match(r"^[A-Za-z0-9_.-]{1,63}$", lb.name) or lb.name in names:
            raise SpecError(f"{what}.name: {lb.name!r} is invalid or duplicate")
        names.add(lb.name)
        need_public(lb.public_ip, f"{what}.public_ip")
        if lb.public_ip in snat_ips:
            raise SpecError(f"{what}: {lb.public_ip} has static NAT enabled")
        if lb.algorithm not in LB_ALGORITHMS:
            raise SpecError(f"{what}.algorithm: {lb.algorithm!r} is not one of {LB_ALGORITHMS}")
        _ports(PortRange(lb.public_port), what)
        for b in lb.backends:
            need_guest(b.ip, f"{what}.backends")
            _ports(PortRange(b.port), f"{what}.backends")
        for c in lb.cidrs:
            _cidr(c, f"{what}.cidrs")
        claim(lb.public_ip, "tcp", PortRange(lb.public_port), what)
        if lb.stickiness is not None and lb.stickiness.method not in ("LbCookie", "AppCookie", "SourceBased"):
            raise SpecError(f"{what}.stickiness: unknown method {lb.stickiness.method!r}")
        for k, v in lb.stickiness.params if lb.stickiness else ():
            if not re.match(r"^[A-Za-z0-9_.-]*$", k + v):
                raise SpecError(f"{what}.stickiness: parameter {k}={v!r} has characters haproxy can't take")
        hc = lb.health_check
        if hc is not None and (not re.match(r"^/[^\s]*$", hc.ping_path)
                               or min(hc.response_time, hc.interval, hc.healthy, hc.unhealthy) < 1):
            raise SpecError(f"{what}.health_check: invalid {hc}")
    _validate_routed(spec)
    for key, md in spec.metadata.items():
        need_guest(key, "metadata key")
        if not isinstance(md.user_data, bytes):
            raise SpecError(f"metadata[{key}].user_data must be bytes")


def _validate_routed(spec: RouterSpec) -> None:
    if spec.routed_ingress and not spec.routed:
        raise SpecError("routed_ingress: only a routed network has routing rules")
    six = spec.ipv6
    if six is not None:
        try:
            net6 = ipaddress.IPv6Network(six.guest_cidr)
            gw6 = ipaddress.IPv6Address(six.gateway)
            for v in (six.public_ip, six.public_gateway):
                if v is not None:
                    ipaddress.IPv6Address(v)
        except ValueError as e:
            raise SpecError(f"ipv6: {e}") from None
        if gw6 not in net6:
            raise SpecError(f"ipv6.gateway: {six.gateway} is outside {six.guest_cidr}")
        if (six.public_ip is None) != (six.public_gateway is None) or not 1 <= six.public_prefix <= 128:
            raise SpecError("ipv6: public_ip and public_gateway go together, with a prefix length")
    elif spec.ipv6_ingress or spec.ipv6_egress:
        raise SpecError("ipv6_ingress/ipv6_egress: the network has no IPv6")
    for what, rules, family in (("routed_ingress", spec.routed_ingress, 4), ("ipv6_ingress", spec.ipv6_ingress, 6),
                                ("ipv6_egress", spec.ipv6_egress, 6)):
        for i, r in enumerate(rules):
            where = f"{what}[{i}]"
            if r.protocol not in PROTOS:
                raise SpecError(f"{where}: unknown protocol {r.protocol!r}")
            if r.ports is not None and r.protocol not in ("tcp", "udp"):
                raise SpecError(f"{where}: ports only apply to tcp/udp")
            _ports(r.ports, where)
            for c in r.sources + r.destinations:
                try:
                    ok = ipaddress.ip_network(c, strict=False).version == family
                except ValueError:
                    ok = False
                if not ok:
                    raise SpecError(f"{where}: {c!r} is not an IPv{family} CIDR")


# ------------------------------------------------------------------------------------------------ (de)serialisation

def spec_to_dict(spec: RouterSpec) -> dict[str, Any]:
    d = asdict(spec)
    d["metadata"] = {k: {**asdict(v), "user_data": v.user_data.hex()} for k, v in spec.metadata.items()}
    return d


def _tuple(cls: type, items: list[Any]) -> tuple[Any, ...]:
    return tuple(_build(cls, i) for i in items)


def _build(cls: type, data: dict[str, Any]) -> Any:
    kw: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        v = data[f.name]
        if f.name in ("ports", "public_ports", "guest_ports") and v is not None:
            v = PortRange(**v)
        elif f.name == "backends":
            v = _tuple(LbBackend, v)
        elif f.name == "stickiness" and v is not None:
            v = LbStickiness(v["method"], tuple(tuple(kv) for kv in v.get("params", ())))
        elif f.name == "health_check" and v is not None:
            v = _build(LbHealthCheck, v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[f.name] = v
    return cls(**kw)


def spec_from_dict(d: dict[str, Any]) -> RouterSpec:
    return RouterSpec(
        router_id=d["router_id"], name=d["name"],
        guest=_build(GuestSide, d["guest"]),
        public=_build(PublicSide, d["public"]) if d.get("public") else None,
        dhcp_hosts=_tuple(DhcpHost, d.get("dhcp_hosts", [])),
        firewall=_tuple(FirewallRule, d.get("firewall", [])),
        egress=_tuple(EgressRule, d.get("egress", [])),
        egress_default=d.get("egress_default", "allow"),
        port_forwards=_tuple(PortForward, d.get("port_forwards", [])),
        static_nats=_tuple(StaticNat, d.get("static_nats", [])),
        load_balancers=_tuple(LoadBalancerRule, d.get("load_balancers", [])),
        routed=bool(d.get("routed", False)), routed_ingress=_tuple(RoutedRule, d.get("routed_ingress", [])),
        ipv6=_build(Ipv6Side, d["ipv6"]) if d.get("ipv6") else None,
        ipv6_ingress=_tuple(RoutedRule, d.get("ipv6_ingress", [])),
        ipv6_egress=_tuple(RoutedRule, d.get("ipv6_egress", [])),
        metadata={k: _build(VmMetadata, {**v, "user_data": bytes.fromhex(v["user_data"])})
                  for k, v in d.get("metadata", {}).items()},
        vpn=vpn_from_dict(d.get("vpn")),
    )


def vpn_from_dict(d: dict[str, Any] | None) -> VpnSpec:
    d = d or {}
    return VpnSpec(
        s2s=tuple(S2sConnection(**{k: tuple(v) if isinstance(v, list) else v  # type: ignore[arg-type]
                                   for k, v in c.items()}) for c in d.get("s2s", [])),
        remote_access=tuple(RemoteAccess(**{**r, "pool": tuple(r["pool"]), "local_cidrs": tuple(r["local_cidrs"]),
                                            "users": tuple(VpnUserCred(**u) for u in r.get("users", []))})
                            for r in d.get("remote_access", [])))
