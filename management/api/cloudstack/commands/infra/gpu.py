"""GPU catalogue (4.21+): createGpuCard/listGpuCards/updateGpuCard/deleteGpuCard, the vGPU profiles of a card, and
hosts' GPU devices (create, list, update, delete, manage, unmanage, discover). The catalogue is kept for real;
these hosts have no GPU, so discovery adds nothing and no VM is ever given a device."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ApiType,
    ListParams,
    Long,
    Params,
    Ref,
    api_command,
)
from management.api.cloudstack.schemas_platform import JobResp
from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.gpu import GpuCard, GpuDevice, VgpuProfile
from management.models.infra import Host
from management.services import access
from management.services.context import CallContext
from management.services.infra import gpu
from management.services.listing import keyword_filter, paginate, rows_by_id

access.register_entity("GpuCard", GpuCard, "public")
access.register_entity("VgpuProfile", VgpuProfile, "public")
access.register_entity("GpuDevice", GpuDevice, "public")

_SINCE = "4.21.0"


class GpuCardResp(JobResp):
    id: str = Field(description="the ID of the GPU card")
    deviceid: str = Field(description="the device ID of the GPU card")
    devicename: str = Field(description="the device name of the GPU card")
    name: str = Field(description="the display name of the GPU card")
    vendorname: str = Field(description="the vendor name of the GPU card")
    vendorid: str = Field(description="the vendor ID of the GPU card")


def card_resp(c: GpuCard) -> GpuCardResp:
    return GpuCardResp(id=c.uuid, deviceid=c.device_id, devicename=c.device_name, name=c.name,
                       vendorname=c.vendor_name, vendorid=c.vendor_id)


class VgpuProfileResp(GpuCardResp):
    description: str | None = Field(None, description="the description of the vGPU profile")
    gpucardid: str | None = Field(None, description="the ID of the GPU card of the profile")
    gpucardname: str | None = Field(None, description="the name of the GPU card of the profile")
    maxvgpuperphysicalgpu: int | None = Field(None, description="the maximum number of vGPUs per physical GPU")
    videoram: int | None = Field(None, description="the video RAM of a vGPU of this profile, in MiB")
    maxheads: int | None = Field(None, description="the maximum number of displays of a vGPU of this profile")
    maxresolutionx: int | None = Field(None, description="the maximum horizontal resolution of a vGPU")
    maxresolutiony: int | None = Field(None, description="the maximum vertical resolution of a vGPU")


def profile_resp(p: VgpuProfile, card: GpuCard) -> VgpuProfileResp:
    return VgpuProfileResp(id=p.uuid, name=p.name, description=p.description, gpucardid=card.uuid,
                           gpucardname=card.name, deviceid=card.device_id, devicename=card.device_name,
                           vendorname=card.vendor_name, vendorid=card.vendor_id,
                           maxvgpuperphysicalgpu=p.max_vgpu_per_pgpu, videoram=p.video_ram, maxheads=p.max_heads,
                           maxresolutionx=p.max_resolution_x, maxresolutiony=p.max_resolution_y)


class GpuDeviceResp(JobResp):
    id: str = Field(description="the ID of the GPU device")
    busaddress: str = Field(description="the PCI bus address of the GPU device")
    gpudevicetype: str = Field(description="the type of the GPU device: PCI, MDEV or VGPUOnly")
    hostid: str | None = Field(None, description="the ID of the host of the GPU device")
    hostname: str | None = Field(None, description="the name of the host of the GPU device")
    gpucardid: str | None = Field(None, description="the ID of the GPU card of the device")
    gpucardname: str | None = Field(None, description="the name of the GPU card of the device")
    vgpuprofileid: str | None = Field(None, description="the ID of the vGPU profile of the device")
    vgpuprofilename: str | None = Field(None, description="the name of the vGPU profile of the device")
    virtualmachineid: str | None = Field(None, description="the ID of the VM the device is allocated to")
    virtualmachinename: str | None = Field(None, description="the name of the VM the device is allocated to")
    vmstate: str | None = Field(None, description="the state of the VM the device is allocated to")
    state: str = Field(description="the state of the GPU device: Free, Allocated, PartiallyAllocated or Error")
    managedstate: str = Field(description="whether the GPU device is Managed or Unmanaged")
    parentgpudeviceid: str | None = Field(None, description="the ID of the parent GPU device (of a vGPU)")
    numanode: str | None = Field(None, description="the NUMA node of the GPU device")


def _device_resps(ctx: CallContext, devices: list[GpuDevice]) -> list[GpuDeviceResp]:
    s = ctx.session
    hosts = rows_by_id(s, Host, (d.host_id for d in devices))
    cards = rows_by_id(s, GpuCard, (d.card_id for d in devices))
    profiles = rows_by_id(s, VgpuProfile, (d.vgpu_profile_id for d in devices))
    vms = rows_by_id(s, VirtualMachine, (d.vm_id for d in devices))
    parents = rows_by_id(s, GpuDevice, (d.parent_device_id for d in devices))
    out = []
    for d in devices:
        h, c, p, vm, parent = (hosts.get(d.host_id), cards.get(d.card_id), profiles.get(d.vgpu_profile_id),
                               vms.get(d.vm_id), parents.get(d.parent_device_id))
        out.append(GpuDeviceResp(
            id=d.uuid, busaddress=d.bus_address, gpudevicetype=d.device_type, hostid=h.uuid if h else None,
            hostname=h.name if h else None, gpucardid=c.uuid if c else None, gpucardname=c.name if c else None,
            vgpuprofileid=p.uuid if p else None, vgpuprofilename=p.name if p else None,
            virtualmachineid=vm.uuid if vm else None, virtualmachinename=vm.name if vm else None,
            vmstate=vm.state if vm else None, state=d.state, managedstate=d.managed_state,
            parentgpudeviceid=parent.uuid if parent else None, numanode=d.numa_node))
    return out


# ---- cards ------------------------------------------------------------------------------------------------------

class CreateGpuCardParams(Params):
    deviceid: str = Field(description="the device ID of the GPU card (PCI, e.g. 0x2236)")
    devicename: str = Field(description="the device name of the GPU card")
    name: str = Field(description="the display name of the GPU card")
    vendorname: str = Field(description="the vendor name of the GPU card")
    vendorid: str = Field(description="the vendor ID of the GPU card (PCI, e.g. 10de)")
    videoram: Long | None = Field(None, description="the video RAM of the GPU card in MiB, used by its passthrough "
                                  "profile")


@api_command("createGpuCard", params=CreateGpuCardParams, result_key="gpucard", response=GpuCardResp, roles=ADMIN,
             entity="GpuCard", event="GPU.CARD.CREATE", since=_SINCE,
             description="Creates a GPU card definition, with its passthrough vGPU profile.")
def create_gpu_card(ctx: CallContext, p: CreateGpuCardParams) -> GpuCardResp:
    return card_resp(gpu.create_card(ctx.session, device_id=p.deviceid, device_name=p.devicename, name=p.name,
                                     vendor_name=p.vendorname, vendor_id=p.vendorid, video_ram=p.videoram))


class UpdateGpuCardParams(Params):
    id: Annotated[str, Ref("GpuCard")] = Field(description="the ID of the GPU card")
    devicename: str | None = Field(None, description="the new device name of the GPU card")
    name: str | None = Field(None, description="the new display name of the GPU card")
    vendorname: str | None = Field(None, description="the new vendor name of the GPU card")


@api_command("updateGpuCard", params=UpdateGpuCardParams, result_key="gpucard", response=GpuCardResp, roles=ADMIN,
             entity="GpuCard", event="GPU.CARD.EDIT", since=_SINCE, description="Updates a GPU card definition.")
def update_gpu_card(ctx: CallContext, p: UpdateGpuCardParams) -> GpuCardResp:
    card: GpuCard = ctx.refs["id"]
    for attr, value in (("device_name", p.devicename), ("name", p.name), ("vendor_name", p.vendorname)):
        if value is not None:
            if not value.strip():
                raise ParamError(f"GPU card {attr.replace('_', ' ')} cannot be empty")
            setattr(card, attr, value)
    ctx.session.flush()
    return card_resp(card)


class DeleteGpuCardParams(Params):
    id: Annotated[str, Ref("GpuCard")] = Field(description="the ID of the GPU card")


@api_command("deleteGpuCard", params=DeleteGpuCardParams, roles=ADMIN, entity="GpuCard", event="GPU.CARD.DELETE",
             since=_SINCE, description="Deletes a GPU card definition and its vGPU profiles.")
def delete_gpu_card(ctx: CallContext, p: DeleteGpuCardParams) -> Success:
    gpu.delete_card(ctx.session, ctx.refs["id"])
    return Success()


class ListGpuCardsParams(ListParams):
    id: Annotated[str | None, Ref("GpuCard", "read")] = Field(None, description="the ID of the GPU card")
    vendorname: str | None = Field(None, description="the vendor name of the GPU card")
    vendorid: str | None = Field(None, description="the vendor ID of the GPU card")
    deviceid: str | None = Field(None, description="the device ID of the GPU card")
    devicename: str | None = Field(None, description="the device name of the GPU card")
    activeonly: bool | None = Field(None, description="only the cards that have GPU devices on some host")


@api_command("listGpuCards", params=ListGpuCardsParams, result_key="gpucard", response=GpuCardResp, since=_SINCE,
             description="Lists the GPU card definitions.")
def list_gpu_cards(ctx: CallContext, p: ListGpuCardsParams) -> ListResult:
    stmt = select(GpuCard).where(GpuCard.removed.is_(None))
    for col, value in ((GpuCard.id, ctx.refs["id"].id if p.id else None), (GpuCard.vendor_name, p.vendorname),
                       (GpuCard.vendor_id, p.vendorid), (GpuCard.device_id, p.deviceid),
                       (GpuCard.device_name, p.devicename)):
        if value is not None:
            stmt = stmt.where(col == value)
    if p.activeonly:
        stmt = stmt.where(GpuCard.id.in_(select(GpuDevice.card_id).where(GpuDevice.removed.is_(None))))
    stmt = keyword_filter(stmt, p.keyword, GpuCard.name, GpuCard.device_name, GpuCard.vendor_name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, GpuCard.id)
    return ListResult([card_resp(c) for c in rows], count)


# ---- vGPU profiles ----------------------------------------------------------------------------------------------

class _ProfileLimits(Params):
    description: str | None = Field(None, description="the description of the vGPU profile")
    maxvgpuperphysicalgpu: Long | None = Field(None, description="the maximum number of vGPUs per physical GPU")
    videoram: Long | None = Field(None, description="the video RAM of a vGPU in MiB")
    maxheads: Long | None = Field(None, description="the maximum number of displays of a vGPU")
    maxresolutionx: Long | None = Field(None, description="the maximum horizontal resolution of a vGPU")
    maxresolutiony: Long | None = Field(None, description="the maximum vertical resolution of a vGPU")


class CreateVgpuProfileParams(_ProfileLimits):
    name: str = Field(description="the name of the vGPU profile")
    gpucardid: Annotated[str, Ref("GpuCard")] = Field(description="the ID of the GPU card the profile splits")


@api_command("createVgpuProfile", params=CreateVgpuProfileParams, result_key="vgpuprofile",
             response=VgpuProfileResp, roles=ADMIN, entity="VgpuProfile", event="VGPU.PROFILE.CREATE", since=_SINCE,
             description="Creates a vGPU profile of a GPU card.")
def create_vgpu_profile(ctx: CallContext, p: CreateVgpuProfileParams) -> VgpuProfileResp:
    card: GpuCard = ctx.refs["gpucardid"]
    profile = gpu.create_profile(ctx.session, card, name=p.name, description=p.description,
                                 max_per_gpu=p.maxvgpuperphysicalgpu, video_ram=p.videoram, max_heads=p.maxheads,
                                 res_x=p.maxresolutionx, res_y=p.maxresolutiony)
    return profile_resp(profile, card)


class UpdateVgpuProfileParams(_ProfileLimits):
    id: Annotated[str, Ref("VgpuProfile")] = Field(description="the ID of the vGPU profile")
    name: str | None = Field(None, description="the new name of the vGPU profile")


@api_command("updateVgpuProfile", params=UpdateVgpuProfileParams, result_key="vgpuprofile",
             response=VgpuProfileResp, roles=ADMIN, entity="VgpuProfile", event="VGPU.PROFILE.EDIT", since=_SINCE,
             description="Updates a vGPU profile.")
def update_vgpu_profile(ctx: CallContext, p: UpdateVgpuProfileParams) -> VgpuProfileResp:
    profile = gpu.update_profile(ctx.session, ctx.refs["id"], name=p.name, description=p.description,
                                 max_per_gpu=p.maxvgpuperphysicalgpu, video_ram=p.videoram, max_heads=p.maxheads,
                                 res_x=p.maxresolutionx, res_y=p.maxresolutiony)
    return profile_resp(profile, ctx.session.get_one(GpuCard, profile.card_id))


class DeleteVgpuProfileParams(Params):
    id: Annotated[str, Ref("VgpuProfile")] = Field(description="the ID of the vGPU profile")


@api_command("deleteVgpuProfile", params=DeleteVgpuProfileParams, roles=ADMIN, entity="VgpuProfile",
             event="VGPU.PROFILE.DELETE", since=_SINCE, description="Deletes a vGPU profile.")
def delete_vgpu_profile(ctx: CallContext, p: DeleteVgpuProfileParams) -> Success:
    gpu.delete_profile(ctx.session, ctx.refs["id"])
    return Success()


class ListVgpuProfilesParams(ListParams):
    id: Annotated[str | None, Ref("VgpuProfile", "read")] = Field(None, description="the ID of the vGPU profile")
    name: str | None = Field(None, description="the name of the vGPU profile")
    gpucardid: Annotated[str | None, Ref("GpuCard", "read")] = Field(None, description="the ID of the GPU card")
    activeonly: bool | None = Field(None, description="only the profiles that GPU devices of some host use")


@api_command("listVgpuProfiles", params=ListVgpuProfilesParams, result_key="vgpuprofile", response=VgpuProfileResp,
             since=_SINCE, description="Lists vGPU profiles.")
def list_vgpu_profiles(ctx: CallContext, p: ListVgpuProfilesParams) -> ListResult:
    stmt = select(VgpuProfile).where(VgpuProfile.removed.is_(None))
    if p.id:
        stmt = stmt.where(VgpuProfile.id == ctx.refs["id"].id)
    if p.name is not None:
        stmt = stmt.where(VgpuProfile.name == p.name)
    if p.gpucardid:
        stmt = stmt.where(VgpuProfile.card_id == ctx.refs["gpucardid"].id)
    if p.activeonly:
        stmt = stmt.where(VgpuProfile.id.in_(select(GpuDevice.vgpu_profile_id).where(GpuDevice.removed.is_(None))))
    stmt = keyword_filter(stmt, p.keyword, VgpuProfile.name, VgpuProfile.description)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VgpuProfile.id)
    cards = rows_by_id(ctx.session, GpuCard, (r.card_id for r in rows))
    return ListResult([profile_resp(r, cards[r.card_id]) for r in rows], count)


# ---- devices ----------------------------------------------------------------------------------------------------

class _DeviceFields(Params):
    type: str | None = Field(None, description="the type of the GPU device: PCI (default), MDEV or VGPUOnly")
    parentgpudeviceid: Annotated[str | None, Ref("GpuDevice")] = Field(
        None, description="the ID of the parent GPU device (for a vGPU)")
    numanode: str | None = Field(None, description="the NUMA node of the GPU device")


class CreateGpuDeviceParams(_DeviceFields):
    hostid: Annotated[str, Ref("Host")] = Field(description="the ID of the host the GPU device is in")
    busaddress: str = Field(description="the PCI bus address of the GPU device (e.g. 00:1e.0)")
    gpucardid: Annotated[str, Ref("GpuCard")] = Field(description="the ID of the GPU card of the device")
    vgpuprofileid: Annotated[str, Ref("VgpuProfile")] = Field(description="the ID of the vGPU profile of the device")


@api_command("createGpuDevice", params=CreateGpuDeviceParams, result_key="gpudevice", response=GpuDeviceResp,
             roles=ADMIN, entity="GpuDevice", event="GPU.DEVICE.CREATE", since=_SINCE,
             description="Registers a GPU device of a host.")
def create_gpu_device(ctx: CallContext, p: CreateGpuDeviceParams) -> GpuDeviceResp:
    device = gpu.create_device(ctx.session, ctx.refs["hostid"], ctx.refs["gpucardid"], ctx.refs["vgpuprofileid"],
                               bus_address=p.busaddress, device_type=p.type,
                               parent=ctx.refs.get("parentgpudeviceid"), numa_node=p.numanode)
    return _device_resps(ctx, [device])[0]


class UpdateGpuDeviceParams(_DeviceFields):
    id: Annotated[str, Ref("GpuDevice")] = Field(description="the ID of the GPU device")
    gpucardid: Annotated[str | None, Ref("GpuCard")] = Field(None, description="the ID of the new GPU card")
    vgpuprofileid: Annotated[str | None, Ref("VgpuProfile")] = Field(None, description="the ID of the new vGPU "
                                                                      "profile")


@api_command("updateGpuDevice", params=UpdateGpuDeviceParams, result_key="gpudevice", response=GpuDeviceResp,
             roles=ADMIN, entity="GpuDevice", event="GPU.DEVICE.EDIT", since=_SINCE,
             description="Updates a GPU device of a host.")
def update_gpu_device(ctx: CallContext, p: UpdateGpuDeviceParams) -> GpuDeviceResp:
    device = gpu.update_device(ctx.session, ctx.refs["id"], card=ctx.refs.get("gpucardid"),
                               profile=ctx.refs.get("vgpuprofileid"), device_type=p.type,
                               parent=ctx.refs.get("parentgpudeviceid"), numa_node=p.numanode)
    return _device_resps(ctx, [device])[0]


class GpuDeviceIdsParams(Params):
    ids: Annotated[list[str], Ref("GpuDevice"), ApiType("list")] = Field(description="the IDs of the GPU devices")


@api_command("deleteGpuDevice", params=GpuDeviceIdsParams, roles=ADMIN, entity="GpuDevice",
             event="GPU.DEVICE.DELETE", since=_SINCE, description="Deletes GPU devices of hosts.")
def delete_gpu_device(ctx: CallContext, p: GpuDeviceIdsParams) -> Success:
    gpu.delete_devices(ctx.session, ctx.refs["ids"])
    return Success()


@api_command("manageGpuDevice", params=GpuDeviceIdsParams, roles=ADMIN, entity="GpuDevice",
             event="GPU.DEVICE.MANAGE", since=_SINCE,
             description="Puts GPU devices under management: they can be allocated to VMs again.")
def manage_gpu_device(ctx: CallContext, p: GpuDeviceIdsParams) -> Success:
    gpu.set_managed(ctx.session, ctx.refs["ids"], True)
    return Success()


@api_command("unmanageGpuDevice", params=GpuDeviceIdsParams, roles=ADMIN, entity="GpuDevice",
             event="GPU.DEVICE.UNMANAGE", since=_SINCE,
             description="Takes GPU devices out of management: they are no longer allocated to VMs.")
def unmanage_gpu_device(ctx: CallContext, p: GpuDeviceIdsParams) -> Success:
    gpu.set_managed(ctx.session, ctx.refs["ids"], False)
    return Success()


class ListGpuDevicesParams(ListParams):
    id: Annotated[str | None, Ref("GpuDevice", "read")] = Field(None, description="the ID of the GPU device")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="the ID of the host")
    gpucardid: Annotated[str | None, Ref("GpuCard", "read")] = Field(None, description="the ID of the GPU card")
    vgpuprofileid: Annotated[str | None, Ref("VgpuProfile", "read")] = Field(None, description="the ID of the vGPU "
                                                                              "profile")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="the ID of the VM the devices are allocated to")


def _list_devices(ctx: CallContext, p: ListGpuDevicesParams | DiscoverGpuDevicesParams,
                  host: Host | None) -> ListResult:
    stmt = select(GpuDevice).where(GpuDevice.removed.is_(None))
    refs = ctx.refs
    if host is not None:
        stmt = stmt.where(GpuDevice.host_id == host.id)
    if isinstance(p, ListGpuDevicesParams):
        for col, name in ((GpuDevice.id, "id"), (GpuDevice.card_id, "gpucardid"),
                          (GpuDevice.vgpu_profile_id, "vgpuprofileid"), (GpuDevice.vm_id, "virtualmachineid")):
            if getattr(p, name):
                stmt = stmt.where(col == refs[name].id)
        if not ctx.caller.is_admin:  # a user sees the devices of its own VMs only
            mine = select(VirtualMachine.id).where(VirtualMachine.account_id == ctx.caller.account_id)
            stmt = stmt.where(GpuDevice.vm_id.in_(mine))
    stmt = keyword_filter(stmt, p.keyword, GpuDevice.bus_address)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, GpuDevice.id)
    return ListResult(_device_resps(ctx, rows), count)


@api_command("listGpuDevices", params=ListGpuDevicesParams, result_key="gpudevice", response=GpuDeviceResp,
             since=_SINCE, description="Lists GPU devices of hosts (a user: those of its VMs).")
def list_gpu_devices(ctx: CallContext, p: ListGpuDevicesParams) -> ListResult:
    return _list_devices(ctx, p, ctx.refs.get("hostid"))


class DiscoverGpuDevicesParams(ListParams):
    id: Annotated[str, Ref("Host")] = Field(description="the ID of the host to discover GPU devices on")


@api_command("discoverGpuDevices", params=DiscoverGpuDevicesParams, result_key="gpudevice", response=GpuDeviceResp,
             roles=ADMIN, entity="Host", event="GPU.DEVICE.DISCOVER", since=_SINCE,
             description="Asks a host for its GPU devices and lists them; these hosts have none to report.")
def discover_gpu_devices(ctx: CallContext, p: DiscoverGpuDevicesParams) -> ListResult:
    return _list_devices(ctx, p, ctx.refs["id"])
