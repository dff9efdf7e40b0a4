"""Addresses of a pod's management range handed out one by one (CloudStack's op_dc_ip_address_alloc):
acquirePodIpAddress takes one, releasePodIpAddress gives it back by its numeric id."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdType, UTCDateTime


class PodIpAddress(Base):
    __tablename__ = "op_dc_ip_address_alloc"
    __table_args__ = (UniqueConstraint("pod_id", "ip_address"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    ip_address: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int] = mapped_column(ForeignKey("host_pod_ref.id"), index=True)
    nic_id: Mapped[int | None] = mapped_column(IdType, default=None)
    reservation_id: Mapped[str | None] = mapped_column(String(40), default=None)  # the taker's account id
    taken: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    mac_address: Mapped[int] = mapped_column(BigInteger)
