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


# Files of a router's state directory never handed out: VPN secrets and keys.
_PRIVATE = ("ipsec", "secret", "key", ".pem")
SNAPSHOTS = {  # what the system VM script collects besides files: the router's view of its network
    "ip_addr.txt": ("ip", "addr"),
    "ip_route.txt": ("ip", "route"),
    "nftables_ruleset.txt": ("nft", "list", "ruleset"),
    "sockets.txt": ("ss", "-lntup"),
}


def collect(netns: str, root: Path, wanted: list[str], zip_path: Path) -> list[str]:
    """Writes a zip of the router's state files (all, or those named in ``wanted``) and of its network state as
    seen inside ``netns``; returns the names it holds."""
    import zipfile

    names: list[str] = []
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if any(mark in rel.lower() for mark in _PRIVATE):
                continue
            if wanted and rel not in wanted and path.name not in wanted:
                continue
            zf.write(path, rel)
            names.append(rel)
        for name, cmd in SNAPSHOTS.items():
            proc = subprocess.run(["ip", "netns", "exec", netns, *cmd], capture_output=True, text=True,
                                  timeout=30, check=False)
            zf.writestr(name, proc.stdout + (f"\n# stderr:\n{proc.stderr}" if proc.stderr else ""))
            names.append(name)
    return names
