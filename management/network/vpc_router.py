"""The VPC virtual router: one network namespace per VPC with a leg per tier, built on the isolated-network router
(``vr.NamespaceRouterProvider``: same netns plumbing, locking, convergence, dnsmasq/haproxy/metadata handling).

Layout for VPC router ``<id>`` (state under ``<state_dir>/vpcrouters/<id>/``):
- netns ``dcr-<id>``; ``pub0`` holds the VPC's public IPs (source NAT first) with the default route;
- one leg per tier, named by the tier's key (``t<network id>``), holding the tier's gateway address, its host end
  (``vv<hash>``) enslaved to the tier's bridge; private gateways likewise (``p<gateway id>``) on their VLAN bridge;
- one dnsmasq for all tiers, one metadata server per tier gateway, haproxy for public load balancers, charon for
  site-to-site and remote-access VPN (``vpn.py``);
- nftables table ``ip devcloud``: DNAT/SNAT as the isolated router, and per leg two chains generated from its ACL
  (see ``render_vpc_nftables``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import jinja2

from management.network import host
from management.network.host import run
from management.network.provider import ProviderError, RouterStatus, ServiceHealth
from management.network.render import PUBLIC_IF, RouterPaths, _cidrs, _proto, _set, render_metadata
from management.network.vpc_spec import AclEntry, VpcRouterSpec, vpc_spec_from_dict, vpc_spec_to_dict
from management.network.vr import (
    METADATA_SCRIPT,
    NETNS_DIR,
    NamespaceRouterProvider,
    _kill,
    _pid_alive,
    _read_pid,
    _write_if_changed,
)

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def host_end(router_id: str, key: str) -> str:
    """The host-side name of a leg's veth (<= 15 characters, stable for the router and the leg)."""
    return "vv" + hashlib.sha1(f"{router_id}/{key}".encode()).hexdigest()[:10]


# ------------------------------------------------------------------------------------------------ nftables

def _match(e: AclEntry, field: str) -> str:
    if e.protocol.isdigit():
        proto = f"meta l4proto {e.protocol} "
    else:
        proto = _proto(e.protocol, e.ports, e.icmp_type, e.icmp_code, original=False)
    return _cidrs(e.cidrs, field) + proto


def _acl_rules(entries: tuple[AclEntry, ...], field: str, allow: str) -> list[str]:
    return [_match(e, field) + (allow if e.allow else "drop") for e in entries]


def _leg(kind: str, key: str, ingress: tuple[AclEntry, ...], egress: tuple[AclEntry, ...]) -> dict[str, Any]:
    """A leg's two chains. Tier: traffic leaving the tier (egress ACL, destination CIDRs; allowed -> continue), then
    entering it (ingress ACL, source CIDRs; allowed -> accept; default drop). Private gateway: traffic coming in
    from the private network (its ingress ACL) and going out to it (its egress ACL)."""
    egress_default = "drop" if egress else "return"
    if kind == "tier":
        return {"what": "tier", "key": key,
                "source_chain": f"egress_{key}", "source_what": "egress ACL (packets from the tier)",
                "source_rules": _acl_rules(egress, "daddr", "return"), "source_default": egress_default,
                "dest_chain": f"ingress_{key}", "dest_what": "ingress ACL (packets to the tier)",
                "dest_rules": _acl_rules(ingress, "saddr", "accept"), "dest_default": "drop"}
    return {"what": "private gateway", "key": key,
            "source_chain": f"gwin_{key}", "source_what": "ingress ACL (packets from the private network)",
            "source_rules": _acl_rules(ingress, "saddr", "return"), "source_default": "drop",
            "dest_chain": f"gwout_{key}", "dest_what": "egress ACL (packets to the private network)",
            "dest_rules": _acl_rules(egress, "daddr", "accept"),
            "dest_default": "drop" if egress else "accept"}


def vpc_nft_context(spec: VpcRouterSpec) -> dict[str, Any]:
    dnat: list[str] = []
    snat: list[str] = []
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
    for t in spec.tiers:  # hairpin: a guest reaching a public IP forwarded back into its own tier
        snat.append(f'iifname "{t.key}" oifname "{t.key}" ct status dnat masquerade')
    if spec.public is not None:
        for sn in spec.static_nats:
            snat.append(f'oifname "{PUBLIC_IF}" ip saddr {sn.guest_ip} snat to {sn.public_ip}')
        if spec.public.source_nat_ip:
            snat.append(f'oifname "{PUBLIC_IF}" ip saddr {spec.cidr} snat to {spec.public.source_nat_ip}')
    for g in spec.gateways:
        if g.source_nat:
            snat.append(f'oifname "{g.key}" ip saddr {spec.cidr} snat to {g.address_cidr.split("/")[0]}')
    public_input = [f"ip daddr {lb.public_ip} " + _cidrs(lb.cidrs, "saddr") + f"tcp dport {lb.public_port} accept"
                    for lb in spec.load_balancers]
    legs = [_leg("tier", t.key, t.ingress, t.egress) for t in spec.tiers]
    legs += [_leg("gateway", g.key, g.ingress, g.egress) for g in spec.gateways]
    vpn_ips = sorted({r.public_ip for r in spec.vpn.remote_access} | {c.local_ip for c in spec.vpn.s2s})
    ra_pools = [str(n) for r in spec.vpn.remote_access for n in _pool(r.pool)]
    return {"spec": spec, "public_if": PUBLIC_IF if spec.public else None, "dnat": dnat, "snat": snat,
            "tier_ifs": _set([f'"{t.key}"' for t in spec.tiers]) if spec.tiers else "",
            "vpn_ips": _set(vpn_ips) if vpn_ips and spec.public else "", "public_input": public_input,
            "legs": legs, "ra_pools": ra_pools}


def _pool(pool: tuple[str, str]) -> list[ipaddress.IPv4Network]:
    from management.network.provider import pool_networks

    return pool_networks(pool)


def render_vpc_nftables(spec: VpcRouterSpec) -> str:
    return _env.get_template("vpc-nftables.conf.j2").render(**vpc_nft_context(spec))


def render_vpc_dnsmasq(spec: VpcRouterSpec, paths: RouterPaths) -> str:
    domain = spec.tiers[0].domain if spec.tiers else "cs.internal"
    dns = tuple(dict.fromkeys(d for t in spec.tiers for d in t.dns_servers))
    return _env.get_template("vpc-dnsmasq.conf.j2").render(
        spec=spec, domain=domain, dns_servers=dns,
        paths={"pid": paths.dnsmasq_pid, "leases": paths.leases, "log": paths.dnsmasq_log, "hosts": paths.hosts,
               "dhcp_hosts": paths.dhcp_hosts})


def render_vpc_hosts(spec: VpcRouterSpec) -> str:
    lines = [f"# devcloud VPC router {spec.router_id}: guest names (expand-hosts adds the domain)"]
    lines += [f"{t.gateway}\tr-{spec.router_id}-vm" for t in spec.tiers[:1]]
    lines += [f"{h.ip}\t{h.hostname}" for h in spec.dhcp_hosts]
    return "\n".join(lines) + "\n"


def render_vpc_dhcp_hosts(spec: VpcRouterSpec) -> str:
    return "".join(f"{h.mac},{h.ip},{h.hostname},infinite\n" for h in spec.dhcp_hosts)


# ------------------------------------------------------------------------------------------------ provider

class VpcRouterProvider(NamespaceRouterProvider):
    """``NetworkProvider`` for VPC routers (``VpcRouterSpec``); see the module docstring."""

    SUBDIR = "vpcrouters"

    def _dump(self, spec: Any) -> dict[str, Any]:
        return vpc_spec_to_dict(spec)

    def _load(self, data: dict[str, Any]) -> Any:
        return vpc_spec_from_dict(data)

    def _render_nft(self, spec: Any) -> str:
        return render_vpc_nftables(spec)

    # -- links and addresses
    def _legs(self, spec: VpcRouterSpec) -> list[tuple[str, str]]:
        """(in-namespace name, bridge) of every tier and private gateway leg."""
        return [(t.key, t.bridge) for t in spec.tiers] + [(g.key, g.bridge) for g in spec.gateways]

    def _ensure_links(self, spec: Any, paths: RouterPaths) -> list[str]:
        changed: list[str] = []
        owned = self._owned(paths)
        want = self._legs(spec)
        for key, bridge in want:
            if host.ensure_bridge(bridge):
                owned.setdefault("bridges", []).append(bridge)
                changed.append(f"bridge:{bridge}")
            changed += self._ensure_veth(spec, host_end(spec.router_id, key), key, bridge, None)
        paths.owned.write_text(json.dumps(owned))
        keep = {k for k, _ in want} | {PUBLIC_IF, "lo", "ipsec0"}
        for link in json.loads(run(["ip", "-n", spec.netns, "-j", "link", "show"]).stdout or "[]"):
            name = link.get("ifname", "")
            if name not in keep:  # a leg whose tier or gateway is gone
                run(["ip", "-n", spec.netns, "link", "del", "dev", name], check=False)
                changed.append(f"leg-:{name}")
        if spec.public is not None:
            host.ensure_bridge(spec.public.bridge)
            changed += self._ensure_veth(spec, f"vrp-{spec.router_id}", PUBLIC_IF, spec.public.bridge, None)
        return changed

    def _ensure_addresses(self, spec: Any, *_: Any) -> list[str]:
        want: dict[str, set[str]] = {t.key: {t.gateway_cidr} for t in spec.tiers}
        want.update({g.key: {g.address_cidr} for g in spec.gateways})
        if spec.public is not None:
            want[PUBLIC_IF] = {f"{ip}/{spec.public.prefix}" for ip in spec.public.ips}
        return self._converge_addresses(spec, want) + self._converge_routes(spec)

    def _converge_routes(self, spec: VpcRouterSpec) -> list[str]:
        """Static routes (main table, ``proto static``): added, replaced, and removed when gone from the spec."""
        changed: list[str] = []
        want = {str(ipaddress.IPv4Network(r.cidr)): r.via for r in spec.routes}
        have = {r["dst"]: r.get("gateway") for r in json.loads(run(
            ["ip", "-n", spec.netns, "-j", "route", "show", "proto", "static"]).stdout or "[]")}
        for cidr in sorted(set(have) - set(want)):
            run(["ip", "-n", spec.netns, "route", "del", cidr, "proto", "static"], check=False)
            changed.append(f"route-:{cidr}")
        for cidr, via in sorted(want.items()):
            if have.get(cidr) != via:
                run(["ip", "-n", spec.netns, "route", "replace", cidr, "via", via, "proto", "static"])
                changed.append(f"route+:{cidr}")
        return changed

    # -- services
    def _converge_dnsmasq(self, spec: Any, paths: RouterPaths) -> list[str]:
        if not spec.tiers:
            pid = _read_pid(paths.dnsmasq_pid)
            was = _pid_alive(pid, str(paths.dnsmasq_conf))
            _kill(pid, str(paths.dnsmasq_conf))
            paths.dnsmasq_conf.unlink(missing_ok=True)
            return ["dnsmasq:stop"] if was else []
        conf_changed = _write_if_changed(paths.dnsmasq_conf, render_vpc_dnsmasq(spec, paths))
        hosts_changed = _write_if_changed(paths.hosts, render_vpc_hosts(spec))
        hosts_changed |= _write_if_changed(paths.dhcp_hosts, render_vpc_dhcp_hosts(spec))
        return self._run_dnsmasq(spec, paths, conf_changed, hosts_changed)

    def _metadata_pid(self, paths: RouterPaths, key: str) -> Path:
        return paths.root / f"metadata-{key}.pid"

    def _converge_metadata(self, spec: Any, paths: RouterPaths) -> list[str]:
        changed = ["metadata:data"] if _write_if_changed(paths.metadata, render_metadata(spec)) else []
        marker = str(paths.metadata)
        wanted = {t.key: t.gateway for t in spec.tiers}
        for pidfile in paths.root.glob("metadata-*.pid"):
            key = pidfile.name[len("metadata-"):-len(".pid")]
            if key not in wanted:
                _kill(_read_pid(pidfile), marker)
                pidfile.unlink(missing_ok=True)
                changed.append(f"metadata:stop:{key}")
        for key, bind in wanted.items():
            pidfile = self._metadata_pid(paths, key)
            pid = _read_pid(pidfile)
            if _pid_alive(pid, marker) and bind.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            _kill(pid, marker)
            pidfile.unlink(missing_ok=True)
            with open(paths.metadata_log, "ab") as log:
                proc = subprocess.run(["ip", "netns", "exec", spec.netns, self.python, str(METADATA_SCRIPT),
                                       str(paths.metadata), bind, "80", str(pidfile)],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            if proc.returncode != 0 or not _pid_alive(_read_pid(pidfile)):
                raise ProviderError(f"metadata server for {key} did not start (see {paths.metadata_log})")
            changed.append(f"metadata:start:{key}")
        return changed

    # -- status and teardown
    def status(self, router: Any) -> RouterStatus:
        rid = router if isinstance(router, str) else router.router_id
        spec: Any = self.last_spec(rid) if isinstance(router, str) else router
        if not (NETNS_DIR / f"dcr-{rid}").exists():
            return RouterStatus(rid, "Stopped", ())
        paths = self.paths(rid)
        services: list[ServiceHealth] = []
        nft_ok = run(["ip", "netns", "exec", f"dcr-{rid}", "nft", "list", "table", "ip", "devcloud"], check=False)
        services.append(ServiceHealth("nftables", nft_ok.returncode == 0, None,
                                      "" if nft_ok.returncode == 0 else "table ip devcloud missing"))
        if spec is not None and spec.tiers:
            services.append(self._health("dnsmasq", paths.dnsmasq_pid, str(paths.dnsmasq_conf)))
            for t in spec.tiers:
                services.append(self._health(f"metadata:{t.key}", self._metadata_pid(paths, t.key),
                                             str(paths.metadata)))
        if spec is not None and spec.load_balancers:
            services.append(self._health("haproxy", paths.haproxy_pid, str(paths.haproxy_cfg)))
        if spec is not None and not spec.vpn.empty:
            services.append(self._health("charon", self.vpn_paths(rid).pid, "charon"))
        return RouterStatus(rid, "Running", tuple(services))

    def _daemons(self, paths: RouterPaths) -> list[tuple[Path, Path]]:
        return super()._daemons(paths) + [(p, paths.metadata) for p in paths.root.glob("metadata-*.pid")]

    def _host_links(self, rid: str, spec: Any) -> list[str]:
        links = [f"vrp-{rid}"]
        if spec is not None:
            links += [host_end(rid, k) for k, _ in self._legs(spec)]
        return links


__all__ = ["VpcRouterProvider", "host_end", "render_vpc_dnsmasq", "render_vpc_nftables", "vpc_nft_context"]

