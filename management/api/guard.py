"""The one error path of every listener (8080, 8096, S3, EC2): an ASGI wrapper around each app.

It gives every request a request id (CloudStack calls it the log id: eight hex digits, in the log lines and in the
errors that point there), refuses methods the listener does not serve, counts the request body as the app reads it
and refuses it past the listener's limit before more than the limit is held, cleans response header values (an
error text echoing a ``\\r`` must not break the reply) and turns anything that escapes the app into the listener's
own error shape. What the HTTP parser refuses before an app runs goes through the same renderers
(:mod:`management.api.http11`).

A renderer answers a :class:`Rejection` in the listener's format: CloudStack's envelope on 8080/8096, AWS XML on
S3 and EC2.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from management import logcontext
from management.logcontext import new_request_id

log = logging.getLogger("devcloud.http")
access_log = logging.getLogger("devcloud.access")
REQUEST_ID_HEADER = b"x-request-id"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

# Limits of what a request may be before an app sees it; the parser's URL decoder cannot go past 64 KiB anyway.
MAX_TARGET = 65535  # request target (path and query string), bytes
MAX_HEADER_BYTES = 64 * 1024  # all header names and values together
MAX_HEADERS = 200
# A body over the limit is read on (and thrown away) up to this much so the client, still sending, gets the error
# instead of a reset; a larger declared body is answered at once and the connection closed.
DRAIN_LIMIT = 256 * 1024 * 1024
SNIFF = 4096  # leading request body bytes kept for the renderer (response=json in a POST form)
SNIFF_KEY = "devcloud.body_start"  # where the guard leaves them in the scope

_UNSAFE_HEADER_CHARS = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # what HTTP/1.1 (and uvicorn) refuse in a value
_HEADER_NAME = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def header_value(text: str | bytes, limit: int = 512) -> bytes:
    """A header value made safe from any text: control characters become spaces and, for text, whatever is not
    ASCII '?' (HTTP clients differ on anything past ASCII in a header)."""
    raw = text if isinstance(text, bytes) else text[:limit].encode("ascii", "replace")
    return _UNSAFE_HEADER_CHARS.sub(b" ", raw[:limit])


class Kind(Enum):
    MALFORMED = "malformed"
    METHOD = "method"
    TARGET_TOO_LONG = "target too long"
    HEADERS_TOO_LARGE = "headers too large"
    BODY_TOO_LARGE = "body too large"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Rejection:
    kind: Kind
    text: str


# (rejection, request id, what is known of the request: its target and the start of its body) ->
# (HTTP status, headers, body)
Renderer = Callable[[Rejection, str, bytes], tuple[int, list[tuple[bytes, bytes]], bytes]]


class Rejected(Exception):
    """Raised inside a request (by the body counter) to answer with the listener's error."""

    def __init__(self, rejection: Rejection, *, close: bool = False) -> None:
        super().__init__(rejection.text)
        self.rejection = rejection
        self.close = close


def body_too_large(limit: int) -> Rejection:
    return Rejection(Kind.BODY_TOO_LARGE, f"Request body too large: the limit is {limit} bytes")


def method_not_allowed(method: str) -> Rejection:
    return Rejection(Kind.METHOD, f"HTTP method {method} is not supported by this URL")


def internal(rid: str) -> Rejection:
    return Rejection(Kind.INTERNAL, f"Internal error (request id {rid})")


def encode_reply(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[Message, Message]:
    hs = [(k, header_value(v, 4096)) for k, v in headers if _HEADER_NAME.match(k)]
    hs.append((b"content-length", str(len(body)).encode()))
    return ({"type": "http.response.start", "status": status, "headers": hs},
            {"type": "http.response.body", "body": body})


def known_of(scope: Mapping[str, Any]) -> bytes:
    """What a renderer may look at: the request target and the first bytes of the body read so far."""
    raw = scope.get("raw_path") or scope.get("path", "").encode("latin-1", "replace")
    query = scope.get("query_string") or b""
    return raw + (b"?" + query if query else b"") + b"\n" + bytes(scope.get(SNIFF_KEY, b""))


class Guard:
    """Wraps one listener's ASGI app (see the module docstring)."""

    def __init__(self, app: ASGIApp, renderer: Renderer, *, name: str, max_body: int | None,
                 methods: frozenset[str] | None = None, request_id_header: bytes = REQUEST_ID_HEADER,
                 unbounded: tuple[str, ...] = ()) -> None:
        self.app = app
        # path prefixes whose bodies are files (the signed upload form): no body limit, the endpoint spools them
        self.unbounded = unbounded
        self.renderer = renderer
        self.name = name
        self.max_body = max_body
        self.methods = methods
        self.request_id_header = request_id_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = self._incoming_id(scope) or new_request_id()
        t0 = time.perf_counter()
        status = 0
        sent = 0
        tokens = logcontext.enter(rid)
        max_body = None if self.unbounded and str(scope.get("path", "")).startswith(self.unbounded) \
            else self.max_body
        started = False
        received = 0
        sniff = bytearray()
        drained = False
        gone = False  # the client went away (or the parser gave up on the body): nothing to answer, no failure
        scope = {**scope, SNIFF_KEY: sniff}

        async def counted_receive() -> Message:
            nonlocal received, drained, gone
            msg = await receive()
            if msg["type"] == "http.disconnect":
                gone = True
            elif msg["type"] == "http.request":
                chunk = msg.get("body", b"")
                received += len(chunk)
                if len(sniff) < SNIFF:
                    sniff.extend(chunk[:SNIFF - len(sniff)])
                if max_body is not None and received > max_body:
                    drained = True
                    close = await self._drain(receive) if msg.get("more_body") else False
                    raise Rejected(body_too_large(max_body), close=close)
            return msg

        async def guarded_send(msg: Message) -> None:
            nonlocal started, status, sent
            if msg["type"] == "http.response.start":
                started = True
                status = msg.get("status", 0)
                headers = [(k, header_value(v, 8192)) for k, v in msg.get("headers", [])
                           if _HEADER_NAME.match(k) and k.lower() != self.request_id_header]
                headers.append((self.request_id_header, rid.encode()))
                msg = {**msg, "headers": headers}
            elif msg["type"] == "http.response.body":
                sent += len(msg.get("body", b""))
            await send(msg)

        try:
            early = self._refuse_early(scope, max_body)
            if early is not None:
                rejection, close, drain = early
                if drain:
                    close = await self._drain(receive, sniff) or close
                    drained = True
                raise Rejected(rejection, close=close)
            await self.app(scope, counted_receive, guarded_send)
        except Rejected as r:
            log.info("%s request %s refused: %s", self.name, rid, r.rejection.text)
            if not started:
                status, sent = await self._answer(send, r.rejection, rid, scope, close=r.close or drained)
        except Exception as exc:
            if gone:
                log.info("%s request %s: the client went away (%s)", self.name, rid, type(exc).__name__)
                return
            log.exception("%s request %s: %s %s failed", self.name, rid, scope.get("method"), scope.get("path"))
            if not started:
                status, sent = await self._answer(send, internal(rid), rid, scope, close=True)
        finally:
            self._access(scope, status, sent, time.perf_counter() - t0)
            logcontext.leave(tokens)

    def _incoming_id(self, scope: Scope) -> str | None:
        for k, v in scope.get("headers", []):
            if k == self.request_id_header:
                return logcontext.sane_request_id(v)
        return None

    def _access(self, scope: Scope, status: int, sent: int, seconds: float) -> None:
        """The access log line: never the query string (signatures, keys, passwords travel there), the CloudStack
        command instead where there is one."""
        method = scope.get("method", "-")
        path = str(scope.get("path", ""))[:256]
        known = logcontext.fields()
        outcome = "ok" if 0 < status < 400 else ("gone" if status == 0 else "error")
        access_log.info("%s %s %s%s %s %d B %.1f ms%s", self.name, method, path,
                        f" [{known['command']}]" if known.get("command") else "", status or "-", sent,
                        seconds * 1000, f" account={known['account']}" if known.get("account") else "",
                        extra={"port": self.name, "method": method, "path": path, "status": status, "bytes": sent,
                               "duration": round(seconds, 6), "outcome": outcome})

    def _refuse_early(self, scope: Scope, max_body: int | None) -> tuple[Rejection, bool, bool] | None:
        """(rejection, close, drain first) for what the method and headers alone show; None to go on."""
        method = scope.get("method", "GET")
        if self.methods is not None and method not in self.methods:
            return method_not_allowed(method), False, True
        if max_body is None:
            return None
        length = None
        expect = False
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                length = v
            elif k == b"expect":
                expect = v.lower() == b"100-continue"
        if length is None or not length.strip().isdigit() or int(length) <= max_body:
            return None
        # A client waiting for "100 Continue" never sends the body: answer now and close.
        size = int(length)
        if expect or size > DRAIN_LIMIT:
            return body_too_large(max_body), True, False
        return body_too_large(max_body), False, True

    @staticmethod
    async def _drain(receive: Receive, sniff: bytearray | None = None) -> bool:
        """Reads and drops the rest of the request body (keeping its start in `sniff`); True when it was too much
        and the connection must close."""
        total = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return True
            chunk = msg.get("body", b"")
            total += len(chunk)
            if sniff is not None and len(sniff) < SNIFF:
                sniff.extend(chunk[:SNIFF - len(sniff)])
            if not msg.get("more_body"):
                return False
            if total > DRAIN_LIMIT:
                return True

    async def _answer(self, send: Send, rejection: Rejection, rid: str, scope: Scope, *,
                      close: bool) -> tuple[int, int]:
        """Sends the listener's error; (status, body bytes) for the access log."""
        status, headers, body = self.renderer(rejection, rid, known_of(scope))
        headers = [*headers, (self.request_id_header, rid.encode())]
        if close:
            headers = [*headers, (b"connection", b"close")]
        if scope.get("method") == "HEAD":
            body = b""
        start, content = encode_reply(status, headers, body)
        try:
            await send(start)
            await send(content)
        except Exception:  # noqa: BLE001 - the client went away
            log.debug("%s request %s: could not send the error", self.name, rid, exc_info=True)
            return 0, 0
        return status, len(body)
