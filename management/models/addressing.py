"""Public address bookkeeping beyond the ranges themselves: the quarantine of released public IPs, portable IP
ranges (a region's addresses that follow an account across zones and networks) and guest VLAN ranges dedicated
to an account."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class PublicIpQuarantine(IdMixin, TimestampMixin, Base):
    """CloudStack's quarantined_ips: a released address stays out of other accounts' reach until ``end_date``
    (``removed`` set: the quarantine ended early, with a reason)."""

    __tablename__ = "quarantined_ips"

    public_ip_address_id: Mapped[int] = mapped_column(ForeignKey("user_ip_address.id", ondelete="CASCADE"),
                                                      index=True)
    previous_owner_id: Mapped[int] = mapped_column(IdType)
    end_date: Mapped[datetime] = mapped_column(UTCDateTime)
    removal_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    remover_account_id: Mapped[int | None] = mapped_column(IdType, default=None)


class PortableIpRange(IdMixin, Base):
    __tablename__ = "portable_ip_range"

    region_id: Mapped[int] = mapped_column(Integer, index=True)
    vlan: Mapped[str | None] = mapped_column(String(255), default=None)
    gateway: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    start_ip: Mapped[str] = mapped_column(String(64))
    end_ip: Mapped[str] = mapped_column(String(64))


class PortableIpAddress(Base):
    """One address of a portable range; while allocated it is also a ``PublicIpAddress`` (is_portable) in the
    zone where it is used."""

    __tablename__ = "portable_ip_address"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    range_id: Mapped[int] = mapped_column(ForeignKey("portable_ip_range.id", ondelete="CASCADE"), index=True)
    region_id: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="Free")  # Free | Allocated
    allocated: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    account_id: Mapped[int | None] = mapped_column(IdType, default=None)
    domain_id: Mapped[int | None] = mapped_column(IdType, default=None)
    zone_id: Mapped[int | None] = mapped_column(IdType, default=None)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    physical_network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    public_ip_id: Mapped[int | None] = mapped_column(IdType, default=None)  # its user_ip_address row


class DedicatedGuestVlanRange(IdMixin, Base):
    """CloudStack's account_vnet_map: a guest VLAN range only one account's networks may take."""

    __tablename__ = "account_vnet_map"

    physical_network_id: Mapped[int] = mapped_column(ForeignKey("physical_network.id", ondelete="CASCADE"),
                                                     index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    vnet_range: Mapped[str] = mapped_column(String(255))  # "start-end"
