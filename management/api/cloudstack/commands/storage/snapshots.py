"""Volume snapshots: createSnapshot, listSnapshots, deleteSnapshot, revertSnapshot, and their copies on secondary
storage: archiveSnapshot, extractSnapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_compute import SnapshotResp
from management.api.cloudstack.schemas_templates import ExtractResp
from management.api.cloudstack.tagview import tag_views
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.models.storage import Snapshot, Volume
from management.services import access, limits, tags
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name, tags_filter
from management.services.storage import snapshot_copies, snapshot_policies
from management.services.storage import snapshots as snapshots_service

access.register_entity("Snapshot", Snapshot, "owned")
tags.register("Snapshot", "Snapshot")


def snapshot_responses(ctx: CallContext, snaps: Sequence[Snapshot]) -> list[SnapshotResp]:
    s = ctx.session
    vols = {v.id: v for v in s.scalars(select(Volume).where(Volume.id.in_({x.volume_id for x in snaps})))}
    zones = {z.id: z for z in s.scalars(select(Zone).where(Zone.id.in_({x.zone_id for x in snaps})))}
    accts = {a.id: a for a in s.scalars(select(Account).where(Account.id.in_({x.account_id for x in snaps})))}
    doms = {d.id: d for d in s.scalars(select(Domain).where(Domain.id.in_({x.domain_id for x in snaps})))}
    by_tags = tags.tags_of(s, "Snapshot", [x.uuid for x in snaps])
    out = []
    for x in snaps:
        v, z, a, d = vols.get(x.volume_id), zones.get(x.zone_id), accts.get(x.account_id), doms.get(x.domain_id)
        out.append(SnapshotResp(
            id=x.uuid, name=x.name, volumeid=v.uuid if v else None, volumename=v.name if v else None,
            volumetype=v.volume_type if v else None, volumestate=v.state if v else None, state=x.state,
            snapshottype=x.snapshot_type, intervaltype=x.interval_type, created=x.created,
            physicalsize=x.physical_size, virtualsize=x.size, zoneid=z.uuid if z else None,
            zonename=z.name if z else None, account=a.name if a else None, domainid=d.uuid if d else None,
            domain=d.name if d else None,
            tags=tag_views(ctx.session, by_tags.get(x.uuid)),
        ))
    return out


def _reload(ctx: CallContext, snap_id: int) -> SnapshotResp:
    ctx.session.expire_all()
    return vm_service.done(ctx.session, snapshot_responses(ctx, [ctx.session.get_one(Snapshot, snap_id)])[0])


class CreateSnapshotParams(Params):
    volumeid: Annotated[str, Ref("Volume")] = Field(description="The ID of the disk volume")
    name: str | None = Field(None, description="the name of the snapshot")
    account: str | None = Field(None, description="The account of the snapshot. The account parameter must be "
                                "used with the domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="The domain ID of the snapshot. If used with the account parameter, specifies a domain "
        "for the account associated with the disk volume.")
    policyid: Uuid | None = Field(None, description="policy id of the snapshot, if this is null, then use "
                                 "MANUAL_POLICY.")
    quiescevm: bool | None = Field(None, description="quiesce vm if true")
    asyncbackup: bool | None = Field(None, description="asynchronous backup if true")
    tags: list[dict[str, str]] | None = Field(None, description="Map of tags (key/value pairs)")


def _create_snapshot(ctx: CallContext, p: CreateSnapshotParams) -> str:
    vol = ctx.refs["volumeid"]
    limits.check_by_id(ctx.session, vol.account_id, {"snapshot": 1, "secondary_storage": vol.size})
    return snapshots_service.allocate(ctx.session, vol, p.name).uuid


@api_command("createSnapshot", params=CreateSnapshotParams, result_key="snapshot", is_async=True,
             create=_create_snapshot, entity="Snapshot", event="SNAPSHOT.CREATE", response=SnapshotResp,
             description="Creates an instant snapshot of a volume.")
def create_snapshot(ctx: CallContext, p: CreateSnapshotParams) -> SnapshotResp:
    snap = ctx.session.scalar(select(Snapshot).where(Snapshot.uuid == ctx.created_uuid))
    assert snap is not None
    snap_id = snap.id
    vm_service.release(ctx.session)
    snapshots_service.create(ctx.runtime, snap_id)
    if p.policyid:  # a policy's recurring snapshot: keep at most its maxsnaps of that interval
        snapshot_policies.enforce(ctx.runtime, p.policyid)
    return _reload(ctx, snap_id)


class SnapshotIdParams(Params):
    id: Annotated[str, Ref("Snapshot")] = Field(description="The ID of the snapshot")


@api_command("deleteSnapshot", params=SnapshotIdParams, is_async=True, entity="Snapshot", event="SNAPSHOT.DELETE",
             description="Deletes a snapshot of a disk volume.")
def delete_snapshot(ctx: CallContext, p: SnapshotIdParams) -> Success:
    snap_id = ctx.refs["id"].id
    vm_service.release(ctx.session)
    snapshots_service.delete(ctx.runtime, snap_id)
    return vm_service.done(ctx.session, Success())


@api_command("revertSnapshot", params=SnapshotIdParams, result_key="snapshot", is_async=True, entity="Snapshot",
             event="SNAPSHOT.REVERT", response=SnapshotResp, since="4.2.0",
             description="This is supposed to revert a volume snapshot. This command is only supported with KVM so "
             "far")
def revert_snapshot(ctx: CallContext, p: SnapshotIdParams) -> SnapshotResp:
    snap_id = ctx.refs["id"].id
    vm_service.release(ctx.session)
    snapshots_service.revert(ctx.runtime, snap_id)
    return _reload(ctx, snap_id)


class ListSnapshotsParams(TaggedListParams):
    id: Annotated[str | None, Ref("Snapshot", "read")] = Field(None, description="lists snapshot by snapshot ID")
    ids: list[str] | None = Field(None, description="the IDs of the snapshots, mutually exclusive with id")
    name: str | None = Field(None, description="lists snapshot by snapshot name")
    volumeid: Annotated[str | None, Ref("Volume", "read")] = Field(None, description="the ID of the disk volume")
    snapshottype: str | None = Field(None, description="valid values are MANUAL or RECURRING.")
    intervaltype: str | None = Field(None, description="valid values are HOURLY, DAILY, WEEKLY, and MONTHLY.")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="list snapshots by zone id")
    state: str | None = Field(None, description="state of the snapshot")


@api_command("listSnapshots", params=ListSnapshotsParams, result_key="snapshot", response=SnapshotResp,
             description="Lists all available snapshots for the account.")
def list_snapshots(ctx: CallContext, p: ListSnapshotsParams) -> ListResult:
    s = ctx.session
    stmt = select(Snapshot).where(Snapshot.removed.is_(None))
    stmt = access.owned_filter(s, stmt, Snapshot, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(Snapshot.uuid == p.id)
    if p.ids:
        stmt = stmt.where(Snapshot.uuid.in_(p.ids))
    if p.name:
        stmt = stmt.where(same_name(Snapshot.name, p.name))
    if p.volumeid:
        stmt = stmt.where(Snapshot.volume_id == ctx.refs["volumeid"].id)
    if p.snapshottype:
        stmt = stmt.where(Snapshot.snapshot_type == p.snapshottype.upper())
    if p.intervaltype:
        stmt = stmt.where(Snapshot.interval_type == p.intervaltype.upper())
    if p.zoneid:
        stmt = stmt.where(Snapshot.zone_id == ctx.refs["zoneid"].id)
    if p.state:
        stmt = stmt.where(Snapshot.state == p.state)
    stmt = keyword_filter(stmt, p.keyword, Snapshot.name)
    stmt = tags_filter(stmt, p.tags, "Snapshot", Snapshot.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, Snapshot.id)
    return ListResult(snapshot_responses(ctx, rows), count)


# ------------------------------------------------------------------------------------------------ copies

@api_command("archiveSnapshot", params=SnapshotIdParams, result_key="snapshot", is_async=True, entity="Snapshot",
             event="SNAPSHOT.MOVE", response=SnapshotResp, since="4.6.0",
             description="Archives (moves) a snapshot on primary storage to secondary storage")
def archive_snapshot(ctx: CallContext, p: SnapshotIdParams) -> SnapshotResp:
    snap_id = ctx.refs["id"].id
    vm_service.release(ctx.session)
    snapshot_copies.copy_to_store(ctx.runtime, snap_id)
    return _reload(ctx, snap_id)


class ExtractSnapshotParams(Params):
    id: Annotated[str, Ref("Snapshot")] = Field(description="the ID of the snapshot")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the ID of the zone where the snapshot is "
                                                        "located")


@api_command("extractSnapshot", params=ExtractSnapshotParams, result_key="snapshot", is_async=True,
             entity="Snapshot", event="SNAPSHOT.EXTRACT", response=ExtractResp, since="4.20.0",
             description="Returns a download URL for extracting a snapshot. It must be in the Backed Up state.")
def extract_snapshot(ctx: CallContext, p: ExtractSnapshotParams) -> ExtractResp:
    snap: Snapshot = ctx.refs["id"]
    zone: Zone = ctx.refs["zoneid"]
    snap_id, zone_id = snap.id, zone.id
    vm_service.release(ctx.session)
    copy = snapshot_copies.copy_to_store(ctx.runtime, snap_id, zone_id)
    snap = ctx.session.get_one(Snapshot, snap_id)
    acct = ctx.session.get(Account, snap.account_id)
    url = copy.as_uri()
    return vm_service.done(ctx.session, ExtractResp(
        id=snap.uuid, name=snap.name, extractId=snap.uuid, state="DOWNLOAD_URL_CREATED",
        status="DOWNLOAD_URL_CREATED", uploadpercentage=100, url=url, zoneid=zone.uuid, zonename=zone.name,
        extractMode="HTTP_DOWNLOAD", accountid=acct.uuid if acct else None, created=snap.created))
