"""One libvirt connection with reconnect, error translation and event-callback re-registration."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import libvirt

from management.drivers.errors import DriverError, HostUnreachable
from management.drivers.libvirt.events import ensure_event_loop

log = logging.getLogger(__name__)
T = TypeVar("T")


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; ours are raised as exceptions instead."""


libvirt.registerErrorHandler(_quiet, None)

# Errors that mean "the connection is gone", not "the call failed": worth one reconnect + retry.
_CONNECTION_LOST_DOMAINS = {libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE}


def is_connection_lost(exc: libvirt.libvirtError) -> bool:
    code, domain = exc.get_error_code(), exc.get_error_domain()
    return code in (libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN) or (
        code == libvirt.VIR_ERR_SYSTEM_ERROR and domain in _CONNECTION_LOST_DOMAINS
    )


class Connection:
    """Lazily opened, thread-safe handle. ``call(fn)`` runs ``fn(conn)``, reconnecting once if the daemon
    went away (libvirtd restart), so a long-lived management server survives daemon restarts."""

    def __init__(self, uri: str, on_open: Callable[[libvirt.virConnect], None] | None = None,
                 events: bool = True) -> None:
        self.uri = uri
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.RLock()
        self._on_open = on_open
        self._events = events

    def get(self) -> libvirt.virConnect:
        with self._lock:
            conn = self._conn
            if conn is not None:
                try:
                    if conn.isAlive():
                        return conn
                except libvirt.libvirtError:
                    pass
                log.warning("libvirt connection to %s lost; reconnecting", self.uri)
                self._drop()
            if self._events:
                ensure_event_loop()
            try:
                conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise HostUnreachable(self.uri, str(exc)) from exc
            if conn is None:  # older bindings returned None instead of raising
                raise HostUnreachable(self.uri)
            self._conn = conn
            if self._on_open is not None:
                self._on_open(conn)
            return conn

    def call(self, fn: Callable[[libvirt.virConnect], T]) -> T:
        for attempt in (1, 2):
            conn = self.get()
            try:
                return fn(conn)
            except libvirt.libvirtError as exc:
                if attempt == 1 and is_connection_lost(exc):
                    with self._lock:
                        if self._conn is conn:
                            self._drop()
                    continue
                raise
        raise DriverError("unreachable")  # pragma: no cover

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._drop()

    @property
    def is_open(self) -> bool:
        return self._conn is not None
