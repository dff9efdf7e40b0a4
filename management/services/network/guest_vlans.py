"""Guest VLAN ranges dedicated to an account (CloudStack's account_vnet_map): the allocator hands an account's
networks its dedicated VLANs first and never gives them to anyone else; listGuestVlans shows every VLAN of the
physical networks' ranges with who holds it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.addressing import DedicatedGuestVlanRange
from management.models.identity import Account
from management.models.infra import GuestVlan, PhysicalNetwork
from management.services.network import ipam

VLAN_ID_SPACE = 1 << 24  # listGuestVlans ids: physical network row id * space + vnet


def _bounds(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    try:
        return int(lo), int(hi)
    except ValueError:
        raise ParamError("Please provide valid guest vlan range") from None


def dedicated(session: Session, pn_id: int) -> list[DedicatedGuestVlanRange]:
    return list(session.scalars(select(DedicatedGuestVlanRange).where(
        DedicatedGuestVlanRange.physical_network_id == pn_id).order_by(DedicatedGuestVlanRange.id)))


def dedicated_split(session: Session, pn_id: int, account_id: int) -> tuple[list[tuple[int, int]], set[int]]:
    """(ranges dedicated to the account, VLANs dedicated to other accounts)."""
    own: list[tuple[int, int]] = []
    others: set[int] = set()
    for d in dedicated(session, pn_id):
        lo, hi = _bounds(d.vnet_range)
        if d.account_id == account_id:
            own.append((lo, hi))
        else:
            others.update(range(lo, hi + 1))
    return own, others


def dedicate(session: Session, pn: PhysicalNetwork, owner: Account, vlan_range: str) -> DedicatedGuestVlanRange:
    methods = [m.strip().upper() for m in (pn.isolation_methods or "").split(",") if m.strip()]
    if methods and "VLAN" not in methods and "VXLAN" not in methods:
        raise ParamError(f"Cannot dedicate guest VLAN range. Physical isolation type of Network {pn.uuid} is not "
                         "VLAN nor VXLAN")
    parts = vlan_range.split("-")
    if len(parts) != 2:
        raise ParamError(f"Invalid format for parameter value vlan {vlan_range} .VLAN should be specified as "
                         "'startvlan-endvlan'")
    start, end = _bounds(vlan_range)
    existing = ipam.parse_vlan_ranges(pn.vlan)
    if existing and not any(start <= end and lo <= start and end <= hi for lo, hi in existing):
        raise ParamError(f"Unable to find guest vlan by range {vlan_range}")
    for v in session.scalars(select(GuestVlan).where(GuestVlan.physical_network_id == pn.id,
                                                     GuestVlan.vnet >= start, GuestVlan.vnet <= end,
                                                     GuestVlan.taken.is_not(None))):
        if v.account_id is not None and v.account_id != owner.id:
            raise ParamError(f"Guest VLAN from this range {v.vnet} is allocated to a different Account. Can only "
                             "dedicate a range which has no allocated VLANs or has VLANs allocated to the same "
                             "Account ")
    ranges = dedicated(session, pn.id)
    for d in ranges:
        lo, hi = _bounds(d.vnet_range)
        if (start < lo <= end) or (lo <= start <= hi):
            raise ParamError(f"Vlan range is already dedicated. Cannot dedicate guest vlan range {vlan_range}")
    # a range adjacent to one of the owner's dedicated ranges extends it
    mine = sorted((d for d in ranges if d.account_id == owner.id), key=lambda d: _bounds(d.vnet_range))
    for d in mine:
        lo, hi = _bounds(d.vnet_range)
        if end == lo - 1:
            d.vnet_range = f"{start}-{hi}"
            session.flush()
            return d
        if start == hi + 1:
            nxt = next((x for x in mine if _bounds(x.vnet_range)[0] == end + 1), None)
            if nxt is not None:
                d.vnet_range = f"{lo}-{_bounds(nxt.vnet_range)[1]}"
                session.delete(nxt)
            else:
                d.vnet_range = f"{lo}-{end}"
            session.flush()
            return d
    row = DedicatedGuestVlanRange(physical_network_id=pn.id, account_id=owner.id, domain_id=owner.domain_id,
                                  vnet_range=f"{start}-{end}")
    session.add(row)
    session.flush()
    return row


def release(session: Session, row: DedicatedGuestVlanRange) -> None:
    session.delete(row)
    session.flush()


def guest_vlans(session: Session, pns: list[PhysicalNetwork]) -> list[tuple[PhysicalNetwork, int, GuestVlan | None,
                                                                            DedicatedGuestVlanRange | None]]:
    """(physical network, vnet, its allocation row or None, its dedication or None) for every VLAN of the ranges."""
    out = []
    for pn in pns:
        rows = {g.vnet: g for g in session.scalars(select(GuestVlan).where(GuestVlan.physical_network_id == pn.id))}
        dedications = [(d, *_bounds(d.vnet_range)) for d in dedicated(session, pn.id)]
        for lo, hi in ipam.parse_vlan_ranges(pn.vlan):
            for v in range(lo, hi + 1):
                ded = next((d for d, a, b in dedications if a <= v <= b), None)
                g = rows.get(v)
                out.append((pn, v, g if g is not None and g.taken is not None else None, ded))
    return out
