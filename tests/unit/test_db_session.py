"""SQLite write sessions: a unit of work that commits half way (before long driver work) and then reads must still
be able to write its completion when another writer committed in between (an imported VM's job failed with
"database is locked" after its effect was committed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from management.db.session import Database


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    d = Database(f"sqlite:///{tmp_path / 'cloud.db'}")
    with d.session() as s:
        s.execute(text("CREATE TABLE item (name TEXT)"))
    yield d
    d.dispose()


def _half_way(db: Database, s) -> None:  # type: ignore[no-untyped-def]
    s.execute(text("INSERT INTO item VALUES ('effect')"))
    s.commit()  # what a job does before driver work
    s.execute(text("SELECT count(*) FROM item")).scalar_one()  # the response is built: a DEFERRED read snapshot
    with db.session() as other:  # another job commits meanwhile
        other.execute(text("INSERT INTO item VALUES ('other')"))


def test_a_stale_read_snapshot_cannot_write(db: Database) -> None:
    with pytest.raises(OperationalError, match="database is locked"), db.session() as s:
        _half_way(db, s)
        s.execute(text("INSERT INTO item VALUES ('completion')"))


def test_hold_write_lock_lets_the_completion_commit(db: Database) -> None:
    with db.session() as s:
        _half_way(db, s)
        db.hold_write_lock(s)
        s.execute(text("INSERT INTO item VALUES ('completion')"))
    with db.session(write=False) as s:
        names = sorted(s.execute(text("SELECT name FROM item")).scalars())
    assert names == ["completion", "effect", "other"]


def test_hold_write_lock_keeps_a_transaction_that_wrote(db: Database) -> None:
    """Nothing is committed early when the transaction already holds the lock: a rollback takes all of it."""
    with pytest.raises(RuntimeError), db.session() as s:
        s.execute(text("INSERT INTO item VALUES ('effect')"))
        db.hold_write_lock(s)
        raise RuntimeError("the job failed")
    with db.session(write=False) as s:
        assert s.execute(text("SELECT count(*) FROM item")).scalar_one() == 0


def test_a_writer_that_waits_too_long_names_who_held_the_turn(caplog: pytest.LogCaptureFixture) -> None:
    """A "database is locked" from waiting for the write turn logs the thread that held it and where it was."""
    import threading

    from management.db.session import WriterTurns

    turns = WriterTurns()
    holding, done = threading.Event(), threading.Event()

    def slow_unit_of_work() -> None:
        turns.acquire()
        holding.set()
        done.wait(10)
        turns.release()

    t = threading.Thread(target=slow_unit_of_work, name="slow-writer")
    t.start()
    assert holding.wait(10)
    try:
        with caplog.at_level("WARNING", logger="management.db.session"), \
                pytest.raises(sqlite3.OperationalError, match="database is locked"):
            turns.acquire(timeout=0.2)
    finally:
        done.set()
        t.join(10)
    report = caplog.text
    assert "thread slow-writer has held it for" in report
    assert "in slow_unit_of_work" in report and "done.wait(10)" in report  # its stack, down to the line
    turns.acquire(timeout=1)  # the turn is free again once the holder let go
    turns.release()
