"""Shared by the S3 tests: an in-process cloud with the S3 app served by uvicorn on ephemeral loopback ports."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import _free_port

REGION = "us-east-1"


@functools.cache
def s3_model() -> Any:
    """The S3 API as botocore defines it (operations, their wire forms and shapes)."""
    from botocore.session import get_session

    return get_session().get_service_model("s3")


def dummy(shape: Any, name: str = "") -> Any:
    """The smallest value of a shape botocore will serialize: required members only."""
    if name == "Bucket":
        return "bkt"
    if name == "Key":
        return "k"
    if name == "CopySource":
        return "src/k"
    t = shape.type_name
    if t == "structure":
        return {m: dummy(shape.members[m], m) for m in shape.required_members}
    if t == "list":
        return [dummy(shape.member)]
    if t == "map":
        return {"a": dummy(shape.value)}
    if t in ("integer", "long"):
        return 1
    if t == "boolean":
        return True
    if t == "timestamp":
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    if t == "blob":
        return b"x"
    return shape.enum[0] if shape.enum else "x"


def code(exc: Any) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a botocore ClientError caught by pytest.raises."""
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@contextlib.contextmanager
def serve_asgi(app: Any, *, ssl_dir: Path | None = None, http: Any = "httptools") -> Iterator[int]:
    """Runs an ASGI app with uvicorn (httptools, uvloop, like the server) in a thread; yields its port."""
    import uvicorn

    port = _free_port()
    kw: dict[str, Any] = {}
    if ssl_dir is not None:
        key, cert = ssl_dir / "key.pem", ssl_dir / "cert.pem"
        if not cert.exists():
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                            str(cert), "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
        kw = {"ssl_keyfile": str(key), "ssl_certfile": str(cert)}
    cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off",
                         http=http, loop="uvloop", **kw)
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def s3_client(endpoint: str, access_key: str, secret: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    s3cfg = config.pop("s3", {"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret,
                        region_name=REGION, config=Config(s3=s3cfg, retries={"max_attempts": 1}, **config),
                        verify=False)


@dataclass
class Cloud:
    server: Any
    integration: Any  # tests.conftest.ApiClient on the integration app
    endpoint: str
    tls_endpoint: str
    admin: dict[str, str]

    def client(self, access_key: str | None = None, secret: str | None = None, *, tls: bool = False,
               **config: Any) -> Any:
        return s3_client(self.tls_endpoint if tls else self.endpoint, access_key or self.admin["apikey"],
                         secret or self.admin["secretkey"], **config)


@contextlib.contextmanager
def in_process_cloud(state: Path) -> Iterator[Cloud]:
    """build() on a fresh SQLite state dir, the integration API via TestClient, S3 over http and https."""
    from starlette.testclient import TestClient

    from management.api.app import integration_app
    from management.api.s3 import s3_app
    from management.api.s3.protocol import S3HttpProtocol
    from management.server import build
    from management.services.identity import rbac
    from management.settings import Settings
    from tests.conftest import ApiClient, admin_keys

    rbac.RULES.invalidate()
    settings = Settings(state_dir=state, db_url=f"sqlite:///{state / 'devcloud.db'}", api_port=0, integration_port=0,
                        s3_port=0, job_workers=1, job_poll_interval=0.02, heartbeat_interval=1.0)
    srv = build(settings, start_workers=True)
    app = s3_app(srv.runtime)
    try:
        with serve_asgi(app, http=S3HttpProtocol) as port, \
                serve_asgi(app, ssl_dir=state, http=S3HttpProtocol) as tls_port, \
                TestClient(integration_app(srv.dispatcher), base_url="http://127.0.0.1:8096") as h:
            peers: dict[str, Any] = {}
            integ = ApiClient(h, integration=True, peers=peers)
            peers["integration"] = integ
            yield Cloud(srv, integ, f"http://127.0.0.1:{port}", f"https://localhost:{tls_port}",
                        admin_keys(state))
    finally:
        srv.queue.stop()
        srv.runtime.db.dispose()
        rbac.RULES.invalidate()
