"""One background thread for the plugins' periodic work: the usage statistics collector (vm.stats.interval) and
the management server maintenance state (plugins/maintenance). It stops with the job queue."""

from __future__ import annotations

import logging
import threading

from management.services.plugins import maintenance, stats
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

_PERIOD = 1.0


def _loop(runtime: Runtime, stop: threading.Event) -> None:
    while not stop.wait(_PERIOD):
        for step in (maintenance.tick, stats.tick):
            try:
                step(runtime)
            except Exception:  # a database hiccup must not end the thread
                log.exception("periodic %s failed", step.__module__)


def start(runtime: Runtime, stop_event: threading.Event) -> threading.Thread:
    maintenance.forget(runtime)
    t = runtime.extras.get("plugins_background")
    if t is None:
        t = threading.Thread(target=_loop, args=(runtime, stop_event), name="plugins-periodic", daemon=True)
        runtime.extras["plugins_background"] = t
        t.start()
    return t  # type: ignore[no-any-return]
