"""Snapshot policies through the signed API on the simulator, and their scheduler on a controllable clock: two
management servers share the database, exactly one fires each due policy, and retention keeps maxsnaps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from management.services.storage.snapshot_policies import ManualClock, next_run
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


def root_of(api: ApiClient, vm: dict[str, Any]) -> dict[str, Any]:
    return api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("interval", "schedule", "tz", "after", "expected"), [
    (0, "30", "UTC", "2026-01-01T10:29:59", "2026-01-01T10:30:00"),
    (0, "30", "UTC", "2026-01-01T10:30:00", "2026-01-01T11:30:00"),
    (1, "02:00", "UTC", "2026-01-01T10:00:00", "2026-01-02T00:02:00"),
    (1, "00:01", "Europe/Paris", "2026-01-01T00:30:00", "2026-01-02T00:00:00"),  # 01:00 in Paris
    (2, "00:12:1", "UTC", "2026-01-01T00:00:00", "2026-01-04T12:00:00"),  # first Sunday of 2026
    (3, "15:06:28", "UTC", "2026-01-28T07:00:00", "2026-02-28T06:15:00"),
])
def test_next_run(interval: int, schedule: str, tz: str, after: str, expected: str) -> None:
    got = next_run(interval, schedule, tz, datetime.fromisoformat(after).replace(tzinfo=UTC))
    assert got == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_create_list_update_delete(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    root = root_of(api, vm)
    p = api("createSnapshotPolicy", volumeid=root["id"], intervaltype="DAILY", schedule="00:02", maxsnaps=3,
            timezone="UTC")["snapshotpolicy"]
    assert (p["volumeid"], p["intervaltype"], p["schedule"], p["maxsnaps"], p["timezone"], p["fordisplay"]) == \
        (root["id"], 1, "00:02", 3, "UTC", True)
    # the same interval again updates that policy
    again = api("createSnapshotPolicy", volumeid=root["id"], intervaltype="daily", schedule="30:04", maxsnaps=5,
                timezone="Europe/Paris")["snapshotpolicy"]
    assert again["id"] == p["id"] and (again["schedule"], again["maxsnaps"], again["timezone"]) == \
        ("30:04", 5, "Europe/Paris")
    hourly = api("createSnapshotPolicy", volumeid=root["id"], intervaltype="HOURLY", schedule="15", maxsnaps=2,
                 timezone="UTC")["snapshotpolicy"]
    listed = api("listSnapshotPolicies", volumeid=root["id"])
    assert listed["count"] == 2 and [x["id"] for x in listed["snapshotpolicy"]] == [p["id"], hourly["id"]]
    updated = api.run("updateSnapshotPolicy", id=hourly["id"], fordisplay=False)["snapshotpolicy"]
    assert updated["fordisplay"] is False
    for params, text in [
        ({"intervaltype": "HOURLY", "schedule": "61", "maxsnaps": 1}, "Invalid schedule: 61 for interval type: "
                                                                      "HOURLY"),
        ({"intervaltype": "WEEKLY", "schedule": "00:10", "maxsnaps": 1}, "Invalid schedule: 00:10 for interval "
                                                                         "type: WEEKLY"),
        ({"intervaltype": "hourly", "schedule": "5", "maxsnaps": 9}, "maxSnaps exceeds limit: 8 for interval type: "
                                                                     "hourly"),
        ({"intervaltype": "DAILY", "schedule": "00:02", "maxsnaps": 0}, "maxSnaps should be greater than 0"),
        ({"intervaltype": "YEARLY", "schedule": "00:02", "maxsnaps": 1}, "Unsupported interval type YEARLY"),
    ]:
        status, err = api.error("createSnapshotPolicy", volumeid=root["id"], timezone="UTC", **params)
        assert (status, err["errortext"]) == (431, text)
    assert api("deleteSnapshotPolicies", ids=f"{p['id']},{hourly['id']}") == {"success": True}
    assert api("listSnapshotPolicies", volumeid=root["id"]) == {}


def test_scheduler_on_a_fast_clock_keeps_maxsnaps_with_two_servers(
        server: InProcess, api: ApiClient, zone: dict[str, Any], settings_factory: Any, tmp_path: Path) -> None:
    from management.server import build
    from management.services.storage.snapshot_policies import SnapshotScheduler

    clock = ManualClock(datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    first = server.server.runtime
    first.extras["clock"] = clock
    # a second management server on the same database, with its own job workers and scheduler
    other_state = tmp_path / "ms2"
    other_state.mkdir()
    second = build(settings_factory(state_dir=other_state, db_url=server.backend.url, server_id="ms-two"),
                   start_workers=True)
    second.runtime.extras["clock"] = clock
    try:
        api("updateConfiguration", name="snapshot.poll.interval", value="0.05")
        vm = deploy(api, zone)
        root = root_of(api, vm)
        api("createSnapshotPolicy", volumeid=root["id"], intervaltype="HOURLY", schedule="30", maxsnaps=3,
            timezone="UTC")
        schedulers: list[SnapshotScheduler] = [first.extras["snapshot_scheduler"],
                                               second.runtime.extras["snapshot_scheduler"]]

        def recurring() -> list[dict[str, Any]]:
            return api("listSnapshots", volumeid=root["id"], intervaltype="HOURLY").get("snapshot", [])

        def settled(n: int) -> bool:
            # `fired` first: a firing is counted once its job row is committed, so the jobs listed after it
            # include that job (listed before, a firing in between would look settled with its job still queued)
            if sum(s.fired for s in schedulers) != n:
                return False
            jobs = api("listAsyncJobs", listall=True).get("asyncjobs", [])
            busy = [j for j in jobs if j["cmd"].endswith("createSnapshotCmd") and j["jobstatus"] == 0]
            return not busy and len(recurring()) == min(n, 3)

        assert recurring() == []
        for hour in range(1, 6):
            clock.advance(3600)
            wait_for(lambda hour=hour: settled(hour), timeout=120, what=f"firing {hour} to settle")
            # both schedulers polled this hour (interval 0.05 s), one won the firing
        snaps = recurring()
        assert len(snaps) == 3 and all(s["state"] == "BackedUp" and s["snapshottype"] == "HOURLY" for s in snaps)
        assert sum(s.fired for s in schedulers) == 5, [s.fired for s in schedulers]  # never twice
        # a manual snapshot is never counted against the policy
        api.run("createSnapshot", volumeid=root["id"])
        assert len(recurring()) == 3 and api("listSnapshots", volumeid=root["id"])["count"] == 4
    finally:
        second.queue.stop()
        second.runtime.db.dispose()
