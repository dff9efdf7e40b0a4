"""The router's metadata service: a dependency-free HTTP server run inside the router's namespace.

Usage: ``python3 metadata_server.py <db.json> <bind-ip> [port]``. The VM is identified by the connection's source
IP; the JSON database (written by the provider) is re-read whenever its mtime changes, so updates need no restart.
Paths (CloudStack / EC2 style): ``/latest/user-data``, ``/latest/meta-data/`` (index), ``/latest/meta-data/<key>``,
``/latest/meta-data/public-keys`` (and ``public-keys/0/openssh-key``), ``/openstack/latest/meta_data.json``,
``/openstack/latest/user_data``. Also answers under ``/<version>/`` for any version (``2009-04-04`` ...).
This file must stay importable without the devcloud package (it runs as a plain script).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

META_KEYS = ("instance-id", "vm-id", "local-hostname", "public-hostname", "availability-zone", "local-ipv4",
             "public-ipv4", "public-keys", "service-offering")


class _Db:
    def __init__(self, path: str) -> None:
        self.path = path
        self.mtime = -1.0
        self.data: dict = {}

    def get(self, ip: str) -> dict | None:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return None
        if mtime != self.mtime:
            with open(self.path, encoding="utf-8") as f:
                self.data = json.load(f)
            self.mtime = mtime
        return self.data.get(ip)


class Handler(BaseHTTPRequestHandler):
    server_version = "devcloud-metadata/1"
    protocol_version = "HTTP/1.1"
    db: _Db

    def log_message(self, fmt: str, *args) -> None:  # quiet; errors only
        pass

    def _send(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        vm = self.db.get(self.client_address[0])
        if vm is None:
            return self._send(404, b"unknown client\n")
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
        if len(parts) >= 2 and parts[0] == "openstack":
            return self._openstack(vm, parts[2:])
        if not parts:
            return self._send(200, b"latest\n")
        rest = parts[1:]  # drop the version ("latest", "2009-04-04", ...)
        if not rest:
            return self._send(200, b"meta-data\nuser-data\n")
        if rest == ["user-data"]:
            return self._send(200, bytes.fromhex(vm.get("user-data", "")), "application/octet-stream")
        if rest[0] != "meta-data":
            return self._send(404, b"not found\n")
        keys = rest[1:]
        if not keys:
            return self._send(200, "".join(k + ("/" if k == "public-keys" and len(vm["public-keys"]) > 1 else "")
                                           + "\n" for k in META_KEYS).encode())
        key = keys[0]
        if key == "public-keys":
            pk = vm.get("public-keys", [])
            if len(keys) == 1:
                return self._send(200, "\n".join(pk).encode() + (b"\n" if pk else b""))
            try:
                key_text = pk[int(keys[1].split("=")[0])]
            except (ValueError, IndexError):
                return self._send(404, b"not found\n")
            return self._send(200, (key_text + "\n").encode() if len(keys) > 2 else b"openssh-key\n")
        if key in META_KEYS:
            return self._send(200, str(vm.get(key, "")).encode())
        return self._send(404, b"not found\n")

    def _openstack(self, vm: dict, rest: list[str]) -> None:
        if rest == ["meta_data.json"]:
            keys = {str(i): k for i, k in enumerate(vm.get("public-keys", []))}
            doc = {"uuid": vm.get("vm-id"), "hostname": vm.get("local-hostname"), "name": vm.get("local-hostname"),
                   "availability_zone": vm.get("availability-zone"), "public_keys": keys,
                   "launch_index": 0}
            return self._send(200, json.dumps(doc).encode(), "application/json")
        if rest == ["user_data"]:
            return self._send(200, bytes.fromhex(vm.get("user-data", "")), "application/octet-stream")
        return self._send(404, b"not found\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that hangs in a namespace without resolvers
        import socketserver

        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def get_request(self):
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


def main(argv: list[str]) -> int:
    """``<db.json> <bind-ip> <port> [<pidfile>]``: with a pidfile, bind, then daemonise (double fork) and return."""
    db_path, bind = argv[1], argv[2]
    port = int(argv[3]) if len(argv) > 3 else 80
    pidfile = argv[4] if len(argv) > 4 else None
    Handler.db = _Db(db_path)
    srv = Server((bind, port), Handler)  # bound and listening before the caller gets control back
    if pidfile:
        pid = os.fork()
        if pid:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        os.setsid()
        pid = os.fork()
        if pid:
            with open(pidfile + ".tmp", "w") as f:
                f.write(f"{pid}\n")
            os.replace(pidfile + ".tmp", pidfile)
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):
            os.dup2(devnull, fd)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
