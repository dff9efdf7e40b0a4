"""Network permissions: an isolated network's owner (or an admin) shares it with other accounts of its domain."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ALL_ROLES, Params, Ref, api_command
from management.api.cloudstack.schemas import Resp
from management.errors import ParamError, invalid_id
from management.models.identity import Account, Domain
from management.models.network import Network
from management.services.context import CallContext
from management.services.network import network_permissions as svc


class NetworkPermissionResp(Resp):
    networkid: str = Field(description="ID of the shared network")
    domainid: str | None = Field(None, description="ID of the permitted account's domain")
    domain: str | None = Field(None, description="name of the permitted account's domain")
    account: str | None = Field(None, description="name of the permitted account")
    accountid: str | None = Field(None, description="ID of the permitted account")
    project: str | None = Field(None, description="name of the permitted project")
    projectid: str | None = Field(None, description="ID of the permitted project")


class PermissionsParams(Params):
    accounts: list[str] | None = Field(None, description="names of the accounts to share the network with")
    accountids: list[str] | None = Field(
        None, description="IDs of the accounts to share the network with")
    networkid: Annotated[str, Ref("Network")] = Field(description="ID of the network")
    projectids: list[str] | None = Field(None, description="IDs of the projects to share the network with")


def _accounts(ctx: CallContext, p: PermissionsParams) -> list:
    if p.projectids:
        raise ParamError(f"Unable to find project by id {p.projectids[0]}")
    net: Network = ctx.refs["networkid"]
    svc.check(ctx.session, ctx.caller, net)
    by_id = []
    for uuid in p.accountids or []:  # looked up, not access-checked: CloudStack answers with the domain rule
        acct = ctx.session.scalar(select(Account).where(Account.uuid == uuid, Account.removed.is_(None)))
        if acct is None:
            raise invalid_id(uuid)
        by_id.append(acct)
    return svc.accounts(ctx.session, ctx.caller, net, p.accounts, by_id)


@api_command("createNetworkPermissions", params=PermissionsParams, roles=ALL_ROLES, since="4.17.0",
             event="NETWORK.UPDATE", entity="Network",
             description="Shares an isolated network with other accounts of its domain")
def create_permissions(ctx: CallContext, p: PermissionsParams) -> Success:
    svc.grant(ctx.session, ctx.refs["networkid"], _accounts(ctx, p))
    return Success()


@api_command("removeNetworkPermissions", params=PermissionsParams, roles=ALL_ROLES, since="4.17.0",
             event="NETWORK.UPDATE", entity="Network", description="Stops sharing a network with some accounts")
def remove_permissions(ctx: CallContext, p: PermissionsParams) -> Success:
    svc.revoke(ctx.session, ctx.refs["networkid"], _accounts(ctx, p))
    return Success()


class NetworkIdParams(Params):
    networkid: Annotated[str, Ref("Network")] = Field(description="ID of the network")


@api_command("resetNetworkPermissions", params=NetworkIdParams, roles=ALL_ROLES, since="4.17.0",
             event="NETWORK.UPDATE", entity="Network", description="Stops sharing a network with any account")
def reset_permissions(ctx: CallContext, p: NetworkIdParams) -> Success:
    net: Network = ctx.refs["networkid"]
    svc.check(ctx.session, ctx.caller, net)
    svc.revoke(ctx.session, net, None)
    return Success()


@api_command("listNetworkPermissions", params=NetworkIdParams, roles=ALL_ROLES, since="4.17.0",
             result_key="networkpermission", response=NetworkPermissionResp,
             description="Lists the accounts a network is shared with")
def list_permissions(ctx: CallContext, p: NetworkIdParams) -> ListResult:
    net: Network = ctx.refs["networkid"]
    out = []
    for acct in svc.permitted(ctx.session, net):
        dom = ctx.session.get(Domain, acct.domain_id)
        out.append(NetworkPermissionResp(networkid=net.uuid, domainid=dom.uuid if dom else None,
                                         domain=dom.name if dom else None, account=acct.name, accountid=acct.uuid))
    return ListResult(out, len(out))


