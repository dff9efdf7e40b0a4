"""The S3 listener's HTTP protocol: the guarded httptools protocol (management.api.http11) with S3's error shape.

Among its rules, one S3 clients depend on: a client that declares a Content-Length below its body's size
(``Content-Length: 5`` with 11 bytes) sends bytes that are no request. uvicorn's own protocol would answer them at
once with a bare 400 before the request itself; S3 first answers the request it read (its body's MD5 or SHA-256
is then not what the client declared: BadDigest, XAmzContentSHA256Mismatch) and closes the connection after that
answer; so does this protocol.
"""

from __future__ import annotations

from management.api.http11 import protocol_for
from management.api.s3.errors import render_rejection

S3HttpProtocol = protocol_for(render_rejection, "s3")
