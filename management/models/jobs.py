"""The async job queue table, the per-entity run lock, and management server heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, UTCDateTime, utcnow


class AsyncJob(IdMixin, Base):
    __tablename__ = "async_job"
    __table_args__ = (Index("ix_async_job_pending", "status", "executing_msid"),)

    command: Mapped[str] = mapped_column(String(128))
    cmd_class: Mapped[str] = mapped_column(String(255))
    params_json: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    status: Mapped[int] = mapped_column(Integer, default=0)  # 0 in progress, 1 succeeded, 2 failed, 3 cancelled
    process_status: Mapped[int] = mapped_column(Integer, default=0)
    result_code: Mapped[int] = mapped_column(Integer, default=0)
    result_json: Mapped[str | None] = mapped_column(Text, default=None)
    instance_type: Mapped[str | None] = mapped_column(String(64), default=None)
    instance_uuid: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    init_msid: Mapped[str] = mapped_column(String(64))
    executing_msid: Mapped[str | None] = mapped_column(String(64), default=None)
    complete_msid: Mapped[str | None] = mapped_column(String(64), default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_polled: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class JobSync(Base):
    """One row per entity with a running mutating job; the primary key makes two at once impossible."""

    __tablename__ = "async_job_sync"

    instance_uuid: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[int] = mapped_column(IdType, ForeignKey("async_job.id", ondelete="CASCADE"))


class ManagementServer(Base):
    __tablename__ = "mshost"

    msid: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="Up")
    started: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
