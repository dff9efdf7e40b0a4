"""How the server writes its log: CloudStack-like text lines (the default) or one JSON object per line.

Every line carries the request id (and the job id, account and command where known: see
:mod:`management.logcontext`). A JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and
``request_id``, then whichever of ``job_id``, ``account``, ``command``, ``duration`` (seconds), ``outcome`` and, on
access lines, ``port``, ``method``, ``path``, ``status``, ``bytes`` the line knows; ``exception`` holds a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from management.logcontext import FIELDS, ContextFilter

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s (logid:%(request_id)s): %(message)s"
# Fields a line may carry besides the fixed ones (logger.info(..., extra={...}) or the context).
OPTIONAL = (*FIELDS, "duration", "outcome", "port", "method", "path", "status", "bytes")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": rid if (rid := getattr(record, "request_id", None)) != "-" else None,
        }
        for name in OPTIONAL:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(fmt: LogFormat = "text", level: int = logging.INFO) -> logging.Handler:
    """The server's one log handler (standard error, which `devcloud up` and systemd send to a file)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
