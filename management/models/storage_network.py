"""Storage network IP ranges: the addresses of a pod's storage traffic (CloudStack's dc_storage_network_ip_range),
handed to the system VMs that carry secondary-storage traffic."""

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin


class StorageNetworkIpRange(IdMixin, TimestampMixin, Base):
    __tablename__ = "dc_storage_network_ip_range"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int] = mapped_column(ForeignKey("host_pod_ref.id"), index=True)
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), default=None)
    start_ip: Mapped[str] = mapped_column(String(64))
    end_ip: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    vlan: Mapped[int | None] = mapped_column(Integer, default=None)
