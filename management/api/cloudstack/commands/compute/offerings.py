"""Service and disk offerings: create, update, delete, list (listing is open to every role)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ListParams,
    Long,
    MapParam,
    ParamInfo,
    Params,
    Ref,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_infra import DiskOfferingResp, ServiceOfferingResp
from management.models.compute import VirtualMachine
from management.models.offerings import DiskOffering, ServiceOffering
from management.services import access
from management.services.compute import offering_io, offerings
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name

GiB = 1024 ** 3

access.register_entity("ServiceOffering", ServiceOffering, "public")
access.register_entity("DiskOffering", DiskOffering, "public")


def so_resp(o: ServiceOffering) -> ServiceOfferingResp:
    return ServiceOfferingResp(
        id=o.uuid, name=o.name, displaytext=o.display_text, cpunumber=o.cpu, cpuspeed=o.speed, memory=o.ram_size,
        storagetype=o.storage_type, offerha=o.offer_ha, limitcpuuse=o.limit_cpu_use, hosttags=o.host_tag,
        storagetags=o.tags, tags=o.tags, iscustomized=o.customized, issystem=o.is_system,
        systemvmtype=o.system_vm_type, defaultuse=False,
        rootdisksize=o.root_disk_size // GiB if o.root_disk_size else None,
        zoneid=o.zone_ids, domainid=o.domain_ids, state=o.state, created=o.created,
        encryptroot=o.encrypt_root, **offering_io.response_fields(o),
    )


def do_resp(o: DiskOffering) -> DiskOfferingResp:
    return DiskOfferingResp(id=o.uuid, name=o.name, displaytext=o.display_text, disksize=o.disk_size // GiB,
                            iscustomized=o.customized, storagetype=o.storage_type,
                            provisioningtype=o.provisioning_type, tags=o.tags, miniops=o.min_iops,
                            maxiops=o.max_iops, zoneid=o.zone_ids, domainid=o.domain_ids, state=o.state,
                            created=o.created, encrypt=o.encrypt, **offering_io.response_fields(o))


# ---- service offerings ------------------------------------------------------------------------------------------

class CreateServiceOfferingParams(Params):
    name: str = Field(description="the name of the service offering")
    displaytext: str | None = Field(None, description="The display text of the service offering, defaults to "
                                    "'name'.")
    cpunumber: int | None = Field(None, description="the CPU number of the service offering")
    cpuspeed: int | None = Field(None, description="the CPU speed of the service offering in MHz.")
    memory: int | None = Field(None, description="the total memory of the service offering in MB")
    customized: bool | None = Field(None, description="Whether service offering size is custom or not")
    storagetype: str | None = Field(None, description="the storage type of the service offering. Values are local "
                                    "and shared.")
    hosttags: str | None = Field(None, description="the host tag for this service offering.")
    tags: str | None = Field(None, description="the tags for this service offering.")
    offerha: bool = Field(False, description="the HA for the service offering")
    limitcpuuse: bool = Field(False, description="restrict the CPU usage to committed service offering")
    issystem: bool = Field(False, description="is this a system vm offering")
    systemvmtype: str | None = Field(None, description="the system VM type. Possible types are \"domainrouter\", "
                                     "\"consoleproxy\" and \"secondarystoragevm\".")
    rootdisksize: Long | None = Field(None, description="the Root disk size in GB.")
    isvolatile: bool | None = Field(None, description="true if the virtual machine needs to be volatile so that on "
                                    "every reboot of VM, original root disk is dettached then destroyed and a fresh "
                                    "root disk is created and attached to VM")
    provisioningtype: str | None = Field(None, description="provisioning type used to create volumes. Valid "
                                         "values are thin, sparse, fat.")
    domainid: list[str] | None = Field(None, description="the ID of the containing domain(s), null for public "
                                       "offerings")
    zoneid: list[str] | None = Field(None, description="the ID of the containing zone(s), null for public "
                                     "offerings")
    deploymentplanner: str | None = Field(None, description="The deployment planner heuristics used to deploy a VM "
                                          "of this offering. If null, value of global config "
                                          "vm.deployment.planner is used")
    networkrate: int | None = Field(None, description="data transfer rate in megabits per second allowed. Supported "
                                    "only for non-System offering and system offerings having \"domainrouter\" "
                                    "systemvmtype")
    serviceofferingdetails: MapParam | None = Field(None, description="details for planner, used to store "
                                                    "specific parameters")
    cachemode: str | None = Field(None, description="the cache mode to use for this disk offering. none, writeback, "
                                  "writethrough or hypervisor_default. If the hypervisor default cache mode is "
                                  "required, hypervisor_default can be used")
    bytesreadrate: Long | None = Field(None, description="bytes read rate of the disk offering")
    byteswriterate: Long | None = Field(None, description="bytes write rate of the disk offering")
    iopsreadrate: Long | None = Field(None, description="io requests read rate of the disk offering")
    iopswriterate: Long | None = Field(None, description="io requests write rate of the disk offering")
    encryptroot: bool = Field(False, description="VMs using this offering require root volume encryption")


@api_command("createServiceOffering", params=CreateServiceOfferingParams, result_key="serviceoffering",
             response=ServiceOfferingResp, roles=ADMIN, event="SERVICE.OFFERING.CREATE", entity="ServiceOffering",
             description="Creates a service offering.")
def create_service_offering(ctx: CallContext, p: CreateServiceOfferingParams) -> ServiceOfferingResp:
    so = offerings.create_service_offering(
        ctx.session, name=p.name, displaytext=p.displaytext, cpunumber=p.cpunumber, cpuspeed=p.cpuspeed,
        memory=p.memory, customized=p.customized, storagetype=p.storagetype, hosttags=p.hosttags, tags=p.tags,
        offerha=p.offerha, limitcpuuse=p.limitcpuuse, issystem=p.issystem, systemvmtype=p.systemvmtype,
        rootdisksize=p.rootdisksize)
    offering_io.apply(so, cachemode=p.cachemode, bytesreadrate=p.bytesreadrate, byteswriterate=p.byteswriterate,
                      iopsreadrate=p.iopsreadrate, iopswriterate=p.iopswriterate)
    so.encrypt_root = p.encryptroot
    if p.zoneid:
        so.zone_ids = ",".join(p.zoneid)
    if p.domainid:
        so.domain_ids = ",".join(p.domainid)
    return so_resp(so)


class UpdateServiceOfferingParams(Params):
    id: Annotated[str, Ref("ServiceOffering")] = Field(description="the ID of the service offering to be updated")
    name: str | None = Field(None, description="the name of the service offering to be updated")
    displaytext: str | None = Field(None, description="the display text of the service offering to be updated")
    sortkey: int | None = Field(None, description="sort key of the service offering, integer")
    hosttags: str | None = Field(None, description="comma-separated list of host tags for the service offering.")
    storagetags: str | None = Field(None, description="comma-separated list of tags for the service offering, tags "
                                    "should match with existing storage pool tags")


@api_command("updateServiceOffering", params=UpdateServiceOfferingParams, result_key="serviceoffering",
             response=ServiceOfferingResp, roles=ADMIN, event="SERVICE.OFFERING.EDIT", entity="ServiceOffering",
             description="Updates a service offering.")
def update_service_offering(ctx: CallContext, p: UpdateServiceOfferingParams) -> ServiceOfferingResp:
    return so_resp(offerings.update_service_offering(ctx.session, ctx.refs["id"], name=p.name,
                                                     displaytext=p.displaytext, hosttags=p.hosttags,
                                                     storagetags=p.storagetags, sortkey=p.sortkey))


class DeleteOfferingParams(Params):
    id: Annotated[str, Ref("ServiceOffering")] = Field(description="the ID of the service offering")


@api_command("deleteServiceOffering", params=DeleteOfferingParams, roles=ADMIN, event="SERVICE.OFFERING.DELETE",
             entity="ServiceOffering", description="Deletes a service offering.")
def delete_service_offering(ctx: CallContext, p: DeleteOfferingParams) -> Success:
    offerings.delete_service_offering(ctx.session, ctx.refs["id"])
    return Success()


class ListServiceOfferingsParams(ListParams):
    id: Annotated[str | None, Ref("ServiceOffering", "read")] = Field(None, description="ID of the service "
                                                                      "offering")
    name: str | None = Field(None, description="name of the service offering")
    issystem: bool | None = Field(None, description="is this a system vm offering")
    systemvmtype: str | None = Field(None, description="the system VM type. Possible types are \"consoleproxy\", "
                                     "\"secondarystoragevm\" or \"domainrouter\".")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the ID of the domain "
                                                                   "associated with the service offering")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="id of zone disk offering is "
                                                               "associated with")
    virtualmachineid: Uuid | None = Field(None, description="the ID of the virtual machine. Pass this in if you want "
                                         "to see the available service offering that a virtual machine can be "
                                         "changed to.")
    isrecursive: bool = Field(False, description="defaults to false, but if true, lists all resources from the "
                              "parent specified by the domainId till leaves.")
    listall: bool = Field(False, description="If set to false, list only resources belonging to the command's "
                          "caller; if set to true - list resources that the caller is authorized to see.")
    cpunumber: int | None = Field(None, description="the CPU number that listed offerings must support")
    memory: int | None = Field(None, description="the RAM memory that listed offering must support")
    cpuspeed: int | None = Field(None, description="the CPU speed that listed offerings must support")


@api_command("listServiceOfferings", params=ListServiceOfferingsParams, result_key="serviceoffering",
             response=ServiceOfferingResp, description="Lists all available service offerings.")
def list_service_offerings(ctx: CallContext, p: ListServiceOfferingsParams) -> ListResult:
    stmt = select(ServiceOffering).where(ServiceOffering.removed.is_(None))
    if p.id:
        stmt = stmt.where(ServiceOffering.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(ServiceOffering.name, p.name))
    stmt = stmt.where(ServiceOffering.is_system.is_(bool(p.issystem)))
    if p.systemvmtype:
        stmt = stmt.where(ServiceOffering.system_vm_type == p.systemvmtype)
    if p.zoneid:
        z = ctx.refs["zoneid"].uuid
        stmt = stmt.where(ServiceOffering.zone_ids.is_(None) | ServiceOffering.zone_ids.contains(z))
    if p.cpunumber is not None:
        stmt = stmt.where(ServiceOffering.customized.is_(True) | (ServiceOffering.cpu >= p.cpunumber))
    if p.memory is not None:
        stmt = stmt.where(ServiceOffering.customized.is_(True) | (ServiceOffering.ram_size >= p.memory))
    if p.cpuspeed is not None:
        stmt = stmt.where(ServiceOffering.customized.is_(True) | (ServiceOffering.speed >= p.cpuspeed))
    if p.virtualmachineid:
        vm = ctx.session.scalar(select(VirtualMachine).where(VirtualMachine.uuid == p.virtualmachineid))
        if vm is not None:
            stmt = stmt.where(ServiceOffering.id != vm.service_offering_id)
    if not ctx.caller.is_root_admin:
        stmt = stmt.where(ServiceOffering.domain_ids.is_(None) |
                          ServiceOffering.domain_ids.contains(ctx.caller.domain_uuid))
    stmt = keyword_filter(stmt, p.keyword, ServiceOffering.name, ServiceOffering.display_text)
    rows, count = paginate(ctx.session, stmt.order_by(ServiceOffering.sort_key), p.page, p.pagesize,
                           ServiceOffering.id)
    return ListResult([so_resp(r) for r in rows], count)


# ---- disk offerings ---------------------------------------------------------------------------------------------

class CreateDiskOfferingParams(Params):
    name: str = Field(description="name of the disk offering")
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="An alternate display text of the disk offering, defaults "
                                    "to 'name'.")
    disksize: Long | None = Field(None, description="size of the disk offering in GB (1GB = 1,073,741,824 bytes)")
    customized: bool | None = Field(None, description="whether disk offering size is custom or not")
    storagetype: str | None = Field(None, description="the storage type of the disk offering. Values are local and "
                                    "shared.")
    tags: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="tags for the disk offering")
    provisioningtype: str | None = Field(None, description="provisioning type used to create volumes. Valid values "
                                         "are thin, sparse, fat.")
    miniops: Long | None = Field(None, description="min iops of the disk offering")
    maxiops: Long | None = Field(None, description="max iops of the disk offering")
    domainid: list[str] | None = Field(None, description="the ID of the containing domain(s), null for public "
                                       "offerings")
    zoneid: list[str] | None = Field(None, description="the ID of the containing zone(s), null for public "
                                     "offerings")
    cachemode: str | None = Field(None, description="the cache mode to use for this disk offering. none, writeback, "
                                  "writethrough or hypervisor_default. If the hypervisor default cache mode is "
                                  "required, hypervisor_default can be used")
    bytesreadrate: Long | None = Field(None, description="bytes read rate of the disk offering")
    byteswriterate: Long | None = Field(None, description="bytes write rate of the disk offering")
    iopsreadrate: Long | None = Field(None, description="io requests read rate of the disk offering")
    iopswriterate: Long | None = Field(None, description="io requests write rate of the disk offering")
    encrypt: bool = Field(False, description="Volumes using this offering should be encrypted")


@api_command("createDiskOffering", params=CreateDiskOfferingParams, result_key="diskoffering",
             response=DiskOfferingResp, roles=ADMIN, event="DISK.OFFERING.CREATE", entity="DiskOffering",
             description="Creates a disk offering.")
def create_disk_offering(ctx: CallContext, p: CreateDiskOfferingParams) -> DiskOfferingResp:
    do = offerings.create_disk_offering(ctx.session, name=p.name, displaytext=p.displaytext, disksize=p.disksize,
                                        customized=p.customized, storagetype=p.storagetype, tags=p.tags,
                                        provisioningtype=p.provisioningtype, miniops=p.miniops, maxiops=p.maxiops)
    offering_io.apply(do, cachemode=p.cachemode, bytesreadrate=p.bytesreadrate, byteswriterate=p.byteswriterate,
                      iopsreadrate=p.iopsreadrate, iopswriterate=p.iopswriterate)
    do.encrypt = p.encrypt
    if p.zoneid:
        do.zone_ids = ",".join(p.zoneid)
    if p.domainid:
        do.domain_ids = ",".join(p.domainid)
    return do_resp(do)


class UpdateDiskOfferingParams(Params):
    id: Annotated[str, Ref("DiskOffering")] = Field(description="ID of the disk offering")
    name: str | None = Field(
        None, description="updates name of the disk offering with this value")
    displaytext: Annotated[str | None, ParamInfo(length=4096)] = Field(
        None, description="updates alternate display text of the disk offering with "
                                    "this value")
    sortkey: int | None = Field(None, description="sort key of the disk offering, integer")
    tags: str | None = Field(None, description="comma-separated list of tags for the disk offering, tags should "
                             "match with existing storage pool tags")


@api_command("updateDiskOffering", params=UpdateDiskOfferingParams, result_key="diskoffering",
             response=DiskOfferingResp, roles=ADMIN, event="DISK.OFFERING.EDIT", entity="DiskOffering",
             description="Updates a disk offering.")
def update_disk_offering(ctx: CallContext, p: UpdateDiskOfferingParams) -> DiskOfferingResp:
    return do_resp(offerings.update_disk_offering(ctx.session, ctx.refs["id"], name=p.name,
                                                  displaytext=p.displaytext, tags=p.tags, sortkey=p.sortkey))


class DeleteDiskOfferingParams(Params):
    id: Annotated[str, Ref("DiskOffering")] = Field(description="ID of the disk offering")


@api_command("deleteDiskOffering", params=DeleteDiskOfferingParams, roles=ADMIN, event="DISK.OFFERING.DELETE",
             entity="DiskOffering", description="Updates a disk offering.")
def delete_disk_offering(ctx: CallContext, p: DeleteDiskOfferingParams) -> Success:
    offerings.delete_disk_offering(ctx.session, ctx.refs["id"])
    return Success()


class ListDiskOfferingsParams(ListParams):
    id: Annotated[str | None, Ref("DiskOffering", "read")] = Field(None, description="ID of the disk offering")
    name: str | None = Field(None, description="name of the disk offering")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the ID of the domain of the "
                                                                   "disk offering.")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="id of zone disk offering is "
                                                               "associated with")
    isrecursive: bool = Field(False, description="defaults to false, but if true, lists all resources from the "
                              "parent specified by the domainId till leaves.")
    listall: bool = Field(False, description="If set to false, list only resources belonging to the command's "
                          "caller; if set to true - list resources that the caller is authorized to see.")
    volumeid: Uuid | None = Field(None, description="The ID of the volume, tags of the volume are used to filter "
                                 "the offerings")
    storageid: Uuid | None = Field(None, description="The ID of the storage pool, tags of the storage pool are used "
                                  "to filter the offerings")


@api_command("listDiskOfferings", params=ListDiskOfferingsParams, result_key="diskoffering",
             response=DiskOfferingResp, description="Lists all available disk offerings.")
def list_disk_offerings(ctx: CallContext, p: ListDiskOfferingsParams) -> ListResult:
    stmt = select(DiskOffering).where(DiskOffering.removed.is_(None))
    if p.id:
        stmt = stmt.where(DiskOffering.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(DiskOffering.name, p.name))
    if p.zoneid:
        z = ctx.refs["zoneid"].uuid
        stmt = stmt.where(DiskOffering.zone_ids.is_(None) | DiskOffering.zone_ids.contains(z))
    if not ctx.caller.is_root_admin:
        stmt = stmt.where(DiskOffering.domain_ids.is_(None) | DiskOffering.domain_ids.contains(ctx.caller.domain_uuid))
    stmt = keyword_filter(stmt, p.keyword, DiskOffering.name, DiskOffering.display_text)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, DiskOffering.id)
    return ListResult([do_resp(r) for r in rows], count)
