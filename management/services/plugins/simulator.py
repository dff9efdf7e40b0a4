"""The simulator's own API (plugins/hypervisors/simulator): mock configurations that make agent commands fail,
wait or answer given values on simulated hosts, and the simulated HA provider's per-host state.

Mocks live in the simulator driver's memory (management.drivers.simulator_mocks), never in the database: this
service only turns the API's zone/pod/cluster/host scope into the simulated hosts it covers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.drivers import simulator_mocks
from management.drivers.simulator import host_key
from management.models.infra import Cluster, Host, Pod, Zone


def configure(session: Session, *, name: str, value: str, count: int | None, json_response: str | None,
              zone: Zone | None, pod: Pod | None, cluster: Cluster | None, host: Host | None) -> simulator_mocks.Mock:
    keys: frozenset[str] | None = None
    if any(x is not None for x in (zone, pod, cluster, host)):
        stmt = select(Host.url).where(Host.removed.is_(None), func.lower(Host.hypervisor_type) == "simulator")
        if host is not None:
            stmt = stmt.where(Host.id == host.id)
        if cluster is not None:
            stmt = stmt.where(Host.cluster_id == cluster.id)
        if pod is not None:
            stmt = stmt.where(Host.pod_id == pod.id)
        if zone is not None:
            stmt = stmt.where(Host.zone_id == zone.id)
        keys = frozenset(host_key(u) for u in session.scalars(stmt))
    return simulator_mocks.configure(name, value, count=count, json_response=json_response, host_keys=keys,
                                     zone_id=zone.id if zone else None, pod_id=pod.id if pod else None,
                                     cluster_id=cluster.id if cluster else None, host_id=host.id if host else None)


# ---- the simulated HA provider ------------------------------------------------------------------------------

@dataclass
class HaState:
    """What the simulated HA provider reports for a host (health/activity checks, recovery and fencing)."""

    healthy: bool = True
    activity: bool = True
    recover: bool = True
    fence: bool = True
    transitions: list[dict[str, object]] = field(default_factory=list)


_HA_LOCK = threading.Lock()
_HA: dict[int, HaState] = {}


def set_ha_state(host_id: int, *, healthy: bool, activity: bool, recover: bool, fence: bool) -> HaState:
    with _HA_LOCK:
        state = _HA.setdefault(host_id, HaState())
        state.healthy, state.activity, state.recover, state.fence = healthy, activity, recover, fence
        return state


def ha_transitions(host_id: int) -> list[dict[str, object]]:
    """The HA state transitions recorded for the host. Host HA (configureHAForHost) does not run here, so no
    transition is ever recorded: the list is honestly empty."""
    with _HA_LOCK:
        state = _HA.get(host_id)
        return list(state.transitions) if state else []
