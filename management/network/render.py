"""Render a ``RouterSpec`` into the router's configuration files (pure functions, no I/O besides the templates)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

import jinja2

from management.network.provider import (
    EgressRule,
    FirewallRule,
    LoadBalancerRule,
    PortRange,
    RoutedRule,
    RouterSpec,
)
from management.network.vpc_spec import VpcRouterSpec

TEMPLATES = Path(__file__).parent / "templates"
GUEST_IF = "guest0"
PUBLIC_IF = "pub0"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


RUN_ROOT = Path("/run/devcloud")


@dataclass(frozen=True)
class RouterPaths:
    """Where a router's files live: ``<state_dir>/routers/<id>/``; its Unix sockets under a short runtime directory
    ``/run/devcloud/<id>/`` (a socket path is limited to 107 bytes, a state directory can be deeper than that; the
    router id is unique on the host, since the namespace ``dcr-<id>`` is)."""
    root: Path
    run_root: Path = RUN_ROOT

    @property
    def run_dir(self) -> Path: return self.run_root / self.root.name

    @property
    def spec(self) -> Path: return self.root / "spec.json"
    @property
    def nft(self) -> Path: return self.root / "nftables.conf"
    @property
    def dnsmasq_conf(self) -> Path: return self.root / "dnsmasq.conf"
    @property
    def hosts(self) -> Path: return self.root / "hosts"
    @property
    def dhcp_hosts(self) -> Path: return self.root / "dhcp-hosts"
    @property
    def leases(self) -> Path: return self.root / "dnsmasq.leases"
    @property
    def dnsmasq_pid(self) -> Path: return self.root / "dnsmasq.pid"
    @property
    def dnsmasq_log(self) -> Path: return self.root / "dnsmasq.log"
    @property
    def haproxy_cfg(self) -> Path: return self.root / "haproxy.cfg"
    @property
    def haproxy_pid(self) -> Path: return self.root / "haproxy.pid"
    @property
    def haproxy_sock(self) -> Path: return self.run_dir / "haproxy.sock"
    @property
    def certs(self) -> Path: return self.root / "certs"
    @property
    def metadata(self) -> Path: return self.root / "metadata.json"
    @property
    def metadata_pid(self) -> Path: return self.root / "metadata.pid"
    @property
    def metadata_log(self) -> Path: return self.root / "metadata.log"
    @property
    def owned(self) -> Path: return self.root / "owned.json"


# ------------------------------------------------------------------------------------------------ nft helpers

def _set(items: list[str] | tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _cidrs(cidrs: tuple[str, ...], field: str) -> str:
    nets = [str(ipaddress.IPv4Network(c, strict=False)) for c in cidrs]
    if not nets or "0.0.0.0/0" in nets:
        return ""
    return f"ip {field} {_set(nets)} "


def _proto(protocol: str, ports: PortRange | None, icmp_type: int | None, icmp_code: int | None,
           *, original: bool) -> str:
    if protocol in ("tcp", "udp"):
        out = f"meta l4proto {protocol} "
        if ports is not None:
            out += (f"ct original proto-dst {ports.nft()} " if original else f"th dport {ports.nft()} ")
        return out
    if protocol == "icmp":
        out = "meta l4proto icmp "
        if icmp_type is not None and icmp_type >= 0:
            out += f"icmp type {icmp_type} "
            if icmp_code is not None and icmp_code >= 0:
                out += f"icmp code {icmp_code} "
        return out
    return ""


def ingress_rule(r: FirewallRule) -> str:
    dst = f"ct original ip daddr {r.public_ip} " if r.public_ip else ""
    return (dst + _cidrs(r.cidrs, "saddr") + _proto(r.protocol, r.ports, r.icmp_type, r.icmp_code, original=True)
            + "accept")


def egress_rule(r: EgressRule, default: str) -> str:
    verdict = "drop" if default == "allow" else "accept"
    return _cidrs(r.cidrs, "daddr") + _proto(r.protocol, r.ports, r.icmp_type, r.icmp_code, original=False) + verdict


def routed_rule(r: RoutedRule, family: int, verdict: str) -> str:
    """One rule of routed (not NATed) traffic; IPv6 ICMP is ICMPv6."""
    ip = "ip" if family == 4 else "ip6"
    any_net = "0.0.0.0/0" if family == 4 else "::/0"
    out = ""
    for field, nets in (("saddr", r.sources), ("daddr", r.destinations)):
        items = [str(ipaddress.ip_network(c, strict=False)) for c in nets]
        if items and any_net not in items:
            out += f"{ip} {field} {_set(items)} "
    if r.protocol == "icmp" and family == 6:
        out += "meta l4proto ipv6-icmp "
        if r.icmp_type is not None and r.icmp_type >= 0:
            out += f"icmpv6 type {r.icmp_type} "
            if r.icmp_code is not None and r.icmp_code >= 0:
                out += f"icmpv6 code {r.icmp_code} "
    else:
        out += _proto(r.protocol, r.ports, r.icmp_type, r.icmp_code, original=False)
    return out + verdict


def nft_context(spec: RouterSpec) -> dict:
    dnat: list[str] = []
    snat: list[str] = []
    ingress: list[str] = [ingress_rule(r) for r in spec.firewall]
    for sn in spec.static_nats:
        dnat.append(f"ip daddr {sn.public_ip} dnat to {sn.guest_ip}")
    for pf in spec.port_forwards:
        pub, prv = pf.public_ports, pf.guest_ports
        if pub.start == prv.start:
            dnat.append(f"ip daddr {pf.public_ip} {pf.protocol} dport {pub.nft()} dnat to {pf.guest_ip}")
        else:
            for off in range(pub.span):
                dnat.append(f"ip daddr {pf.public_ip} {pf.protocol} dport {pub.start + off} "
                            f"dnat to {pf.guest_ip}:{prv.start + off}")
        if pf.open_firewall:
            ingress.append(ingress_rule(FirewallRule(pf.public_ip, pf.protocol, pub, pf.cidrs)))
    for lb in spec.load_balancers:
        if lb.open_firewall:
            ingress.append(ingress_rule(FirewallRule(lb.public_ip, "tcp", PortRange(lb.public_port), lb.cidrs)))
    if spec.public is not None:
        snat.append(f'iifname "{GUEST_IF}" oifname "{GUEST_IF}" ip saddr {spec.guest_cidr} masquerade')  # hairpin
        for sn in spec.static_nats:
            snat.append(f'oifname "{PUBLIC_IF}" ip saddr {sn.guest_ip} snat to {sn.public_ip}')
        if spec.public.source_nat_ip and not spec.routed:
            snat.append(f'oifname "{PUBLIC_IF}" ip saddr {spec.guest_cidr} snat to {spec.public.source_nat_ip}')
    vpn_ips = sorted({r.public_ip for r in spec.vpn.remote_access} | {c.local_ip for c in spec.vpn.s2s})
    return {
        "spec": spec, "guest_if": GUEST_IF, "public_if": PUBLIC_IF if spec.public else None,
        "vpn_ips": _set(vpn_ips) if vpn_ips and spec.public else "",
        "dnat": dnat, "snat": snat, "ingress": ingress,
        "egress": [egress_rule(r, spec.egress_default) for r in spec.egress],
        "routed_ingress": [routed_rule(r, 4, "accept") for r in spec.routed_ingress],
        "ipv6": spec.ipv6,
        "ingress6": [routed_rule(r, 6, "accept") for r in spec.ipv6_ingress],
        "egress6": [routed_rule(r, 6, "drop" if spec.egress_default == "allow" else "accept")
                    for r in spec.ipv6_egress],
    }


# ------------------------------------------------------------------------------------------------ renderers

def render_nftables(spec: RouterSpec) -> str:
    return _env.get_template("nftables.conf.j2").render(**nft_context(spec))


def render_dnsmasq(spec: RouterSpec, paths: RouterPaths) -> str:
    iface = spec.guest_iface
    return _env.get_template("dnsmasq.conf.j2").render(
        spec=spec, guest_if=GUEST_IF, ipv6=spec.ipv6, gateway=str(iface.ip), network=str(iface.network.network_address),
        netmask=str(iface.netmask),
        paths={"pid": paths.dnsmasq_pid, "leases": paths.leases, "log": paths.dnsmasq_log, "hosts": paths.hosts,
               "dhcp_hosts": paths.dhcp_hosts})


def render_hosts(spec: RouterSpec) -> str:
    return _env.get_template("hosts.j2").render(spec=spec, gateway=spec.gateway_ip,
                                                router_hostname=f"r-{spec.router_id}-vm")


def render_dhcp_hosts(spec: RouterSpec) -> str:
    return _env.get_template("dhcp-hosts.j2").render(spec=spec)


def lb_backend(lb: LoadBalancerRule) -> dict:
    """What a rule's stickiness and health-check policies add to its haproxy sections (as CloudStack's router
    renders them; the application cookie uses a stick table, haproxy's replacement of ``appsession``)."""
    lines: list[str] = []
    server = ""
    http = False
    st = lb.stickiness
    if st is not None:
        default_cookie = f"lbcookie_{lb.public_ip.replace('.', '_')}_{lb.public_port}"
        if st.method == "LbCookie":
            http = True
            opts = [st.param("mode", "insert") or "insert"]
            opts += [flag for flag in ("indirect", "nocache", "postonly") if st.param(flag) is not None]
            if st.param("domain"):
                opts.append(f"domain {st.param('domain')}")
            lines.append(f"cookie {st.param('cookie-name') or default_cookie} {' '.join(opts)}")
            server = " cookie {name}"
        elif st.method == "AppCookie":
            http = True
            name = st.param("cookie-name") or default_cookie
            lines.append(f"stick-table type string len {st.param('length', '52')} size 200k "
                         f"expire {st.param('holdtime', '3h')}")
            lines.append(f"stick store-response res.cook({name})")
            if st.param("request-learn") is not None:
                lines.append(f"stick store-request req.cook({name})")
            lines.append(f"stick match req.cook({name})")
        else:
            lines.append(f"stick-table type ip size {st.param('tablesize', '200k')} expire {st.param('expire', '3h')}")
            lines.append("stick on src")
    hc = lb.health_check
    if hc is not None:
        lines.append(f"option httpchk GET {hc.ping_path}")
        lines.append(f"timeout check {hc.response_time}s")
        lines.append(f"default-server inter {hc.interval}s rise {hc.healthy} fall {hc.unhealthy}")
        server += " check"
    return {"http": http, "lines": lines, "server": server}


def render_haproxy(spec: RouterSpec | VpcRouterSpec, paths: RouterPaths) -> str | None:
    if not spec.load_balancers:
        return None
    fingerprints = {lb.name: hashlib.sha256(lb.ssl_pem.encode()).hexdigest()[:16]
                    for lb in spec.load_balancers if lb.ssl_pem}
    return _env.get_template("haproxy.cfg.j2").render(
        spec=spec, paths={"pid": paths.haproxy_pid, "sock": paths.haproxy_sock, "certs": paths.certs},
        backends={lb.name: lb_backend(lb) for lb in spec.load_balancers}, fingerprints=fingerprints)


def render_metadata(spec: RouterSpec | VpcRouterSpec) -> str:
    """The metadata server's JSON database: guest IP -> fields (user data base64-free: hex, read back to bytes)."""
    out = {}
    for ip, md in sorted(spec.metadata.items()):
        out[ip] = {
            "user-data": md.user_data.hex(),
            "instance-id": md.instance_id, "vm-id": md.vm_id or md.instance_id,
            "local-hostname": md.local_hostname, "public-hostname": md.public_ipv4 or md.local_hostname,
            "availability-zone": md.availability_zone, "local-ipv4": md.local_ipv4 or ip,
            "public-ipv4": md.public_ipv4, "public-keys": list(md.public_keys),
            "service-offering": md.service_offering,
        }
    return json.dumps(out, indent=1, sort_keys=True) + "\n"
