"""The server's memory settings (management/memory.py, db/session.py): glibc's arenas capped before threads start,
freed memory trimmed back to the kernel every minute by a loop that stops with the server, and SQLite connections
with a small page cache of their own."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from management.db import session as db_session
from tests.conftest import InProcess

# Run in a child process: the allocator settings it needs would otherwise stay with this test worker.
ALLOCATOR_CHECK = """
from management import memory
import ctypes

def rss_kib():
    return int(next(ln for ln in open("/proc/self/status") if ln.startswith("VmRSS:")).split()[1])

assert memory.limit_arenas() is True  # glibc: mallopt answers 1 when it took the value
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: the block comes from the heap (free would unmap a mmap at once)
libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: free does not trim the heap's top by itself
big = libc.malloc(64 << 20)
ctypes.memset(big, 1, 64 << 20)
pin = libc.malloc(64)  # above the block: the freed pages are inside the heap, which only a trim returns
libc.free(ctypes.c_void_p(big))
before = rss_kib()
assert memory.trim() is True
print(before - rss_kib())
"""


def test_the_allocator_takes_the_settings_and_trimming_returns_freed_pages() -> None:
    out = subprocess.run([sys.executable, "-c", ALLOCATOR_CHECK], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 48 * 1024, f"trimming returned only {out.stdout.strip()} KiB of a freed 64 MiB"


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_the_server_trims_and_its_sqlite_connections_cache_little(server: InProcess) -> None:
    names = {t.name for t in threading.enumerate()}
    assert any("malloc-trim" in n for n in names), names
    with server.server.runtime.db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -db_session.SQLITE_CACHE_KIB
    server.server.queue.stop()
    for t in threading.enumerate():
        if "malloc-trim" in t.name:
            t.join(timeout=10)
            assert not t.is_alive(), "the trim loop outlived the server"
