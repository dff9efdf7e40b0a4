"""Background loops that sleep until their work is due.

A `Loop` runs `work()` every `interval()` seconds on a daemon thread. Between rounds it sleeps until the next due
time, not in short ticks: an idle server wakes only for work. It wakes early when

- it is stopped (its own `stop()`, or a `StopEvent` it was started with: the job queue's);
- `wake()` is called (a local event that makes work due now);
- `wake_all()` is called: this process committed a change to a setting (services/configuration.py hooks it to the
  settings cache's invalidation), so each loop reads its interval again and sleeps until its new due time.

Another server's change to a setting is seen within `REREAD` seconds (the loop reads its interval again at least
that often; the read goes through the settings cache).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)

REREAD = 60.0  # the longest sleep: a setting changed on another server is read again within this

_LOOPS: weakref.WeakSet[Loop] = weakref.WeakSet()
_LOOPS_LOCK = threading.Lock()


class StopEvent(threading.Event):
    """A threading.Event whose `set()` also calls the listeners (loops stopping with it wake at once)."""

    def __init__(self) -> None:
        super().__init__()
        self._listeners: list[Callable[[], None]] = []

    def on_set(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def set(self) -> None:
        super().set()
        for fn in list(self._listeners):
            fn()


def wake_all() -> None:
    """Every loop of this process reads its interval again (a setting changed)."""
    with _LOOPS_LOCK:
        loops = list(_LOOPS)
    for loop in loops:
        loop.wake()


class Loop:
    """`work()` every `interval()` seconds (an interval of 0 or less: off, looked at again within REREAD).

    `at_start`: the first round runs at once, else one interval after the start. A failing `interval()` counts as
    `fallback`; a failing `work()` is logged and the loop goes on."""

    def __init__(self, name: str, interval: Callable[[], float], work: Callable[[], object], *,
                 stop_event: threading.Event | None = None, at_start: bool = False, fallback: float = 60.0) -> None:
        self.name = name
        self._interval = interval
        self._work = work
        self._external = stop_event
        self._at_start = at_start
        self._fallback = fallback
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._nudged = False
        self._thread: threading.Thread | None = None
        if isinstance(stop_event, StopEvent):
            stop_event.on_set(self.wake)

    def start(self) -> None:
        if self._thread is None:
            with _LOOPS_LOCK:
                _LOOPS.add(self)
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def stopping(self) -> bool:
        return self._stop.is_set() or (self._external is not None and self._external.is_set())

    def wake(self) -> None:
        with self._cond:
            self._nudged = True
            self._cond.notify()

    def _read_interval(self) -> float:
        try:
            return float(self._interval())
        except Exception:  # noqa: BLE001 - a database hiccup or a bad value must not end the loop
            log.debug("%s: interval unreadable; using %.0f s", self.name, self._fallback, exc_info=True)
            return self._fallback

    def _sleep(self, seconds: float) -> None:
        # A plain Event given as the stop signal cannot wake us: look at it every second then.
        if self._external is not None and not isinstance(self._external, StopEvent):
            seconds = min(seconds, 1.0)
        with self._cond:
            if not self._nudged and not self.stopping():
                self._cond.wait(max(seconds, 0.0))
            self._nudged = False

    def _run(self) -> None:
        last = -float("inf") if self._at_start else time.monotonic()
        while not self.stopping():
            interval = self._read_interval()
            now = time.monotonic()
            if interval > 0 and now - last >= interval:
                last = now
                try:
                    self._work()
                except Exception:
                    log.exception("%s round failed", self.name)
                continue
            self._sleep(REREAD if interval <= 0 else min(last + interval - now, REREAD))
