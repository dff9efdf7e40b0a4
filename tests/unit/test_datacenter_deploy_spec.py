"""The datacenter role's entry point (playbooks/roles/datacenter/files/deploy_spec.py) against a loopback server that
answers slowly: the role's request limit is the one applied, and what stops it is one clear line, not a stack."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "playbooks/roles/datacenter/files/deploy_spec.py"
SPEC = REPO / "scenarios/appliance-xen.yaml"
DELAY = 3.0


class _Slow(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(DELAY)
        body = json.dumps({"listconfigurationsresponse": {"uuidList": [], "errorcode": 401,
                                                 "errortext": "unable to verify user credentials and/or request "
                                                              "signature"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/client/api"
    finally:
        server.shutdown()


def _run(endpoint: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    (state / "admin.json").write_text(json.dumps({"apikey": "k", "secretkey": "s"}))
    return subprocess.run([sys.executable, str(SCRIPT), str(SPEC), endpoint, str(state), "--first-vm", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_a_request_past_the_limit_stops_with_one_line_naming_the_limit(endpoint: str, tmp_path: Path) -> None:
    r = _run(endpoint, tmp_path, "--timeout=1")
    assert r.returncode == 1, r.stderr
    assert f"the API at {endpoint} did not answer a request within 1 s" in r.stderr, r.stderr
    assert "datacenter_api_timeout" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_slow_answer_within_the_limit_is_waited_for(endpoint: str, tmp_path: Path) -> None:
    # the server's refusal (after DELAY s) is what the user reads, not a timeout
    r = _run(endpoint, tmp_path, f"--timeout={DELAY * 5:g}")
    assert r.returncode == 1, r.stderr
    assert "the API refused it: listConfigurations: HTTP 401: unable to verify user credentials" in r.stderr, r.stderr
    assert "did not answer" not in r.stderr and "Traceback" not in r.stderr, r.stderr
