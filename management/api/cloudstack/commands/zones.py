"""Zones: listZones here; creation and the rest of the inventory live with the inventory commands."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ListParams, MapParam, Ref, api_command
from management.api.cloudstack.schemas import TagResp, ZoneResp
from management.models.infra import Zone
from management.services import access, tags
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, tags_filter


def _zone_visible(session, caller, row, access_kind):  # type: ignore[no-untyped-def]
    # Disabled zones are visible to admins only, like CloudStack (a user can't deploy there anyway).
    return caller.is_root_admin or access_kind == "read" and row.allocation_state == "Enabled"


access.register_entity("Zone", Zone, "public", visible=_zone_visible)
tags.register("Zone", "Zone")


def zone_resp(z: Zone, zone_tags: list | None = None) -> ZoneResp:
    return ZoneResp(
        id=z.uuid, name=z.name, description=z.description, networktype=z.network_type, dns1=z.dns1, dns2=z.dns2,
        internaldns1=z.internal_dns1, internaldns2=z.internal_dns2, guestcidraddress=z.guest_cidr,
        domain=z.network_domain, securitygroupsenabled=z.security_groups_enabled,
        localstorageenabled=z.local_storage_enabled, allocationstate=z.allocation_state,
        dhcpprovider="VirtualRouter", zonetoken=z.uuid.replace("-", "")[:20], created=z.created,
        tags=[TagResp(key=t.key, value=t.value, resourcetype=t.resource_type, resourceid=t.resource_uuid)
              for t in zone_tags or []],
    )


class ListZonesParams(ListParams):
    id: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the zone")
    ids: list[str] | None = Field(None, description="the IDs of the zones, mutually exclusive with id")
    name: str | None = Field(None, description="the name of the zone")
    available: bool | None = Field(None, description="true if you want to retrieve all available Zones. False if "
                                   "you only want to return the Zones from which you have at least one VM. "
                                   "Default is false.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the ID of the domain "
                                                                   "associated with the zone")
    networktype: str | None = Field(None, description="the network type of the zone that the virtual machine "
                                    "belongs to")
    showcapacities: bool = Field(False, description="flag to display the capacity of the zones")
    tags: MapParam | None = Field(None, description="List zones by resource tags (key/value pairs)")
    showicon: bool = Field(False, description="flag to display the resource icon for zones")


@api_command("listZones", params=ListZonesParams, result_key="zone", response=ZoneResp,
             description="Lists zones")
def list_zones(ctx: CallContext, p: ListZonesParams) -> ListResult:
    stmt = select(Zone).where(Zone.removed.is_(None))
    if not ctx.caller.is_root_admin:
        stmt = stmt.where(Zone.allocation_state == "Enabled")
    if p.id:
        stmt = stmt.where(Zone.uuid == p.id)
    if p.ids:
        stmt = stmt.where(Zone.uuid.in_(p.ids))
    if p.name:
        stmt = stmt.where(Zone.name == p.name)
    if p.networktype:
        stmt = stmt.where(Zone.network_type == p.networktype)
    stmt = keyword_filter(stmt, p.keyword, Zone.name)
    stmt = tags_filter(stmt, p.tags, "Zone", Zone.uuid)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Zone.id)
    by_zone = tags.tags_of(ctx.session, "Zone", [z.uuid for z in rows])
    return ListResult([zone_resp(z, by_zone.get(z.uuid)) for z in rows], count)
