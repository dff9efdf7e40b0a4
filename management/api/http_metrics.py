"""Request and byte counts for the raw ASGI listeners (S3, EC2): a thin wrapper that reads what passes through
`receive` and `send`, so the apps themselves stay untouched and as fast as they are."""

from __future__ import annotations

from typing import Any

from management.api.asgi import Receive, Send
from management.services.telemetry import Telemetry

App = Any


def counted(app: App, service: str, metrics: Telemetry) -> App:
    requests, bytes_ = metrics.http_requests, metrics.http_bytes
    inbound, outbound = bytes_.labels(service, "in"), bytes_.labels(service, "out")

    async def wrapped(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        status = ["000"]  # a connection dropped before the answer started

        async def counting_receive() -> dict[str, Any]:
            msg = await receive()
            if msg.get("type") == "http.request":
                inbound.inc(len(msg.get("body", b"")))
            return msg

        async def counting_send(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                status[0] = str(msg["status"])
            elif msg["type"] == "http.response.body":
                outbound.inc(len(msg.get("body", b"")))
            await send(msg)

        try:
            await app(scope, counting_receive, counting_send)
        finally:
            requests.labels(service, scope.get("method", ""), status[0]).inc()

    return wrapped
