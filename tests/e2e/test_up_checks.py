"""`devcloud up` checks what it starts (simulator zone, no root): a port another process holds, a server that exits
during start-up and a PID file of a dead process each give a clear message, and never "started"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


class Up:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVCLOUD_", "CLOUDSTACK_", "AWS_"))}
        self.env.update({"DEVCLOUD_STATE_DIR": str(state), "DEVCLOUD_API_PORT": str(_free_port()),
                         "DEVCLOUD_INTEGRATION_PORT": str(_free_port()), "DEVCLOUD_S3_PORT": str(_free_port()),
                         "DEVCLOUD_EC2_PORT": str(_free_port()), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})

    def __call__(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "appliance.cli", *args], env=self.env, cwd=str(ROOT),
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    u = Up(tmp_path / "state")
    yield u
    u("down", "--purge", timeout=120)


def test_a_port_held_by_another_process_is_named(up: Up) -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        up.env["DEVCLOUD_API_PORT"] = str(port)
        r = up("up", "--scenario", "simulator-advanced")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert f"port {port} is in use by " in out and f"(pid {os.getpid()})" in out, out
    assert "started" not in out and "devcloud is up" not in out, out
    assert not (up.state / "management.pid").exists()


def test_a_server_that_exits_during_start_up_shows_the_cause(up: Up, tmp_path: Path) -> None:
    # a database path under a regular file: no directory can be made for it, the server can't open it
    (tmp_path / "a-file").write_text("")
    up.env["DEVCLOUD_DB_URL"] = f"sqlite:///{tmp_path / 'a-file' / 'devcloud.db'}"
    r = up("up", "--scenario", "simulator-advanced")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "management server exited with code 1 during start-up: " in out, out
    assert f"File exists: '{tmp_path / 'a-file'}'" in out, out  # the cause, from the server's log
    assert "the last lines of " in out and "management.log" in out, out
    assert "started" not in out and "devcloud is up" not in out, out
    assert not (up.state / "management.pid").exists()


def test_a_stale_pid_file_is_removed_and_said(up: Up) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    up.state.mkdir(parents=True)
    (up.state / "management.pid").write_text(f"{dead.pid}\n")
    r = up("up", "--scenario", "simulator-advanced")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"removed a stale PID file ({up.state / 'management.pid'}: pid {dead.pid} is not running)" in r.stdout
    assert "devcloud is up (simulator-advanced" in r.stdout
    pid = int((up.state / "management.pid").read_text())
    assert pid != dead.pid and Path(f"/proc/{pid}").exists()
    status = up("status", "--json")
    assert '"API answers"' in status.stdout
