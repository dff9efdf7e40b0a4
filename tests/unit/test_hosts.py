"""Host state changes (compare-and-swap, resource-state table) and the per-host driver cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from management.db.base import Base
from management.db.session import Database
from management.errors import ConcurrentOperation, InvalidStateTransition
from management.models.infra import Host, Zone
from management.services.infra import hosts

pytestmark = pytest.mark.unit


@pytest.fixture
def db(tmp_path: Path) -> Database:
    d = Database(f"sqlite:///{tmp_path / 'h.db'}")
    Base.metadata.create_all(d.engine)
    return d


def _host(db: Database) -> int:
    with db.session() as s:
        z = Zone(name="z")
        s.add(z)
        s.flush()
        h = Host(name="h", zone_id=z.id, hypervisor_type="Simulator", url="http://sim/unit/h0")
        s.add(h)
        s.flush()
        return h.id


def test_set_state_is_compare_and_swap(db: Database) -> None:
    from sqlalchemy.orm.attributes import set_committed_value

    hid = _host(db)
    with db.session() as s:
        h = s.get_one(Host, hid)
        hosts.set_state(s, h, status="Up")
        assert h.status == "Up" and h.update_count == 1
        set_committed_value(h, "update_count", 0)  # what a concurrent reader saw before the change
        with pytest.raises(ConcurrentOperation):
            hosts.set_state(s, h, status="Disconnected")


def test_resource_state_table(db: Database) -> None:
    hid = _host(db)
    with db.session() as s:
        h = s.get_one(Host, hid)
        hosts.set_state(s, h, resource_state="Maintenance")
        with pytest.raises(InvalidStateTransition):
            hosts.set_state(s, h, resource_state="Disabled")
        hosts.set_state(s, h, resource_state="Enabled")
        assert h.resource_state == "Enabled"


def test_driver_cache_reuses_and_rebuilds() -> None:
    cache = hosts.HostDrivers()

    class H:
        id, url, hypervisor_type = 7, "http://sim/unit/c/h1", "Simulator"

    h = H()
    d1 = cache.get(h)  # type: ignore[arg-type]
    assert cache.get(h) is d1  # type: ignore[arg-type]
    h.url = "http://sim/unit/c/h2"
    d2 = cache.get(h)  # type: ignore[arg-type]
    assert d2 is not d1 and d2.url == h.url
    cache.drop(7)
    assert cache.get(h) is not d2  # type: ignore[arg-type]
    cache.close_all()


def test_driver_cache_builds_once_and_never_closes_a_driver_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads asking for a host's driver at once share one build (resumed jobs and the host monitor at start-up used
    to build one each and close each other's in mid-call); a dropped driver stays open for the calls already
    handed it, and is closed once the grace period has passed."""
    import threading
    import time

    from management.drivers.simulator import SimulatorDriver

    built: list[SimulatorDriver] = []
    closed: list[SimulatorDriver] = []

    class Counting(SimulatorDriver):
        def connect(self) -> None:
            time.sleep(0.05)  # a slow connect widens the window in which other threads ask
            built.append(self)
            super().connect()

        def close(self) -> None:
            closed.append(self)
            super().close()

    monkeypatch.setattr(hosts, "build_driver", lambda url, hv, creds=None: Counting(url))
    now = [0.0]
    cache = hosts.HostDrivers(clock=lambda: now[0])

    class H:
        id, url, hypervisor_type = 9, "http://sim/unit/c/h9", "Simulator"

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(H()))) for _ in range(8)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and all(d is built[0] for d in got) and not closed
    cache.drop(9)
    assert not closed  # a job may still be in a call on it
    again = cache.get(H())  # type: ignore[arg-type]
    assert again is not built[0] and not closed
    now[0] += hosts.HostDrivers.RETIRE_GRACE
    cache.drop(9)
    assert closed == [built[0]]  # the first one's grace is over; the second one waits its own
    cache.close_all()
    assert closed == [built[0], again]
