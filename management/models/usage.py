"""Usage: the events the usage server reads (CloudStack's usage_event) and the records it computes from them
(cloud_usage), per account or project and aggregation period."""

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, UTCDateTime


class UsageEvent(Base):
    __tablename__ = "usage_event"
    __table_args__ = (Index("ix_usage_event_account_created", "account_id", "created"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(32))  # VM.CREATE, VM.START, VOLUME.CREATE, NET.IPASSIGN, ...
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    zone_id: Mapped[int | None] = mapped_column(IdType, default=None)
    resource_id: Mapped[int] = mapped_column(IdType)
    resource_uuid: Mapped[str | None] = mapped_column(String(40), default=None)
    resource_name: Mapped[str | None] = mapped_column(String(255), default=None)
    offering_id: Mapped[int | None] = mapped_column(IdType, default=None)
    template_id: Mapped[int | None] = mapped_column(IdType, default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    resource_type: Mapped[str | None] = mapped_column(String(32), default=None)
    details: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class UsageRecord(IdMixin, Base):
    __tablename__ = "cloud_usage"
    __table_args__ = (Index("ix_cloud_usage_account_start", "account_id", "start_date"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    zone_id: Mapped[int | None] = mapped_column(IdType, default=None)
    usage_type: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    usage_display: Mapped[str] = mapped_column(String(255))
    raw_usage: Mapped[float] = mapped_column(Float)
    vm_instance_id: Mapped[int | None] = mapped_column(IdType, default=None)
    vm_name: Mapped[str | None] = mapped_column(String(255), default=None)
    offering_id: Mapped[int | None] = mapped_column(IdType, default=None)
    template_id: Mapped[int | None] = mapped_column(IdType, default=None)
    usage_id: Mapped[int | None] = mapped_column(IdType, default=None)
    usage_uuid: Mapped[str | None] = mapped_column(String(40), default=None)
    resource_type: Mapped[str | None] = mapped_column(String(32), default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    start_date: Mapped[datetime] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime] = mapped_column(UTCDateTime)
