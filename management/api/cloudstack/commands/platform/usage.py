"""Usage: listUsageTypes, generateUsageRecords, listUsageRecords, removeRawUsageRecords."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success, cs_date
from management.api.cloudstack.registry import (
    ADMIN,
    DOMAIN_ADMIN,
    ApiType,
    ListParams,
    Long,
    Params,
    Ref,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_tenancy import UsageRecordResp, UsageTypeResp
from management.db.subtree import in_subtree
from management.errors import ParamError
from management.models.identity import Account, AccountType, Domain
from management.models.infra import Zone
from management.models.usage import UsageRecord
from management.services import access, configuration
from management.services.context import CallContext
from management.services.identity import projects as projects_service
from management.services.listing import paginate, rows_by_id
from management.services.platform import usage as svc


@api_command("listUsageTypes", params=Params, result_key="usagetype", response=UsageTypeResp, roles=ADMIN,
             description="List Usage Types")
def list_usage_types(ctx: CallContext, p: Params) -> ListResult:
    items = [UsageTypeResp(id=k, name=name, description=desc) for k, (name, desc) in sorted(svc.TYPES.items())]
    return ListResult(items, len(items))


def _day(value: date | datetime, end: bool = False) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, UTC) + (timedelta(days=1) if end else timedelta())


def _minutes(ctx: CallContext) -> int:
    try:
        return max(1, int(configuration.get(ctx.session, "usage.stats.job.aggregation.range", "1440") or 1440))
    except ValueError:
        return 1440


class GenerateUsageParams(Params):
    startdate: Annotated[date | datetime | None, ApiType("date")] = Field(
        None, description="Start date range for usage record query. Use yyyy-MM-dd as the date format, e.g. "
        "startDate=2009-06-01.")
    enddate: Annotated[date | datetime | None, ApiType("date")] = Field(
        None, description="End date range for usage record query. Use yyyy-MM-dd as the date format, e.g. "
        "startDate=2009-06-03.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="List events for the "
                                                                   "specified domain.")


@api_command("generateUsageRecords", params=GenerateUsageParams, roles=ADMIN, event="USAGE.GENERATE",
             entity="Usage", description="Generates usage records. This will generate records only if there any "
             "records to be generated, i.e if the scheduled usage job was not run or failed")
def generate_usage_records(ctx: CallContext, p: GenerateUsageParams) -> Success:
    end = _day(p.enddate, end=True) if p.enddate is not None else svc.CLOCK()
    start = _day(p.startdate) if p.startdate is not None else end - timedelta(days=1)
    if start >= end:
        raise ParamError("Incorrect Date Range. Start date: " + str(p.startdate) + " is after end date:"
                         + str(p.enddate))
    accounts = None
    if p.domainid:
        from management.services import limits

        accounts = limits.domain_accounts(ctx.session, ctx.refs["domainid"])
    svc.generate(ctx.session, start, end, minutes=_minutes(ctx), account_ids=accounts)
    return Success()


class ListUsageParams(ListParams):
    startdate: Annotated[date | datetime, ApiType("date")] = Field(
        description="Start date range for usage record query (use format \"yyyy-MM-dd\" or the new format "
        "\"yyyy-MM-ddThh:mm:ss\", e.g. startDate=2015-01-01 or startdate=2015-01-01 10:30:00).")
    enddate: Annotated[date | datetime, ApiType("date")] = Field(
        description="End date range for usage record query (use format \"yyyy-MM-dd\" or the new format "
        "\"yyyy-MM-ddThh:mm:ss\", e.g. endDate=2015-01-01 or endDate=2015-01-01 10:30:00).")
    account: str | None = Field(None, description="List usage records for the specified user.")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="List usage records for the "
                                                                     "specified account")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="List usage records for the "
                                                                   "specified domain.")
    projectid: Uuid | None = Field(None, description="List usage records for specified project")
    type: Long | None = Field(None, description="List usage records for the specified usage type")
    usageid: str | None = Field(None, description="List usage records for the specified usage UUID. Can be used "
                                "only together with TYPE parameter.")
    includetags: bool = Field(True, description="Flag to enable display of Tags for a resource")
    oldformat: bool = Field(False, description="Flag to enable description rendered in old format which uses "
                            "internal database IDs instead of UUIDs. False by default.")
    isrecursive: bool = Field(False, description="Specify if usage records should be fetched recursively per "
                          "domain. If an account id is passed, records will be limited to that account.")


@api_command("listUsageRecords", params=ListUsageParams, result_key="usagerecord", response=UsageRecordResp,
             roles=DOMAIN_ADMIN, description="Lists usage records for accounts")
def list_usage_records(ctx: CallContext, p: ListUsageParams) -> ListResult:
    s, c = ctx.session, ctx.caller
    start, end = _day(p.startdate), _day(p.enddate, end=isinstance(p.enddate, date)
                                           and not isinstance(p.enddate, datetime))
    if start > end:
        raise ParamError("Incorrect Date Range. Start date: " + str(p.startdate) + " is after end date:"
                         + str(p.enddate))
    stmt = select(UsageRecord).where(UsageRecord.start_date >= start, UsageRecord.start_date < end)
    if p.projectid is not None:
        acct = access.owner_for(s, c, None, None, p.projectid)
        stmt = stmt.where(UsageRecord.account_id == acct.id)
    elif p.accountid:
        stmt = stmt.where(UsageRecord.account_id == ctx.refs["accountid"].id)
    elif p.account is not None:
        acct = access.owner_for(s, c, p.account, p.domainid or c.domain_uuid)
        stmt = stmt.where(UsageRecord.account_id == acct.id)
    elif p.domainid:
        dom: Domain = ctx.refs["domainid"]
        if p.isrecursive:
            stmt = stmt.where(UsageRecord.domain_id.in_(select(Domain.id).where(in_subtree(Domain.path, dom.path))))
        else:
            stmt = stmt.where(UsageRecord.domain_id == dom.id)
    elif not c.is_root_admin:
        stmt = stmt.where(UsageRecord.domain_id.in_(select(Domain.id).where(in_subtree(Domain.path, c.domain_path))))
    if p.type is not None:
        stmt = stmt.where(UsageRecord.usage_type == p.type)
    if p.usageid:
        if p.type is None:
            raise ParamError("Usage Id can only be used together with the usage type")
        stmt = stmt.where(UsageRecord.usage_uuid == p.usageid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, UsageRecord.id)
    accounts = rows_by_id(s, Account, {r.account_id for r in rows})
    domains = rows_by_id(s, Domain, {r.domain_id for r in rows})
    zones = rows_by_id(s, Zone, {r.zone_id for r in rows})
    out = []
    for r in rows:
        a, d, z = accounts.get(r.account_id), domains.get(r.domain_id), zones.get(r.zone_id)
        project = projects_service.by_account(s, r.account_id) if a and a.account_type == AccountType.PROJECT \
            else None
        out.append(UsageRecordResp(
            account=a.name if a else "", accountid=a.uuid if a else "", domainid=d.uuid if d else "",
            domain=d.name if d else "", domainpath=d.display_path if d else None,
            projectid=project.uuid if project else None, project=project.name if project else None,
            zoneid=z.uuid if z else None, description=r.description, usage=r.usage_display,
            usagetype=r.usage_type, rawusage=f"{r.raw_usage:.6f}", name=r.vm_name,
            virtualmachineid=r.usage_uuid if r.usage_type in (svc.RUNNING_VM, svc.ALLOCATED_VM) else None,
            usageid=r.usage_uuid, type=r.resource_type, size=r.size, startdate=cs_date(r.start_date),
            enddate=cs_date(r.end_date)))
    return ListResult(out, count)


class RemoveRawUsageParams(Params):
    interval: int = Field(description="Specify the number of days (greater than zero) to remove records that are "
                          "older than those number of days from today. For example, specifying 10 would result "
                          "in removing all the records older than 10 days from today.")


@api_command("removeRawUsageRecords", params=RemoveRawUsageParams, roles=ADMIN, event="USAGE.REMOVE",
             entity="Usage", since="4.6.0",
             description="Safely removes raw records from cloud_usage table")
def remove_raw_usage_records(ctx: CallContext, p: RemoveRawUsageParams) -> Success:
    if p.interval <= 0:
        raise ParamError("Interval should be greater than 0")
    svc.remove_raw(ctx.session, p.interval)
    return Success()
