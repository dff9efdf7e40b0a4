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
