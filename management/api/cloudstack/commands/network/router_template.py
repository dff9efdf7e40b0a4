"""upgradeRouterTemplate: CloudStack reboots the running routers (one, or those of an account, domain, cluster, pod
or zone) whose template is older than the current system VM template, and answers one job per reboot.
devcloud's virtual routers are rendered from the running server's own templates on every start and reconfigure
(listRouters says requiresupgrade=false), so none ever needs the upgrade: the answer is the empty list, after
CloudStack's checks of the scope."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp
from management.errors import ParamError
from management.models.identity import Account, Domain
from management.services.context import CallContext


class UpgradeRouterTemplateParams(Params):
    id: Annotated[str | None, Ref("DomainRouter")] = Field(None, description="upgrades router with the specified "
                                                           "Id")
    clusterid: Annotated[str | None, Ref("Cluster", "read")] = Field(None, description="upgrades all routers within "
                                                                     "the specified cluster")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="upgrades all routers within the "
                                                             "specified pod")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="upgrades all routers within the "
                                                               "specified zone")
    account: str | None = Field(None, description="upgrades all routers owned by the specified account")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="upgrades all routers owned by "
                                                                   "the specified domain")


class RouterUpgradeJobResp(JobResp):
    """One reboot job per upgraded router."""


@api_command("upgradeRouterTemplate", params=UpgradeRouterTemplateParams, result_key="asyncjobs",
             response=RouterUpgradeJobResp, roles=ADMIN, event="ROUTER.UPGRADE",
             description="Upgrades router to use newer template")
def upgrade_router_template(ctx: CallContext, p: UpgradeRouterTemplateParams) -> ListResult:
    scopes = sum(1 for v in (p.id, p.domainid, p.clusterid, p.podid, p.zoneid) if v)
    if scopes > 1:
        raise ParamError("Multiple parameters not supported. Specify only one among routerId/zoneId/podId/clusterId/"
                         "accountId/domainId")
    if p.domainid and p.account:
        domain: Domain = ctx.refs["domainid"]
        acct = ctx.session.scalar(select(Account.id).where(Account.name == p.account, Account.domain_id == domain.id,
                                                           Account.removed.is_(None)))
        if acct is None:
            raise ParamError(f"Account :{p.account} does not exist in domain: {domain.id}")
    return ListResult([], 0)  # every router runs the current templates: nothing to reboot
