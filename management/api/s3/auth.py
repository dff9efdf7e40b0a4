"""S3 request authentication: SigV4 (header and presigned), SigV2 (header and presigned), aws-chunked payloads.

Written from the AWS documentation (sigv4-create-canonical-request, sigv4-streaming, RESTAuthentication); the
caller supplies the secret lookup, so nothing here touches the database.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from management.api.s3.errors import S3Error

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = 15 * 60
MAX_PRESIGN = 7 * 24 * 3600
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
UNSIGNED = "UNSIGNED-PAYLOAD"

# SigV2 sub-resources that are part of the canonical resource (botocore HmacV1Auth.QSAOfInterest).
_V2_SUBRESOURCES = {
    "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging", "partNumber", "policy",
    "requestPayment", "torrent", "versioning", "versionId", "versions", "website", "uploads", "uploadId",
    "response-content-type", "response-content-language", "response-expires", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "delete", "lifecycle", "tagging", "restore",
    "storageClass", "notification", "replication", "analytics", "metrics", "inventory", "select", "select-type",
    "object-lock",
}


@dataclass(slots=True)
class Credentials:
    access_key: str
    secret: str
    account: str  # account uuid: the owner of buckets
    account_name: str


SecretLookup = Callable[[str], Credentials | None]


@dataclass(slots=True)
class AuthResult:
    creds: Credentials
    version: int  # 2 or 4
    payload: str  # x-amz-content-sha256 value ("" for v2 / presigned unsigned)
    signing_key: bytes | None = None
    scope: str = ""
    amz_date: str = ""
    seed_signature: str = ""


@dataclass(slots=True)
class RequestView:
    method: str
    raw_path: str  # the path exactly as sent (percent-encoded)
    raw_query: str
    headers: dict[str, list[str]]  # lower-case name -> values
    bucket_from_host: str | None

    def header(self, name: str, default: str = "") -> str:
        v = self.headers.get(name)
        return v[0] if v else default


_key_cache: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    ck = (secret, date, region, service)
    key = _key_cache.get(ck)
    if key is None:
        k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
        k = hmac.new(k, region.encode(), hashlib.sha256).digest()
        k = hmac.new(k, service.encode(), hashlib.sha256).digest()
        key = hmac.new(k, b"aws4_request", hashlib.sha256).digest()
        if len(_key_cache) > 1024:
            _key_cache.clear()
        _key_cache[ck] = key
    return key


def _hmac_hex(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).hexdigest()


def _enc(s: str) -> str:
    return quote(s, safe="-_.~")


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    out = []
    for part in raw_query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        out.append((unquote(k), unquote(v)))
    return out


def canonical_query(raw_query: str, exclude: str | None = None) -> str:
    pairs = [(_enc(k), _enc(v)) for k, v in query_pairs(raw_query) if k != exclude]
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_headers(req: RequestView, signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = req.headers.get(name)
        if values is None:
            raise S3Error("SignatureDoesNotMatch", f"signed header {name} is missing from the request")
        lines.append(name + ":" + ",".join(" ".join(v.split()) for v in values) + "\n")
    return "".join(lines)


def _parse_amz_date(value: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise S3Error("AccessDenied", "X-Amz-Date is not a valid ISO 8601 basic timestamp") from None


def _credential(scope_value: str, lookup: SecretLookup) -> tuple[Credentials, str, str, str, str]:
    parts = scope_value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise S3Error("AuthorizationHeaderMalformed", f"malformed credential {scope_value!r}")
    ak, date, region, service, _ = parts
    creds = lookup(ak)
    if creds is None:
        raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                      AWSAccessKeyId=ak)
    return creds, date, region, service, "/".join(parts[1:])


def _canonical_uris(req: RequestView) -> list[str]:
    uris = [req.raw_path or "/"]
    alt = quote(unquote(req.raw_path or "/"), safe="/~")
    if alt not in uris:
        uris.append(alt)
    return uris


def _encodings(text: str) -> tuple[str, ...]:
    """How a signer may have turned this text (header values decoded as latin-1) into bytes: the raw bytes sent
    (curl, Go, Java: UTF-8 on the wire) and, for Python clients that send str values as latin-1 but sign UTF-8,
    UTF-8 of the decoded text."""
    return ("utf-8",) if text.isascii() else ("latin-1", "utf-8")


def _check_v4(req: RequestView, creds: Credentials, date: str, region: str, service: str, scope: str,
              amz_date: str, signed: list[str], signature: str, payload: str, exclude: str | None) -> bytes:
    key = signing_key(creds.secret, date, region, service)
    cheaders = _canonical_headers(req, signed)
    cquery = canonical_query(req.raw_query, exclude)
    for uri in _canonical_uris(req):
        creq = "\n".join([req.method, uri, cquery, cheaders, ";".join(signed), payload])
        for encoding in _encodings(cheaders):
            digest = hashlib.sha256(creq.encode(encoding)).hexdigest()
            sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, digest])
            if hmac.compare_digest(_hmac_hex(key, sts), signature):
                return key
    raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you "
                  "provided. Check your key and signing method.", AWSAccessKeyId=creds.access_key,
                  StringToSign=sts, CanonicalRequest=creq)


def anonymous(req: RequestView) -> bool:
    """The request carries no credentials at all: no Authorization header, no signature in the query."""
    if "authorization" in req.headers:
        return False
    keys = {k for k, _ in query_pairs(req.raw_query)}
    return not keys & {"X-Amz-Signature", "X-Amz-Algorithm", "X-Amz-Credential", "Signature", "AWSAccessKeyId"}


def identify(req: RequestView, lookup: SecretLookup, now: float | None = None) -> AuthResult | None:
    """Who signed the request; None for an anonymous one (S3 then decides on ACLs and bucket policies)."""
    return None if anonymous(req) else authenticate(req, lookup, now)


def authenticate(req: RequestView, lookup: SecretLookup, now: float | None = None) -> AuthResult:
    now = time.time() if now is None else now
    auth = req.header("authorization")
    if auth.startswith("AWS4-HMAC-SHA256 "):
        fields: dict[str, str] = {}
        for item in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            k, _, v = item.strip().partition("=")
            fields[k] = v
        if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
            raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed.")
        creds, date, region, service, scope = _credential(fields["Credential"], lookup)
        amz_date = req.header("x-amz-date")
        if not amz_date:
            d = req.header("date")
            try:
                amz_date = parsedate_to_datetime(d).strftime("%Y%m%dT%H%M%SZ")
            except (TypeError, ValueError):
                raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None
        ts = _parse_amz_date(amz_date)
        if abs(now - ts) > MAX_SKEW:
            raise S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time is "
                          "too large.", RequestTime=amz_date, MaxAllowedSkewMilliseconds=str(MAX_SKEW * 1000))
        if not amz_date.startswith(date):
            raise S3Error("AuthorizationHeaderMalformed", "The credential date does not match X-Amz-Date")
        payload = req.header("x-amz-content-sha256")
        if not payload:
            if service == "s3":
                raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
            payload = EMPTY_SHA256
        signature = fields["Signature"]
        key = _check_v4(req, creds, date, region, service, scope, amz_date,
                        [h.strip().lower() for h in fields["SignedHeaders"].split(";") if h.strip()], signature,
                        payload, None)
        return AuthResult(creds, 4, payload, key, scope, amz_date, signature)
    if auth.startswith("AWS "):
        ak, _, sig = auth[4:].partition(":")
        return _check_v2(req, ak.strip(), sig.strip(), lookup, None)
    q = dict(query_pairs(req.raw_query))
    if "X-Amz-Signature" in q or q.get("X-Amz-Algorithm"):
        if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise S3Error("AuthorizationQueryParametersError", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        for need in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"):
            if need not in q:
                raise S3Error("AuthorizationQueryParametersError", f"Query-string authentication version 4 requires "
                              f"the {need} parameter")
        try:
            expires = int(q["X-Amz-Expires"])
        except ValueError:
            raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires should be a number") from None
        # S3 refuses an expiry out of range as it refuses an expired URL: 403 AccessDenied
        if expires < 0:
            raise S3Error("AccessDenied", "X-Amz-Expires must be non-negative")
        if expires > MAX_PRESIGN:
            raise S3Error("AccessDenied", "X-Amz-Expires must be less than a week (in seconds); that is, the given "
                          "X-Amz-Expires must be less than 604800 seconds")
        creds, date, region, service, scope = _credential(q["X-Amz-Credential"], lookup)
        ts = _parse_amz_date(q["X-Amz-Date"])
        if now > ts + expires:
            raise S3Error("AccessDenied", "Request has expired", X_Amz_Expires=str(expires))
        if ts - now > MAX_SKEW:
            raise S3Error("AccessDenied", "Request is not valid yet")
        payload = q.get("X-Amz-Content-Sha256") or UNSIGNED
        key = _check_v4(req, creds, date, region, service, scope, q["X-Amz-Date"],
                        [h for h in q["X-Amz-SignedHeaders"].lower().split(";") if h], q["X-Amz-Signature"], payload,
                        "X-Amz-Signature")
        return AuthResult(creds, 4, UNSIGNED if payload == UNSIGNED else payload, key, scope, q["X-Amz-Date"],
                          q["X-Amz-Signature"])
    if "Signature" in q and "AWSAccessKeyId" in q:
        try:
            expires = int(q.get("Expires", ""))
        except ValueError:
            raise S3Error("AccessDenied", "Query-string authentication requires Expires") from None
        if now > expires:
            raise S3Error("AccessDenied", "Request has expired")
        return _check_v2(req, q["AWSAccessKeyId"], q["Signature"], lookup, str(expires))
    if auth:
        raise S3Error("AccessDenied", "Unsupported Authorization Type")
    raise S3Error("AccessDenied", "Access Denied (anonymous requests are not allowed)")


def _check_v2(req: RequestView, ak: str, sig: str, lookup: SecretLookup, expires: str | None) -> AuthResult:
    creds = lookup(ak)
    if creds is None:
        raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                      AWSAccessKeyId=ak)
    amz = sorted((k, v) for k, v in req.headers.items() if k.startswith("x-amz-"))
    if expires is None:
        # x-amz-date, when present (even empty), is the request time and Date is left out of the string to sign
        date = "" if "x-amz-date" in req.headers else req.header("date")
        stamp = req.header("x-amz-date") if "x-amz-date" in req.headers else req.header("date")
        try:
            ts = parsedate_to_datetime(stamp).timestamp()
        except (TypeError, ValueError, IndexError):
            ts = -1.0
        if ts < 0:  # missing, unreadable, or before 1970: S3 does not read it as a time at all
            raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
        if abs(time.time() - ts) > MAX_SKEW:
            raise S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time is "
                          "too large.")
    else:
        date = expires
    lines = [req.method, req.header("content-md5"), req.header("content-type"), date]
    amz_lines = [f"{k}:{','.join(' '.join(x.split()) for x in v)}" for k, v in amz]
    path = req.raw_path or "/"
    if req.bucket_from_host:
        path = "/" + req.bucket_from_host + path
    candidates = [path]
    if path.count("/") == 1 and path != "/":  # a bucket request: botocore signs "/bucket/"
        candidates.append(path + "/")
    sub = sorted((k, v) for k, v in query_pairs(req.raw_query) if k in _V2_SUBRESOURCES)
    suffix = ("?" + "&".join(f"{k}={v}" if v else k for k, v in sub)) if sub else ""
    for resource, encoding in ((r, e) for r in candidates for e in _encodings("".join(amz_lines))):
        sts = "\n".join(lines + amz_lines + [resource + suffix])
        try:
            raw = sts.encode(encoding)
        except UnicodeEncodeError:
            continue
        want = base64.b64encode(hmac.new(creds.secret.encode(), raw, hashlib.sha1).digest()).decode()
        if hmac.compare_digest(want, sig):
            break
    else:
        raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you "
                      "provided. Check your key and signing method.", AWSAccessKeyId=ak, StringToSign=sts)
    return AuthResult(creds, 2, req.header("x-amz-content-sha256") or UNSIGNED)


# ------------------------------------------------------------------------------------------------ aws-chunked

class ChunkDecoder:
    """Incremental decoder of the aws-chunked content encoding (signed or unsigned chunks, optional trailers).

    ``feed(data)`` returns the decoded payload pieces; ``trailers`` holds the trailing headers once ``done``.
    With a signing context every chunk signature (and the trailer signature) is verified, chained from the seed.
    """

    def __init__(self, auth: AuthResult | None = None, *, signed: bool = False) -> None:
        self.signed = signed
        self.auth = auth
        self.prev = auth.seed_signature if auth else ""
        self.buf = bytearray()
        self.state = "header"
        self.remaining = 0
        self.chunk_sig = ""
        self.chunk_hash = hashlib.sha256() if signed else None
        self.trailers: dict[str, str] = {}
        self._trailer_lines: list[str] = []
        self.done = False

    def _verify_chunk(self, digest: str) -> None:
        if not self.signed or self.auth is None or self.auth.signing_key is None:
            return
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.auth.amz_date, self.auth.scope, self.prev, EMPTY_SHA256,
                         digest])
        sig = _hmac_hex(self.auth.signing_key, sts)
        if not hmac.compare_digest(sig, self.chunk_sig):
            raise S3Error("SignatureDoesNotMatch", "The chunk signature does not match")
        self.prev = sig

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        if self.done:
            if data.strip():
                raise S3Error("IncompleteBody", "data after the final chunk")
            return out
        self.buf += data
        buf = self.buf
        pos = 0
        while True:
            if self.state == "data":
                n = min(self.remaining, len(buf) - pos)
                if n == 0:
                    break
                piece = bytes(buf[pos:pos + n])
                if self.chunk_hash is not None:
                    self.chunk_hash.update(piece)
                out.append(piece)
                pos += n
                self.remaining -= n
                if self.remaining == 0:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(buf) - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    raise S3Error("IncompleteBody", "malformed aws-chunked encoding (missing CRLF after a chunk)")
                pos += 2
                if self.chunk_hash is not None:
                    self._verify_chunk(self.chunk_hash.hexdigest())
                    self.chunk_hash = hashlib.sha256()
                self.state = "header"
            elif self.state == "header":
                i = buf.find(b"\r\n", pos)
                if i < 0:
                    if len(buf) - pos > 4096:
                        raise S3Error("IncompleteBody", "malformed aws-chunked encoding (chunk header too long)")
                    break
                line = bytes(buf[pos:i]).decode("latin-1")
                pos = i + 2
                size_s, _, ext = line.partition(";")
                try:
                    size = int(size_s.strip(), 16)
                except ValueError:
                    raise S3Error("IncompleteBody", f"malformed aws-chunked chunk header {line[:80]!r}") from None
                if self.signed:
                    k, _, v = ext.partition("=")
                    if k.strip() != "chunk-signature" or not v:
                        raise S3Error("SignatureDoesNotMatch", "a chunk without chunk-signature")
                    self.chunk_sig = v.strip()
                if size == 0:
                    if self.signed:
                        self._verify_chunk(EMPTY_SHA256)
                    self.state = "trailer"
                else:
                    self.remaining = size
                    self.state = "data"
            elif self.state == "trailer":
                i = buf.find(b"\r\n", pos)
                if i < 0:
                    if len(buf) - pos > 8192:
                        raise S3Error("IncompleteBody", "malformed aws-chunked trailer")
                    break
                line = bytes(buf[pos:i]).decode("latin-1")
                pos = i + 2
                if not line:
                    self._finish_trailers()
                    break
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "x-amz-trailer-signature":
                    self._verify_trailer(value.strip())
                else:
                    self.trailers[name] = value.strip()
                    self._trailer_lines.append(f"{name}:{value.strip()}\n")
        del buf[:pos]
        return out

    def _verify_trailer(self, sig: str) -> None:
        if not self.signed or self.auth is None or self.auth.signing_key is None:
            return
        digest = hashlib.sha256("".join(self._trailer_lines).encode()).hexdigest()
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self.auth.amz_date, self.auth.scope, self.prev, digest])
        if not hmac.compare_digest(_hmac_hex(self.auth.signing_key, sts), sig):
            raise S3Error("SignatureDoesNotMatch", "The trailer signature does not match")

    def _finish_trailers(self) -> None:
        self.done = True
        self.state = "done"

    def close(self) -> None:
        """At end of body: the final chunk must have been seen (a missing empty line after trailers is tolerated)."""
        if self.state == "trailer" and not self.buf:
            self.done = True
        if not self.done:
            raise S3Error("IncompleteBody", "You did not provide the number of bytes specified by the "
                          "Content-Length HTTP header")
