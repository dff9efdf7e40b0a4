"""Firewall rules: ingress on a public IP (createFirewallRule...) and egress on a network
(createEgressFirewallRule...)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_rules import FirewallRuleResp
from management.errors import invalid_id
from management.models.infra import PublicIpAddress
from management.models.network import Network
from management.models.rules import NetworkRule
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate
from management.services.network import firewall as svc

access.register_entity("FirewallRule", NetworkRule, "owned")


def fw_resp(ctx: CallContext, r: NetworkRule) -> FirewallRuleResp:
    s = ctx.session
    ip = s.get(PublicIpAddress, r.ip_address_id) if r.ip_address_id else None
    net = s.get(Network, r.network_id)
    egress = r.traffic_type == "Egress"
    return FirewallRuleResp(
        id=r.uuid, protocol=r.protocol, startport=r.start_port, endport=r.end_port,
        ipaddressid=ip.uuid if ip else None, ipaddress=ip.public_ip_address if ip else None,
        networkid=net.uuid if net else None, state=r.state, cidrlist=r.source_cidrs or "",
        destcidrlist=r.dest_cidrs if egress else None, icmptype=r.icmp_type, icmpcode=r.icmp_code,
        traffictype=r.traffic_type, fordisplay=r.for_display)


def _rule(ctx: CallContext, uuid: str | None, traffic: str, purpose: str = "Firewall") -> NetworkRule:
    r = ctx.session.scalar(select(NetworkRule).where(NetworkRule.uuid == ctx.created_uuid)) if uuid is None else \
        ctx.refs["id"]
    if r is None or r.purpose != purpose or r.traffic_type != traffic or r.removed is not None:
        raise invalid_id(uuid or ctx.created_uuid or "")
    return r


class CreateFirewallRuleParams(Params):
    ipaddressid: Annotated[str, Ref("PublicIpAddress")] = Field(description="the IP address id of the port "
                                                                "forwarding rule")
    protocol: str = Field(description="the protocol for the firewall rule. Valid values are TCP/UDP/ICMP/ALL or "
                          "valid protocol number")
    startport: int | None = Field(None, description="the starting port of firewall rule")
    endport: int | None = Field(None, description="the ending port of firewall rule")
    cidrlist: list[str] | None = Field(None, description="the CIDR list to forward traffic from. Multiple entries "
                                       "must be separated by a single comma character (,).")
    icmptype: int | None = Field(None, description="type of the ICMP message being sent")
    icmpcode: int | None = Field(None, description="error code for this icmp message")
    type: str | None = Field(None, description="type of firewall rule: system/user")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")


def _create_fw(ctx: CallContext, p: CreateFirewallRuleParams) -> str:
    r = svc.create_firewall_rule(ctx.session, ctx.refs["ipaddressid"], protocol=p.protocol, start=p.startport,
                                 end=p.endport, cidrs=p.cidrlist, icmp_type=p.icmptype, icmp_code=p.icmpcode)
    if p.fordisplay is not None:
        r.for_display = p.fordisplay
    return r.uuid


@api_command("createFirewallRule", params=CreateFirewallRuleParams, is_async=True, create=_create_fw,
             result_key="firewallrule", response=FirewallRuleResp, event="FIREWALL.OPEN", entity="FirewallRule",
             description="Creates a firewall rule for a given IP address")
def create_firewall_rule(ctx: CallContext, p: CreateFirewallRuleParams) -> FirewallRuleResp:
    return fw_resp(ctx, _rule(ctx, None, "Ingress"))


class RuleIdParams(Params):
    id: Annotated[str, Ref("FirewallRule")] = Field(description="the ID of the rule")
    accountid: Uuid | None = Field(None, description="not used: the rule's owner is known")


@api_command("deleteFirewallRule", params=RuleIdParams, is_async=True, event="FIREWALL.CLOSE",
             entity="FirewallRule", description="Deletes a firewall rule")
def delete_firewall_rule(ctx: CallContext, p: RuleIdParams) -> Success:
    svc.revoke(ctx.session, _rule(ctx, p.id, "Ingress"))
    return Success()


class ListFirewallRulesParams(TaggedListParams):
    id: Annotated[str | None, Ref("FirewallRule", "read")] = Field(None, description="Lists rule with the specified "
                                                                   "ID.")
    ipaddressid: Annotated[str | None, Ref("PublicIpAddress", "read")] = Field(
        None, description="the ID of IP address of the firewall services")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list firewall rules for "
                                                                     "certain network")
    fordisplay: bool | None = Field(None, description="list resources by display flag")
    traffictype: str | None = Field(None, description="the traffic type for the firewall rule")


def _list(ctx: CallContext, p: ListFirewallRulesParams, traffic: str) -> ListResult:
    stmt = select(NetworkRule).where(NetworkRule.removed.is_(None), NetworkRule.purpose == "Firewall",
                                     NetworkRule.traffic_type == traffic)
    stmt = access.owned_filter(ctx.session, stmt, NetworkRule, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(NetworkRule.uuid == p.id)
    if p.ipaddressid:
        stmt = stmt.where(NetworkRule.ip_address_id == ctx.refs["ipaddressid"].id)
    if p.networkid:
        stmt = stmt.where(NetworkRule.network_id == ctx.refs["networkid"].id)
    if p.fordisplay is not None:
        stmt = stmt.where(NetworkRule.for_display.is_(p.fordisplay))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, NetworkRule.id)
    return ListResult([fw_resp(ctx, r) for r in rows], count)


@api_command("listFirewallRules", params=ListFirewallRulesParams, result_key="firewallrule",
             response=FirewallRuleResp, description="Lists all firewall rules for an IP address.")
def list_firewall_rules(ctx: CallContext, p: ListFirewallRulesParams) -> ListResult:
    return _list(ctx, p, "Ingress")


class CreateEgressParams(Params):
    networkid: Annotated[str, Ref("Network")] = Field(description="the network id of the port forwarding rule")
    protocol: str = Field(description="the protocol for the firewall rule. Valid values are TCP/UDP/ICMP/ALL or "
                          "valid protocol number")
    startport: int | None = Field(None, description="the starting port of firewall rule")
    endport: int | None = Field(None, description="the ending port of firewall rule")
    cidrlist: list[str] | None = Field(None, description="the cidr list to forward traffic from. Multiple entries "
                                       "must be separated by a single comma character (,).")
    destcidrlist: list[str] | None = Field(None, description="the cidr list to forward traffic to. Multiple "
                                           "entries must be separated by a single comma character (,).")
    icmptype: int | None = Field(None, description="type of the ICMP message being sent")
    icmpcode: int | None = Field(None, description="error code for this icmp message")
    type: str | None = Field(None, description="type of firewall rule: system/user")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")


def _create_egress(ctx: CallContext, p: CreateEgressParams) -> str:
    return svc.create_egress_rule(ctx.session, ctx.refs["networkid"], protocol=p.protocol, start=p.startport,
                                  end=p.endport, cidrs=p.cidrlist, dest_cidrs=p.destcidrlist, icmp_type=p.icmptype,
                                  icmp_code=p.icmpcode).uuid


@api_command("createEgressFirewallRule", params=CreateEgressParams, is_async=True, create=_create_egress,
             result_key="firewallrule", response=FirewallRuleResp, event="FIREWALL.EGRESS.OPEN",
             entity="FirewallRule", description="Creates a egress firewall rule for a given network ")
def create_egress_rule(ctx: CallContext, p: CreateEgressParams) -> FirewallRuleResp:
    return fw_resp(ctx, _rule(ctx, None, "Egress"))


@api_command("deleteEgressFirewallRule", params=RuleIdParams, is_async=True, event="FIREWALL.EGRESS.CLOSE",
             entity="FirewallRule", description="Deletes an egress firewall rule")
def delete_egress_rule(ctx: CallContext, p: RuleIdParams) -> Success:
    svc.revoke(ctx.session, _rule(ctx, p.id, "Egress"))
    return Success()


@api_command("listEgressFirewallRules", params=ListFirewallRulesParams, result_key="firewallrule",
             response=FirewallRuleResp, description="Lists all egress firewall rules for network ID.")
def list_egress_rules(ctx: CallContext, p: ListFirewallRulesParams) -> ListResult:
    return _list(ctx, p, "Egress")
