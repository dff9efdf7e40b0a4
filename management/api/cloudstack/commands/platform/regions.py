"""Regions: listRegions, addRegion, updateRegion, removeRegion (this management server is region 1, "Local")."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, api_command
from management.api.cloudstack.schemas_tenancy import RegionResp
from management.errors import ParamError
from management.models.governance import Region
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate

LOCAL = (1, "Local", "http://localhost:8080/client/")


def _ensure_local(ctx: CallContext) -> None:
    if ctx.session.get(Region, LOCAL[0]) is None and not ctx.session.scalar(select(func.count()).select_from(Region)):
        ctx.session.add(Region(id=LOCAL[0], name=LOCAL[1], end_point=LOCAL[2]))
        ctx.session.flush()


def region_resp(r: Region) -> RegionResp:
    return RegionResp(id=r.id, name=r.name, endpoint=r.end_point, gslbserviceenabled=r.gslb_enabled,
                      portableipserviceenabled=r.portableip_service_enabled)


class ListRegionsParams(ListParams):
    id: int | None = Field(None, description="List Region by region ID.")
    name: str | None = Field(None, description="List Region by region name.")


@api_command("listRegions", params=ListRegionsParams, result_key="region", response=RegionResp,
             description="Lists Regions")
def list_regions(ctx: CallContext, p: ListRegionsParams) -> ListResult:
    stmt = select(Region)
    if p.id is not None:
        stmt = stmt.where(Region.id == p.id)
    if p.name:
        stmt = stmt.where(func.lower(Region.name) == p.name.lower())
    stmt = keyword_filter(stmt, p.keyword, Region.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Region.id)
    # Until a region is added or changed the table is empty: the local region is answered from its constants.
    if not rows and p.id in (None, LOCAL[0]) and p.name in (None, "Local") and not ctx.session.scalar(
            select(func.count()).select_from(Region)):
        local = Region(id=LOCAL[0], name=LOCAL[1], end_point=LOCAL[2], gslb_enabled=True,
                       portableip_service_enabled=False)
        return ListResult([region_resp(local)], 1)
    return ListResult([region_resp(r) for r in rows], count)


class AddRegionParams(Params):
    id: int = Field(description="Id of the Region")
    name: str = Field(description="Name of the region")
    endpoint: str = Field(description="Region service endpoint")


@api_command("addRegion", params=AddRegionParams, result_key="region", response=RegionResp, roles=ADMIN,
             event="REGION.ADD", entity="Region", description="Adds a Region")
def add_region(ctx: CallContext, p: AddRegionParams) -> RegionResp:
    _ensure_local(ctx)
    if ctx.session.get(Region, p.id) is not None:
        raise ParamError(f"Region with id: {p.id} already exists")
    if ctx.session.scalar(select(Region.id).where(func.lower(Region.name) == p.name.lower())) is not None:
        raise ParamError(f"Region with name: {p.name} already exists")
    r = Region(id=p.id, name=p.name, end_point=p.endpoint)
    ctx.session.add(r)
    ctx.session.flush()
    return region_resp(r)


class UpdateRegionParams(Params):
    id: int = Field(description="Id of region to update")
    name: str | None = Field(None, description="updates region with this name")
    endpoint: str | None = Field(None, description="updates region with this end point")


def _region(ctx: CallContext, region_id: int) -> Region:
    _ensure_local(ctx)
    r = ctx.session.get(Region, region_id)
    if r is None:
        raise ParamError(f"Region with id: {region_id} does not exist")
    return r


@api_command("updateRegion", params=UpdateRegionParams, result_key="region", response=RegionResp, roles=ADMIN,
             event="REGION.UPDATE", entity="Region", description="Updates a region")
def update_region(ctx: CallContext, p: UpdateRegionParams) -> RegionResp:
    r = _region(ctx, p.id)
    if p.name is not None and p.name != r.name:
        if ctx.session.scalar(select(Region.id).where(func.lower(Region.name) == p.name.lower())) is not None:
            raise ParamError(f"Region with name: {p.name} already exists")
        r.name = p.name
    if p.endpoint is not None:
        r.end_point = p.endpoint
    return region_resp(r)


class RemoveRegionParams(Params):
    id: int = Field(description="ID of the region to delete")


@api_command("removeRegion", params=RemoveRegionParams, roles=ADMIN, event="REGION.DELETE", entity="Region",
             description="Removes specified region")
def remove_region(ctx: CallContext, p: RemoveRegionParams) -> Success:
    r = _region(ctx, p.id)
    if r.id == LOCAL[0]:
        raise ParamError("The local region can not be removed")
    ctx.session.delete(r)
    return Success()
