"""Projects: CloudStack's model of a shared workspace. A project owns its resources through an account of type
Project ("PrjAcct-<name>-<domain id>"), so every ownership check (services.access) treats project resources like
any account's; members (whole accounts, or single users since 4.14) are Admin or Regular, optionally with a
project role whose rules allow or deny API commands inside the project.
"""

from __future__ import annotations

import fnmatch
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError, PermissionDenied
from management.models.compute import VirtualMachine
from management.models.identity import Account, AccountType, Domain, User
from management.models.projects import (
    Project,
    ProjectAccount,
    ProjectInvitation,
    ProjectRole,
    ProjectRolePermission,
)
from management.services import access, configuration
from management.services.context import Caller

ADMIN, REGULAR = "Admin", "Regular"
ACCOUNT_PREFIX = "PrjAcct-"


def role_name(value: str | None) -> str:
    if value is None:
        return REGULAR
    for r in (ADMIN, REGULAR):
        if value.lower() == r.lower():
            return r
    raise ParamError(f"Invalid role type {value}; valid values: Admin, Regular")


def setting_true(session: Session, name: str, default: str) -> bool:
    return (configuration.get(session, name, default) or default).strip().lower() == "true"


# ------------------------------------------------------------------------------------------------ lookups

def by_account(session: Session, project_account_id: int) -> Project | None:
    return session.scalar(select(Project).where(Project.project_account_id == project_account_id))


def owners(session: Session, project: Project) -> list[ProjectAccount]:
    return list(session.scalars(select(ProjectAccount).where(ProjectAccount.project_id == project.id,
                                                             ProjectAccount.role == ADMIN)
                                .order_by(ProjectAccount.id)))


def can_modify(session: Session, caller: Caller, project: Project) -> bool:
    """Project admins, and admins of the project's domain (CloudStack's AccessType.ModifyProject)."""
    if caller.is_root_admin:
        return True
    if access.project_role(session, caller, project.project_account_id) == ADMIN:
        return True
    path = session.scalar(select(Domain.path).where(Domain.id == project.domain_id))
    return caller.is_domain_admin and path is not None and access.domain_in_scope(caller, path)


def check_modify(session: Session, caller: Caller, project: Project) -> None:
    if not can_modify(session, caller, project):
        raise PermissionDenied(f"Account {caller.account_name} does not have permission to operate within "
                               f"project id={project.uuid}", uuids=[project.uuid])


def api_allowed(session: Session, caller: Caller, project: Project, command: str) -> bool:
    """A member's project role rules, first match wins; a member without a project role (or the project's
    admins) may call everything its account role allows."""
    rows = session.execute(
        select(ProjectAccount.role, ProjectAccount.project_role_id, ProjectAccount.user_id)
        .where(ProjectAccount.project_id == project.id, ProjectAccount.account_id == caller.account_id,
               (ProjectAccount.user_id.is_(None)) | (ProjectAccount.user_id == caller.user_id))).all()
    if not rows:
        return True  # not a member: the ownership checks decide
    member = sorted(rows, key=lambda r: r.user_id is None)[0]
    if member.role == ADMIN or member.project_role_id is None:
        return True
    rules = session.execute(select(ProjectRolePermission.rule, ProjectRolePermission.permission)
                            .where(ProjectRolePermission.project_role_id == member.project_role_id)
                            .order_by(ProjectRolePermission.sort_order, ProjectRolePermission.id)).all()
    for rule, permission in rules:
        if fnmatch.fnmatchcase(command, rule):
            return permission.upper() == "ALLOW"
    return True


# ------------------------------------------------------------------------------------------------ create

def create(session: Session, caller: Caller, *, name: str, display_text: str | None, owner: Account,
           owner_user: User | None) -> Project:
    from management.services import limits

    if not caller.is_admin and not setting_true(session, "allow.user.create.projects", "true"):
        raise PermissionDenied("Regular user is not permitted to create a project")
    domain = session.get_one(Domain, owner.domain_id)
    dup = session.scalar(select(Project.id).where(func.lower(Project.name) == name.lower(),
                                                  Project.domain_id == domain.id, Project.removed.is_(None)))
    if dup is not None:
        raise ParamError(f"Project with name {name} already exists in domain id={domain.uuid}")
    limits.check(session, owner, {"project": 1})
    acct = Account(name=f"{ACCOUNT_PREFIX}{name}-{domain.id}", domain_id=domain.id,
                   account_type=AccountType.PROJECT, role_id=None)
    session.add(acct)
    session.flush()
    project = Project(name=name, display_text=display_text or name, domain_id=domain.id,
                      project_account_id=acct.id)
    session.add(project)
    session.flush()
    add_member(session, project, owner, owner_user, ADMIN, None)
    return project


def add_member(session: Session, project: Project, account: Account, user: User | None, role: str,
               project_role: ProjectRole | None) -> ProjectAccount:
    existing = session.scalar(select(ProjectAccount).where(
        ProjectAccount.project_id == project.id, ProjectAccount.account_id == account.id,
        ProjectAccount.user_id_marker == (user.id if user else 0)))
    if existing is not None:
        what = f"User {user.username}" if user else f"Account {account.name}"
        raise ParamError(f"{what} is already assigned to the project id={project.uuid}")
    pa = ProjectAccount(project_id=project.id, account_id=account.id, user_id=user.id if user else None,
                        user_id_marker=user.id if user else 0, role=role,
                        project_role_id=project_role.id if project_role else None)
    session.add(pa)
    session.flush()
    return pa


def invite_or_add(session: Session, project: Project, account: Account, user: User | None, role: str,
                  project_role: ProjectRole | None, email: str | None) -> None:
    """addAccountToProject / addUserToProject: direct membership, or a Pending invitation when
    project.invite.required is true."""
    if session.scalar(select(ProjectAccount.id).where(
            ProjectAccount.project_id == project.id, ProjectAccount.account_id == account.id,
            ProjectAccount.user_id_marker == (user.id if user else 0))) is not None:
        what = f"User {user.username}" if user else f"Account {account.name}"
        raise ParamError(f"{what} is already assigned to the project id={project.uuid}")
    if not setting_true(session, "project.invite.required", "false"):
        add_member(session, project, account, user, role, project_role)
        return
    pending = session.scalar(select(ProjectInvitation).where(
        ProjectInvitation.project_id == project.id, ProjectInvitation.account_id == account.id,
        ProjectInvitation.user_id.is_(None) if user is None else ProjectInvitation.user_id == user.id,
        ProjectInvitation.state == "Pending"))
    if pending is not None:
        raise ParamError(f"There is already a pending invitation for account {account.name} to the project "
                         f"id={project.uuid}")
    session.add(ProjectInvitation(project_id=project.id, account_id=account.id, user_id=user.id if user else None,
                                  domain_id=account.domain_id, email=email, role=role,
                                  project_role_id=project_role.id if project_role else None,
                                  token=secrets.token_hex(16) if email else None))
    session.flush()


def answer_invitation(session: Session, caller: Caller, project: Project, account: Account, user: User | None,
                      token: str | None, accept: bool) -> None:
    stmt = select(ProjectInvitation).where(ProjectInvitation.project_id == project.id,
                                           ProjectInvitation.state == "Pending")
    if token:
        stmt = stmt.where(ProjectInvitation.token == token)
    else:
        stmt = stmt.where(ProjectInvitation.account_id == account.id)
        stmt = stmt.where(ProjectInvitation.user_id == user.id) if user else stmt
    inv = session.scalar(stmt.order_by(ProjectInvitation.id))
    if inv is None:
        raise ParamError(f"Unable to find invitation for account name={account.name} to the project "
                         f"id={project.uuid}")
    if not accept:
        inv.state = "Declined"
        return
    member_account = session.get_one(Account, inv.account_id) if inv.account_id else account
    member_user = session.get(User, inv.user_id) if inv.user_id else None
    role = session.get(ProjectRole, inv.project_role_id) if inv.project_role_id else None
    add_member(session, project, member_account, member_user, inv.role, role)
    inv.state = "Completed"


def remove_member(session: Session, project: Project, account: Account, user: User | None) -> None:
    row = session.scalar(select(ProjectAccount).where(ProjectAccount.project_id == project.id,
                                                      ProjectAccount.account_id == account.id,
                                                      ProjectAccount.user_id_marker == (user.id if user else 0)))
    if row is None:
        what = f"User {user.username}" if user else f"Account {account.name}"
        raise ParamError(f"{what} is not assigned to the project id={project.uuid}")
    if row.role == ADMIN and len(owners(session, project)) == 1:
        raise ParamError(f"Unable to delete account {account.name} from the project id={project.uuid} as the "
                         "account is the only owner of the project; assign another owner first")
    session.delete(row)
    session.flush()


def update(session: Session, project: Project, *, display_text: str | None, name: str | None,
           new_owner: Account | None, new_owner_user: User | None, role: str | None, swap: bool) -> None:
    if display_text is not None:
        project.display_text = display_text
    if name is not None and name != project.name:
        dup = session.scalar(select(Project.id).where(func.lower(Project.name) == name.lower(),
                                                      Project.domain_id == project.domain_id,
                                                      Project.removed.is_(None), Project.id != project.id))
        if dup is not None:
            raise ParamError(f"Project with name {name} already exists in the domain")
        project.name = name
    if new_owner is None:
        return
    member = session.scalar(select(ProjectAccount).where(
        ProjectAccount.project_id == project.id, ProjectAccount.account_id == new_owner.id,
        ProjectAccount.user_id_marker == (new_owner_user.id if new_owner_user else 0)))
    wanted = role_name(role) if role else ADMIN
    if member is None:
        member = add_member(session, project, new_owner, new_owner_user, wanted, None)
    else:
        member.role = wanted
    if swap and wanted == ADMIN:
        for other in owners(session, project):
            if other.id != member.id:
                other.role = REGULAR
    session.flush()


def set_state(session: Session, project: Project, state: str) -> None:
    project.state = state
    session.flush()


def delete(session: Session, project: Project) -> list[int]:
    """Marks the project and its account removed; returns the ids of VMs the caller must expunge."""
    now = utcnow()
    vms = list(session.scalars(select(VirtualMachine.id).where(
        VirtualMachine.account_id == project.project_account_id, VirtualMachine.removed.is_(None))))
    acct = session.get_one(Account, project.project_account_id)
    acct.removed, acct.removed_marker, acct.state = now, acct.id, "disabled"
    project.removed = now
    project.state = "Disabled"
    session.execute(sql_update(ProjectInvitation).where(ProjectInvitation.project_id == project.id,
                                                    ProjectInvitation.state == "Pending")
                    .values(state="Expired"))
    return vms


def resources_of(session: Session, project: Project) -> dict[str, int]:
    """Live counts of what the project still owns (deleteProject without cleanup refuses when any)."""
    from management.services import limits

    return {t: n for t, n in limits.counts_for_accounts(session, [project.project_account_id],
                                                        ("user_vm", "volume", "network", "public_ip",
                                                         "snapshot", "template")).get(
        project.project_account_id, {}).items() if n}


# ------------------------------------------------------------------------------------------------ responses

LARGE_BODY = 20  # list items in a response from which decorate() first asks whether any project exists


def decorate(session: Session, body: Any) -> Any:
    """Adds CloudStack's projectid/project to every object owned by a project account (account "PrjAcct-...")
    in a response body; objects of other owners are left alone. Cheap when no project is involved."""
    found: dict[tuple[str, str | None], tuple[str, str] | None] = {}
    # The walk reads every key of every object (a page of 500 VMs is ~30k); with no project anywhere it can
    # change nothing, and one indexed query says so. Small bodies skip the query: the walk is cheaper.
    if isinstance(body, dict) and any(isinstance(v, list) and len(v) > LARGE_BODY for v in body.values()) \
            and session.scalar(select(Project.id).limit(1)) is None:
        return body

    def visit(obj: Any) -> None:
        if isinstance(obj, list):
            for x in obj:
                visit(x)
            return
        if not isinstance(obj, dict):
            return
        acct = obj.get("account")
        if isinstance(acct, str) and acct.startswith(ACCOUNT_PREFIX) and "projectid" not in obj:
            key = (acct, obj.get("domainid"))
            if key not in found:
                stmt = select(Project.uuid, Project.name).join(Account, Account.id == Project.project_account_id) \
                    .where(Account.name == acct)
                if key[1]:
                    stmt = stmt.join(Domain, Domain.id == Account.domain_id).where(Domain.uuid == key[1])
                row = session.execute(stmt.limit(1)).first()
                found[key] = (row[0], row[1]) if row else None
            hit = found[key]
            if hit is not None:
                obj["projectid"], obj["project"] = hit
        for k, v in obj.items():
            if isinstance(v, list | dict) and k not in ("jobresult",):
                visit(v)

    visit(body)
    return body


def check_call(session: Session, caller: Caller, command: str, projectid: Any) -> None:
    """A call made inside a project (projectid given) must pass the caller's project role rules."""
    if not isinstance(projectid, str) or projectid == "-1" or caller.is_root_admin:
        return
    project = session.scalar(select(Project).where(Project.uuid == projectid, Project.removed.is_(None)))
    if project is not None and not api_allowed(session, caller, project, command):
        raise PermissionDenied(f"The API {command} is not allowed for the caller's project role in project "
                               f"id={projectid}", uuids=[projectid])
