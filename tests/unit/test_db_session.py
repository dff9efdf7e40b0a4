"""SQLite write sessions: a unit of work that commits half way (before long driver work) and then reads must still
be able to write its completion when another writer committed in between (an imported VM's job failed with
"database is locked" after its effect was committed)."""

from __future__ import annotations

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
