"""IP forwarding rules (static NAT port ranges) and the update commands of firewall rules and security groups
(display flag, custom id, name); updateLoadBalancer is internal_lb's."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.firewall import fw_resp
from management.api.cloudstack.commands.network.nat import ip_forwarding_resp
from management.api.cloudstack.commands.network.security_groups import sg_resp
from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_rules import FirewallRuleResp, IpForwardingRuleResp, SecurityGroupResp
from management.errors import ParamError
from management.models.infra import PublicIpAddress
from management.models.rules import NetworkRule, SecurityGroup
from management.services import custom_id
from management.services.context import CallContext
from management.services.network import ip_forwarding

# ---- IP forwarding (static NAT rules) -----------------------------------------------------------------------------

class CreateIpForwardingParams(Params):
    ipaddressid: Annotated[str, Ref("PublicIpAddress")] = Field(description="ID of the public IP with static NAT")
    startport: int = Field(description="first port of the range")
    endport: int | None = Field(None, description="last port of the range (default: startport)")
    protocol: str = Field(description="tcp or udp")
    openfirewall: bool = Field(True, description="open the firewall for the range (default true)")
    cidrlist: list[str] | None = Field(None, description="not used: the firewall rule admits every source, as in "
                                       "CloudStack")


def _create_ipf(ctx: CallContext, p: CreateIpForwardingParams) -> str:
    return ip_forwarding.create(ctx.session, ctx.refs["ipaddressid"], protocol=p.protocol, start=p.startport,
                                end=p.endport, open_firewall=p.openfirewall).uuid


@api_command("createIpForwardingRule", params=CreateIpForwardingParams, is_async=True, create=_create_ipf,
             result_key="ipforwardingrule", response=IpForwardingRuleResp, event="NET.RULEADD", entity="FirewallRule",
             description="Creates a forwarding rule for a port range of a public IP with static NAT")
def create_ip_forwarding(ctx: CallContext, p: CreateIpForwardingParams) -> IpForwardingRuleResp:
    rule = ip_forwarding.get(ctx.session, ctx.created_uuid or "")
    return ip_forwarding_resp(ctx, ctx.session.get_one(PublicIpAddress, rule.ip_address_id), rule)


class DeleteIpForwardingParams(Params):
    id: Annotated[str, Ref("FirewallRule")] = Field(description="ID of the IP forwarding rule")
    accountid: Uuid | None = Field(None, description="not used: the rule's owner is known")


@api_command("deleteIpForwardingRule", params=DeleteIpForwardingParams, is_async=True, event="NET.RULEDELETE",
             entity="FirewallRule", description="Deletes an IP forwarding rule and the firewall opening it made")
def delete_ip_forwarding(ctx: CallContext, p: DeleteIpForwardingParams) -> Success:
    from management.services.network import firewall

    firewall.revoke(ctx.session, ip_forwarding.get(ctx.session, p.id))
    return Success()


# ---- firewall rule updates ----------------------------------------------------------------------------------------

class UpdateRuleParams(Params):
    id: Annotated[str, Ref("FirewallRule")] = Field(description="ID of the rule")
    accountid: Uuid | None = Field(None, description="not used: the rule's owner is known")
    fordisplay: bool | None = Field(None, description="whether the rule is shown to the end user")
    customid: str | None = Field(None, description="a new UUID for the rule (root admins only)")


def update_rule(ctx: CallContext, p: UpdateRuleParams, purpose: str, traffic: str, what: str) -> NetworkRule:
    rule: NetworkRule = ctx.refs["id"]
    if rule.purpose != purpose or rule.traffic_type != traffic:
        raise ParamError(f"Unable to find {what} with id {p.id}")
    custom_id.apply(ctx.session, ctx.caller, rule, p.customid)
    if p.fordisplay is not None:
        rule.for_display = p.fordisplay
    ctx.session.flush()
    return rule


@api_command("updateFirewallRule", params=UpdateRuleParams, is_async=True, create=custom_id.precheck(),
             since="4.4", result_key="firewallrule", response=FirewallRuleResp, event="FIREWALL.UPDATE",
             entity="FirewallRule", description="Updates a firewall rule's display flag or UUID")
def update_firewall_rule(ctx: CallContext, p: UpdateRuleParams) -> FirewallRuleResp:
    return fw_resp(ctx, update_rule(ctx, p, "Firewall", "Ingress", "firewall rule"))


@api_command("updateEgressFirewallRule", params=UpdateRuleParams, is_async=True, create=custom_id.precheck(),
             since="4.4", result_key="firewallrule", response=FirewallRuleResp, event="FIREWALL.EGRESS.UPDATE",
             entity="FirewallRule", description="Updates an egress firewall rule's display flag or UUID")
def update_egress_rule(ctx: CallContext, p: UpdateRuleParams) -> FirewallRuleResp:
    return fw_resp(ctx, update_rule(ctx, p, "Firewall", "Egress", "egress firewall rule"))


# ---- security groups ----------------------------------------------------------------------------------------------

class UpdateSecurityGroupParams(Params):
    id: Annotated[str, Ref("SecurityGroup")] = Field(description="ID of the security group")
    name: str | None = Field(None, description="new name of the security group")
    customid: str | None = Field(None, description="a new UUID for the security group (root admins only)")


@api_command("updateSecurityGroup", params=UpdateSecurityGroupParams, roles=ADMIN, since="4.14.0.0",
             result_key="securitygroup", response=SecurityGroupResp, event="SG.UPDATE", entity="SecurityGroup",
             description="Renames a security group (the default group keeps its name) or changes its UUID")
def update_security_group(ctx: CallContext, p: UpdateSecurityGroupParams) -> SecurityGroupResp:
    sg: SecurityGroup = ctx.refs["id"]
    custom_id.apply(ctx.session, ctx.caller, sg, p.customid)
    if p.name is not None and p.name != sg.name:
        if p.name.lower() == "default":
            raise ParamError("The security group name default is reserved")
        if sg.name.lower() == "default":
            raise ParamError("The default security group cannot be renamed")
        dup = ctx.session.scalar(select(SecurityGroup.id).where(SecurityGroup.account_id == sg.account_id,
                                                                SecurityGroup.name == p.name,
                                                                SecurityGroup.removed.is_(None)))
        if dup is not None:
            raise ParamError(f"The security group with name {p.name} already exists.")
        sg.name = p.name
    ctx.session.flush()
    return sg_resp(ctx, sg)
