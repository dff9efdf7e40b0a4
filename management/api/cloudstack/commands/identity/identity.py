"""Domains, accounts, users, roles and API keys (the commands Ansible's cs_domain/cs_account/cs_user call)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ALL_ROLES,
    DOMAIN_ADMIN,
    ListParams,
    OwnedListParams,
    ParamInfo,
    Params,
    Ref,
    api_command,
)
from management.api.cloudstack.schemas import (
    AccountResp,
    DomainResp,
    RolePermissionResp,
    RoleResp,
    UserKeysResp,
    UserResp,
)
from management.db.base import utcnow
from management.db.subtree import in_subtree
from management.errors import ParamError, PermissionDenied
from management.models.identity import Account, AccountType, Domain, Role, RolePermission, RoleType, User
from management.services import access, limits
from management.services.context import CallContext
from management.services.identity import identity, rbac
from management.services.listing import keyword_filter, paginate, same_name
from management.services.tags import register as register_taggable

register_taggable("Account", "Account")
register_taggable("Domain", "Domain")
register_taggable("User", "User")


# ---- response builders ------------------------------------------------------------------------------------------

def domain_resp(ctx: CallContext, d: Domain, usage: dict[str, Any] | None = None,
                haschild: bool | None = None) -> DomainResp:
    return DomainResp(
        id=d.uuid, name=d.name, level=d.level, parentdomainid=d.parent.uuid if d.parent else None,
        parentdomainname=d.parent.name if d.parent else None,
        haschild=identity.domain_has_children(ctx.session, d) if haschild is None else haschild,
        networkdomain=d.network_domain, path=d.display_path, state=d.state, created=d.created,
        **(usage or limits.display_fields(ctx.session, domain=d)),
    )


def domain_resps(ctx: CallContext, domains: list[Domain]) -> list[DomainResp]:
    """A page of domains with their limits, totals and children read for the whole page at once."""
    usage = limits.domain_display(ctx.session, domains)
    parents = identity.domains_with_children(ctx.session, domains)
    return [domain_resp(ctx, d, usage[d.id], d.id in parents) for d in domains]


def user_resp(u: User, role: Role | None = None) -> UserResp:
    a = u.account
    role = role or a.role
    return UserResp(
        id=u.uuid, username=u.username, firstname=u.firstname, lastname=u.lastname, email=u.email,
        created=u.created, state=u.state, account=a.name, accountid=a.uuid, accounttype=a.account_type,
        roleid=role.uuid if role else None, roletype=role.role_type if role else None,
        rolename=role.name if role else None, domainid=a.domain.uuid, domain=a.domain.name, timezone=u.timezone,
        apikey=u.api_key, isdefault=u.is_default,
    )


def users_of(ctx: CallContext, accounts: list[Account]) -> dict[int, list[User]]:
    """The live users of each account, oldest first, in one read for a page of accounts."""
    out: dict[int, list[User]] = {a.id: [] for a in accounts}
    if out:
        for u in ctx.session.scalars(select(User).where(User.account_id.in_(out), User.removed.is_(None))
                                     .order_by(User.id)):
            out[u.account_id].append(u)
    return out


def account_resp(ctx: CallContext, a: Account, usage: dict[str, Any] | None = None,
                 users: list[User] | None = None) -> AccountResp:
    if users is None:
        users = users_of(ctx, [a])[a.id]
    return AccountResp(
        id=a.uuid, name=a.name, accounttype=a.account_type, roleid=a.role.uuid if a.role else None,
        roletype=a.role.role_type if a.role else None, rolename=a.role.name if a.role else None,
        domainid=a.domain.uuid, domain=a.domain.name, domainpath=a.domain.display_path,
        defaultzoneid=_zone_uuid(ctx, a.default_zone_id),
        networkdomain=a.network_domain, state=a.state, isdefault=a.is_default, created=a.created,
        user=[user_resp(u, a.role) for u in users], **(usage or limits.account_display(ctx.session, [a])[a.id]),
    )


def _zone_uuid(ctx: CallContext, zone_id: int | None) -> str | None:
    if zone_id is None:
        return None
    from management.models.infra import Zone

    z = ctx.session.get(Zone, zone_id)
    return z.uuid if z is not None else None


def role_resp(r: Role) -> RoleResp:
    return RoleResp(id=r.uuid, name=r.name, type=r.role_type, description=r.description, isdefault=r.is_default,
                    state=r.state)


# ---- domains ---------------------------------------------------------------------------------------------------

class CreateDomainParams(Params):
    name: str = Field(description="creates domain with this name")
    parentdomainid: Annotated[str | None, Ref("Domain")] = Field(
        None, description="assigns new domain a parent domain by domain ID of the parent.  If no parent domain is "
        "specified, the ROOT domain is assumed.")
    networkdomain: str | None = Field(None, description="Network domain for networks in the domain")
    domainid: str | None = Field(None, description="Domain UUID, required for adding domain from another Region")


@api_command("createDomain", params=CreateDomainParams, result_key="domain", roles=DOMAIN_ADMIN,
             event="DOMAIN.CREATE", entity="Domain", response=DomainResp,
             description="Creates a domain")
def create_domain(ctx: CallContext, p: CreateDomainParams) -> DomainResp:
    d = identity.create_domain(ctx.session, ctx.caller, p.name, ctx.refs.get("parentdomainid"), p.networkdomain,
                               uuid=p.domainid)
    return domain_resp(ctx, d)


class UpdateDomainParams(Params):
    id: Annotated[str, Ref("Domain")] = Field(description="ID of domain to update")
    name: str | None = Field(None, description="updates domain with this name")
    networkdomain: str | None = Field(None, description="Network domain for the domain's networks")


@api_command("updateDomain", params=UpdateDomainParams, result_key="domain", roles=DOMAIN_ADMIN,
             event="DOMAIN.UPDATE", entity="Domain", response=DomainResp,
             description="Updates a domain with a new name")
def update_domain(ctx: CallContext, p: UpdateDomainParams) -> DomainResp:
    d: Domain = ctx.refs["id"]
    if p.name:
        identity.rename_domain(ctx.session, d, p.name)
    if p.networkdomain is not None:
        d.network_domain = p.networkdomain
    return domain_resp(ctx, d)


class DeleteDomainParams(Params):
    id: Annotated[str, Ref("Domain")] = Field(description="ID of domain to delete")
    cleanup: bool = Field(False, description="true if all domain resources (child domains, accounts) have to be "
                          "cleaned up, false otherwise")


@api_command("deleteDomain", params=DeleteDomainParams, is_async=True, roles=DOMAIN_ADMIN, event="DOMAIN.DELETE",
             entity="Domain", description="Deletes a specified domain")
def delete_domain(ctx: CallContext, p: DeleteDomainParams) -> Success:
    d: Domain = ctx.refs["id"]
    if d.id == ctx.caller.domain_id:
        raise PermissionDenied("A domain admin can not delete the domain it belongs to")
    identity.delete_domain(ctx.session, d, p.cleanup)
    return Success()


class ListDomainsParams(ListParams):
    id: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="List domain by domain ID.")
    name: str | None = Field(None, description="List domain by domain name.")
    level: int | None = Field(None, description="List domains by domain level.")
    listall: bool = Field(False, description="If set to false, list only resources belonging to the command's "
                          "caller; if set to true - list resources that the caller is authorized to see.")
    details: list[str] | None = Field(None, description="comma separated list of domain details requested")
    showicon: bool = Field(False, description="flag to display the resource icon for domains")


def _domain_scope(ctx: CallContext, listall: bool):  # type: ignore[no-untyped-def]
    c = ctx.caller
    stmt = select(Domain).where(Domain.removed.is_(None))
    if c.is_admin:
        return stmt.where(in_subtree(Domain.path, c.domain_path)) if listall else stmt.where(Domain.id == c.domain_id)
    return stmt.where(Domain.id == c.domain_id)


@api_command("listDomains", params=ListDomainsParams, result_key="domain", response=DomainResp,
             roles=ALL_ROLES, description="Lists domains and provides detailed information for listed domains")
def list_domains(ctx: CallContext, p: ListDomainsParams) -> ListResult:
    stmt = _domain_scope(ctx, p.listall or p.id is not None or p.name is not None or p.level is not None)
    if p.id:
        stmt = stmt.where(Domain.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(Domain.name, p.name))
    if p.level is not None:
        stmt = stmt.where(Domain.level == p.level)
    stmt = keyword_filter(stmt, p.keyword, Domain.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Domain.id)
    return ListResult(domain_resps(ctx, list(rows)), count)


class ListDomainChildrenParams(ListParams):
    id: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="list children of the domain "
                                                             "specified by this id")
    isrecursive: bool = Field(False, description="to return the entire tree, use the value true. To return the "
                              "first level children, use the value false.")
    listall: bool = Field(False, description="If set to false, list only resources belonging to the command's "
                          "caller; if set to true - list resources that the caller is authorized to see.")
    name: str | None = Field(None, description="list children domains by name")


@api_command("listDomainChildren", params=ListDomainChildrenParams, result_key="domain", response=DomainResp,
             roles=DOMAIN_ADMIN, description="Lists all children domains belonging to a specified domain")
def list_domain_children(ctx: CallContext, p: ListDomainChildrenParams) -> ListResult:
    parent: Domain = ctx.refs.get("id") or ctx.session.get_one(Domain, ctx.caller.domain_id)
    if not access.domain_in_scope(ctx.caller, parent.path):
        raise PermissionDenied(f"Account '{ctx.caller.account_name}' may not list children of domain {parent.uuid}")
    stmt = select(Domain).where(Domain.removed.is_(None), Domain.id != parent.id)
    if p.isrecursive:
        stmt = stmt.where(in_subtree(Domain.path, parent.path))
    else:
        stmt = stmt.where(Domain.parent_id == parent.id)
    if p.name:
        stmt = stmt.where(same_name(Domain.name, p.name))
    stmt = keyword_filter(stmt, p.keyword, Domain.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Domain.id)
    return ListResult(domain_resps(ctx, list(rows)), count)


# ---- accounts --------------------------------------------------------------------------------------------------

class CreateAccountParams(Params):
    username: str = Field(description="Unique username.")
    password: str = Field(description="Clear text password (Default hashed to SHA256SALT).")
    email: str = Field(description="email")
    firstname: str = Field(description="firstname")
    lastname: str = Field(description="lastname")
    account: str | None = Field(None, description="Name of the account to be created. The user will be added to "
                                "this newly created account. If no account is specified, the username will be used "
                                "as the account name.")
    accounttype: int | None = Field(None, description="Type of the account.  Specify 0 for user, 1 for root admin, "
                                    "and 2 for domain admin")
    roleid: Annotated[str | None, Ref("Role", "read")] = Field(None, description="Creates the account under the "
                                                               "specified role.")
    domainid: Annotated[str | None, Ref("Domain")] = Field(None, description="Creates the user under the specified "
                                                           "domain.")
    networkdomain: str | None = Field(None, description="Network domain for the account's networks")
    timezone: str | None = Field(None, description="Specifies a timezone for this command.")
    accountid: str | None = Field(None, description="Account UUID, required for adding account from external "
                                  "provisioning system")
    userid: str | None = Field(None, description="User UUID, required for adding account from external "
                               "provisioning system")
    accountdetails: list[dict[str, str]] | None = Field(None, description="details for the account")


@api_command("createAccount", params=CreateAccountParams, result_key="account", roles=DOMAIN_ADMIN,
             event="ACCOUNT.CREATE", entity="Account", response=AccountResp,
             description="Creates an account")
def create_account(ctx: CallContext, p: CreateAccountParams) -> AccountResp:
    domain: Domain = ctx.refs.get("domainid") or ctx.session.get_one(Domain, ctx.caller.domain_id)
    if not access.domain_in_scope(ctx.caller, domain.path):
        raise PermissionDenied(f"Account '{ctx.caller.account_name}' may not create accounts in domain {domain.uuid}")
    role: Role | None = ctx.refs.get("roleid")
    if role is None:
        if p.accounttype is None:
            raise ParamError("Unable to execute API command createaccount due to missing parameter roleid or "
                             "accounttype")
        try:
            role = identity.role_for_account_type(ctx.session, AccountType(p.accounttype))
        except ValueError:
            raise ParamError(f"Invalid account type {p.accounttype}") from None
    if RoleType(role.role_type) == RoleType.ADMIN and not ctx.caller.is_root_admin:
        raise PermissionDenied("Only a root admin can create root admin accounts")
    if RoleType(role.role_type) == RoleType.ADMIN and domain.parent_id is not None:
        raise ParamError("Root admin accounts can only be created in the ROOT domain")
    acct = identity.create_account(ctx.session, name=p.account or p.username, domain=domain,
                                   account_type=RoleType(role.role_type).account_type, role=role,
                                   network_domain=p.networkdomain, uuid=p.accountid)
    identity.create_user(ctx.session, account=acct, username=p.username, password=p.password,
                         firstname=p.firstname, lastname=p.lastname, email=p.email, timezone=p.timezone,
                         uuid=p.userid)
    return account_resp(ctx, acct)


class ListAccountsParams(OwnedListParams):
    id: Annotated[str | None, Ref("Account", "read")] = Field(None, description="list account by account ID")
    name: str | None = Field(None, description="list account by account name")
    accounttype: int | None = Field(None, description="list accounts by account type")
    state: str | None = Field(None, description="list accounts by state")
    iscleanuprequired: bool | None = Field(None, description="list accounts by cleanuprequired attribute")
    roleid: Annotated[str | None, Ref("Role", "read")] = Field(None, description="list accounts by role id")
    details: list[str] | None = Field(None, description="comma separated list of account details requested")
    showicon: bool = Field(False, description="flag to display the resource icon for accounts")


@api_command("listAccounts", params=ListAccountsParams, result_key="account", response=AccountResp,
             description="Lists accounts and provides detailed account information for listed accounts")
def list_accounts(ctx: CallContext, p: ListAccountsParams) -> ListResult:
    stmt = select(Account).where(Account.removed.is_(None))
    # Accounts are their own owners: scope on Account.id.
    stmt = access.owned_filter(ctx.session, stmt, Account, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall or p.id is not None,
                               account_col=Account.id, domain_col=Account.domain_id)
    if p.id:
        stmt = stmt.where(Account.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(Account.name, p.name))
    if p.accounttype is not None:
        stmt = stmt.where(Account.account_type == p.accounttype)
    if p.state:
        stmt = stmt.where(func.lower(Account.state) == p.state.lower())
    if p.roleid:
        stmt = stmt.where(Account.role_id == ctx.refs["roleid"].id)
    # CloudStack hides the SYSTEM account from listings.
    stmt = stmt.where(Account.name != identity.SYSTEM_ACCOUNT)
    stmt = keyword_filter(stmt, p.keyword, Account.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Account.id)
    usage = limits.account_display(ctx.session, rows)
    users = users_of(ctx, rows)
    return ListResult([account_resp(ctx, a, usage[a.id], users[a.id]) for a in rows], count)


class AccountRefParams(Params):
    id: Annotated[str | None, Ref("Account")] = Field(None, description="Account id")
    account: str | None = Field(None, description="Account name")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="Domain ID of the account")


def _target_account(ctx: CallContext, p: AccountRefParams) -> Account:
    if p.id:
        acct: Account = ctx.refs["id"]
    elif p.account and p.domainid:
        acct = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    else:
        raise ParamError("Either id or account and domainid must be specified")
    if acct.id == ctx.caller.account_id and ctx.command != "updateAccount":
        raise PermissionDenied("An account can not disable, lock or delete itself")
    if not ctx.caller.is_admin:
        raise PermissionDenied(f"Account '{ctx.caller.account_name}' may not modify accounts")
    return acct


class UpdateAccountParams(AccountRefParams):
    newname: Annotated[str | None, ParamInfo(keep_empty=True)] = Field(None, description="new name for the account")
    networkdomain: str | None = Field(None, description="Network domain for the account's networks")
    roleid: Annotated[str | None, Ref("Role", "read")] = Field(None, description="The UUID of the dynamic role to "
                                                               "set for the account")
    accountdetails: list[dict[str, str]] | None = Field(None, description="Details for the account used to store "
                                                         "specific parameters")


@api_command("updateAccount", params=UpdateAccountParams, result_key="account", roles=DOMAIN_ADMIN,
             event="ACCOUNT.UPDATE", entity="Account", response=AccountResp,
             description="Updates account information for the authenticated user")
def update_account(ctx: CallContext, p: UpdateAccountParams) -> AccountResp:
    acct = _target_account(ctx, p)
    if p.newname == "":
        raise ParamError(f"The new account name for account '{acct.uuid}' within domain '{acct.domain.uuid}'  is "
                         "empty string. Account will be not renamed.")
    if p.newname and p.newname != acct.name:
        if acct.is_default:
            raise ParamError(f"The default account {acct.name} can not be renamed")
        dup = ctx.session.scalar(select(Account.id).where(func.lower(Account.name) == p.newname.lower(),
                                                          Account.domain_id == acct.domain_id,
                                                          Account.removed.is_(None)))
        if dup is not None:
            raise ParamError(f"The account {p.newname} already exists in domain {acct.domain.uuid}")
        acct.name = p.newname
    if p.networkdomain is not None:
        acct.network_domain = p.networkdomain
    if p.roleid:
        role: Role = ctx.refs["roleid"]
        if RoleType(role.role_type).account_type != AccountType(acct.account_type):
            raise ParamError("The new role must be of the same role type as the account's current role")
        acct.role_id = role.id
        acct.role = role
    return account_resp(ctx, acct)


class DeleteAccountParams(Params):
    id: Annotated[str, Ref("Account")] = Field(description="Account id")


@api_command("deleteAccount", params=DeleteAccountParams, is_async=True, roles=DOMAIN_ADMIN,
             event="ACCOUNT.DELETE", entity="Account", description="Deletes an account and all users in it")
def delete_account(ctx: CallContext, p: DeleteAccountParams) -> Success:
    acct: Account = ctx.refs["id"]
    if acct.id == ctx.caller.account_id:
        raise PermissionDenied("An account can not delete itself")
    identity.delete_account(ctx.session, acct)
    return Success()


class DisableAccountParams(AccountRefParams):
    lock: bool = Field(description="If true, only lock the account; else disable the account")


@api_command("disableAccount", params=DisableAccountParams, is_async=True, result_key="account",
             roles=DOMAIN_ADMIN, event="ACCOUNT.DISABLE", entity="Account", response=AccountResp,
             description="Disables an account")
def disable_account(ctx: CallContext, p: DisableAccountParams) -> AccountResp:
    acct = _target_account(ctx, p)
    if acct.is_default:
        raise ParamError(f"The default account {acct.name} can not be disabled")
    acct.state = "locked" if p.lock else "disabled"
    return account_resp(ctx, acct)


@api_command("enableAccount", params=AccountRefParams, result_key="account", roles=DOMAIN_ADMIN,
             event="ACCOUNT.ENABLE", entity="Account", response=AccountResp, description="Enables an account")
def enable_account(ctx: CallContext, p: AccountRefParams) -> AccountResp:
    acct = _target_account(ctx, p)
    acct.state = "enabled"
    return account_resp(ctx, acct)


class LockAccountParams(Params):
    account: str = Field(description="Locks the specified account.")
    domainid: Annotated[str, Ref("Domain", "read")] = Field(
        description="Locks the specified account on this domain.")


@api_command("lockAccount", params=LockAccountParams, result_key="account", roles=DOMAIN_ADMIN,
             event="ACCOUNT.LOCK", entity="Account", response=AccountResp,
             description="This deprecated function is used to locks an account. Look for the API DisableAccount "
             "instead")
def lock_account(ctx: CallContext, p: LockAccountParams) -> AccountResp:
    acct = _target_account(ctx, AccountRefParams(account=p.account, domainid=p.domainid))
    if acct.is_default:
        raise ParamError(f"The default account {acct.name} can not be locked")
    acct.state = "locked"
    return account_resp(ctx, acct)


# ---- users -----------------------------------------------------------------------------------------------------

class CreateUserParams(Params):
    account: str = Field(description="Creates the user under the specified account. If no account is specified, "
                         "the username will be used as the account name.")
    username: str = Field(description="Unique username.")
    password: str = Field(description="Clear text password")
    email: str = Field(description="email")
    firstname: str = Field(description="firstname")
    lastname: str = Field(description="lastname")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="Creates the user under the "
                                                                   "specified domain. Has to be accompanied with the "
                                                                   "account parameter")
    timezone: str | None = Field(None, description="Specifies a timezone for this command.")
    userid: str | None = Field(None, description="User UUID, required for adding account from external "
                               "provisioning system")


@api_command("createUser", params=CreateUserParams, result_key="user", roles=DOMAIN_ADMIN, event="USER.CREATE",
             entity="User", response=UserResp, description="Creates a user for an account that already exists")
def create_user(ctx: CallContext, p: CreateUserParams) -> UserResp:
    acct = access.owner_for(ctx.session, ctx.caller, p.account,
                            p.domainid or ctx.caller.domain_uuid)
    user = identity.create_user(ctx.session, account=acct, username=p.username, password=p.password,
                                firstname=p.firstname, lastname=p.lastname, email=p.email, timezone=p.timezone,
                                uuid=p.userid)
    return user_resp(user)


class ListUsersParams(OwnedListParams):
    id: Annotated[str | None, Ref("User", "read")] = Field(None, description="List user by ID.")
    username: str | None = Field(None, description="List user by the username")
    accounttype: int | None = Field(None, description="List users by account type.")
    state: str | None = Field(None, description="List users by state of the user account.")
    usersource: str | None = Field(None, description="List users by their authentication source.")
    showicon: bool = Field(False, description="flag to display the resource icon for users")


@api_command("listUsers", params=ListUsersParams, result_key="user", response=UserResp,
             description="Lists user accounts")
def list_users(ctx: CallContext, p: ListUsersParams) -> ListResult:
    stmt = select(User).join(Account, User.account_id == Account.id).where(User.removed.is_(None),
                                                                           Account.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, User, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall or p.id is not None,
                               account_col=User.account_id, domain_col=Account.domain_id)
    if p.id:
        stmt = stmt.where(User.uuid == p.id)
    if p.username:
        stmt = stmt.where(same_name(User.username, p.username))
    if p.accounttype is not None:
        stmt = stmt.where(Account.account_type == p.accounttype)
    if p.state:
        stmt = stmt.where(func.lower(User.state) == p.state.lower())
    if not ctx.integration:
        stmt = stmt.where(Account.name != identity.SYSTEM_ACCOUNT)
    stmt = keyword_filter(stmt, p.keyword, User.username, User.firstname, User.lastname)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, User.id)
    return ListResult([user_resp(u) for u in rows], count)


class UserIdParams(Params):
    id: Annotated[str, Ref("User")] = Field(description="User id")


def _target_user(ctx: CallContext, self_ok: bool = False) -> User:
    user: User = ctx.refs["id"]
    if user.id == ctx.caller.user_id and not self_ok:
        raise PermissionDenied("A user can not disable, lock or delete itself")
    return user


class UpdateUserParams(UserIdParams):
    username: str | None = Field(None, description="Unique username")
    password: str | None = Field(None, description="Clear text password")
    currentpassword: str | None = Field(None, description="Current password that was being used by the user")
    email: str | None = Field(None, description="email")
    firstname: str | None = Field(None, description="first name")
    lastname: str | None = Field(None, description="last name")
    timezone: str | None = Field(None, description="Specifies a timezone for this command.")
    userapikey: str | None = Field(None, description="The API key for the user. Must be specified with "
                                   "usersecretkey")
    usersecretkey: str | None = Field(None, description="The secret key for the user. Must be specified with "
                                      "userapikey")


@api_command("updateUser", params=UpdateUserParams, result_key="user", event="USER.UPDATE", entity="User",
             response=UserResp, description="Updates a user account")
def update_user(ctx: CallContext, p: UpdateUserParams) -> UserResp:
    user = _target_user(ctx, self_ok=True)
    if user.id != ctx.caller.user_id and not ctx.caller.is_admin:
        raise PermissionDenied(f"Account '{ctx.caller.account_name}' may not update other users")
    if p.password is not None:
        if user.id == ctx.caller.user_id and not ctx.caller.is_admin and not identity.verify_password(
                p.currentpassword or "", user.password_hash):
            raise ParamError("Current password is incorrect; supply currentpassword to change your own password")
        user.password_hash = identity.hash_password(p.password)
    for attr in ("username", "email", "firstname", "lastname", "timezone"):
        value = getattr(p, attr)
        if value is not None:
            setattr(user, attr, value)
    if (p.userapikey is None) != (p.usersecretkey is None):
        raise ParamError("userapikey and usersecretkey must be given together")
    if p.userapikey is not None:
        clash = ctx.session.scalar(select(User.id).where(User.api_key == p.userapikey, User.id != user.id))
        if clash is not None:
            raise ParamError("The api key is already in use by another user")
        user.api_key, user.secret_key = p.userapikey, p.usersecretkey
    return user_resp(user)


@api_command("deleteUser", params=UserIdParams, roles=DOMAIN_ADMIN, event="USER.DELETE", entity="User",
             description="Deletes a user for an account")
def delete_user(ctx: CallContext, p: UserIdParams) -> Success:
    user = _target_user(ctx)
    if user.is_default:
        raise ParamError(f"The default user {user.username} can not be deleted")
    others = ctx.session.scalar(select(func.count()).select_from(User).where(
        User.account_id == user.account_id, User.removed.is_(None), User.id != user.id))
    if not others:
        raise ParamError("The last user of an account can not be deleted; delete the account instead")
    user.removed, user.state, user.api_key, user.secret_key = utcnow(), "disabled", None, None
    return Success()


@api_command("disableUser", params=UserIdParams, is_async=True, result_key="user", roles=DOMAIN_ADMIN,
             event="USER.DISABLE", entity="User", response=UserResp, description="Disables a user account")
def disable_user(ctx: CallContext, p: UserIdParams) -> UserResp:
    user = _target_user(ctx)
    user.state = "disabled"
    return user_resp(user)


@api_command("enableUser", params=UserIdParams, result_key="user", roles=DOMAIN_ADMIN, event="USER.ENABLE",
             entity="User", response=UserResp, description="Enables a user account")
def enable_user(ctx: CallContext, p: UserIdParams) -> UserResp:
    user = _target_user(ctx)
    user.state = "enabled"
    return user_resp(user)


@api_command("lockUser", params=UserIdParams, result_key="user", roles=DOMAIN_ADMIN, event="USER.LOCK",
             entity="User", response=UserResp, description="Locks a user account")
def lock_user(ctx: CallContext, p: UserIdParams) -> UserResp:
    user = _target_user(ctx)
    user.state = "locked"
    return user_resp(user)


class GetUserParams(Params):
    userapikey: str = Field(description="API key of the user")


@api_command("getUser", params=GetUserParams, result_key="user", response=UserResp,
             description="Find user account by API key")
def get_user(ctx: CallContext, p: GetUserParams) -> UserResp | None:
    user = ctx.session.scalar(select(User).where(User.api_key == p.userapikey, User.removed.is_(None)))
    if user is None or not access.check_row(ctx.session, ctx.caller, access.entity_policy("User"), user, "read"):
        return None
    return user_resp(user)


@api_command("registerUserKeys", params=UserIdParams, result_key="userkeys", event="REGISTER.USER.KEY",
             entity="User", response=UserKeysResp,
             description="This command allows a user to register for the developer API, returning a secret key "
             "and an API key. This request is made through the integration API port, so it is a privileged command "
             "and must be made on behalf of a user. It is up to the implementer just how the username and password "
             "are entered, and then how that translates to an integration API request. Both secret key and API key "
             "should be returned to the user")
def register_user_keys(ctx: CallContext, p: UserIdParams) -> UserKeysResp:
    user: User = ctx.refs["id"]
    apikey, secret = identity.register_keys(user)
    return UserKeysResp(apikey=apikey, secretkey=secret)


@api_command("getUserKeys", params=UserIdParams, result_key="userkeys", response=UserKeysResp,
             description="This command allows the user to query the seceret and API keys for the account")
def get_user_keys(ctx: CallContext, p: UserIdParams) -> UserKeysResp:
    user: User = ctx.refs["id"]
    return UserKeysResp(apikey=user.api_key, secretkey=user.secret_key)


# ---- roles -------------------------------------------------------------------------------------------------------

class ListRolesParams(ListParams):
    id: Annotated[str | None, Ref("Role", "read")] = Field(None, description="List role by role ID.")
    name: str | None = Field(None, description="List role by role name.")
    type: str | None = Field(None, description="List role by role type, valid options are: Admin, ResourceAdmin, "
                             "DomainAdmin, User.")
    state: str | None = Field(None, description="List role by role state (ENABLED or DISABLED).")


@api_command("listRoles", params=ListRolesParams, result_key="role", response=RoleResp, roles=DOMAIN_ADMIN,
             since="4.9.0", description="Lists dynamic roles in CloudStack")
def list_roles(ctx: CallContext, p: ListRolesParams) -> ListResult:
    stmt = select(Role).where(Role.removed.is_(None))
    if not ctx.caller.is_root_admin:
        # Lesser admins see only roles they could hand out.
        stmt = stmt.where(Role.role_type != RoleType.ADMIN.value)
    if p.id:
        stmt = stmt.where(Role.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(Role.name, p.name))
    if p.type:
        stmt = stmt.where(Role.role_type == p.type)
    if p.state:
        stmt = stmt.where(Role.state == p.state.upper())
    stmt = keyword_filter(stmt, p.keyword, Role.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Role.id)
    return ListResult([role_resp(r) for r in rows], count)


class CreateRoleParams(Params):
    name: str = Field(description="Creates a role with this unique name")
    type: str | None = Field(None, description="The type of the role, valid options are: Admin, ResourceAdmin, "
                             "DomainAdmin, User")
    roleid: Annotated[str | None, Ref("Role", "read")] = Field(None, description="ID of the role to be cloned "
                                                               "from. Either roleid or type must be passed in")
    description: str | None = Field(None, description="The description of the role")


@api_command("createRole", params=CreateRoleParams, result_key="role", response=RoleResp, roles=ADMIN,
             event="ROLE.CREATE", entity="Role", since="4.9.0", description="Creates a role")
def create_role(ctx: CallContext, p: CreateRoleParams) -> RoleResp:
    source: Role | None = ctx.refs.get("roleid")
    if (p.type is None) == (source is None):
        raise ParamError("Either roleid or type must be passed, not both")
    if source is not None:
        rtype = source.role_type
    else:
        assert p.type is not None  # exactly one of roleid and type is set, checked just above
        rtype = p.type
    try:
        RoleType(rtype)
    except ValueError:
        raise ParamError(f"Invalid role type {rtype}; valid: Admin, ResourceAdmin, DomainAdmin, User") from None
    if ctx.session.scalar(select(Role.id).where(Role.name == p.name, Role.removed.is_(None))) is not None:
        raise ParamError(f"Role with name {p.name} already exists")
    role = Role(name=p.name, role_type=rtype, description=p.description)
    ctx.session.add(role)
    ctx.session.flush()
    if source:
        for rule, permission in identity.role_rules(ctx.session, source.id):
            ctx.session.add(RolePermission(role_id=role.id, rule=rule, permission=permission))
    return role_resp(role)


class UpdateRoleParams(Params):
    id: Annotated[str, Ref("Role")] = Field(description="ID of the role")
    name: str | None = Field(None, description="creates a role with this unique name")
    type: str | None = Field(None, description="The type of the role")
    description: str | None = Field(None, description="The description of the role")


@api_command("updateRole", params=UpdateRoleParams, result_key="role", response=RoleResp, roles=ADMIN,
             event="ROLE.UPDATE", entity="Role", since="4.9.0", description="Updates a role")
def update_role(ctx: CallContext, p: UpdateRoleParams) -> RoleResp:
    role: Role = ctx.refs["id"]
    if role.is_default and (p.name or p.type):
        raise ParamError("Default roles can not be renamed or retyped")
    if p.name:
        role.name = p.name
    if p.type:
        role.role_type = RoleType(p.type).value
    if p.description is not None:
        role.description = p.description
    return role_resp(role)


class RoleIdParams(Params):
    id: Annotated[str, Ref("Role")] = Field(description="ID of the role")


@api_command("deleteRole", params=RoleIdParams, roles=ADMIN, event="ROLE.DELETE", entity="Role", since="4.9.0",
             description="Deletes a role")
def delete_role(ctx: CallContext, p: RoleIdParams) -> Success:
    role: Role = ctx.refs["id"]
    if role.is_default:
        raise ParamError("Default roles can not be deleted")
    if ctx.session.scalar(select(Account.id).where(Account.role_id == role.id, Account.removed.is_(None)).limit(1)):
        raise ParamError("The role is in use by accounts and can not be deleted")
    role.removed = utcnow()
    return Success()


class ListRolePermissionsParams(Params):
    roleid: Annotated[str | None, Ref("Role", "read")] = Field(None, description="ID of the role")


def permission_resp(ctx: CallContext, rp: RolePermission) -> RolePermissionResp:
    role = ctx.session.get_one(Role, rp.role_id)
    return RolePermissionResp(id=rp.uuid, roleid=role.uuid, rolename=role.name, rule=rp.rule,
                              permission=rp.permission.lower(), description=rp.description)


@api_command("listRolePermissions", params=ListRolePermissionsParams, result_key="rolepermission",
             response=RolePermissionResp, roles=ADMIN, since="4.9.0", description="Lists role permissions")
def list_role_permissions(ctx: CallContext, p: ListRolePermissionsParams) -> ListResult:
    stmt = select(RolePermission)
    if p.roleid:
        stmt = stmt.where(RolePermission.role_id == ctx.refs["roleid"].id)
    rows = list(ctx.session.scalars(stmt.order_by(RolePermission.role_id, RolePermission.sort_order,
                                                  RolePermission.id)))
    return ListResult([permission_resp(ctx, r) for r in rows], len(rows))


class CreateRolePermissionParams(Params):
    roleid: Annotated[str, Ref("Role")] = Field(description="ID of the role")
    rule: str = Field(description="The API name or wildcard rule such as list*")
    permission: str = Field(description="The rule permission, allow or deny. Default: deny.")
    description: str | None = Field(None, description="The description of the role permission")


@api_command("createRolePermission", params=CreateRolePermissionParams, result_key="rolepermission",
             response=RolePermissionResp, roles=ADMIN, event="ROLE.PERMISSION.CREATE", entity="Role",
             since="4.9.0", description="Adds an API permission to a role")
def create_role_permission(ctx: CallContext, p: CreateRolePermissionParams) -> RolePermissionResp:
    role: Role = ctx.refs["roleid"]
    permission = rbac.permission_value(p.permission)
    last = ctx.session.scalar(select(func.max(RolePermission.sort_order)).where(RolePermission.role_id == role.id))
    rp = RolePermission(role_id=role.id, rule=p.rule, permission=permission, description=p.description,
                        sort_order=(last or 0) + 1)
    ctx.session.add(rp)
    ctx.session.flush()
    return permission_resp(ctx, rp)


class UpdateRolePermissionParams(Params):
    roleid: Annotated[str, Ref("Role")] = Field(description="ID of the role")
    ruleid: Annotated[str | None, Ref("RolePermission")] = Field(None, description="Role permission rule id")
    permission: str | None = Field(None, description="Rule permission, can be: allow or deny")
    ruleorder: list[str] | None = Field(None, description="The parent role permission uuid, use 0 to move this "
                                        "rule at the top of the list")


@api_command("updateRolePermission", params=UpdateRolePermissionParams, roles=ADMIN,
             event="ROLE.PERMISSION.UPDATE", entity="Role", since="4.9.0",
             description="Updates a role permission order")
def update_role_permission(ctx: CallContext, p: UpdateRolePermissionParams) -> Success:
    role: Role = ctx.refs["roleid"]
    rules = list(ctx.session.scalars(select(RolePermission).where(RolePermission.role_id == role.id)))
    rbac.update_rule(ctx.refs.get("ruleid"), p.permission, p.ruleorder, rules, noun="role", rule_param="ruleid")
    return Success()


class DeleteRolePermissionParams(Params):
    id: Annotated[str, Ref("RolePermission")] = Field(description="ID of the role permission")


@api_command("deleteRolePermission", params=DeleteRolePermissionParams, roles=ADMIN,
             event="ROLE.PERMISSION.DELETE", entity="RolePermission", since="4.9.0",
             description="Deletes a role permission")
def delete_role_permission(ctx: CallContext, p: DeleteRolePermissionParams) -> Success:
    ctx.session.delete(ctx.refs["id"])
    return Success()


access.register_entity("Role", Role, "public")
access.register_entity("RolePermission", RolePermission, "public", soft_delete=False)
