"""Storage administration records: secondary storage selectors (heuristics), direct-download certificates and
their hosts, storage access groups."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class SecondaryStorageSelector(IdMixin, TimestampMixin, Base):
    __tablename__ = "heuristics"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))  # ISO | SNAPSHOT | TEMPLATE | VOLUME
    heuristic_rule: Mapped[str] = mapped_column(Text)


class DirectDownloadCertificate(IdMixin, Base):
    __tablename__ = "direct_download_certificate"

    alias: Mapped[str] = mapped_column(String(255))
    certificate: Mapped[str] = mapped_column(Text)
    hypervisor_type: Mapped[str] = mapped_column(String(45))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)


class DirectDownloadCertificateHost(IdMixin, Base):
    __tablename__ = "direct_download_certificate_host_map"
    __table_args__ = (UniqueConstraint("certificate_id", "host_id"),)

    certificate_id: Mapped[int] = mapped_column(ForeignKey("direct_download_certificate.id", ondelete="CASCADE"))
    host_id: Mapped[int] = mapped_column(ForeignKey("host.id", ondelete="CASCADE"))
    revoked: Mapped[bool] = mapped_column(default=False)
    provisioned: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class StorageAccessGroup(IdMixin, Base):
    """Storage access groups of one resource (zone, pod, cluster, host or storage pool)."""

    __tablename__ = "storage_access_group_map"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id"),)

    resource_type: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[int] = mapped_column(IdType)
    groups: Mapped[str] = mapped_column(String(1024))
