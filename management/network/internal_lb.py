"""Internal load balancer appliances: haproxy in a network namespace of its own on a VPC tier (CloudStack's internal
LB VM), built on the namespace router plumbing (``vr.NamespaceRouterProvider``).

Layout for appliance ``<id>`` (state under ``<state_dir>/ilbvms/<id>/``): netns ``dcr-<id>`` with one leg ``eth0``
(host end ``vrg-<id>``) on the tier's bridge holding the load balancer's source IP, default route via the tier's
gateway (the VPC router: clients in other tiers reach it through the tiers' ACLs); haproxy binds each rule's
source port and balances over the instances' ports. Nothing else runs there.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from management.network import host
from management.network.host import run
from management.network.provider import (
    IFNAME_RE,
    ROUTER_ID_RE,
    LbBackend,
    LoadBalancerRule,
    RouterStatus,
    SpecError,
    VpnSpec,
)
from management.network.render import RouterPaths
from management.network.vr import NETNS_DIR, NamespaceRouterProvider

LEG = "eth0"


@dataclass(frozen=True)
class InternalLbSpec:
    router_id: str
    name: str
    bridge: str
    address_cidr: str                     # the source IP with the tier's prefix
    gateway: str                          # the tier's gateway
    load_balancers: tuple[LoadBalancerRule, ...] = ()   # public_ip = the source IP, public_port = the source port
    vpn: VpnSpec = VpnSpec()              # never used: the base provider's services read it

    @property
    def netns(self) -> str:
        return f"dcr-{self.router_id}"

    @property
    def public(self) -> None:  # no public leg (the base provider's teardown asks)
        return None

    def validate(self) -> InternalLbSpec:
        if not ROUTER_ID_RE.match(self.router_id):
            raise SpecError(f"router_id: {self.router_id!r} must match [a-z0-9]{{1,10}}")
        if not IFNAME_RE.match(self.bridge):
            raise SpecError(f"bridge: {self.bridge!r} is not an interface name")
        iface = ipaddress.IPv4Interface(self.address_cidr)
        if ipaddress.IPv4Address(self.gateway) not in iface.network:
            raise SpecError(f"gateway {self.gateway} is outside {iface.network}")
        seen: set[int] = set()
        for lb in self.load_balancers:
            if not re.match(r"^[A-Za-z0-9_.-]{1,63}$", lb.name) or lb.public_port in seen:
                raise SpecError(f"load balancer {lb.name!r} is invalid or its port is taken")
            seen.add(lb.public_port)
            if lb.public_ip != str(iface.ip):
                raise SpecError(f"load balancer {lb.name}: {lb.public_ip} is not the appliance's address")
        return self


def ilb_to_dict(spec: InternalLbSpec) -> dict[str, Any]:
    d = asdict(spec)
    d["kind"] = "ilb"
    return d


def ilb_from_dict(d: dict[str, Any]) -> InternalLbSpec:
    lbs = tuple(LoadBalancerRule(**{**lb, "backends": tuple(LbBackend(**b) for b in lb["backends"]),
                                    "cidrs": tuple(lb.get("cidrs", ()))}) for lb in d.get("load_balancers", []))
    return InternalLbSpec(router_id=d["router_id"], name=d["name"], bridge=d["bridge"],
                          address_cidr=d["address_cidr"], gateway=d["gateway"], load_balancers=lbs)


class InternalLbProvider(NamespaceRouterProvider):
    """Implements ``InternalLbSpec`` appliances (see the module docstring)."""

    SUBDIR = "ilbvms"

    def _dump(self, spec: Any) -> dict[str, Any]:
        return ilb_to_dict(spec)

    def _load(self, data: dict[str, Any]) -> Any:
        return ilb_from_dict(data)

    def _ensure_links(self, spec: Any, paths: RouterPaths) -> list[str]:
        changed = ["bridge:" + spec.bridge] if host.ensure_bridge(spec.bridge) else []
        return changed + self._ensure_veth(spec, f"vrg-{spec.router_id}", LEG, spec.bridge, None)

    def _ensure_addresses(self, spec: Any, *_: Any) -> list[str]:
        changed: list[str] = []
        have = self._addresses(spec, LEG)
        for a in sorted(have - {spec.address_cidr}):
            run(["ip", "-n", spec.netns, "addr", "del", a, "dev", LEG])
            changed.append(f"addr-:{a}")
        if spec.address_cidr not in have:
            run(["ip", "-n", spec.netns, "addr", "add", spec.address_cidr, "dev", LEG])
            changed.append(f"addr+:{spec.address_cidr}")
        if "UP" not in ((host.link_info(LEG, spec.netns) or {}).get("flags") or []):
            run(["ip", "-n", spec.netns, "link", "set", LEG, "up"])
            changed.append(f"up:{LEG}")
        routes = json.loads(run(["ip", "-n", spec.netns, "-j", "route", "show", "default"]).stdout or "[]")
        if not any(r.get("gateway") == spec.gateway for r in routes):
            run(["ip", "-n", spec.netns, "route", "replace", "default", "via", spec.gateway, "dev", LEG])
            changed.append("route:default")
        return changed

    def _converge_services(self, spec: Any, paths: RouterPaths) -> list[str]:
        return self._converge_haproxy(spec, paths)

    def status(self, router: Any) -> RouterStatus:
        rid = router if isinstance(router, str) else router.router_id
        spec: Any = self.last_spec(rid) if isinstance(router, str) else router
        if not (NETNS_DIR / f"dcr-{rid}").exists():
            return RouterStatus(rid, "Stopped", ())
        paths = self.paths(rid)
        services = [self._health("haproxy", paths.haproxy_pid, str(paths.haproxy_cfg))] \
            if spec is not None and spec.load_balancers else []
        return RouterStatus(rid, "Running", tuple(services))

    def _daemons(self, paths: RouterPaths) -> list[tuple[Path, Path]]:
        return [(paths.haproxy_pid, paths.haproxy_cfg)]

    def _host_links(self, rid: str, spec: Any) -> list[str]:
        return [f"vrg-{rid}"]


__all__ = ["InternalLbProvider", "InternalLbSpec"]
