"""Test helpers for the network code: emulated guests (network namespaces on a bridge), polling, HTTP probes.

Used by tests/integration/test_vr_*.py and usable by the e2e/API tiers later.

Everything created here lives on bridges/namespaces the tests create and is removed at teardown.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via ${router%% *} dev "$interface"
    ;;
esac
exit 0
"""

# A tiny HTTP service answering its own name, or the caller's address on /whoami (TCP_NODELAY, one connection per
# request; IPv4 or IPv6 by the address it binds); with a 4th argument,
# /healthz answers 503 while that file exists (a member failing its load balancer health check).
GUEST_HTTP = """
import os, socket, sys, http.server
name, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
sick = sys.argv[4] if len(sys.argv) > 4 else None
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.client_address[0].encode() if self.path == "/whoami" else name.encode()
        code = 503 if self.path == "/healthz" and sick and os.path.exists(sick) else 200
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    def server_bind(self):
        import socketserver; socketserver.TCPServer.server_bind(self)
    def get_request(self):
        c, a = super().get_request(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); return c, a
S((ip, port), H).serve_forever()
"""


def missing_prerequisites(*tools: str) -> str | None:
    """Why these tests cannot run here (not root, tools missing), or None."""
    if os.geteuid() != 0:
        return "needs root"
    missing = [t for t in tools if shutil.which(t) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


def sh(*args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: rc={proc.returncode} {proc.stderr.strip()}")
    return proc


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except Exception as e:  # noqa: BLE001 - keep polling until the deadline
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}: last={last!r}")


def http_get(host: str, port: int, path: str = "/", timeout: float = 1.0) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def blocked(host: str, port: int, timeout: float = 0.7) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return False
    except OSError:
        return True


class Guest:
    """A network namespace standing in for a VM: one NIC (``eth0``, given MAC) attached to ``bridge``."""

    def __init__(self, name: str, netns: str, host_dev: str, mac: str, bridge: str, workdir: Path) -> None:
        self.name, self.netns, self.host_dev, self.mac, self.bridge = name, netns, host_dev, mac, bridge
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []
        self.ip: str | None = None

    def create(self) -> Guest:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.host_dev, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "eth0", "address", self.mac)
        sh("ip", "link", "set", self.host_dev, "master", self.bridge, "up")
        sh("ip", "-n", self.netns, "link", "set", "eth0", "up")
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        return self

    def exec(self, *args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.netns, *args, check=check, timeout=timeout)

    def dhcp(self) -> str:
        script = self.workdir / "udhcpc.sh"
        if not script.exists():
            script.write_text(UDHCPC_SCRIPT)
            script.chmod(0o755)
        self.exec("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "10", "-T", "1", "-s", str(script),
                  "-x", f"hostname:{self.name}", timeout=20)
        out = self.exec("ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout.split()
        self.ip = out[out.index("inet") + 1].split("/")[0]
        return self.ip

    def set_static(self, cidr: str) -> None:
        sh("ip", "-n", self.netns, "addr", "add", cidr, "dev", "eth0")
        self.ip = cidr.split("/")[0]

    def serve_http(self, port: int, sick_file: Path | None = None, ip: str | None = None) -> None:
        ip = ip or self.ip
        assert ip
        script = self.workdir / "guest_http.py"
        script.write_text(GUEST_HTTP)
        extra = [str(sick_file)] if sick_file is not None else []
        p = subprocess.Popen(["ip", "netns", "exec", self.netns, "python3", str(script), self.name, ip,
                              str(port), *extra], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.procs.append(p)
        wait_for(lambda: f"{ip}:{port} " in self.exec("ss", "-ltnH").stdout.replace("[", "").replace("]", ""),
                 what=f"{self.name} listening on {ip}:{port}")

    def slaac_address(self, prefix: str, timeout: float = 30) -> str:
        """The global IPv6 address the guest configured from the router's advertisements of ``prefix``."""
        import ipaddress

        net = ipaddress.IPv6Network(prefix)

        def found() -> str | None:
            out = self.exec("ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global").stdout.split()
            addrs = [out[i + 1].split("/")[0] for i, w in enumerate(out) if w == "inet6"]
            return next((a for a in addrs if ipaddress.IPv6Address(a) in net and "tentative" not in out), None)

        return wait_for(found, timeout=timeout, interval=0.2, what=f"{self.name}: SLAAC address in {prefix}")

    def wget(self, url: str, timeout: int = 2) -> str | None:
        try:
            proc = self.exec("busybox", "wget", "-q", "-O", "-", url, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return proc.stdout if proc.returncode == 0 else None

    def destroy(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=3)
            if p.poll() is None:
                p.kill()
                p.wait()
        pids = sh("ip", "netns", "pids", self.netns, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        sh("ip", "link", "del", self.host_dev, check=False)
        sh("ip", "netns", "del", self.netns, check=False)


class RemoteAccessClient:
    """A remote-access VPN client: a namespace on ``bridge`` (static address, default route via ``gateway``)
    running its own charon that dials ``server`` with the pre-shared key and an XAuth user (IKEv1), asking for a
    virtual IP and a tunnel to ``remote_cidr``."""

    def __init__(self, netns: str, host_dev: str, bridge: str, address_cidr: str, workdir: Path,
                 run_dir: Path) -> None:
        self.netns, self.host_dev, self.bridge, self.address_cidr = netns, host_dev, bridge, address_cidr
        self.workdir, self.run_dir = workdir, run_dir

    def create(self) -> RemoteAccessClient:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.host_dev, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
        sh("ip", "link", "set", self.host_dev, "master", self.bridge, "up")
        sh("ip", "-n", self.netns, "link", "set", "eth0", "up")
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        sh("ip", "-n", self.netns, "addr", "add", self.address_cidr, "dev", "eth0")
        return self

    @property
    def paths(self) -> Any:
        from management.network import vpn

        return vpn.VpnPaths(self.workdir, self.run_dir)

    def connect(self, server: str, psk: str, user: str, password: str, remote_cidr: str, timeout: int = 15) -> bool:
        """(Re)configures the client for ``user`` and dials; True when the tunnel is up."""
        from management.network import vpn

        paths = self.paths
        paths.root.mkdir(parents=True, exist_ok=True)
        vpn._write(paths.strongswan_conf, vpn.render_strongswan("client", self.netns, paths))
        vpn._write(paths.swanctl_conf, f"""connections {{
  home {{
    version = 1
    remote_addrs = {server}
    vips = 0.0.0.0
    proposals = aes128-sha1-modp2048
    local-1 {{ auth = psk }}
    local-2 {{ auth = xauth
               xauth_id = {user} }}
    remote {{ auth = psk
              id = {server} }}
    children {{ home {{ remote_ts = {remote_cidr}
                       esp_proposals = aes128-sha1 }} }}
  }}
}}
secrets {{
  ike-1 {{ secret = {vpn._quote(psk)} }}
  xauth-1 {{ id = {vpn._quote(user)}
             secret = {vpn._quote(password)} }}
}}
""", 0o600)
        if vpn._alive(paths.pid) is None:
            vpn.start_charon(self.netns, paths)
        vpn.swanctl(paths, "--terminate", "--ike", "home", "--force", "--timeout", "3", check=False)
        vpn.swanctl(paths, "--load-all", "--file", str(paths.swanctl_conf))
        r = vpn.swanctl(paths, "--initiate", "--child", "home", "--timeout", str(timeout), check=False,
                        timeout=timeout + 10)
        return r.returncode == 0

    def exec(self, *args: str, check: bool = False, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.netns, *args, check=check, timeout=timeout)

    def destroy(self) -> None:
        from management.network import vpn

        vpn.stop_charon(self.paths)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        sh("ip", "link", "del", self.host_dev, check=False)
        sh("ip", "netns", "del", self.netns, check=False)


def self_signed_pem(common_name: str, ip: str | None = None, days: int = 2) -> tuple[str, str]:
    """(certificate PEM, private key PEM) of a fresh self-signed certificate for tests of TLS termination."""
    import datetime as dt
    import ipaddress as ipa

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(common_name)]
    if ip:
        alt.append(x509.IPAddress(ipa.ip_address(ip)))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())
