"""Affinity groups: createAffinityGroup, deleteAffinityGroup, listAffinityGroups, listAffinityGroupTypes,
updateVMAffinityGroup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ListParams, OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.api.cloudstack.schemas_compute_extras import AffinityGroupResp, AffinityGroupTypeResp
from management.errors import ParamError
from management.models.affinity import AffinityGroup, AffinityGroupVmMap
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.services import access
from management.services.compute import affinity
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, rows_by_id

access.register_entity("AffinityGroup", AffinityGroup, "owned", soft_delete=False)
_ENTITY = "AffinityGroup"


def group_responses(ctx: CallContext, groups: Sequence[AffinityGroup]) -> list[AffinityGroupResp]:
    s = ctx.session
    accounts = rows_by_id(s, Account, {g.account_id for g in groups})
    domains = rows_by_id(s, Domain, {g.domain_id for g in groups})
    members = affinity.members(s, [g.id for g in groups])
    vm_uuids = dict(s.execute(select(VirtualMachine.id, VirtualMachine.uuid).where(
        VirtualMachine.id.in_({v for ids in members.values() for v in ids}), VirtualMachine.removed.is_(None))).all())
    out = []
    for g in groups:
        acct, dom = accounts.get(g.account_id), domains.get(g.domain_id)
        out.append(AffinityGroupResp(
            id=g.uuid, name=g.name, description=g.description, type=g.type, account=acct.name if acct else None,
            domainid=dom.uuid if dom else None, domain=dom.name if dom else None, domainpath=dom.path if dom else None,
            virtualmachineIds=[vm_uuids[v] for v in members.get(g.id, []) if v in vm_uuids]))
    return out


def resolve_groups(ctx: CallContext, uuids: list[str] | None) -> list[AffinityGroup]:
    return [access.resolve(ctx.session, ctx.caller, _ENTITY, u, "read") for u in uuids or []]


class CreateAffinityGroupParams(Params):
    name: str = Field(description="name of the affinity group")
    type: str = Field(description="Type of the affinity group from the available affinity/anti-affinity group types")
    description: str | None = Field(None, description="optional description of the affinity group")
    account: str | None = Field(None, description="an account for the affinity group. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="domainId of the account owning the affinity group")
    projectid: Uuid | None = Field(None, description="create affinity group for project")


def _create_group(ctx: CallContext, p: CreateAffinityGroupParams) -> str:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    return affinity.create(ctx.session, owner, p.name, p.type, p.description).uuid


@api_command("createAffinityGroup", params=CreateAffinityGroupParams, result_key="affinitygroup", is_async=True,
             create=_create_group, entity=_ENTITY, event="AG.CREATE", response=AffinityGroupResp,
             description="Creates an affinity/anti-affinity group")
def create_group(ctx: CallContext, p: CreateAffinityGroupParams) -> AffinityGroupResp:
    group = ctx.session.scalar(select(AffinityGroup).where(AffinityGroup.uuid == ctx.created_uuid))
    assert group is not None
    return group_responses(ctx, [group])[0]


class DeleteAffinityGroupParams(Params):
    id: Annotated[str | None, Ref(_ENTITY)] = Field(None, description="The ID of the affinity group. Mutually "
                                                    "exclusive with name parameter")
    name: str | None = Field(None, description="The name of the affinity group. Mutually exclusive with ID parameter")
    account: str | None = Field(None, description="the account of the affinity group. Must be specified with "
                                "domain ID")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="the domain ID of account owning the affinity group")
    projectid: Uuid | None = Field(None, description="the project of the affinity group")


@api_command("deleteAffinityGroup", params=DeleteAffinityGroupParams, is_async=True, entity=_ENTITY,
             event="AG.DELETE", description="Deletes affinity group")
def delete_group(ctx: CallContext, p: DeleteAffinityGroupParams) -> Success:
    group = ctx.refs.get("id")
    if group is None:
        if p.name is None:
            raise ParamError("Either the affinity group Id or group name must be specified to delete the group")
        owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
        group = affinity.by_name(ctx.session, owner.id, p.name)
        if group is None:
            raise ParamError(f"Unable to find affinity group {p.name}")
    affinity.delete_group(ctx.session, group)
    return Success()


class ListAffinityGroupsParams(OwnedListParams):
    id: Annotated[str | None, Ref(_ENTITY, "read")] = Field(None, description="list the affinity group by the ID "
                                                            "provided")
    name: str | None = Field(None, description="lists affinity groups by name")
    type: str | None = Field(None, description="lists affinity groups by type")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="lists affinity groups by virtual machine ID")


@api_command("listAffinityGroups", params=ListAffinityGroupsParams, result_key="affinitygroup",
             response=AffinityGroupResp, description="Lists affinity groups")
def list_groups(ctx: CallContext, p: ListAffinityGroupsParams) -> ListResult:
    s = ctx.session
    stmt = select(AffinityGroup)
    # a VM's groups are listed to whoever may see the VM
    if p.virtualmachineid:
        stmt = stmt.where(AffinityGroup.id.in_(select(AffinityGroupVmMap.affinity_group_id).where(
            AffinityGroupVmMap.instance_id == ctx.refs["virtualmachineid"].id)))
    else:
        stmt = access.owned_filter(s, stmt, AffinityGroup, ctx.caller, account=p.account, domainid=p.domainid,
                                   isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(AffinityGroup.uuid == p.id)
    if p.name:
        stmt = stmt.where(AffinityGroup.name == p.name)
    if p.type:
        stmt = stmt.where(AffinityGroup.type == p.type)
    stmt = keyword_filter(stmt, p.keyword, AffinityGroup.name)
    rows, count = paginate(s, stmt, p.page, p.pagesize, AffinityGroup.id)
    return ListResult(group_responses(ctx, rows), count)


@api_command("listAffinityGroupTypes", params=ListParams, result_key="affinityGroupType",
             response=AffinityGroupTypeResp, description="Lists affinity group types available")
def list_types(ctx: CallContext, p: ListParams) -> ListResult:
    types = [t for t in affinity.TYPES if not p.keyword or p.keyword.lower() in t.lower()]
    return ListResult([AffinityGroupTypeResp(type=t) for t in types], len(types))


class UpdateVmAffinityGroupParams(Params):
    id: Annotated[str, Ref("VirtualMachine")] = Field(description="The ID of the virtual machine")
    affinitygroupids: list[str] | None = Field(
        None, description="comma separated list of affinity groups id that are going to be applied to the virtual "
        "machine. Should be passed only when vm is created from a zone with Basic Network support. Mutually exclusive "
        "with securitygroupnames parameter")
    affinitygroupnames: list[str] | None = Field(
        None, description="comma separated list of affinity groups names that are going to be applied to the "
        "virtual machine. Should be passed only when vm is created from a zone with Basic Network support. Mutually "
        "exclusive with securitygroupids parameter")


@api_command("updateVMAffinityGroup", params=UpdateVmAffinityGroupParams, result_key="virtualmachine",
             is_async=True, entity="VirtualMachine", event="VM.AG.UPDATE", response=VirtualMachineResp,
             description="Updates the affinity/anti-affinity group associations of a virtual machine. The VM has to "
             "be stopped and restarted for the new properties to take effect.")
def update_vm_groups(ctx: CallContext, p: UpdateVmAffinityGroupParams) -> VirtualMachineResp:
    vm = ctx.refs["id"]
    if p.affinitygroupids is None and p.affinitygroupnames is None:
        raise ParamError("Either affinityGroupIds or affinityGroupNames must be passed")
    owner = ctx.session.get_one(Account, vm.account_id)
    groups = affinity.resolve_for_vm(ctx.session, ctx.caller, owner, resolve_groups(ctx, p.affinitygroupids),
                                     p.affinitygroupnames)
    affinity.update_vm_groups(ctx.session, vm, groups)
    return vm_response(ctx, vm)
