"""Secondary IP addresses of a NIC (CloudStack's nic_secondary_ips, addIpToNic)."""

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class NicSecondaryIp(IdMixin, TimestampMixin, Base):
    __tablename__ = "nic_secondary_ips"
    __table_args__ = (UniqueConstraint("network_id", "ip4_address"),)

    nic_id: Mapped[int] = mapped_column(ForeignKey("nics.id", ondelete="CASCADE"), index=True)
    vm_id: Mapped[int] = mapped_column(IdType, index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    ip4_address: Mapped[str] = mapped_column(String(64))
