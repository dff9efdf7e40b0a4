"""Host monitor: a background thread that pings every host's driver each `ping.interval` seconds.

- no answer from an Up host -> Disconnected (the `disconnected` time is recorded);
- still no answer `ping.interval * ping.timeout` seconds after the last good ping (CloudStack's `ping.timeout` is a
  multiplier of the interval, default 2.5) -> investigated by host HA (services/ha/hostha.py): Alert when a second
  signal shows the host alive (or cannot tell), else fenced and Down, its HA VMs restarted elsewhere; a host in
  Alert is investigated again every round;
- an answer from a Disconnected/Down/Alert/Connecting host -> Up (its pools are set up again).

Hosts in Maintenance are not pinged. Each server pings only the hosts it manages (`mgmt_server_id`, see
services/cluster/ownership.py). Settings are re-read every round, so `updateConfiguration
name=ping.interval` takes effect without a restart (the thread sleeps until the next round is due, and wakes when
a setting changes: management/loops.py); fractions of a second are accepted (tests use them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management import loops
from management.db.base import utcnow
from management.drivers.errors import DriverError
from management.errors import CloudError
from management.models.infra import Host
from management.services import configuration
from management.services.cluster import ownership
from management.services.infra import hosts
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

# Host HA (services/ha/hostha.py) registers here: called with (runtime, host id) for a host that stopped answering,
# it decides Alert or Down from a second signal and returns the status. HA sits above compute and infra, so it plugs
# in rather than being imported from here.
INVESTIGATORS: list[Callable[[Runtime, int], str]] = []

INVESTIGATE = "investigate"  # _record's verdict: the host's HA provider decides (services/ha/hostha.py)


class HostMonitor:
    def __init__(self, runtime: Runtime, stop_event: threading.Event | None = None) -> None:
        self.runtime = runtime
        self._loop = loops.Loop("host-monitor", lambda: self._settings()[0], self._round, stop_event=stop_event,
                                at_start=True)
        self.rounds = 0

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)

    def _stopping(self) -> bool:
        return self._loop.stopping()

    def _settings(self) -> tuple[float, float]:
        with self.runtime.db.session(write=False) as s:
            interval = configuration.get_float(s, "ping.interval", 60.0)
            timeout = configuration.get_float(s, "ping.timeout", 2.5)
        return max(interval, 0.05), max(timeout, 1.0)

    def _round(self) -> None:
        interval, multiplier = self._settings()
        self.ping_all(interval * multiplier)
        self.rounds += 1

    # -- one round -------------------------------------------------------------------------------------------
    def ping_all(self, down_after: float) -> None:
        """One round: one read of every host, then one write for all the Up hosts that answered (their ping
        time); only hosts whose status changes get a transaction of their own. (It used to be a read and a write
        transaction per host: 2,000 transactions a round at 1,000 hosts, each taking SQLite's write lock.)"""
        with self.runtime.db.session(write=False) as s:
            rows = list(s.execute(select(Host.id, Host.url, Host.hypervisor_type, Host.status, Host.details_json)
                                  .where(Host.removed.is_(None), Host.type == "Routing",
                                         Host.resource_state != "Maintenance",
                                         ownership.owned_hosts(self.runtime))))  # the hosts we manage
        fine: list[int] = []
        for host_id, url, hv, status, details in rows:
            if self._stopping():
                break
            ok = self._probe(host_id, url, hv, details)
            if ok and status == "Up":
                fine.append(host_id)
            else:
                self._record_one(host_id, ok, down_after, status)
        if fine:
            now = utcnow()
            with self.runtime.db.session() as s:
                for i in range(0, len(fine), 500):
                    s.execute(update(Host).where(Host.id.in_(fine[i:i + 500]), Host.status == "Up",
                                                 Host.removed.is_(None)).values(last_pinged=now)
                              .execution_options(synchronize_session=False))

    def ping_one(self, host_id: int, down_after: float) -> str | None:
        with self.runtime.db.session(write=False) as s:
            host = s.get(Host, host_id)
            if host is None or host.removed is not None:
                return None
            url, hv, status, details = host.url, host.hypervisor_type, host.status, host.details_json
        return self._record_one(host_id, self._probe(host_id, url, hv, details), down_after, status)

    def _probe(self, host_id: int, url: str, hv: str, details: str | None) -> bool:
        try:
            drv = hosts.drivers(self.runtime).get(_Probe(host_id, url, hv, details))
            drv.host_stats()
        except (DriverError, CloudError) as exc:
            hosts.drivers(self.runtime).drop(host_id)
            log.debug("ping of host %s (%s) failed: %s", host_id, url, exc)
            return False
        return True

    def _record_one(self, host_id: int, ok: bool, down_after: float, seen_status: str) -> str | None:
        with self.runtime.db.session() as s:
            host = s.get(Host, host_id)
            if host is None or host.removed is not None:
                return None
            status = self._record(s, host, ok, down_after, seen_status)
        if status == INVESTIGATE and INVESTIGATORS:
            return INVESTIGATORS[0](self.runtime, host_id)
        return status

    def _record(self, s: Session, host: Host, ok: bool, down_after: float, seen_status: str) -> str:
        now = utcnow()
        if ok:
            if host.status != "Up":
                try:
                    for pool in hosts.pools_for_host(s, host):
                        hosts.ensure_pool_on_host(self.runtime, s, host, pool)
                except DriverError as exc:
                    log.warning("host %s answers but cannot reach its pools: %s", host.name, exc)
                    return host.status
                log.info("host %s is Up again (was %s)", host.name, host.status)
                hosts.set_state(s, host, status="Up", last_pinged=now, disconnected=None)
            else:
                host.last_pinged = now
            return "Up"
        if host.status == "Up" or host.status == "Connecting":
            log.warning("host %s does not answer: Disconnected", host.name)
            hosts.set_state(s, host, status="Disconnected", disconnected=now)
        elif host.status == "Disconnected":
            since = host.last_pinged or host.disconnected or now
            if now - since >= timedelta(seconds=down_after):
                log.warning("host %s silent for %.1fs: investigating", host.name, (now - since).total_seconds())
                return INVESTIGATE
        elif host.status == "Alert":
            return INVESTIGATE  # alive but unreachable last time: is it still?
        return host.status


class _Probe:
    """The few Host attributes HostDrivers.get reads, without holding a session open during I/O."""

    def __init__(self, host_id: int, url: str, hypervisor: str, details_json: str | None = None) -> None:
        self.id, self.url, self.hypervisor_type = host_id, url, hypervisor
        self.details_json = details_json  # addHost credentials (XenServer pools log in with them)


def start(runtime: Runtime, stop_event: threading.Event | None = None) -> HostMonitor:
    """Starts the monitor thread for this runtime (once); it stops with `stop_event` (the job queue's)."""
    mon = runtime.extras.get("host_monitor")
    if mon is None:
        mon = HostMonitor(runtime, stop_event)
        runtime.extras["host_monitor"] = mon
        mon.start()
    return mon  # type: ignore[no-any-return]
