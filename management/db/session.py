"""Engine and session factory; SQLite gets WAL and a busy timeout, MariaDB a pre-pinged pool."""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from management.db import limits

log = logging.getLogger(__name__)
_MODE = "devcloud_sqlite_begin"
_WROTE = "devcloud_sqlite_wrote"
_HOLDS = "devcloud_sqlite_holds_writer_turn"
BUSY_TIMEOUT = 30.0
LONG_TURN = 5.0  # a turn held this long is logged with its thread: every other writer waited that long


class WriterTurns:
    """First come, first served turns at SQLite's single write lock among this process' threads.

    Without it every writer that finds the lock taken sleeps in SQLite's busy handler (1 ms, growing to 100 ms
    between tries) and whoever tries at the right moment wins: under a few dozen concurrent writers one of them
    could lose every try for the whole busy timeout and fail with "database is locked", and the lock sat idle
    during the sleeps. Here a writer waits for its turn in arrival order and is woken the moment the previous
    writer's connection goes back to the pool (after its COMMIT or ROLLBACK)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[object] = deque()
        self._busy = False
        # Who holds the turn and since when: a writer that times out says who kept it waiting, with that
        # thread's stack, so a "database is locked" can be traced to the unit of work that caused it.
        self._holder: threading.Thread | None = None
        self._since = 0.0

    def acquire(self, timeout: float = BUSY_TIMEOUT) -> None:
        with self._cond:
            if not self._busy and not self._queue:
                self._take()
                return
            me = object()
            self._queue.append(me)
            try:
                if not self._cond.wait_for(lambda: not self._busy and self._queue[0] is me, timeout):
                    self._report_timeout(timeout)
                    raise sqlite3.OperationalError("database is locked")
                self._take()
            finally:
                self._queue.remove(me)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            held, holder = time.monotonic() - self._since, self._holder
            self._busy, self._holder = False, None
            self._cond.notify_all()
        if held >= LONG_TURN:
            log.warning("thread %s held the SQLite write turn for %.1f s", holder.name if holder else "?", held)

    def _take(self) -> None:
        self._busy, self._holder, self._since = True, threading.current_thread(), time.monotonic()

    def _report_timeout(self, timeout: float) -> None:
        """Called with the condition's lock held: names the holder and shows where it is now."""
        holder = self._holder
        if holder is None:  # released at the last moment; the queue ahead of us took the time
            log.warning("no SQLite write turn within %.0f s: %d writers queued", timeout, len(self._queue))
            return
        frame = sys._current_frames().get(holder.ident or -1)
        where = "".join(traceback.format_stack(frame)[-12:]) if frame is not None else "(no frame)\n"
        log.warning("no SQLite write turn within %.0f s: thread %s has held it for %.1f s, %d writers queued; "
                    "it is at:\n%s", timeout, holder.name, time.monotonic() - self._since, len(self._queue), where)


SQLITE_CACHE_KIB = 512


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20,
                               max_overflow=20)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Each pooled connection keeps a page cache of its own (2 MB by default: ~100 MB for the pool's 40 at a
            # 10,000-VM database). Pages it misses come from the kernel's cache of the file, which all share.
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.close()
            # Let SQLAlchemy issue BEGIN itself so that write transactions start as IMMEDIATE (see below).
            dbapi_conn.isolation_level = None

        turns = WriterTurns()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # Writers BEGIN IMMEDIATE: taking the write lock up front means a read-then-write transaction can
            # not fail with "database is locked" half way (a 530 for the client). Readers stay DEFERRED so
            # they run beside a writer under WAL.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.info[_MODE], conn.info[_WROTE] = mode, False
            if mode == "IMMEDIATE" and not conn.info.get(_HOLDS):
                turns.acquire()
                conn.info[_HOLDS] = True
            try:
                conn.exec_driver_sql("BEGIN " + mode)
            except BaseException:
                if conn.info.pop(_HOLDS, False):
                    turns.release()
                raise

        def _end_turn(_dbapi_conn, record, *_args):  # type: ignore[no-untyped-def]
            if record is not None and record.info.pop(_HOLDS, False):
                turns.release()

        # The transaction ended (COMMIT/ROLLBACK done) when its connection goes back to the pool (or is dropped).
        event.listen(engine, "checkin", _end_turn)
        event.listen(engine, "invalidate", _end_turn)

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_writes(conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
            if not conn.info.get(_WROTE) and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                conn.info[_WROTE] = True

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_recycle=3600)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "before_flush", limits.before_flush)  # 431, not a driver error, for bad values

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        s = self.sessions()
        if write and self.is_sqlite:
            s.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def hold_write_lock(self, session: Session) -> None:
        """Before a unit of work's last writes: on SQLite, make sure its transaction can take the write lock.

        A write session begins IMMEDIATE, but a handler that commits half way (before long driver work) reads
        afterwards in a DEFERRED transaction. If another writer commits in between, that read snapshot can no
        longer become a writer: SQLite answers "database is locked" at once, without waiting, and the job would
        fail with its effect in place. A transaction that has only read is ended here and an IMMEDIATE one begun,
        which waits its turn (busy_timeout)."""
        if not self.is_sqlite or session.new or session.dirty or session.deleted:
            return
        if session.in_transaction():
            info = session.connection().info
            if info.get(_MODE) == "IMMEDIATE" or info.get(_WROTE):
                return
            session.commit()
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})

    def dispose(self) -> None:
        self.engine.dispose()
