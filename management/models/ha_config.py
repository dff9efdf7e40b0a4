"""Host HA configuration (CloudStack's ha_config): per host, the HA provider chosen and whether HA is enabled;
per cluster and zone, whether HA is enabled there at all."""

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin


class HAConfig(IdMixin, Base):
    __tablename__ = "ha_config"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id", name="uq_ha_config_resource"),)

    resource_type: Mapped[str] = mapped_column(String(16))  # Host | Cluster | Zone
    resource_id: Mapped[int] = mapped_column(BigInteger)
    enabled: Mapped[bool] = mapped_column(default=False)
    ha_state: Mapped[str] = mapped_column(String(32), default="Disabled")
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
