"""What the EC2 API must remember that CloudStack has no table for: RunInstances client tokens."""

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin


class Ec2ClientToken(IdMixin, TimestampMixin, Base):
    """A RunInstances ClientToken of an account: the request it came with (a hash of its parameters) and the
    instances it launched, so a retry with the same token returns that reservation instead of a second one."""

    __tablename__ = "ec2_client_token"
    __table_args__ = (UniqueConstraint("account_id", "client_token"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    client_token: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    # comma-separated VM uuids in launch order; None while the first request is still launching them
    instance_uuids: Mapped[str | None] = mapped_column(Text, default=None)
