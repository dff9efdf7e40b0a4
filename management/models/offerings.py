"""Service, disk and network offerings, and the OS type catalogue."""

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin


class ServiceOffering(IdMixin, TimestampMixin, Base):
    __tablename__ = "service_offering"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(4096), default=None)
    cpu: Mapped[int | None] = mapped_column(Integer, default=None)  # None when customized
    speed: Mapped[int | None] = mapped_column(Integer, default=None)  # MHz
    ram_size: Mapped[int | None] = mapped_column(Integer, default=None)  # MiB
    customized: Mapped[bool] = mapped_column(default=False)
    storage_type: Mapped[str] = mapped_column(String(16), default="shared")  # shared | local
    offer_ha: Mapped[bool] = mapped_column(default=False)
    limit_cpu_use: Mapped[bool] = mapped_column(default=False)
    host_tag: Mapped[str | None] = mapped_column(String(255), default=None)
    tags: Mapped[str | None] = mapped_column(String(255), default=None)  # storage tags
    root_disk_size: Mapped[int | None] = mapped_column(BigInteger, default=None)  # bytes
    is_system: Mapped[bool] = mapped_column(default=False)
    system_vm_type: Mapped[str | None] = mapped_column(String(64), default=None)
    # a default the cloud seeded: never deleted
    default_use: Mapped[bool] = mapped_column(default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(16), default="Active")
    domain_ids: Mapped[str | None] = mapped_column(Text, default=None)  # csv of domain uuids; None = public
    zone_ids: Mapped[str | None] = mapped_column(Text, default=None)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    # I/O settings CloudStack keeps on offerings: libvirt's disk cache mode and throttles (bytes/s, IOPS)
    cache_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    bytes_read_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    bytes_write_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    iops_read_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    iops_write_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    encrypt_root: Mapped[bool] = mapped_column(default=False, server_default=false())


class DiskOffering(IdMixin, TimestampMixin, Base):
    __tablename__ = "disk_offering"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(4096), default=None)
    disk_size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes; 0 when customized
    customized: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[str | None] = mapped_column(String(255), default=None)
    storage_type: Mapped[str] = mapped_column(String(16), default="shared")
    provisioning_type: Mapped[str] = mapped_column(String(32), default="thin")
    min_iops: Mapped[int | None] = mapped_column(BigInteger, default=None)
    max_iops: Mapped[int | None] = mapped_column(BigInteger, default=None)
    state: Mapped[str] = mapped_column(String(16), default="Active")
    domain_ids: Mapped[str | None] = mapped_column(Text, default=None)
    zone_ids: Mapped[str | None] = mapped_column(Text, default=None)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    # I/O settings CloudStack keeps on offerings: libvirt's disk cache mode and throttles (bytes/s, IOPS)
    cache_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    bytes_read_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    bytes_write_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    iops_read_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    iops_write_rate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    encrypt: Mapped[bool] = mapped_column(default=False, server_default=false())


class NetworkOffering(IdMixin, TimestampMixin, Base):
    __tablename__ = "network_offerings"

    name: Mapped[str] = mapped_column(String(255))
    unique_name: Mapped[str | None] = mapped_column(String(255), default=None)
    display_text: Mapped[str | None] = mapped_column(String(4096), default=None)
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    guest_type: Mapped[str | None] = mapped_column(String(32), default=None)  # Isolated | Shared | L2
    state: Mapped[str] = mapped_column(String(16), default="Enabled")
    is_default: Mapped[bool] = mapped_column(default=False)
    is_system: Mapped[bool] = mapped_column(default=False)
    specify_vlan: Mapped[bool] = mapped_column(default=False)
    specify_ip_ranges: Mapped[bool] = mapped_column(default=False)
    conserve_mode: Mapped[bool] = mapped_column(default=True)
    egress_default_policy: Mapped[bool] = mapped_column(default=False)
    for_vpc: Mapped[bool] = mapped_column(default=False)
    is_persistent: Mapped[bool] = mapped_column(default=False)
    availability: Mapped[str] = mapped_column(String(16), default="Optional")  # Required | Optional
    network_rate: Mapped[int | None] = mapped_column(Integer, default=None)
    # {"Dhcp": ["VirtualRouter"], "SourceNat": ["VirtualRouter"], ...}: the offering's service map.
    services_json: Mapped[str] = mapped_column(Text, default="{}")
    service_offering_id: Mapped[int | None] = mapped_column(ForeignKey("service_offering.id"), default=None)
    domain_ids: Mapped[str | None] = mapped_column(Text, default=None)
    zone_ids: Mapped[str | None] = mapped_column(Text, default=None)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    # 4.20 routed networks: NATTED | ROUTED; Static | Dynamic (BGP); Ipv4 | DualStack
    network_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    routing_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    internet_protocol: Mapped[str | None] = mapped_column(String(16), default=None)
    specify_as_number: Mapped[bool] = mapped_column(default=False, server_default=false())


class OsCategory(IdMixin, Base):
    __tablename__ = "guest_os_category"

    name: Mapped[str] = mapped_column(String(255))
    is_featured: Mapped[bool] = mapped_column(default=False, server_default=false())
    sort_key: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OsType(IdMixin, Base):
    __tablename__ = "guest_os"

    category_id: Mapped[int] = mapped_column(ForeignKey("guest_os_category.id"))
    display_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    is_user_defined: Mapped[bool] = mapped_column(default=False)
    for_display: Mapped[bool] = mapped_column(default=True)
