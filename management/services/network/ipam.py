"""Address arithmetic for guest networks: CIDRs, gateways, free-address search, VLAN ranges, MAC addresses.

Pure functions (no database): the network service feeds them the used sets it reads under a lock.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Collection, Iterable

from management.errors import ParamError

MAC_PREFIX = "02:00"  # locally administered, as CloudStack's guest NICs


def parse_cidr(cidr: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(cidr.strip(), strict=False)
    except (ValueError, AttributeError):
        raise ParamError(f"Invalid CIDR {cidr!r}") from None
    if net.prefixlen > 30:
        raise ParamError(f"CIDR {cidr} is too small for a guest network (at most /30)")
    return net


def cidr_of(gateway: str, netmask: str) -> ipaddress.IPv4Network:
    try:
        iface = ipaddress.IPv4Interface(f"{gateway}/{netmask}")
    except ValueError:
        raise ParamError(f"Invalid gateway {gateway} / netmask {netmask}") from None
    return iface.network


def default_gateway(net: ipaddress.IPv4Network) -> str:
    """CloudStack's default: the first usable address of the CIDR."""
    return str(net.network_address + 1)


def check_ip(value: str, what: str = "ip address") -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value.strip())
    except (ValueError, AttributeError):
        raise ParamError(f"Invalid {what} {value!r}") from None


def first_free(net: ipaddress.IPv4Network, used: Collection[str], *, start: str | None = None,
               end: str | None = None, reserved: Iterable[str] = ()) -> str | None:
    """The lowest host address of ``net`` (within start..end when given) that is neither used nor reserved."""
    skip = set(used) | set(reserved)
    lo = int(check_ip(start)) if start else int(net.network_address) + 1
    hi = int(check_ip(end)) if end else int(net.broadcast_address) - 1
    lo = max(lo, int(net.network_address) + 1)
    hi = min(hi, int(net.broadcast_address) - 1)
    for n in range(lo, hi + 1):
        # Dotted quad by arithmetic: ~5x cheaper than str(IPv4Address(n)), and this walks every used address.
        ip = f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        if ip not in skip:
            return ip
    return None


def check_requested(net: ipaddress.IPv4Network, ip: str, used: Collection[str], *, gateway: str | None,
                    start: str | None = None, end: str | None = None) -> str:
    addr = check_ip(ip)
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise ParamError(f"IP address {ip} is not a valid host address of the network {net}")
    if start and end and not int(check_ip(start)) <= int(addr) <= int(check_ip(end)):
        raise ParamError(f"IP address {ip} is outside the network's range {start}-{end}")
    if gateway and str(addr) == gateway:
        raise ParamError(f"IP address {ip} is the network's gateway")
    if str(addr) in used:
        raise ParamError(f"The IP address {ip} is already in use in the network")
    return str(addr)


def parse_vlan_ranges(spec: str | None) -> list[tuple[int, int]]:
    """A physical network's `vlan` ("100-200,300-310" or "42") as inclusive ranges; ParamError on junk."""
    out: list[tuple[int, int]] = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo_s, _, hi_s = part.partition("-")
        try:
            lo, hi = int(lo_s), int(hi_s or lo_s)
        except ValueError:
            raise ParamError(f"Invalid VLAN range {part!r}") from None
        if not 1 <= lo <= hi <= 4094:
            raise ParamError(f"Invalid VLAN range {part!r}: VLAN ids are 1-4094")
        out.append((lo, hi))
    return out


def first_free_vlan(ranges: list[tuple[int, int]], taken: Collection[int]) -> int | None:
    for lo, hi in ranges:
        for v in range(lo, hi + 1):
            if v not in taken:
                return v
    return None


def vlan_of(broadcast_uri: str | None) -> str | None:
    if not broadcast_uri:
        return None
    for prefix in ("vlan://", "vxlan://", "pvlan://"):
        if broadcast_uri.startswith(prefix):
            return broadcast_uri[len(prefix):]
    return broadcast_uri


def random_mac(exists: Callable[[str], bool] | None = None, attempts: int = 32) -> str:
    """A locally administered MAC (02:00:xx:xx:xx:xx) that ``exists`` says is free."""
    for _ in range(attempts):
        mac = MAC_PREFIX + ":" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(4))
        if exists is None or not exists(mac):
            return mac
    raise RuntimeError("could not find a free MAC address")


__all__ = ["cidr_of", "check_ip", "check_requested", "default_gateway", "first_free", "first_free_vlan",
           "parse_cidr", "parse_vlan_ranges", "random_mac", "vlan_of"]
