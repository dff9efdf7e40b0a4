"""The guest OS catalogue beyond listing: add/update/remove guest OS types and OS categories, per-hypervisor
guest OS name mappings, and the guest OS names a hypervisor version knows."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, MapParam, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import OsCategoryResp, OsTypeResp
from management.api.cloudstack.schemas_tenancy import GuestOsMappingResp, HypervisorGuestOsNamesResp
from management.errors import ParamError, ResourceInUse
from management.models.compute import VirtualMachine
from management.models.governance import GuestOsMapping
from management.models.offerings import OsCategory, OsType
from management.models.storage import Template
from management.services import access
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate

access.register_entity("GuestOsMapping", GuestOsMapping, "public")


def ostype_resp(ctx: CallContext, o: OsType) -> OsTypeResp:
    cat = ctx.session.get_one(OsCategory, o.category_id)
    return OsTypeResp(id=o.uuid, name=o.name or o.display_name, description=o.display_name, oscategoryid=cat.uuid,
                      oscategoryname=cat.name, isuserdefined=bool(o.is_user_defined), fordisplay=o.for_display)


def category_resp(c: OsCategory) -> OsCategoryResp:
    return OsCategoryResp(id=c.uuid, name=c.name, isfeatured=c.is_featured)


def mapping_resp(ctx: CallContext, m: GuestOsMapping) -> GuestOsMappingResp:
    o = ctx.session.get_one(OsType, m.guest_os_id)
    return GuestOsMappingResp(id=m.uuid, hypervisor=m.hypervisor_type, hypervisorversion=m.hypervisor_version,
                              ostypeid=o.uuid, osdisplayname=o.display_name, osnameforhypervisor=m.guest_os_name,
                              isuserdefined=str(m.is_user_defined).lower())


# ------------------------------------------------------------------------------------------------ guest OS types

class AddGuestOsParams(Params):
    oscategoryid: Annotated[str, Ref("OsCategory", "read")] = Field(description="ID of Guest OS category")
    osdisplayname: str = Field(description="Unique display name for Guest OS")
    name: str | None = Field(None, description="Optional name for Guest OS")
    details: MapParam | None = Field(None, description="Map of (key/value pairs)")
    fordisplay: bool = Field(True, description="whether this guest OS is available for end users")


@api_command("addGuestOs", params=AddGuestOsParams, result_key="ostype", response=OsTypeResp, is_async=True,
             roles=ADMIN, event="GUEST.OS.ADD", entity="OsType", since="4.4.0",
             description="Add a new guest OS type")
def add_guest_os(ctx: CallContext, p: AddGuestOsParams) -> OsTypeResp:
    if ctx.session.scalar(select(OsType.id).where(func.lower(OsType.display_name) == p.osdisplayname.lower())):
        raise ParamError(f"The specified Guest OS name : {p.osdisplayname} already exists. Please specify a unique "
                         "name")
    o = OsType(display_name=p.osdisplayname, name=p.name, category_id=ctx.refs["oscategoryid"].id,
               is_user_defined=True, for_display=p.fordisplay)
    ctx.session.add(o)
    ctx.session.flush()
    return ostype_resp(ctx, o)


class UpdateGuestOsParams(Params):
    id: Annotated[str, Ref("OsType")] = Field(description="UUID of the Guest OS")
    osdisplayname: str | None = Field(None, description="Unique display name for Guest OS")
    details: MapParam | None = Field(None, description="Map of (key/value pairs)")
    fordisplay: bool | None = Field(None, description="whether this guest OS is available for end users")
    oscategoryid: Annotated[str | None, Ref("OsCategory", "read")] = Field(None, description="the ID of the OS "
                                                                           "category")


@api_command("updateGuestOs", params=UpdateGuestOsParams, result_key="ostype", response=OsTypeResp, is_async=True,
             roles=ADMIN, event="GUEST.OS.UPDATE", entity="OsType", since="4.4.0",
             description="Updates the information about Guest OS")
def update_guest_os(ctx: CallContext, p: UpdateGuestOsParams) -> OsTypeResp:
    o: OsType = ctx.refs["id"]
    if p.osdisplayname is not None and p.osdisplayname != o.display_name:
        if not o.is_user_defined:
            raise ParamError("Unable to modify system defined guest OS")
        o.display_name = p.osdisplayname
    if p.fordisplay is not None:
        o.for_display = p.fordisplay
    if p.oscategoryid is not None:
        o.category_id = ctx.refs["oscategoryid"].id
    return ostype_resp(ctx, o)


class GuestOsIdParams(Params):
    id: Annotated[str, Ref("OsType")] = Field(description="ID of the guest OS")


@api_command("removeGuestOs", params=GuestOsIdParams, is_async=True, roles=ADMIN, event="GUEST.OS.REMOVE",
             entity="OsType", since="4.4.0", description="Removes a Guest OS from listing.")
def remove_guest_os(ctx: CallContext, p: GuestOsIdParams) -> Success:
    o: OsType = ctx.refs["id"]
    if not o.is_user_defined:
        raise ParamError("Unable to remove system defined guest OS")
    s = ctx.session
    used = s.scalar(select(Template.id).where(Template.os_type_id == o.id).limit(1)) or s.scalar(
        select(VirtualMachine.id).where(VirtualMachine.os_type_id == o.id, VirtualMachine.removed.is_(None)).limit(1))
    if used:
        raise ResourceInUse(f"Guest OS {o.display_name} is used by templates or VMs", uuids=[o.uuid])
    for m in s.scalars(select(GuestOsMapping).where(GuestOsMapping.guest_os_id == o.id)):
        s.delete(m)
    s.delete(o)
    return Success()


# ------------------------------------------------------------------------------------------------ mappings

class ListGuestOsMappingParams(ListParams):
    id: Annotated[str | None, Ref("GuestOsMapping", "read")] = Field(None, description="list mapping by its UUID")
    ostypeid: Annotated[str | None, Ref("OsType", "read")] = Field(None, description="list mapping by Guest OS "
                                                                   "Type UUID")
    osdisplayname: str | None = Field(None, description="list Guest OS mapping by OS display name")
    osnameforhypervisor: str | None = Field(None, description="list Guest OS mapping by OS mapping name with "
                                            "hypervisor")
    hypervisor: str | None = Field(None, description="list Guest OS mapping by hypervisor")
    hypervisorversion: str | None = Field(None, description="list Guest OS mapping by hypervisor version. Must be "
                                          "used with hypervisor parameter")


@api_command("listGuestOsMapping", params=ListGuestOsMappingParams, result_key="guestosmapping",
             response=GuestOsMappingResp, roles=ADMIN, since="4.4.0",
             description="Lists all available OS mappings for given hypervisor")
def list_guest_os_mapping(ctx: CallContext, p: ListGuestOsMappingParams) -> ListResult:
    stmt = select(GuestOsMapping).where(GuestOsMapping.removed.is_(None))
    if p.id:
        stmt = stmt.where(GuestOsMapping.uuid == p.id)
    if p.ostypeid:
        stmt = stmt.where(GuestOsMapping.guest_os_id == ctx.refs["ostypeid"].id)
    if p.osdisplayname:
        stmt = stmt.where(GuestOsMapping.guest_os_id.in_(select(OsType.id).where(
            OsType.display_name == p.osdisplayname)))
    if p.osnameforhypervisor:
        stmt = stmt.where(GuestOsMapping.guest_os_name == p.osnameforhypervisor)
    if p.hypervisor:
        stmt = stmt.where(func.lower(GuestOsMapping.hypervisor_type) == p.hypervisor.lower())
    if p.hypervisorversion:
        if not p.hypervisor:
            raise ParamError("Hypervisor version parameter must be used along with hypervisor parameter")
        stmt = stmt.where(GuestOsMapping.hypervisor_version == p.hypervisorversion)
    stmt = keyword_filter(stmt, p.keyword, GuestOsMapping.guest_os_name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, GuestOsMapping.id)
    return ListResult([mapping_resp(ctx, m) for m in rows], count)


class AddGuestOsMappingParams(Params):
    ostypeid: Annotated[str | None, Ref("OsType", "read")] = Field(None, description="UUID of Guest OS type. Either "
                                                                   "the UUID or Display Name must be passed")
    osdisplayname: str | None = Field(None, description="Display Name of Guest OS standard type. Either Display "
                                      "Name or UUID must be passed")
    hypervisor: str = Field(description="Hypervisor type. One of : XenServer, KVM, VMWare")
    hypervisorversion: str = Field(description="Hypervisor version to create the mapping. Use 'default' for default "
                                   "versions. Please check hypervisor capabilities for correct version")
    osnameforhypervisor: str = Field(description="OS name specific to the hypervisor")
    osmappingcheckenabled: bool = Field(False, description="When set to true, checks for the correct guest os "
                                        "mapping name in the provided hypervisor (supports VMware and XenServer "
                                        "only. At least one hypervisor host with the version specified must be "
                                        "available. Default version will not work.)")
    forced: bool = Field(False, description="Forces add user defined guest os mapping, overrides any existing user "
                         "defined mapping")


@api_command("addGuestOsMapping", params=AddGuestOsMappingParams, result_key="guestosmapping",
             response=GuestOsMappingResp, is_async=True, roles=ADMIN, event="GUEST.OS.MAPPING.ADD",
             entity="GuestOsMapping", since="4.4.0",
             description="Adds a guest OS name to hypervisor OS name mapping")
def add_guest_os_mapping(ctx: CallContext, p: AddGuestOsMappingParams) -> GuestOsMappingResp:
    s = ctx.session
    os_type: OsType | None = ctx.refs.get("ostypeid")
    if os_type is None:
        if not p.osdisplayname:
            raise ParamError("Please specify either a guest OS name or UUID")
        os_type = s.scalar(select(OsType).where(OsType.display_name == p.osdisplayname))
        if os_type is None:
            raise ParamError(f"Unable to find the guest OS by name or UUID: {p.osdisplayname}")
    existing = s.scalar(select(GuestOsMapping).where(
        GuestOsMapping.guest_os_id == os_type.id, func.lower(GuestOsMapping.hypervisor_type) == p.hypervisor.lower(),
        GuestOsMapping.hypervisor_version == p.hypervisorversion, GuestOsMapping.removed.is_(None)))
    if existing is not None:
        if not p.forced:
            raise ParamError("Mapping from hypervisor : " + p.hypervisor + ", version : " + p.hypervisorversion
                             + " and guest OS : " + os_type.display_name + " already exists!")
        s.delete(existing)
        s.flush()
    m = GuestOsMapping(guest_os_id=os_type.id, hypervisor_type=p.hypervisor, hypervisor_version=p.hypervisorversion,
                       guest_os_name=p.osnameforhypervisor, is_user_defined=True)
    s.add(m)
    s.flush()
    return mapping_resp(ctx, m)


class UpdateGuestOsMappingParams(Params):
    id: Annotated[str, Ref("GuestOsMapping")] = Field(description="UUID of the Guest OS to hypervisor name Mapping")
    osnameforhypervisor: str = Field(description="Hypervisor specific name for this Guest OS")
    osmappingcheckenabled: bool = Field(False, description="When set to true, checks for the correct guest os "
                                        "mapping name in the provided hypervisor")


@api_command("updateGuestOsMapping", params=UpdateGuestOsMappingParams, result_key="guestosmapping",
             response=GuestOsMappingResp, is_async=True, roles=ADMIN, event="GUEST.OS.MAPPING.UPDATE",
             entity="GuestOsMapping", since="4.4.0",
             description="Updates the information about Guest OS to Hypervisor specific name mapping")
def update_guest_os_mapping(ctx: CallContext, p: UpdateGuestOsMappingParams) -> GuestOsMappingResp:
    m: GuestOsMapping = ctx.refs["id"]
    if not m.is_user_defined:
        raise ParamError("Unable to modify system defined Guest OS mapping")
    m.guest_os_name = p.osnameforhypervisor
    return mapping_resp(ctx, m)


class MappingIdParams(Params):
    id: Annotated[str, Ref("GuestOsMapping")] = Field(description="ID of the guest OS mapping")


@api_command("removeGuestOsMapping", params=MappingIdParams, is_async=True, roles=ADMIN,
             event="GUEST.OS.MAPPING.REMOVE", entity="GuestOsMapping", since="4.4.0",
             description="Removes a Guest OS Mapping.")
def remove_guest_os_mapping(ctx: CallContext, p: MappingIdParams) -> Success:
    m: GuestOsMapping = ctx.refs["id"]
    if not m.is_user_defined:
        raise ParamError("Unable to remove system defined Guest OS mapping")
    ctx.session.delete(m)
    return Success()


class HypervisorGuestOsNamesParams(Params):
    hypervisor: str = Field(description="Hypervisor type. One of : VMware, XenServer")
    hypervisorversion: str = Field(description="Hypervisor version to get the guest os names (atleast one hypervisor "
                                   "host with the version specified must be available)")
    keyword: str | None = Field(None, description="Keyword for guest os name")


@api_command("getHypervisorGuestOsNames", params=HypervisorGuestOsNamesParams, result_key="hypervisorguestosnames",
             response=HypervisorGuestOsNamesResp, is_async=True, roles=ADMIN, event="GUEST.OS.HYPERVISOR.NAME.FETCH",
             entity="GuestOsMapping", since="4.19.0",
             description="Gets the guest OS names in the hypervisor")
def get_hypervisor_guest_os_names(ctx: CallContext, p: HypervisorGuestOsNamesParams) -> HypervisorGuestOsNamesResp:
    if p.hypervisor.lower() not in ("vmware", "xenserver", "kvm", "simulator"):
        raise ParamError(f"Guest OS names can only be listed for VMware and XenServer hypervisors, not "
                         f"{p.hypervisor}")
    stmt = select(GuestOsMapping).where(func.lower(GuestOsMapping.hypervisor_type) == p.hypervisor.lower(),
                                        GuestOsMapping.hypervisor_version == p.hypervisorversion,
                                        GuestOsMapping.removed.is_(None))
    names = [{"osdisplayname": ctx.session.get_one(OsType, m.guest_os_id).display_name, "osnameforhypervisor":
              m.guest_os_name} for m in ctx.session.scalars(stmt.order_by(GuestOsMapping.id))]
    if p.keyword:
        names = [n for n in names if p.keyword.lower() in n["osnameforhypervisor"].lower()]
    return HypervisorGuestOsNamesResp(hypervisor=p.hypervisor, hypervisorversion=p.hypervisorversion,
                                      guestoslist=names, guestoscount=len(names))


# ------------------------------------------------------------------------------------------------ categories

class AddOsCategoryParams(Params):
    name: str = Field(description="Name of the OS category")
    isfeatured: bool = Field(False, description="Whether the category is featured or not")


@api_command("addOsCategory", params=AddOsCategoryParams, result_key="oscategory", response=OsCategoryResp,
             roles=ADMIN, event="GUEST.OS.CATEGORY.ADD", entity="OsCategory", since="4.21.0",
             description="Adds a new OS category")
def add_os_category(ctx: CallContext, p: AddOsCategoryParams) -> OsCategoryResp:
    if ctx.session.scalar(select(OsCategory.id).where(func.lower(OsCategory.name) == p.name.lower())):
        raise ParamError(f"An OS category with name {p.name} already exists")
    c = OsCategory(name=p.name, is_featured=p.isfeatured)
    ctx.session.add(c)
    ctx.session.flush()
    return category_resp(c)


class UpdateOsCategoryParams(Params):
    id: Annotated[str, Ref("OsCategory")] = Field(description="ID of the OS category")
    name: str | None = Field(None, description="Name for the OS category")
    isfeatured: bool | None = Field(None, description="Whether the category is featured or not")
    sortkey: int | None = Field(None, description="sort key of the OS category for listing")


@api_command("updateOsCategory", params=UpdateOsCategoryParams, result_key="oscategory", response=OsCategoryResp,
             roles=ADMIN, event="GUEST.OS.CATEGORY.UPDATE", entity="OsCategory", since="4.21.0",
             description="Updates an OS category")
def update_os_category(ctx: CallContext, p: UpdateOsCategoryParams) -> OsCategoryResp:
    c: OsCategory = ctx.refs["id"]
    if p.name is not None:
        c.name = p.name
    if p.isfeatured is not None:
        c.is_featured = p.isfeatured
    if p.sortkey is not None:
        c.sort_key = p.sortkey
    return category_resp(c)


class DeleteOsCategoryParams(Params):
    id: Annotated[str, Ref("OsCategory")] = Field(description="ID of the OS category")


@api_command("deleteOsCategory", params=DeleteOsCategoryParams, roles=ADMIN, event="GUEST.OS.CATEGORY.DELETE",
             entity="OsCategory", since="4.21.0", description="Deletes an OS category")
def delete_os_category(ctx: CallContext, p: DeleteOsCategoryParams) -> Success:
    c: OsCategory = ctx.refs["id"]
    if ctx.session.scalar(select(OsType.id).where(OsType.category_id == c.id).limit(1)):
        raise ResourceInUse(f"Unable to delete OS category {c.name} as it is used by guest OS types",
                            uuids=[c.uuid])
    ctx.session.delete(c)
    return Success()
