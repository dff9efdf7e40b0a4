"""One nested KVM host per test session (the second libvirt host of the migration tests): the contract suite's
libvirt-qemu factory and the migration integration tests share it, so a session boots it once. The image is built
once and cached by checksum (appliance.kvmhost); the VM, its taps and bridge are removed at exit."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from pathlib import Path

from appliance.kvmhost import NestedKvmHost, build_kvmhost_image

_lock = threading.Lock()
_host: NestedKvmHost | None = None
_error: BaseException | None = None
TIMINGS: dict[str, float] = {}


def nested_host(timeout: float = 900) -> NestedKvmHost:
    """The session's nested KVM host, booted on first use (raises what stopped it, every time)."""
    global _host, _error
    with _lock:
        if _host is not None:
            return _host
        if _error is not None:
            raise RuntimeError(f"the nested KVM host failed earlier in this session: {_error}") from _error
        t = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix="nested-kvm."))
        try:
            image = build_kvmhost_image()
            TIMINGS["image (cached if fast)"] = round(time.monotonic() - t, 1)
            host = NestedKvmHost(image, workdir)
            host.start()
            atexit.register(_stop, host, workdir)
            TIMINGS.update({k: round(v, 1) for k, v in host.wait_ready(timeout=timeout).items()})
        except BaseException as exc:
            _error = exc
            raise
        print(f"[nested kvm] {TIMINGS}")
        _host = host
        return host


def _stop(host: NestedKvmHost, workdir: Path) -> None:
    host.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def stop() -> None:
    """Stops the session's host now (tests/conftest.py's pytest_sessionfinish): an xdist worker leaves with
    os._exit, so atexit never ran there and every CI run left its nested host (1.5 GiB of TCG guest) running."""
    global _host
    with _lock:
        if _host is not None:
            _stop(_host, _host.workdir)
            _host = None


__all__ = ["TIMINGS", "nested_host", "stop"]
