"""Primary storage: createStoragePool, updateStoragePool, deleteStoragePool, listStoragePools,
enableStorageMaintenance / cancelStorageMaintenance (CloudStack's odd response names come from the registry)."""

from __future__ import annotations

import contextlib
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Long, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import StoragePoolResp
from management.models.infra import Cluster, Pod, StoragePool
from management.services import access, configuration
from management.services.context import CallContext
from management.services.infra import infra
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("StoragePool", StoragePool, "public")


def pool_resp(ctx: CallContext, p: StoragePool) -> StoragePoolResp:
    pod = ctx.session.get(Pod, p.pod_id) if p.pod_id else None
    cl = ctx.session.get(Cluster, p.cluster_id) if p.cluster_id else None
    factor = configuration.get(ctx.session, "storage.overprovisioning.factor", "2", zone=p.zone) or "2"
    with contextlib.suppress(ValueError):
        factor = str(float(factor))
    return StoragePoolResp(
        id=p.uuid, name=p.name, zoneid=p.zone.uuid, zonename=p.zone.name, podid=pod.uuid if pod else None,
        podname=pod.name if pod else None, clusterid=cl.uuid if cl else None, clustername=cl.name if cl else None,
        type=p.pool_type, scope=p.scope, state=p.status, path=p.path, ipaddress=p.host_address,
        hypervisor=p.hypervisor, disksizetotal=p.capacity_bytes, disksizeallocated=p.allocated_bytes,
        disksizeused=p.used_bytes, overprovisionfactor=factor, tags=p.tags, provider=p.provider, created=p.created,
    )


class CreateStoragePoolParams(Params):
    name: str = Field(description="the name for the storage pool")
    url: str = Field(description="the URL of the storage pool")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="the Zone ID for the storage pool")
    podid: Annotated[str | None, Ref("Pod")] = Field(None, description="the Pod ID for the storage pool")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(None, description="the cluster ID for the storage "
                                                             "pool")
    scope: str | None = Field(None, description="the scope of the storage: cluster or zone")
    hypervisor: str | None = Field(None, description="hypervisor type of the hosts in zone that will be attached "
                                   "to this storage pool. KVM, VMware supported as of now.")
    tags: str | None = Field(None, description="the tags for the storage pool")
    provider: str | None = Field(None, description="the storage provider name")
    capacitybytes: Long | None = Field(None, description="bytes CloudStack can provision from this storage pool")
    capacityiops: Long | None = Field(None, description="IOPS CloudStack can provision from this storage pool")
    managed: bool | None = Field(None, description="whether the storage should be managed by CloudStack")
    details: list[dict[str, str]] | None = Field(None, description="the details for the storage pool")


@api_command("createStoragePool", params=CreateStoragePoolParams, result_key="storagepool",
             response=StoragePoolResp, roles=ADMIN, event="STORAGE.POOL.CREATE", entity="StoragePool",
             description="Creates a storage pool.")
def create_storage_pool(ctx: CallContext, p: CreateStoragePoolParams) -> StoragePoolResp:
    pool = infra.create_storage_pool(ctx.runtime, ctx.session, zone=ctx.refs["zoneid"], pod=ctx.refs.get("podid"),
                                     cluster=ctx.refs.get("clusterid"), name=p.name, url=p.url, scope=p.scope,
                                     hypervisor=p.hypervisor, tags=p.tags, provider=p.provider,
                                     capacitybytes=p.capacitybytes)
    return pool_resp(ctx, pool)


class UpdateStoragePoolParams(Params):
    id: Annotated[str, Ref("StoragePool")] = Field(description="the Id of the storage pool")
    name: str | None = Field(None, description="Change the name of the storage pool")
    tags: list[str] | None = Field(None, description="comma-separated list of tags for the storage pool")
    enabled: bool | None = Field(None, description="false to disable the pool for allocation of new volumes, true "
                                 "to enable it back.")
    capacitybytes: Long | None = Field(None, description="bytes CloudStack can provision from this storage pool")
    capacityiops: Long | None = Field(None, description="IOPS CloudStack can provision from this storage pool")


@api_command("updateStoragePool", params=UpdateStoragePoolParams, result_key="storagepool",
             response=StoragePoolResp, roles=ADMIN, event="STORAGE.POOL.UPDATE", entity="StoragePool",
             description="Updates a storage pool.")
def update_storage_pool(ctx: CallContext, p: UpdateStoragePoolParams) -> StoragePoolResp:
    pool = infra.update_storage_pool(ctx.session, ctx.refs["id"], name=p.name,
                                     tags=None if p.tags is None else ",".join(p.tags), enabled=p.enabled,
                                     capacitybytes=p.capacitybytes)
    return pool_resp(ctx, pool)


class DeleteStoragePoolParams(Params):
    id: Annotated[str, Ref("StoragePool")] = Field(description="Storage pool id")
    forced: bool = Field(False, description="Force destroy storage pool (force expunge volumes in Destroyed state "
                         "as a part of pool removal)")


@api_command("deleteStoragePool", params=DeleteStoragePoolParams, roles=ADMIN, event="STORAGE.POOL.DELETE",
             entity="StoragePool", description="Deletes a storage pool.")
def delete_storage_pool(ctx: CallContext, p: DeleteStoragePoolParams) -> Success:
    infra.delete_storage_pool(ctx.session, ctx.refs["id"], forced=p.forced)
    return Success()


class ListStoragePoolsParams(ListParams):
    id: Annotated[str | None, Ref("StoragePool", "read")] = Field(None, description="the ID of the storage pool")
    name: str | None = Field(None, description="the name of the storage pool")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID for the storage pool")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="the Pod ID for the storage pool")
    clusterid: Annotated[str | None, Ref("Cluster", "read")] = Field(None, description="list storage pools "
                                                                     "belongig to the specific cluster")
    ipaddress: str | None = Field(None, description="the IP address for the storage pool")
    path: str | None = Field(None, description="the storage pool path")
    scope: str | None = Field(None, description="the scope of the storage pool")
    status: str | None = Field(None, description="the status of the storage pool")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="host ID of the storage pools")


@api_command("listStoragePools", params=ListStoragePoolsParams, result_key="storagepool", response=StoragePoolResp,
             roles=ADMIN, description="Lists storage pools.")
def list_storage_pools(ctx: CallContext, p: ListStoragePoolsParams) -> ListResult:
    stmt = select(StoragePool).where(StoragePool.removed.is_(None))
    if p.id:
        stmt = stmt.where(StoragePool.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(StoragePool.name, p.name))
    if p.zoneid:
        stmt = stmt.where(StoragePool.zone_id == ctx.refs["zoneid"].id)
    if p.podid:
        stmt = stmt.where(StoragePool.pod_id == ctx.refs["podid"].id)
    if p.clusterid:
        stmt = stmt.where(StoragePool.cluster_id == ctx.refs["clusterid"].id)
    if p.ipaddress:
        stmt = stmt.where(StoragePool.host_address == p.ipaddress)
    if p.path:
        stmt = stmt.where(StoragePool.path == p.path)
    if p.scope:
        stmt = stmt.where(StoragePool.scope == p.scope.upper())
    if p.status:
        stmt = stmt.where(StoragePool.status.ilike(p.status))
    if p.hostid:
        h = ctx.refs["hostid"]
        stmt = stmt.where(StoragePool.zone_id == h.zone_id).where(
            (StoragePool.scope == "ZONE") | (StoragePool.cluster_id == h.cluster_id) | (StoragePool.host_id == h.id))
    stmt = keyword_filter(stmt, p.keyword, StoragePool.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, StoragePool.id)
    return ListResult([pool_resp(ctx, r) for r in rows], count)


class PoolIdParams(Params):
    id: Annotated[str, Ref("StoragePool")] = Field(description="Primary storage ID")


@api_command("enableStorageMaintenance", params=PoolIdParams, result_key="storagepool", response=StoragePoolResp,
             roles=ADMIN, is_async=True, event="MAINT.PREPARE.PS", entity="StoragePool",
             description="Puts storage pool into maintenance state")
def enable_storage_maintenance(ctx: CallContext, p: PoolIdParams) -> StoragePoolResp:
    return pool_resp(ctx, infra.pool_maintenance(ctx.session, ctx.refs["id"], True))


@api_command("cancelStorageMaintenance", params=PoolIdParams, result_key="storagepool", response=StoragePoolResp,
             roles=ADMIN, is_async=True, event="MAINT.CANCEL.PS", entity="StoragePool",
             description="Cancels maintenance for primary storage")
def cancel_storage_maintenance(ctx: CallContext, p: PoolIdParams) -> StoragePoolResp:
    return pool_resp(ctx, infra.pool_maintenance(ctx.session, ctx.refs["id"], False))
