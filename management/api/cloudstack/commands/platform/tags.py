"""createTags, deleteTags, listTags."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import MapParam, OwnedListParams, Params, api_command
from management.api.cloudstack.schemas import TagResp
from management.api.cloudstack.tagview import tag_views
from management.models.events import ResourceTag
from management.services import access, tags
from management.services.context import CallContext
from management.services.listing import paginate


def tag_resp(ctx: CallContext, t: ResourceTag) -> TagResp:
    return tag_views(ctx.session, [t])[0]


class CreateTagsParams(Params):
    resourceids: list[str] = Field(description="list of resources to create the tags for")
    resourcetype: str = Field(description="type of the resource")
    tags: MapParam = Field(description="Map of tags (key/value pairs)")
    customer: str | None = Field(None, description="identifies client specific tag. When the value is not null, "
                                 "the tag can't be used by cloudStack code internally")


@api_command("createTags", params=CreateTagsParams, is_async=True, event="CREATE_TAGS", entity="Tag",
             since="4.0.0", description="Creates resource tag(s)")
def create_tags(ctx: CallContext, p: CreateTagsParams) -> Success:
    tags.create_tags(ctx.session, ctx.caller, p.resourcetype, p.resourceids, p.tags, p.customer)
    return Success()


class DeleteTagsParams(Params):
    resourceids: list[str] = Field(description="Delete tags for resource id(s)")
    resourcetype: str = Field(description="Delete tag by resource type")
    tags: MapParam | None = Field(None, description="Delete tags matching key/value pairs")


@api_command("deleteTags", params=DeleteTagsParams, is_async=True, event="DELETE_TAGS", entity="Tag",
             since="4.0.0", description="Deleting resource tag(s)")
def delete_tags(ctx: CallContext, p: DeleteTagsParams) -> Success:
    tags.delete_tags(ctx.session, ctx.caller, p.resourcetype, p.resourceids, p.tags)
    return Success()


class ListTagsParams(OwnedListParams):
    key: str | None = Field(None, description="list by key")
    value: str | None = Field(None, description="list by value")
    resourceid: str | None = Field(None, description="list by resource id")
    resourcetype: str | None = Field(None, description="list by resource type")
    customer: str | None = Field(None, description="list by customer name")


@api_command("listTags", params=ListTagsParams, result_key="tag", response=TagResp, since="4.0.0",
             description="List resource tag(s)")
def list_tags(ctx: CallContext, p: ListTagsParams) -> ListResult:
    stmt = select(ResourceTag)
    stmt = access.owned_filter(ctx.session, stmt, ResourceTag, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.key:
        stmt = stmt.where(ResourceTag.key == p.key)
    if p.value:
        stmt = stmt.where(ResourceTag.value == p.value)
    if p.resourceid:
        stmt = stmt.where(ResourceTag.resource_uuid == p.resourceid)
    if p.resourcetype:
        stmt = stmt.where(ResourceTag.resource_type == tags.canonical_type(p.resourcetype))
    if p.customer:
        stmt = stmt.where(ResourceTag.customer == p.customer)
    if p.keyword:
        stmt = stmt.where(ResourceTag.key.ilike(f"%{p.keyword}%") | ResourceTag.value.ilike(f"%{p.keyword}%"))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ResourceTag.id)
    return ListResult([tag_resp(ctx, t) for t in rows], count)
