"""copySnapshot: a snapshot's image copied from an image store of one zone to those of others
(services/storage/snapshot_copies). extractSnapshot then hands it out in those zones too."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.storage.snapshots import _reload
from management.api.cloudstack.registry import Params, Ref, api_command
from management.api.cloudstack.schemas_compute import SnapshotResp
from management.errors import ParamError, PermissionDenied
from management.models.infra import Zone
from management.models.storage import Snapshot, Volume
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.storage import snapshot_copies


class CopySnapshotParams(Params):
    id: Annotated[str, Ref("Snapshot")] = Field(description="the ID of the snapshot")
    sourcezoneid: Annotated[str | None, Ref("Zone", "read")] = Field(
        None, description="the zone the snapshot is copied from (default: the zone of its volume)")
    destzoneid: Annotated[str | None, Ref("Zone", "read")] = Field(
        None, description="the zone the snapshot is copied to (or destzoneids)")
    destzoneids: Annotated[list[str] | None, Ref("Zone", "read")] = Field(
        None, description="the zones the snapshot is copied to (or destzoneid)")
    storageids: Annotated[list[str] | None, Ref("StoragePool", "read")] = Field(
        None, description="primary storage pools to copy the snapshot to (needs storage that replicates "
        "snapshots; none here does)")
    usestoragereplication: bool | None = Field(None, description="copy through the primary storage's own "
                                               "replication (none here has it)")


def _check_dest(zone: Zone, root_admin: bool) -> None:
    if zone.allocation_state == "Disabled" and not root_admin:
        raise PermissionDenied(f"Cannot perform this operation, Zone is currently disabled: {zone.name}")


@api_command("copySnapshot", params=CopySnapshotParams, result_key="snapshot", is_async=True, entity="Snapshot",
             event="SNAPSHOT.COPY", response=SnapshotResp, since="4.19.0",
             description="Copies a snapshot from one zone to others.")
def copy_snapshot(ctx: CallContext, p: CopySnapshotParams) -> SnapshotResp:
    snap: Snapshot = ctx.refs["id"]
    dests: list[Zone] = list(ctx.refs.get("destzoneids") or [])
    if ctx.refs.get("destzoneid") is not None:
        dests.insert(0, ctx.refs["destzoneid"])
    if snap.state != "BackedUp":
        raise ParamError("Snapshot is not backed up")
    if p.storageids or p.usestoragereplication:
        raise ParamError("Copying a snapshot to primary storage needs storage that replicates snapshots; no "
                         "storage pool here does")
    if not dests:
        raise ParamError("Please specify valid destination zone(s).")
    source: Zone | None = ctx.refs.get("sourcezoneid")
    source_id = source.id if source is not None else ctx.session.get_one(Volume, snap.volume_id).zone_id
    if source_id in {z.id for z in dests}:
        raise ParamError("Please specify different source and destination zones.")
    for z in dests:
        _check_dest(z, ctx.caller.is_root_admin)
    snap_id, dest_ids = snap.id, list(dict.fromkeys(z.id for z in dests))
    vm_service.release(ctx.session)
    snapshot_copies.copy_to_zones(ctx.runtime, snap_id, source_id, dest_ids)
    return _reload(ctx, snap_id)
