"""Alerts: listAlerts, archiveAlerts, deleteAlerts, listAlertTypes, generateAlert."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import Field
from sqlalchemy import Select, delete, select, update

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, ParamInfo, Params, Ref, Short, Uuid, api_command
from management.api.cloudstack.schemas_tenancy import AlertResp, AlertTypeResp
from management.errors import ParamError
from management.models.governance import Alert
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, same_name
from management.services.platform import alerts as svc


def alert_resp(a: Alert) -> AlertResp:
    return AlertResp(id=a.uuid, type=a.type, name=a.name, description=a.subject, sent=a.last_sent or a.created)


class ListAlertsParams(ListParams):
    id: Uuid | None = Field(None, description="the ID of the alert")
    type: str | None = Field(None, description="list by alert type")
    name: str | None = Field(None, description="list by alert name")


@api_command("listAlerts", params=ListAlertsParams, result_key="alert", response=AlertResp, roles=ADMIN,
             description="Lists all alerts.")
def list_alerts(ctx: CallContext, p: ListAlertsParams) -> ListResult:
    stmt = select(Alert).where(Alert.archived.is_(False))
    if p.id:
        stmt = stmt.where(Alert.uuid == p.id)
    if p.type is not None:
        try:
            stmt = stmt.where(Alert.type == int(p.type))
        except ValueError:
            raise ParamError(f"Unable to execute API command listalerts due to invalid value {p.type} for "
                             "parameter type") from None
    if p.name:
        stmt = stmt.where(same_name(Alert.name, p.name))
    stmt = keyword_filter(stmt, p.keyword, Alert.subject)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Alert.id.desc())
    return ListResult([alert_resp(a) for a in rows], count)


class AlertSelectionParams(Params):
    ids: list[str] | None = Field(None, description="the IDs of the alerts")
    startdate: date | None = Field(None, description="start date range (including) to archive/delete alerts (use "
                                   "format \"yyyy-MM-dd\" or the new format \"yyyy-MM-ddThh:mm:ss\")")
    enddate: date | None = Field(None, description="end date range (including) to archive/delete alerts (use format "
                                 "\"yyyy-MM-dd\" or the new format \"yyyy-MM-ddThh:mm:ss\")")
    type: str | None = Field(None, description="archive/delete by alert type")


def _selected(p: AlertSelectionParams, stmt: Select) -> Select:  # type: ignore[type-arg]
    if not p.ids and p.type is None and p.startdate is None and p.enddate is None:
        raise ParamError("either ids, type, startdate or enddate must be specified, or the combination of "
                         "startdate and enddate")
    if p.startdate and p.enddate and p.startdate > p.enddate:
        raise ParamError("please specify a valid date range")
    if p.ids:
        stmt = stmt.where(Alert.uuid.in_(p.ids))
    if p.type is not None:
        stmt = stmt.where(Alert.type == int(p.type))
    if p.startdate:
        stmt = stmt.where(Alert.created >= datetime.combine(p.startdate, time.min, UTC))
    if p.enddate:
        stmt = stmt.where(Alert.created <= datetime.combine(p.enddate, time.max, UTC))
    return stmt


@api_command("archiveAlerts", params=AlertSelectionParams, roles=ADMIN, event="ALERT.ARCHIVE", entity="Alert",
             description="Archive one or more alerts.")
def archive_alerts(ctx: CallContext, p: AlertSelectionParams) -> Success:
    ids = list(ctx.session.scalars(_selected(p, select(Alert.id))))
    if not ids:
        raise ParamError("Unable to archive alerts: no alerts match the given criteria")
    ctx.session.execute(update(Alert).where(Alert.id.in_(ids)).values(archived=True))
    return Success()


@api_command("deleteAlerts", params=AlertSelectionParams, roles=ADMIN, event="ALERT.DELETE", entity="Alert",
             description="Delete one or more alerts.")
def delete_alerts(ctx: CallContext, p: AlertSelectionParams) -> Success:
    ids = list(ctx.session.scalars(_selected(p, select(Alert.id))))
    if not ids:
        raise ParamError("Unable to delete alerts: no alerts match the given criteria")
    ctx.session.execute(delete(Alert).where(Alert.id.in_(ids)))
    return Success()


# listApis describes the answer as AlertResponse, as CloudStack's annotation does (the objects are alert types).
@api_command("listAlertTypes", params=Params, result_key="alerttype", response=AlertResp, roles=ADMIN,
             since="4.19.0", description="Lists all alerts types")
def list_alert_types(ctx: CallContext, p: Params) -> ListResult:
    items = [AlertTypeResp(alerttypeid=k, name=v) for k, v in sorted(svc.TYPES.items())]
    return ListResult(items, len(items))


class GenerateAlertParams(Params):
    type: Short = Field(description="Type of the alert")
    name: str = Field(description="Name of the alert")
    description: Annotated[str, ParamInfo(length=999)] = Field(description="Alert description")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="Zone id for which alert is "
                                                               "generated")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="Pod id for which alert is generated")


@api_command("generateAlert", params=GenerateAlertParams, is_async=True, roles=ADMIN, event="ALERT.GENERATE",
             entity="Alert", since="4.3", description="Generates an alert")
def generate_alert(ctx: CallContext, p: GenerateAlertParams) -> Success:
    if p.type < 100 or p.type > 2**15 - 1:
        raise ParamError("Type is reserved for the default alert types; use a value between 100 and 32767")
    zone, pod = ctx.refs.get("zoneid"), ctx.refs.get("podid")
    if pod is not None and zone is None:
        raise ParamError("Please specify a valid zone id")
    svc.raise_alert(ctx.session, p.type, p.description, name=p.name, zone_id=zone.id if zone else None,
                    pod_id=pod.id if pod else None)
    return Success()
