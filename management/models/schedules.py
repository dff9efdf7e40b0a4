"""VM schedules (cron-driven start/stop/reboot), their executions, and the lease that makes one management server
the scheduler."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class VmSchedule(IdMixin, TimestampMixin, Base):
    __tablename__ = "vm_schedule"

    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(String(1024), default=None)
    schedule: Mapped[str] = mapped_column(String(255))  # cron: minute hour day-of-month month day-of-week
    timezone: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))  # START | STOP | REBOOT | FORCE_STOP | FORCE_REBOOT
    enabled: Mapped[bool] = mapped_column(default=True)
    start_date: Mapped[datetime] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class VmScheduledJob(IdMixin, Base):
    """One due run of a schedule: claimed once (unique schedule + time), then the job that carried it out."""

    __tablename__ = "vm_scheduled_job"
    __table_args__ = (UniqueConstraint("vm_schedule_id", "scheduled_time"),)

    vm_id: Mapped[int] = mapped_column(IdType, index=True)
    vm_schedule_id: Mapped[int] = mapped_column(ForeignKey("vm_schedule.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    scheduled_time: Mapped[datetime] = mapped_column(UTCDateTime)
    async_job_id: Mapped[int | None] = mapped_column(IdType, default=None)
    result: Mapped[str | None] = mapped_column(String(1024), default=None)


class SchedulerLease(Base):
    """A named lease held by one management server at a time (renewed while it runs; taken over when expired)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
