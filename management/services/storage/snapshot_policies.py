"""Recurring snapshot policies and their scheduler (CloudStack's SnapshotPolicy + SnapshotScheduler).

A policy says when a volume is snapshotted (HOURLY ``MM``, DAILY ``MM:HH``, WEEKLY ``MM:HH:D`` with D 1-7 from
Sunday, MONTHLY ``MM:HH:D`` with D 1-28, in the policy's time zone) and how many of those snapshots to keep
(``maxsnaps``). One policy per interval type and volume: creating another one for the same interval updates it.

The scheduler runs in every management server. Each policy row carries ``next_fire``; a server takes a firing by
moving ``next_fire`` past the current time with a compare-and-swap (``UPDATE ... WHERE id=? AND next_fire=<what
it read>``), so however many servers poll, exactly one wins each firing. The winner queues an ordinary
``createSnapshot`` job (with ``policyid``) on the async job queue; that job takes the snapshot and enforces the
retention, deleting the oldest snapshots of that interval type beyond ``maxsnaps``. Missed firings (server down)
collapse into one, as in CloudStack.

Time comes from ``clock(runtime)``: the wall clock, or a test's controllable clock (``runtime.extras["clock"]``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management import loops
from management.db.base import utcnow
from management.errors import ParamError
from management.models.identity import Account, User
from management.models.jobs import AsyncJob
from management.models.snapshot_policies import SnapshotPolicy
from management.models.storage import Snapshot, Volume
from management.services import configuration
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

INTERVALS = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY")  # IntervalType ordinals 0..3
for _name in INTERVALS:
    configuration.register(f"snapshot.max.{_name.lower()}", "8", "Snapshots",
                           f"Maximum recurring {_name.lower()} snapshots to be retained for a volume. If the limit "
                           f"is reached, early snapshots from the start of the {_name.lower()} are deleted so that "
                           "newer ones can be saved. This limit does not apply to manual snapshots. If set to 0, "
                           f"recurring {_name.lower()} snapshots can not be scheduled.")
configuration.register("snapshot.poll.interval", "300", "Snapshots", "The time interval in seconds when the "
                       "management server polls for snapshots to be scheduled.")


# ------------------------------------------------------------------------------------------------------ time

def clock(runtime: Runtime) -> datetime:
    """Now (aware UTC): the runtime's clock if a test installed one, else the wall clock."""
    fn: Callable[[], datetime] | None = runtime.extras.get("clock")
    return fn() if fn is not None else datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand (``runtime.extras["clock"] = ManualClock(...)``)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=seconds)
            return self.now


def interval_of(value: str) -> int:
    try:
        return INTERVALS.index(value.strip().upper())
    except ValueError:
        raise ParamError(f"Unsupported interval type {value}") from None


def zone_info(name: str) -> ZoneInfo:
    """Java's TimeZone.getTimeZone falls back to GMT for an unknown id; so does this (the policy keeps 'GMT')."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("GMT")


def next_run(interval: int, schedule: str, tz_name: str, after: datetime) -> datetime:
    """The first instant strictly after ``after`` matching the schedule, in the policy's time zone (UTC out)."""
    parts = [int(p) for p in schedule.split(":")]
    if len(parts) != (1, 2, 3, 3)[interval]:
        raise ValueError("wrong number of fields")
    minute, hour, day = (parts + [0, 0])[:3]
    if not 0 <= minute <= 59 or not 0 <= hour <= 23:
        raise ValueError("minute or hour out of range")
    if (interval == 2 and not 1 <= day <= 7) or (interval == 3 and not 1 <= day <= 28):
        raise ValueError("day out of range")
    tz = zone_info(tz_name)
    local = after.astimezone(tz)
    if interval == 0:
        cand = local.replace(minute=minute, second=0, microsecond=0)
        if cand <= local:
            cand += timedelta(hours=1)
        return cand.astimezone(UTC)
    d = local.date()
    while True:  # at most ~31 days ahead for the schedules validated above
        # Java's Calendar numbers weekdays from SUNDAY=1 to SATURDAY=7
        if interval == 1 or (interval == 2 and d.isoweekday() % 7 + 1 == day) or (interval == 3 and d.day == day):
            cand = datetime.combine(d, time(hour, minute), tzinfo=tz)
            if cand > local:
                return cand.astimezone(UTC)
        d += timedelta(days=1)


# ------------------------------------------------------------------------------------------------- policies

def create_or_update(session: Session, runtime: Runtime, vol: Volume, *, interval: str, schedule: str, timezone: str,
                     max_snaps: int, display: bool = True) -> SnapshotPolicy:
    ordinal = interval_of(interval)
    tz = zone_info(timezone)
    now = clock(runtime)
    try:
        first = next_run(ordinal, schedule, str(tz), now)
    except (ValueError, IndexError):
        raise ParamError(f"Invalid schedule: {schedule} for interval type: {interval}") from None
    if max_snaps <= 0:
        raise ParamError("maxSnaps should be greater than 0")
    limit = int(configuration.get(session, f"snapshot.max.{INTERVALS[ordinal].lower()}", "8") or 8)
    if max_snaps > limit:
        raise ParamError(f"maxSnaps exceeds limit: {limit} for interval type: {interval}")
    if vol.removed is not None or vol.state in ("Destroy", "Expunging", "Expunged"):
        raise ParamError(f"VolumeId: {vol.uuid} is already destroyed")
    policy = session.scalar(select(SnapshotPolicy).where(SnapshotPolicy.volume_id == vol.id,
                                                         SnapshotPolicy.interval == ordinal,
                                                         SnapshotPolicy.removed.is_(None)))
    if policy is None:
        policy = SnapshotPolicy(volume_id=vol.id, interval=ordinal, schedule=schedule, timezone=str(tz),
                                max_snaps=max_snaps, display=display, next_fire=first)
        session.add(policy)
    else:
        policy.schedule, policy.timezone, policy.max_snaps, policy.display = schedule, str(tz), max_snaps, display
        policy.next_fire = first
    session.flush()
    return policy


def delete(session: Session, policy: SnapshotPolicy) -> None:
    policy.removed = utcnow()
    policy.next_fire = None


def delete_for_volume(session: Session, vol_id: int) -> None:
    for p in session.scalars(select(SnapshotPolicy).where(SnapshotPolicy.volume_id == vol_id,
                                                          SnapshotPolicy.removed.is_(None))):
        delete(session, p)


def interval_name(policy: SnapshotPolicy) -> str:
    return INTERVALS[policy.interval]


def enforce_retention(session: Session, policy: SnapshotPolicy) -> list[int]:
    """Snapshot ids to delete so that at most ``max_snaps`` snapshots of the policy's interval stay (oldest go)."""
    kind = interval_name(policy)
    snaps = list(session.scalars(select(Snapshot).where(Snapshot.volume_id == policy.volume_id,
                                                        Snapshot.interval_type == kind, Snapshot.removed.is_(None),
                                                        Snapshot.state.not_in(("Destroying", "Destroyed", "Error")))
                                 .order_by(Snapshot.created, Snapshot.id)))
    excess = len(snaps) - policy.max_snaps
    return [s.id for s in snaps[:excess]] if excess > 0 else []


def enforce(runtime: Runtime, policy_uuid: str) -> None:
    """After a policy's snapshot: delete the oldest ones of its interval beyond maxsnaps."""
    from management.services.storage import snapshots as snapshots_service

    with runtime.db.session() as s:
        policy = s.scalar(select(SnapshotPolicy).where(SnapshotPolicy.uuid == policy_uuid))
        doomed = enforce_retention(s, policy) if policy is not None else []
    for snap_id in doomed:
        snapshots_service.delete(runtime, snap_id)


# ------------------------------------------------------------------------------------------------ scheduler

class SnapshotScheduler:
    """Polls for due policies every ``snapshot.poll.interval`` seconds (re-read each round)."""

    def __init__(self, runtime: Runtime, stop_event: threading.Event | None = None) -> None:
        self.runtime = runtime
        self._loop = loops.Loop("snapshot-scheduler", self._interval, self.run_once, stop_event=stop_event,
                                fallback=300.0)
        self.fired = 0  # firings this server won

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)

    def _interval(self) -> float:
        with self.runtime.db.session(write=False) as s:
            return max(configuration.get_float(s, "snapshot.poll.interval", 300.0), 0.05)

    def run_once(self) -> list[str]:
        """Fire every policy due now; returns the uuids of the snapshot jobs this server queued."""
        now = clock(self.runtime)
        queued: list[str] = []
        with self.runtime.db.session(write=False) as s:
            due = list(s.execute(select(SnapshotPolicy.id, SnapshotPolicy.next_fire).where(
                SnapshotPolicy.removed.is_(None), SnapshotPolicy.next_fire.is_not(None),
                SnapshotPolicy.next_fire <= now)))
        for policy_id, seen in due:
            job = self._fire(policy_id, seen, now) if seen is not None else None
            if job is not None:
                self.fired += 1  # counted once committed: a reader of `fired` finds the job row
                queued.append(job)
        return queued

    def _fire(self, policy_id: int, seen: datetime, now: datetime) -> str | None:
        with self.runtime.db.session() as s:
            policy = s.get_one(SnapshotPolicy, policy_id)
            upcoming = next_run(policy.interval, policy.schedule, policy.timezone, now)
            took = s.execute(update(SnapshotPolicy)
                             .where(SnapshotPolicy.id == policy_id, SnapshotPolicy.next_fire == seen)
                             .values(next_fire=upcoming, last_fired=now)
                             .execution_options(synchronize_session=False))
            if took.rowcount != 1:  # type: ignore[attr-defined]
                return None  # another server took this firing
            vol = s.get_one(Volume, policy.volume_id)
            if vol.state != "Ready" or vol.removed is not None:
                log.info("snapshot policy %s: volume %s is %s; firing skipped", policy.uuid, vol.uuid, vol.state)
                return None
            from management.services.storage import snapshots as snapshots_service

            snap = snapshots_service.allocate(s, vol, None, interval=interval_name(policy))
            # CloudStack's scheduler runs the job as the SYSTEM user on behalf of the volume's account
            system = s.scalars(select(User).join(Account, User.account_id == Account.id)
                               .where(Account.name == "system", User.username == "system")).one()
            job = AsyncJob(command="createSnapshot", cmd_class="org.apache.cloudstack.api.command.createSnapshotCmd",
                           params_json=json.dumps({"volumeid": vol.uuid, "policyid": policy.uuid,
                                                   "_created_uuid": snap.uuid}),
                           account_id=vol.account_id, user_id=system.id, domain_id=vol.domain_id,
                           instance_type="Snapshot", instance_uuid=snap.uuid, init_msid=self.runtime.msid)
            s.add(job)
            s.flush()
            log.info("snapshot policy %s fired: job %s snapshots volume %s", policy.uuid, job.uuid, vol.uuid)
            return job.uuid


def start(runtime: Runtime, stop_event: threading.Event | None = None) -> SnapshotScheduler:
    sched = runtime.extras.get("snapshot_scheduler")
    if sched is None:
        sched = runtime.extras["snapshot_scheduler"] = SnapshotScheduler(runtime, stop_event)
        sched.start()
    return sched  # type: ignore[no-any-return]
