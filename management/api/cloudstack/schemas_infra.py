"""Response objects of the inventory commands (zones are in schemas.py): field names are CloudStack's wire names."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp


class PodResp(Resp):
    id: str = Field(description="the ID of the Pod")
    name: str = Field(description="the name of the Pod")
    zoneid: str = Field(description="the Zone ID of the Pod")
    zonename: str = Field(description="the Zone name of the Pod")
    gateway: str | None = Field(None, description="the gateway of the Pod")
    netmask: str | None = Field(None, description="the netmask of the Pod")
    startip: list[str] = Field(default_factory=list, description="the starting IP for the Pod")
    endip: list[str] = Field(default_factory=list, description="the ending IP for the Pod")
    allocationstate: str = Field(description="the allocation state of the Pod")


class ClusterResp(Resp):
    id: str = Field(description="the cluster ID")
    name: str = Field(description="the cluster name")
    podid: str = Field(description="the Pod ID of the cluster")
    podname: str = Field(description="the Pod name of the cluster")
    zoneid: str = Field(description="the Zone ID of the cluster")
    zonename: str = Field(description="the Zone name of the cluster")
    hypervisortype: str = Field(description="the hypervisor type of the cluster")
    clustertype: str = Field(description="the type of the cluster")
    allocationstate: str = Field(description="the allocation state of the cluster")
    managedstate: str = Field(description="whether this cluster is managed by cloudstack")
    cpuovercommitratio: str = Field(description="The cpu overcommit ratio of the cluster")
    memoryovercommitratio: str = Field(description="The memory overcommit ratio of the cluster")
    arch: str = Field("x86_64", description="CPU Arch of the hosts in the cluster")


class HostResp(Resp):
    id: str = Field(description="the ID of the host")
    name: str = Field(description="the name of the host")
    type: str = Field(description="the host type")
    state: str = Field(description="the state of the host")
    resourcestate: str = Field(description="the resource state of the host")
    hypervisor: str = Field(description="the host hypervisor")
    hypervisorversion: str | None = Field(None, description="the hypervisor version")
    ipaddress: str | None = Field(None, description="the IP address of the host")
    zoneid: str = Field(description="the Zone ID of the host")
    zonename: str = Field(description="the Zone name of the host")
    podid: str | None = Field(None, description="the Pod ID of the host")
    podname: str | None = Field(None, description="the Pod name of the host")
    clusterid: str | None = Field(None, description="the cluster ID of the host")
    clustername: str | None = Field(None, description="the cluster name of the host")
    clustertype: str | None = Field(None, description="the cluster type of the cluster that host belongs to")
    cpusockets: int | None = Field(None, description="the number of CPU sockets on the host")
    cpunumber: int | None = Field(None, description="the CPU number of the host")
    cpuspeed: int | None = Field(None, description="the CPU speed of the host")
    cpuallocated: str | None = Field(None, description="the amount of the host's CPU currently allocated")
    cpuallocatedvalue: int | None = Field(None, description="the amount of the host's CPU currently allocated "
                                          "in MHz")
    cpuallocatedpercentage: str | None = Field(None, description="the amount of the host's CPU currently "
                                               "allocated in percentage")
    cpuwithoverprovisioning: str | None = Field(None, description="the amount of the host's CPU after applying "
                                                "the cpu.overprovisioning.factor")
    cpuused: str | None = Field(None, description="the amount of the host's CPU currently used")
    memorytotal: int | None = Field(None, description="the memory total of the host, this parameter is deprecated "
                                    "use memorywithoverprovisioning")
    memorywithoverprovisioning: str | None = Field(None, description="the amount of the host's memory after "
                                                   "applying the mem.overprovisioning.factor")
    memoryallocated: int | None = Field(None, description="the amount of the host's memory currently allocated")
    memoryallocatedpercentage: str | None = Field(None, description="the amount of the host's memory currently "
                                                  "allocated in percentage")
    memoryused: int | None = Field(None, description="the amount of the host's memory currently used")
    hosttags: str | None = Field(None, description="comma-separated list of tags for the host")
    lastpinged: datetime | None = Field(None, description="the date and time the host was last pinged")
    disconnected: datetime | None = Field(None, description="true if the host is disconnected. False otherwise.")
    created: datetime = Field(description="the date and time the host was created")
    version: str | None = Field(None, description="the host version")
    managementserverid: str | None = Field(None, description="the management server ID of the host")
    islocalstorageactive: bool = Field(False, description="true if local storage is active, false otherwise")
    capabilities: str | None = Field(None, description="capabilities of the host")
    events: str | None = Field(None, description="events available for the host")
    arch: str | None = Field(None, description="CPU Arch of the host")


class StoragePoolResp(Resp):
    id: str = Field(description="the ID of the storage pool")
    name: str = Field(description="the name of the storage pool")
    zoneid: str = Field(description="the Zone ID of the storage pool")
    zonename: str = Field(description="the Zone name of the storage pool")
    podid: str | None = Field(None, description="the Pod ID of the storage pool")
    podname: str | None = Field(None, description="the Pod name of the storage pool")
    clusterid: str | None = Field(None, description="the ID of the cluster for the storage pool")
    clustername: str | None = Field(None, description="the name of the cluster for the storage pool")
    type: str = Field(description="the storage pool type")
    scope: str = Field(description="the scope of the storage pool")
    state: str = Field(description="the state of the storage pool")
    path: str = Field(description="the storage pool path")
    ipaddress: str | None = Field(None, description="the IP address of the storage pool")
    hypervisor: str | None = Field(None, description="the hypervisor type of the storage pool")
    disksizetotal: int = Field(description="the total disk size of the storage pool")
    disksizeallocated: int = Field(description="the host's currently allocated disk size")
    disksizeused: int = Field(description="the host's currently used disk size")
    overprovisionfactor: str = Field(description="the overprovisionfactor for the storage pool")
    tags: str | None = Field(None, description="the tags for the storage pool")
    provider: str = Field(description="Storage provider for this pool")
    created: datetime = Field(description="the date and time the storage pool was created")


class ImageStoreResp(Resp):
    id: str = Field(description="the ID of the image store")
    name: str = Field(description="the name of the image store")
    url: str = Field(description="the url of the image store")
    protocol: str = Field(description="the protocol of the image store")
    providername: str = Field(description="the provider name of the image store")
    scope: str = Field(description="the scope of the image store")
    zoneid: str | None = Field(None, description="the Zone ID of the image store")
    zonename: str | None = Field(None, description="the Zone name of the image store")
    readonly: bool = Field(False, description="defines if store is read-only")
    disksizetotal: int | None = Field(None, description="the total disk size of the host")
    disksizeused: int | None = Field(None, description="the host's currently used disk size")


class PhysicalNetworkResp(Resp):
    id: str = Field(description="the uuid of the physical network")
    name: str = Field(description="name of the physical network")
    zoneid: str = Field(description="zone id of the physical network")
    zonename: str = Field(description="zone name of the physical network")
    state: str = Field(description="state of the physical network")
    vlan: str | None = Field(None, description="the vlan of the physical network")
    isolationmethods: str | None = Field(None, description="isolation methods")
    broadcastdomainrange: str = Field(description="Broadcast domain range of the physical network")
    tags: str | None = Field(None, description="comma separated tag")
    networkspeed: str | None = Field(None, description="the speed of the physical network")
    domainid: str | None = Field(None, description="the domain id of the physical network owner")


class TrafficTypeResp(Resp):
    id: str = Field(description="id of the network provider")
    traffictype: str = Field(description="the trafficType to be added to the physical network")
    physicalnetworkid: str = Field(description="the physical network this belongs to")
    kvmnetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                        "dedicated to this traffic on a KVM host")
    xennetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                        "dedicated to this traffic on a XenServer host")
    vmwarenetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                           "dedicated to this traffic on a VMware host")
    vlan: str | None = Field(None, description="The VLAN id to be used for Management traffic by VMware host")
    hypervnetworklabel: str | None = Field(None, description="The network name label of the physical device "
                                           "dedicated to this traffic on a HyperV host")
    ovm3networklabel: str | None = Field(None, description="The network name of the physical device dedicated to "
                                         "this traffic on an OVM3 host")


class NetworkServiceProviderResp(Resp):
    id: str = Field(description="uuid of the network provider")
    name: str = Field(description="the provider name")
    physicalnetworkid: str = Field(description="the physical network this belongs to")
    destinationphysicalnetworkid: str | None = Field(None, description="the destination physical network")
    state: str = Field(description="state of the network provider")
    canenableindividualservice: bool = Field(True, description="true if individual services can be enabled/disabled")
    servicelist: list[str] = Field(default_factory=list, description="services for this provider")


class VirtualRouterElementResp(Resp):
    id: str = Field(description="the id of the router")
    nspid: str = Field(description="the physical network service provider id of the provider")
    enabled: bool = Field(description="Enabled/Disabled the service provider")
    account: str | None = Field(None, description="the account associated with the provider")
    domainid: str | None = Field(None, description="the domain ID associated with the provider")
    domain: str | None = Field(None, description="the domain associated with the provider")
    domainpath: str | None = Field(None, description="path of the domain associated with the provider")
    projectid: str | None = Field(None, description="the project id of the provider")
    project: str | None = Field(None, description="the project name of the provider")


class VlanIpRangeResp(Resp):
    id: str = Field(description="the ID of the VLAN IP range")
    forvirtualnetwork: bool = Field(description="the virtual network for the VLAN IP range")
    zoneid: str = Field(description="the Zone ID of the VLAN IP range")
    vlan: str = Field(description="the ID or VID of the VLAN.")
    account: str | None = Field(None, description="the account of the VLAN IP range")
    domainid: str | None = Field(None, description="the domain ID of the VLAN IP range")
    domain: str | None = Field(None, description="the domain name of the VLAN IP range")
    podid: str | None = Field(None, description="the Pod ID for the VLAN IP range")
    podname: str | None = Field(None, description="the Pod name for the VLAN IP range")
    gateway: str | None = Field(None, description="the gateway of the VLAN IP range")
    netmask: str | None = Field(None, description="the netmask of the VLAN IP range")
    cidr: str | None = Field(None, description="the cidr of the VLAN IP range")
    description: str | None = Field(None, description="the description of the VLAN IP range")
    startip: str = Field(description="the start ip of the VLAN IP range")
    endip: str = Field(description="the end ip of the VLAN IP range")
    networkid: str | None = Field(None, description="the network id of vlan range")
    physicalnetworkid: str | None = Field(None, description="the physical network this belongs to")
    forsystemvms: bool = Field(False, description="indicates whether VLAN IP range is dedicated to system vms")
    startipv6: str | None = Field(None, description="the start IPv6 address of the range")
    endipv6: str | None = Field(None, description="the end IPv6 address of the range")
    ip6gateway: str | None = Field(None, description="the IPv6 gateway of the range")
    ip6cidr: str | None = Field(None, description="the IPv6 CIDR of the range")
    domainpath: str | None = Field(None, description="path of the domain the range is dedicated to")
    projectid: str | None = Field(None, description="project the range is dedicated to")
    project: str | None = Field(None, description="name of that project")
    provider: str | None = Field(None, description="network provider of the range")


class HypervisorResp(Resp):
    name: str = Field(description="Hypervisor name")


class OsTypeResp(Resp):
    id: str = Field(description="the ID of the OS type")
    name: str = Field(description="the name of the OS type")
    description: str = Field(description="the name/description of the OS type")
    oscategoryid: str = Field(description="the ID of the OS category")
    oscategoryname: str = Field(description="the name of the OS category")
    isuserdefined: bool = Field(description="is the guest OS user defined")
    fordisplay: bool = Field(True, description="is the guest OS visible for the users")


class OsCategoryResp(Resp):
    id: str = Field(description="the ID of the OS category")
    name: str = Field(description="the name of the OS category")
    isfeatured: bool = Field(False, description="Whether the OS category is featured")


class CapacityResp(Resp):
    type: int = Field(description="the capacity type")
    name: str = Field(description="the capacity name")
    zoneid: str | None = Field(None, description="the Zone ID")
    zonename: str | None = Field(None, description="the Zone name")
    podid: str | None = Field(None, description="the Pod ID")
    podname: str | None = Field(None, description="the Pod name")
    clusterid: str | None = Field(None, description="the Cluster ID")
    clustername: str | None = Field(None, description="the Cluster name")
    capacityallocated: int | None = Field(None, description="the capacity currently in allocated")
    capacityused: int = Field(description="the capacity currently in use")
    capacitytotal: int = Field(description="the total capacity available")
    percentused: str = Field(description="the percentage of capacity currently in use")


class ConfigurationResp(Resp):
    category: str = Field(description="the category of the configuration")
    name: str = Field(description="the name of the configuration")
    value: str | None = Field(None, description="the value of the configuration")
    defaultvalue: str | None = Field(None, description="the default value of the configuration")
    description: str | None = Field(None, description="the description of the configuration")
    scope: str | None = Field(None, description="scope(zone/cluster/pool/account) of the parameter that needs to "
                              "be updated")
    id: str | None = Field(None, description="the value of the configuration")
    isdynamic: bool = Field(description="true if the configuration is dynamic")
    component: str | None = Field(None, description="the component of the configuration")
    type: str | None = Field(None, description="the type of the configuration value")


class ServiceOfferingResp(Resp):
    id: str = Field(description="the id of the service offering")
    name: str = Field(description="the name of the service offering")
    displaytext: str | None = Field(None, description="an alternate display text of the service offering.")
    cpunumber: int | None = Field(None, description="the number of CPU")
    cpuspeed: int | None = Field(None, description="the clock rate CPU speed in Mhz")
    memory: int | None = Field(None, description="the memory in MB")
    storagetype: str = Field(description="the storage type for this service offering")
    provisioningtype: str = Field("thin", description="provisioning type used to create volumes.")
    offerha: bool = Field(description="the ha support in the service offering")
    limitcpuuse: bool = Field(description="restrict the CPU usage to committed service offering")
    isvolatile: bool = Field(False, description="true if the vm needs to be volatile")
    hosttags: str | None = Field(None, description="the host tag for the service offering")
    storagetags: str | None = Field(None, description="the tags for the service offering")
    tags: str | None = Field(None, description="the tags for the service offering")
    iscustomized: bool = Field(description="is true if the offering is customized")
    issystem: bool = Field(description="is this a system vm offering")
    systemvmtype: str | None = Field(None, description="is this a the systemvm type for system vm offering")
    defaultuse: bool = Field(False, description="is this a default system vm offering")
    rootdisksize: int | None = Field(None, description="Root disk size in GB")
    domainid: str | None = Field(None, description="the domain ID(s) this disk offering belongs to.")
    zoneid: str | None = Field(None, description="the zone ID(s) this disk offering belongs to.")
    state: str = Field("Active", description="state of the service offering")
    created: datetime = Field(description="the date this service offering was created")
    cacheMode: str | None = Field(None, description="the cache mode to use for this disk offering. none, writeback, "
                                  "writethrough or hypervisor_default")
    diskBytesReadRate: int | None = Field(None, description="bytes read rate of the disk offering")
    diskBytesWriteRate: int | None = Field(None, description="bytes write rate of the disk offering")
    diskIopsReadRate: int | None = Field(None, description="io requests read rate of the disk offering")
    diskIopsWriteRate: int | None = Field(None, description="io requests write rate of the disk offering")
    encryptroot: bool = Field(False, description="true if virtual machine root disk will be encrypted on storage")


class DiskOfferingResp(Resp):
    id: str = Field(description="unique ID of the disk offering")
    name: str = Field(description="the name of the disk offering")
    displaytext: str | None = Field(None, description="an alternate display text of the disk offering.")
    disksize: int = Field(description="the size of the disk offering in GB")
    iscustomized: bool = Field(description="true if disk offering uses custom size, false otherwise")
    storagetype: str = Field(description="the storage type for this disk offering")
    provisioningtype: str = Field(description="provisioning type used to create volumes.")
    tags: str | None = Field(None, description="the tags for the disk offering")
    miniops: int | None = Field(None, description="the min iops of the disk offering")
    maxiops: int | None = Field(None, description="the max iops of the disk offering")
    domainid: str | None = Field(None, description="the domain ID(s) this disk offering belongs to.")
    zoneid: str | None = Field(None, description="the zone ID(s) this disk offering belongs to.")
    state: str = Field("Active", description="state of the disk offering")
    created: datetime = Field(description="the date this disk offering was created")
    cacheMode: str | None = Field(None, description="the cache mode to use for this disk offering. none, writeback, "
                                  "writethrough or hypervisor_default")
    diskBytesReadRate: int | None = Field(None, description="bytes read rate of the disk offering")
    diskBytesWriteRate: int | None = Field(None, description="bytes write rate of the disk offering")
    diskIopsReadRate: int | None = Field(None, description="io requests read rate of the disk offering")
    diskIopsWriteRate: int | None = Field(None, description="io requests write rate of the disk offering")
    encrypt: bool = Field(False, description="Whether disks using this offering will be encrypted on primary "
                          "storage")
