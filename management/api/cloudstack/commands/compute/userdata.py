"""Registered user data: registerUserData, listUserData, deleteUserData, linkUserDataToTemplate,
resetUserDataForVirtualMachine (deployVirtualMachine takes userdataid and userdatadetails)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    MapParam,
    OwnedListParams,
    ParamInfo,
    Params,
    Ref,
    Uuid,
    api_command,
    map_pairs,
)
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.api.cloudstack.schemas_templates import TemplateResp
from management.api.cloudstack.schemas_tenancy import UserDataResp
from management.db.base import utcnow
from management.errors import InvalidStateTransition, ParamError, ResourceInUse
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.storage import Template
from management.models.userdata import UserData
from management.services import access
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("UserData", UserData, "owned")
POLICIES = ("ALLOWOVERRIDE", "APPEND", "DENYOVERRIDE")


def userdata_resp(ctx: CallContext, u: UserData) -> UserDataResp:
    a = ctx.session.get_one(Account, u.account_id)
    d = ctx.session.get_one(Domain, u.domain_id)
    return UserDataResp(id=u.uuid, name=u.name, accountid=a.uuid, account=a.name, domainid=d.uuid, domain=d.name,
                        domainpath=d.display_path, userdata=u.user_data, params=u.params)


def resolve_for_vm(ctx: CallContext, userdata: str | None, userdataid: str | None,
                   details: list[dict[str, str]] | None, template: Template | None) -> tuple[str | None, int | None,
                                                                                               str | None]:
    """(user data text, registered user data id, details json) for a deploy or reset, following the template's
    link and override policy."""
    if userdata and userdataid:
        raise ParamError("Both userdata and userdata ID inputs are not allowed, please provide only one")
    linked = ctx.session.get(UserData, template.user_data_id) if template and template.user_data_id else None
    chosen: UserData | None = access.resolve(ctx.session, ctx.caller, "UserData", userdataid, "read") \
        if userdataid else None
    if linked is not None:
        policy = (template.user_data_policy or "ALLOWOVERRIDE").upper()  # type: ignore[union-attr]
        if policy == "DENYOVERRIDE" and (userdata or chosen):
            raise ParamError("User data is not allowed to be overridden as the template's user data policy is "
                             "DENYOVERRIDE")
        if policy == "APPEND" and (userdata or chosen):
            import base64

            extra = userdata if userdata else chosen.user_data  # type: ignore[union-attr]
            both = base64.b64decode(linked.user_data) + b"\n" + base64.b64decode(extra)
            return base64.b64encode(both).decode(), linked.id, json.dumps(map_pairs(details)) or None
        if not (userdata or chosen):
            chosen = linked
    if chosen is not None:
        wanted = [x for x in (chosen.params or "").split(",") if x]
        given = map_pairs(details)
        missing = [x for x in wanted if x not in given]
        if missing:
            raise ParamError(f"Userdata parameters {', '.join(missing)} are not provided in the userdata details")
        return chosen.user_data, chosen.id, json.dumps(given) if given else None
    return vm_service.validate_userdata(userdata), None, None


class RegisterUserDataParams(Params):
    name: str = Field(description="Name of the user data")
    userdata: Annotated[str, ParamInfo(length=1048576)] = Field(
        description="Base64 encoded userdata content. Using HTTP GET (via querystring), you can send up to 4KB of data "
        "after base64 encoding. Using HTTP POST (via POST body), you can send up to 1MB of data after base64 "
        "encoding. You also need to change vm.userdata.max.length value")
    account: str | None = Field(None, description="an optional account for the user data. Must be used with "
                                "domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "user data. If the account parameter is used, "
                                                                   "domainId must also be used.")
    projectid: Uuid | None = Field(None, description="an optional project for the user data")
    params: str | None = Field(None, description="comma separated list of variables declared in user data content")


@api_command("registerUserData", params=RegisterUserDataParams, result_key="userdata", response=UserDataResp,
             event="REGISTER.USER.DATA", entity="UserData", since="4.18",
             description="Register a new userdata.")
def register_user_data(ctx: CallContext, p: RegisterUserDataParams) -> UserDataResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    vm_service.validate_userdata(p.userdata)
    if ctx.session.scalar(select(UserData.id).where(UserData.account_id == owner.id, UserData.removed.is_(None),
                                                    func.lower(UserData.name) == p.name.lower())) is not None:
        raise ParamError(f"A userdata with name '{p.name}' already exists for this account.")
    u = UserData(name=p.name, account_id=owner.id, domain_id=owner.domain_id, user_data=p.userdata,
                 params=",".join(x.strip() for x in p.params.split(",") if x.strip()) if p.params else None)
    ctx.session.add(u)
    ctx.session.flush()
    return userdata_resp(ctx, u)


class ListUserDataParams(OwnedListParams):
    id: Annotated[str | None, Ref("UserData", "read")] = Field(None, description="the ID of the Userdata")
    name: str | None = Field(None, description="Userdata name to look for")


@api_command("listUserData", params=ListUserDataParams, result_key="userdata", response=UserDataResp,
             since="4.18", description="List registered userdatas")
def list_user_data(ctx: CallContext, p: ListUserDataParams) -> ListResult:
    stmt = select(UserData).where(UserData.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, UserData, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall or bool(p.id))
    if p.id:
        stmt = stmt.where(UserData.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(UserData.name, p.name))
    stmt = keyword_filter(stmt, p.keyword, UserData.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, UserData.id)
    return ListResult([userdata_resp(ctx, u) for u in rows], count)


class DeleteUserDataParams(Params):
    id: Annotated[str, Ref("UserData")] = Field(description="the ID of the Userdata")
    account: str | None = Field(None, description="an optional account for the userdata. Must be used with "
                                "domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "userdata. If the account parameter is used, "
                                                                   "domainId must also be used.")
    projectid: Uuid | None = Field(None, description="an optional project for the userdata")


@api_command("deleteUserData", params=DeleteUserDataParams, event="DELETE.USER.DATA", entity="UserData",
             since="4.18", description="Deletes a userdata")
def delete_user_data(ctx: CallContext, p: DeleteUserDataParams) -> Success:
    u: UserData = ctx.refs["id"]
    s = ctx.session
    if s.scalar(select(Template.id).where(Template.user_data_id == u.id, Template.removed.is_(None)).limit(1)):
        raise ResourceInUse("Userdata is linked to one or more templates/ISOs; unlink it first", uuids=[u.uuid])
    if s.scalar(select(VirtualMachine.id).where(VirtualMachine.user_data_id == u.id,
                                                VirtualMachine.removed.is_(None)).limit(1)):
        raise ResourceInUse("Userdata is in use by one or more VMs", uuids=[u.uuid])
    u.removed, u.removed_marker = utcnow(), u.id
    return Success()


class LinkUserDataParams(Params):
    templateid: Annotated[str | None, Ref("Template")] = Field(None, description="the ID of the template for the "
                                                               "virtual machine")
    isoid: Annotated[str | None, Ref("Iso")] = Field(None, description="the ID of the ISO for the virtual machine")
    userdataid: Annotated[str | None, Ref("UserData", "read")] = Field(None, description="the ID of the userdata "
                                                                       "that has to be linked to template/ISO. If "
                                                                       "not provided existing userdata will be "
                                                                       "unlinked from the template/ISO")
    userdatapolicy: str | None = Field(None, description="an optional override policy of the userdata. Possible "
                                       "values are - ALLOWOVERRIDE, APPEND, DENYOVERRIDE. Default policy is "
                                       "allowoverride")


@api_command("linkUserDataToTemplate", params=LinkUserDataParams, result_key="template", response=TemplateResp,
             event="TEMPLATE.USERDATA.LINK", entity="Template", since="4.18.0",
             description="Link or unlink a userdata to a template.")
def link_user_data(ctx: CallContext, p: LinkUserDataParams) -> Any:
    from management.api.cloudstack.commands.storage.templates import rows_for

    if (p.templateid is None) == (p.isoid is None):
        raise ParamError("Either ISO or template ID needs to be specified")
    tmpl: Template = ctx.refs.get("templateid") or ctx.refs["isoid"]
    policy = (p.userdatapolicy or "ALLOWOVERRIDE").upper()
    if policy not in POLICIES:
        raise ParamError(f"Invalid userdata policy {p.userdatapolicy}; valid: {', '.join(POLICIES)}")
    u: UserData | None = ctx.refs.get("userdataid")
    tmpl.user_data_id = u.id if u is not None else None
    tmpl.user_data_policy = policy if u is not None else None
    ctx.session.flush()
    return rows_for(ctx, tmpl)[0]


class ResetUserDataParams(Params):
    id: Annotated[str, Ref("VirtualMachine")] = Field(description="The ID of the virtual machine")
    userdata: Annotated[str | None, ParamInfo(length=1048576)] = Field(
        None, description="an optional binary data that can be sent to the virtual machine upon a successful "
        "deployment. This binary data must be base64 encoded before adding it to the request.")
    userdataid: Uuid | None = Field(None, description="the ID of the userdata")
    userdatadetails: MapParam | None = Field(None, description="used to specify the parameters values for the "
                                             "variables in userdata.")
    account: str | None = Field(None, description="an optional account for the virtual machine. Must be used with "
                                "domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "virtual machine. If the account parameter is "
                                                                   "used, domainId must also be used.")
    projectid: Uuid | None = Field(None, description="an optional project for the virtual machine")


@api_command("resetUserDataForVirtualMachine", params=ResetUserDataParams, result_key="virtualmachine",
             response=VirtualMachineResp, event="VM.RESETUSERDATA", entity="VirtualMachine",
             description="Resets the UserData for virtual machine. The virtual machine must be in a \"Stopped\" "
             "state.")
def reset_user_data(ctx: CallContext, p: ResetUserDataParams) -> VirtualMachineResp:
    from management.api.cloudstack.commands.compute.vm import vm_response

    vm: VirtualMachine = ctx.refs["id"]
    if vm.state != "Stopped":
        raise InvalidStateTransition(f"VM {vm.uuid} should be stopped to do UserData reset")
    tmpl = ctx.session.get(Template, vm.template_id) if vm.template_id else None
    vm.user_data, vm.user_data_id, vm.user_data_details = resolve_for_vm(ctx, p.userdata, p.userdataid,
                                                                        p.userdatadetails, tmpl)
    return vm_response(ctx, vm)
