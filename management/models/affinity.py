"""Affinity groups and their members (CloudStack's affinity_group and affinity_group_vm_map)."""

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class AffinityGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "affinity_group"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))  # "host anti-affinity", "non-strict host affinity", ...
    description: Mapped[str | None] = mapped_column(String(4096), default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    acl_type: Mapped[str] = mapped_column(String(16), default="Account")  # Account | Domain


class AffinityGroupVmMap(Base):
    """One row per (group, VM); a VM may be in several groups."""

    __tablename__ = "affinity_group_vm_map"

    affinity_group_id: Mapped[int] = mapped_column(IdType, ForeignKey("affinity_group.id", ondelete="CASCADE"),
                                                   primary_key=True)
    instance_id: Mapped[int] = mapped_column(IdType, ForeignKey("vm_instance.id", ondelete="CASCADE"),
                                             primary_key=True, index=True)
