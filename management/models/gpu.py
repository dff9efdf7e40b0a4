"""GPU catalogue (CloudStack 4.21+): the card models an operator declares, the vGPU profiles each card can be split
into, and the GPU devices of hosts (a physical card at a PCI bus address, or a vGPU/MIG slice of one)."""

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class GpuCard(IdMixin, TimestampMixin, Base):
    __tablename__ = "gpu_card"

    device_id: Mapped[str] = mapped_column(String(64))
    device_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    vendor_name: Mapped[str] = mapped_column(String(255))
    vendor_id: Mapped[str] = mapped_column(String(64))


class VgpuProfile(IdMixin, TimestampMixin, Base):
    __tablename__ = "vgpu_profile"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    card_id: Mapped[int] = mapped_column(ForeignKey("gpu_card.id"), index=True)
    max_vgpu_per_pgpu: Mapped[int | None] = mapped_column(BigInteger, default=None)
    video_ram: Mapped[int | None] = mapped_column(BigInteger, default=None)  # MiB
    max_heads: Mapped[int | None] = mapped_column(BigInteger, default=None)
    max_resolution_x: Mapped[int | None] = mapped_column(BigInteger, default=None)
    max_resolution_y: Mapped[int | None] = mapped_column(BigInteger, default=None)


class GpuDevice(IdMixin, TimestampMixin, Base):
    __tablename__ = "gpu_device"

    host_id: Mapped[int] = mapped_column(ForeignKey("host.id"), index=True)
    bus_address: Mapped[str] = mapped_column(String(64))
    card_id: Mapped[int] = mapped_column(ForeignKey("gpu_card.id"), index=True)
    vgpu_profile_id: Mapped[int] = mapped_column(ForeignKey("vgpu_profile.id"), index=True)
    device_type: Mapped[str] = mapped_column(String(16), default="PCI")  # PCI | MDEV | VGPUOnly
    parent_device_id: Mapped[int | None] = mapped_column(IdType, default=None)
    numa_node: Mapped[str | None] = mapped_column(String(16), default=None)
    vm_id: Mapped[int | None] = mapped_column(ForeignKey("vm_instance.id"), default=None)
    state: Mapped[str] = mapped_column(String(16), default="Free")  # Free | Allocated | Error | PartiallyAllocated
    managed_state: Mapped[str] = mapped_column(String(16), default="Managed")  # Managed | Unmanaged
