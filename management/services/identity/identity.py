"""Domains, accounts, users, roles, API keys and the first-start bootstrap."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from management import statedir
from management.db.base import utcnow
from management.db.subtree import in_subtree
from management.errors import ParamError, PermissionDenied, ResourceInUse, ServerApiParamError
from management.models.events import Configuration
from management.models.identity import Account, AccountType, Domain, Role, RolePermission, RoleType, User
from management.services import naming, seeds
from management.services.access import domain_in_scope
from management.services.context import Caller
from management.services.system_account import SYSTEM_ACCOUNT, system_user  # noqa: F401  (identity.system_user)

ADMIN_ACCOUNT = "admin"

DEFAULT_ROLES = [
    ("Root Admin", RoleType.ADMIN, "Default root admin role"),
    ("Resource Admin", RoleType.RESOURCE_ADMIN, "Default resource admin role"),
    ("Domain Admin", RoleType.DOMAIN_ADMIN, "Default domain admin role"),
    ("User", RoleType.USER, "Default user role"),
]

# Global settings the API layer itself reads; the inventory adds its own.
DEFAULT_CONFIG = [
    ("default.page.size", "500", "Advanced", "Default page size for API list* commands"),
    ("api.sessionkey.check.locations", "CookieAndParameter", "Advanced",
     "Where a session key must be sent: CookieAndParameter, CookieOrParameter or ParameterOnly"),
    ("integration.api.port", "8096", "Advanced", "Integration (unauthenticated) API port; 0 disables"),
    ("enforce.post.requests.and.timestamps", "false", "Advanced",
     "Require POST, signatureVersion 3 and an expires at most 15 minutes ahead for state-changing commands"),
]


# ---- passwords and keys -------------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
    return "pbkdf2_sha256$200000$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        algo, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(rounds))
    return hmac.compare_digest(got, base64.b64decode(digest))


def generate_key() -> str:
    """An 86-character url-safe key, the length CloudStack's keys have."""
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")


def session_digest(key: str) -> str:
    """What the database keeps of a session key: its SHA-256, so the table alone opens no session."""
    return hashlib.sha256(key.encode()).hexdigest()


def register_keys(user: User) -> tuple[str, str]:
    user.api_key, user.secret_key = generate_key(), generate_key()
    return user.api_key, user.secret_key


def _unused_uuid(session: Session, model: type[Domain] | type[Account] | type[User], uuid: str) -> str:
    """A caller-chosen id for a new domain, account or user (from another region): taken ones are refused."""
    if session.scalar(select(model.id).where(model.uuid == uuid)) is not None:
        raise ParamError(f"A {model.__name__.lower()} with id {uuid} already exists")
    return uuid


# ---- domains --------------------------------------------------------------------------------------------------

def root_domain(session: Session) -> Domain:
    return session.scalars(select(Domain).where(Domain.parent_id.is_(None))).one()


def _check_domain_name(name: str) -> None:
    """A domain's name is one segment of its path ('/a/b/'): a '/' in it would corrupt every path below it.
    CloudStack's text (DomainDaoImpl.create): an IllegalArgumentException, which ApiServer wraps in a
    ServerApiException (431) that keeps its own cserrorcode, 9999."""
    if "/" in name:
        raise ServerApiParamError("Domain name contains one or more invalid characters.  Please enter a name "
                                  "without '/' characters.")


def _sibling_named(session: Session, parent_id: int | None, name: str, but: int | None = None) -> int | None:
    """The id of a live child of `parent_id` named `name` (case aside), other than domain `but`."""
    q = select(Domain.id).where(Domain.parent_id == parent_id, func.lower(Domain.name) == name.lower(),
                                Domain.removed.is_(None))
    if but is not None:
        q = q.where(Domain.id != but)
    return session.scalar(q.limit(1))


def create_domain(session: Session, caller: Caller, name: str, parent: Domain | None,
                  network_domain: str | None = None, uuid: str | None = None) -> Domain:
    parent = parent or root_domain(session)
    if not domain_in_scope(caller, parent.path):
        raise PermissionDenied(f"Account '{caller.account_name}' may not create domains under {parent.uuid}")
    _check_domain_name(name)
    if _sibling_named(session, parent.id, name) is not None:
        raise ParamError(f"Domain with name {name} already exists for the parent id={parent.uuid}")
    d = Domain(name=name, parent_id=parent.id, path=f"{parent.path}{name}/", level=parent.level + 1,
               network_domain=network_domain)
    if uuid:
        d.uuid = _unused_uuid(session, Domain, uuid)
    session.add(d)
    session.flush()
    return d


def rename_domain(session: Session, domain: Domain, name: str) -> None:
    """updateDomain's new name (CloudStack's DomainManagerImpl.updateDomain): the domain's path and the paths of
    its whole sub-tree follow. ROOT takes no name, not even its own; nor does a sibling's name pass."""
    if domain.parent_id is None:
        raise ParamError("ROOT domain can not be edited with a new name")
    _check_domain_name(name)
    if _sibling_named(session, domain.parent_id, name, but=domain.id) is not None:
        raise ParamError(f"Failed to update specified domain id with name '{name}' since it already exists in the "
                         "system", uuids=[domain.uuid])
    if name == domain.name:
        return
    old = domain.path
    new = old[: old.rstrip("/").rfind("/") + 1] + name + "/"
    for sub in session.scalars(select(Domain).where(in_subtree(Domain.path, old))):
        sub.path = new + sub.path[len(old):]
    domain.name = name


def domain_has_children(session: Session, domain: Domain) -> bool:
    return session.scalar(select(Domain.id).where(Domain.parent_id == domain.id, Domain.removed.is_(None))
                          .limit(1)) is not None


def domains_with_children(session: Session, domains: Iterable[Domain]) -> set[int]:
    """The ids of the domains (of a page) that have a live sub-domain, in one read."""
    ids = sorted({d.id for d in domains})
    if not ids:
        return set()
    return set(session.scalars(select(Domain.parent_id).where(Domain.parent_id.in_(ids), Domain.removed.is_(None))
                               .distinct()))  # type: ignore[arg-type]


def delete_domain(session: Session, domain: Domain, cleanup: bool) -> None:
    if domain.parent_id is None:
        raise ParamError("Can't delete the ROOT domain")
    children = list(session.scalars(select(Domain).where(in_subtree(Domain.path, domain.path),
                                                         Domain.removed.is_(None))))
    ids = [d.id for d in children]
    accounts = list(session.scalars(select(Account).where(Account.domain_id.in_(ids), Account.removed.is_(None))))
    if (accounts or len(children) > 1) and not cleanup:
        raise ResourceInUse(f"Domain {domain.name} has accounts or sub-domains; delete them or use cleanup=true",
                            uuids=[domain.uuid])
    for acct in accounts:
        delete_account(session, acct)
    now = utcnow()
    for d in children:
        d.removed = now
        d.state = "Inactive"


# ---- roles ---------------------------------------------------------------------------------------------------

def default_role(session: Session, role_type: RoleType) -> Role:
    role = session.scalar(select(Role).where(Role.role_type == role_type.value, Role.is_default.is_(True),
                                             Role.removed.is_(None)))
    if role is None:
        raise ParamError(f"no default role for {role_type.value}")
    return role


def role_for_account_type(session: Session, account_type: int) -> Role:
    return default_role(session, {
        AccountType.ADMIN: RoleType.ADMIN, AccountType.DOMAIN_ADMIN: RoleType.DOMAIN_ADMIN,
        AccountType.RESOURCE_DOMAIN_ADMIN: RoleType.RESOURCE_ADMIN,
    }.get(AccountType(account_type), RoleType.USER))


def role_rules(session: Session, role_id: int) -> list[tuple[str, str]]:
    return [(r.rule, r.permission) for r in session.scalars(
        select(RolePermission).where(RolePermission.role_id == role_id).order_by(RolePermission.sort_order,
                                                                                  RolePermission.id))]


# ---- accounts and users --------------------------------------------------------------------------------------

def create_account(session: Session, *, name: str, domain: Domain, account_type: int, role: Role | None,
                   network_domain: str | None = None, uuid: str | None = None, is_default: bool = False) -> Account:
    dup = session.scalar(select(Account.id).where(func.lower(Account.name) == name.lower(),
                                                  Account.domain_id == domain.id, Account.removed.is_(None)))
    if dup is not None:
        raise ParamError(f"The specified account: {name} already exists")
    role = role or role_for_account_type(session, account_type)
    acct = Account(name=name, domain_id=domain.id, account_type=int(RoleType(role.role_type).account_type),
                   role_id=role.id, network_domain=network_domain, is_default=is_default)
    if uuid:
        acct.uuid = _unused_uuid(session, Account, uuid)
    session.add(acct)
    session.flush()
    return acct


def create_user(session: Session, *, account: Account, username: str, password: str | None, firstname: str | None,
                lastname: str | None, email: str | None, timezone: str | None = None, uuid: str | None = None,
                is_default: bool = False) -> User:
    # CloudStack keeps usernames unique within a domain.
    dup = session.scalar(select(User.id).join(Account, User.account_id == Account.id)
                         .where(User.username == username, Account.domain_id == account.domain_id,
                                User.removed.is_(None)))
    if dup is not None:
        raise ParamError(f"The user {username} already exists in domain {account.domain.name}")
    user = User(username=username, account_id=account.id, firstname=firstname, lastname=lastname, email=email,
                timezone=timezone, password_hash=hash_password(password) if password else None,
                is_default=is_default)
    if uuid:
        user.uuid = _unused_uuid(session, User, uuid)
    session.add(user)
    session.flush()
    return user


def delete_account(session: Session, account: Account) -> None:
    if account.is_default:
        raise ParamError(f"The account {account.name} is a default account and can't be deleted")
    now = utcnow()
    session.execute(update(User).where(User.account_id == account.id, User.removed.is_(None))
                    .values(removed=now, state="disabled", api_key=None, secret_key=None))
    account.removed = now
    account.removed_marker = account.id
    account.state = "disabled"


# ---- bootstrap -----------------------------------------------------------------------------------------------

@dataclass(slots=True)
class AdminCredentials:
    username: str
    password: str
    apikey: str
    secretkey: str
    domain: str = "/"

    def to_json(self) -> str:
        return json.dumps({"username": self.username, "password": self.password, "domain": self.domain,
                           "apikey": self.apikey, "secretkey": self.secretkey}, indent=2)


def admin_keys_path(state_dir: Path) -> Path:
    return state_dir / "admin.json"


def bootstrap(session: Session, state_dir: Path) -> AdminCredentials | None:
    """First start: ROOT domain, default roles, SYSTEM and admin accounts, global settings.

    Returns the admin credentials when they were created now (the caller prints them once); None otherwise.
    The admin password and keys are generated and written to <state_dir>/admin.json (mode 0600).
    """
    for name, value, category, description in DEFAULT_CONFIG:
        if session.get(Configuration, name) is None:
            session.add(Configuration(name=name, value=value, default_value=value, category=category,
                                      description=description))
    seeds.seed_inventory(session)  # settings, OS catalogue, offerings (idempotent)
    fresh = session.scalar(select(Domain.id).where(Domain.parent_id.is_(None))) is None
    naming.ensure(session, fresh=fresh)  # this cloud's id in the names of its host objects
    if not fresh:
        session.flush()
        return None
    root = Domain(name="ROOT", parent_id=None, path="/", level=0)
    session.add(root)
    for name, rtype, description in DEFAULT_ROLES:
        session.add(Role(name=name, role_type=rtype.value, description=description, is_default=True))
    session.flush()
    admin_role = default_role(session, RoleType.ADMIN)
    system = Account(name=SYSTEM_ACCOUNT, domain_id=root.id, account_type=AccountType.ADMIN, role_id=admin_role.id,
                     is_default=True)
    session.add(system)
    session.flush()
    session.add(User(username="system", account_id=system.id, firstname="system", lastname="cloud",
                     is_default=True))
    admin = Account(name=ADMIN_ACCOUNT, domain_id=root.id, account_type=AccountType.ADMIN, role_id=admin_role.id,
                    is_default=True)
    session.add(admin)
    session.flush()
    password = secrets.token_urlsafe(18)
    user = User(username="admin", account_id=admin.id, firstname="Admin", lastname="User",
                password_hash=hash_password(password), is_default=True)
    apikey, secretkey = register_keys(user)
    session.add(user)
    session.flush()
    creds = AdminCredentials("admin", password, apikey, secretkey)
    state_dir.mkdir(parents=True, exist_ok=True)
    statedir.write_private(admin_keys_path(state_dir), creds.to_json() + "\n")
    return creds


def sample_secret(session: Session) -> str | None:
    """One stored secret key, opened (raises management.db.crypto.SecretsUnavailable without the right key)."""
    return session.scalar(select(User.secret_key).where(User.secret_key.is_not(None)).limit(1))
