"""CNI configurations for Kubernetes clusters: registered, listed and deleted as an account's named documents."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ALL_ROLES, OwnedListParams, ParamInfo, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas import Resp
from management.db.base import utcnow
from management.models.identity import Account, Domain
from management.models.network_access import CniConfiguration
from management.services import access
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate
from management.services.network import cni as svc

access.register_entity("CniConfiguration", CniConfiguration, "owned")


class CniConfigurationResp(Resp):
    id: str = Field(description="ID of the CNI configuration")
    name: str = Field(description="name of the CNI configuration")
    accountid: str | None = Field(None, description="ID of the owning account")
    account: str | None = Field(None, description="name of the owning account")
    projectid: str | None = Field(None, description="ID of the owning project")
    project: str | None = Field(None, description="name of the owning project")
    domainid: str | None = Field(None, description="ID of the owner's domain")
    domain: str | None = Field(None, description="name of the owner's domain")
    domainpath: str | None = Field(None, description="path of the owner's domain")
    userdata: str | None = Field(None, description="the configuration, base64 as registered")
    params: str | None = Field(None, description="variables the configuration uses, comma separated")
    hasannotations: bool | None = Field(None, description="whether the configuration has comments")


def cni_resp(ctx: CallContext, c: CniConfiguration) -> CniConfigurationResp:
    acct, dom = ctx.session.get(Account, c.account_id), ctx.session.get(Domain, c.domain_id)
    return CniConfigurationResp(id=c.uuid, name=c.name, accountid=acct.uuid if acct else None,
                                account=acct.name if acct else None, domainid=dom.uuid if dom else None,
                                domain=dom.name if dom else None, domainpath=dom.path if dom else None,
                                userdata=c.config, params=c.params)


class RegisterCniParams(Params):
    cniconfig: Annotated[str | None, ParamInfo(length=1048576)] = Field(
        None, description="the configuration, base64 encoded; variables are written {{ name }}")
    name: str = Field(description="name of the CNI configuration")
    account: str | None = Field(None, description="owning account, with domainid")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain of that account")
    projectid: Uuid | None = Field(None, description="owning project")
    params: str | None = Field(None, description="variables the configuration uses, comma separated")


@api_command("registerCniConfiguration", params=RegisterCniParams, roles=ALL_ROLES, since="4.21.0",
             event="REGISTER.CNI.CONFIG", entity="UserData", description="Registers a CNI configuration")
def register_cni(ctx: CallContext, p: RegisterCniParams) -> Success:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    svc.register(ctx.session, owner, p.name, p.cniconfig, p.params)
    return Success()


class ListCniParams(OwnedListParams):
    id: Annotated[str | None, Ref("CniConfiguration", "read")] = Field(None, description="ID of a CNI "
                                                                        "configuration")
    name: str | None = Field(None, description="only the configuration of this name")


@api_command("listCniConfiguration", params=ListCniParams, roles=ALL_ROLES, since="4.21.0",
             result_key="cniconfig", response=CniConfigurationResp, description="Lists CNI configurations")
def list_cni(ctx: CallContext, p: ListCniParams) -> ListResult:
    stmt = select(CniConfiguration).where(CniConfiguration.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, CniConfiguration, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(CniConfiguration.uuid == p.id)
    if p.name:
        stmt = stmt.where(CniConfiguration.name == p.name)
    stmt = keyword_filter(stmt, p.keyword, CniConfiguration.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, CniConfiguration.id)
    return ListResult([cni_resp(ctx, c) for c in rows], count)


class DeleteCniParams(Params):
    id: Annotated[str, Ref("CniConfiguration")] = Field(description="ID of the CNI configuration")
    account: str | None = Field(None, description="owning account, with domainid")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain of that account")
    projectid: Uuid | None = Field(None, description="owning project")


@api_command("deleteCniConfiguration", params=DeleteCniParams, roles=ALL_ROLES, since="4.21.0",
             event="DELETE.CNI.CONFIG", entity="UserData", description="Deletes a CNI configuration")
def delete_cni(ctx: CallContext, p: DeleteCniParams) -> Success:
    ctx.refs["id"].removed = utcnow()
    ctx.session.flush()
    return Success()
