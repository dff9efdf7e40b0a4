"""Resource details (addResourceDetail, listResourceDetails, removeResourceDetail) and resource icons
(uploadResourceIcon, listResourceIcon, deleteResourceIcon)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import MapParam, OwnedListParams, ParamInfo, Params, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.models.identity import Account, Domain
from management.models.platform import ResourceDetail
from management.services import access, resource_details
from management.services.context import CallContext
from management.services.listing import paginate, rows_by_id


class ResourceDetailResp(JobResp):
    key: str = Field(description="tag key name")
    value: str = Field(description="tag value")
    resourcetype: str = Field(description="resource type")
    resourceid: str = Field(description="id of the resource")
    account: str | None = Field(None, description="the account associated with the tag")
    projectid: str | None = Field(None, description="the project id the tag belongs to")
    project: str | None = Field(None, description="the project name where tag belongs to")
    domainid: str | None = Field(None, description="the ID of the domain associated with the tag")
    domain: str | None = Field(None, description="the domain associated with the tag")
    domainpath: str | None = Field(None, description="path of the Domain associated with the tag")
    customer: str | None = Field(None, description="customer associated with the tag")
    fordisplay: bool | None = Field(None, description="if detail is returned to the regular user")


class AddResourceDetailParams(Params):
    details: MapParam = Field(description="Map of (key/value pairs)")
    resourcetype: str = Field(description="type of the resource")
    resourceid: str = Field(description="resource id to create the details for")
    fordisplay: bool = Field(True, description="pass false if you want this detail to be disabled for the regular "
                             "user. True by default")


@api_command("addResourceDetail", params=AddResourceDetailParams, response=SuccessResp, is_async=True,
             event="RESOURCE.DETAILS.CREATE", description="Adds detail for the Resource.")
def add_resource_detail(ctx: CallContext, p: AddResourceDetailParams) -> Success:
    display = p.fordisplay if ctx.caller.is_admin else True  # only admins may hide a detail from users
    resource_details.add_details(ctx.session, ctx.caller, p.resourcetype, p.resourceid, p.details, display)
    return Success()


class RemoveResourceDetailParams(Params):
    key: str | None = Field(None, description="Delete details matching key/value pairs")
    resourcetype: str = Field(description="Delete details for resource id")
    resourceid: str = Field(description="Delete details for resource id")


@api_command("removeResourceDetail", params=RemoveResourceDetailParams, response=SuccessResp, is_async=True,
             event="RESOURCE.DETAILS.DELETE", description="Removes details of the resource")
def remove_resource_detail(ctx: CallContext, p: RemoveResourceDetailParams) -> Success:
    resource_details.remove_details(ctx.session, ctx.caller, p.resourcetype, p.resourceid, p.key)
    return Success()


class ListResourceDetailsParams(OwnedListParams):
    resourcetype: str = Field(description="list by resource type")
    resourceid: str | None = Field(None, description="list by resource id")
    key: str | None = Field(None, description="list by key")
    value: str | None = Field(None, description="list by key, value. Needs to be passed only along with key")
    fordisplay: bool | None = Field(None, description="if set to true, only details marked with display=true, are "
                                    "returned. False by default")


@api_command("listResourceDetails", params=ListResourceDetailsParams, result_key="resourcedetail",
             response=ResourceDetailResp, since="4.2", description="List resource detail(s)")
def list_resource_details(ctx: CallContext, p: ListResourceDetailsParams) -> ListResult:
    s = ctx.session
    canonical, _entity = resource_details.canonical_type(p.resourcetype)
    stmt = select(ResourceDetail).where(ResourceDetail.resource_type == canonical,
                                        ResourceDetail.name.not_in(resource_details.HIDDEN))
    if p.resourceid:
        resource_details.resolve(s, ctx.caller, canonical, p.resourceid, "read")
        stmt = stmt.where(ResourceDetail.resource_uuid == p.resourceid)
    else:
        stmt = access.owned_filter(s, stmt, ResourceDetail, ctx.caller, account=p.account, domainid=p.domainid,
                                   isrecursive=p.isrecursive, listall=p.listall)
    if not ctx.caller.is_admin:
        stmt = stmt.where(ResourceDetail.display.is_(True))
    elif p.fordisplay is not None:
        stmt = stmt.where(ResourceDetail.display.is_(p.fordisplay))
    if p.key:
        stmt = stmt.where(ResourceDetail.name == p.key)
        if p.value is not None:
            stmt = stmt.where(ResourceDetail.value == p.value)
    if p.keyword:
        stmt = stmt.where(ResourceDetail.name.ilike(f"%{p.keyword}%"))
    rows, count = paginate(s, stmt, p.page, p.pagesize, ResourceDetail.id)
    accounts = rows_by_id(s, Account, (r.account_id for r in rows))
    domains = rows_by_id(s, Domain, (r.domain_id for r in rows))
    out = []
    for r in rows:
        acct, dom = accounts.get(r.account_id), domains.get(r.domain_id)
        out.append(ResourceDetailResp(key=r.name, value=r.value, resourcetype=r.resource_type,
                                      resourceid=r.resource_uuid, account=acct.name if acct else None,
                                      domainid=dom.uuid if dom else None, domain=dom.name if dom else None,
                                      domainpath=dom.display_path if dom else None, fordisplay=r.display))
    return ListResult(out, count)


# ---- icons ---------------------------------------------------------------------------------------------------


class ResourceIconResp(JobResp):
    resourcetype: str = Field(description="resource type")
    resourceid: str = Field(description="id of the resource")
    base64image: str = Field(description="base64 representation of resource icon")


class UploadResourceIconParams(Params):
    resourceids: list[str] = Field(description="list of resources to upload the icon/image for")
    resourcetype: str = Field(description="type of the resource")
    base64image: Annotated[str, ParamInfo(length=2097152)] = Field(description="Base64 string representation of "
                                                                   "the resource icon/image")


@api_command("uploadResourceIcon", params=UploadResourceIconParams, response=SuccessResp,
             event="RESOURCE.ICON.UPLOAD", since="4.16.0.0", description="Uploads an icon for the specified "
             "resource(s)")
def upload_resource_icon(ctx: CallContext, p: UploadResourceIconParams) -> Success:
    resource_details.upload_icon(ctx.session, ctx.caller, p.resourcetype, p.resourceids, p.base64image)
    return Success()


class ResourceIconIdsParams(Params):
    resourceids: list[str] = Field(description="list of resources to upload the icon/image for")
    resourcetype: str = Field(description="type of the resource")


@api_command("listResourceIcon", params=ResourceIconIdsParams, result_key="icon", response=ResourceIconResp,
             since="4.16.0.0", description="Lists the resource icon for the specified resource(s)")
def list_resource_icon(ctx: CallContext, p: ResourceIconIdsParams) -> ListResult:
    canonical = resource_details.icon_type(p.resourcetype)
    for uuid in p.resourceids:
        resource_details.resolve(ctx.session, ctx.caller, canonical, uuid, "read")
    found = resource_details.icons(ctx.session, p.resourceids)
    items = [ResourceIconResp(resourcetype=i.resource_type, resourceid=i.resource_uuid, base64image=i.icon)
             for uuid in p.resourceids if (i := found.get(uuid)) is not None and i.resource_type == canonical]
    return ListResult(items, len(items))


@api_command("deleteResourceIcon", params=ResourceIconIdsParams, response=SuccessResp,
             event="RESOURCE.ICON.DELETE", since="4.16.0.0", description="deletes the resource icon from the "
             "specified resource(s)")
def delete_resource_icon(ctx: CallContext, p: ResourceIconIdsParams) -> Success:
    resource_details.delete_icons(ctx.session, ctx.caller, p.resourcetype, p.resourceids)
    return Success()
