"""Management server maintenance and shutdown (plugins/maintenance).

States (CloudStack's ManagementServerHost.State): Up -> PreparingForShutDown -> ReadyToShutDown (no job left)
-> ShuttingDown (triggerShutdown), or Up -> PreparingForMaintenance -> Maintenance (no job left; the server's
hosts are handed to another Up server). While preparing, the server accepts no new async job ("A shutdown has been
triggered. Can not accept new jobs"). The state is kept per server in `mshost_maintenance`; `tick`, run after a
heartbeat round that found this server's state other than Up (services/cluster/membership.py reads it in the
heartbeat's transaction), moves this server on when its jobs are done, and stops the process once
ShuttingDown (through the shutdown hook `serve` installs; an in-process server without one just stays
ShuttingDown, so tests are safe)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.infra import Host
from management.models.jobs import AsyncJob, ManagementServer
from management.models.platform import ManagementServerMaintenance
from management.services.cluster import membership
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

MAINTENANCE_STATES = ("PreparingForMaintenance", "Maintenance")
SHUTDOWN_STATES = ("ShuttingDown", "PreparingForShutDown", "ReadyToShutDown")
NO_NEW_JOBS = ("PreparingForMaintenance", "Maintenance", *SHUTDOWN_STATES)
LB_ALGORITHMS = ("static", "roundrobin", "shuffle")
SHUTDOWN_HOOK = "shutdown"  # runtime.extras key: a callable that stops this server's listeners


def server(session: Session, msid: str) -> ManagementServer:
    row = session.get(ManagementServer, msid)
    if row is None:
        raise ParamError("Unable to find the management server")
    return row


def state_of(session: Session, ms: ManagementServer) -> str:
    m = session.get(ManagementServerMaintenance, ms.msid)
    if m is not None and m.state != "Up" and ms.state == "Up":
        return m.state
    return ms.state


def _set(session: Session, msid: str, state: str) -> None:
    m = session.get(ManagementServerMaintenance, msid)
    if m is None:
        m = ManagementServerMaintenance(msid=msid)
        session.add(m)
    m.state = state
    m.maintenance_initiated = state in MAINTENANCE_STATES
    m.shutdown_triggered = state in SHUTDOWN_STATES
    m.updated = utcnow()
    session.flush()


def pending_jobs(session: Session, msid: str) -> int:
    return session.scalar(select(func.count()).select_from(AsyncJob).where(
        AsyncJob.status == 0, or_(AsyncJob.executing_msid == msid,
                                  AsyncJob.executing_msid.is_(None) & (AsyncJob.init_msid == msid)))) or 0


def agents(session: Session, msid: str) -> list[str]:
    return list(session.scalars(select(Host.name).where(Host.mgmt_server_id == msid, Host.removed.is_(None))
                                .order_by(Host.id)))


@dataclass(frozen=True, slots=True)
class Status:
    msid: str
    state: str
    maintenance_initiated: bool
    shutdown_triggered: bool
    ready_for_shutdown: bool
    pending_jobs: int
    agents: list[str]


def status(session: Session, msid: str) -> Status:
    ms = server(session, msid)
    st = state_of(session, ms)
    jobs = pending_jobs(session, msid)
    hosts = agents(session, msid)
    return Status(msid, st, st in MAINTENANCE_STATES, st in SHUTDOWN_STATES, jobs == 0, jobs, hosts)


def accepts_jobs(session: Session, msid: str) -> bool:
    m = session.get(ManagementServerMaintenance, msid)
    return m is None or m.state not in NO_NEW_JOBS


def refuse_new_jobs(session: Session, msid: str) -> None:
    if not accepts_jobs(session, msid):
        raise InternalError("A shutdown has been triggered. Can not accept new jobs")


def prepare_for_shutdown(session: Session, msid: str) -> None:
    ms = session.get(ManagementServer, msid)
    if ms is None:
        raise InternalError("Unable to find the management server, cannot prepare for shutdown")
    if state_of(session, ms) != "Up":
        raise InternalError("Management server is not in the right state to prepare for shutdown")
    _set(session, msid, "PreparingForShutDown")


def trigger_shutdown(session: Session, msid: str) -> None:
    ms = session.get(ManagementServer, msid)
    if ms is None:
        raise InternalError("Unable to find the management server, cannot trigger shutdown")
    if state_of(session, ms) not in ("Up", "Maintenance", "PreparingForShutDown", "ReadyToShutDown"):
        raise InternalError("Management server is not in the right state to trigger shutdown")
    _set(session, msid, "ShuttingDown")


def cancel_shutdown(session: Session, msid: str) -> None:
    ms = session.get(ManagementServer, msid)
    if ms is None:
        raise InternalError("Unable to find the management server, cannot cancel shutdown")
    if state_of(session, ms) not in ("PreparingForShutDown", "ReadyToShutDown"):
        raise InternalError("Management server is not in the right state to cancel shutdown")
    _set(session, msid, "Up")


def _active(session: Session, stale_after: float) -> list[ManagementServer]:
    fresh = utcnow() - timedelta(seconds=stale_after)
    return [ms for ms in session.scalars(select(ManagementServer).where(ManagementServer.state == "Up",
                                                                         ManagementServer.last_heartbeat >= fresh))
            if state_of(session, ms) == "Up"]


def prepare_for_maintenance(session: Session, msid: str, algorithm: str | None, *, stale_after: float) -> None:
    if algorithm and algorithm.lower() not in LB_ALGORITHMS:
        raise ParamError(f"Invalid algorithm {algorithm}, valid values are: {', '.join(LB_ALGORITHMS)}")
    active = _active(session, stale_after)
    if not active:
        raise InternalError("Cannot prepare for maintenance, no active management servers found")
    if len(active) == 1:
        raise InternalError("Prepare for maintenance not supported, there is only one active management server")
    ms = session.get(ManagementServer, msid)
    if ms is None:
        raise InternalError("Cannot prepare for maintenance, unable to find the management server")
    if state_of(session, ms) != "Up":
        raise InternalError("Management server is not in the right state to prepare for maintenance")
    if session.scalar(select(ManagementServerMaintenance.msid).where(
            ManagementServerMaintenance.state == "PreparingForMaintenance").limit(1)) is not None:
        raise InternalError("Cannot prepare for maintenance, there are other management servers preparing for "
                            "maintenance")
    _set(session, msid, "PreparingForMaintenance")


def cancel_maintenance(session: Session, msid: str) -> None:
    ms = session.get(ManagementServer, msid)
    if ms is None:
        raise InternalError("Unable to find the management server, cannot cancel maintenance")
    if state_of(session, ms) not in MAINTENANCE_STATES:
        raise InternalError("Management server is not in the right state to cancel maintenance")
    _set(session, msid, "Up")


def _hand_over_hosts(session: Session, msid: str, stale_after: float) -> None:
    """Maintenance: this server's hosts go to the other Up servers, in turn."""
    others = [ms.msid for ms in _active(session, stale_after) if ms.msid != msid]
    if not others:
        return
    hosts = list(session.scalars(select(Host.id).where(Host.mgmt_server_id == msid, Host.removed.is_(None))))
    for i, host_id in enumerate(hosts):
        session.execute(update(Host).where(Host.id == host_id).values(mgmt_server_id=others[i % len(others)])
                        .execution_options(synchronize_session=False))


def tick(runtime: Runtime) -> None:
    """Moves this server on once its jobs are done; stops it when ShuttingDown."""
    msid = runtime.msid
    stale_after = max(30.0, 6 * runtime.settings.heartbeat_interval)
    with runtime.db.session() as s:
        m = s.get(ManagementServerMaintenance, msid)
        if m is None or m.state == "Up" or pending_jobs(s, msid):
            return
        state = m.state
        if state == "PreparingForShutDown":
            _set(s, msid, "ReadyToShutDown")
        elif state == "PreparingForMaintenance":
            _hand_over_hosts(s, msid, stale_after)
            _set(s, msid, "Maintenance")
    if state == "ShuttingDown":
        hook: Callable[[], None] | None = runtime.extras.get(SHUTDOWN_HOOK)
        if hook is not None:
            log.warning("shutdown triggered and no job left: stopping this management server")
            hook()


def _peek(runtime: Runtime, session: Session) -> Callable[[], None] | None:
    """In the heartbeat's transaction: a tick is due when this server is not simply Up."""
    m = session.get(ManagementServerMaintenance, runtime.msid)
    return None if m is None or m.state == "Up" else (lambda: tick(runtime))


membership.on_round(_peek)


def forget(runtime: Runtime) -> None:
    """On start: a server that shut down comes back Up (CloudStack resets the state when it starts)."""
    with runtime.db.session() as s:
        m = s.get(ManagementServerMaintenance, runtime.msid)
        if m is not None and m.state in SHUTDOWN_STATES:
            _set(s, runtime.msid, "Up")
