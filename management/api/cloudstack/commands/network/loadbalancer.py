"""Load-balancer rules and their members (cs_loadbalancer_rule, cs_loadbalancer_rule_member)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.compute.vm import vm_responses
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import MapParam, ParamInfo, Params, Ref, TaggedListParams, api_command
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.api.cloudstack.schemas_rules import LoadBalancerRuleResp
from management.errors import ParamError, invalid_id
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import PublicIpAddress, Zone
from management.models.network import Network
from management.models.rules import NetworkRule
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate, same_name
from management.services.network import firewall as fwsvc
from management.services.network import loadbalancer as svc

access.register_entity("LoadBalancerRule", NetworkRule, "owned")


def lb_resp(ctx: CallContext, r: NetworkRule) -> LoadBalancerRuleResp:
    s = ctx.session
    ip = s.get_one(PublicIpAddress, r.ip_address_id)
    net = s.get(Network, r.network_id)
    zone = s.get(Zone, net.zone_id) if net else None
    acct, dom = s.get(Account, r.account_id), s.get(Domain, r.domain_id)
    return LoadBalancerRuleResp(
        id=r.uuid, name=r.name or "", description=r.description, algorithm=r.algorithm or "roundrobin",
        publicipid=ip.uuid, publicip=ip.public_ip_address, publicport=str(r.start_port),
        privateport=str(r.dest_start_port), protocol=r.protocol, state=r.state,
        networkid=net.uuid if net else None, zoneid=zone.uuid if zone else None,
        zonename=zone.name if zone else None, cidrlist=r.source_cidrs or "", account=acct.name if acct else None,
        domainid=dom.uuid if dom else None, domain=dom.name if dom else None, fordisplay=r.for_display)


def _rule(r: NetworkRule | None, uuid: str) -> NetworkRule:
    if r is None or r.purpose != "LoadBalancing" or r.removed is not None:
        raise invalid_id(uuid)
    return r


class CreateLbParams(Params):
    name: str = Field(description="name of the load balancer rule")
    description: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the description of the load balancer rule")
    algorithm: str = Field(description="load balancer algorithm (source, roundrobin, leastconn)")
    privateport: int = Field(description="the private port of the private IP address/virtual machine where the "
                             "network traffic will be load balanced to")
    publicport: int = Field(description="the public port from where the network traffic will be load balanced from")
    publicipid: Annotated[str | None, Ref("PublicIpAddress")] = Field(None, description="public IP address ID from "
                                                                      "where the network traffic will be load "
                                                                      "balanced from")
    networkid: Annotated[str | None, Ref("Network")] = Field(None, description="The guest network this rule will "
                                                             "be created for. Required when public Ip address is "
                                                             "not associated with any Guest network yet (VPC case)")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="zone where the load balancer is "
                                                               "going to be created. This parameter is required "
                                                               "when LB service provider is ElasticLoadBalancerVm")
    protocol: str | None = Field(None, description="The protocol for the LB such as tcp, udp or tcp-proxy.")
    openfirewall: bool = Field(True, description="if true, firewall rule for source/end public port is "
                               "automatically created; if false - firewall rule has to be created explicitly.")
    cidrlist: list[str] | None = Field(None, description="the source CIDR list to allow traffic from; all other "
                                       "CIDRs will be blocked.")
    account: str | None = Field(None, description="the account associated with the load balancer.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the domain ID associated with "
                                                                   "the load balancer")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")


def _create(ctx: CallContext, p: CreateLbParams) -> str:
    ip: PublicIpAddress | None = ctx.refs.get("publicipid")
    if ip is None:
        raise ParamError("publicipid is required (elastic load balancing is not supported)")
    r = svc.create(ctx.session, ip, name=p.name, description=p.description, algorithm=p.algorithm,
                   public_port=p.publicport, private_port=p.privateport, protocol=p.protocol,
                   open_firewall=p.openfirewall, cidrs=p.cidrlist, network=ctx.refs.get("networkid"))
    if p.fordisplay is not None:
        r.for_display = p.fordisplay
    return r.uuid


@api_command("createLoadBalancerRule", params=CreateLbParams, is_async=True, create=_create,
             result_key="loadbalancer", response=LoadBalancerRuleResp, event="LB.CREATE", entity="FirewallRule",
             description="Creates a load balancer rule")
def create_lb(ctx: CallContext, p: CreateLbParams) -> LoadBalancerRuleResp:
    r = ctx.session.scalar(select(NetworkRule).where(NetworkRule.uuid == ctx.created_uuid))
    return lb_resp(ctx, _rule(r, ctx.created_uuid or ""))


class LbIdParams(Params):
    id: Annotated[str, Ref("LoadBalancerRule")] = Field(description="the ID of the load balancer rule")


@api_command("deleteLoadBalancerRule", params=LbIdParams, is_async=True, event="LB.DELETE", entity="FirewallRule",
             description="Deletes a load balancer rule.")
def delete_lb(ctx: CallContext, p: LbIdParams) -> Success:
    fwsvc.revoke(ctx.session, _rule(ctx.refs["id"], p.id))
    return Success()


class UpdateLbParams(Params):
    id: Annotated[str, Ref("LoadBalancerRule")] = Field(description="the ID of the load balancer rule to update")
    name: str | None = Field(None, description="the name of the load balancer rule")
    description: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the description of the load balancer rule")
    algorithm: str | None = Field(None, description="load balancer algorithm (source, roundrobin, leastconn)")
    protocol: str | None = Field(None, description="The protocol for the LB")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")
    cidrlist: list[str] | None = Field(None, description="source CIDRs the rule admits (replaces the current list)")


@api_command("updateLoadBalancerRule", params=UpdateLbParams, is_async=True, result_key="loadbalancer",
             response=LoadBalancerRuleResp, event="LB.UPDATE", entity="FirewallRule",
             description="Updates load balancer")
def update_lb(ctx: CallContext, p: UpdateLbParams) -> LoadBalancerRuleResp:
    r = _rule(ctx.refs["id"], p.id)
    if p.cidrlist is not None:
        r.source_cidrs = fwsvc.norm_cidrs(p.cidrlist)
    svc.update(ctx.session, r, name=p.name, description=p.description, algorithm=p.algorithm)
    if p.fordisplay is not None:
        r.for_display = p.fordisplay
    return lb_resp(ctx, r)


class ListLbParams(TaggedListParams):
    id: Annotated[str | None, Ref("LoadBalancerRule", "read")] = Field(None, description="the ID of the load "
                                                                       "balancer rule")
    name: str | None = Field(None, description="the name of the load balancer rule")
    publicipid: Annotated[str | None, Ref("PublicIpAddress", "read")] = Field(
        None, description="the public IP address ID of the load balancer rule")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="the ID of the virtual machine of the load balancer rule")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the availability zone ID")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list by network ID the rule "
                                                                     "belongs to")
    fordisplay: bool | None = Field(None, description="list resources by display flag")


@api_command("listLoadBalancerRules", params=ListLbParams, result_key="loadbalancerrule",
             response=LoadBalancerRuleResp, description="Lists load balancer rules.")
def list_lb(ctx: CallContext, p: ListLbParams) -> ListResult:
    from management.models.rules import LoadBalancerVmMap

    stmt = select(NetworkRule).where(NetworkRule.removed.is_(None), NetworkRule.purpose == "LoadBalancing",
                              NetworkRule.ip_address_id.is_not(None))  # internal ones: listLoadBalancers
    stmt = access.owned_filter(ctx.session, stmt, NetworkRule, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(NetworkRule.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(NetworkRule.name, p.name))
    if p.publicipid:
        stmt = stmt.where(NetworkRule.ip_address_id == ctx.refs["publicipid"].id)
    if p.networkid:
        stmt = stmt.where(NetworkRule.network_id == ctx.refs["networkid"].id)
    if p.zoneid:
        stmt = stmt.where(NetworkRule.network_id.in_(select(Network.id).where(
            Network.zone_id == ctx.refs["zoneid"].id)))
    if p.virtualmachineid:
        stmt = stmt.where(NetworkRule.id.in_(select(LoadBalancerVmMap.load_balancer_id).where(
            LoadBalancerVmMap.vm_id == ctx.refs["virtualmachineid"].id)))
    if p.keyword:
        stmt = stmt.where(NetworkRule.name.ilike(f"%{p.keyword}%"))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, NetworkRule.id)
    return ListResult([lb_resp(ctx, r) for r in rows], count)


class AssignParams(Params):
    id: Annotated[str, Ref("LoadBalancerRule")] = Field(description="the ID of the load balancer rule")
    virtualmachineids: list[str] | None = Field(None, description="the list of IDs of the virtual machine that are "
                                                "being assigned to the load balancer rule")
    vmidipmap: MapParam | None = Field(None, description="VM ID and IP map, vmidipmap[0].vmid=1 "
                                       "vmidipmap[0].vmip=10.1.1.75")


def _vms(ctx: CallContext, p: AssignParams) -> list[tuple[VirtualMachine, str | None]]:
    pairs: list[tuple[str, str | None]] = [(u, None) for u in p.virtualmachineids or []]
    pairs += [(m.get("vmid", ""), m.get("vmip")) for m in p.vmidipmap or []]
    if not pairs:
        raise ParamError("Either virtualmachineids or vmidipmap has to be specified")
    out = []
    for uuid, ip in pairs:
        vm = ctx.session.scalar(select(VirtualMachine).where(VirtualMachine.uuid == uuid,
                                                             VirtualMachine.removed.is_(None),
                                                             VirtualMachine.vm_type == "User"))
        if vm is None or not access.check_row(ctx.session, ctx.caller, access.entity_policy("VirtualMachine"), vm,
                                              "write"):
            raise invalid_id(uuid)
        out.append((vm, ip))
    return out


@api_command("assignToLoadBalancerRule", params=AssignParams, is_async=True, event="LB.ASSIGN.TO.RULE",
             entity="FirewallRule", description="Assigns virtual machine or a list of virtual machines to a load "
             "balancer rule.")
def assign(ctx: CallContext, p: AssignParams) -> Success:
    svc.assign(ctx.session, _rule(ctx.refs["id"], p.id), _vms(ctx, p))
    return Success()


@api_command("removeFromLoadBalancerRule", params=AssignParams, is_async=True, event="LB.REMOVE.FROM.RULE",
             entity="FirewallRule", description="Removes a virtual machine or a list of virtual machines from a "
             "load balancer rule.")
def remove(ctx: CallContext, p: AssignParams) -> Success:
    svc.remove(ctx.session, _rule(ctx.refs["id"], p.id), [vm for vm, _ in _vms(ctx, p)])
    return Success()


class ListLbInstancesParams(Params):
    id: Annotated[str, Ref("LoadBalancerRule", "read")] = Field(description="the ID of the load balancer rule")
    applied: bool | None = Field(None, description="true if listing all virtual machines currently applied to the "
                                 "load balancer rule; default is true")
    lbvmips: bool = Field(False, description="true if load balancer rule VM IP information to be included; default "
                          "is false")
    keyword: str | None = Field(None, description="List by keyword")
    page: int | None = Field(None, description="The page number (1-based); needs pagesize", ge=1)
    pagesize: int | None = Field(None, description="The number of entries per page (-1 for all)")


@api_command("listLoadBalancerRuleInstances", params=ListLbInstancesParams, result_key="loadbalancerruleinstance",
             response=VirtualMachineResp, description="List all virtual machine instances that are assigned to a "
             "load balancer rule.")
def list_instances(ctx: CallContext, p: ListLbInstancesParams) -> ListResult:
    r = _rule(ctx.refs["id"], p.id)
    ids = [m.vm_id for m in svc.members(ctx.session, r)]
    if p.applied is False:
        net = ctx.session.get_one(Network, r.network_id)
        from management.models.network import Nic

        cand = set(ctx.session.scalars(select(Nic.instance_id).where(Nic.network_id == net.id,
                                                                     Nic.removed.is_(None))))
        ids = sorted(cand - set(ids))
    vms = list(ctx.session.scalars(select(VirtualMachine).where(VirtualMachine.id.in_(ids),
                                                                VirtualMachine.removed.is_(None),
                                                                VirtualMachine.vm_type == "User")
                                   .order_by(VirtualMachine.id))) if ids else []
    return ListResult(list(vm_responses(ctx, vms)), len(vms))
