"""Recurring volume snapshot policies (CloudStack's snapshot_policy), and when each fires next."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class SnapshotPolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "snapshot_policy"

    volume_id: Mapped[int] = mapped_column(ForeignKey("volumes.id"), index=True)
    interval: Mapped[int] = mapped_column(Integer)  # 0 HOURLY, 1 DAILY, 2 WEEKLY, 3 MONTHLY (IntervalType ordinal)
    schedule: Mapped[str] = mapped_column(String(100))  # "MM", "MM:HH", "MM:HH:DD" (weekly 1-7 / monthly 1-28)
    timezone: Mapped[str] = mapped_column(String(100))
    max_snaps: Mapped[int] = mapped_column(Integer)
    display: Mapped[bool] = mapped_column(default=True)
    # The scheduler's lease: the next instant this policy fires. A server takes a firing by moving it forward with a
    # compare-and-swap (UPDATE ... WHERE next_fire = <the value it read>), so two servers never both fire it.
    next_fire: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    last_fired: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
