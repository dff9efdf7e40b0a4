"""Domains, accounts, users, roles, sessions."""

from datetime import datetime
from enum import IntEnum, StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, utcnow
from management.db.crypto import SealedString


class AccountType(IntEnum):
    """CloudStack's Account.Type ordinals (clients read `accounttype` as these numbers)."""

    USER = 0
    ADMIN = 1
    DOMAIN_ADMIN = 2
    RESOURCE_DOMAIN_ADMIN = 3
    READ_ONLY_ADMIN = 4
    PROJECT = 5


class RoleType(StrEnum):
    ADMIN = "Admin"
    RESOURCE_ADMIN = "ResourceAdmin"
    DOMAIN_ADMIN = "DomainAdmin"
    USER = "User"

    @property
    def account_type(self) -> AccountType:
        return {
            RoleType.ADMIN: AccountType.ADMIN,
            RoleType.RESOURCE_ADMIN: AccountType.RESOURCE_DOMAIN_ADMIN,
            RoleType.DOMAIN_ADMIN: AccountType.DOMAIN_ADMIN,
            RoleType.USER: AccountType.USER,
        }[self]


class Domain(IdMixin, TimestampMixin, Base):
    __tablename__ = "domain"

    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"), default=None)
    # "/" for ROOT, "/a/b/" below it: prefix matching on this column is how subtree queries work
    # (management.db.subtree.in_subtree: names may hold LIKE wildcards).
    path: Mapped[str] = mapped_column(String(1024), index=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    network_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    state: Mapped[str] = mapped_column(String(16), default="Active")

    parent: Mapped["Domain | None"] = relationship(remote_side="Domain.id", lazy="joined", join_depth=1)

    @property
    def display_path(self) -> str:
        """CloudStack shows paths as ROOT/a/b."""
        return "ROOT" + self.path.rstrip("/") if self.path != "/" else "ROOT"


class Role(IdMixin, TimestampMixin, Base):
    __tablename__ = "role"

    name: Mapped[str] = mapped_column(String(255))
    role_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_default: Mapped[bool] = mapped_column(default=False)
    # ENABLED | DISABLED (enable/disableRole)
    state: Mapped[str] = mapped_column(String(16), default="ENABLED", server_default="ENABLED")


class RolePermission(IdMixin, Base):
    __tablename__ = "role_permission"

    role_id: Mapped[int] = mapped_column(ForeignKey("role.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(255))  # a command name or a glob such as "list*"
    permission: Mapped[str] = mapped_column(String(8))  # ALLOW | DENY
    description: Mapped[str | None] = mapped_column(Text, default=None)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Account(IdMixin, TimestampMixin, Base):
    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("name", "domain_id", "removed_marker"),)

    name: Mapped[str] = mapped_column(String(255))
    account_type: Mapped[int] = mapped_column(Integer, default=AccountType.USER)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    role_id: Mapped[int | None] = mapped_column(ForeignKey("role.id"), default=None)
    state: Mapped[str] = mapped_column(String(16), default="enabled")  # enabled | disabled | locked
    network_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    is_default: Mapped[bool] = mapped_column(default=False)
    default_zone_id: Mapped[int | None] = mapped_column(IdType, default=None)
    # 0 while live; the row id once removed, so a name can be reused after deletion.
    removed_marker: Mapped[int] = mapped_column(IdType, default=0)

    domain: Mapped["Domain"] = relationship(lazy="joined")
    role: Mapped["Role | None"] = relationship(lazy="joined")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "user"

    username: Mapped[str] = mapped_column(String(255), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    firstname: Mapped[str | None] = mapped_column(String(255), default=None)
    lastname: Mapped[str | None] = mapped_column(String(255), default=None)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(16), default="enabled")
    api_key: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    # Sealed with the database key (management.db.crypto); loaded only where read (the key lookup, getUserKeys).
    secret_key: Mapped[str | None] = mapped_column(SealedString(512), default=None, deferred=True)
    is_default: Mapped[bool] = mapped_column(default=False)

    account: Mapped["Account"] = relationship(lazy="joined")


class UserSession(Base):
    __tablename__ = "user_session"

    # The SHA-256 (hex) of the session key the client holds, never the key itself.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_access: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    timeout: Mapped[int] = mapped_column(Integer, default=1800)
