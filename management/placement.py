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
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.orm import Session, lazyload

from management.db.prepared import prepared
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
    # The VM's owner: zones, pods, clusters and hosts dedicated to another account or domain are not used.
    account_id: int | None = None
    domain_id: int | None = None

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
    # (cpu MHz offered, RAM offered, cpu allocated, RAM allocated) over the cluster's Up+Enabled hosts, when the
    # database computed it; otherwise `hosts` is the whole cluster and the totals come from it.
    totals: tuple[int, int, int, int] | None = None


def cluster_disabled_totals(totals: tuple[int, int, int, int], need: Need, f: Factors) -> bool:
    if not f.thresholds_enabled:
        return False
    cpu_total, mem_total, cpu_used, mem_used = totals
    return (cpu_total > 0 and (cpu_used + need.cpu_mhz) / cpu_total > f.cpu_threshold) or (
        mem_total > 0 and (mem_used + need.mem_bytes) / mem_total > f.mem_threshold)


def first_fit(clusters: Iterable[ClusterView], need: Need) -> list[Host]:
    """Hosts that fit, in first-fit order (clusters then hosts by id). Empty: nothing fits."""
    out: list[Host] = []
    for cv in sorted(clusters, key=lambda c: c.cluster.id):
        if cv.cluster.allocation_state != "Enabled" or cv.cluster.id in need.avoid_clusters:
            continue
        if need.hypervisor and cv.cluster.hypervisor_type.lower() != need.hypervisor.lower():
            continue
        usable = [h for h in cv.hosts if h.removed is None]
        if cv.totals is not None:
            if cluster_disabled_totals(cv.totals, need, cv.factors):
                continue
        elif cluster_disabled([h for h in usable if h.status == "Up" and h.resource_state == "Enabled"], need,
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


def _global_factors(session: Session, zone: Zone | None) -> Factors:
    from management.services import configuration

    enabled = (configuration.get(session, "cluster.threshold.enabled", "true") or "true").lower() == "true"
    return Factors(cpu_threshold=_f(session, "cluster.cpu.allocated.capacity.disablethreshold", 0.85, zone=zone),
                   mem_threshold=_f(session, "cluster.memory.allocated.capacity.disablethreshold", 0.85, zone=zone),
                   thresholds_enabled=enabled)


def factors_for(session: Session, cluster: Cluster, zone: Zone | None = None, base: Factors | None = None) -> Factors:
    g = base or _global_factors(session, zone)
    return Factors(cpu=float(cluster.cpu_overcommit_ratio or 1.0), mem=float(cluster.mem_overcommit_ratio or 1.0),
                   cpu_threshold=g.cpu_threshold, mem_threshold=g.mem_threshold,
                   thresholds_enabled=g.thresholds_enabled)


CANDIDATES = 16  # hosts fetched per planning round (first-fit only needs the first few that fit)


def load_clusters(session: Session, zone: Zone, need: Need | None = None,
                  pod_id: int | None = None) -> list[ClusterView]:
    """The zone's enabled clusters with per-cluster capacity totals and (at most CANDIDATES) hosts that fit `need`,
    filtered in SQL so a zone of thousands of hosts costs a few indexed queries, not thousands of rows. Each
    statement is built once per shape (which filters apply) and run with the values as parameters."""
    if zone.allocation_state != "Enabled":
        return []
    hypervisor = need.hypervisor.lower() if need is not None and need.hypervisor else None
    params: dict[str, Any] = {"zone_id": zone.id, "pod_id": pod_id, "hypervisor": hypervisor}
    clusters = [c for c in session.scalars(_clusters_stmt(pod_id is not None, hypervisor is not None), params)
                if need is None or c.id not in need.avoid_clusters]
    if not clusters:
        return []
    g = _global_factors(session, zone)
    by: dict[int, ClusterView] = {c.id: ClusterView(c, [], factors_for(session, c, zone, g)) for c in clusters}
    for cid, cpu, mem, cpu_used, mem_used in session.execute(_totals_stmt(), {"clusters": list(by)}):
        assert cid is not None  # the IN filter on Host.cluster_id leaves no NULL group
        cv = by[cid]
        cv.totals = (int(float(cpu or 0) * cv.factors.cpu), int(float(mem or 0) * cv.factors.mem), int(cpu_used or 0),
                     int(mem_used or 0))
    params = {"clusters": list(by)}
    shape: tuple[Any, ...] = (None,)
    if need is not None:
        # Clusters the threshold disables are skipped before fetching their hosts.
        keep = [cid for cid, cv in by.items() if cv.totals is None or not cluster_disabled_totals(cv.totals, need,
                                                                                                    cv.factors)]
        params.update(cpu=need.cpu_mhz, mem=need.mem_bytes, host_id=need.host_id, avoid=list(need.avoid),
                      hypervisor=hypervisor, account_id=need.account_id, domain_id=need.domain_id, keep=keep)
        shape = (need.host_id is not None, bool(need.avoid), hypervisor is not None, need.account_id is not None)
    limited = need is None or not need.host_tag
    for h in session.scalars(_hosts_stmt(shape, limited), params):
        by[h.cluster_id].hosts.append(h)  # type: ignore[index]
    return list(by.values())


_UP = (Host.cluster_id.in_(bindparam("clusters", expanding=True)), Host.removed.is_(None), Host.status == "Up",
       Host.resource_state == "Enabled", Host.type == "Routing")


def _clusters_stmt(by_pod: bool, by_hypervisor: bool) -> Any:
    def build() -> Any:
        stmt = (select(Cluster).join(Pod, Pod.id == Cluster.pod_id)
                .where(Cluster.zone_id == bindparam("zone_id"), Cluster.removed.is_(None),
                       Cluster.allocation_state == "Enabled", Pod.allocation_state == "Enabled", Pod.removed.is_(None)))
        if by_pod:
            stmt = stmt.where(Cluster.pod_id == bindparam("pod_id"))
        if by_hypervisor:
            stmt = stmt.where(func.lower(Cluster.hypervisor_type) == bindparam("hypervisor"))
        return stmt

    return prepared(("placement-clusters", by_pod, by_hypervisor), build)


def _totals_stmt() -> Any:
    return prepared("placement-totals", lambda: select(
        Host.cluster_id, func.sum(Host.cpus * Host.speed), func.sum(Host.total_memory), func.sum(Host.cpu_allocated),
        func.sum(Host.mem_allocated)).where(*_UP).group_by(Host.cluster_id))


def _hosts_stmt(shape: tuple[Any, ...], limited: bool) -> Any:
    """Hosts of the clusters that are Up; with a need (shape: pinned host, hosts to avoid, hypervisor, owner),
    only those it fits on, in first-fit order."""
    def build() -> Any:
        hq = (select(Host).join(Cluster, Cluster.id == Host.cluster_id).where(*_UP)
              .options(lazyload(Host.zone), lazyload(Host.pod), lazyload(Host.cluster)))
        if shape != (None,):
            pinned, avoiding, by_hypervisor, owned = shape
            hq = hq.where(
                Host.cpu_allocated + bindparam("cpu") <= Host.cpus * Host.speed * Cluster.cpu_overcommit_ratio,
                Host.mem_allocated + bindparam("mem") <= Host.total_memory * Cluster.mem_overcommit_ratio,
                Host.cluster_id.in_(bindparam("keep", expanding=True)))
            if pinned:
                hq = hq.where(Host.id == bindparam("host_id"))
            if avoiding:
                hq = hq.where(Host.id.not_in(bindparam("avoid", expanding=True)))
            if by_hypervisor:
                hq = hq.where(func.lower(Host.hypervisor_type) == bindparam("hypervisor"))
            if owned:
                hq = hq.where(~_dedicated_to_others())
        hq = hq.order_by(Host.cluster_id, Host.id)
        return hq.limit(CANDIDATES) if limited else hq

    return prepared(("placement-hosts", shape, limited), build)


def _dedicated_to_others() -> ColumnElement[bool]:
    """Hosts whose zone, pod, cluster or own row is dedicated (dedicateZone/Pod/Cluster/Host) to an owner other
    than the VM's (parameters account_id and domain_id): another account, or a domain that is neither the VM's
    domain nor one of its ancestors."""
    from sqlalchemy import and_, exists, or_
    from sqlalchemy.orm import aliased

    from management.db.subtree import in_subtree
    from management.models.identity import Domain
    from management.models.platform import DedicatedResource as D

    vm_domain = aliased(Domain)  # its own alias: the dedicated domain below must not correlate into it
    vm_path = select(vm_domain.path).where(vm_domain.id == bindparam("domain_id")).scalar_subquery()
    below_dedicated = exists().where(Domain.id == D.domain_id,  # the VM's domain is the dedicated one or below it
                                     in_subtree(vm_path, Domain.path))
    # Written so no NULL reaches the NOT below (NULL = x is NULL, and NOT NULL would hide the host's dedication).
    admits = or_(and_(D.account_id.is_not(None), D.account_id == bindparam("account_id")),
                 and_(D.account_id.is_(None), below_dedicated))
    covers = or_(D.host_id == Host.id, D.cluster_id == Host.cluster_id, D.pod_id == Host.pod_id,
                 D.zone_id == Host.zone_id)
    return exists().where(covers, ~admits)


@dataclass(frozen=True, slots=True)
class Candidate:
    host: Host
    factors: Factors


def plan(session: Session, zone: Zone, need: Need, *, what: str = "VM") -> list[Candidate]:
    """Candidate hosts (with their cluster's factors) in first-fit order; raises 533 when none fits."""
    views = load_clusters(session, zone, need)
    factors = {cv.cluster.id: cv.factors for cv in views}
    hosts = first_fit(views, need)
    if not hosts:
        raise no_capacity(what, zone)
    return [Candidate(h, factors[h.cluster_id]) for h in hosts]  # type: ignore[index]


def claim_host(session: Session, host: Host, need: Need, f: Factors) -> bool:
    """Atomically add the VM's needs to the host's ledger if it still fits (conditional UPDATE)."""
    cpu_cap, mem_cap = host_capacity(host, f)
    stmt = prepared("placement-claim-host", lambda: (
        update(Host)
        .where(Host.id == bindparam("b_id"), Host.cpu_allocated + bindparam("b_cpu") <= bindparam("b_cpu_cap"),
               Host.mem_allocated + bindparam("b_mem") <= bindparam("b_mem_cap"))
        .values(cpu_allocated=Host.cpu_allocated + bindparam("b_cpu"),
                mem_allocated=Host.mem_allocated + bindparam("b_mem"))
        .execution_options(synchronize_session=False)))
    res = session.execute(stmt, {"b_id": host.id, "b_cpu": need.cpu_mhz, "b_mem": need.mem_bytes,
                                 "b_cpu_cap": cpu_cap, "b_mem_cap": mem_cap})
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
    stmt = prepared("placement-claim-pool", lambda: (
        update(StoragePool)
        .where(StoragePool.id == bindparam("b_id"),
               StoragePool.allocated_bytes + bindparam("b_size") <= bindparam("b_cap"))
        .values(allocated_bytes=StoragePool.allocated_bytes + bindparam("b_size"))
        .execution_options(synchronize_session=False)))
    res = session.execute(stmt, {"b_id": pool.id, "b_size": size, "b_cap": cap})
    return res.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def claim_pool_unconditional(session: Session, pool_id: int, size: int) -> None:
    """Add to a pool's ledger without a capacity check (a copy in flight holds space on both pools)."""
    session.execute(update(StoragePool).where(StoragePool.id == pool_id)
                    .values(allocated_bytes=StoragePool.allocated_bytes + size)
                    .execution_options(synchronize_session=False))


def release_pool(session: Session, pool_id: int, size: int) -> None:
    session.execute(update(StoragePool).where(StoragePool.id == pool_id)
                    .values(allocated_bytes=StoragePool.allocated_bytes - size)
                    .execution_options(synchronize_session=False))


def choose_pool(session: Session, zone: Zone, size: int, *, cluster_id: int | None, host_id: int | None,
                tags: str | None = None, what: str = "volume") -> StoragePool:
    """Pick and claim a primary pool for `size` bytes (retrying if a racer took the room); 533 if none."""
    factor, threshold = storage_factors(session, zone)
    pools = list(session.scalars(prepared("placement-pools", lambda: select(StoragePool).where(
        StoragePool.zone_id == bindparam("zone_id"), StoragePool.removed.is_(None))), {"zone_id": zone.id}))
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
