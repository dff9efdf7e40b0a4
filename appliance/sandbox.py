"""The local management server as a supervised background process: PID file, log file, readiness wait.

This is the sandbox's own supervisor (no systemd here); a real host runs the same server under the systemd unit
the `management` Ansible role installs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from management.api.cloudstack.signing import sign


@dataclass(slots=True)
class Sandbox:
    state_dir: Path
    api_port: int = 8080
    integration_port: int = 8096
    bind: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> Sandbox:
        return cls(
            state_dir=Path(os.environ.get("DEVCLOUD_STATE_DIR", "/var/lib/devcloud")),
            api_port=int(os.environ.get("DEVCLOUD_API_PORT", "8080")),
            integration_port=int(os.environ.get("DEVCLOUD_INTEGRATION_PORT", "8096")),
        )

    # ---- files ----------------------------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.state_dir / "management.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "management.log"

    @property
    def endpoint(self) -> str:
        return f"http://{self.bind}:{self.api_port}/client/api"

    def admin(self) -> dict[str, str] | None:
        path = self.state_dir / "admin.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    # ---- API ------------------------------------------------------------------------------------------------
    def call(self, command: str, timeout: float = 5.0, **params: str) -> dict[str, Any]:
        """A signed call with the admin keys; raises httpx errors when the server does not answer."""
        admin = self.admin()
        if admin is None:
            raise RuntimeError(f"no admin credentials in {self.state_dir}")
        q = {"command": command, "response": "json", "apiKey": admin["apikey"], **params}
        q["signature"] = sign(q, admin["secretkey"])
        r = httpx.get(self.endpoint, params=q, timeout=timeout)
        body = r.json()
        return next(iter(body.values()))

    def answers(self) -> bool:
        try:
            return "capability" in self.call("listCapabilities", timeout=2.0)
        except (httpx.HTTPError, RuntimeError, ValueError):
            return False

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> bool:
        """Starts the server unless it runs; returns True when it was started now."""
        if self.pid() is not None and self.answers():
            return False
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, DEVCLOUD_STATE_DIR=str(self.state_dir), DEVCLOUD_API_PORT=str(self.api_port),
                   DEVCLOUD_INTEGRATION_PORT=str(self.integration_port))
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "management", "serve"], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"management server exited with {proc.returncode}; log tail:\n{tail}")
            if self.admin() is not None and self.answers():
                return True
            time.sleep(0.1)
        raise TimeoutError(f"management server did not answer within {timeout:.0f} s (log: {self.log_file})")

    def stop(self, timeout: float = 15.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True
