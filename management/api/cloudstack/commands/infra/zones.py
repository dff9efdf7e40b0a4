"""Zones: listZones, createZone, updateZone, deleteZone."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, MapParam, Params, Ref, api_command
from management.api.cloudstack.schemas import ZoneResp
from management.api.cloudstack.tagview import tag_views
from management.models.infra import Zone
from management.services import access, tags
from management.services.context import CallContext
from management.services.infra import infra
from management.services.listing import keyword_filter, paginate, same_name, tags_filter


def _zone_visible(session, caller, row, access_kind):  # type: ignore[no-untyped-def]
    # Disabled zones are visible to admins only, like CloudStack (a user can't deploy there anyway).
    return caller.is_root_admin or access_kind == "read" and row.allocation_state == "Enabled"


access.register_entity("Zone", Zone, "public", visible=_zone_visible)
tags.register("Zone", "Zone")


def zone_resp(ctx: CallContext, z: Zone, zone_tags: list | None = None) -> ZoneResp:
    return ZoneResp(
        id=z.uuid, name=z.name, description=z.description, networktype=z.network_type, dns1=z.dns1, dns2=z.dns2,
        internaldns1=z.internal_dns1, internaldns2=z.internal_dns2, guestcidraddress=z.guest_cidr,
        domain=z.network_domain, securitygroupsenabled=z.security_groups_enabled,
        localstorageenabled=z.local_storage_enabled, allocationstate=z.allocation_state,
        dhcpprovider="VirtualRouter", zonetoken=z.uuid.replace("-", "")[:20], created=z.created,
        tags=tag_views(ctx.session, zone_tags),
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
        stmt = stmt.where(same_name(Zone.name, p.name))
    if p.networktype:
        stmt = stmt.where(Zone.network_type == p.networktype)
    stmt = keyword_filter(stmt, p.keyword, Zone.name)
    stmt = tags_filter(stmt, p.tags, "Zone", Zone.uuid)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Zone.id)
    by_zone = tags.tags_of(ctx.session, "Zone", [z.uuid for z in rows])
    # Two real clients disagree about an empty answer: Apache Libcloud's list_locations() sends a bare listZones
    # and indexes ["zone"] (KeyError on CloudStack's {}), while Ansible's cs_zone looks a zone up by name and
    # indexes ["zone"][0] whenever the answer is non-empty. So only the unfiltered call keeps its key.
    unfiltered = not any(v for k, v in p.model_dump().items() if k not in ("showcapacities", "showicon"))
    return ListResult([zone_resp(ctx, z, by_zone.get(z.uuid)) for z in rows], count, keep_key=unfiltered)


# ---- createZone / updateZone / deleteZone ------------------------------------------------------------------------

class CreateZoneParams(Params):
    name: str = Field(description="the name of the Zone")
    networktype: str = Field(description="network type of the zone, can be Basic or Advanced")
    dns1: str = Field(description="the first DNS for the Zone")
    internaldns1: str = Field(description="the first internal DNS for the Zone")
    dns2: str | None = Field(None, description="the second DNS for the Zone")
    internaldns2: str | None = Field(None, description="the second internal DNS for the Zone")
    guestcidraddress: str | None = Field(None, description="the guest CIDR address for the Zone")
    domain: str | None = Field(None, description="Network domain name for the networks in the zone")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="the ID of the containing domain, null for public zones")
    securitygroupenabled: bool | None = Field(None, description="true if network is security group enabled, "
                                              "false otherwise")
    localstorageenabled: bool | None = Field(None, description="true if local storage offering enabled, false "
                                             "otherwise")
    allocationstate: str | None = Field(None, description="Allocation state of this Zone for allocation of new "
                                        "resources")
    description: str | None = Field(None, description="the description of the Zone")
    isedge: bool = Field(False, description="true if the zone is an edge zone, false otherwise")


@api_command("createZone", params=CreateZoneParams, result_key="zone", response=ZoneResp, roles=ADMIN,
             event="ZONE.CREATE", entity="Zone", description="Creates a Zone.")
def create_zone(ctx: CallContext, p: CreateZoneParams) -> ZoneResp:
    z = infra.create_zone(ctx.session, name=p.name, networktype=p.networktype, dns1=p.dns1, dns2=p.dns2,
                          internaldns1=p.internaldns1, internaldns2=p.internaldns2,
                          guestcidraddress=p.guestcidraddress, domain=p.domain,
                          securitygroupenabled=p.securitygroupenabled, localstorageenabled=p.localstorageenabled,
                          allocationstate=p.allocationstate, owner_domain=ctx.refs.get("domainid"),
                          description=p.description)
    return zone_resp(ctx, z)


class UpdateZoneParams(Params):
    id: Annotated[str, Ref("Zone")] = Field(description="the ID of the Zone")
    name: str | None = Field(None, description="the name of the Zone")
    allocationstate: str | None = Field(None, description="Allocation state of this cluster for allocation of new "
                                        "resources")
    dns1: str | None = Field(None, description="the first DNS for the Zone")
    dns2: str | None = Field(None, description="the second DNS for the Zone")
    internaldns1: str | None = Field(None, description="the first internal DNS for the Zone")
    internaldns2: str | None = Field(None, description="the second internal DNS for the Zone")
    guestcidraddress: str | None = Field(None, description="the guest CIDR address for the Zone")
    domain: str | None = Field(None, description="Network domain name for the networks in the zone; empty string "
                               "will update domain with NULL value")
    localstorageenabled: bool | None = Field(None, description="true if local storage offering enabled, false "
                                             "otherwise")
    details: MapParam | None = Field(None, description="the details for the Zone")
    description: str | None = Field(None, description="the description of the Zone")
    ispublic: bool | None = Field(None, description="updates a private zone to public if set, but not vice-versa")


@api_command("updateZone", params=UpdateZoneParams, result_key="zone", response=ZoneResp, roles=ADMIN,
             event="ZONE.EDIT", entity="Zone", description="Updates a Zone.")
def update_zone(ctx: CallContext, p: UpdateZoneParams) -> ZoneResp:
    z = infra.update_zone(ctx.session, ctx.refs["id"], **p.model_dump(exclude={"id"}))
    return zone_resp(ctx, z, tags.tags_of(ctx.session, "Zone", [z.uuid]).get(z.uuid))


class DeleteZoneParams(Params):
    id: Annotated[str, Ref("Zone")] = Field(description="the ID of the Zone")


@api_command("deleteZone", params=DeleteZoneParams, roles=ADMIN, event="ZONE.DELETE", entity="Zone",
             description="Deletes a Zone.")
def delete_zone(ctx: CallContext, p: DeleteZoneParams) -> Success:
    infra.delete_zone(ctx.session, ctx.refs["id"])
    return Success()
