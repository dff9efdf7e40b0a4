"""Templates: register (downloaded into the zones' image stores in the background), list with CloudStack's
template filters (one row per zone), update, permissions, delete, copy, create from a volume or snapshot,
extract. ISOs share the machinery (``commands/storage/isos.py``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import MapParam, ParamInfo, Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_templates import ExtractResp, TemplatePermissionsResp, TemplateResp
from management.api.cloudstack.tagview import tag_views
from management.errors import ParamError, PermissionDenied, invalid_id
from management.models.identity import Account, Domain
from management.models.infra import Cluster, ImageStore, StoragePool, Zone
from management.models.offerings import OsType
from management.models.storage import Snapshot, Template, TemplateStoreRef, Volume
from management.services import access, limits, tags
from management.services.context import CallContext
from management.services.listing import check_paging, keyword_filter, same_name, tags_filter, total
from management.services.storage import templates as svc
from management.services.storage import transfers

tags.register("Template", "Template")
tags.register("ISO", "Iso")


# ------------------------------------------------------------------------------------------------ helpers

def os_type(ctx: CallContext, uuid: str | None) -> int | None:
    if uuid is None:
        return None
    row = ctx.session.scalar(select(OsType).where(OsType.uuid == uuid))
    if row is None:
        raise invalid_id(uuid)
    return row.id


def zones_param(ctx: CallContext, zoneid: str | None, zoneids: list[str] | None, *, required: bool = True
                ) -> list[Zone] | None:
    """zoneid / zoneids -> zones; "-1" (or none given, when not required) means every zone."""
    ids = list(zoneids or []) + ([zoneid] if zoneid else [])
    if not ids:
        if required:
            raise ParamError("Either zoneid or zoneids is required (zoneid=-1 registers in every zone)")
        return None
    if "-1" in ids:
        return None
    return [access.resolve(ctx.session, ctx.caller, "Zone", z, "read") for z in dict.fromkeys(ids)]


def template_resp(ctx: CallContext, t: Template, ref: TemplateStoreRef | None,
                  tag_rows: list | None = None) -> TemplateResp:
    s = ctx.session
    zone = s.get(Zone, ref.zone_id) if ref is not None else None
    ost = s.get(OsType, t.os_type_id) if t.os_type_id else None
    acct = s.get(Account, t.account_id)
    dom = s.get(Domain, t.domain_id)
    src = s.get(Template, t.source_template_id) if t.source_template_id else None
    details = json.loads(t.details_json) if t.details_json else None
    return TemplateResp(
        id=t.uuid, name=t.name, displaytext=t.display_text, isready=svc.is_ready(ref) if ref else False,
        status=svc.status_text(ref) if ref else None, templatetype=t.template_type, format=t.format,
        hypervisor=t.hypervisor_type if t.format != "ISO" else None, ostypeid=ost.uuid if ost else None,
        ostypename=ost.display_name if ost else None, zoneid=zone.uuid if zone else None,
        zonename=zone.name if zone else None, size=(ref.size if ref and ref.size else t.size),
        physicalsize=ref.physical_size if ref else None, ispublic=t.is_public, isfeatured=t.is_featured,
        isextractable=t.is_extractable, passwordenabled=t.password_enabled, sshkeyenabled=t.sshkey_enabled,
        bootable=t.bootable, requireshvm=t.requires_hvm, crossZones=t.cross_zones, checksum=t.checksum,
        url=t.url, account=acct.name if acct else None, accountid=acct.uuid if acct else None,
        domain=dom.name if dom else None, domainid=dom.uuid if dom else None, created=t.created,
        sourcetemplateid=src.uuid if src else None,
        details=details if isinstance(details, dict) else None,
        downloaddetails=[{"datastore": s.get_one(ImageStore, ref.store_id).name,
                          "downloadPercent": str(ref.download_pct),
                          "downloadState": "Downloaded" if svc.is_ready(ref) else ref.download_state}]
        if ref else None,
        tags=tag_views(ctx.session, tag_rows),
    )


def rows_for(ctx: CallContext, t: Template, zone: Zone | None = None) -> list[TemplateResp]:
    """One row per zone holding the template (or the one zone asked for)."""
    stmt = select(TemplateStoreRef).where(TemplateStoreRef.template_id == t.id).order_by(TemplateStoreRef.id)
    if zone is not None:
        stmt = stmt.where(TemplateStoreRef.zone_id == zone.id)
    seen: set[int] = set()
    out = []
    rtype = "ISO" if t.format == "ISO" else "Template"
    tag_rows = tags.tags_of(ctx.session, rtype, [t.uuid]).get(t.uuid)
    for ref in ctx.session.scalars(stmt):
        if ref.zone_id in seen:
            continue
        seen.add(ref.zone_id)
        out.append(template_resp(ctx, t, ref, tag_rows))
    if not out:
        out.append(template_resp(ctx, t, None, tag_rows))
    return out


def list_impl(ctx: CallContext, p: Any, *, isos: bool, flt: str) -> ListResult:
    s = ctx.session
    svc.ensure_builtin_ready(s)
    svc.resume_downloads(ctx.runtime)
    stmt = svc.list_refs_stmt(s, ctx.caller, isos=isos, flt=flt)
    if p.account is not None or p.domainid is not None or p.projectid is not None:
        stmt = access.owned_filter(s, stmt, Template, ctx.caller, account=p.account, domainid=p.domainid,
                                   projectid=p.projectid, isrecursive=p.isrecursive, listall=True)
    if p.id:
        stmt = stmt.where(Template.uuid == p.id)
    if getattr(p, "ids", None):
        stmt = stmt.where(Template.uuid.in_(p.ids))
    if p.name:
        stmt = stmt.where(same_name(Template.name, p.name))
    if p.zoneid:
        zone = ctx.refs["zoneid"]
        stmt = stmt.where(TemplateStoreRef.zone_id == zone.id)
    if getattr(p, "hypervisor", None):
        stmt = stmt.where(Template.hypervisor_type.ilike(p.hypervisor))
    if isos and p.bootable is not None:
        stmt = stmt.where(Template.bootable.is_(p.bootable))
    if isos and p.ispublic is not None:
        stmt = stmt.where(Template.is_public.is_(p.ispublic))
    if getattr(p, "isready", None) is not None:
        stmt = stmt.where((TemplateStoreRef.download_state == svc.DOWNLOADED) == p.isready)
    if getattr(p, "templatetype", None):
        stmt = stmt.where(Template.template_type == p.templatetype.upper())
    stmt = keyword_filter(stmt, p.keyword, Template.name, Template.display_text)
    stmt = tags_filter(stmt, p.tags, "ISO" if isos else "Template", Template.uuid)
    stmt = stmt.group_by(Template.id) if p.showunique else stmt.group_by(Template.id, TemplateStoreRef.zone_id)
    offset, limit = check_paging(s, p.page, p.pagesize)
    sub = stmt.subquery()
    q = select(sub.c.rid).order_by(sub.c.rid).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    ids = list(s.scalars(q))
    count = total(s, len(ids), offset, limit, stmt)
    if not ids:
        return ListResult([], count)
    refs = {r.id: r for r in s.scalars(select(TemplateStoreRef).where(TemplateStoreRef.id.in_(ids)))}
    tmpls = {t.id: t for t in s.scalars(select(Template).where(Template.id.in_({r.template_id
                                                                               for r in refs.values()})))}
    by_uuid = tags.tags_of(s, "ISO" if isos else "Template", [t.uuid for t in tmpls.values()])
    items = [template_resp(ctx, tmpls[refs[i].template_id], refs[i], by_uuid.get(tmpls[refs[i].template_id].uuid))
             for i in ids]
    return ListResult(items, count)


# ------------------------------------------------------------------------------------------------ register

class RegisterTemplateParams(Params):
    name: str = Field(description="the name of the template")
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="The display text of the template, defaults to name.")
    format: str = Field(description="the format for the template. Possible values include QCOW2, RAW, VHD and OVA.")
    hypervisor: str = Field(description="the target hypervisor for the template")
    url: Annotated[str, ParamInfo(length=2048)] = Field(
        description="the URL of where the template is hosted. Possible URL include http:// and "
                     "https://")
    zoneid: Uuid | None = Field(None, description="the ID of the zone the template is to be hosted on; -1 for all")
    zoneids: list[str] | None = Field(None, description="A list of zone ids where the template will be hosted. "
                                      "Use this parameter if the template needs to be registered to multiple zones "
                                      "in one go. Use zoneid if the template needs to be registered to only one zone."
                                      "Passing only -1 to this will cause the template to be registered as a cross "
                                      "zone template and will be copied to all zones. ")
    ostypeid: Uuid | None = Field(None, description="the ID of the OS Type that best represents the OS of this "
                                 "template. Not applicable with VMware, as we honour what is defined in the template")
    checksum: str | None = Field(None, description="the checksum value of this template. The parameter containing "
                                 "the checksum will be considered a MD5sum if it is not prefixed and just a plain "
                                 "ascii/utf8 representation of a hexadecimal string. If it is required to use "
                                 "another algorithm the hexadecimal string is to be prefixed with a string of the "
                                 "form, \"{<algorithm>}\", not including the double quotes. In this <algorithm> is "
                                 "the exact string representing the java supported algorithm, i.e. MD5 or SHA-256.")
    ispublic: bool = Field(False, description="true if the template is available to all accounts; default is true "
                           "for admin and false for other users")
    isfeatured: bool = Field(False, description="true if this template is a featured template, false otherwise")
    isextractable: bool = Field(False, description="true if the template or its derivatives are extractable; "
                                "default is false")
    passwordenabled: bool = Field(False, description="true if the template supports the password reset feature; "
                                  "default is false")
    sshkeyenabled: bool = Field(False, description="true if the template supports the sshkey upload feature; "
                                "default is false")
    requireshvm: bool = Field(True, description="true if this template requires HVM")
    isdynamicallyscalable: bool = Field(False, description="true if template contains XS/VMWare tools inorder to "
                                        "support dynamic scaling of VM cpu/memory")
    isrouting: bool = Field(False, description="true if the template type is routing i.e., if template is used to "
                            "deploy router")
    bits: int | None = Field(None, description="32 or 64 bits support. 64 by default")
    templatetag: str | None = Field(None, description="the tag for this template.")
    templatetype: str | None = Field(None, description="the type of the template. Valid options are: USER/VNF (for "
                                     "all users) and SYSTEM/ROUTING/BUILTIN (for admins only).")
    details: MapParam | None = Field(None, description="Template details in key/value pairs using format "
                                     "details[i].keyname=keyvalue.")
    directdownload: bool = Field(False, description="true if template should bypass Secondary Storage and be "
                                 "downloaded to Primary Storage on deployment")
    account: str | None = Field(None, description="an optional accountName. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId. If the "
                                                                   "account parameter is used, domainId must also "
                                                                   "be used.")
    projectid: Uuid | None = Field(None, description="Register template for the project")


def _details(items: list[dict[str, str]] | None) -> dict[str, str] | None:
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        for k, v in item.items():
            out[k] = v
    return out


@api_command("registerTemplate", params=RegisterTemplateParams, result_key="template", response=TemplateResp,
             event="TEMPLATE.CREATE", entity="Template", description="Registers an existing template into the "
             "CloudStack cloud. ")
def register_template(ctx: CallContext, p: RegisterTemplateParams) -> ListResult:
    if p.format.upper() == "ISO":
        raise ParamError("ISO format is registered with registerIso")
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    limits.check(ctx.session, owner, {"template": 1})
    ttype = (p.templatetype or ("ROUTING" if p.isrouting else "USER")).upper()
    if ttype not in ("USER", "VNF") and not ctx.caller.is_root_admin:
        raise PermissionDenied(f"Only admins can register templates of type {ttype}")
    req = svc.RegisterRequest(
        name=p.name, display_text=p.displaytext, url=p.url, format=p.format, hypervisor=_hypervisor(p.hypervisor),
        zones=zones_param(ctx, p.zoneid, p.zoneids), checksum=p.checksum, os_type_id=os_type(ctx, p.ostypeid),
        is_public=p.ispublic, is_featured=p.isfeatured, is_extractable=p.isextractable,
        password_enabled=p.passwordenabled, sshkey_enabled=p.sshkeyenabled, requires_hvm=p.requireshvm,
        template_type=ttype, details=_details(p.details))
    tmpl, ref_ids = svc.register(ctx.session, ctx.caller, owner, req)
    svc.start_downloads(ctx.runtime, ctx.session, ref_ids)
    rows = rows_for(ctx, tmpl)
    return ListResult(rows, len(rows))


_HYPERVISORS = {"kvm": "KVM", "simulator": "Simulator", "xenserver": "XenServer", "vmware": "VMware",
                "lxc": "LXC", "hyperv": "Hyperv", "baremetal": "BareMetal", "ovm3": "Ovm3", "any": "Any",
                "none": "None", "qemu": "KVM", "xen": "Xen"}  # Xen = libvirt (libxl) Xen hosts


def _hypervisor(value: str | None) -> str | None:
    if value is None:
        return None
    return _HYPERVISORS.get(value.lower(), value)


# ------------------------------------------------------------------------------------------------ list

class ListTemplatesParams(TaggedListParams):
    templatefilter: str = Field(description="possible values are \"featured\", \"self\", \"selfexecutable\","
                                "\"sharedexecutable\",\"executable\", and \"community\". * featured : templates "
                                "that have been marked as featured and public. * self : templates that have been "
                                "registered or created by the calling user. * selfexecutable : same as self, but "
                                "only returns templates that can be used to deploy a new VM. * sharedexecutable : "
                                "templates ready to be deployed that have been granted to the calling user by "
                                "another user. * executable : templates that are owned by the calling user, or "
                                "public templates, that can be used to deploy a VM. * community : templates that "
                                "have been marked as public but not featured. * all : all templates (only usable "
                                "by admins).")
    id: Annotated[str | None, Ref("Template", "read")] = Field(None, description="the template ID")
    ids: list[str] | None = Field(None, description="the IDs of the templates, mutually exclusive with id")
    name: str | None = Field(None, description="the template name")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="list templates by zoneId")
    hypervisor: str | None = Field(None, description="the hypervisor for which to restrict the search")
    showunique: bool = Field(False, description="If set to true, list only unique templates across zones")
    showremoved: bool = Field(False, description="show removed templates as well")
    isready: bool | None = Field(None, description="list templates that are ready to be deployed")
    templatetype: str | None = Field(None, description="the type of the template")
    showicon: bool = Field(False, description="flag to display the resource image for the templates")


@api_command("listTemplates", params=ListTemplatesParams, result_key="template", response=TemplateResp,
             description="List all public, private, and privileged templates.")
def list_templates(ctx: CallContext, p: ListTemplatesParams) -> ListResult:
    return list_impl(ctx, p, isos=False, flt=p.templatefilter)


# ------------------------------------------------------------------------------------------------ update

class UpdateTemplateParams(Params):
    id: Annotated[str, Ref("Template")] = Field(description="the ID of the image file")
    name: str | None = Field(None, description="the name of the image file")
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="the display text of the image")
    ostypeid: Uuid | None = Field(None, description="the ID of the OS type that best represents the OS of this image.")
    format: str | None = Field(None, description="the format for the image")
    passwordenabled: bool | None = Field(None, description="true if the image supports the password reset feature; "
                                         "default is false")
    sshkeyenabled: bool | None = Field(None, description="true if the template supports the sshkey upload feature")
    bootable: bool | None = Field(None, description="true if image is bootable, false otherwise; available only "
                                  "for updateIso API")
    requireshvm: bool | None = Field(None, description="true if the template requires HVM, false otherwise")
    isdynamicallyscalable: bool | None = Field(None, description="true if template/ISO contains XS/VMWare tools "
                                               "inorder to support dynamic scaling of VM cpu/memory")
    isrouting: bool | None = Field(None, description="true if the template type is routing i.e., if template is "
                                   "used to deploy router")
    templatetype: str | None = Field(None, description="the type of the template. Valid options are: "
                                     "USER/VNF (for all users) and SYSTEM/ROUTING/BUILTIN (for admins only).")
    sortkey: int | None = Field(None, description="sort key of the template, integer")
    details: MapParam | None = Field(None, description="Details in key/value pairs using format "
                                     "details[i].keyname=keyvalue.")
    cleanupdetails: bool | None = Field(None, description="optional boolean field, which indicates if details "
                                        "should be cleaned up or not")


def update_impl(ctx: CallContext, p: UpdateTemplateParams, *, isos: bool) -> TemplateResp:
    t: Template = ctx.refs["id"]
    if (t.format == "ISO") != isos:
        raise invalid_id(t.uuid)
    if p.name is not None:
        t.name = p.name
    if p.displaytext is not None:
        t.display_text = p.displaytext
    if p.ostypeid is not None:
        t.os_type_id = os_type(ctx, p.ostypeid)
    if p.format is not None and not isos:
        if p.format.upper() not in svc.FORMATS or p.format.upper() == "ISO":
            raise ParamError(f"Invalid format {p.format}")
        t.format = p.format.upper()
    for attr, col in (("passwordenabled", "password_enabled"), ("sshkeyenabled", "sshkey_enabled"),
                      ("bootable", "bootable"), ("requireshvm", "requires_hvm")):
        value = getattr(p, attr)
        if value is not None:
            setattr(t, col, value)
    if p.templatetype is not None or p.isrouting is not None:
        ttype = (p.templatetype or ("ROUTING" if p.isrouting else "USER")).upper()
        if ttype != t.template_type and not ctx.caller.is_root_admin:
            raise PermissionDenied("Only admins can change the template type")
        t.template_type = ttype
    if p.cleanupdetails:
        t.details_json = None
    elif p.details:
        cur = json.loads(t.details_json) if t.details_json else {}
        cur.update(_details(p.details) or {})
        t.details_json = json.dumps(cur)
    t.update_count += 1
    ctx.session.flush()
    return rows_for(ctx, t)[0]


@api_command("updateTemplate", params=UpdateTemplateParams, result_key="template", response=TemplateResp,
             event="TEMPLATE.UPDATE", entity="Template", description="Updates attributes of a template.")
def update_template(ctx: CallContext, p: UpdateTemplateParams) -> TemplateResp:
    return update_impl(ctx, p, isos=False)


# ------------------------------------------------------------------------------------------------ permissions

class UpdatePermissionsParams(Params):
    id: Annotated[str, Ref("Template")] = Field(description="the template ID")
    ispublic: bool | None = Field(None, description="true for public template/iso, false for private "
                                  "templates/isos")
    isfeatured: bool | None = Field(None, description="true for featured template/iso, false otherwise")
    isextractable: bool | None = Field(None, description="true if the template/iso is extractable, false other "
                                       "wise. Can be set only by root admin")
    accounts: list[str] | None = Field(None, description="a comma delimited list of accounts within caller's "
                                       "domain. If specified, \"op\" parameter has to be passed in.")
    projectids: list[str] | None = Field(None, description="a comma delimited list of projects. If specified, "
                                         "\"op\" parameter has to be passed in.")
    op: str | None = Field(None, description="permission operator (add, remove, reset)")


def permissions_impl(ctx: CallContext, p: UpdatePermissionsParams) -> Success:
    t: Template = ctx.refs["id"]
    accounts = None
    if p.accounts is not None:
        accounts = []
        for name in p.accounts:
            acct = ctx.session.scalar(select(Account).where(Account.name == name, Account.removed.is_(None),
                                                            Account.domain_id == t.domain_id))
            if acct is None:
                acct = ctx.session.scalar(select(Account).where(Account.name == name, Account.removed.is_(None))
                                          .order_by(Account.id).limit(1))
            if acct is None:
                raise ParamError(f"Unable to find account {name}")
            accounts.append(acct)
    svc.set_permissions(ctx.session, ctx.caller, t, is_public=p.ispublic, is_featured=p.isfeatured,
                        is_extractable=p.isextractable, accounts=accounts, op=p.op)
    return Success()


@api_command("updateTemplatePermissions", params=UpdatePermissionsParams, event="TEMPLATE.UPDATE",
             entity="Template", description="Updates a template visibility permissions. A public template is "
             "visible to all accounts within the same domain. A private template is visible only to the owner of "
             "the template. A privileged template is a private template with account permissions added. Only "
             "accounts specified under the template permissions are visible to them.")
def update_template_permissions(ctx: CallContext, p: UpdatePermissionsParams) -> Success:
    return permissions_impl(ctx, p)


class ListPermissionsParams(Params):
    id: Annotated[str, Ref("Template")] = Field(description="the template ID")


def list_permissions_impl(ctx: CallContext) -> TemplatePermissionsResp:
    t: Template = ctx.refs["id"]
    dom = ctx.session.get(Domain, t.domain_id)
    return TemplatePermissionsResp(id=t.uuid, ispublic=t.is_public, domainid=dom.uuid if dom else None,
                                   account=[a.name for a in svc.permitted_accounts(ctx.session, t)])


@api_command("listTemplatePermissions", params=ListPermissionsParams, result_key="templatepermission",
             response=TemplatePermissionsResp, description="List template visibility and all accounts that have "
             "permissions to view this template.")
def list_template_permissions(ctx: CallContext, p: ListPermissionsParams) -> TemplatePermissionsResp:
    return list_permissions_impl(ctx)


# ------------------------------------------------------------------------------------------------ delete

class DeleteTemplateParams(Params):
    id: Annotated[str, Ref("Template")] = Field(description="the ID of the template")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of zone of the template")
    forced: bool = Field(False, description="Force delete a template.")


@api_command("deleteTemplate", params=DeleteTemplateParams, is_async=True, event="TEMPLATE.DELETE",
             entity="Template", description="Deletes a template from the system. All virtual machines using the "
             "deleted template will not be affected.")
def delete_template(ctx: CallContext, p: DeleteTemplateParams) -> Success:
    t: Template = ctx.refs["id"]
    if t.format == "ISO":
        raise invalid_id(t.uuid)
    svc.delete(ctx.session, t, ctx.refs.get("zoneid"), p.forced)
    return Success()


# ------------------------------------------------------------------------------------------------ copy

class CopyTemplateParams(Params):
    id: Annotated[str, Ref("Template", "read")] = Field(description="Template ID.")
    sourcezoneid: Annotated[str | None, Ref("Zone", "read")] = Field(
        None, description="ID of the zone the template is currently hosted on. If not specified and template is "
        "cross-zone, then we will sync this template to region wide image store.")
    destzoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="ID of the zone the template "
                                                                   "is being copied to.")
    destzoneids: list[str] | None = Field(None, description="A list of IDs of the zones that the template needs to "
                                          "be copied to.Specify this list if the template needs to copied to "
                                          "multiple zones in one go. Do not specify destzoneid and destzoneids "
                                          "together, however one of them is required.")


def copy_impl(ctx: CallContext, p: CopyTemplateParams) -> TemplateResp:
    t: Template = ctx.refs["id"]
    if p.destzoneid and p.destzoneids:
        raise ParamError("Either destzoneid or destzoneids parameters have to be specified, not both")
    dests = zones_param(ctx, p.destzoneid, p.destzoneids)
    if not dests:
        raise ParamError("Either destzoneid or destzoneids parameters have to be specified")
    for z in dests:
        svc.copy(ctx.session, t, ctx.refs.get("sourcezoneid"), z)
    return rows_for(ctx, t, dests[0])[0]


@api_command("copyTemplate", params=CopyTemplateParams, is_async=True, result_key="template",
             response=TemplateResp, event="TEMPLATE.COPY", entity="Template",
             description="Copies a template from one zone to another.")
def copy_template(ctx: CallContext, p: CopyTemplateParams) -> TemplateResp:
    return copy_impl(ctx, p)


# ------------------------------------------------------------------------------------------------ create

class CreateTemplateParams(Params):
    name: str = Field(description="the name of the template")
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="The display text of the template, defaults to the 'name'.")
    ostypeid: Uuid = Field(description="the ID of the OS Type that best represents the OS of this template.")
    volumeid: Uuid | None = Field(None, description="the ID of the disk volume the template is being created from. "
                                 "Either this parameter, or snapshotId has to be passed in")
    snapshotid: Uuid | None = Field(None, description="the ID of the snapshot the template is being created from. "
                                   "Either this parameter, or volumeId has to be passed in")
    virtualmachineid: Uuid | None = Field(None, description="Optional, VM ID. If this presents, it is going to "
                                         "create a baremetal template for VM this ID refers to.")
    ispublic: bool = Field(False, description="true if this template is a public template, false otherwise")
    isfeatured: bool = Field(False, description="true if this template is a featured template, false otherwise")
    isextractable: bool = Field(False, description="true if the template supports the extractable feature")
    passwordenabled: bool = Field(False, description="true if the template supports the password reset feature; "
                                  "default is false")
    sshkeyenabled: bool = Field(False, description="true if the template supports the sshkey upload feature")
    requireshvm: bool = Field(True, description="true if the template requres HVM, false otherwise")
    isdynamicallyscalable: bool = Field(False, description="true if template contains XS/VMWare tools inorder to "
                                        "support dynamic scaling of VM cpu/memory")
    bits: int | None = Field(None, description="32 or 64 bit")
    templatetag: str | None = Field(None, description="the tag for this template.")
    details: MapParam | None = Field(None, description="Template details in key/value pairs using format "
                                     "details[i].keyname=keyvalue.")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the zone for the template. Can be "
                                                               "specified with snapshot only")
    account: str | None = Field(None, description="an optional accountName. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId. If the "
                                                                   "account parameter is used, domainId must also "
                                                                   "be used.")
    projectid: Uuid | None = Field(None, description="create template for the project")


def _sources(ctx: CallContext, p: CreateTemplateParams) -> tuple[Volume | None, Snapshot | None]:
    # access.resolve loads the storage modules that register Volume and Snapshot when they are not in yet
    vol = access.resolve(ctx.session, ctx.caller, "Volume", p.volumeid, "read") if p.volumeid else None
    snap = access.resolve(ctx.session, ctx.caller, "Snapshot", p.snapshotid, "read") if p.snapshotid else None
    return vol, snap


def _create_template_row(ctx: CallContext, p: CreateTemplateParams) -> str:
    vol, snap = _sources(ctx, p)
    svc.check_source_volume(vol, snap)
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    limits.check(ctx.session, owner, {"template": 1})
    if p.isfeatured and not ctx.caller.is_root_admin:
        raise ParamError("Only admins can create featured templates")
    source_vol = vol or ctx.session.get(Volume, snap.volume_id)  # type: ignore[union-attr]
    src_tmpl = ctx.session.get(Template, source_vol.template_id) if source_vol and source_vol.template_id else None
    hyper = None
    if snap is not None and snap.hypervisor_type:
        hyper = snap.hypervisor_type
    elif source_vol is not None and source_vol.instance_id is not None:
        from management.models.compute import VirtualMachine

        vm = ctx.session.get(VirtualMachine, source_vol.instance_id)
        hyper = vm.hypervisor_type if vm else None
    if hyper is None and src_tmpl is not None:
        hyper = src_tmpl.hypervisor_type
    if hyper is None and source_vol is not None and source_vol.pool_id is not None:
        pool = ctx.session.get(StoragePool, source_vol.pool_id)
        if pool is not None:
            cl = ctx.session.get(Cluster, pool.cluster_id) if pool.cluster_id else None
            hyper = cl.hypervisor_type if cl is not None else pool.hypervisor
    fmt = (source_vol.format if source_vol else "QCOW2").upper()
    t = Template(name=p.name, display_text=p.displaytext or p.name, format=fmt if fmt != "ISO" else "QCOW2",
                 hypervisor_type=hyper, template_type="USER", os_type_id=os_type(ctx, p.ostypeid),
                 account_id=owner.id, domain_id=owner.domain_id, is_public=p.ispublic, is_featured=p.isfeatured,
                 is_extractable=p.isextractable, password_enabled=p.passwordenabled,
                 sshkey_enabled=p.sshkeyenabled, requires_hvm=p.requireshvm, bootable=True,
                 source_template_id=src_tmpl.id if src_tmpl else None, source_volume_id=vol.id if vol else None,
                 source_snapshot_id=snap.id if snap else None, state="Inactive", size=source_vol.size if source_vol
                 else None, details_json=json.dumps(_details(p.details)) if p.details else None)
    ctx.session.add(t)
    ctx.session.flush()
    return t.uuid


@api_command("createTemplate", params=CreateTemplateParams, is_async=True, result_key="template",
             response=TemplateResp, event="TEMPLATE.CREATE", entity="Template", create=_create_template_row,
             description="Creates a template of a virtual machine. The virtual machine must be in a STOPPED state. "
             "A template created from this command is automatically designated as a private template visible to "
             "the account that created it.")
def create_template(ctx: CallContext, p: CreateTemplateParams) -> TemplateResp:
    t = ctx.session.scalar(select(Template).where(Template.uuid == ctx.created_uuid))
    if t is None:
        raise invalid_id(ctx.created_uuid or "")
    vol, snap = _sources(ctx, p)
    # On failure the row stays Inactive with no copy in any store: no list shows it (CloudStack keeps it too).
    ref = svc.fill_from_volume(ctx.session, t, vol, snap)
    return template_resp(ctx, t, ref)


# ------------------------------------------------------------------------------------------------ extract

class ExtractTemplateParams(Params):
    id: Annotated[str, Ref("Template", "read")] = Field(description="the ID of the template")
    mode: str = Field(description="the mode of extraction - HTTP_DOWNLOAD or FTP_UPLOAD")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the zone where the ISO "
                                                               "is originally located")
    url: Annotated[str | None, ParamInfo(length=2048)] = Field(
        None, description="the url to which the ISO would be extracted")


def extract_impl(ctx: CallContext, p: ExtractTemplateParams) -> ExtractResp:
    t: Template = ctx.refs["id"]
    if p.mode.upper() != "HTTP_DOWNLOAD":
        raise ParamError("Please specify a valid extract Mode; only HTTP_DOWNLOAD is supported")
    if not t.is_extractable and not access.can_access_owner(ctx.session, ctx.caller, t.account_id, t.domain_id):
        raise PermissionDenied(f"The template {t.uuid} is not extractable")
    zone = ctx.refs.get("zoneid")
    ref = svc.ready_ref(ctx.session, t, zone.id) if zone is not None else ctx.session.scalar(
        select(TemplateStoreRef).where(TemplateStoreRef.template_id == t.id,
                                       TemplateStoreRef.download_state == svc.DOWNLOADED).limit(1))
    if ref is None:
        raise ParamError(f"The template {t.uuid} is not ready to be extracted")
    z = ctx.session.get(Zone, ref.zone_id)
    acct = ctx.session.get(Account, t.account_id)
    url = transfers.template_extract_url(ctx.session, ctx.runtime, ref)  # served by this management server
    return ExtractResp(id=t.uuid, name=t.name, extractId=t.uuid, state="DOWNLOAD_URL_CREATED",
                       status="DOWNLOAD_URL_CREATED", uploadpercentage=100, url=url,
                       zoneid=z.uuid if z else None, zonename=z.name if z else None, extractMode="HTTP_DOWNLOAD",
                       accountid=acct.uuid if acct else None, created=t.created)


@api_command("extractTemplate", params=ExtractTemplateParams, is_async=True, result_key="template",
             response=ExtractResp, event="TEMPLATE.EXTRACT", entity="Template",
             description="Extracts a template (returns where its file can be read)")
def extract_template(ctx: CallContext, p: ExtractTemplateParams) -> ExtractResp:
    return extract_impl(ctx, p)
