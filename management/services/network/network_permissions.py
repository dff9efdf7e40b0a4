"""Sharing an isolated network with other accounts of its domain (CloudStack 4.17 network permissions): a
permitted account sees the network in listNetworks and may deploy VMs into it."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.identity import Account
from management.models.network import Network
from management.models.network_access import NetworkPermission
from management.services.context import Caller


def check(session: Session, caller: Caller, net: Network) -> None:
    if net.acl_type == "Domain":
        raise ParamError("network is already shared in domain")
    if getattr(net, "vpc_id", None) is not None:
        raise ParamError("VPC tiers cannot be shared")
    if caller.account_id != net.account_id and not caller.is_admin:
        raise ParamError(f"Unable to grant permission to account {caller.account_name} as it is neither admin nor "
                         "owner or the network")


def accounts(session: Session, caller: Caller, net: Network, names: list[str] | None,
             ids: list[Account] | None) -> list[Account]:
    """The accounts named by name or id, all in the network's domain."""
    out: list[Account] = list(ids or [])
    for name in names or []:
        acct = session.scalar(select(Account).where(Account.name == name, Account.domain_id == net.domain_id,
                                                    Account.removed.is_(None)))
        if acct is None:
            raise ParamError(f"Unable to find account by name {name}")
        if acct.id != caller.account_id:
            out.append(acct)
    for acct in out:
        if acct.domain_id != net.domain_id or acct.removed is not None:
            raise ParamError(f"Unable to find account {acct.uuid} in the domain of network {net.uuid}. No "
                             "permissions is added")
    return out


def grant(session: Session, net: Network, accts: list[Account]) -> None:
    have = set(session.scalars(select(NetworkPermission.account_id).where(NetworkPermission.network_id == net.id)))
    for acct in accts:
        if acct.id == net.account_id or acct.id in have:
            continue  # the owner has access anyway
        session.add(NetworkPermission(network_id=net.id, account_id=acct.id))
        have.add(acct.id)
    session.flush()


def revoke(session: Session, net: Network, accts: list[Account] | None) -> None:
    stmt = delete(NetworkPermission).where(NetworkPermission.network_id == net.id)
    if accts is not None:
        stmt = stmt.where(NetworkPermission.account_id.in_([a.id for a in accts]))
    session.execute(stmt)
    session.flush()


def permitted(session: Session, net: Network) -> list[Account]:
    ids = session.scalars(select(NetworkPermission.account_id).where(NetworkPermission.network_id == net.id))
    return list(session.scalars(select(Account).where(Account.id.in_(list(ids))).order_by(Account.id)))
