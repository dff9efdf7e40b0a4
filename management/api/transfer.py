"""The management server's file endpoints: extracted images (``GET /userdata/<token>/<name>``) and the signed
POST upload form (``POST /upload/<uuid>``) that getUploadParamsFor{Volume,Template,Iso} hand out. The signing and
what a file becomes live in services.storage.transfers; this is the HTTP side."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from management.errors import CloudError
from management.services.storage import transfers

log = logging.getLogger("devcloud.transfer")


def routes(runtime: Any) -> list[BaseRoute]:
    async def download(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            path = await run_in_threadpool(transfers.resolve_download, runtime, token)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404 if "no longer" in str(exc) else 403)
        return FileResponse(path, media_type="application/octet-stream", filename=request.path_params["name"])

    async def upload(request: Request) -> Response:
        uuid = request.path_params["uuid"]
        fields: dict[str, Any] = {}
        upload_file = None
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_part_size=16 * 1024 * 1024)
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            upload_file = next((v for v in form.values() if not isinstance(v, str)), None)

        def field(name: str) -> str:
            return request.headers.get(f"x-{name}") or str(fields.get(name, ""))

        post_url = str(request.url.replace(query=""))
        try:
            meta = transfers.check_upload(runtime, post_url, uuid, field("metadata"), field("expires"),
                                          field("signature"))
        except transfers.UploadRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        try:
            if upload_file is not None:
                await run_in_threadpool(transfers.receive_upload, runtime, meta, upload_file.file)
            else:
                body = await request.body()
                await run_in_threadpool(transfers.receive_upload, runtime, meta, [body])
        except transfers.UploadRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except CloudError as exc:
            return JSONResponse({"error": exc.text}, status_code=400)
        finally:
            if upload_file is not None:
                await upload_file.close()
        log.info("upload of %s %s stored", meta.get("kind"), uuid)
        return JSONResponse({"id": uuid, "status": "uploaded"})

    return [Route("/userdata/{token}/{name}", download, methods=["GET"]),
            Route("/upload/{uuid}", upload, methods=["POST"])]
