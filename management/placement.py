"""Placement: where a VM runs and where its volumes live (CloudStack's FirstFitPlanner + allocators).

Pure functions over rows (`candidate_hosts`, `host_fits`, `cluster_disabled`, `first_fit`, `pick_pool`) and a
few service helpers that touch the database: `plan` (load rows, apply settings, choose), `claim_host` /
`release_host` and `claim_pool` / `release_pool`, which adjust the allocation ledger with a single arithmetic
UPDATE (never read-modify-write), so concurrent deploys cannot lose an update. `claim_host` is conditional: it
only succeeds while the host still has room, so two planners racing for the last slot cannot both win.

Capacity (CloudStack's CapacityManager): a host offers cores x MHz x cpu.overprovisioning.factor of CPU and
total_memory x mem.overprovisioning.factor of RAM (the factors are the cluster's overcommit ratios). A VM needs
cpu x speed MHz and ram_size MiB. A cluster is skipped when its allocated share (with the request) would cross
cluster.{cpu,memory}.allocated.capacity.disablethreshold (when cluster.threshold.enabled). A pool offers
capacity_bytes x storage.overprovisioning.factor, capped by pool.storage.allocated.capacity.disablethreshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management.errors import InsufficientCapacity
from management.models.infra import Cluster, Host, Pod, StoragePool, Zone

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Need:
    """What a VM asks of a host."""

    cpu_mhz: int  # cpu x speed
    mem_bytes: int
    hypervisor: str | None = None
    host_tag: str | None = None
    host_id: int | None = None  # hostid pin (admins)
    avoid: frozenset[int] = frozenset()  # host ids
    avoid_clusters: frozenset[int] = frozenset()

    @classmethod
    def for_vm(cls, cpu: int, speed: int, ram_mib: int, **kw: object) -> Need:
        return cls(cpu_mhz=int(cpu) * int(speed), mem_bytes=int(ram_mib) * MiB, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Factors:
    cpu: float = 1.0
    mem: float = 1.0
    cpu_threshold: float = 0.85
    mem_threshold: float = 0.85
    thresholds_enabled: bool = True


def host_capacity(host: Host, f: Factors) -> tuple[int, int]:
    """(CPU MHz, RAM bytes) the host offers with overprovisioning."""
    return int(host.cpus * host.speed * f.cpu), int(host.total_memory * f.mem)


def host_fits(host: Host, need: Need, f: Factors) -> bool:
    cpu_cap, mem_cap = host_capacity(host, f)
    return host.cpu_allocated + need.cpu_mhz <= cpu_cap and host.mem_allocated + need.mem_bytes <= mem_cap


def _tags(value: str | None) -> set[str]:
    return {t.strip() for t in (value or "").split(",") if t.strip()}


def host_usable(host: Host, need: Need) -> bool:
    """Everything but capacity: state, hypervisor, tags, pin, avoid list."""
    if host.removed is not None or host.type != "Routing":
        return False
    if host.status != "Up" or host.resource_state != "Enabled":
        return False
    if need.host_id is not None and host.id != need.host_id:
        return False
    if host.id in need.avoid or (host.cluster_id is not None and host.cluster_id in need.avoid_clusters):
        return False
    if need.hypervisor and host.hypervisor_type.lower() != need.hypervisor.lower():
        return False
    return not (need.host_tag and not _tags(need.host_tag) <= _tags(host.host_tags))


def cluster_disabled(hosts: Sequence[Host], need: Need, f: Factors) -> bool:
    """CloudStack's cluster disable threshold: the cluster's allocated share plus the request crosses it."""
    if not f.thresholds_enabled or not hosts:
        return False
    cpu_total = sum(host_capacity(h, f)[0] for h in hosts)
    mem_total = sum(host_capacity(h, f)[1] for h in hosts)
    cpu_used = sum(h.cpu_allocated for h in hosts) + need.cpu_mhz
    mem_used = sum(h.mem_allocated for h in hosts) + need.mem_bytes
    return (cpu_total > 0 and cpu_used / cpu_total > f.cpu_threshold) or (
        mem_total > 0 and mem_used / mem_total > f.mem_threshold)


@dataclass(slots=True)
class ClusterView:
    cluster: Cluster
    hosts: list[Host] = field(default_factory=list)
    factors: Factors = field(default_factory=Factors)


def first_fit(clusters: Iterable[ClusterView], need: Need) -> list[Host]:
    """Hosts that fit, in first-fit order (clusters then hosts by id). Empty: nothing fits."""
    out: list[Host] = []
    for cv in sorted(clusters, key=lambda c: c.cluster.id):
        if cv.cluster.allocation_state != "Enabled" or cv.cluster.id in need.avoid_clusters:
            continue
        if need.hypervisor and cv.cluster.hypervisor_type.lower() != need.hypervisor.lower():
            continue
        usable = [h for h in cv.hosts if h.removed is None]
        if cluster_disabled([h for h in usable if h.status == "Up" and h.resource_state == "Enabled"], need,
                            cv.factors):
            continue
        out.extend(h for h in sorted(usable, key=lambda h: h.id)
                   if host_usable(h, need) and host_fits(h, need, cv.factors))
    return out


def no_capacity(what: str, zone: Zone | None) -> InsufficientCapacity:
    where = f"Zone {zone.uuid}" if zone is not None else "the zone"
    return InsufficientCapacity(f"Unable to create a deployment for {what}: no host in {where} has enough "
                                "capacity (insufficient capacity)")


# ------------------------------------------------------------------------------------------ database helpers

def _f(session: Session, name: str, default: float, **scope: object) -> float:
    from management.services import configuration  # local: placement sits below services in the layering

    return configuration.get_float(session, name, default, **scope)  # type: ignore[arg-type]


def factors_for(session: Session, cluster: Cluster, zone: Zone | None = None) -> Factors:
    from management.services import configuration

    enabled = (configuration.get(session, "cluster.threshold.enabled", "true") or "true").lower() == "true"
    return Factors(
        cpu=float(cluster.cpu_overcommit_ratio or 1.0),
        mem=float(cluster.mem_overcommit_ratio or 1.0),
        cpu_threshold=_f(session, "cluster.cpu.allocated.capacity.disablethreshold", 0.85, zone=zone),
        mem_threshold=_f(session, "cluster.memory.allocated.capacity.disablethreshold", 0.85, zone=zone),
        thresholds_enabled=enabled,
    )


def load_clusters(session: Session, zone: Zone, pod_id: int | None = None) -> list[ClusterView]:
    """The zone's enabled pods' clusters with their hosts (one query each)."""
    if zone.allocation_state != "Enabled":
        return []
    stmt = (select(Cluster).join(Pod, Pod.id == Cluster.pod_id)
            .where(Cluster.zone_id == zone.id, Cluster.removed.is_(None), Pod.allocation_state == "Enabled",
                   Pod.removed.is_(None)))
    if pod_id is not None:
        stmt = stmt.where(Cluster.pod_id == pod_id)
    clusters = list(session.scalars(stmt))
    if not clusters:
        return []
    hosts = session.scalars(select(Host).where(Host.cluster_id.in_([c.id for c in clusters]),
                                               Host.removed.is_(None))).unique()
    by: dict[int, ClusterView] = {c.id: ClusterView(c, [], factors_for(session, c, zone)) for c in clusters}
    for h in hosts:
        by[h.cluster_id].hosts.append(h)  # type: ignore[index]
    return list(by.values())


def plan(session: Session, zone: Zone, need: Need, *, what: str = "VM") -> list[Host]:
    """Candidate hosts in first-fit order; raises 533 when none fits."""
    hosts = first_fit(load_clusters(session, zone), need)
    if not hosts:
        raise no_capacity(what, zone)
    return hosts


def claim_host(session: Session, host: Host, need: Need, f: Factors) -> bool:
    """Atomically add the VM's needs to the host's ledger if it still fits (conditional UPDATE)."""
    cpu_cap, mem_cap = host_capacity(host, f)
    res = session.execute(
        update(Host)
        .where(Host.id == host.id, Host.cpu_allocated + need.cpu_mhz <= cpu_cap,
               Host.mem_allocated + need.mem_bytes <= mem_cap)
        .values(cpu_allocated=Host.cpu_allocated + need.cpu_mhz, mem_allocated=Host.mem_allocated + need.mem_bytes)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def claim_host_unconditional(session: Session, host_id: int, cpu_mhz: int, mem_bytes: int) -> None:
    session.execute(update(Host).where(Host.id == host_id)
                    .values(cpu_allocated=Host.cpu_allocated + cpu_mhz, mem_allocated=Host.mem_allocated + mem_bytes)
                    .execution_options(synchronize_session=False))


def release_host(session: Session, host_id: int, cpu_mhz: int, mem_bytes: int) -> None:
    session.execute(update(Host).where(Host.id == host_id)
                    .values(cpu_allocated=Host.cpu_allocated - cpu_mhz, mem_allocated=Host.mem_allocated - mem_bytes)
                    .execution_options(synchronize_session=False))


# -------------------------------------------------------------------------------------------------- storage

def pool_capacity(pool: StoragePool, factor: float, threshold: float) -> int:
    """Bytes the pool may hand out: capacity x overprovisioning factor, capped by the disable threshold."""
    return int(pool.capacity_bytes * factor * threshold)


def pool_usable(pool: StoragePool, *, cluster_id: int | None, host_id: int | None, tags: str | None) -> bool:
    if pool.removed is not None or pool.status != "Up":
        return False
    if pool.scope == "CLUSTER" and cluster_id is not None and pool.cluster_id != cluster_id:
        return False
    if pool.scope == "HOST" and pool.host_id != host_id:
        return False
    return _tags(tags) <= _tags(pool.tags)


def pick_pool(pools: Iterable[StoragePool], size: int, *, cluster_id: int | None, host_id: int | None,
              tags: str | None, factor: float, threshold: float, avoid: Iterable[int] = ()) -> StoragePool | None:
    """First fit: cluster-scoped pools of the host's cluster first, then zone-wide ones."""
    skip = set(avoid)
    order = {"HOST": 0, "CLUSTER": 1, "ZONE": 2}
    for pool in sorted(pools, key=lambda p: (order.get(p.scope, 3), p.id)):
        if pool.id in skip or not pool_usable(pool, cluster_id=cluster_id, host_id=host_id, tags=tags):
            continue
        if pool.allocated_bytes + size <= pool_capacity(pool, factor, threshold):
            return pool
    return None


def storage_factors(session: Session, zone: Zone) -> tuple[float, float]:
    return (_f(session, "storage.overprovisioning.factor", 2.0, zone=zone),
            _f(session, "pool.storage.allocated.capacity.disablethreshold", 0.85, zone=zone))


def claim_pool(session: Session, pool: StoragePool, size: int, cap: int) -> bool:
    res = session.execute(update(StoragePool)
                          .where(StoragePool.id == pool.id, StoragePool.allocated_bytes + size <= cap)
                          .values(allocated_bytes=StoragePool.allocated_bytes + size)
                          .execution_options(synchronize_session=False))
    return res.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def release_pool(session: Session, pool_id: int, size: int) -> None:
    session.execute(update(StoragePool).where(StoragePool.id == pool_id)
                    .values(allocated_bytes=StoragePool.allocated_bytes - size)
                    .execution_options(synchronize_session=False))


def choose_pool(session: Session, zone: Zone, size: int, *, cluster_id: int | None, host_id: int | None,
                tags: str | None = None, what: str = "volume") -> StoragePool:
    """Pick and claim a primary pool for `size` bytes (retrying if a racer took the room); 533 if none."""
    factor, threshold = storage_factors(session, zone)
    pools = list(session.scalars(select(StoragePool).where(StoragePool.zone_id == zone.id,
                                                           StoragePool.removed.is_(None))))
    tried: set[int] = set()
    while True:
        pool = pick_pool(pools, size, cluster_id=cluster_id, host_id=host_id, tags=tags, factor=factor,
                         threshold=threshold, avoid=tried)
        if pool is None:
            raise InsufficientCapacity(f"Unable to find suitable primary storage for {what} in Zone {zone.uuid} "
                                       f"({size} bytes{', tags ' + tags if tags else ''})")
        if claim_pool(session, pool, size, pool_capacity(pool, factor, threshold)):
            return pool
        tried.add(pool.id)
