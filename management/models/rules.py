"""Network rules (firewall incl. egress, port forwarding, load balancing), the router's network link, and security
groups. Static NAT lives on ``PublicIpAddress`` (one_to_one_nat, vm_id, vm_ip) as in CloudStack.

The virtual router itself is a ``VirtualMachine`` row with vm_type "DomainRouter" (CloudStack's DomainRouterVO); its
network and addresses are in ``RouterNetwork``.
"""

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin


class RouterNetwork(Base):
    """Which network a router (vm_instance row, vm_type DomainRouter) serves (CloudStack's router_network_ref)."""

    __tablename__ = "router_network_ref"

    router_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    guest_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    public_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    provider_key: Mapped[str] = mapped_column(String(16))  # the provider's router id ([a-z0-9]{1,10})


class NetworkRule(IdMixin, TimestampMixin, Base):
    """CloudStack's firewall_rules (+ port_forwarding_rules + load_balancing_rules columns in one row).

    purpose: Firewall | PortForwarding | LoadBalancing; traffic_type: Ingress | Egress."""

    __tablename__ = "firewall_rules"

    purpose: Mapped[str] = mapped_column(String(32), index=True)
    traffic_type: Mapped[str] = mapped_column(String(16), default="Ingress")
    state: Mapped[str] = mapped_column(String(16), default="Add")  # Add | Active | Revoke
    ip_address_id: Mapped[int | None] = mapped_column(IdType, default=None, index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    protocol: Mapped[str] = mapped_column(String(16), default="tcp")
    start_port: Mapped[int | None] = mapped_column(Integer, default=None)
    end_port: Mapped[int | None] = mapped_column(Integer, default=None)
    icmp_type: Mapped[int | None] = mapped_column(Integer, default=None)
    icmp_code: Mapped[int | None] = mapped_column(Integer, default=None)
    source_cidrs: Mapped[str | None] = mapped_column(Text, default=None)  # comma separated
    dest_cidrs: Mapped[str | None] = mapped_column(Text, default=None)
    related_id: Mapped[int | None] = mapped_column(IdType, default=None)  # firewall rule opened by a PF/LB rule
    # port forwarding
    vm_id: Mapped[int | None] = mapped_column(IdType, default=None)
    dest_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    dest_start_port: Mapped[int | None] = mapped_column(Integer, default=None)
    dest_end_port: Mapped[int | None] = mapped_column(Integer, default=None)
    # load balancing
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(4096), default=None)
    algorithm: Mapped[str | None] = mapped_column(String(32), default=None)
    for_display: Mapped[bool] = mapped_column(default=True)


class LoadBalancerVmMap(Base):
    __tablename__ = "load_balancer_vm_map"
    __table_args__ = (UniqueConstraint("load_balancer_id", "vm_id", "vm_ip"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    load_balancer_id: Mapped[int] = mapped_column(ForeignKey("firewall_rules.id", ondelete="CASCADE"), index=True)
    vm_id: Mapped[int] = mapped_column(IdType, index=True)
    vm_ip: Mapped[str | None] = mapped_column(String(64), default=None)


class SecurityGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "security_group"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(4096), default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))


class SecurityGroupRule(IdMixin, Base):
    __tablename__ = "security_group_rule"

    security_group_id: Mapped[int] = mapped_column(ForeignKey("security_group.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))  # ingress | egress
    protocol: Mapped[str] = mapped_column(String(16), default="all")
    start_port: Mapped[int | None] = mapped_column(Integer, default=None)
    end_port: Mapped[int | None] = mapped_column(Integer, default=None)
    icmp_type: Mapped[int | None] = mapped_column(Integer, default=None)
    icmp_code: Mapped[int | None] = mapped_column(Integer, default=None)
    cidr: Mapped[str | None] = mapped_column(String(64), default=None)
    allowed_group_id: Mapped[int | None] = mapped_column(IdType, default=None)


class SecurityGroupVmMap(Base):
    __tablename__ = "security_group_vm_map"
    __table_args__ = (UniqueConstraint("security_group_id", "vm_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    security_group_id: Mapped[int] = mapped_column(ForeignKey("security_group.id", ondelete="CASCADE"), index=True)
    vm_id: Mapped[int] = mapped_column(IdType, index=True)
