"""Response objects of the network discovery commands (services, implementors, isolation methods, protocols),
OVS elements, and of the commands whose appliance cannot exist here (network devices, traffic monitors, global
load balancers)."""

from __future__ import annotations

from pydantic import Field

from management.api.cloudstack.schemas import Resp


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

