"""Instance groups: createInstanceGroup, listInstanceGroups, updateInstanceGroup, deleteInstanceGroup (a VM joins
one by deployVirtualMachine group=<name>)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select, update

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_tenancy import InstanceGroupResp
from management.db.base import utcnow
from management.errors import ParamError
from management.models.compute import InstanceGroup, VirtualMachine
from management.models.identity import Account, Domain
from management.services import access
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate

access.register_entity("InstanceGroup", InstanceGroup, "owned")


def group_resp(ctx: CallContext, g: InstanceGroup) -> InstanceGroupResp:
    a = ctx.session.get_one(Account, g.account_id)
    d = ctx.session.get_one(Domain, g.domain_id)
    return InstanceGroupResp(id=g.uuid, name=g.name, created=g.created, account=a.name, domainid=d.uuid,
                             domain=d.name, domainpath=d.display_path)


def _unique(ctx: CallContext, account_id: int, name: str, exclude: int | None = None) -> None:
    stmt = select(InstanceGroup.id).where(InstanceGroup.account_id == account_id, InstanceGroup.removed.is_(None),
                                          func.lower(InstanceGroup.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(InstanceGroup.id != exclude)
    if ctx.session.scalar(stmt) is not None:
        raise ParamError(f"Unable to create vm group, a group with name {name} already exists for account "
                         f"{account_id}")


class CreateInstanceGroupParams(Params):
    name: str = Field(description="the name of the instance group")
    account: str | None = Field(None, description="the account of the instance group. The account parameter must "
                                "be used with the domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the domain ID of account "
                                                                   "owning the instance group")
    projectid: Uuid | None = Field(None, description="The project of the instance group")


@api_command("createInstanceGroup", params=CreateInstanceGroupParams, result_key="instancegroup",
             response=InstanceGroupResp, event="VMGROUP.CREATE", entity="InstanceGroup",
             description="Creates a vm group")
def create_instance_group(ctx: CallContext, p: CreateInstanceGroupParams) -> InstanceGroupResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    _unique(ctx, owner.id, p.name)
    g = InstanceGroup(name=p.name, account_id=owner.id, domain_id=owner.domain_id)
    ctx.session.add(g)
    ctx.session.flush()
    return group_resp(ctx, g)


class ListInstanceGroupsParams(OwnedListParams):
    id: Annotated[str | None, Ref("InstanceGroup", "read")] = Field(None, description="list instance groups by ID")
    name: str | None = Field(None, description="list instance groups by name")


@api_command("listInstanceGroups", params=ListInstanceGroupsParams, result_key="instancegroup",
             response=InstanceGroupResp, description="Lists vm groups")
def list_instance_groups(ctx: CallContext, p: ListInstanceGroupsParams) -> ListResult:
    stmt = select(InstanceGroup).where(InstanceGroup.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, InstanceGroup, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall or bool(p.id))
    if p.id:
        stmt = stmt.where(InstanceGroup.uuid == p.id)
    if p.name:
        stmt = stmt.where(func.lower(InstanceGroup.name) == p.name.lower())
    stmt = keyword_filter(stmt, p.keyword, InstanceGroup.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, InstanceGroup.id)
    return ListResult([group_resp(ctx, g) for g in rows], count)


class UpdateInstanceGroupParams(Params):
    id: Annotated[str, Ref("InstanceGroup")] = Field(description="Instance group ID")
    name: str | None = Field(None, description="new instance group name")


@api_command("updateInstanceGroup", params=UpdateInstanceGroupParams, result_key="instancegroup",
             response=InstanceGroupResp, event="VMGROUP.UPDATE", entity="InstanceGroup",
             description="Updates a vm group")
def update_instance_group(ctx: CallContext, p: UpdateInstanceGroupParams) -> InstanceGroupResp:
    g: InstanceGroup = ctx.refs["id"]
    if p.name and p.name != g.name:
        _unique(ctx, g.account_id, p.name, exclude=g.id)
        ctx.session.execute(update(VirtualMachine).where(VirtualMachine.account_id == g.account_id,
                                                         VirtualMachine.group_name == g.name).values(group_name=p.name))
        g.name = p.name
    return group_resp(ctx, g)


class DeleteInstanceGroupParams(Params):
    id: Annotated[str, Ref("InstanceGroup")] = Field(description="the ID of the instance group")


@api_command("deleteInstanceGroup", params=DeleteInstanceGroupParams, event="VMGROUP.DELETE",
             entity="InstanceGroup", description="Deletes a vm group")
def delete_instance_group(ctx: CallContext, p: DeleteInstanceGroupParams) -> Success:
    g: InstanceGroup = ctx.refs["id"]
    ctx.session.execute(update(VirtualMachine).where(VirtualMachine.account_id == g.account_id,
                                                     VirtualMachine.group_name == g.name).values(group_name=None))
    g.removed = utcnow()
    return Success()
