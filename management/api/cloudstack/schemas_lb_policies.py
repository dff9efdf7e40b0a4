"""Response objects of load-balancer stickiness and health-check policies."""

from __future__ import annotations

from pydantic import Field

from management.api.cloudstack.schemas import Resp


class StickinessPolicyResp(Resp):
    id: str = Field(description="ID of the stickiness policy")
    name: str = Field(description="name of the policy")
    methodname: str = Field(description="stickiness method: LbCookie, AppCookie or SourceBased")
    description: str | None = Field(None, description="free text describing the policy")
    state: str = Field(description="Active, or Revoked while being replaced")
    fordisplay: bool = Field(True, description="whether the policy is shown to the end user")
    params: dict[str, str] = Field(default_factory=dict, description="method parameters as name/value pairs")


class LbStickinessResp(Resp):
    lbruleid: str = Field(description="ID of the load balancer rule")
    name: str | None = Field(None, description="name of the rule's policy")
    description: str | None = Field(None, description="description of the rule's policy")
    account: str | None = Field(None, description="account owning the load balancer rule")
    domainid: str | None = Field(None, description="ID of the domain owning the load balancer rule")
    domain: str | None = Field(None, description="name of the domain owning the load balancer rule")
    state: str | None = Field(None, description="state of the load balancer rule")
    zoneid: str | None = Field(None, description="ID of the zone of the load balancer rule")
    stickinesspolicy: list[StickinessPolicyResp] = Field(default_factory=list,
                                                         description="the rule's stickiness policies")


class HealthCheckPolicyResp(Resp):
    id: str = Field(description="ID of the health-check policy")
    pingpath: str = Field(description="HTTP path the router requests from every member")
    description: str | None = Field(None, description="free text describing the policy")
    state: str = Field(description="Active, or Revoked while being removed")
    responsetime: int = Field(description="seconds a check may take")
    healthcheckinterval: int = Field(description="seconds between two checks of a member")
    healthcheckthresshold: int = Field(description="consecutive passed checks that bring a member back")
    unhealthcheckthresshold: int = Field(description="consecutive failed checks that take a member out")
    fordisplay: bool = Field(True, description="whether the policy is shown to the end user")


class LbHealthCheckResp(Resp):
    lbruleid: str = Field(description="ID of the load balancer rule")
    account: str | None = Field(None, description="account owning the load balancer rule")
    domainid: str | None = Field(None, description="ID of the domain owning the load balancer rule")
    domain: str | None = Field(None, description="name of the domain owning the load balancer rule")
    zoneid: str | None = Field(None, description="ID of the zone of the load balancer rule")
    healthcheckpolicy: list[HealthCheckPolicyResp] = Field(default_factory=list,
                                                           description="the rule's health-check policies")
