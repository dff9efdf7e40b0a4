"""Autoscale commands: counters, conditions, autoscale policies, VM profiles and VM groups on a load balancer rule
(services.compute.autoscale keeps them and runs the engine that scales the groups)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ALL_ROLES,
    ListParams,
    Long,
    MapParam,
    OwnedListParams,
    ParamInfo,
    Params,
    Ref,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_autoscale import (
    AutoScalePolicyResp,
    AutoScaleVmGroupResp,
    AutoScaleVmProfileResp,
    ConditionResp,
    CounterResp,
)
from management.errors import invalid_id
from management.models.autoscale import (
    AutoScalePolicy,
    AutoScalePolicyCondition,
    AutoScaleVmGroup,
    AutoScaleVmGroupPolicy,
    AutoScaleVmProfile,
    Condition,
    Counter,
)
from management.models.identity import Account, Domain, User
from management.models.infra import PublicIpAddress, Zone
from management.models.network import Network
from management.models.offerings import ServiceOffering
from management.models.rules import NetworkRule
from management.models.storage import Template
from management.services import access, custom_id
from management.services.compute import autoscale as svc
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate

access.register_entity("Counter", Counter, "public")
access.register_entity("Condition", Condition, "owned")
access.register_entity("AutoScalePolicy", AutoScalePolicy, "owned")
access.register_entity("AutoScaleVmProfile", AutoScaleVmProfile, "owned")
access.register_entity("AutoScaleVmGroup", AutoScaleVmGroup, "owned")


def _owner_fields(ctx: CallContext, account_id: int, domain_id: int) -> dict[str, Any]:
    acct, dom = ctx.session.get(Account, account_id), ctx.session.get(Domain, domain_id)
    return {"account": acct.name if acct else None, "domainid": dom.uuid if dom else None,
            "domain": dom.name if dom else None, "domainpath": dom.path if dom else None}


def _created(ctx: CallContext, model: Any) -> Any:
    row = ctx.session.scalar(select(model).where(model.uuid == ctx.created_uuid))
    if row is None:
        raise invalid_id(ctx.created_uuid or "")
    return row


class OwnerParams(Params):
    account: str | None = Field(None, description="owning account, with domainid")
    projectid: Uuid | None = Field(None, description="owning project")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain of that account")


def _owner(ctx: CallContext, p: OwnerParams) -> Account:
    return access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)


# ---- counters -----------------------------------------------------------------------------------------------------

def counter_resp(c: Counter) -> CounterResp:
    return CounterResp(id=c.uuid, name=c.name, source=c.source, value=c.value, provider=c.provider)


class CreateCounterParams(Params):
    name: str = Field(description="name of the counter")
    source: str = Field(description="what measures it: cpu, memory, virtualrouter, netscaler or snmp")
    value: str = Field(description="the measured value, e.g. vm.cpu.average.percentage")
    provider: str = Field(description="network provider of the counter: VirtualRouter, VpcVirtualRouter, "
                          "Netscaler")


def _create_counter(ctx: CallContext, p: CreateCounterParams) -> str:
    return svc.create_counter(ctx.session, p.name, p.source, p.value, p.provider).uuid


@api_command("createCounter", params=CreateCounterParams, roles=ADMIN, is_async=True, create=_create_counter,
             result_key="counter", response=CounterResp, event="COUNTER.CREATE", entity="Counter",
             description="Adds a counter autoscale conditions can compare with a threshold")
def create_counter(ctx: CallContext, p: CreateCounterParams) -> CounterResp:
    return counter_resp(_created(ctx, Counter))


class ListCountersParams(ListParams):
    id: Annotated[str | None, Ref("Counter", "read")] = Field(None, description="ID of a counter")
    name: str | None = Field(None, description="only counters of this name")
    source: str | None = Field(None, description="only counters of this source")
    provider: str | None = Field(None, description="only counters of this provider")


@api_command("listCounters", params=ListCountersParams, roles=ALL_ROLES, result_key="counter",
             response=CounterResp, description="Lists the counters autoscale conditions can use")
def list_counters(ctx: CallContext, p: ListCountersParams) -> ListResult:
    stmt = select(Counter).where(Counter.removed.is_(None))
    if p.id:
        stmt = stmt.where(Counter.id == ctx.refs["id"].id)
    if p.name:
        stmt = stmt.where(Counter.name == p.name)
    if p.source:
        stmt = stmt.where(Counter.source == p.source.upper())
    if p.provider:
        stmt = stmt.where(Counter.provider.ilike(p.provider))
    stmt = keyword_filter(stmt, p.keyword, Counter.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Counter.id)
    return ListResult([counter_resp(c) for c in rows], count)


class CounterIdParams(Params):
    id: Annotated[str, Ref("Counter")] = Field(description="ID of the counter")


@api_command("deleteCounter", params=CounterIdParams, roles=ADMIN, is_async=True, event="COUNTER.DELETE",
             entity="Counter", description="Deletes a counter no condition uses")
def delete_counter(ctx: CallContext, p: CounterIdParams) -> Success:
    svc.delete_counter(ctx.session, ctx.refs["id"])
    return Success()


# ---- conditions ---------------------------------------------------------------------------------------------------

def condition_resp(ctx: CallContext, c: Condition) -> ConditionResp:
    counter = ctx.session.get_one(Counter, c.counter_id)
    return ConditionResp(id=c.uuid, threshold=c.threshold, relationaloperator=c.relational_operator,
                         counterid=counter.uuid, countername=counter.name, counter=counter_resp(counter),
                         **_owner_fields(ctx, c.account_id, c.domain_id))


class CreateConditionParams(OwnerParams):
    counterid: Annotated[str, Ref("Counter", "read")] = Field(description="the counter compared")
    relationaloperator: str = Field(description="GT, GE, LT, LE or EQ")
    threshold: Long = Field(description="the threshold the counter is compared with")


def _create_condition(ctx: CallContext, p: CreateConditionParams) -> str:
    return svc.create_condition(ctx.session, _owner(ctx, p), ctx.refs["counterid"], p.relationaloperator,
                                p.threshold).uuid


@api_command("createCondition", params=CreateConditionParams, roles=ALL_ROLES, is_async=True,
             create=_create_condition, result_key="condition", response=ConditionResp, event="CONDITION.CREATE",
             entity="Condition", description="Creates a condition: a counter compared with a threshold")
def create_condition(ctx: CallContext, p: CreateConditionParams) -> ConditionResp:
    return condition_resp(ctx, _created(ctx, Condition))


class ListConditionsParams(OwnedListParams):
    id: Annotated[str | None, Ref("Condition", "read")] = Field(None, description="ID of a condition")
    counterid: Annotated[str | None, Ref("Counter", "read")] = Field(None, description="only conditions on this "
                                                                     "counter")
    policyid: Annotated[str | None, Ref("AutoScalePolicy", "read")] = Field(None, description="only conditions of "
                                                                            "this policy")


@api_command("listConditions", params=ListConditionsParams, roles=ALL_ROLES, result_key="condition",
             response=ConditionResp, description="Lists autoscale conditions")
def list_conditions(ctx: CallContext, p: ListConditionsParams) -> ListResult:
    stmt = select(Condition).where(Condition.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, Condition, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(Condition.id == ctx.refs["id"].id)
    if p.counterid:
        stmt = stmt.where(Condition.counter_id == ctx.refs["counterid"].id)
    if p.policyid:
        stmt = stmt.where(Condition.id.in_(select(AutoScalePolicyCondition.condition_id).where(
            AutoScalePolicyCondition.policy_id == ctx.refs["policyid"].id)))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Condition.id)
    return ListResult([condition_resp(ctx, c) for c in rows], count)


class ConditionIdParams(Params):
    id: Annotated[str, Ref("Condition")] = Field(description="ID of the condition")


class UpdateConditionParams(ConditionIdParams):
    relationaloperator: str = Field(description="GT, GE, LT, LE or EQ")
    threshold: Long = Field(description="the new threshold")


@api_command("updateCondition", params=UpdateConditionParams, roles=ALL_ROLES, is_async=True, since="4.18.0",
             event="CONDITION.UPDATE", entity="Condition",
             description="Changes a condition's operator and threshold (its policies' groups must be disabled)")
def update_condition(ctx: CallContext, p: UpdateConditionParams) -> Success:
    svc.update_condition(ctx.session, ctx.refs["id"], p.relationaloperator, p.threshold)
    return Success()


@api_command("deleteCondition", params=ConditionIdParams, roles=ALL_ROLES, is_async=True,
             event="CONDITION.DELETE", entity="Condition", description="Deletes a condition no policy uses")
def delete_condition(ctx: CallContext, p: ConditionIdParams) -> Success:
    svc.delete_condition(ctx.session, ctx.refs["id"])
    return Success()


# ---- policies -----------------------------------------------------------------------------------------------------

def policy_resp(ctx: CallContext, pol: AutoScalePolicy) -> AutoScalePolicyResp:
    return AutoScalePolicyResp(id=pol.uuid, name=pol.name, action=pol.action, duration=pol.duration,
                               quiettime=pol.quiet_time,
                               conditions=[condition_resp(ctx, c) for c in svc.conditions_of(ctx.session, pol)],
                               **_owner_fields(ctx, pol.account_id, pol.domain_id))


class CreatePolicyParams(Params):
    name: str | None = Field(None, description="name of the policy")
    action: str = Field(description="ScaleUp or ScaleDown")
    duration: int = Field(description="seconds all conditions must hold before the action")
    quiettime: int | None = Field(None, description="seconds the policy rests after an action (default 300)")
    conditionids: Annotated[list[str], Ref("Condition", "read")] = Field(description="the conditions, all of "
                                                                         "which must hold")


def _create_policy(ctx: CallContext, p: CreatePolicyParams) -> str:
    conds: list[Condition] = ctx.refs["conditionids"]
    owner = ctx.session.get_one(Account, conds[0].account_id) if conds else \
        ctx.session.get_one(Account, ctx.caller.account_id)
    return svc.create_policy(ctx.session, owner, name=p.name, action=p.action, duration=p.duration,
                             quiet_time=p.quiettime, conds=conds).uuid


@api_command("createAutoScalePolicy", params=CreatePolicyParams, roles=ALL_ROLES, is_async=True,
             create=_create_policy, result_key="autoscalepolicy", response=AutoScalePolicyResp,
             event="AUTOSCALEPOLICY.CREATE", entity="AutoScalePolicy",
             description="Creates a scale-up or scale-down policy from conditions")
def create_policy(ctx: CallContext, p: CreatePolicyParams) -> AutoScalePolicyResp:
    return policy_resp(ctx, _created(ctx, AutoScalePolicy))


class ListPoliciesParams(OwnedListParams):
    id: Annotated[str | None, Ref("AutoScalePolicy", "read")] = Field(None, description="ID of a policy")
    name: str | None = Field(None, description="only policies of this name")
    conditionid: Annotated[str | None, Ref("Condition", "read")] = Field(None, description="only policies with "
                                                                         "this condition")
    action: str | None = Field(None, description="only ScaleUp or ScaleDown policies")
    vmgroupid: Annotated[str | None, Ref("AutoScaleVmGroup", "read")] = Field(None, description="only policies "
                                                                              "of this VM group")


@api_command("listAutoScalePolicies", params=ListPoliciesParams, roles=ALL_ROLES, result_key="autoscalepolicy",
             response=AutoScalePolicyResp, description="Lists autoscale policies")
def list_policies(ctx: CallContext, p: ListPoliciesParams) -> ListResult:
    stmt = select(AutoScalePolicy).where(AutoScalePolicy.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, AutoScalePolicy, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(AutoScalePolicy.id == ctx.refs["id"].id)
    if p.name:
        stmt = stmt.where(AutoScalePolicy.name == p.name)
    if p.action:
        stmt = stmt.where(AutoScalePolicy.action.ilike(p.action))
    if p.conditionid:
        stmt = stmt.where(AutoScalePolicy.id.in_(select(AutoScalePolicyCondition.policy_id).where(
            AutoScalePolicyCondition.condition_id == ctx.refs["conditionid"].id)))
    if p.vmgroupid:
        stmt = stmt.where(AutoScalePolicy.id.in_(select(AutoScaleVmGroupPolicy.policy_id).where(
            AutoScaleVmGroupPolicy.vmgroup_id == ctx.refs["vmgroupid"].id)))
    stmt = keyword_filter(stmt, p.keyword, AutoScalePolicy.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, AutoScalePolicy.id)
    return ListResult([policy_resp(ctx, r) for r in rows], count)


class PolicyIdParams(Params):
    id: Annotated[str, Ref("AutoScalePolicy")] = Field(description="ID of the policy")


class UpdatePolicyParams(PolicyIdParams):
    name: str | None = Field(None, description="new name")
    duration: int | None = Field(None, description="new duration")
    quiettime: int | None = Field(None, description="new quiet time")
    conditionids: Annotated[list[str] | None, Ref("Condition", "read")] = Field(None, description="new conditions")


@api_command("updateAutoScalePolicy", params=UpdatePolicyParams, roles=ALL_ROLES, is_async=True,
             result_key="autoscalepolicy", response=AutoScalePolicyResp, event="AUTOSCALEPOLICY.UPDATE",
             entity="AutoScalePolicy", description="Changes a policy (its groups must be disabled)")
def update_policy(ctx: CallContext, p: UpdatePolicyParams) -> AutoScalePolicyResp:
    return policy_resp(ctx, svc.update_policy(ctx.session, ctx.refs["id"], name=p.name, duration=p.duration,
                                              quiet_time=p.quiettime, conds=ctx.refs.get("conditionids")))


@api_command("deleteAutoScalePolicy", params=PolicyIdParams, roles=ALL_ROLES, is_async=True,
             event="AUTOSCALEPOLICY.DELETE", entity="AutoScalePolicy",
             description="Deletes a policy no VM group uses")
def delete_policy(ctx: CallContext, p: PolicyIdParams) -> Success:
    svc.delete_policy(ctx.session, ctx.refs["id"])
    return Success()


# ---- VM profiles --------------------------------------------------------------------------------------------------

def profile_resp(ctx: CallContext, pr: AutoScaleVmProfile) -> AutoScaleVmProfileResp:
    s = ctx.session
    zone, so = s.get(Zone, pr.zone_id), s.get(ServiceOffering, pr.service_offering_id)
    tmpl = s.get(Template, pr.template_id)
    user = s.get(User, pr.autoscale_user_id) if pr.autoscale_user_id else None
    return AutoScaleVmProfileResp(
        id=pr.uuid, zoneid=zone.uuid if zone else None, serviceofferingid=so.uuid if so else None,
        templateid=tmpl.uuid if tmpl else None,
        otherdeployparams=json.loads(pr.other_deploy_params) if pr.other_deploy_params else None,
        expungevmgraceperiod=pr.expunge_vm_grace_period,
        counterparam=json.loads(pr.counter_params) if pr.counter_params else None, userdata=pr.user_data,
        userdataid=pr.user_data_id, userdatadetails=pr.user_data_details, autoscaleuserid=user.uuid if user else None,
        fordisplay=pr.for_display, **_owner_fields(ctx, pr.account_id, pr.domain_id))


class ProfileCommonParams(Params):
    otherdeployparams: MapParam | None = Field(None, description="further deployVirtualMachine parameters "
                                               "(networkids, keypairs ...), otherdeployparams[0].name=...&"
                                               "otherdeployparams[0].value=...")
    expungevmgraceperiod: int | None = Field(None, description="seconds a member leaving the group keeps serving "
                                             "(default 120)")
    counterparam: MapParam | None = Field(None, description="parameters of the counters (SNMP)")
    userdata: Annotated[str | None, ParamInfo(length=1048576)] = Field(None, description="user data of new "
                                                                       "members, base64")
    userdataid: Uuid | None = Field(None, description="registered user data of new members")
    userdatadetails: MapParam | None = Field(None, description="variables of the registered user data")
    autoscaleuserid: Annotated[str | None, Ref("User", "read")] = Field(None, description="the user new members "
                                                                        "are deployed as")
    fordisplay: bool | None = Field(None, description="whether the profile is shown to the end user")


class CreateProfileParams(ProfileCommonParams, OwnerParams):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="zone new members are deployed in")
    serviceofferingid: Annotated[str, Ref("ServiceOffering", "read")] = Field(description="service offering of "
                                                                              "new members")
    templateid: Annotated[str, Ref("Template", "read")] = Field(description="template of new members")


def _create_profile(ctx: CallContext, p: CreateProfileParams) -> str:
    user = ctx.refs.get("autoscaleuserid")
    return svc.create_profile(
        ctx.session, _owner(ctx, p), ctx.refs["zoneid"], ctx.refs["serviceofferingid"], ctx.refs["templateid"],
        other_deploy_params=p.otherdeployparams, counter_params=p.counterparam, grace=p.expungevmgraceperiod,
        user_data=vm_service.validate_userdata(p.userdata), user_data_id=p.userdataid,
        user_data_details=p.userdatadetails, autoscale_user_id=user.id if user else None,
        for_display=p.fordisplay).uuid


@api_command("createAutoScaleVmProfile", params=CreateProfileParams, roles=ALL_ROLES, is_async=True,
             create=_create_profile, result_key="autoscalevmprofile", response=AutoScaleVmProfileResp,
             event="AUTOSCALEVMPROFILE.CREATE", entity="AutoScaleVmProfile",
             description="Creates the profile new members of an autoscale VM group are deployed from")
def create_profile(ctx: CallContext, p: CreateProfileParams) -> AutoScaleVmProfileResp:
    return profile_resp(ctx, _created(ctx, AutoScaleVmProfile))


class ListProfilesParams(OwnedListParams):
    id: Annotated[str | None, Ref("AutoScaleVmProfile", "read")] = Field(None, description="ID of a profile")
    templateid: Annotated[str | None, Ref("Template", "read")] = Field(None, description="only profiles of this "
                                                                       "template")
    serviceofferingid: Annotated[str | None, Ref("ServiceOffering", "read")] = Field(None, description="only "
                                                                                     "profiles of this offering")
    otherdeployparams: str | None = Field(None, description="only profiles whose other parameters mention this")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only profiles of this zone")
    fordisplay: bool | None = Field(None, description="only profiles with this display flag")


@api_command("listAutoScaleVmProfiles", params=ListProfilesParams, roles=ALL_ROLES,
             result_key="autoscalevmprofile", response=AutoScaleVmProfileResp,
             description="Lists autoscale VM profiles")
def list_profiles(ctx: CallContext, p: ListProfilesParams) -> ListResult:
    stmt = select(AutoScaleVmProfile).where(AutoScaleVmProfile.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, AutoScaleVmProfile, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(AutoScaleVmProfile.id == ctx.refs["id"].id)
    if p.templateid:
        stmt = stmt.where(AutoScaleVmProfile.template_id == ctx.refs["templateid"].id)
    if p.serviceofferingid:
        stmt = stmt.where(AutoScaleVmProfile.service_offering_id == ctx.refs["serviceofferingid"].id)
    if p.zoneid:
        stmt = stmt.where(AutoScaleVmProfile.zone_id == ctx.refs["zoneid"].id)
    if p.otherdeployparams:
        stmt = stmt.where(AutoScaleVmProfile.other_deploy_params.contains(p.otherdeployparams))
    if p.fordisplay is not None:
        stmt = stmt.where(AutoScaleVmProfile.for_display.is_(p.fordisplay))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, AutoScaleVmProfile.id)
    return ListResult([profile_resp(ctx, r) for r in rows], count)


class ProfileIdParams(Params):
    id: Annotated[str, Ref("AutoScaleVmProfile")] = Field(description="ID of the VM profile")


class UpdateProfileParams(ProfileCommonParams, ProfileIdParams):
    serviceofferingid: Annotated[str | None, Ref("ServiceOffering", "read")] = Field(None, description="new "
                                                                                     "service offering")
    templateid: Annotated[str | None, Ref("Template", "read")] = Field(None, description="new template")
    customid: str | None = Field(None, description="a new UUID for the profile (root admins only)")


@api_command("updateAutoScaleVmProfile", params=UpdateProfileParams, roles=ALL_ROLES, is_async=True,
             create=custom_id.precheck(), result_key="autoscalevmprofile", response=AutoScaleVmProfileResp,
             event="AUTOSCALEVMPROFILE.UPDATE", entity="AutoScaleVmProfile",
             description="Changes a VM profile (its groups must be disabled)")
def update_profile(ctx: CallContext, p: UpdateProfileParams) -> AutoScaleVmProfileResp:
    prof: AutoScaleVmProfile = ctx.refs["id"]
    so, tmpl, user = ctx.refs.get("serviceofferingid"), ctx.refs.get("templateid"), ctx.refs.get("autoscaleuserid")
    svc.update_profile(ctx.session, prof, service_offering_id=so.id if so else None,
                       template_id=tmpl.id if tmpl else None, user_data=vm_service.validate_userdata(p.userdata),
                       user_data_id=p.userdataid, autoscale_user_id=user.id if user else None,
                       for_display=p.fordisplay, grace=p.expungevmgraceperiod,
                       other_deploy_params=p.otherdeployparams, counter_params=p.counterparam,
                       user_data_details=p.userdatadetails)
    custom_id.apply(ctx.session, ctx.caller, prof, p.customid)
    return profile_resp(ctx, prof)


@api_command("deleteAutoScaleVmProfile", params=ProfileIdParams, roles=ALL_ROLES, is_async=True,
             event="AUTOSCALEVMPROFILE.DELETE", entity="AutoScaleVmProfile",
             description="Deletes a VM profile no group uses")
def delete_profile(ctx: CallContext, p: ProfileIdParams) -> Success:
    svc.delete_profile(ctx.session, ctx.refs["id"])
    return Success()


# ---- VM groups ----------------------------------------------------------------------------------------------------

def group_resp(ctx: CallContext, g: AutoScaleVmGroup) -> AutoScaleVmGroupResp:
    s = ctx.session
    rule = s.get(NetworkRule, g.load_balancer_id)
    net = s.get(Network, rule.network_id) if rule and rule.network_id else None
    ip = s.get(PublicIpAddress, rule.ip_address_id) if rule and rule.ip_address_id else None
    prof = s.get(AutoScaleVmProfile, g.profile_id)
    return AutoScaleVmGroupResp(
        id=g.uuid, name=g.name, lbruleid=rule.uuid if rule else None, associatednetworkid=net.uuid if net else None,
        associatednetworkname=net.name if net else None, lbprovider="VirtualRouter",
        publicipid=ip.uuid if ip else None, publicip=ip.public_ip_address if ip else None,
        publicport=str(rule.start_port) if rule and rule.start_port is not None else None,
        privateport=str(rule.dest_start_port) if rule and rule.dest_start_port is not None else None,
        vmprofileid=prof.uuid if prof else None, minmembers=g.min_members, maxmembers=g.max_members,
        availablevirtualmachinecount=len(svc.members(s, g)), interval=g.interval, state=g.state,
        scaleuppolicies=[policy_resp(ctx, x) for x in svc.policies_of(s, g, "ScaleUp")],
        scaledownpolicies=[policy_resp(ctx, x) for x in svc.policies_of(s, g, "ScaleDown")],
        fordisplay=g.for_display, created=g.created, hasannotations=False,
        **_owner_fields(ctx, g.account_id, g.domain_id))


class GroupCommonParams(Params):
    name: str | None = Field(None, description="name of the VM group")
    interval: int | None = Field(None, description="seconds between two evaluations of the policies (default 30)")
    fordisplay: bool | None = Field(None, description="whether the group is shown to the end user")


class CreateGroupParams(GroupCommonParams):
    lbruleid: Annotated[str, Ref("FirewallRule")] = Field(description="the load balancer rule the group serves")
    minmembers: int = Field(description="the fewest members the group keeps")
    maxmembers: int = Field(description="the most members the group grows to")
    scaleuppolicyids: Annotated[list[str], Ref("AutoScalePolicy", "read")] = Field(description="scale-up "
                                                                                   "policies")
    scaledownpolicyids: Annotated[list[str], Ref("AutoScalePolicy", "read")] = Field(description="scale-down "
                                                                                     "policies")
    vmprofileid: Annotated[str, Ref("AutoScaleVmProfile", "read")] = Field(description="the profile new members "
                                                                           "are deployed from")


def _create_group(ctx: CallContext, p: CreateGroupParams) -> str:
    return svc.create_group(ctx.session, ctx.refs["lbruleid"], ctx.refs["vmprofileid"], name=p.name,
                            lo=p.minmembers, hi=p.maxmembers, interval=p.interval, up=ctx.refs["scaleuppolicyids"],
                            down=ctx.refs["scaledownpolicyids"], for_display=p.fordisplay).uuid


def _filled(ctx: CallContext, group: AutoScaleVmGroup) -> AutoScaleVmGroupResp:
    """Brings an enabled group up to its minimum (deploys), then answers it."""
    gid, uuid = group.id, group.uuid
    vm_service.release(ctx.session)
    svc.fill_minimum(ctx.runtime, gid)
    ctx.session.expire_all()
    row = ctx.session.scalar(select(AutoScaleVmGroup).where(AutoScaleVmGroup.uuid == uuid))
    assert row is not None
    return vm_service.done(ctx.session, group_resp(ctx, row))  # type: ignore[no-any-return]


@api_command("createAutoScaleVmGroup", params=CreateGroupParams, roles=ALL_ROLES, is_async=True,
             create=_create_group, result_key="autoscalevmgroup", response=AutoScaleVmGroupResp,
             event="AUTOSCALEVMGROUP.CREATE", entity="AutoScaleVmGroup",
             description="Creates an autoscale VM group on a load balancer rule and deploys its minimum members")
def create_group(ctx: CallContext, p: CreateGroupParams) -> AutoScaleVmGroupResp:
    return _filled(ctx, _created(ctx, AutoScaleVmGroup))


class ListGroupsParams(OwnedListParams):
    id: Annotated[str | None, Ref("AutoScaleVmGroup", "read")] = Field(None, description="ID of a VM group")
    name: str | None = Field(None, description="only groups of this name")
    lbruleid: Annotated[str | None, Ref("FirewallRule", "read")] = Field(None, description="only the group of this "
                                                                         "load balancer rule")
    vmprofileid: Annotated[str | None, Ref("AutoScaleVmProfile", "read")] = Field(None, description="only groups "
                                                                                  "of this profile")
    policyid: Annotated[str | None, Ref("AutoScalePolicy", "read")] = Field(None, description="only groups with "
                                                                            "this policy")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only groups of this zone")
    fordisplay: bool | None = Field(None, description="only groups with this display flag")


@api_command("listAutoScaleVmGroups", params=ListGroupsParams, roles=ALL_ROLES, result_key="autoscalevmgroup",
             response=AutoScaleVmGroupResp, description="Lists autoscale VM groups")
def list_groups(ctx: CallContext, p: ListGroupsParams) -> ListResult:
    stmt = select(AutoScaleVmGroup).where(AutoScaleVmGroup.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, AutoScaleVmGroup, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(AutoScaleVmGroup.id == ctx.refs["id"].id)
    if p.name:
        stmt = stmt.where(AutoScaleVmGroup.name == p.name)
    if p.lbruleid:
        stmt = stmt.where(AutoScaleVmGroup.load_balancer_id == ctx.refs["lbruleid"].id)
    if p.vmprofileid:
        stmt = stmt.where(AutoScaleVmGroup.profile_id == ctx.refs["vmprofileid"].id)
    if p.policyid:
        stmt = stmt.where(AutoScaleVmGroup.id.in_(select(AutoScaleVmGroupPolicy.vmgroup_id).where(
            AutoScaleVmGroupPolicy.policy_id == ctx.refs["policyid"].id)))
    if p.zoneid:
        stmt = stmt.where(AutoScaleVmGroup.zone_id == ctx.refs["zoneid"].id)
    if p.fordisplay is not None:
        stmt = stmt.where(AutoScaleVmGroup.for_display.is_(p.fordisplay))
    stmt = keyword_filter(stmt, p.keyword, AutoScaleVmGroup.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, AutoScaleVmGroup.id)
    return ListResult([group_resp(ctx, r) for r in rows], count)


class GroupIdParams(Params):
    id: Annotated[str, Ref("AutoScaleVmGroup")] = Field(description="ID of the VM group")


class UpdateGroupParams(GroupCommonParams, GroupIdParams):
    minmembers: int | None = Field(None, description="new minimum")
    maxmembers: int | None = Field(None, description="new maximum")
    scaleuppolicyids: Annotated[list[str] | None, Ref("AutoScalePolicy", "read")] = Field(None, description="new "
                                                                                          "scale-up policies")
    scaledownpolicyids: Annotated[list[str] | None, Ref("AutoScalePolicy", "read")] = Field(
        None, description="new scale-down policies")
    customid: str | None = Field(None, description="a new UUID for the group (root admins only)")


@api_command("updateAutoScaleVmGroup", params=UpdateGroupParams, roles=ALL_ROLES, is_async=True,
             create=custom_id.precheck(), result_key="autoscalevmgroup", response=AutoScaleVmGroupResp,
             event="AUTOSCALEVMGROUP.UPDATE", entity="AutoScaleVmGroup",
             description="Changes a VM group (bounds, interval and policies only while it is disabled)")
def update_group(ctx: CallContext, p: UpdateGroupParams) -> AutoScaleVmGroupResp:
    group: AutoScaleVmGroup = ctx.refs["id"]
    svc.update_group(ctx.session, group, name=p.name, lo=p.minmembers, hi=p.maxmembers, interval=p.interval,
                     up=ctx.refs.get("scaleuppolicyids"), down=ctx.refs.get("scaledownpolicyids"),
                     for_display=p.fordisplay)
    custom_id.apply(ctx.session, ctx.caller, group, p.customid)
    return group_resp(ctx, group)


@api_command("enableAutoScaleVmGroup", params=GroupIdParams, roles=ALL_ROLES, is_async=True,
             result_key="autoscalevmgroup", response=AutoScaleVmGroupResp, event="AUTOSCALEVMGROUP.ENABLE",
             entity="AutoScaleVmGroup", description="Enables a disabled VM group (its policies are evaluated again)")
def enable_group(ctx: CallContext, p: GroupIdParams) -> AutoScaleVmGroupResp:
    return _filled(ctx, svc.set_state(ctx.session, ctx.refs["id"], True))


@api_command("disableAutoScaleVmGroup", params=GroupIdParams, roles=ALL_ROLES, is_async=True,
             result_key="autoscalevmgroup", response=AutoScaleVmGroupResp, event="AUTOSCALEVMGROUP.DISABLE",
             entity="AutoScaleVmGroup", description="Disables a VM group: it keeps its members, nothing scales")
def disable_group(ctx: CallContext, p: GroupIdParams) -> AutoScaleVmGroupResp:
    return group_resp(ctx, svc.set_state(ctx.session, ctx.refs["id"], False))


class DeleteGroupParams(GroupIdParams):
    cleanup: bool | None = Field(None, description="true destroys the group's members too")


@api_command("deleteAutoScaleVmGroup", params=DeleteGroupParams, roles=ALL_ROLES, is_async=True,
             event="AUTOSCALEVMGROUP.DELETE", entity="AutoScaleVmGroup",
             description="Deletes a VM group (with cleanup=true its members are destroyed)")
def delete_group(ctx: CallContext, p: DeleteGroupParams) -> Success:
    gid = ctx.refs["id"].id
    vm_service.release(ctx.session)
    svc.delete_group(ctx.runtime, gid, bool(p.cleanup))
    return vm_service.done(ctx.session, Success())  # type: ignore[no-any-return]
