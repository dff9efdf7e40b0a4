"""Registered user-data objects (registerUserData) that deploys and templates refer to by id."""

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin


class UserData(IdMixin, TimestampMixin, Base):
    __tablename__ = "user_data"
    __table_args__ = (UniqueConstraint("account_id", "name", "removed_marker"),)

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    user_data: Mapped[str] = mapped_column(Text)  # base64 as registered
    params: Mapped[str | None] = mapped_column(Text, default=None)  # comma separated variable names
    removed_marker: Mapped[int] = mapped_column(default=0)
