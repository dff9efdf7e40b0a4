"""VM schedules on the simulator, driven by a clock the test moves: a due run queues the VM command as a job
(the VM really stops/starts), a run that does not apply is skipped, the scheduler lease has one owner at a time,
and cron expressions/time zones are evaluated as CloudStack evaluates them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from management.services import cron, scheduling
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


@pytest.fixture
def clock(server: InProcess) -> Iterator[FakeClock]:
    c = FakeClock(datetime(2030, 1, 7, 9, 58, 30, tzinfo=UTC))
    server.server.runtime.extras["clock"] = c
    yield c
    server.server.runtime.extras.pop("clock", None)


def _runs(server: InProcess, schedule_id: str) -> list[Any]:
    from management.models.schedules import VmSchedule, VmScheduledJob

    with server.server.runtime.db.session(write=False) as s:
        sid = s.scalar(select(VmSchedule.id).where(VmSchedule.uuid == schedule_id))
        return [(r.scheduled_time, r.result, r.async_job_id) for r in s.scalars(
            select(VmScheduledJob).where(VmScheduledJob.vm_schedule_id == sid).order_by(VmScheduledJob.id))]


def test_schedule_stops_and_starts_a_vm(server: InProcess, api: ApiClient, zone: dict[str, Any],
                                        clock: FakeClock) -> None:
    runtime = server.server.runtime
    vm = deploy(api, zone)
    stop = api("createVMSchedule", virtualmachineid=vm["id"], schedule="0 10 * * *", timezone="UTC",
               action="stop", description="nightly")["vmschedule"]
    assert (stop["action"], stop["schedule"], stop["timezone"], stop["enabled"]) == ("STOP", "0 10 * * *", "UTC",
                                                                                    True)
    assert _runs(server, stop["id"])[0][0] == datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
    assert scheduling.run_once(runtime) is True
    assert api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Running"  # not due yet
    clock.advance(minutes=2)
    scheduling.run_once(runtime)
    wait_for(lambda: api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Stopped",
             what="the scheduled stop")
    runs = _runs(server, stop["id"])
    assert runs[0][1] == "Queued stopVirtualMachine" and runs[0][2] is not None
    assert runs[1][0] == datetime(2030, 1, 8, 10, 0, tzinfo=UTC) and runs[1][1] is None  # next one planned
    # a start schedule for 10:05
    start = api("createVMSchedule", virtualmachineid=vm["id"], schedule="5 10 * * *", timezone="UTC",
                action="START")["vmschedule"]
    clock.advance(minutes=5)
    scheduling.run_once(runtime)
    wait_for(lambda: api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["state"] == "Running",
             what="the scheduled start")
    assert api("listVMSchedule", virtualmachineid=vm["id"])["count"] == 2
    assert api("listVMSchedule", virtualmachineid=vm["id"], action="START")["vmschedule"][0]["id"] == start["id"]
    # disabled: nothing planned; enabled again: planned from now
    upd = api("updateVMSchedule", id=start["id"], enabled=False, description="off")["vmschedule"]
    assert upd["enabled"] is False and [r for r in _runs(server, start["id"]) if r[1] is None] == []
    api("updateVMSchedule", id=start["id"], enabled=True, schedule="*/15 * * * *")
    assert [r[0] for r in _runs(server, start["id"]) if r[1] is None] == [datetime(2030, 1, 7, 10, 15, tzinfo=UTC)]
    # a START while the VM runs is recorded as skipped
    clock.advance(minutes=10)
    scheduling.run_once(runtime)
    assert any("Skipped" in (r[1] or "") for r in _runs(server, start["id"]))
    assert api("deleteVMSchedule", virtualmachineid=vm["id"], ids=f"{start['id']},{stop['id']}")["success"] is True
    assert api("listVMSchedule", virtualmachineid=vm["id"]) == {}


def test_validation_and_isolation(api: ApiClient, zone: dict[str, Any], clock: FakeClock) -> None:
    vm = deploy(api, zone)
    base = {"virtualmachineid": vm["id"], "timezone": "UTC"}
    status, err = api.error("createVMSchedule", **base, schedule="0 10 * * *", action="explode")
    assert status == 431 and err["errortext"] == "Invalid value for action: explode"
    status, err = api.error("createVMSchedule", **base, schedule="61 10 * * *", action="start")
    assert status == 431 and "Invalid schedule format" in err["errortext"]
    status, err = api.error("createVMSchedule", **base, schedule="0 10 * * *", action="start",
                            startdate="2020-01-01 00:00:00")
    assert status == 431 and "start can't be less than current datetime" in err["errortext"]
    status, err = api.error("createVMSchedule", **base, schedule="0 10 * * *", action="start",
                            startdate="2030-02-01 00:00:00", enddate="2030-01-20 00:00:00")
    assert status == 431 and "End date can't be less than start date" in err["errortext"]
    sch = api("createVMSchedule", virtualmachineid=vm["id"], schedule="@daily", action="reboot",
              timezone="Asia/Kolkata")["vmschedule"]
    assert sch["timezone"] == "Asia/Kolkata"
    status, err = api.error("deleteVMSchedule", virtualmachineid=vm["id"])
    assert status == 431
    other = api.client_for(api.new_account())
    status, _ = other.error("listVMSchedule", virtualmachineid=vm["id"])
    assert status == 531
    status, _ = other.error("updateVMSchedule", id=sch["id"], description="mine")
    assert status == 531
    status, _ = other.error("createVMSchedule", **base, schedule="0 1 * * *", action="stop")
    assert status == 531


def test_scheduler_lease_has_one_owner(server: InProcess, clock: FakeClock) -> None:
    runtime = server.server.runtime
    # the server's own scheduler thread takes the lease in its first round, which may come after any release here
    runtime.extras.pop("scheduler").stop()  # stops the thread and releases its lease
    assert scheduling.holder(runtime) is None
    assert scheduling.acquire(runtime, "ms-a") is True
    assert scheduling.acquire(runtime, "ms-b") is False
    assert scheduling.run_once(runtime, owner="ms-b") is False
    assert scheduling.holder(runtime) == "ms-a"
    clock.advance(seconds=30)
    assert scheduling.acquire(runtime, "ms-a") is True  # renewed
    clock.advance(seconds=scheduling.LEASE_SECONDS + 1)  # ms-a stopped renewing
    assert scheduling.acquire(runtime, "ms-b") is True
    assert scheduling.holder(runtime) == "ms-b"
    scheduling.release(runtime, "ms-b")
    assert scheduling.holder(runtime) is None


def test_cron_evaluation() -> None:
    t = datetime(2030, 1, 7, 9, 58, tzinfo=UTC)  # a Monday
    assert cron.parse("0 10 * * *").next_after(t) == datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
    assert cron.parse("0 10 * * *").next_after(t, "Asia/Kolkata") == datetime(2030, 1, 8, 4, 30, tzinfo=UTC)
    assert cron.parse("*/20 * * * *").next_after(t) == datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
    assert cron.parse("0 0 * * sun").next_after(t) == datetime(2030, 1, 13, 0, 0, tzinfo=UTC)
    assert cron.parse("0 0 1,15 * mon").next_after(t) == datetime(2030, 1, 14, 0, 0, tzinfo=UTC)  # dom OR dow
    assert cron.interval_schedule("WEEKLY", "30:02:2").next_after(t) == datetime(2030, 1, 14, 2, 30, tzinfo=UTC)
    assert cron.interval_schedule("MONTHLY", "0:0:1").next_after(t) == datetime(2030, 2, 1, 0, 0, tzinfo=UTC)
    for bad in ("* * * *", "60 * * * *", "0 24 * * *", "a b c d e"):
        with pytest.raises(cron.CronError):
            cron.parse(bad)
    with pytest.raises(cron.CronError):
        cron.interval_schedule("DAILY", "61:00")
