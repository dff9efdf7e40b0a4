"""Backup and recovery (CloudStack's NAS provider model): repositories, offerings, VM assignments, backups and
backup schedules."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class BackupRepository(IdMixin, TimestampMixin, Base):
    """Where a provider writes backups: for the nas provider a shared directory every KVM host of the zone sees."""

    __tablename__ = "backup_repository"

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    provider: Mapped[str] = mapped_column(String(255), default="nas")
    type: Mapped[str] = mapped_column(String(255))  # nfs | cifs | cephfs
    address: Mapped[str] = mapped_column(String(1024))
    mount_opts: Mapped[str | None] = mapped_column(String(1024), default=None)
    capacity_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    used_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    cross_zone: Mapped[bool] = mapped_column(default=False)


class BackupOffering(IdMixin, TimestampMixin, Base):
    """An imported provider offering; for nas its external id is a repository's uuid."""

    __tablename__ = "backup_offering"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(1024), default=None)
    external_id: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    user_driven_backup: Mapped[bool] = mapped_column(default=False)


class VmBackupOffering(Base):
    """A VM's backup offering (CloudStack keeps it on vm_instance) and the volumes it had when assigned."""

    __tablename__ = "vm_backup_offering"

    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id", ondelete="CASCADE"), primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("backup_offering.id"), index=True)
    volumes_json: Mapped[str | None] = mapped_column(Text, default=None)
    assigned: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Backup(IdMixin, TimestampMixin, Base):
    __tablename__ = "backups"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(1024), default=None)
    vm_id: Mapped[int] = mapped_column(IdType, index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    backup_offering_id: Mapped[int] = mapped_column(ForeignKey("backup_offering.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)  # path inside the repository
    type: Mapped[str] = mapped_column(String(16), default="FULL")
    status: Mapped[str] = mapped_column(String(32), default="Allocated")  # BackingUp | BackedUp | Failed | ...
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    protected_size: Mapped[int] = mapped_column(BigInteger, default=0)
    interval_type: Mapped[int] = mapped_column(Integer, default=4)  # Backup.Type ordinal: HOURLY..MONTHLY, MANUAL=4
    volumes_json: Mapped[str | None] = mapped_column(Text, default=None)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)


class BackupSchedule(IdMixin, Base):
    __tablename__ = "backup_schedule"

    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id", ondelete="CASCADE"), index=True)
    schedule_type: Mapped[str] = mapped_column(String(16))  # HOURLY | DAILY | WEEKLY | MONTHLY
    schedule: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(100))
    scheduled_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    max_backups: Mapped[int | None] = mapped_column(Integer, default=None)
    quiesce_vm: Mapped[bool] = mapped_column(default=False)
    async_job_id: Mapped[int | None] = mapped_column(IdType, default=None)
