"""Volumes: createVolume, attachVolume, detachVolume, resizeVolume, deleteVolume, listVolumes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import Long, Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_compute import VolumeResp
from management.api.cloudstack.tagview import tag_views
from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import StoragePool, Zone
from management.models.offerings import DiskOffering, ServiceOffering
from management.models.storage import Template, Volume
from management.services import access, tags
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.hypervisors import GiB
from management.services.listing import keyword_filter, paginate, rows_by_id, same_name, tags_filter
from management.services.storage import volumes as volumes_service

access.register_entity("Volume", Volume, "owned")
tags.register("Volume", "Volume")


def volume_responses(ctx: CallContext, vols: Sequence[Volume]) -> list[VolumeResp]:
    s = ctx.session
    vms = rows_by_id(s, VirtualMachine, {v.instance_id for v in vols})
    zones = rows_by_id(s, Zone, {v.zone_id for v in vols})
    pools = rows_by_id(s, StoragePool, {v.pool_id for v in vols})
    dos = rows_by_id(s, DiskOffering, {v.disk_offering_id for v in vols})
    sos = rows_by_id(s, ServiceOffering, {vm.service_offering_id for vm in vms.values()})
    tmpls = rows_by_id(s, Template, {v.template_id for v in vols})
    accounts = rows_by_id(s, Account, {v.account_id for v in vols})
    domains = rows_by_id(s, Domain, {v.domain_id for v in vols})
    by_tags = tags.tags_of(s, "Volume", [v.uuid for v in vols])
    admin = ctx.caller.is_root_admin
    out = []
    for v in vols:
        vm, z, pool, do = vms.get(v.instance_id), zones.get(v.zone_id), pools.get(v.pool_id), \
            dos.get(v.disk_offering_id)
        so = sos.get(vm.service_offering_id) if vm is not None and v.volume_type == "ROOT" else None
        t = tmpls.get(v.template_id)
        acct, dom = accounts.get(v.account_id), domains.get(v.domain_id)
        out.append(VolumeResp(
            id=v.uuid, name=v.name, type=v.volume_type, state=v.state, size=v.size,
            deviceid=v.device_id if vm is not None else None, virtualmachineid=vm.uuid if vm else None,
            vmname=vm.name if vm else None, vmdisplayname=(vm.display_name or vm.name) if vm else None,
            vmstate=vm.state if vm else None, diskofferingid=do.uuid if do else None,
            diskofferingname=do.name if do else None, diskofferingdisplaytext=do.display_text if do else None,
            serviceofferingid=so.uuid if so else None, serviceofferingname=so.name if so else None,
            storageid=pool.uuid if pool and admin else None, storage=pool.name if pool else None,
            storagetype="local" if pool is not None and pool.scope == "HOST" else "shared",
            zoneid=z.uuid if z else None, zonename=z.name if z else None, account=acct.name if acct else None,
            domainid=dom.uuid if dom else None, domain=dom.name if dom else None, created=v.created,
            attached=v.attached if vm else None, destroyed=v.state in ("Destroy", "Expunging", "Expunged"),
            path=v.path if admin else None, hypervisor=vm.hypervisor_type if vm else None,
            provisioningtype=v.provisioning_type, templateid=t.uuid if t else None, displayvolume=v.display_volume,
            tags=tag_views(ctx.session, by_tags.get(v.uuid)),
        ))
    return out


def _reload(ctx: CallContext, vol_id: int) -> VolumeResp:
    ctx.session.expire_all()
    return vm_service.done(ctx.session, volume_responses(ctx, [ctx.session.get_one(Volume, vol_id)])[0])


class CreateVolumeParams(Params):
    name: str | None = Field(None, description="the name of the disk volume")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(
        None, description="the ID of the availability zone")
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="the ID of the disk offering. Either diskOfferingId or snapshotId must be passed in.")
    size: Long | None = Field(None, description="Arbitrary volume size (GB)")
    snapshotid: Annotated[str | None, Ref("Snapshot", "read")] = Field(
        None, description="the snapshot ID for the disk volume. Either diskOfferingId or snapshotId must be passed "
        "in.")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine")] = Field(
        None, description="the ID of the virtual machine; to be used with snapshot Id, VM to which the volume gets "
        "attached after creation")
    account: str | None = Field(None, description="the account associated with the disk volume. Must be used with "
                                "the domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="the domain ID associated with the disk offering. If used with the account parameter "
        "returns the disk volume associated with the account for the specified domain.")
    projectid: Uuid | None = Field(None, description="the project associated with the volume. Mutually exclusive "
                                  "with account parameter")
    displayvolume: bool = Field(True, description="an optional field, whether to display the volume to the end user "
                                "or not.")
    miniops: Long | None = Field(None, description="min iops")
    maxiops: Long | None = Field(None, description="max iops")


def _create_volume(ctx: CallContext, p: CreateVolumeParams) -> str:
    s = ctx.session
    owner = access.owner_for(s, ctx.caller, p.account, p.domainid, p.projectid)
    zone = ctx.refs.get("zoneid")
    vm = ctx.refs.get("virtualmachineid")
    snap = ctx.refs.get("snapshotid")
    if zone is None:
        if vm is not None:
            zone = s.get_one(Zone, vm.zone_id)
        elif snap is not None:
            zone = s.get_one(Zone, snap.zone_id)
        else:
            raise ParamError("Please specify a zone (zoneid)")
    vol = volumes_service.create(s, owner, zone, name=p.name, offering=ctx.refs.get("diskofferingid"),
                                 size_gb=p.size, snapshot=snap)
    vol.display_volume = p.displayvolume
    return vol.uuid


@api_command("createVolume", params=CreateVolumeParams, result_key="volume", is_async=True, create=_create_volume,
             entity="Volume", event="VOLUME.CREATE", response=VolumeResp,
             description="Creates a disk volume from a disk offering. This disk volume must still be attached to a "
             "virtual machine to make use of it.")
def create_volume(ctx: CallContext, p: CreateVolumeParams) -> VolumeResp:
    vol = ctx.session.scalar(select(Volume).where(Volume.uuid == ctx.created_uuid))
    assert vol is not None
    vm = ctx.refs.get("virtualmachineid")
    vol_id, vm_id = vol.id, vm.id if vm else None
    vm_service.release(ctx.session)
    if vm_id is not None:
        volumes_service.attach(ctx.runtime, vol_id, vm_id)
    return _reload(ctx, vol_id)


class AttachVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="the ID of the disk volume")
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(
        description="the ID of the virtual machine")
    deviceid: Long | None = Field(None, description="The ID of the device to map the volume to the guest OS. If no "
                                 "deviceID is informed, the next available deviceID will be chosen.")


@api_command("attachVolume", params=AttachVolumeParams, result_key="volume", is_async=True, entity="Volume",
             event="VOLUME.ATTACH", response=VolumeResp, description="Attaches a disk volume to a virtual machine.")
def attach_volume(ctx: CallContext, p: AttachVolumeParams) -> VolumeResp:
    vol, vm = ctx.refs["id"], ctx.refs["virtualmachineid"]
    if vol.account_id != vm.account_id:
        raise ParamError("Volume and VM must belong to the same account")
    vol_id, vm_id = vol.id, vm.id
    vm_service.release(ctx.session)
    volumes_service.attach(ctx.runtime, vol_id, vm_id, p.deviceid)
    return _reload(ctx, vol_id)


class DetachVolumeParams(Params):
    id: Annotated[str | None, Ref("Volume")] = Field(None, description="the ID of the disk volume")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine")] = Field(
        None, description="the ID of the virtual machine where the volume is detached from")
    deviceid: Long | None = Field(None, description="the device ID on the virtual machine where volume is detached "
                                 "from")


@api_command("detachVolume", params=DetachVolumeParams, result_key="volume", is_async=True, entity="Volume",
             event="VOLUME.DETACH", response=VolumeResp, description="Detaches a disk volume from a virtual machine.")
def detach_volume(ctx: CallContext, p: DetachVolumeParams) -> VolumeResp:
    vol = ctx.refs.get("id")
    if vol is None:
        vm = ctx.refs.get("virtualmachineid")
        if vm is None or p.deviceid is None:
            raise ParamError("Please provide either a volume id, or a tuple(device id, instance id)")
        vol = ctx.session.scalar(select(Volume).where(Volume.instance_id == vm.id, Volume.device_id == p.deviceid,
                                                      Volume.removed.is_(None)))
        if vol is None:
            raise ParamError(f"Unable to find volume with device id {p.deviceid} on VM {vm.uuid}")
    if vol.instance_id is None:
        raise ParamError(f"Volume {vol.uuid} is not attached to any VM")
    vol_id = vol.id
    vm_service.release(ctx.session)
    volumes_service.detach(ctx.runtime, vol_id)
    return _reload(ctx, vol_id)


class ResizeVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="the ID of the disk volume")
    size: Long | None = Field(None, description="New volume size in GB")
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="new disk offering id")
    shrinkok: bool = Field(False, description="Verify OK to Shrink")
    miniops: Long | None = Field(None, description="New minimum number of IOPS")
    maxiops: Long | None = Field(None, description="New maximum number of IOPS")


@api_command("resizeVolume", params=ResizeVolumeParams, result_key="volume", is_async=True, entity="Volume",
             event="VOLUME.RESIZE", response=VolumeResp, description="Resizes a volume")
def resize_volume(ctx: CallContext, p: ResizeVolumeParams) -> VolumeResp:
    vol = ctx.refs["id"]
    offering = ctx.refs.get("diskofferingid")
    if p.size is not None:
        if p.size <= 0:
            raise ParamError("Invalid size: it must be a positive number of GB")
        new = p.size * GiB
    elif offering is not None and not offering.customized:
        new = offering.disk_size
    else:
        raise ParamError("Please specify the new size (size) or a disk offering with a fixed size")
    vol_id = vol.id
    vm_service.release(ctx.session)
    volumes_service.resize(ctx.runtime, vol_id, new, shrink_ok=p.shrinkok, offering=offering)
    return _reload(ctx, vol_id)


class DeleteVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="The ID of the disk volume")


@api_command("deleteVolume", params=DeleteVolumeParams, entity="Volume", event="VOLUME.DELETE",
             description="Deletes a detached disk volume.")
def delete_volume(ctx: CallContext, p: DeleteVolumeParams) -> Success:
    vol = ctx.refs["id"]
    vol_id = vol.id
    vm_service.release(ctx.session)
    volumes_service.delete(ctx.runtime, vol_id)
    return vm_service.done(ctx.session, Success())


class ListVolumesParams(TaggedListParams):
    id: Annotated[str | None, Ref("Volume", "read")] = Field(None, description="the ID of the disk volume")
    ids: list[str] | None = Field(None, description="the IDs of the volumes, mutually exclusive with id")
    name: str | None = Field(None, description="the name of the disk volume")
    type: str | None = Field(None, description="the type of disk volume")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="the ID of the virtual machine")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the availability zone")
    storageid: str | None = Field(None, description="the ID of the storage pool, available to ROOT admin only")
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="list volumes by disk offering")
    state: str | None = Field(None, description="state of the volume. Possible values are: Ready, Allocated, "
                              "Destroy, Expunging, Expunged.")
    hostid: Uuid | None = Field(None, description="list volumes on specified host")
    podid: Uuid | None = Field(None, description="the pod id the disk volume belongs to")
    clusterid: Uuid | None = Field(None, description="the cluster id the disk volume belongs to")
    displayvolume: bool | None = Field(None, description="list resources by display flag; only ROOT admin is "
                                       "eligible to pass this parameter")


@api_command("listVolumes", params=ListVolumesParams, result_key="volume", response=VolumeResp,
             description="Lists all volumes.")
def list_volumes(ctx: CallContext, p: ListVolumesParams) -> ListResult:
    s = ctx.session
    stmt = select(Volume).where(Volume.removed.is_(None))
    stmt = access.owned_filter(s, stmt, Volume, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(Volume.uuid == p.id)
    if p.ids:
        stmt = stmt.where(Volume.uuid.in_(p.ids))
    if p.name:
        stmt = stmt.where(same_name(Volume.name, p.name))
    if p.type:
        stmt = stmt.where(Volume.volume_type == p.type.upper())
    if p.virtualmachineid:
        stmt = stmt.where(Volume.instance_id == ctx.refs["virtualmachineid"].id)
    if p.zoneid:
        stmt = stmt.where(Volume.zone_id == ctx.refs["zoneid"].id)
    if p.diskofferingid:
        stmt = stmt.where(Volume.disk_offering_id == ctx.refs["diskofferingid"].id)
    if p.state:
        stmt = stmt.where(Volume.state == p.state)
    if p.storageid and ctx.caller.is_root_admin:
        stmt = stmt.where(Volume.pool_id.in_(select(StoragePool.id).where(StoragePool.uuid == p.storageid)))
    if p.displayvolume is not None and ctx.caller.is_root_admin:
        stmt = stmt.where(Volume.display_volume == p.displayvolume)
    stmt = keyword_filter(stmt, p.keyword, Volume.name)
    stmt = tags_filter(stmt, p.tags, "Volume", Volume.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, Volume.id)
    return ListResult(volume_responses(ctx, rows), count)
