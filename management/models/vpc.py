"""VPCs and what hangs off them: VPC offerings, the VPC's router, network ACL lists and their items, private
gateways and static routes, site-to-site VPN (gateways, customer gateways, connections), remote-access VPN and its
users, and internal load balancing (the rule's internal side and the load-balancer appliance's record).

Table and column names follow CloudStack's schema where a client or an operator could notice (vpc, vpc_offerings,
network_acl, network_acl_item, vpc_gateways, static_routes, s2s_*, remote_access_vpn, vpn_users). A tier is a
``networks`` row with ``vpc_id`` set; a VPC public IP is a ``user_ip_address`` row with ``vpc_id`` set.
"""

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class VpcOffering(IdMixin, TimestampMixin, Base):
    __tablename__ = "vpc_offerings"

    name: Mapped[str] = mapped_column(String(255))
    unique_name: Mapped[str | None] = mapped_column(String(255), default=None)
    display_text: Mapped[str | None] = mapped_column(String(4096), default=None)
    state: Mapped[str] = mapped_column(String(16), default="Disabled")  # Enabled | Disabled
    is_default: Mapped[bool] = mapped_column(default=False)
    # {"Dhcp": ["VpcVirtualRouter"], "Lb": ["VpcVirtualRouter", "InternalLbVm"], ...}
    services_json: Mapped[str] = mapped_column(Text, default="{}")
    service_offering_id: Mapped[int | None] = mapped_column(ForeignKey("service_offering.id"), default=None)
    redundant_router: Mapped[bool] = mapped_column(default=False)
    distributed_router: Mapped[bool] = mapped_column(default=False)
    region_level_vpc: Mapped[bool] = mapped_column(default=False)
    internet_protocol: Mapped[str | None] = mapped_column(String(16), default=None)
    domain_ids: Mapped[str | None] = mapped_column(Text, default=None)
    zone_ids: Mapped[str | None] = mapped_column(Text, default=None)
    sort_key: Mapped[int] = mapped_column(Integer, default=0)


class Vpc(IdMixin, TimestampMixin, Base):
    __tablename__ = "vpc"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str | None] = mapped_column(String(255), default=None)
    cidr: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    vpc_offering_id: Mapped[int] = mapped_column(ForeignKey("vpc_offerings.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    state: Mapped[str] = mapped_column(String(16), default="Enabled")  # Enabled | Inactive
    network_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    restart_required: Mapped[bool] = mapped_column(default=False)
    display: Mapped[bool] = mapped_column(default=True)
    redundant: Mapped[bool] = mapped_column(default=False)
    dns1: Mapped[str | None] = mapped_column(String(64), default=None)
    dns2: Mapped[str | None] = mapped_column(String(64), default=None)
    public_mtu: Mapped[int] = mapped_column(Integer, default=1500)


class VpcRouter(Base):
    """The VPC's virtual router: a vm_instance row (vm_type DomainRouter) and the VPC it serves."""

    __tablename__ = "vpc_router_ref"

    router_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    vpc_id: Mapped[int] = mapped_column(ForeignKey("vpc.id"), index=True)
    provider_key: Mapped[str] = mapped_column(String(16))  # the provider's router id ([a-z0-9]{1,10})


class NetworkAcl(IdMixin, Base):
    """A network ACL list. ``vpc_id`` None: a global list (default_allow/default_deny are the built-in ones)."""

    __tablename__ = "network_acl"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(1024), default=None)
    vpc_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    builtin: Mapped[bool] = mapped_column(default=False)
    display: Mapped[bool] = mapped_column(default=True)


class NetworkAclItem(IdMixin, TimestampMixin, Base):
    __tablename__ = "network_acl_item"
    __table_args__ = (UniqueConstraint("acl_id", "number"),)

    acl_id: Mapped[int] = mapped_column(ForeignKey("network_acl.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(16), default="all")  # tcp | udp | icmp | all | 0..255
    start_port: Mapped[int | None] = mapped_column(Integer, default=None)
    end_port: Mapped[int | None] = mapped_column(Integer, default=None)
    icmp_type: Mapped[int | None] = mapped_column(Integer, default=None)
    icmp_code: Mapped[int | None] = mapped_column(Integer, default=None)
    cidr: Mapped[str | None] = mapped_column(Text, default=None)  # comma separated
    traffic_type: Mapped[str] = mapped_column(String(16), default="Ingress")  # Ingress | Egress
    action: Mapped[str] = mapped_column(String(8), default="Allow")  # Allow | Deny
    state: Mapped[str] = mapped_column(String(16), default="Active")  # Add | Active | Revoke
    display: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str | None] = mapped_column(String(2500), default=None)


class VpcGateway(IdMixin, TimestampMixin, Base):
    """A VPC private gateway: a leg of the VPC router on a private VLAN (CloudStack's vpc_gateways, type Private)."""

    __tablename__ = "vpc_gateways"

    ip4_address: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    vlan_tag: Mapped[str | None] = mapped_column(String(255), default=None)
    type: Mapped[str] = mapped_column(String(16), default="Private")
    vpc_id: Mapped[int] = mapped_column(ForeignKey("vpc.id"), index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    physical_network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    associated_network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    source_nat: Mapped[bool] = mapped_column(default=False)
    network_acl_id: Mapped[int | None] = mapped_column(IdType, default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    state: Mapped[str] = mapped_column(String(16), default="Creating")  # Creating | Ready | Deleting


class StaticRoute(IdMixin, TimestampMixin, Base):
    __tablename__ = "static_routes"

    vpc_gateway_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    next_hop: Mapped[str | None] = mapped_column(String(64), default=None)
    cidr: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="Add")  # Add | Active | Revoke
    vpc_id: Mapped[int] = mapped_column(ForeignKey("vpc.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))


class S2sVpnGateway(IdMixin, TimestampMixin, Base):
    __tablename__ = "s2s_vpn_gateway"

    addr_id: Mapped[int] = mapped_column(IdType)  # the VPC public IP the gateway answers on
    vpc_id: Mapped[int] = mapped_column(ForeignKey("vpc.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    display: Mapped[bool] = mapped_column(default=True)


class S2sCustomerGateway(IdMixin, TimestampMixin, Base):
    __tablename__ = "s2s_customer_gateway"

    name: Mapped[str] = mapped_column(String(255))
    gateway_ip: Mapped[str] = mapped_column(String(64))
    guest_cidr_list: Mapped[str] = mapped_column(Text)
    ipsec_psk: Mapped[str] = mapped_column(String(256))
    ike_policy: Mapped[str] = mapped_column(String(255))
    esp_policy: Mapped[str] = mapped_column(String(255))
    ike_lifetime: Mapped[int] = mapped_column(BigInteger, default=86400)
    esp_lifetime: Mapped[int] = mapped_column(BigInteger, default=3600)
    dpd: Mapped[bool] = mapped_column(default=False)
    force_encap: Mapped[bool] = mapped_column(default=False)
    split_connections: Mapped[bool] = mapped_column(default=False)
    ike_version: Mapped[str] = mapped_column(String(8), default="ike")  # ike | ikev1 | ikev2
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))


class S2sVpnConnection(IdMixin, TimestampMixin, Base):
    __tablename__ = "s2s_vpn_connection"

    vpn_gateway_id: Mapped[int] = mapped_column(ForeignKey("s2s_vpn_gateway.id"), index=True)
    customer_gateway_id: Mapped[int] = mapped_column(ForeignKey("s2s_customer_gateway.id"), index=True)
    # Pending | Connecting | Connected | Disconnected | Error
    state: Mapped[str] = mapped_column(String(16), default="Pending")
    passive: Mapped[bool] = mapped_column(default=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    display: Mapped[bool] = mapped_column(default=True)


class RemoteAccessVpn(IdMixin, TimestampMixin, Base):
    __tablename__ = "remote_access_vpn"

    vpn_server_addr_id: Mapped[int] = mapped_column(IdType, unique=True)  # the public IP clients connect to
    network_id: Mapped[int | None] = mapped_column(IdType, default=None)
    vpc_id: Mapped[int | None] = mapped_column(IdType, default=None)
    local_ip: Mapped[str] = mapped_column(String(64))
    ip_range: Mapped[str] = mapped_column(String(255))
    ipsec_psk: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16), default="Added")  # Added | Running | Removed
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    display: Mapped[bool] = mapped_column(default=True)


class VpnUser(IdMixin, TimestampMixin, Base):
    __tablename__ = "vpn_users"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    username: Mapped[str] = mapped_column(String(255))
    password: Mapped[str] = mapped_column(String(255))  # the VPN gateways need it in clear (XAuth secrets)
    state: Mapped[str] = mapped_column(String(16), default="Add")  # Add | Active | Revoke


class InternalLbRule(Base):
    """The internal side of a load-balancing rule (scheme Internal): its source IP on the tier."""

    __tablename__ = "load_balancing_internal"

    rule_id: Mapped[int] = mapped_column(ForeignKey("firewall_rules.id", ondelete="CASCADE"), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(16), default="Internal")
    source_ip: Mapped[str] = mapped_column(String(64))
    source_network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)


class InternalLbVm(Base):
    """An internal load-balancer appliance (vm_instance row, vm_type InternalLoadBalancerVm): one per source IP of a
    tier, holding that address."""

    __tablename__ = "internal_lb_vm_ref"
    __table_args__ = (UniqueConstraint("network_id", "source_ip"),)

    vm_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    source_ip: Mapped[str] = mapped_column(String(64))
    provider_key: Mapped[str] = mapped_column(String(16))
