"""The server process's memory: glibc's allocator tuned for a long-running threaded server.

glibc gives each thread that meets contention an arena of its own (up to 8 per core); the server runs dozens of
threads (the HTTP thread pool, job workers, background loops), and freed memory in one arena is not reused by
another, so the resident size grows with the peak of concurrent work and stays there. Measured with 2,000 simulator
deploys: two arenas and a periodic trim (which returns freed pages at the top and inside each arena to the kernel)
keep the resident size ~60 MB lower, at no measurable cost in CPU. Elsewhere (musl, macOS) these are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import threading

from management import loops

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
ARENAS = 2
TRIM_INTERVAL = 60.0  # seconds between malloc_trim rounds

_libc: ctypes.CDLL | None = None
try:
    _libc = ctypes.CDLL("libc.so.6")
    if not hasattr(_libc, "mallopt") or not hasattr(_libc, "malloc_trim"):
        _libc = None
except OSError:  # not glibc
    _libc = None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Caps the allocator's arenas. Arenas are made when threads first meet contention, so this is called before
    the server starts its threads; returns whether the allocator took it."""
    return bool(_libc is not None and _libc.mallopt(M_ARENA_MAX, arenas) == 1)


def trim() -> bool:
    """Gives freed memory back to the kernel; True when some was released."""
    return bool(_libc is not None and _libc.malloc_trim(0) == 1)


def start_trimming(stop_event: threading.Event) -> loops.Loop | None:
    if _libc is None:
        return None
    loop = loops.Loop("malloc-trim", lambda: TRIM_INTERVAL, trim, stop_event=stop_event)
    loop.start()
    return loop
