"""Usage events of one unit of work are written together when it commits, and only the events of what committed:
a savepoint rolled back takes its own with it, a rolled-back unit of work leaves none (SQLite, a real table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from management.models.usage import UsageEvent
from management.services.platform import usage

pytestmark = pytest.mark.unit


def _event(s: Session, name: str, **kw: Any) -> None:
    usage.record(s, "VM.CREATE", account_id=2, domain_id=1, zone_id=1, resource_id=len(name), name=name, **kw)


def _names(engine) -> list[str | None]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.scalars(select(UsageEvent.resource_name).order_by(UsageEvent.id)))


def test_a_unit_of_works_events_are_one_insert_at_commit(engine) -> None:  # type: ignore[no-untyped-def]
    inserts: list[tuple[str, bool]] = []

    def seen(_conn: Any, _cur: Any, sql: str, _params: Any, _ctx: Any, many: bool) -> None:
        if sql.startswith("INSERT INTO usage_event"):
            inserts.append((sql, many))

    event.listen(engine, "before_cursor_execute", seen)
    with Session(engine) as s:
        _event(s, "vm-a", details={"cpu": 1})
        _event(s, "vol-b", size=1 << 30)  # other columns left None than the first: still the same statement
        _event(s, "nic-c", offering_id=7)
        assert inserts == []  # nothing before the commit
        s.commit()
    event.remove(engine, "before_cursor_execute", seen)
    assert len(inserts) == 1 and inserts[0][1], inserts
    assert _names(engine) == ["vm-a", "vol-b", "nic-c"]


def test_a_rolled_back_savepoint_takes_only_its_own_events(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        _event(s, "before")
        sp = s.begin_nested()
        _event(s, "in-savepoint")
        sp.rollback()
        with s.begin_nested():
            _event(s, "kept-savepoint")
        _event(s, "after")
        s.commit()
    assert _names(engine) == ["before", "kept-savepoint", "after"]


def test_a_rolled_back_unit_of_work_leaves_no_event(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        _event(s, "lost")
        s.rollback()
        _event(s, "next")
        s.commit()
    assert _names(engine) == ["next"]


def test_events_not_yet_committed_are_read_by_the_usage_job_of_the_same_unit(engine) -> None:  # type: ignore[no-untyped-def]
    then = datetime(2026, 1, 1, tzinfo=UTC)
    usage.CLOCK, saved = (lambda: then), usage.CLOCK
    try:
        with Session(engine) as s:
            _event(s, "old")
            usage.CLOCK = lambda: then + timedelta(days=40)
            assert usage.remove_raw(s, days=30) == 1  # the event recorded above was seen, and deleted
            s.commit()
    finally:
        usage.CLOCK = saved
    assert _names(engine) == []
