"""The GPU catalogue: cards, their vGPU profiles and hosts' GPU devices, with the rules CloudStack keeps between
them (a card in use by a profile or device cannot go, a device given to a VM cannot be removed or unmanaged).

Devices are what an operator registers (createGpuDevice) or what a host reports (discoverGpuDevices). The hosts
here have no GPU: discovery finds nothing new, so a host's list is what was registered for it."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError
from management.models.gpu import GpuCard, GpuDevice, VgpuProfile
from management.models.infra import Host

DEVICE_TYPES = ("PCI", "MDEV", "VGPUOnly")
_Row = TypeVar("_Row", GpuCard, VgpuProfile, GpuDevice)
PASSTHROUGH = "passthrough"  # the profile every card gets: the whole card given to one VM


def _live(model: type[_Row]) -> Select[_Row]:
    return select(model).where(model.removed.is_(None))


def create_card(s: Session, *, device_id: str, device_name: str, name: str, vendor_name: str, vendor_id: str,
                video_ram: int | None) -> GpuCard:
    for label, value in (("device ID", device_id), ("device name", device_name), ("name", name),
                         ("vendor name", vendor_name), ("vendor ID", vendor_id)):
        if not value.strip():
            raise ParamError(f"GPU card {label} cannot be empty")
    dup = s.scalars(_live(GpuCard).where(GpuCard.vendor_id == vendor_id, GpuCard.device_id == device_id)).first()
    if dup is not None:
        raise ParamError(f"GPU card with vendor ID {vendor_id} and device ID {device_id} already exists")
    if video_ram is not None and video_ram < 0:
        raise ParamError("Video RAM must be a positive number")
    card = GpuCard(device_id=device_id, device_name=device_name, name=name, vendor_name=vendor_name,
                   vendor_id=vendor_id)
    s.add(card)
    s.flush()
    # every card can be passed through whole: CloudStack creates that profile with the card
    s.add(VgpuProfile(name=PASSTHROUGH, description=PASSTHROUGH, card_id=card.id, max_vgpu_per_pgpu=1,
                      video_ram=video_ram))
    s.flush()
    return card


def delete_card(s: Session, card: GpuCard) -> None:
    if s.scalar(select(func.count()).select_from(GpuDevice).where(GpuDevice.card_id == card.id,
                                                                  GpuDevice.removed.is_(None))):
        raise ParamError(f"Cannot delete GPU card {card.name} as it is in use by GPU devices")
    now = utcnow()
    for profile in s.scalars(_live(VgpuProfile).where(VgpuProfile.card_id == card.id)):
        profile.removed = now
    card.removed = now
    s.flush()


def create_profile(s: Session, card: GpuCard, *, name: str, description: str | None, max_per_gpu: int | None,
                   video_ram: int | None, max_heads: int | None, res_x: int | None, res_y: int | None) -> VgpuProfile:
    if not name.strip():
        raise ParamError("vGPU profile name cannot be empty")
    _check_numbers(max_per_gpu, video_ram, max_heads, res_x, res_y)
    if s.scalars(_live(VgpuProfile).where(VgpuProfile.card_id == card.id, VgpuProfile.name == name)).first():
        raise ParamError(f"vGPU profile with name {name} already exists for GPU card {card.name}")
    profile = VgpuProfile(name=name, description=description, card_id=card.id, max_vgpu_per_pgpu=max_per_gpu,
                          video_ram=video_ram, max_heads=max_heads, max_resolution_x=res_x, max_resolution_y=res_y)
    s.add(profile)
    s.flush()
    return profile


def _check_numbers(*values: int | None) -> None:
    if any(v is not None and v < 0 for v in values):
        raise ParamError("vGPU profile limits (max vGPUs per GPU, video RAM, heads, resolution) cannot be negative")


def update_profile(s: Session, profile: VgpuProfile, *, name: str | None, description: str | None,
                   max_per_gpu: int | None, video_ram: int | None, max_heads: int | None, res_x: int | None,
                   res_y: int | None) -> VgpuProfile:
    _check_numbers(max_per_gpu, video_ram, max_heads, res_x, res_y)
    if name is not None and name != profile.name:
        if not name.strip():
            raise ParamError("vGPU profile name cannot be empty")
        if s.scalars(_live(VgpuProfile).where(VgpuProfile.card_id == profile.card_id,
                                              VgpuProfile.name == name)).first():
            raise ParamError(f"vGPU profile with name {name} already exists for this GPU card")
        profile.name = name
    for attr, value in (("description", description), ("max_vgpu_per_pgpu", max_per_gpu), ("video_ram", video_ram),
                        ("max_heads", max_heads), ("max_resolution_x", res_x), ("max_resolution_y", res_y)):
        if value is not None:
            setattr(profile, attr, value)
    s.flush()
    return profile


def delete_profile(s: Session, profile: VgpuProfile) -> None:
    if s.scalar(select(func.count()).select_from(GpuDevice).where(GpuDevice.vgpu_profile_id == profile.id,
                                                                  GpuDevice.removed.is_(None))):
        raise ParamError(f"Cannot delete vGPU profile {profile.name} as it is in use by GPU devices")
    profile.removed = utcnow()
    s.flush()


def _check_device_fields(s: Session, card: GpuCard, profile: VgpuProfile, device_type: str | None,
                         parent: GpuDevice | None, host_id: int) -> None:
    if profile.card_id != card.id:
        raise ParamError(f"vGPU profile {profile.name} does not belong to GPU card {card.name}")
    if device_type is not None and device_type not in DEVICE_TYPES:
        raise ParamError(f"Invalid GPU device type: {device_type}. Valid values are: {', '.join(DEVICE_TYPES)}")
    if parent is not None and parent.host_id != host_id:
        raise ParamError("The parent GPU device must be on the same host")


def create_device(s: Session, host: Host, card: GpuCard, profile: VgpuProfile, *, bus_address: str,
                  device_type: str | None, parent: GpuDevice | None, numa_node: str | None) -> GpuDevice:
    if host.type != "Routing":
        raise ParamError(f"Host {host.name} is not a routing host; GPU devices belong to hypervisor hosts")
    if not bus_address.strip():
        raise ParamError("GPU device bus address cannot be empty")
    _check_device_fields(s, card, profile, device_type, parent, host.id)
    dup = s.scalars(_live(GpuDevice).where(GpuDevice.host_id == host.id, GpuDevice.bus_address == bus_address))
    if dup.first() is not None:
        raise ParamError(f"GPU device with bus address {bus_address} already exists on host {host.name}")
    device = GpuDevice(host_id=host.id, bus_address=bus_address, card_id=card.id, vgpu_profile_id=profile.id,
                       device_type=device_type or "PCI", parent_device_id=parent.id if parent else None,
                       numa_node=numa_node)
    s.add(device)
    s.flush()
    return device


def update_device(s: Session, device: GpuDevice, *, card: GpuCard | None, profile: VgpuProfile | None,
                  device_type: str | None, parent: GpuDevice | None, numa_node: str | None) -> GpuDevice:
    if device.vm_id is not None:
        raise ParamError(f"GPU device {device.uuid} is allocated to a VM and cannot be updated")
    new_card = card or s.get_one(GpuCard, device.card_id)
    new_profile = profile or s.get_one(VgpuProfile, device.vgpu_profile_id)
    if card is not None and profile is None and new_profile.card_id != new_card.id:
        raise ParamError("A vGPU profile of the new GPU card is required when the GPU card changes")
    if parent is not None and parent.id == device.id:
        raise ParamError("A GPU device cannot be its own parent")
    _check_device_fields(s, new_card, new_profile, device_type, parent, device.host_id)
    device.card_id, device.vgpu_profile_id = new_card.id, new_profile.id
    if device_type is not None:
        device.device_type = device_type
    if parent is not None:
        device.parent_device_id = parent.id
    if numa_node is not None:
        device.numa_node = numa_node
    s.flush()
    return device


def _not_in_use(devices: list[GpuDevice], action: str) -> None:
    for d in devices:
        if d.vm_id is not None:
            raise ParamError(f"GPU device {d.uuid} is allocated to a VM and cannot be {action}")


def delete_devices(s: Session, devices: list[GpuDevice]) -> None:
    _not_in_use(devices, "deleted")
    for d in devices:
        d.removed = utcnow()
    s.flush()


def set_managed(s: Session, devices: list[GpuDevice], managed: bool) -> None:
    if not managed:
        _not_in_use(devices, "unmanaged")
    for d in devices:
        d.managed_state = "Managed" if managed else "Unmanaged"
    s.flush()
