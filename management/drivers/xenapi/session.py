"""XenAPI sessions for the driver: login (following HOST_IS_SLAVE to the pool master), re-login on
SESSION_INVALID, transport errors as HostUnreachable, and ``Async.*`` task polling.

Sessions come from a *session factory* ``factory(url) -> XenAPI.Session``. The default builds
``XenAPI.Session(url)``, unless a factory was registered for that URL with :func:`register_session_factory`
(the test hook: :class:`management.drivers.xenapi.fake.FakeXapi.install` registers the fake pool for its
hosts' addresses, so drivers built by the server from ``http://<address>`` URLs reach it).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import socket
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import XenAPI

from management.drivers.errors import DriverError, DriverTimeout, HostUnreachable

log = logging.getLogger(__name__)

SessionFactory = Callable[[str], Any]
API_VERSION = "2.0"
ORIGINATOR = "devcloud"

_FACTORIES: dict[str, SessionFactory] = {}
_FACTORIES_LOCK = threading.Lock()

# Transport-level failures: the pool master cannot be reached (or dropped the connection).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, socket.timeout, http.client.HTTPException,
                                                     xmlrpc.client.ProtocolError)


def url_key(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme.lower() or "http", (p.netloc or p.path).lower().rstrip("/"), "", "", ""))


def register_session_factory(url: str, factory: SessionFactory) -> None:
    """Use ``factory`` for sessions to ``url`` (scheme://host[:port]; path ignored)."""
    with _FACTORIES_LOCK:
        _FACTORIES[url_key(url)] = factory


def unregister_session_factory(url: str) -> None:
    with _FACTORIES_LOCK:
        _FACTORIES.pop(url_key(url), None)


def default_session_factory(url: str) -> Any:
    with _FACTORIES_LOCK:
        factory = _FACTORIES.get(url_key(url))
    if factory is not None:
        return factory(url)
    return XenAPI.Session(url, ignore_ssl=url.lower().startswith("https"))


def failure_code(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    return str(details[0]) if details else ""


_VALUE = re.compile(r"^\s*<value>(.*)</value>\s*$", re.S)


def parse_task_result(result: str) -> str:
    """A task's result is XML-RPC text (``<value>OpaqueRef:...</value>``); return the bare value."""
    if not result:
        return ""
    m = _VALUE.match(result)
    if not m:
        return result
    inner = m.group(1)
    try:
        (value,), _ = xmlrpc.client.loads(f"<params><param><value>{inner}</value></param></params>")
        return str(value)
    except Exception:  # noqa: BLE001 - a plain text payload
        return inner.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class XapiConnection:
    """One logged-in session to a pool master, safe to share between threads (calls are serialised).

    ``url`` is the host the driver was given; after ``HOST_IS_SLAVE`` the session goes to the master, whose
    URL is kept in :attr:`master_url`.
    """

    def __init__(self, url: str, username: str, password: str, factory: SessionFactory | None = None, *,
                 task_timeout: float = 600.0, poll_interval: float = 0.05) -> None:
        self.url = url
        self.master_url = url
        self.username = username
        self.password = password
        self.factory = factory or default_session_factory
        self.task_timeout = task_timeout
        self.poll_interval = poll_interval
        self._session: Any = None
        self._lock = threading.RLock()
        self.logins = 0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url

    # -- login --------------------------------------------------------------------------------------------

    def login(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            target = self.master_url
            for _ in range(3):
                session = self.factory(target)
                try:
                    session.xenapi.login_with_password(self.username, self.password, API_VERSION, ORIGINATOR)
                except XenAPI.Failure as exc:
                    code = failure_code(exc)
                    if code == "HOST_IS_SLAVE" and len(exc.details) > 1:
                        p = urlsplit(target)
                        target = urlunsplit((p.scheme, str(exc.details[1]), "", "", ""))
                        log.info("XenAPI host %s is a pool member; logging in to the master %s", self.url, target)
                        continue
                    if code == "SESSION_AUTHENTICATION_FAILED":
                        raise DriverError(f"XenAPI login to {target} as {self.username!r} failed: "
                                          "authentication failure (check the username and password)") from None
                    raise DriverError(f"XenAPI login to {target} failed: {exc.details}") from None
                except TRANSPORT_ERRORS as exc:
                    raise HostUnreachable(urlsplit(target).hostname or target, _reason(exc)) from None
                except xmlrpc.client.Fault as exc:
                    raise DriverError(f"XenAPI login to {target} failed: {exc.faultString}") from None
                self._session = session
                self.master_url = target
                self.logins += 1
                return
            raise DriverError(f"XenAPI login to {self.url}: too many HOST_IS_SLAVE redirections")

    def logout(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.xenapi.session.logout()
            except Exception:  # noqa: BLE001 - the session may be dead already
                log.debug("XenAPI logout from %s failed", self.master_url, exc_info=True)

    @property
    def connected(self) -> bool:
        return self._session is not None

    # -- calls --------------------------------------------------------------------------------------------

    def call(self, method: str, *args: Any) -> Any:
        """``session.xenapi.<method>(*args)``; XenAPI.Failure propagates (the caller maps it), except
        SESSION_INVALID (log in again, retry once); transport errors raise HostUnreachable."""
        for attempt in (1, 2):
            with self._lock:
                self.login()
                fn: Any = self._session.xenapi
                for part in method.split("."):
                    fn = getattr(fn, part)
                try:
                    return fn(*args)
                except XenAPI.Failure as exc:
                    if failure_code(exc) == "SESSION_INVALID" and attempt == 1:
                        log.info("XenAPI session to %s is no longer valid; logging in again", self.master_url)
                        self._session = None
                        continue
                    raise
                except xmlrpc.client.Fault as exc:  # the client library gave up re-logging in
                    self._session = None
                    if attempt == 1:
                        continue
                    raise DriverError(f"XenAPI {method} on {self.master_url}: {exc.faultString}") from None
                except TRANSPORT_ERRORS as exc:
                    self._session = None
                    raise HostUnreachable(urlsplit(self.master_url).hostname or self.master_url,
                                          _reason(exc)) from None
        raise DriverError(f"XenAPI {method}: no valid session")  # pragma: no cover

    def run_async(self, method: str, *args: Any, timeout: float | None = None,
                  progress: Callable[[float], None] | None = None) -> str:
        """``Async.<method>``, then poll the task (status/progress) until it ends; return its result value
        (an OpaqueRef for creators, "" for void calls) or raise XenAPI.Failure with the task's error_info.
        The task object is destroyed either way."""
        task = self.call(f"Async.{method}", *args)
        deadline = time.monotonic() + (timeout or self.task_timeout)
        delay = min(0.01, self.poll_interval)
        try:
            while True:
                status = self.call("task.get_status", task)
                if status == "success":
                    return parse_task_result(self.call("task.get_result", task))
                if status in ("failure", "cancelled"):
                    info = self.call("task.get_error_info", task) or [status.upper(), method]
                    raise XenAPI.Failure(list(info))
                if progress is not None:
                    progress(float(self.call("task.get_progress", task)))
                if time.monotonic() > deadline:
                    with contextlib.suppress(XenAPI.Failure):
                        self.call("task.cancel", task)
                    raise DriverTimeout(f"XenAPI {method}", timeout or self.task_timeout)
                time.sleep(delay)
                delay = min(delay * 2, self.poll_interval)
        finally:
            try:
                self.call("task.destroy", task)
            except (XenAPI.Failure, DriverError):
                log.debug("could not destroy task %s", task, exc_info=True)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


__all__ = ["SessionFactory", "XapiConnection", "default_session_factory", "failure_code", "parse_task_result",
           "register_session_factory", "unregister_session_factory", "url_key"]
