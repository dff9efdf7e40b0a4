"""The step journal of a running job (`async_job_journal`).

A job runs in one worker thread; `running(job_id)` marks that thread. Two kinds of rows are written:

- automatic: the first time a unit of work of the job's thread commits a change *before* the job completes (the
  job is no longer database-only: a later crash leaves part of it behind), a `partial` row is added to that same
  transaction, so it exists exactly when something was committed;
- explicit: `intent(session, step, **data)` before a hypervisor call whose leftovers a resumer must clean up
  (e.g. the volumes a spawn creates), in the unit of work that precedes the call.

A job whose journal is empty left nothing behind when its server died: it can simply run again. One with rows is
reconciled with the hypervisor first (services/ha/takeover.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from management.models.jobs import JobJournal

PARTIAL = "partial"
REQUEUED = "requeued"  # written by the takeover that put the job back in the queue
_WROTE = "_devcloud_wrote"
_FINAL = "_devcloud_final"


class _Current(threading.local):
    job_id: int | None = None
    journaled: bool = False


_current = _Current()


@contextmanager
def running(job_id: int) -> Iterator[None]:
    """Marks this thread as running job `job_id` until the block ends."""
    _current.job_id, _current.journaled = job_id, False
    try:
        yield
    finally:
        _current.job_id, _current.journaled = None, False


def current_job() -> int | None:
    return _current.job_id


def committed_before() -> bool:
    """Whether the current job has committed part of its work already (it is no longer database-only)."""
    return _current.journaled


def final(session: Session) -> None:
    """Marks the session that commits the job's completion: its commit is not a partial one."""
    session.info[_FINAL] = True


def intent(session: Session, step: str, **data: Any) -> None:
    """Records a step of the current job in `session`'s transaction (nothing outside a job)."""
    job_id = _current.job_id
    if job_id is None:
        return
    session.add(JobJournal(job_id=job_id, step=step, data_json=json.dumps(data, sort_keys=True) if data else None))


def decoded(rows: Iterable[JobJournal]) -> list[tuple[str, dict[str, Any]]]:
    """(step, data) of a job's journal rows (the claim loads them: AsyncJob.journal), in their order."""
    return [(r.step, json.loads(r.data_json) if r.data_json else {}) for r in rows]


# ---- the automatic `partial` row --------------------------------------------------------------------------------

@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    if _current.job_id is not None:
        session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if _current.job_id is not None and (state.is_update or state.is_delete or state.is_insert):
        state.session.info[_WROTE] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if (_current.job_id is None or _current.journaled or session.info.get(_FINAL)
            or not (session.info.get(_WROTE) or session.new or session.dirty or session.deleted)
            or any(isinstance(o, JobJournal) for o in session.new)):
        return
    session.add(JobJournal(job_id=_current.job_id, step=PARTIAL))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False) and _current.job_id is not None and not session.info.get(_FINAL):
        _current.journaled = True


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)
