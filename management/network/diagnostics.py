"""Network diagnostics run inside a router's namespace (runDiagnostics): ping, traceroute or arping towards an
address, with the default counts CloudStack's system VM script adds when the caller gives none."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

NETNS_DIR = Path("/run/netns")
TIMEOUT = 120.0  # seconds; traceroute towards an address that does not answer takes longest
DEFAULTS = {"ping": ("-c", "4"), "arping": ("-c", "4"), "traceroute": ()}


@dataclass(frozen=True)
class Outcome:
    stdout: str
    stderr: str
    exitcode: int


def namespace_exists(netns: str) -> bool:
    return (NETNS_DIR / netns).exists()


def argv(kind: str, address: str, extra: str | None) -> list[str]:
    args = shlex.split(extra or "")
    if kind in ("ping", "arping") and "-c" not in args:
        args += list(DEFAULTS[kind])
    return [kind, *args, address]


def run_in(netns: str, kind: str, address: str, extra: str | None) -> Outcome:
    cmd = ["ip", "netns", "exec", netns, *argv(kind, address, extra)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return Outcome(out.strip(), f"{kind} did not finish within {TIMEOUT:.0f} seconds", 124)
    return Outcome(proc.stdout.strip(), proc.stderr.strip(), proc.returncode)
