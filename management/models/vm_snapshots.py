"""VM snapshots: the disks (and optionally the memory) of a VM at one instant (CloudStack's vm_snapshots)."""

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class VMSnapshot(IdMixin, TimestampMixin, Base):
    __tablename__ = "vm_snapshots"

    name: Mapped[str] = mapped_column(String(255))  # i-2-5-VM_VS_20260101120000
    display_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    # CloudStack's VMSnapshot.State: Allocated Creating Ready Reverting Expunging Removed Error;
    # written only through fsm.transition
    state: Mapped[str] = mapped_column(String(32), default="Allocated")
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    snapshot_type: Mapped[str] = mapped_column(String(32), default="Disk")  # Disk | DiskAndMemory
    parent_id: Mapped[int | None] = mapped_column(IdType, default=None)
    current: Mapped[bool] = mapped_column(default=False)
    service_offering_id: Mapped[int | None] = mapped_column(IdType, default=None)
    hypervisor_type: Mapped[str | None] = mapped_column(String(32), default=None)
