"""Host HA and out-of-band management (CloudStack's `ha_config` and `oobm` tables), and the HA / OOBM switches of
clusters and zones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdType, UTCDateTime, utcnow


class HaConfig(Base):
    """The HA state of one resource (a host): provider, enabled, and the HA framework's state (Disabled,
    Available, Suspect, Checking, Degraded, Recovering, Recovered, Fencing, Fenced, Ineligible)."""

    __tablename__ = "ha_config"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(32), default="Host")
    resource_id: Mapped[int] = mapped_column(IdType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ha_state: Mapped[str] = mapped_column(String(32), default="Disabled")
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mgmt_server_id: Mapped[str | None] = mapped_column(String(64), default=None)


class ResourceSwitch(Base):
    """A feature switched on or off for a whole cluster or zone (enableHAForCluster, disableOutOfBandManagement-
    ForZone, ...); CloudStack keeps these as cluster/zone details."""

    __tablename__ = "resource_switch"

    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)  # Cluster | Zone
    resource_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    feature: Mapped[str] = mapped_column(String(32), primary_key=True)  # ha | oobm
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class OutOfBandManagement(Base):
    """The baseboard management controller of a host (configureOutOfBandManagement)."""

    __tablename__ = "oobm"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("host.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    power_state: Mapped[str] = mapped_column(String(32), default="Disabled")
    driver: Mapped[str | None] = mapped_column(String(32), default=None)
    address: Mapped[str | None] = mapped_column(String(255), default=None)
    port: Mapped[str | None] = mapped_column(String(10), default=None)
    username: Mapped[str | None] = mapped_column(String(255), default=None)
    password: Mapped[str | None] = mapped_column(Text, default=None)
    timeout: Mapped[int] = mapped_column(Integer, default=60)
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mgmt_server_id: Mapped[str | None] = mapped_column(String(64), default=None)
