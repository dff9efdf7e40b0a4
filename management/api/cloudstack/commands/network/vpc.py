"""VPC offerings, VPCs, private gateways and static routes (cs_vpc_offering, cs_vpc, cs_vpc_private_gateway,
cs_static_route; tiers are createNetwork with vpcid, see networks.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.networks import network_resp
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ListParams,
    Long,
    MapParam,
    OwnedListParams,
    ParamInfo,
    Params,
    Ref,
    TaggedListParams,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas import TagResp
from management.api.cloudstack.schemas_network import ProviderResp, ServiceResp
from management.api.cloudstack.schemas_vpc import PrivateGatewayResp, StaticRouteResp, VpcOfferingResp, VpcResp
from management.errors import ParamError, invalid_id
from management.models.identity import Account, Domain
from management.models.infra import PhysicalNetwork, Zone
from management.models.network import Network
from management.models.vpc import NetworkAcl, StaticRoute, Vpc, VpcGateway, VpcOffering
from management.services import access, tags
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, tags_filter
from management.services.network import vpc as svc

tags.register("Vpc", "Vpc")
tags.register("StaticRoute", "StaticRoute")


def owner_fields(ctx: CallContext, account_id: int | None, domain_id: int | None) -> dict[str, Any]:
    acct = ctx.session.get(Account, account_id) if account_id else None
    dom = ctx.session.get(Domain, domain_id) if domain_id else None
    return {"account": acct.name if acct else None, "domainid": dom.uuid if dom else None,
            "domain": dom.name if dom else None, "domainpath": dom.display_path if dom else None}


def check_project(ctx: CallContext, projectid: str | None) -> None:
    """``projectid`` must name a project the caller may use (431 when there is no such project here)."""
    if projectid is None:
        return
    access.resolve(ctx.session, ctx.caller, "Project", projectid, "write")


def tag_resps(rows: list | None) -> list[TagResp]:
    return [TagResp(key=t.key, value=t.value, resourcetype=t.resource_type, resourceid=t.resource_uuid)
            for t in rows or []]


# ------------------------------------------------------------------------------------------------ offerings

def _services(services: dict[str, list[str]]) -> list[ServiceResp]:
    return [ServiceResp(name=n, provider=[ProviderResp(name=p) for p in provs]) for n, provs in
            sorted(services.items())]


def offering_resp(ctx: CallContext, off: VpcOffering) -> VpcOfferingResp:
    return VpcOfferingResp(id=off.uuid, name=off.name, displaytext=off.display_text, created=off.created,
                           isdefault=off.is_default, state=off.state, service=_services(svc.services_of(off)),
                           distributedvpcrouter=off.distributed_router, supportsregionLevelvpc=off.region_level_vpc,
                           networkmode="NATTED", internetprotocol=off.internet_protocol or "IPv4")


class CreateVpcOfferingParams(Params):
    name: str = Field(description="the name of the vpc offering")
    displaytext: str | None = Field(None, description="the display text of the vpc offering, defaults to the "
                                    "'name'")
    supportedservices: list[str] | None = Field(None, description="services supported by the vpc offering")
    serviceproviderlist: MapParam | None = Field(None, description="provider to service mapping. If not specified, "
                                                 "the provider for the service will be mapped to the default "
                                                 "provider on the physical network")
    servicecapabilitylist: MapParam | None = Field(None, description="desired service capabilities as part of vpc "
                                                   "offering")
    internetprotocol: str | None = Field(None, description="The internet protocol of the offering. Options are "
                                         "ipv4 and dualstack. Default is ipv4. dualstack will create an offering "
                                         "that supports both IPv4 and IPv6")
    serviceofferingid: Annotated[str | None, Ref("ServiceOffering", "read")] = Field(
        None, description="the ID of the service offering for the VPC router appliance")
    domainid: list[str] | None = Field(None, description="the ID of the containing domain(s), null for public "
                                       "offerings")
    zoneid: list[str] | None = Field(None, description="the ID of the containing zone(s), null for public "
                                     "offerings")
    fornsx: bool | None = Field(None, description="true if network offering is meant to be used for NSX, false "
                                "otherwise.")
    provider: str | None = Field(None, description="Name of the provider providing the service")
    nsxsupportlb: bool | None = Field(None, description="true if network offering for NSX VPC offering supports "
                                      "Load balancer service.")
    enable: bool = Field(False, description="set to true if the offering is to be enabled during creation. Default "
                         "is false")
    networkmode: str | None = Field(None, description="Indicates the mode with which the network will operate. "
                                    "Valid option: NATTED or ROUTED")
    specifyasnumber: bool | None = Field(None, description="specify whether AS number should be specified")
    routingmode: str | None = Field(None, description="the routing mode for the VPC offering. Supported types are: "
                                    "Static or Dynamic.")


def _create_offering(ctx: CallContext, p: CreateVpcOfferingParams) -> str:
    if p.provider and p.provider.lower() in ("nsx", "netris") or p.fornsx:
        raise ParamError(f"Provider {p.provider or 'Nsx'} is not available in this zone")
    if p.networkmode and p.networkmode.upper() != "NATTED":
        raise ParamError("Configuration routed.network.vpc.enabled needs to be enabled for Routed VPCs")
    if p.specifyasnumber:
        raise ParamError("SpecifyAsNumber can only be true for VPC offerings for NSX")
    domains = [access.resolve(ctx.session, ctx.caller, "Domain", d, "read") for d in p.domainid or []]
    zones = [access.resolve(ctx.session, ctx.caller, "Zone", z, "read") for z in p.zoneid or []]
    off = svc.create_offering(ctx.session, name=p.name, display_text=p.displaytext, supported=p.supportedservices,
                              provider_map=p.serviceproviderlist, service_offering=ctx.refs.get("serviceofferingid"),
                              domains=domains, zones=zones, enable=p.enable, internet_protocol=p.internetprotocol)
    return off.uuid


@api_command("createVPCOffering", params=CreateVpcOfferingParams, is_async=True, create=_create_offering,
             result_key="vpcoffering", response=VpcOfferingResp, roles=ADMIN, event="VPC.OFFERING.CREATE",
             entity="VpcOffering", description="Creates VPC offering")
def create_vpc_offering(ctx: CallContext, p: CreateVpcOfferingParams) -> VpcOfferingResp:
    off = ctx.session.scalar(select(VpcOffering).where(VpcOffering.uuid == ctx.created_uuid))
    if off is None:
        raise invalid_id(ctx.created_uuid or "")
    return offering_resp(ctx, off)


class UpdateVpcOfferingParams(Params):
    id: Annotated[str, Ref("VpcOffering")] = Field(description="the id of the VPC offering")
    name: str | None = Field(None, description="the name of the VPC offering")
    displaytext: str | None = Field(None, description="the display text of the VPC offering")
    state: str | None = Field(None, description="update state for the VPC offering; supported states - Enabled/"
                              "Disabled")
    domainid: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the ID of the containing domain(s) as comma separated string, public for public offerings")
    zoneid: str | None = Field(None, description="the ID of the containing zone(s) as comma separated string, all "
                               "for all zones offerings")
    sortkey: int | None = Field(None, description="sort key of the VPC offering, integer")


@api_command("updateVPCOffering", params=UpdateVpcOfferingParams, is_async=True, result_key="vpcoffering",
             response=VpcOfferingResp, roles=ADMIN, event="VPC.OFFERING.UPDATE", entity="VpcOffering",
             description="Updates VPC offering")
def update_vpc_offering(ctx: CallContext, p: UpdateVpcOfferingParams) -> VpcOfferingResp:
    return offering_resp(ctx, svc.update_offering(ctx.session, ctx.refs["id"], name=p.name,
                                                  display_text=p.displaytext, state=p.state, sort_key=p.sortkey))


class IdOfferingParams(Params):
    id: Annotated[str, Ref("VpcOffering")] = Field(description="the ID of the VPC offering")


@api_command("deleteVPCOffering", params=IdOfferingParams, is_async=True, roles=ADMIN, event="VPC.OFFERING.DELETE",
             entity="VpcOffering", description="Deletes VPC offering")
def delete_vpc_offering(ctx: CallContext, p: IdOfferingParams) -> Success:
    svc.delete_offering(ctx.session, ctx.refs["id"])
    return Success()


class ListVpcOfferingsParams(ListParams):
    id: Annotated[str | None, Ref("VpcOffering", "read")] = Field(None, description="list VPC offerings by id")
    name: str | None = Field(None, description="list VPC offerings by name")
    displaytext: str | None = Field(None, description="list VPC offerings by display text")
    isdefault: bool | None = Field(None, description="true if need to list only default VPC offerings. Default "
                                   "value is false")
    supportedservices: list[str] | None = Field(None, description="list VPC offerings supporting certain services")
    state: str | None = Field(None, description="list VPC offerings by state")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="list VPC offerings available "
                                                                   "for VPC creation in specific domain")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="id of zone VPC offering is "
                                                               "associated with")


@api_command("listVPCOfferings", params=ListVpcOfferingsParams, result_key="vpcoffering", response=VpcOfferingResp,
             description="Lists VPC offerings")
def list_vpc_offerings(ctx: CallContext, p: ListVpcOfferingsParams) -> ListResult:
    svc.ensure_seeded(ctx.session)
    stmt = select(VpcOffering).where(VpcOffering.removed.is_(None))
    if not ctx.caller.is_admin:
        stmt = stmt.where(VpcOffering.state == "Enabled")
    if p.id:
        stmt = stmt.where(VpcOffering.uuid == p.id)
    if p.name:
        stmt = stmt.where(VpcOffering.name == p.name)
    if p.displaytext:
        stmt = stmt.where(VpcOffering.display_text == p.displaytext)
    if p.isdefault is not None:
        stmt = stmt.where(VpcOffering.is_default.is_(p.isdefault))
    if p.state:
        stmt = stmt.where(VpcOffering.state.ilike(p.state))
    if p.zoneid:
        zid = str(ctx.refs["zoneid"].id)
        stmt = stmt.where(VpcOffering.zone_ids.is_(None) | VpcOffering.zone_ids.contains(zid))
    stmt = keyword_filter(stmt, p.keyword, VpcOffering.name, VpcOffering.display_text)
    if p.supportedservices:
        want = {s.lower() for s in p.supportedservices}
        ok = [o.id for o in ctx.session.scalars(stmt) if want <= {k.lower() for k in svc.services_of(o)}]
        stmt = select(VpcOffering).where(VpcOffering.id.in_(ok))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VpcOffering.sort_key)
    return ListResult([offering_resp(ctx, o) for o in rows], count)


# ------------------------------------------------------------------------------------------------ VPCs

def vpc_resp(ctx: CallContext, vpc: Vpc, tag_rows: list | None = None) -> VpcResp:
    s = ctx.session
    zone = s.get(Zone, vpc.zone_id)
    off = s.get_one(VpcOffering, vpc.vpc_offering_id)
    nets = [network_resp(ctx, n) for n in svc.tiers(s, vpc)]
    return VpcResp(id=vpc.uuid, name=vpc.name, displaytext=vpc.display_text, state=vpc.state,
                   zoneid=zone.uuid if zone else "", zonename=zone.name if zone else None,
                   service=_services(svc.services_of(off)), cidr=vpc.cidr, vpcofferingid=off.uuid,
                   vpcofferingname=off.name, created=vpc.created, network=nets, restartrequired=vpc.restart_required,
                   networkdomain=vpc.network_domain, tags=tag_resps(tag_rows), fordisplay=vpc.display,
                   redundantvpcrouter=vpc.redundant, publicmtu=vpc.public_mtu, dns1=vpc.dns1, dns2=vpc.dns2,
                   **owner_fields(ctx, vpc.account_id, vpc.domain_id))


class CreateVpcParams(Params):
    account: str | None = Field(None, description="the account associated with the VPC. Must be used with the "
                                "domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the domain ID associated with "
                                                                   "the VPC. If used with the account parameter "
                                                                   "returns the VPC associated with the account for "
                                                                   "the specified domain.")
    projectid: Uuid | None = Field(None, description="create VPC for the project")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the ID of the availability zone")
    name: str = Field(description="the name of the VPC")
    displaytext: str | None = Field(None, description="The display text of the VPC, defaults to its 'name'.")
    cidr: str | None = Field(None, description="the cidr of the VPC. All VPC guest networks' cidrs should be within "
                             "this CIDR")
    cidrsize: int | None = Field(None, description="the CIDR size of VPC. For regular users, this is required for "
                                 "VPC with ROUTED mode.")
    vpcofferingid: Annotated[str, Ref("VpcOffering", "read")] = Field(description="the ID of the VPC offering")
    networkdomain: str | None = Field(None, description="VPC network domain. All networks inside the VPC will "
                                      "belong to this domain")
    start: bool = Field(True, description="If set to false, the VPC won't start (VPC VR will not get allocated) "
                        "until its first network gets implemented. True by default.")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpc to the "
                                    "end user or not")
    publicmtu: int | None = Field(None, description="MTU to be configured on the network VR's public facing "
                                  "interfaces")
    dns1: str | None = Field(None, description="the first IPv4 DNS for the VPC")
    dns2: str | None = Field(None, description="the second IPv4 DNS for the VPC")
    ip6dns1: str | None = Field(None, description="the first IPv6 DNS for the VPC")
    ip6dns2: str | None = Field(None, description="the second IPv6 DNS for the VPC")
    sourcenatipaddress: str | None = Field(None, description="IPV4 address to be assigned to the public interface "
                                           "of the network router. This address will be used as source NAT address. "
                                           "If an address is given and it cannot be acquired, an error will be "
                                           "returned and the network won´t be implemented,")
    asnumber: Long | None = Field(None, description="the AS Number of the VPC tiers")
    bgppeerids: list[str] | None = Field(None, description="Ids of the Bgp Peer for the VPC")
    userouteripresolver: bool | None = Field(None, description="(optional) for NSX based VPCs: when set to true, "
                                             "use the VR IP as nameserver, otherwise use DNS1 and DNS2")


def _create_vpc(ctx: CallContext, p: CreateVpcParams) -> str:
    if p.ip6dns1 or p.ip6dns2:
        raise ParamError("IPv6 DNS can be specified for IPv6 enabled VPC")
    if p.asnumber is not None or p.bgppeerids:
        raise ParamError("AS number and BGP peers can only be used with VPC offerings in ROUTED mode with dynamic "
                         "routing")
    if p.cidr is None and p.cidrsize is not None:
        raise ParamError("cidrsize can only be used with VPC offerings in ROUTED mode")
    check_project(ctx, p.projectid)
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    vpc = svc.create_vpc(ctx.session, ctx.caller, owner, ctx.refs["zoneid"], ctx.refs["vpcofferingid"], name=p.name,
                         display_text=p.displaytext, cidr=p.cidr, network_domain=p.networkdomain, start=p.start,
                         display=p.fordisplay, dns1=p.dns1, dns2=p.dns2, public_mtu=p.publicmtu,
                         snat_address=p.sourcenatipaddress)
    return vpc.uuid


@api_command("createVPC", params=CreateVpcParams, is_async=True, create=_create_vpc, result_key="vpc",
             response=VpcResp, event="VPC.CREATE", entity="Vpc", description="Creates a VPC")
def create_vpc(ctx: CallContext, p: CreateVpcParams) -> VpcResp:
    vpc = ctx.session.scalar(select(Vpc).where(Vpc.uuid == ctx.created_uuid))
    if vpc is None:
        raise invalid_id(ctx.created_uuid or "")
    return vpc_resp(ctx, vpc)


class ListVpcsParams(TaggedListParams):
    id: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="list VPC by id")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="list by zone")
    name: str | None = Field(None, description="list by name of the VPC")
    displaytext: str | None = Field(None, description="List by display text of the VPC")
    cidr: str | None = Field(None, description="list by cidr of the VPC. All VPC guest networks' cidrs should be "
                             "within this CIDR")
    vpcofferingid: Annotated[str | None, Ref("VpcOffering", "read")] = Field(None, description="list by ID of the "
                                                                             "VPC offering")
    supportedservices: list[str] | None = Field(None, description="list VPC supporting certain services")
    state: str | None = Field(None, description="list VPCs by state")
    restartrequired: bool | None = Field(None, description="list VPCs by restartRequired option")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")
    showicon: bool = Field(False, description="flag to display the resource icon for VPCs")


@api_command("listVPCs", params=ListVpcsParams, result_key="vpc", response=VpcResp, description="Lists VPCs")
def list_vpcs(ctx: CallContext, p: ListVpcsParams) -> ListResult:
    stmt = select(Vpc).where(Vpc.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, Vpc, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(Vpc.uuid == p.id)
    if p.zoneid:
        stmt = stmt.where(Vpc.zone_id == ctx.refs["zoneid"].id)
    if p.name:
        stmt = stmt.where(Vpc.name == p.name)
    if p.displaytext:
        stmt = stmt.where(Vpc.display_text == p.displaytext)
    if p.cidr:
        stmt = stmt.where(Vpc.cidr == p.cidr)
    if p.vpcofferingid:
        stmt = stmt.where(Vpc.vpc_offering_id == ctx.refs["vpcofferingid"].id)
    if p.state:
        stmt = stmt.where(Vpc.state.ilike(p.state))
    if p.restartrequired is not None:
        stmt = stmt.where(Vpc.restart_required.is_(p.restartrequired))
    if p.fordisplay is not None:
        stmt = stmt.where(Vpc.display.is_(p.fordisplay))
    if p.supportedservices:
        want = {s.lower() for s in p.supportedservices}
        offs = [o.id for o in ctx.session.scalars(select(VpcOffering))
                if want <= {k.lower() for k in svc.services_of(o)}]
        stmt = stmt.where(Vpc.vpc_offering_id.in_(offs))
    stmt = keyword_filter(stmt, p.keyword, Vpc.name, Vpc.display_text)
    stmt = tags_filter(stmt, p.tags, "Vpc", Vpc.uuid)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Vpc.id)
    by_uuid = tags.tags_of(ctx.session, "Vpc", [v.uuid for v in rows])
    return ListResult([vpc_resp(ctx, v, by_uuid.get(v.uuid)) for v in rows], count)


class UpdateVpcParams(Params):
    id: Annotated[str, Ref("Vpc")] = Field(description="the id of the VPC")
    name: str | None = Field(None, description="the name of the VPC")
    displaytext: str | None = Field(None, description="the display text of the VPC")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpc to the "
                                    "end user or not")
    publicmtu: int | None = Field(None, description="MTU to be configured on the network VR's public interface(s)")
    sourcenatipaddress: str | None = Field(None, description="IPV4 address to be assigned to the public interface "
                                           "of the network router. This address must already be acquired for this "
                                           "VPC")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateVPC", params=UpdateVpcParams, is_async=True, result_key="vpc", response=VpcResp,
             event="VPC.UPDATE", entity="Vpc", description="Updates a VPC")
def update_vpc(ctx: CallContext, p: UpdateVpcParams) -> VpcResp:
    vpc = svc.update_vpc(ctx.session, ctx.refs["id"], name=p.name, display_text=p.displaytext, display=p.fordisplay,
                         public_mtu=p.publicmtu, snat_address=p.sourcenatipaddress)
    if p.customid:
        if not ctx.caller.is_root_admin:
            raise ParamError("Only root admin can set a custom id")
        vpc.uuid = p.customid
        ctx.session.flush()
    return vpc_resp(ctx, vpc)


class VpcIdParams(Params):
    id: Annotated[str, Ref("Vpc")] = Field(description="the ID of the VPC")


@api_command("deleteVPC", params=VpcIdParams, is_async=True, event="VPC.DELETE", entity="Vpc",
             description="Deletes a VPC")
def delete_vpc(ctx: CallContext, p: VpcIdParams) -> Success:
    svc.delete_vpc(ctx.session, ctx.refs["id"])
    return Success()


class RestartVpcParams(VpcIdParams):
    cleanup: bool = Field(False, description="If cleanup old network elements")
    makeredundant: bool = Field(False, description="Turn a single VPC into a redundant one.")
    livepatch: bool = Field(False, description="Live patches the router software before restarting it. This "
                            "parameter will only work when 'cleanup' is false.")


@api_command("restartVPC", params=RestartVpcParams, is_async=True, event="VPC.RESTART", entity="Vpc",
             description="Restarts a VPC")
def restart_vpc(ctx: CallContext, p: RestartVpcParams) -> Success:
    vpc: Vpc = ctx.refs["id"]
    if p.makeredundant:
        vpc.redundant = True
    svc.restart_vpc(ctx.session, vpc, cleanup=p.cleanup or p.makeredundant)
    return Success()


# ------------------------------------------------------------------------------------------------ private gateways

def gateway_resp(ctx: CallContext, gw: VpcGateway) -> PrivateGatewayResp:
    s = ctx.session
    vpc = s.get(Vpc, gw.vpc_id)
    zone = s.get(Zone, gw.zone_id)
    pn = s.get(PhysicalNetwork, gw.physical_network_id) if gw.physical_network_id else None
    acl = s.get(NetworkAcl, gw.network_acl_id) if gw.network_acl_id else None
    assoc = s.get(Network, gw.associated_network_id) if gw.associated_network_id else None
    return PrivateGatewayResp(
        id=gw.uuid, gateway=gw.gateway, netmask=gw.netmask, ipaddress=gw.ip4_address,
        zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
        vlan=f"vlan://{gw.vlan_tag}" if gw.vlan_tag and ctx.caller.is_root_admin else None,
        vpcid=vpc.uuid if vpc else None, vpcname=vpc.name if vpc else None,
        physicalnetworkid=pn.uuid if pn and ctx.caller.is_root_admin else None, state=gw.state,
        sourcenatsupported=gw.source_nat, aclid=acl.uuid if acl else None, aclname=acl.name if acl else None,
        associatednetworkid=assoc.uuid if assoc else None, associatednetwork=assoc.name if assoc else None,
        **owner_fields(ctx, gw.account_id, gw.domain_id))


class CreatePrivateGatewayParams(Params):
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(
        None, description="the Physical Network ID the network belongs to")
    vlan: str | None = Field(None, description="the network implementation uri for the private gateway")
    bypassvlanoverlapcheck: bool | None = Field(None, description="when true bypasses VLAN id/range overlap check "
                                                "during private gateway creation")
    gateway: str = Field(description="the gateway of the Private gateway")
    netmask: str = Field(description="the netmask of the Private gateway")
    ipaddress: str = Field(description="the IP address of the Private gateaway")
    networkofferingid: Annotated[str | None, Ref("NetworkOffering", "read")] = Field(
        None, description="the uuid of the network offering to use for the private gateways network connection")
    vpcid: Annotated[str, Ref("Vpc")] = Field(description="the VPC network belongs to")
    sourcenatsupported: bool = Field(False, description="source NAT supported value. Default value false. If 'true' "
                                     "source NAT is enabled on the private gateway 'false': sourcenat is not "
                                     "supported")
    aclid: Annotated[str | None, Ref("NetworkACL", "read")] = Field(None, description="the ID of the network ACL")
    associatednetworkid: Annotated[str | None, Ref("Network", "read")] = Field(
        None, description="The isolated network this private gateway is associated to.")


def _create_gateway(ctx: CallContext, p: CreatePrivateGatewayParams) -> str:
    gw = svc.create_private_gateway(ctx.session, ctx.caller, ctx.refs["vpcid"], ip=p.ipaddress, gateway=p.gateway,
                                    netmask=p.netmask, vlan=p.vlan, physical_network=ctx.refs.get("physicalnetworkid"),
                                    source_nat=p.sourcenatsupported, acl=ctx.refs.get("aclid"),
                                    associated=ctx.refs.get("associatednetworkid"))
    return gw.uuid


@api_command("createPrivateGateway", params=CreatePrivateGatewayParams, is_async=True, create=_create_gateway,
             result_key="privategateway", response=PrivateGatewayResp, event="PRIVATE.GATEWAY.CREATE",
             entity="VpcGateway", description="Creates a private gateway")
def create_private_gateway(ctx: CallContext, p: CreatePrivateGatewayParams) -> PrivateGatewayResp:
    gw = ctx.session.scalar(select(VpcGateway).where(VpcGateway.uuid == ctx.created_uuid))
    if gw is None:
        raise invalid_id(ctx.created_uuid or "")
    return gateway_resp(ctx, gw)


class GatewayIdParams(Params):
    id: Annotated[str, Ref("PrivateGateway")] = Field(description="the ID of the private gateway")


@api_command("deletePrivateGateway", params=GatewayIdParams, is_async=True, event="PRIVATE.GATEWAY.DELETE",
             entity="VpcGateway", description="Deletes a Private gateway")
def delete_private_gateway(ctx: CallContext, p: GatewayIdParams) -> Success:
    svc.delete_private_gateway(ctx.session, ctx.refs["id"])
    return Success()


class ListPrivateGatewaysParams(OwnedListParams):
    id: Annotated[str | None, Ref("PrivateGateway", "read")] = Field(None, description="list private gateway by id")
    ipaddress: str | None = Field(None, description="list gateways by ip address")
    vlan: str | None = Field(None, description="list gateways by vlan")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="list gateways by vpc")
    state: str | None = Field(None, description="list gateways by state")


@api_command("listPrivateGateways", params=ListPrivateGatewaysParams, result_key="privategateway",
             response=PrivateGatewayResp, description="List private gateways")
def list_private_gateways(ctx: CallContext, p: ListPrivateGatewaysParams) -> ListResult:
    stmt = select(VpcGateway).where(VpcGateway.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, VpcGateway, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(VpcGateway.uuid == p.id)
    if p.ipaddress:
        stmt = stmt.where(VpcGateway.ip4_address == p.ipaddress)
    if p.vlan:
        stmt = stmt.where(VpcGateway.vlan_tag == p.vlan.removeprefix("vlan://"))
    if p.vpcid:
        stmt = stmt.where(VpcGateway.vpc_id == ctx.refs["vpcid"].id)
    if p.state:
        stmt = stmt.where(VpcGateway.state.ilike(p.state))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VpcGateway.id)
    return ListResult([gateway_resp(ctx, g) for g in rows], count)


# ------------------------------------------------------------------------------------------------ static routes

def route_resp(ctx: CallContext, r: StaticRoute, tag_rows: list | None = None) -> StaticRouteResp:
    s = ctx.session
    vpc = s.get(Vpc, r.vpc_id)
    gw = s.get(VpcGateway, r.vpc_gateway_id) if r.vpc_gateway_id else None
    return StaticRouteResp(id=r.uuid, state=r.state, vpcid=vpc.uuid if vpc else None,
                           vpcgatewayid=gw.uuid if gw else None, vpcgatewayip=gw.gateway if gw else None,
                           nexthop=r.next_hop, cidr=r.cidr, tags=tag_resps(tag_rows),
                           **owner_fields(ctx, r.account_id, r.domain_id))


class CreateStaticRouteParams(Params):
    gatewayid: Annotated[str | None, Ref("PrivateGateway")] = Field(None, description="the gateway id we are "
                                                                    "creating static route for. Mutually exclusive "
                                                                    "with the nexthop parameter")
    vpcid: Annotated[str | None, Ref("Vpc")] = Field(None, description="the vpc id for which the static route is "
                                                     "created. This is required for nexthop parameter")
    nexthop: str | None = Field(None, description="the next hop of static route. Mutually exclusive with the "
                                "gatewayid parameter")
    cidr: str = Field(description="static route cidr")


def _create_route(ctx: CallContext, p: CreateStaticRouteParams) -> str:
    if p.gatewayid and p.nexthop:
        raise ParamError("Only one of gatewayid and nexthop can be specified")
    r = svc.create_static_route(ctx.session, ctx.caller, gateway=ctx.refs.get("gatewayid"),
                                vpc=ctx.refs.get("vpcid"), next_hop=p.nexthop, cidr=p.cidr)
    return r.uuid


@api_command("createStaticRoute", params=CreateStaticRouteParams, is_async=True, create=_create_route,
             result_key="staticroute", response=StaticRouteResp, event="STATIC.ROUTE.CREATE", entity="StaticRoute",
             description="Creates a static route")
def create_static_route(ctx: CallContext, p: CreateStaticRouteParams) -> StaticRouteResp:
    r = ctx.session.scalar(select(StaticRoute).where(StaticRoute.uuid == ctx.created_uuid))
    if r is None:
        raise invalid_id(ctx.created_uuid or "")
    return route_resp(ctx, r)


class DeleteStaticRouteParams(Params):
    id: Annotated[str, Ref("StaticRoute")] = Field(description="the ID of the static route")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="the ID of the owner of the "
                                                                     "static route")


@api_command("deleteStaticRoute", params=DeleteStaticRouteParams, is_async=True, event="STATIC.ROUTE.DELETE",
             entity="StaticRoute", description="Deletes a static route")
def delete_static_route(ctx: CallContext, p: DeleteStaticRouteParams) -> Success:
    svc.delete_static_route(ctx.session, ctx.refs["id"])
    return Success()


class ListStaticRoutesParams(TaggedListParams):
    id: Annotated[str | None, Ref("StaticRoute", "read")] = Field(None, description="list static route by id")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="list static routes by vpc id")
    gatewayid: Annotated[str | None, Ref("PrivateGateway", "read")] = Field(None, description="list static routes "
                                                                            "by gateway id")
    state: str | None = Field(None, description="list static routes by state")


@api_command("listStaticRoutes", params=ListStaticRoutesParams, result_key="staticroute", response=StaticRouteResp,
             description="Lists all static routes")
def list_static_routes(ctx: CallContext, p: ListStaticRoutesParams) -> ListResult:
    stmt = select(StaticRoute).where(StaticRoute.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, StaticRoute, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(StaticRoute.uuid == p.id)
    if p.vpcid:
        stmt = stmt.where(StaticRoute.vpc_id == ctx.refs["vpcid"].id)
    if p.gatewayid:
        stmt = stmt.where(StaticRoute.vpc_gateway_id == ctx.refs["gatewayid"].id)
    if p.state:
        stmt = stmt.where(StaticRoute.state.ilike(p.state))
    stmt = tags_filter(stmt, p.tags, "StaticRoute", StaticRoute.uuid)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, StaticRoute.id)
    by_uuid = tags.tags_of(ctx.session, "StaticRoute", [r.uuid for r in rows])
    return ListResult([route_resp(ctx, r, by_uuid.get(r.uuid)) for r in rows], count)
