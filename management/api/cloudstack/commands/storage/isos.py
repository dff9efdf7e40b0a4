"""ISOs: the template machinery with format ISO and the `iso` object name (attachIso/detachIso are VM commands)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.storage.templates import (
    CopyTemplateParams,
    ExtractTemplateParams,
    ListPermissionsParams,
    UpdatePermissionsParams,
    UpdateTemplateParams,
    _details,
    copy_impl,
    extract_impl,
    list_impl,
    list_permissions_impl,
    os_type,
    permissions_impl,
    rows_for,
    update_impl,
    zones_param,
)
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import MapParam, ParamInfo, Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_templates import ExtractResp, TemplatePermissionsResp, TemplateResp
from management.errors import invalid_id
from management.models.storage import Template
from management.services import access, limits
from management.services.context import CallContext
from management.services.storage import templates as svc


class RegisterIsoParams(Params):
    name: str = Field(description="the name of the ISO")
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the display text of the ISO, defaults to the 'name'")
    url: Annotated[str, ParamInfo(length=2048)] = Field(
        description="the URL to where the ISO is currently being hosted")
    zoneid: Uuid = Field(description="the ID of the zone you wish to register the ISO to; -1 for all")
    zoneids: list[str] | None = Field(None, description="the IDs of the zones to register the ISO to")
    bootable: bool = Field(True, description="true if this ISO is bootable. If not passed explicitly its assumed "
                           "to be true")
    ostypeid: Uuid | None = Field(None, description="the ID of the OS type that best represents the OS of this ISO. "
                                 "If the ISO is bootable this parameter needs to be passed")
    ispublic: bool = Field(False, description="true if you want to register the ISO to be publicly available to "
                           "all users, false otherwise.")
    isfeatured: bool = Field(False, description="true if you want this ISO to be featured")
    isextractable: bool = Field(False, description="true if the ISO or its derivatives are extractable; default "
                                "is false")
    isdynamicallyscalable: bool = Field(False, description="true if ISO contains XS/VMWare tools inorder to support "
                                        "dynamic scaling of VM CPU/memory")
    passwordenabled: bool = Field(False, description="true if password reset feature is supported; default is "
                                  "false")
    checksum: str | None = Field(None, description="the checksum value of this ISO. The parameter containing the "
                                 "checksum will be considered a MD5sum if it is not prefixed and just a plain "
                                 "ascii/utf8 representation of a hexadecimal string. If it is required to use "
                                 "another algorithm the hexadecimal string is to be prefixed with a string of the "
                                 "form, \"{<algorithm>}\".")
    details: MapParam | None = Field(None, description="ISO details in key/value pairs")
    directdownload: bool = Field(False, description="true if ISO should bypass Secondary Storage and be downloaded "
                                 "to Primary Storage on deployment")
    account: str | None = Field(None, description="an optional account name. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId. If the "
                                                                   "account parameter is used, domainId must also "
                                                                   "be used.")
    projectid: Uuid | None = Field(None, description="Register ISO for the project")


@api_command("registerIso", params=RegisterIsoParams, result_key="iso", response=TemplateResp,
             event="ISO.CREATE", entity="Iso", description="Registers an existing ISO into the CloudStack Cloud.")
def register_iso(ctx: CallContext, p: RegisterIsoParams) -> ListResult:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    limits.check(ctx.session, owner, {"template": 1})
    req = svc.RegisterRequest(
        name=p.name, display_text=p.displaytext, url=p.url, format="ISO", hypervisor=None,
        zones=zones_param(ctx, p.zoneid, p.zoneids), checksum=p.checksum, os_type_id=os_type(ctx, p.ostypeid),
        is_public=p.ispublic, is_featured=p.isfeatured, is_extractable=p.isextractable,
        password_enabled=p.passwordenabled, bootable=p.bootable, details=_details(p.details))
    tmpl, ref_ids = svc.register(ctx.session, ctx.caller, owner, req)
    svc.start_downloads(ctx.runtime, ctx.session, ref_ids)
    rows = rows_for(ctx, tmpl)
    return ListResult(rows, len(rows))


class ListIsosParams(TaggedListParams):
    isofilter: str = Field("selfexecutable", description="possible values are \"featured\", \"self\", "
                           "\"selfexecutable\",\"sharedexecutable\",\"executable\", and \"community\". * featured : "
                           "ISOs that have been marked as featured and public. * self : ISOs that have been "
                           "registered or created by the calling user. * selfexecutable : same as self, but only "
                           "returns ISOs that are ready to be deployed with. * sharedexecutable : ISOs that have "
                           "been granted to the calling user by another user. * executable : all ISOs that can be "
                           "used to deploy a new VM * community : ISOs that have been marked as public but not "
                           "featured. * all : all ISOs (only usable by admins).")
    id: Annotated[str | None, Ref("Iso", "read")] = Field(None, description="list ISO by ID")
    ids: list[str] | None = Field(None, description="the IDs of the ISOs, mutually exclusive with id")
    name: str | None = Field(None, description="list all ISOs by name")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the zone")
    bootable: bool | None = Field(None, description="true if the ISO is bootable, false otherwise")
    ispublic: bool | None = Field(None, description="true if the ISO is publicly available to all users, false "
                                  "otherwise.")
    isready: bool | None = Field(None, description="true if this ISO is ready to be deployed")
    hypervisor: str | None = Field(None, description="the hypervisor for which to restrict the search")
    showunique: bool = Field(False, description="If set to true, list only unique ISOs across zones")
    showremoved: bool = Field(False, description="show removed ISOs as well")
    showicon: bool = Field(False, description="flag to display the resource image for the isos")


@api_command("listIsos", params=ListIsosParams, result_key="iso", response=TemplateResp,
             description="Lists all available ISO files.")
def list_isos(ctx: CallContext, p: ListIsosParams) -> ListResult:
    return list_impl(ctx, p, isos=True, flt=p.isofilter)


class UpdateIsoParams(UpdateTemplateParams):
    id: Annotated[str, Ref("Iso")] = Field(description="the ID of the image file")


@api_command("updateIso", params=UpdateIsoParams, result_key="iso", response=TemplateResp, event="ISO.UPDATE",
             entity="Iso", description="Updates an ISO file.")
def update_iso(ctx: CallContext, p: UpdateIsoParams) -> TemplateResp:
    return update_impl(ctx, p, isos=True)


class UpdateIsoPermissionsParams(UpdatePermissionsParams):
    id: Annotated[str, Ref("Iso")] = Field(description="the ISO ID")


@api_command("updateIsoPermissions", params=UpdateIsoPermissionsParams, event="ISO.UPDATE", entity="Iso",
             description="Updates ISO permissions")
def update_iso_permissions(ctx: CallContext, p: UpdateIsoPermissionsParams) -> Success:
    return permissions_impl(ctx, p)


class ListIsoPermissionsParams(ListPermissionsParams):
    id: Annotated[str, Ref("Iso")] = Field(description="the ISO ID")


@api_command("listIsoPermissions", params=ListIsoPermissionsParams, result_key="templatepermission",
             response=TemplatePermissionsResp, description="List ISO visibility and all accounts that have "
             "permissions to view this ISO.")
def list_iso_permissions(ctx: CallContext, p: ListIsoPermissionsParams) -> TemplatePermissionsResp:
    return list_permissions_impl(ctx)


class DeleteIsoParams(Params):
    id: Annotated[str, Ref("Iso")] = Field(description="the ID of the ISO file")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the zone of the ISO "
                                                               "file. If not specified, the ISO will be deleted "
                                                               "from all the zones")


@api_command("deleteIso", params=DeleteIsoParams, is_async=True, event="ISO.DELETE", entity="Iso",
             response_name="deleteisosresponse",
             description="Deletes an ISO file.")
def delete_iso(ctx: CallContext, p: DeleteIsoParams) -> Success:
    t: Template = ctx.refs["id"]
    if t.format != "ISO":
        raise invalid_id(t.uuid)
    svc.delete(ctx.session, t, ctx.refs.get("zoneid"), forced=False)
    return Success()


class CopyIsoParams(CopyTemplateParams):
    id: Annotated[str, Ref("Iso", "read")] = Field(description="Template ID.")


@api_command("copyIso", params=CopyIsoParams, is_async=True, result_key="iso", response=TemplateResp,
             event="ISO.COPY", entity="Iso", description="Copies an ISO from one zone to another.")
def copy_iso(ctx: CallContext, p: CopyIsoParams) -> TemplateResp:
    return copy_impl(ctx, p)


class ExtractIsoParams(ExtractTemplateParams):
    id: Annotated[str, Ref("Iso", "read")] = Field(description="the ID of the ISO file")


@api_command("extractIso", params=ExtractIsoParams, is_async=True, result_key="iso", response=ExtractResp,
             event="ISO.EXTRACT", entity="Iso", description="Extracts an ISO")
def extract_iso(ctx: CallContext, p: ExtractIsoParams) -> ExtractResp:
    return extract_impl(ctx, p)
