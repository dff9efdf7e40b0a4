"""Virtual routers: listRouters, start/stop/reboot/destroyRouter (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_rules import RouterResp
from management.errors import ParamError, invalid_id
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.models.network import Network
from management.models.offerings import ServiceOffering
from management.models.rules import RouterNetwork
from management.models.vpc import Vpc, VpcRouter
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate, same_name
from management.services.network import routers as svc

access.register_entity("DomainRouter", VirtualMachine, "owned")


def router_resp(ctx: CallContext, vm: VirtualMachine) -> RouterResp:
    s = ctx.session
    ref = s.get(RouterNetwork, vm.id)
    net = s.get(Network, ref.network_id) if ref else None
    zone = s.get(Zone, vm.zone_id)
    acct, dom = s.get(Account, vm.account_id), s.get(Domain, vm.domain_id)
    so = s.get(ServiceOffering, vm.service_offering_id)
    import ipaddress

    netmask = str(ipaddress.IPv4Network(net.cidr).netmask) if net is not None and net.cidr else None
    return RouterResp(
        id=vm.uuid, name=vm.name, state=vm.state, zoneid=zone.uuid if zone else None,
        zonename=zone.name if zone else None, dns1=net.dns1 if net else None, dns2=net.dns2 if net else None,
        networkdomain=net.network_domain if net else None, publicip=ref.public_ip if ref else None,
        guestipaddress=ref.guest_ip if ref else None, guestnetmask=netmask,
        guestnetworkid=net.uuid if net else None, guestnetworkname=net.name if net else None,
        account=acct.name if acct else None, domainid=dom.uuid if dom else None, domain=dom.name if dom else None,
        serviceofferingid=so.uuid if so else None, serviceofferingname=so.name if so else None,
        hypervisor=vm.hypervisor_type, created=vm.created,
        linklocalip=None if svc.zone_routed(s, vm.zone_id) else svc.link_local_ip(vm.id),
    ).model_copy(update=_vpc_of(ctx, vm))


def _vpc_of(ctx: CallContext, vm: VirtualMachine) -> dict[str, Any]:
    ref = ctx.session.get(VpcRouter, vm.id)
    vpc = ctx.session.get(Vpc, ref.vpc_id) if ref else None
    if vpc is None:
        return {}
    return {"vpcid": vpc.uuid, "vpcname": vpc.name, "dns1": vpc.dns1, "dns2": vpc.dns2,
            "networkdomain": vpc.network_domain, "publicip": _vpc_public_ip(ctx, vpc)}


def _vpc_public_ip(ctx: CallContext, vpc: Vpc) -> str | None:
    from management.models.infra import PublicIpAddress

    return ctx.session.scalar(select(PublicIpAddress.public_ip_address).where(
        PublicIpAddress.vpc_id == vpc.id, PublicIpAddress.source_nat.is_(True), PublicIpAddress.removed.is_(None)))


class ListRoutersParams(OwnedListParams):
    id: Annotated[str | None, Ref("DomainRouter", "read")] = Field(None, description="the ID of the disk router")
    name: str | None = Field(None, description="the name of the router")
    state: str | None = Field(None, description="the state of the router")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID of the router")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list by network id")
    hostid: Uuid | None = Field(None, description="the host ID of the router")
    podid: Uuid | None = Field(None, description="the Pod ID of the router")
    clusterid: Uuid | None = Field(None, description="the cluster ID of the router")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="List networks by VPC")
    forvpc: bool | None = Field(None, description="if true is passed for this parameter, list only VPC routers")
    version: str | None = Field(None, description="list virtual router elements by version")
    healthchecksfailed: bool | None = Field(None, description="if this parameter is passed, list only routers by "
                                            "health check results")
    fetchhealthcheckresults: bool | None = Field(None, description="if true is passed for this parameter, also "
                                                 "fetch last executed health check results for the router")


@api_command("listRouters", params=ListRoutersParams, result_key="router", response=RouterResp,
             description="List routers.")
def list_routers(ctx: CallContext, p: ListRoutersParams) -> ListResult:
    stmt = select(VirtualMachine).where(VirtualMachine.removed.is_(None), VirtualMachine.vm_type == "DomainRouter")
    stmt = access.owned_filter(ctx.session, stmt, VirtualMachine, ctx.caller, account=p.account, projectid=p.projectid,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(VirtualMachine.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(VirtualMachine.name, p.name))
    if p.state:
        stmt = stmt.where(VirtualMachine.state == p.state)
    if p.zoneid:
        stmt = stmt.where(VirtualMachine.zone_id == ctx.refs["zoneid"].id)
    if p.networkid:
        stmt = stmt.where(VirtualMachine.id.in_(select(RouterNetwork.router_id).where(
            RouterNetwork.network_id == ctx.refs["networkid"].id)))
    if p.vpcid:
        stmt = stmt.where(VirtualMachine.id.in_(select(VpcRouter.router_id).where(
            VpcRouter.vpc_id == ctx.refs["vpcid"].id)))
    if p.forvpc is not None:
        vpc_routers = VirtualMachine.id.in_(select(VpcRouter.router_id))
        stmt = stmt.where(vpc_routers if p.forvpc else ~vpc_routers)
    if p.keyword:
        stmt = stmt.where(VirtualMachine.name.ilike(f"%{p.keyword}%"))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VirtualMachine.id)
    return ListResult([router_resp(ctx, r) for r in rows], count)


class RouterIdParams(Params):
    id: Annotated[str, Ref("DomainRouter")] = Field(description="the ID of the router")


class StopRouterParams(RouterIdParams):
    forced: bool = Field(False, description="Force stop the VM (vm is marked as Stopped even when command fails to "
                         "be send to the backend, otherwise a force poweroff is attempted). To be used if the caller "
                         "knows the VM is stopped and should be marked as such.")


def _router(ctx: CallContext, uuid: str) -> VirtualMachine:
    vm: VirtualMachine | None = ctx.refs.get("id")
    if vm is None or vm.vm_type != "DomainRouter" or vm.removed is not None:
        raise invalid_id(uuid)
    return vm


def _impl(ctx: CallContext) -> svc.RouterImplementer:
    impl = svc.current()
    if impl is None:
        raise ParamError("Virtual routers are not available on this server")
    return impl


@api_command("startRouter", params=RouterIdParams, is_async=True, roles=ADMIN, result_key="router",
             response=RouterResp, event="ROUTER.START", entity="DomainRouter", description="Starts a router.")
def start_router(ctx: CallContext, p: RouterIdParams) -> RouterResp:
    vm = _router(ctx, p.id)
    _impl(ctx).start(ctx.session, vm)
    return router_resp(ctx, vm)


@api_command("stopRouter", params=StopRouterParams, is_async=True, roles=ADMIN, result_key="router",
             response=RouterResp, event="ROUTER.STOP", entity="DomainRouter", description="Stops a router.")
def stop_router(ctx: CallContext, p: StopRouterParams) -> RouterResp:
    vm = _router(ctx, p.id)
    _impl(ctx).stop(ctx.session, vm)
    return router_resp(ctx, vm)


class RebootRouterParams(RouterIdParams):
    forced: bool = Field(False, description="Force reboot the router (the router is stopped, then started)")


@api_command("rebootRouter", params=RebootRouterParams, is_async=True, roles=ADMIN, result_key="router",
             response=RouterResp, event="ROUTER.REBOOT", entity="DomainRouter", description="Reboots a router.")
def reboot_router(ctx: CallContext, p: RebootRouterParams) -> RouterResp:
    vm = _router(ctx, p.id)
    impl = _impl(ctx)
    if p.forced and vm.state == "Running":
        impl.stop(ctx.session, vm)
        impl.start(ctx.session, vm)
    else:
        impl.reboot(ctx.session, vm)
    return router_resp(ctx, vm)


@api_command("destroyRouter", params=RouterIdParams, is_async=True, roles=ADMIN, result_key="router",
             response=RouterResp, event="ROUTER.DESTROY", entity="DomainRouter", description="Destroys a router.")
def destroy_router(ctx: CallContext, p: RouterIdParams) -> RouterResp:
    vm = _router(ctx, p.id)
    resp = router_resp(ctx, vm)
    _impl(ctx).destroy(ctx.session, vm)
    return resp.model_copy(update={"state": "Destroyed"})
