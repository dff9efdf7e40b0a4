"""The expunge thread: every `expunge.interval` seconds, expunge Destroyed VMs whose `expunge.delay` passed,
and VMs left in Error by failed deploys (CloudStack's ExpungeTask)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import or_, select

from management import loops
from management.db.base import utcnow
from management.errors import CloudError
from management.models.compute import VirtualMachine
from management.services.runtime import Runtime

log = logging.getLogger(__name__)


def due(runtime: Runtime) -> list[int]:
    with runtime.db.session(write=False) as s:
        return list(s.scalars(select(VirtualMachine.id).where(
            VirtualMachine.removed.is_(None),
            or_(VirtualMachine.state == "Error",
                (VirtualMachine.state == "Destroyed") & (VirtualMachine.expunge_after <= utcnow())))))


def run_once(runtime: Runtime) -> int:
    from management.services.cluster import ownership
    from management.services.compute import vm as vm_service

    n = 0
    for vm_id in due(runtime):
        if not ownership.owns(runtime, "vm-expunge", vm_id):
            continue  # another management server expunges this one
        try:
            vm_service.destroy(runtime, vm_id, expunge_now=True)
            n += 1
        except CloudError as exc:
            log.warning("expunge of VM %s failed: %s", vm_id, exc.text)
    return n


class Expunger:
    def __init__(self, runtime: Runtime, stop_event: threading.Event | None = None) -> None:
        self.runtime = runtime
        self._loop = loops.Loop("expunger", self._interval, lambda: run_once(self.runtime), stop_event=stop_event)

    def _interval(self) -> float:
        from management.services import configuration

        with self.runtime.db.session(write=False) as s:
            return max(configuration.get_float(s, "expunge.interval", 86400.0), 0.05)

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)


def start(runtime: Runtime, stop_event: threading.Event | None = None) -> Expunger:
    e = runtime.extras.get("expunger")
    if e is None:
        e = runtime.extras["expunger"] = Expunger(runtime, stop_event)
        e.start()
    return e  # type: ignore[no-any-return]


def stop(runtime: Runtime) -> None:
    e = runtime.extras.pop("expunger", None)
    if e is not None:
        e.stop()
