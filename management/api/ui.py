"""The web UI at /client/ on the API port: the built single-page app (management/ui_dist, built from ui/) and the
console websocket. The UI is a pure client of /client/api; nothing here reads data for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from management.api import console

DIST = Path(__file__).resolve().parent.parent / "ui_dist"

_MISSING = """<!doctype html><title>devcloud</title><p>The web UI is not built: run <code>make ui</code>
(npm ci &amp;&amp; npm run build in ui/). The API is at <a href="/client/api">/client/api</a>.</p>"""


def routes(dispatcher: Any) -> list[BaseRoute]:
    """Routes to add to the API app after /client/api: /client -> /client/, the console websocket, the assets."""
    runtime = dispatcher.runtime

    async def ws(websocket: WebSocket) -> None:
        await console.console_ws(websocket, runtime)

    async def to_slash(_request: Request) -> Response:
        return RedirectResponse("/client/", status_code=307)

    async def missing(_request: Request) -> Response:
        return HTMLResponse(_MISSING, status_code=404)

    out: list[BaseRoute] = [Route("/client", to_slash), WebSocketRoute(console.WS_PATH, ws)]
    if (DIST / "index.html").is_file():
        out.append(Mount("/client", app=StaticFiles(directory=DIST, html=True), name="ui"))
    else:
        out.append(Route("/client/", missing))
    return out
