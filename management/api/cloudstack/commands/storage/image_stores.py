"""Secondary storage: addImageStore, listImageStores, deleteImageStore, createSecondaryStagingStore,
listSecondaryStagingStores, deleteSecondaryStagingStore. See services/infra/infra.py for how nfs:// is served here."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, MapParam, ParamInfo, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import ImageStoreResp
from management.models.infra import ImageStore, Zone
from management.services import access
from management.services.context import CallContext
from management.services.infra import infra
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("ImageStore", ImageStore, "public")


def store_resp(ctx: CallContext, s: ImageStore) -> ImageStoreResp:
    z = ctx.session.get(Zone, s.zone_id) if s.zone_id else None
    return ImageStoreResp(id=s.uuid, name=s.name, url=s.url, protocol=s.protocol, providername=s.provider,
                          scope=s.scope, zoneid=z.uuid if z else None, zonename=z.name if z else None,
                          readonly=s.readonly, disksizetotal=s.total_bytes or None,
                          disksizeused=s.used_bytes or None)


class AddImageStoreParams(Params):
    provider: str = Field(description="the image store provider name")
    name: str | None = Field(None, description="the name for the image store")
    url: Annotated[str | None, ParamInfo(length=2048)] = Field(None, description="the URL for the image store")
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="the Zone ID for the image store")
    details: MapParam | None = Field(None, description="the details for the image store. Example: "
                                     "details[0].key=accesskey&details[0].value=s389ddssaa")


@api_command("addImageStore", params=AddImageStoreParams, result_key="imagestore", response=ImageStoreResp,
             roles=ADMIN, event="IMAGE.STORE.ADD", entity="ImageStore", description="Adds backup image store.")
def add_image_store(ctx: CallContext, p: AddImageStoreParams) -> ImageStoreResp:
    s = infra.add_image_store(ctx.runtime, ctx.session, zone=ctx.refs.get("zoneid"), name=p.name, url=p.url,
                              provider=p.provider)
    return store_resp(ctx, s)


class ListImageStoresParams(ListParams):
    id: Annotated[str | None, Ref("ImageStore", "read")] = Field(None, description="the ID of the storage pool")
    name: str | None = Field(None, description="the name of the image store")
    protocol: str | None = Field(None, description="the image store protocol")
    provider: str | None = Field(None, description="the image store provider")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID for the image store")
    readonly: bool | None = Field(None, description="read-only status of the image store")


def _list(ctx: CallContext, p: ListImageStoresParams, role: str) -> ListResult:
    stmt = select(ImageStore).where(ImageStore.removed.is_(None), ImageStore.role == role)
    if p.id:
        stmt = stmt.where(ImageStore.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(ImageStore.name, p.name))
    if p.protocol:
        stmt = stmt.where(ImageStore.protocol.ilike(p.protocol))
    if p.provider:
        stmt = stmt.where(ImageStore.provider.ilike(p.provider))
    if p.zoneid:
        stmt = stmt.where(ImageStore.zone_id == ctx.refs["zoneid"].id)
    if p.readonly is not None:
        stmt = stmt.where(ImageStore.readonly.is_(p.readonly))
    stmt = keyword_filter(stmt, p.keyword, ImageStore.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ImageStore.id)
    return ListResult([store_resp(ctx, r) for r in rows], count)


@api_command("listImageStores", params=ListImageStoresParams, result_key="imagestore", response=ImageStoreResp,
             roles=ADMIN, description="Lists image stores.")
def list_image_stores(ctx: CallContext, p: ListImageStoresParams) -> ListResult:
    return _list(ctx, p, "Image")


class DeleteImageStoreParams(Params):
    id: Annotated[str, Ref("ImageStore")] = Field(description="The image store ID or Secondary Storage ID.")


@api_command("deleteImageStore", params=DeleteImageStoreParams, roles=ADMIN, event="IMAGE.STORE.DELETE",
             entity="ImageStore", description="Deletes an image store or Secondary Storage.")
def delete_image_store(ctx: CallContext, p: DeleteImageStoreParams) -> Success:
    infra.delete_image_store(ctx.session, ctx.refs["id"])
    return Success()


class CreateStagingStoreParams(Params):
    url: Annotated[str, ParamInfo(length=2048)] = Field(description="the URL for the staging store")
    provider: str | None = Field(None, description="the staging store provider name")
    scope: str | None = Field(None, description="the scope of the staging store: zone only for now")
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="the Zone ID for the staging store")
    details: MapParam | None = Field(None, description="the details for the staging store")


@api_command("createSecondaryStagingStore", params=CreateStagingStoreParams, result_key="secondarystorage",
             response=ImageStoreResp, roles=ADMIN, event="IMAGE.STORE.ADD", entity="ImageStore",
             description="create secondary staging store.")
def create_secondary_staging_store(ctx: CallContext, p: CreateStagingStoreParams) -> ImageStoreResp:
    s = infra.add_image_store(ctx.runtime, ctx.session, zone=ctx.refs.get("zoneid"), name=None, url=p.url,
                              provider=p.provider or "NFS", role="ImageCache")
    return store_resp(ctx, s)


@api_command("listSecondaryStagingStores", params=ListImageStoresParams, result_key="imagestore",
             response=ImageStoreResp, roles=ADMIN, description="Lists secondary staging stores.")
def list_secondary_staging_stores(ctx: CallContext, p: ListImageStoresParams) -> ListResult:
    return _list(ctx, p, "ImageCache")


@api_command("deleteSecondaryStagingStore", params=DeleteImageStoreParams, roles=ADMIN,
             event="IMAGE.STORE.DELETE", entity="ImageStore", description="Deletes a secondary staging store .")
def delete_secondary_staging_store(ctx: CallContext, p: DeleteImageStoreParams) -> Success:
    infra.delete_image_store(ctx.session, ctx.refs["id"])
    return Success()
