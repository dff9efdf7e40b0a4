"""Prometheus metrics of one management server: what its listeners served (CloudStack API, S3, EC2), what its
drivers took, how many SQL statements a request ran, and — read from the database at each scrape — the cloud's
inventory (VMs, hosts, pools, public IPs, routers, async jobs).

One `Telemetry` per runtime, with a registry of its own, so servers run side by side in one process (the test
suite does) without mixing their series. `GET /metrics` on the API port renders it (`api/app.py`).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select

from management.db.base import utcnow
from management.drivers.errors import DomainNotFound, PoolNotFound, SnapshotNotFound, VolumeNotFound
from management.models.compute import VirtualMachine
from management.models.infra import Host, PublicIpAddress, StoragePool, Zone
from management.models.jobs import AsyncJob
from management.services.runtime import Runtime

driver_log = logging.getLogger("devcloud.driver")
_ABSENT = (DomainNotFound, PoolNotFound, VolumeNotFound, SnapshotNotFound)
# Request latencies run from a cached list (~1 ms) to a synchronous deploy on a TCG host (minutes).
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_STATEMENTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
__all__ = ["CONTENT_TYPE", "StatementCount", "Telemetry", "instrument", "telemetry"]
# the text format every Prometheus 2.x (Debian 12 ships 2.42) parses
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
JOB_STATUS = {0: "pending", 1: "succeeded", 2: "failed", 3: "cancelled"}

# statements run by the request on this thread (None: not inside a request)
_statements: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("devcloud_statements", default=None)


class Telemetry:
    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.api_requests = Counter("devcloud_api_requests", "CloudStack API requests by command, outcome and port",
                                    ["command", "outcome", "port"], registry=r)
        self.api_latency = Histogram("devcloud_api_request_duration_seconds", "CloudStack API request latency",
                                     ["command", "outcome"], buckets=_LATENCY, registry=r)
        self.api_statements = Histogram("devcloud_api_request_db_statements", "SQL statements run by one API request",
                                        ["command"], buckets=_STATEMENTS, registry=r)
        self.http_requests = Counter("devcloud_http_requests", "Requests served by the S3 and EC2 listeners",
                                     ["service", "method", "status"], registry=r)
        self.http_bytes = Counter("devcloud_http_bytes", "Body bytes through the S3 and EC2 listeners",
                                  ["service", "direction"], registry=r)
        self.driver_latency = Histogram("devcloud_driver_call_duration_seconds",
                                        "Hypervisor driver call latency by driver and operation",
                                        ["driver", "operation", "outcome"], buckets=_LATENCY, registry=r)
        r.register(InventoryCollector(runtime))
        event.listen(runtime.db.engine, "before_cursor_execute", _count_statement)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # ---- the CloudStack API -------------------------------------------------------------------------------------
    def observe_request(self, command: str, outcome: str, port: str, seconds: float, statements: int) -> None:
        self.api_requests.labels(command, outcome, port).inc()
        self.api_latency.labels(command, outcome).observe(seconds)
        self.api_statements.labels(command).observe(statements)

    # ---- drivers ------------------------------------------------------------------------------------------------
    def driver_observer(self, driver: str) -> Callable[[str, str, float], None]:
        def observe(operation: str, outcome: str, seconds: float) -> None:
            self.driver_latency.labels(driver, operation, outcome).observe(seconds)
        return observe


def telemetry(runtime: Runtime) -> Telemetry:
    found = runtime.extras.get("telemetry")
    if found is None:
        found = runtime.extras.setdefault("telemetry", Telemetry(runtime))
    return found  # type: ignore[no-any-return]


def _count_statement(*_: Any) -> None:
    box = _statements.get()
    if box is not None:
        box[0] += 1


class StatementCount:
    """Counts the SQL statements run on this thread (and the threads it hands its context to) while open."""

    def __enter__(self) -> StatementCount:
        self._box = [0]
        self._token = _statements.set(self._box)
        return self

    def __exit__(self, *_: object) -> None:
        _statements.reset(self._token)

    @property
    def count(self) -> int:
        return self._box[0]


class InventoryCollector(Collector):
    """The cloud as the database has it, read at scrape time (a handful of grouped counts)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def describe(self) -> list[Any]:
        return []  # collected lazily: describing must not touch the database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.runtime.db.session(write=False) as s:
            zones = dict(s.execute(select(Zone.id, Zone.name).where(Zone.removed.is_(None))).all())
            yield _gauge("devcloud_zones", "Zones", ["zone"], [((z,), 1) for z in zones.values()])
            user_vm = VirtualMachine.vm_type == "User"
            vm_rows = s.execute(select(VirtualMachine.zone_id, VirtualMachine.state, VirtualMachine.hypervisor_type,
                                    func.count())
                             .where(VirtualMachine.removed.is_(None), user_vm)
                             .group_by(VirtualMachine.zone_id, VirtualMachine.state,
                                       VirtualMachine.hypervisor_type)).all()
            yield _gauge("devcloud_virtual_machines", "User VMs by zone, state and hypervisor",
                         ["zone", "state", "hypervisor"],
                         [((zones.get(z, ""), st, hv or ""), n) for z, st, hv, n in vm_rows])
            router_rows = s.execute(select(VirtualMachine.state, func.count())
                             .where(VirtualMachine.removed.is_(None), VirtualMachine.vm_type == "DomainRouter")
                             .group_by(VirtualMachine.state)).all()
            yield _gauge("devcloud_routers", "Virtual routers by state", ["state"],
                         [((st,), n) for st, n in router_rows])
            host_rows = s.execute(select(Host.zone_id, Host.type, Host.status, Host.resource_state, func.count())
                             .where(Host.removed.is_(None))
                             .group_by(Host.zone_id, Host.type, Host.status, Host.resource_state)).all()
            yield _gauge("devcloud_hosts", "Hosts by zone, type, status and resource state",
                         ["zone", "type", "state", "resource_state"],
                         [((zones.get(z, ""), t, st, rs), n) for z, t, st, rs, n in host_rows])
            pools = s.execute(select(StoragePool.name, StoragePool.zone_id, StoragePool.status,
                                     StoragePool.capacity_bytes, StoragePool.used_bytes, StoragePool.allocated_bytes)
                              .where(StoragePool.removed.is_(None))).all()
            labels = ["pool", "zone", "state"]
            yield _gauge("devcloud_storage_pool_capacity_bytes", "Primary storage pool capacity", labels,
                         [((p.name, zones.get(p.zone_id, ""), p.status), p.capacity_bytes) for p in pools])
            yield _gauge("devcloud_storage_pool_used_bytes", "Primary storage pool bytes used on disk", labels,
                         [((p.name, zones.get(p.zone_id, ""), p.status), p.used_bytes) for p in pools])
            yield _gauge("devcloud_storage_pool_allocated_bytes", "Primary storage pool bytes allocated to volumes",
                         labels, [((p.name, zones.get(p.zone_id, ""), p.status), p.allocated_bytes) for p in pools])
            ip_rows = s.execute(select(PublicIpAddress.zone_id, PublicIpAddress.state, func.count())
                             .where(PublicIpAddress.removed.is_(None))
                             .group_by(PublicIpAddress.zone_id, PublicIpAddress.state)).all()
            yield _gauge("devcloud_public_ips", "Public IP addresses by zone and state", ["zone", "state"],
                         [((zones.get(z, ""), st), n) for z, st, n in ip_rows])
            job_rows = s.execute(select(AsyncJob.command, AsyncJob.status, func.count())
                             .where(AsyncJob.removed.is_(None))
                             .group_by(AsyncJob.command, AsyncJob.status)).all()
            yield _gauge("devcloud_async_jobs", "Async jobs on record by command and status", ["command", "status"],
                         [((c, JOB_STATUS.get(st, str(st))), n) for c, st, n in job_rows])
            pending = s.execute(select(func.count(), func.min(AsyncJob.created))
                                .where(AsyncJob.removed.is_(None), AsyncJob.status == 0)).one()
        depth = GaugeMetricFamily("devcloud_async_job_queue_depth", "Async jobs not finished (queued or running)")
        depth.add_metric([], pending[0])
        yield depth
        oldest = GaugeMetricFamily("devcloud_async_job_oldest_pending_age_seconds",
                                   "Age of the oldest unfinished async job (0 when none)")
        oldest.add_metric([], (utcnow() - _aware(pending[1])).total_seconds() if pending[1] else 0.0)
        yield oldest


def _aware(value: Any) -> Any:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _gauge(name: str, doc: str, labels: list[str], values: list[tuple[tuple[str, ...], float]]) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=labels)
    for lv, v in values:
        g.add_metric(list(lv), v)
    return g


def timed(observe: Callable[[str, str, float], None], operation: str, fn: Callable[..., Any],
          driver: str = "driver") -> Callable[..., Any]:
    """Times each call, and writes it to the driver log (a failure at WARNING, with the hypervisor's words): the
    line carries the request id and job of the call (see management.logcontext)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        outcome = "error"
        try:
            out = fn(*args, **kwargs)
            outcome = "ok"
            return out
        except Exception as exc:
            seconds = time.perf_counter() - t0
            level = logging.INFO if isinstance(exc, _ABSENT) else logging.WARNING  # destroy of a gone domain: normal
            driver_log.log(level, "%s %s failed after %.3f s: %s", driver, operation, seconds, exc,
                               extra={"duration": round(seconds, 6), "outcome": "error"})
            raise
        finally:
            seconds = time.perf_counter() - t0
            observe(operation, outcome, seconds)
            if outcome == "ok":
                driver_log.debug("%s %s took %.3f s", driver, operation, seconds,
                                 extra={"duration": round(seconds, 6), "outcome": "ok"})
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


# What a driver does for the cloud (lifecycle, storage, networking), timed per call; bookkeeping is left out.
_UNTIMED = frozenset({"supports", "require", "connect", "close", "register_event_listener"})


def driver_operations() -> list[str]:
    from management.drivers.base import HypervisorDriver

    return sorted(n for n, v in vars(HypervisorDriver).items()
                  if callable(v) and not n.startswith("_") and n not in _UNTIMED)


def instrument(driver: Any, observe: Callable[[str, str, float], None]) -> None:
    """Times the driver's operations on this instance (its class, and other instances, are left alone)."""
    if getattr(driver, "_devcloud_timed", False):
        return
    try:
        for name in driver_operations():
            setattr(driver, name, timed(observe, name, getattr(driver, name), getattr(driver, "name", "driver")))
        driver._devcloud_timed = True
    except AttributeError:  # a driver with __slots__ keeps its plain methods
        return
