"""API rate limits (plugins/api/rate-limit): per account, at most `api.throttling.max` calls within
`api.throttling.interval` seconds when `api.throttling.enabled`; root admins are never limited. The counters live
in this process (CloudStack keeps them in a per-server cache too)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from management.errors import CloudError
from management.models.events import Configuration
from management.services import configuration
from management.services.cache import TTLCache
from management.services.context import Caller
from management.services.runtime import Runtime

configuration.SETTINGS.update({
    "api.throttling.enabled": ("false", "Advanced", None, "Enable/disable Api rate limit"),
    "api.throttling.interval": ("1", "Advanced", None, "Time interval (in seconds) to reset API count"),
    "api.throttling.max": ("25", "Advanced", None, "Max allowed number of APIs within fixed interval"),
    "api.throttling.cachesize": ("50000", "Advanced", None, "Account based API count cache size"),
})


class ApiLimitExceeded(CloudError):
    code = 429
    cs_code = 9999


@dataclass(frozen=True, slots=True)
class Limits:
    enabled: bool
    interval: int  # seconds
    max: int


_LIMITS: TTLCache[Limits] = TTLCache(5.0, watch=(Configuration,))


def limits(session: Session) -> Limits:
    def load() -> Limits:
        enabled = (configuration.get(session, "api.throttling.enabled", "false") or "").lower() == "true"
        interval = int(configuration.get_float(session, "api.throttling.interval", 1))
        return Limits(enabled, max(interval, 1), int(configuration.get_float(session, "api.throttling.max", 25)))

    return _LIMITS.get(str(session.get_bind().engine.url), load)


class _Entry:
    __slots__ = ("count", "expiry")

    def __init__(self, ttl: int) -> None:
        self.expiry = time.monotonic() + ttl
        self.count = 0

    def remaining_ms(self) -> int:
        return max(int((self.expiry - time.monotonic()) * 1000), 0)


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}

    def _entry(self, account_id: int, ttl: int) -> _Entry:
        e = self._entries.get(account_id)
        if e is None or e.remaining_ms() == 0:
            e = self._entries[account_id] = _Entry(ttl)
        return e

    def hit(self, account_id: int, lim: Limits) -> None:
        with self._lock:
            e = self._entry(account_id, lim.interval)
            e.count += 1
            if e.count <= lim.max:
                return
            wait = e.remaining_ms()
        raise ApiLimitExceeded(f"The given user has reached his/her account api limit, please retry after "
                               f"[{wait}] ms.")

    def peek(self, account_id: int, lim: Limits) -> tuple[int, int, int]:
        """(issued, allowed, milliseconds until the counter resets)."""
        with self._lock:
            e = self._entries.get(account_id)
            if e is None or e.remaining_ms() == 0:
                e = self._entries[account_id] = _Entry(lim.interval)
                return 0, lim.max, lim.interval * 1000
            return e.count, lim.max - e.count, e.remaining_ms()

    def reset(self, account_id: int | None, lim: Limits) -> None:
        with self._lock:
            if account_id is None:
                self._entries.clear()
            else:
                self._entries[account_id] = _Entry(lim.interval)


def counters(runtime: Runtime) -> Counters:
    found = runtime.extras.get("api_rate_limit")
    if found is None:
        found = runtime.extras.setdefault("api_rate_limit", Counters())
    return found  # type: ignore[no-any-return]


def check(runtime: Runtime, session: Session, caller: Caller) -> None:
    """Counts one API call of the caller's account; 429 once the account is over its limit."""
    lim = limits(session)
    if not lim.enabled or caller.is_root_admin:
        return
    counters(runtime).hit(caller.account_id, lim)


def require_enabled(session: Session) -> Limits:
    from management.errors import UnsupportedAction

    lim = limits(session)
    if not lim.enabled:
        raise UnsupportedAction("This api is only available when api.throttling.enabled = true.")
    return lim
