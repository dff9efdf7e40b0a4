"""Guest VLANs of the physical networks (listGuestVlans), guest VLAN ranges dedicated to an account, and updates
of a public/direct IP range (updateVlanIpRange)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.networks import network_resp
from management.api.cloudstack.commands.network.vlans import vlan_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Long, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_addressing import GuestVlanRangeResp, GuestVlanResp
from management.api.cloudstack.schemas_infra import VlanIpRangeResp
from management.errors import ParamError
from management.models.addressing import DedicatedGuestVlanRange
from management.models.identity import Account, Domain
from management.models.infra import PhysicalNetwork, Zone
from management.models.network import Network
from management.services import access
from management.services.context import CallContext
from management.services.listing import check_paging, paginate
from management.services.network import guest_vlans as svc
from management.services.network import vlan_ranges

access.register_entity("GuestVlanRange", DedicatedGuestVlanRange, "public", soft_delete=False)


def range_resp(ctx: CallContext, d: DedicatedGuestVlanRange) -> GuestVlanRangeResp:
    s = ctx.session
    acct, dom = s.get(Account, d.account_id), s.get(Domain, d.domain_id)
    pn = s.get_one(PhysicalNetwork, d.physical_network_id)
    zone = s.get(Zone, pn.zone_id)
    return GuestVlanRangeResp(id=d.uuid, account=acct.name if acct else None, domainid=dom.uuid if dom else None,
                              domain=dom.name if dom else None, domainpath=dom.path if dom else None,
                              guestvlanrange=d.vnet_range, physicalnetworkid=pn.uuid,
                              zoneid=zone.uuid if zone else None)


class DedicateParams(Params):
    vlanrange: str = Field(description="the VLAN range to dedicate, start-end")
    account: str | None = Field(None, description="account to dedicate the range to, with domainid")
    projectid: Uuid | None = Field(None, description="project to dedicate the range to")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain of that account")
    physicalnetworkid: Annotated[str, Ref("PhysicalNetwork")] = Field(description="physical network of the range")


@api_command("dedicateGuestVlanRange", params=DedicateParams, roles=ADMIN, result_key="dedicatedguestvlanrange",
             response=GuestVlanRangeResp, event="GUESTVLANRANGE.DEDICATE", entity="GuestVlanRange",
             description="Dedicates a guest VLAN range of a physical network to an account")
def dedicate(ctx: CallContext, p: DedicateParams) -> GuestVlanRangeResp:
    if p.projectid is not None and p.account is not None:
        raise ParamError("accountName and projectId are mutually exclusive")
    if p.account is None or p.domainid is None:
        raise ParamError(f"Unable to find account by name {p.account}")
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    return range_resp(ctx, svc.dedicate(ctx.session, ctx.refs["physicalnetworkid"], owner, p.vlanrange))


class ListDedicatedParams(ListParams):
    id: Annotated[str | None, Ref("GuestVlanRange", "read")] = Field(None, description="ID of a dedicated range")
    account: str | None = Field(None, description="only ranges of this account, with domainid")
    projectid: Uuid | None = Field(None, description="only ranges of this project")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain of that account")
    guestvlanrange: str | None = Field(None, description="only this range, start-end")
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(
        None, description="only ranges of this physical network")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only ranges of this zone")


@api_command("listDedicatedGuestVlanRanges", params=ListDedicatedParams, roles=ADMIN,
             result_key="dedicatedguestvlanrange", response=GuestVlanRangeResp,
             description="Lists guest VLAN ranges dedicated to accounts")
def list_dedicated(ctx: CallContext, p: ListDedicatedParams) -> ListResult:
    stmt = select(DedicatedGuestVlanRange)
    if p.id:
        stmt = stmt.where(DedicatedGuestVlanRange.id == ctx.refs["id"].id)
    if p.account is not None and p.domainid is not None:
        if p.projectid is not None:
            raise ParamError("Account and projectId can't be specified together")
        acct = ctx.session.scalar(select(Account).where(Account.name == p.account,
                                                        Account.domain_id == ctx.refs["domainid"].id,
                                                        Account.removed.is_(None)))
        if acct is None:
            raise ParamError(f"Unable to find account {p.account}")
        stmt = stmt.where(DedicatedGuestVlanRange.account_id == acct.id)
    if p.guestvlanrange:
        stmt = stmt.where(DedicatedGuestVlanRange.vnet_range == p.guestvlanrange)
    if p.physicalnetworkid:
        stmt = stmt.where(DedicatedGuestVlanRange.physical_network_id == ctx.refs["physicalnetworkid"].id)
    if p.zoneid:
        stmt = stmt.where(DedicatedGuestVlanRange.physical_network_id.in_(
            select(PhysicalNetwork.id).where(PhysicalNetwork.zone_id == ctx.refs["zoneid"].id)))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, DedicatedGuestVlanRange.id)
    return ListResult([range_resp(ctx, r) for r in rows], count)


class RangeIdParams(Params):
    id: Annotated[str, Ref("GuestVlanRange")] = Field(description="ID of the dedicated guest VLAN range")


@api_command("releaseDedicatedGuestVlanRange", params=RangeIdParams, roles=ADMIN, is_async=True,
             event="GUESTVLANRANGE.RELEASE", entity="GuestVlanRange",
             description="Ends the dedication of a guest VLAN range to an account")
def release(ctx: CallContext, p: RangeIdParams) -> Success:
    svc.release(ctx.session, ctx.refs["id"])
    return Success()


class ListGuestVlansParams(ListParams):
    id: Long | None = Field(None, description="ID of a guest VLAN")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only VLANs of this zone")
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(
        None, description="only VLANs of this physical network")
    vnet: str | None = Field(None, description="only this VLAN number")
    allocatedonly: bool | None = Field(None, description="only VLANs a network holds")


@api_command("listGuestVlans", params=ListGuestVlansParams, roles=ADMIN, since="4.17.0", result_key="guestvlan",
             response=GuestVlanResp, description="Lists the guest VLANs of the physical networks and who holds them")
def list_guest_vlans(ctx: CallContext, p: ListGuestVlansParams) -> ListResult:
    s = ctx.session
    stmt = select(PhysicalNetwork).where(PhysicalNetwork.removed.is_(None)).order_by(PhysicalNetwork.id)
    if p.zoneid:
        stmt = stmt.where(PhysicalNetwork.zone_id == ctx.refs["zoneid"].id)
    if p.physicalnetworkid:
        stmt = stmt.where(PhysicalNetwork.id == ctx.refs["physicalnetworkid"].id)
    rows = []
    for pn, vnet, alloc, ded in svc.guest_vlans(s, list(s.scalars(stmt))):
        vid = pn.id * svc.VLAN_ID_SPACE + vnet
        if p.id is not None and vid != p.id:
            continue
        if p.vnet is not None and str(vnet) != p.vnet:
            continue
        if p.allocatedonly and alloc is None:
            continue
        rows.append((pn, vnet, vid, alloc, ded))
    offset, limit = check_paging(s, p.page, p.pagesize)
    page = rows[offset:offset + limit] if limit else rows[offset:]
    out = []
    for pn, vnet, vid, alloc, ded in page:
        zone = s.get(Zone, pn.zone_id)
        owner_id = alloc.account_id if alloc is not None else (ded.account_id if ded else None)
        acct = s.get(Account, owner_id) if owner_id else None
        dom = s.get(Domain, acct.domain_id) if acct else None
        nets = list(s.scalars(select(Network).where(Network.id == alloc.network_id))) \
            if alloc is not None and alloc.network_id else []
        out.append(GuestVlanResp(id=vid, vlan=str(vnet), account=acct.name if acct else None,
                                 domainid=dom.uuid if dom else None, domain=dom.name if dom else None,
                                 domainpath=dom.path if dom else None, zoneid=zone.uuid if zone else None,
                                 zonename=zone.name if zone else None, physicalnetworkid=pn.uuid,
                                 physicalnetworkname=pn.name, isdedicated=ded is not None,
                                 allocationstate="Allocated" if alloc is not None else "Free",
                                 taken=alloc.taken if alloc is not None else None,
                                 network=[network_resp(ctx, n) for n in nets]))
    return ListResult(out, len(rows))


class UpdateVlanIpRangeParams(Params):
    id: Annotated[str, Ref("VlanIpRange")] = Field(description="ID of the IP range")
    gateway: str | None = Field(None, description="new IPv4 gateway (no address of the range in use)")
    netmask: str | None = Field(None, description="new IPv4 netmask (no address of the range in use)")
    startip: str | None = Field(None, description="new first IPv4 address")
    endip: str | None = Field(None, description="new last IPv4 address")
    startipv6: str | None = Field(None, description="new first IPv6 address")
    endipv6: str | None = Field(None, description="new last IPv6 address")
    ip6gateway: str | None = Field(None, description="new IPv6 gateway")
    ip6cidr: str | None = Field(None, description="new IPv6 CIDR")
    forsystemvms: bool | None = Field(None, description="keep the range for system VMs")


@api_command("updateVlanIpRange", params=UpdateVlanIpRangeParams, roles=ADMIN, since="4.16.0", result_key="vlan",
             response=VlanIpRangeResp, event="VLAN.IP.RANGE.UPDATE", entity="VlanIpRange",
             description="Updates the bounds, gateway, IPv6 part or system-VM flag of an IP range")
def update_vlan_ip_range(ctx: CallContext, p: UpdateVlanIpRangeParams) -> VlanIpRangeResp:
    rng = vlan_ranges.update(ctx.session, ctx.refs["id"], gateway=p.gateway, netmask=p.netmask, start=p.startip,
                             end=p.endip, start6=p.startipv6, end6=p.endipv6, gateway6=p.ip6gateway,
                             cidr6=p.ip6cidr, for_system_vms=p.forsystemvms)
    return vlan_resp(ctx, rng)
