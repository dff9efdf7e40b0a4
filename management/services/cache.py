"""Small read-through caches for facts read on every request (the caller behind an API key, global settings,
role rules), with a time bound for other servers' changes and immediate invalidation for this process' own:
any flush that touches a watched model clears the caches that depend on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

V = TypeVar("V")

_WATCHERS: list[tuple[tuple[type, ...], TTLCache[Any]]] = []


class TTLCache(Generic[V]):
    def __init__(self, ttl: float, *, watch: tuple[type, ...] = (), max_entries: int = 10_000,
                 on_invalidate: Callable[[], None] | None = None) -> None:
        self.ttl = ttl
        self.on_invalidate = on_invalidate  # called after this process committed a change to what it watches
        self.max_entries = max_entries
        self._data: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # moves on every invalidation: a load that raced with one is not kept
        if watch:
            _WATCHERS.append((watch, self))

    def get(self, key: Hashable, load: Callable[[], V], session: Session | None = None) -> V:
        """The cached value or ``load()``'s; given the reading ``session``, a session that has changed what this
        cache watches (not committed yet) reads through, so it sees its own change."""
        if session is not None and self in session.info.get("stale_caches", ()):
            return load()
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            generation = self._generation
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = load()
        if value is None:
            return value  # misses are not cached: unknown keys from clients must not grow the cache
        with self._lock:
            if generation != self._generation:
                return value
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (now, value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._data.clear()
            self._generation += 1
        if self.on_invalidate is not None:
            self.on_invalidate()


@event.listens_for(Session, "after_flush")
def _note_touched(session: Session, _ctx: Any) -> None:
    if not _WATCHERS:
        return
    touched = {type(o) for o in (*session.new, *session.dirty, *session.deleted)}
    stale = session.info.setdefault("stale_caches", set())
    for models, cache in _WATCHERS:
        if any(issubclass(t, models) for t in touched):
            stale.add(cache)


@event.listens_for(Session, "after_commit")
def _invalidate_after_commit(session: Session) -> None:
    # After the commit, not the flush: a reader between the two would cache the old value again.
    for cache in session.info.pop("stale_caches", ()):
        cache.invalidate()


@event.listens_for(Session, "after_rollback")
def _forget_touched(session: Session) -> None:
    session.info.pop("stale_caches", None)
