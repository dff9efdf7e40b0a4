"""Datacenter inventory: zones, pods, clusters, hosts, primary pools, image stores, physical networks, VLAN
and public IP ranges. Column names follow CloudStack's schema where a client could notice."""

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime
from management.db.crypto import SealedText


class Zone(IdMixin, TimestampMixin, Base):
    __tablename__ = "data_center"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    network_type: Mapped[str] = mapped_column(String(16), default="Advanced")  # Basic | Advanced
    dns1: Mapped[str | None] = mapped_column(String(64), default=None)
    dns2: Mapped[str | None] = mapped_column(String(64), default=None)
    internal_dns1: Mapped[str | None] = mapped_column(String(64), default=None)
    internal_dns2: Mapped[str | None] = mapped_column(String(64), default=None)
    guest_cidr: Mapped[str | None] = mapped_column(String(64), default=None)
    network_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    security_groups_enabled: Mapped[bool] = mapped_column(default=False)
    local_storage_enabled: Mapped[bool] = mapped_column(default=False)
    allocation_state: Mapped[str] = mapped_column(String(16), default="Disabled")
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"), default=None)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)


class Pod(IdMixin, TimestampMixin, Base):
    __tablename__ = "host_pod_ref"

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    gateway: Mapped[str | None] = mapped_column(String(64), default=None)
    netmask: Mapped[str | None] = mapped_column(String(64), default=None)
    start_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    end_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    allocation_state: Mapped[str] = mapped_column(String(16), default="Enabled")

    zone: Mapped["Zone"] = relationship(lazy="joined")


class Cluster(IdMixin, TimestampMixin, Base):
    __tablename__ = "cluster"

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int] = mapped_column(ForeignKey("host_pod_ref.id"), index=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32))  # Simulator | KVM | XenServer | ...
    cluster_type: Mapped[str] = mapped_column(String(32), default="CloudManaged")
    allocation_state: Mapped[str] = mapped_column(String(16), default="Enabled")
    managed_state: Mapped[str] = mapped_column(String(16), default="Managed")
    cpu_overcommit_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    mem_overcommit_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    url: Mapped[str | None] = mapped_column(String(1024), default=None)

    zone: Mapped["Zone"] = relationship(lazy="joined")
    pod: Mapped["Pod"] = relationship(lazy="joined")


class Host(IdMixin, TimestampMixin, Base):
    """A hypervisor host. `status` is CloudStack's host state (Up, Down, Disconnected, Connecting, Alert);
    `resource_state` the administrative one (Enabled, Disabled, PrepareForMaintenance, Maintenance, ...)."""

    __tablename__ = "host"

    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32), default="Routing")
    status: Mapped[str] = mapped_column(String(32), default="Connecting", index=True)
    resource_state: Mapped[str] = mapped_column(String(32), default="Enabled")
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"), default=None)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id"), default=None, index=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32))
    hypervisor_version: Mapped[str | None] = mapped_column(String(64), default=None)
    virt_type: Mapped[str | None] = mapped_column(String(16), default=None)  # kvm | qemu | xen | simulator
    url: Mapped[str] = mapped_column(String(1024))
    guid: Mapped[str | None] = mapped_column(String(255), default=None)
    private_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    cpu_sockets: Mapped[int] = mapped_column(Integer, default=1)
    cpus: Mapped[int] = mapped_column(Integer, default=0)  # cores
    speed: Mapped[int] = mapped_column(Integer, default=0)  # MHz per core
    total_memory: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    # Allocation ledger (what placement has promised), kept exact by placement.claim/release.
    cpu_allocated: Mapped[int] = mapped_column(BigInteger, default=0)  # MHz
    mem_allocated: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    host_tags: Mapped[str | None] = mapped_column(String(1024), default=None)  # comma separated
    last_pinged: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    disconnected: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    mgmt_server_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # addHost credentials (XenServer), sealed with the database key (management.db.crypto).
    details_json: Mapped[str | None] = mapped_column(SealedText, default=None)

    zone: Mapped["Zone"] = relationship(lazy="joined")
    pod: Mapped["Pod | None"] = relationship(lazy="joined")
    cluster: Mapped["Cluster | None"] = relationship(lazy="joined")


class StoragePool(IdMixin, TimestampMixin, Base):
    __tablename__ = "storage_pool"

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"), default=None)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id"), default=None)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"), default=None)  # HOST scope (local)
    scope: Mapped[str] = mapped_column(String(16), default="CLUSTER")  # CLUSTER | ZONE | HOST
    pool_type: Mapped[str] = mapped_column(String(32), default="NetworkFilesystem")  # Filesystem for dir pools
    url: Mapped[str] = mapped_column(String(1024))
    host_address: Mapped[str | None] = mapped_column(String(255), default=None)
    path: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(32), default="Up")
    hypervisor: Mapped[str | None] = mapped_column(String(32), default=None)
    provider: Mapped[str] = mapped_column(String(64), default="DefaultPrimary")
    capacity_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    allocated_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # sum of volume sizes placed here
    tags: Mapped[str | None] = mapped_column(String(1024), default=None)

    zone: Mapped["Zone"] = relationship(lazy="joined")


class ImageStore(IdMixin, TimestampMixin, Base):
    """Secondary storage: templates, ISOs, snapshot backups (and later S3 buckets)."""

    __tablename__ = "image_store"

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("data_center.id"), default=None, index=True)
    url: Mapped[str] = mapped_column(String(1024))
    protocol: Mapped[str] = mapped_column(String(16), default="nfs")  # nfs | file
    provider: Mapped[str] = mapped_column(String(32), default="NFS")
    role: Mapped[str] = mapped_column(String(16), default="Image")  # Image | ImageCache (staging)
    scope: Mapped[str] = mapped_column(String(16), default="ZONE")
    # Where this server reads and writes the store: the directory itself, or its NFS mount point.
    local_path: Mapped[str] = mapped_column(String(1024))
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    readonly: Mapped[bool] = mapped_column(default=False)


class PhysicalNetwork(IdMixin, TimestampMixin, Base):
    __tablename__ = "physical_network"

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    isolation_methods: Mapped[str | None] = mapped_column(String(255), default=None)
    vlan: Mapped[str | None] = mapped_column(String(1024), default=None)  # "100-200,300-310"
    broadcast_domain_range: Mapped[str] = mapped_column(String(16), default="ZONE")
    state: Mapped[str] = mapped_column(String(16), default="Disabled")
    tags: Mapped[str | None] = mapped_column(String(255), default=None)
    speed: Mapped[str | None] = mapped_column(String(32), default=None)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"), default=None)


class TrafficType(IdMixin, Base):
    __tablename__ = "physical_network_traffic_types"
    __table_args__ = (UniqueConstraint("physical_network_id", "traffic_type"),)

    physical_network_id: Mapped[int] = mapped_column(ForeignKey("physical_network.id", ondelete="CASCADE"))
    traffic_type: Mapped[str] = mapped_column(String(32))  # Guest | Public | Management | Storage
    kvm_label: Mapped[str | None] = mapped_column(String(255), default=None)
    xen_label: Mapped[str | None] = mapped_column(String(255), default=None)
    vmware_label: Mapped[str | None] = mapped_column(String(255), default=None)
    simulator_label: Mapped[str | None] = mapped_column(String(255), default=None)
    hyperv_label: Mapped[str | None] = mapped_column(String(255), default=None)
    ovm3_label: Mapped[str | None] = mapped_column(String(255), default=None)
    vlan: Mapped[str | None] = mapped_column(String(64), default=None)


class NetworkServiceProvider(IdMixin, Base):
    __tablename__ = "physical_network_service_providers"

    physical_network_id: Mapped[int] = mapped_column(ForeignKey("physical_network.id", ondelete="CASCADE"),
                                                     index=True)
    # VirtualRouter | VpcVirtualRouter | InternalLbVm | SecurityGroupProvider
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="Disabled")
    services: Mapped[str] = mapped_column(Text, default="")  # comma separated service names
    dest_physical_network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class VirtualRouterElement(IdMixin, Base):
    __tablename__ = "virtual_router_providers"

    nsp_id: Mapped[int] = mapped_column(ForeignKey("physical_network_service_providers.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32), default="VirtualRouter")
    enabled: Mapped[bool] = mapped_column(default=False)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class VlanIpRange(IdMixin, TimestampMixin, Base):
    """A VLAN with an IP range: public ranges for source NAT / static NAT, or direct (shared network) ranges."""

    __tablename__ = "vlan"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"), default=None)
    physical_network_id: Mapped[int | None] = mapped_column(ForeignKey("physical_network.id"), default=None)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    vlan_tag: Mapped[str] = mapped_column(String(64), default="untagged")
    gateway: Mapped[str | None] = mapped_column(String(64), default=None)
    netmask: Mapped[str | None] = mapped_column(String(64), default=None)
    start_ip: Mapped[str] = mapped_column(String(64))
    end_ip: Mapped[str] = mapped_column(String(64))
    vlan_type: Mapped[str] = mapped_column(String(32), default="VirtualNetwork")  # VirtualNetwork | DirectAttached
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None)  # dedicated range
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"), default=None)
    ip6_gateway: Mapped[str | None] = mapped_column(String(255), default=None)
    ip6_cidr: Mapped[str | None] = mapped_column(String(255), default=None)
    ip6_range: Mapped[str | None] = mapped_column(String(255), default=None)  # "start-end"
    for_system_vms: Mapped[bool] = mapped_column(default=False, server_default=false())


class PublicIpAddress(IdMixin, Base):
    """One row per address of a public range (CloudStack's user_ip_address)."""

    __tablename__ = "user_ip_address"
    __table_args__ = (UniqueConstraint("zone_id", "public_ip_address"),)

    public_ip_address: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    vlan_id: Mapped[int] = mapped_column(ForeignKey("vlan.id", ondelete="CASCADE"), index=True)
    physical_network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    state: Mapped[str] = mapped_column(String(16), default="Free")  # Free | Allocating | Allocated | Releasing
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None, index=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id"), default=None)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)  # associated guest network
    vpc_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)  # a VPC's public IP
    source_nat: Mapped[bool] = mapped_column(default=False)
    one_to_one_nat: Mapped[bool] = mapped_column(default=False)  # static NAT
    vm_id: Mapped[int | None] = mapped_column(IdType, default=None)  # static NAT target
    vm_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    allocated: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    is_system: Mapped[bool] = mapped_column(default=False)
    for_display: Mapped[bool] = mapped_column(default=True)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    is_portable: Mapped[bool] = mapped_column(default=False, server_default=false())


class GuestVlan(Base):
    """Guest VLANs taken from a physical network's range; the primary key makes double allocation impossible."""

    __tablename__ = "op_dc_vnet_alloc"

    physical_network_id: Mapped[int] = mapped_column(ForeignKey("physical_network.id", ondelete="CASCADE"),
                                                     primary_key=True)
    vnet: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None)
    network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    taken: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
