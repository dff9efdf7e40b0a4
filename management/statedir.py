"""The state directory holds the database, its key, admin.json, logs and runtime files: 0700, every file 0600.

The server process sets umask 077 before it creates anything, so what it and its children (qemu-img, ...) write is
private; dnsmasq sets its own umask, so a router tightens its directory after starting it. The modes an older
version left behind are tightened once, when the directory itself is found open.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """For a process that owns the state directory (the server, the appliance CLI): everything it creates from
    now on is private."""
    os.umask(PRIVATE_UMASK)


def _written_beside(path: Path, content: bytes) -> Path:
    """A new file in `path`'s directory (a name no other thread or process uses) holding `content`, 0600, synced."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def write_private(path: Path, text: str) -> None:
    """`path` holds `text`, 0600, and a reader sees the old content or the new, never a half-written file (a CLI
    polls for admin.json while the server writes it)."""
    tmp = _written_beside(path, text.encode())
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_once(path: Path, content: bytes) -> bytes:
    """What `path` holds, created 0600 with `content` when it does not exist yet. Threads and processes racing to
    create it all get the first writer's content, complete (it is linked into place only once written)."""
    with contextlib.suppress(FileNotFoundError):
        held = path.read_bytes()
        if held.strip():
            return held
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = _written_beside(path, content)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            if not path.read_bytes().strip():  # an empty file left by an older, non-atomic writer
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def secure(state_dir: Path, database_url: str | None = None) -> None:
    """The directory 0700, what an older version left open tightened, and the SQLite file created 0600 (SQLite
    gives its -wal and -shm files the database file's mode)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    was_open = bool(stat.S_IMODE(state_dir.stat().st_mode) & 0o077)
    tighten(state_dir, recursive=was_open)
    if database_url and database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
        db = Path(database_url[len("sqlite:///"):])
        db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))


def tighten(root: Path, *, recursive: bool = True) -> int:
    """Drops group and other bits under `root` (not across mount points, not through symlinks); returns how many
    paths changed. Without `recursive` only `root`, its files and its logs/ directory are looked at."""
    device = root.stat().st_dev
    changed = 0

    def fix(path: str) -> None:
        nonlocal changed
        with contextlib.suppress(FileNotFoundError, PermissionError):
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) or st.st_dev != device:
                return
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o077:
                os.chmod(path, mode & ~0o077)
                changed += 1

    fix(str(root))
    if not recursive:
        for entry in os.scandir(root):
            fix(entry.path)
        logs = root / "logs"
        if logs.is_dir() and not logs.is_symlink():
            for d, dirs, files in os.walk(logs):
                for name in dirs + files:
                    fix(os.path.join(d, name))
        return changed
    for d, dirs, files in os.walk(root):
        dirs[:] = [n for n in dirs if os.lstat(os.path.join(d, n)).st_dev == device]
        for name in dirs + files:
            fix(os.path.join(d, name))
    return changed
