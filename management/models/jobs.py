"""The async job queue table, the per-entity run lock, job step journals, management server membership and
named leases."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from management.db.base import Base, IdMixin, IdType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from management.models.identity import User


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
    # the id of the API request that queued the job: its log lines (and the driver's calls) carry it too
    request_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    executing_msid: Mapped[str | None] = mapped_column(String(64), default=None)
    # the executing server's run (incarnation)
    claim_runid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    complete_msid: Mapped[str | None] = mapped_column(String(64), default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_polled: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    # What running the job needs besides its row: the claim loads both in its own transaction (jobs/queue.py), so
    # the executor opens none to read them. Nothing else may touch them unloaded.
    user: Mapped["User"] = relationship(lazy="raise", viewonly=True)
    journal: Mapped[list["JobJournal"]] = relationship(lazy="raise", viewonly=True, order_by="JobJournal.id")


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
    # Membership (services/cluster/membership.py): a new run id at every start tells incarnations apart.
    runid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    service_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    service_port: Mapped[int | None] = mapped_column(Integer, default=None)
    last_stopped: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_boot: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)  # runtime, OS, kernel
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class JobJournal(Base):
    """The step journal of a job that drives a hypervisor: each step is written in the unit of work that makes its
    database change, an intent (`*-intent`) before the driver call it names. Whoever resumes the job after its
    server died reads it to reconcile with the hypervisor (services/ha/takeover.py)."""

    __tablename__ = "async_job_journal"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(IdType, ForeignKey("async_job.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(64))
    data_json: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClusterLease(Base):
    """A named lease one management server holds at a time (services/cluster/ownership.py)."""

    __tablename__ = "cluster_lease"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    runid: Mapped[int] = mapped_column(BigInteger, default=0)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
