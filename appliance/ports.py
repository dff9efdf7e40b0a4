"""Who holds a TCP port: `devcloud up` names the process before it starts a server that could not bind."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp{,6}


def in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when binding host:port fails because something else has it (what the server's bind would hit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is not "in use"
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if len(f) > 9 and f[3] == _LISTEN and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f[9])
    return inodes


def listeners(port: int) -> list[tuple[int, str]]:
    """(pid, command name) of the processes that have a socket listening on `port` (any address)."""
    wanted = {f"socket:[{i}]" for i in _listening_inodes(port)}
    found: list[tuple[int, str]] = []
    if not wanted:
        return found
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                found.append((int(proc.name), _name(proc)))
                break
    return sorted(found)


def _name(proc: Path) -> str:
    """The command as a person would recognise it: `python3 -m management serve` rather than `python3`."""
    try:
        argv = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        argv = []
    comm = ""
    with contextlib.suppress(OSError):
        comm = (proc / "comm").read_text().strip()
    if not argv:
        return comm or "?"
    words = [os.path.basename(argv[0]), *argv[1:4]]
    return " ".join(words)[:80]


def holder(port: int) -> str:
    """'<command> (pid N)' for the process(es) listening on `port`, or a note that none is visible."""
    procs = listeners(port)
    if not procs:
        return "a process this user cannot see (or one that is shutting down)"
    return ", ".join(f"{name} (pid {pid})" for pid, name in procs)
