"""moveUser: a user changes account within its domain (CloudStack's AccountManagerImpl.moveUser)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, Params, Ref, api_command
from management.errors import ParamError
from management.models.identity import Account, User
from management.services.context import CallContext


class MoveUserParams(Params):
    id: Annotated[str, Ref("User")] = Field(description="id of the user to be moved.")
    account: str | None = Field(None, description="Moves the user under the specified account. If no account name "
                                "is specified, it is necessary to provide an account id.")
    accountid: Annotated[str | None, Ref("Account")] = Field(
        None, description="Moves the user under the specified account. If no account id is specified, it is "
        "necessary to provide an account name.")


@api_command("moveUser", params=MoveUserParams, roles=ADMIN, event="USER.MOVE", entity="User", since="4.11",
             description="Moves a user to another account in the same domain.")
def move_user(ctx: CallContext, p: MoveUserParams) -> Success:
    user: User = ctx.refs["id"]
    if p.account and p.accountid:
        raise ParamError("Please specify only one of account name or account id")
    target: Account | None = ctx.refs.get("accountid")
    if target is None:
        if not p.account:
            raise ParamError("Please specify either account name or account id")
        target = ctx.session.scalar(select(Account).where(Account.name == p.account, Account.removed.is_(None),
                                                          Account.domain_id == user.account.domain_id))
        if target is None:
            raise ParamError(f"Unable to find account {p.account} in domain {user.account.domain.uuid}")
    if target.domain_id != user.account.domain_id:
        raise ParamError("moveUser is not supported across domains")
    if target.id == user.account_id:
        raise ParamError(f"The user {user.uuid} is already part of account {target.name}")
    if user.account.is_default and user.is_default:
        raise ParamError("The default admin user can not be moved")
    user.account_id = target.id
    ctx.session.flush()
    return Success()
