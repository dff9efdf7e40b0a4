"""Response objects of the tenancy and governance surface: projects, limits, usage, alerts, instance groups, user
data, regions, SSL certificates, catalogues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, create_model

from management.api.cloudstack.schemas import Resp, TagResp, limit_fields


class JobResp(Resp):
    """BaseResponse's fields: the job an object was returned by, when it was (never set on synchronous answers)."""

    jobid: str | None = Field(None, description="the UUID of the latest async job acting on this object")
    jobstatus: int | None = Field(None, description="the current status of the latest async job acting on this "
                                  "object")


ProjectLimits = create_model("ProjectLimits", __base__=JobResp, **limit_fields(skip=("project",)))


class ProjectResp(ProjectLimits):  # type: ignore[misc,valid-type]
    id: str = Field(description="the id of the project")
    name: str = Field(description="the name of the project")
    displaytext: str | None = Field(None, description="the displaytext of the project")
    domainid: str = Field(description="the domain id the project belongs to")
    domain: str = Field(description="the domain name where the project belongs to")
    domainpath: str | None = Field(None, description="the domain path where the project belongs to")
    owner: list[dict[str, str]] = Field(default_factory=list, description="the account name of the project's "
                                        "owners")
    projectaccountname: str = Field(description="the project account name of the project")
    state: str = Field(description="the state of the project")
    vmstopped: int | None = Field(None, description="the total number of virtual machines stopped for this project")
    vmrunning: int | None = Field(None, description="the total number of virtual machines running for this project")
    created: datetime | None = Field(None, description="the date this project was created")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with "
                                "the project")


class ProjectAccountResp(JobResp):
    projectid: str = Field(description="the ID of the project")
    project: str = Field(description="the name of the project")
    accountid: str = Field(description="the id of the account")
    account: str = Field(description="the name of the account")
    username: str | None = Field(None, description="the name of the user")
    accounttype: int = Field(description="account type (admin, domain-admin, user)")
    userid: str | None = Field(None, description="Id of the user")
    projectroleid: str | None = Field(None, description="Id of the project role associated with the account/user")
    role: str = Field(description="account role in the project (regular, owner)")
    domainid: str = Field(description="id of the Domain the account belongs too")
    domain: str = Field(description="name of the Domain the account belongs too")
    domainpath: str | None = Field(None, description="path of the Domain the account belongs too")
    user: list[dict[str, Any]] = Field(default_factory=list, description="the list of users associated with "
                                       "account")


class ProjectInvitationResp(JobResp):
    id: str = Field(description="the id of the invitation")
    projectid: str = Field(description="the id of the project")
    project: str = Field(description="the name of the project")
    domainid: str = Field(description="the domain id the project belongs to")
    domain: str = Field(description="the domain name where the project belongs to")
    domainpath: str | None = Field(None, description="the domain path where the project belongs to")
    userid: str | None = Field(None, description="the User ID")
    account: str | None = Field(None, description="the account name of the project's owner")
    email: str | None = Field(None, description="the email the invitation was sent to")
    state: str = Field(description="the invitation state")


class ProjectRoleResp(JobResp):
    id: str = Field(description="the ID of the role")
    name: str = Field(description="the name of the role")
    description: str | None = Field(None, description="the description of the role")
    projectid: str = Field(description="the id of the project")
    ispublic: bool = Field(True, description="Indicates whether the role will be visible to all users (public) or "
                           "only to root admins (private)")


class ProjectRolePermissionResp(JobResp):
    id: str = Field(description="the ID of the project role permission")
    projectroleid: str = Field(description="the ID of the project role to which the role permission belongs")
    projectid: str = Field(description="the ID of the project")
    projectrolename: str = Field(description="the name of the project role to which the role permission belongs")
    rule: str = Field(description="the api name or wildcard rule")
    permission: str = Field(description="the permission type of the api name or wildcard rule, allow/deny")
    description: str | None = Field(None, description="the description of the role permission")


class ResourceLimitResp(JobResp):
    account: str | None = Field(None, description="the account of the resource limit")
    domainid: str | None = Field(None, description="the domain ID of the resource limit")
    domain: str | None = Field(None, description="the domain name of the resource limit")
    domainpath: str | None = Field(None, description="path of the domain to which the resource limit belongs")
    resourcetype: str = Field(description="resource type. Values include 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11.")
    resourcetypename: str = Field(description="resource type name. Values include user_vm, public_ip, volume, "
                                  "snapshot, template, network, vpc, cpu, memory, primary_storage, "
                                  "secondary_storage.")
    max: int = Field(description="the maximum number of the resource. A -1 means the resource currently has no "
                     "limit.")
    projectid: str | None = Field(None, description="the project id of the resource limit")
    project: str | None = Field(None, description="the project name of the resource limit")
    tag: str | None = Field(None, description="The tag for the resource limit")


class ResourceCountResp(JobResp):
    account: str | None = Field(None, description="the account for which resource count's are updated")
    projectid: str | None = Field(None, description="the project id for which resource count's are updated")
    project: str | None = Field(None, description="the project name for which resource count's are updated")
    domainid: str = Field(description="the domain ID for which resource count's are updated")
    domain: str = Field(description="the domain name for which resource count's are updated")
    domainpath: str | None = Field(None, description="path of the domain to which the resource counts are updated")
    resourcetype: str = Field(description="resource type. Values include 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11.")
    resourcetypename: str = Field(description="resource type name.")
    resourcecount: int = Field(description="resource count")
    tag: str | None = Field(None, description="Tag for the resource")


class InstanceGroupResp(JobResp):
    id: str = Field(description="the ID of the instance group")
    name: str = Field(description="the name of the instance group")
    created: datetime = Field(description="time and date the instance group was created")
    account: str = Field(description="the account owning the instance group")
    projectid: str | None = Field(None, description="the project ID of the instance group")
    project: str | None = Field(None, description="the project name of the instance group")
    domainid: str = Field(description="the domain ID of the instance group")
    domain: str = Field(description="the domain name of the instance group")
    domainpath: str | None = Field(None, description="path of the Domain the instance group belongs to")
    hasannotations: bool = Field(False, description="whether the group has annotations")


class UserDataResp(JobResp):
    id: str = Field(description="ID of the ssh keypair")
    name: str = Field(description="Name of the userdata")
    accountid: str = Field(description="the owner id of the userdata")
    account: str = Field(description="the owner of the userdata")
    projectid: str | None = Field(None, description="the project id of the userdata")
    project: str | None = Field(None, description="the project name of the userdata")
    domainid: str = Field(description="the domain id of the userdata owner")
    domain: str = Field(description="the domain name of the userdata owner")
    domainpath: str | None = Field(None, description="path of the domain to which the userdata owner belongs")
    userdata: str = Field(description="base64 encoded userdata content")
    params: str | None = Field(None, description="list of parameters which contains the list of keys or "
                               "variables that are used in userdata")
    hasannotations: bool = Field(False, description="whether the userdata has annotations")


class RegionResp(JobResp):
    id: int = Field(description="the ID of the region")
    name: str = Field(description="the name of the region")
    endpoint: str = Field(description="the end point of the region")
    gslbserviceenabled: bool = Field(description="true if GSLB service is enabled in the region, false otherwise")
    portableipserviceenabled: bool = Field(description="true if security groups support is enabled, false "
                                           "otherwise")


class AlertResp(JobResp):
    id: str = Field(description="the id of the alert")
    type: int = Field(description="One of the following alert types: MEMORY = 0, CPU = 1, STORAGE = 2, "
                      "STORAGE_ALLOCATED = 3, PUBLIC_IP = 4, PRIVATE_IP = 5, SECONDARY_STORAGE = 6, HOST = 7, "
                      "USERVM = 8, DOMAIN_ROUTER = 9, CONSOLE_PROXY = 10, ROUTING = 11: lost connection to "
                      "default route (to the gateway), STORAGE_MISC = 12, USAGE_SERVER = 13, MANAGEMENT_NODE = "
                      "14, DOMAIN_ROUTER_MIGRATE = 15, CONSOLE_PROXY_MIGRATE = 16, USERVM_MIGRATE = 17, "
                      "VLAN = 18, SSVM = 19, USAGE_SERVER_RESULT = 20")
    name: str = Field(description="the name of the alert")
    description: str = Field(description="description of the alert")
    sent: datetime = Field(description="the date and time the alert was sent")


class AlertTypeResp(JobResp):
    alerttypeid: int = Field(description="the id of the alert type")
    name: str = Field(description="description of alert type")


class UsageTypeResp(JobResp):
    id: int = Field(description="usage type")
    name: str = Field(description="usage type name")
    description: str = Field(description="description of usage type")


class UsageRecordResp(JobResp):
    account: str = Field(description="the user account name")
    accountid: str = Field(description="the user account Id")
    projectid: str | None = Field(None, description="the project id of the resource")
    project: str | None = Field(None, description="the project name of the resource")
    domainid: str = Field(description="the domain the resource is associated with")
    domain: str = Field(description="the domain the resource is associated with")
    domainpath: str | None = Field(None, description="path of the domain to which the usage record belongs")
    zoneid: str | None = Field(None, description="the zone ID")
    description: str = Field(description="description of the usage record")
    usage: str = Field(description="usage in hours")
    usagetype: int = Field(description="usage type ID")
    rawusage: str = Field(description="raw usage in hours")
    virtualmachineid: str | None = Field(None, description="virtual machine ID")
    name: str | None = Field(None, description="resource or virtual machine name")
    offeringid: str | None = Field(None, description="offering ID")
    templateid: str | None = Field(None, description="template ID")
    usageid: str | None = Field(None, description="id of the resource")
    type: str | None = Field(None, description="resource type")
    size: int | None = Field(None, description="resource size")
    cpunumber: int | None = Field(None, description="number of cpu of resource")
    cpuspeed: int | None = Field(None, description="speed of each cpu of resource")
    memory: int | None = Field(None, description="memory allocated for the resource")
    startdate: str = Field(description="start date of the usage record")
    enddate: str = Field(description="end date of the usage record")
    issourcenat: bool | None = Field(None, description="True if the IPAddress is source NAT")
    issystem: bool | None = Field(None, description="True if the IPAddress is system IP - allocated during vm "
                                  "deploy or lb rule create")
    networkid: str | None = Field(None, description="id of the network")
    isdefault: bool | None = Field(None, description="True if the resource is default")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated")


class SslCertResp(JobResp):
    id: str = Field(description="SSL certificate ID")
    name: str = Field(description="name")
    certificate: str = Field(description="certificate")
    certchain: str | None = Field(None, description="certificate chain")
    fingerprint: str = Field(description="certificate fingerprint")
    account: str = Field(description="account for the certificate")
    projectid: str | None = Field(None, description="the project id of the certificate")
    project: str | None = Field(None, description="the project name of the certificate")
    domainid: str = Field(description="domain id of the network owner")
    domain: str = Field(description="domain name of the network owner")
    loadbalancerrulelist: list[str] = Field(default_factory=list, description="List of loabalancers this "
                                            "certificate is bound to")


class HypervisorCapabilitiesResp(JobResp):
    id: str = Field(description="the ID of the hypervisor capabilities row")
    hypervisorversion: str = Field(description="the hypervisor version")
    hypervisor: str = Field(description="the hypervisor type")
    maxguestslimit: int = Field(description="the maximum number of guest vms recommended for this hypervisor")
    securitygroupenabled: bool = Field(description="true if security group is supported")
    maxdatavolumeslimit: int = Field(description="the maximum number of Data Volumes that can be attached for this "
                                     "hypervisor")
    maxhostspercluster: int | None = Field(None, description="the maximum number of Hosts per cluster for this "
                                           "hypervisor")
    storagemotionenabled: bool = Field(description="true if storage motion is supported")
    vmsnapshotenabled: bool = Field(description="true if VM snapshots are enabled for this hypervisor")


class GuestOsMappingResp(JobResp):
    id: str = Field(description="the ID of the Guest OS mapping")
    hypervisor: str = Field(description="the hypervisor")
    hypervisorversion: str = Field(description="version of the hypervisor for mapping")
    ostypeid: str = Field(description="the ID of the Guest OS type")
    osdisplayname: str = Field(description="standard display name for the Guest OS")
    osnameforhypervisor: str = Field(description="hypervisor specific name for the Guest OS")
    isuserdefined: str = Field(description="is the mapping user defined")


class HypervisorGuestOsNamesResp(JobResp):
    hypervisor: str = Field(description="the hypervisor")
    hypervisorversion: str = Field(description="version of the hypervisor for guest os names")
    guestoslist: list[dict[str, str]] = Field(default_factory=list, description="the guest OS list of the "
                                              "hypervisor")
    guestoscount: int = Field(description="the guest OS count of the hypervisor")


class ConfigurationGroupResp(JobResp):
    name: str = Field(description="the name of the configuration group")
    description: str | None = Field(None, description="the description of the configuration group")
    precedence: int = Field(description="the precedence of the configuration group")
    subgroup: list[dict[str, Any]] = Field(default_factory=list, description="the subgroups of the configuration "
                                           "group")


class AllowedWithTagsResp(JobResp):
    isallowed: bool = Field(description="is domain admin allowed to create offerings with tags")
