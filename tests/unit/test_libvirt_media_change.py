"""A CD-ROM change on a running guest survives the guest closing its tray in the middle of it: libvirt opens the
tray, swaps the medium and closes it, and a guest that opens the drive meanwhile (Linux closes the tray on open())
makes QEMU refuse the insert. The driver tries the whole change again; any other error is reported at once."""

from __future__ import annotations

import libvirt
import pytest

from management.drivers.libvirt import driver as libvirt_driver
from management.drivers.libvirt.driver import LibvirtDriver

TRAY = "internal error: unable to execute QEMU command 'blockdev-insert-medium': Tray of the device is not open"


class _Domain:
    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.calls: list[tuple[str, int]] = []

    def name(self) -> str:
        return "i-2-7-VM"

    def updateDeviceFlags(self, xml: str, flags: int) -> int:  # noqa: N802 - libvirt's name
        self.calls.append((xml, flags))
        if self.failures:
            message = self.failures.pop(0)
            err = libvirt.libvirtError(message)
            err.err = (libvirt.VIR_ERR_INTERNAL_ERROR, 0, message, 2, None, None, None, 0, 0)
            raise err
        return 0


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libvirt_driver, "MEDIA_CHANGE_RETRY_S", 0.0)


def test_a_tray_closed_by_the_guest_mid_change_is_tried_again() -> None:
    dom = _Domain([TRAY, TRAY])
    LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == 3
    assert {flags for _, flags in dom.calls} == {libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG}


def test_a_guest_that_keeps_closing_the_tray_gets_the_error_after_the_last_try() -> None:
    dom = _Domain([TRAY] * 10)
    with pytest.raises(libvirt.libvirtError, match="Tray of the device is not open"):
        LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == libvirt_driver.MEDIA_CHANGE_TRIES


def test_other_errors_are_not_retried() -> None:
    dom = _Domain(["Requested operation is not valid: domain is not running"])
    with pytest.raises(libvirt.libvirtError, match="not running"):
        LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == 1
