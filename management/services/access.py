"""Who may see or touch what: entity resolution and ownership checks in one place.

Every command parameter that names an entity (`Ref` in the registry) is resolved here before the command runs,
so no command can forget the check. List commands use `owned_filter` for the same rule on queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from management.errors import ParamError, PermissionDenied, invalid_id
from management.models.identity import Account, Domain, User
from management.services.context import Caller


@dataclass(frozen=True, slots=True)
class EntityPolicy:
    model: type[Any]
    # "owned": has account_id + domain_id; "domain": is a Domain; "account"; "user"; "public": anyone may read,
    # writes are gated by the command's role set; a callable gets (session, caller, row, access) -> bool.
    kind: str
    visible: Callable[[Session, Caller, Any, str], bool] | None = None
    soft_delete: bool = True


ENTITIES: dict[str, EntityPolicy] = {}


def register_entity(name: str, model: type[Any], kind: str, *, visible: Callable[..., bool] | None = None,
                    soft_delete: bool = True) -> None:
    ENTITIES[name] = EntityPolicy(model, kind, visible, soft_delete)


def domain_in_scope(caller: Caller, domain_path: str) -> bool:
    """True when the caller administers that domain (root admin: all; domain admin: own subtree)."""
    if caller.is_root_admin:
        return True
    return caller.is_domain_admin and domain_path.startswith(caller.domain_path)


def can_access_owner(session: Session, caller: Caller, account_id: int, domain_id: int) -> bool:
    if caller.is_root_admin or account_id == caller.account_id:
        return True
    if not caller.is_domain_admin:
        return False
    path = session.scalar(select(Domain.path).where(Domain.id == domain_id))
    return path is not None and domain_in_scope(caller, path)


def check_row(session: Session, caller: Caller, policy: EntityPolicy, row: Any, access: str) -> bool:
    if policy.visible is not None:
        return policy.visible(session, caller, row, access)
    kind = policy.kind
    if kind == "public":
        return True
    if kind == "domain":
        if domain_in_scope(caller, row.path):
            return True
        # Anyone may read their own domain and its ancestors (CloudStack lists them as the caller's own).
        return access == "read" and caller.domain_path.startswith(row.path)
    if kind == "account":
        return can_access_owner(session, caller, row.id, row.domain_id)
    if kind == "user":
        return can_access_owner(session, caller, row.account.id, row.account.domain_id)
    if kind == "owned":
        return can_access_owner(session, caller, row.account_id, row.domain_id)
    raise ValueError(f"unknown entity kind {kind}")


def resolve(session: Session, caller: Caller, entity: str, uuid: str, access: str = "write") -> Any:
    """Loads an entity by uuid; 431 when it does not exist (or is removed), 531 when the caller may not use it."""
    policy = ENTITIES[entity]
    model = policy.model
    stmt = select(model).where(model.uuid == uuid)
    if policy.soft_delete and hasattr(model, "removed"):
        stmt = stmt.where(model.removed.is_(None))
    row = session.scalar(stmt)
    if row is None:
        raise invalid_id(uuid)
    if not check_row(session, caller, policy, row, access):
        raise PermissionDenied(
            f"Account '{caller.account_name}' does not have permission to access {entity} with id {uuid}",
            uuids=[uuid],
        )
    return row


def was_removed(session: Session, entity: str, uuid: str) -> bool:
    """True when `uuid` names an entity that existed and was deleted (its row kept with `removed` set)."""
    policy = ENTITIES[entity]
    model = policy.model
    if not policy.soft_delete or not hasattr(model, "removed"):
        return False
    return session.scalar(select(model.id).where(model.uuid == uuid, model.removed.is_not(None)).limit(1)) is not None


def owner_for(session: Session, caller: Caller, account: str | None, domain_uuid: str | None) -> Account:
    """The account a create command acts for: the caller's own, or (admins) `account` in `domainid`."""
    if account is None and domain_uuid is None:
        return session.get_one(Account, caller.account_id)
    if account is None or domain_uuid is None:
        raise ParamError("account and domainid must be specified together")
    if not caller.is_admin and (account != caller.account_name or domain_uuid != caller.domain_uuid):
        # AccountManager.finalizeOwner: a plain user may only name itself; nothing about the other account (not
        # even whether it exists) is looked up or told.
        raise PermissionDenied(f"Can't create/list resources for account {account} in domain {domain_uuid}, "
                               "permission denied")
    domain = resolve(session, caller, "Domain", domain_uuid, "read")
    acct = session.scalar(
        select(Account).where(Account.name == account, Account.domain_id == domain.id, Account.removed.is_(None))
    )
    if acct is None:
        raise ParamError(f"Unable to find account {account} in domain id={domain_uuid}")
    if not can_access_owner(session, caller, acct.id, acct.domain_id):
        raise PermissionDenied(f"Account '{caller.account_name}' does not have permission to act for account "
                               f"{account}")  # the other account's id stays unknown to the caller
    return acct


def owned_filter(session: Session, stmt: Select[Any], model: Any, caller: Caller, *, account: str | None = None,
                 domainid: str | None = None, isrecursive: bool = False, listall: bool = False,
                 account_col: Any = None, domain_col: Any = None) -> Select[Any]:
    """Applies CloudStack's listing scope (listall/domainid/isrecursive/account) to a query of owned rows."""
    account_col = account_col if account_col is not None else model.account_id
    domain_col = domain_col if domain_col is not None else model.domain_id
    if domainid is not None:
        domain = resolve(session, caller, "Domain", domainid, "read")
        if not domain_in_scope(caller, domain.path) and domain.id != caller.domain_id:
            raise PermissionDenied(f"Account '{caller.account_name}' does not have permission to list resources "
                                   f"of domain {domainid}", uuids=[domainid])
        if account is not None:
            acct = session.scalar(select(Account.id).where(Account.name == account,
                                                           Account.domain_id == domain.id,
                                                           Account.removed.is_(None)))
            if acct is None:
                raise ParamError(f"Unable to find account by name {account} in domain {domainid}")
            if acct != caller.account_id and not domain_in_scope(caller, domain.path):
                raise PermissionDenied(f"Account '{caller.account_name}' does not have permission to list "
                                       f"resources of account {account}")
            return stmt.where(account_col == acct)
        if not domain_in_scope(caller, domain.path):
            return stmt.where(account_col == caller.account_id)
        if isrecursive:
            sub = select(Domain.id).where(Domain.path.startswith(domain.path))
            return stmt.where(domain_col.in_(sub))
        return stmt.where(domain_col == domain.id)
    if account is not None:
        # CloudStack requires domainid with account; without it the account is looked up in the caller's domain.
        acct = session.scalar(select(Account.id).where(Account.name == account,
                                                       Account.domain_id == caller.domain_id,
                                                       Account.removed.is_(None)))
        if acct is None:
            raise ParamError(f"Unable to find account by name {account} in domain {caller.domain_uuid}")
        if acct != caller.account_id and not caller.is_admin:
            raise PermissionDenied(f"Account '{caller.account_name}' does not have permission to list resources "
                                   f"of account {account}")
        return stmt.where(account_col == acct)
    if caller.is_root_admin and listall:
        return stmt
    if caller.is_domain_admin and listall:
        sub = select(Domain.id).where(Domain.path.startswith(caller.domain_path))
        return stmt.where(domain_col.in_(sub))
    return stmt.where(account_col == caller.account_id)


register_entity("Domain", Domain, "domain")
register_entity("Account", Account, "account")
register_entity("User", User, "user")
