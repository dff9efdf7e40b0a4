"""Event log (listEvents), resource tags and global configuration."""

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class Event(IdMixin, TimestampMixin, Base):
    __tablename__ = "event"

    type: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))  # Created | Scheduled | Started | Completed
    level: Mapped[str] = mapped_column(String(16), default="INFO")  # INFO | ERROR
    description: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    resource_type: Mapped[str | None] = mapped_column(String(64), default=None)
    resource_uuid: Mapped[str | None] = mapped_column(String(40), default=None)
    start_id: Mapped[int | None] = mapped_column(IdType, default=None)
    # archiveEvents hides it from listEvents
    archived: Mapped[bool] = mapped_column(default=False, server_default=false())


class ResourceTag(IdMixin, Base):
    __tablename__ = "resource_tag"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_uuid", "key"),
        Index("ix_resource_tag_kv", "key", "value"),
    )

    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_uuid: Mapped[str] = mapped_column(String(40), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    customer: Mapped[str | None] = mapped_column(String(255), default=None)


class Configuration(Base):
    __tablename__ = "configuration"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, default=None)
    default_value: Mapped[str | None] = mapped_column(Text, default=None)
    category: Mapped[str] = mapped_column(String(64), default="Advanced")
    component: Mapped[str] = mapped_column(String(64), default="management-server")
    description: Mapped[str | None] = mapped_column(Text, default=None)
    scope: Mapped[str | None] = mapped_column(String(32), default=None)
    is_dynamic: Mapped[bool] = mapped_column(default=True)
