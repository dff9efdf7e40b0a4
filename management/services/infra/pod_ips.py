"""A pod's management addresses taken one at a time (acquirePodIpAddress / releasePodIpAddress), as CloudStack's
op_dc_ip_address_alloc hands them out. A row is made the first time an address is taken and kept after its
release (its numeric id names it); the hosts' own addresses in the range are never handed out."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InternalError, PermissionDenied, ResourceAllocationError
from management.models.infra import Host, Pod, Zone
from management.models.pod_ips import PodIpAddress

LOCAL_MAC_BASE = 0x06_00_00_00_00_00  # a locally administered unicast prefix; the address's 32 bits follow


def _disabled_for(zone: Zone, *, root_admin: bool) -> bool:
    return zone.allocation_state == "Disabled" and not root_admin


def acquire(s: Session, zone: Zone, pod: Pod | None, account_id: int, *, root_admin: bool) -> PodIpAddress:
    if _disabled_for(zone, root_admin=root_admin):
        raise PermissionDenied(f"Cannot perform this operation, Zone {zone.name} is currently disabled")
    if pod is None or pod.zone_id != zone.id:
        raise ResourceAllocationError("No such pod exists")
    if not pod.start_ip or not pod.end_ip:
        raise ResourceAllocationError("Unable to allocate IP from this Pod")
    rows = {r.ip_address: r for r in s.scalars(select(PodIpAddress).where(PodIpAddress.pod_id == pod.id)
                                               .with_for_update())}
    hosts = set(s.scalars(select(Host.private_ip).where(Host.pod_id == pod.id, Host.removed.is_(None))))
    lo, hi = int(ipaddress.IPv4Address(pod.start_ip)), int(ipaddress.IPv4Address(pod.end_ip))
    for n in range(lo, hi + 1):
        ip = str(ipaddress.IPv4Address(n))
        if ip in hosts:
            continue
        row = rows.get(ip)
        if row is None:
            row = PodIpAddress(ip_address=ip, zone_id=zone.id, pod_id=pod.id, mac_address=LOCAL_MAC_BASE | n)
            s.add(row)
        elif row.taken is not None:
            continue
        row.taken, row.reservation_id, row.nic_id = utcnow(), str(account_id), 0
        s.flush()
        return row
    raise ResourceAllocationError("Unable to allocate IP from this Pod")


def release(s: Session, row_id: int, *, root_admin: bool) -> None:
    row = s.get(PodIpAddress, row_id, with_for_update=True)
    if row is None:
        raise InternalError(f"Unable to find ip address by id:{row_id}")
    if row.taken is None:
        raise InternalError(f"Ip Address with id= {row_id} is not allocated, so do nothing.")
    zone = s.get_one(Zone, row.zone_id)
    if _disabled_for(zone, root_admin=root_admin):
        raise InternalError(f"Cannot perform this operation, Zone is currently disabledzoneId={zone.id}")
    row.taken, row.reservation_id, row.nic_id = None, None, None


def cidr_address(pod: Pod) -> str | None:
    """The pod's network address (CloudStack's host_pod_ref.cidr_address: the address, the size is apart)."""
    if not pod.gateway or not pod.netmask:
        return None
    return str(ipaddress.IPv4Network(f"{pod.gateway}/{pod.netmask}", strict=False).network_address)
