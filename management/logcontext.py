"""The request id (CloudStack's "logid"): eight hex digits naming one API request or one job in every log line
written while it runs, and in the error a client gets when something unexpected failed, so the two can be matched."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("devcloud_request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(4)


def request_id() -> str:
    """The id of the request or job being served (a fresh one outside of any: call it once per use)."""
    return REQUEST_ID.get() or new_request_id()


@contextmanager
def bound(rid: str | None = None) -> Iterator[str]:
    """Makes `rid` (or a new id) the current request id for the block."""
    value = rid or new_request_id()
    token = REQUEST_ID.set(value)
    try:
        yield value
    finally:
        REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the request id into every log record as ``%(request_id)s`` ("-" outside of a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True
