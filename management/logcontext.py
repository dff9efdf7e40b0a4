"""The request id (CloudStack's "logid") and what else is known of the work being done — the job, the account,
the command — for every log line written while it runs.

The id names one API request (on any port) and the async job it starts, in every log line of both and in the error
a client gets when something unexpected failed, so the two can be matched. The listener's guard opens the context
(taking a sane ``X-Request-Id`` from the client, else making one), the CloudStack dispatcher adds the command and
the account, the job worker reopens it with the id stored on the job; :class:`ContextFilter` copies it into each
log record.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("devcloud_request_id", default=None)
# job_id / account / command of the current request or job. One mutable dict per request: what the dispatcher adds
# on a worker thread (a copy of the request's context) is seen by the listener's access log line.
_FIELDS: ContextVar[dict[str, Any] | None] = ContextVar("devcloud_log_fields", default=None)
FIELDS = ("job_id", "account", "command")
# What a client may choose as its request id: short, no spaces, nothing a log reader could mistake for syntax.
_SANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def new_request_id() -> str:
    return secrets.token_hex(4)


def request_id() -> str:
    """The id of the request or job being served (a fresh one outside of any: call it once per use)."""
    return REQUEST_ID.get() or new_request_id()


def sane_request_id(value: str | bytes | None) -> str | None:
    """A client's X-Request-Id when it is usable as ours (1-64 of letters, digits and ._:-), else None."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if value and _SANE.match(value) else None


Tokens = tuple[Token[str | None], Token[dict[str, Any] | None]]


def enter(rid: str, **fields: Any) -> Tokens:
    """Opens a context (see :func:`bound`); :func:`leave` with what this returns closes it."""
    return REQUEST_ID.set(rid), _FIELDS.set({k: v for k, v in fields.items() if v is not None})


def leave(tokens: Tokens) -> None:
    _FIELDS.reset(tokens[1])
    REQUEST_ID.reset(tokens[0])


@contextmanager
def bound(rid: str | None = None, **fields: Any) -> Iterator[str]:
    """Makes `rid` (or a new id) the current request id, with `fields` (job_id, account, command), for the block."""
    value = rid or new_request_id()
    tokens = enter(value, **fields)
    try:
        yield value
    finally:
        leave(tokens)


def annotate(**fields: Any) -> None:
    """Adds what just became known (the command, the account) to the current request's or job's context."""
    current = _FIELDS.get()
    if current is not None:
        current.update({k: v for k, v in fields.items() if v is not None})


def fields() -> dict[str, Any]:
    return dict(_FIELDS.get() or {})


class ContextFilter(logging.Filter):
    """Puts the request id into every log record as ``%(request_id)s`` ("-" outside of a request or job), and the
    job id, account and command where known (None otherwise)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        known = _FIELDS.get() or {}
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, known.get(name))
        return True


RequestIdFilter = ContextFilter  # the name the server used first
