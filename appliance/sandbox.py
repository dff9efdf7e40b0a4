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

from management.storage.nfs import client_available as nfs_client_available

DEFAULT_STATE_DIR = Path("/var/lib/devcloud")
DEFAULT_CONSOLE_DIR = Path("/var/log/devcloud/console")


class StartError(RuntimeError):
    """The management server could not be started (the message names the cause)."""


_PORT_ENV = {"API": "API", "integration API": "INTEGRATION", "S3": "S3", "EC2": "EC2"}


def _is_server(pid: int) -> bool:
    """Is `pid` a devcloud management server (not another process that reused a stale PID file's number)?"""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (b"management" in argv and b"serve" in argv) or any(a.endswith(b"devcloud-management") for a in argv)


@dataclass(slots=True)
class Sandbox:
    state_dir: Path
    api_port: int = 8080
    integration_port: int = 8096
    bind: str = "127.0.0.1"
    s3_port: int = 8081
    ec2_port: int = 8082

    @classmethod
    def from_env(cls) -> Sandbox:
        return cls(
            state_dir=Path(os.environ.get("DEVCLOUD_STATE_DIR", str(DEFAULT_STATE_DIR))),
            api_port=int(os.environ.get("DEVCLOUD_API_PORT", "8080")),
            integration_port=int(os.environ.get("DEVCLOUD_INTEGRATION_PORT", "8096")),
            s3_port=int(os.environ.get("DEVCLOUD_S3_PORT", "8081")),
            ec2_port=int(os.environ.get("DEVCLOUD_EC2_PORT", "8082")),
        )

    # ---- sandbox state (what `up` did; step timings) -------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "sandbox.json"

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def save_state(self, **updates: Any) -> dict[str, Any]:
        data = self.state()
        data.update(updates)
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        _write_private(tmp, json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.state_file)
        return data

    @property
    def console_dir(self) -> Path:
        """Guest console logs: DEVCLOUD_CONSOLE_LOG_DIR, else the default for the default state dir, else
        <state dir>/logs/console (a throw-away sandbox keeps everything in its own directory)."""
        env = os.environ.get("DEVCLOUD_CONSOLE_LOG_DIR")
        if env:
            return Path(env)
        return DEFAULT_CONSOLE_DIR if self.state_dir == DEFAULT_STATE_DIR else self.state_dir / "logs" / "console"

    @property
    def db_url(self) -> str:
        return os.environ.get("DEVCLOUD_DB_URL") or f"sqlite:///{self.state_dir / 'devcloud.db'}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.bind}:{self.s3_port}"

    @property
    def ec2_endpoint(self) -> str:
        return f"http://{self.bind}:{self.ec2_port}"

    def client(self, timeout: float = 30.0) -> Any:
        from appliance.client import CloudClient

        admin = self.admin()
        if admin is None:
            raise RuntimeError(f"no admin credentials in {self.state_dir}")
        return CloudClient(self.endpoint, admin["apikey"], admin["secretkey"], timeout=timeout)

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
    def answers(self) -> bool:
        try:
            client = self.client(timeout=2.0)
        except RuntimeError:  # no admin credentials yet
            return False
        try:
            return "capability" in client.call("listCapabilities")
        except (httpx.HTTPError, RuntimeError, ValueError):
            return False
        finally:
            client.close()

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        """The TCP ports this sandbox's server listens on (0 = not served)."""
        named = {"API": self.api_port, "integration API": self.integration_port, "S3": self.s3_port,
                 "EC2": self.ec2_port}
        return {k: v for k, v in named.items() if v}

    def clear_stale_pid(self) -> int | None:
        """Removes a PID file whose process is gone (or is not a management server); returns that pid."""
        try:
            raw = self.pid_file.read_text().strip()
        except FileNotFoundError:
            return None
        if self.pid() is not None and _is_server(int(raw)):
            return None
        self.pid_file.unlink(missing_ok=True)
        return int(raw) if raw.isdigit() else -1

    def start(self, timeout: float = 60.0, notes: list[str] | None = None) -> bool:
        """Starts the server unless it runs; returns True when it was started now.

        Before starting: a stale PID file is removed (said in `notes`), and every port it would listen on must be
        free (StartError "port 8080 is in use by <command> (pid N)"). During start-up: a server that exits is a
        StartError with its exit code, the log's error line and the last log lines; one that answers is ours only
        if it still runs and holds the API port."""
        from appliance import ports

        if self.pid() is not None and _is_server(self.pid() or 0) and self.answers():
            return False
        stale = self.clear_stale_pid()
        if stale is not None and notes is not None:
            notes.append(f"removed a stale PID file ({self.pid_file}: pid {stale} is not running)")
        if self.pid() is not None:  # a server of ours that runs but does not answer: let it go first
            self.stop()
        for what, port in self.ports().items():
            if ports.in_use(port, self.bind):
                raise StartError(f"port {port} is in use by {ports.holder(port)}: the {what} of this sandbox "
                                 f"needs it (set DEVCLOUD_{_PORT_ENV[what]}_PORT to another port)")
        self.log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = dict(os.environ, DEVCLOUD_STATE_DIR=str(self.state_dir), DEVCLOUD_API_PORT=str(self.api_port),
                   DEVCLOUD_INTEGRATION_PORT=str(self.integration_port), DEVCLOUD_S3_PORT=str(self.s3_port),
                   DEVCLOUD_EC2_PORT=str(self.ec2_port),
                   DEVCLOUD_CONSOLE_LOG_DIR=str(self.console_dir), PYTHONUNBUFFERED="1")
        offset = self.log_file.stat().st_size if self.log_file.is_file() else 0
        # The state directory is private (0700, files 0600): the log and the pid file too.
        with open(self.log_file, "ab", opener=lambda path, flags: os.open(path, flags, 0o600)) as log:
            proc = subprocess.Popen([sys.executable, "-m", "management", "serve"], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True, cwd=str(self.state_dir))
        _write_private(self.pid_file, f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise StartError(self._exit_report(proc.returncode, offset))
            if self.admin() is not None and self.answers():
                holders = [pid for pid, _ in ports.listeners(self.api_port)]
                if proc.poll() is None and proc.pid in holders:
                    return True
            time.sleep(0.1)
        raise StartError(f"management server (pid {proc.pid}) did not answer on {self.endpoint} within "
                         f"{timeout:.0f} s; the last lines of {self.log_file}:\n{self._log_tail(offset)}")

    def _log_tail(self, offset: int = 0, lines: int = 15) -> str:
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(offset)
                text = fh.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"

    def _exit_report(self, code: int, offset: int) -> str:
        tail = self._log_tail(offset)
        causes = [ln for ln in tail.splitlines()
                  if any(w in ln for w in ("Error", "error", "in use", "denied", "Traceback", "failed"))]
        cause = causes[-1].strip() if causes else f"exit code {code}"
        return (f"management server exited with code {code} during start-up: {cause}\n"
                f"the last lines of {self.log_file}:\n{tail}")

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


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


# ---- health -------------------------------------------------------------------------------------------------
STUCK_AFTER = 300.0  # seconds a job may stay pending (jobstatus 0) before it counts as stuck


def _check(checks: list[dict[str, Any]], name: str, ok: bool, detail: str, skipped: bool = False) -> None:
    checks.append({"name": name, "ok": ok, "skipped": skipped, "detail": detail})


def _age(created: str | None) -> float:
    from datetime import datetime

    if not created:
        return 0.0
    try:
        t = datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").timestamp()
        # CloudStack dates carry the offset (+0000): compare in UTC
        return time.time() - t + (time.mktime(time.gmtime()) - time.mktime(time.localtime()))
    except ValueError:
        return 0.0


def libvirt_error(uri: str) -> str | None:
    """None when libvirt at `uri` answers, else libvirt's own error message."""
    try:
        r = subprocess.run(["virsh", "-c", uri, "version"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return f"{uri}: no answer within 10 s"
    except FileNotFoundError:
        return "virsh is not installed"
    if r.returncode == 0:
        return None
    lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip()]
    return "; ".join(lines[-2:]) or f"virsh exited {r.returncode}"


def s3_round_trip(sb: Sandbox) -> tuple[bool, str]:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return True, "boto3 not installed: skipped"
    admin = sb.admin() or {}
    s3 = boto3.client("s3", endpoint_url=sb.s3_endpoint, aws_access_key_id=admin.get("apikey"),
                      aws_secret_access_key=admin.get("secretkey"), region_name="us-east-1",
                      config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1},
                                    s3={"addressing_style": "path"}))
    bucket, key, body = "devcloud-health", f"check-{os.getpid()}", os.urandom(64)
    t0 = time.monotonic()
    try:
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 - absent: create it
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.delete_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - reported as the check's detail
        return False, f"{sb.s3_endpoint}: {type(exc).__name__}: {exc}"
    if got != body:
        return False, f"{sb.s3_endpoint}: object read back differs"
    return True, f"{sb.s3_endpoint}: put/get/delete in {1000 * (time.monotonic() - t0):.0f} ms"


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def run_checks(sb: Sandbox) -> list[dict[str, Any]]:
    """Cloud-level health: every check has name, ok, skipped, detail."""
    from appliance.deploy import ssh_answers

    checks: list[dict[str, Any]] = []
    pid = sb.pid()
    _check(checks, "server process", pid is not None, f"pid {pid}" if pid else f"not running (pid file {sb.pid_file})")
    answers = pid is not None and sb.answers()
    _check(checks, "API answers", answers, sb.endpoint)
    state = sb.state()
    # Local libvirt hosts are asked directly too: the host monitor needs a few pings to notice, and libvirt's own
    # error is the useful one ("Failed to connect socket to '/var/run/libvirt/libvirt-sock'...").
    local_uris = sorted(set(state.get("local_hosts") or []))
    libvirt_down = {}
    for uri in local_uris:
        err = libvirt_error(uri)
        if err:
            libvirt_down[uri] = err
    if not answers:
        for uri, err in libvirt_down.items():
            _check(checks, f"host {uri}", False, f"Down: libvirt unreachable: {err}")
        return checks
    c = sb.client(timeout=15)
    try:
        try:
            t0 = time.monotonic()
            c.call("listConfigurations", name="expunge.delay")
            _check(checks, "database", True, f"{sb.db_url.split('://')[0]} answers "
                                             f"({1000 * (time.monotonic() - t0):.0f} ms)")
        except Exception as exc:  # noqa: BLE001
            _check(checks, "database", False, str(exc))
        jobs = c.items("listAsyncJobs", "asyncjobs")
        stuck = [j for j in jobs if j.get("jobstatus") == 0 and _age(j.get("created")) > STUCK_AFTER]
        pending = [j for j in jobs if j.get("jobstatus") == 0]
        _check(checks, "jobs", not stuck, f"{len(jobs)} jobs, {len(pending)} pending, {len(stuck)} stuck"
               + (f": {', '.join(str(j.get('cmd', j['jobid'])) for j in stuck[:5])}" if stuck else ""))
        hosts = c.items("listHosts", "host", type="Routing")
        for h in hosts:
            hv = h.get("hypervisor")
            err = next(iter(libvirt_down.values()), None) if hv == "KVM" and libvirt_down else None
            up = h.get("state") == "Up" and err is None
            detail = f"{hv} {h.get('state')}"
            if err:
                detail = f"Down: libvirt unreachable: {err} (server says {h.get('state')})"
            _check(checks, f"host {h.get('name')}", up, detail)
        if not hosts:
            _check(checks, "hosts", False, "no hosts")
        nfs = nfs_client_available()
        for p in c.items("listStoragePools", "storagepool"):
            total, used = int(p.get("disksizetotal") or 0), int(p.get("disksizeused") or 0)
            kind = p.get("type", "")
            if kind == "NetworkFilesystem":
                kind = "NFS"
            if kind == "Filesystem":
                kind = "directory storage" + ("" if nfs else ": this kernel has no NFS")
            _check(checks, f"pool {p.get('name')}", p.get("state") == "Up",
                   f"{p.get('state')}, {(total - used) / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB; {kind}")
        for r in c.items("listRouters", "router"):
            _check(checks, f"router {r.get('name')}", r.get("state") == "Running", str(r.get("state")))
        spec_templates = set(state.get("templates") or [])
        for t in c.items("listTemplates", "template", templatefilter="all"):
            if spec_templates and t.get("name") not in spec_templates:
                continue
            if t.get("templatetype") == "SYSTEM":
                continue
            _check(checks, f"template {t.get('name')}", bool(t.get("isready")),
                   "ready" if t.get("isready") else str(t.get("status")))
        fv = state.get("first_vm")
        if fv:
            vm = c.one("listVirtualMachines", "virtualmachine", id=fv["vm_id"])
            if vm is None:
                _check(checks, "guest", False, f"VM {fv['vm_name']} is gone")
            else:
                answer = ssh_answers(fv["key"], fv["ip"], fv["port"], fv.get("user", "root"))
                _check(checks, "guest", answer is not None,
                       f"{fv['vm_name']} {vm.get('state')}; ssh {fv['ip']}:{fv['port']} "
                       + (f"answers {answer}" if answer else "does not answer"))
        else:
            _check(checks, "guest", True, "no first VM in this scenario", skipped=True)
    finally:
        c.close()
    if _port_open(sb.s3_port):
        ok, detail = s3_round_trip(sb)
        _check(checks, "S3", ok, detail)
    else:
        _check(checks, "S3", False, f"{sb.s3_endpoint} does not answer")
    if _port_open(sb.ec2_port):
        _check(checks, "EC2", True, f"{sb.ec2_endpoint} answers")
    else:
        _check(checks, "EC2", True, f"{sb.ec2_endpoint}: not served (yet)", skipped=True)
    return checks
