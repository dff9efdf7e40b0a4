"""Guest networks and NICs (the records; the virtual router that implements them lives in management/network)."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class Network(IdMixin, TimestampMixin, Base):
    __tablename__ = "networks"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(255), default=None)
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    guest_type: Mapped[str] = mapped_column(String(32), default="Isolated")  # Isolated | Shared | L2
    # Allocated | Setup | Implementing | Implemented | Shutdown | Destroy (Network.State)
    state: Mapped[str] = mapped_column(String(32), default="Allocated")
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    broadcast_domain_type: Mapped[str] = mapped_column(String(32), default="Vlan")
    broadcast_uri: Mapped[str | None] = mapped_column(String(255), default=None)  # vlan://123
    gateway: Mapped[str | None] = mapped_column(String(64), default=None)
    cidr: Mapped[str | None] = mapped_column(String(64), default=None)
    network_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    dns1: Mapped[str | None] = mapped_column(String(64), default=None)
    dns2: Mapped[str | None] = mapped_column(String(64), default=None)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    physical_network_id: Mapped[int | None] = mapped_column(ForeignKey("physical_network.id"), default=None)
    network_offering_id: Mapped[int] = mapped_column(ForeignKey("network_offerings.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    acl_type: Mapped[str] = mapped_column(String(16), default="Account")  # Account | Domain
    specify_ip_ranges: Mapped[bool] = mapped_column(default=False)
    restart_required: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)  # the account's default network
    vpc_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)  # a VPC tier
    network_acl_id: Mapped[int | None] = mapped_column(IdType, default=None)  # the tier's ACL list
    details_json: Mapped[str | None] = mapped_column(Text, default=None)
    implemented: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ip6_gateway: Mapped[str | None] = mapped_column(String(255), default=None)
    ip6_cidr: Mapped[str | None] = mapped_column(String(255), default=None)


class Nic(IdMixin, TimestampMixin, Base):
    __tablename__ = "nics"

    instance_id: Mapped[int] = mapped_column(IdType, index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    mac_address: Mapped[str] = mapped_column(String(17), unique=True)
    ip4_address: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    netmask: Mapped[str | None] = mapped_column(String(64), default=None)
    gateway: Mapped[str | None] = mapped_column(String(64), default=None)
    broadcast_uri: Mapped[str | None] = mapped_column(String(255), default=None)
    isolation_uri: Mapped[str | None] = mapped_column(String(255), default=None)
    device_id: Mapped[int] = mapped_column(Integer, default=0)
    default_nic: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(32), default="Allocated")  # Allocated | Reserved | Releasing
    mode: Mapped[str] = mapped_column(String(16), default="Dhcp")
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    vm_type: Mapped[str] = mapped_column(String(32), default="User")
