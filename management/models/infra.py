"""Datacenter inventory. Zones first; pods, clusters, hosts and storage grow here."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin


class Zone(IdMixin, TimestampMixin, Base):
    __tablename__ = "data_center"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    network_type: Mapped[str] = mapped_column(String(16), default="Advanced")  # Basic | Advanced
    dns1: Mapped[str | None] = mapped_column(String(64), default=None)
    dns2: Mapped[str | None] = mapped_column(String(64), default=None)
    internal_dns1: Mapped[str | None] = mapped_column(String(64), default=None)
    internal_dns2: Mapped[str | None] = mapped_column(String(64), default=None)
    guest_cidr: Mapped[str | None] = mapped_column(String(64), default=None)
    network_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    security_groups_enabled: Mapped[bool] = mapped_column(default=False)
    local_storage_enabled: Mapped[bool] = mapped_column(default=False)
    allocation_state: Mapped[str] = mapped_column(String(16), default="Disabled")
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"), default=None)
