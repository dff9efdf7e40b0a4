"""Projects: create/list/update/delete/activate/suspend, members (accounts and users), invitations, project roles
and their permissions (the commands Ansible's cs_project calls, and the UI's project views)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ListParams,
    MapParam,
    OwnedListParams,
    Params,
    Ref,
    ScopedListParams,
    api_command,
)
from management.api.cloudstack.schemas import TagResp
from management.api.cloudstack.schemas_tenancy import (
    ProjectAccountResp,
    ProjectInvitationResp,
    ProjectResp,
    ProjectRolePermissionResp,
    ProjectRoleResp,
)
from management.db.subtree import in_subtree
from management.errors import ParamError, PermissionDenied
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain, User
from management.models.projects import (
    Project,
    ProjectAccount,
    ProjectInvitation,
    ProjectRole,
    ProjectRolePermission,
)
from management.services import access, limits, tags
from management.services.context import CallContext
from management.services.identity import projects as svc
from management.services.identity import rbac
from management.services.listing import keyword_filter, paginate, same_name, tags_filter

access.register_entity("Project", Project, "owned", visible=lambda s, c, row, kind: _visible(s, c, row, kind))
access.register_entity("ProjectRole", ProjectRole, "public", soft_delete=False)
access.register_entity("ProjectRolePermission", ProjectRolePermission, "public", soft_delete=False)
access.register_entity("ProjectInvitation", ProjectInvitation, "public", soft_delete=False)
tags.register("Project", "Project")


def _visible(session, caller, row: Project, kind: str) -> bool:  # type: ignore[no-untyped-def]
    if access.project_role(session, caller, row.project_account_id) is not None:
        return True
    if kind == "read" and session.scalar(select(ProjectInvitation.id).where(
            ProjectInvitation.project_id == row.id, ProjectInvitation.account_id == caller.account_id,
            ProjectInvitation.state == "Pending").limit(1)) is not None:
        return True  # an invitee may look at the project it is invited to (and answer the invitation)
    return svc.can_modify(session, caller, row) if kind != "read" else \
        access.can_access_owner(session, caller, row.project_account_id, row.domain_id)


# ------------------------------------------------------------------------------------------------ responses

def owners_of(session: Any, project_ids: list[int]) -> dict[int, list[dict[str, str]]]:
    """The owner entries (account, and the user when a user of it is the owner) of each project, oldest first."""
    out: dict[int, list[dict[str, str]]] = {i: [] for i in project_ids}
    if not out:
        return out
    rows = session.execute(
        select(ProjectAccount.project_id, Account.name, Account.uuid, User.username, User.uuid)
        .join(Account, Account.id == ProjectAccount.account_id)
        .outerjoin(User, User.id == ProjectAccount.user_id)
        .where(ProjectAccount.project_id.in_(out), ProjectAccount.role == svc.ADMIN).order_by(ProjectAccount.id))
    for project_id, name, uuid, username, user_uuid in rows:
        entry = {"account": name, "accountid": uuid}
        if username is not None:
            entry.update({"user": username, "userid": user_uuid})
        out[project_id].append(entry)
    return out


def project_resp(ctx: CallContext, p: Project, usage: dict[str, Any] | None = None,
                 tag_rows: list[Any] | None = None, owners: list[dict[str, str]] | None = None) -> ProjectResp:
    """`usage` (limits, totals, vmrunning/vmstopped of the project's account), `tag_rows` and `owners` come from a
    list's one read for its page; a single project reads its own."""
    s = ctx.session
    dom = s.get_one(Domain, p.domain_id)
    acct = s.get_one(Account, p.project_account_id)
    if owners is None:
        owners = owners_of(s, [p.id])[p.id]
    if usage is None:
        usage = limits.account_display(s, [acct])[acct.id]
    if tag_rows is None:
        tag_rows = tags.tags_of(s, "Project", [p.uuid]).get(p.uuid, [])
    return ProjectResp(
        id=p.uuid, name=p.name, displaytext=p.display_text, domainid=dom.uuid, domain=dom.name,
        domainpath=dom.display_path, owner=owners, projectaccountname=acct.name, state=p.state, created=p.created,
        tags=[TagResp(key=t.key, value=t.value, resourcetype=t.resource_type, resourceid=t.resource_uuid,
                      domainid=dom.uuid, domain=dom.name) for t in tag_rows],
        **usage,
    )


def member_resp(ctx: CallContext, pa: ProjectAccount, project: Project) -> ProjectAccountResp:
    s = ctx.session
    a = s.get_one(Account, pa.account_id)
    dom = s.get_one(Domain, a.domain_id)
    u = s.get(User, pa.user_id) if pa.user_id else None
    role = s.get(ProjectRole, pa.project_role_id) if pa.project_role_id else None
    users = [{"id": x.uuid, "username": x.username, "account": a.name, "accountid": a.uuid}
             for x in s.scalars(select(User).where(User.account_id == a.id, User.removed.is_(None)))] \
        if u is None else []
    return ProjectAccountResp(
        projectid=project.uuid, project=project.name, accountid=a.uuid, account=a.name,
        username=u.username if u else None, userid=u.uuid if u else None, accounttype=a.account_type,
        projectroleid=role.uuid if role else None, role=pa.role, domainid=dom.uuid, domain=dom.name,
        domainpath=dom.display_path, user=users)


def invitation_resp(ctx: CallContext, inv: ProjectInvitation) -> ProjectInvitationResp:
    s = ctx.session
    project = s.get_one(Project, inv.project_id)
    dom = s.get_one(Domain, inv.domain_id)
    a = s.get(Account, inv.account_id) if inv.account_id else None
    u = s.get(User, inv.user_id) if inv.user_id else None
    return ProjectInvitationResp(id=inv.uuid, projectid=project.uuid, project=project.name, domainid=dom.uuid,
                                 domain=dom.name, domainpath=dom.display_path, userid=u.uuid if u else None,
                                 account=a.name if a else None, email=inv.email, state=inv.state)


def role_resp(ctx: CallContext, r: ProjectRole) -> ProjectRoleResp:
    return ProjectRoleResp(id=r.uuid, name=r.name, description=r.description,
                           projectid=ctx.session.get_one(Project, r.project_id).uuid)


def permission_resp(ctx: CallContext, rp: ProjectRolePermission) -> ProjectRolePermissionResp:
    role = ctx.session.get_one(ProjectRole, rp.project_role_id)
    return ProjectRolePermissionResp(id=rp.uuid, projectroleid=role.uuid,
                                     projectid=ctx.session.get_one(Project, rp.project_id).uuid,
                                     projectrolename=role.name, rule=rp.rule, permission=rp.permission.lower(),
                                     description=rp.description)


def _reload(ctx: CallContext, uuid: str) -> Project:
    ctx.session.expire_all()
    return ctx.session.scalars(select(Project).where(Project.uuid == uuid)).one()


# ------------------------------------------------------------------------------------------------ projects

class CreateProjectParams(Params):
    name: str = Field(description="name of the project")
    displaytext: str | None = Field(None, description="The display text of the project, defaults to the 'name´.")
    account: str | None = Field(None, description="account who will be Admin for the project")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain ID of the account "
                                                                   "owning a project")
    accountid: Annotated[str | None, Ref("Account")] = Field(None, description="ID of the account owning a "
                                                             "project")
    userid: Annotated[str | None, Ref("User")] = Field(None, description="user ID of the account to be assigned "
                                                       "as owner of the project i.e., Project Admin")


def _create_project(ctx: CallContext, p: CreateProjectParams) -> str:
    s = ctx.session
    if p.accountid:
        owner: Account = ctx.refs["accountid"]
    else:
        owner = access.owner_for(s, ctx.caller, p.account, p.domainid)
    user: User | None = ctx.refs.get("userid")
    if user is not None and user.account_id != owner.id:
        raise ParamError(f"User {user.username} does not belong to account {owner.name}")
    if user is None and owner.id == ctx.caller.account_id and not ctx.caller.is_admin:
        user = None  # the whole account owns the project, as in CloudStack without userid
    return svc.create(s, ctx.caller, name=p.name, display_text=p.displaytext, owner=owner, owner_user=user).uuid


@api_command("createProject", params=CreateProjectParams, result_key="project", is_async=True,
             create=_create_project, entity="Project", event="PROJECT.CREATE", response=ProjectResp,
             since="3.0.0", description="Creates a project")
def create_project(ctx: CallContext, p: CreateProjectParams) -> ProjectResp:
    assert ctx.created_uuid
    return project_resp(ctx, _reload(ctx, ctx.created_uuid))


class ListProjectsParams(ScopedListParams):
    id: Annotated[str | None, Ref("Project", "read")] = Field(None, description="list projects by project ID")
    name: str | None = Field(None, description="list projects by name")
    displaytext: str | None = Field(None, description="list projects by display text")
    state: str | None = Field(None, description="list projects by state")
    tags: MapParam | None = Field(None, description="List projects by tags (key/value pairs)")
    username: str | None = Field(None, description="List projects by username")
    details: list[str] | None = Field(None, description="comma separated list of project details requested, "
                                      "value can be a list of [ all, resource, min]")
    showicon: bool = Field(False, description="flag to display the resource icon for projects")


@api_command("listProjects", params=ListProjectsParams, result_key="project", response=ProjectResp,
             since="3.0.0", description="Lists projects and provides detailed information for listed projects")
def list_projects(ctx: CallContext, p: ListProjectsParams) -> ListResult:
    s, c = ctx.session, ctx.caller
    stmt = select(Project).where(Project.removed.is_(None))
    member_of = select(ProjectAccount.project_id).where(
        ProjectAccount.account_id == c.account_id,
        (ProjectAccount.user_id.is_(None)) | (ProjectAccount.user_id == c.user_id))
    if p.account is not None or p.domainid is not None:
        if p.account is not None:
            acct = access.owner_for(s, c, p.account, p.domainid)
            stmt = stmt.where(Project.id.in_(select(ProjectAccount.project_id)
                                             .where(ProjectAccount.account_id == acct.id)))
        else:
            dom = access.resolve(s, c, "Domain", p.domainid, "read")  # type: ignore[arg-type]
            if not access.domain_in_scope(c, dom.path):
                stmt = stmt.where(Project.id.in_(member_of))
            sub = select(Domain.id).where(in_subtree(Domain.path, dom.path)) if p.isrecursive else \
                select(Domain.id).where(Domain.id == dom.id)
            stmt = stmt.where(Project.domain_id.in_(sub))
    elif c.is_root_admin and (p.listall or p.id):
        pass
    elif c.is_domain_admin and (p.listall or p.id):
        sub = select(Domain.id).where(in_subtree(Domain.path, c.domain_path))
        stmt = stmt.where(Project.domain_id.in_(sub) | Project.id.in_(member_of))
    else:
        stmt = stmt.where(Project.id.in_(member_of))
    if p.id:
        stmt = stmt.where(Project.uuid == p.id)
    if p.name:
        stmt = stmt.where(func.lower(Project.name) == p.name.lower())
    if p.displaytext:
        stmt = stmt.where(Project.display_text == p.displaytext)
    if p.state:
        stmt = stmt.where(func.lower(Project.state) == p.state.lower())
    if p.username:
        users = select(User.id).where(User.username == p.username, User.removed.is_(None))
        stmt = stmt.where(Project.id.in_(select(ProjectAccount.project_id).where(ProjectAccount.user_id.in_(users))))
    stmt = keyword_filter(stmt, p.keyword, Project.name, Project.display_text)
    stmt = tags_filter(stmt, p.tags, "Project", Project.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, Project.id)
    loaded = {a.id: a for a in s.scalars(select(Account).where(Account.id.in_([x.project_account_id for x in rows])))}
    accounts = {x.id: loaded[x.project_account_id] for x in rows}  # held: project_resp finds them in the session
    usage = limits.account_display(s, accounts.values())
    by_project = tags.tags_of(s, "Project", [x.uuid for x in rows])
    owners = owners_of(s, [x.id for x in rows])
    return ListResult([project_resp(ctx, x, usage[accounts[x.id].id], by_project.get(x.uuid, []), owners[x.id])
                       for x in rows], count)


class ProjectIdParams(Params):
    id: Annotated[str, Ref("Project")] = Field(description="id of the project")


def _modifiable(ctx: CallContext, key: str = "id") -> Project:
    project: Project = ctx.refs[key]
    svc.check_modify(ctx.session, ctx.caller, project)
    return project


class UpdateProjectParams(ProjectIdParams):
    displaytext: str | None = Field(None, description="display text of the project")
    name: str | None = Field(None, description="name of the project")
    account: str | None = Field(None, description="new Admin account for the project")
    userid: Annotated[str | None, Ref("User", "read")] = Field(None, description="ID of the user to be promoted/"
                                                               "demoted")
    roletype: str | None = Field(None, description="Account level role to be assigned to the user/account : "
                                 "Admin/Regular")
    swapowner: bool = Field(True, description="True if owner of the project is to be swapped, false if account/"
                            "user is to be added as another admin of the project")


@api_command("updateProject", params=UpdateProjectParams, result_key="project", is_async=True, entity="Project",
             event="PROJECT.UPDATE", response=ProjectResp, since="3.0.0", description="Updates a project")
def update_project(ctx: CallContext, p: UpdateProjectParams) -> ProjectResp:
    project = _modifiable(ctx)
    s = ctx.session
    user: User | None = ctx.refs.get("userid")
    new_owner = None
    if p.account is not None:
        new_owner = s.scalar(select(Account).where(Account.name == p.account, Account.domain_id == project.domain_id,
                                                   Account.removed.is_(None)))
        if new_owner is None:
            raise ParamError(f"Unable to find account name={p.account} in domain id={project.domain_id}")
    elif user is not None:
        new_owner = s.get_one(Account, user.account_id)
    svc.update(s, project, display_text=p.displaytext, name=p.name, new_owner=new_owner, new_owner_user=user,
               role=p.roletype, swap=p.swapowner)
    return project_resp(ctx, project)


class DeleteProjectParams(ProjectIdParams):
    cleanup: bool = Field(False, description="true if all project resources have to be cleaned up, false "
                          "otherwise")


@api_command("deleteProject", params=DeleteProjectParams, is_async=True, entity="Project", event="PROJECT.DELETE",
             since="3.0.0", description="Deletes a project")
def delete_project(ctx: CallContext, p: DeleteProjectParams) -> Success:
    project = _modifiable(ctx)
    held = svc.resources_of(ctx.session, project)
    if held and not p.cleanup:
        what = ", ".join(f"{n} {t}" for t, n in sorted(held.items()))
        raise ParamError(f"Cannot delete project {project.name}: it still has resources ({what}); delete them "
                         "first or pass cleanup=true")
    vm_ids = svc.delete(ctx.session, project)
    if vm_ids:
        from management.services.compute import vm as vm_service

        vm_service.release(ctx.session)
        for vm_id in vm_ids:
            vm_service.destroy(ctx.runtime, vm_id, expunge_now=True)
    return Success()


@api_command("activateProject", params=ProjectIdParams, result_key="project", is_async=True, entity="Project",
             event="PROJECT.ACTIVATE", response=ProjectResp, since="3.0.0", response_name="activaterojectresponse",
             description="Activates a project")
def activate_project(ctx: CallContext, p: ProjectIdParams) -> ProjectResp:
    project = _modifiable(ctx)
    if project.state == "Active":
        raise ParamError("Project is already active")
    svc.set_state(ctx.session, project, "Active")
    return project_resp(ctx, project)


@api_command("suspendProject", params=ProjectIdParams, result_key="project", is_async=True, entity="Project",
             event="PROJECT.SUSPEND", response=ProjectResp, since="3.0.0", description="Suspends a project")
def suspend_project(ctx: CallContext, p: ProjectIdParams) -> ProjectResp:
    project = _modifiable(ctx)
    if project.state == "Suspended":
        raise ParamError(f"Project id={project.uuid} is already suspended")
    svc.set_state(ctx.session, project, "Suspended")
    vm_ids = list(ctx.session.scalars(select(VirtualMachine.id).where(
        VirtualMachine.account_id == project.project_account_id, VirtualMachine.removed.is_(None),
        VirtualMachine.vm_type == "User", VirtualMachine.state == "Running")))
    uuid = project.uuid
    if vm_ids:  # CloudStack stops the project's running VMs when it is suspended
        from management.services.compute import vm as vm_service

        vm_service.release(ctx.session)
        for vm_id in vm_ids:
            vm_service.stop(ctx.runtime, vm_id, forced=True)
        # VM sync writes the stopped VMs' power state meanwhile: the answer's read must not stay open
        return vm_service.done(ctx.session, project_resp(ctx, _reload(ctx, uuid)))
    return project_resp(ctx, project)


# ------------------------------------------------------------------------------------------------ members

class AddAccountToProjectParams(Params):
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of the project to add the account to")
    account: str | None = Field(None, description="name of the account to be added to the project")
    email: str | None = Field(None, description="email to which invitation to the project is going to be sent")
    projectroleid: Annotated[str | None, Ref("ProjectRole", "read")] = Field(
        None, description="ID of the project role")
    roletype: str | None = Field(None, description="Project role type to be assigned to the user - Admin/Regular; "
                                 "default: Regular")


def _project_role(ctx: CallContext, project: Project) -> ProjectRole | None:
    role: ProjectRole | None = ctx.refs.get("projectroleid")
    if role is not None and role.project_id != project.id:
        raise ParamError(f"Project role {role.uuid} does not belong to project {project.uuid}")
    return role


@api_command("addAccountToProject", params=AddAccountToProjectParams, is_async=True, entity="Project",
             event="PROJECT.ACCOUNT.ADD", since="3.0.0",
             description="Adds account to a project")
def add_account_to_project(ctx: CallContext, p: AddAccountToProjectParams) -> Success:
    project = _modifiable(ctx, "projectid")
    if p.account is None and p.email is None:
        raise ParamError("Either accountName or email is required")
    s = ctx.session
    if p.account is None:
        raise ParamError("Inviting by email alone needs an SMTP server; give the account name")
    acct = s.scalar(select(Account).where(Account.name == p.account, Account.domain_id == project.domain_id,
                                          Account.removed.is_(None)))
    if acct is None:
        raise ParamError(f"Unable to find account name={p.account} in domain id={project.domain_id}")
    svc.invite_or_add(s, project, acct, None, svc.role_name(p.roletype), _project_role(ctx, project), p.email)
    return Success()


class AddUserToProjectParams(Params):
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of the project to add the user to")
    username: str = Field(description="Name of the user to be added to the project")
    email: str | None = Field(None, description="email ID of user to which invitation to the project is going to "
                              "be sent")
    projectroleid: Annotated[str | None, Ref("ProjectRole", "read")] = Field(
        None, description="ID of the project role")
    roletype: str | None = Field(None, description="Project role type to be assigned to the user - Admin/Regular")


@api_command("addUserToProject", params=AddUserToProjectParams, is_async=True, entity="Project",
             event="PROJECT.USER.ADD", since="4.14", description="Adds user to a project")
def add_user_to_project(ctx: CallContext, p: AddUserToProjectParams) -> Success:
    project = _modifiable(ctx, "projectid")
    s = ctx.session
    user = s.scalar(select(User).join(Account, Account.id == User.account_id).where(
        User.username == p.username, User.removed.is_(None), Account.domain_id == project.domain_id))
    if user is None:
        raise ParamError(f"User with username {p.username} doesn't exist in the project's domain")
    svc.invite_or_add(s, project, s.get_one(Account, user.account_id), user, svc.role_name(p.roletype),
                      _project_role(ctx, project), p.email)
    return Success()


class DeleteAccountFromProjectParams(Params):
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of the project to remove the account from")
    account: str = Field(description="name of the account to be removed from the project")


@api_command("deleteAccountFromProject", params=DeleteAccountFromProjectParams, is_async=True, entity="Project",
             event="PROJECT.ACCOUNT.REMOVE", since="3.0.0", description="Deletes account from the project")
def delete_account_from_project(ctx: CallContext, p: DeleteAccountFromProjectParams) -> Success:
    project = _modifiable(ctx, "projectid")
    acct = ctx.session.scalar(select(Account).where(Account.name == p.account,
                                                    Account.domain_id == project.domain_id,
                                                    Account.removed.is_(None)))
    if acct is None:
        raise ParamError(f"Unable to find account name={p.account} in domain id={project.domain_id}")
    svc.remove_member(ctx.session, project, acct, None)
    return Success()


class DeleteUserFromProjectParams(Params):
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of the project to remove the user from")
    userid: Annotated[str, Ref("User", "read")] = Field(description="Id of the user to be removed from the project")


@api_command("deleteUserFromProject", params=DeleteUserFromProjectParams, is_async=True, entity="Project",
             event="PROJECT.USER.REMOVE", since="4.15.0", description="Deletes user from the project")
def delete_user_from_project(ctx: CallContext, p: DeleteUserFromProjectParams) -> Success:
    project = _modifiable(ctx, "projectid")
    user: User = ctx.refs["userid"]
    svc.remove_member(ctx.session, project, ctx.session.get_one(Account, user.account_id), user)
    return Success()


class ListProjectAccountsParams(ListParams):
    projectid: Annotated[str, Ref("Project", "read")] = Field(description="ID of the project")
    account: str | None = Field(None, description="list accounts of the project by account name")
    userid: Annotated[str | None, Ref("User", "read")] = Field(None, description="list user of the project by "
                                                               "user ID")
    role: str | None = Field(None, description="list accounts of the project by role")
    projectroleid: Annotated[str | None, Ref("ProjectRole", "read")] = Field(
        None, description="list accounts of the project by project role id")


# listApis describes the response as ProjectResponse, as CloudStack's annotation does; the objects listed are
# project accounts (ProjectAccountResponse).
@api_command("listProjectAccounts", params=ListProjectAccountsParams, result_key="projectaccount",
             response=ProjectResp, since="3.0.0", description="Lists project's accounts")
def list_project_accounts(ctx: CallContext, p: ListProjectAccountsParams) -> ListResult:
    project: Project = ctx.refs["projectid"]
    stmt = select(ProjectAccount).where(ProjectAccount.project_id == project.id)
    if p.account:
        stmt = stmt.where(ProjectAccount.account_id.in_(select(Account.id).where(Account.name == p.account)))
    if p.userid:
        stmt = stmt.where(ProjectAccount.user_id == ctx.refs["userid"].id)
    if p.role:
        stmt = stmt.where(func.lower(ProjectAccount.role) == p.role.lower())
    if p.projectroleid:
        stmt = stmt.where(ProjectAccount.project_role_id == ctx.refs["projectroleid"].id)
    if p.keyword:
        stmt = stmt.where(ProjectAccount.account_id.in_(select(Account.id).where(
            Account.name.ilike(f"%{p.keyword}%"))))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ProjectAccount.id)
    return ListResult([member_resp(ctx, r, project) for r in rows], count)


# ------------------------------------------------------------------------------------------------ invitations

class ListInvitationsParams(OwnedListParams):
    id: Annotated[str | None, Ref("ProjectInvitation", "read")] = Field(None, description="list invitations by "
                                                                        "id")
    activeonly: bool = Field(False, description="if true, list only active invitations - having Pending state and "
                             "ones that are not timed out yet")
    state: str | None = Field(None, description="list invitations by state")
    userid: Annotated[str | None, Ref("User", "read")] = Field(None, description="list invitation by user ID")


@api_command("listProjectInvitations", params=ListInvitationsParams, result_key="projectinvitation",
             response=ProjectInvitationResp, since="3.0.0",
             description="Lists project invitations and provides detailed information for listed invitations")
def list_project_invitations(ctx: CallContext, p: ListInvitationsParams) -> ListResult:
    s, c = ctx.session, ctx.caller
    stmt = select(ProjectInvitation)
    if p.projectid is not None and p.projectid != "-1":
        project = access.project_for_use(s, c, p.projectid)
        stmt = stmt.where(ProjectInvitation.project_id == project.id)
        if not svc.can_modify(s, c, project):
            stmt = stmt.where(ProjectInvitation.account_id == c.account_id)
    elif not c.is_root_admin:
        managed = select(ProjectAccount.project_id).where(ProjectAccount.account_id == c.account_id,
                                                          ProjectAccount.role == svc.ADMIN)
        stmt = stmt.where((ProjectInvitation.account_id == c.account_id) |
                          ProjectInvitation.project_id.in_(managed))
    if p.id:
        stmt = stmt.where(ProjectInvitation.uuid == p.id)
    if p.activeonly:
        stmt = stmt.where(ProjectInvitation.state == "Pending")
    if p.state:
        stmt = stmt.where(func.lower(ProjectInvitation.state) == p.state.lower())
    if p.userid:
        stmt = stmt.where(ProjectInvitation.user_id == ctx.refs["userid"].id)
    if p.account:
        stmt = stmt.where(ProjectInvitation.account_id.in_(select(Account.id).where(Account.name == p.account)))
    rows, count = paginate(s, stmt, p.page, p.pagesize, ProjectInvitation.id)
    return ListResult([invitation_resp(ctx, r) for r in rows], count)


class UpdateInvitationParams(Params):
    projectid: Annotated[str, Ref("Project", "read")] = Field(description="id of the project to join")
    account: str | None = Field(None, description="account that is joining the project")
    userid: Annotated[str | None, Ref("User", "read")] = Field(None, description="User UUID, required for adding "
                                                               "account from external provisioning system")
    token: str | None = Field(None, description="list invitations for specified account; this parameter has to be "
                              "specified with domainId")
    accept: bool = Field(True, description="if true, accept the invitation, decline if false. True by default")


def _project_by_uuid(ctx: CallContext, uuid: str) -> Project:
    project = ctx.session.scalar(select(Project).where(Project.uuid == uuid, Project.removed.is_(None)))
    if project is None:
        raise ParamError(f"Unable to find the project id={uuid}")
    return project


@api_command("updateProjectInvitation", params=UpdateInvitationParams, is_async=True, entity="Project",
             event="PROJECT.INVITATION.UPDATE", since="3.0.0",
             description="Accepts or declines project invitation")
def update_project_invitation(ctx: CallContext, p: UpdateInvitationParams) -> Success:
    s, c = ctx.session, ctx.caller
    project = _project_by_uuid(ctx, p.projectid)
    acct = s.get_one(Account, c.account_id)
    if p.account is not None and p.account != c.account_name:
        acct = access.owner_for(s, c, p.account, s.get_one(Domain, project.domain_id).uuid)
    user: User | None = ctx.refs.get("userid")
    if user is not None and user.id != c.user_id and not c.is_admin:
        raise PermissionDenied(f"Account {c.account_name} can't answer invitations of other users")
    svc.answer_invitation(s, c, project, acct, user, p.token, p.accept)
    return Success()


class DeleteInvitationParams(Params):
    id: Annotated[str, Ref("ProjectInvitation")] = Field(description="id of the invitation")


@api_command("deleteProjectInvitation", params=DeleteInvitationParams, is_async=True, entity="Project",
             event="PROJECT.INVITATION.REMOVE", since="3.0.0",
             description="Deletes project invitation")
def delete_project_invitation(ctx: CallContext, p: DeleteInvitationParams) -> Success:
    inv: ProjectInvitation = ctx.refs["id"]
    svc.check_modify(ctx.session, ctx.caller, ctx.session.get_one(Project, inv.project_id))
    ctx.session.delete(inv)
    return Success()


# ------------------------------------------------------------------------------------------------ project roles

class CreateProjectRoleParams(Params):
    name: str = Field(description="creates a project role with this unique name")
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of project where role is being created")
    description: str | None = Field(None, description="The description of the Project role")


@api_command("createProjectRole", params=CreateProjectRoleParams, result_key="projectrole",
             response=ProjectRoleResp, event="PROJECT.ROLE.CREATE", entity="ProjectRole", since="4.15.0",
             description="Creates a Project role")
def create_project_role(ctx: CallContext, p: CreateProjectRoleParams) -> ProjectRoleResp:
    project = _modifiable(ctx, "projectid")
    if ctx.session.scalar(select(ProjectRole.id).where(ProjectRole.project_id == project.id,
                                                       ProjectRole.name == p.name)) is not None:
        raise ParamError(f"Project role with name {p.name} already exists in the project")
    role = ProjectRole(name=p.name, description=p.description, project_id=project.id)
    ctx.session.add(role)
    ctx.session.flush()
    return role_resp(ctx, role)


class ListProjectRolesParams(ListParams):
    projectid: Annotated[str, Ref("Project", "read")] = Field(description="ID of project where role is being "
                                                              "created")
    projectroleid: Annotated[str | None, Ref("ProjectRole", "read")] = Field(None, description="List project role "
                                                                             "by project role ID.")
    name: str | None = Field(None, description="List project role by project role name.")


@api_command("listProjectRoles", params=ListProjectRolesParams, result_key="projectrole", response=ProjectRoleResp,
             since="4.15.0", description="Lists Project roles in CloudStack")
def list_project_roles(ctx: CallContext, p: ListProjectRolesParams) -> ListResult:
    project: Project = ctx.refs["projectid"]
    stmt = select(ProjectRole).where(ProjectRole.project_id == project.id)
    if p.projectroleid:
        stmt = stmt.where(ProjectRole.id == ctx.refs["projectroleid"].id)
    if p.name:
        stmt = stmt.where(same_name(ProjectRole.name, p.name))
    stmt = keyword_filter(stmt, p.keyword, ProjectRole.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ProjectRole.id)
    return ListResult([role_resp(ctx, r) for r in rows], count)


def _role_of(ctx: CallContext, project: Project, key: str) -> ProjectRole:
    role: ProjectRole = ctx.refs[key]
    if role.project_id != project.id:
        raise ParamError(f"Project role {role.uuid} does not belong to project {project.uuid}")
    return role


class UpdateProjectRoleParams(Params):
    id: Annotated[str, Ref("ProjectRole")] = Field(description="ID of the Project role")
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of project where role is being created")
    name: str | None = Field(None, description="creates a role with this unique name")
    description: str | None = Field(None, description="The description of the Project role")


@api_command("updateProjectRole", params=UpdateProjectRoleParams, result_key="projectrole",
             response=ProjectRoleResp, event="PROJECT.ROLE.UPDATE", entity="ProjectRole", since="4.15.0",
             description="Creates a Project role")
def update_project_role(ctx: CallContext, p: UpdateProjectRoleParams) -> ProjectRoleResp:
    project = _modifiable(ctx, "projectid")
    role = _role_of(ctx, project, "id")
    if p.name:
        role.name = p.name
    if p.description is not None:
        role.description = p.description
    return role_resp(ctx, role)


class DeleteProjectRoleParams(Params):
    id: Annotated[str, Ref("ProjectRole")] = Field(description="ID of the project role to be deleted")
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of the project from where the role is to be "
                                                      "deleted")


@api_command("deleteProjectRole", params=DeleteProjectRoleParams, event="PROJECT.ROLE.DELETE",
             entity="ProjectRole", since="4.15.0", description="Delete Project roles in CloudStack")
def delete_project_role(ctx: CallContext, p: DeleteProjectRoleParams) -> Success:
    project = _modifiable(ctx, "projectid")
    role = _role_of(ctx, project, "id")
    if ctx.session.scalar(select(ProjectAccount.id).where(ProjectAccount.project_role_id == role.id).limit(1)):
        raise ParamError("Project role cannot be deleted as it's associated with a project member")
    ctx.session.delete(role)
    return Success()


class CreateProjectRolePermissionParams(Params):
    projectroleid: Annotated[str, Ref("ProjectRole")] = Field(description="ID of the project role")
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of project where project role permission is "
                                                      "to be created")
    rule: str = Field(description="The API name or wildcard rule such as list*")
    permission: str = Field(description="The rule permission, allow or deny. Default: deny.")
    description: str | None = Field(None, description="The description of the role permission")


@api_command("createProjectRolePermission", params=CreateProjectRolePermissionParams,
             result_key="projectrolepermission", response=ProjectRolePermissionResp,
             event="PROJECT.ROLE.PERMISSION.CREATE", entity="ProjectRole", since="4.15.0",
             description="Adds API permissions to a project role")
def create_project_role_permission(ctx: CallContext, p: CreateProjectRolePermissionParams) -> ProjectRolePermissionResp:
    project = _modifiable(ctx, "projectid")
    role = _role_of(ctx, project, "projectroleid")
    permission = rbac.permission_value(p.permission)
    last = ctx.session.scalar(select(func.max(ProjectRolePermission.sort_order))
                              .where(ProjectRolePermission.project_role_id == role.id))
    rp = ProjectRolePermission(project_id=project.id, project_role_id=role.id, rule=p.rule,
                               permission=permission, description=p.description,
                               sort_order=(last or 0) + 1)
    ctx.session.add(rp)
    ctx.session.flush()
    return permission_resp(ctx, rp)


class ListProjectRolePermissionsParams(Params):
    projectid: Annotated[str, Ref("Project", "read")] = Field(description="ID of the project")
    projectroleid: Annotated[str | None, Ref("ProjectRole", "read")] = Field(None, description="ID of the project "
                                                                             "role")


@api_command("listProjectRolePermissions", params=ListProjectRolePermissionsParams,
             result_key="projectrolepermission", response=ProjectRolePermissionResp, since="4.15.0",
             description="Lists a project's project role permissions")
def list_project_role_permissions(ctx: CallContext, p: ListProjectRolePermissionsParams) -> ListResult:
    project: Project = ctx.refs["projectid"]
    stmt = select(ProjectRolePermission).where(ProjectRolePermission.project_id == project.id)
    if p.projectroleid:
        stmt = stmt.where(ProjectRolePermission.project_role_id == _role_of(ctx, project, "projectroleid").id)
    rows = list(ctx.session.scalars(stmt.order_by(ProjectRolePermission.project_role_id,
                                                  ProjectRolePermission.sort_order, ProjectRolePermission.id)))
    return ListResult([permission_resp(ctx, r) for r in rows], len(rows))


class UpdateProjectRolePermissionParams(Params):
    projectroleid: Annotated[str, Ref("ProjectRole")] = Field(description="ID of the project role")
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of project where project role permission is "
                                                      "to be updated")
    ruleorder: list[str] | None = Field(None, description="The parent role permission uuid, use 0 to move this rule "
                                        "at the top of the list")
    projectrolepermissionid: Annotated[str | None, Ref("ProjectRolePermission")] = Field(
        None, description="Project Role permission rule id")
    permission: str | None = Field(None, description="Rule permission, can be: allow or deny")


@api_command("updateProjectRolePermission", params=UpdateProjectRolePermissionParams,
             event="PROJECT.ROLE.PERMISSION.UPDATE", entity="ProjectRole", since="4.15.0",
             description="Updates a project role permission and/or order")
def update_project_role_permission(ctx: CallContext, p: UpdateProjectRolePermissionParams) -> Success:
    project = _modifiable(ctx, "projectid")
    role = _role_of(ctx, project, "projectroleid")
    rules = list(ctx.session.scalars(select(ProjectRolePermission)
                                     .where(ProjectRolePermission.project_role_id == role.id)))
    rbac.update_rule(ctx.refs.get("projectrolepermissionid"), p.permission, p.ruleorder, rules,
                     noun="project role", rule_param="projectrolepermissionid")
    return Success()


class DeleteProjectRolePermissionParams(Params):
    projectid: Annotated[str, Ref("Project")] = Field(description="ID of the project where the project role "
                                                      "permission is to be deleted")
    id: Annotated[str, Ref("ProjectRolePermission")] = Field(description="ID of the project role permission to be "
                                                             "deleted")


@api_command("deleteProjectRolePermission", params=DeleteProjectRolePermissionParams,
             event="PROJECT.ROLE.PERMISSION.DELETE", entity="ProjectRole", since="4.15.0",
             description="Deletes a project role permission in the project")
def delete_project_role_permission(ctx: CallContext, p: DeleteProjectRolePermissionParams) -> Success:
    project = _modifiable(ctx, "projectid")
    rp: ProjectRolePermission = ctx.refs["id"]
    if rp.project_id != project.id:
        raise ParamError("The project role permission does not belong to the project")
    ctx.session.delete(rp)
    return Success()
