"""Stickiness and health-check policies of load-balancer rules (haproxy in the router)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ListParams, MapParam, Params, Ref, api_command
from management.api.cloudstack.schemas_lb_policies import (
    HealthCheckPolicyResp,
    LbHealthCheckResp,
    LbStickinessResp,
    StickinessPolicyResp,
)
from management.errors import ParamError, invalid_id
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.models.lb_policies import LbHealthCheckPolicy, LbStickinessPolicy
from management.models.network import Network
from management.models.rules import NetworkRule
from management.services import access, custom_id
from management.services.context import CallContext
from management.services.network import lb_policies as svc


def _via_rule(session: Any, caller: Any, row: Any, kind: str) -> bool:
    rule = session.get(NetworkRule, row.load_balancer_id)
    return rule is not None and access.can_access_owner(session, caller, rule.account_id, rule.domain_id)


access.register_entity("LBStickinessPolicy", LbStickinessPolicy, "owned", visible=_via_rule, soft_delete=False)
access.register_entity("LBHealthCheckPolicy", LbHealthCheckPolicy, "owned", visible=_via_rule, soft_delete=False)

LB_RULE = "LoadBalancerRule"


def _lb(rule: NetworkRule | None, uuid: str) -> NetworkRule:
    if rule is None or rule.purpose != "LoadBalancing" or rule.removed is not None:
        raise ParamError(f"Failed: LB rule id: {uuid} not present ")
    return rule


def _owner(ctx: CallContext, rule: NetworkRule) -> dict[str, Any]:
    s = ctx.session
    acct, dom = s.get(Account, rule.account_id), s.get(Domain, rule.domain_id)
    net = s.get(Network, rule.network_id)
    zone = s.get(Zone, net.zone_id) if net else None
    return {"lbruleid": rule.uuid, "account": acct.name if acct else None, "domainid": dom.uuid if dom else None,
            "domain": dom.name if dom else None, "zoneid": zone.uuid if zone else None}


def _sticky(p: LbStickinessPolicy) -> StickinessPolicyResp:
    return StickinessPolicyResp(id=p.uuid, name=p.name, methodname=p.method_name, description=p.description,
                                state="Revoked" if p.revoke else "Active", fordisplay=p.for_display,
                                params=svc.params_of(p))


def sticky_resp(ctx: CallContext, rule: NetworkRule, policies: list[LbStickinessPolicy]) -> LbStickinessResp:
    first = policies[0] if policies else None
    return LbStickinessResp(**_owner(ctx, rule), name=first.name if first else None,
                            description=first.description if first else None, state=rule.state,
                            stickinesspolicy=[_sticky(p) for p in policies])


def _check(p: LbHealthCheckPolicy) -> HealthCheckPolicyResp:
    return HealthCheckPolicyResp(id=p.uuid, pingpath=p.ping_path, description=p.description,
                                 state="Revoked" if p.revoke else "Active", responsetime=p.response_time,
                                 healthcheckinterval=p.interval, healthcheckthresshold=p.healthy_threshold,
                                 unhealthcheckthresshold=p.unhealthy_threshold, fordisplay=p.for_display)


def check_resp(ctx: CallContext, rule: NetworkRule, policies: list[LbHealthCheckPolicy]) -> LbHealthCheckResp:
    return LbHealthCheckResp(**_owner(ctx, rule), healthcheckpolicy=[_check(p) for p in policies])


def _created(ctx: CallContext, model: Any) -> Any:
    row = ctx.session.scalar(select(model).where(model.uuid == ctx.created_uuid))
    if row is None:
        raise invalid_id(ctx.created_uuid or "")
    return row


def _paged(items: list[Any], page: int | None, pagesize: int | None) -> list[Any]:
    if page and pagesize and pagesize > 0:
        return items[(page - 1) * pagesize: page * pagesize]
    return items


# ------------------------------------------------------------------------------------------------ stickiness

class CreateStickinessParams(Params):
    lbruleid: Annotated[str, Ref(LB_RULE)] = Field(description="ID of the load balancer rule the policy applies to")
    description: str | None = Field(None, description="free text describing the policy")
    name: str = Field(description="name of the policy")
    methodname: str = Field(description="stickiness method: LbCookie, AppCookie or SourceBased (see "
                            "listNetworks' Lb capability SupportedStickinessMethods)")
    param: MapParam | None = Field(None, description="method parameters, param[0].name=cookie-name "
                                   "param[0].value=session")
    fordisplay: bool | None = Field(None, description="whether the policy is shown to the end user")


def _create_sticky(ctx: CallContext, p: CreateStickinessParams) -> str:
    rule = _lb(ctx.refs["lbruleid"], p.lbruleid)
    return svc.create_stickiness(ctx.session, rule, name=p.name, method=p.methodname, description=p.description,
                                 params=p.param, for_display=p.fordisplay).uuid


@api_command("createLBStickinessPolicy", params=CreateStickinessParams, is_async=True, create=_create_sticky,
             result_key="stickinesspolicies", response=LbStickinessResp, event="LB.STICKINESSPOLICY.CREATE",
             entity="LBStickinessPolicy",
             description="Adds a stickiness policy to a load balancer rule; it replaces the rule's previous one")
def create_stickiness(ctx: CallContext, p: CreateStickinessParams) -> LbStickinessResp:
    policy = _created(ctx, LbStickinessPolicy)
    svc.apply_stickiness(ctx.session, policy)
    rule = ctx.session.get_one(NetworkRule, policy.load_balancer_id)
    return sticky_resp(ctx, rule, [policy])


class StickinessIdParams(Params):
    id: Annotated[str, Ref("LBStickinessPolicy")] = Field(description="ID of the stickiness policy")


@api_command("deleteLBStickinessPolicy", params=StickinessIdParams, is_async=True, event="LB.STICKINESSPOLICY.DELETE",
             entity="LBStickinessPolicy",
             description="Removes a stickiness policy from its load balancer rule")
def delete_stickiness(ctx: CallContext, p: StickinessIdParams) -> Success:
    svc.delete_stickiness(ctx.session, ctx.refs["id"])
    return Success()


class UpdatePolicyParams(Params):
    fordisplay: bool | None = Field(None, description="whether the policy is shown to the end user")
    customid: str | None = Field(None, description="a new UUID for the policy (root admins only)")


class UpdateStickinessParams(UpdatePolicyParams):
    id: Annotated[str, Ref("LBStickinessPolicy")] = Field(description="ID of the stickiness policy")


@api_command("updateLBStickinessPolicy", params=UpdateStickinessParams, is_async=True, since="4.4",
             create=custom_id.precheck(),
             result_key="stickinesspolicies", response=LbStickinessResp, event="LB.STICKINESSPOLICY.UPDATE",
             entity="LBStickinessPolicy", description="Updates a stickiness policy's display flag or UUID")
def update_stickiness(ctx: CallContext, p: UpdateStickinessParams) -> LbStickinessResp:
    policy: LbStickinessPolicy = ctx.refs["id"]
    custom_id.apply(ctx.session, ctx.caller, policy, p.customid)
    if p.fordisplay is not None:
        policy.for_display = p.fordisplay
    ctx.session.flush()
    return sticky_resp(ctx, ctx.session.get_one(NetworkRule, policy.load_balancer_id), [policy])


class ListStickinessParams(ListParams):
    lbruleid: Annotated[str | None, Ref(LB_RULE, "read")] = Field(None, description="ID of the load balancer rule")
    id: Annotated[str | None, Ref("LBStickinessPolicy", "read")] = Field(None, description="ID of a stickiness "
                                                                          "policy")
    fordisplay: bool | None = Field(None, description="only policies with this display flag")


@api_command("listLBStickinessPolicies", params=ListStickinessParams, result_key="stickinesspolicies",
             response=LbStickinessResp, description="Lists the stickiness policies of a load balancer rule")
def list_stickiness(ctx: CallContext, p: ListStickinessParams) -> ListResult:
    if p.lbruleid is None and p.id is None:
        return ListResult([], 0)  # CloudStack finds no rule to list policies of
    policy: LbStickinessPolicy | None = ctx.refs.get("id")
    rule = ctx.refs.get("lbruleid") or (ctx.session.get(NetworkRule, policy.load_balancer_id) if policy else None)
    if rule is None or rule.purpose != "LoadBalancing" or rule.removed is not None:
        return ListResult([], 0)
    policies = [x for x in svc.stickiness_of(ctx.session, rule.id)
                if (policy is None or x.id == policy.id) and (p.fordisplay is None or x.for_display == p.fordisplay)]
    if p.keyword:
        policies = [x for x in policies if p.keyword.lower() in x.name.lower()]
    items = [sticky_resp(ctx, rule, policies)]
    return ListResult(_paged(items, p.page, p.pagesize), len(items))


# ------------------------------------------------------------------------------------------------ health checks

class CreateHealthCheckParams(Params):
    lbruleid: Annotated[str, Ref(LB_RULE)] = Field(description="ID of the load balancer rule the policy applies to")
    description: str | None = Field(None, description="free text describing the policy")
    pingpath: str | None = Field(None, description="HTTP path requested from every member (default /)")
    responsetimeout: int | None = Field(None, description="seconds a check may take (default 2)")
    intervaltime: int | None = Field(None, description="seconds between two checks, more than the response "
                                     "timeout (default 5)")
    healthythreshold: int | None = Field(None, description="consecutive passed checks that bring a member back "
                                         "(default 2)")
    unhealthythreshold: int | None = Field(None, description="consecutive failed checks that take a member out "
                                           "(default 10)")
    fordisplay: bool | None = Field(None, description="whether the policy is shown to the end user")


def _create_check(ctx: CallContext, p: CreateHealthCheckParams) -> str:
    rule = _lb(ctx.refs["lbruleid"], p.lbruleid)
    return svc.create_health_check(ctx.session, rule, ping_path=p.pingpath, description=p.description,
                                   response_time=p.responsetimeout, interval=p.intervaltime,
                                   healthy=p.healthythreshold, unhealthy=p.unhealthythreshold,
                                   for_display=p.fordisplay).uuid


@api_command("createLBHealthCheckPolicy", params=CreateHealthCheckParams, is_async=True, create=_create_check,
             since="4.2.0", result_key="healthcheckpolicies", response=LbHealthCheckResp,
             event="LB.HEALTHCHECKPOLICY.CREATE", entity="LBHealthCheckPolicy",
             description="Adds an HTTP health check to a load balancer rule: members failing it get no traffic")
def create_health_check(ctx: CallContext, p: CreateHealthCheckParams) -> LbHealthCheckResp:
    policy = _created(ctx, LbHealthCheckPolicy)
    svc.apply_health_check(ctx.session, policy)
    return check_resp(ctx, ctx.session.get_one(NetworkRule, policy.load_balancer_id), [policy])


class HealthCheckIdParams(Params):
    id: Annotated[str, Ref("LBHealthCheckPolicy")] = Field(description="ID of the health-check policy")


@api_command("deleteLBHealthCheckPolicy", params=HealthCheckIdParams, is_async=True, since="4.2.0",
             event="LB.HEALTHCHECKPOLICY.DELETE", entity="LBHealthCheckPolicy",
             description="Removes a health-check policy from its load balancer rule")
def delete_health_check(ctx: CallContext, p: HealthCheckIdParams) -> Success:
    svc.delete_health_check(ctx.session, ctx.refs["id"])
    return Success()


class UpdateHealthCheckParams(UpdatePolicyParams):
    id: Annotated[str, Ref("LBHealthCheckPolicy")] = Field(description="ID of the health-check policy")


@api_command("updateLBHealthCheckPolicy", params=UpdateHealthCheckParams, is_async=True, since="4.4",
             create=custom_id.precheck(),
             result_key="healthcheckpolicies", response=LbHealthCheckResp, event="LB.HEALTHCHECKPOLICY.UPDATE",
             entity="LBHealthCheckPolicy", description="Updates a health-check policy's display flag or UUID")
def update_health_check(ctx: CallContext, p: UpdateHealthCheckParams) -> LbHealthCheckResp:
    policy: LbHealthCheckPolicy = ctx.refs["id"]
    custom_id.apply(ctx.session, ctx.caller, policy, p.customid)
    if p.fordisplay is not None:
        policy.for_display = p.fordisplay
    ctx.session.flush()
    return check_resp(ctx, ctx.session.get_one(NetworkRule, policy.load_balancer_id), [policy])


class ListHealthCheckParams(ListParams):
    lbruleid: Annotated[str | None, Ref(LB_RULE, "read")] = Field(None, description="ID of the load balancer rule")
    fordisplay: bool | None = Field(None, description="only policies with this display flag")
    id: Annotated[str | None, Ref("LBHealthCheckPolicy", "read")] = Field(
        None, description="ID of a health-check policy")


@api_command("listLBHealthCheckPolicies", params=ListHealthCheckParams, since="4.2.0",
             result_key="healthcheckpolicies", response=LbHealthCheckResp,
             description="Lists the health-check policies of a load balancer rule")
def list_health_checks(ctx: CallContext, p: ListHealthCheckParams) -> ListResult:
    if p.lbruleid is None and p.id is None:
        return ListResult([], 0)  # CloudStack finds no rule to list policies of
    policy: LbHealthCheckPolicy | None = ctx.refs.get("id")
    rule = ctx.refs.get("lbruleid") or (ctx.session.get(NetworkRule, policy.load_balancer_id) if policy else None)
    if rule is None or rule.purpose != "LoadBalancing" or rule.removed is not None:
        return ListResult([], 0)
    policies = [x for x in svc.health_checks_of(ctx.session, rule.id)
                if (policy is None or x.id == policy.id) and (p.fordisplay is None or x.for_display == p.fordisplay)]
    items = [check_resp(ctx, rule, policies)]
    return ListResult(_paged(items, p.page, p.pagesize), len(items))

