"""getApiLimit and resetApiLimit (plugins/api/rate-limit); the limit itself is enforced by the dispatcher."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.services.context import CallContext
from management.services.plugins import rate_limit


class ApiLimitResp(JobResp):
    accountid: str = Field(description="the account uuid of the api remaining count")
    account: str = Field(description="the account name of the api remaining count")
    apiIssued: int = Field(description="number of api already issued")  # noqa: N815 - CloudStack's name
    apiAllowed: int = Field(description="currently allowed number of apis")  # noqa: N815
    expireAfter: int = Field(description="seconds left to reset counters")  # noqa: N815


@api_command("getApiLimit", params=Params, result_key="apilimit", response=ApiLimitResp,
             description="Get API limit count for the caller")
def get_api_limit(ctx: CallContext, p: Params) -> ApiLimitResp:
    lim = rate_limit.require_enabled(ctx.session)
    issued, allowed, expire = rate_limit.counters(ctx.runtime).peek(ctx.caller.account_id, lim)
    return ApiLimitResp(accountid=ctx.caller.account_uuid, account=ctx.caller.account_name, apiIssued=issued,
                        apiAllowed=allowed, expireAfter=expire)


class ResetApiLimitParams(Params):
    account: Annotated[str | None, Ref("Account")] = Field(None, description="the ID of the acount whose limit to "
                                                           "be reset")


@api_command("resetApiLimit", params=ResetApiLimitParams, response=SuccessResp, roles=ADMIN,
             event="API.LIMIT.RESET", entity="Account", description="Reset api count")
def reset_api_limit(ctx: CallContext, p: ResetApiLimitParams) -> Success:
    lim = rate_limit.require_enabled(ctx.session)
    acct = ctx.refs.get("account")
    rate_limit.counters(ctx.runtime).reset(acct.id if acct is not None else None, lim)
    return Success()
