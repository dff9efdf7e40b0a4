"""Storage network IP ranges of a pod (CloudStack's StorageNetworkManager): the addresses system VMs take on the
zone's storage traffic. A zone has a storage network once one of its physical networks carries Storage traffic.
Ranges of a pod may not overlap each other or the pod's management range. No system VM takes an address here,
so a range is never in use."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.infra import PhysicalNetwork, Pod, TrafficType
from management.models.storage_network import StorageNetworkIpRange


def _v4(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise ParamError(f"Please specify a valid {what}") from None


def _check_netmask(netmask: str) -> None:
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{netmask}")
    except ValueError:
        raise InternalError(f"Invalid netmask:{netmask}") from None


def _overlap(a1: str, a2: str, b1: str, b2: str) -> bool:
    return ipaddress.IPv4Address(a1) <= ipaddress.IPv4Address(b2) and ipaddress.IPv4Address(b1) <= (
        ipaddress.IPv4Address(a2))


def _check_overlaps(s: Session, pod: Pod, start: str, end: str, skip: int | None) -> None:
    if ipaddress.IPv4Address(start) > ipaddress.IPv4Address(end):
        raise ParamError(f"The start IP address {start} must not be greater than the end IP address {end}")
    if pod.start_ip and pod.end_ip and _overlap(start, end, pod.start_ip, pod.end_ip):
        raise ParamError(f"The Storage network Start IP and endIP address range overlap with private IP :"
                         f"{pod.start_ip}:{pod.end_ip}")
    for r in s.scalars(select(StorageNetworkIpRange).where(StorageNetworkIpRange.pod_id == pod.id,
                                                           StorageNetworkIpRange.removed.is_(None))):
        if r.id != skip and _overlap(start, end, r.start_ip, r.end_ip):
            raise ParamError(f"The Storage network Start IP and endIP address range overlap with private IP :"
                             f"{r.start_ip} - {r.end_ip}")


def create(s: Session, pod: Pod, *, start: str, end: str | None, gateway: str, netmask: str,
           vlan: int | None) -> StorageNetworkIpRange:
    end = end or start
    _check_netmask(netmask)
    _v4(start, "start IP address")
    _v4(end, "end IP address")
    _v4(gateway, "gateway")
    if vlan is not None and not 0 <= vlan <= 4095:
        raise ParamError(f"Invalid VLAN id {vlan}: it must be between 0 and 4095")
    carriers = s.scalars(select(TrafficType.id)
                         .join(PhysicalNetwork, PhysicalNetwork.id == TrafficType.physical_network_id)
                         .where(PhysicalNetwork.zone_id == pod.zone_id, PhysicalNetwork.removed.is_(None),
                                TrafficType.traffic_type == "Storage")).all()
    if not carriers:
        raise InternalError(f"Cannot find storage network in zone {pod.zone_id}")
    _check_overlaps(s, pod, start, end, None)
    rng = StorageNetworkIpRange(zone_id=pod.zone_id, pod_id=pod.id, start_ip=start, end_ip=end, gateway=gateway,
                                netmask=netmask, vlan=vlan)
    s.add(rng)
    s.flush()
    return rng


def update(s: Session, rng: StorageNetworkIpRange, *, start: str | None, end: str | None, netmask: str | None,
           vlan: int | None) -> StorageNetworkIpRange:
    if netmask is not None:
        _check_netmask(netmask)
    if vlan is not None and not 0 <= vlan <= 4095:
        raise ParamError(f"Invalid VLAN id {vlan}: it must be between 0 and 4095")
    if start is not None or end is not None:
        new_start = str(_v4(start, "start IP address")) if start is not None else rng.start_ip
        new_end = str(_v4(end, "end IP address")) if end is not None else rng.end_ip
        _check_overlaps(s, s.get_one(Pod, rng.pod_id), new_start, new_end, rng.id)
        rng.start_ip, rng.end_ip = new_start, new_end
    if netmask is not None:
        rng.netmask = netmask
    if vlan is not None:
        rng.vlan = vlan
    s.flush()
    return rng


def delete(s: Session, rng: StorageNetworkIpRange) -> None:
    rng.removed = utcnow()
    s.flush()
