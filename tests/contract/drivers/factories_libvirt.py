"""libvirt driver factories for the contract suite: ``libvirt-test`` (in-process ``test:///default``, always)
and ``libvirt-qemu`` (``qemu:///system``, real TCG guests, marker ``integration``)."""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from management.drivers.base import HypervisorDriver, NicSpec, PoolSpec
from management.drivers.testing import DriverFactory, register_factory

BRIDGE = "dcctbr0"  # an isolated bridge with no uplink: guests' taps plug in, no traffic leaves


def _libvirt_missing() -> str | None:
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed"
    return None


class _LibvirtFactory(DriverFactory):
    uri = ""
    options: dict[str, object] = {}

    def __init__(self) -> None:
        self._pools: list[str] = []

    def make(self, tmp_path: Path) -> HypervisorDriver:
        from management.drivers.libvirt.driver import LibvirtDriver

        return LibvirtDriver(self.uri, **self.options)

    def pool_spec(self, tmp_path: Path) -> PoolSpec:
        spec = super().pool_spec(tmp_path)
        self._pools.append(spec.name)
        return spec

    def inject_spawn_failure(self, driver: HypervisorDriver) -> AbstractContextManager[None]:
        """Make the domain definition itself invalid, so libvirt fails after the disks exist."""
        original = driver._build_domain  # type: ignore[attr-defined]

        def broken(*args, **kwargs):
            cfg = original(*args, **kwargs)
            self.break_config(cfg)
            return cfg

        @contextlib.contextmanager
        def failing() -> Iterator[None]:
            driver._build_domain = broken  # type: ignore[attr-defined]
            try:
                yield
            finally:
                del driver._build_domain  # type: ignore[attr-defined]

        return failing()

    def break_config(self, cfg) -> None:
        cfg.virt_type = "no-such-virt-type"

    def teardown(self, driver: HypervisorDriver) -> None:
        import libvirt

        conn = driver.conn  # type: ignore[attr-defined]
        for name in self._pools:
            with contextlib.suppress(libvirt.libvirtError):
                pool = conn.storagePoolLookupByName(name)
                for vol in pool.listAllVolumes():  # leftovers (templates) must not outlive the pool
                    with contextlib.suppress(libvirt.libvirtError):
                        vol.delete(0)
            driver.ex_delete_pool(name)  # type: ignore[attr-defined]
        self._pools.clear()
        driver.close()


class LibvirtTestFactory(_LibvirtFactory):
    id = "libvirt-test"
    uri = "test:///default"

    def skip_reason(self) -> str | None:
        return _libvirt_missing()

    def pool_spec(self, tmp_path: Path) -> PoolSpec:
        spec = PoolSpec(name=f"contract-{uuid.uuid4().hex[:8]}", path=f"/contract-{uuid.uuid4().hex[:8]}")
        self._pools.append(spec.name)
        return spec


class LibvirtQemuFactory(_LibvirtFactory):
    id = "libvirt-qemu"
    uri = "qemu:///system"
    # The contract guests boot the tiny image (a few seconds under TCG): its kernel acknowledges the ACPI eject
    # of a virtio-net NIC, so NIC unplug on a Running domain is checked for real.
    guest_acks_unplug = True
    memory_mib = 160
    CONSOLE = "/tmp/devcloud-contract-console"

    def __init__(self) -> None:
        super().__init__()
        self.options = {"virt_type": "qemu", "shutdown_timeout": 3, "hotplug_timeout": 30,
                        "console_log_dir": self.CONSOLE}

    shared_storage = False  # the second host is a nested VM with pools of its own

    def make_destination(self, driver: HypervisorDriver, tmp_path: Path) -> HypervisorDriver:
        """The session's nested KVM host (tests/nested_kvm.py), with this suite's guest bridge."""
        from management.drivers.libvirt.driver import LibvirtDriver
        from tests.nested_kvm import nested_host

        host = nested_host()
        host.run(f"ip link add {BRIDGE} type bridge 2>/dev/null; ip link set {BRIDGE} up")
        dest = LibvirtDriver(host.uri, virt_type="qemu", shutdown_timeout=3, hotplug_timeout=30,
                             console_log_dir="/var/log/devcloud/console")
        dest.connect()
        return dest

    def boot_template(self, driver: HypervisorDriver, pool: str, tmp_path: Path) -> str:
        from appliance.image import build_tiny_image

        tmpl = str(uuid.uuid4())
        driver.prepare_template(pool, tmpl, str(build_tiny_image()))
        return tmpl

    def wait_guest(self, driver: HypervisorDriver, spec) -> None:  # type: ignore[no-untyped-def]
        log = Path(self.CONSOLE) / f"{spec.name}.log"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if log.is_file() and "DEVCLOUD-GUEST-READY" in log.read_text(errors="replace"):
                return
            time.sleep(0.5)
        raise AssertionError(f"the tiny guest of {spec.name} did not boot in 180 s:\n"
                             f"{log.read_text(errors='replace')[-2000:] if log.is_file() else '(no console log)'}")

    def skip_reason(self) -> str | None:
        missing = _libvirt_missing()
        if missing:
            return missing
        if os.geteuid() != 0:
            return "needs root (qemu:///system)"
        import libvirt

        try:
            libvirt.open(self.uri).close()
        except libvirt.libvirtError as exc:
            return (f"libvirtd not reachable at {self.uri}: {exc.get_error_message()} "
                    "(start: virtlogd -d; libvirtd -d)")
        return _ensure_bridge()

    def make_nic(self, mac: str) -> NicSpec:
        return NicSpec(mac=mac, bridge=BRIDGE)

    def break_config(self, cfg) -> None:
        # define succeeds, start fails: exercises the undefine-and-delete path of the rollback
        cfg.interfaces[0].source = "dcct-nosuchbr"


_bridge_made = False


def _ensure_bridge() -> str | None:
    global _bridge_made
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        return None
    try:
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True, capture_output=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"cannot create test bridge {BRIDGE}: {exc}"
    if not _bridge_made:
        _bridge_made = True
        atexit.register(lambda: subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True))
    return None


register_factory(LibvirtTestFactory())
register_factory(LibvirtQemuFactory(), marks=(pytest.mark.integration,))
