"""listDeploymentPlanners: the deployment planners a service offering may name. devcloud's placement
(management/placement.py) is one planner, CloudStack's first fit; the others CloudStack ships (user dispersing,
user concentrated pod, implicit dedication, skip heuristics) are not offered because nothing here would honour them."""

from __future__ import annotations

from pydantic import Field

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, api_command
from management.api.cloudstack.schemas_platform import JobResp
from management.services.context import CallContext
from management.services.listing import check_paging

PLANNERS = ("FirstFitPlanner",)


class DeploymentPlannerResp(JobResp):
    name: str = Field(description="Deployment Planner name")


@api_command("listDeploymentPlanners", params=ListParams, result_key="deploymentPlanner",
             response=DeploymentPlannerResp, roles=ADMIN, description="Lists all DeploymentPlanners available.")
def list_deployment_planners(ctx: CallContext, p: ListParams) -> ListResult:
    offset, limit = check_paging(ctx.session, p.page, p.pagesize)
    names = [n for n in PLANNERS if not p.keyword or p.keyword.lower() in n.lower()]
    page = names[offset:offset + limit] if limit is not None else names[offset:]
    return ListResult([DeploymentPlannerResp(name=n) for n in page], len(names))
