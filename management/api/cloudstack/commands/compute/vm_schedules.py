"""VM schedules: createVMSchedule, listVMSchedule, updateVMSchedule, deleteVMSchedule (the runs are carried out by
services.compute.vm_schedules through the scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ApiType, Date, ListParams, Params, Ref, api_command
from management.api.cloudstack.schemas_storage import VmScheduleResp
from management.errors import InternalError, ParamError
from management.models.compute import VirtualMachine
from management.models.schedules import VmSchedule
from management.services import access, cron, scheduling
from management.services.compute import vm_schedules as svc
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate


def _visible(session: object, caller: object, row: VmSchedule, kind: str) -> bool:
    vm = session.get(VirtualMachine, row.vm_id)  # type: ignore[attr-defined]
    return vm is not None and access.can_access_owner(session, caller, vm.account_id, vm.domain_id)  # type: ignore[arg-type]


access.register_entity("VMSchedule", VmSchedule, "custom", visible=_visible)


def _date(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            d = datetime.strptime(value, fmt)
            return d if d.tzinfo else d.replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ParamError(f"Unable to parse the {what} {value}: expected yyyy-MM-dd HH:mm:ss")


def _resp(ctx: CallContext, sch: VmSchedule) -> VmScheduleResp:
    vm = ctx.session.get_one(VirtualMachine, sch.vm_id)
    return VmScheduleResp(id=sch.uuid, virtualmachineid=vm.uuid, description=sch.description,
                          schedule=sch.schedule, timezone=sch.timezone, action=sch.action, enabled=sch.enabled,
                          startdate=sch.start_date, enddate=sch.end_date, created=sch.created)


class CreateVMScheduleParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of the VM for which schedule "
                                                                    "is to be defined")
    description: str | None = Field(None, description="Description of the schedule")
    schedule: str = Field(description="Schedule for action on VM in cron format. e.g. '0 15 10 * *' for 'at 15:00 "
                          "on 10th day of every month'")
    timezone: str = Field(description="Specifies a timezone for this command. For more information on the "
                          "timezone parameter, see TimeZone Format.")
    action: str = Field(description="Action to take on the VM (start/stop/restart/force_stop/force_reboot).")
    startdate: Date | None = Field(None, description="start date from which the schedule becomes activeUse format "
                                   "\"yyyy-MM-dd hh:mm:ss\")")
    enddate: Date | None = Field(None, description="end date after which the schedule becomes inactiveUse format "
                                 "\"yyyy-MM-dd hh:mm:ss\")")
    enabled: bool = Field(True, description="Enable VM schedule. Defaults to true")


@api_command("createVMSchedule", params=CreateVMScheduleParams, result_key="vmschedule", response=VmScheduleResp,
             entity="VirtualMachine", event="VM.SCHEDULE.CREATE", since="4.19.0", description="Create VM Schedule")
def create_vm_schedule(ctx: CallContext, p: CreateVMScheduleParams) -> VmScheduleResp:
    vm: VirtualMachine = ctx.refs["virtualmachineid"]
    action = svc.parse_action(p.action)
    now = scheduling.now(ctx.runtime)
    start, end = _date(p.startdate, "start date"), _date(p.enddate, "end date")
    if start is None:
        start = now
    elif start < now:
        raise ParamError("Invalid value for start date. start can't be less than current datetime")
    if end is not None and start > end:
        raise ParamError("Invalid value for end date. End date can't be less than start date.")
    parsed = svc.parse_schedule(p.schedule)
    sch = VmSchedule(vm_id=vm.id, description=p.description, schedule=parsed.text, timezone=cron.zone_id(p.timezone),
                     action=action, enabled=p.enabled, start_date=start, end_date=end)
    ctx.session.add(sch)
    ctx.session.flush()
    svc.plan_next(ctx.session, sch, now)
    return _resp(ctx, sch)


class ListVMScheduleParams(ListParams):
    virtualmachineid: Annotated[str, Ref("VirtualMachine", "read")] = Field(description="ID of the VM for which "
                                                                            "schedule is to be defined")
    id: Annotated[str | None, Ref("VMSchedule", "read")] = Field(None, description="ID of VM schedule")
    action: str | None = Field(None, description="Action taken by schedule")
    enabled: bool | None = Field(None, description="ID of VM schedule")


@api_command("listVMSchedule", params=ListVMScheduleParams, result_key="vmschedule", response=VmScheduleResp,
             since="4.19.0", description="List VM Schedules.")
def list_vm_schedule(ctx: CallContext, p: ListVMScheduleParams) -> ListResult:
    stmt = select(VmSchedule).where(VmSchedule.removed.is_(None),
                                    VmSchedule.vm_id == ctx.refs["virtualmachineid"].id)
    if p.id:
        stmt = stmt.where(VmSchedule.uuid == p.id)
    if p.action:
        stmt = stmt.where(VmSchedule.action == svc.parse_action(p.action))
    if p.enabled is not None:
        stmt = stmt.where(VmSchedule.enabled.is_(p.enabled))
    stmt = keyword_filter(stmt, p.keyword, VmSchedule.description)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VmSchedule.id)
    return ListResult([_resp(ctx, r) for r in rows], count)


class UpdateVMScheduleParams(Params):
    id: Annotated[str, Ref("VMSchedule")] = Field(description="ID of VM schedule")
    description: str | None = Field(None, description="Name of the schedule")
    schedule: str | None = Field(None, description="Schedule for action on VM in cron format. e.g. '0 15 10 * *' "
                                 "for 'at 15:00 on 10th day of every month'")
    timezone: str | None = Field(None, description="Specifies a timezone for this command. For more information "
                                 "on the timezone parameter, see TimeZone Format.")
    startdate: Date | None = Field(None, description="start date from which the schedule becomes activeUse format "
                                   "\"yyyy-MM-dd hh:mm:ss\")")
    enddate: Date | None = Field(None, description="end date after which the schedule becomes inactiveUse format "
                                 "\"yyyy-MM-dd hh:mm:ss\")")
    enabled: bool | None = Field(None, description="Enable VM schedule")


@api_command("updateVMSchedule", params=UpdateVMScheduleParams, result_key="vmschedule", response=VmScheduleResp,
             entity="VirtualMachine", event="VM.SCHEDULE.UPDATE", since="4.19.0", description="Update VM Schedule.")
def update_vm_schedule(ctx: CallContext, p: UpdateVMScheduleParams) -> VmScheduleResp:
    sch: VmSchedule = ctx.refs["id"]
    start, end = _date(p.startdate, "start date"), _date(p.enddate, "end date")
    if end is not None and ((start is not None and start > end) or sch.start_date > end):
        raise ParamError("Invalid value for end date. End date can't be less than start date.")
    if p.schedule is not None:
        sch.schedule = svc.parse_schedule(p.schedule).text
    if p.description is not None:
        sch.description = p.description
    if p.timezone is not None:
        sch.timezone = cron.zone_id(p.timezone)
    if start is not None:
        sch.start_date = start
    if end is not None:
        sch.end_date = end
    if p.enabled is not None:
        sch.enabled = p.enabled
    ctx.session.flush()
    svc.plan_next(ctx.session, sch, scheduling.now(ctx.runtime))
    return _resp(ctx, sch)


class DeleteVMScheduleParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of VM")
    id: Annotated[str | None, Ref("VMSchedule")] = Field(None, description="ID of VM schedule")
    ids: Annotated[list[str] | None, Ref("VMSchedule"), ApiType("list")] = Field(
        None, description="IDs of VM schedule")


@api_command("deleteVMSchedule", params=DeleteVMScheduleParams, entity="VirtualMachine", event="VM.SCHEDULE.DELETE",
             since="4.19.0", description="Delete VM Schedule.")
def delete_vm_schedule(ctx: CallContext, p: DeleteVMScheduleParams) -> Success:
    vm: VirtualMachine = ctx.refs["virtualmachineid"]
    if p.id is None and not p.ids:
        raise ParamError("Either id or ids parameter must be specified")
    if p.id is not None and p.ids:
        raise ParamError("Either id or ids parameter must be specified, not both")
    rows: list[VmSchedule] = [ctx.refs["id"]] if p.id is not None else list(ctx.refs["ids"])
    wrong = [r.uuid for r in rows if r.vm_id != vm.id]
    if wrong:
        raise ParamError(f"VM schedule(s) {', '.join(wrong)} do not belong to VM {vm.uuid}")
    svc.remove(ctx.session, rows, scheduling.now(ctx.runtime))
    if not rows:
        raise InternalError("Error while deleting VM Schedules")
    return Success()
