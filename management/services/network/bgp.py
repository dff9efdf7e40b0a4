"""AS number ranges of a zone and the AS numbers handed to dynamically routed networks; BGP peers (the upstream
routers such networks announce their subnets to), dedicated to a domain/account or not, and which peers a network
uses.

This cloud keeps the records and CloudStack's rules; no BGP speaker runs in the namespace router (the peers'
sessions would need an upstream router that does not exist here)."""

from __future__ import annotations

import ipaddress
import json

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.identity import Account
from management.models.infra import Zone
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.models.routing import AsNumber, AsNumberRange, BgpPeer, BgpPeerNetwork
from management.services.network import routed

DETAILS = ("EBGP_MultiHop",)
MAX_ASN = 4294967295


def create_range(session: Session, zone: Zone, start: int, end: int) -> AsNumberRange:
    if start > end or start < 1 or end > MAX_ASN:
        raise ParamError("Please specify a valid AS Number range")
    for r in session.scalars(select(AsNumberRange).where(AsNumberRange.zone_id == zone.id,
                                                         AsNumberRange.removed.is_(None))):
        if not (r.start_asn > end or start > r.end_asn):
            raise ParamError(f"New AS number range ({start}-{end}) has conflict with an existing AS number range "
                             f"({r.start_asn}-{r.end_asn})")
    if end - start > 65535:
        raise ParamError(f"Error creating AS Number range {start}-{end} for zone {zone.name}: at most 65536 numbers")
    rng = AsNumberRange(zone_id=zone.id, start_asn=start, end_asn=end)
    session.add(rng)
    session.flush()
    session.add_all(AsNumber(zone_id=zone.id, range_id=rng.id, as_number=n) for n in range(start, end + 1))
    session.flush()
    return rng


def delete_range(session: Session, rng: AsNumberRange) -> None:
    used = list(session.scalars(select(AsNumber.id).where(AsNumber.range_id == rng.id,
                                                          AsNumber.is_allocated.is_(True))))
    if used:
        raise InternalError(f"There are {len(used)} AS numbers in use from the range {rng.start_asn}-"
                            f"{rng.end_asn}, cannot remove the range")
    session.execute(delete(AsNumber).where(AsNumber.range_id == rng.id))
    rng.removed = utcnow()
    session.flush()


def allocate(session: Session, net: Network, wanted: int | None) -> AsNumber:
    stmt = select(AsNumber).where(AsNumber.zone_id == net.zone_id, AsNumber.removed.is_(None))
    row = session.scalar(stmt.where(AsNumber.as_number == wanted)) if wanted is not None else session.scalar(
        stmt.where(AsNumber.is_allocated.is_(False)).order_by(AsNumber.as_number).limit(1))
    if row is None or (wanted is not None and row.is_allocated):
        if wanted is not None:
            raise ParamError(f"Cannot find AS number {wanted} in zone with ID {net.zone_id}")
        raise InternalError(f"Cannot allocate AS number in zone with ID {net.zone_id}")
    row.is_allocated, row.allocated, row.network_id = True, utcnow(), net.id
    row.account_id, row.domain_id = net.account_id, net.domain_id
    session.flush()
    return row


def release(session: Session, zone: Zone, as_number: int, *, network_deleted: bool = False) -> None:
    row = session.scalar(select(AsNumber).where(AsNumber.zone_id == zone.id, AsNumber.as_number == as_number,
                                                AsNumber.removed.is_(None)))
    if row is None:
        raise InternalError(f"Cannot find AS Number {as_number} on zone {zone.id}")
    if not row.is_allocated:
        return
    if not network_deleted and row.network_id is not None:
        net = session.get(Network, row.network_id)
        off = session.get(NetworkOffering, net.network_offering_id) if net else None
        if off is not None and off.specify_as_number:
            raise InternalError(f"Cannot release the AS number {as_number} as it is acquired by a network that "
                                "requires AS number")
    row.is_allocated, row.allocated, row.network_id, row.vpc_id = False, None, None, None
    row.account_id = row.domain_id = None
    session.flush()


def release_network(session: Session, net: Network) -> None:
    for row in session.scalars(select(AsNumber).where(AsNumber.network_id == net.id)):
        row.is_allocated, row.allocated, row.network_id, row.account_id, row.domain_id = False, None, None, None, None
    session.execute(delete(BgpPeerNetwork).where(BgpPeerNetwork.network_id == net.id))
    session.flush()


# ------------------------------------------------------------------------------------------------ peers

def _details(raw: list[dict[str, str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw or []:
        for k, v in item.items():
            name = next((d for d in DETAILS if d.lower() == k.lower()), None)
            if name is None:
                raise ParamError(f"Unsupported BGP peer detail {k}")
            out[name] = v
    return out


def _check_addresses(session: Session, zone_id: int, asn: int, ip4: str | None, ip6: str | None,
                     ignore: int | None, new: str = "") -> None:
    if ip4 is None and ip6 is None:
        raise ParamError("At least one of IPv4 and IPv6 address must be specified.")
    for value, family, label in ((ip4, 4, "IPv4"), (ip6, 6, "IPv6")):
        if value is None:
            continue
        try:
            ok = ipaddress.ip_address(value).version == family
        except ValueError:
            ok = False
        if not ok:
            raise ParamError(f"{new}{label} address is not valid.")
        col = BgpPeer.ip4_address if family == 4 else BgpPeer.ip6_address
        dup = session.scalar(select(BgpPeer.id).where(BgpPeer.zone_id == zone_id, BgpPeer.as_number == asn,
                                                      col == value, BgpPeer.removed.is_(None)))
        if dup is not None and dup != ignore:
            raise ParamError(f"There is already a BGP peer with same {label} address and AS number in the zone.")


def create_peer(session: Session, zone: Zone, *, ip4: str | None, ip6: str | None, asn: int, password: str | None,
                details: list[dict[str, str]] | None, owner: Account | None, domain_id: int | None) -> BgpPeer:
    routed.check_enabled(session, zone)
    _check_addresses(session, zone.id, asn, ip4, ip6, None)
    d = _details(details)
    peer = BgpPeer(zone_id=zone.id, ip4_address=ip4, ip6_address=ip6, as_number=asn, password=password,
                   account_id=owner.id if owner else None, domain_id=owner.domain_id if owner else domain_id,
                   details_json=json.dumps(d) if d else None)
    session.add(peer)
    session.flush()
    return peer


def update_peer(session: Session, peer: BgpPeer, *, ip4: str | None, ip6: str | None, asn: int | None,
                password: str | None, details: list[dict[str, str]] | None, cleanup: bool) -> BgpPeer:
    new_asn = asn if asn is not None else peer.as_number
    new4 = peer.ip4_address if ip4 is None else (ip4.strip() or None)
    new6 = peer.ip6_address if ip6 is None else (ip6.strip() or None)
    changed = new_asn != peer.as_number or new4 != peer.ip4_address or new6 != peer.ip6_address
    if changed or new4 is None and new6 is None:
        _check_addresses(session, peer.zone_id, new_asn, new4, new6, peer.id, "new ")
    d = _details(details)
    peer.as_number, peer.ip4_address, peer.ip6_address = new_asn, new4, new6
    if password is not None:
        peer.password = password
    if cleanup:
        peer.details_json = None
    elif d:
        peer.details_json = json.dumps(d)
    session.flush()
    return peer


def peer_networks(session: Session, peer: BgpPeer) -> list[BgpPeerNetwork]:
    return list(session.scalars(select(BgpPeerNetwork).where(BgpPeerNetwork.bgp_peer_id == peer.id)))


def delete_peer(session: Session, peer: BgpPeer) -> None:
    used = peer_networks(session, peer)
    if used:
        raise ParamError(f"The BGP peer is being used by {len(used)} guest networks.")
    peer.removed = utcnow()
    session.flush()


def dedicate_peer(session: Session, peer: BgpPeer, owner: Account | None, domain_id: int | None) -> BgpPeer:
    nets = [n for m in peer_networks(session, peer) if m.network_id
            for n in [session.get(Network, m.network_id)] if n is not None]
    routed.dedicate(session, peer, nets, owner, domain_id)
    return peer


def release_peer(session: Session, peer: BgpPeer) -> BgpPeer:
    peer.account_id = peer.domain_id = None
    session.flush()
    return peer


def validate_peers(session: Session, owner: Account, zone_id: int, peers: list[BgpPeer]) -> None:
    for p in peers:
        if p.zone_id != zone_id:
            raise ParamError(f"BGP peer (ID: {p.uuid}) belongs to a different zone")
        if p.domain_id is not None and p.domain_id != owner.domain_id:
            raise ParamError(f"BGP peer (ID: {p.uuid}) belongs to a different domain")
        if p.account_id is not None and p.account_id != owner.id:
            raise ParamError(f"BGP peer (ID: {p.uuid}) belongs to a different account")


def change_network_peers(session: Session, net: Network, peers: list[BgpPeer]) -> Network:
    if getattr(net, "vpc_id", None) is not None:
        raise ParamError("The BGP peers of VPC tiers will inherit from the VPC, do not add separately.")
    off = session.get(NetworkOffering, net.network_offering_id)
    if peers and not routed.is_dynamic(off):
        raise ParamError("The network does not support Dynamic routing")
    owner = session.get_one(Account, net.account_id)
    validate_peers(session, owner, net.zone_id, peers)
    session.execute(delete(BgpPeerNetwork).where(BgpPeerNetwork.network_id == net.id))
    session.add_all(BgpPeerNetwork(bgp_peer_id=p.id, network_id=net.id, state="Active") for p in peers)
    session.flush()
    return net


def peers_of(session: Session, net: Network) -> list[BgpPeer]:
    ids = select(BgpPeerNetwork.bgp_peer_id).where(BgpPeerNetwork.network_id == net.id)
    return list(session.scalars(select(BgpPeer).where(BgpPeer.id.in_(ids), BgpPeer.removed.is_(None))))


def setup_network(session: Session, net: Network, off: NetworkOffering, as_number: int | None,
                  peers: list[BgpPeer]) -> None:
    """A new dynamically routed network: its AS number (the given one, else the zone's next free) and peers."""
    if not routed.is_dynamic(off):
        return
    allocate(session, net, as_number)
    if peers:
        change_network_peers(session, net, peers)


def number_of(session: Session, net: Network) -> AsNumber | None:
    return session.scalar(select(AsNumber).where(AsNumber.network_id == net.id, AsNumber.is_allocated.is_(True)))
