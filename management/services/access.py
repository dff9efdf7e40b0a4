"""Who may see or touch what: entity resolution and ownership checks in one place.

Every command parameter that names an entity (`Ref` in the registry) is resolved here before the command runs,
so no command can forget the check. List commands use `owned_filter` for the same rule on queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from management.db.prepared import prepared
from management.db.subtree import in_subtree
from management.errors import ParamError, PermissionDenied, invalid_id
from management.models.identity import Account, AccountType, Domain, User
from management.models.projects import Project, ProjectAccount
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


# Entities (and tag types) are registered by the modules that serve them, and the API imports those at first use:
# `complete` imports the rest before a lookup is allowed to miss. The API installs the loader.
_load_everything: Callable[[], None] | None = None


def install_loader(load_everything: Callable[[], None]) -> None:
    global _load_everything
    _load_everything = load_everything


def complete() -> None:
    """Every registering module imported (cheap once done)."""
    if _load_everything is not None:
        _load_everything()


def entity_policy(entity: str) -> EntityPolicy:
    found = ENTITIES.get(entity)
    if found is None:
        complete()
        found = ENTITIES[entity]
    return found


def is_entity(entity: str) -> bool:
    if entity not in ENTITIES:
        complete()
    return entity in ENTITIES


def domain_in_scope(caller: Caller, domain_path: str) -> bool:
    """True when the caller administers that domain (root admin: all; domain admin: own subtree)."""
    if caller.is_root_admin:
        return True
    return caller.is_domain_admin and domain_path.startswith(caller.domain_path)


def project_role(session: Session, caller: Caller, project_account_id: int) -> str | None:
    """The caller's role (Admin | Regular) in the project owning ``project_account_id``; None for no member.
    A membership of the caller's user outranks the one of its whole account."""
    rows = session.execute(
        select(ProjectAccount.role, ProjectAccount.user_id).join(Project, Project.id == ProjectAccount.project_id)
        .where(Project.project_account_id == project_account_id, Project.removed.is_(None),
               ProjectAccount.account_id == caller.account_id,
               (ProjectAccount.user_id.is_(None)) | (ProjectAccount.user_id == caller.user_id))).all()
    if not rows:
        return None
    return sorted(rows, key=lambda r: r.user_id is None)[0].role  # type: ignore[no-any-return]


def is_project_account(session: Session, account_id: int) -> bool:
    return session.scalar(select(Account.account_type).where(Account.id == account_id)) == AccountType.PROJECT


def can_access_owner(session: Session, caller: Caller, account_id: int, domain_id: int) -> bool:
    if caller.is_root_admin or account_id == caller.account_id:
        return True
    if is_project_account(session, account_id) and project_role(session, caller, account_id) is not None:
        return True  # a project member uses the project's resources
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
    policy = entity_policy(entity)
    row = session.scalar(_by_uuid(policy), {"uuid": uuid})
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
    policy = entity_policy(entity)
    model = policy.model
    if not policy.soft_delete or not hasattr(model, "removed"):
        return False
    stmt = prepared(("removed-by-uuid", model), lambda: select(model.id).where(
        model.uuid == bindparam("uuid"), model.removed.is_not(None)).limit(1))
    return session.scalar(stmt, {"uuid": uuid}) is not None


def _by_uuid(policy: EntityPolicy) -> Any:
    """resolve's statement for the entity's model (live rows only where it soft-deletes)."""
    model = policy.model
    live = policy.soft_delete and hasattr(model, "removed")

    def build() -> Any:
        stmt = select(model).where(model.uuid == bindparam("uuid"))
        return stmt.where(model.removed.is_(None)) if live else stmt

    return prepared(("by-uuid", model, live), build)


def owner_for(session: Session, caller: Caller, account: str | None, domain_uuid: str | None,
              projectid: str | None = None) -> Account:
    """The account a create command acts for: the caller's own, (admins) `account` in `domainid`, or the
    project account of `projectid` (members of an active project)."""
    if projectid is not None:
        if account is not None:
            raise ParamError("ProjectId and account/domainId can't be specified together")
        project = project_for_use(session, caller, projectid)
        if project.state != "Active":
            raise PermissionDenied(f"Can't add resources to the project id={project.uuid} in state={project.state} "
                                   "as it's no longer active")
        return session.get_one(Account, project.project_account_id)
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


def project_for_use(session: Session, caller: Caller, projectid: str) -> Project:
    """The project named by a `projectid` parameter, when the caller may act in it (member or its admin)."""
    project = session.scalar(select(Project).where(Project.uuid == projectid, Project.removed.is_(None)))
    if project is None:
        raise ParamError(f"Unable to find project by id {projectid}")
    if caller.is_root_admin or project_role(session, caller, project.project_account_id) is not None:
        return project
    path = session.scalar(select(Domain.path).where(Domain.id == project.domain_id))
    if caller.is_domain_admin and path is not None and domain_in_scope(caller, path):
        return project
    raise PermissionDenied(f"Account {caller.account_name} can't access project id={projectid}",
                           uuids=[projectid])


def _project_accounts() -> Select[Any]:
    return select(Account.id).where(Account.account_type == AccountType.PROJECT)


def owned_filter(session: Session, stmt: Select[Any], model: Any, caller: Caller, *, account: str | None = None,
                 domainid: str | None = None, isrecursive: bool = False, listall: bool = False,
                 account_col: Any = None, domain_col: Any = None, projectid: str | None = None) -> Select[Any]:
    """Applies CloudStack's listing scope (listall/domainid/isrecursive/account/projectid) to a query of owned
    rows. Without projectid, project resources are left out (CloudStack's SkipProjectResources); projectid=-1
    lists the resources of every project the caller may see."""
    account_col = account_col if account_col is not None else model.account_id
    domain_col = domain_col if domain_col is not None else model.domain_id
    if projectid is not None:
        if projectid == "-1":
            if caller.is_root_admin:
                return stmt.where(account_col.in_(_project_accounts()))
            mine = select(Project.project_account_id).join(
                ProjectAccount, ProjectAccount.project_id == Project.id).where(
                Project.removed.is_(None), ProjectAccount.account_id == caller.account_id,
                (ProjectAccount.user_id.is_(None)) | (ProjectAccount.user_id == caller.user_id))
            if caller.is_domain_admin:
                sub = select(Domain.id).where(in_subtree(Domain.path, caller.domain_path))
                admin_of = select(Project.project_account_id).where(Project.domain_id.in_(sub))
                return stmt.where(account_col.in_(mine) | account_col.in_(admin_of))
            return stmt.where(account_col.in_(mine))
        if account is not None:
            raise ParamError("ProjectId and account/domainId can't be specified together")
        project = project_for_use(session, caller, projectid)
        return stmt.where(account_col == project.project_account_id)
    stmt = _scope(session, stmt, caller, account=account, domainid=domainid, isrecursive=isrecursive,
                  listall=listall, account_col=account_col, domain_col=domain_col)
    if caller.is_admin and account is None:
        stmt = stmt.where(account_col.not_in(_project_accounts()))
    return stmt


def _scope(session: Session, stmt: Select[Any], caller: Caller, *, account: str | None, domainid: str | None,
           isrecursive: bool, listall: bool, account_col: Any, domain_col: Any) -> Select[Any]:
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
            sub = select(Domain.id).where(in_subtree(Domain.path, domain.path))
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
        sub = select(Domain.id).where(in_subtree(Domain.path, caller.domain_path))
        return stmt.where(domain_col.in_(sub))
    return stmt.where(account_col == caller.account_id)


register_entity("Domain", Domain, "domain")
register_entity("Account", Account, "account")
register_entity("User", User, "user")
