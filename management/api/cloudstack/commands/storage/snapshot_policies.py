"""Recurring snapshot policies: createSnapshotPolicy, listSnapshotPolicies, updateSnapshotPolicy,
deleteSnapshotPolicies (the scheduler that fires them: services.storage.snapshot_policies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import MapParam, OwnedListParams, Params, Ref, api_command
from management.api.cloudstack.schemas import TagResp
from management.api.cloudstack.schemas_compute_extras import SnapshotPolicyResp
from management.errors import ParamError
from management.models.snapshot_policies import SnapshotPolicy
from management.models.storage import Volume
from management.services import access, tags
from management.services.context import CallContext
from management.services.listing import paginate, rows_by_id
from management.services.storage import snapshot_policies as svc


def _visible(session, caller, row, access_kind) -> bool:  # type: ignore[no-untyped-def]
    vol = session.get(Volume, row.volume_id)
    return vol is not None and access.can_access_owner(session, caller, vol.account_id, vol.domain_id)


access.register_entity("SnapshotPolicy", SnapshotPolicy, "owned", visible=_visible)
tags.register("SnapshotPolicy", "SnapshotPolicy")
_ENTITY = "SnapshotPolicy"


def policy_responses(ctx: CallContext, policies: Sequence[SnapshotPolicy]) -> list[SnapshotPolicyResp]:
    vols = rows_by_id(ctx.session, Volume, {p.volume_id for p in policies})
    by_tags = tags.tags_of(ctx.session, "SnapshotPolicy", [p.uuid for p in policies])
    out = []
    for p in policies:
        vol = vols.get(p.volume_id)
        out.append(SnapshotPolicyResp(
            id=p.uuid, volumeid=vol.uuid if vol else "", volumename=vol.name if vol else None, schedule=p.schedule,
            intervaltype=p.interval, maxsnaps=p.max_snaps, timezone=p.timezone, fordisplay=p.display,
            tags=[TagResp(key=t.key, value=t.value, resourcetype=t.resource_type, resourceid=t.resource_uuid)
                  for t in by_tags.get(p.uuid, [])]))
    return out


class CreateSnapshotPolicyParams(Params):
    volumeid: Annotated[str, Ref("Volume")] = Field(description="the ID of the disk volume")
    intervaltype: str = Field(description="valid values are HOURLY, DAILY, WEEKLY, and MONTHLY")
    schedule: str = Field(description="time the snapshot is scheduled to be taken. Format is: * if HOURLY, MM * if "
                          "DAILY, MM:HH * if WEEKLY, MM:HH:DD (1-7) * if MONTHLY, MM:HH:DD (1-28)")
    timezone: str = Field(description="Specifies a timezone for this command. For more information on the timezone "
                          "parameter, see Time Zone Format.")
    maxsnaps: int = Field(description="maximum number of snapshots to retain")
    fordisplay: bool = Field(True, description="an optional field, whether to the display the policy to the end user "
                             "or not")
    tags: MapParam | None = Field(None, description="Map of tags (key/value pairs)")
    zoneids: list[str] | None = Field(None, description="A list of IDs of the zones in which the snapshot will be "
                                      "made available. The snapshot will always be made available in the zone in "
                                      "which the volume is present.")
    storageids: list[str] | None = Field(None, description="A comma-separated list of IDs of the storage pools in "
                                         "other zones in which the snapshot will be made available.")
    usestoragereplication: bool | None = Field(None, description="This parameter enables the option the snapshot "
                                               "to be copied to supported primary storage")


@api_command("createSnapshotPolicy", params=CreateSnapshotPolicyParams, result_key="snapshotpolicy",
             entity=_ENTITY, event="SNAPSHOTPOLICY.CREATE", response=SnapshotPolicyResp,
             description="Creates a snapshot policy for the account.")
def create_policy(ctx: CallContext, p: CreateSnapshotPolicyParams) -> SnapshotPolicyResp:
    policy = svc.create_or_update(ctx.session, ctx.runtime, ctx.refs["volumeid"], interval=p.intervaltype,
                                  schedule=p.schedule, timezone=p.timezone, max_snaps=p.maxsnaps,
                                  display=p.fordisplay)
    if p.tags:
        tags.create_tags(ctx.session, ctx.caller, "SnapshotPolicy", [policy.uuid], p.tags)
    return policy_responses(ctx, [policy])[0]


class ListSnapshotPoliciesParams(OwnedListParams):
    volumeid: Annotated[str | None, Ref("Volume", "read")] = Field(None, description="the ID of the disk volume")
    id: Annotated[str | None, Ref(_ENTITY, "read")] = Field(None, description="the ID of the snapshot policy")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listSnapshotPolicies", params=ListSnapshotPoliciesParams, result_key="snapshotpolicy",
             response=SnapshotPolicyResp, description="Lists snapshot policies.")
def list_policies(ctx: CallContext, p: ListSnapshotPoliciesParams) -> ListResult:
    s = ctx.session
    vols = select(Volume.id)
    vols = access.owned_filter(s, vols, Volume, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    stmt = select(SnapshotPolicy).where(SnapshotPolicy.removed.is_(None), SnapshotPolicy.volume_id.in_(vols))
    if p.volumeid:
        stmt = stmt.where(SnapshotPolicy.volume_id == ctx.refs["volumeid"].id)
    if p.id:
        stmt = stmt.where(SnapshotPolicy.uuid == p.id)
    if p.fordisplay is not None and ctx.caller.is_root_admin:
        stmt = stmt.where(SnapshotPolicy.display == p.fordisplay)
    rows, count = paginate(s, stmt, p.page, p.pagesize, SnapshotPolicy.id)
    return ListResult(policy_responses(ctx, rows), count)


class UpdateSnapshotPolicyParams(Params):
    id: Annotated[str | None, Ref(_ENTITY)] = Field(None, description="the ID of the snapshot policy")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the snapshot "
                                    "policy to the end user or not.")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateSnapshotPolicy", params=UpdateSnapshotPolicyParams, result_key="snapshotpolicy",
             is_async=True, entity=_ENTITY, event="SNAPSHOTPOLICY.UPDATE", response=SnapshotPolicyResp,
             since="4.4", description="Updates the snapshot policy.")
def update_policy(ctx: CallContext, p: UpdateSnapshotPolicyParams) -> SnapshotPolicyResp:
    policy = ctx.refs.get("id")
    if policy is None:
        raise ParamError("Unable to find snapshot policy: specify its id")
    if p.fordisplay is not None:
        policy.display = p.fordisplay
    if p.customid is not None:
        if not ctx.caller.is_root_admin:
            raise ParamError("customid is allowed to Root Admins only")
        policy.uuid = p.customid
    ctx.session.flush()
    return policy_responses(ctx, [policy])[0]


class DeleteSnapshotPoliciesParams(Params):
    id: Annotated[str | None, Ref(_ENTITY)] = Field(None, description="the Id of the snapshot policy")
    ids: list[str] | None = Field(None, description="the Ids of the snapshot policies")


@api_command("deleteSnapshotPolicies", params=DeleteSnapshotPoliciesParams, entity=_ENTITY,
             event="SNAPSHOTPOLICY.DELETE", description="Deletes snapshot policies for the account.")
def delete_policies(ctx: CallContext, p: DeleteSnapshotPoliciesParams) -> Success:
    if p.id is None and not p.ids:
        raise ParamError("Either policy id or a list of ids must be specified")
    if p.id is not None and p.ids:
        raise ParamError("Only one of id or ids can be specified")
    targets = [ctx.refs["id"]] if p.id else [access.resolve(ctx.session, ctx.caller, _ENTITY, u) for u in p.ids or []]
    for policy in targets:
        svc.delete(ctx.session, policy)
    return Success()
