"""Response objects of the network discovery commands (services, implementors, isolation methods, protocols),
OVS elements, and of the commands whose appliance cannot exist here (network devices, traffic monitors, global
load balancers)."""

from __future__ import annotations

from pydantic import Field

from management.api.cloudstack.schemas import Resp, TagResp


class TrafficTypeImplementorResp(Resp):
    traffictype: str = Field(description="traffic type")
    traffictypeimplementor: str = Field(description="the component implementing that traffic type")


class IsolationMethodResp(Resp):
    name: str = Field(description="name of the isolation method")


class NetworkProtocolResp(Resp):
    index: int = Field(description="protocol number, or ICMP type")
    name: str | None = Field(None, description="protocol keyword")
    description: str = Field(description="what the number stands for")
    details: dict[str, str] = Field(default_factory=dict, description="ICMP codes of the type and their meaning")


class OvsElementResp(Resp):
    id: str = Field(description="ID of the OVS element")
    nspid: str = Field(description="ID of its network service provider")
    enabled: bool = Field(description="whether the element is enabled")
    account: str | None = Field(None, description="account owning the element")
    projectid: str | None = Field(None, description="project owning the element")
    project: str | None = Field(None, description="name of the project owning the element")
    domainid: str | None = Field(None, description="ID of the domain owning the element")
    domain: str | None = Field(None, description="name of the domain owning the element")
    domainpath: str | None = Field(None, description="path of the domain owning the element")


class NetworkDeviceResp(Resp):
    id: str = Field(description="ID of the network device")


class TrafficMonitorResp(Resp):
    id: str = Field(description="ID of the traffic monitor host")
    zoneid: str | None = Field(None, description="zone of the traffic monitor")
    ipaddress: str | None = Field(None, description="address of the traffic monitor")
    numretries: str | None = Field(None, description="how often a request is retried")
    timeout: str | None = Field(None, description="request timeout")


class GlobalLoadBalancerResp(Resp):
    id: str = Field(description="ID of the global load balancer rule")
    name: str = Field(description="name of the rule")
    description: str | None = Field(None, description="description of the rule")
    gslbdomainname: str | None = Field(None, description="DNS name the rule answers for")
    gslblbmethod: str | None = Field(None, description="RoundRobin, LeastConn or Proximity")
    gslbstickysessionmethodname: str | None = Field(None, description="session persistence method")
    gslbservicetype: str | None = Field(None, description="tcp, udp or http")
    regionid: int | None = Field(None, description="region of the rule")
    account: str | None = Field(None, description="account owning the rule")
    projectid: str | None = Field(None, description="project owning the rule")
    project: str | None = Field(None, description="name of the project owning the rule")
    domainid: str | None = Field(None, description="ID of the domain owning the rule")
    domain: str | None = Field(None, description="name of the domain owning the rule")
    domainpath: str | None = Field(None, description="path of the domain owning the rule")
    loadbalancerrule: list[str] = Field(default_factory=list, description="load balancer rules of the zones")


class AppLbRuleResp(Resp):
    sourceport: int = Field(description="port the load balancer listens on")
    instanceport: int = Field(description="port of the members")
    state: str = Field(description="state of the rule")


class AppLbInstanceResp(Resp):
    id: str = Field(description="ID of the member VM")
    name: str = Field(description="name of the member VM")
    state: str = Field(description="state of the member VM")
    ipaddress: str | None = Field(None, description="address the load balancer sends traffic to")


class ApplicationLoadBalancerResp(Resp):
    """A load balancer seen as an application: source address, port mappings, members."""

    id: str = Field(description="ID of the load balancer")
    name: str = Field(description="name of the load balancer")
    description: str | None = Field(None, description="description of the load balancer")
    algorithm: str = Field(description="roundrobin, leastconn or source")
    networkid: str | None = Field(None, description="network the members are in")
    sourceipaddress: str | None = Field(None, description="address the load balancer listens on")
    sourceipaddressnetworkid: str | None = Field(None, description="network of that address")
    account: str | None = Field(None, description="account owning the load balancer")
    projectid: str | None = Field(None, description="project owning the load balancer")
    project: str | None = Field(None, description="name of that project")
    domainid: str | None = Field(None, description="ID of the domain owning the load balancer")
    domain: str | None = Field(None, description="name of that domain")
    domainpath: str | None = Field(None, description="path of that domain")
    loadbalancerrule: list[AppLbRuleResp] = Field(default_factory=list, description="port mappings")
    loadbalancerinstance: list[AppLbInstanceResp] = Field(default_factory=list, description="member VMs")
    tags: list[TagResp] = Field(default_factory=list, description="resource tags of the load balancer")
    fordisplay: bool = Field(True, description="whether the load balancer is shown to the end user")
