"""Dynamic routing records (CloudStack 4.20): AS number ranges of a zone, the AS numbers networks hold, BGP peers
(dedicated or shared) and the peers a network announces its subnet to."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.networks import network_resp
from management.api.cloudstack.commands.network.routing_resp import peer_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ALL_ROLES,
    ListParams,
    Long,
    MapParam,
    ParamInfo,
    Params,
    Ref,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_network import NetworkResp
from management.api.cloudstack.schemas_routing import AsnRangeResp, AsNumberResp, BgpPeerResp
from management.errors import ParamError, invalid_id
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.models.network import Network
from management.models.routing import AsNumber, AsNumberRange, BgpPeer
from management.services import access
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate
from management.services.network import bgp as svc

access.register_entity("ASNRange", AsNumberRange, "public")
access.register_entity("BgpPeer", BgpPeer, "public")


# ---- AS number ranges ---------------------------------------------------------------------------------------------

def range_resp(ctx: CallContext, r: AsNumberRange) -> AsnRangeResp:
    zone = ctx.session.get(Zone, r.zone_id)
    return AsnRangeResp(id=r.uuid, zoneid=zone.uuid if zone else None, startasn=r.start_asn, endasn=r.end_asn,
                        created=r.created)


class CreateRangeParams(Params):
    zoneid: Annotated[str, Ref("Zone")] = Field(description="zone of the range")
    startasn: Long = Field(description="first AS number of the range")
    endasn: Long = Field(description="last AS number of the range")


@api_command("createASNRange", params=CreateRangeParams, roles=ADMIN, since="4.20.0", result_key="asnrange",
             response=AsnRangeResp, event="AS.RANGE.CREATE", entity="ASNRange",
             description="Adds a range of AS numbers dynamically routed networks of the zone take theirs from")
def create_range(ctx: CallContext, p: CreateRangeParams) -> AsnRangeResp:
    return range_resp(ctx, svc.create_range(ctx.session, ctx.refs["zoneid"], p.startasn, p.endasn))


class ListRangesParams(ListParams):
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only ranges of this zone")


@api_command("listASNRanges", params=ListRangesParams, roles=ADMIN, since="4.20.0", result_key="asnumberrange",
             response=AsnRangeResp, description="Lists the zones' AS number ranges")
def list_ranges(ctx: CallContext, p: ListRangesParams) -> ListResult:
    stmt = select(AsNumberRange).where(AsNumberRange.removed.is_(None))
    if p.zoneid:
        stmt = stmt.where(AsNumberRange.zone_id == ctx.refs["zoneid"].id)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, AsNumberRange.id)
    return ListResult([range_resp(ctx, r) for r in rows], count)


class RangeIdParams(Params):
    id: Annotated[str, Ref("ASNRange")] = Field(description="ID of the AS number range")


@api_command("deleteASNRange", params=RangeIdParams, roles=ADMIN, since="4.20.0", event="AS.RANGE.DELETE",
             entity="ASNRange", description="Deletes an AS number range none of whose numbers is in use")
def delete_range(ctx: CallContext, p: RangeIdParams) -> Success:
    svc.delete_range(ctx.session, ctx.refs["id"])
    return Success()


# ---- AS numbers ---------------------------------------------------------------------------------------------------

def number_resp(ctx: CallContext, n: AsNumber) -> AsNumberResp:
    s = ctx.session
    zone, rng = s.get(Zone, n.zone_id), s.get(AsNumberRange, n.range_id)
    acct = s.get(Account, n.account_id) if n.account_id else None
    dom = s.get(Domain, n.domain_id) if n.domain_id else None
    net = s.get(Network, n.network_id) if n.network_id else None
    return AsNumberResp(id=n.uuid, accountid=acct.uuid if acct else None, account=acct.name if acct else None,
                        domainid=dom.uuid if dom else None, domain=dom.name if dom else None, asnumber=n.as_number,
                        asnrangeid=rng.uuid if rng else None,
                        asnrange=f"{rng.start_asn}-{rng.end_asn}" if rng else None,
                        zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
                        allocated=n.allocated, allocationstate="Allocated" if n.is_allocated else "Free",
                        associatednetworkid=net.uuid if net else None, associatednetworkname=net.name if net else None,
                        created=n.created)


class ListNumbersParams(ListParams):
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only numbers of this zone")
    asnrangeid: Annotated[str | None, Ref("ASNRange", "read")] = Field(None, description="only numbers of this "
                                                                        "range")
    asnumber: int | None = Field(None, description="only this AS number")
    isallocated: bool | None = Field(None, description="only allocated (true) or free (false) numbers")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="only the network's number")
    vpcid: Uuid | None = Field(None, description="only the VPC's number")
    account: str | None = Field(None, description="only numbers of this account, with domainid")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="only numbers of this domain")


@api_command("listASNumbers", params=ListNumbersParams, roles=ALL_ROLES, since="4.20.0", result_key="asnumber",
             response=AsNumberResp, description="Lists AS numbers and which network holds them")
def list_numbers(ctx: CallContext, p: ListNumbersParams) -> ListResult:
    stmt = select(AsNumber).where(AsNumber.removed.is_(None))
    if not ctx.caller.is_root_admin:
        # users see the numbers their networks hold; domain admins those of their domains
        stmt = access.owned_filter(ctx.session, stmt, AsNumber, ctx.caller, account=p.account, domainid=p.domainid,
                                   isrecursive=True, listall=True)
    else:
        if p.domainid:
            stmt = stmt.where(AsNumber.domain_id == ctx.refs["domainid"].id)
        if p.account:
            owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
            stmt = stmt.where(AsNumber.account_id == owner.id)
    if p.zoneid:
        stmt = stmt.where(AsNumber.zone_id == ctx.refs["zoneid"].id)
    if p.asnrangeid:
        stmt = stmt.where(AsNumber.range_id == ctx.refs["asnrangeid"].id)
    if p.asnumber is not None:
        stmt = stmt.where(AsNumber.as_number == p.asnumber)
    if p.isallocated is not None:
        stmt = stmt.where(AsNumber.is_allocated.is_(p.isallocated))
    if p.networkid:
        stmt = stmt.where(AsNumber.network_id == ctx.refs["networkid"].id)
    if p.vpcid:
        return ListResult([], 0)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, AsNumber.as_number)
    return ListResult([number_resp(ctx, r) for r in rows], count)


class ReleaseNumberParams(Params):
    zoneid: Annotated[str, Ref("Zone")] = Field(description="zone of the AS number")
    asnumber: Long = Field(description="the AS number to release")


@api_command("releaseASNumber", params=ReleaseNumberParams, roles=ADMIN, since="4.20.0", event="AS.NUMBER.RELEASE",
             description="Releases an AS number a network holds (not one its offering requires)")
def release_number(ctx: CallContext, p: ReleaseNumberParams) -> Success:
    svc.release(ctx.session, ctx.refs["zoneid"], p.asnumber)
    return Success(displaytext=f"AS Number {p.asnumber} is released successfully")


# ---- BGP peers ----------------------------------------------------------------------------------------------------

def _owner(ctx: CallContext, account: str | None, domainid: str | None,
           projectid: str | None) -> tuple[Account | None, int | None]:
    if projectid is not None and account is not None:
        raise ParamError("Either account or project can be specified, but not both")
    if account is not None:
        return access.owner_for(ctx.session, ctx.caller, account, domainid), None
    return None, ctx.refs["domainid"].id if domainid else None


class PeerOwnerParams(Params):
    account: str | None = Field(None, description="account the peer is dedicated to, with domainid")
    projectid: Uuid | None = Field(None, description="project the peer is dedicated to")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain the peer is dedicated "
                                                                   "to")


class CreatePeerParams(PeerOwnerParams):
    zoneid: Annotated[str, Ref("Zone")] = Field(description="zone of the peer")
    ipaddress: str | None = Field(None, description="IPv4 address of the peer")
    ip6address: str | None = Field(None, description="IPv6 address of the peer")
    asnumber: Long = Field(description="AS number of the peer")
    password: str | None = Field(None, description="MD5 password of the BGP session")
    details: MapParam | None = Field(None, description="session details, details[0].EBGP_MultiHop=255")


def _create_peer(ctx: CallContext, p: CreatePeerParams) -> str:
    owner, dom = _owner(ctx, p.account, p.domainid, p.projectid)
    return svc.create_peer(ctx.session, ctx.refs["zoneid"], ip4=p.ipaddress, ip6=p.ip6address, asn=p.asnumber,
                           password=p.password, details=p.details, owner=owner, domain_id=dom).uuid


def _created(ctx: CallContext) -> BgpPeer:
    peer = ctx.session.scalar(select(BgpPeer).where(BgpPeer.uuid == ctx.created_uuid))
    if peer is None:
        raise invalid_id(ctx.created_uuid or "")
    return peer


@api_command("createBgpPeer", params=CreatePeerParams, roles=ADMIN, is_async=True, create=_create_peer,
             since="4.20.0", result_key="bgppeer", response=BgpPeerResp, event="BGP.PEER.CREATE", entity="BgpPeer",
             description="Adds a BGP peer of the zone, optionally dedicated to a domain or an account")
def create_peer(ctx: CallContext, p: CreatePeerParams) -> BgpPeerResp:
    return peer_resp(ctx, _created(ctx))


class ListPeersParams(ListParams, PeerOwnerParams):
    id: Annotated[str | None, Ref("BgpPeer", "read")] = Field(None, description="ID of a peer")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only peers of this zone")
    asnumber: Long | None = Field(None, description="only peers with this AS number")
    isdedicated: bool | None = Field(None, description="only dedicated (true) or shared (false) peers")


@api_command("listBgpPeers", params=ListPeersParams, roles=ADMIN, since="4.20.0", result_key="bgppeer",
             response=BgpPeerResp, description="Lists the zones' BGP peers")
def list_peers(ctx: CallContext, p: ListPeersParams) -> ListResult:
    stmt = select(BgpPeer).where(BgpPeer.removed.is_(None))
    if p.id:
        stmt = stmt.where(BgpPeer.id == ctx.refs["id"].id)
    if p.zoneid:
        stmt = stmt.where(BgpPeer.zone_id == ctx.refs["zoneid"].id)
    if p.asnumber is not None:
        stmt = stmt.where(BgpPeer.as_number == p.asnumber)
    if p.isdedicated is not None:
        stmt = stmt.where(BgpPeer.domain_id.is_not(None) if p.isdedicated else BgpPeer.domain_id.is_(None))
    if p.projectid:
        return ListResult([], 0)
    owner, dom = _owner(ctx, p.account, p.domainid, None)
    if owner is not None:
        stmt = stmt.where(BgpPeer.account_id == owner.id)
    elif dom is not None:
        stmt = stmt.where(BgpPeer.domain_id == dom)
    stmt = keyword_filter(stmt, p.keyword, BgpPeer.ip4_address)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, BgpPeer.id)
    return ListResult([peer_resp(ctx, r) for r in rows], count)


class PeerIdParams(Params):
    id: Annotated[str, Ref("BgpPeer")] = Field(description="ID of the BGP peer")


class UpdatePeerParams(PeerIdParams):
    ipaddress: Annotated[str | None, ParamInfo(keep_empty=True)] = Field(None, description="new IPv4 address "
                                                                         "(empty: none)")
    ip6address: Annotated[str | None, ParamInfo(keep_empty=True)] = Field(None, description="new IPv6 address "
                                                                          "(empty: none)")
    asnumber: Long | None = Field(None, description="new AS number")
    password: str | None = Field(None, description="new MD5 password")
    details: MapParam | None = Field(None, description="new session details")
    cleanupdetails: bool | None = Field(None, description="true removes every session detail")


@api_command("updateBgpPeer", params=UpdatePeerParams, roles=ADMIN, is_async=True, since="4.20.0",
             result_key="bgppeer", response=BgpPeerResp, event="BGP.PEER.UPDATE", entity="BgpPeer",
             description="Changes a BGP peer")
def update_peer(ctx: CallContext, p: UpdatePeerParams) -> BgpPeerResp:
    return peer_resp(ctx, svc.update_peer(ctx.session, ctx.refs["id"], ip4=p.ipaddress, ip6=p.ip6address,
                                          asn=p.asnumber, password=p.password, details=p.details,
                                          cleanup=bool(p.cleanupdetails)))


@api_command("deleteBgpPeer", params=PeerIdParams, roles=ADMIN, is_async=True, since="4.20.0",
             event="BGP.PEER.DELETE", entity="BgpPeer", description="Deletes a BGP peer no network uses")
def delete_peer(ctx: CallContext, p: PeerIdParams) -> Success:
    svc.delete_peer(ctx.session, ctx.refs["id"])
    return Success()


class DedicatePeerParams(PeerIdParams, PeerOwnerParams):
    pass


@api_command("dedicateBgpPeer", params=DedicatePeerParams, roles=ADMIN, is_async=True, since="4.20.0",
             result_key="bgppeer", response=BgpPeerResp, event="BGP.PEER.DEDICATE", entity="BgpPeer",
             description="Dedicates a BGP peer to a domain or an account")
def dedicate_peer(ctx: CallContext, p: DedicatePeerParams) -> BgpPeerResp:
    owner, dom = _owner(ctx, p.account, p.domainid, p.projectid)
    return peer_resp(ctx, svc.dedicate_peer(ctx.session, ctx.refs["id"], owner, dom))


@api_command("releaseBgpPeer", params=PeerIdParams, roles=ADMIN, is_async=True, since="4.20.0",
             result_key="bgppeer", response=BgpPeerResp, event="BGP.PEER.RELEASE", entity="BgpPeer",
             description="Ends the dedication of a BGP peer")
def release_peer(ctx: CallContext, p: PeerIdParams) -> BgpPeerResp:
    return peer_resp(ctx, svc.release_peer(ctx.session, ctx.refs["id"]))


class ChangeNetworkPeersParams(Params):
    networkid: Annotated[str, Ref("Network")] = Field(description="the network")
    bgppeerids: Annotated[list[str] | None, Ref("BgpPeer", "read")] = Field(None, description="the peers the "
                                                                             "network uses from now on (none: the "
                                                                             "zone's peers it may use)")


# CloudStack declares BgpPeerResponse for this command (what listApis shows) and answers the network.
@api_command("changeBgpPeersForNetwork", params=ChangeNetworkPeersParams, roles=ADMIN, is_async=True,
             since="4.20.0", result_key="network", response=BgpPeerResp, event="NETWORK.BGP.PEER.UPDATE",
             entity="Network", description="Changes the BGP peers of a dynamically routed network (none: all are "
             "unlinked); answers the network")
def change_network_peers(ctx: CallContext, p: ChangeNetworkPeersParams) -> NetworkResp:
    peers: list[BgpPeer] = list(ctx.refs.get("bgppeerids") or [])
    return network_resp(ctx, svc.change_network_peers(ctx.session, ctx.refs["networkid"], peers))
