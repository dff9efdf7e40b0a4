"""Who is calling and with what: the context every command and job runs in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from management.models.identity import AccountType, RoleType, User

if TYPE_CHECKING:
    from management.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    user_uuid: str
    username: str
    account_id: int
    account_uuid: str
    account_name: str
    account_type: int
    domain_id: int
    domain_uuid: str
    domain_name: str
    domain_path: str
    role_id: int | None
    role_type: RoleType

    @property
    def is_root_admin(self) -> bool:
        return self.account_type == AccountType.ADMIN

    @property
    def is_domain_admin(self) -> bool:
        return self.account_type in (AccountType.DOMAIN_ADMIN, AccountType.RESOURCE_DOMAIN_ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.is_root_admin or self.is_domain_admin

    @classmethod
    def from_user(cls, user: User) -> Caller:
        acct = user.account
        role_type = RoleType(acct.role.role_type) if acct.role else _role_for(acct.account_type)
        return cls(
            user_id=user.id, user_uuid=user.uuid, username=user.username, account_id=acct.id,
            account_uuid=acct.uuid, account_name=acct.name, account_type=acct.account_type,
            domain_id=acct.domain.id, domain_uuid=acct.domain.uuid, domain_name=acct.domain.name,
            domain_path=acct.domain.path, role_id=acct.role_id, role_type=role_type,
        )


def _role_for(account_type: int) -> RoleType:
    return {
        AccountType.ADMIN: RoleType.ADMIN,
        AccountType.DOMAIN_ADMIN: RoleType.DOMAIN_ADMIN,
        AccountType.RESOURCE_DOMAIN_ADMIN: RoleType.RESOURCE_ADMIN,
    }.get(AccountType(account_type), RoleType.USER)


@dataclass(slots=True)
class CallContext:
    session: Session
    caller: Caller
    runtime: Runtime
    command: str
    integration: bool = False
    refs: dict[str, Any] = field(default_factory=dict)
    job_id: int | None = None
    job_uuid: str | None = None
    # For async create commands: the uuid the synchronous create phase allocated, handed to the job.
    created_uuid: str | None = None
