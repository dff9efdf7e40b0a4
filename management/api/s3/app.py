"""The S3 endpoint: a plain ASGI app (Starlette's threadpool) over :mod:`management.storage.objects`.

Path-style (``/bucket/key``) and virtual-host-style (``<bucket>.localhost``, ``<bucket>.s3.<anything>``) requests.
Credentials are CloudStack user keys (api key = access key id, secret key = secret access key); buckets belong to
the user's account. Requests without credentials are anonymous: they get exactly what bucket policies and ACLs grant
(:mod:`management.api.s3.access`). Which operation a request is comes from one table
(:mod:`management.api.s3.routes`). Bodies are streamed to disk in ~1 MiB batches (hashing on the way), never held
whole.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import io
import logging
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.concurrency import run_in_threadpool

from management.api.asgi import answer_lifespan
from management.api.s3 import access, bucket_config, routes
from management.api.s3 import auth as s3auth
from management.api.s3.auth import AuthResult, Credentials, RequestView
from management.api.s3.errors import S3Error
from management.api.xmltext import xml_escape
from management.storage import objects as st
from management.storage.objects import ObjectInfo, ObjectStore

log = logging.getLogger("devcloud.s3")

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
BATCH = 4 << 20  # bytes handed to a worker thread at a time (as the chunks received: no joining copy)
SMALL = 1 << 20  # bodies up to this size are read whole, then written in one worker call
READ_CHUNK = 4 << 20
MAX_XML = 4 << 20
DRAIN_LIMIT = 8 << 20  # unread request bytes we still swallow to keep a connection
MAX_OBJECT = 5 * 1024 ** 3
TAGS = "x-amz-tagging"  # key of the object's tag set inside its stored headers
STORED_HEADERS = ("content-encoding", "content-disposition", "cache-control", "content-language", "expires")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
CHECKSUM_HEADERS = {f"x-amz-checksum-{a.lower()}": a for a in st.CHECKSUM_ALGOS}
OBJECT_ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
Reply = tuple[int, list[tuple[str, str]], Any]


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def _x(s: str) -> str:
    return xml_escape(s)


def valid_bucket_name(name: str) -> bool:
    return bool(_BUCKET_RE.match(name)) and ".." not in name and not _IP_RE.match(name) \
        and ".-" not in name and "-." not in name


@dataclass
class Req:
    scope: dict[str, Any]
    receive: Callable[..., Any]
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, list[str]]
    view: RequestView
    request_id: str
    auth: AuthResult | None = None  # None: an anonymous request
    body_consumed: bool = False
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    route: routes.Route | None = None
    bucket_info: st.Bucket | None = None
    pending: str | None = None  # an object-level action the handler has still to authorize

    def h(self, name: str, default: str = "") -> str:
        v = self.headers.get(name)
        return v[0] if v else default

    @property
    def creds(self) -> Credentials:
        assert self.auth is not None
        return self.auth.creds

    @property
    def account(self) -> str | None:
        """The requester's account uuid; None for an anonymous request."""
        return self.auth.creds.account if self.auth is not None else None

    @property
    def account_name(self) -> str:
        return self.auth.creds.account_name if self.auth is not None else access.ANONYMOUS


class _CacheMiss(Exception):
    pass


class S3App:
    """The ASGI callable. ``lookup(access_key)`` returns Credentials or None; ``store_factory()`` the store."""

    def __init__(self, lookup: Callable[[str], Credentials | None], store_factory: Callable[[], ObjectStore],
                 *, region: str = "us-east-1", accounts: access.AccountLookup | None = None) -> None:
        self._lookup = lookup
        self._store_factory = store_factory
        self._store: ObjectStore | None = None
        self._store_lock = threading.Lock()
        self.region = region
        self.accounts = accounts  # account uuid -> name, to check grantees and policy principals
        self._cache: dict[str, tuple[float, Credentials | None]] = {}
        self._policies: dict[tuple[str, str], access.Policy] = {}
        self._handlers: dict[str, Callable[[Req], Awaitable[Reply]]] = {}
        for r in routes.TABLE:
            if r.handler is not None and r.handler not in self._handlers:
                fn = getattr(self, r.handler, None) if r.handler not in bucket_config.HANDLERS else \
                    functools.partial(bucket_config.HANDLERS[r.handler], self)
                if fn is None:
                    raise TypeError(f"route {r.op}: no handler {r.handler}")
                self._handlers[r.handler] = fn

    # ---- plumbing -----------------------------------------------------------------------------------------------
    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    s = self._store_factory()
                    s.sweep()
                    self._store = s
        return self._store

    def lookup(self, access_key: str) -> Credentials | None:
        now = time.monotonic()
        hit = self._cache.get(access_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        creds = self._lookup(access_key)
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[access_key] = (now + 5.0, creds)
        return creds

    def _cached_lookup(self, access_key: str) -> Credentials | None:
        hit = self._cache.get(access_key)
        if hit is None or hit[0] <= time.monotonic():
            raise _CacheMiss()
        return hit[1]

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        rid = secrets.token_hex(8).upper()
        req: Req | None = None
        if self._store is None:  # first request: open the store (and sweep crash leftovers) off the event loop
            await run_in_threadpool(lambda: self.store)
        try:
            req = self._parse(scope, receive, rid)
            try:
                req.auth = s3auth.identify(req.view, self._cached_lookup)
            except _CacheMiss:
                req.auth = await run_in_threadpool(s3auth.identify, req.view, self.lookup)
            status, headers, body = await self._route(req)
            if isinstance(body, (bytes, bytearray)):
                await self._send(send, req, status, headers, bytes(body))
            else:
                await self._send_stream(send, req, status, headers, body)
        except S3Error as exc:
            await self._send_error(send, scope, req, rid, exc)
        except st.ObjectStoreError as exc:
            await self._send_error(send, scope, req, rid, self._map_store_error(exc, req))
        except Exception:  # noqa: BLE001 - never a bare 500 without the AWS error shape
            log.exception("S3 %s %s failed", scope.get("method"), scope.get("path"))
            await self._send_error(send, scope, req, rid, S3Error("InternalError"))

    def _map_store_error(self, exc: st.ObjectStoreError, req: Req | None) -> S3Error:
        extra: dict[str, str] = {}
        headers: list[tuple[str, str]] = []
        if req is not None:
            if isinstance(exc, st.NoSuchBucket):
                extra["BucketName"] = req.bucket
            elif isinstance(exc, st.NoSuchKey | st.NoSuchVersion):
                extra["Key"] = req.key
            elif isinstance(exc, st.NoSuchUpload):
                extra["UploadId"] = req.query.get("uploadId", "")
        if isinstance(exc, st.KeyIsDeleted | st.VersionIsDeleteMarker):
            headers = [("x-amz-delete-marker", "true"), ("x-amz-version-id", exc.version)]
        if isinstance(exc, st.VersionIsDeleteMarker) and req is not None:
            extra.update(Method=req.method, ResourceType="DeleteMarker")
        extra.update({k: str(v) for k, v in exc.extra.items()})
        code = exc.code if exc.code != "InternalError" else "MalformedXML"
        return S3Error(code, None if code != "MalformedXML" else str(exc), headers=headers, **extra)

    def _parse(self, scope: dict[str, Any], receive: Callable[..., Any], rid: str) -> Req:
        headers: dict[str, list[str]] = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))
        raw_path = scope.get("raw_path")
        raw_path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe="/~")
        raw_path = raw_path.split("?", 1)[0]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        host = (headers.get("host") or [""])[0].rsplit(":", 1)[0].lower() if headers.get("host") else ""
        if host.startswith("["):
            host = ""
        host_bucket = None
        if host.endswith(".localhost") and host not in ("s3.localhost",):
            host_bucket = host[: -len(".localhost")]
            if host_bucket.endswith(".s3"):
                host_bucket = host_bucket[:-3]
        elif ".s3." in host and not host.startswith("s3."):
            host_bucket = host.split(".s3.", 1)[0]
        elif ".s3-" in host:
            host_bucket = host.split(".s3-", 1)[0]
        path = unquote(raw_path)
        if host_bucket:
            bucket, key = host_bucket, path[1:]
        else:
            trimmed = path[1:]
            bucket, _, key = trimmed.partition("/")
        query = dict(s3auth.query_pairs(raw_query))
        view = RequestView(scope["method"], raw_path, raw_query, headers, host_bucket)
        return Req(scope, receive, scope["method"], bucket, key, query, headers, view, rid)

    def _base_headers(self, rid: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-amz-request-id", rid.encode()), (b"x-amz-id-2", base64.b64encode(rid.encode() * 2)),
                (b"server", b"devcloud")]

    async def _send(self, send: Callable[..., Any], req: Req, status: int, headers: list[tuple[str, str]],
                    body: bytes) -> None:
        await self._drain(req)
        hs = self._base_headers(req.request_id)
        hs += [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers]
        names = {k.lower() for k, _ in headers}
        if "content-length" not in names:
            hs.append((b"content-length", str(len(body)).encode()))
        if body and "content-type" not in names:
            hs.append((b"content-type", b"application/xml"))
        await send({"type": "http.response.start", "status": status, "headers": hs})
        await send({"type": "http.response.body", "body": b"" if req.method == "HEAD" else bytes(body)})

    async def _send_stream(self, send: Callable[..., Any], req: Req, status: int, headers: list[tuple[str, str]],
                           body: AsyncIterator[bytes]) -> None:
        await self._drain(req)
        hs = self._base_headers(req.request_id)
        hs += [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": hs})
        async for piece in body:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _drain(self, req: Req) -> None:
        """Reads what is left of a request body nobody consumed, so keep-alive framing stays right."""
        if req.body_consumed:
            return
        req.body_consumed = True
        cl = req.h("content-length")
        if (cl and cl != "0") or req.h("transfer-encoding"):
            total = 0
            while True:
                msg = await req.receive()
                total += len(msg.get("body", b""))
                if not msg.get("more_body") or total > DRAIN_LIMIT:
                    break

    async def _send_error(self, send: Callable[..., Any], scope: dict[str, Any], req: Req | None, rid: str,
                          exc: S3Error) -> None:
        if req is None:
            req = Req(scope, lambda: None, scope.get("method", "GET"), "", "", {}, {},
                      RequestView("", "", "", {}, None), rid, body_consumed=True)
        if exc.code == "InternalError":
            req.body_consumed = True  # unknown state: do not try to read more
        resource = req.view.raw_path or None
        body = b"" if req.method == "HEAD" or exc.status == 304 else exc.xml(rid, "devcloud", resource)
        headers = [("content-type", "application/xml")] if body else []
        hs: list[tuple[str, str]] = headers + [("content-length", str(len(body)))] + exc.headers
        if not req.body_consumed:
            # A body the error makes pointless: a client waiting on "Expect: 100-continue" has not sent it (close,
            # so it never does); otherwise read a modest amount so the client sees this answer, not a reset.
            if "100-continue" in req.h("expect").lower() or exc.status == 500:
                hs.append(("connection", "close"))
                req.body_consumed = True
            else:
                cl = req.h("content-length")
                if req.h("transfer-encoding") or (cl.isdigit() and int(cl) > DRAIN_LIMIT):
                    hs.append(("connection", "close"))
                    req.body_consumed = True
        try:
            await self._send(send, req, exc.status, hs, body)
        except Exception:  # noqa: BLE001 - the client went away
            log.debug("could not send error", exc_info=True)

    # ---- body ---------------------------------------------------------------------------------------------------
    async def _raw_body(self, req: Req) -> AsyncIterator[bytes]:
        req.body_consumed = True
        while True:
            msg = await req.receive()
            if msg["type"] == "http.disconnect":
                raise S3Error("IncompleteBody", "the client disconnected")
            chunk = msg.get("body", b"")
            if chunk:
                yield chunk
            if not msg.get("more_body"):
                return

    def _payload_mode(self, req: Req) -> str:
        payload = req.auth.payload if req.auth is not None else s3auth.UNSIGNED
        if payload.startswith("STREAMING-") or "aws-chunked" in req.h("content-encoding"):
            return payload if payload.startswith("STREAMING-") else s3auth.STREAMING_UNSIGNED_TRAILER
        return payload

    async def _body(self, req: Req, sink: Callable[[list[bytes]], Any] | None = None,
                    sha_in_sink: bool = False) -> tuple[bytes | None, dict[str, str]]:
        """Reads the request body: decoded, verified (sha256, Content-MD5 of the raw payload is the caller's).

        With ``sink`` (a callable run in a worker thread) data is delivered in batches of ~``BATCH`` bytes, each
        the list of chunks as received, while the next batch arrives; None is returned. Without it the whole
        (small) body is returned. Returns (body, trailers).
        """
        mode = self._payload_mode(req)
        decoder: s3auth.ChunkDecoder | None = None
        verify_sha = None
        if mode.startswith("STREAMING-"):
            decoder = s3auth.ChunkDecoder(req.auth, signed=mode in (s3auth.STREAMING_SIGNED,
                                                                      s3auth.STREAMING_SIGNED_TRAILER))
        elif mode not in (s3auth.UNSIGNED, "") and len(mode) == 64:
            verify_sha = None if sha_in_sink else hashlib.sha256()
        elif mode not in (s3auth.UNSIGNED, ""):
            raise S3Error("InvalidArgument", f"invalid x-amz-content-sha256 {mode[:80]!r}")
        limit = MAX_XML if sink is None else MAX_OBJECT + (1 << 20)
        parts: list[bytes] = []
        pending = 0
        total = 0
        inflight: asyncio.Future[Any] | None = None
        try:
            async for raw in self._raw_body(req):
                pieces = decoder.feed(raw) if decoder is not None else [raw]
                for p in pieces:
                    if verify_sha is not None:
                        verify_sha.update(p)
                    parts.append(p)
                    pending += len(p)
                    total += len(p)
                if total > limit:
                    raise S3Error("EntityTooLarge" if sink is not None else "MalformedXML",
                                  "Your proposed upload exceeds the maximum allowed size")
                if sink is not None and pending >= BATCH:
                    batch, parts = parts, []
                    pending = 0
                    if inflight is not None:
                        await inflight
                    inflight = asyncio.ensure_future(run_in_threadpool(sink, batch))
            if inflight is not None:
                await inflight
                inflight = None
        finally:
            if inflight is not None:  # an error while a batch is being written: let it finish first
                with contextlib.suppress(BaseException):
                    await inflight
        if decoder is not None:
            decoder.close()
        if verify_sha is not None and verify_sha.hexdigest() != mode:
            raise S3Error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match "
                          "what was computed.", ClientComputedContentSHA256=mode,
                          S3ComputedContentSHA256=verify_sha.hexdigest())
        dlen = req.h("x-amz-decoded-content-length")
        if decoder is not None and dlen and dlen.isdigit() and int(dlen) != total:
            raise S3Error("IncompleteBody", "You did not provide the number of bytes specified by the "
                          "x-amz-decoded-content-length header")
        trailers = decoder.trailers if decoder is not None else {}
        if sink is not None:
            if parts:
                await run_in_threadpool(sink, parts)
            return None, trailers
        return b"".join(parts), trailers

    async def _small_body(self, req: Req) -> bytes:
        body, _ = await self._body(req)
        assert body is not None
        if "content-md5" in req.headers:
            self._check_md5(req.h("content-md5"), hashlib.md5(body).digest())
        for hname, algo in CHECKSUM_HEADERS.items():
            v = req.h(hname)
            if v and st.checksum_of(algo, body) != v:
                raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
        return body

    @staticmethod
    def _check_md5(header: str, digest: bytes) -> None:
        try:
            want = base64.b64decode(header, validate=True)
        except (binascii.Error, ValueError):
            raise S3Error("InvalidDigest", "The Content-MD5 you specified is not valid.") from None
        if len(want) != 16:
            raise S3Error("InvalidDigest", "The Content-MD5 you specified is not valid.")
        if want != digest:
            raise S3Error("BadDigest")

    def _xml(self, body: bytes) -> ET.Element:
        if not body.strip():
            raise S3Error("MalformedXML")
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            raise S3Error("MalformedXML", "DTDs are not allowed")
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise S3Error("MalformedXML") from None
        for el in root.iter():
            if isinstance(el.tag, str) and "}" in el.tag:
                el.tag = el.tag.split("}", 1)[1]
        return root

    # ---- helpers for the handler modules ----------------------------------------------------------------------
    async def no_body(self, req: Req) -> None:
        await self._drain(req)

    async def small_body(self, req: Req) -> bytes:
        return await self._small_body(req)

    def parse_xml(self, body: bytes) -> ET.Element:
        return self._xml(body)

    async def xml_body(self, req: Req) -> ET.Element:
        return self._xml(await self._small_body(req))

    # ---- routing ------------------------------------------------------------------------------------------------
    async def _route(self, req: Req) -> Reply:
        level = "object" if req.key else "bucket" if req.bucket else "service"
        route = routes.resolve(req.method, level, req.query, req.headers)
        if route is None:
            raise S3Error("MethodNotAllowed", Method=req.method, ResourceType=level.upper())
        req.route = route
        if route.handler is None:
            raise S3Error("NotImplemented")
        handler = self._handlers[route.handler]
        if level == "service" or route.op == "CreateBucket":
            if req.auth is None:
                raise S3Error("AccessDenied")
            return await handler(req)
        if level == "object":
            if len(req.key.encode("utf-8")) > 1024:
                raise S3Error("KeyTooLongError", "Your key is too long")
            version = req.query.get("versionId")
            if version is not None and not st.valid_version_id(version):
                raise S3Error("InvalidArgument", "Invalid version id specified", ArgumentName="versionId",
                              ArgumentValue=version)
        b = self.store.cached_bucket(req.bucket) or await run_in_threadpool(self.store.bucket, req.bucket)
        if b is None:
            raise S3Error("NoSuchBucket", BucketName=req.bucket)
        if req.h("x-amz-expected-bucket-owner") not in ("", b.owner):
            raise S3Error("AccessDenied")
        req.bucket_info = b
        action = route.action
        if "versionId" in req.query:
            action = access.VERSIONED_ACTION.get(action, action)
        if route.on == "bucket":
            if not self._allowed(req, b, action):
                raise S3Error("AccessDenied")
        else:
            req.pending = action
        out = await handler(req)
        if req.pending is not None:  # fail closed: a handler that never decided access answers nothing
            log.error("S3 %s: handler %s did not authorize %s", route.op, route.handler, req.pending)
            raise S3Error("InternalError")
        return out

    # ---- access -------------------------------------------------------------------------------------------------
    def _policy(self, b: st.Bucket) -> access.Policy | None:
        if not b.policy:
            return None
        ck = (b.name, b.policy)
        p = self._policies.get(ck)
        if p is None:
            p = access.Policy.parse(b.policy, b.name)
            if len(self._policies) > 1000:
                self._policies.clear()
            self._policies[ck] = p
        return p

    def _context(self, req: Req) -> dict[str, str | None]:
        """Condition keys of a request (lower-case names)."""
        client = req.scope.get("client")
        auth = req.h("authorization")
        q = req.query
        return {
            "aws:sourceip": client[0] if client else None,
            "aws:securetransport": "true" if req.scope.get("scheme") == "https" else "false",
            "aws:useragent": req.h("user-agent") or None, "aws:referer": req.h("referer") or None,
            "aws:principalaccount": req.account, "aws:principaltype": "Account" if req.auth else "Anonymous",
            "s3:prefix": q.get("prefix"), "s3:delimiter": q.get("delimiter"), "s3:max-keys": q.get("max-keys"),
            "s3:versionid": q.get("versionId"), "s3:x-amz-acl": req.h("x-amz-acl") or None,
            "s3:authtype": None if req.auth is None else "REST-HEADER" if auth else "REST-QUERY-STRING",
            "s3:signatureversion": None if req.auth is None else
            "AWS4-HMAC-SHA256" if req.auth.version == 4 else "AWS",
        }

    def _allowed(self, req: Req, b: st.Bucket, action: str, info: ObjectInfo | None = None,
                 key: str | None = None) -> bool:
        """May the requester do ``action``: on the bucket (``info`` None) or on the object version ``info``."""
        p = req.account
        if p is not None and p == b.owner:
            if b.policy is None and (info is None or info.acl is None):
                return True  # the owner, its own object, no policy: nothing can deny
            if action in ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"):
                return True  # the owner can always repair a policy that locks it out
        enforced = b.ownership == access.BUCKET_OWNER_ENFORCED
        if info is not None:
            acl = None if enforced else access.Acl.load(info.acl, b.owner, b.owner_name)
            owner = b.owner if acl is None else acl.owner
            table = access.OBJECT_ACL_ACTIONS
            key = info.key
        else:
            acl = access.Acl.load(b.acl, b.owner, b.owner_name)
            owner, table = b.owner, access.BUCKET_ACL_ACTIONS
            key = key if key is not None else req.key
        subject = access.Subject(p, action, access.arn(b.name, key or None), self._context(req))
        return access.decide(subject, bucket_owner=b.owner, policy=self._policy(b),
                             pab=access.PublicAccessBlock.load(b.pab), acl=acl, acl_actions=table,
                             resource_owner=owner, acls_enabled=not enforced)

    def _authorize_object(self, req: Req, info: ObjectInfo) -> None:
        """The object-level decision the router left to the handler (``req.pending``), on the version read."""
        assert req.bucket_info is not None and req.pending is not None
        if not self._allowed(req, req.bucket_info, req.pending, info):
            raise S3Error("AccessDenied")
        req.pending = None

    def _missing(self, req: Req, b: st.Bucket) -> None:
        """Before telling that a key or version does not exist: S3 says so only to who may list the bucket."""
        req.pending = None
        if not self._allowed(req, b, "s3:ListBucket", key=""):
            raise S3Error("AccessDenied")

    def _new_object_acl(self, req: Req, b: st.Bucket) -> str | None:
        """The stored ACL of an object this request writes (its owner: the writer, or the bucket owner when the
        bucket's ownership controls say so); None = the bucket owner's, private."""
        writer, writer_name = req.account or access.ANONYMOUS, req.account_name
        acl, canned_name = access.from_headers(req.headers, writer, writer_name, b.owner, b.owner_name, self.accounts)
        if b.ownership == access.BUCKET_OWNER_ENFORCED:
            if acl is not None and canned_name != "bucket-owner-full-control" and \
                    not access.owner_grants(acl.grants, b.owner):
                raise S3Error("AccessControlListNotSupported")
            return None
        if b.ownership == "BucketOwnerPreferred" and canned_name == "bucket-owner-full-control":
            return None
        if acl is None:
            acl = access.Acl.private(writer, writer_name)
        if acl.public and access.PublicAccessBlock.load(b.pab).block_public_acls:
            raise S3Error("AccessDenied")
        return acl.dump(b.owner)

    def _owner(self, b: st.Bucket, acl_json: str | None) -> tuple[str, str]:
        if not acl_json:
            return b.owner, b.owner_name
        acl = access.Acl.load(acl_json, b.owner, b.owner_name)
        return acl.owner, acl.owner_name

    @staticmethod
    def _version_headers(b: st.Bucket, version: str) -> list[tuple[str, str]]:
        return [("x-amz-version-id", version)] if b.versioning else []

    # ---- buckets ------------------------------------------------------------------------------------------------
    async def list_buckets(self, req: Req) -> Reply:
        await self._drain(req)
        c = req.creds
        q = req.query
        limit = 10000
        if "max-buckets" in q:
            try:
                limit = int(q["max-buckets"])
            except ValueError:
                limit = 0
            if not 1 <= limit <= 10000:
                raise S3Error("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000",
                              ArgumentName="max-buckets", ArgumentValue=q["max-buckets"])
        after = self._token(q["continuation-token"]) if q.get("continuation-token") else None
        prefix, region = q.get("prefix", ""), q.get("bucket-region")
        found = [b for b in await run_in_threadpool(self.store.buckets, c.account)
                 if b.name.startswith(prefix) and (region is None or b.region == region)
                 and (after is None or b.name > after)]
        page = found[:limit]
        items = "".join(f"<Bucket><Name>{_x(b.name)}</Name><CreationDate>{_iso(b.created)}</CreationDate>"
                        f"<BucketRegion>{_x(b.region)}</BucketRegion></Bucket>" for b in page)
        more = f"<ContinuationToken>{self._make_token(page[-1].name)}</ContinuationToken>" \
            if len(found) > limit else ""
        body = (f'{XML_HEAD}<ListAllMyBucketsResult xmlns="{NS}"><Owner><ID>{_x(c.account)}</ID><DisplayName>'
                f"{_x(c.account_name)}</DisplayName></Owner><Buckets>{items}</Buckets>{more}"
                + (f"<Prefix>{_x(prefix)}</Prefix>" if "prefix" in q else "") + "</ListAllMyBucketsResult>")
        return 200, [], body.encode()

    @staticmethod
    def _make_token(last: str) -> str:
        return base64.urlsafe_b64encode(last.encode("utf-8")).decode().rstrip("=")

    @staticmethod
    def _token(token: str) -> str:
        try:
            return base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                          ArgumentName="continuation-token") from None

    async def create_bucket(self, req: Req) -> Reply:
        if not valid_bucket_name(req.bucket):
            raise S3Error("InvalidBucketName", "The specified bucket is not valid.", BucketName=req.bucket)
        body = await self._small_body(req)
        region = self.region
        if body.strip():
            root = self._xml(body)
            loc = root.find("LocationConstraint")
            if loc is not None and (loc.text or "").strip():
                region = (loc.text or "").strip()
                if not re.match(r"^[a-z0-9-]{2,32}$", region):
                    raise S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid")
        c = req.creds
        ownership = req.h("x-amz-object-ownership") or None
        acl, _ = access.from_headers(req.headers, c.account, c.account_name, c.account, c.account_name,
                                     self.accounts)
        acl_json = acl.dump(c.account) if acl is not None else None
        if ownership is not None:
            if ownership not in access.OWNERSHIP:
                raise S3Error("InvalidArgument", "Invalid x-amz-object-ownership header",
                              ArgumentName="x-amz-object-ownership", ArgumentValue=ownership)
            bucket_config.check_ownership(ownership, acl_json, c.account, c.account_name)
        try:
            await run_in_threadpool(lambda: self.store.create_bucket(req.bucket, c.account, c.account_name, region,
                                                                     acl=acl_json, ownership=ownership))
        except st.BucketExists as exc:
            if exc.owner != c.account:
                raise S3Error("BucketAlreadyExists", BucketName=req.bucket) from None
            existing = await run_in_threadpool(self.store.bucket, req.bucket)
            if existing is None or existing.region != "us-east-1" or region != "us-east-1":
                raise S3Error("BucketAlreadyOwnedByYou", BucketName=req.bucket) from None
            # us-east-1 answers a re-create of your own bucket with 200 and resets its ACL
            await run_in_threadpool(lambda: self.store.set_bucket(req.bucket, acl=acl_json))
        return 200, [("location", "/" + req.bucket)], b""

    async def delete_bucket(self, req: Req) -> Reply:
        await self._drain(req)
        await run_in_threadpool(self.store.delete_bucket, req.bucket)
        return 204, [], b""

    # ---- objects ------------------------------------------------------------------------------------------------
    def _object_headers(self, req: Req) -> tuple[str | None, dict[str, str], dict[str, str]]:
        ctype = req.h("content-type") or None
        headers = {}
        for name in STORED_HEADERS:
            v = req.h(name)
            if name == "content-encoding" and "aws-chunked" in v:  # only the transfer coding goes; the rest verbatim
                v = ",".join(p for p in v.split(",") if p.strip() != "aws-chunked").strip()
            if v:
                headers[name] = v
        meta = {k[len("x-amz-meta-"):]: _header_text(",".join(v)) for k, v in req.headers.items()
                if k.startswith("x-amz-meta-")}
        if sum(len(k.encode()) + len(v.encode()) for k, v in meta.items()) > 2048:
            raise S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
        if req.h("x-amz-tagging"):
            headers[TAGS] = self._encode_tags(self._parse_tag_header(req.h("x-amz-tagging")))
        return ctype, headers, meta

    @staticmethod
    def _write_condition(req: Req) -> tuple[str, str] | None:
        """(If-Match, If-None-Match) of a conditional write, or None."""
        im, inm = req.h("if-match"), req.h("if-none-match")
        return (im, inm) if im or inm else None

    async def _precheck(self, req: Req, condition: tuple[str, str] | None) -> None:
        """Fails a conditional write before its body is read (the commit checks again, atomically)."""
        if condition is None:
            return

        def check() -> None:
            try:
                cur: tuple[str] | None = (self.store.get(req.bucket, req.key).etag,)
            except st.NoSuchKey:
                cur = None
            self.store.check_condition(cur, condition)

        await run_in_threadpool(check)

    # ---- object versions: reading -------------------------------------------------------------------------------
    async def _read_info(self, req: Req, *, allow_marker: bool = False) -> ObjectInfo:
        """The version a request names (versionId) or the current one, after the object-level access decision."""
        b = req.bucket_info
        assert b is not None
        try:
            info = await run_in_threadpool(self.store.get, req.bucket, req.key, req.query.get("versionId"))
        except (st.NoSuchKey, st.NoSuchVersion):
            self._missing(req, b)
            raise
        self._authorize_object(req, info)
        if info.marker and not allow_marker:
            raise st.VersionIsDeleteMarker(info.version)
        return info

    # ---- tagging (stored with the object's headers, url-encoded like the x-amz-tagging header) ---------------
    @staticmethod
    def _parse_tag_header(value: str) -> list[tuple[str, str]]:
        tags = parse_qsl(value, keep_blank_values=True)
        if len(tags) > 10 or len({k for k, _ in tags}) != len(tags) or any(
                not k or len(k) > 128 or len(v) > 256 for k, v in tags):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid")
        return tags

    @staticmethod
    def _encode_tags(tags: list[tuple[str, str]]) -> str:
        return urlencode(tags, quote_via=quote)

    async def get_tagging(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        info = await self._read_info(req)
        tags = parse_qsl(info.headers.get(TAGS, ""), keep_blank_values=True)
        items = "".join(f"<Tag><Key>{_x(k)}</Key><Value>{_x(v)}</Value></Tag>" for k, v in tags)
        return (200, self._version_headers(b, info.version),
                f'{XML_HEAD}<Tagging xmlns="{NS}"><TagSet>{items}</TagSet></Tagging>'.encode())

    async def put_tagging(self, req: Req) -> Reply:
        root = self._xml(await self._small_body(req))
        tagset = root.find("TagSet")
        if root.tag != "Tagging" or tagset is None:
            raise S3Error("MalformedXML")
        tags = [((t.findtext("Key") or ""), (t.findtext("Value") or "")) for t in tagset.findall("Tag")]
        tags = self._parse_tag_header(self._encode_tags(tags))
        return await self._set_tags(req, tags)

    async def delete_tagging(self, req: Req) -> Reply:
        await self._drain(req)
        status, headers, _ = await self._set_tags(req, [])
        return 204, headers, b""

    async def _set_tags(self, req: Req, tags: list[tuple[str, str]]) -> Reply:
        b = req.bucket_info
        assert b is not None
        info = await self._read_info(req)
        headers = {k: v for k, v in info.headers.items() if k != TAGS}
        if tags:
            headers[TAGS] = self._encode_tags(tags)
        await run_in_threadpool(lambda: self.store.update(req.bucket, req.key, info.version, headers=headers))
        return 200, self._version_headers(b, info.version), b""

    def _wanted_checksums(self, req: Req) -> tuple[dict[str, str], set[str]]:
        """(algo -> value sent in a header, algos to compute: headers, trailer, sdk algorithm)."""
        sent = {algo: req.h(h) for h, algo in CHECKSUM_HEADERS.items() if req.h(h)}
        algos = set(sent)
        for name in req.h("x-amz-trailer").split(","):
            name = name.strip().lower()
            if name in CHECKSUM_HEADERS:
                algos.add(CHECKSUM_HEADERS[name])
            elif name.startswith("x-amz-checksum-"):
                raise S3Error("InvalidRequest", f"unsupported checksum trailer {name}")
        sdk = req.h("x-amz-sdk-checksum-algorithm").upper()
        if sdk and sdk not in st.CHECKSUM_ALGOS:
            if sdk != "CRC64NVME":
                raise S3Error("InvalidRequest", f"unsupported checksum algorithm {sdk}")
        elif sdk:
            algos.add(sdk)
        return sent, algos

    def _verify(self, req: Req, w: st.ObjectWriter, expected: str, trailers: dict[str, str], sent: dict[str, str],
                algos: set[str]) -> dict[str, str]:
        """Length, Content-MD5 and checksums of what was written; returns the checksums to store."""
        if expected and expected.isdigit() and int(expected) != w.size:
            raise S3Error("IncompleteBody", "You did not provide the number of bytes specified by the "
                          "Content-Length HTTP header")
        if "content-md5" in req.headers:
            self._check_md5(req.h("content-md5"), w.md5.digest())
        sent = dict(sent)
        for name, value in trailers.items():
            if name in CHECKSUM_HEADERS:
                sent[CHECKSUM_HEADERS[name]] = value
        out = {}
        for algo, c in w.sums.items():
            value = c.b64()
            if algo in sent and sent[algo] != value:
                raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
            if algo in sent or algo in algos:
                out[algo] = value
        return out

    async def _receive(self, req: Req, make_writer: Callable[[], st.ObjectWriter],
                       finalize: Callable[[st.ObjectWriter, dict[str, str]], Any],
                       extra_algos: Iterable[str] = ()) -> Any:
        """Streams the body into a new writer, verifies it, and returns finalize(writer, checksums).

        A small body is read first and then written, verified and committed in ONE worker call; a large one is
        written in ~1 MiB batches by a worker while the next batch arrives (double buffering).
        """
        sent, algos = self._wanted_checksums(req)
        algos |= {a.upper() for a in extra_algos}
        cl = req.h("content-length")
        if not cl and not req.h("transfer-encoding") and not req.h("x-amz-decoded-content-length"):
            raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
        mode = self._payload_mode(req)
        signed_hex = len(mode) == 64 and not mode.startswith("STREAMING-")
        expected = req.h("x-amz-decoded-content-length") or (cl if mode in (s3auth.UNSIGNED, "") or signed_hex
                                                              else "")
        if expected and expected.isdigit() and int(expected) > MAX_OBJECT:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        if expected and expected.isdigit() and int(expected) <= SMALL:
            body, trailers = await self._body(req)
            assert body is not None

            def work() -> Any:
                w = make_writer()
                try:
                    for a in algos:
                        w.add_checksum(a)
                    w.write(body)
                    sums = self._verify(req, w, expected, trailers, sent, algos)
                    return finalize(w, sums)
                except BaseException:
                    w.discard()
                    raise

            return await run_in_threadpool(work)
        w = await run_in_threadpool(make_writer)
        try:
            for a in algos:
                w.add_checksum(a)
            if signed_hex:
                w.enable_sha256()
            _, trailers = await self._body(req, sink=w.write_chunks, sha_in_sink=signed_hex)
            if signed_hex and w.sha256 is not None and w.sha256.hexdigest() != mode:
                raise S3Error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not "
                              "match what was computed.", ClientComputedContentSHA256=mode,
                              S3ComputedContentSHA256=w.sha256.hexdigest())
            sums = self._verify(req, w, expected, trailers, sent, algos)
            return await run_in_threadpool(finalize, w, sums)
        except BaseException:
            await run_in_threadpool(w.discard)
            raise

    async def put_object(self, req: Req) -> Reply:
        b = req.bucket_info
        assert b is not None
        ctype, headers, meta = self._object_headers(req)
        acl = self._new_object_acl(req, b)
        condition = self._write_condition(req)
        await self._precheck(req, condition)

        def finalize(w: st.ObjectWriter, sums: dict[str, str]) -> tuple[ObjectInfo, dict[str, str]]:
            return self.store.commit(req.bucket, req.key, w, content_type=ctype, headers=headers, meta=meta,
                                     checksums=sums, acl=acl, condition=condition), sums

        info, sums = await self._receive(req, lambda: self.store.writer(req.bucket), finalize)
        out = [("etag", f'"{info.etag}"')]
        out += [(f"x-amz-checksum-{a.lower()}", v) for a, v in sums.items()]
        return 200, out + self._version_headers(b, info.version), b""

    def _evaluate_conditions(self, req: Req, info: ObjectInfo, prefix: str = "") -> None:
        etag = f'"{info.etag}"'
        mtime = int(info.mtime)

        def matches(header: str) -> bool:
            for tag in header.split(","):
                tag = tag.strip()
                if tag == "*" or tag.strip('"') == info.etag or tag == etag:
                    return True
            return False

        def date(h: str) -> float | None:
            try:
                return parsedate_to_datetime(h).timestamp()
            except (TypeError, ValueError, IndexError):
                return None

        im, inm = req.h(prefix + "if-match"), req.h(prefix + "if-none-match")
        ims, ius = req.h(prefix + "if-modified-since"), req.h(prefix + "if-unmodified-since")
        if im and not matches(im):
            raise S3Error("PreconditionFailed", Condition="If-Match")
        if ius and not im:
            d = date(ius)
            if d is not None and mtime > d:
                raise S3Error("PreconditionFailed", Condition="If-Unmodified-Since")
        if inm and matches(inm):
            if prefix or req.method not in ("GET", "HEAD"):
                raise S3Error("PreconditionFailed", Condition="If-None-Match")
            raise self._not_modified(info)
        if ims and not inm:
            d = date(ims)
            if d is not None and mtime <= d:
                if prefix:
                    raise S3Error("PreconditionFailed", Condition="If-Modified-Since")
                raise self._not_modified(info)

    @staticmethod
    def _not_modified(info: ObjectInfo) -> S3Error:
        e = S3Error("NotModified", "Not Modified", headers=[("etag", f'"{info.etag}"'),
                                                          ("last-modified", _http_date(info.mtime))])
        e.status = 304
        return e

    @staticmethod
    def _parse_range(header: str, size: int) -> tuple[int, int] | None:
        """(start, end inclusive) or None (serve everything); raises InvalidRange when unsatisfiable."""
        if not header.startswith("bytes=") or "," in header:
            return None
        spec = header[6:].strip()
        a, sep, b = spec.partition("-")
        if not sep:
            return None
        try:
            if a == "":
                n = int(b)
                if n <= 0:
                    raise S3Error("InvalidRange", ActualObjectSize=str(size), RangeRequested=header)
                return (max(size - n, 0), size - 1) if size else None
            start = int(a)
            end = int(b) if b else size - 1
        except ValueError:
            return None
        if start < 0 or (b and end < start):
            return None
        if start >= size:
            raise S3Error("InvalidRange", ActualObjectSize=str(size), RangeRequested=header)
        return start, min(end, size - 1)

    def _info_headers(self, req: Req, info: ObjectInfo) -> list[tuple[str, str]]:
        out = [("etag", f'"{info.etag}"'), ("last-modified", _http_date(info.mtime)), ("accept-ranges", "bytes"),
               ("content-type", info.content_type or "binary/octet-stream")]
        out += [(k, v) for k, v in info.headers.items() if k != TAGS]
        out += [(f"x-amz-meta-{k}", _mime_word(v)) for k, v in info.meta.items()]
        if info.headers.get(TAGS):
            out.append(("x-amz-tagging-count", str(len(parse_qsl(info.headers[TAGS], keep_blank_values=True)))))
        if info.parts:
            out.append(("x-amz-mp-parts-count", str(len(info.parts))))
        assert req.bucket_info is not None
        out += self._version_headers(req.bucket_info, info.version)
        for name, override in (("content-type", "response-content-type"),
                               ("content-language", "response-content-language"),
                               ("expires", "response-expires"), ("cache-control", "response-cache-control"),
                               ("content-disposition", "response-content-disposition"),
                               ("content-encoding", "response-content-encoding")):
            if override in req.query:
                out = [(k, v) for k, v in out if k != name] + [(name, req.query[override])]
        return out

    async def get_object(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        head = req.method == "HEAD"

        def open_object() -> tuple[ObjectInfo, Any, bytes | None]:
            info, fh = self.store.open(req.bucket, req.key, req.query.get("versionId"))
            if fh is None or info.size > SMALL or head:
                return info, fh, None
            try:
                return info, None, fh.read()
            finally:
                fh.close()

        try:
            info, fh, whole = await run_in_threadpool(open_object)
        except (st.NoSuchKey, st.NoSuchVersion):
            self._missing(req, b)
            raise
        if fh is None:
            fh = io.BytesIO(whole or b"")
        try:
            self._authorize_object(req, info)
            if info.marker:
                raise st.VersionIsDeleteMarker(info.version)
            self._evaluate_conditions(req, info)
            headers = self._info_headers(req, info)
            rng: tuple[int, int] | None = None
            part = req.query.get("partNumber")
            if part:
                try:
                    n = int(part)
                except ValueError:
                    raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000") from None
                sizes = info.parts or [info.size]
                if not 1 <= n <= 10000:
                    raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000")
                if n > len(sizes):
                    raise S3Error("InvalidPart", "The requested partnumber is not satisfiable", PartNumber=str(n))
                start = sum(sizes[: n - 1])
                rng = (start, start + sizes[n - 1] - 1) if sizes[n - 1] else None
                headers = [h for h in headers if h[0] != "x-amz-mp-parts-count"]
                headers.append(("x-amz-mp-parts-count", str(len(sizes))))
            elif req.h("range"):
                rng = self._parse_range(req.h("range"), info.size)
            if (req.h("x-amz-checksum-mode").upper() == "ENABLED" and rng is None and info.checksums):
                for algo, v in info.checksums.items():
                    headers.append((f"x-amz-checksum-{algo.lower()}", v))
                headers.append(("x-amz-checksum-type", "COMPOSITE" if info.parts else "FULL_OBJECT"))
            status = 200
            start, length = 0, info.size
            if rng is not None:
                start, end = rng
                length = end - start + 1
                status = 206
                headers.append(("content-range", f"bytes {start}-{end}/{info.size}"))
            headers.append(("content-length", str(length)))
            if head or length == 0:
                fh.close()
                return status, headers, b""
            if whole is not None:
                return status, headers, whole[start:start + length]
            if length <= SMALL:
                def read_small() -> bytes:
                    try:
                        fh.seek(start)
                        return fh.read(length)  # type: ignore[no-any-return]
                    finally:
                        fh.close()

                return status, headers, await run_in_threadpool(read_small)
            return status, headers, self._file_stream(fh, start, length)
        except BaseException:
            fh.close()
            raise

    async def _file_stream(self, fh: Any, start: int, length: int) -> AsyncIterator[bytes]:
        def read(n: int) -> bytes:
            return fh.read(n)  # type: ignore[no-any-return]

        try:
            await run_in_threadpool(fh.seek, start)
            left = length
            while left > 0:
                data = await run_in_threadpool(read, min(READ_CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data
        finally:
            fh.close()

    # ---- GetObjectAttributes -----------------------------------------------------------------------------------
    async def get_object_attributes(self, req: Req) -> Reply:
        await self._drain(req)
        wanted = [a.strip() for a in req.h("x-amz-object-attributes").split(",") if a.strip()]
        if not wanted:
            raise S3Error("InvalidArgument", "The x-amz-object-attributes header specifying the attributes to be "
                          "retrieved is either missing or empty", ArgumentName="x-amz-object-attributes")
        for a in wanted:
            if a not in OBJECT_ATTRIBUTES:
                raise S3Error("InvalidArgument", "Invalid attribute name specified.",
                              ArgumentName="x-amz-object-attributes", ArgumentValue=a)
        b = req.bucket_info
        assert b is not None
        info = await self._read_info(req, allow_marker=True)
        if info.marker:
            raise S3Error("NoSuchKey", Key=req.key, headers=[("x-amz-delete-marker", "true"),
                                                           ("x-amz-version-id", info.version)])
        try:
            max_parts = min(int(req.h("x-amz-max-parts", "1000")), 1000)
            marker = int(req.h("x-amz-part-number-marker", "0") or 0)
        except ValueError:
            raise S3Error("InvalidArgument", "x-amz-max-parts and x-amz-part-number-marker must be integers") from None
        out = []
        if "ETag" in wanted:
            out.append(f"<ETag>{info.etag}</ETag>")
        if "Checksum" in wanted and info.checksums:
            sums = "".join(f"<Checksum{a}>{_x(v)}</Checksum{a}>" for a, v in info.checksums.items())
            out.append(f"<Checksum>{sums}<ChecksumType>{'COMPOSITE' if info.parts else 'FULL_OBJECT'}"
                       "</ChecksumType></Checksum>")
        if "ObjectParts" in wanted and info.parts:
            listed = [(n, size) for n, size in enumerate(info.parts, 1) if n > marker][:max_parts]
            truncated = bool(listed) and listed[-1][0] < len(info.parts)
            nxt = f"<NextPartNumberMarker>{listed[-1][0]}</NextPartNumberMarker>" if listed else ""
            parts = "".join(f"<Part><PartNumber>{n}</PartNumber><Size>{size}</Size></Part>" for n, size in listed)
            out.append(f"<ObjectParts><PartsCount>{len(info.parts)}</PartsCount>"
                       f"<PartNumberMarker>{marker}</PartNumberMarker>{nxt}<MaxParts>{max_parts}</MaxParts>"
                       f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{parts}</ObjectParts>")
        if "StorageClass" in wanted:
            out.append("<StorageClass>STANDARD</StorageClass>")
        if "ObjectSize" in wanted:
            out.append(f"<ObjectSize>{info.size}</ObjectSize>")
        body = f'{XML_HEAD}<GetObjectAttributesResponse xmlns="{NS}">{"".join(out)}</GetObjectAttributesResponse>'
        headers = [("last-modified", _http_date(info.mtime))] + self._version_headers(b, info.version)
        return 200, headers, body.encode()

    # ---- object ACL ---------------------------------------------------------------------------------------------
    async def get_object_acl(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        info = await self._read_info(req)
        acl = access.Acl.load(None if b.ownership == access.BUCKET_OWNER_ENFORCED else info.acl, b.owner,
                              b.owner_name)
        return 200, self._version_headers(b, info.version), acl.xml(NS).encode()

    async def put_object_acl(self, req: Req) -> Reply:
        b = req.bucket_info
        assert b is not None
        info = await self._read_info(req)
        owner, owner_name = self._owner(b, info.acl)
        acl = await bucket_config.requested_acl(self, req, owner, owner_name, b)
        await run_in_threadpool(lambda: self.store.update(req.bucket, req.key, info.version, acl=acl.dump(b.owner),
                                                          set_acl=True))
        return 200, self._version_headers(b, info.version), b""

    # ---- copy ---------------------------------------------------------------------------------------------------
    async def _copy_source(self, req: Req) -> tuple[ObjectInfo, st.Bucket, bool]:
        """The source version of a copy (read access decided on it), its bucket, whether a version was named."""
        raw = req.h("x-amz-copy-source")
        path, _, query = raw.partition("?")
        version = dict(parse_qsl(query)).get("versionId") if query else None
        src = unquote(path)
        src = src[1:] if src.startswith("/") else src
        sbucket, _, skey = src.partition("/")
        if not sbucket or not skey:
            raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                          "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source")
        if version is not None and not st.valid_version_id(version):
            raise S3Error("InvalidArgument", "Invalid version id specified", ArgumentName="x-amz-copy-source",
                          ArgumentValue=raw)
        b = await run_in_threadpool(self.store.bucket, sbucket)
        if b is None:
            raise S3Error("NoSuchBucket", BucketName=sbucket)
        if req.h("x-amz-source-expected-bucket-owner") not in ("", b.owner):
            raise S3Error("AccessDenied")
        try:
            info = await run_in_threadpool(self.store.get, sbucket, skey, version)
        except (st.NoSuchKey, st.NoSuchVersion) as exc:
            if not self._allowed(req, b, "s3:ListBucket", key=""):
                raise S3Error("AccessDenied") from None
            raise S3Error(exc.code, Key=skey, VersionId=version) from None
        action = "s3:GetObjectVersion" if version is not None else "s3:GetObject"
        if not self._allowed(req, b, action, info):
            raise S3Error("AccessDenied")
        if info.marker:
            raise S3Error("InvalidRequest", "The source of a copy request may not specifically refer to a delete "
                          "marker by version id.")
        self._evaluate_conditions(req, info, prefix="x-amz-copy-source-")
        return info, b, version is not None

    async def copy_object(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        src, src_bucket, named = await self._copy_source(req)
        directive = req.h("x-amz-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error("InvalidArgument", "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive")
        if directive == "COPY":
            if src.bucket == req.bucket and src.key == req.key and not named and not req.h("x-amz-storage-class"):
                raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object "
                              "to itself without changing the object's metadata, storage class, website redirect "
                              "location or encryption attributes.")
            ctype, headers, meta = src.content_type, dict(src.headers), dict(src.meta)
        else:
            ctype, headers, meta = self._object_headers(req)
            headers.pop(TAGS, None)
            if src.headers.get(TAGS):
                headers[TAGS] = src.headers[TAGS]
        tagging = req.h("x-amz-tagging-directive", "COPY").upper()
        if tagging == "REPLACE":
            headers.pop(TAGS, None)
            if req.h("x-amz-tagging"):
                headers[TAGS] = self._encode_tags(self._parse_tag_header(req.h("x-amz-tagging")))
        elif tagging != "COPY":
            raise S3Error("InvalidArgument", "Unknown tagging directive.", ArgumentName="x-amz-tagging-directive")
        acl = self._new_object_acl(req, b)
        info = await run_in_threadpool(lambda: self.store.copy(src, req.bucket, req.key, content_type=ctype,
                                                               headers=headers, meta=meta, acl=acl))
        sums = "".join(f"<Checksum{a}>{_x(v)}</Checksum{a}>" for a, v in info.checksums.items() if "-" not in v)
        body = (f'{XML_HEAD}<CopyObjectResult xmlns="{NS}"><LastModified>{_iso(info.mtime)}</LastModified>'
                f'<ETag>"{info.etag}"</ETag>{sums}</CopyObjectResult>')
        out = self._version_headers(b, info.version)
        if src_bucket.versioning or named:
            out.append(("x-amz-copy-source-version-id", src.version))
        return 200, out, body.encode()

    # ---- delete -------------------------------------------------------------------------------------------------
    def _marker_acl(self, req: Req, b: st.Bucket) -> str | None:
        """A delete marker belongs to whoever deleted."""
        if req.account is None or req.account == b.owner:
            return None if req.account is not None else access.Acl.private(access.ANONYMOUS, "").dump(b.owner)
        return access.Acl.private(req.account, req.account_name).dump(b.owner)

    async def delete_object(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        version = req.query.get("versionId")
        d = await run_in_threadpool(lambda: self.store.delete(req.bucket, req.key, version,
                                                              marker_acl=self._marker_acl(req, b)))
        out = [] if d.version is None else [("x-amz-version-id", d.version)]
        if d.marker:
            out.append(("x-amz-delete-marker", "true"))
        return 204, out, b""

    async def delete_objects(self, req: Req) -> Reply:
        b = req.bucket_info
        assert b is not None
        req.pending = None  # decided per key below
        root = self._xml(await self._small_body(req))
        if root.tag != "Delete":
            raise S3Error("MalformedXML")
        quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
        wanted = [((o.findtext("Key") or ""), o.findtext("VersionId")) for o in root.findall("Object")]
        if not wanted or len(wanted) > 1000:
            raise S3Error("MalformedXML")
        marker_acl = self._marker_acl(req, b)

        def run() -> str:
            out = []
            for k, v in wanted:
                vx = f"<VersionId>{_x(v)}</VersionId>" if v is not None else ""
                try:
                    if not k:
                        raise S3Error("InvalidArgument", "empty key")
                    if v is not None and not st.valid_version_id(v):
                        raise S3Error("NoSuchVersion", "The specified version does not exist.")
                    if not self._allowed(req, b, "s3:DeleteObject" if v is None else "s3:DeleteObjectVersion",
                                         key=k):
                        raise S3Error("AccessDenied")
                    d = self.store.delete(req.bucket, k, v, marker_acl=marker_acl)
                    if not quiet:
                        dm = (f"<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>{_x(d.version or '')}"
                              "</DeleteMarkerVersionId>") if d.marker else ""
                        out.append(f"<Deleted><Key>{_x(k)}</Key>{vx}{dm}</Deleted>")
                except (S3Error, st.ObjectStoreError) as exc:
                    code = getattr(exc, "code", "InternalError")
                    message = exc.message if isinstance(exc, S3Error) else str(exc)
                    out.append(f"<Error><Key>{_x(k)}</Key>{vx}<Code>{code}</Code><Message>{_x(message)}</Message>"
                               "</Error>")
            return "".join(out)

        items = await run_in_threadpool(run)
        return 200, [], f'{XML_HEAD}<DeleteResult xmlns="{NS}">{items}</DeleteResult>'.encode()

    # ---- listing ------------------------------------------------------------------------------------------------
    @staticmethod
    def _max_keys(q: dict[str, str]) -> int:
        try:
            max_keys = int(q.get("max-keys", "1000"))
        except ValueError:
            raise S3Error("InvalidArgument", "Provided max-keys not an integer or within integer range",
                          ArgumentName="max-keys") from None
        if max_keys < 0:
            raise S3Error("InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647",
                          ArgumentName="max-keys")
        return min(max_keys, 1000)

    @staticmethod
    def _encoder(q: dict[str, str]) -> Callable[[str], str]:
        enc = q.get("encoding-type", "")
        if enc and enc != "url":
            raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                          ArgumentName="encoding-type")
        if enc:
            return lambda s: quote(s, safe="/")
        return _x

    @staticmethod
    def _list_settings(q: dict[str, str], e: Callable[[str], str], max_keys: int, truncated: bool) -> str:
        """MaxKeys, Delimiter, EncodingType and IsTruncated of a listing reply."""
        return (f"<MaxKeys>{max_keys}</MaxKeys>" + (f"<Delimiter>{e(q['delimiter'])}</Delimiter>"
                                                     if q.get("delimiter") else "")
                + ("<EncodingType>url</EncodingType>" if q.get("encoding-type") else "")
                + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")

    def _owner_xml(self, b: st.Bucket, acl_json: str | None) -> str:
        oid, name = self._owner(b, acl_json)
        return f"<Owner><ID>{_x(oid)}</ID><DisplayName>{_x(name)}</DisplayName></Owner>"

    async def list_objects_v1(self, req: Req) -> Reply:
        return await self.list_objects(req, v2=False)

    async def list_objects_v2(self, req: Req) -> Reply:
        return await self.list_objects(req, v2=True)

    async def list_objects(self, req: Req, *, v2: bool) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        q = req.query
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        e = self._encoder(q)
        max_keys = self._max_keys(q)
        after: str | None = None
        token = q.get("continuation-token")
        if v2:
            if token is not None:
                after = self._token(token)
            elif q.get("start-after"):
                after = q["start-after"]
        elif q.get("marker"):
            after = q["marker"]
        listing = await run_in_threadpool(lambda: self.store.list_keys(req.bucket, prefix=prefix, delimiter=delimiter,
                                                                       after=after, max_keys=max_keys))
        with_owner = not v2 or q.get("fetch-owner", "").lower() == "true"
        # ListObjects (v1) sends Prefix as given even with encoding-type=url; v2 encodes it
        parts = [f'{XML_HEAD}<ListBucketResult xmlns="{NS}"><Name>{_x(req.bucket)}</Name>'
                 f"<Prefix>{e(prefix) if v2 else _x(prefix)}</Prefix>"]
        if v2:
            parts.append(f"<KeyCount>{len(listing.contents) + len(listing.prefixes)}</KeyCount>")
            if token is not None:
                parts.append(f"<ContinuationToken>{_x(token)}</ContinuationToken>")
            if listing.truncated and listing.last is not None:
                parts.append(f"<NextContinuationToken>{self._make_token(listing.last)}</NextContinuationToken>")
            if "start-after" in q:
                parts.append(f"<StartAfter>{e(q['start-after'])}</StartAfter>")
        else:
            parts.append(f"<Marker>{e(q.get('marker', ''))}</Marker>")
            if listing.truncated and delimiter and listing.last is not None:
                parts.append(f"<NextMarker>{e(listing.last)}</NextMarker>")
        parts.append(self._list_settings(q, e, max_keys, listing.truncated))
        bucket_owner = self._owner_xml(b, None) if with_owner else ""
        for o in listing.contents:
            sums = "".join(f"<ChecksumAlgorithm>{a}</ChecksumAlgorithm>" for a in o.checksums)
            owner = (bucket_owner if o.acl is None else self._owner_xml(b, o.acl)) if with_owner else ""
            parts.append(f"<Contents><Key>{e(o.key)}</Key><LastModified>{_iso(o.mtime)}</LastModified>"
                         f'<ETag>"{o.etag}"</ETag>{sums}<Size>{o.size}</Size>{owner}'
                         "<StorageClass>STANDARD</StorageClass></Contents>")
        parts += [f"<CommonPrefixes><Prefix>{e(p)}</Prefix></CommonPrefixes>" for p in listing.prefixes]
        parts.append("</ListBucketResult>")
        return 200, [], "".join(parts).encode("utf-8")

    async def list_object_versions(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        q = req.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        e = self._encoder(q)
        max_keys = self._max_keys(q)
        key_marker, version_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
        if version_marker and not key_marker:
            raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.",
                          ArgumentName="version-id-marker", ArgumentValue=version_marker)
        if version_marker and not st.valid_version_id(version_marker):
            raise S3Error("InvalidArgument", "Invalid version id specified", ArgumentName="version-id-marker",
                          ArgumentValue=version_marker)
        listing = await run_in_threadpool(lambda: self.store.list_versions(
            req.bucket, prefix=prefix, delimiter=delimiter, key_marker=key_marker, version_marker=version_marker,
            max_keys=max_keys))
        parts = [f'{XML_HEAD}<ListVersionsResult xmlns="{NS}"><Name>{_x(req.bucket)}</Name>'
                 f"<Prefix>{e(prefix)}</Prefix><KeyMarker>{e(key_marker)}</KeyMarker>"
                 f"<VersionIdMarker>{_x(version_marker)}</VersionIdMarker>"]
        if listing.truncated and listing.next_key is not None:
            parts.append(f"<NextKeyMarker>{e(listing.next_key)}</NextKeyMarker>")
            if listing.next_version is not None:
                parts.append(f"<NextVersionIdMarker>{_x(listing.next_version)}</NextVersionIdMarker>")
        parts.append(self._list_settings(q, e, max_keys, listing.truncated))
        for v in listing.entries:
            head = (f"<Key>{e(v.key)}</Key><VersionId>{_x(v.version)}</VersionId>"
                    f"<IsLatest>{'true' if v.latest else 'false'}</IsLatest>"
                    f"<LastModified>{_iso(v.mtime)}</LastModified>")
            if v.marker:
                parts.append(f"<DeleteMarker>{head}{self._owner_xml(b, v.acl)}</DeleteMarker>")
            else:
                sums = "".join(f"<ChecksumAlgorithm>{a}</ChecksumAlgorithm>" for a in v.checksums)
                parts.append(f'<Version>{head}<ETag>"{v.etag}"</ETag>{sums}<Size>{v.size}</Size>'
                             f"<StorageClass>STANDARD</StorageClass>{self._owner_xml(b, v.acl)}</Version>")
        parts += [f"<CommonPrefixes><Prefix>{e(p)}</Prefix></CommonPrefixes>" for p in listing.prefixes]
        parts.append("</ListVersionsResult>")
        return 200, [], "".join(parts).encode("utf-8")

    # ---- multipart ----------------------------------------------------------------------------------------------
    async def create_upload(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        ctype, headers, meta = self._object_headers(req)
        algo = req.h("x-amz-checksum-algorithm").upper() or None
        if algo and algo not in st.CHECKSUM_ALGOS:
            raise S3Error("InvalidRequest", f"Checksum algorithm {algo} is not supported")
        acl = self._new_object_acl(req, b)
        up = await run_in_threadpool(lambda: self.store.create_upload(
            req.bucket, req.key, req.account or access.ANONYMOUS, content_type=ctype, headers=headers, meta=meta,
            algo=algo, acl=acl))
        out = [("x-amz-checksum-algorithm", algo)] if algo else []
        if algo:
            out.append(("x-amz-checksum-type", "COMPOSITE"))
        body = (f'{XML_HEAD}<InitiateMultipartUploadResult xmlns="{NS}"><Bucket>{_x(req.bucket)}</Bucket>'
                f"<Key>{_x(req.key)}</Key><UploadId>{up.id}</UploadId></InitiateMultipartUploadResult>")
        return 200, out, body.encode()

    def _part_number(self, req: Req) -> int:
        try:
            n = int(req.query.get("partNumber", ""))
        except ValueError:
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                          ArgumentName="partNumber") from None
        if not 1 <= n <= 10000:
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                          ArgumentName="partNumber", ArgumentValue=str(n))
        return n

    async def upload_part(self, req: Req) -> Reply:
        n = self._part_number(req)
        up = await run_in_threadpool(self.store.upload, req.bucket, req.query.get("uploadId", ""), req.key)

        def finalize(w: st.ObjectWriter, sums: dict[str, str]) -> tuple[st.Part, dict[str, str]]:
            checksum = sums.get(up.algo) if up.algo else None
            if up.algo and checksum is None:
                checksum = w.sums[up.algo].b64()
            return self.store.commit_part(up.id, n, w, checksum), sums

        part, sums = await self._receive(req, lambda: self.store.part_writer(up.id), finalize,
                                         extra_algos=[up.algo] if up.algo else [])
        out = [("etag", f'"{part.etag}"')] + [(f"x-amz-checksum-{a.lower()}", v) for a, v in sums.items()]
        return 200, out, b""

    async def upload_part_copy(self, req: Req) -> Reply:
        await self._drain(req)
        n = self._part_number(req)
        up = await run_in_threadpool(self.store.upload, req.bucket, req.query.get("uploadId", ""), req.key)
        src, src_bucket, named = await self._copy_source(req)
        start, length = 0, src.size
        rng = req.h("x-amz-copy-source-range")
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng.strip())
            if not m or int(m.group(2)) < int(m.group(1)):
                raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                              "bytes=first-last where first and last are the zero-based offsets of the first and "
                              "last bytes to copy", ArgumentName="x-amz-copy-source-range", ArgumentValue=rng)
            if int(m.group(2)) >= src.size:
                raise S3Error("InvalidRange", ActualObjectSize=str(src.size), RangeRequested=rng)
            start, length = int(m.group(1)), int(m.group(2)) - int(m.group(1)) + 1
        part = await run_in_threadpool(self.store.copy_part, up.id, n, src, start, length)
        body = (f'{XML_HEAD}<CopyPartResult xmlns="{NS}"><LastModified>{_iso(part.mtime)}</LastModified>'
                f'<ETag>"{part.etag}"</ETag></CopyPartResult>')
        out = [("x-amz-copy-source-version-id", src.version)] if src_bucket.versioning or named else []
        return 200, out, body.encode()

    async def complete_upload(self, req: Req) -> Reply:
        b = req.bucket_info
        assert b is not None
        upload_id = req.query["uploadId"]
        try:
            await run_in_threadpool(self.store.upload, req.bucket, upload_id, req.key)
        except st.NoSuchUpload:
            done = await run_in_threadpool(self.store.completed, req.bucket, upload_id, req.key)
            if done is None:
                raise
            await self._drain(req)
            return self._completed(req, b, done)
        root = self._xml(await self._small_body(req))
        if root.tag != "CompleteMultipartUpload":
            raise S3Error("MalformedXML")
        wanted = []
        for p in root.findall("Part"):
            try:
                wanted.append((int((p.findtext("PartNumber") or "").strip()), p.findtext("ETag") or ""))
            except ValueError:
                raise S3Error("MalformedXML") from None
        if not wanted:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema")
        condition = self._write_condition(req)
        try:
            info = await run_in_threadpool(lambda: self.store.complete(req.bucket, upload_id, req.key, wanted,
                                                                       condition))
        except st.NoSuchUpload:  # a concurrent Complete of the same upload won
            done = await run_in_threadpool(self.store.completed, req.bucket, upload_id, req.key)
            if done is None:
                raise
            info = done
        return self._completed(req, b, info)

    def _completed(self, req: Req, b: st.Bucket, info: ObjectInfo) -> Reply:
        host = req.h("host") or "localhost"
        loc = f"http://{host}/{quote(req.bucket)}/{quote(req.key)}"
        sums = "".join(f"<Checksum{a}>{_x(v)}</Checksum{a}>" for a, v in info.checksums.items())
        body = (f'{XML_HEAD}<CompleteMultipartUploadResult xmlns="{NS}"><Location>{_x(loc)}</Location>'
                f"<Bucket>{_x(req.bucket)}</Bucket><Key>{_x(req.key)}</Key><ETag>\"{info.etag}\"</ETag>{sums}"
                "</CompleteMultipartUploadResult>")
        return 200, self._version_headers(b, info.version), body.encode()

    async def abort_upload(self, req: Req) -> Reply:
        await self._drain(req)
        await run_in_threadpool(self.store.abort, req.bucket, req.query["uploadId"])
        return 204, [], b""

    def _upload_owner(self, b: st.Bucket, up: st.Upload) -> str:
        oid, name = self._owner(b, up.acl) if up.acl else (up.owner, b.owner_name if up.owner == b.owner else "")
        return f"<ID>{_x(oid)}</ID><DisplayName>{_x(name)}</DisplayName>"

    async def list_parts(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        up = await run_in_threadpool(self.store.upload, req.bucket, req.query["uploadId"], req.key)
        parts = await run_in_threadpool(self.store.parts, up.id)
        try:
            marker = int(req.query.get("part-number-marker", "0") or 0)
            max_parts = min(int(req.query.get("max-parts", "1000")), 1000)
        except ValueError:
            raise S3Error("InvalidArgument", "part-number-marker and max-parts must be integers") from None
        parts = [p for p in parts if p.num > marker]
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        owner = self._upload_owner(b, up)
        items = "".join(
            f"<Part><PartNumber>{p.num}</PartNumber><LastModified>{_iso(p.mtime)}</LastModified>"
            f'<ETag>"{p.etag}"</ETag><Size>{p.size}</Size>'
            + (f"<Checksum{up.algo}>{_x(p.checksum)}</Checksum{up.algo}>" if up.algo and p.checksum else "")
            + "</Part>" for p in parts)
        nxt = f"<NextPartNumberMarker>{parts[-1].num}</NextPartNumberMarker>" if parts else ""
        algo = f"<ChecksumAlgorithm>{up.algo}</ChecksumAlgorithm>" if up.algo else ""
        body = (f'{XML_HEAD}<ListPartsResult xmlns="{NS}"><Bucket>{_x(req.bucket)}</Bucket><Key>{_x(up.key)}</Key>'
                f"<UploadId>{up.id}</UploadId><Initiator>{owner}</Initiator><Owner>{owner}</Owner>"
                f"<StorageClass>STANDARD</StorageClass><PartNumberMarker>{marker}</PartNumberMarker>{nxt}"
                f"<MaxParts>{max_parts}</MaxParts><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
                f"{algo}{items}</ListPartsResult>")
        return 200, [], body.encode()

    async def list_uploads(self, req: Req) -> Reply:
        await self._drain(req)
        b = req.bucket_info
        assert b is not None
        q = req.query
        try:
            max_uploads = min(int(q.get("max-uploads", "1000")), 1000)
        except ValueError:
            raise S3Error("InvalidArgument", "max-uploads must be an integer") from None
        ups, truncated = await run_in_threadpool(lambda: self.store.uploads(
            req.bucket, prefix=q.get("prefix", ""), key_marker=q.get("key-marker", ""),
            upload_marker=q.get("upload-id-marker", ""), max_uploads=max_uploads))
        e = self._encoder(q)
        items = "".join(f"<Upload><Key>{e(u.key)}</Key><UploadId>{u.id}</UploadId>"
                        f"<Initiator>{self._upload_owner(b, u)}</Initiator><Owner>{self._upload_owner(b, u)}</Owner>"
                        f"<StorageClass>STANDARD</StorageClass><Initiated>{_iso(u.initiated)}</Initiated></Upload>"
                        for u in ups)
        nxt = ""
        if truncated and ups:
            nxt = (f"<NextKeyMarker>{e(ups[-1].key)}</NextKeyMarker>"
                   f"<NextUploadIdMarker>{ups[-1].id}</NextUploadIdMarker>")
        body = (f'{XML_HEAD}<ListMultipartUploadsResult xmlns="{NS}"><Bucket>{_x(req.bucket)}</Bucket>'
                f"<KeyMarker>{e(q.get('key-marker', ''))}</KeyMarker>"
                f"<UploadIdMarker>{_x(q.get('upload-id-marker', ''))}</UploadIdMarker>{nxt}"
                f"<Prefix>{e(q.get('prefix', ''))}</Prefix>"
                + ("<EncodingType>url</EncodingType>" if q.get("encoding-type") else "")
                + f"<MaxUploads>{max_uploads}</MaxUploads><IsTruncated>{'true' if truncated else 'false'}"
                f"</IsTruncated>{items}</ListMultipartUploadsResult>")
        return 200, [], body.encode()


def _header_text(value: str) -> str:
    """A header value as the client meant it: headers arrive as latin-1 text; a client that sent UTF-8 bytes
    (curl, most SDKs) meant UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return value


def _mime_word(value: str) -> str:
    """A metadata value for a response header: non-ASCII values RFC 2047-encoded, as S3 returns them."""
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode() + "?="
