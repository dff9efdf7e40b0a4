"""The async job queue: the `async_job` table is the queue; claiming is atomic on SQLite and MariaDB.

A claim writes this server's msid and run id (`claim_runid`, one per start) on the job. Completion is a
compare-and-swap on that pair: a server that was declared dead while it ran a job (its jobs went to a peer)
cannot complete it any more, and the executor's last unit of work (the job's database effect) rolls back with the
failed swap. The executor completes a job itself, in the transaction of its effect (`Finish`); the queue completes
only what the executor did not (a crash, an executor without a session).

Waking the workers: a job this process queues (any committed session of this database that added an `AsyncJob`
row, and `notify()`) wakes one idle worker at once. Jobs queued by another management server (or put back by a
takeover there) are found by one poller thread, which looks every `poll_interval` seconds with one read (no write
transaction) for a job that some worker could claim, and wakes a worker only then. Idle workers sleep until woken.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, event, exists, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload, selectinload

from management import logcontext, loops
from management.db.base import utcnow
from management.db.prepared import prepared
from management.db.session import Database
from management.errors import UnexpectedError
from management.jobs import journal
from management.models.jobs import AsyncJob, JobSync

log = logging.getLogger(__name__)

IN_PROGRESS, SUCCEEDED, FAILED, CANCELLED = 0, 1, 2, 3
VERSION = "0.1.0"
_RUN_WITH = (joinedload(AsyncJob.user), selectinload(AsyncJob.journal))
_CONTENTION = (1205, 1213)  # MariaDB: lock wait timeout, deadlock (the server rolled the transaction back)
CLAIM_ATTEMPTS = 5
_NEW_JOBS = "queued_jobs"  # session.info: this unit of work added a job row


def _note_new_jobs(session: Session, _ctx: object) -> None:
    if any(isinstance(o, AsyncJob) for o in session.new):
        session.info[_NEW_JOBS] = True


@dataclass(slots=True)
class Outcome:
    status: int
    result_code: int
    result: dict[str, Any] | None
    committed: bool = False  # the executor already completed the job (in its own transaction)


class Fenced(Exception):
    """This server no longer holds the job's claim (a peer took it over): its effect must not commit."""


class Finish(Protocol):
    def __call__(self, session: Session, outcome: Outcome) -> None: ...


Executor = Callable[[AsyncJob, Finish], Outcome]


def lost_to_contention(exc: BaseException) -> bool:
    """Whether a MariaDB deadlock / lock wait timeout or SQLite's "database is locked" is in the exception's chain
    (the database rolled the transaction back whole; running it again is safe)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        orig = getattr(seen, "orig", None)
        args = getattr(orig, "args", None) or ()
        if args and args[0] in _CONTENTION:
            return True
        if "database is locked" in str(orig or ""):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class JobQueue:
    def __init__(self, db: Database, msid: str, executor: Executor | None = None, *, workers: int = 4,
                 poll_interval: float = 0.05, runid: int = 0) -> None:
        self.db = db
        self.msid = msid
        self.runid = runid
        self.executor = executor
        self.workers = workers
        self.poll_interval = poll_interval
        self._wake = threading.Condition()
        self._signals = 0  # wake-ups not yet taken by a worker (a notify while all were busy is not lost)
        self._stop = loops.StopEvent()  # the background loops stop with the queue (server.build)
        self._paused = threading.Event()  # fenced: claim nothing more
        self._threads: list[threading.Thread] = []
        event.listen(db.sessions, "after_flush", _note_new_jobs)
        event.listen(db.sessions, "after_commit", self._after_commit)

    # ---- producer side ------------------------------------------------------------------------------------
    def notify(self) -> None:
        with self._wake:
            self._signals = min(self._signals + 1, max(self.workers, 1))
            self._wake.notify()

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_NEW_JOBS, False):
            self.notify()

    def claimable(self) -> bool:
        """Whether a queued job waits that a worker could claim now (one read; no write lock)."""
        with self.db.session(write=False) as s:
            return s.scalar(_claimable_stmt()) is not None

    # ---- claiming -----------------------------------------------------------------------------------------
    def claim(self) -> AsyncJob | None:
        """Claims one pending job for this server, skipping jobs whose entity already has one running; the job's
        row as claimed. A claim that loses a deadlock or a lock wait (the database rolled it back whole) is tried
        again."""
        if self._paused.is_set():
            return None
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                return self._claim()
            except OperationalError as exc:
                if not lost_to_contention(exc):
                    raise
                log.debug("job claim lost to a concurrent transaction (attempt %d); retrying", attempt + 1)
                time.sleep(0.01 * (attempt + 1))
        return None

    def _claim(self) -> AsyncJob | None:
        with self.db.session() as s:
            for job_id, instance_uuid in s.execute(_pending_jobs(self.db.is_sqlite)).all():
                if instance_uuid and not self._lock_entity(s, instance_uuid, job_id):
                    continue  # another job on this entity is running: keep this one queued
                took = s.execute(_take_stmt(), {"b_id": job_id, "b_msid": self.msid, "b_runid": self.runid,
                                           "b_now": utcnow()})
                if took.rowcount == 1:  # type: ignore[attr-defined]
                    # read in the claim's transaction, with its caller and its journal (empty unless a takeover
                    # requeued it), rather than in one more
                    return s.get_one(AsyncJob, job_id, options=_RUN_WITH)
        return None

    @staticmethod
    def _lock_entity(s: Session, instance_uuid: str, job_id: int) -> bool:
        try:
            with s.begin_nested():
                s.add(JobSync(instance_uuid=instance_uuid, job_id=job_id))
            return True
        except IntegrityError:
            # A job put back in the queue by a takeover still holds its entity's lock: it may run.
            return s.scalar(select(JobSync.job_id).where(JobSync.instance_uuid == instance_uuid)) == job_id

    # ---- completion ---------------------------------------------------------------------------------------
    def finish(self, session: Session, job_id: int, outcome: Outcome) -> None:
        """Completes the job inside `session` (the transaction of its effect); raises Fenced when this server's
        claim is gone, so the caller's transaction rolls back."""
        journal.final(session)
        now = utcnow()
        done = session.execute(_finish_stmt(), {
            "b_id": job_id, "b_msid": self.msid, "b_runid": self.runid, "b_status": outcome.status,
            "b_code": outcome.result_code,
            "b_result": json.dumps(outcome.result) if outcome.result is not None else None, "b_now": now})
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Fenced(f"job {job_id} is no longer claimed by management server {self.msid}")
        session.execute(_unlock_stmt(), {"b_id": job_id})
        outcome.committed = True

    def complete(self, job_id: int, outcome: Outcome) -> bool:
        """Completes the job in a unit of work of its own; False when this server no longer holds its claim."""
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                with self.db.session() as s:
                    self.finish(s, job_id, outcome)
                return True
            except Fenced:
                log.warning("job %s was taken over by another management server; its outcome here is dropped",
                            job_id)
                return False
            except OperationalError as exc:
                if not lost_to_contention(exc) or attempt == CLAIM_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        return False

    def fail(self, job_id: int, text: str, code: int = 530) -> bool:
        return self.complete(job_id, Outcome(FAILED, code, {"errorcode": code, "errortext": text}))

    # ---- running ------------------------------------------------------------------------------------------
    def run_one(self) -> bool:
        job = self.claim()
        if job is None:
            return False
        job_id = job.id
        # The request's id (a job queued by the server itself gets one of its own): the job's log lines, the
        # driver calls it makes and an unexpected failure's text all carry it.
        with logcontext.bound(job.request_id, job_id=job.uuid, command=job.command) as rid:
            t0 = time.perf_counter()
            with journal.running(job_id):
                try:
                    assert self.executor is not None
                    outcome = self.executor(job, lambda session, out: self.finish(session, job_id, out))
                except Fenced as exc:
                    log.warning("%s: its effect was rolled back", exc)
                    return True
                except Exception:  # the executor maps known errors itself; anything else is a bug, not a hang
                    log.exception("request %s: job %s (%s) crashed", rid, job.uuid, job.command)
                    err = UnexpectedError(rid)
                    outcome = Outcome(FAILED, err.code, {"errorcode": err.code, "errortext": err.text})
            if not outcome.committed:
                self.complete(job_id, outcome)
            done = "succeeded" if outcome.status == SUCCEEDED else "failed"
            seconds = time.perf_counter() - t0
            log.info("job %s (%s) %s in %.3f s", job.uuid, job.command, done, seconds,
                     extra={"duration": round(seconds, 6), "outcome": done})
        return True

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_one():
                    continue
            except Exception:
                log.exception("job worker loop error")
                self._stop.wait(self.poll_interval)  # e.g. the database is away: do not spin
            with self._wake:
                while not self._signals and not self._stop.is_set():
                    self._wake.wait()
                self._signals = max(self._signals - 1, 0)

    def _poller(self) -> None:
        """Jobs queued by other servers: one look every poll_interval, a worker woken only for a claimable one."""
        while not self._stop.wait(self.poll_interval):
            try:
                if not self._paused.is_set() and self.claimable():
                    self.notify()
            except Exception:
                log.exception("job poller error")

    # ---- lifecycle ----------------------------------------------------------------------------------------
    def pause(self) -> None:
        """Stop claiming (this server was fenced by its peers); jobs already running finish or are dropped."""
        self._paused.set()

    def start(self) -> None:
        self._paused.clear()
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"job-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._poller, name="job-poller", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()



# ---- the queue's statements, built once (management.db.prepared) ------------------------------------------------

def _pending_jobs(sqlite: bool) -> Any:
    def build() -> Any:
        q = (select(AsyncJob.id, AsyncJob.instance_uuid)
             .where(AsyncJob.status == IN_PROGRESS, AsyncJob.executing_msid.is_(None))
             .order_by(AsyncJob.id).limit(16))
        return q if sqlite else q.with_for_update(skip_locked=True)

    return prepared(("queue-pending", sqlite), build)


def _claimable_stmt() -> Any:
    def build() -> Any:
        busy = exists().where(JobSync.instance_uuid == AsyncJob.instance_uuid, JobSync.job_id != AsyncJob.id)
        return select(AsyncJob.id).where(AsyncJob.status == IN_PROGRESS, AsyncJob.executing_msid.is_(None),
                                         ~busy).limit(1)

    return prepared("queue-claimable", build)


def _take_stmt() -> Any:
    return prepared("queue-take", lambda: update(AsyncJob).where(
        AsyncJob.id == bindparam("b_id"), AsyncJob.executing_msid.is_(None)).values(
        executing_msid=bindparam("b_msid"), claim_runid=bindparam("b_runid"), last_updated=bindparam("b_now")))


def _finish_stmt() -> Any:
    return prepared("queue-finish", lambda: update(AsyncJob).where(
        AsyncJob.id == bindparam("b_id"), AsyncJob.status == IN_PROGRESS,
        AsyncJob.executing_msid == bindparam("b_msid"), AsyncJob.claim_runid == bindparam("b_runid")).values(
        status=bindparam("b_status"), result_code=bindparam("b_code"), result_json=bindparam("b_result"),
        complete_msid=bindparam("b_msid"), completed=bindparam("b_now"), last_updated=bindparam("b_now")))


def _unlock_stmt() -> Any:
    return prepared("queue-unlock", lambda: delete(JobSync).where(JobSync.job_id == bindparam("b_id")))
