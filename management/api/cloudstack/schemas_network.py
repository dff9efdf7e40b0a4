"""Response objects for guest networks, network offerings, public IP addresses and NICs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp, TagResp
from management.api.cloudstack.schemas_routing import BgpPeerResp, RouteResp


class ProviderResp(Resp):
    name: str = Field(description="the provider name")


class CapabilityResp(Resp):
    name: str = Field(description="the capability name")
    value: str = Field(description="the capability value")
    canchooseservicecapability: bool = Field(False, description="can this service capability value can be "
                                             "choosable while creatine network offerings")


class ServiceResp(Resp):
    name: str = Field(description="the service name")
    provider: list[ProviderResp] = Field(default_factory=list, description="the service provider name")
    capability: list[CapabilityResp] = Field(default_factory=list, description="the list of capabilities")


class NetworkOfferingResp(Resp):
    id: str = Field(description="the id of the network offering")
    name: str = Field(description="the name of the network offering")
    displaytext: str | None = Field(None, description="an alternate display text of the network offering.")
    traffictype: str = Field(description="the traffic type for the network offering, supported types are Public, "
                             "Management, Control, Guest, Vlan or Storage.")
    isdefault: bool = Field(description="true if network offering is default, false otherwise")
    specifyvlan: bool = Field(description="true if network offering supports vlans, false otherwise")
    conservemode: bool = Field(description="true if network offering is ip conserve mode enabled")
    specifyipranges: bool = Field(description="true if network offering supports specifying ip ranges, false "
                                  "otherwise")
    availability: str = Field(description="availability of the network offering")
    networkrate: int | None = Field(None, description="data transfer rate in megabits per second allowed.")
    state: str = Field(description="state of the network offering. Can be Disabled/Enabled/Inactive")
    guestiptype: str | None = Field(None, description="guest type of the network offering, can be Shared or "
                                    "Isolated")
    serviceofferingid: str | None = Field(None, description="the ID of the service offering used by virtual router "
                                          "provider")
    service: list[ServiceResp] = Field(default_factory=list, description="the list of supported services")
    forvpc: bool = Field(description="true if network offering can be used by VPC networks only")
    ispersistent: bool = Field(description="true if network offering supports persistent networks, false "
                               "otherwise")
    egressdefaultpolicy: bool = Field(description="true if guest network default egress policy is allow; false if "
                                      "default egress policy is deny")
    supportsstrechedl2subnet: bool = Field(False, description="true if network offering supports network that span "
                                           "multiple zones")
    supportspublicaccess: bool = Field(False, description="true if network offering supports public access for "
                                       "guest networks")
    issystem: bool = Field(False, description="true if network offering is a system offering")
    domainid: str | None = Field(None, description="the domain ID(s) this disk offering belongs to. Ignore this "
                                 "information as it is not currently applicable.")
    zoneid: str | None = Field(None, description="the zone ID(s) this disk offering belongs to. Ignore this "
                               "information as it is not currently applicable.")
    tags: str | None = Field(None, description="the tags for the network offering")
    created: datetime | None = Field(None, description="the date this network offering was created")
    networkmode: str | None = Field(None, description="NATTED or ROUTED")
    internetprotocol: str | None = Field(None, description="IPv4 or DualStack")
    routingmode: str | None = Field(None, description="Static or Dynamic routing of a ROUTED offering")
    specifyasnumber: bool | None = Field(None, description="whether networks of the offering need an AS number")
    fornsx: bool = Field(False, description="whether the offering is for NSX networks (no NSX here)")
    fortungsten: bool = Field(False, description="whether the offering is for Tungsten-Fabric networks (none here)")


class NetworkResp(Resp):
    id: str = Field(description="the id of the network")
    name: str = Field(description="the name of the network")
    displaytext: str | None = Field(None, description="the displaytext of the network")
    broadcastdomaintype: str | None = Field(None, description="Broadcast domain type of the network")
    traffictype: str = Field(description="the traffic type of the network")
    gateway: str | None = Field(None, description="the network's gateway")
    netmask: str | None = Field(None, description="the network's netmask")
    cidr: str | None = Field(None, description="Cloudstack managed address space, all CloudStack managed VMs get IP "
                             "address from CIDR")
    zoneid: str = Field(description="zone id of the network")
    zonename: str | None = Field(None, description="the name of the zone the network belongs to")
    networkofferingid: str = Field(description="network offering id the network is created from")
    networkofferingname: str | None = Field(None, description="name of the network offering the network is created "
                                            "from")
    networkofferingdisplaytext: str | None = Field(None, description="display text of the network offering the "
                                                   "network is created from")
    networkofferingconservemode: bool | None = Field(None, description="true if network offering is ip conserve "
                                                     "mode enabled")
    networkofferingavailability: str | None = Field(None, description="availability of the network offering the "
                                                    "network is created from")
    issystem: bool = Field(description="true if network is system, false otherwise")
    state: str = Field(description="state of the network")
    related: str | None = Field(None, description="related to what other network configuration")
    broadcasturi: str | None = Field(None, description="broadcast uri of the network. This parameter is visible "
                                     "to ROOT admins only")
    dns1: str | None = Field(None, description="the first IPv4 DNS for the network")
    dns2: str | None = Field(None, description="the second IPv4 DNS for the network")
    type: str | None = Field(None, description="the type of the network")
    vlan: str | None = Field(None, description="The vlan of the network. This parameter is visible to ROOT admins "
                             "only")
    acltype: str | None = Field(None, description="acl type - access type to the network")
    subdomainaccess: bool | None = Field(None, description="true if users from subdomains can access the domain "
                                         "level network")
    account: str | None = Field(None, description="the owner of the network")
    domainid: str | None = Field(None, description="the domain id of the network owner")
    domain: str | None = Field(None, description="the domain name of the network owner")
    service: list[ServiceResp] = Field(default_factory=list, description="the list of services")
    networkdomain: str | None = Field(None, description="the network domain")
    physicalnetworkid: str | None = Field(None, description="the physical network id")
    restartrequired: bool = Field(description="true network requires restart")
    specifyipranges: bool = Field(description="true if network supports specifying ip ranges, false otherwise")
    canusefordeploy: bool = Field(description="list networks available for vm deployment")
    ispersistent: bool = Field(description="list networks that are persistent")
    isdefault: bool = Field(description="true if network is default, false otherwise")
    displaynetwork: bool = Field(True, description="an optional field, whether to the display the network to the "
                                 "end user or not.")
    redundantrouter: bool = Field(False, description="If the network has redundant routers enabled")
    egressdefaultpolicy: bool | None = Field(None, description="true if guest network default egress policy is "
                                             "allow; false if default egress policy is deny")
    strechedl2subnet: bool = Field(False, description="true if network can span multiple zones")
    created: datetime | None = Field(None, description="the date this network was created")
    vpcid: str | None = Field(None, description="VPC the network belongs to")
    vpcname: str | None = Field(None, description="Name of the VPC to which this network belongs")
    aclid: str | None = Field(None, description="ACL Id associated with the VPC network")
    aclname: str | None = Field(None, description="ACL name associated with the VPC network")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with "
                                "network")
    # routed networks, IPv6, MTUs (commands/network/network_modes.py)
    internetprotocol: str | None = Field(None, description="IPv4 or DualStack, from the network offering")
    ip6gateway: str | None = Field(None, description="the network's IPv6 gateway")
    ip6cidr: str | None = Field(None, description="the network's IPv6 subnet")
    ip6dns1: str | None = Field(None, description="the first IPv6 DNS for the network")
    ip6dns2: str | None = Field(None, description="the second IPv6 DNS for the network")
    ip6routing: str | None = Field(None, description="how the IPv6 subnet reaches the outside: Static")
    ip6routes: list[RouteResp] | None = Field(None, description="the upstream route of the IPv6 subnet")
    ip4routing: str | None = Field(None, description="routing mode of a ROUTED network: Static or Dynamic")
    ip4routes: list[RouteResp] | None = Field(None, description="the upstream route of a ROUTED network's subnet")
    asnumberid: str | None = Field(None, description="ID of the network's AS number (Dynamic routing)")
    asnumber: int | None = Field(None, description="the network's AS number (Dynamic routing)")
    bgppeers: list[BgpPeerResp] | None = Field(None, description="the BGP peers of the network (Dynamic routing)")
    publicmtu: int | None = Field(None, description="MTU of the router's public interface")
    privatemtu: int | None = Field(None, description="MTU of the router's guest interface")
    associatednetworkid: str | None = Field(None, description="ID of the network this one is associated to")
    associatednetwork: str | None = Field(None, description="name of the network this one is associated to")
    supportsvmautoscaling: bool | None = Field(None, description="whether autoscale VM groups can use the "
                                               "network's load balancers")
    tungstenvirtualrouteruuid: str | None = Field(None, description="Tungsten-Fabric virtual router (none here)")


class PublicIpResp(Resp):
    id: str = Field(description="public IP address id")
    ipaddress: str = Field(description="public IP address")
    allocated: datetime | None = Field(None, description="date the public IP address was acquired")
    zoneid: str = Field(description="the ID of the zone the public IP address belongs to")
    zonename: str | None = Field(None, description="the name of the zone the public IP address belongs to")
    issourcenat: bool = Field(description="true if the IP address is a source nat address, false otherwise")
    account: str | None = Field(None, description="the account the public IP address is associated with")
    domainid: str | None = Field(None, description="the domain ID the public IP address is associated with")
    domain: str | None = Field(None, description="the domain the public IP address is associated with")
    forvirtualnetwork: bool = Field(description="the virtual network for the IP address")
    vlanid: str | None = Field(None, description="the ID of the VLAN associated with the IP address.")
    vlanname: str | None = Field(None, description="the VLAN associated with the IP address")
    isstaticnat: bool = Field(description="true if this ip is for static nat, false otherwise")
    issystem: bool = Field(description="true if this ip is system ip (was allocated as a part of deployVm or "
                           "createLbRule)")
    virtualmachineid: str | None = Field(None, description="virtual machine id the ip address is assigned to")
    virtualmachinename: str | None = Field(None, description="virtual machine name the ip address is assigned to")
    vmipaddress: str | None = Field(None, description="virtual machine (dnat) ip address (not null only for "
                                    "static nat Ip)")
    associatednetworkid: str | None = Field(None, description="the ID of the Network associated with the IP "
                                            "address")
    associatednetworkname: str | None = Field(None, description="the name of the Network associated with the IP "
                                              "address")
    networkid: str | None = Field(None, description="the ID of the Network where ip belongs to")
    state: str = Field(description="State of the ip address. Can be: Allocating, Allocated, Releasing, Reserved "
                       "and Free")
    physicalnetworkid: str | None = Field(None, description="the physical network this belongs to")
    fordisplay: bool = Field(True, description="is public ip for display to the regular user")
    isportable: bool = Field(False, description="is public IP portable across the zones")
    vpcid: str | None = Field(None, description="VPC id the ip belongs to")
    vpcname: str | None = Field(None, description="VPC name the ip belongs to")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with ip "
                                "address")
    hasrules: bool = Field(False, description="whether firewall, forwarding or load balancer rules use the IP")
    forsystemvms: bool = Field(False, description="whether the IP's range is dedicated to system VMs")
    forprovider: bool = Field(False, description="whether the IP is used by a network provider itself")
    networkname: str | None = Field(None, description="name of the network the IP belongs to")
    virtualmachinedisplayname: str | None = Field(None, description="display name of the VM the IP is mapped to")
    virtualmachinetype: str | None = Field(None, description="type of the VM the IP is mapped to")
    purpose: str | None = Field(None, description="what the IP is used for: StaticNat, SourceNat, ...")
    domainpath: str | None = Field(None, description="path of the domain owning the IP")
    projectid: str | None = Field(None, description="project owning the IP")
    project: str | None = Field(None, description="name of the project owning the IP")
    hasannotations: bool | None = Field(None, description="whether the IP has comments")
