"""Object storage pools and buckets: addObjectStoragePool, listObjectStoragePools, updateObjectStoragePool,
deleteObjectStoragePool, createBucket, listBuckets, updateBucket, deleteBucket (real buckets of this server's own
S3 endpoint; see services.storage.objectstore)."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ApiType,
    ListParams,
    Long,
    MapParam,
    ParamInfo,
    Params,
    Ref,
    TaggedListParams,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_storage import BucketResp, ObjectStoreResp
from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.identity import Account, Domain
from management.models.objectstore import Bucket, ObjectStore
from management.services import access, tags
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, tags_filter
from management.services.storage import objectstore as svc

access.register_entity("ObjectStore", ObjectStore, "public")
access.register_entity("Bucket", Bucket, "owned")
tags.register("Bucket", "Bucket")


def store_resp(ctx: CallContext, o: ObjectStore) -> ObjectStoreResp:
    usage = svc.store_usage(ctx.runtime, ctx.session, o)
    return ObjectStoreResp(id=o.uuid, name=o.name, url=o.url, providername=o.provider, storagetotal=o.total_size,
                           storageallocated=usage["allocated"], storageused=usage["used"])


class AddObjectStoragePoolParams(Params):
    name: str = Field(description="the name for the object store")
    url: Annotated[str, ParamInfo(length=2048)] = Field(description="the URL for the object store")
    provider: str = Field(description="the object store provider name")
    details: MapParam | None = Field(None, description="the details for the object store. Example: "
                                     "details[0].key=accesskey&details[0].value=s389ddssaa")
    tags: str | None = Field(None, description="the tags for the storage pool")
    size: Long | None = Field(None, description="the total size of the object store in GiB. Used for tracking "
                              "capacity and determining listing capacity percentages")


@api_command("addObjectStoragePool", params=AddObjectStoragePoolParams, result_key="objectstore",
             response=ObjectStoreResp, roles=ADMIN, event="OBJECT.STORE.CREATE", entity="ObjectStore",
             since="4.19.0", description="Adds a object storage pool")
def add_object_storage_pool(ctx: CallContext, p: AddObjectStoragePoolParams) -> ObjectStoreResp:
    provider = svc.check_provider(p.provider, p.url)
    if ctx.session.scalar(select(ObjectStore.id).where(ObjectStore.url == p.url, ObjectStore.removed.is_(None))):
        raise ParamError(f"Object store with the url {p.url} already exists")
    o = ObjectStore(name=p.name, provider=provider, url=p.url, tags=p.tags,
                    total_size=p.size * 1024**3 if p.size else None,
                    details_json=json.dumps({d.get("key", ""): d.get("value", "") for d in p.details or []}))
    ctx.session.add(o)
    ctx.session.flush()
    return store_resp(ctx, o)


class ListObjectStoragePoolsParams(ListParams):
    name: str | None = Field(None, description="the name of the object store")
    provider: str | None = Field(None, description="the object store provider")
    id: Annotated[str | None, Ref("ObjectStore", "read")] = Field(None, description="the ID of the storage pool")


@api_command("listObjectStoragePools", params=ListObjectStoragePoolsParams, result_key="objectstore",
             response=ObjectStoreResp, since="4.19.0", description="Lists object storage pools.")
def list_object_storage_pools(ctx: CallContext, p: ListObjectStoragePoolsParams) -> ListResult:
    stmt = select(ObjectStore).where(ObjectStore.removed.is_(None))
    if p.id:
        stmt = stmt.where(ObjectStore.uuid == p.id)
    if p.name:
        stmt = stmt.where(ObjectStore.name == p.name)
    if p.provider:
        stmt = stmt.where(ObjectStore.provider.ilike(p.provider))
    stmt = keyword_filter(stmt, p.keyword, ObjectStore.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ObjectStore.id)
    return ListResult([store_resp(ctx, o) for o in rows], count)


class UpdateObjectStoragePoolParams(Params):
    id: Annotated[str, Ref("ObjectStore")] = Field(description="Object Store ID")
    name: str | None = Field(None, description="the name for the object store")
    url: str | None = Field(None, description="the url for the object store")
    size: Long | None = Field(None, description="the total size of the object store in GiB. Used for tracking "
                              "capacity and determining listing capacity percentages")


@api_command("updateObjectStoragePool", params=UpdateObjectStoragePoolParams, result_key="objectstore",
             response=ObjectStoreResp, roles=ADMIN, event="OBJECT.STORE.UPDATE", entity="ObjectStore",
             since="4.19.0",
             description="Updates object storage pool")
def update_object_storage_pool(ctx: CallContext, p: UpdateObjectStoragePoolParams) -> ObjectStoreResp:
    o: ObjectStore = ctx.refs["id"]
    if p.url is not None:
        svc.check_provider(o.provider, p.url)
        o.url = p.url
        for b in ctx.session.scalars(select(Bucket).where(Bucket.object_store_id == o.id)):
            b.url = f"{p.url.rstrip('/')}/{b.name}"
    if p.name is not None:
        o.name = p.name
    if p.size is not None:
        o.total_size = p.size * 1024**3
    ctx.session.flush()
    return store_resp(ctx, o)


class ObjectStoreIdParams(Params):
    id: Annotated[str, Ref("ObjectStore")] = Field(description="The Object Storage ID.")


@api_command("deleteObjectStoragePool", params=ObjectStoreIdParams, roles=ADMIN, event="OBJECT.STORE.DELETE",
             entity="ObjectStore", since="4.19.0", description="Deletes an Object Storage Pool")
def delete_object_storage_pool(ctx: CallContext, p: ObjectStoreIdParams) -> Success:
    o: ObjectStore = ctx.refs["id"]
    if ctx.session.scalar(select(Bucket.id).where(Bucket.object_store_id == o.id, Bucket.removed.is_(None))):
        raise InternalError("Cannot delete object store with buckets")
    o.removed = utcnow()
    return Success()


# ------------------------------------------------------------------------------------------------ buckets

def bucket_resp(ctx: CallContext, b: Bucket) -> BucketResp:
    s = ctx.session
    o = s.get_one(ObjectStore, b.object_store_id)
    acct, dom = s.get_one(Account, b.account_id), s.get_one(Domain, b.domain_id)
    mine = access.can_access_owner(s, ctx.caller, b.account_id, b.domain_id)
    key, secret = svc.owner_keys(s, acct, ctx.caller.user_id) if mine else (None, None)
    return BucketResp(
        id=b.uuid, name=b.name, created=b.created, account=acct.name, domainid=dom.uuid, domain=dom.name,
        domainpath=dom.path, objectstorageid=o.uuid, objectstore=o.name,
        size=svc.bucket_size(ctx.runtime, b.name), state=b.state, quota=b.quota, encryption=b.encryption,
        versioning=b.versioning, objectlocking=b.object_lock, policy=b.policy, url=b.url, accesskey=key,
        usersecretkey=secret, provider=o.provider,
        tags=[{"key": t.key, "value": t.value, "resourcetype": t.resource_type, "resourceid": t.resource_uuid}
              for t in tags.tags_of(s, "Bucket", [b.uuid]).get(b.uuid, [])])


class CreateBucketParams(Params):
    account: str | None = Field(None, description="the account associated with the bucket. Must be used with the "
                                "domainId parameter.")
    projectid: Uuid | None = Field(None, description="the project associated with the bucket. Mutually exclusive "
                                  "with account parameter")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="the domain ID associated with the bucket. If used with the account parameter returns "
        "the bucket associated with the account for the specified domain.")
    name: str = Field(description="the name of the bucket")
    objectstorageid: Annotated[str, Ref("ObjectStore", "read")] = Field(description="Id of the Object Storage Pool "
                                                                        "where bucket is created")
    quota: int = Field(description="Bucket Quota in GiB")
    encryption: bool = Field(False, description="Enable bucket encryption")
    versioning: bool = Field(False, description="Enable bucket versioning")
    objectlocking: bool = Field(False, description="Enable object locking in bucket")
    policy: str | None = Field(None, description="The Bucket access policy")


def _allocate_bucket(ctx: CallContext, p: CreateBucketParams) -> str:
    s = ctx.session
    owner = access.owner_for(s, ctx.caller, p.account, p.domainid)
    svc.validate_bucket_name(p.name)
    if p.quota is not None and p.quota <= 0:
        raise ParamError("Invalid value for quota: the bucket quota must be a positive number of GiB")
    if p.objectlocking:
        raise ParamError("Object locking is not supported by the Simulator object store provider")
    if (p.policy or "private").lower() not in ("private", "public"):
        raise ParamError(f"Invalid bucket policy {p.policy}: private or public")
    if s.scalar(select(Bucket.id).where(Bucket.name == p.name, Bucket.removed.is_(None))):
        raise InternalError(f"Bucket with the name {p.name} already exists")
    store: ObjectStore = ctx.refs["objectstorageid"]
    b = Bucket(name=p.name, object_store_id=store.id, account_id=owner.id, domain_id=owner.domain_id,
               state="Creating", quota=p.quota, encryption=p.encryption, versioning=p.versioning,
               object_lock=p.objectlocking, policy=(p.policy or "private").lower(),
               url=f"{store.url.rstrip('/')}/{p.name}")
    s.add(b)
    s.flush()
    return b.uuid


@api_command("createBucket", params=CreateBucketParams, is_async=True, create=_allocate_bucket, result_key="bucket",
             response=BucketResp, entity="Bucket", event="BUCKET.CREATE", since="4.19.0",
             description="Creates a bucket in the specified object storage pool. ")
def create_bucket(ctx: CallContext, p: CreateBucketParams) -> BucketResp:
    b = ctx.session.scalar(select(Bucket).where(Bucket.uuid == ctx.created_uuid))
    if b is None:
        raise InternalError("Failed to create bucket: its record is gone")
    try:
        svc.create(ctx.runtime, ctx.session, b, ctx.session.get_one(Account, b.account_id))
    except Exception:
        b.removed, b.state = utcnow(), "Failed"
        ctx.session.commit()
        raise
    b.state = "Created"
    ctx.session.flush()
    return bucket_resp(ctx, b)


class ListBucketsParams(TaggedListParams):
    id: Annotated[str | None, Ref("Bucket", "read")] = Field(None, description="the ID of the bucket")
    ids: Annotated[list[str] | None, ApiType("list")] = Field(None, description="the IDs of the Buckets, mutually "
                                                              "exclusive with id")
    name: str | None = Field(None, description="the name of the bucket")
    objectstorageid: Uuid | None = Field(None, description="the ID of the object storage pool, available to ROOT "
                                         "admin only")


@api_command("listBuckets", params=ListBucketsParams, result_key="bucket", response=BucketResp, entity="Bucket",
             since="4.19.0", description="Lists all Buckets.")
def list_buckets(ctx: CallContext, p: ListBucketsParams) -> ListResult:
    s = ctx.session
    stmt = select(Bucket).where(Bucket.removed.is_(None))
    stmt = access.owned_filter(s, stmt, Bucket, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(Bucket.uuid == p.id)
    if p.ids:
        stmt = stmt.where(Bucket.uuid.in_(p.ids))
    if p.name:
        stmt = stmt.where(Bucket.name == p.name)
    if p.objectstorageid and ctx.caller.is_root_admin:
        stmt = stmt.where(Bucket.object_store_id.in_(select(ObjectStore.id).where(
            ObjectStore.uuid == p.objectstorageid)))
    stmt = keyword_filter(stmt, p.keyword, Bucket.name)
    stmt = tags_filter(stmt, p.tags, "Bucket", Bucket.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, Bucket.id)
    return ListResult([bucket_resp(ctx, b) for b in rows], count)


class UpdateBucketParams(Params):
    id: Annotated[str, Ref("Bucket")] = Field(description="The ID of the Bucket")
    versioning: bool | None = Field(None, description="Enable/Disable Bucket Versioning")
    encryption: bool | None = Field(None, description="Enable/Disable Bucket encryption")
    policy: str | None = Field(None, description="Bucket Access Policy")
    quota: int | None = Field(None, description="Bucket Quota in GiB")


@api_command("updateBucket", params=UpdateBucketParams, entity="Bucket", event="BUCKET.UPDATE", since="4.19.0",
             description="Updates Bucket properties")
def update_bucket(ctx: CallContext, p: UpdateBucketParams) -> Success:
    b: Bucket = ctx.refs["id"]
    if p.versioning is not None:
        b.versioning = p.versioning
    if p.encryption is not None:
        b.encryption = p.encryption
    if p.policy is not None:
        b.policy = p.policy.lower()
    if p.quota is not None:
        if p.quota <= 0:
            raise ParamError("Invalid value for quota: the bucket quota must be a positive number of GiB")
        b.quota = p.quota
    svc.apply_settings(ctx.runtime, b)
    ctx.session.flush()
    return Success()


class BucketIdParams(Params):
    id: Annotated[str, Ref("Bucket")] = Field(description="The ID of the Bucket")


@api_command("deleteBucket", params=BucketIdParams, entity="Bucket", event="BUCKET.DELETE", since="4.19.0",
             description="Deletes an empty Bucket.")
def delete_bucket(ctx: CallContext, p: BucketIdParams) -> Success:
    b: Bucket = ctx.refs["id"]
    svc.delete(ctx.runtime, b)
    b.removed, b.state = utcnow(), "Destroyed"
    return Success()
