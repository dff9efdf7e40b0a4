"""Internal load balancing in VPC tiers: createLoadBalancer (scheme Internal) and friends, the internal LB
appliances (listInternalLoadBalancerVMs, start/stop) and the provider element (cs_loadbalancer_rule with VPC
tiers, Ansible's lb_internal)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.physical_networks import el_resp
from management.api.cloudstack.commands.network.routers import router_resp
from management.api.cloudstack.commands.network.vpc import owner_fields, tag_resps
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    OwnedListParams,
    ParamInfo,
    Params,
    Ref,
    TaggedListParams,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_infra import VirtualRouterElementResp
from management.api.cloudstack.schemas_rules import RouterResp
from management.api.cloudstack.schemas_vpc import AppLbInstanceResp, AppLbRuleResp, AppLoadBalancerResp
from management.errors import ParamError, invalid_id
from management.models.compute import VirtualMachine
from management.models.infra import NetworkServiceProvider, PublicIpAddress, VirtualRouterElement
from management.models.network import Network
from management.models.rules import LoadBalancerVmMap, NetworkRule
from management.models.vpc import InternalLbRule, InternalLbVm
from management.services import access, custom_id, tags
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, tags_filter
from management.services.network import internal_lb as svc
from management.services.network import routers as routersvc


def lb_resp(ctx: CallContext, r: NetworkRule, tag_rows: list | None = None) -> AppLoadBalancerResp:
    s = ctx.session
    internal = s.get(InternalLbRule, r.id)
    net = s.get(Network, r.network_id)
    # an internal rule listens on its own address in its source network; a public one on its public IP
    src = s.get(Network, internal.source_network_id) if internal else net
    pub = s.get(PublicIpAddress, r.ip_address_id) if internal is None and r.ip_address_id else None
    source_ip = internal.source_ip if internal else (pub.public_ip_address if pub else None)
    members = list(s.scalars(select(LoadBalancerVmMap).where(LoadBalancerVmMap.load_balancer_id == r.id)
                             .order_by(LoadBalancerVmMap.id)))
    vms = {v.id: v for v in s.scalars(select(VirtualMachine).where(
        VirtualMachine.id.in_([m.vm_id for m in members])))} if members else {}
    instances = [AppLbInstanceResp(id=vms[m.vm_id].uuid, name=vms[m.vm_id].name, state=vms[m.vm_id].state,
                                   ipaddress=m.vm_ip or "") for m in members if m.vm_id in vms]
    return AppLoadBalancerResp(
        id=r.uuid, name=r.name or "", description=r.description, algorithm=r.algorithm,
        networkid=net.uuid if net else None, sourceipaddress=source_ip,
        sourceipaddressnetworkid=src.uuid if src else None,
        loadbalancerrule=[AppLbRuleResp(sourceport=r.start_port or 0, instanceport=r.dest_start_port or 0,
                                        state=r.state)],
        loadbalancerinstance=instances, tags=tag_resps(tag_rows), fordisplay=r.for_display,
        **owner_fields(ctx, r.account_id, r.domain_id))


def _rule(ctx: CallContext, uuid: str) -> NetworkRule:
    r: NetworkRule | None = ctx.refs.get("id")
    if r is None or r.purpose != "LoadBalancing" or r.removed is not None or not svc.is_internal(ctx.session, r):
        raise invalid_id(uuid)
    return r


class CreateAppLbParams(Params):
    name: str = Field(description="name of the load balancer")
    description: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the description of the load balancer")
    networkid: Annotated[str, Ref("Network")] = Field(description="The guest network the load balancer will be "
                                                      "created for")
    sourceport: int = Field(description="the source port the network traffic will be load balanced from")
    algorithm: str = Field(description="load balancer algorithm (source, roundrobin, leastconn)")
    instanceport: int = Field(description="the TCP port of the virtual machine where the network traffic will be "
                              "load balanced to")
    sourceipaddress: str | None = Field(None, description="the source IP address the network traffic will be load "
                                        "balanced from")
    sourceipaddressnetworkid: Annotated[str, Ref("Network")] = Field(description="the network id of the source ip "
                                                                     "address")
    scheme: str = Field(description="the load balancer scheme. Supported value in this release is Internal")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")


def _create(ctx: CallContext, p: CreateAppLbParams) -> str:
    net: Network = ctx.refs["networkid"]
    from management.models.identity import Account

    owner = ctx.session.get_one(Account, net.account_id)
    rule = svc.create(ctx.session, owner, name=p.name, description=p.description, network=net,
                      source_network=ctx.refs["sourceipaddressnetworkid"], source_ip=p.sourceipaddress,
                      source_port=p.sourceport, instance_port=p.instanceport, algorithm=p.algorithm,
                      scheme=p.scheme, display=p.fordisplay)
    return rule.uuid


@api_command("createLoadBalancer", params=CreateAppLbParams, is_async=True, create=_create,
             result_key="loadbalancer", response=AppLoadBalancerResp, event="LB.CREATE", entity="FirewallRule",
             since="4.2.0", description="Creates an internal load balancer")
def create_load_balancer(ctx: CallContext, p: CreateAppLbParams) -> AppLoadBalancerResp:
    r = ctx.session.scalar(select(NetworkRule).where(NetworkRule.uuid == ctx.created_uuid))
    if r is None:
        raise invalid_id(ctx.created_uuid or "")
    if r.state == "Add":
        r.state = "Active"
    return lb_resp(ctx, r)


class LbIdParams(Params):
    id: Annotated[str, Ref("LoadBalancerRule")] = Field(description="the ID of the Load Balancer")


@api_command("deleteLoadBalancer", params=LbIdParams, is_async=True, event="LB.DELETE", entity="FirewallRule",
             since="4.2.0", description="Deletes an load balancer")
def delete_load_balancer(ctx: CallContext, p: LbIdParams) -> Success:
    svc.delete(ctx.session, _rule(ctx, p.id))
    return Success()


class UpdateAppLbParams(LbIdParams):
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateLoadBalancer", params=UpdateAppLbParams, is_async=True, create=custom_id.precheck(),
             result_key="loadbalancer", response=AppLoadBalancerResp, event="LB.UPDATE", entity="FirewallRule",
             since="4.4.0", description="Updates a load balancer's display flag or UUID (internal or public, seen as "
             "an application load balancer)")
def update_load_balancer(ctx: CallContext, p: UpdateAppLbParams) -> AppLoadBalancerResp:
    r: NetworkRule | None = ctx.refs.get("id")
    if r is None or r.purpose != "LoadBalancing" or r.removed is not None:
        raise invalid_id(p.id)
    custom_id.apply(ctx.session, ctx.caller, r, p.customid)
    if p.fordisplay is not None:
        r.for_display = p.fordisplay
    ctx.session.flush()
    if not svc.is_internal(ctx.session, r):
        routersvc.network_changed(ctx.session, r.network_id)
    return lb_resp(ctx, r, tags.tags_of(ctx.session, "LoadBalancer", [r.uuid]).get(r.uuid))


class ListAppLbParams(TaggedListParams):
    id: Annotated[str | None, Ref("LoadBalancerRule", "read")] = Field(None, description="the ID of the load "
                                                                       "balancer")
    name: str | None = Field(None, description="the name of the load balancer")
    sourceipaddress: str | None = Field(None, description="the source IP address of the load balancer")
    sourceipaddressnetworkid: Annotated[str | None, Ref("Network", "read")] = Field(
        None, description="the network ID of the source IP address")
    scheme: str | None = Field(None, description="the scheme of the load balancer. Supported value is internal in "
                               "the current release")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="the network ID of the load "
                                                                     "balancer")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listLoadBalancers", params=ListAppLbParams, result_key="loadbalancer", response=AppLoadBalancerResp,
             since="4.2.0", description="Lists internal load balancers")
def list_load_balancers(ctx: CallContext, p: ListAppLbParams) -> ListResult:
    if p.scheme and p.scheme.lower() != "internal":
        return ListResult([], 0)
    stmt = select(NetworkRule).join(InternalLbRule, InternalLbRule.rule_id == NetworkRule.id).where(
        NetworkRule.removed.is_(None), NetworkRule.purpose == "LoadBalancing")
    stmt = access.owned_filter(ctx.session, stmt, NetworkRule, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(NetworkRule.uuid == p.id)
    if p.name:
        stmt = stmt.where(NetworkRule.name == p.name)
    if p.sourceipaddress:
        stmt = stmt.where(InternalLbRule.source_ip == p.sourceipaddress)
    if p.sourceipaddressnetworkid:
        stmt = stmt.where(InternalLbRule.source_network_id == ctx.refs["sourceipaddressnetworkid"].id)
    if p.networkid:
        stmt = stmt.where(NetworkRule.network_id == ctx.refs["networkid"].id)
    if p.fordisplay is not None:
        stmt = stmt.where(NetworkRule.for_display.is_(p.fordisplay))
    stmt = keyword_filter(stmt, p.keyword, NetworkRule.name)
    stmt = tags_filter(stmt, p.tags, "LoadBalancer", NetworkRule.uuid)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, NetworkRule.id)
    by_uuid = tags.tags_of(ctx.session, "LoadBalancer", [r.uuid for r in rows])
    return ListResult([lb_resp(ctx, r, by_uuid.get(r.uuid)) for r in rows], count)


# ------------------------------------------------------------------------------------------------ appliances

def appliance_resp(ctx: CallContext, vm: VirtualMachine) -> RouterResp:
    resp = router_resp(ctx, vm)
    ref = ctx.session.get(InternalLbVm, vm.id)
    net = ctx.session.get(Network, ref.network_id) if ref else None
    from management.models.vpc import Vpc

    vpc = ctx.session.get(Vpc, net.vpc_id) if net is not None and net.vpc_id else None
    return resp.model_copy(update={
        "role": "INTERNAL_LB_VM", "guestipaddress": ref.source_ip if ref else None,
        "guestnetworkid": net.uuid if net else None, "guestnetworkname": net.name if net else None,
        "networkdomain": net.network_domain if net else None, "vpcid": vpc.uuid if vpc else None,
        "vpcname": vpc.name if vpc else None})


class ListIlbVmsParams(OwnedListParams):
    hostid: Uuid | None = Field(None, description="the host ID of the Internal LB VM")
    id: Annotated[str | None, Ref("DomainRouter", "read")] = Field(None, description="the ID of the Internal LB VM")
    name: str | None = Field(None, description="the name of the Internal LB VM")
    podid: Uuid | None = Field(None, description="the Pod ID of the Internal LB VM")
    state: str | None = Field(None, description="the state of the Internal LB VM")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID of the Internal LB VM")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list by network id")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="List Internal LB VMs by VPC")
    forvpc: bool | None = Field(None, description="if true is passed for this parameter, list only VPC Internal LB "
                                "VMs")
    fetchhealthcheckresults: bool | None = Field(None, description="if true is passed for this parameter, also "
                                                 "fetch last executed health check results for the VM. Default is "
                                                 "false")


@api_command("listInternalLoadBalancerVMs", params=ListIlbVmsParams, result_key="internalloadbalancervm",
             response=RouterResp, roles=ADMIN,
             description="List internal LB VMs.")
def list_internal_lb_vms(ctx: CallContext, p: ListIlbVmsParams) -> ListResult:
    stmt = select(VirtualMachine).join(InternalLbVm, InternalLbVm.vm_id == VirtualMachine.id).where(
        VirtualMachine.removed.is_(None), VirtualMachine.vm_type == svc.VM_TYPE)
    stmt = access.owned_filter(ctx.session, stmt, VirtualMachine, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(VirtualMachine.uuid == p.id)
    if p.name:
        stmt = stmt.where(VirtualMachine.name == p.name)
    if p.state:
        stmt = stmt.where(VirtualMachine.state.ilike(p.state))
    if p.zoneid:
        stmt = stmt.where(VirtualMachine.zone_id == ctx.refs["zoneid"].id)
    if p.networkid:
        stmt = stmt.where(InternalLbVm.network_id == ctx.refs["networkid"].id)
    if p.vpcid:
        stmt = stmt.where(InternalLbVm.network_id.in_(select(Network.id).where(
            Network.vpc_id == ctx.refs["vpcid"].id)))
    stmt = keyword_filter(stmt, p.keyword, VirtualMachine.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VirtualMachine.id)
    return ListResult([appliance_resp(ctx, v) for v in rows], count)


class IlbVmIdParams(Params):
    id: Annotated[str, Ref("DomainRouter")] = Field(description="the ID of the internal lb vm")


class StopIlbVmParams(IlbVmIdParams):
    forced: bool = Field(False, description="Force stop the VM. The caller knows the VM is stopped.")


def _appliance(ctx: CallContext, uuid: str) -> VirtualMachine:
    vm: VirtualMachine | None = ctx.refs.get("id")
    if vm is None or vm.vm_type != svc.VM_TYPE or vm.removed is not None:
        raise invalid_id(uuid)
    return vm


def _impl(ctx: CallContext) -> object:
    impl = routersvc.current()
    if impl is None or not hasattr(impl, "ilb_start"):
        raise ParamError("Internal load balancers are not available on this server")
    return impl


@api_command("startInternalLoadBalancerVM", params=IlbVmIdParams, is_async=True, roles=ADMIN,
             result_key="internalloadbalancervm", response=RouterResp, event="INTERNALLBVM.START",
             entity="DomainRouter",
             description="Starts an existing internal lb vm.")
def start_internal_lb_vm(ctx: CallContext, p: IlbVmIdParams) -> RouterResp:
    vm = _appliance(ctx, p.id)
    _impl(ctx).ilb_start(ctx.session, vm)  # type: ignore[attr-defined]
    return appliance_resp(ctx, vm)


@api_command("stopInternalLoadBalancerVM", params=StopIlbVmParams, is_async=True, roles=ADMIN,
             result_key="internalloadbalancervm", response=RouterResp, event="INTERNALLBVM.STOP",
             entity="DomainRouter",
             description="Stops an Internal LB vm.")
def stop_internal_lb_vm(ctx: CallContext, p: StopIlbVmParams) -> RouterResp:
    vm = _appliance(ctx, p.id)
    _impl(ctx).ilb_stop(ctx.session, vm)  # type: ignore[attr-defined]
    return appliance_resp(ctx, vm)


# ------------------------------------------------------------------------------------------------ provider element

class CreateIlbElementParams(Params):
    nspid: Annotated[str, Ref("NetworkServiceProvider")] = Field(description="the network service provider ID of "
                                                                 "the internal load balancer element")


def _create_element(ctx: CallContext, p: CreateIlbElementParams) -> str:
    nsp: NetworkServiceProvider = ctx.refs["nspid"]
    if nsp.name != "InternalLbVm":
        raise ParamError(f"Network service provider {nsp.uuid} is not the InternalLbVm provider")
    existing = ctx.session.scalar(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == nsp.id,
                                                                     VirtualRouterElement.removed.is_(None)))
    if existing is not None:
        raise ParamError(f"There is already an Internal Load Balancer element with service provider id {nsp.uuid}")
    el = VirtualRouterElement(nsp_id=nsp.id, type="InternalLbVm", enabled=False)
    ctx.session.add(el)
    ctx.session.flush()
    return el.uuid


@api_command("createInternalLoadBalancerElement", params=CreateIlbElementParams, is_async=True, roles=ADMIN,
             create=_create_element, result_key="internalloadbalancerelement", response=VirtualRouterElementResp,
             event="SERVICE.PROVIDER.CREATE", entity="VirtualRouterElement", since="4.2.0",
             description="Create an Internal Load Balancer element.")
def create_internal_lb_element(ctx: CallContext, p: CreateIlbElementParams) -> VirtualRouterElementResp:
    el = ctx.session.scalar(select(VirtualRouterElement).where(VirtualRouterElement.uuid == ctx.created_uuid))
    if el is None:
        raise invalid_id(ctx.created_uuid or "")
    return el_resp(ctx, el)


tags.register("LoadBalancer", "LoadBalancerRule")
