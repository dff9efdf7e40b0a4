"""Governance: resource limits, alerts, regions, scoped setting values, hypervisor capabilities, guest OS
mappings per hypervisor version."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, utcnow


class ResourceLimit(IdMixin, Base):
    """An explicit limit for an account (projects: their project account) or a domain; without a row the
    global default (max.account.* / max.project.* / max.domain.*) applies. -1 is unlimited."""

    __tablename__ = "resource_limit"
    __table_args__ = (UniqueConstraint("owner_type", "owner_id", "resource_type", "tag"),)

    owner_type: Mapped[str] = mapped_column(String(16))  # Account | Domain
    owner_id: Mapped[int] = mapped_column(IdType, index=True)
    resource_type: Mapped[str] = mapped_column(String(32))  # user_vm, public_ip, ... (CloudStack's names)
    tag: Mapped[str] = mapped_column(String(64), default="")
    max: Mapped[int] = mapped_column(BigInteger, default=-1)


class Alert(IdMixin, Base):
    __tablename__ = "alert"

    type: Mapped[int] = mapped_column(Integer, index=True)  # AlertManager.AlertType ordinal
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text, default=None)
    zone_id: Mapped[int | None] = mapped_column(IdType, default=None)
    pod_id: Mapped[int | None] = mapped_column(IdType, default=None)
    cluster_id: Mapped[int | None] = mapped_column(IdType, default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_sent: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    archived: Mapped[bool] = mapped_column(default=False)


class Region(Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    end_point: Mapped[str] = mapped_column(String(255))
    gslb_enabled: Mapped[bool] = mapped_column(default=True)
    portableip_service_enabled: Mapped[bool] = mapped_column(default=False)


class ScopedConfiguration(Base):
    """A setting's value for one zone/cluster/storage pool/image store/domain/account (CloudStack's
    *_details tables); zone values and the cluster overcommit ratios keep their older homes."""

    __tablename__ = "scoped_configuration"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)  # cluster | storagepool | domain | ...
    resource_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, default=None)


class HypervisorCapability(IdMixin, Base):
    __tablename__ = "hypervisor_capabilities"
    __table_args__ = (UniqueConstraint("hypervisor_type", "hypervisor_version"),)

    hypervisor_type: Mapped[str] = mapped_column(String(32))
    hypervisor_version: Mapped[str] = mapped_column(String(32), default="default")
    max_guests_limit: Mapped[int] = mapped_column(BigInteger, default=50)
    security_group_enabled: Mapped[bool] = mapped_column(default=True)
    max_data_volumes_limit: Mapped[int] = mapped_column(Integer, default=6)
    max_hosts_per_cluster: Mapped[int | None] = mapped_column(Integer, default=None)
    storage_motion_supported: Mapped[bool] = mapped_column(default=False)
    vm_snapshot_enabled: Mapped[bool] = mapped_column(default=False)


class GuestOsMapping(IdMixin, TimestampMixin, Base):
    __tablename__ = "guest_os_hypervisor"

    guest_os_id: Mapped[int] = mapped_column(ForeignKey("guest_os.id", ondelete="CASCADE"), index=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32))
    hypervisor_version: Mapped[str] = mapped_column(String(32), default="default")
    guest_os_name: Mapped[str] = mapped_column(String(255))
    is_user_defined: Mapped[bool] = mapped_column(default=False)
