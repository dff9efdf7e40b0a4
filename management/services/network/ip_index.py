"""The free guest address of a network without reading every used one: probe a window of candidates from a hint.

Allocation hands out the lowest free address of a span (a network's CIDR, or a shared network's IP range). Reading
all used addresses of the network for that is O(NICs) rows per deploy; instead each span keeps, per database
engine in this process, a hint: every address of the span below it is known to be in use. A lookup asks the
database which of the next ``WINDOW`` candidates from the hint are taken (an indexed ``IN`` on ``nics`` and
``nic_secondary_ips``) and takes the first that is not, so a deploy reads a window, not the network.

On MariaDB the locking read walks the network's NICs in the network_id index (see ``taken``), in the
server, returning only the window's; on SQLite it is a handful of address-index lookups.

The database stays the only truth: the hint only says where to start looking, and a lookup that reaches the end of
the span starts over from its first address before it reports the span full. Addresses given back (a NIC removed
or deleted, its address changed, a secondary address deleted) lower the hint when the session flushes and again
when it commits (a probe between the two would otherwise move the hint past the address while it still looked
taken). Released elsewhere (another process, a bulk statement), an address is found again on the next wrap.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from management.db.prepared import prepared
from management.models.network import Nic
from management.models.nic_secondary_ips import NicSecondaryIp

WINDOW = 64
_RELEASED = "devcloud_released_addresses"

# engine -> (network id, span first, span last) -> lowest address of the span that may be free
_HINTS: weakref.WeakKeyDictionary[Engine, dict[tuple[int, int, int], int]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def ip_int(ip: str) -> int:
    a, b, c, d = (int(p) for p in ip.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def dotted(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _hints(session: Session) -> dict[tuple[int, int, int], int]:
    engine = session.get_bind().engine  # an Engine's .engine is itself; a Connection's is its engine
    with _LOCK:
        return _HINTS.setdefault(engine, {})


def taken(session: Session, network_id: int, candidates: list[str], *, locking: bool = False) -> set[str]:
    """Which of ``candidates`` a live NIC or a secondary address of the network holds; ``locking`` reads the
    latest committed rows (not a MariaDB snapshot)."""
    if not candidates:
        return set()
    params = {"network_id": network_id, "candidates": list(candidates)}
    out = {ip for ip in session.scalars(_nics_holding(locking), params) if ip is not None}
    return out | set(session.scalars(prepared("ip-index-secondary", lambda: select(NicSecondaryIp.ip4_address).where(
        NicSecondaryIp.network_id == bindparam("network_id"),
        NicSecondaryIp.ip4_address.in_(bindparam("candidates", expanding=True)))), params))


def _nics_holding(locking: bool) -> Any:
    def build() -> Any:
        stmt = select(Nic.ip4_address).where(Nic.network_id == bindparam("network_id"), Nic.removed.is_(None),
                                             Nic.ip4_address.in_(bindparam("candidates", expanding=True)))
        if locking:
            # A locking read sees the latest committed NICs (not a MariaDB snapshot older than the network's
            # lock). Through the network_id index it locks this network's NIC rows, as the allocation always has:
            # through the address index it would take gap locks on the address, which other networks' NICs
            # share, and two allocations in different networks deadlocked on them.
            stmt = stmt.with_for_update()
            for dialect in ("mysql", "mariadb"):
                stmt = stmt.with_hint(Nic, "FORCE INDEX (ix_nics_network_id)", dialect)
        return stmt

    return prepared(("ip-index-nics", locking), build)


def first_free(session: Session, network_id: int, lo: int, hi: int, reserved: Iterable[str] = ()) -> str | None:
    """The lowest free address of lo..hi (integers, inclusive) outside ``reserved``; the caller holds the
    network's allocation lock. Records the answer as the span's hint."""
    hints = _hints(session)
    key = (network_id, lo, hi)
    skip = set(reserved)
    start = min(max(hints.get(key, lo), lo), hi + 1)
    # From the hint to the end, then (all taken there) from the first address up to the hint.
    for first, last in [(start, hi), (lo, start - 1)] if start > lo else [(lo, hi)]:
        for n in range(first, last + 1, WINDOW):
            batch = [ip for ip in map(dotted, range(n, min(n + WINDOW, last + 1))) if ip not in skip]
            used = taken(session, network_id, batch, locking=True)
            free = next((ip for ip in batch if ip not in used), None)
            if free is not None:
                with _LOCK:
                    hints[key] = ip_int(free)
                return free
    return None


def _lower(bind: Any, released: Iterable[tuple[int, str]]) -> None:
    engine = getattr(bind, "engine", None)
    if not isinstance(engine, Engine):
        return
    with _LOCK:
        hints = _HINTS.get(engine)
        if not hints:
            return
        for network_id, ip in released:
            try:
                n = ip_int(ip)
            except ValueError:
                continue
            for key, hint in hints.items():
                if key[0] == network_id and key[1] <= n <= key[2] and n < hint:
                    hints[key] = n


def _released(session: Session) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Nic):
            attrs = inspect(obj).attrs
            gone = obj in session.deleted or bool(attrs.removed.history.added and obj.removed is not None)
            if gone and obj.ip4_address:
                out.append((obj.network_id, obj.ip4_address))
            out += [(obj.network_id, ip) for ip in attrs.ip4_address.history.deleted or () if ip]
        elif isinstance(obj, NicSecondaryIp) and obj in session.deleted and obj.ip4_address:
            out.append((obj.network_id, obj.ip4_address))
    return out


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    released = _released(session)
    if released:
        _lower(session.get_bind(), released)
        session.info.setdefault(_RELEASED, []).extend(released)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    released = session.info.pop(_RELEASED, None)
    if released:
        _lower(session.get_bind(), released)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_RELEASED, None)


__all__ = ["WINDOW", "dotted", "first_free", "ip_int", "taken"]
