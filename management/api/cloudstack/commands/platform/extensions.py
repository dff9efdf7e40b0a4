"""Extensions and custom actions (framework/extensions): createExtension, listExtensions, updateExtension,
deleteExtension, registerExtension, unregisterExtension, addCustomAction, listCustomActions, updateCustomAction,
deleteCustomAction, runCustomAction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, MapParam, Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.infra import Cluster
from management.models.platform import Extension, ExtensionCustomAction, ExtensionResourceMap
from management.services import access, extensions
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate

access.register_entity("Extension", Extension, "public")
access.register_entity("ExtensionCustomAction", ExtensionCustomAction, "public")


class ExtensionResourceResp(JobResp):
    id: str = Field(description="ID of the resource associated with the extension")
    name: str | None = Field(None, description="Name of the resource associated with this mapping")
    type: str = Field(description="Type of the resource")
    created: datetime | None = Field(None, description="Creation timestamp of the mapping")
    details: dict[str, str] | None = Field(None, description="the details of the resource map")


class ExtensionResp(JobResp):
    id: str = Field(description="ID of the extension")
    name: str = Field(description="Name of the extension")
    description: str | None = Field(None, description="Description of the extension")
    type: str = Field(description="Type of the extension")
    path: str | None = Field(None, description="The path of the entry point fo the extension")
    pathready: bool | None = Field(None, description="True if the extension path is in ready state across "
                                   "management servers")
    isuserdefined: bool | None = Field(None, description="True if the extension is added by admin")
    orchestratorrequirespreparevm: bool | None = Field(None, description="Only honored when type is Orchestrator. "
                                                       "Whether prepare VM is needed or not")
    state: str | None = Field(None, description="The state of the extension")
    details: dict[str, str] | None = Field(None, description="The details of the extension")
    resources: list[ExtensionResourceResp] | None = Field(None, description="List of resources to which extension "
                                                          "is registered to")
    created: datetime | None = Field(None, description="Creation timestamp of the extension")
    removed: datetime | None = Field(None, description="Removal timestamp of the extension, if applicable")


def _ext_resp(ctx: CallContext, ext: Extension) -> ExtensionResp:
    maps = list(ctx.session.execute(select(ExtensionResourceMap, Cluster).join(
        Cluster, Cluster.id == ExtensionResourceMap.resource_id).where(ExtensionResourceMap.extension_id == ext.id)))
    return ExtensionResp(
        id=ext.uuid, name=ext.name, description=ext.description, type=ext.type,
        path=str(extensions.absolute(ctx.runtime, ext)), pathready=extensions.ready(ctx.runtime, ext),
        isuserdefined=ext.is_user_defined, orchestratorrequirespreparevm=ext.orchestrator_requires_prepare_vm,
        state=ext.state, details=extensions.details(ext) or None, created=ext.created, removed=ext.removed,
        resources=[ExtensionResourceResp(id=c.uuid, name=c.name, type=m.resource_type, created=m.created,
                                         details=extensions.details(m) or None) for m, c in maps])


class CreateExtensionParams(Params):
    name: str = Field(description="Name of the extension")
    description: str | None = Field(None, description="Description of the extension")
    type: str = Field(description="Type of the extension")
    path: str | None = Field(None, description="Relative path for the extension")
    orchestratorrequirespreparevm: bool | None = Field(None, description="Only honored when type is Orchestrator. "
                                                       "Whether prepare VM is needed or not")
    state: str | None = Field(None, description="State of the extension")
    details: MapParam | None = Field(None, description="Details in key/value pairs using format "
                                     "details[i].keyname=keyvalue. Example: details[0].endpoint.url=urlvalue")


@api_command("createExtension", params=CreateExtensionParams, result_key="extension", response=ExtensionResp,
             roles=ADMIN, entity="Extension", event="EXTENSION.CREATE", since="4.21.0",
             description="Create an extension")
def create_extension(ctx: CallContext, p: CreateExtensionParams) -> ExtensionResp:
    ext = extensions.create(ctx.session, ctx.runtime, name=p.name, description=p.description, type_=p.type,
                            path=p.path, prepare_vm=p.orchestratorrequirespreparevm, state=p.state,
                            details_map=extensions.as_details(p.details))
    return _ext_resp(ctx, ext)


class ListExtensionsParams(ListParams):
    name: str | None = Field(None, description="Name of the extension")
    id: Annotated[str | None, Ref("Extension", "read")] = Field(None, description="uuid of the extension")
    details: list[str] | None = Field(None, description="comma separated list of extension details requested, "
                                      "value can be a list of [all, resources, external, min]. When no parameters "
                                      "are passed, all the details are returned.")


@api_command("listExtensions", params=ListExtensionsParams, result_key="extension", response=ExtensionResp,
             roles=ADMIN, since="4.21.0", description="Lists extensions")
def list_extensions(ctx: CallContext, p: ListExtensionsParams) -> ListResult:
    stmt = select(Extension).where(Extension.removed.is_(None))
    if p.id:
        stmt = stmt.where(Extension.uuid == p.id)
    if p.name:
        stmt = stmt.where(Extension.name == p.name)
    stmt = keyword_filter(stmt, p.keyword, Extension.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Extension.id.desc())
    return ListResult([_ext_resp(ctx, e) for e in rows], count)


class UpdateExtensionParams(Params):
    id: Annotated[str, Ref("Extension")] = Field(description="The ID of the extension")
    description: str | None = Field(None, description="Description of the extension")
    orchestratorrequirespreparevm: bool | None = Field(None, description="Only honored when type is Orchestrator. "
                                                       "Whether prepare VM is needed or not")
    state: str | None = Field(None, description="State of the extension")
    details: MapParam | None = Field(None, description="Details in key/value pairs using format "
                                     "details[i].keyname=keyvalue")
    cleanupdetails: bool | None = Field(None, description="Optional boolean field, which indicates if details "
                                        "should be cleaned up or not (If set to true, details removed for this "
                                        "resource, details field ignored; if false or not set, no action)")


@api_command("updateExtension", params=UpdateExtensionParams, result_key="extension", response=ExtensionResp,
             roles=ADMIN, entity="Extension", event="EXTENSION.UPDATE", since="4.21.0",
             description="Update the extension")
def update_extension(ctx: CallContext, p: UpdateExtensionParams) -> ExtensionResp:
    ext = extensions.update(ctx.session, ctx.runtime, ctx.refs["id"], description=p.description,
                            prepare_vm=p.orchestratorrequirespreparevm, state=p.state,
                            details_map=extensions.as_details(p.details), cleanup_details=p.cleanupdetails)
    return _ext_resp(ctx, ext)


class DeleteExtensionParams(Params):
    id: Annotated[str | None, Ref("Extension")] = Field(None, description="ID of the extension")
    cleanup: bool = Field(False, description="Whether cleanup entry-point files for the extension")


# CloudStack declares ExtensionResponse for deleteExtension (listApis shows its fields) and answers success.
@api_command("deleteExtension", params=DeleteExtensionParams, response=ExtensionResp, roles=ADMIN,
             entity="Extension", event="EXTENSION.DELETE", since="4.21.0", description="Delete the extensions")
def delete_extension(ctx: CallContext, p: DeleteExtensionParams) -> Success:
    ext = ctx.refs.get("id")
    if ext is None:
        raise ParamError("Unable to find the extension with the specified id")
    extensions.delete(ctx.session, ctx.runtime, ext, p.cleanup)
    return Success()


class RegisterExtensionParams(Params):
    extensionid: Annotated[str, Ref("Extension")] = Field(description="ID of the extension")
    resourceid: str = Field(description="ID of the resource to register the extension with")
    resourcetype: str = Field(description="Type of the resource")
    details: MapParam | None = Field(None, description="Details in key/value pairs using format "
                                     "details[i].keyname=keyvalue")


def _cluster(ctx: CallContext, uuid: str) -> Cluster:
    cluster = ctx.session.scalar(select(Cluster).where(Cluster.uuid == uuid, Cluster.removed.is_(None)))
    if cluster is None:
        raise ParamError("Invalid cluster ID specified")
    return cluster


@api_command("registerExtension", params=RegisterExtensionParams, result_key="extension", response=ExtensionResp,
             roles=ADMIN, entity="Extension", event="EXTENSION.RESOURCE.REGISTER", since="4.21.0",
             description="Register an extension with a resource")
def register_extension(ctx: CallContext, p: RegisterExtensionParams) -> ExtensionResp:
    ext = ctx.refs["extensionid"]
    extensions.check_map_type(p.resourcetype, "register")
    extensions.register(ctx.session, ext, _cluster(ctx, p.resourceid), p.resourcetype,
                        extensions.as_details(p.details))
    return _ext_resp(ctx, ext)


class UnregisterExtensionParams(Params):
    extensionid: Annotated[str, Ref("Extension")] = Field(description="ID of the extension")
    resourceid: str = Field(description="ID of the resource to register the extension with")
    resourcetype: str = Field(description="Type of the resource")


@api_command("unregisterExtension", params=UnregisterExtensionParams, result_key="extension",
             response=ExtensionResp, roles=ADMIN, entity="Extension", event="EXTENSION.RESOURCE.UNREGISTER",
             since="4.21.0", description="Unregister an extension with a resource")
def unregister_extension(ctx: CallContext, p: UnregisterExtensionParams) -> ExtensionResp:
    ext = ctx.refs["extensionid"]
    extensions.check_map_type(p.resourcetype, "unregister")
    extensions.unregister(ctx.session, ext, _cluster(ctx, p.resourceid), p.resourcetype)
    return _ext_resp(ctx, ext)


# ---- custom actions ------------------------------------------------------------------------------------------


class ActionParameterResp(JobResp):
    name: str = Field(description="Name of the parameter")
    type: str = Field(description="Type of the parameter")
    validationformat: str | None = Field(None, description="Validation format for value of the parameter. "
                                         "Available for specific types")
    valueoptions: list[str] | None = Field(None, description="Comma-separated list of options for value of the "
                                           "parameter")
    required: bool | None = Field(None, description="Whether the parameter is required or not")


class CustomActionResp(JobResp):
    id: str = Field(description="ID of the custom action")
    name: str = Field(description="Name of the custom action")
    description: str | None = Field(None, description="Description of the custom action")
    extensionid: str = Field(description="ID of the extension that this custom action belongs to")
    extensionname: str = Field(description="Name of the extension that this custom action belongs to")
    resourcetype: str | None = Field(None, description="Resource type for which the action is available")
    allowedroletypes: list[str] | None = Field(None, description="List of role types allowed for the custom "
                                               "action")
    successmessage: str | None = Field(None, description="Message that will be used on successful execution of "
                                       "the action")
    errormessage: str | None = Field(None, description="Message that will be used on failure during execution of "
                                     "the action")
    timeout: int | None = Field(None, description="Specifies the timeout in seconds to wait for the action to "
                                "complete before failing")
    enabled: bool | None = Field(None, description="Whether the custom action is enabled or not")
    details: dict[str, str] | None = Field(None, description="Details of the custom action")
    parameters: list[ActionParameterResp] | None = Field(None, description="List of the parameters for the "
                                                         "action")
    created: datetime | None = Field(None, description="Creation timestamp of the custom action")


def _action_resp(ctx: CallContext, a: ExtensionCustomAction) -> CustomActionResp:
    ext = ctx.session.get_one(Extension, a.extension_id)
    params = json.loads(a.parameters_json or "[]")
    return CustomActionResp(
        id=a.uuid, name=a.name, description=a.description, extensionid=ext.uuid, extensionname=ext.name,
        resourcetype=a.resource_type, allowedroletypes=extensions.role_names(a.allowed_role_types),
        successmessage=a.success_message, errormessage=a.error_message, timeout=a.timeout, enabled=a.enabled,
        details=extensions.details(a) or None, created=a.created,
        parameters=[ActionParameterResp(**x) for x in params] or None)


class AddCustomActionParams(Params):
    extensionid: Annotated[str, Ref("Extension")] = Field(description="The ID of the extension to associate the "
                                                          "action with")
    name: str = Field(description="Name of the action")
    description: str | None = Field(None, description="Description of the action")
    resourcetype: str | None = Field(None, description="Resource type for which the action is available")
    allowedroletypes: list[str] | None = Field(None, description="List of role types allowed for the action")
    parameters: MapParam | None = Field(None, description="Parameters mapping for the action using keys - name, "
                                        "type, required. 'name' is mandatory. If 'type' is not specified then STRING "
                                        "will be used. If 'required' is not specified then false will be used. "
                                        "Example: parameters[0].name=xxx&parameters[0].type=BOOLEAN&"
                                        "parameters[0].required=true")
    successmessage: str | None = Field(None, description="Success message that will be used on successful "
                                       "execution of the action. Name of the action, extension, resource can be "
                                       "used as variables. Example: Successfully complete {{actionName}} for "
                                       "{{resourceName}} with {{extensionName}}")
    errormessage: str | None = Field(None, description="Error message that will be used on failure during "
                                     "execution of the action.")
    timeout: int | None = Field(None, description="Specifies the timeout in seconds to wait for the action to "
                                "complete before failing. Default value is 5 seconds")
    enabled: bool | None = Field(None, description="Whether the action is enabled or not. Default is disabled.")
    details: MapParam | None = Field(None, description="Details in key/value pairs using format "
                                     "details[i].keyname=keyvalue")


@api_command("addCustomAction", params=AddCustomActionParams, result_key="extensioncustomaction",
             response=CustomActionResp, roles=ADMIN, entity="ExtensionCustomAction",
             event="EXTENSION.CUSTOM.ACTION.ADD", since="4.21.0", description="Add a custom action for an extension")
def add_custom_action(ctx: CallContext, p: AddCustomActionParams) -> CustomActionResp:
    ext: Extension = ctx.refs["extensionid"]
    if ctx.session.scalar(select(ExtensionCustomAction.id).where(ExtensionCustomAction.extension_id == ext.id,
                                                                 ExtensionCustomAction.name == p.name,
                                                                 ExtensionCustomAction.removed.is_(None))):
        raise InternalError("Action by name already exists")
    action = ExtensionCustomAction(
        extension_id=ext.id, name=p.name, description=p.description,
        resource_type=extensions.check_resource_type(p.resourcetype) or "VirtualMachine",
        allowed_role_types=extensions.role_mask(p.allowedroletypes), success_message=p.successmessage,
        error_message=p.errormessage, timeout=p.timeout or 5, enabled=bool(p.enabled),
        parameters_json=json.dumps(extensions.action_parameters(p.parameters)) if p.parameters else None,
        details_json=json.dumps(extensions.as_details(p.details)) if p.details else None)
    ctx.session.add(action)
    ctx.session.flush()
    return _action_resp(ctx, action)


class ListCustomActionsParams(ListParams):
    id: Annotated[str | None, Ref("ExtensionCustomAction", "read")] = Field(None, description="uuid of the custom "
                                                                            "action")
    name: str | None = Field(None, description="Name of the custom action")
    extensionid: Annotated[str | None, Ref("Extension", "read")] = Field(None, description="uuid of the extension")
    resourcetype: str | None = Field(None, description="Type of the resource for actions")
    resourceid: str | None = Field(None, description="ID of a resource for actions")
    enabled: bool | None = Field(None, description="List actions whether they are enabled or not")


@api_command("listCustomActions", params=ListCustomActionsParams, result_key="extensioncustomaction",
             response=CustomActionResp, since="4.21.0", description="Lists the custom actions")
def list_custom_actions(ctx: CallContext, p: ListCustomActionsParams) -> ListResult:
    stmt = select(ExtensionCustomAction).where(ExtensionCustomAction.removed.is_(None))
    if p.id:
        stmt = stmt.where(ExtensionCustomAction.uuid == p.id)
    if p.name:
        stmt = stmt.where(ExtensionCustomAction.name == p.name)
    if p.extensionid:
        stmt = stmt.where(ExtensionCustomAction.extension_id == ctx.refs["extensionid"].id)
    if p.resourcetype:
        rt = extensions.check_resource_type(p.resourcetype)
        stmt = stmt.where(ExtensionCustomAction.resource_type.is_(None) | (ExtensionCustomAction.resource_type == rt))
        if p.resourceid and not p.extensionid:
            raise ParamError("Internal error listing custom actions with specified resource")
    if p.enabled is not None or not ctx.caller.is_root_admin:
        stmt = stmt.where(ExtensionCustomAction.enabled.is_(True if p.enabled is None else p.enabled))
    stmt = keyword_filter(stmt, p.keyword, ExtensionCustomAction.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ExtensionCustomAction.id.desc())
    bit = extensions.ROLE_BITS[ctx.caller.role_type]
    if not ctx.caller.is_root_admin:
        rows = [a for a in rows if a.allowed_role_types & bit]
        count = len(rows)
    return ListResult([_action_resp(ctx, a) for a in rows], count)


class UpdateCustomActionParams(Params):
    id: Annotated[str, Ref("ExtensionCustomAction")] = Field(description="uuid of the custom action")
    description: str | None = Field(None, description="The description of the command")
    resourcetype: str | None = Field(None, description="Type of the resource for actions")
    allowedroletypes: list[str] | None = Field(None, description="List of role types allowed for the action")
    enabled: bool | None = Field(None, description="Whether the action is enabled or not")
    parameters: MapParam | None = Field(None, description="Parameters mapping for the action using keys - name, "
                                        "type, required")
    cleanupparameters: bool | None = Field(None, description="Optional boolean field, which indicates if "
                                           "parameters should be cleaned up or not")
    successmessage: str | None = Field(None, description="Success message that will be used on successful "
                                       "execution of the action")
    errormessage: str | None = Field(None, description="Error message that will be used on failure during "
                                     "execution of the action")
    timeout: int | None = Field(None, description="Specifies the timeout in seconds to wait for the action to "
                                "complete before failing")
    details: MapParam | None = Field(None, description="Details in key/value pairs using format "
                                     "details[i].keyname=keyvalue")
    cleanupdetails: bool | None = Field(None, description="Optional boolean field, which indicates if details "
                                        "should be cleaned up or not")


@api_command("updateCustomAction", params=UpdateCustomActionParams, response=SuccessResp, roles=ADMIN,
             entity="ExtensionCustomAction", event="EXTENSION.CUSTOM.ACTION.UPDATE", since="4.21.0",
             description="Update the custom action")
def update_custom_action(ctx: CallContext, p: UpdateCustomActionParams) -> Success:
    a: ExtensionCustomAction = ctx.refs["id"]
    if p.description:
        a.description = p.description
    if p.resourcetype is not None:
        a.resource_type = extensions.check_resource_type(p.resourcetype)
    if p.allowedroletypes:
        a.allowed_role_types = extensions.role_mask(p.allowedroletypes)
    for attr, col in (("successmessage", "success_message"), ("errormessage", "error_message"),
                      ("timeout", "timeout"), ("enabled", "enabled")):
        value = getattr(p, attr)
        if value is not None:
            setattr(a, col, value)
    if p.cleanupparameters:
        a.parameters_json = None
    elif p.parameters:
        a.parameters_json = json.dumps(extensions.action_parameters(p.parameters))
    if p.cleanupdetails:
        a.details_json = None
    elif p.details:
        a.details_json = json.dumps(extensions.as_details(p.details))
    ctx.session.flush()
    return Success()


class DeleteCustomActionParams(Params):
    id: Annotated[str | None, Ref("ExtensionCustomAction")] = Field(None, description="uuid of the custom action")


@api_command("deleteCustomAction", params=DeleteCustomActionParams, response=SuccessResp, roles=ADMIN,
             entity="ExtensionCustomAction", event="EXTENSION.CUSTOM.ACTION.DELETE", since="4.21.0",
             description="Delete the custom action")
def delete_custom_action(ctx: CallContext, p: DeleteCustomActionParams) -> Success:
    a = ctx.refs.get("id")
    if a is None:
        raise ParamError("Unable to find the custom action with the specified id")
    a.removed = utcnow()
    return Success()


class CustomActionResultResp(JobResp):
    id: str | None = Field(None, description="ID of the action")
    name: str | None = Field(None, description="Name of the action")
    success: bool | None = Field(None, description="Whether custom action succeed or not")
    result: dict[str, str] | None = Field(None, description="Result of the action execution")


class RunCustomActionParams(Params):
    customactionid: Annotated[str, Ref("ExtensionCustomAction", "read")] = Field(
        description="ID of the custom action")
    resourcetype: str | None = Field(None, description="Type of the resource")
    resourceid: str = Field(description="ID of the instance")
    parameters: MapParam | None = Field(None, description="Parameters in key/value pairs using format "
                                        "parameters[i].keyname=keyvalue. Example: parameters[0].endpoint.url=urlvalue")


@api_command("runCustomAction", params=RunCustomActionParams, result_key="customactionresult",
             response=CustomActionResultResp, is_async=True, entity="ExtensionCustomAction",
             event="EXTENSION.CUSTOM.ACTION.RUN", since="4.21.0",
             description="Run the custom action")
def run_custom_action(ctx: CallContext, p: RunCustomActionParams) -> Any:
    action: ExtensionCustomAction = ctx.refs["customactionid"]
    if action.removed is not None or (not ctx.caller.is_root_admin and not (
            action.allowed_role_types & extensions.ROLE_BITS[ctx.caller.role_type])) or not action.enabled:
        raise ParamError(extensions.ERROR)
    ext = ctx.session.get_one(Extension, action.extension_id)
    resource = None
    try:
        resource = access.resolve(ctx.session, ctx.caller, "VirtualMachine", p.resourceid, "write")
    except ParamError:
        resource = None
    extensions.run_action(ctx.session, action, ext, p.resourcetype, resource)
    raise InternalError(extensions.ERROR)  # pragma: no cover - run_action always refuses here
