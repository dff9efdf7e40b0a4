"""A CD-ROM change on a running guest survives the guest closing its tray in the middle of it: libvirt opens the
tray, swaps the medium and closes it, and a guest that opens the drive meanwhile (Linux closes the tray on open())
makes QEMU refuse the removal of the old medium or the insert of the new one. The driver tries the whole change
again, mending libvirt's stale idea of the tray first; any other error is reported at once."""

from __future__ import annotations

import libvirt
import pytest

from management.drivers.libvirt import driver as libvirt_driver
from management.drivers.libvirt.driver import LibvirtDriver

# QEMU's texts, as libvirt passes them on: the guest closed the tray before the removal or before the insert
TRAYS = [
    "internal error: unable to execute QEMU command 'blockdev-remove-medium': Tray of device 'ide0-1-1' is not open",
    "internal error: unable to execute QEMU command 'blockdev-insert-medium': Tray of the device is not open",
]


def _live_xml(tray: str) -> str:
    # the CD-ROM drive as libvirt's live XML shows it: empty, with libvirt's idea of the tray and QEMU's device id
    return (f"<domain><devices><disk type='file' device='cdrom'><driver name='qemu'/>"
            f"<target dev='{libvirt_driver.ISO_DEV}' bus='ide' tray='{tray}'/><readonly/>"
            f"<alias name='ide0-1-1'/></disk></devices></domain>")


class _Domain:
    def __init__(self, failures: list[str], tray: str = "closed") -> None:
        self.failures = failures
        self.tray = tray
        self.calls: list[tuple[str, int]] = []

    def name(self) -> str:
        return "i-2-7-VM"

    def XMLDesc(self, flags: int = 0) -> str:  # noqa: N802 - libvirt's name
        return _live_xml(self.tray)

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


@pytest.fixture(autouse=True)
def qmp(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    sent: list[dict] = []
    monkeypatch.setattr(LibvirtDriver, "_qmp", staticmethod(lambda dom, command: sent.append(command) or "{}"))
    return sent


@pytest.mark.parametrize("tray", TRAYS, ids=["remove", "insert"])
def test_a_tray_closed_by_the_guest_mid_change_is_tried_again(tray: str) -> None:
    dom = _Domain([tray, tray])
    LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == 3
    assert {flags for _, flags in dom.calls} == {libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG}


@pytest.mark.parametrize("tray", TRAYS, ids=["remove", "insert"])
def test_a_guest_that_keeps_closing_the_tray_gets_the_error_after_the_last_try(tray: str) -> None:
    dom = _Domain([tray] * (libvirt_driver.MEDIA_CHANGE_TRIES + 1))
    with pytest.raises(libvirt.libvirtError, match="is not open"):
        LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == libvirt_driver.MEDIA_CHANGE_TRIES


def test_a_tray_libvirt_holds_open_but_qemu_closed_is_opened_in_qemu_before_the_next_try(qmp: list[dict]) -> None:
    # libvirt skips its own "open the tray" when it believes the tray open; QEMU then refuses the removal at every
    # try (seen: 20 of 20) until the two agree again
    dom = _Domain([TRAYS[0]], tray="open")
    LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == 2
    assert qmp == [{"execute": "blockdev-open-tray", "arguments": {"id": "ide0-1-1", "force": True}}]


@pytest.mark.parametrize(("tray", "failure"), [("closed", TRAYS[0]), ("open", TRAYS[1])],
                         ids=["libvirt-knows-it-closed", "insert-refused"])
def test_the_tray_is_left_to_libvirt_when_its_belief_is_not_the_stale_one(qmp: list[dict], tray: str,
                                                                            failure: str) -> None:
    dom = _Domain([failure], tray=tray)
    LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == 2
    assert qmp == []


def test_other_errors_are_not_retried() -> None:
    dom = _Domain(["Requested operation is not valid: domain is not running"])
    with pytest.raises(libvirt.libvirtError, match="not running"):
        LibvirtDriver("test:///default", events=False)._change_media(dom, "<disk/>")  # type: ignore[arg-type]
    assert len(dom.calls) == 1
