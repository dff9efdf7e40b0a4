"""Security groups (Basic zones): create/list/delete, authorize/revoke ingress and egress rules (records)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import MapParam, Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_rules import SecurityGroupResp, SecurityGroupRuleResp
from management.errors import ParamError, invalid_id
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.rules import SecurityGroup, SecurityGroupRule, SecurityGroupVmMap
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate
from management.services.network import security_groups as svc

access.register_entity("SecurityGroup", SecurityGroup, "owned")



def sg_resp(ctx: CallContext, sg: SecurityGroup) -> SecurityGroupResp:
    s = ctx.session
    acct, dom = s.get(Account, sg.account_id), s.get(Domain, sg.domain_id)
    rules = list(s.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == sg.id)
                           .order_by(SecurityGroupRule.id)))

    def rr(r: SecurityGroupRule) -> SecurityGroupRuleResp:
        g = s.get(SecurityGroup, r.allowed_group_id) if r.allowed_group_id else None
        ga = s.get(Account, g.account_id) if g else None
        return SecurityGroupRuleResp(ruleid=r.uuid, protocol=r.protocol, startport=r.start_port, endport=r.end_port,
                                     icmptype=r.icmp_type, icmpcode=r.icmp_code, cidr=r.cidr,
                                     securitygroupname=g.name if g else None, account=ga.name if ga else None)
    vm_ids = list(s.scalars(select(VirtualMachine.uuid).join(SecurityGroupVmMap, SecurityGroupVmMap.vm_id ==
                                                              VirtualMachine.id)
                            .where(SecurityGroupVmMap.security_group_id == sg.id)))
    return SecurityGroupResp(id=sg.uuid, name=sg.name, description=sg.description,
                             account=acct.name if acct else None, domainid=dom.uuid if dom else None,
                             domain=dom.name if dom else None, domainpath=dom.path if dom else None,
                             ingressrule=[rr(r) for r in rules if r.type == "ingress"],
                             egressrule=[rr(r) for r in rules if r.type == "egress"],
                             virtualmachinecount=len(vm_ids), virtualmachineids=vm_ids)


class CreateSgParams(Params):
    name: str = Field(description="name of the security group")
    description: str | None = Field(None, description="the description of the security group")
    account: str | None = Field(None, description="an optional account for the security group. Must be used with "
                                "domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "security group.")
    projectid: Uuid | None = Field(None, description="Create security group for project")


@api_command("createSecurityGroup", params=CreateSgParams, result_key="securitygroup", response=SecurityGroupResp,
             event="SG.CREATE", entity="SecurityGroup", description="Creates a security group")
def create_sg(ctx: CallContext, p: CreateSgParams) -> SecurityGroupResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    svc.default_group(ctx.session, owner)
    return sg_resp(ctx, svc.create(ctx.session, owner, p.name, p.description))


class DeleteSgParams(Params):
    id: Annotated[str | None, Ref("SecurityGroup")] = Field(None, description="The ID of the security group.")
    name: str | None = Field(None, description="The ID of the security group. Mutually exclusive with id parameter")
    account: str | None = Field(None, description="the account of the security group. Must be specified with "
                                "domain ID")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the domain ID of account "
                                                                   "owning the security group")
    projectid: Uuid | None = Field(None, description="the project of the security group")


def _by_name(ctx: CallContext, name: str, account: str | None, domainid: str | None) -> SecurityGroup:
    owner = access.owner_for(ctx.session, ctx.caller, account, domainid)
    sg = ctx.session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == owner.id,
                                                        SecurityGroup.name == name, SecurityGroup.removed.is_(None)))
    if sg is None:
        raise ParamError(f"Unable to find security group by name {name}")
    return sg


@api_command("deleteSecurityGroup", params=DeleteSgParams, event="SG.DELETE", entity="SecurityGroup",
             description="Deletes security group")
def delete_sg(ctx: CallContext, p: DeleteSgParams) -> Success:
    sg = ctx.refs.get("id")
    if sg is None:
        if not p.name:
            raise ParamError("Either id or name has to be specified")
        sg = _by_name(ctx, p.name, p.account, p.domainid)
    svc.delete(ctx.session, sg)
    return Success()


class ListSgParams(TaggedListParams):
    id: Annotated[str | None, Ref("SecurityGroup", "read")] = Field(None, description="list the security group by "
                                                                    "the id provided")
    securitygroupname: str | None = Field(None, description="lists security groups by name")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="lists security groups by virtual machine id")


@api_command("listSecurityGroups", params=ListSgParams, result_key="securitygroup", response=SecurityGroupResp,
             description="Lists security groups")
def list_sgs(ctx: CallContext, p: ListSgParams) -> ListResult:
    if not ctx.caller.is_admin or not p.listall:
        acct = ctx.session.get(Account, ctx.caller.account_id)
        if acct is not None and svc.find_default_group(ctx.session, acct) is None:
            # A list runs in a read transaction, which SQLite cannot turn into a write under load ("database is
            # locked"): the account's default group is made in a write transaction of its own, then read afresh.
            with ctx.runtime.db.session() as w:
                svc.default_group(w, w.get_one(Account, acct.id))
            ctx.session.commit()
    stmt = select(SecurityGroup).where(SecurityGroup.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, SecurityGroup, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(SecurityGroup.uuid == p.id)
    if p.securitygroupname:
        stmt = stmt.where(SecurityGroup.name == p.securitygroupname)
    if p.virtualmachineid:
        stmt = stmt.where(SecurityGroup.id.in_(select(SecurityGroupVmMap.security_group_id).where(
            SecurityGroupVmMap.vm_id == ctx.refs["virtualmachineid"].id)))
    if p.keyword:
        stmt = stmt.where(SecurityGroup.name.ilike(f"%{p.keyword}%"))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, SecurityGroup.id)
    return ListResult([sg_resp(ctx, r) for r in rows], count)


class AuthorizeParams(Params):
    securitygroupid: Annotated[str | None, Ref("SecurityGroup")] = Field(None, description="The ID of the security "
                                                                         "group.")
    securitygroupname: str | None = Field(None, description="The name of the security group.")
    protocol: str | None = Field(None, description="TCP is default. UDP is the other supported protocol")
    startport: int | None = Field(None, description="start port for this rule")
    endport: int | None = Field(None, description="end port for this rule")
    icmptype: int | None = Field(None, description="type of the icmp message being sent")
    icmpcode: int | None = Field(None, description="error code for this icmp message")
    cidrlist: list[str] | None = Field(None, description="the cidr list associated.")
    usersecuritygrouplist: MapParam | None = Field(None, description="user to security group mapping")
    account: str | None = Field(None, description="an optional account for the security group.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "security group.")
    projectid: Uuid | None = Field(None, description="an optional project of the security group")


def _authorize(ctx: CallContext, p: AuthorizeParams, kind: str) -> SecurityGroupResp:
    sg = ctx.refs.get("securitygroupid")
    if sg is None:
        if not p.securitygroupname:
            raise ParamError("Either securitygroupid or securitygroupname has to be specified")
        sg = _by_name(ctx, p.securitygroupname, p.account, p.domainid)
    groups = []
    for m in p.usersecuritygrouplist or []:
        acct = ctx.session.scalar(select(Account).where(Account.name == m.get("account"), Account.removed.is_(None)))
        g = ctx.session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == (acct.id if acct else -1),
                                                           SecurityGroup.name == m.get("group")))
        if g is None:
            raise ParamError(f"Unable to find security group {m.get('group')} of account {m.get('account')}")
        groups.append(g)
    rules = svc.authorize(ctx.session, sg, kind, protocol=p.protocol, start=p.startport, end=p.endport,
                          icmp_type=p.icmptype, icmp_code=p.icmpcode, cidrs=p.cidrlist, groups=groups)
    svc.changed(ctx.runtime, ctx.session)  # enforced on the host bridges before the job reports success
    resp = sg_resp(ctx, sg)
    ids = {r.uuid for r in rules}
    key = "ingressrule" if kind == "ingress" else "egressrule"
    return resp.model_copy(update={key: [r for r in getattr(resp, key) if r.ruleid in ids]})


@api_command("authorizeSecurityGroupIngress", params=AuthorizeParams, is_async=True, result_key="securitygroup",
             response=SecurityGroupResp, event="SG.AUTH.INGRESS", entity="SecurityGroup",
             description="Authorizes a particular ingress rule for this security group")
def authorize_ingress(ctx: CallContext, p: AuthorizeParams) -> SecurityGroupResp:
    return _authorize(ctx, p, "ingress")


@api_command("authorizeSecurityGroupEgress", params=AuthorizeParams, is_async=True, result_key="securitygroup",
             response=SecurityGroupResp, event="SG.AUTH.EGRESS", entity="SecurityGroup",
             description="Authorizes a particular egress rule for this security group")
def authorize_egress(ctx: CallContext, p: AuthorizeParams) -> SecurityGroupResp:
    return _authorize(ctx, p, "egress")


class RevokeParams(Params):
    id: Uuid = Field(description="The ID of the ingress/egress rule")


def _revoke(ctx: CallContext, p: RevokeParams, kind: str) -> Success:
    r = ctx.session.scalar(select(SecurityGroupRule).where(SecurityGroupRule.uuid == p.id))
    sg = ctx.session.get(SecurityGroup, r.security_group_id) if r else None
    if r is None or r.type != kind or sg is None or not access.check_row(
            ctx.session, ctx.caller, access.entity_policy("SecurityGroup"), sg, "write"):
        raise invalid_id(p.id)
    ctx.session.delete(r)
    ctx.session.flush()
    svc.changed(ctx.runtime, ctx.session)
    return Success()


@api_command("revokeSecurityGroupIngress", params=RevokeParams, is_async=True, event="SG.REVOKE.INGRESS",
             entity="SecurityGroup", description="Deletes a particular ingress rule from this security group")
def revoke_ingress(ctx: CallContext, p: RevokeParams) -> Success:
    return _revoke(ctx, p, "ingress")


@api_command("revokeSecurityGroupEgress", params=RevokeParams, is_async=True, event="SG.REVOKE.EGRESS",
             entity="SecurityGroup", description="Deletes a particular egress rule from this security group")
def revoke_egress(ctx: CallContext, p: RevokeParams) -> Success:
    return _revoke(ctx, p, "egress")
