"""`devcloud logs`: one tarball with every log and config a bug report needs, secrets redacted."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
import time
from pathlib import Path

from appliance.sandbox import Sandbox

SECRET_KEYS = re.compile(r"(password|secret|secretkey|apikey|privatekey|token|key_secret)", re.I)
REDACTED = "<redacted>"


def redact(value: object) -> object:
    if isinstance(value, dict):
        return {k: (REDACTED if SECRET_KEYS.search(str(k)) and not isinstance(v, (dict, list)) else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_text(text: str) -> str:
    """key: value / key=value lines whose key looks secret."""
    return re.sub(r"(?im)^(\s*[\w.\-]*(?:password|secret|apikey|token)[\w.\-]*\s*[:=]\s*).+$",
                  lambda m: m.group(1) + REDACTED, text)


# A secret that some log line might still carry as a query or form parameter (the server's access log never writes
# one; a log from another tool or an older server may): the value goes, the name stays.
_LOG_SECRET = re.compile(r"(?i)\b(apikey|signature|password|secretkey|sessionkey|userdata|x-amz-signature)=[^&\s\"']+")


def redact_log(text: str) -> str:
    return _LOG_SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def _is_log(p: Path) -> bool:
    return ".log" in p.suffixes or p.suffix == ".log"


def request_lines(log_dir: Path, rid: str) -> list[tuple[str, str]]:
    """(file, line) of every line in the server's logs written for request `rid`: its access line, the lines of
    the request and of the jobs it started, their driver calls. Reads the JSON log ("request_id") and the text log
    ("(logid:<id>)") alike."""
    out: list[tuple[str, str]] = []
    if not log_dir.is_dir():
        return out
    text_mark = f"(logid:{rid})"
    for p in sorted(log_dir.rglob("*")):
        if not p.is_file() or p.is_symlink() or not _is_log(p) or "console" in p.relative_to(log_dir).parts:
            continue
        with open(p, errors="replace") as fh:
            for line in fh:
                if rid not in line:
                    continue
                if line.startswith("{"):
                    try:
                        if json.loads(line).get("request_id") != rid:
                            continue
                    except ValueError:
                        continue
                elif text_mark not in line:
                    continue
                out.append((str(p.relative_to(log_dir)), redact_log(line.rstrip("\n"))))
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _add_tree(tar: tarfile.TarFile, src: Path, arc: str, suffixes: tuple[str, ...] | None = None) -> int:
    n = 0
    if not src.is_dir():
        return 0
    for p in sorted(src.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        if suffixes and p.suffix not in suffixes:
            continue
        if p.stat().st_size > 50 * 2**20:
            continue
        if _is_log(p):  # the server's logs (text or JSON lines, the access lines among them), redacted
            _add_bytes(tar, f"{arc}/{p.relative_to(src)}", redact_log(p.read_text(errors="replace")).encode())
        else:
            tar.add(p, arcname=f"{arc}/{p.relative_to(src)}")
        n += 1
    return n


def make_bundle(sb: Sandbox, output: Path | None = None) -> tuple[Path, list[str]]:
    from appliance.snapshots import inventory, router_dir

    out = output or sb.state_dir / "bundles" / f"devcloud-logs-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    what: list[str] = []
    with tarfile.open(out, "w:gz") as tar:
        what.append(f"{_add_tree(tar, sb.state_dir / 'logs', 'logs')} log files")
        what.append(f"{_add_tree(tar, sb.console_dir, 'console')} console logs")
        rdir = router_dir(sb) / "routers"
        if rdir.is_dir():
            n = 0
            for p in sorted(rdir.rglob("*")):
                if p.is_file() and not p.name.endswith((".pid", ".sock", ".lock")) and p.stat().st_size < 5 * 2**20:
                    text = p.read_text(errors="replace")
                    _add_bytes(tar, f"routers/{p.relative_to(rdir)}", redact_text(text).encode())
                    n += 1
            what.append(f"{n} router files")
        inv = inventory(sb)
        n = 0
        for d in inv.domains:
            r = subprocess.run(["virsh", "-c", "qemu:///system", "dumpxml", d["uuid"]], capture_output=True,
                               text=True, timeout=30)
            if r.returncode == 0:
                _add_bytes(tar, f"libvirt/{d['instance_name']}.xml", r.stdout.encode())
                n += 1
        what.append(f"{n} domain XMLs")
        for name in ("sandbox.json", "admin.json", "management.yaml", "server-id"):
            p = sb.state_dir / name
            if not p.is_file():
                continue
            text = p.read_text()
            if name.endswith(".json"):
                try:
                    text = json.dumps(redact(json.loads(text)), indent=2)
                except ValueError:
                    text = redact_text(text)
            else:
                text = redact_text(text)
            _add_bytes(tar, f"config/{name}", text.encode())
        env = {k: (REDACTED if SECRET_KEYS.search(k) else v) for k, v in os.environ.items()
               if k.startswith(("DEVCLOUD_", "CLOUDSTACK_", "AWS_"))}
        env = {k: (re.sub(r"//([^:/@]+):[^@]+@", r"//\1:" + REDACTED + "@", v) if "URL" in k else v)
               for k, v in env.items()}
        _add_bytes(tar, "config/environment.json", json.dumps(env, indent=2).encode())
        _add_bytes(tar, "config/inventory.json", json.dumps(redact(inv.__dict__), indent=2, default=str).encode())
        for name, cmd in (("libvirt/virsh-list.txt", ["virsh", "-c", "qemu:///system", "list", "--all"]),
                          ("host/ip-addr.txt", ["ip", "addr"]), ("host/ip-route.txt", ["ip", "route"]),
                          ("host/netns.txt", ["ip", "netns", "list"])):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                _add_bytes(tar, name, (r.stdout + r.stderr).encode())
            except (OSError, subprocess.TimeoutExpired) as exc:
                _add_bytes(tar, name, str(exc).encode())
        for p in (Path("/var/log/libvirt/libvirtd.log"),):
            if p.is_file():
                tar.add(p, arcname=f"libvirt/{p.name}")
    return out, what
