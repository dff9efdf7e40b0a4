"""queryAsyncJobResult and listAsyncJobs."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field
from sqlalchemy import literal, select, union_all

from management.api.cloudstack.envelope import Flat, ListResult
from management.api.cloudstack.registry import Date, OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas import AsyncJobResp
from management.models.identity import Account, User
from management.models.jobs import AsyncJob
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate

access.register_entity("AsyncJob", AsyncJob, "owned")


# (kind, id) -> uuid of accounts ("a") and users ("u") of this server's database (kept in its runtime): a uuid never
# changes (no customid for either), so every server may keep what it read. Bounded: emptied when full.
_UUIDS = "owner_uuids"
_UUIDS_MAX = 8192


def _owner_uuids(ctx: CallContext, jobs: list[AsyncJob]) -> dict[tuple[str, int], str]:
    """The uuids of the jobs' accounts and users: queryAsyncJobResult is the call clients make most (every few
    seconds per job in flight), so they come from memory after the first read, else from one statement."""
    known: dict[tuple[str, int], str] = ctx.runtime.extras.setdefault(_UUIDS, {})
    wanted = {("a", j.account_id) for j in jobs} | {("u", j.user_id) for j in jobs}
    missing = [k for k in wanted if k not in known]
    if missing:
        accounts = {i for kind, i in missing if kind == "a"}
        users = {i for kind, i in missing if kind == "u"}
        q = union_all(select(literal("a"), Account.id, Account.uuid).where(Account.id.in_(accounts)),
                      select(literal("u"), User.id, User.uuid).where(User.id.in_(users)))
        if len(known) > _UUIDS_MAX:
            known.clear()
        known.update({(kind, id_): uuid for kind, id_, uuid in ctx.session.execute(q)})
    return {k: known[k] for k in wanted if k in known}


def job_body(ctx: CallContext, job: AsyncJob, owners: dict[tuple[str, int], str] | None = None) -> dict:
    if owners is None:
        owners = _owner_uuids(ctx, [job])
    body: dict = {
        "accountid": owners.get(("a", job.account_id)), "userid": owners.get(("u", job.user_id)),
        "cmd": job.cmd_class, "jobstatus": job.status,
        "jobprocstatus": job.process_status, "jobresultcode": job.result_code, "jobresulttype": "object",
    }
    if job.status != 0 and job.result_json:
        body["jobresult"] = json.loads(job.result_json)
    if job.instance_type:
        body["jobinstancetype"] = job.instance_type
    if job.instance_uuid:
        body["jobinstanceid"] = job.instance_uuid
    body["created"] = job.created
    if job.completed:
        body["completed"] = job.completed
    body["jobid"] = job.uuid
    if job.executing_msid:
        body["managementserverid"] = job.executing_msid
    return body


class QueryAsyncJobResultParams(Params):
    jobid: Annotated[str, Ref("AsyncJob", "read")] = Field(description="the ID of the asynchronous job")


@api_command("queryAsyncJobResult", params=QueryAsyncJobResultParams, response=AsyncJobResp,
             description="Retrieves the current status of asynchronous job.")
def query_async_job_result(ctx: CallContext, p: QueryAsyncJobResultParams) -> Flat:
    job: AsyncJob = ctx.refs["jobid"]
    return Flat(job_body(ctx, job))


class ListAsyncJobsParams(OwnedListParams):
    startdate: Date | None = Field(None, description="The start date of the async job (use format \"yyyy-MM-dd'T'"
                                  "HH:mm:ss'+'SSSS\")")
    managementserverid: Uuid | None = Field(None, description="The id of the management server")


@api_command("listAsyncJobs", params=ListAsyncJobsParams, result_key="asyncjobs", response=AsyncJobResp,
             description="Lists all pending asynchronous jobs for the account.")
def list_async_jobs(ctx: CallContext, p: ListAsyncJobsParams) -> ListResult:
    stmt = select(AsyncJob).where(AsyncJob.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, AsyncJob, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.managementserverid:
        stmt = stmt.where(AsyncJob.executing_msid == p.managementserverid)
    if p.startdate:
        from management.api.cloudstack.signing import parse_expires

        stmt = stmt.where(AsyncJob.created >= parse_expires(p.startdate))
    if p.keyword:
        stmt = stmt.where(AsyncJob.command.ilike(f"%{p.keyword}%"))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, AsyncJob.id)
    owners = _owner_uuids(ctx, list(rows)) if rows else {}
    return ListResult([job_body(ctx, j, owners) for j in rows], count)
