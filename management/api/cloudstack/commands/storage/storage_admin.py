"""Storage administration: storage and host tags, storage access groups, pool scope and capabilities, the objects
in image stores and pools, image store updates and migration, secondary storage selectors, Swift/S3 stores."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.storage.image_stores import store_resp
from management.api.cloudstack.commands.storage.storage_pools import pool_resp
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
    api_command,
)
from management.api.cloudstack.schemas_infra import ImageStoreResp, StoragePoolResp
from management.api.cloudstack.schemas_storage import (
    AffectedVmResp,
    DataStoreObjectResp,
    HostTagResp,
    MigrationResp,
    SecondaryStorageSelectorResp,
    StorageAccessGroupResp,
    StorageTagResp,
)
from management.api.cloudstack.schemas_templates import ExtractResp
from management.db.base import utcnow
from management.drivers.errors import DriverError
from management.errors import InvalidStateTransition, ParamError
from management.models.infra import Cluster, Host, ImageStore, StoragePool, Zone
from management.models.storage_admin import SecondaryStorageSelector
from management.services import access
from management.services.context import CallContext
from management.services.hypervisors import driver_for, hosts_with_pool
from management.services.infra import infra
from management.services.infra.hosts import pool_spec
from management.services.listing import keyword_filter, paginate
from management.services.storage import storage_admin as svc
from management.storage.secondary import ImageStoreLayout, StoreError

access.register_entity("SecondaryStorageHeuristics", SecondaryStorageSelector, "public")


def _page(items: list[Any], page: int | None, pagesize: int | None) -> list[Any]:
    if pagesize is None or pagesize == -1:
        return items
    start = ((page or 1) - 1) * pagesize
    return items[start:start + pagesize]


# ------------------------------------------------------------------------------------------------ tags

@api_command("listStorageTags", params=ListParams, result_key="storagetag", response=StorageTagResp, roles=ADMIN,
             description="Lists storage tags")
def list_storage_tags(ctx: CallContext, p: ListParams) -> ListResult:
    rows = []
    for pool in ctx.session.scalars(select(StoragePool).where(StoragePool.removed.is_(None))
                                    .order_by(StoragePool.id)):
        for tag in (t.strip() for t in (pool.tags or "").split(",")):
            if tag and (not p.keyword or p.keyword.lower() in tag.lower()):
                rows.append(StorageTagResp(id=svc.stable_id("storagetag", pool.uuid, tag), poolid=pool.uuid,
                                           name=tag))
    return ListResult(_page(rows, p.page, p.pagesize), len(rows))


@api_command("listHostTags", params=ListParams, result_key="hosttag", response=HostTagResp, roles=ADMIN,
             description="Lists host tags")
def list_host_tags(ctx: CallContext, p: ListParams) -> ListResult:
    rows = []
    for host in ctx.session.scalars(select(Host).where(Host.removed.is_(None)).order_by(Host.id)):
        for tag in (t.strip() for t in (host.host_tags or "").split(",")):
            if tag and (not p.keyword or p.keyword.lower() in tag.lower()):
                rows.append(HostTagResp(id=svc.stable_id("hosttag", host.uuid, tag), hostid=host.uuid, name=tag,
                                        isimplicit=False))
    return ListResult(_page(rows, p.page, p.pagesize), len(rows))


# ------------------------------------------------------------------------------------------------ access groups

class ListStorageAccessGroupsParams(ListParams):
    name: str | None = Field(None, description="Name of the Storage access group")


def _brief(rows: list[Any]) -> list[dict[str, Any]]:
    return [{"id": r.uuid, "name": r.name} for r in rows]


@api_command("listStorageAccessGroups", params=ListStorageAccessGroupsParams, result_key="storageaccessgroup",
             response=StorageAccessGroupResp, roles=ADMIN, since="4.21.0",
             description="Lists storage access groups")
def list_storage_access_groups(ctx: CallContext, p: ListStorageAccessGroupsParams) -> ListResult:
    groups = svc.all_access_groups(ctx.session)
    rows = []
    for name in sorted(groups):
        if (p.name and name != p.name) or (p.keyword and p.keyword.lower() not in name.lower()):
            continue
        g = groups[name]
        rows.append(StorageAccessGroupResp(
            id=svc.stable_id("storageaccessgroup", name), name=name, hosts=_brief(g.get("host", [])),
            clusters=_brief(g.get("cluster", [])), pods=_brief(g.get("pod", [])), zones=_brief(g.get("zone", [])),
            storagepools=_brief(g.get("storagepool", []))))
    return ListResult(_page(rows, p.page, p.pagesize), len(rows))


class ConfigureStorageAccessParams(Params):
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="UUID of the zone")
    podid: Annotated[str | None, Ref("Pod")] = Field(None, description="UUID of the pod")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(None, description="UUID of the cluster")
    hostid: Annotated[str | None, Ref("Host")] = Field(None, description="UUID of the host")
    storageid: Annotated[str | None, Ref("StoragePool")] = Field(None, description="UUID of the Storage Pool")
    storageaccessgroups: list[str] | None = Field(
        None, description="comma separated list of storage access groups for connecting the storage pools and the "
        "hosts")


@api_command("configureStorageAccess", params=ConfigureStorageAccessParams, is_async=True, roles=ADMIN,
             event="CONFIGURE.STORAGE.ACCESS", since="4.21.0",
             description="Configure the storage access groups on zone/pod/cluster/host and storage, accordingly "
             "connections to the storage pools")
def configure_storage_access(ctx: CallContext, p: ConfigureStorageAccessParams) -> Success:
    chosen = [(k, ctx.refs[n]) for k, n in (("zone", "zoneid"), ("pod", "podid"), ("cluster", "clusterid"),
                                             ("host", "hostid"), ("storagepool", "storageid")) if n in ctx.refs]
    if len(chosen) != 1:
        raise ParamError("Exactly one of the parameters zoneid, podid, clusterid, hostid and storageid must be "
                         "specified")
    kind, row = chosen[0]
    svc.set_access_groups(ctx.session, kind, row.id, p.storageaccessgroups or [])
    return Success()


# ------------------------------------------------------------------------------------------------ pools

class PoolIdParams(Params):
    id: Annotated[str, Ref("StoragePool")] = Field(description="Storage pool id")


@api_command("updateStorageCapabilities", params=PoolIdParams, result_key="storagepool", response=StoragePoolResp,
             roles=ADMIN, event="STORAGE.POOL.UPDATE", entity="StoragePool", since="4.16.0",
             description="Syncs capabilities of storage pools")
def update_storage_capabilities(ctx: CallContext, p: PoolIdParams) -> StoragePoolResp:
    return pool_resp(ctx, ctx.refs["id"])


@api_command("syncStoragePool", params=PoolIdParams, is_async=True, result_key="storagepool",
             response=StoragePoolResp, roles=ADMIN, event="SYNC.STORAGE.POOL", entity="StoragePool",
             since="4.15.1", description="Sync storage pool with management server (currently supported for "
             "Datastore Cluster in VMware and syncs the datastores in it)")
def sync_storage_pool(ctx: CallContext, p: PoolIdParams) -> StoragePoolResp:
    pool: StoragePool = ctx.refs["id"]
    if pool.status != "Up":
        raise InvalidStateTransition(f"Primary storage with id {pool.uuid} is not ready to complete migration, "
                                     f"as the status is:{pool.status}")
    hosts = [h for h in hosts_with_pool(ctx.session, pool) if h.status == "Up"]
    for host in hosts:
        try:
            info = driver_for(ctx.runtime, host).ensure_pool(pool_spec(pool))
        except DriverError:
            continue
        if info.capacity_bytes:
            pool.capacity_bytes = info.capacity_bytes
            pool.used_bytes = max(info.capacity_bytes - info.available_bytes, 0)
        break
    ctx.session.flush()
    return pool_resp(ctx, pool)


class ChangeScopeParams(Params):
    id: Annotated[str, Ref("StoragePool")] = Field(description="the Id of the storage pool")
    scope: str = Field(description="the scope of the storage: cluster or zone")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(
        None, description="the Id of the cluster to use if scope is being set to Cluster")


@api_command("changeStoragePoolScope", params=ChangeScopeParams, is_async=True, roles=ADMIN,
             event="CHANGE.STORAGE.POOL.SCOPE", entity="StoragePool", since="4.19.1",
             description="Changes the scope of a storage pool when the pool is in Disabled state.This feature is "
             "officially tested and supported for Hypervisors: KVM and VMware, Protocols: NFS and Ceph, and "
             "Storage Provider: DefaultPrimary. There might be extra steps involved to make this work for other "
             "hypervisors and storage options.")
def change_storage_pool_scope(ctx: CallContext, p: ChangeScopeParams) -> Success:
    pool: StoragePool = ctx.refs["id"]
    scope = p.scope.upper()
    if scope not in ("ZONE", "CLUSTER"):
        raise ParamError(f"Invalid scope {p.scope} for Primary storage")
    if pool.status != "Disabled":
        raise InvalidStateTransition("Primary storage should be disabled for this operation")
    if scope == pool.scope:
        raise ParamError("New scope must be different than the current scope")
    if pool.scope not in ("ZONE", "CLUSTER"):
        raise ParamError("This operation is supported only for Primary storages having scope Cluster or Zone")
    if scope == "CLUSTER":
        cluster: Cluster | None = ctx.refs.get("clusterid")
        if cluster is None:
            raise ParamError("Cluster ID not provided")
        if cluster.zone_id != pool.zone_id:
            raise ParamError("Cluster ID provided does not belong to the same zone as the storage pool")
        affected = svc.pool_scope_change_vms(ctx.session, pool, cluster)
        running = [vm for vm in affected if vm.state != "Stopped"]
        if running:
            raise InvalidStateTransition(
                f"Cannot change scope of the storage pool [{pool.name}] to cluster [{cluster.name}] as there are "
                f"{len(running)} VMs with volumes in this pool that are running on other clusters. All such User "
                "VMs must be stopped and System VMs must be destroyed before proceeding. Please use the API "
                "listAffectedVmsForStorageScopeChange to get the list.")
        pool.scope, pool.cluster_id, pool.pod_id = "CLUSTER", cluster.id, cluster.pod_id
    else:
        if not pool.hypervisor:
            cl = ctx.session.get(Cluster, pool.cluster_id) if pool.cluster_id else None
            pool.hypervisor = cl.hypervisor_type if cl else None
        pool.scope, pool.cluster_id, pool.pod_id = "ZONE", None, None
    ctx.session.flush()
    return Success()


class AffectedVmsParams(ListParams):
    clusterid: Annotated[str, Ref("Cluster", "read")] = Field(
        description="the Id of the cluster the scope of the storage pool is being changed to")
    storageid: Annotated[str, Ref("StoragePool", "read")] = Field(
        description="the Id of the storage pool on which change scope operation is being done")


@api_command("listAffectedVmsForStorageScopeChange", params=AffectedVmsParams, result_key="virtualmachine",
             response=AffectedVmResp, roles=ADMIN, since="4.19.1",
             description="List user and system VMs that need to be stopped and destroyed respectively for changing "
             "the scope of the storage pool from Zone to Cluster.")
def list_affected_vms(ctx: CallContext, p: AffectedVmsParams) -> ListResult:
    pool: StoragePool = ctx.refs["storageid"]
    cluster: Cluster = ctx.refs["clusterid"]
    if pool.scope != "ZONE":
        raise ParamError("Storage pool scope must be zone to list the affected VMs")
    rows = []
    for vm in svc.pool_scope_change_vms(ctx.session, pool, cluster):
        hid = vm.host_id or vm.last_host_id
        host = ctx.session.get(Host, hid) if hid else None
        cl = ctx.session.get(Cluster, host.cluster_id) if host and host.cluster_id else None
        rows.append(AffectedVmResp(id=vm.uuid, type=vm.vm_type, name=vm.name, clusterid=cl.uuid if cl else None,
                                   clustername=cl.name if cl else None, hostid=host.uuid if host else None,
                                   hostname=host.name if host else None))
    return ListResult(_page(rows, p.page, p.pagesize), len(rows))


# ------------------------------------------------------------------------------------------------ objects

class StoreObjectsParams(ListParams):
    id: Annotated[str, Ref("ImageStore", "read")] = Field(description="id of the image store")
    path: str | None = Field(None, description="path to list on image store")


def _object_resp(o: svc.StoreObject) -> DataStoreObjectResp:
    t, sn, v = o.template, o.snapshot, o.volume
    return DataStoreObjectResp(
        name=o.name, isdirectory=o.isdirectory, size=o.size, lastupdated=o.lastupdated,
        templateid=t.uuid if t else None, templatename=t.name if t else None,
        format=(t.format if t else v.format if v else None), snapshotid=sn.uuid if sn else None,
        snapshotname=sn.name if sn else None, volumeid=v.uuid if v else None, volumename=v.name if v else None)


def _objects(objs: list[svc.StoreObject], p: ListParams) -> ListResult:
    if p.keyword:
        objs = [o for o in objs if p.keyword.lower() in o.name.lower()]
    return ListResult([_object_resp(o) for o in _page(objs, p.page, p.pagesize)], len(objs))


@api_command("listImageStoreObjects", params=StoreObjectsParams, result_key="datastoreobject",
             response=DataStoreObjectResp, roles=ADMIN, since="4.19.0",
             description="Lists objects at specified path on an image store.")
def list_image_store_objects(ctx: CallContext, p: StoreObjectsParams) -> ListResult:
    store: ImageStore = ctx.refs["id"]
    objs = svc.list_directory(svc.Path(store.local_path), p.path)
    svc.annotate_store_objects(ctx.session, store, p.path, objs)
    return _objects(objs, p)


class PoolObjectsParams(ListParams):
    id: Annotated[str, Ref("StoragePool", "read")] = Field(description="id of the storage pool")
    path: str | None = Field(None, description="path to list on storage pool")


@api_command("listStoragePoolObjects", params=PoolObjectsParams, result_key="datastoreobject",
             response=DataStoreObjectResp, roles=ADMIN, since="4.19.0",
             description="Lists objects at specified path on a storage pool.")
def list_storage_pool_objects(ctx: CallContext, p: PoolObjectsParams) -> ListResult:
    pool: StoragePool = ctx.refs["id"]
    objs = svc.list_directory(svc.Path(pool.path), p.path)
    svc.annotate_pool_objects(ctx.session, pool, objs)
    return _objects(objs, p)


class DownloadObjectParams(Params):
    id: Annotated[str, Ref("ImageStore", "read")] = Field(description="id of the image store")
    path: str | None = Field(None, description="path to download on image store")


@api_command("downloadImageStoreObject", params=DownloadObjectParams, is_async=True, result_key="imagestore",
             response=ExtractResp, roles=ADMIN, event="IMAGE.STORE.OBJECT.DOWNLOAD", entity="ImageStore",
             since="4.19.0", description="Download object at a specified path on an image store.")
def download_image_store_object(ctx: CallContext, p: DownloadObjectParams) -> ExtractResp:
    store: ImageStore = ctx.refs["id"]
    layout = ImageStoreLayout(store.local_path)
    rel = (p.path or "").strip("/")
    try:
        path = layout.abs(rel)
    except StoreError:
        raise ParamError(f"Invalid path {p.path}: it is outside the image store") from None
    if not rel or not path.is_file():
        raise ParamError(f"Object at path {p.path} on the image store {store.name} is not a file or does not "
                         "exist")
    zone = ctx.session.get(Zone, store.zone_id) if store.zone_id else None
    return ExtractResp(id=store.uuid, name=path.name, state="DOWNLOAD_URL_CREATED", status="DOWNLOAD_URL_CREATED",
                       uploadpercentage=100, url=path.as_uri(), zoneid=zone.uuid if zone else None,
                       zonename=zone.name if zone else None, extractMode="HTTP_DOWNLOAD", created=utcnow())


# ------------------------------------------------------------------------------------------------ image stores

class UpdateImageStoreParams(Params):
    id: Annotated[str, Ref("ImageStore")] = Field(description="Image Store UUID")
    name: str | None = Field(None, description="The new name for the Image Store.")
    readonly: bool | None = Field(None, description="If set to true, it designates the corresponding image store "
                                  "to read-only, hence not considering them during storage migration")
    capacitybytes: Long | None = Field(None, description="The number of bytes CloudStack can use on this image "
                                       "storage.NOTE: this will be overwritten by the StatsCollector as soon as "
                                       "there is a SSVM to query the storage.")


@api_command("updateImageStore", params=UpdateImageStoreParams, result_key="imagestore", response=ImageStoreResp,
             roles=ADMIN, event="IMAGE.STORE.UPDATE", entity="ImageStore", since="4.15.0",
             description="Updates image store read-only status")
def update_image_store(ctx: CallContext, p: UpdateImageStoreParams) -> ImageStoreResp:
    store: ImageStore = ctx.refs["id"]
    if p.name is None and p.readonly is None and p.capacitybytes is None:
        raise ParamError("At least one of the parameters name, readonly and capacitybytes has to be specified.")
    if p.name is not None:
        store.name = p.name
    if p.readonly is not None:
        store.readonly = p.readonly
    if p.capacitybytes is not None:
        store.total_bytes = p.capacitybytes
    ctx.session.flush()
    return store_resp(ctx, store)


class AddSecondaryStorageParams(Params):
    url: str = Field(description="the URL for the secondary storage")
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="the Zone ID for the secondary storage")


@api_command("addSecondaryStorage", params=AddSecondaryStorageParams, result_key="secondarystorage",
             response=ImageStoreResp, roles=ADMIN, event="IMAGE.STORE.ADD", entity="ImageStore",
             description="Adds secondary storage.")
def add_secondary_storage(ctx: CallContext, p: AddSecondaryStorageParams) -> ImageStoreResp:
    store = infra.add_image_store(ctx.runtime, ctx.session, zone=ctx.refs.get("zoneid"), name=None, url=p.url,
                                  provider="NFS")
    return store_resp(ctx, store)


class AddImageStoreS3Params(Params):
    accesskey: str = Field(description="S3 access key")
    secretkey: str = Field(description="S3 secret key")
    endpoint: str = Field(description="S3 endpoint")
    bucket: str = Field(description="Name of the storage bucket")
    s3signer: str | None = Field(None, description="Signer Algorithm to use, either S3SignerType or "
                                 "AWSS3V4SignerType")
    usehttps: bool | None = Field(None, description="Use HTTPS instead of HTTP")
    connectiontimeout: int | None = Field(None, description="Connection timeout (milliseconds)")
    maxerrorretry: int | None = Field(None, description="Maximum number of times to retry on error")
    sockettimeout: int | None = Field(None, description="Socket timeout (milliseconds)")
    connectionttl: int | None = Field(None, description="Connection TTL (milliseconds)")
    usetcpkeepalive: bool | None = Field(None, description="Whether TCP keep-alive is used")


@api_command("addImageStoreS3", params=AddImageStoreS3Params, result_key="imagestore", response=ImageStoreResp,
             roles=ADMIN, event="IMAGE.STORE.ADD", entity="ImageStore", since="4.7.0",
             description="Adds S3 Image Store")
def add_image_store_s3(ctx: CallContext, p: AddImageStoreS3Params) -> ImageStoreResp:
    store = infra.add_image_store(ctx.runtime, ctx.session, zone=None, name=p.bucket, url=p.endpoint,
                                  provider="S3")
    return store_resp(ctx, store)


class AddSwiftParams(Params):
    url: str = Field(description="the URL for swift")
    account: str | None = Field(None, description="the account for swift")
    username: str | None = Field(None, description="the username for swift")
    key: str | None = Field(None, description="key for the user for swift")


@api_command("addSwift", params=AddSwiftParams, result_key="imagestore", response=ImageStoreResp, roles=ADMIN,
             event="IMAGE.STORE.ADD", entity="ImageStore", description="Adds Swift.")
def add_swift(ctx: CallContext, p: AddSwiftParams) -> ImageStoreResp:
    store = infra.add_image_store(ctx.runtime, ctx.session, zone=None, name=None, url=p.url, provider="Swift")
    return store_resp(ctx, store)


class ListSwiftsParams(ListParams):
    id: Long | None = Field(None, description="the id of the swift")


@api_command("listSwifts", params=ListSwiftsParams, result_key="imagestore", response=ImageStoreResp, roles=ADMIN,
             description="List Swift.")
def list_swifts(ctx: CallContext, p: ListSwiftsParams) -> ListResult:
    stmt = select(ImageStore).where(ImageStore.removed.is_(None), ImageStore.provider == "Swift")
    if p.id is not None:
        stmt = stmt.where(ImageStore.id == p.id)
    stmt = keyword_filter(stmt, p.keyword, ImageStore.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ImageStore.id)
    return ListResult([store_resp(ctx, r) for r in rows], count)


class UpdateCloudToUseObjectStoreParams(Params):
    name: str | None = Field(None, description="the name for the image store")
    url: str | None = Field(None, description="the URL for the image store")
    provider: str = Field(description="the image store provider name")
    details: MapParam | None = Field(None, description="the details for the image store. Example: "
                                     "details[0].key=accesskey&details[0].value=s389ddssaa")


@api_command("updateCloudToUseObjectStore", params=UpdateCloudToUseObjectStoreParams, result_key="imagestore",
             response=ImageStoreResp, roles=ADMIN, event="IMAGE.STORE.ADD", entity="ImageStore", since="4.3.0",
             description="Migrate current NFS secondary storages to use object store.")
def update_cloud_to_use_object_store(ctx: CallContext, p: UpdateCloudToUseObjectStoreParams) -> ImageStoreResp:
    store = infra.add_image_store(ctx.runtime, ctx.session, zone=None, name=p.name, url=p.url,
                                  provider=p.provider)
    return store_resp(ctx, store)


# ------------------------------------------------------------------------------------------------ migration

class MigrateDataParams(Params):
    srcpool: Annotated[str, Ref("ImageStore")] = Field(description="id of the image store from where the data is "
                                                       "to be migrated")
    destpools: Annotated[list[str], Ref("ImageStore"), ApiType("list")] = Field(
        description="id(s) of the destination secondary storage pool(s) to which the templates are to be migrated")
    migrationtype: str | None = Field(None, description="Balance: if you want data to be distributed evenly among "
                                      "the destination stores, Complete: If you want to migrate the entire data "
                                      "from source image store to the destination store(s). Default: Complete")


def _check_stores(src: ImageStore, dests: list[ImageStore]) -> None:
    if any(d.id == src.id for d in dests):
        raise ParamError("Source and destination image stores cannot be the same")
    for d in dests:
        if d.readonly:
            raise ParamError(f"Destination image store {d.name} is read-only; it cannot take migrated data")
        if d.zone_id != src.zone_id:
            raise ParamError("Source and destination image stores must be in the same zone")


@api_command("migrateSecondaryStorageData", params=MigrateDataParams, is_async=True, result_key="imagestore",
             response=MigrationResp, roles=ADMIN, event="IMAGE.STORE.MIGRATE.DATA", entity="ImageStore",
             since="4.15.0", description="migrates data objects from one secondary storage to destination image "
             "store(s)")
def migrate_secondary_storage_data(ctx: CallContext, p: MigrateDataParams) -> MigrationResp:
    src: ImageStore = ctx.refs["srcpool"]
    dests: list[ImageStore] = ctx.refs["destpools"]
    kind = (p.migrationtype or "Complete").capitalize()
    if kind not in ("Complete", "Balance"):
        raise ParamError(f"Invalid migration type {p.migrationtype}: Balance or Complete")
    _check_stores(src, dests)
    moved, skipped = svc.migrate_templates(ctx.session, src, dests, balance=kind == "Balance")
    return MigrationResp(message=f"Migration completed: {moved} object(s) moved, {skipped} skipped",
                         migrationtype=kind, success=True)


class MigrateResourcesParams(Params):
    srcpool: Annotated[str, Ref("ImageStore")] = Field(description="id of the image store from where the data is "
                                                       "to be migrated")
    destpool: Annotated[str, Ref("ImageStore")] = Field(description="id of the destination secondary storage pool "
                                                        "to which the resources are to be migrated")
    templates: Annotated[list[str] | None, Ref("Template", "read"), ApiType("list")] = Field(
        None, description="id(s) of the templates to be migrated")
    snapshots: Annotated[list[str] | None, Ref("Snapshot", "read"), ApiType("list")] = Field(
        None, description="id(s) of the snapshots to be migrated")


@api_command("migrateResourceToAnotherSecondaryStorage", params=MigrateResourcesParams, is_async=True,
             result_key="imagestore", response=MigrationResp, roles=ADMIN, event="IMAGE.STORE.MIGRATE.DATA",
             entity="ImageStore", since="4.19.0",
             description="migrates resources from one secondary storage to destination image store")
def migrate_resource_to_another_secondary_storage(ctx: CallContext, p: MigrateResourcesParams) -> MigrationResp:
    src: ImageStore = ctx.refs["srcpool"]
    dest: ImageStore = ctx.refs["destpool"]
    _check_stores(src, [dest])
    only = {t.id for t in ctx.refs.get("templates") or []}
    moved, skipped = svc.migrate_templates(ctx.session, src, [dest], balance=False, only=only)
    snaps = len(ctx.refs.get("snapshots") or [])
    return MigrationResp(message=f"Migration completed: {moved} template(s) moved, {skipped + snaps} skipped "
                         "(snapshots stay on primary storage here)", migrationtype="Complete", success=True)


# ------------------------------------------------------------------------------------------------ selectors

SELECTOR_TYPES = ("ISO", "SNAPSHOT", "TEMPLATE", "VOLUME")


def _selector_resp(ctx: CallContext, h: SecondaryStorageSelector) -> SecondaryStorageSelectorResp:
    zone = ctx.session.get(Zone, h.zone_id)
    return SecondaryStorageSelectorResp(id=h.uuid, name=h.name, description=h.description,
                                        zoneid=zone.uuid if zone else "", type=h.type,
                                        heuristicrule=h.heuristic_rule, created=h.created, removed=h.removed)


class CreateSelectorParams(Params):
    name: str = Field(description="The name identifying the heuristic rule.")
    description: str = Field(description="The description of the heuristic rule.")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="The zone in which the heuristic rule will be applied.")
    type: str = Field(description="The resource type directed to a specific secondary storage by the selector. "
                      "Valid options are: ISO, SNAPSHOT, TEMPLATE and VOLUME.")
    heuristicrule: Annotated[str, ParamInfo(length=65535)] = Field(
        description="The heuristic rule, in JavaScript language. It is required that it returns the UUID of a "
        "secondary storage pool.")


@api_command("createSecondaryStorageSelector", params=CreateSelectorParams, result_key="heuristics",
             response=SecondaryStorageSelectorResp, roles=ADMIN, event="HEURISTIC.CREATE",
             entity="SecondaryStorageHeuristics", since="4.19.0",
             description="Creates a secondary storage selector, described by the heuristic rule.")
def create_selector(ctx: CallContext, p: CreateSelectorParams) -> SecondaryStorageSelectorResp:
    kind = p.type.upper()
    if kind not in SELECTOR_TYPES:
        raise ParamError(f"The given heuristic type [{p.type}] is not valid for creating a new secondary storage "
                         f"selector. The valid options are {list(SELECTOR_TYPES)}.")
    zone: Zone = ctx.refs["zoneid"]
    clash = ctx.session.scalar(select(SecondaryStorageSelector).where(
        SecondaryStorageSelector.zone_id == zone.id, SecondaryStorageSelector.type == kind,
        SecondaryStorageSelector.removed.is_(None)))
    if clash is not None:
        raise ParamError(f"There is already a heuristic rule in the specified {zone.name} with the type [{kind}].")
    h = SecondaryStorageSelector(name=p.name, description=p.description, zone_id=zone.id, type=kind,
                                 heuristic_rule=p.heuristicrule)
    ctx.session.add(h)
    ctx.session.flush()
    return _selector_resp(ctx, h)


class ListSelectorsParams(ListParams):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="The zone ID to be used in the search filter.")
    type: str | None = Field(None, description="Whether to filter the selectors by type and, if so, which one. "
                             "Valid options are: ISO, SNAPSHOT, TEMPLATE and VOLUME.")
    showremoved: bool = Field(False, description="Show removed heuristics.")


@api_command("listSecondaryStorageSelectors", params=ListSelectorsParams, result_key="heuristics",
             response=SecondaryStorageSelectorResp, roles=ADMIN, since="4.19.0",
             description="Lists the secondary storage selectors and their rules.")
def list_selectors(ctx: CallContext, p: ListSelectorsParams) -> ListResult:
    stmt = select(SecondaryStorageSelector).where(SecondaryStorageSelector.zone_id == ctx.refs["zoneid"].id)
    if not p.showremoved:
        stmt = stmt.where(SecondaryStorageSelector.removed.is_(None))
    if p.type:
        stmt = stmt.where(SecondaryStorageSelector.type == p.type.upper())
    stmt = keyword_filter(stmt, p.keyword, SecondaryStorageSelector.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, SecondaryStorageSelector.id)
    return ListResult([_selector_resp(ctx, h) for h in rows], count)


class UpdateSelectorParams(Params):
    id: Annotated[str, Ref("SecondaryStorageHeuristics")] = Field(description="The heuristic ID.")
    heuristicrule: Annotated[str, ParamInfo(length=65535)] = Field(
        description="The heuristic rule, in JavaScript language. It is required that it returns the UUID of a "
        "secondary storage pool.")


@api_command("updateSecondaryStorageSelector", params=UpdateSelectorParams, result_key="heuristics",
             response=SecondaryStorageSelectorResp, roles=ADMIN, event="HEURISTIC.UPDATE",
             entity="SecondaryStorageHeuristics", since="4.19.0",
             description="Updates an existing secondary storage selector.")
def update_selector(ctx: CallContext, p: UpdateSelectorParams) -> SecondaryStorageSelectorResp:
    h: SecondaryStorageSelector = ctx.refs["id"]
    h.heuristic_rule = p.heuristicrule
    ctx.session.flush()
    return _selector_resp(ctx, h)


class RemoveSelectorParams(Params):
    id: Annotated[str, Ref("SecondaryStorageHeuristics")] = Field(description="The unique identifier of the "
                                                                  "selector to be removed.")


@api_command("removeSecondaryStorageSelector", params=RemoveSelectorParams, roles=ADMIN, event="HEURISTIC.REMOVE",
             entity="SecondaryStorageHeuristics", since="4.19.0",
             description="Removes an existing secondary storage selector.")
def remove_selector(ctx: CallContext, p: RemoveSelectorParams) -> Success:
    ctx.refs["id"].removed = utcnow()
    return Success()



