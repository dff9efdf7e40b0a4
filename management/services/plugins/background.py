"""The plugins' periodic work: the usage statistics collector, every vm.stats.interval milliseconds (0 or less:
off), on a loop that stops with the job queue. (The management server maintenance state moves on after heartbeat
rounds: plugins/maintenance.)"""

from __future__ import annotations

import threading

from management import loops
from management.services.plugins import maintenance, stats
from management.services.runtime import Runtime


def start(runtime: Runtime, stop_event: threading.Event) -> loops.Loop:
    maintenance.forget(runtime)
    loop = runtime.extras.get("plugins_background")
    if loop is None:
        loop = loops.Loop("usage-stats", lambda: stats.interval(runtime), lambda: stats.collect(runtime),
                          stop_event=stop_event)
        runtime.extras["plugins_background"] = loop
        loop.start()
    return loop  # type: ignore[no-any-return]
