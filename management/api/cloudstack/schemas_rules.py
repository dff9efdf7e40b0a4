"""Response objects for routers, firewall/port forwarding/static NAT/load-balancer rules and security groups."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp, TagResp


class RouterResp(Resp):
    id: str = Field(description="the id of the router")
    name: str = Field(description="the name of the router")
    state: str = Field(description="the state of the router")
    role: str = Field("VIRTUAL_ROUTER", description="role of the domain router")
    zoneid: str | None = Field(None, description="the Zone ID for the router")
    zonename: str | None = Field(None, description="the Zone name for the router")
    dns1: str | None = Field(None, description="the first DNS for the router")
    dns2: str | None = Field(None, description="the second DNS for the router")
    networkdomain: str | None = Field(None, description="the network domain for the router")
    publicip: str | None = Field(None, description="the public IP address for the router")
    publicnetworkid: str | None = Field(None, description="the ID of the corresponding public network")
    guestipaddress: str | None = Field(None, description="the guest IP address for the router")
    guestmacaddress: str | None = Field(None, description="the guest MAC address for the router")
    guestnetmask: str | None = Field(None, description="the guest netmask for the router")
    guestnetworkid: str | None = Field(None, description="the ID of the corresponding guest network")
    guestnetworkname: str | None = Field(None, description="the name of the corresponding guest network")
    linklocalip: str | None = Field(None, description="the link local IP address for the router")
    account: str | None = Field(None, description="the account associated with the router")
    domainid: str | None = Field(None, description="the domain ID associated with the router")
    domain: str | None = Field(None, description="the domain associated with the router")
    serviceofferingid: str | None = Field(None, description="the ID of the service offering of the virtual machine")
    serviceofferingname: str | None = Field(None, description="the name of the service offering of the virtual "
                                            "machine")
    hypervisor: str | None = Field(None, description="the hypervisor on which the template runs")
    redundantstate: str = Field("UNKNOWN", description="the state of redundant virtual router")
    isredundantrouter: bool = Field(False, description="if this router is an redundant virtual router")
    requiresupgrade: bool = Field(False, description="true if the router template requires upgrader")
    healthchecksfailed: bool = Field(False, description="true if any health checks had failed")
    created: datetime | None = Field(None, description="the date and time the router was created")
    vpcid: str | None = Field(None, description="VPC the router belongs to")
    vpcname: str | None = Field(None, description="the name of VPC the router belongs to")


class FirewallRuleResp(Resp):
    id: str = Field(description="the ID of the firewall rule")
    protocol: str = Field(description="the protocol of the firewall rule")
    startport: int | None = Field(None, description="the starting port of firewall rule's port range")
    endport: int | None = Field(None, description="the ending port of firewall rule's port range")
    ipaddressid: str | None = Field(None, description="the public ip address id for the firewall rule")
    ipaddress: str | None = Field(None, description="the public ip address for the firewall rule")
    networkid: str | None = Field(None, description="the network id of the firewall rule")
    state: str = Field(description="the state of the rule")
    cidrlist: str | None = Field(None, description="the cidr list to forward traffic from. Multiple entries are "
                                 "separated by a single comma character (,).")
    destcidrlist: str | None = Field(None, description="the cidr list to forward traffic to. Multiple entries are "
                                     "separated by a single comma character (,).")
    icmptype: int | None = Field(None, description="type of the icmp message being sent")
    icmpcode: int | None = Field(None, description="error code for this icmp message")
    traffictype: str | None = Field(None, description="the traffic type for the firewall rule")
    fordisplay: bool = Field(True, description="is rule for display to the regular user")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the rule")


class PortForwardingRuleResp(Resp):
    id: str = Field(description="the ID of the port forwarding rule")
    privateport: str = Field(description="the starting port of port forwarding rule's private port range")
    privateendport: str = Field(description="the ending port of port forwarding rule's private port range")
    publicport: str = Field(description="the starting port of port forwarding rule's public port range")
    publicendport: str = Field(description="the ending port of port forwarding rule's private port range")
    protocol: str = Field(description="the protocol of the port forwarding rule")
    virtualmachineid: str | None = Field(None, description="the VM ID for the port forwarding rule")
    virtualmachinename: str | None = Field(None, description="the VM name for the port forwarding rule")
    virtualmachinedisplayname: str | None = Field(None, description="the VM display name for the port forwarding "
                                                  "rule")
    vmguestip: str | None = Field(None, description="the vm ip address for the port forwarding rule")
    ipaddressid: str = Field(description="the public ip address id for the port forwarding rule")
    ipaddress: str = Field(description="the public ip address for the port forwarding rule")
    networkid: str | None = Field(None, description="the id of the guest network the port forwarding rule belongs "
                                  "to")
    state: str = Field(description="the state of the rule")
    cidrlist: str | None = Field(None, description="the cidr list to forward traffic from. Multiple entries are "
                                 "separated by a single comma character (,).")
    fordisplay: bool = Field(True, description="is firewall for display to the regular user")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the rule")


class IpForwardingRuleResp(Resp):
    id: str = Field(description="the ID of the rule")
    protocol: str = Field(description="the protocol of the rule")
    startport: int | None = Field(None, description="the starting port of the rule's port range")
    endport: int | None = Field(None, description="the ending port of the rule's port range")
    ipaddressid: str = Field(description="the public ip address id")
    ipaddress: str = Field(description="the public ip address")
    virtualmachineid: str | None = Field(None, description="the VM ID for the rule")
    virtualmachinename: str | None = Field(None, description="the VM name for the rule")
    virtualmachinedisplayname: str | None = Field(None, description="the VM display name for the rule")
    vmguestip: str | None = Field(None, description="the vm ip address for the rule")
    state: str = Field(description="the state of the rule")
    # CloudStack declares FirewallRuleResponse for createIpForwardingRule: the same rule in port-forwarding terms
    privateport: str | None = Field(None, description="first port of the rule's range on the VM")
    privateendport: str | None = Field(None, description="last port of the rule's range on the VM")
    publicport: str | None = Field(None, description="first port of the rule's range on the public IP")
    publicendport: str | None = Field(None, description="last port of the rule's range on the public IP")
    networkid: str | None = Field(None, description="network the rule belongs to")
    cidrlist: str | None = Field(None, description="source CIDRs the rule admits")
    fordisplay: bool = Field(True, description="whether the rule is shown to the end user")
    tags: list[TagResp] = Field(default_factory=list, description="the rule's resource tags")


class LoadBalancerRuleResp(Resp):
    id: str = Field(description="the load balancer rule ID")
    name: str = Field(description="the name of the load balancer")
    description: str | None = Field(None, description="the description of the load balancer")
    algorithm: str = Field(description="the load balancer algorithm (source, roundrobin, leastconn)")
    publicipid: str = Field(description="the public ip address id")
    publicip: str = Field(description="the public ip address")
    publicport: str = Field(description="the public port")
    privateport: str = Field(description="the private port")
    protocol: str | None = Field(None, description="the protocol of the loadbalanacer rule")
    state: str = Field(description="the state of the rule")
    networkid: str | None = Field(None, description="the id of the guest network the lb rule belongs to")
    zoneid: str | None = Field(None, description="the id of the zone the rule belongs to")
    zonename: str | None = Field(None, description="the name of the zone the load balancer rule belongs to")
    cidrlist: str | None = Field(None, description="the cidr list to forward traffic from. Multiple entries are "
                                 "separated by a single comma character (,).")
    account: str | None = Field(None, description="the account of the load balancer rule")
    domainid: str | None = Field(None, description="the domain ID of the load balancer rule")
    domain: str | None = Field(None, description="the domain of the load balancer rule")
    fordisplay: bool = Field(True, description="is rule for display to the regular user")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the rule")


class SecurityGroupRuleResp(Resp):
    ruleid: str = Field(description="the id of the security group rule")
    protocol: str | None = Field(None, description="the protocol of the security group rule")
    startport: int | None = Field(None, description="the starting IP of the security group rule")
    endport: int | None = Field(None, description="the ending IP of the security group rule ")
    icmptype: int | None = Field(None, description="the type of the ICMP message response")
    icmpcode: int | None = Field(None, description="the code for the ICMP message response")
    cidr: str | None = Field(None, description="the CIDR notation for the base IP address of the security group "
                             "rule")
    securitygroupname: str | None = Field(None, description="security group name")
    account: str | None = Field(None, description="account owning the security group rule")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the rule")


class SecurityGroupResp(Resp):
    id: str = Field(description="the ID of the security group")
    name: str = Field(description="the name of the security group")
    description: str | None = Field(None, description="the description of the security group")
    account: str | None = Field(None, description="the account owning the security group")
    domainid: str | None = Field(None, description="the domain ID of the security group")
    domain: str | None = Field(None, description="the domain name of the security group")
    ingressrule: list[SecurityGroupRuleResp] = Field(default_factory=list, description="the list of ingress rules "
                                                     "associated with the security group")
    egressrule: list[SecurityGroupRuleResp] = Field(default_factory=list, description="the list of egress rules "
                                                    "associated with the security group")
    virtualmachinecount: int = Field(0, description="the number of virtualmachines associated with this securitygroup")
    virtualmachineids: list[str] = Field(default_factory=list, description="the list of virtualmachine ids associated "
                                         "with this securitygroup")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with the rule")
    domainpath: str | None = Field(None, description="path of the domain owning the security group")
    projectid: str | None = Field(None, description="project owning the security group")
    project: str | None = Field(None, description="name of the project owning the security group")
