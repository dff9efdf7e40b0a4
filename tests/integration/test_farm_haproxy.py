"""The haproxy configuration the management_lb role renders, run for real: two management servers on one MariaDB
behind a real haproxy on a loopback port. Signed API calls through it reach both servers; after kill -9 of one,
haproxy's health check takes it out and calls keep succeeding on the survivor."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest
import yaml

from tests.conftest import REPO, ApiClient, _free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

ROLE = REPO / "playbooks/roles/management_lb"


def render_haproxy_cfg(servers: list[dict[str, Any]], **overrides: Any) -> str:
    """The role's template with the role's defaults, as Ansible's template module renders it (plain Jinja2: the
    template uses no Ansible-only filter)."""
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    return env.get_template("haproxy.cfg.j2").render(
        {**defaults, "ansible_managed": "rendered by tests", "management_lb_servers": servers, **overrides})


class Haproxy:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, admin: Path, log: Path) -> None:
        self.proc, self.port, self.admin, self.log = proc, port, admin, log

    def stats(self) -> dict[str, dict[str, str]]:
        """`show stat` on the admin socket: the backend's servers by name (status, stot = requests sent)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.admin))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        header, *rows = data.decode().strip().splitlines()
        names = header.lstrip("# ").split(",")
        out = {}
        for row in rows:
            rec = dict(zip(names, row.split(","), strict=False))
            if rec["pxname"] == "devcloud_management" and rec["svname"] not in ("BACKEND", "FRONTEND"):
                out[rec["svname"]] = rec
        return out


@pytest.fixture
def haproxy_for(tmp_path: Path) -> Iterator[Any]:
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(exe).exists(), "haproxy is not installed (scripts/provision-test.sh installs it)"
    started: list[subprocess.Popen[bytes]] = []
    sockets = Path(tempfile.mkdtemp(prefix="lb-", dir="/tmp"))  # a unix socket path has at most 97 characters

    def start(servers: list[dict[str, Any]]) -> Haproxy:
        port, admin = _free_port(), sockets / "admin.sock"
        cfg = tmp_path / "haproxy.cfg"
        # Only where it listens and logs differs from the role's defaults (no syslog, no user switch, a free port).
        cfg.write_text(render_haproxy_cfg(servers, management_lb_bind="127.0.0.1", management_lb_port=port,
                                          management_lb_stats_socket=str(admin), management_lb_user="",
                                          management_lb_log_target=f"127.0.0.1:{_free_port()}"))
        check = subprocess.run([exe, "-c", "-f", str(cfg)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr  # the role's `validate:` runs the same check
        log = tmp_path / "haproxy.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen([exe, "-db", "-f", str(cfg)], stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        started.append(proc)
        lb = Haproxy(proc, port, admin, log)

        def up() -> bool:
            assert proc.poll() is None, log.read_text()
            return admin.exists() and all(s["status"] == "UP" for s in lb.stats().values())

        wait_for(up, timeout=30, interval=0.2, what="haproxy to see every management server UP")
        return lb

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    shutil.rmtree(sockets, ignore_errors=True)


def _calls(stats: dict[str, dict[str, str]]) -> dict[str, int]:
    return {name: int(s["stot"]) for name, s in stats.items()}


@pytest.mark.parametrize("backend_name", [pytest.param("mariadb", marks=pytest.mark.mysql)], indirect=True)
def test_haproxy_from_the_role_balances_and_drops_a_killed_server(served_factory: Any, haproxy_for: Any) -> None:
    a = served_factory(extra_env={"DEVCLOUD_SERVER_ID": "ms-lb-a"})
    b = served_factory(extra_env={"DEVCLOUD_SERVER_ID": "ms-lb-b"})
    lb = haproxy_for([{"name": "mgmt-a", "address": "127.0.0.1", "port": a.api_port},
                      {"name": "mgmt-b", "address": "127.0.0.1", "port": b.api_port}])
    # a new connection per call, as many clients make them: haproxy balances connections and requests alike
    http = httpx.Client(base_url=f"http://127.0.0.1:{lb.port}", timeout=30,
                        limits=httpx.Limits(max_keepalive_connections=0))
    api = ApiClient(http, a.apikey, a.secretkey)

    before = _calls(lb.stats())
    for _ in range(10):
        servers = api("listManagementServers")["managementserver"]
        assert {m["id"]: m["state"] for m in servers} == {"ms-lb-a": "Up", "ms-lb-b": "Up"}
    acct = api("listAccounts", name="admin")["account"][0]
    job = api("createTags", resourceids=acct["id"], resourcetype="Account",
              **{"tags[0].key": "through-haproxy", "tags[0].value": "v"})["jobid"]
    assert api.wait(job)["jobstatus"] == 1
    after = _calls(lb.stats())
    sent = {name: after[name] - before[name] for name in after}
    assert sent["mgmt-a"] > 0 and sent["mgmt-b"] > 0, sent  # signed calls reached both servers

    a.kill(signal.SIGKILL)
    # Calls go on while the health check has yet to notice: one sent to the dead server is redispatched.
    for i in range(5):
        api("createTags", resourceids=acct["id"], resourcetype="Account",
            **{"tags[0].key": f"during-{i}", "tags[0].value": "v"})
    wait_for(lambda: lb.stats()["mgmt-a"]["status"] == "DOWN", timeout=30, interval=0.2,
             what="haproxy's health check to take the killed server out")
    assert lb.stats()["mgmt-b"]["status"] == "UP"

    before = _calls(lb.stats())
    for i in range(10):
        job = api("createTags", resourceids=acct["id"], resourcetype="Account",
                  **{"tags[0].key": f"after-{i}", "tags[0].value": "v"})["jobid"]
        assert api.wait(job)["jobstatus"] == 1
    after = _calls(lb.stats())
    print(f"requests per server before the kill: {sent}; after it: "
          f"{ {name: after[name] - before[name] for name in after} }")
    assert after["mgmt-a"] == before["mgmt-a"], (before, after)  # nothing is sent to the server taken out
    assert after["mgmt-b"] > before["mgmt-b"]
    keys = {t["key"] for t in api("listTags", resourcetype="Account", listall=True)["tag"]}
    assert {"through-haproxy"} | {f"during-{i}" for i in range(5)} | {f"after-{i}" for i in range(10)} <= keys
