"""Moving a volume between primary pools: findStoragePoolsForMigration, migrateVolume."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.storage.storage_pools import pool_resp
from management.api.cloudstack.commands.storage.volumes import volume_responses
from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Ref, api_command
from management.api.cloudstack.schemas_compute import VolumeResp
from management.api.cloudstack.schemas_compute_extras import StoragePoolForMigrationResp
from management.models.storage import Volume
from management.services.compute import migration
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.listing import check_paging


class FindPoolsParams(ListParams):
    id: Annotated[str, Ref("Volume")] = Field(description="the ID of the volume")


@api_command("findStoragePoolsForMigration", params=FindPoolsParams, result_key="storagepool",
             response=StoragePoolForMigrationResp, roles=ADMIN,
             description="Lists storage pools available for migration of a volume.")
def find_pools(ctx: CallContext, p: FindPoolsParams) -> ListResult:
    found = migration.pools_for_migration(ctx.session, ctx.refs["id"])
    if p.keyword:
        found = [(pool, ok) for pool, ok in found if p.keyword.lower() in pool.name.lower()]
    offset, limit = check_paging(ctx.session, p.page, p.pagesize)
    page = found[offset:offset + limit] if limit is not None else found[offset:]
    items = [StoragePoolForMigrationResp(**pool_resp(ctx, pool).model_dump(), suitableformigration=ok)
             for pool, ok in page]
    return ListResult(items, len(found))


class MigrateVolumeParams(Params):
    volumeid: Annotated[str, Ref("Volume")] = Field(description="the ID of the volume")
    storageid: Annotated[str, Ref("StoragePool", "read")] = Field(description="destination storage pool ID to migrate "
                                                                  "the volume to")
    livemigrate: bool = Field(False, description="if the volume should be live migrated when it is attached to a "
                              "running vm")
    newdiskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="The new disk offering ID that replaces the current one used by the volume. This new disk "
        "offering is used to better reflect the new storage where the volume is going to be migrated to.")


@api_command("migrateVolume", params=MigrateVolumeParams, result_key="volume", is_async=True, entity="Volume",
             event="VOLUME.MIGRATE", response=VolumeResp, since="3.0.0",
             description="Migrate volume")
def migrate_volume(ctx: CallContext, p: MigrateVolumeParams) -> VolumeResp:
    vol, pool = ctx.refs["volumeid"], ctx.refs["storageid"]
    offering = ctx.refs.get("newdiskofferingid")
    vol_id, pool_id = vol.id, pool.id
    vm_service.release(ctx.session)
    migration.migrate_volume(ctx.runtime, vol_id, pool_id)
    ctx.session.expire_all()
    vol = ctx.session.get_one(Volume, vol_id)
    if offering is not None:
        vol.disk_offering_id = offering.id
        ctx.session.flush()
    return vm_service.done(ctx.session, volume_responses(ctx, [vol])[0])
