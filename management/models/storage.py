"""Templates and ISOs (and where their copies live), volumes, snapshots."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class Template(IdMixin, TimestampMixin, Base):
    """A template or an ISO (format ISO), as CloudStack's vm_template holds both."""

    __tablename__ = "vm_template"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(4096), default=None)
    format: Mapped[str] = mapped_column(String(16))  # QCOW2 | RAW | VHD | OVA | ISO
    hypervisor_type: Mapped[str | None] = mapped_column(String(32), default=None)
    template_type: Mapped[str] = mapped_column(String(16), default="USER")  # USER | BUILTIN | SYSTEM | ROUTING
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    checksum: Mapped[str | None] = mapped_column(String(255), default=None)  # "{SHA-256}hex", "{MD5}hex" or md5 hex
    os_type_id: Mapped[int | None] = mapped_column(ForeignKey("guest_os.id"), default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    is_public: Mapped[bool] = mapped_column(default=False)
    is_featured: Mapped[bool] = mapped_column(default=False)
    is_extractable: Mapped[bool] = mapped_column(default=False)
    password_enabled: Mapped[bool] = mapped_column(default=False)
    sshkey_enabled: Mapped[bool] = mapped_column(default=False)
    bootable: Mapped[bool] = mapped_column(default=True)
    cross_zones: Mapped[bool] = mapped_column(default=False)
    requires_hvm: Mapped[bool] = mapped_column(default=True)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)  # virtual size, bytes
    source_template_id: Mapped[int | None] = mapped_column(IdType, default=None)
    source_snapshot_id: Mapped[int | None] = mapped_column(IdType, default=None)
    source_volume_id: Mapped[int | None] = mapped_column(IdType, default=None)
    state: Mapped[str] = mapped_column(String(16), default="Active")
    details_json: Mapped[str | None] = mapped_column(Text, default=None)
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    user_data_id: Mapped[int | None] = mapped_column(IdType, default=None)
    user_data_policy: Mapped[str | None] = mapped_column(String(32), default=None)


class TemplatePermission(IdMixin, Base):
    """Launch permission: an account (other than the owner) allowed to use a private template or ISO
    (CloudStack's launch_permission, written by updateTemplatePermissions)."""

    __tablename__ = "launch_permission"
    __table_args__ = (UniqueConstraint("template_id", "account_id"),)

    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)


class TemplateStoreRef(IdMixin, Base):
    """A template's copy in a zone's image store: download progress and state, one row per zone."""

    __tablename__ = "template_store_ref"
    __table_args__ = (UniqueConstraint("template_id", "store_id"),)

    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("image_store.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    # NOT_DOWNLOADED | DOWNLOAD_IN_PROGRESS | DOWNLOADED | DOWNLOAD_ERROR | ABANDONED
    download_state: Mapped[str] = mapped_column(String(32), default="NOT_DOWNLOADED")
    download_pct: Mapped[int] = mapped_column(Integer, default=0)
    error_str: Mapped[str | None] = mapped_column(Text, default=None)
    install_path: Mapped[str | None] = mapped_column(String(1024), default=None)  # relative to the store
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    physical_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # fsm.TemplateState (ObjectInDataStoreStateMachine), written only through fsm.transition
    state: Mapped[str] = mapped_column(String(16), default="Allocated")  # Allocated | Creating | Ready | Destroyed
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TemplatePoolRef(IdMixin, Base):
    """A template copied onto a primary pool once; root disks are linked clones of it."""

    __tablename__ = "template_spool_ref"
    __table_args__ = (UniqueConstraint("template_id", "pool_id"),)

    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id", ondelete="CASCADE"))
    pool_id: Mapped[int] = mapped_column(ForeignKey("storage_pool.id", ondelete="CASCADE"))
    install_path: Mapped[str | None] = mapped_column(String(1024), default=None)
    state: Mapped[str] = mapped_column(String(16), default="Ready")
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Volume(IdMixin, TimestampMixin, Base):
    __tablename__ = "volumes"

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    pod_id: Mapped[int | None] = mapped_column(IdType, default=None)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("storage_pool.id"), default=None, index=True)
    instance_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    device_id: Mapped[int | None] = mapped_column(Integer, default=None)
    volume_type: Mapped[str] = mapped_column(String(16))  # ROOT | DATADISK
    # Allocated | Creating | Ready | Resizing | Snapshotting | RevertSnapshotting | Migrating | Destroy |
    # Expunging | Expunged | UploadOp ... (CloudStack's Volume.State names)
    state: Mapped[str] = mapped_column(String(32), default="Allocated")
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    disk_offering_id: Mapped[int | None] = mapped_column(ForeignKey("disk_offering.id"), default=None)
    template_id: Mapped[int | None] = mapped_column(IdType, default=None)
    format: Mapped[str] = mapped_column(String(16), default="QCOW2")
    path: Mapped[str | None] = mapped_column(String(1024), default=None)  # driver-side name
    provisioning_type: Mapped[str] = mapped_column(String(32), default="thin")
    attached: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    display_volume: Mapped[bool] = mapped_column(default=True)


class Snapshot(IdMixin, TimestampMixin, Base):
    __tablename__ = "snapshots"

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    volume_id: Mapped[int] = mapped_column(ForeignKey("volumes.id"), index=True)
    # Allocated | Creating | CreatedOnPrimary | BackingUp | BackedUp | Copying | Destroying | Destroyed | Error
    state: Mapped[str] = mapped_column(String(32), default="Allocated")
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    snapshot_type: Mapped[str] = mapped_column(String(16), default="MANUAL")
    interval_type: Mapped[str] = mapped_column(String(16), default="MANUAL")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    physical_size: Mapped[int] = mapped_column(BigInteger, default=0)
    hypervisor_type: Mapped[str | None] = mapped_column(String(32), default=None)
    location: Mapped[str | None] = mapped_column(String(1024), default=None)  # driver snapshot reference
