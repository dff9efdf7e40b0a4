"""Response objects of autoscaling: counters, conditions, policies, VM profiles and VM groups."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp


class OwnerFields(Resp):
    account: str | None = Field(None, description="the owner's account")
    projectid: str | None = Field(None, description="the owner's project")
    project: str | None = Field(None, description="name of the owner's project")
    domainid: str | None = Field(None, description="the owner's domain")
    domain: str | None = Field(None, description="name of the owner's domain")
    domainpath: str | None = Field(None, description="path of the owner's domain")


class CounterResp(Resp):
    id: str = Field(description="ID of the counter")
    name: str = Field(description="name of the counter")
    source: str = Field(description="what measures it: CPU, MEMORY, VIRTUALROUTER, NETSCALER or SNMP")
    value: str = Field(description="the measured value")
    zoneid: str | None = Field(None, description="zone of the counter (none: every zone)")
    provider: str = Field(description="the network provider the counter is for")


class ConditionResp(OwnerFields):
    id: str = Field(description="ID of the condition")
    threshold: int = Field(description="threshold the counter is compared with")
    relationaloperator: str = Field(description="GT, GE, LT, LE or EQ")
    counterid: str | None = Field(None, description="ID of the counter")
    countername: str | None = Field(None, description="name of the counter")
    counter: CounterResp | None = Field(None, description="the counter")
    zoneid: str | None = Field(None, description="zone of the condition")


class AutoScalePolicyResp(OwnerFields):
    id: str = Field(description="ID of the policy")
    name: str | None = Field(None, description="name of the policy")
    action: str = Field(description="ScaleUp or ScaleDown")
    duration: int = Field(description="seconds all conditions must hold before the action")
    quiettime: int = Field(description="seconds the policy rests after an action")
    conditions: list[ConditionResp] = Field(default_factory=list, description="the conditions")


class AutoScaleVmProfileResp(OwnerFields):
    id: str = Field(description="ID of the VM profile")
    zoneid: str | None = Field(None, description="zone new members are deployed in")
    serviceofferingid: str | None = Field(None, description="service offering of new members")
    templateid: str | None = Field(None, description="template of new members")
    otherdeployparams: dict[str, str] | None = Field(None, description="further deployVirtualMachine parameters")
    expungevmgraceperiod: int | None = Field(None, description="seconds a member leaving the group keeps serving")
    counterparam: dict[str, str] | None = Field(None, description="parameters of the counters (SNMP)")
    userdata: str | None = Field(None, description="user data of new members, base64")
    userdataid: str | None = Field(None, description="registered user data of new members")
    userdataname: str | None = Field(None, description="name of that user data")
    userdatapolicy: str | None = Field(None, description="how the user data is combined with the template's")
    userdatadetails: str | None = Field(None, description="variables of the user data")
    autoscaleuserid: str | None = Field(None, description="the user new members are deployed as")
    fordisplay: bool = Field(True, description="whether the profile is shown to the end user")


class AutoScaleVmGroupResp(OwnerFields):
    id: str = Field(description="ID of the VM group")
    name: str | None = Field(None, description="name of the VM group")
    lbruleid: str | None = Field(None, description="the load balancer rule the group serves")
    associatednetworkname: str | None = Field(None, description="name of the rule's network")
    associatednetworkid: str | None = Field(None, description="ID of the rule's network")
    lbprovider: str | None = Field(None, description="provider of the load balancer")
    publicipid: str | None = Field(None, description="ID of the rule's public IP")
    publicip: str | None = Field(None, description="the rule's public IP")
    publicport: str | None = Field(None, description="the rule's public port")
    privateport: str | None = Field(None, description="the members' port")
    vmprofileid: str | None = Field(None, description="the VM profile new members are deployed from")
    minmembers: int = Field(description="the fewest members the group keeps")
    maxmembers: int = Field(description="the most members the group grows to")
    availablevirtualmachinecount: int = Field(0, description="members the group has now")
    interval: int = Field(description="seconds between two evaluations of the policies")
    state: str = Field(description="new, enabled, disabled, scaling or revoke")
    scaleuppolicies: list[AutoScalePolicyResp] = Field(default_factory=list, description="scale-up policies")
    scaledownpolicies: list[AutoScalePolicyResp] = Field(default_factory=list, description="scale-down policies")
    fordisplay: bool = Field(True, description="whether the group is shown to the end user")
    created: datetime | None = Field(None, description="when the group was created")
    hasannotations: bool | None = Field(None, description="whether the group has comments")
