"""updateVlanIpRange: move the bounds of a public/direct IP range (addresses leaving it must be free, addresses
joining it become free public IPs), change its gateway/netmask while none is in use, set its IPv6 part and whether
it is kept for system VMs."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.infra import PublicIpAddress, VlanIpRange


def _v4(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise ParamError(f"Please specify a valid {what}") from None


def update(session: Session, rng: VlanIpRange, *, gateway: str | None, netmask: str | None, start: str | None,
           end: str | None, start6: str | None, end6: str | None, gateway6: str | None, cidr6: str | None,
           for_system_vms: bool | None) -> VlanIpRange:
    ipv4 = rng.gateway is not None
    ipv6 = rng.ip6_gateway is not None
    if not ipv4 and any(v is not None for v in (start, end, gateway, netmask)):
        raise ParamError("IPv4 is not support in this IP range.")
    if not ipv6 and any(v is not None for v in (start6, end6, gateway6, cidr6)):
        raise ParamError("IPv6 is not support in this IP range.")
    if for_system_vms is not None and for_system_vms != rng.for_system_vms:
        if rng.vlan_type == "DirectAttached":
            raise ParamError("forSystemVms is not available for this IP range with vlan type: DirectAttached")
        if rng.account_id is not None:
            raise ParamError("Specified Public IP range has already been dedicated to an account")
        if rng.domain_id is not None:
            raise ParamError("Specified Public IP range has already been dedicated to a domain")
    ips = list(session.scalars(select(PublicIpAddress).where(PublicIpAddress.vlan_id == rng.id,
                                                             PublicIpAddress.removed.is_(None))))
    used = sorted((ip for ip in ips if ip.state != "Free"), key=lambda i: int(_v4(i.public_ip_address, "IP")))
    if ipv4:
        if gateway is not None and gateway != rng.gateway and used:
            raise ParamError(f"Unable to change gateway to {gateway} because some IPs are in use")
        if netmask is not None and netmask != rng.netmask and used:
            raise ParamError(f"Unable to change netmask to {netmask} because some IPs are in use")
        gw, mask = gateway or rng.gateway, netmask or rng.netmask
        try:
            net = ipaddress.IPv4Network(f"{gw}/{mask}", strict=False)
        except ValueError:
            raise ParamError(f"Invalid gateway ({gw}) or netmask ({mask})") from None
        lo, hi = _v4(start or rng.start_ip, "start IP"), _v4(end or rng.end_ip, "end IP")
        if lo not in net or hi not in net or lo > hi:
            raise ParamError(f"Please specify a valid IP range or valid netmask or valid gateway: {lo}-{hi} is not "
                             f"in {net}")
        if lo <= ipaddress.IPv4Address(gw) <= hi:
            raise ParamError(f"The gateway shouldn't overlap start/end ip addresses: {gw}")
        for ip in used:
            if not lo <= _v4(ip.public_ip_address, "IP") <= hi:
                raise ParamError(f"The start IP address must be less than or equal to {used[0].public_ip_address} "
                                 "which is already in use. The end IP address must be greater than or equal to "
                                 f"{used[-1].public_ip_address} which is already in use. There are {len(used)} IPs "
                                 "already allocated in this range.")
        have = {ip.public_ip_address: ip for ip in ips}
        for addr, ip in have.items():
            if not lo <= _v4(addr, "IP") <= hi:
                session.delete(ip)
        for n in range(int(lo), int(hi) + 1):
            addr = str(ipaddress.IPv4Address(n))
            if addr not in have:
                session.add(PublicIpAddress(public_ip_address=addr, zone_id=rng.zone_id, vlan_id=rng.id,
                                            physical_network_id=rng.physical_network_id))
        rng.gateway, rng.netmask, rng.start_ip, rng.end_ip = gw, mask, str(lo), str(hi)
    if ipv6:
        rng.ip6_gateway = gateway6 or rng.ip6_gateway
        rng.ip6_cidr = cidr6 or rng.ip6_cidr
        cur = (rng.ip6_range or "").split("-") if rng.ip6_range else [None, None]
        s6, e6 = start6 or cur[0], end6 or cur[-1]
        if (s6 is None) != (e6 is None):
            raise ParamError(f"Invalid IPv6 range {s6}-{e6}")
        if s6 is not None and e6 is not None:
            try:
                a, b = ipaddress.IPv6Address(s6), ipaddress.IPv6Address(e6)
                net6 = ipaddress.IPv6Network(rng.ip6_cidr or "", strict=False)
            except ValueError:
                raise ParamError(f"Invalid IPv6 range {s6}-{e6}") from None
            if a > b or a not in net6 or b not in net6:
                raise ParamError(f"Invalid IPv6 range {s6}-{e6}")
            rng.ip6_range = f"{a}-{b}"
    if for_system_vms is not None:
        rng.for_system_vms = for_system_vms
    session.flush()
    return rng


def add_ipv6(session: Session, rng: VlanIpRange, *, gateway6: str | None, cidr6: str | None, start6: str | None,
             end6: str | None) -> VlanIpRange:
    """createVlanIpRange's IPv6 part: the range's IPv6 gateway and CIDR (no longer than /64), optionally a range
    of addresses routers take theirs from."""
    if not gateway6 or not cidr6:
        raise ParamError("ip6Gateway and ip6Cidr should be defined for an IPv6 range")
    try:
        net6 = ipaddress.IPv6Network(cidr6, strict=False)
        gw6 = ipaddress.IPv6Address(gateway6)
    except ValueError:
        raise ParamError(f"Invalid IPv6 gateway {gateway6} or CIDR {cidr6}") from None
    if net6.prefixlen > 64:
        raise ParamError("The cidr size of IPv6 network must be no more than 64 bits")
    if gw6 not in net6:
        raise ParamError(f"The gateway {gateway6} is not in the IPv6 CIDR {cidr6}")
    if rng.ip6_cidr:
        raise ParamError("The VLAN already has an IPv6 range")
    rng.ip6_gateway, rng.ip6_cidr = str(gw6), str(net6)
    if start6:
        update(session, rng, gateway=None, netmask=None, start=None, end=None, start6=start6, end6=end6 or start6,
               gateway6=None, cidr6=None, for_system_vms=None)
    session.flush()
    return rng
