"""Alerts (CloudStack's AlertManager): raised when a host goes down, when allocated capacity crosses a notification
threshold, when primary storage fills, and when system work fails; listed, archived and deleted by admins."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.models.governance import Alert
from management.models.infra import Cluster, Host, StoragePool
from management.services import configuration

log = logging.getLogger(__name__)

# AlertManager.AlertType: ordinal -> name, as listAlertTypes shows them.
TYPES: dict[int, str] = {
    0: "ALERT.MEMORY", 1: "ALERT.CPU", 2: "ALERT.STORAGE", 3: "ALERT.STORAGE.ALLOCATED",
    4: "ALERT.NETWORK.PUBLICIP", 5: "ALERT.NETWORK.PRIVATEIP", 6: "ALERT.STORAGE.SECONDARY",
    7: "ALERT.COMPUTE.HOST", 8: "ALERT.USERVM", 9: "ALERT.SERVICE.DOMAINROUTER", 10: "ALERT.SERVICE.CONSOLEPROXY",
    11: "ALERT.NETWORK.ROUTING", 12: "ALERT.STORAGE.MISC", 13: "ALERT.USAGE", 14: "ALERT.MANAGEMENT",
    15: "ALERT.NETWORK.DOMAINROUTERMIGRATE", 16: "ALERT.SERVICE.CONSOLEPROXYMIGRATE", 17: "ALERT.USERVM.MIGRATE",
    18: "ALERT.NETWORK.VLAN", 19: "ALERT.SERVICE.SSVM", 20: "ALERT.USAGE.RESULT", 21: "ALERT.STORAGE.DELETE",
    22: "ALERT.RESOURCE.COUNT", 23: "ALERT.USAGE.SANITY", 24: "ALERT.NETWORK.DIRECTPUBLICIP",
    25: "ALERT.STORAGE.LOCAL", 26: "ALERT.RESOURCE.EXCEED", 27: "ALERT.TYPE.SYNC", 28: "ALERT.UPLOAD.FAILED",
    29: "ALERT.OOBM.AUTHERROR", 30: "ALERT.HA.ACTION", 31: "ALERT.CA.CERT", 32: "ALERT.VM.SNAPSHOT",
    33: "ALERT.VR.PUBLIC.IFACE.MTU", 34: "ALERT.VR.PRIVATE.IFACE.MTU",
}
MEMORY, CPU, STORAGE, STORAGE_ALLOCATED, HOST, MANAGEMENT = 0, 1, 2, 3, 7, 14


def raise_alert(session: Session, alert_type: int, subject: str, *, content: str | None = None,
                zone_id: int | None = None, pod_id: int | None = None, cluster_id: int | None = None,
                name: str | None = None) -> Alert:
    """Records an alert; a repeat of an unarchived alert of the same type and subject only refreshes it."""
    same = session.scalar(select(Alert).where(Alert.type == alert_type, Alert.subject == subject,
                                              Alert.archived.is_(False), Alert.zone_id == zone_id)
                          .order_by(Alert.id.desc()).limit(1))
    if same is not None:
        same.last_sent = utcnow()
        return same
    alert = Alert(type=alert_type, name=name or TYPES.get(alert_type, "ALERT.UNKNOWN"), subject=subject,
                  content=content, zone_id=zone_id, pod_id=pod_id, cluster_id=cluster_id, last_sent=utcnow())
    session.add(alert)
    log.warning("alert %s: %s", alert.name, subject)
    return alert


def _on_transition(session: Session, row: Any, old: str, new: str) -> None:
    if isinstance(row, Host) and new in ("Down", "Alert", "Disconnected") and old not in ("Down", "Alert"):
        raise_alert(session, HOST, f"Host is {new.lower()}, name: {row.name} (id:{row.id}), availability zone: "
                    f"{row.zone_id}, pod: {row.pod_id}", zone_id=row.zone_id, pod_id=row.pod_id,
                    cluster_id=row.cluster_id)


fsm.on_transition(_on_transition)


def job_failed(session: Session, command: str, job_uuid: str, text: str) -> None:
    """A job the system itself started (no user asked for it) failed: CloudStack raises a management alert."""
    raise_alert(session, MANAGEMENT, f"System job {command} ({job_uuid}) failed: {text}"[:900])


def check_capacity(session: Session) -> list[Alert]:
    """One pass of the capacity checker: clusters whose allocated CPU or memory, and pools whose used or
    allocated space, cross their notification thresholds."""
    raised: list[Alert] = []
    for cluster in session.scalars(select(Cluster).where(Cluster.removed.is_(None))):
        cpu_total, cpu_used, mem_total, mem_used = session.execute(
            select(func.coalesce(func.sum(Host.cpus * Host.speed), 0), func.coalesce(func.sum(Host.cpu_allocated), 0),
                   func.coalesce(func.sum(Host.total_memory), 0), func.coalesce(func.sum(Host.mem_allocated), 0))
            .where(Host.cluster_id == cluster.id, Host.removed.is_(None))).one()
        cpu_cap = float(cpu_total) * float(cluster.cpu_overcommit_ratio or 1)
        mem_cap = float(mem_total) * float(cluster.mem_overcommit_ratio or 1)
        for kind, used, cap, setting in (
                (CPU, float(cpu_used), cpu_cap, "cluster.cpu.allocated.capacity.notificationthreshold"),
                (MEMORY, float(mem_used), mem_cap, "cluster.memory.allocated.capacity.notificationthreshold")):
            limit = configuration.get_float(session, setting, 0.75, cluster=cluster)
            if cap and used / cap > limit:
                what = "CPU" if kind == CPU else "memory"
                raised.append(raise_alert(
                    session, kind, f"System Alert: Low Available {what} in cluster {cluster.name} pod "
                    f"{cluster.pod_id} of availability zone {cluster.zone_id}", zone_id=cluster.zone_id,
                    pod_id=cluster.pod_id, cluster_id=cluster.id,
                    content=f"Available {what}: {cap - used:.0f} of {cap:.0f} ({used / cap:.0%} used)"))
    for pool in session.scalars(select(StoragePool).where(StoragePool.removed.is_(None))):
        cap = pool.capacity_bytes or 0
        if not cap:
            continue
        for kind, used, setting in ((STORAGE, pool.used_bytes or 0, "cluster.storage.capacity.notificationthreshold"),
                                    (STORAGE_ALLOCATED, pool.allocated_bytes or 0,
                                     "cluster.storage.allocated.capacity.notificationthreshold")):
            limit = configuration.get_float(session, setting, 0.75)
            if used / cap > limit:
                what = "storage" if kind == STORAGE else "allocated storage"
                raised.append(raise_alert(
                    session, kind, f"System Alert: Low Available {what} in pool {pool.name} of availability zone "
                    f"{pool.zone_id}", zone_id=pool.zone_id, pod_id=pool.pod_id, cluster_id=pool.cluster_id,
                    content=f"{used / cap:.0%} of {cap} bytes used"))
    return raised


def start_checker(db: Any, stop_event: threading.Event) -> threading.Thread:
    """Runs check_capacity every capacity.check.period milliseconds until stop_event is set."""

    def loop() -> None:
        while not stop_event.is_set():
            period = 300.0
            try:
                with db.session() as s:
                    period = configuration.get_float(s, "capacity.check.period", 300000.0) / 1000.0
                    check_capacity(s)
            except Exception:  # noqa: BLE001 - the checker must outlive a bad pass
                log.warning("capacity check failed", exc_info=True)
            stop_event.wait(max(1.0, period))

    t = threading.Thread(target=loop, name="capacity-alerts", daemon=True)
    t.start()
    return t


