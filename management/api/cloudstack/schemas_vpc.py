"""Response objects of VPCs, network ACLs, private gateways, static routes, VPN and internal load balancing."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp, TagResp
from management.api.cloudstack.schemas_network import NetworkResp, ServiceResp


class OwnerFields(Resp):
    account: str | None = Field(None, description="the owner of the resource")
    projectid: str | None = Field(None, description="the project id of the resource")
    project: str | None = Field(None, description="the project name of the resource")
    domainid: str | None = Field(None, description="the domain id of the resource's owner")
    domain: str | None = Field(None, description="the domain name of the resource's owner")
    domainpath: str | None = Field(None, description="path of the domain to which the resource belongs")


class VpcOfferingResp(Resp):
    id: str = Field(description="the id of the vpc offering")
    name: str = Field(description="the name of the vpc offering")
    displaytext: str | None = Field(None, description="an alternate display text of the vpc offering.")
    created: datetime | None = Field(None, description="the date this vpc offering was created")
    isdefault: bool = Field(description="true if vpc offering is default, false otherwise")
    state: str = Field(description="state of the vpc offering. Can be Disabled/Enabled")
    service: list[ServiceResp] = Field(default_factory=list, description="the list of supported services")
    distributedvpcrouter: bool = Field(False, description="indicates if the vpc offering supports distributed "
                                       "router for one-hop forwarding")
    supportsregionLevelvpc: bool = Field(False, description="indicated if the offering can support region level "
                                         "vpc")
    fornsx: bool = Field(False, description="true if vpc offering can be used by NSX networks only")
    networkmode: str | None = Field(None, description="Mode in which the network will operate. The valid values "
                                    "are NATTED and ROUTED")
    domainid: str | None = Field(None, description="the domain ID(s) this disk offering belongs to. Ignore this "
                                 "information as it is not currently applicable.")
    domain: str | None = Field(None, description="the domain name(s) this disk offering belongs to. Ignore this "
                               "information as it is not currently applicable.")
    zoneid: str | None = Field(None, description="the zone ID(s) this disk offering belongs to. Ignore this "
                               "information as it is not currently applicable.")
    zone: str | None = Field(None, description="the zone name(s) this disk offering belongs to. Ignore this "
                             "information as it is not currently applicable.")
    internetprotocol: str | None = Field(None, description="the internet protocol of the vpc offering")
    specifyasnumber: bool = Field(False, description="true if network offering supports choosing AS numbers")
    routingmode: str | None = Field(None, description="the routing mode for the network offering, supported types "
                                    "are Static or Dynamic.")


class VpcResp(OwnerFields):
    id: str = Field(description="the id of the VPC")
    name: str = Field(description="the name of the VPC")
    displaytext: str | None = Field(None, description="an alternate display text of the VPC.")
    state: str = Field(description="state of the VPC. Can be Inactive/Enabled")
    zoneid: str = Field(description="zone id of the vpc")
    zonename: str | None = Field(None, description="the name of the zone the VPC belongs to")
    service: list[ServiceResp] = Field(default_factory=list, description="the list of supported services")
    cidr: str = Field(description="the cidr the VPC")
    vpcofferingid: str = Field(description="vpc offering id the VPC is created from")
    vpcofferingname: str | None = Field(None, description="vpc offering name the VPC is created from")
    created: datetime | None = Field(None, description="the date this VPC was created")
    network: list[NetworkResp] = Field(default_factory=list, description="the list of networks belongign to the "
                                       "VPC")
    restartrequired: bool = Field(description="true VPC requires restart")
    networkdomain: str | None = Field(None, description="the network domain of the VPC")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the "
                                "project")
    fordisplay: bool = Field(True, description="is vpc for display to the regular user")
    distributedvpcrouter: bool = Field(False, description="is VPC uses distributed router for one hop forwarding "
                                       "and host based network ACL's")
    regionlevelvpc: bool = Field(False, description="true if VPC is region level")
    redundantvpcrouter: bool = Field(False, description="if this VPC has redundant router")
    publicmtu: int | None = Field(None, description="MTU configured on the public interfaces of the VPC VR")
    dns1: str | None = Field(None, description="the first IPv4 DNS for the VPC")
    dns2: str | None = Field(None, description="the second IPv4 DNS for the VPC")
    hasannotations: bool = Field(False, description="whether the resource has annotations")


class NetworkAclListResp(Resp):
    id: str = Field(description="the ID of the ACL")
    name: str = Field(description="the Name of the ACL")
    description: str | None = Field(None, description="Description of the ACL")
    vpcid: str | None = Field(None, description="Id of the VPC this ACL is associated with")
    vpcname: str | None = Field(None, description="Name of the VPC this ACL is associated with")
    fordisplay: bool = Field(True, description="is ACL for display to the regular user")


class NetworkAclItemResp(Resp):
    id: str = Field(description="the ID of the ACL Item")
    protocol: str | None = Field(None, description="the protocol of the ACL")
    startport: str | None = Field(None, description="the starting port of ACL's port range")
    endport: str | None = Field(None, description="the ending port of ACL's port range")
    traffictype: str | None = Field(None, description="the traffic type for the ACL")
    state: str | None = Field(None, description="the state of the rule")
    cidrlist: str | None = Field(None, description="the cidr list to forward traffic from. Multiple entries are "
                                 "separated by a single comma character (,).")
    icmptype: int | None = Field(None, description="type of the icmp message being sent")
    icmpcode: int | None = Field(None, description="error code for this icmp message")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the "
                                "network ACLs")
    aclid: str | None = Field(None, description="the ID of the ACL this item belongs to")
    aclname: str | None = Field(None, description="the name of the ACL this item belongs to")
    number: int | None = Field(None, description="Number of the ACL Item")
    action: str | None = Field(None, description="Action of ACL Item. Allow/Deny")
    fordisplay: bool = Field(True, description="is rule for display to the regular user")
    reason: str | None = Field(None, description="an explanation on why this ACL rule is being applied")


class PrivateGatewayResp(OwnerFields):
    id: str = Field(description="the id of the private gateway")
    gateway: str = Field(description="the gateway")
    netmask: str = Field(description="the private gateway's netmask")
    ipaddress: str = Field(description="the private gateway's ip address")
    zoneid: str | None = Field(None, description="zone id of the private gateway")
    zonename: str | None = Field(None, description="the name of the zone the private gateway belongs to")
    vlan: str | None = Field(None, description="the network implementation uri for the private gateway")
    vpcid: str | None = Field(None, description="VPC id the private gateway belongs to")
    vpcname: str | None = Field(None, description="VPC name the private gateway belongs to")
    physicalnetworkid: str | None = Field(None, description="the physical network id")
    state: str | None = Field(None, description="State of the gateway, can be Creating, Ready, Deleting")
    sourcenatsupported: bool = Field(False, description="Souce Nat enable status")
    aclid: str | None = Field(None, description="ACL Id set for private gateway")
    aclname: str | None = Field(None, description="ACL name set for private gateway")
    associatednetworkid: str | None = Field(None, description="the ID of the Network associated with this private "
                                            "gateway")
    associatednetwork: str | None = Field(None, description="the name of the Network associated with this private "
                                          "gateway")
    hasannotations: bool = Field(False, description="whether the resource has annotations")


class StaticRouteResp(OwnerFields):
    id: str = Field(description="the ID of static route")
    state: str | None = Field(None, description="the state of the static route")
    vpcid: str | None = Field(None, description="VPC the static route belongs to")
    vpcgatewayid: str | None = Field(None, description="VPC gateway the route is created for")
    vpcgatewayip: str | None = Field(None, description="VPC gateway the route is created for")
    nexthop: str | None = Field(None, description="Next hop of the static route")
    cidr: str | None = Field(None, description="static route CIDR")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with "
                                "static route")


class VpnGatewayResp(OwnerFields):
    id: str = Field(description="the vpn gateway ID")
    publicip: str | None = Field(None, description="the public IP address")
    vpcid: str | None = Field(None, description="the vpc id of this gateway")
    vpcname: str | None = Field(None, description="the vpc name of this gateway")
    removed: datetime | None = Field(None, description="the date and time the host was removed")
    fordisplay: bool = Field(True, description="is vpn gateway for display to the regular user")


class CustomerGatewayResp(OwnerFields):
    id: str = Field(description="the vpn gateway ID")
    name: str | None = Field(None, description="name of the customer gateway")
    gateway: str | None = Field(None, description="public ip address id of the customer gateway")
    ipaddress: str | None = Field(None, description="guest ip of the customer gateway")
    cidrlist: str | None = Field(None, description="guest cidr list of the customer gateway. Multiple entries are "
                                 "separated by a single comma character (,).")
    ipsecpsk: str | None = Field(None, description="IPsec preshared-key of customer gateway")
    ikepolicy: str | None = Field(None, description="IKE policy of customer gateway")
    esppolicy: str | None = Field(None, description="IPsec policy of customer gateway")
    ikelifetime: int | None = Field(None, description="Lifetime of IKE SA of customer gateway")
    esplifetime: int | None = Field(None, description="Lifetime of ESP SA of customer gateway")
    dpd: bool | None = Field(None, description="if DPD is enabled for customer gateway")
    forceencap: bool | None = Field(None, description="if Force NAT Encapsulation is enabled for customer gateway")
    removed: datetime | None = Field(None, description="the date and time the host was removed")
    splitconnections: bool | None = Field(None, description="For IKEv2, whether to split multiple right subnet "
                                          "cidrs into multiple connection statements.")
    ikeversion: str | None = Field(None, description="Which IKE Version to use, one of ike (autoselect), ikev1, or "
                                   "ikev2. Defaults to ike")
    hasannotations: bool = Field(False, description="whether the resource has annotations")


class VpnConnectionResp(OwnerFields):
    id: str = Field(description="the connection ID")
    s2svpngatewayid: str | None = Field(None, description="the vpn gateway ID")
    publicip: str | None = Field(None, description="the public IP address")
    s2scustomergatewayid: str | None = Field(None, description="the customer gateway ID")
    gateway: str | None = Field(None, description="public ip address id of the customer gateway")
    cidrlist: str | None = Field(None, description="guest cidr list of the customer gateway. Multiple entries are "
                                 "separated by a single comma character (,).")
    ipsecpsk: str | None = Field(None, description="IPsec Preshared-Key of the customer gateway")
    ikepolicy: str | None = Field(None, description="IKE policy of the customer gateway")
    esppolicy: str | None = Field(None, description="ESP policy of the customer gateway")
    ikelifetime: int | None = Field(None, description="Lifetime of IKE SA of customer gateway")
    esplifetime: int | None = Field(None, description="Lifetime of ESP SA of customer gateway")
    dpd: bool | None = Field(None, description="if DPD is enabled for customer gateway")
    forceencap: bool | None = Field(None, description="if Force NAT Encapsulation is enabled for customer gateway")
    state: str | None = Field(None, description="State of vpn connection")
    passive: bool = Field(False, description="State of vpn connection")
    created: datetime | None = Field(None, description="the date and time the host was created")
    removed: datetime | None = Field(None, description="the date and time the host was removed")
    fordisplay: bool = Field(True, description="is connection for display to the regular user")
    splitconnections: bool | None = Field(None, description="Split multiple remote networks into multiple phase 2 "
                                          "SAs. Often used with Cisco some products.")
    ikeversion: str | None = Field(None, description="Which IKE Version to use, one of ike (autoselect), ikev1, or "
                                   "ikev2. Defaults to ike")


class RemoteAccessVpnResp(OwnerFields):
    publicipid: str | None = Field(None, description="the public ip address of the vpn server")
    publicip: str | None = Field(None, description="the public ip address of the vpn server")
    iprange: str | None = Field(None, description="the range of ips to allocate to the clients")
    presharedkey: str | None = Field(None, description="the ipsec preshared key")
    state: str | None = Field(None, description="the state of the rule")
    id: str = Field(description="the id of the remote access vpn")
    fordisplay: bool = Field(True, description="is vpn for display to the regular user")


class VpnUserResp(OwnerFields):
    id: str = Field(description="the vpn userID")
    username: str = Field(description="the username of the vpn user")
    state: str | None = Field(None, description="the state of the Vpn User, can be 'Add', 'Revoke' or 'Active'.")


class AppLbRuleResp(Resp):
    sourceport: int = Field(description="source port of the load balancer rule")
    instanceport: int = Field(description="instance port of the load balancer rule")
    state: str = Field(description="the state of the load balancer rule")


class AppLbInstanceResp(Resp):
    id: str = Field(description="the instance ID")
    name: str = Field(description="the name of the instance")
    state: str = Field(description="the state of the instance")
    ipaddress: str = Field(description="the ip address of the instance")


class AppLoadBalancerResp(OwnerFields):
    id: str = Field(description="the Load Balancer ID")
    name: str = Field(description="the name of the Load Balancer")
    description: str | None = Field(None, description="the description of the Load Balancer")
    algorithm: str | None = Field(None, description="the load balancer algorithm (source, roundrobin, leastconn)")
    networkid: str | None = Field(None, description="Load Balancer network id")
    sourceipaddress: str | None = Field(None, description="Load Balancer source ip")
    sourceipaddressnetworkid: str | None = Field(None, description="Load Balancer source ip network id")
    loadbalancerrule: list[AppLbRuleResp] = Field(default_factory=list, description="the list of rules associated "
                                                  "with the Load Balancer")
    loadbalancerinstance: list[AppLbInstanceResp] = Field(default_factory=list, description="the list of instances "
                                                          "associated with the Load Balancer")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the "
                                "Load Balancer")
    fordisplay: bool = Field(True, description="is rule for display to the regular user")
