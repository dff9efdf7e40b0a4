"""Portable IP ranges: public addresses of a region (this cloud is region 1) that are not bound to one zone. An
account acquires one with ``associateIpAddress isportable=true``; it is then provisioned in the zone as a
one-address public range with a public IP row marked portable, may move between the account's networks while no
rule uses it (``enableStaticNat`` with another network), and goes back to the region's pool on release."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InsufficientCapacity, ParamError
from management.models.addressing import PortableIpAddress, PortableIpRange
from management.models.identity import Account
from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange, Zone
from management.models.network import Network
from management.models.rules import NetworkRule

REGIONS = {1: "Local"}  # this cloud is one region


def _ip(value: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        return None


def check_region(region_id: int) -> None:
    if region_id not in REGIONS:
        raise ParamError(f"Invalid region ID: {region_id}")


def create_range(session: Session, *, region_id: int, start: str, end: str, gateway: str, netmask: str,
                 vlan: str | None) -> PortableIpRange:
    check_region(region_id)
    lo, hi = _ip(start), _ip(end)
    if lo is None or hi is None or lo > hi:
        raise ParamError(f"Invalid portable ip  range: {start}-{end}")
    try:
        net = ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False)
    except ValueError:
        raise ParamError("Please specify a valid gateway/netmask") from None
    if lo not in net:
        raise ParamError("Please ensure that your start IP is in the same subnet as your portable IP range's gateway "
                         "and as per the IP range's netmask.")
    if hi not in net:
        raise ParamError("Please ensure that your end IP is in the same subnet as your portable IP range's gateway "
                         "and as per the IP range's netmask.")
    for r in session.scalars(select(PortableIpRange).where(PortableIpRange.region_id == region_id)):
        if not (hi < ipaddress.IPv4Address(r.start_ip) or lo > ipaddress.IPv4Address(r.end_ip)):
            raise ParamError(f"Ip  range: {start}-{end} overlaps with a portable IP range already configured in the "
                             f"region {region_id}")
    tag = "untagged"
    if vlan is not None and vlan.removeprefix("vlan://").lower() != "untagged":
        v = vlan.removeprefix("vlan://")
        if not v.isdigit() or not 1 <= int(v) <= 4094:
            raise ParamError(f"Invalid vlan id {vlan}")
        tag = v
    if int(hi) - int(lo) > 65535:
        raise ParamError(f"Invalid portable ip  range: {start}-{end}")
    rng = PortableIpRange(region_id=region_id, vlan=tag, gateway=gateway, netmask=netmask, start_ip=start,
                          end_ip=end)
    session.add(rng)
    session.flush()
    for n in range(int(lo), int(hi) + 1):
        session.add(PortableIpAddress(range_id=rng.id, region_id=region_id, address=str(ipaddress.IPv4Address(n))))
    session.flush()
    return rng


def addresses(session: Session, rng: PortableIpRange) -> list[PortableIpAddress]:
    return list(session.scalars(select(PortableIpAddress).where(PortableIpAddress.range_id == rng.id)
                                .order_by(PortableIpAddress.id)))


def delete_range(session: Session, rng: PortableIpRange) -> None:
    if any(a.state != "Free" for a in addresses(session, rng)):
        raise ParamError("Can't delete portable IP range as there are IP's assigned.")
    session.delete(rng)
    session.flush()


def _public_pn(session: Session, zone: Zone) -> int | None:
    return session.scalar(select(PhysicalNetwork.id).join(TrafficType, TrafficType.physical_network_id ==
                                                          PhysicalNetwork.id)
                          .where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed.is_(None),
                                 TrafficType.traffic_type == "Public").limit(1))


def allocate(session: Session, owner: Account, region_id: int, zone: Zone, network: Network | None,
             state: str = "Allocating") -> PublicIpAddress:
    check_region(region_id)
    free = session.scalar(select(PortableIpAddress).where(PortableIpAddress.region_id == region_id,
                                                          PortableIpAddress.state == "Free")
                          .order_by(PortableIpAddress.id).limit(1).with_for_update(skip_locked=True))
    if free is None:
        raise InsufficientCapacity("Unable to find available portable IP addresses")
    rng = session.get_one(PortableIpRange, free.range_id)
    pn = _public_pn(session, zone)
    vlan = VlanIpRange(zone_id=zone.id, physical_network_id=pn, vlan_tag=rng.vlan or "untagged",
                       gateway=rng.gateway, netmask=rng.netmask, start_ip=free.address, end_ip=free.address,
                       vlan_type="VirtualNetwork")
    session.add(vlan)
    session.flush()
    ip = PublicIpAddress(public_ip_address=free.address, zone_id=zone.id, vlan_id=vlan.id, physical_network_id=pn,
                         state=state, account_id=owner.id, domain_id=owner.domain_id,
                         network_id=network.id if network else None, allocated=utcnow(), is_portable=True)
    session.add(ip)
    session.flush()
    free.state, free.allocated, free.account_id, free.domain_id = "Allocated", utcnow(), owner.id, owner.domain_id
    free.zone_id, free.network_id, free.physical_network_id, free.public_ip_id = (zone.id, ip.network_id, pn,
                                                                                  ip.id)
    session.flush()
    return ip


def release(session: Session, ip: PublicIpAddress) -> None:
    """The address goes back to the region's pool; its zone provisioning (range and public IP row) is removed."""
    row = session.scalar(select(PortableIpAddress).where(PortableIpAddress.public_ip_id == ip.id))
    if row is not None:
        row.state, row.allocated, row.account_id, row.domain_id = "Free", None, None, None
        row.zone_id, row.network_id, row.physical_network_id, row.public_ip_id = None, None, None, None
    vlan = session.get(VlanIpRange, ip.vlan_id)
    session.delete(ip)
    session.flush()
    if vlan is not None:
        session.delete(vlan)
    session.flush()


def transfer(session: Session, ip: PublicIpAddress, network: Network) -> None:
    """Moves a portable IP to another network of its owner when nothing uses it in the old one."""
    if ip.network_id == network.id:
        return
    busy = session.scalar(select(NetworkRule.id).where(NetworkRule.ip_address_id == ip.id,
                                                       NetworkRule.removed.is_(None)).limit(1))
    if busy is not None or ip.one_to_one_nat:
        raise ParamError(f"Portable IP: {ip.uuid} has associated services in network {ip.network_id} so can not "
                         f"be transferred to  network {network.uuid}")
    if ip.account_id != network.account_id:
        raise ParamError(f"Portable IP {ip.public_ip_address} and network {network.name} belong to different "
                         "accounts")
    if ip.zone_id != network.zone_id:
        ip.zone_id = network.zone_id
        vlan = session.get(VlanIpRange, ip.vlan_id)
        if vlan is not None:
            vlan.zone_id = network.zone_id
    ip.network_id = network.id
    row = session.scalar(select(PortableIpAddress).where(PortableIpAddress.public_ip_id == ip.id))
    if row is not None:
        row.network_id, row.zone_id = network.id, network.zone_id
    session.flush()
