"""HA providers: how a host that stopped answering is investigated and fenced (CloudStack's host HA providers).

The investigation needs a second signal, independent of the management link that failed: every host writes a
heartbeat into its primary storage, and a *neighbour* (another Up host that sees the same pool) reads it. A fresh
heartbeat means the host is alive and only the link to it is broken (its VMs are left alone); a stale one means it
is dead. Providers:

- `simulatorhaprovider` (Simulator): the simulated host's storage heartbeat (drivers/simulator.py, fault-injectable:
  `set_host_alive`); fencing powers the simulated host off.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from management.drivers.base import Capability
from management.drivers.errors import DriverError
from management.errors import CloudError
from management.models.infra import Host
from management.services import hypervisors
from management.services.infra import hosts as hosts_service
from management.services.runtime import Runtime

log = logging.getLogger(__name__)


class Activity(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Verdict:
    activity: Activity
    detail: str


@dataclass(frozen=True, slots=True)
class _Target:
    """What a provider reads of the host under investigation (no session held during I/O)."""

    id: int
    name: str
    url: str
    cluster_id: int | None
    zone_id: int
    hypervisor: str


class HAProvider:
    name = ""
    hypervisors: tuple[str, ...] = ()
    fresh_seconds = 5.0  # a heartbeat younger than this shows the host alive

    def heartbeat_id(self, host: _Target) -> str:
        return host.name

    def activity(self, runtime: Runtime, host: _Target) -> Verdict:
        """Ask the neighbours of `host` when it last wrote its storage heartbeat."""
        with runtime.db.session(write=False) as s:
            row = s.get_one(Host, host.id)
            pools = [(p.uuid, p.name) for p in hosts_service.pools_for_host(s, row)
                     if p.scope in ("CLUSTER", "ZONE")]
            neighbours = list(s.scalars(select(Host).where(
                Host.id != host.id, Host.removed.is_(None), Host.status == "Up", Host.type == "Routing",
                Host.zone_id == host.zone_id, Host.hypervisor_type == host.hypervisor).order_by(Host.id)))
            for n in neighbours:
                s.expunge(n)
        if not pools:
            return Verdict(Activity.UNKNOWN, "the host has no shared primary storage to hold its heartbeat")
        newest: float | None = None
        asked = []
        for n in neighbours:
            try:
                d = hypervisors.driver_for(runtime, n)
                if not d.supports(Capability.HA_HEARTBEAT):
                    continue
                for pool_uuid, _name in pools:
                    beat = d.read_heartbeat(pool_uuid, self.heartbeat_id(host))
                    if beat is not None and (newest is None or beat > newest):
                        newest = beat
                asked.append(n.name)
            except (DriverError, CloudError) as exc:
                log.info("HA: neighbour %s could not read the heartbeat of %s: %s", n.name, host.name, exc)
            if asked:
                break  # one neighbour's view of the shared pools is the answer
        if not asked:
            return Verdict(Activity.UNKNOWN, "no neighbour host could read its storage heartbeat")
        if newest is None:
            return Verdict(Activity.DEAD, f"no storage heartbeat found (read by {asked[0]})")
        age = time.time() - newest
        if age <= self.fresh_seconds:
            return Verdict(Activity.ALIVE, f"storage heartbeat {age:.0f}s old (read by {asked[0]})")
        return Verdict(Activity.DEAD, f"last storage heartbeat {age:.0f}s old (read by {asked[0]})")

    def fence(self, runtime: Runtime, host: _Target) -> tuple[bool, str]:
        return True, "the host stopped writing its storage heartbeat (self-fenced)"


class SimulatorHAProvider(HAProvider):
    name = "simulatorhaprovider"
    hypervisors = ("Simulator",)

    def heartbeat_id(self, host: _Target) -> str:
        return host.url  # a simulated host is known by its URL

    def fence(self, runtime: Runtime, host: _Target) -> tuple[bool, str]:
        from management.drivers import simulator

        simulator.set_host_alive(host.url, False)  # power the simulated host off (a no-op for a dead one)
        return True, "the simulated host was powered off"


PROVIDERS: dict[str, HAProvider] = {p.name: p for p in (SimulatorHAProvider(),)}


def for_hypervisor(hypervisor: str) -> list[HAProvider]:
    return [p for p in PROVIDERS.values() if hypervisor.lower() in (h.lower() for h in p.hypervisors)]


def target(host: Host) -> _Target:
    return _Target(host.id, host.name, host.url, host.cluster_id, host.zone_id, host.hypervisor_type)

