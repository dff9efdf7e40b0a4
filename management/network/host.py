"""Host-side plumbing shared by the router and security-group code: commands, bridges, the sandbox public bridge.

Everything here touches only devices it is told to (bridges/veths devcloud creates); it never changes the host's
real interfaces, default route or other nftables tables.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from management.drivers.libvirt import overlay
from management.network.provider import IFNAME_RE, ProviderError, SpecError


def run(args: Sequence[str], *, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise ProviderError(f"{' '.join(args)} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()}")
    return proc


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def link_info(name: str, netns: str | None = None) -> dict | None:
    args = ["ip", "-j", "-d"] + (["-n", netns] if netns else []) + ["link", "show", "dev", name]
    proc = run(args, check=False)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout or "[]")
    return data[0] if data else None


def bridge_ports(bridge: str) -> list[str]:
    p = Path("/sys/class/net", bridge, "brif")
    return sorted(x.name for x in p.iterdir()) if p.exists() else []


def ensure_bridge(name: str, *, vlan_filtering: bool = False) -> bool:
    """Create the bridge if missing (STP off, forward delay 0) and set it up. Returns True when created."""
    if not IFNAME_RE.match(name):
        raise SpecError(f"bridge name {name!r} is invalid")
    created = False
    if not link_exists(name):
        run(["ip", "link", "add", "name", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"]
            + (["vlan_filtering", "1"] if vlan_filtering else []))
        created = True
    elif vlan_filtering and Path(f"/sys/class/net/{name}/bridge/vlan_filtering").read_text().strip() != "1":
        run(["ip", "link", "set", "dev", name, "type", "bridge", "vlan_filtering", "1"])
    if "UP" not in ((link_info(name) or {}).get("flags") or []):
        run(["ip", "link", "set", "dev", name, "up"])
    return created


def attach_port(bridge: str, dev: str, vlan: int | None = None) -> bool:
    """Enslave ``dev`` to ``bridge`` (and give it ``vlan`` as untagged PVID on a vlan-filtering bridge)."""
    changed = False
    info = link_info(dev)
    if info is None:
        raise ProviderError(f"device {dev} does not exist")
    if info.get("master") != bridge:
        run(["ip", "link", "set", "dev", dev, "master", bridge])
        changed = True
    if vlan is not None:
        proc = run(["bridge", "-j", "vlan", "show", "dev", dev])
        vids = {(v["vlan"], "PVID" in v.get("flags", [])) for e in json.loads(proc.stdout or "[]")
                for v in e.get("vlans", [])}
        if vids != {(vlan, True)}:
            run(["bridge", "vlan", "add", "dev", dev, "vid", str(vlan), "pvid", "untagged"])
            for vid, _ in vids:
                if vid != vlan:
                    run(["bridge", "vlan", "del", "dev", dev, "vid", str(vid)])
            changed = True
    if "UP" not in (info.get("flags") or []):
        run(["ip", "link", "set", "dev", dev, "up"])
        changed = True
    return changed


def remove_bridge(name: str, *, only_if_unused: bool = True) -> bool:
    """Deletes the bridge (with the VXLAN device that stretches a guest network to remote hosts, which is not a
    use of its own)."""
    if not link_exists(name):
        return False
    stretched = name.startswith(overlay.BRIDGE_PREFIX)
    ports = overlay.other_ports(name) if stretched else bridge_ports(name)
    if only_if_unused and ports:
        return False
    if stretched:
        overlay.remove(name)
    run(["ip", "link", "del", "dev", name], check=False)
    return True


def ensure_public_bridge(name: str, cidr_gateway: str) -> bool:
    """The sandbox's "public" network: a host bridge holding ``cidr_gateway`` (e.g. ``198.18.0.1/24``).

    The connected route makes the range reachable from this machine only; no NAT, no forwarding, no default route
    change. Routers use the bridge address as their public gateway. Returns True when something changed.
    """
    iface = ipaddress.IPv4Interface(cidr_gateway)
    if "/" not in cidr_gateway:
        raise SpecError("cidr_gateway needs a prefix, e.g. 198.18.0.1/24")
    check_public_range(name, iface.network)
    changed = ensure_bridge(name)
    addrs = json.loads(run(["ip", "-j", "addr", "show", "dev", name]).stdout or "[]")
    have = {f"{a['local']}/{a['prefixlen']}" for e in addrs for a in e.get("addr_info", [])
            if a.get("family") == "inet"}
    if str(iface) not in have:
        run(["ip", "addr", "add", str(iface), "dev", name])
        changed = True
    return changed


def check_public_range(bridge: str, net: ipaddress.IPv4Network) -> None:
    """Refuse a public range that would shadow something this machine really uses: its connected route would
    hijack traffic to the host's own networks (addresses/routes on devices devcloud did not create) or to its DNS
    servers."""
    for r in json.loads(run(["ip", "-j", "-4", "route", "show", "table", "main"]).stdout or "[]"):
        dev, dst = r.get("dev", ""), r.get("dst", "")
        if dst == "default" or dev == bridge or dev.startswith(("dc", "vr")):
            continue
        try:
            other = ipaddress.IPv4Network(dst, strict=False)
        except ValueError:
            continue
        if other.overlaps(net):
            raise SpecError(f"public range {net} overlaps the host's route {dst} on {dev}")
    try:
        servers = [ln.split()[1] for ln in Path("/etc/resolv.conf").read_text().splitlines()
                   if ln.startswith("nameserver") and len(ln.split()) > 1]
    except OSError:
        servers = []
    for ns in servers:
        try:
            addr = ipaddress.ip_address(ns)
        except ValueError:
            continue
        if addr in net:
            raise SpecError(f"public range {net} contains the host's DNS server {ns}")
    for host, addr in _package_source_addresses():
        if addr in net:
            raise SpecError(f"public range {net} contains {addr}, the address of the package source {host}: "
                            "its connected route would cut this machine off from its packages")


_SOURCE_HOSTS = ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org")


@functools.lru_cache(maxsize=1)
def _package_source_addresses() -> list[tuple[str, ipaddress.IPv4Address]]:
    """Where this machine gets its packages from (apt sources, PyPI, npm), resolved: reached through the default
    route, so no route or address on the host reveals them, yet a public range over them hijacks them."""
    hosts = set(_SOURCE_HOSTS)
    apt = Path("/etc/apt")
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list")),
             *sorted((apt / "sources.list.d").glob("*.sources"))] if apt.is_dir() else []
    for f in files:
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        hosts.update(m.group(1) for m in re.finditer(r"(?:https?|ftp)://([A-Za-z0-9.-]+)", text))
    out: list[tuple[str, ipaddress.IPv4Address]] = []
    for host in sorted(hosts):
        try:
            infos = socket.getaddrinfo(host, None, socket.AF_INET)
        except OSError:
            continue
        out.extend((host, ipaddress.IPv4Address(i[4][0])) for i in infos)
    return out


def flush_neighbours(dev: str, ips: Sequence[str]) -> None:
    """Forget ARP entries for ``ips`` on our own bridge (a re-created router has a new MAC)."""
    if link_exists(dev):
        for ip in ips:
            run(["ip", "neigh", "flush", "dev", dev, "to", ip], check=False)
