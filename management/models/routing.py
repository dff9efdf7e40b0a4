"""Routed guest networks (CloudStack 4.20): IPv4 subnets of a zone and the guest subnets carved from them, IPv6
guest prefixes and the /64s handed to networks, AS number ranges and numbers, BGP peers and which networks use
them."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class ZoneIpv4Subnet(IdMixin, TimestampMixin, Base):
    __tablename__ = "dc_ip4_guest_subnets"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    subnet: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[int | None] = mapped_column(IdType, default=None)  # dedicated to a domain
    account_id: Mapped[int | None] = mapped_column(IdType, default=None)  # ... or to an account


class GuestIpv4Subnet(IdMixin, TimestampMixin, Base):
    """ip4_guest_subnet_network_map: a subnet for one routed network (state Free/Allocated)."""

    __tablename__ = "ip4_guest_subnet_network_map"

    parent_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    subnet: Mapped[str] = mapped_column(String(64), index=True)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    vpc_id: Mapped[int | None] = mapped_column(IdType, default=None)
    state: Mapped[str] = mapped_column(String(16), default="Free")
    allocated: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Ipv6GuestPrefix(IdMixin, TimestampMixin, Base):
    __tablename__ = "dc_ip6_guest_prefix"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(255))


class Ipv6GuestSubnet(Base):
    """ip6_guest_prefix_subnet_network_map: a /64 of a prefix and the network holding it."""

    __tablename__ = "ip6_guest_prefix_subnet_network_map"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    prefix_id: Mapped[int] = mapped_column(ForeignKey("dc_ip6_guest_prefix.id", ondelete="CASCADE"), index=True)
    subnet: Mapped[str] = mapped_column(String(255), unique=True)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    state: Mapped[str] = mapped_column(String(16), default="Allocated")  # Allocating | Allocated | Free
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AsNumberRange(IdMixin, TimestampMixin, Base):
    __tablename__ = "as_number_range"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    start_asn: Mapped[int] = mapped_column(BigInteger)
    end_asn: Mapped[int] = mapped_column(BigInteger)


class AsNumber(IdMixin, TimestampMixin, Base):
    __tablename__ = "as_number"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    range_id: Mapped[int] = mapped_column(ForeignKey("as_number_range.id", ondelete="CASCADE"), index=True)
    as_number: Mapped[int] = mapped_column(BigInteger, index=True)
    is_allocated: Mapped[bool] = mapped_column(default=False)
    allocated: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    account_id: Mapped[int | None] = mapped_column(IdType, default=None)
    domain_id: Mapped[int | None] = mapped_column(IdType, default=None)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    vpc_id: Mapped[int | None] = mapped_column(IdType, default=None)


class BgpPeer(IdMixin, TimestampMixin, Base):
    __tablename__ = "bgp_peers"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    ip4_address: Mapped[str | None] = mapped_column(String(64), default=None)
    ip6_address: Mapped[str | None] = mapped_column(String(64), default=None)
    as_number: Mapped[int] = mapped_column(BigInteger)
    password: Mapped[str | None] = mapped_column(String(255), default=None)
    domain_id: Mapped[int | None] = mapped_column(IdType, default=None)
    account_id: Mapped[int | None] = mapped_column(IdType, default=None)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)


class BgpPeerNetwork(Base):
    __tablename__ = "bgp_peer_network_map"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    bgp_peer_id: Mapped[int] = mapped_column(ForeignKey("bgp_peers.id", ondelete="CASCADE"), index=True)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    vpc_id: Mapped[int | None] = mapped_column(IdType, default=None)
    state: Mapped[str] = mapped_column(String(16), default="Active")  # Add | Active | Revoke
