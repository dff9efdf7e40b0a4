"""uvicorn's httptools protocol with the listener's own error replies for what the HTTP parser refuses.

uvicorn answers a request it cannot parse (a bad request line, an unknown method, a target over the URL parser's
64 KiB, a broken header or chunk) with a plain-text "Invalid HTTP request received." and puts no bound on the size
of the request headers. This subclass bounds the request target and the headers while they arrive and writes the
listener's renderer's answer (CloudStack's envelope, AWS XML) instead of uvicorn's text; everything else is
uvicorn's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from management import logcontext
from management.api import guard
from management.api.guard import Kind, Rejection

log = logging.getLogger("devcloud.http")


class _Refused(Exception):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.text)
        self.rejection = rejection


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # a staticmethod set by protocol_for(): (rejection, request id, known) -> (status, headers, body)
    renderer: ClassVar[Callable[..., tuple[int, list[tuple[bytes, bytes]], bytes]]]
    listener: ClassVar[str] = "http"

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > guard.MAX_TARGET:
            raise _Refused(Rejection(Kind.TARGET_TOO_LONG,
                                     f"Request URI too long: the limit is {guard.MAX_TARGET} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > guard.MAX_HEADER_BYTES or len(self.headers) >= guard.MAX_HEADERS:
            raise _Refused(Rejection(Kind.HEADERS_TOO_LARGE,
                                     f"Request headers too large: the limit is {guard.MAX_HEADERS} headers of "
                                     f"{guard.MAX_HEADER_BYTES} bytes together"))
        super().on_header(name, value)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            # What the renderer may read for hints (response=json): the target so far, else the raw bytes.
            self._refuse(_classify(exc), bytes(getattr(self, "url", b"") or b"") or data[:8192])

    def _refuse(self, rejection: Rejection, known: bytes) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            # The bytes after a complete request are no request (a Content-Length below the body's size): the
            # request read is answered first (S3 then says BadDigest), and the connection closes after that answer.
            cycle.keep_alive = False
            self.flow.pause_reading()
            return
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:  # half an answer is out: nothing sane can follow it
                self.transport.close()
                return
            cycle.disconnected = True  # the app (if still running) gets a disconnect and its sends are dropped
            cycle.message_event.set()
        rid = guard.new_request_id()
        status, headers, body = self.renderer(rejection, rid, known)
        with logcontext.bound(rid):
            log.info("%s request %s refused by the HTTP parser: %s", self.listener, rid, rejection.text)
            guard.access_log.info("%s - (unparsed) %d %d B", self.listener, status, len(body),
                                  extra={"port": self.listener, "status": status, "bytes": len(body),
                                         "outcome": "error"})
        out = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            out += [name, b": ", value, b"\r\n"]
        for name, value in headers:
            out += [name, b": ", guard.header_value(value, 4096), b"\r\n"]
        out += [guard.REQUEST_ID_HEADER, b": ", rid.encode(), b"\r\n"]
        out += [b"content-length: ", str(len(body)).encode(), b"\r\n", b"connection: close\r\n\r\n", body]
        self.transport.write(b"".join(out))
        self.transport.close()


def _classify(exc: httptools.HttpParserError) -> Rejection:
    cause = exc.__context__
    if isinstance(cause, _Refused):
        return cause.rejection
    if isinstance(exc, httptools.HttpParserInvalidMethodError):
        return Rejection(Kind.METHOD, "HTTP method not supported")
    if isinstance(cause, httptools.HttpParserInvalidURLError):
        return Rejection(Kind.MALFORMED, "Invalid request URI")
    return Rejection(Kind.MALFORMED, "Invalid HTTP request")


def protocol_for(renderer: guard.Renderer, listener: str) -> type[asyncio.Protocol]:
    """The protocol class a listener hands to uvicorn (``Config(http=...)``)."""
    attrs: dict[str, Any] = {"renderer": staticmethod(renderer), "listener": listener}
    return type(f"GuardedHttpToolsProtocol_{listener}", (GuardedHttpToolsProtocol,), attrs)
