"""Who does periodic work in a farm: one owner per object, one holder per named task.

Three tools, for every scheduler of the management server (VM sync, the host monitor and HA, the expunger, and
the snapshot, backup and VM schedulers):

- **Hosts** have an owner, CloudStack's `mgmt_server_id` (listHosts' `managementserverid`): the host monitor, HA
  and VM sync act only on the hosts this server owns (`owned_hosts`). A new host goes to the least loaded Up
  server; `rebalance` (run by one server at a time, after every heartbeat round that saw a change) gives the hosts
  of servers that are not Up to the survivors, and evens the load when a server joins.
- **Other objects** (a snapshot policy, a backup schedule, a VM schedule) have no column of their own:
  `owns(runtime, kind, key)` spreads them over the Up servers by rendezvous hashing, so each is handled by exactly
  one live server and only the objects of a server that leaves (or the share of one that joins) move.
- **Named leases** (`lease(runtime, name, seconds)`): a task that must run on one server at a time (a cluster-wide
  sweep, the rebalancer itself) holds a row in `cluster_lease` while its expiry is ahead; the holder renews it, a
  lease whose holder is not Up (or whose run ended) is free at once, without waiting for the expiry.

A scheduler that fires at a time should still make its firing a compare-and-swap (e.g. on a `next_fire` column):
ownership decides who looks, the swap makes a firing happen once even while ownership moves.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.models.infra import Host
from management.models.jobs import ClusterLease, ManagementServer
from management.services.cluster import membership
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

REBALANCE_LEASE = "cluster.rebalance"
_VIEW_TTL = 1.0  # seconds a server's view of the Up members is reused by `owns`
_views: dict[str, tuple[float, list[str]]] = {}
_views_lock = threading.Lock()


# ---- named leases -----------------------------------------------------------------------------------------------

def lease(runtime: Runtime, name: str, seconds: float = 60.0) -> bool:
    """Takes or renews the lease `name` for this server's run; False while another live run holds it."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    with runtime.db.session() as s:
        live = select(ManagementServer.msid).where(ManagementServer.state == "Up",
                                                   ManagementServer.runid == ClusterLease.runid)
        res = s.execute(update(ClusterLease).where(
            ClusterLease.name == name,
            ((ClusterLease.owner == runtime.msid) & (ClusterLease.runid == runtime.runid))
            | (ClusterLease.expires <= now) | ClusterLease.owner.not_in(live))
            .values(owner=runtime.msid, runid=runtime.runid, expires=until)
            .execution_options(synchronize_session=False))
        if res.rowcount == 1:  # type: ignore[attr-defined]
            return True
        if s.get(ClusterLease, name) is not None:
            return False
        try:
            with s.begin_nested():
                s.add(ClusterLease(name=name, owner=runtime.msid, runid=runtime.runid, expires=until))
        except IntegrityError:
            return False  # another server created it first
        return True


def release(runtime: Runtime, name: str) -> None:
    with runtime.db.session() as s:
        s.execute(update(ClusterLease).where(ClusterLease.name == name, ClusterLease.owner == runtime.msid,
                                             ClusterLease.runid == runtime.runid).values(expires=utcnow()))


# ---- objects without an owner column ----------------------------------------------------------------------------

def live_servers(runtime: Runtime) -> list[str]:
    """The msids of the Up servers (a view at most `_VIEW_TTL` seconds old)."""
    with _views_lock:
        cached = _views.get(runtime.db.url + runtime.msid)
        if cached is not None and time.monotonic() - cached[0] < _VIEW_TTL:
            return cached[1]
    with runtime.db.session(write=False) as s:
        members = [m.msid for m in membership.live(s)]
    with _views_lock:
        _views[runtime.db.url + runtime.msid] = (time.monotonic(), members)
    return members


def owner_of(members: list[str], kind: str, key: object) -> str | None:
    """Rendezvous hashing: the member with the highest hash of (member, kind, key)."""
    if not members:
        return None
    return max(members, key=lambda m: hashlib.sha256(f"{m}/{kind}/{key}".encode()).digest())


def owns(runtime: Runtime, kind: str, key: object) -> bool:
    """Whether this server handles object `key` of `kind` (a server alone, or not registered yet, owns all)."""
    members = live_servers(runtime)
    if runtime.msid not in members:
        return not members
    return owner_of(members, kind, key) == runtime.msid


# ---- hosts ------------------------------------------------------------------------------------------------------

def owned_hosts(runtime: Runtime) -> ColumnElement[bool]:
    """A WHERE clause for the hosts this server manages: its own, and any without an owner yet (the next
    rebalance gives those one)."""
    return or_(Host.mgmt_server_id == runtime.msid, Host.mgmt_server_id.is_(None))


def least_loaded(session: Session, runtime: Runtime) -> str:
    """The Up server managing the fewest hosts (this one when it is alone or not registered)."""
    members = [m.msid for m in membership.live(session)] or [runtime.msid]
    counts = dict(session.execute(select(Host.mgmt_server_id, func.count()).where(
        Host.removed.is_(None), Host.mgmt_server_id.in_(members)).group_by(Host.mgmt_server_id)).all())
    return min(members, key=lambda m: (counts.get(m, 0), m != runtime.msid, m))


def rebalance(runtime: Runtime, _down: list[str] | None = None) -> dict[str, int]:
    """Hosts of servers that are not Up go to the least loaded Up servers; then the load is evened (at most one
    host apart). One server does it at a time (a lease). Returns host moves per new owner."""
    if not lease(runtime, REBALANCE_LEASE, 30.0):
        return {}
    moved: dict[str, int] = {}
    with runtime.db.session() as s:
        members = [m.msid for m in membership.live(s)]
        if not members:
            return {}
        hosts = list(s.execute(select(Host.id, Host.mgmt_server_id, Host.name).where(
            Host.removed.is_(None), Host.type == "Routing").order_by(Host.id)))
        load: dict[str, list[int]] = {m: [] for m in members}
        orphans = []
        for host_id, owner, _name in hosts:
            if owner in load:
                load[owner].append(host_id)
            else:
                orphans.append((host_id, owner))

        def give(host_id: int, old: str | None) -> None:
            target = min(members, key=lambda m: (len(load[m]), m))
            s.execute(update(Host).where(Host.id == host_id, (Host.mgmt_server_id == old) if old is not None
                                         else Host.mgmt_server_id.is_(None)).values(mgmt_server_id=target)
                      .execution_options(synchronize_session=False))
            load[target].append(host_id)
            moved[target] = moved.get(target, 0) + 1

        for host_id, old in orphans:
            give(host_id, old)
        while True:
            busiest = max(members, key=lambda m: (len(load[m]), m))
            idlest = min(members, key=lambda m: (len(load[m]), m))
            if len(load[busiest]) - len(load[idlest]) <= 1:
                break
            host_id = load[busiest].pop()
            give(host_id, busiest)
    if moved:
        log.info("host ownership rebalanced: %s", ", ".join(f"{n} to {m}" for m, n in sorted(moved.items())))
    return moved


membership.on_peers_down(rebalance)
