"""queryAsyncJobResult and listAsyncJobs."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import Flat, ListResult
from management.api.cloudstack.registry import Date, OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas import AsyncJobResp
from management.models.identity import Account, User
from management.models.jobs import AsyncJob
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate

access.register_entity("AsyncJob", AsyncJob, "owned")


def job_body(ctx: CallContext, job: AsyncJob) -> dict:
    acct = ctx.session.get_one(Account, job.account_id)
    user = ctx.session.get_one(User, job.user_id)
    body: dict = {
        "accountid": acct.uuid, "userid": user.uuid, "cmd": job.cmd_class, "jobstatus": job.status,
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
    return ListResult([job_body(ctx, j) for j in rows], count)
