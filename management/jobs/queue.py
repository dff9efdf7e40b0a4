"""The async job queue: the `async_job` table is the queue; claiming is atomic on SQLite and MariaDB."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from management.db.base import utcnow
from management.db.session import Database
from management.models.jobs import AsyncJob, JobSync, ManagementServer

log = logging.getLogger(__name__)

IN_PROGRESS, SUCCEEDED, FAILED, CANCELLED = 0, 1, 2, 3
VERSION = "0.1.0"


@dataclass(slots=True)
class Outcome:
    status: int
    result_code: int
    result: dict[str, Any] | None


Executor = Callable[[AsyncJob], Outcome]


class JobQueue:
    def __init__(self, db: Database, msid: str, executor: Executor | None = None, *, workers: int = 4,
                 poll_interval: float = 0.05, heartbeat_interval: float = 5.0) -> None:
        self.db = db
        self.msid = msid
        self.executor = executor
        self.workers = workers
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- producer side ------------------------------------------------------------------------------------
    def notify(self) -> None:
        with self._wake:
            self._wake.notify()

    # ---- claiming -----------------------------------------------------------------------------------------
    def claim(self) -> int | None:
        """Claims one pending job for this server, skipping jobs whose entity already has one running."""
        with self.db.session() as s:
            q = (select(AsyncJob.id, AsyncJob.instance_uuid)
                 .where(AsyncJob.status == IN_PROGRESS, AsyncJob.executing_msid.is_(None))
                 .order_by(AsyncJob.id).limit(16))
            if not self.db.is_sqlite:
                q = q.with_for_update(skip_locked=True)
            for job_id, instance_uuid in s.execute(q).all():
                if instance_uuid:
                    try:
                        with s.begin_nested():
                            s.add(JobSync(instance_uuid=instance_uuid, job_id=job_id))
                    except IntegrityError:
                        continue  # another job on this entity is running: keep this one queued
                took = s.execute(update(AsyncJob)
                                 .where(AsyncJob.id == job_id, AsyncJob.executing_msid.is_(None))
                                 .values(executing_msid=self.msid, last_updated=utcnow()))
                if took.rowcount == 1:  # type: ignore[attr-defined]
                    return job_id
        return None

    def complete(self, job_id: int, outcome: Outcome) -> None:
        with self.db.session() as s:
            s.execute(update(AsyncJob).where(AsyncJob.id == job_id).values(
                status=outcome.status, result_code=outcome.result_code,
                result_json=json.dumps(outcome.result) if outcome.result is not None else None,
                complete_msid=self.msid, completed=utcnow(), last_updated=utcnow()))
            s.execute(delete(JobSync).where(JobSync.job_id == job_id))

    def fail(self, job_id: int, text: str, code: int = 530) -> None:
        self.complete(job_id, Outcome(FAILED, code, {"errorcode": code, "errortext": text}))

    # ---- running ------------------------------------------------------------------------------------------
    def run_one(self) -> bool:
        job_id = self.claim()
        if job_id is None:
            return False
        with self.db.session(write=False) as s:
            job = s.get_one(AsyncJob, job_id)
        try:
            assert self.executor is not None
            outcome = self.executor(job)
        except Exception as exc:  # the executor maps known errors itself; anything else is a bug, not a hang
            log.exception("job %s (%s) crashed", job.uuid, job.command)
            outcome = Outcome(FAILED, 530, {"errorcode": 530, "errortext": f"Internal error: {exc}"})
        self.complete(job_id, outcome)
        return True

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_one():
                    continue
            except Exception:
                log.exception("job worker loop error")
            with self._wake:
                self._wake.wait(self.poll_interval)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed")

    def beat(self) -> None:
        with self.db.session() as s:
            s.execute(update(ManagementServer).where(ManagementServer.msid == self.msid)
                      .values(last_heartbeat=utcnow(), state="Up"))

    # ---- lifecycle ----------------------------------------------------------------------------------------
    def register_server(self) -> None:
        with self.db.session() as s:
            row = s.get(ManagementServer, self.msid)
            if row is None:
                row = ManagementServer(msid=self.msid, hostname=socket.gethostname(), pid=os.getpid(),
                                       version=VERSION)
                s.add(row)
            row.pid, row.state, row.started, row.last_heartbeat = os.getpid(), "Up", utcnow(), utcnow()

    def recover(self) -> list[str]:
        """Fails every job this server (or a server whose heartbeat stopped) was running when it died.

        A job claimed by a process that no longer exists can not be resumed safely in general, so it ends FAILED
        with a text saying why; VM sync then reconciles the entity with what the hypervisor reports.
        """
        stale_before = utcnow() - timedelta(seconds=max(30.0, 6 * self.heartbeat_interval))
        with self.db.session() as s:
            dead = {m for (m,) in s.execute(select(ManagementServer.msid).where(
                ManagementServer.msid != self.msid, ManagementServer.last_heartbeat < stale_before))}
            owners = dead | {self.msid}
            jobs = list(s.execute(select(AsyncJob.id, AsyncJob.uuid, AsyncJob.executing_msid).where(
                AsyncJob.status == IN_PROGRESS, AsyncJob.executing_msid.in_(owners))))
            for m in dead:
                s.execute(update(ManagementServer).where(ManagementServer.msid == m).values(state="Down"))
        for job_id, _uuid, owner in jobs:
            self.fail(job_id, f"Job interrupted: management server {owner} stopped while the job was running; "
                              "the operation did not complete")
        return [u for _i, u, _o in jobs]

    def start(self) -> None:
        self.register_server()
        recovered = self.recover()
        if recovered:
            log.warning("failed %d interrupted job(s): %s", len(recovered), ", ".join(recovered))
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"job-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        hb = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        hb.start()
        self._threads.append(hb)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.notify()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
