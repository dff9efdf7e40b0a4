"""Response objects of IP quarantine, portable IP ranges and guest VLANs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp
from management.api.cloudstack.schemas_network import NetworkResp


class IpQuarantineResp(Resp):
    id: str = Field(description="ID of the quarantine")
    ipaddress: str = Field(description="the quarantined public IP address")
    previousownerid: str | None = Field(None, description="ID of the account that released the IP")
    previousownername: str | None = Field(None, description="name of the account that released the IP")
    created: datetime | None = Field(None, description="when the quarantine started")
    removed: datetime | None = Field(None, description="when the quarantine was ended early")
    enddate: datetime | None = Field(None, description="when the quarantine ends")
    removalreason: str | None = Field(None, description="why the quarantine was ended early")
    removeraccountid: str | None = Field(None, description="ID of the account that ended the quarantine")


class PortableIpResp(Resp):
    regionid: int = Field(description="region of the portable IP")
    ipaddress: str = Field(description="the portable IP address")
    zoneid: str | None = Field(None, description="zone the IP is provisioned in while allocated")
    networkid: str | None = Field(None, description="network the IP is associated with")
    vpcid: str | None = Field(None, description="VPC the IP is associated with")
    physicalnetworkid: str | None = Field(None, description="physical network of the provisioned IP")
    accountid: str | None = Field(None, description="account holding the IP")
    domainid: str | None = Field(None, description="domain of the account holding the IP")
    allocated: datetime | None = Field(None, description="when the IP was acquired")
    state: str = Field(description="Free or Allocated")


class PortableIpRangeResp(Resp):
    id: str = Field(description="ID of the portable IP range")
    regionid: int = Field(description="region of the range")
    gateway: str = Field(description="gateway of the range")
    netmask: str = Field(description="netmask of the range")
    vlan: str | None = Field(None, description="VLAN of the range")
    startip: str = Field(description="first address of the range")
    endip: str = Field(description="last address of the range")
    portableipaddress: list[PortableIpResp] = Field(default_factory=list, description="the range's addresses")


class GuestVlanRangeResp(Resp):
    id: str = Field(description="ID of the dedicated guest VLAN range")
    account: str | None = Field(None, description="account the range is dedicated to")
    domainid: str | None = Field(None, description="ID of that account's domain")
    domain: str | None = Field(None, description="name of that account's domain")
    domainpath: str | None = Field(None, description="path of that account's domain")
    guestvlanrange: str = Field(description="the VLAN range, start-end")
    projectid: str | None = Field(None, description="project the range is dedicated to")
    project: str | None = Field(None, description="name of that project")
    physicalnetworkid: str | None = Field(None, description="physical network of the range")
    zoneid: str | None = Field(None, description="zone of the range")


class GuestVlanResp(Resp):
    id: int = Field(description="ID of the guest VLAN")
    vlan: str = Field(description="the VLAN (vnet) number")
    account: str | None = Field(None, description="account holding or dedicated the VLAN")
    domainid: str | None = Field(None, description="ID of that account's domain")
    domain: str | None = Field(None, description="name of that account's domain")
    domainpath: str | None = Field(None, description="path of that account's domain")
    projectid: str | None = Field(None, description="project holding the VLAN")
    project: str | None = Field(None, description="name of that project")
    zoneid: str | None = Field(None, description="zone of the VLAN")
    zonename: str | None = Field(None, description="name of the zone")
    physicalnetworkid: str | None = Field(None, description="physical network of the VLAN")
    physicalnetworkname: str | None = Field(None, description="name of the physical network")
    isdedicated: bool = Field(False, description="whether the VLAN belongs to a dedicated range")
    allocationstate: str = Field(description="Allocated or Free")
    taken: datetime | None = Field(None, description="when the VLAN was taken by a network")
    network: list[NetworkResp] = Field(default_factory=list, description="the networks using the VLAN")
