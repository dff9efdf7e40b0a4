"""Images in and out through the management server: extractVolume, uploadVolume, getUploadParamsForVolume,
getUploadParamsForTemplate, getUploadParamsForIso (extractTemplate / extractIso: templates.py, same URLs)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.commands.storage.volumes import volume_responses
from management.api.cloudstack.registry import MapParam, ParamInfo, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_compute import VolumeResp
from management.api.cloudstack.schemas_compute_extras import UploadParamsResp
from management.api.cloudstack.schemas_templates import ExtractResp
from management.errors import ParamError
from management.models.identity import Account
from management.models.infra import ImageStore
from management.models.storage import Template, Volume
from management.models.volume_store import VolumeStoreRef
from management.services import access
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.storage import templates as templates_service
from management.services.storage import transfers as svc


class ExtractVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="the ID of the volume")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the ID of the zone where the volume is located")
    mode: str = Field(description="the mode of extraction - HTTP_DOWNLOAD or FTP_UPLOAD")
    url: Annotated[str | None, ParamInfo(length=2048)] = Field(
        None, description="the url to which the volume would be extracted")


@api_command("extractVolume", params=ExtractVolumeParams, result_key="volume", is_async=True, entity="Volume",
             event="VOLUME.EXTRACT", response=ExtractResp, description="Extracts volume")
def extract_volume(ctx: CallContext, p: ExtractVolumeParams) -> ExtractResp:
    vol, zone = ctx.refs["id"], ctx.refs["zoneid"]
    if p.mode.upper() != "HTTP_DOWNLOAD":
        raise ParamError("Please specify a valid extract Mode: only HTTP_DOWNLOAD is supported")
    vol_id = vol.id
    vm_service.release(ctx.session)
    url, state = svc.extract_volume(ctx.runtime, vol_id, zone)
    ctx.session.expire_all()
    vol = ctx.session.get_one(Volume, vol_id)
    acct = ctx.session.get(Account, vol.account_id)
    return vm_service.done(ctx.session, ExtractResp(
        id=vol.uuid, name=vol.name, extractId=vol.uuid, state=state, status=state, uploadpercentage=100, url=url,
        zoneid=zone.uuid, zonename=zone.name, extractMode="HTTP_DOWNLOAD", accountid=acct.uuid if acct else None,
        created=vol.created))


class UploadVolumeParams(Params):
    name: str = Field(description="the name of the volume")
    url: Annotated[str, ParamInfo(length=2048)] = Field(
        description="the URL of where the volume is hosted. Possible URL include http:// and https://")
    format: str = Field(description="the format for the volume. Possible values include QCOW2, OVA, and VHD.")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the ID of the zone the volume is to be hosted "
                                                        "on")
    checksum: str | None = Field(None, description="the checksum value of this volume. The parameter containing the "
                                 "checksum will be considered a MD5sum if it is not prefixed and just a plain ascii/"
                                 "utf8 representation of a hexadecimal string. If it is required to use another "
                                 "algorithm the hexadecimal string is to be prefixed with a string of the form, "
                                 "\"{<algorithm>}\", not including the double quotes. In this <algorithm> is the "
                                 "exact string representing the java supported algorithm, i.e. MD5 or SHA-256.")
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="the ID of the disk offering. This must be a custom sized offering since during "
        "uploadVolume volume size is unknown.")
    imagestoreuuid: str | None = Field(None, description="Image store uuid")
    account: str | None = Field(None, description="an optional accountName. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="an optional domainId. If the account parameter is used, domainId must also be used.")
    projectid: Uuid | None = Field(None, description="Upload volume for the project")


@api_command("uploadVolume", params=UploadVolumeParams, result_key="volume", is_async=True, entity="Volume",
             event="VOLUME.UPLOAD", response=VolumeResp,
             description="Uploads a data disk.")
def upload_volume(ctx: CallContext, p: UploadVolumeParams) -> VolumeResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    vol, ref_id = svc.new_upload_volume(ctx.session, owner, ctx.refs["zoneid"], name=p.name, fmt=p.format,
                                        offering=ctx.refs.get("diskofferingid"), url=p.url, checksum=p.checksum)
    vol_id = vol.id
    vm_service.release(ctx.session)
    svc.download_volume(ctx.runtime, ref_id)
    ctx.session.expire_all()
    return vm_service.done(ctx.session, volume_responses(ctx, [ctx.session.get_one(Volume, vol_id)])[0])


class UploadParamsBase(Params):
    name: str = Field(description="the name of the volume/binary/iso")
    format: str = Field(description="the format for the volume/template/iso. Possible values include QCOW2, OVA, and "
                        "VHD.")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the ID of the zone the volume/template/iso is "
                                                        "to be hosted on")
    checksum: str | None = Field(None, description="the checksum value of this volume/template/iso The parameter "
                                 "containing the checksum will be considered a MD5sum if it is not prefixed and just "
                                 "a plain ascii/utf8 representation of a hexadecimal string.")
    account: str | None = Field(None, description="an optional accountName. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="an optional domainId. If the account parameter is used, domainId must also be used.")
    projectid: Uuid | None = Field(None, description="Upload volume/template/iso for the project")


class UploadParamsVolume(UploadParamsBase):
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="the ID of the disk offering. This must be a custom sized offering since during upload of "
        "volume/template size is unknown.")
    imagestoreuuid: str | None = Field(None, description="Image store uuid")


@api_command("getUploadParamsForVolume", params=UploadParamsVolume, result_key="getuploadparams",
             event="VOLUME.UPLOAD",
             response=UploadParamsResp, response_name="postuploadvolumeresponse", since="4.6.0",
             description="Upload a data disk to the cloudstack cloud.")
def upload_params_volume(ctx: CallContext, p: UploadParamsVolume) -> UploadParamsResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    vol, ref_id = svc.new_upload_volume(ctx.session, owner, ctx.refs["zoneid"], name=p.name, fmt=p.format,
                                        offering=ctx.refs.get("diskofferingid"), url=None, checksum=p.checksum)
    ref = ctx.session.get_one(VolumeStoreRef, ref_id)
    store = ctx.session.get_one(ImageStore, ref.store_id)
    return UploadParamsResp(**svc.upload_params(ctx.session, ctx.runtime, kind="volume", entity_uuid=vol.uuid,
                                                store=store, rel=ref.install_path or "", fmt=vol.format,
                                                checksum=p.checksum))


class UploadParamsTemplate(UploadParamsBase):
    hypervisor: str = Field(description="the target hypervisor for the template")
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the display text of the template. This is usually used for "
        "display purposes.")
    ostypeid: Annotated[str | None, Ref("OsType", "read")] = Field(None, description="the ID of the OS Type that best "
                                                                   "represents the OS of this template.")
    arch: str | None = Field(None, description="the CPU arch of the template. Valid options are: x86_64, aarch64")
    bits: int | None = Field(None, description="32 or 64 bits support. 64 by default")
    details: MapParam | None = Field(None, description="Template details in key/value pairs.")
    isdynamicallyscalable: bool | None = Field(None, description="true if template contains XS/VMWare tools inorder "
                                               "to support dynamic scaling of VM cpu/memory")
    isextractable: bool = Field(False, description="true if the template or its derivatives are extractable; default "
                                "is false")
    isfeatured: bool = Field(False, description="true if this template is a featured template, false otherwise")
    ispublic: bool = Field(False, description="true if the template is available to all accounts; default is true "
                           "for admin, false for other users")
    isrouting: bool | None = Field(None, description="true if the template type is routing i.e., if template is used "
                                   "to deploy router")
    passwordenabled: bool = Field(False, description="true if the template supports the password reset feature; "
                                  "default is false")
    requireshvm: bool = Field(True, description="true if this template requires HVM")
    sshkeyenabled: bool = Field(False, description="true if the template supports the sshkey upload feature; default "
                                "is false")
    templatetag: str | None = Field(None, description="the tag for this template.")
    deployasis: bool | None = Field(None, description="(VMware only) true if VM deployments should preserve all the "
                                    "configurations defined for this template")
    forcks: bool | None = Field(None, description="if true, the templates would be available for deploying CKS "
                                "clusters")
    templatetype: str | None = Field(None, description="the type of the template. Valid options are: USER/VNF (for "
                                     "all users) and SYSTEM/ROUTING/BUILTIN (for admins only).")


def _new_template(ctx: CallContext, p: UploadParamsBase, *, fmt: str, hypervisor: str | None, **cols: object) \
        -> UploadParamsResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    zone = ctx.refs["zoneid"]
    if fmt.upper() not in templates_service.FORMATS:
        raise ParamError(f"Invalid format {fmt}; supported: {', '.join(templates_service.FORMATS)}")
    tmpl = Template(name=p.name, format=fmt.upper(), hypervisor_type=hypervisor,
                                      checksum=p.checksum, account_id=owner.id, domain_id=owner.domain_id,
                                      state="Active", **cols)
    ctx.session.add(tmpl)
    ctx.session.flush()
    return UploadParamsResp(**svc.new_upload_template(ctx.session, ctx.runtime, tmpl, zone))


@api_command("getUploadParamsForTemplate", params=UploadParamsTemplate, result_key="getuploadparams",
             event="TEMPLATE.CREATE",
             response=UploadParamsResp, response_name="postuploadtemplateresponse", since="4.6.0",
             description="upload an existing template into the CloudStack cloud.")
def upload_params_template(ctx: CallContext, p: UploadParamsTemplate) -> UploadParamsResp:
    os_type = ctx.refs.get("ostypeid")
    return _new_template(ctx, p, fmt=p.format, hypervisor=p.hypervisor, display_text=p.displaytext or p.name,
                         os_type_id=os_type.id if os_type else None, is_public=p.ispublic,
                         is_featured=p.isfeatured and ctx.caller.is_root_admin, is_extractable=p.isextractable,
                         password_enabled=p.passwordenabled, sshkey_enabled=p.sshkeyenabled,
                         requires_hvm=p.requireshvm)


class UploadParamsIso(UploadParamsBase):
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the display text of the ISO. This is usually used for display "
        "purposes.")
    bootable: bool = Field(True, description="true if this ISO is bootable. If not passed explicitly its assumed to "
                           "be true")
    isextractable: bool = Field(False, description="true if the ISO or its derivatives are extractable; default is "
                                "false")
    isfeatured: bool = Field(False, description="true if you want this ISO to be featured")
    ispublic: bool = Field(False, description="true if you want to register the ISO to be publicly available to all "
                           "users, false otherwise.")
    ostypeid: Annotated[str | None, Ref("OsType", "read")] = Field(None, description="the ID of the OS type that best "
                                                                   "represents the OS of this ISO.")


@api_command("getUploadParamsForIso", params=UploadParamsIso, result_key="getuploadparams",
             event="ISO.CREATE",
             response=UploadParamsResp, response_name="postuploadisoresponse", since="4.13",
             description="upload an existing ISO into the CloudStack cloud.")
def upload_params_iso(ctx: CallContext, p: UploadParamsIso) -> UploadParamsResp:
    if p.format.upper() != "ISO":
        raise ParamError("Invalid format: an ISO upload must have format ISO")
    os_type = ctx.refs.get("ostypeid")
    return _new_template(ctx, p, fmt="ISO", hypervisor=None, display_text=p.displaytext or p.name,
                         os_type_id=os_type.id if os_type else None, is_public=p.ispublic, bootable=p.bootable,
                         is_featured=p.isfeatured and ctx.caller.is_root_admin, is_extractable=p.isextractable)

