"""Discovery and session commands: listApis, listCapabilities, login, logout."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack import registry
from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import Long, Params, api_command
from management.api.cloudstack.schemas import CapabilityResp, Resp
from management.models.infra import Zone
from management.services.context import CallContext
from management.services.identity import rbac
from management.services.listing import page_size_limit


class ApiParamResp(Resp):
    name: str = Field(description="the api parameter name")
    description: str = Field(description="description of the api parameter")
    type: str = Field(description="parameter type")
    length: int = Field(description="length of the parameter")
    required: bool = Field(description="true if this parameter is required for the api request")
    since: str | None = Field(None, description="version of CloudStack the api was introduced in")
    related: str | None = Field(None, description="comma separated related apis to get the parameter")


class ApiResponseResp(Resp):
    name: str = Field(description="the name of the api response field")
    description: str = Field(description="description of the api response field")
    type: str = Field(description="response field type")


class ApiResp(Resp):
    name: str = Field(description="the name of the api command")
    description: str = Field(description="description of the api")
    since: str | None = Field(None, description="version of CloudStack the api was introduced in")
    isasync: bool = Field(description="true if api is asynchronous")
    related: str | None = Field(None, description="comma separated related apis")
    params: list[ApiParamResp] = Field(description="the list params the api accepts")
    response: list[ApiResponseResp] = Field(description="api response fields")
    type: str | None = Field(None, description="response field type")


class ListApisParams(Params):
    name: str | None = Field(None, description="API name")


@api_command("listApis", params=ListApisParams, result_key="api", response=ApiResp, since="4.1.0",
             description="lists all available apis on the server, provided by the Api Discovery plugin")
def list_apis(ctx: CallContext, p: ListApisParams) -> ListResult:
    specs = sorted(registry.commands().values(), key=lambda s: s.name)
    visible = [s for s in specs if rbac.allowed(ctx.session, ctx.caller, s.name, s.roles)]
    if p.name:
        visible = [s for s in visible if s.name.lower() == p.name.lower()]
    items = [registry.api_description(s) for s in visible]
    return ListResult(items, len(items))


class ListCapabilitiesParams(Params):
    pass


@api_command("listCapabilities", params=ListCapabilitiesParams, result_key="capability", response=CapabilityResp,
             description="Lists capabilities")
def list_capabilities(ctx: CallContext, p: ListCapabilitiesParams) -> CapabilityResp:
    sg = ctx.session.scalar(select(Zone.id).where(Zone.security_groups_enabled.is_(True),
                                                  Zone.removed.is_(None)).limit(1)) is not None
    return CapabilityResp(
        cloudstackversion=registry.VERSION, securitygroupsenabled=sg, userpublictemplateenabled=True,
        supportELB="false", projectinviterequired=False, allowusercreateprojects=True,
        customdiskofferingminsize=1, customdiskofferingmaxsize=1024, regionsecondaryenabled=False,
        kvmsnapshotenabled=True, allowuserviewdestroyedvm=True, allowuserexpungerecovervm=True,
        allowuserviewalldomainaccounts=False, apilimitinterval=1, apilimitmax=25, dynamicrolesenabled=True,
        defaultuipagesize=min(20, page_size_limit(ctx.session)),
    )


class LoginParams(Params):
    username: str = Field(description="Username")
    password: str = Field(description="Hashed password (Default is MD5). If you wish to use any other hashing "
                          "algorithm, you would need to write a custom authentication adapter See Docs section.")
    domain: str | None = Field(None, description="Path of the domain that the user belongs to. Example: "
                               "domain=/com/cloud/internal. If no domain is passed in, the ROOT (/) domain is "
                               "assumed.")
    domainid: Long | None = Field(None, description="The id of the domain that the user belongs to. If both domain "
                                 "and domainId are passed in, \"domainId\" parameter takes precedence.")


class LoginResp(Resp):
    username: str = Field(description="Username")
    userid: str = Field(description="User ID")
    domainid: str = Field(description="Domain ID that the user belongs to")
    timeout: str = Field(description="the time period before the session has expired")
    account: str = Field(description="the account name the user belongs to")
    firstname: str = Field(description="first name of the user")
    lastname: str = Field(description="last name of the user")
    type: str = Field(description="the account type (admin, domain-admin, read-only-admin, user)")
    timezone: str | None = Field(None, description="user time zone")
    registered: str = Field(description="Is user registered")
    sessionkey: str = Field(description="Session key that can be passed in subsequent Query command calls")


@api_command("login", params=LoginParams, response=LoginResp,
             description="Logs a user into the CloudStack. A successful login attempt will generate a JSESSIONID "
             "cookie value that can be passed in subsequent Query command calls until the \"logout\" command has "
             "been issued or the session has expired.")
def login(ctx: CallContext, p: LoginParams) -> None:  # pragma: no cover - the dispatcher answers login itself
    raise AssertionError("login is handled by the dispatcher before authentication")


class LogoutParams(Params):
    pass


class LogoutResp(Resp):
    description: str = Field(description="Response description")


@api_command("logout", params=LogoutParams, response=LogoutResp, description="Logs out the user")
def logout(ctx: CallContext, p: LogoutParams) -> None:  # pragma: no cover - the dispatcher answers logout itself
    raise AssertionError("logout is handled by the dispatcher")
