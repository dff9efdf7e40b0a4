"""Routed networks: IPv4 subnets of a zone (create/list/update/dedicate/release/delete), guest subnets carved
from them, routing firewall rules of ROUTED networks, IPv6 guest prefixes of a zone and IPv6 firewall rules of
DualStack networks."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.firewall import fw_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ALL_ROLES,
    ListParams,
    Params,
    Ref,
    TaggedListParams,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_routing import GuestIpv4SubnetResp, Ipv6PrefixResp, ZoneIpv4SubnetResp
from management.api.cloudstack.schemas_rules import FirewallRuleResp
from management.errors import ParamError, invalid_id
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.models.routing import GuestIpv4Subnet, Ipv6GuestPrefix, ZoneIpv4Subnet
from management.models.rules import NetworkRule
from management.services import access, custom_id
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate
from management.services.network import routed as svc

access.register_entity("DataCenterIpv4Subnet", ZoneIpv4Subnet, "public")
access.register_entity("Ipv4SubnetForGuestNetwork", GuestIpv4Subnet, "public")
access.register_entity("DataCenterGuestIpv6Prefix", Ipv6GuestPrefix, "public")


def _owner(ctx: CallContext, account: str | None, domainid: str | None) -> tuple[Account | None, int | None]:
    if account is not None:
        return access.owner_for(ctx.session, ctx.caller, account, domainid), None
    return None, ctx.refs["domainid"].id if domainid else None


def _created(ctx: CallContext, model: Any) -> Any:
    row = ctx.session.scalar(select(model).where(model.uuid == ctx.created_uuid))
    if row is None:
        raise invalid_id(ctx.created_uuid or "")
    return row


# ---- zone subnets -------------------------------------------------------------------------------------------------

def zone_subnet_resp(ctx: CallContext, r: ZoneIpv4Subnet) -> ZoneIpv4SubnetResp:
    s = ctx.session
    zone = s.get(Zone, r.zone_id)
    acct = s.get(Account, r.account_id) if r.account_id else None
    dom = s.get(Domain, r.domain_id) if r.domain_id else None
    return ZoneIpv4SubnetResp(id=r.uuid, subnet=r.subnet, zoneid=zone.uuid if zone else None,
                              zonename=zone.name if zone else None, created=r.created,
                              account=acct.name if acct else None, domainid=dom.uuid if dom else None,
                              domain=dom.name if dom else None)


class OwnerParams(Params):
    account: str | None = Field(None, description="account the subnet is dedicated to, with domainid")
    projectid: Uuid | None = Field(None, description="project the subnet is dedicated to")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain the subnet is "
                                                                   "dedicated to")


class CreateZoneSubnetParams(OwnerParams):
    zoneid: Annotated[str, Ref("Zone")] = Field(description="zone of the subnet")
    subnet: str = Field(description="the subnet, a CIDR")


def _create_zone_subnet(ctx: CallContext, p: CreateZoneSubnetParams) -> str:
    owner, dom = _owner(ctx, p.account, p.domainid)
    return svc.create_zone_subnet(ctx.session, ctx.refs["zoneid"], p.subnet, owner, dom).uuid


@api_command("createIpv4SubnetForZone", params=CreateZoneSubnetParams, roles=ADMIN, is_async=True,
             create=_create_zone_subnet, since="4.20.0", result_key="zoneipv4subnet", response=ZoneIpv4SubnetResp,
             event="ZONE.IP4.SUBNET.CREATE", entity="DataCenterIpv4Subnet",
             description="Adds an IPv4 subnet ROUTED networks of the zone take their CIDRs from")
def create_zone_subnet(ctx: CallContext, p: CreateZoneSubnetParams) -> ZoneIpv4SubnetResp:
    return zone_subnet_resp(ctx, _created(ctx, ZoneIpv4Subnet))


class ZoneSubnetIdParams(Params):
    id: Annotated[str, Ref("DataCenterIpv4Subnet")] = Field(description="ID of the zone IPv4 subnet")


class UpdateZoneSubnetParams(ZoneSubnetIdParams):
    subnet: str = Field(description="the new subnet, a CIDR containing every guest subnet carved from it")


@api_command("updateIpv4SubnetForZone", params=UpdateZoneSubnetParams, roles=ADMIN, is_async=True, since="4.20.0",
             result_key="zoneipv4subnet", response=ZoneIpv4SubnetResp, event="ZONE.IP4.SUBNET.UPDATE",
             entity="DataCenterIpv4Subnet", description="Changes a zone IPv4 subnet")
def update_zone_subnet(ctx: CallContext, p: UpdateZoneSubnetParams) -> ZoneIpv4SubnetResp:
    return zone_subnet_resp(ctx, svc.update_zone_subnet(ctx.session, ctx.refs["id"], p.subnet))


class DedicateZoneSubnetParams(ZoneSubnetIdParams, OwnerParams):
    pass


@api_command("dedicateIpv4SubnetForZone", params=DedicateZoneSubnetParams, roles=ADMIN, is_async=True,
             since="4.20.0", result_key="zoneipv4subnet", response=ZoneIpv4SubnetResp,
             event="ZONE.IP4.SUBNET.DEDICATE", entity="DataCenterIpv4Subnet",
             description="Dedicates a zone IPv4 subnet to a domain or an account")
def dedicate_zone_subnet(ctx: CallContext, p: DedicateZoneSubnetParams) -> ZoneIpv4SubnetResp:
    owner, dom = _owner(ctx, p.account, p.domainid)
    return zone_subnet_resp(ctx, svc.dedicate_zone_subnet(ctx.session, ctx.refs["id"], owner, dom))


@api_command("releaseIpv4SubnetForZone", params=ZoneSubnetIdParams, roles=ADMIN, is_async=True, since="4.20.0",
             result_key="zoneipv4subnet", response=ZoneIpv4SubnetResp, event="ZONE.IP4.SUBNET.RELEASE",
             entity="DataCenterIpv4Subnet", description="Ends the dedication of a zone IPv4 subnet")
def release_zone_subnet(ctx: CallContext, p: ZoneSubnetIdParams) -> ZoneIpv4SubnetResp:
    return zone_subnet_resp(ctx, svc.release_zone_subnet(ctx.session, ctx.refs["id"]))


@api_command("deleteIpv4SubnetForZone", params=ZoneSubnetIdParams, roles=ADMIN, is_async=True, since="4.20.0",
             event="ZONE.IP4.SUBNET.DELETE", entity="DataCenterIpv4Subnet",
             description="Deletes a zone IPv4 subnet no network uses")
def delete_zone_subnet(ctx: CallContext, p: ZoneSubnetIdParams) -> Success:
    svc.delete_zone_subnet(ctx.session, ctx.refs["id"])
    return Success()


class ListZoneSubnetsParams(ListParams, OwnerParams):
    id: Annotated[str | None, Ref("DataCenterIpv4Subnet", "read")] = Field(None, description="ID of a subnet")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only subnets of this zone")
    subnet: str | None = Field(None, description="only this subnet")


@api_command("listIpv4SubnetsForZone", params=ListZoneSubnetsParams, roles=ADMIN, since="4.20.0",
             result_key="zoneipv4subnet", response=ZoneIpv4SubnetResp, description="Lists the zones' IPv4 subnets")
def list_zone_subnets(ctx: CallContext, p: ListZoneSubnetsParams) -> ListResult:
    stmt = select(ZoneIpv4Subnet).where(ZoneIpv4Subnet.removed.is_(None))
    if p.id:
        stmt = stmt.where(ZoneIpv4Subnet.id == ctx.refs["id"].id)
    if p.zoneid:
        stmt = stmt.where(ZoneIpv4Subnet.zone_id == ctx.refs["zoneid"].id)
    if p.subnet:
        stmt = stmt.where(ZoneIpv4Subnet.subnet == p.subnet)
    if p.domainid:
        stmt = stmt.where(ZoneIpv4Subnet.domain_id == ctx.refs["domainid"].id)
    if p.account:
        owner, _ = _owner(ctx, p.account, p.domainid)
        stmt = stmt.where(ZoneIpv4Subnet.account_id == (owner.id if owner else None))
    stmt = keyword_filter(stmt, p.keyword, ZoneIpv4Subnet.subnet)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ZoneIpv4Subnet.id)
    return ListResult([zone_subnet_resp(ctx, r) for r in rows], count)


# ---- guest subnets ------------------------------------------------------------------------------------------------

def guest_subnet_resp(ctx: CallContext, g: GuestIpv4Subnet) -> GuestIpv4SubnetResp:
    s = ctx.session
    parent = s.get(ZoneIpv4Subnet, g.parent_id) if g.parent_id else None
    net = s.get(Network, g.network_id) if g.network_id else None
    zone_id = parent.zone_id if parent else (net.zone_id if net else None)
    zone = s.get(Zone, zone_id) if zone_id else None
    return GuestIpv4SubnetResp(id=g.uuid, parentid=parent.uuid if parent else None,
                               parentsubnet=parent.subnet if parent else None, subnet=g.subnet, state=g.state,
                               zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
                               networkid=net.uuid if net else None, networkname=net.name if net else None,
                               created=g.created, removed=g.removed, allocated=g.allocated)


class CreateGuestSubnetParams(Params):
    parentid: Annotated[str, Ref("DataCenterIpv4Subnet")] = Field(description="zone subnet to carve it from")
    subnet: str | None = Field(None, description="the subnet, a CIDR within the parent (or give cidrsize)")
    cidrsize: int | None = Field(None, description="size of a subnet to carve automatically (or give subnet)")


def _create_guest_subnet(ctx: CallContext, p: CreateGuestSubnetParams) -> str:
    return svc.create_guest_subnet(ctx.session, ctx.refs["parentid"], p.subnet, p.cidrsize).uuid


@api_command("createIpv4SubnetForGuestNetwork", params=CreateGuestSubnetParams, roles=ADMIN, is_async=True,
             create=_create_guest_subnet, since="4.20.0", result_key="ipv4subnetforguestnetwork",
             response=GuestIpv4SubnetResp, event="IP4.GUEST.SUBNET.CREATE", entity="Ipv4SubnetForGuestNetwork",
             description="Carves a guest subnet for a ROUTED network out of a zone IPv4 subnet")
def create_guest_subnet(ctx: CallContext, p: CreateGuestSubnetParams) -> GuestIpv4SubnetResp:
    return guest_subnet_resp(ctx, _created(ctx, GuestIpv4Subnet))


class GuestSubnetIdParams(Params):
    id: Annotated[str, Ref("Ipv4SubnetForGuestNetwork")] = Field(description="ID of the guest subnet")


@api_command("deleteIpv4SubnetForGuestNetwork", params=GuestSubnetIdParams, roles=ADMIN, is_async=True,
             since="4.20.0", event="IP4.GUEST.SUBNET.DELETE", entity="Ipv4SubnetForGuestNetwork",
             description="Deletes a guest subnet no network uses")
def delete_guest_subnet(ctx: CallContext, p: GuestSubnetIdParams) -> Success:
    svc.delete_guest_subnet(ctx.session, ctx.refs["id"])
    return Success()


class ListGuestSubnetsParams(ListParams):
    id: Annotated[str | None, Ref("Ipv4SubnetForGuestNetwork", "read")] = Field(None, description="ID of a subnet")
    parentid: Annotated[str | None, Ref("DataCenterIpv4Subnet", "read")] = Field(None, description="only subnets "
                                                                                  "carved from this one")
    subnet: str | None = Field(None, description="only this subnet")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only subnets of this zone")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="only the network's subnet")
    vpcid: Uuid | None = Field(None, description="only the VPC's subnet")


@api_command("listIpv4SubnetsForGuestNetwork", params=ListGuestSubnetsParams, roles=ADMIN, since="4.20.0",
             result_key="ipv4subnetforguestnetwork", response=GuestIpv4SubnetResp,
             description="Lists the guest subnets of ROUTED networks")
def list_guest_subnets(ctx: CallContext, p: ListGuestSubnetsParams) -> ListResult:
    stmt = select(GuestIpv4Subnet).where(GuestIpv4Subnet.removed.is_(None))
    if p.id:
        stmt = stmt.where(GuestIpv4Subnet.id == ctx.refs["id"].id)
    if p.parentid:
        stmt = stmt.where(GuestIpv4Subnet.parent_id == ctx.refs["parentid"].id)
    if p.subnet:
        stmt = stmt.where(GuestIpv4Subnet.subnet == p.subnet)
    if p.zoneid:
        stmt = stmt.where(GuestIpv4Subnet.parent_id.in_(select(ZoneIpv4Subnet.id).where(
            ZoneIpv4Subnet.zone_id == ctx.refs["zoneid"].id)))
    if p.networkid:
        stmt = stmt.where(GuestIpv4Subnet.network_id == ctx.refs["networkid"].id)
    if p.vpcid:
        return ListResult([], 0)
    stmt = keyword_filter(stmt, p.keyword, GuestIpv4Subnet.subnet)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, GuestIpv4Subnet.id)
    return ListResult([guest_subnet_resp(ctx, r) for r in rows], count)


# ---- routing / IPv6 firewall rules --------------------------------------------------------------------------------

class RoutedRuleResp(FirewallRuleResp):
    """CloudStack declares FirewallRuleResponse (port forwarding terms) for these rules and answers firewall
    fields: both are given."""

    privateport: str | None = Field(None, description="first port of the rule's range")
    privateendport: str | None = Field(None, description="last port of the rule's range")
    publicport: str | None = Field(None, description="first port of the rule's range")
    publicendport: str | None = Field(None, description="last port of the rule's range")
    virtualmachineid: str | None = Field(None, description="not used by network-wide rules")
    virtualmachinename: str | None = Field(None, description="not used by network-wide rules")
    virtualmachinedisplayname: str | None = Field(None, description="not used by network-wide rules")
    vmguestip: str | None = Field(None, description="not used by network-wide rules")


def routed_resp(ctx: CallContext, r: NetworkRule) -> RoutedRuleResp:
    base = fw_resp(ctx, r).model_dump()
    base["destcidrlist"] = r.dest_cidrs
    start, end = (str(v) if v is not None else None for v in (r.start_port, r.end_port))
    base.update(privateport=start, privateendport=end, publicport=start, publicendport=end)
    return RoutedRuleResp.model_validate(base)


class CreateRoutedRuleParams(Params):
    protocol: str = Field(description="tcp, udp, icmp, all, or a protocol number")
    startport: int | None = Field(None, description="first port (tcp/udp)")
    endport: int | None = Field(None, description="last port (tcp/udp; default startport)")
    cidrlist: list[str] | None = Field(None, description="source CIDRs (default: any)")
    destcidrlist: list[str] | None = Field(None, description="destination CIDRs (default: any)")
    icmptype: int | None = Field(None, description="ICMP type (icmp only)")
    icmpcode: int | None = Field(None, description="ICMP code (icmp only)")
    networkid: Annotated[str, Ref("Network")] = Field(description="the network the rule is for")
    traffictype: str | None = Field(None, description="Ingress (default) or Egress")
    fordisplay: bool | None = Field(None, description="whether the rule is shown to the end user")


def _rule_of(ctx: CallContext, purpose: str, network_rule: bool = True) -> NetworkRule:
    rule = ctx.session.scalar(select(NetworkRule).where(NetworkRule.uuid == ctx.created_uuid))
    if rule is None:
        raise invalid_id(ctx.created_uuid or "")
    return rule


def _create_routing(ctx: CallContext, p: CreateRoutedRuleParams) -> str:
    net: Network = ctx.refs["networkid"]
    if not svc.is_routed(ctx.session.get(NetworkOffering, net.network_offering_id)):
        raise ParamError(f"Routing firewall rules are supported on ROUTED networks only; network {net.uuid} is "
                         "NATTED")
    return svc.create_rule(ctx.session, net, purpose="Firewall", protocol=p.protocol, start=p.startport,
                           end=p.endport, sources=p.cidrlist, destinations=p.destcidrlist, icmp_type=p.icmptype,
                           icmp_code=p.icmpcode, traffic_type=p.traffictype, for_display=p.fordisplay).uuid


def _create_ipv6(ctx: CallContext, p: CreateRoutedRuleParams) -> str:
    return svc.create_rule(ctx.session, ctx.refs["networkid"], purpose="Ipv6Firewall", protocol=p.protocol,
                           start=p.startport, end=p.endport, sources=p.cidrlist, destinations=p.destcidrlist,
                           icmp_type=p.icmptype, icmp_code=p.icmpcode, traffic_type=p.traffictype,
                           for_display=p.fordisplay).uuid


@api_command("createRoutingFirewallRule", params=CreateRoutedRuleParams, roles=ALL_ROLES, is_async=True,
             create=_create_routing, since="4.20.0", result_key="routingfirewallrule", response=RoutedRuleResp,
             event="ROUTING.IPV4.FIREWALL.RULE.CREATE", entity="FirewallRule",
             description="Opens a ROUTED network's addresses to (ingress) or from (egress) some CIDRs and ports")
def create_routing_rule(ctx: CallContext, p: CreateRoutedRuleParams) -> RoutedRuleResp:
    return routed_resp(ctx, _rule_of(ctx, "Firewall"))


@api_command("createIpv6FirewallRule", params=CreateRoutedRuleParams, roles=ALL_ROLES, is_async=True,
             create=_create_ipv6, result_key="ipv6firewallrule", response=RoutedRuleResp,
             event="IPV6.FIREWALL.RULE.CREATE", entity="FirewallRule",
             description="Opens a DualStack network's IPv6 addresses to (ingress) or from (egress) some CIDRs")
def create_ipv6_rule(ctx: CallContext, p: CreateRoutedRuleParams) -> RoutedRuleResp:
    return routed_resp(ctx, _rule_of(ctx, "Ipv6Firewall"))


def _routed_rule(ctx: CallContext, rule_id: str, purpose: str, what: str) -> NetworkRule:
    rule: NetworkRule = ctx.refs["id"]
    if rule.purpose != purpose or (purpose == "Firewall" and rule.ip_address_id is not None) or \
            rule.removed is not None:
        raise ParamError(f"Unable to find {what} with id {rule_id}")
    return rule


class RuleIdParams(Params):
    id: Annotated[str, Ref("FirewallRule")] = Field(description="ID of the rule")


@api_command("deleteRoutingFirewallRule", params=RuleIdParams, roles=ALL_ROLES, is_async=True, since="4.20.0",
             event="ROUTING.IPV4.FIREWALL.RULE.DELETE", entity="FirewallRule",
             description="Deletes a routing firewall rule")
def delete_routing_rule(ctx: CallContext, p: RuleIdParams) -> Success:
    svc.revoke_rule(ctx.session, _routed_rule(ctx, p.id, "Firewall", "routing firewall rule"))
    return Success()


@api_command("deleteIpv6FirewallRule", params=RuleIdParams, roles=ALL_ROLES, is_async=True,
             event="IPV6.FIREWALL.RULE.DELETE", entity="FirewallRule", description="Deletes an IPv6 firewall rule")
def delete_ipv6_rule(ctx: CallContext, p: RuleIdParams) -> Success:
    svc.revoke_rule(ctx.session, _routed_rule(ctx, p.id, "Ipv6Firewall", "IPv6 firewall rule"))
    return Success()


class UpdateRoutingRuleParams(RuleIdParams):
    fordisplay: bool | None = Field(None, description="whether the rule is shown to the end user")
    customid: str | None = Field(None, description="a new UUID for the rule (root admins only)")


@api_command("updateRoutingFirewallRule", params=UpdateRoutingRuleParams, roles=ALL_ROLES, is_async=True,
             create=custom_id.precheck(), since="4.20.0", result_key="routingfirewallrule", response=RoutedRuleResp,
             event="ROUTING.IPV4.FIREWALL.RULE.UPDATE", entity="FirewallRule",
             description="Updates a routing firewall rule's display flag or UUID")
def update_routing_rule(ctx: CallContext, p: UpdateRoutingRuleParams) -> RoutedRuleResp:
    rule = _routed_rule(ctx, p.id, "Firewall", "routing firewall rule")
    custom_id.apply(ctx.session, ctx.caller, rule, p.customid)
    if p.fordisplay is not None:
        rule.for_display = p.fordisplay
    ctx.session.flush()
    return routed_resp(ctx, rule)


class UpdateIpv6RuleParams(UpdateRoutingRuleParams):
    protocol: str | None = Field(None, description="new protocol")
    startport: int | None = Field(None, description="new first port")
    endport: int | None = Field(None, description="new last port")
    cidrlist: list[str] | None = Field(None, description="new source CIDRs")
    icmptype: int | None = Field(None, description="new ICMP type")
    icmpcode: int | None = Field(None, description="new ICMP code")
    traffictype: str | None = Field(None, description="new traffic type, Ingress or Egress")


@api_command("updateIpv6FirewallRule", params=UpdateIpv6RuleParams, roles=ALL_ROLES, is_async=True,
             create=custom_id.precheck(), result_key="ipv6firewallrule", response=RoutedRuleResp,
             event="IPV6.FIREWALL.RULE.UPDATE", entity="FirewallRule",
             description="Updates an IPv6 firewall rule's display flag or UUID")
def update_ipv6_rule(ctx: CallContext, p: UpdateIpv6RuleParams) -> RoutedRuleResp:
    rule = _routed_rule(ctx, p.id, "Ipv6Firewall", "IPv6 firewall rule")
    custom_id.apply(ctx.session, ctx.caller, rule, p.customid)
    if p.fordisplay is not None:
        rule.for_display = p.fordisplay
    ctx.session.flush()
    return routed_resp(ctx, rule)


class ListRoutedRulesParams(TaggedListParams):
    id: Annotated[str | None, Ref("FirewallRule", "read")] = Field(None, description="ID of a rule")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="only rules of this network")
    traffictype: str | None = Field(None, description="only Ingress or Egress rules")
    fordisplay: bool | None = Field(None, description="only rules with this display flag")


def _list_rules(ctx: CallContext, p: ListRoutedRulesParams, purpose: str) -> ListResult:
    stmt = select(NetworkRule).where(NetworkRule.removed.is_(None), NetworkRule.purpose == purpose)
    if purpose == "Firewall":
        stmt = stmt.where(NetworkRule.ip_address_id.is_(None), NetworkRule.network_id.in_(
            select(Network.id).join(NetworkOffering, NetworkOffering.id == Network.network_offering_id)
            .where(NetworkOffering.network_mode == "ROUTED")))
    stmt = access.owned_filter(ctx.session, stmt, NetworkRule, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(NetworkRule.uuid == p.id)
    if p.networkid:
        stmt = stmt.where(NetworkRule.network_id == ctx.refs["networkid"].id)
    if p.traffictype:
        stmt = stmt.where(NetworkRule.traffic_type == p.traffictype.capitalize())
    if p.fordisplay is not None:
        stmt = stmt.where(NetworkRule.for_display.is_(p.fordisplay))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, NetworkRule.id)
    return ListResult([routed_resp(ctx, r) for r in rows], count)


@api_command("listRoutingFirewallRules", params=ListRoutedRulesParams, roles=ALL_ROLES, since="4.20.0",
             result_key="routingfirewallrule", response=RoutedRuleResp,
             description="Lists the routing firewall rules of ROUTED networks")
def list_routing_rules(ctx: CallContext, p: ListRoutedRulesParams) -> ListResult:
    return _list_rules(ctx, p, "Firewall")


@api_command("listIpv6FirewallRules", params=ListRoutedRulesParams, roles=ALL_ROLES,
             result_key="ipv6firewallrule", response=RoutedRuleResp,
             description="Lists the IPv6 firewall rules of DualStack networks")
def list_ipv6_rules(ctx: CallContext, p: ListRoutedRulesParams) -> ListResult:
    return _list_rules(ctx, p, "Ipv6Firewall")


# ---- IPv6 guest prefixes ------------------------------------------------------------------------------------------

def prefix_resp(ctx: CallContext, r: Ipv6GuestPrefix) -> Ipv6PrefixResp:
    zone = ctx.session.get(Zone, r.zone_id)
    used, total = svc.prefix_usage(ctx.session, r)
    return Ipv6PrefixResp(id=r.uuid, prefix=r.prefix, zoneid=zone.uuid if zone else None, usedsubnets=used,
                          availablesubnets=total - used, totalsubnets=total, created=r.created)


class CreatePrefixParams(Params):
    zoneid: Annotated[str, Ref("Zone")] = Field(description="zone of the prefix")
    prefix: str = Field(description="the IPv6 prefix, /64 or shorter; DualStack networks get /64s of it")


def _create_prefix(ctx: CallContext, p: CreatePrefixParams) -> str:
    return svc.create_prefix(ctx.session, ctx.refs["zoneid"], p.prefix).uuid


@api_command("createGuestNetworkIpv6Prefix", params=CreatePrefixParams, roles=ADMIN, is_async=True,
             create=_create_prefix, since="4.17.0.0", result_key="guestnetworkipv6prefix", response=Ipv6PrefixResp,
             event="GUEST.IP6.PREFIX.CREATE", entity="DataCenterGuestIpv6Prefix",
             description="Adds an IPv6 prefix DualStack guest networks of the zone get their /64 from")
def create_prefix(ctx: CallContext, p: CreatePrefixParams) -> Ipv6PrefixResp:
    return prefix_resp(ctx, _created(ctx, Ipv6GuestPrefix))


class PrefixIdParams(Params):
    id: Annotated[str, Ref("DataCenterGuestIpv6Prefix")] = Field(description="ID of the IPv6 prefix")


@api_command("deleteGuestNetworkIpv6Prefix", params=PrefixIdParams, roles=ADMIN, is_async=True,
             since="4.17.0.0", event="GUEST.IP6.PREFIX.DELETE", entity="DataCenterGuestIpv6Prefix",
             description="Deletes an IPv6 guest prefix no network uses")
def delete_prefix(ctx: CallContext, p: PrefixIdParams) -> Success:
    svc.delete_prefix(ctx.session, ctx.refs["id"])
    return Success()


class ListPrefixesParams(ListParams):
    id: Annotated[str | None, Ref("DataCenterGuestIpv6Prefix", "read")] = Field(None, description="ID of a prefix")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="only prefixes of this zone")


@api_command("listGuestNetworkIpv6Prefixes", params=ListPrefixesParams, roles=ADMIN, since="4.17.0",
             result_key="guestnetworkipv6prefix", response=Ipv6PrefixResp,
             description="Lists the zones' IPv6 guest prefixes with their usage")
def list_prefixes(ctx: CallContext, p: ListPrefixesParams) -> ListResult:
    stmt = select(Ipv6GuestPrefix).where(Ipv6GuestPrefix.removed.is_(None))
    if p.id:
        stmt = stmt.where(Ipv6GuestPrefix.id == ctx.refs["id"].id)
    if p.zoneid:
        stmt = stmt.where(Ipv6GuestPrefix.zone_id == ctx.refs["zoneid"].id)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Ipv6GuestPrefix.id)
    return ListResult([prefix_resp(ctx, r) for r in rows], count)
