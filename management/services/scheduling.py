"""Time-driven work with one owner in a farm: a clock tests can move, a database lease that lets exactly one
management server run the scheduled tasks at a time, and the scheduler thread that runs the registered tasks.

- The clock: ``now(runtime)`` is the wall clock unless a test put a callable in ``runtime.extras["clock"]``.
- The lease (table ``scheduler_lease``): a server holds it while ``expires`` is ahead of the clock; it renews it
  every round, and another server takes it over only once it has expired (the holder died or hangs).
- Tasks: ``register(name, fn)``; every round the lease holder calls ``fn(runtime, now)``. A task must be
  idempotent per due time (VM schedules claim each due run with a unique row).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from management import loops
from management.db.base import utcnow
from management.models.jobs import AsyncJob
from management.models.schedules import SchedulerLease
from management.services.runtime import Runtime
from management.services.system_account import system_user

log = logging.getLogger(__name__)

LEASE = "scheduler"
LEASE_SECONDS = 60.0

Task = Callable[[Runtime, datetime], object]
TASKS: dict[str, Task] = {}


def register(name: str, fn: Task) -> None:
    TASKS[name] = fn


def now(runtime: Runtime) -> datetime:
    clock = runtime.extras.get("clock")
    return clock() if callable(clock) else utcnow()


def acquire(runtime: Runtime, owner: str, *, name: str = LEASE, seconds: float = LEASE_SECONDS,
            at: datetime | None = None) -> bool:
    """Takes or renews the lease for ``owner``; False while another owner holds an unexpired one."""
    t = at or now(runtime)
    until = t + timedelta(seconds=seconds)
    with runtime.db.session() as s:
        res = s.execute(update(SchedulerLease).where(
            SchedulerLease.name == name, (SchedulerLease.owner == owner) | (SchedulerLease.expires <= t))
            .values(owner=owner, expires=until))
        if res.rowcount:  # type: ignore[attr-defined]
            return True
        if s.get(SchedulerLease, name) is not None:
            return False
    try:
        with runtime.db.session() as s:
            s.add(SchedulerLease(name=name, owner=owner, expires=until))
        return True
    except IntegrityError:  # another server inserted it first
        return False


def release(runtime: Runtime, owner: str, *, name: str = LEASE) -> None:
    with runtime.db.session() as s:
        row = s.get(SchedulerLease, name)
        if row is not None and row.owner == owner:
            s.delete(row)


def holder(runtime: Runtime, *, name: str = LEASE) -> str | None:
    with runtime.db.session(write=False) as s:
        row = s.get(SchedulerLease, name)
        return row.owner if row is not None and row.expires > now(runtime) else None


def submit_job(session: Session, command: str, params: dict[str, object], *, account_id: int, domain_id: int,
               instance_type: str, instance_uuid: str, msid: str) -> AsyncJob:
    """Queues an API command as an async job run by the SYSTEM user on behalf of an account (how CloudStack's
    schedulers submit their work); the job workers pick it up."""
    system = system_user(session)
    job = AsyncJob(command=command, cmd_class=f"org.apache.cloudstack.api.command.{command}Cmd",
                   params_json=json.dumps(params), account_id=account_id, user_id=system.id, domain_id=domain_id,
                   instance_type=instance_type, instance_uuid=instance_uuid, init_msid=msid)
    session.add(job)
    session.flush()
    return job


def run_once(runtime: Runtime, owner: str | None = None) -> bool:
    """One scheduler round: when this server holds (or can take) the lease, every task runs once. Returns whether
    it ran."""
    me = owner or runtime.msid
    if not acquire(runtime, me):
        return False
    t = now(runtime)
    for name, fn in list(TASKS.items()):
        try:
            fn(runtime, t)
        except Exception:  # a task's failure must not stop the others or the thread
            log.exception("scheduled task %s failed", name)
    return True


class Scheduler:
    """Runs a round every `scheduler.interval` seconds (the first at once), sleeping in between."""

    def __init__(self, runtime: Runtime, stop_event: threading.Event | None = None) -> None:
        self.runtime = runtime
        self._loop = loops.Loop("scheduler", self.interval, lambda: run_once(self.runtime), stop_event=stop_event,
                                at_start=True)

    def interval(self) -> float:
        from management.services import configuration

        with self.runtime.db.session(write=False) as s:
            return max(configuration.get_float(s, "scheduler.interval", 60.0), 0.05)

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)
        release(self.runtime, self.runtime.msid)


def start(runtime: Runtime, stop_event: threading.Event | None = None) -> Scheduler:
    sch = runtime.extras.get("scheduler")
    if sch is None:
        sch = runtime.extras["scheduler"] = Scheduler(runtime, stop_event)
        sch.start()
    return sch  # type: ignore[no-any-return]
