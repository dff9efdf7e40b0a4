"""Projects: a project owns its resources through an account of type Project (CloudStack's design), its members
(accounts or single users, by role), invitations, and project roles with their API permissions."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, utcnow


class Project(IdMixin, TimestampMixin, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(255), default=None)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    # The account (type 5, Project) that owns every resource of the project.
    project_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="Active")  # Active | Suspended | Disabled


class ProjectAccount(IdMixin, Base):
    """A member: a whole account, or (since 4.14) one user of an account. role is Admin or Regular."""

    __tablename__ = "project_account"
    __table_args__ = (UniqueConstraint("project_id", "account_id", "user_id_marker"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)
    user_id_marker: Mapped[int] = mapped_column(IdType, default=0)  # user_id or 0: keeps the unique key portable
    role: Mapped[str] = mapped_column(String(16), default="Regular")
    project_role_id: Mapped[int | None] = mapped_column(ForeignKey("project_role.id", ondelete="SET NULL"),
                                                        default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectInvitation(IdMixin, Base):
    __tablename__ = "project_invitations"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    token: Mapped[str | None] = mapped_column(String(255), default=None)
    role: Mapped[str] = mapped_column(String(16), default="Regular")
    project_role_id: Mapped[int | None] = mapped_column(ForeignKey("project_role.id", ondelete="SET NULL"),
                                                        default=None)
    state: Mapped[str] = mapped_column(String(16), default="Pending")  # Pending | Completed | Expired | Declined
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectRole(IdMixin, Base):
    __tablename__ = "project_role"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)


class ProjectRolePermission(IdMixin, Base):
    __tablename__ = "project_role_permissions"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    project_role_id: Mapped[int] = mapped_column(ForeignKey("project_role.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(255))
    permission: Mapped[str] = mapped_column(String(8))  # ALLOW | DENY
    description: Mapped[str | None] = mapped_column(Text, default=None)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
