"""Response objects of routed networks: zone IPv4 subnets, guest subnets, IPv6 guest prefixes, AS number ranges
and numbers, BGP peers."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp


class ZoneIpv4SubnetResp(Resp):
    id: str = Field(description="ID of the zone IPv4 subnet")
    subnet: str = Field(description="the subnet, a CIDR")
    zoneid: str | None = Field(None, description="zone of the subnet")
    zonename: str | None = Field(None, description="name of the zone")
    created: datetime | None = Field(None, description="when the subnet was added")
    account: str | None = Field(None, description="account the subnet is dedicated to")
    domainid: str | None = Field(None, description="ID of the domain the subnet is dedicated to")
    domain: str | None = Field(None, description="name of that domain")
    projectid: str | None = Field(None, description="project the subnet is dedicated to")
    project: str | None = Field(None, description="name of that project")


class GuestIpv4SubnetResp(Resp):
    id: str = Field(description="ID of the guest subnet")
    parentid: str | None = Field(None, description="ID of the zone subnet it was carved from")
    parentsubnet: str | None = Field(None, description="the zone subnet it was carved from")
    subnet: str = Field(description="the subnet, a CIDR")
    state: str = Field(description="Free or Allocated")
    zoneid: str | None = Field(None, description="zone of the subnet")
    zonename: str | None = Field(None, description="name of the zone")
    networkid: str | None = Field(None, description="network using the subnet")
    networkname: str | None = Field(None, description="name of that network")
    vpcid: str | None = Field(None, description="VPC using the subnet")
    vpcname: str | None = Field(None, description="name of that VPC")
    created: datetime | None = Field(None, description="when the subnet was created")
    removed: datetime | None = Field(None, description="when the subnet was removed")
    allocated: datetime | None = Field(None, description="when a network took the subnet")


class Ipv6PrefixResp(Resp):
    id: str = Field(description="ID of the IPv6 guest prefix")
    prefix: str = Field(description="the prefix")
    zoneid: str | None = Field(None, description="zone of the prefix")
    usedsubnets: int = Field(0, description="/64 subnets networks hold")
    availablesubnets: int = Field(0, description="/64 subnets still free")
    totalsubnets: int = Field(0, description="/64 subnets of the prefix")
    created: datetime | None = Field(None, description="when the prefix was added")


class AsnRangeResp(Resp):
    id: str = Field(description="ID of the AS number range")
    zoneid: str | None = Field(None, description="zone of the range")
    startasn: int = Field(description="first AS number")
    endasn: int = Field(description="last AS number")
    created: datetime | None = Field(None, description="when the range was added")


class AsNumberResp(Resp):
    id: str = Field(description="ID of the AS number")
    accountid: str | None = Field(None, description="account holding the number")
    account: str | None = Field(None, description="name of that account")
    domainid: str | None = Field(None, description="domain of that account")
    domain: str | None = Field(None, description="name of that domain")
    asnumber: int = Field(description="the AS number")
    asnrangeid: str | None = Field(None, description="ID of its range")
    asnrange: str | None = Field(None, description="its range, start-end")
    zoneid: str | None = Field(None, description="zone of the number")
    zonename: str | None = Field(None, description="name of the zone")
    allocated: datetime | None = Field(None, description="when a network took the number")
    allocationstate: str = Field(description="Allocated or Free")
    associatednetworkid: str | None = Field(None, description="network holding the number")
    associatednetworkname: str | None = Field(None, description="name of that network")
    vpcid: str | None = Field(None, description="VPC holding the number")
    vpcname: str | None = Field(None, description="name of that VPC")
    created: datetime | None = Field(None, description="when the number was created")


class BgpPeerResp(Resp):
    id: str = Field(description="ID of the BGP peer")
    ipaddress: str | None = Field(None, description="IPv4 address of the peer")
    ip6address: str | None = Field(None, description="IPv6 address of the peer")
    asnumber: int = Field(description="AS number of the peer")
    password: str | None = Field(None, description="MD5 password of the session")
    zoneid: str | None = Field(None, description="zone of the peer")
    zonename: str | None = Field(None, description="name of the zone")
    created: datetime | None = Field(None, description="when the peer was added")
    account: str | None = Field(None, description="account the peer is dedicated to")
    domainid: str | None = Field(None, description="domain the peer is dedicated to")
    domain: str | None = Field(None, description="name of that domain")
    projectid: str | None = Field(None, description="project the peer is dedicated to")
    project: str | None = Field(None, description="name of that project")
    details: dict[str, str] | None = Field(None, description="session details, e.g. EBGP_MultiHop")


class RouteResp(Resp):
    """An upstream route a ROUTED/DualStack network needs: its subnet via the router's public address."""

    subnet: str = Field(description="the network's subnet")
    gateway: str | None = Field(None, description="the router's public address to route it to")
