"""The EC2 Query API endpoint (ASGI): ``Action=…&Version=2016-11-15`` as a form POST or a GET, SigV4 with service
``ec2`` and the CloudStack user's API key/secret as credentials. Each action runs in a worker thread as that user
(see :mod:`actions`)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool

from management import logcontext
from management.api.asgi import answer_lifespan
from management.api.cloudstack.dispatch import Dispatcher
from management.api.ec2 import images, instance_attributes, protocol, vpcs
from management.api.ec2.actions import ACTIONS, Request
from management.api.ec2.invoke import Invoker
from management.api.ec2.protocol import EC2Error
from management.api.s3 import auth as s3auth
from management.api.s3.auth import Credentials, RequestView
from management.api.s3.errors import S3Error
from management.errors import CloudError
from management.services.context import Caller

log = logging.getLogger("devcloud.ec2")
_REGISTERED = (images, instance_attributes, vpcs)  # their actions join ACTIONS on import
MAX_BODY = 1 << 20  # enforced by the guard around this app (see management.api.ec2.ec2_app)
_AUTH_CODES = {"SignatureDoesNotMatch": ("SignatureDoesNotMatch", 403),
               "RequestTimeTooSkewed": ("RequestExpired", 400),
               "InvalidAccessKeyId": ("AuthFailure", 401)}


class EC2App:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def _owner(self, access_key: str) -> tuple[str, Caller] | None:
        return self.dispatcher._key_owner(access_key)  # noqa: SLF001 - the API's own cached key lookup

    def authenticate(self, view: RequestView) -> tuple[Caller, str]:
        callers: dict[str, Caller] = {}

        def lookup(ak: str) -> Credentials | None:
            found = self._owner(ak)
            if found is None or not found[0]:
                return None
            callers[ak] = found[1]
            return Credentials(ak, found[0], found[1].account_uuid, found[1].account_name)

        if not view.header("authorization").startswith("AWS4-HMAC-SHA256 ") and "X-Amz-Signature" not in \
                view.raw_query:
            raise EC2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                                          "(SigV4 with service ec2 is required)", 401)
        try:
            res = s3auth.authenticate(view, lookup)
        except S3Error as err:
            code, status = _AUTH_CODES.get(err.code, ("AuthFailure", 401))
            raise EC2Error(code, err.message or "AWS was not able to validate the provided access credentials",
                           status) from None
        region = res.scope.split("/")[1] if res.scope.count("/") >= 2 else "us-east-1"
        return callers[res.creds.access_key], region

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        rid = secrets.token_hex(16)
        rid = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}"
        parts: list[bytes] = []
        more = True
        while more:  # bounded by the guard (MAX_BODY): it refuses the body past the limit as it arrives
            msg = await receive()
            parts.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        body = b"".join(parts)
        status, out = await run_in_threadpool(self.handle, scope, body, rid)
        await self._reply(send, status, out)

    @staticmethod
    async def _reply(send: Callable[..., Any], status: int, out: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/xml;charset=UTF-8"),
                                (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    def handle(self, scope: dict[str, Any], body: bytes, rid: str) -> tuple[int, bytes]:
        try:
            headers: dict[str, list[str]] = {}
            for k, v in scope["headers"]:
                headers.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))
            raw_query = scope.get("query_string", b"").decode("latin-1")
            # The payload hash SigV4 signs (botocore sends no x-amz-content-sha256 for ec2): computed here.
            headers.setdefault("x-amz-content-sha256", [hashlib.sha256(body).hexdigest()])
            raw_path = scope.get("raw_path") or scope["path"].encode()
            view = RequestView(scope["method"], raw_path.decode("latin-1").split("?", 1)[0], raw_query, headers, None)
            pairs = parse_qsl(raw_query, keep_blank_values=True)
            if scope["method"] == "POST":
                pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            params = dict(pairs)
            name = params.get("Action")
            if not name:
                raise EC2Error("MissingAction", "The request must contain the parameter Action")
            caller, region = self.authenticate(view)
            op = protocol.operation(name)
            fn = ACTIONS.get(name)
            if op is None or fn is None:
                raise EC2Error("InvalidAction", f"The action {name} is not valid for this web service.")
            logcontext.annotate(command=name, account=caller.account_name)  # the access line's
            skip = {"Action", "Version", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                    "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}
            args = protocol.parse_request(op, [(k, v) for k, v in pairs if k not in skip])
            host = (headers.get("host") or ["localhost"])[0]
            req = Request(Invoker(self.dispatcher, caller), caller, region, host)
            if args.get("DryRun"):
                raise EC2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
            result = fn(req, args)
            return 200, protocol.render(op, result, rid)
        except EC2Error as err:
            return err.status, protocol.render_error(err, rid)
        except CloudError as err:
            from management.api.ec2.actions import cs_error

            e = cs_error(err)
            return e.status, protocol.render_error(e, rid)
        except Exception:  # noqa: BLE001 - the client always gets the AWS error shape
            log.exception("EC2 request failed")
            return 500, protocol.render_error(EC2Error("InternalError", "An internal error has occurred", 500), rid)
