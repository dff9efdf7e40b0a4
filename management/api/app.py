"""HTTP front: the signed API on /client/api (8080) and the integration listener (8096, any path).

Parameter decoding follows ApiServlet: the query string and an urlencoded POST body are merged (the first value
of a repeated name wins), `+` decodes to a space. Everything else happens in the HTTP-agnostic dispatcher.
Both apps sit behind :class:`management.api.guard.Guard`: whatever is refused before the dispatcher (a method other
than GET/POST, a body over MAX_BODY, an unknown path, a failure) is answered in CloudStack's error envelope too.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from management.api import guard
from management.api.cloudstack import (
    commands,  # noqa: F401  (installs the registry's loader: command modules are imported at first use)
    registry,
)
from management.api.cloudstack.dispatch import Dispatcher, Reply
from management.api.cloudstack.envelope import error_body, render
from management.api.guard import Kind, Rejected, Rejection
from management.errors import CloudError, UnexpectedError
from management.logcontext import request_id
from management.services.telemetry import CONTENT_TYPE, telemetry

MAX_BODY = 32 * 1024 * 1024  # user data and certificates can be large; anything larger is refused
METHODS = frozenset({"GET", "HEAD", "POST"})
_JSON = re.compile(rb"(?:^|[?&\n])response=json(?:$|[&\s])", re.IGNORECASE)
_COMMAND = re.compile(rb"(?:^|[?&\n])command=([A-Za-z0-9]{1,100})(?:$|[&\s])")


class HttpError(CloudError):
    """An error of the HTTP exchange itself (ServerApiException with a bare ApiErrorCode)."""

    cs_code = 9999

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


def rejection_error(rejection: Rejection, rid: str) -> CloudError:
    if rejection.kind is Kind.INTERNAL:
        return UnexpectedError(rid)
    if rejection.kind is Kind.METHOD:
        return HttpError(405, rejection.text)  # ApiErrorCode.METHOD_NOT_ALLOWED
    return HttpError(400, rejection.text)  # ApiErrorCode.BAD_REQUEST


def render_rejection(rejection: Rejection, rid: str, known: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """CloudStack's envelope for a request refused before (or outside) the dispatcher; JSON when the request asked
    for it in what was read of it, else CloudStack's default XML."""
    err = rejection_error(rejection, rid)
    fmt = "json" if _JSON.search(known) else "xml"
    m = _COMMAND.search(known)
    spec = registry.lookup(m.group(1).decode()) if m else None
    body, ctype = render(spec.response_name if spec else "errorresponse", error_body(err), fmt)
    return err.code, [(b"content-type", ctype.encode()), (b"x-description", guard.header_value(err.text))], body


async def _params(request: Request) -> list[tuple[str, str]]:
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype or not ctype:
            # Read as it arrives: the guard counts every chunk and refuses the body past MAX_BODY.
            chunks = [chunk async for chunk in request.stream()]
            pairs += parse_qsl(b"".join(chunks).decode("utf-8", "replace"), keep_blank_values=True)
    return pairs


def _to_response(reply: Reply) -> Response:
    resp = Response(reply.body, status_code=reply.status, media_type=reply.content_type, headers=reply.headers)
    for name, value in reply.cookies.items():
        # sessionkey must be readable by browser code that echoes it as a parameter; JSESSIONID is HttpOnly.
        resp.set_cookie(name, value, path="/client", httponly=(name == "JSESSIONID"), samesite="lax")
    if reply.clear_cookies:
        resp.delete_cookie("sessionkey", path="/client")
        resp.delete_cookie("JSESSIONID", path="/client")
    return resp


def _rejection_response(request: Request, rejection: Rejection, *, close: bool = False) -> Response:
    status, headers, body = render_rejection(rejection, request_id(), guard.known_of(request.scope))
    if close:
        headers.append((b"connection", b"close"))
    return Response(body, status_code=status, headers={k.decode(): v.decode("latin-1") for k, v in headers})


async def _refusal(request: Request, exc: Exception) -> Response:
    """What Starlette refuses (an unknown path, a method a route does not take), a body over the limit and any
    failure, in the envelope. Starlette re-raises the exception afterwards: the guard logs real failures."""
    if isinstance(exc, Rejected):
        return _rejection_response(request, exc.rejection, close=exc.close)
    if not isinstance(exc, HTTPException) or exc.status_code >= 500:
        return _rejection_response(request, guard.internal(request_id()), close=True)
    if exc.status_code == 405:
        return _rejection_response(request, guard.method_not_allowed(request.method))
    if exc.status_code == 404:
        return _rejection_response(request, Rejection(Kind.MALFORMED, f"No API at {request.url.path}"))
    return _rejection_response(request, Rejection(Kind.MALFORMED, str(exc.detail)))


def _guarded(app: Starlette, name: str, unbounded: tuple[str, ...] = ()) -> Any:
    return guard.Guard(app, render_rejection, name=name, max_body=MAX_BODY, methods=METHODS, unbounded=unbounded)


def _starlette(routes: list[Any]) -> Starlette:
    return Starlette(routes=routes, exception_handlers={HTTPException: _refusal, Exception: _refusal})


def api_app(dispatcher: Dispatcher) -> Any:
    async def client_api(request: Request) -> Response:
        pairs = await _params(request)
        reply = await run_in_threadpool(dispatcher.handle, pairs, integration=False, cookies=request.cookies,
                                        method=request.method)
        return _to_response(reply)

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(telemetry(dispatcher.runtime).render)
        return Response(body, media_type=CONTENT_TYPE)

    async def openapi_json(request: Request) -> Response:
        from management.api.openapi import document

        return JSONResponse(await run_in_threadpool(document))

    from management.api import transfer, ui

    return _guarded(_starlette([Route("/metrics", metrics, methods=["GET"]),
                                Route("/client/api/openapi.json", openapi_json, methods=["GET"]),
                                Route("/client/api", client_api, methods=["GET", "POST"]),
                                Route("/client/api/", client_api, methods=["GET", "POST"]),
                                *ui.routes(dispatcher), *transfer.routes(dispatcher.runtime)]), "api",
                    unbounded=("/upload/",))


def integration_app(dispatcher: Dispatcher) -> Any:
    async def any_path(request: Request) -> Response:
        pairs = await _params(request)
        reply = await run_in_threadpool(dispatcher.handle, pairs, integration=True, method=request.method)
        return _to_response(reply)

    return _guarded(_starlette([Route("/{path:path}", any_path, methods=["GET", "POST"])]), "integration")


__all__ = ["api_app", "integration_app", "render_rejection", "MAX_BODY"]
