"""Network offerings: list, create, update, delete (CloudStack's defaults are seeded with their exact names)."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, MapParam, ParamInfo, Params, Ref, api_command
from management.api.cloudstack.schemas_network import NetworkOfferingResp, ProviderResp, ServiceResp
from management.db.base import utcnow
from management.errors import ParamError, ResourceInUse
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name
from management.services.network import network_offerings as svc
from management.services.network import routed


def services_resp(off: NetworkOffering) -> list[ServiceResp]:
    return [ServiceResp(name=name, provider=[ProviderResp(name=p) for p in provs])
            for name, provs in sorted(svc.services_of(off).items())]


def offering_resp(off: NetworkOffering) -> NetworkOfferingResp:
    return NetworkOfferingResp(
        id=off.uuid, name=off.name, displaytext=off.display_text, traffictype=off.traffic_type,
        isdefault=off.is_default, specifyvlan=off.specify_vlan, conservemode=off.conserve_mode,
        specifyipranges=off.specify_ip_ranges, availability=off.availability, networkrate=off.network_rate,
        state=off.state, guestiptype=off.guest_type, service=services_resp(off), forvpc=off.for_vpc,
        ispersistent=off.is_persistent, egressdefaultpolicy=off.egress_default_policy, issystem=off.is_system,
        supportspublicaccess=svc.has_service(off, "SourceNat"), created=off.created,
        domainid=off.domain_ids, zoneid=off.zone_ids, networkmode=off.network_mode or "NATTED",
        internetprotocol=off.internet_protocol or "IPv4", routingmode=off.routing_mode,
        specifyasnumber=off.specify_as_number)


class ListNetworkOfferingsParams(ListParams):
    id: Annotated[str | None, Ref("NetworkOffering", "read")] = Field(None, description="list network offerings "
                                                                      "by ID")
    name: str | None = Field(None, description="list network offerings by name")
    displaytext: str | None = Field(None, description="list network offerings by display text")
    traffictype: str | None = Field(None, description="list by traffic type")
    isdefault: bool | None = Field(None, description="true if need to list only default network offerings. Default "
                                   "value is false")
    specifyvlan: bool | None = Field(None, description="the tags for the network offering.")
    availability: str | None = Field(None, description="the availability of network offering. Default value is "
                                     "required")
    guestiptype: str | None = Field(None, description="list network offerings by guest type: shared or isolated")
    specifyipranges: bool | None = Field(None, description="true if need to list only network offerings which "
                                         "support specifying ip ranges")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="list network offerings "
                                                               "available for network creation in specific zone")
    supportedservices: list[str] | None = Field(None, description="list network offerings supporting certain "
                                                "services")
    sourcenatsupported: bool | None = Field(None, description="true if need to list only netwok offerings where "
                                            "source NAT is supported, false otherwise")
    forvpc: bool | None = Field(None, description="the network offering can be used only for network creation "
                                "inside the VPC")
    state: str | None = Field(None, description="list network offerings by state")
    istagged: bool | None = Field(None, description="true if offering has tags specified")
    tags: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="list network offerings by tags")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="the ID of the network. "
                                                                     "Pass this in if you want to see the "
                                                                     "available network offering that a network "
                                                                     "can be changed to.")
    issystem: bool | None = Field(None, description="true if need to list only system network offerings")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="only offerings available "
                                                                   "to this domain (public ones included)")
    routingmode: str | None = Field(None, description="only offerings with this routing mode: Static or Dynamic")


@api_command("listNetworkOfferings", params=ListNetworkOfferingsParams, result_key="networkoffering",
             response=NetworkOfferingResp, description="Lists all available network offerings.")
def list_network_offerings(ctx: CallContext, p: ListNetworkOfferingsParams) -> ListResult:
    svc.ensure_seeded(ctx.session)
    stmt = select(NetworkOffering).where(NetworkOffering.removed.is_(None))
    stmt = stmt.where(NetworkOffering.is_system.is_(bool(p.issystem)))
    if not ctx.caller.is_root_admin:
        stmt = stmt.where(NetworkOffering.state == "Enabled")
    if p.id:
        stmt = stmt.where(NetworkOffering.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(NetworkOffering.name, p.name))
    if p.displaytext:
        stmt = stmt.where(NetworkOffering.display_text == p.displaytext)
    if p.traffictype:
        stmt = stmt.where(NetworkOffering.traffic_type.ilike(p.traffictype))
    if p.isdefault is not None:
        stmt = stmt.where(NetworkOffering.is_default.is_(p.isdefault))
    if p.specifyvlan is not None:
        stmt = stmt.where(NetworkOffering.specify_vlan.is_(p.specifyvlan))
    if p.availability:
        stmt = stmt.where(NetworkOffering.availability.ilike(p.availability))
    if p.guestiptype:
        stmt = stmt.where(NetworkOffering.guest_type.ilike(p.guestiptype))
    if p.specifyipranges is not None:
        stmt = stmt.where(NetworkOffering.specify_ip_ranges.is_(p.specifyipranges))
    if p.forvpc is not None:
        stmt = stmt.where(NetworkOffering.for_vpc.is_(p.forvpc))
    if p.state:
        stmt = stmt.where(NetworkOffering.state.ilike(p.state))
    if p.routingmode:
        stmt = stmt.where(NetworkOffering.routing_mode.ilike(p.routingmode))
    if p.domainid:
        stmt = stmt.where(NetworkOffering.domain_ids.is_(None)
                          | NetworkOffering.domain_ids.contains(ctx.refs["domainid"].uuid))
    if p.networkid:
        net: Network = ctx.refs["networkid"]
        stmt = stmt.where(NetworkOffering.guest_type == net.guest_type, NetworkOffering.for_vpc.is_(False))
    if p.zoneid:
        zone = ctx.refs["zoneid"]
        if zone.network_type == "Basic":
            stmt = stmt.where(NetworkOffering.guest_type == "Shared")
    stmt = keyword_filter(stmt, p.keyword, NetworkOffering.name, NetworkOffering.display_text)
    rows, count = paginate(ctx.session, stmt, None, -1, NetworkOffering.id)
    want = [s.lower() for s in p.supportedservices or []]
    out = []
    for off in rows:
        have = {k.lower() for k in svc.services_of(off)}
        if want and not set(want) <= have:
            continue
        if p.sourcenatsupported is not None and ("sourcenat" in have) != p.sourcenatsupported:
            continue
        out.append(off)
    count = len(out)
    offset, limit = 0, None
    if p.pagesize is not None and p.pagesize != -1:
        from management.services.listing import check_paging

        offset, limit = check_paging(ctx.session, p.page, p.pagesize)
    page = out[offset:offset + limit] if limit is not None else out[offset:]
    return ListResult([offering_resp(o) for o in page], count)


class CreateNetworkOfferingParams(Params):
    name: str = Field(description="the name of the network offering")
    displaytext: str | None = Field(None, description="the display text of the network offering, defaults to the "
                                    "value of 'name'.")
    traffictype: str = Field(description="the traffic type for the network offering. Supported type in "
                             "current release is GUEST only")
    guestiptype: str = Field(description="guest type of the network offering: Shared or Isolated")
    supportedservices: list[str] | None = Field(None, description="services supported by the network offering")
    serviceproviderlist: MapParam | None = Field(None, description="provider to service mapping. If not "
                                                 "specified, the provider for the service will be mapped to the "
                                                 "default provider on the physical network")
    servicecapabilitylist: MapParam | None = Field(None, description="desired service capabilities as part of "
                                                   "network offering")
    specifyvlan: bool = Field(False, description="true if network offering supports vlans")
    specifyipranges: bool = Field(False, description="true if network offering supports specifying ip ranges; "
                                  "defaulted to false if not specified")
    availability: str = Field("Optional", description="the availability of network offering. The default value is "
                              "Optional. Another value is Required, which will make it as the default network "
                              "offering for new networks ")
    conservemode: bool = Field(True, description="true if the network offering is IP conserve mode enabled")
    egressdefaultpolicy: bool = Field(True, description="true if guest network default egress policy is allow; "
                                      "false if default egress policy is deny")
    ispersistent: bool = Field(False, description="true if network offering supports persistent networks; defaulted "
                               "to false if not specified")
    forvpc: bool = Field(False, description="true if network offering is meant to be used for VPC, false otherwise.")
    networkrate: int | None = Field(None, description="data transfer rate in megabits per second allowed")
    serviceofferingid: Annotated[str | None, Ref("ServiceOffering", "read")] = Field(
        None, description="the service offering ID used by virtual router provider")
    tags: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="the tags for the network offering.")
    details: MapParam | None = Field(None, description="Network offering details in key/value pairs.")
    domainid: list[str] | None = Field(None, description="the ID of the containing domain(s), null for public "
                                       "offerings")
    zoneid: list[str] | None = Field(None, description="the ID of the containing zone(s), null for public offerings")
    enable: bool = Field(False, description="set to true if the offering is to be enabled during creation. Default "
                         "is false")
    internetprotocol: str | None = Field(None, description="IPv4 (default) or DualStack: networks of the offering "
                                         "also get an IPv6 /64 (needs ipv6.offering.enabled)")
    networkmode: str | None = Field(None, description="NATTED (default) or ROUTED: the guest subnet is routed, "
                                    "not NATed")
    routingmode: str | None = Field(None, description="Static or Dynamic (BGP) routing of a ROUTED offering")
    specifyasnumber: bool | None = Field(None, description="whether networks must be created with an AS number "
                                         "(Dynamic routing)")
    provider: str | None = Field(None, description="the provider of an NSX/Netris offering (none here)")
    fornsx: bool | None = Field(None, description="true for NSX networks (no NSX here)")
    fortungsten: bool | None = Field(None, description="true for Tungsten-Fabric networks (none here)")
    nsxsupportlb: bool | None = Field(None, description="whether an NSX offering supports load balancing")
    nsxsupportsinternallb: bool | None = Field(None, description="whether an NSX offering supports internal LB")
    keepaliveenabled: bool | None = Field(None, description="whether the load balancer keeps connections alive")
    maxconnections: int | None = Field(None, description="maximum concurrent connections of the load balancer")


@api_command("createNetworkOffering", params=CreateNetworkOfferingParams, result_key="networkoffering",
             response=NetworkOfferingResp, roles=ADMIN, event="NETWORK.OFFERING.CREATE", entity="NetworkOffering",
             description="Creates a network offering.")
def create_network_offering(ctx: CallContext, p: CreateNetworkOfferingParams) -> NetworkOfferingResp:
    gtype = {"shared": "Shared", "isolated": "Isolated", "l2": "L2"}.get(p.guestiptype.lower())
    if gtype is None:
        raise ParamError("Invalid guest type; supported: Shared, Isolated, L2")
    if p.traffictype.lower() != "guest":
        raise ParamError("Only guest network offerings can be created")
    avail = {"optional": "Optional", "required": "Required"}.get(p.availability.lower())
    if avail is None:
        raise ParamError("Invalid availability; supported: Optional, Required")
    services = svc.parse_service_map(p.supportedservices, p.serviceproviderlist, gtype)
    if p.fornsx or p.provider:
        raise ParamError(f"Provider {p.provider or 'Nsx'} is not enabled in any zone: no NSX/Netris here")
    if p.fortungsten:
        raise ParamError("Tungsten-Fabric is not enabled in any zone")
    modes = routed.offering_modes(ctx.session, guest_type=gtype, services=services, network_mode=p.networkmode,
                                  routing_mode=p.routingmode, internet_protocol=p.internetprotocol,
                                  specify_as_number=p.specifyasnumber)
    if gtype == "Shared" and not p.specifyvlan and "SecurityGroup" not in services:
        pass  # CloudStack allows it since 4.x (untagged shared networks)
    svc.ensure_seeded(ctx.session)
    off = NetworkOffering(name=p.name, unique_name=None, display_text=p.displaytext or p.name,
                          traffic_type="Guest", guest_type=gtype, state="Enabled" if p.enable else "Disabled",
                          is_default=False, is_system=False, specify_vlan=p.specifyvlan,
                          specify_ip_ranges=p.specifyipranges or gtype == "Shared", conserve_mode=p.conservemode,
                          egress_default_policy=p.egressdefaultpolicy, for_vpc=p.forvpc,
                          is_persistent=p.ispersistent, availability=avail, network_rate=p.networkrate,
                          services_json=json.dumps(services),
                          service_offering_id=ctx.refs["serviceofferingid"].id if p.serviceofferingid else None,
                          domain_ids=",".join(p.domainid) if p.domainid else None,
                          zone_ids=",".join(p.zoneid) if p.zoneid else None, **modes)
    ctx.session.add(off)
    ctx.session.flush()
    return offering_resp(off)


class UpdateNetworkOfferingParams(Params):
    id: Annotated[str | None, Ref("NetworkOffering")] = Field(None, description="the id of the network offering")
    name: str | None = Field(None, description="the name of the network offering")
    displaytext: str | None = Field(None, description="the display text of the network offering")
    availability: str | None = Field(None, description="the availability of network offering. The value is Required "
                                     "makes this network offering default for Guest Virtual Networks. Only one "
                                     "network offering can have the value Required ")
    state: str | None = Field(None, description="update state for the network offering")
    sortkey: int | None = Field(None, description="sort key of the network offering, integer")
    maxconnections: int | None = Field(None, description="maximum number of concurrent connections supported by "
                                       "the network offering")
    keepaliveenabled: bool | None = Field(None, description="if true keepalive will be turned on in the loadbalancer.")
    tags: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="the tags for the network offering.")
    domainid: str | None = Field(None, description="the ID of the containing domain(s) as comma separated string, "
                                 "public for public offerings")
    zoneid: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the ID of the containing zone(s) as comma separated string, all "
                               "for all zones offerings")


@api_command("updateNetworkOffering", params=UpdateNetworkOfferingParams, result_key="networkoffering",
             response=NetworkOfferingResp, roles=ADMIN, event="NETWORK.OFFERING.EDIT", entity="NetworkOffering",
             description="Updates a network offering.")
def update_network_offering(ctx: CallContext, p: UpdateNetworkOfferingParams) -> NetworkOfferingResp:
    if p.id is None:
        raise ParamError("Unable to execute API command updatenetworkoffering due to missing parameter id")
    off: NetworkOffering = ctx.refs["id"]
    if p.name is not None:
        off.name = p.name
    if p.displaytext is not None:
        off.display_text = p.displaytext
    if p.availability is not None:
        avail = {"optional": "Optional", "required": "Required"}.get(p.availability.lower())
        if avail is None:
            raise ParamError("Invalid availability; supported: Optional, Required")
        off.availability = avail
    if p.state is not None:
        state = {"enabled": "Enabled", "disabled": "Disabled"}.get(p.state.lower())
        if state is None:
            raise ParamError("Invalid state; supported: Enabled, Disabled")
        off.state = state
    if p.sortkey is not None:
        off.sort_key = p.sortkey
    if p.domainid is not None:
        off.domain_ids = None if p.domainid.lower() == "public" else p.domainid
    if p.zoneid is not None:
        off.zone_ids = None if p.zoneid.lower() == "all" else p.zoneid
    ctx.session.flush()
    return offering_resp(off)


class DeleteNetworkOfferingParams(Params):
    id: Annotated[str, Ref("NetworkOffering")] = Field(description="the ID of the network offering")


@api_command("deleteNetworkOffering", params=DeleteNetworkOfferingParams, roles=ADMIN,
             event="NETWORK.OFFERING.DELETE", entity="NetworkOffering", description="Deletes a network offering.")
def delete_network_offering(ctx: CallContext, p: DeleteNetworkOfferingParams) -> Success:
    off: NetworkOffering = ctx.refs["id"]
    if off.is_default:
        raise ParamError("Default network offering can't be deleted")
    n = svc.in_use(ctx.session, off)
    if n:
        raise ResourceInUse(f"Can't delete network offering {off.name}: it is used by {n} network(s)")
    off.removed = utcnow()
    off.state = "Inactive"
    return Success()
