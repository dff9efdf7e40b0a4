"""Response objects as pydantic models: field names are CloudStack's wire names; listApis reads them too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model


class Resp(BaseModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)  # built at first use (see Params)


class TagResp(Resp):
    key: str = Field(description="tag key name")
    value: str = Field(description="tag value")
    resourcetype: str = Field(description="resource type")
    resourceid: str = Field(description="id of the resource")
    account: str | None = Field(None, description="the account associated with the tag")
    domainid: str | None = Field(None, description="the ID of the domain associated with the tag")
    domain: str | None = Field(None, description="the domain associated with the tag")
    domainpath: str | None = Field(None, description="path of the Domain associated with the tag")
    customer: str | None = Field(None, description="customer associated with the tag")


# (field prefix, resource type) of the <x>limit/<x>total/<x>available fields accounts, domains and projects carry.
LIMIT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("vm", "user_vm"), ("ip", "public_ip"), ("volume", "volume"), ("snapshot", "snapshot"),
    ("template", "template"), ("project", "project"), ("network", "network"), ("vpc", "vpc"), ("cpu", "cpu"),
    ("memory", "memory"), ("primarystorage", "primary_storage"), ("secondarystorage", "secondary_storage"),
    ("backup", "backup"), ("backupstorage", "backup_storage"), ("bucket", "bucket"),
    ("objectstorage", "object_storage"), ("gpu", "gpu"),
)


def limit_fields(skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prefix, rtype in LIMIT_PREFIXES:
        if prefix in skip:
            continue
        total: Any = float if prefix == "secondarystorage" else int
        out[f"{prefix}limit"] = (str | None, Field(None, description=f"the total {rtype} the owner can own"))
        out[f"{prefix}total"] = (total | None, Field(None, description=f"the total {rtype} owned"))
        out[f"{prefix}available"] = (str | None, Field(None, description=f"the {rtype} available to the owner"))
    return out


OwnerLimits = create_model("OwnerLimits", __base__=Resp, **limit_fields())


class DomainResp(OwnerLimits):  # type: ignore[misc,valid-type]
    id: str = Field(description="the ID of the domain")
    name: str = Field(description="the name of the domain")
    level: int = Field(description="the level of the domain")
    parentdomainid: str | None = Field(None, description="the domain ID of the parent domain")
    parentdomainname: str | None = Field(None, description="the domain name of the parent domain")
    haschild: bool = Field(description="whether the domain has one or more sub-domains")
    networkdomain: str | None = Field(None, description="the network domain")
    path: str = Field(description="the path of the domain")
    state: str = Field(description="the state of the domain")
    created: datetime = Field(description="the date when this domain was created")


class UserResp(Resp):
    id: str = Field(description="the user ID")
    username: str = Field(description="the user name")
    firstname: str | None = Field(None, description="the user firstname")
    lastname: str | None = Field(None, description="the user lastname")
    email: str | None = Field(None, description="the user email address")
    created: datetime = Field(description="the date and time the user account was created")
    state: str = Field(description="the user state")
    account: str = Field(description="the account name of the user")
    accountid: str = Field(description="the account ID of the user")
    accounttype: int = Field(description="the account type of the user")
    roleid: str | None = Field(None, description="the ID of the role")
    roletype: str | None = Field(None, description="the type of the role")
    rolename: str | None = Field(None, description="the name of the role")
    domainid: str = Field(description="the domain ID of the user")
    domain: str = Field(description="the domain name of the user")
    timezone: str | None = Field(None, description="the timezone user was created in")
    apikey: str | None = Field(None, description="the api key of the user")
    isdefault: bool = Field(description="true if user is default, false otherwise")
    usersource: str = Field("native", description="the source type of the user")
    iscallerchilddomain: bool | None = Field(None, description="the boolean value representing if the updating "
                                             "target is in caller's child domain")


class AccountResp(OwnerLimits):  # type: ignore[misc,valid-type]
    id: str = Field(description="the id of the account")
    name: str = Field(description="the name of the account")
    accounttype: int = Field(description="account type (admin, domain-admin, user)")
    roleid: str | None = Field(None, description="the ID of the role")
    roletype: str | None = Field(None, description="the type of the role (Admin, ResourceAdmin, DomainAdmin, User)")
    rolename: str | None = Field(None, description="the name of the role")
    domainid: str = Field(description="id of the Domain the account belongs to")
    domain: str = Field(description="name of the Domain the account belongs to")
    domainpath: str = Field(description="path of the Domain the account belongs to")
    defaultzoneid: str | None = Field(None, description="the default zone of the account")
    networkdomain: str | None = Field(None, description="the network domain")
    state: str = Field(description="the state of the account")
    isdefault: bool = Field(description="true if account is default, false otherwise")
    created: datetime = Field(description="the date when this account was created")
    user: list[UserResp] = Field(default_factory=list, description="the list of users associated with account")
    vmrunning: int | None = Field(None, description="the total number of virtual machines running for this account")
    vmstopped: int | None = Field(None, description="the total number of virtual machines stopped for this account")


class RoleResp(Resp):
    id: str = Field(description="the ID of the role")
    name: str = Field(description="the name of the role")
    type: str = Field(description="the type of the role")
    description: str | None = Field(None, description="the description of the role")
    isdefault: bool = Field(description="true if role is default, false otherwise")
    state: str = Field("ENABLED", description="the state of the role")


class RolePermissionResp(Resp):
    id: str = Field(description="the ID of the role permission")
    roleid: str = Field(description="the ID of the role to which the role permission belongs")
    rolename: str = Field(description="the name of the role to which the role permission belongs")
    rule: str = Field(description="the api name or wildcard rule")
    permission: str = Field(description="the permission type of the api name or wildcard rule, allow/deny")
    description: str | None = Field(None, description="the description of the role permission")


class UserKeysResp(Resp):
    apikey: str | None = Field(None, description="the api key of the registered user")
    secretkey: str | None = Field(None, description="the secret key of the registered user")


class EventResp(Resp):
    id: str = Field(description="the ID of the event")
    type: str = Field(description="the type of the event (see event types)")
    level: str = Field(description="the event level (INFO, WARN, ERROR)")
    state: str = Field(description="the state of the event")
    description: str = Field(description="a brief description of the event")
    username: str = Field(description="the name of the user who performed the action")
    account: str = Field(description="the account name for the account that owns the object being acted on")
    domainid: str = Field(description="the id of the account's domain")
    domain: str = Field(description="the name of the account's domain")
    resourcetype: str | None = Field(None, description="the type of the resource")
    resourceid: str | None = Field(None, description="the id of the resource")
    parentid: str | None = Field(None, description="whether the event is parented")
    created: datetime = Field(description="the date the event was created")
    archived: bool = Field(False, description="whether the event has been archived or not")


class AsyncJobResp(Resp):
    jobid: str = Field(description="the ID of the async job")
    accountid: str = Field(description="the account id that executed the async command")
    userid: str = Field(description="the user that executed the async command")
    cmd: str = Field(description="the async command executed")
    jobstatus: int = Field(description="the current job status-should be 0 for PENDING")
    jobprocstatus: int = Field(description="the progress information of the PENDING job")
    jobresultcode: int = Field(description="the result code for the job")
    jobresulttype: str = Field(description="the result type")
    jobresult: dict | None = Field(None, description="the result reason")
    jobinstancetype: str | None = Field(None, description="the instance/entity object related to the job")
    jobinstanceid: str | None = Field(None, description="the unique ID of the instance/entity object related to "
                                      "the job")
    created: datetime = Field(description="the created date of the job")
    completed: datetime | None = Field(None, description="the completed date of the job")
    managementserverid: str | None = Field(None, description="the msid of the management server that ran the job")


class CapabilityResp(Resp):
    cloudstackversion: str = Field(description="version of the cloud stack")
    securitygroupsenabled: bool = Field(description="true if security groups support is enabled")
    userpublictemplateenabled: bool = Field(description="true if user and domain admins can set templates to be "
                                            "shared, false otherwise")
    supportELB: str = Field(description="true if region supports elastic load balancer on basic zones")
    projectinviterequired: bool = Field(description="If invitation confirmation is required when add account to "
                                        "project")
    allowusercreateprojects: bool = Field(description="true if regular user is allowed to create projects")
    customdiskofferingminsize: int = Field(description="minimum size that can be specified when create disk "
                                           "offering with custom size")
    customdiskofferingmaxsize: int = Field(description="maximum size that can be specified when create disk "
                                           "offering with custom size")
    regionsecondaryenabled: bool = Field(description="true if region wide secondary is enabled, false otherwise")
    kvmsnapshotenabled: bool = Field(description="true if snapshot is supported for KVM host, false otherwise")
    allowuserviewdestroyedvm: bool = Field(description="true if the user is allowed to view destroyed virtualmachines")
    allowuserexpungerecovervm: bool = Field(description="true if the user can recover and expunge "
                                            "virtualmachines")
    allowuserviewalldomainaccounts: bool = Field(description="true if users can see all accounts within the same "
                                                 "domain")
    apilimitinterval: int = Field(description="time interval (in seconds) to reset api count")
    apilimitmax: int = Field(description="Max allowed number of api requests within the specified interval")
    dynamicrolesenabled: bool = Field(description="true if dynamic role-based api checker is enabled")
    defaultuipagesize: int = Field(description="default page size in the UI")


class ZoneResp(Resp):
    id: str = Field(description="Zone id")
    name: str = Field(description="Zone name")
    description: str | None = Field(None, description="Zone description")
    networktype: str = Field(description="the network type of the zone; can be Basic or Advanced")
    dns1: str | None = Field(None, description="the first DNS for the Zone")
    dns2: str | None = Field(None, description="the second DNS for the Zone")
    internaldns1: str | None = Field(None, description="the first internal DNS for the Zone")
    internaldns2: str | None = Field(None, description="the second internal DNS for the Zone")
    guestcidraddress: str | None = Field(None, description="the guest CIDR address for the Zone")
    domain: str | None = Field(None, description="Network domain name for the networks in the zone")
    securitygroupsenabled: bool = Field(description="true if security groups support is enabled, false otherwise")
    localstorageenabled: bool = Field(description="true if local storage offering enabled, false otherwise")
    allocationstate: str = Field(description="the allocation state of the cluster")
    zonetoken: str | None = Field(None, description="Zone Token")
    dhcpprovider: str | None = Field(None, description="the dhcp Provider for the Zone")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated with zone.")
    created: datetime | None = Field(None, description="the date this zone was created")
