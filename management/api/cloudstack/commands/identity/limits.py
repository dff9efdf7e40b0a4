"""Resource limits and counts: listResourceLimits, updateResourceLimit, updateResourceCount (accounts, projects,
domains; every CloudStack resource type, by ordinal or name)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import DOMAIN_ADMIN, Long, OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_tenancy import ResourceCountResp, ResourceLimitResp
from management.errors import ParamError, PermissionDenied
from management.models.identity import Account, AccountType, Domain
from management.services import access, limits
from management.services.context import CallContext
from management.services.identity import projects as projects_service


def _target(ctx: CallContext, account: str | None, domainid: str | None,
            projectid: str | None) -> tuple[Account | None, Domain]:
    """(account or project account, its domain), or (None, domain) for domain limits."""
    s, c = ctx.session, ctx.caller
    if projectid is not None:
        acct = access.owner_for(s, c, None, None, projectid)
        return acct, s.get_one(Domain, acct.domain_id)
    if account is not None:
        if domainid is None:
            domainid = c.domain_uuid
        acct = access.owner_for(s, c, account, domainid)
        return acct, s.get_one(Domain, acct.domain_id)
    if domainid is not None:
        dom = access.resolve(s, c, "Domain", domainid, "read")
        if not access.domain_in_scope(c, dom.path) and dom.id != c.domain_id:
            raise PermissionDenied(f"Account '{c.account_name}' does not have permission to see the limits of "
                                   f"domain {domainid}", uuids=[domainid])
        return None, dom
    acct = s.get_one(Account, c.account_id)
    return acct, s.get_one(Domain, acct.domain_id)


def _owner_fields(ctx: CallContext, acct: Account | None, dom: Domain) -> dict[str, Any]:
    out: dict[str, Any] = {"domainid": dom.uuid, "domain": dom.name, "domainpath": dom.display_path}
    if acct is None:
        return out
    if acct.account_type == AccountType.PROJECT:
        project = projects_service.by_account(ctx.session, acct.id)
        if project is not None:
            out.update(projectid=project.uuid, project=project.name)
        return out
    out["account"] = acct.name
    return out


def limit_resp(ctx: CallContext, acct: Account | None, dom: Domain, rtype: limits.ResourceType,
               value: int | None = None) -> ResourceLimitResp:
    if value is None:
        value = limits.account_limit(ctx.session, acct, rtype) if acct is not None else \
            limits.domain_limit(ctx.session, dom, rtype)
    return ResourceLimitResp(resourcetype=str(rtype.ordinal), resourcetypename=rtype.name,
                             max=limits.shown(rtype, value), **_owner_fields(ctx, acct, dom))


class ListResourceLimitsParams(OwnedListParams):
    id: Long | None = Field(None, description="Lists resource limits by ID.")
    resourcetype: int | None = Field(None, description="Type of resource. Values are 0, 1, 2, 3, 4, 6, 7, 8, 9, 10 "
                                     "and 11. 0 - Instance. 1 - IP. 2 - Volume. 3 - Snapshot. 4 - Template. 6 - "
                                     "Network. 7 - VPC. 8 - CPU. 9 - Memory. 10 - PrimaryStorage. 11 - "
                                     "SecondaryStorage.")
    resourcetypename: str | None = Field(None, description="Type of resource (wins over resourceType if both are "
                                         "provided). Values are: user_vm, public_ip, volume, snapshot, template, "
                                         "project, network, vpc, cpu, memory, primary_storage, secondary_storage")
    tag: str | None = Field(None, description="Tag for the resource type")


@api_command("listResourceLimits", params=ListResourceLimitsParams, result_key="resourcelimit",
             response=ResourceLimitResp, description="Lists resource limits.")
def list_resource_limits(ctx: CallContext, p: ListResourceLimitsParams) -> ListResult:
    acct, dom = _target(ctx, p.account, p.domainid, p.projectid)
    if p.resourcetypename is not None or p.resourcetype is not None:
        types = [limits.resolve_type(p.resourcetype, p.resourcetypename)]
    else:
        types = list(limits.TYPES)
    if acct is not None and acct.account_type == AccountType.PROJECT:
        types = [t for t in types if t.name != "project"]
    if p.tag:
        return ListResult([], 0)  # no tagged limits are kept: host and storage tags do not carry limits here
    names = [t.name for t in types]
    values = (limits.account_limits(ctx.session, [acct], names)[acct.id] if acct is not None
              else limits.domain_limits(ctx.session, dom, names))
    items = [limit_resp(ctx, acct, dom, t, values[t.name]) for t in types]
    return ListResult(items, len(items))


class UpdateResourceLimitParams(Params):
    resourcetype: int = Field(description="Type of resource to update. Values are 0, 1, 2, 3, 4, 6, 7, 8, 9, 10 "
                              "and 11.")
    max: Long | None = Field(None, description="Maximum resource limit.")
    account: str | None = Field(None, description="Update resource for a specified account. Must be used with the "
                                "domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="Update resource limits for all "
                                                                   "accounts in specified domain. If used with the "
                                                                   "account parameter, updates resource limits for "
                                                                   "a specified account in specified domain.")
    projectid: Uuid | None = Field(None, description="Update resource limits for project")
    tag: str | None = Field(None, description="Tag for the resource type")


@api_command("updateResourceLimit", params=UpdateResourceLimitParams, result_key="resourcelimit",
             response=ResourceLimitResp, roles=DOMAIN_ADMIN, event="RESOURCE.LIMIT.UPDATE",
             description="Updates resource limits for an account or domain.")
def update_resource_limit(ctx: CallContext, p: UpdateResourceLimitParams) -> ResourceLimitResp:
    rtype = limits.resolve_type(p.resourcetype)
    if p.tag:
        raise ParamError("Tagged resource limits are not supported")
    c = ctx.caller
    if p.account is None and p.domainid is None and p.projectid is None:
        raise ParamError("Please specify either an account, a domain or a project to update the limit for")
    acct, dom = _target(ctx, p.account, p.domainid, p.projectid)
    if acct is not None:
        if acct.account_type == AccountType.ADMIN:
            raise ParamError("Can't update root admin account limits")
        if acct.id == c.account_id and not c.is_root_admin:
            raise PermissionDenied("Only a root admin can update the limits of its own account")
        if acct.account_type == AccountType.PROJECT and rtype.name == "project":
            raise ParamError("Can't update the project limit of a project")
        limits.set_limit(ctx.session, "Account", acct.id, rtype, p.max)
    else:
        if dom.parent_id is None:
            raise ParamError("Can't update the limits of the ROOT domain")
        if dom.id == c.domain_id and not c.is_root_admin:
            raise PermissionDenied("Only a root admin can update the limits of the caller's own domain")
        if not access.domain_in_scope(c, dom.path):
            raise PermissionDenied(f"Account '{c.account_name}' may not update the limits of domain {dom.uuid}")
        limits.set_limit(ctx.session, "Domain", dom.id, rtype, p.max)
    return limit_resp(ctx, acct, dom, rtype)


class UpdateResourceCountParams(Params):
    domainid: Annotated[str, Ref("Domain", "read")] = Field(description="If account parameter specified then "
                                                            "updates resource counts for a specified account in this "
                                                            "domain else update resource counts for all accounts & "
                                                            "child domains in specified domain.")
    account: str | None = Field(None, description="Update resource count for a specified account. Must be used "
                                "with the domainId parameter.")
    resourcetype: int | None = Field(None, description="Type of resource to update. If specifies valid values are "
                                     "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 11. If not specified will update all "
                                     "resource counts")
    projectid: Uuid | None = Field(None, description="Update resource limits for project")
    tag: str | None = Field(None, description="Tag for the resource type")


@api_command("updateResourceCount", params=UpdateResourceCountParams, result_key="resourcecount",
             response=ResourceCountResp, roles=DOMAIN_ADMIN, event="RESOURCE.COUNT.UPDATE",
             description="Recalculate and update resource count for an account or domain. This also executes some "
                         "cleanup tasks before calculating resource counts.")
def update_resource_count(ctx: CallContext, p: UpdateResourceCountParams) -> ListResult:
    dom: Domain = ctx.refs["domainid"]
    if not access.domain_in_scope(ctx.caller, dom.path):
        raise PermissionDenied(f"Account '{ctx.caller.account_name}' may not update the counts of domain "
                               f"{dom.uuid}", uuids=[dom.uuid])
    acct: Account | None = None
    if p.projectid is not None:
        acct = access.owner_for(ctx.session, ctx.caller, None, None, p.projectid)
    elif p.account is not None:
        acct = access.owner_for(ctx.session, ctx.caller, p.account, dom.uuid)
    types = [limits.resolve_type(p.resourcetype)] if p.resourcetype is not None else list(limits.TYPES)
    if acct is not None and acct.account_type == AccountType.PROJECT:
        types = [t for t in types if t.name != "project"]
    names = [t.name for t in types]
    counts = limits.counts_for_accounts(ctx.session, [acct.id], names)[acct.id] if acct is not None else \
        limits.domain_counts(ctx.session, dom, names)
    owner = _owner_fields(ctx, acct, dom)
    out = [ResourceCountResp(resourcetype=str(t.ordinal), resourcetypename=t.name, resourcecount=counts[t.name],
                             **owner) for t in types]  # type: ignore[arg-type]
    return ListResult(out, len(out))


