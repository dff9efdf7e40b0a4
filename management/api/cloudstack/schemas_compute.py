"""Response objects of the compute commands (VMs, volumes, snapshots, SSH key pairs); CloudStack wire names."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp, TagResp


class NicSecondaryIpRefResp(Resp):
    id: str = Field(description="the ID of the secondary private IP addr")
    ipaddress: str = Field(description="Secondary IP address")


class NicResp(Resp):
    id: str = Field(description="the ID of the nic")
    networkid: str | None = Field(None, description="the ID of the corresponding network")
    networkname: str | None = Field(None, description="the name of the corresponding network")
    ipaddress: str | None = Field(None, description="the ip address of the nic")
    gateway: str | None = Field(None, description="the gateway of the nic")
    netmask: str | None = Field(None, description="the netmask of the nic")
    macaddress: str | None = Field(None, description="true if nic is default, false otherwise")
    isdefault: bool = Field(description="true if nic is default, false otherwise")
    traffictype: str | None = Field(None, description="the traffic type of the nic")
    type: str | None = Field(None, description="the type of the nic")
    broadcasturi: str | None = Field(None, description="the broadcast uri of the nic")
    isolationuri: str | None = Field(None, description="the isolation uri of the nic")
    deviceid: str | None = Field(None, description="device id for the network when plugged into the virtual machine")
    virtualmachineid: str | None = Field(None, description="Id of the vm to which the nic belongs")
    secondaryip: list[NicSecondaryIpRefResp] | None = Field(None, description="the Secondary ipv4 addr of nic")


class SecurityGroupRefResp(Resp):
    id: str = Field(description="the ID of the security group")
    name: str = Field(description="the name of the security group")
    description: str | None = Field(None, description="the description of the security group")


class VirtualMachineResp(Resp):
    id: str = Field(description="the ID of the virtual machine")
    name: str = Field(description="the name of the virtual machine")
    displayname: str | None = Field(None, description="user generated name. The name of the virtual machine is "
                                    "returned if no displayname exists.")
    state: str = Field(description="the state of the virtual machine")
    account: str | None = Field(None, description="the account associated with the virtual machine")
    domainid: str | None = Field(None, description="the ID of the domain in which the virtual machine exists")
    domain: str | None = Field(None, description="the name of the domain in which the virtual machine exists")
    created: datetime | None = Field(None, description="the date when this virtual machine was created")
    haenable: bool = Field(False, description="true if high-availability is enabled, false otherwise")
    group: str | None = Field(None, description="the group name of the virtual machine")
    groupid: str | None = Field(None, description="the group ID of the virtual machine")
    zoneid: str | None = Field(None, description="the ID of the availability zone for the virtual machine")
    zonename: str | None = Field(None, description="the name of the availability zone for the virtual machine")
    hostid: str | None = Field(None, description="the ID of the host for the virtual machine")
    hostname: str | None = Field(None, description="the name of the host for the virtual machine")
    hostcontrolstate: str | None = Field(None, description="the control state of the host for the virtual machine")
    templateid: str | None = Field(None, description="the ID of the template for the virtual machine. A -1 is "
                                   "returned if the virtual machine was created from an ISO file.")
    templatename: str | None = Field(None, description="the name of the template for the virtual machine")
    templatedisplaytext: str | None = Field(None, description="an alternate display text of the template for the "
                                            "virtual machine")
    passwordenabled: bool = Field(False, description="true if the password rest feature is enabled, false "
                                  "otherwise")
    password: str | None = Field(None, description="the password (if exists) of the virtual machine")
    serviceofferingid: str | None = Field(None, description="the ID of the service offering of the virtual machine")
    serviceofferingname: str | None = Field(None, description="the name of the service offering of the virtual "
                                            "machine")
    cpunumber: int = Field(description="the number of vCPUs this virtual machine is using")
    cpuspeed: int = Field(description="the speed of each vCPU")
    memory: int = Field(description="the memory allocated for the virtual machine")
    guestosid: str | None = Field(None, description="Os type ID of the virtual machine")
    ostypeid: str | None = Field(None, description="OS type id of the vm")
    rootdeviceid: int = Field(0, description="device ID of the root volume")
    rootdevicetype: str = Field("ROOT", description="device type of the root volume")
    hypervisor: str | None = Field(None, description="the hypervisor on which the template runs")
    instancename: str | None = Field(None, description="instance name of the user vm; this parameter is returned "
                                     "to the ROOT admin only")
    keypairs: str | None = Field(None, description="ssh key-pairs")
    keypair: str | None = Field(None, description="ssh key-pair (first of keypairs; older clients read it)")
    userdata: str | None = Field(None, description="Base64 string containing the user data")
    userdataid: str | None = Field(None, description="the id of userdata used for the VM")
    userdataname: str | None = Field(None, description="the name of userdata used for the VM")
    userdatapolicy: str | None = Field(None, description="the userdata override policy with the userdata provided "
                                       "while deploying VM")
    userdatadetails: str | None = Field(None, description="list of variables and values for the variables declared "
                                        "in userdata")
    isdynamicallyscalable: bool = Field(False, description="true if vm contains XS/VMWare tools inorder to support "
                                        "dynamic scaling of VM cpu/memory.")
    diskofferingid: str | None = Field(None, description="the ID of the disk offering of the virtual machine")
    diskofferingname: str | None = Field(None, description="the name of the disk offering of the virtual machine")
    nic: list[NicResp] = Field(default_factory=list, description="the list of nics associated with vm")
    securitygroup: list[SecurityGroupRefResp] = Field(default_factory=list, description="list of security groups "
                                                      "associated with the virtual machine")
    affinitygroup: list[dict[str, str]] = Field(default_factory=list, description="list of affinity groups "
                                                "associated with the virtual machine")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated")
    details: dict[str, str] | None = Field(None, description="Vm details in key/value pairs.")
    publicip: str | None = Field(None, description="public IP address id associated with vm via Static nat rule")
    publicipid: str | None = Field(None, description="public IP address id associated with vm via Static nat rule")
    isoid: str | None = Field(None, description="the ID of the ISO attached to the virtual machine")
    isoname: str | None = Field(None, description="the name of the ISO attached to the virtual machine")
    isodisplaytext: str | None = Field(None, description="an alternate display text of the ISO attached to the "
                                       "virtual machine")
    pooltype: str | None = Field(None, description="the pool type of the virtual machine")
    lastupdated: datetime | None = Field(None, description="the date when this virtual machine was updated last time")
    userid: str | None = Field(None, description="the user's ID who deployed the virtual machine")
    username: str | None = Field(None, description="the user's name who deployed the virtual machine")
    osdisplayname: str | None = Field(None, description="OS name of the vm")


class VolumeResp(Resp):
    id: str = Field(description="ID of the disk volume")
    name: str = Field(description="name of the disk volume")
    type: str = Field(description="type of the disk volume (ROOT or DATADISK)")
    state: str = Field(description="the state of the disk volume")
    size: int = Field(description="size of the disk volume")
    deviceid: int | None = Field(None, description="the ID of the device on user vm the volume is attached to. This "
                                 "tag is not returned when the volume is detached.")
    virtualmachineid: str | None = Field(None, description="id of the virtual machine")
    vmname: str | None = Field(None, description="name of the virtual machine")
    vmdisplayname: str | None = Field(None, description="display name of the virtual machine")
    vmstate: str | None = Field(None, description="state of the virtual machine")
    diskofferingid: str | None = Field(None, description="ID of the disk offering")
    diskofferingname: str | None = Field(None, description="name of the disk offering")
    diskofferingdisplaytext: str | None = Field(None, description="the display text of the disk offering")
    serviceofferingid: str | None = Field(None, description="ID of the service offering for root disk")
    serviceofferingname: str | None = Field(None, description="name of the service offering for root disk")
    storageid: str | None = Field(None, description="id of the primary storage hosting the disk volume; returned "
                                  "to admin user only")
    storage: str | None = Field(None, description="name of the primary storage hosting the disk volume")
    storagetype: str = Field("shared", description="shared or local storage")
    zoneid: str | None = Field(None, description="ID of the availability zone")
    zonename: str | None = Field(None, description="name of the availability zone")
    account: str | None = Field(None, description="the account associated with the disk volume")
    domainid: str | None = Field(None, description="the ID of the domain associated with the disk volume")
    domain: str | None = Field(None, description="the domain associated with the disk volume")
    created: datetime | None = Field(None, description="the date the disk volume was created")
    attached: datetime | None = Field(None, description="the date the volume was attached to a VM instance")
    destroyed: bool = Field(False, description="the boolean state of whether the volume is destroyed or not")
    path: str | None = Field(None, description="the path of the volume")
    hypervisor: str | None = Field(None, description="Hypervisor the volume belongs to")
    provisioningtype: str | None = Field(None, description="provisioning type used to create volumes.")
    templateid: str | None = Field(None, description="ID of the template the root disk was created from")
    isextractable: bool = Field(True, description="true if the volume is extractable, false otherwise")
    displayvolume: bool = Field(True, description="an optional field whether to the display the volume to the end "
                                "user or not.")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated")


class SnapshotResp(Resp):
    id: str = Field(description="ID of the snapshot")
    name: str = Field(description="name of the snapshot")
    volumeid: str | None = Field(None, description="ID of the disk volume")
    volumename: str | None = Field(None, description="name of the disk volume")
    volumetype: str | None = Field(None, description="type of the disk volume")
    volumestate: str | None = Field(None, description="state of the disk volume")
    state: str = Field(description="the state of the snapshot. BackedUp means that snapshot is ready to be used; "
                       "Creating - the snapshot is being allocated on the primary storage; BackingUp - the snapshot "
                       "is being backed up on secondary storage")
    snapshottype: str = Field(description="the type of the snapshot")
    intervaltype: str | None = Field(None, description="valid types are hourly, daily, weekly, monthy, template, "
                                     "and none.")
    created: datetime | None = Field(None, description="the date the snapshot was created")
    physicalsize: int = Field(0, description="physical size of backedup snapshot on image store")
    virtualsize: int = Field(0, description="virtual size of backedup snapshot on image store")
    revertable: bool = Field(True, description="indicates whether the underlying storage supports reverting the "
                             "volume to this snapshot")
    locationtype: str = Field("PRIMARY", description="valid location types are primary and secondary.")
    zoneid: str | None = Field(None, description="id of the availability zone")
    zonename: str | None = Field(None, description="name of the availability zone")
    account: str | None = Field(None, description="the account associated with the snapshot")
    domainid: str | None = Field(None, description="the domain ID of the snapshot's account")
    domain: str | None = Field(None, description="the domain name of the snapshot's account")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated")


class SSHKeyPairResp(Resp):
    id: str | None = Field(None, description="ID of the ssh keypair")
    name: str = Field(description="Name of the keypair")
    fingerprint: str = Field(description="Fingerprint of the public key")
    publickey: str | None = Field(None, description="the public key of the keypair (register only)")
    privatekey: str | None = Field(None, description="Private key (createSSHKeyPair only; never stored)")
    account: str | None = Field(None, description="the owner of the keypair")
    domainid: str | None = Field(None, description="the domain id of the keypair owner")
    domain: str | None = Field(None, description="the domain name of the keypair owner")


class VmUserDataResp(Resp):
    virtualmachineid: str = Field(description="the ID of the virtual machine")
    userdata: str | None = Field(None, description="Base 64 encoded VM user data")
