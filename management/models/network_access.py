"""Who besides its owner may use an isolated network (CloudStack's network_permissions), and the CNI
configurations a Kubernetes cluster's nodes are given (CloudStack keeps them next to user data)."""

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class NetworkPermission(Base):
    __tablename__ = "network_permissions"
    __table_args__ = (UniqueConstraint("network_id", "account_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)


class CniConfiguration(IdMixin, TimestampMixin, Base):
    __tablename__ = "cni_configuration"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    config: Mapped[str | None] = mapped_column(Text, default=None)  # base64, as registered
    params: Mapped[str | None] = mapped_column(Text, default=None)  # comma separated variable names
