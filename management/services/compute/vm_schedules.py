"""VM schedules: cron-driven start/stop/reboot of a VM (CloudStack's VMScheduleManager and VMScheduler).

Each schedule has at most one pending run (a ``vm_scheduled_job`` row for its next due time); the scheduler task
(``services.scheduling``, one owner per farm) claims due runs, queues the VM command as an async job, and plans the
next run. A run whose VM is not in a state the action applies to is recorded as skipped, as CloudStack does."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.schedules import VmSchedule, VmScheduledJob
from management.services import cron, scheduling
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

ACTIONS = ("START", "STOP", "REBOOT", "FORCE_STOP", "FORCE_REBOOT")
# action -> (API command, extra parameters, VM state the action applies to)
_COMMANDS = {
    "START": ("startVirtualMachine", {}, "Stopped"),
    "STOP": ("stopVirtualMachine", {}, "Running"),
    "FORCE_STOP": ("stopVirtualMachine", {"forced": True}, "Running"),
    "REBOOT": ("rebootVirtualMachine", {}, "Running"),
    "FORCE_REBOOT": ("rebootVirtualMachine", {}, "Running"),
}
MISSED_AFTER = timedelta(minutes=5)  # a run this late (the scheduler was down) is skipped, not replayed


def parse_action(value: str) -> str:
    action = value.upper()
    if action not in ACTIONS:
        raise ParamError(f"Invalid value for action: {value}")
    return action


def parse_schedule(value: str) -> cron.Cron:
    try:
        return cron.parse(value)
    except cron.CronError as exc:
        raise ParamError(f"Invalid schedule format: {value}. {exc}") from None


def plan_next(session: Session, sch: VmSchedule, after: datetime) -> VmScheduledJob | None:
    """Replaces the schedule's pending run by the next one after ``after`` (none when disabled or past its end)."""
    session.execute(delete(VmScheduledJob).where(VmScheduledJob.vm_schedule_id == sch.id,
                                                 VmScheduledJob.async_job_id.is_(None),
                                                 VmScheduledJob.result.is_(None)))
    if not sch.enabled or sch.removed is not None:
        return None
    start = max(after, sch.start_date - timedelta(minutes=1))
    due = parse_schedule(sch.schedule).next_after(start, sch.timezone)
    if sch.end_date is not None and due > sch.end_date:
        return None
    job = VmScheduledJob(vm_id=sch.vm_id, vm_schedule_id=sch.id, action=sch.action, scheduled_time=due)
    session.add(job)
    session.flush()
    return job


def next_run(session: Session, sch: VmSchedule) -> datetime | None:
    return session.scalar(select(VmScheduledJob.scheduled_time).where(
        VmScheduledJob.vm_schedule_id == sch.id, VmScheduledJob.async_job_id.is_(None),
        VmScheduledJob.result.is_(None)))


def remove(session: Session, schedules: list[VmSchedule], when: datetime) -> None:
    for sch in schedules:
        sch.removed = when
        plan_next(session, sch, when)


def run_due(runtime: Runtime, now: datetime) -> int:
    """The scheduler task: claims and carries out every run that is due. Returns how many jobs it queued."""
    with runtime.db.session(write=False) as s:
        due = [r.id for r in s.scalars(select(VmScheduledJob).where(
            VmScheduledJob.scheduled_time <= now, VmScheduledJob.async_job_id.is_(None),
            VmScheduledJob.result.is_(None)).order_by(VmScheduledJob.scheduled_time))]
    queued = 0
    for run_id in due:
        with runtime.db.session() as s:
            run = s.get_one(VmScheduledJob, run_id)
            sch = s.get(VmSchedule, run.vm_schedule_id)
            vm = s.get(VirtualMachine, run.vm_id)
            outcome = _claim(s, run, sch, vm, now, runtime.msid)
            if outcome is None:
                continue  # another round claimed it
            if outcome:
                queued += 1
            if sch is not None and sch.removed is None:
                plan_next(s, sch, max(run.scheduled_time, now))
    return queued


def _claim(s: Session, run: VmScheduledJob, sch: VmSchedule | None, vm: VirtualMachine | None, now: datetime,
           msid: str) -> bool | None:
    """Marks the run as handled (compare-and-swap on result); queues the VM job when it applies. None: lost the
    race; False: skipped (the reason is the run's result); True: queued."""
    def mark(result: str, job_id: int | None = None) -> bool:
        res = s.execute(update(VmScheduledJob).where(VmScheduledJob.id == run.id, VmScheduledJob.result.is_(None),
                                                     VmScheduledJob.async_job_id.is_(None))
                        .values(result=result, async_job_id=job_id))
        return bool(res.rowcount)  # type: ignore[attr-defined]

    if sch is None or sch.removed is not None or not sch.enabled or vm is None or vm.removed is not None:
        return False if mark("Skipped: the schedule or its VM is gone or disabled") else None
    if now - run.scheduled_time > MISSED_AFTER:
        return False if mark(f"Skipped: missed (the scheduler did not run at {run.scheduled_time:%Y-%m-%d %H:%M})") \
            else None
    command, extra, needed = _COMMANDS[run.action]
    if vm.state != needed:
        return False if mark(f"Skipped: VM {vm.uuid} is {vm.state}; {run.action} applies to a {needed} VM") \
            else None
    job = scheduling.submit_job(s, command, {"id": vm.uuid, **extra}, account_id=vm.account_id,
                                domain_id=vm.domain_id, instance_type="VirtualMachine", instance_uuid=vm.uuid,
                                msid=msid)
    if not mark(f"Queued {command}", job.id):
        s.delete(job)
        return None
    log.info("VM schedule %s: %s of VM %s queued as job %s", sch.uuid, run.action, vm.uuid, job.uuid)
    return True


scheduling.register("vm_schedules", run_due)
