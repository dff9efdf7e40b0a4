"""libvirt's event loop (one per process) and the lifecycle-event normalisation table."""

from __future__ import annotations

import logging
import threading

import libvirt

from management.drivers.base import LifecycleEventType, PowerState

log = logging.getLogger(__name__)

_loop_lock = threading.Lock()
_loop_thread: threading.Thread | None = None


def ensure_event_loop() -> None:
    """Register libvirt's default event implementation and run it on a daemon thread.

    Must happen before the first connection is opened: a connection only delivers events through the
    implementation that was registered when it was created. Idempotent, process-wide.
    """
    global _loop_thread
    with _loop_lock:
        if _loop_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                try:
                    libvirt.virEventRunDefaultImpl()
                except Exception:  # keep the loop alive; one bad callback must not stop all events
                    log.exception("libvirt event loop iteration failed")

        _loop_thread = threading.Thread(target=run, name="libvirt-events", daemon=True)
        _loop_thread.start()


# virDomainState -> PowerState: the ONE place raw libvirt states are interpreted.
POWER_STATE_MAP: dict[int, PowerState] = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.UNKNOWN,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,  # running, waiting on I/O
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.RUNNING,  # shutdown requested, still running
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.STOPPED,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.PAUSED,
}


def power_state(state: int) -> PowerState:
    return POWER_STATE_MAP.get(state, PowerState.UNKNOWN)


_STOPPED_CRASH_DETAILS = {libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED, libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED}


def normalise_lifecycle(event: int, detail: int) -> tuple[LifecycleEventType, PowerState] | None:
    """(virDomainEventType, detail) -> (our event, state after it); None for events we do not report."""
    if event == libvirt.VIR_DOMAIN_EVENT_DEFINED:
        return LifecycleEventType.DEFINED, PowerState.STOPPED
    if event == libvirt.VIR_DOMAIN_EVENT_UNDEFINED:
        return LifecycleEventType.UNDEFINED, PowerState.STOPPED
    if event == libvirt.VIR_DOMAIN_EVENT_STARTED:
        return LifecycleEventType.STARTED, PowerState.RUNNING
    if event in (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED):
        return LifecycleEventType.PAUSED, PowerState.PAUSED
    if event == libvirt.VIR_DOMAIN_EVENT_RESUMED:
        return LifecycleEventType.RESUMED, PowerState.RUNNING
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        # QEMU killed or exited on its own: the domain is shut off, but that was not a requested stop
        if detail in _STOPPED_CRASH_DETAILS:
            return LifecycleEventType.CRASHED, PowerState.STOPPED
        return LifecycleEventType.STOPPED, PowerState.STOPPED
    if event == libvirt.VIR_DOMAIN_EVENT_CRASHED:
        return LifecycleEventType.CRASHED, PowerState.CRASHED
    return None  # SHUTDOWN (a STOPPED follows) and anything newer
