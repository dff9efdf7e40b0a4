"""Management server membership: the `mshost` table, heartbeats, and peers declaring a silent server Down.

Every server registers at start (state Up, a new run id), then writes its heartbeat every
`cluster.heartbeat.interval` ms. Each round it also looks at its peers: one whose heartbeat is older than
`cluster.heartbeat.threshold` ms is set Down (a compare-and-swap, so one peer wins) and an alert is raised; the
survivors then take over its jobs (takeover.sweep) and its hosts (ownership.rebalance). A server that finds its own
row Down, or carrying another run id, was declared dead by its peers while it still ran: it stops claiming jobs
and calls its `on_fenced` hook (`serve` exits the process), as CloudStack's management server does when it finds
itself isolated.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.models.jobs import ManagementServer
from management.services import alerting, configuration
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

VERSION = "4.22.0.0"
INTERVAL_KEY, THRESHOLD_KEY = "cluster.heartbeat.interval", "cluster.heartbeat.threshold"
# Hooks run (in this order) once at start, after a round that saw the membership change, and every HOOKS_EVERY
# seconds: takeover, ownership.
HOOKS_EVERY = 60.0
# Called inside every heartbeat's transaction with (runtime, session) for a quick look at this server's own rows;
# a hook returns work to run after the transaction, or None (the maintenance state machine, plugins/maintenance).
ROUND_HOOKS: list[Callable[[Runtime, Session], Callable[[], object] | None]] = []
PEER_HOOKS: list[Callable[[Runtime, list[str] | None], object]] = []


def on_round(hook: Callable[[Runtime, Session], Callable[[], object] | None]) -> None:
    if hook not in ROUND_HOOKS:
        ROUND_HOOKS.append(hook)


def on_peers_down(hook: Callable[[Runtime, list[str] | None], object]) -> None:
    if hook not in PEER_HOOKS:
        PEER_HOOKS.append(hook)


@dataclass(frozen=True, slots=True)
class Timing:
    interval: float  # seconds between heartbeats
    threshold: float  # seconds of silence before a peer is declared Down


def timing(session: Session, runtime: Runtime) -> Timing:
    interval = configuration.get_float(session, INTERVAL_KEY, 1500.0) / 1000.0
    if "heartbeat_interval" in runtime.settings.model_fields_set:  # a per-process override (tests)
        interval = runtime.settings.heartbeat_interval
    threshold = configuration.get_float(session, THRESHOLD_KEY, 150000.0) / 1000.0
    return Timing(max(interval, 0.1), max(threshold, 2 * max(interval, 0.1)))


def _boot_time() -> datetime | None:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return datetime.fromtimestamp(int(line.split()[1]), UTC)
    except OSError:
        return None
    return None


def _os_distribution() -> str:
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        return fields.get("PRETTY_NAME", "").strip('"') or platform.system()
    except OSError:
        return platform.system()


def _details() -> dict[str, str]:
    return {"javadistribution": platform.python_implementation(), "javaversion": platform.python_version(),
            "osdistribution": _os_distribution(), "kernelversion": platform.release()}


def details(ms: ManagementServer) -> dict[str, str]:
    try:
        return dict(json.loads(ms.details_json or "{}"))
    except ValueError:
        return {}


def register(runtime: Runtime) -> int:
    """This server is Up with a new run id (kept on the runtime); returns it."""
    runid = int(time.time() * 1000)
    settings = runtime.settings
    now = utcnow()
    with runtime.db.session() as s:
        row = s.get(ManagementServer, runtime.msid)
        if row is None:
            row = ManagementServer(msid=runtime.msid, hostname=socket.gethostname(), pid=os.getpid(), version=VERSION)
            s.add(row)
        row.hostname, row.pid, row.version, row.runid = socket.gethostname(), os.getpid(), VERSION, runid
        row.state, row.started, row.last_heartbeat, row.removed = "Up", now, now, None
        row.service_ip = settings.api_bind if settings.api_bind not in ("0.0.0.0", "::", "") else _address()
        row.service_port = settings.api_port or None
        row.last_boot = _boot_time()
        row.details_json = json.dumps(_details())
    runtime.runid = runid
    return runid


def _address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


Peer = tuple[str, int, datetime, str]  # an Up server: msid, runid, last heartbeat, hostname


def up_servers(session: Session) -> list[Peer]:
    return [(m, r, h, n) for m, r, h, n in session.execute(
        select(ManagementServer.msid, ManagementServer.runid, ManagementServer.last_heartbeat,
               ManagementServer.hostname).where(ManagementServer.state == "Up", ManagementServer.removed.is_(None)))]


def beat_and_look(runtime: Runtime) -> tuple[bool, list[Peer], list[Callable[[], object]]]:
    """The heartbeat and a look at the peers in one transaction: (our row is still ours, the Up servers, the
    round hooks' follow-ups)."""
    with runtime.db.session() as s:
        res = s.execute(update(ManagementServer).where(
            ManagementServer.msid == runtime.msid, ManagementServer.runid == runtime.runid,
            ManagementServer.state == "Up").values(last_heartbeat=utcnow()))
        then = [f for f in (hook(runtime, s) for hook in list(ROUND_HOOKS)) if f is not None]
        return res.rowcount == 1, up_servers(s), then  # type: ignore[attr-defined]


def declare_dead(runtime: Runtime, threshold: float, up: list[Peer] | None = None) -> list[str]:
    """Sets Down every Up peer silent for longer than `threshold` seconds (one compare-and-swap each, so one
    peer wins); raises an alert for each. Returns the msids this server declared Down. `up`: the Up servers as
    just read (a write transaction is opened only when one of them is silent)."""
    cutoff = utcnow() - timedelta(seconds=threshold)
    if up is None:
        with runtime.db.session(write=False) as s:
            up = up_servers(s)
    silent = [p for p in up if p[0] != runtime.msid and p[2] is not None and p[2] < cutoff]
    down: list[str] = []
    if not silent:
        return down
    with runtime.db.session() as s:
        for msid, runid, last, hostname in silent:
            res = s.execute(update(ManagementServer).where(
                ManagementServer.msid == msid, ManagementServer.runid == runid, ManagementServer.state == "Up",
                ManagementServer.last_heartbeat == last).values(state="Down", last_stopped=last))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                down.append(msid)
                alerting.alert(s, alerting.MANAGEMENT, f"Management server node {msid} ({hostname}) is down",
                               content=f"no heartbeat since {last.isoformat()} (threshold {threshold:.1f}s); "
                               f"detected by {runtime.msid}", level="ERROR")
    for msid in down:
        log.error("management server %s missed its heartbeats for %.1fs: declared Down", msid, threshold)
    return down


def mark_stopped(runtime: Runtime) -> None:
    """A clean shutdown: Down at once, so the peers take over without waiting for the threshold."""
    with runtime.db.session() as s:
        s.execute(update(ManagementServer).where(ManagementServer.msid == runtime.msid,
                                                 ManagementServer.runid == runtime.runid)
                  .values(state="Down", last_stopped=utcnow()))


def live(session: Session) -> list[ManagementServer]:
    """The Up servers, ordered by msid."""
    return list(session.scalars(select(ManagementServer).where(ManagementServer.state == "Up",
                                                               ManagementServer.removed.is_(None))
                                .order_by(ManagementServer.msid)))


def run_hooks(runtime: Runtime, down: list[str]) -> None:
    for hook in list(PEER_HOOKS):
        try:
            hook(runtime, down)
        except Exception:  # noqa: BLE001 - a failing hook must not stop the heartbeat
            log.exception("membership hook %r failed", hook)


class Membership:
    """The heartbeat thread of this server."""

    def __init__(self, runtime: Runtime, stop_event: threading.Event, on_fenced: Callable[[], None]) -> None:
        self.runtime = runtime
        self._stop = stop_event
        self._on_fenced = on_fenced
        self._thread: threading.Thread | None = None
        self.fenced = False

    def start(self) -> None:
        run_hooks(self.runtime, [])  # our own previous run's jobs and any orphans, before serving
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = 1.5
        seen: set[tuple[str, int]] | None = None  # the Up servers (msid, run) when the hooks last ran
        hooks_ran = time.monotonic()  # start() ran them
        while not self._stop.wait(interval):
            try:
                with self.runtime.db.session(write=False) as s:
                    t = timing(s, self.runtime)
                interval = t.interval
                ours, up, then = beat_and_look(self.runtime)
                if not ours:
                    self.fenced = True
                    log.critical("management server %s was declared Down by its peers (or another process "
                                 "started with its id): it stops taking jobs", self.runtime.msid)
                    self._on_fenced()
                    return
                for follow_up in then:
                    try:
                        follow_up()
                    except Exception:  # noqa: BLE001 - one hook's failure must not stop the heartbeat
                        log.exception("heartbeat round hook failed")
                down = declare_dead(self.runtime, t.threshold, up)
                view = {(m, r) for m, r, _, _ in up if m not in down}
                # The takeover and host hooks run when the membership changed (a peer joined, restarted, stopped
                # or was declared Down here or by another peer), and every HOOKS_EVERY seconds in case a claim or
                # a host was left to a run that is gone without a change seen here.
                if down or view != seen or time.monotonic() - hooks_ran >= HOOKS_EVERY:
                    if seen is not None or down:
                        run_hooks(self.runtime, down)
                        hooks_ran = time.monotonic()
                    seen = view
            except Exception:  # noqa: BLE001 - a database hiccup: try again next round
                log.exception("heartbeat round failed")

    def join(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def remove(session: Session, ms: ManagementServer) -> None:
    """removeManagementServer: a Down server leaves the list; it appears again if it starts."""
    ms.removed = utcnow()
    session.flush()
