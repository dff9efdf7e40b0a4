"""Commands whose work needs an appliance that cannot exist here: external network devices (baremetal DHCP/PXE,
NetScaler/F5 load balancers, SRX/Palo Alto firewalls), Traffic Sentinel monitors and global server load
balancing (a GSLB provider such as NetScaler). They answer as a CloudStack without such an appliance does: lists
are empty, creates are refused with CloudStack's texts, ids never resolve."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ListParams,
    MapParam,
    ParamInfo,
    Params,
    Ref,
    TaggedListParams,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_providers import GlobalLoadBalancerResp, NetworkDeviceResp, TrafficMonitorResp
from management.errors import InternalError, ParamError, invalid_id
from management.services.context import CallContext

NETWORK_DEVICE_TYPES = ("ExternalDhcp", "PxeServer", "NetscalerMPXLoadBalancer", "NetscalerVPXLoadBalancer",
                        "NetscalerSDXLoadBalancer", "F5BigIpLoadBalancer", "JuniperSRXFirewall", "PaloAltoFirewall")
LOCAL_REGION = (1, "Local")  # this cloud is one region; regions of their own are another family's
GSLB_METHODS = ("roundrobin", "leastconn", "proximity")
GSLB_PERSISTENCE = ("sourceip",)
GSLB_SERVICE_TYPES = ("tcp", "udp", "http")


# ---- network devices ----------------------------------------------------------------------------------------------

class AddNetworkDeviceParams(Params):
    networkdevicetype: str | None = Field(None, description="device type: ExternalDhcp, PxeServer, "
                                          "NetscalerMPXLoadBalancer, NetscalerVPXLoadBalancer, "
                                          "NetscalerSDXLoadBalancer, F5BigIpLoadBalancer, JuniperSRXFirewall or "
                                          "PaloAltoFirewall")
    networkdeviceparameterlist: MapParam | None = Field(None, description="the device's parameters (zoneid, "
                                                        "podid, url, username, password, ...)")


@api_command("addNetworkDevice", params=AddNetworkDeviceParams, roles=ADMIN, result_key="networkdevice",
             response=NetworkDeviceResp, event="PHYSICAL.LOADBALANCER.ADD",
             description="Adds an external network device; none can be reached from this cloud")
def add_network_device(ctx: CallContext, p: AddNetworkDeviceParams) -> None:
    if not p.networkdeviceparameterlist:
        raise InternalError("Parameter list is null")
    raise InternalError(f"Unsupported network device type:{p.networkdevicetype}")


class ListNetworkDeviceParams(ListParams):
    networkdevicetype: str | None = Field(None, description="only devices of this type")
    networkdeviceparameterlist: MapParam | None = Field(None, description="search parameters (zoneid, podid, "
                                                        "physicalnetworkid)")


@api_command("listNetworkDevice", params=ListNetworkDeviceParams, roles=ADMIN, result_key="networkdevice",
             response=NetworkDeviceResp,
             description="Lists external network devices (there are none here)")
def list_network_device(ctx: CallContext, p: ListNetworkDeviceParams) -> ListResult:
    if not p.networkdeviceparameterlist:
        raise InternalError("Parameter list is null")
    known = {t.lower() for t in NETWORK_DEVICE_TYPES}
    if p.networkdevicetype is not None and p.networkdevicetype.lower() not in known:
        raise InternalError(f"Unknown network device type:{p.networkdevicetype}")
    return ListResult([], 0)


class DeleteNetworkDeviceParams(Params):
    id: Annotated[str, Ref("Host")] = Field(description="ID of the network device")


@api_command("deleteNetworkDevice", params=DeleteNetworkDeviceParams, roles=ADMIN,
             event="PHYSICAL.LOADBALANCER.DELETE",
             description="Deletes an external network device; CloudStack's manager does nothing for other hosts")
def delete_network_device(ctx: CallContext, p: DeleteNetworkDeviceParams) -> Success:
    return Success()


# ---- traffic monitors ---------------------------------------------------------------------------------------------

class AddTrafficMonitorParams(Params):
    zoneid: Annotated[str, Ref("Zone")] = Field(description="zone of the traffic monitor")
    url: str = Field(description="URL of the Traffic Sentinel")
    includezones: str | None = Field(None, description="Traffic Sentinel zones to include in usage")
    excludezones: str | None = Field(None, description="Traffic Sentinel zones to leave out of usage")


@api_command("addTrafficMonitor", params=AddTrafficMonitorParams, roles=ADMIN, result_key="trafficmonitor",
             response=TrafficMonitorResp, event="PHYSICAL.LOADBALANCER.ADD",
             description="Adds a Traffic Sentinel for direct network usage; none can be reached from this cloud")
def add_traffic_monitor(ctx: CallContext, p: AddTrafficMonitorParams) -> None:
    from urllib.parse import urlsplit

    try:
        host = urlsplit(p.url).hostname
    except ValueError as e:
        raise ParamError(str(e)) from None
    if not host:
        raise ParamError(f"Unable to find the server resources at {p.url}")
    raise InternalError(f"Unable to find the server resources at {p.url}")


class DeleteTrafficMonitorParams(Params):
    id: Uuid = Field(description="ID of the traffic monitor host")


@api_command("deleteTrafficMonitor", params=DeleteTrafficMonitorParams, roles=ADMIN,
             event="PHYSICAL.LOADBALANCER.DELETE", description="Deletes a traffic monitor")
def delete_traffic_monitor(ctx: CallContext, p: DeleteTrafficMonitorParams) -> Success:
    raise ParamError(f"Could not find an traffic monitor with ID: {p.id}")


class ListTrafficMonitorsParams(ListParams):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="zone of the traffic monitors")


@api_command("listTrafficMonitors", params=ListTrafficMonitorsParams, roles=ADMIN, result_key="trafficmonitor",
             response=TrafficMonitorResp, description="Lists the traffic monitors of a zone (there are none here)")
def list_traffic_monitors(ctx: CallContext, p: ListTrafficMonitorsParams) -> ListResult:
    return ListResult([], 0)


# ---- global server load balancing ---------------------------------------------------------------------------------

class CreateGslbParams(Params):
    name: str = Field(description="name of the global load balancer rule")
    description: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="description of the rule")
    regionid: int = Field(description="region the rule is created in")
    account: str | None = Field(None, description="account owning the rule, with domainid")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain of that account")
    gslblbmethod: str | None = Field(None, description="RoundRobin (default), LeastConn or Proximity")
    gslbstickysessionmethodname: str | None = Field(None, description="session persistence: sourceip (default)")
    gslbdomainname: str = Field(description="DNS name the rule answers for")
    gslbservicetype: str = Field(description="tcp, udp or http")


def _create_gslb(ctx: CallContext, p: CreateGslbParams) -> str:
    method = p.gslblbmethod or "RoundRobin"
    if method.lower() not in GSLB_METHODS:
        raise ParamError(f"Invalid Algorithm: {method}")
    sticky = p.gslbstickysessionmethodname or "sourceip"
    if sticky.lower() not in GSLB_PERSISTENCE:
        raise ParamError(f"Invalid persistence: {sticky}")
    if p.gslbservicetype.lower() not in GSLB_SERVICE_TYPES:
        raise ParamError(f"Invalid service type: {p.gslbservicetype}")
    if not _domain_name(p.gslbdomainname):
        raise ParamError(f"Invalid domain name : {p.gslbdomainname}")
    if p.regionid != LOCAL_REGION[0]:
        raise ParamError(f"Invalid region ID: {p.regionid}")
    raise InternalError(f"GSLB service is not enabled in region : {LOCAL_REGION[1]}")


def _domain_name(name: str) -> bool:
    import re

    return bool(re.match(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                         r"[A-Za-z0-9])?)*$", name)) and len(name) <= 253


@api_command("createGlobalLoadBalancerRule", params=CreateGslbParams, is_async=True, create=_create_gslb,
             result_key="globalloadbalancer", response=GlobalLoadBalancerResp, event="GLOBAL.LB.CREATE",
             entity="GlobalLoadBalancer", description="Creates a global load balancer rule; refused here, no region "
             "has a GSLB service provider")
def create_gslb(ctx: CallContext, p: CreateGslbParams) -> None:
    raise InternalError(f"GSLB service is not enabled in region : {LOCAL_REGION[1]}")


class ListGslbParams(TaggedListParams):
    id: Uuid | None = Field(None, description="ID of a global load balancer rule")
    regionid: int | None = Field(None, description="only rules of this region")


@api_command("listGlobalLoadBalancerRules", params=ListGslbParams, result_key="globalloadbalancerrule",
             response=GlobalLoadBalancerResp, description="Lists global load balancer rules (there are none here)")
def list_gslb(ctx: CallContext, p: ListGslbParams) -> ListResult:
    return ListResult([], 0)


class GslbIdParams(Params):
    id: Uuid = Field(description="ID of the global load balancer rule")


class UpdateGslbParams(GslbIdParams):
    description: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="description of the rule")
    gslblbmethod: str | None = Field(None, description="RoundRobin, LeastConn or Proximity")
    gslbstickysessionmethodname: str | None = Field(None, description="session persistence method")


def _no_rule(rule_id: str) -> None:
    raise invalid_id(rule_id)


def _refuse_unknown(ctx: CallContext, p: GslbIdParams) -> str:
    """Before the job is queued, as CloudStack resolves the id: no global load balancer rule exists here."""
    raise invalid_id(p.id)


@api_command("updateGlobalLoadBalancerRule", create=_refuse_unknown, params=UpdateGslbParams, is_async=True,
             result_key="globalloadbalancer", response=GlobalLoadBalancerResp, event="GLOBAL.LB.UPDATE",
             entity="GlobalLoadBalancer", description="Updates a global load balancer rule")
def update_gslb(ctx: CallContext, p: UpdateGslbParams) -> None:
    _no_rule(p.id)


@api_command("deleteGlobalLoadBalancerRule", create=_refuse_unknown, params=GslbIdParams, is_async=True,
             event="GLOBAL.LB.DELETE", entity="GlobalLoadBalancer",
             description="Deletes a global load balancer rule")
def delete_gslb(ctx: CallContext, p: GslbIdParams) -> None:
    _no_rule(p.id)


class AssignGslbParams(GslbIdParams):
    loadbalancerrulelist: list[str] = Field(
        description="load balancer rules (one per zone) to put behind the global rule")
    gslblbruleweightsmap: MapParam | None = Field(None, description="weight of each load balancer rule")


@api_command("assignToGlobalLoadBalancerRule", create=_refuse_unknown, params=AssignGslbParams, is_async=True,
             event="GLOBAL.LB.ASSIGN", entity="GlobalLoadBalancer",
             description="Puts load balancer rules behind a global load balancer rule")
def assign_gslb(ctx: CallContext, p: AssignGslbParams) -> None:
    _no_rule(p.id)


class RemoveGslbParams(GslbIdParams):
    loadbalancerrulelist: list[str] = Field(
        description="load balancer rules to take from behind the global rule")


@api_command("removeFromGlobalLoadBalancerRule", create=_refuse_unknown, params=RemoveGslbParams, is_async=True,
             event="GLOBAL.LB.REMOVE", entity="GlobalLoadBalancer",
             description="Takes load balancer rules from behind a global load balancer rule")
def remove_gslb(ctx: CallContext, p: RemoveGslbParams) -> None:
    _no_rule(p.id)

