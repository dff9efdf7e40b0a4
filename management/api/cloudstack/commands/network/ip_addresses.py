"""Public IP lifecycle beyond associate/disassociate: reserving a free address for an account and releasing it,
updating an address, the quarantine of released addresses, and the region's portable IP ranges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.public_ips import ip_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ALL_ROLES,
    DOMAIN_ADMIN,
    ListParams,
    Params,
    Ref,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_addressing import IpQuarantineResp, PortableIpRangeResp, PortableIpResp
from management.api.cloudstack.schemas_network import PublicIpResp
from management.db.base import utcnow
from management.db.subtree import in_subtree
from management.errors import ParamError, PermissionDenied, invalid_id
from management.models.addressing import PortableIpRange, PublicIpQuarantine
from management.models.identity import Account, Domain
from management.models.infra import PhysicalNetwork, PublicIpAddress, Zone
from management.models.network import Network
from management.services import access, custom_id
from management.services.context import CallContext
from management.services.listing import paginate
from management.services.network import portable_ips, quarantine

access.register_entity("PortableIpRange", PortableIpRange, "public", soft_delete=False)


# ---- reserve / release / update ----------------------------------------------------------------------------------

class ReserveIpParams(Params):
    account: str | None = Field(None, description="account to reserve the address for, with domainid")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain of that account")
    projectid: Uuid | None = Field(None, description="project to reserve the address for")
    fordisplay: bool | None = Field(None, description="whether the address is shown to the end user")
    id: Annotated[str, Ref("PublicIpAddress", "read")] = Field(description="ID of the free public IP address")


@api_command("reserveIpAddress", params=ReserveIpParams, roles=ALL_ROLES, since="4.17", result_key="ipaddress",
             response=PublicIpResp, event="NET.IPRESERVE", entity="IpAddress",
             description="Reserves a free public IP address for an account, to associate with a network later")
def reserve_ip(ctx: CallContext, p: ReserveIpParams) -> PublicIpResp:
    ip: PublicIpAddress = ctx.refs["id"]
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    if ip.state == "Reserved" and ip.account_id is not None and ip.account_id != owner.id \
            and not access.can_access_owner(ctx.session, ctx.caller, ip.account_id, ip.domain_id or 0):
        raise ParamError("Unable to reserve a IP because it has already been reserved for another account.")
    return ip_resp(ctx, quarantine.reserve(ctx.session, ip, owner, p.fordisplay))


class IpIdParams(Params):
    id: Annotated[str, Ref("PublicIpAddress")] = Field(description="ID of the public IP address")


@api_command("releaseIpAddress", params=IpIdParams, roles=ALL_ROLES, since="4.17", event="NET.IPRELEASE",
             entity="IpAddress", description="Releases a reserved public IP address back to the free pool")
def release_ip(ctx: CallContext, p: IpIdParams) -> Success:
    quarantine.release_reserved(ctx.session, ctx.refs["id"])
    return Success()


class UpdateIpParams(Params):
    id: Annotated[str, Ref("PublicIpAddress")] = Field(description="ID of the public IP address")
    accountid: Uuid | None = Field(None, description="not used: the address keeps its owner")
    fordisplay: bool | None = Field(None, description="whether the address is shown to the end user")
    customid: str | None = Field(None, description="a new UUID for the address (root admins only)")


@api_command("updateIpAddress", params=UpdateIpParams, is_async=True, create=custom_id.precheck(),
             result_key="ipaddress", response=PublicIpResp, event="NET.IPUPDATE", entity="IpAddress",
             description="Updates a public IP address's display flag or UUID")
def update_ip(ctx: CallContext, p: UpdateIpParams) -> PublicIpResp:
    ip: PublicIpAddress = ctx.refs["id"]
    custom_id.apply(ctx.session, ctx.caller, ip, p.customid)
    if p.fordisplay is not None:
        ip.for_display = p.fordisplay
    ctx.session.flush()
    return ip_resp(ctx, ip)


# ---- quarantine ---------------------------------------------------------------------------------------------------

def _quarantine_resp(ctx: CallContext, q: PublicIpQuarantine) -> IpQuarantineResp:
    s = ctx.session
    ip = s.get(PublicIpAddress, q.public_ip_address_id)
    prev = s.get(Account, q.previous_owner_id)
    remover = s.get(Account, q.remover_account_id) if q.remover_account_id else None
    return IpQuarantineResp(id=q.uuid, ipaddress=ip.public_ip_address if ip else "",
                            previousownerid=prev.uuid if prev else None,
                            previousownername=prev.name if prev else None, created=q.created, removed=q.removed,
                            enddate=q.end_date, removalreason=q.removal_reason,
                            removeraccountid=remover.uuid if remover else None)


def _may_manage(ctx: CallContext, q: PublicIpQuarantine) -> None:
    prev = ctx.session.get(Account, q.previous_owner_id)
    if prev is not None and not access.can_access_owner(ctx.session, ctx.caller, prev.id, prev.domain_id):
        raise PermissionDenied(f"Account '{ctx.caller.account_name}' does not have permission to manage the "
                               f"quarantine {q.uuid}", uuids=[q.uuid])


class ListQuarantinedParams(ListParams):
    showremoved: bool = Field(False, description="also quarantines that were ended early")
    showinactive: bool = Field(False, description="also quarantines that have expired")


@api_command("listQuarantinedIps", params=ListQuarantinedParams, roles=DOMAIN_ADMIN, since="4.19",
             result_key="quarantinedip", response=IpQuarantineResp,
             description="Lists public IP addresses in quarantine after their release")
def list_quarantined(ctx: CallContext, p: ListQuarantinedParams) -> ListResult:
    stmt = select(PublicIpQuarantine)
    if not p.showremoved:
        stmt = stmt.where(PublicIpQuarantine.removed.is_(None))
    if not p.showinactive:
        stmt = stmt.where(PublicIpQuarantine.end_date > utcnow())
    if not ctx.caller.is_root_admin:
        stmt = stmt.where(PublicIpQuarantine.previous_owner_id.in_(
            select(Account.id).join(Domain, Domain.id == Account.domain_id)
            .where(in_subtree(Domain.path, ctx.caller.domain_path))))
    if p.keyword:
        stmt = stmt.where(PublicIpQuarantine.public_ip_address_id.in_(select(PublicIpAddress.id).where(
            PublicIpAddress.public_ip_address.ilike(f"%{p.keyword}%"))))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, PublicIpQuarantine.id)
    return ListResult([_quarantine_resp(ctx, q) for q in rows], count)


class UpdateQuarantinedParams(Params):
    id: Uuid | None = Field(None, description="ID of the quarantine (or give ipaddress)")
    ipaddress: str | None = Field(None, description="the quarantined public IP address (or give id)")
    enddate: datetime = Field(description="new end of the quarantine, in the future (yyyy-MM-dd HH:mm:ss)")


@api_command("updateQuarantinedIp", params=UpdateQuarantinedParams, roles=DOMAIN_ADMIN, since="4.19",
             result_key="quarantinedip", response=IpQuarantineResp, event="NET.IPUPDATE", entity="PublicIpQuarantine",
             description="Moves the end of a public IP's quarantine")
def update_quarantined(ctx: CallContext, p: UpdateQuarantinedParams) -> IpQuarantineResp:
    end = p.enddate if p.enddate.tzinfo else p.enddate.replace(tzinfo=UTC)
    if end <= utcnow():
        raise ParamError(f"The given end date [{p.enddate:%Y-%m-%d %H:%M:%S}] is invalid as it is before the "
                         "current date.")
    q = quarantine.find(ctx.session, p.id, p.ipaddress)
    _may_manage(ctx, q)
    return _quarantine_resp(ctx, quarantine.set_end_date(ctx.session, q, end))


class RemoveQuarantinedParams(Params):
    id: Uuid | None = Field(None, description="ID of the quarantine (or give ipaddress)")
    ipaddress: str | None = Field(None, description="the quarantined public IP address (or give id)")
    removalreason: str = Field(description="why the quarantine ends early")


@api_command("removeQuarantinedIp", params=RemoveQuarantinedParams, roles=DOMAIN_ADMIN, since="4.19",
             result_key="quarantinedip", response=IpQuarantineResp, event="NET.IPUPDATE", entity="PublicIpQuarantine",
             description="Ends a public IP's quarantine early")
def remove_quarantined(ctx: CallContext, p: RemoveQuarantinedParams) -> IpQuarantineResp:
    if not p.removalreason.strip():
        raise ParamError("The removal reason parameter cannot be blank.")
    q = quarantine.find(ctx.session, p.id, p.ipaddress)
    _may_manage(ctx, q)
    return _quarantine_resp(ctx, quarantine.end(ctx.session, q, p.removalreason, ctx.caller.account_id))


# ---- portable IP ranges -------------------------------------------------------------------------------------------

def _range_resp(ctx: CallContext, r: PortableIpRange) -> PortableIpRangeResp:
    s = ctx.session
    ips = []
    for a in portable_ips.addresses(s, r):
        zone = s.get(Zone, a.zone_id) if a.zone_id else None
        net = s.get(Network, a.network_id) if a.network_id else None
        pn = s.get(PhysicalNetwork, a.physical_network_id) if a.physical_network_id else None
        acct = s.get(Account, a.account_id) if a.account_id else None
        dom = s.get(Domain, a.domain_id) if a.domain_id else None
        ips.append(PortableIpResp(regionid=a.region_id, ipaddress=a.address, zoneid=zone.uuid if zone else None,
                                  networkid=net.uuid if net else None, physicalnetworkid=pn.uuid if pn else None,
                                  accountid=acct.uuid if acct else None, domainid=dom.uuid if dom else None,
                                  allocated=a.allocated, state=a.state))
    return PortableIpRangeResp(id=r.uuid, regionid=r.region_id, gateway=r.gateway, netmask=r.netmask, vlan=r.vlan,
                               startip=r.start_ip, endip=r.end_ip, portableipaddress=ips)


class CreatePortableRangeParams(Params):
    regionid: int = Field(description="region of the range (this cloud is region 1)")
    startip: str = Field(description="first address of the range")
    endip: str = Field(description="last address of the range")
    gateway: str = Field(description="gateway of the range")
    netmask: str = Field(description="netmask of the range")
    vlan: str | None = Field(None, description="VLAN of the range (untagged by default)")


def _create_range(ctx: CallContext, p: CreatePortableRangeParams) -> str:
    return portable_ips.create_range(ctx.session, region_id=p.regionid, start=p.startip, end=p.endip,
                                     gateway=p.gateway, netmask=p.netmask, vlan=p.vlan).uuid


@api_command("createPortableIpRange", params=CreatePortableRangeParams, roles=ADMIN, is_async=True,
             create=_create_range, since="4.2.0", result_key="portableiprange", response=PortableIpRangeResp,
             event="PORTABLE.IP.RANGE.CREATE", entity="PortableIpAddress",
             description="Adds a range of portable public IP addresses to a region")
def create_portable_range(ctx: CallContext, p: CreatePortableRangeParams) -> PortableIpRangeResp:
    r = ctx.session.scalar(select(PortableIpRange).where(PortableIpRange.uuid == ctx.created_uuid))
    if r is None:
        raise invalid_id(ctx.created_uuid or "")
    return _range_resp(ctx, r)


class PortableRangeIdParams(Params):
    id: Annotated[str, Ref("PortableIpRange")] = Field(description="ID of the portable IP range")


@api_command("deletePortableIpRange", params=PortableRangeIdParams, roles=ADMIN, is_async=True, since="4.2.0",
             event="PORTABLE.IP.RANGE.DELETE", entity="PortableIpAddress",
             description="Deletes a portable IP range none of whose addresses is in use")
def delete_portable_range(ctx: CallContext, p: PortableRangeIdParams) -> Success:
    portable_ips.delete_range(ctx.session, ctx.refs["id"])
    return Success()


class ListPortableRangesParams(ListParams):
    regionid: int | None = Field(None, description="only ranges of this region")
    id: Annotated[str | None, Ref("PortableIpRange", "read")] = Field(None, description="ID of a portable IP range")


@api_command("listPortableIpRanges", params=ListPortableRangesParams, roles=ADMIN, since="4.2.0",
             result_key="portableiprange", response=PortableIpRangeResp,
             description="Lists portable IP ranges with their addresses")
def list_portable_ranges(ctx: CallContext, p: ListPortableRangesParams) -> ListResult:
    stmt = select(PortableIpRange)
    if p.regionid is not None:
        stmt = stmt.where(PortableIpRange.region_id == p.regionid)
    if p.id:
        stmt = stmt.where(PortableIpRange.id == ctx.refs["id"].id)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, PortableIpRange.id)
    return ListResult([_range_resp(ctx, r) for r in rows], count)
