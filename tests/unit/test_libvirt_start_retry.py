"""A domain start that the kernel interrupted is started again. libvirt loads a cgroup BPF device program at every
start; the verifier returns EAGAIN when a signal reaches the loading thread (CI saw it once with four spawns at the
same moment), and libvirt reports "failed to load cgroup BPF prog: Resource temporarily unavailable" without
retrying. Any other start failure is reported at once, as before."""

from __future__ import annotations

import libvirt
import pytest

from management.drivers.base import PowerState
from management.drivers.errors import DriverError
from management.drivers.libvirt import driver as libvirt_driver
from management.drivers.libvirt.driver import LibvirtDriver

BPF_EAGAIN = "failed to load cgroup BPF prog: Resource temporarily unavailable"


def _error(message: str) -> libvirt.libvirtError:
    err = libvirt.libvirtError(message)
    err.err = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_CGROUP, message, 2, None, None, None, 0, 0)
    return err


class _Domain:
    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.starts = 0

    def UUIDString(self) -> str:  # noqa: N802 - libvirt's name
        return "5d3c1a0e-0000-4000-8000-000000000001"

    def create(self) -> int:
        self.starts += 1
        if self.failures:
            raise _error(self.failures.pop(0))
        return 0


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libvirt_driver, "START_RETRY_DELAY", 0.0)


@pytest.fixture
def drv() -> LibvirtDriver:
    return LibvirtDriver("test:///default", events=False)


def test_an_interrupted_start_is_tried_again(drv: LibvirtDriver) -> None:
    dom = _Domain([BPF_EAGAIN, BPF_EAGAIN])
    drv._create(dom)  # type: ignore[arg-type]
    assert dom.starts == 3


def test_a_start_interrupted_every_time_reports_libvirts_error_after_the_last_try(drv: LibvirtDriver) -> None:
    dom = _Domain([BPF_EAGAIN] * 10)
    with pytest.raises(DriverError, match="failed to load cgroup BPF prog"):
        drv._create(dom)  # type: ignore[arg-type]
    assert dom.starts == libvirt_driver.START_ATTEMPTS


@pytest.mark.parametrize("message", [
    "failed to load cgroup BPF prog: Operation not permitted",  # not transient: no BPF rights at all
    "internal error: process exited while connecting to monitor",
])
def test_other_start_failures_are_not_retried(drv: LibvirtDriver, message: str) -> None:
    dom = _Domain([message])
    with pytest.raises(DriverError, match=message.split(":")[0]):
        drv._create(dom)  # type: ignore[arg-type]
    assert dom.starts == 1


def test_start_of_a_stopped_vm_survives_an_interrupted_start(drv: LibvirtDriver,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the driver's public start(), on libvirt's in-process test hypervisor."""
    dom = drv.conn.lookupByName("test")
    dom.destroy()
    failures = [BPF_EAGAIN]
    real_create = libvirt.virDomain.create

    def create(self: libvirt.virDomain) -> int:
        if failures:
            raise _error(failures.pop())
        return real_create(self)

    monkeypatch.setattr(libvirt.virDomain, "create", create)
    info = drv.start(dom.UUIDString())
    assert info.state == PowerState.RUNNING
    assert not failures
