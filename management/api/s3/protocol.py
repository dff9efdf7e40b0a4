"""The S3 listener's HTTP protocol: uvicorn's httptools protocol, except for bytes that follow a complete request.

A client that declares a Content-Length below its body's size (``Content-Length: 5`` with 11 bytes) sends bytes
that are no request. uvicorn answers them at once with a bare 400 and closes, before the request itself is
answered. S3 first answers the request it read (its body's MD5 or SHA-256 is then not what the client declared:
BadDigest, XAmzContentSHA256Mismatch) and closes the connection after that answer; so does this protocol.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class S3HttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            # a complete request is being answered: drop what follows it and close once that answer is out
            cycle.keep_alive = False
            self.flow.pause_reading()
            return
        super().send_400_response(msg)
