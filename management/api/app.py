"""HTTP front: the signed API on /client/api (8080) and the integration listener (8096, any path).

Parameter decoding follows ApiServlet: the query string and an urlencoded POST body are merged (the first value
of a repeated name wins), `+` decodes to a space. Everything else happens in the HTTP-agnostic dispatcher.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from management.api.cloudstack import commands  # noqa: F401  (registers every command)
from management.api.cloudstack.dispatch import Dispatcher, Reply
from management.services.telemetry import CONTENT_TYPE, telemetry

MAX_BODY = 32 * 1024 * 1024  # user data and certificates can be large; anything larger is refused


async def _params(request: Request) -> list[tuple[str, str]]:
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype or not ctype:
            body = await request.body()
            if len(body) > MAX_BODY:
                raise ValueError("request body too large")
            pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
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


def api_app(dispatcher: Dispatcher) -> Starlette:
    async def client_api(request: Request) -> Response:
        try:
            pairs = await _params(request)
        except ValueError as exc:
            from management.errors import BadRequest

            return _to_response(Dispatcher.error("errorresponse", BadRequest(str(exc)), "json"))
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

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"]),
                             Route("/client/api/openapi.json", openapi_json, methods=["GET"]),
                             Route("/client/api", client_api, methods=["GET", "POST"]),
                             Route("/client/api/", client_api, methods=["GET", "POST"]), *ui.routes(dispatcher),
                             *transfer.routes(dispatcher.runtime)])


def integration_app(dispatcher: Dispatcher) -> Starlette:
    async def any_path(request: Request) -> Response:
        pairs = await _params(request)
        reply = await run_in_threadpool(dispatcher.handle, pairs, integration=True, method=request.method)
        return _to_response(reply)

    return Starlette(routes=[Route("/{path:path}", any_path, methods=["GET", "POST"])])
