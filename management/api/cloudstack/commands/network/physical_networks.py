"""Physical networks and what hangs off them: traffic types, network service providers, virtual router and
internal LB elements. createPhysicalNetwork and addTrafficType are async *create* commands ({id, jobid})."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, ParamInfo, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import (
    NetworkServiceProviderResp,
    PhysicalNetworkResp,
    TrafficTypeResp,
    VirtualRouterElementResp,
)
from management.models.identity import Domain
from management.models.infra import (
    NetworkServiceProvider,
    PhysicalNetwork,
    TrafficType,
    VirtualRouterElement,
    Zone,
)
from management.services import access
from management.services.context import CallContext
from management.services.infra import infra
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("PhysicalNetwork", PhysicalNetwork, "public")
access.register_entity("TrafficType", TrafficType, "public")
access.register_entity("NetworkServiceProvider", NetworkServiceProvider, "public")
access.register_entity("VirtualRouterElement", VirtualRouterElement, "public")


def pn_resp(ctx: CallContext, pn: PhysicalNetwork) -> PhysicalNetworkResp:
    z = ctx.session.get_one(Zone, pn.zone_id)
    d = ctx.session.get(Domain, pn.domain_id) if pn.domain_id else None
    return PhysicalNetworkResp(id=pn.uuid, name=pn.name, zoneid=z.uuid, zonename=z.name, state=pn.state,
                               vlan=pn.vlan, isolationmethods=pn.isolation_methods,
                               broadcastdomainrange=pn.broadcast_domain_range, tags=pn.tags, networkspeed=pn.speed,
                               domainid=d.uuid if d else None)


def _pn_uuid(ctx: CallContext, physical_network_id: int) -> str:
    return ctx.session.get_one(PhysicalNetwork, physical_network_id).uuid


def tt_resp(ctx: CallContext, t: TrafficType) -> TrafficTypeResp:
    return TrafficTypeResp(id=t.uuid, traffictype=t.traffic_type,
                           physicalnetworkid=_pn_uuid(ctx, t.physical_network_id), kvmnetworklabel=t.kvm_label,
                           xennetworklabel=t.xen_label, vmwarenetworklabel=t.vmware_label, vlan=t.vlan,
                           hypervnetworklabel=t.hyperv_label, ovm3networklabel=t.ovm3_label)


def nsp_resp(ctx: CallContext, n: NetworkServiceProvider) -> NetworkServiceProviderResp:
    return NetworkServiceProviderResp(id=n.uuid, name=n.name, physicalnetworkid=_pn_uuid(ctx, n.physical_network_id),
                                      state=n.state, servicelist=[s for s in n.services.split(",") if s],
                                      destinationphysicalnetworkid="0")


def el_resp(ctx: CallContext, e: VirtualRouterElement) -> VirtualRouterElementResp:
    nsp = ctx.session.get_one(NetworkServiceProvider, e.nsp_id)
    return VirtualRouterElementResp(id=e.uuid, nspid=nsp.uuid, enabled=e.enabled)


# ---- physical networks ------------------------------------------------------------------------------------------

class CreatePhysicalNetworkParams(Params):
    name: str = Field(description="the name of the physical network")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="the Zone ID for the physical network")
    isolationmethods: list[str] | None = Field(None, description="the isolation method for the physical network"
                                               "[VLAN/L3/GRE]")
    vlan: str | None = Field(None, description="the VLAN for the physical network")
    broadcastdomainrange: str | None = Field(None, description="the broadcast domain range for the physical "
                                             "network[Pod or Zone]. In Acton release it can be Zone only in "
                                             "Advance zone, and Pod in Basic")
    tags: list[str] | None = Field(None, description="Tag the physical network")
    networkspeed: str | None = Field(None, description="the speed for the physical network[1G/10G]")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain ID of the account "
                                                                   "owning a physical network")


def _create_pn(ctx: CallContext, p: CreatePhysicalNetworkParams) -> str:
    pn = infra.create_physical_network(ctx.session, zone=ctx.refs["zoneid"], name=p.name,
                                       isolationmethods=p.isolationmethods, vlan=p.vlan,
                                       broadcastdomainrange=p.broadcastdomainrange, tags=p.tags,
                                       networkspeed=p.networkspeed, domain=ctx.refs.get("domainid"))
    return pn.uuid


@api_command("createPhysicalNetwork", params=CreatePhysicalNetworkParams, result_key="physicalnetwork",
             response=PhysicalNetworkResp, roles=ADMIN, is_async=True, create=_create_pn,
             event="PHYSICAL.NETWORK.CREATE", entity="PhysicalNetwork", description="Creates a physical network")
def create_physical_network(ctx: CallContext, p: CreatePhysicalNetworkParams) -> PhysicalNetworkResp:
    pn = ctx.session.scalar(select(PhysicalNetwork).where(PhysicalNetwork.uuid == ctx.created_uuid))
    assert pn is not None
    return pn_resp(ctx, pn)


class UpdatePhysicalNetworkParams(Params):
    id: Annotated[str, Ref("PhysicalNetwork")] = Field(description="physical network id")
    state: str | None = Field(None, description="Enabled/Disabled")
    vlan: str | None = Field(None, description="the VLAN for the physical network")
    tags: Annotated[list[str] | None, ParamInfo(keep_empty=True)] = Field(
        None, description="Tag the physical network")
    networkspeed: str | None = Field(None, description="the speed for the physical network[1G/10G]")


@api_command("updatePhysicalNetwork", params=UpdatePhysicalNetworkParams, result_key="physicalnetwork",
             response=PhysicalNetworkResp, roles=ADMIN, is_async=True, event="PHYSICAL.NETWORK.UPDATE",
             entity="PhysicalNetwork", description="Updates a physical network")
def update_physical_network(ctx: CallContext, p: UpdatePhysicalNetworkParams) -> PhysicalNetworkResp:
    pn = infra.update_physical_network(ctx.session, ctx.refs["id"], state=p.state, vlan=p.vlan, tags=p.tags,
                                       networkspeed=p.networkspeed)
    return pn_resp(ctx, pn)


class IdParams(Params):
    id: Annotated[str, Ref("PhysicalNetwork")] = Field(description="the ID of the Physical network")


@api_command("deletePhysicalNetwork", params=IdParams, roles=ADMIN, is_async=True, event="PHYSICAL.NETWORK.DELETE",
             entity="PhysicalNetwork", description="Deletes a Physical Network.")
def delete_physical_network(ctx: CallContext, p: IdParams) -> Success:
    infra.delete_physical_network(ctx.session, ctx.refs["id"])
    return Success()


class ListPhysicalNetworksParams(ListParams):
    id: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(None, description="list physical network by "
                                                                      "id")
    name: str | None = Field(None, description="search by name")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID for the physical "
                                                               "network")


@api_command("listPhysicalNetworks", params=ListPhysicalNetworksParams, result_key="physicalnetwork",
             response=PhysicalNetworkResp, roles=ADMIN, description="Lists physical networks")
def list_physical_networks(ctx: CallContext, p: ListPhysicalNetworksParams) -> ListResult:
    stmt = select(PhysicalNetwork).where(PhysicalNetwork.removed.is_(None))
    if p.id:
        stmt = stmt.where(PhysicalNetwork.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(PhysicalNetwork.name, p.name))
    if p.zoneid:
        stmt = stmt.where(PhysicalNetwork.zone_id == ctx.refs["zoneid"].id)
    stmt = keyword_filter(stmt, p.keyword, PhysicalNetwork.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, PhysicalNetwork.id)
    return ListResult([pn_resp(ctx, r) for r in rows], count)


# ---- traffic types ----------------------------------------------------------------------------------------------

class AddTrafficTypeParams(Params):
    physicalnetworkid: Annotated[str, Ref("PhysicalNetwork")] = Field(description="the Physical Network ID")
    traffictype: str = Field(description="the trafficType to be added to the physical network")
    kvmnetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                        "dedicated to this traffic on a KVM host")
    xennetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                        "dedicated to this traffic on a XenServer host")
    vmwarenetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                           "dedicated to this traffic on a VMware host")
    hypervnetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                           "dedicated to this traffic on a Hyperv host")
    ovm3networklabel: str | None = Field(None, description="The network name of the physical device dedicated to "
                                         "this traffic on an OVM3 host")
    isolationmethod: str | None = Field(None, description="Used if physical network has multiple isolation types "
                                        "and traffic type is public.")
    vlan: str | None = Field(None, description="The VLAN id to be used for Management traffic by VMware host")


def _add_tt(ctx: CallContext, p: AddTrafficTypeParams) -> str:
    tt = infra.add_traffic_type(ctx.session, ctx.refs["physicalnetworkid"], p.traffictype,
                                {"kvm": p.kvmnetworklabel, "xen": p.xennetworklabel, "vmware": p.vmwarenetworklabel},
                                p.vlan)
    return tt.uuid


@api_command("addTrafficType", params=AddTrafficTypeParams, result_key="traffictype", response=TrafficTypeResp,
             roles=ADMIN, is_async=True, create=_add_tt, event="TRAFFIC.TYPE.CREATE", entity="TrafficType",
             description="Adds traffic type to a physical network")
def add_traffic_type(ctx: CallContext, p: AddTrafficTypeParams) -> TrafficTypeResp:
    tt = ctx.session.scalar(select(TrafficType).where(TrafficType.uuid == ctx.created_uuid))
    assert tt is not None
    return tt_resp(ctx, tt)


class DeleteTrafficTypeParams(Params):
    id: Annotated[str, Ref("TrafficType")] = Field(description="traffic type id")


@api_command("deleteTrafficType", params=DeleteTrafficTypeParams, roles=ADMIN, is_async=True,
             event="TRAFFIC.TYPE.DELETE", entity="TrafficType", description="Deletes traffic type of a physical "
             "network")
def delete_traffic_type(ctx: CallContext, p: DeleteTrafficTypeParams) -> Success:
    infra.delete_traffic_type(ctx.session, ctx.refs["id"])
    return Success()


class ListTrafficTypesParams(ListParams):
    physicalnetworkid: Annotated[str, Ref("PhysicalNetwork", "read")] = Field(description="the Physical Network ID")


@api_command("listTrafficTypes", params=ListTrafficTypesParams, result_key="traffictype", response=TrafficTypeResp,
             roles=ADMIN, description="Lists traffic types of a given physical network.")
def list_traffic_types(ctx: CallContext, p: ListTrafficTypesParams) -> ListResult:
    stmt = select(TrafficType).where(TrafficType.physical_network_id == ctx.refs["physicalnetworkid"].id)
    stmt = keyword_filter(stmt, p.keyword, TrafficType.traffic_type)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, TrafficType.id)
    return ListResult([tt_resp(ctx, r) for r in rows], count)


# ---- network service providers and their elements ---------------------------------------------------------------

class ListNspParams(ListParams):
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(None, description="the Physical "
                                                                                     "Network ID")
    name: str | None = Field(None, description="list providers by name")
    state: str | None = Field(None, description="list providers by state")


@api_command("listNetworkServiceProviders", params=ListNspParams, result_key="networkserviceprovider",
             response=NetworkServiceProviderResp, roles=ADMIN,
             description="Lists network serviceproviders for a given physical network.")
def list_network_service_providers(ctx: CallContext, p: ListNspParams) -> ListResult:
    stmt = select(NetworkServiceProvider).where(NetworkServiceProvider.removed.is_(None))
    if p.physicalnetworkid:
        stmt = stmt.where(NetworkServiceProvider.physical_network_id == ctx.refs["physicalnetworkid"].id)
    else:
        stmt = stmt.where(NetworkServiceProvider.physical_network_id.in_(
            select(PhysicalNetwork.id).where(PhysicalNetwork.removed.is_(None))))
    if p.name:
        stmt = stmt.where(NetworkServiceProvider.name.ilike(p.name))
    if p.state:
        stmt = stmt.where(NetworkServiceProvider.state.ilike(p.state))
    stmt = keyword_filter(stmt, p.keyword, NetworkServiceProvider.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, NetworkServiceProvider.id)
    return ListResult([nsp_resp(ctx, r) for r in rows], count)


class UpdateNspParams(Params):
    id: Annotated[str, Ref("NetworkServiceProvider")] = Field(description="network service provider id")
    state: str | None = Field(None, description="Enabled/Disabled/Shutdown the physical network service provider")
    servicelist: list[str] | None = Field(None, description="the list of services to be enabled for this physical "
                                          "network service provider")


@api_command("updateNetworkServiceProvider", params=UpdateNspParams, result_key="networkserviceprovider",
             response=NetworkServiceProviderResp, roles=ADMIN, is_async=True, event="SERVICE.PROVIDER.UPDATE",
             entity="PhysicalNetworkServiceProvider",
             description="Updates a network serviceProvider of a physical network")
def update_network_service_provider(ctx: CallContext, p: UpdateNspParams) -> NetworkServiceProviderResp:
    return nsp_resp(ctx, infra.update_provider(ctx.session, ctx.refs["id"], state=p.state,
                                               servicelist=p.servicelist))


class ListElementsParams(ListParams):
    id: Annotated[str | None, Ref("VirtualRouterElement", "read")] = Field(None, description="list virtual router "
                                                                           "elements by id")
    nspid: Annotated[str | None, Ref("NetworkServiceProvider", "read")] = Field(
        None, description="list virtual router elements by network service provider id")
    enabled: bool | None = Field(None, description="list network offerings by enabled state")


def _list_elements(ctx: CallContext, p: ListElementsParams, types: tuple[str, ...]) -> ListResult:
    stmt = select(VirtualRouterElement).where(VirtualRouterElement.removed.is_(None),
                                              VirtualRouterElement.type.in_(types))
    stmt = stmt.where(VirtualRouterElement.nsp_id.in_(
        select(NetworkServiceProvider.id).join(PhysicalNetwork, PhysicalNetwork.id ==
                                               NetworkServiceProvider.physical_network_id)
        .where(PhysicalNetwork.removed.is_(None))))
    if p.id:
        stmt = stmt.where(VirtualRouterElement.uuid == p.id)
    if p.nspid:
        stmt = stmt.where(VirtualRouterElement.nsp_id == ctx.refs["nspid"].id)
    if p.enabled is not None:
        stmt = stmt.where(VirtualRouterElement.enabled.is_(p.enabled))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VirtualRouterElement.id)
    return ListResult([el_resp(ctx, r) for r in rows], count)


@api_command("listVirtualRouterElements", params=ListElementsParams, result_key="virtualrouterelement",
             response=VirtualRouterElementResp, roles=ADMIN, description="Lists all available virtual router "
             "elements.")
def list_virtual_router_elements(ctx: CallContext, p: ListElementsParams) -> ListResult:
    return _list_elements(ctx, p, ("VirtualRouter", "VpcVirtualRouter"))


@api_command("listInternalLoadBalancerElements", params=ListElementsParams,
             result_key="internalloadbalancerelement", response=VirtualRouterElementResp, roles=ADMIN,
             since="4.2.0", description="Lists all available Internal Load Balancer elements.")
def list_internal_lb_elements(ctx: CallContext, p: ListElementsParams) -> ListResult:
    return _list_elements(ctx, p, ("InternalLbVm",))


class ConfigureElementParams(Params):
    id: Annotated[str, Ref("VirtualRouterElement")] = Field(description="the ID of the virtual router provider")
    enabled: bool = Field(description="Enabled/Disabled the service provider")


@api_command("configureVirtualRouterElement", params=ConfigureElementParams, result_key="virtualrouterelement",
             response=VirtualRouterElementResp, roles=ADMIN, is_async=True, event="NETWORK.ELEMENT.CONFIGURE",
             entity="VirtualRouterElement", description="Configures a virtual router element.")
def configure_virtual_router_element(ctx: CallContext, p: ConfigureElementParams) -> VirtualRouterElementResp:
    return el_resp(ctx, infra.configure_element(ctx.session, ctx.refs["id"], p.enabled))


@api_command("configureInternalLoadBalancerElement", params=ConfigureElementParams,
             result_key="internalloadbalancerelement", response=VirtualRouterElementResp, roles=ADMIN,
             is_async=True, since="4.2.0", event="NETWORK.ELEMENT.CONFIGURE", entity="VirtualRouterElement",
             description="Configures an Internal Load Balancer element.")
def configure_internal_lb_element(ctx: CallContext, p: ConfigureElementParams) -> VirtualRouterElementResp:
    return el_resp(ctx, infra.configure_element(ctx.session, ctx.refs["id"], p.enabled))
