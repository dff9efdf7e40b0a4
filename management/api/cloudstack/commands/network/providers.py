"""What the network layer is made of: supported services and their capabilities, traffic type implementors,
isolation methods, protocol numbers; network service providers of a physical network (add/delete), virtual
router and OVS elements, traffic type labels."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.physical_networks import el_resp, nsp_resp, tt_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ALL_ROLES, ListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_infra import (
    NetworkServiceProviderResp,
    TrafficTypeResp,
    VirtualRouterElementResp,
)
from management.api.cloudstack.schemas_network import CapabilityResp, ProviderResp, ServiceResp
from management.api.cloudstack.schemas_providers import (
    IsolationMethodResp,
    NetworkProtocolResp,
    OvsElementResp,
    TrafficTypeImplementorResp,
)
from management.errors import ParamError, invalid_id
from management.models.infra import NetworkServiceProvider, PhysicalNetwork, VirtualRouterElement
from management.services.context import CallContext
from management.services.listing import paginate
from management.services.network import protocols
from management.services.network import providers as svc


def _page(items: list, p: ListParams) -> ListResult:
    total = len(items)
    if p.page and p.pagesize and p.pagesize > 0:
        items = items[(p.page - 1) * p.pagesize: p.page * p.pagesize]
    return ListResult(items, total)


class ListImplementorsParams(ListParams):
    traffictype: str | None = Field(None, description="only implementors of this traffic type")


@api_command("listTrafficTypeImplementors", params=ListImplementorsParams, roles=ADMIN,
             result_key="traffictypeimplementor", response=TrafficTypeImplementorResp,
             description="Lists which component implements each traffic type")
def list_implementors(ctx: CallContext, p: ListImplementorsParams) -> ListResult:
    rows = [TrafficTypeImplementorResp(traffictype=t, traffictypeimplementor=g)
            for t, g in svc.implementors(p.traffictype)]
    return _page(rows, p)


@api_command("listNetworkIsolationMethods", params=ListParams, roles=ADMIN, since="4.2.0",
             result_key="isolationmethod", response=IsolationMethodResp,
             description="Lists the isolation methods a physical network may use")
def list_isolation_methods(ctx: CallContext, p: ListParams) -> ListResult:
    rows = [IsolationMethodResp(name=m) for m in svc.isolation_methods()
            if not p.keyword or p.keyword.lower() in m.lower()]
    return _page(rows, p)


class ListProtocolsParams(Params):
    option: str = Field(description="what to list: protocolnumber (IP protocol numbers) or icmptype (ICMP types "
                        "with their codes)")


@api_command("listNetworkProtocols", params=ListProtocolsParams, roles=ALL_ROLES, since="4.19.0",
             result_key="networkprotocol", response=NetworkProtocolResp,
             description="Lists IP protocol numbers or ICMP types and codes, for firewall and ACL rules")
def list_network_protocols(ctx: CallContext, p: ListProtocolsParams) -> ListResult:
    if protocols.option(p.option) == "ProtocolNumber":
        rows = [NetworkProtocolResp(index=n, name=k, description=d) for n, k, d in protocols.PROTOCOL_NUMBERS]
    else:
        rows = [NetworkProtocolResp(index=t, description=name, details={str(c): m for c, m in codes.items()})
                for t, (name, codes) in protocols.ICMP_TYPES.items()]
    return ListResult(rows, len(rows), keep_key=False)


class ListSupportedServicesParams(ListParams):
    provider: str | None = Field(None, description="only services this network service provider offers")
    service: str | None = Field(None, description="only this network service")


@api_command("listSupportedNetworkServices", params=ListSupportedServicesParams, roles=ALL_ROLES,
             result_key="networkservice", response=ServiceResp,
             description="Lists the network services, which providers offer them and with what capabilities")
def list_supported_services(ctx: CallContext, p: ListSupportedServicesParams) -> ListResult:
    rows = [ServiceResp(name=name, provider=[ProviderResp(name=x) for x in provs],
                        capability=[CapabilityResp(name=k, value=v) for k, v in caps.items()])
            for name, provs, caps in svc.supported_services(p.provider, p.service)]
    return _page(rows, p)


# ---- service providers --------------------------------------------------------------------------------------------

class AddProviderParams(Params):
    physicalnetworkid: Annotated[str, Ref("PhysicalNetwork")] = Field(description="physical network to add the "
                                                                      "provider to")
    destinationphysicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork")] = Field(
        None, description="physical network the provider bridges to, for providers that bridge two")
    name: str = Field(description="name of the provider, e.g. VirtualRouter")
    servicelist: list[str] | None = Field(None, description="services to enable (default: all the provider "
                                          "offers)")


def _add_provider(ctx: CallContext, p: AddProviderParams) -> str:
    return svc.add_provider(ctx.session, ctx.refs["physicalnetworkid"], p.name,
                            ctx.refs.get("destinationphysicalnetworkid"), p.servicelist).uuid


@api_command("addNetworkServiceProvider", params=AddProviderParams, roles=ADMIN, is_async=True,
             create=_add_provider, result_key="networkserviceprovider", response=NetworkServiceProviderResp,
             event="SERVICE.PROVIDER.CREATE", entity="PhysicalNetworkServiceProvider",
             description="Adds a network service provider to a physical network")
def add_provider(ctx: CallContext, p: AddProviderParams) -> NetworkServiceProviderResp:
    nsp = ctx.session.scalar(select(NetworkServiceProvider).where(NetworkServiceProvider.uuid == ctx.created_uuid))
    if nsp is None:
        raise invalid_id(ctx.created_uuid or "")
    return nsp_resp(ctx, nsp)


class ProviderIdParams(Params):
    id: Annotated[str, Ref("NetworkServiceProvider")] = Field(description="ID of the network service provider")


@api_command("deleteNetworkServiceProvider", params=ProviderIdParams, roles=ADMIN, is_async=True,
             event="SERVICE.PROVIDER.DELETE", entity="PhysicalNetworkServiceProvider",
             description="Removes a network service provider from its physical network")
def delete_provider(ctx: CallContext, p: ProviderIdParams) -> Success:
    svc.delete_provider(ctx.session, ctx.refs["id"])
    return Success()


class UpdateTrafficTypeParams(Params):
    id: Annotated[str, Ref("TrafficType")] = Field(description="ID of the traffic type")
    xennetworklabel: str | None = Field(None, description="name of the XenServer network carrying this traffic")
    kvmnetworklabel: str | None = Field(None, description="name of the KVM host bridge carrying this traffic")
    vmwarenetworklabel: str | None = Field(None, description="name of the VMware network carrying this traffic")
    hypervnetworklabel: str | None = Field(None, description="name of the Hyper-V network carrying this traffic")
    ovm3networklabel: str | None = Field(None, description="name of the OVM3 network carrying this traffic")


@api_command("updateTrafficType", params=UpdateTrafficTypeParams, roles=ADMIN, is_async=True,
             result_key="traffictype", response=TrafficTypeResp, event="TRAFFIC.TYPE.UPDATE", entity="TrafficType",
             description="Changes the hypervisor network labels of a traffic type")
def update_traffic_type(ctx: CallContext, p: UpdateTrafficTypeParams) -> TrafficTypeResp:
    tt = svc.update_traffic_type(ctx.session, ctx.refs["id"], {
        "xen_label": p.xennetworklabel, "kvm_label": p.kvmnetworklabel, "vmware_label": p.vmwarenetworklabel,
        "hyperv_label": p.hypervnetworklabel, "ovm3_label": p.ovm3networklabel})
    return tt_resp(ctx, tt)


class CreateElementParams(Params):
    nspid: Annotated[str, Ref("NetworkServiceProvider")] = Field(description="ID of the network service provider")
    providertype: Uuid | None = Field(None, description="VirtualRouter (default) or VPCVirtualRouter")


def _create_element(ctx: CallContext, p: CreateElementParams) -> str:
    return svc.create_element(ctx.session, ctx.refs["nspid"], p.providertype).uuid


@api_command("createVirtualRouterElement", params=CreateElementParams, roles=ADMIN, is_async=True,
             create=_create_element, result_key="virtualrouterelement", response=VirtualRouterElementResp,
             event="SERVICE.PROVIDER.CREATE", entity="VirtualRouterElement",
             description="Creates a virtual router element for a network service provider")
def create_element(ctx: CallContext, p: CreateElementParams) -> VirtualRouterElementResp:
    el = ctx.session.scalar(select(VirtualRouterElement).where(VirtualRouterElement.uuid == ctx.created_uuid))
    if el is None:
        raise invalid_id(ctx.created_uuid or "")
    return el_resp(ctx, el)


def ovs_resp(ctx: CallContext, e: VirtualRouterElement) -> OvsElementResp:
    nsp = ctx.session.get_one(NetworkServiceProvider, e.nsp_id)
    return OvsElementResp(id=e.uuid, nspid=nsp.uuid, enabled=e.enabled)


class ConfigureOvsParams(Params):
    id: Annotated[str, Ref("VirtualRouterElement")] = Field(description="ID of the OVS element")
    enabled: bool = Field(description="true to enable the element, false to disable it")


@api_command("configureOvsElement", params=ConfigureOvsParams, roles=ADMIN, is_async=True,
             result_key="ovselement", response=OvsElementResp, event="NETWORK.ELEMENT.CONFIGURE",
             entity="VirtualRouterElement", description="Enables or disables an OVS element")
def configure_ovs(ctx: CallContext, p: ConfigureOvsParams) -> OvsElementResp:
    el: VirtualRouterElement = ctx.refs["id"]
    if el.type != "Ovs":
        raise ParamError(f"Can't find Ovs element with network service provider id {p.id}")
    el.enabled = p.enabled
    ctx.session.flush()
    return ovs_resp(ctx, el)


class ListOvsParams(ListParams):
    id: Annotated[str | None, Ref("VirtualRouterElement", "read")] = Field(None, description="ID of an OVS element")
    nspid: Annotated[str | None, Ref("NetworkServiceProvider", "read")] = Field(
        None, description="only the element of this network service provider")
    enabled: bool | None = Field(None, description="only enabled (true) or disabled (false) elements")


@api_command("listOvsElements", params=ListOvsParams, roles=ADMIN, result_key="ovselement",
             response=OvsElementResp, description="Lists the OVS elements of the physical networks")
def list_ovs(ctx: CallContext, p: ListOvsParams) -> ListResult:
    stmt = select(VirtualRouterElement).where(VirtualRouterElement.removed.is_(None),
                                              VirtualRouterElement.type == "Ovs").where(
        VirtualRouterElement.nsp_id.in_(select(NetworkServiceProvider.id).join(
            PhysicalNetwork, PhysicalNetwork.id == NetworkServiceProvider.physical_network_id)
            .where(PhysicalNetwork.removed.is_(None))))
    if p.id:
        stmt = stmt.where(VirtualRouterElement.uuid == p.id)
    if p.nspid:
        stmt = stmt.where(VirtualRouterElement.nsp_id == ctx.refs["nspid"].id)
    if p.enabled is not None:
        stmt = stmt.where(VirtualRouterElement.enabled.is_(p.enabled))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VirtualRouterElement.id)
    return ListResult([ovs_resp(ctx, r) for r in rows], count)
