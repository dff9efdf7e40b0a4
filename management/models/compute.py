"""Virtual machines, SSH key pairs, instance groups."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime
from management.db.crypto import SealedString


class VirtualMachine(IdMixin, TimestampMixin, Base):
    __tablename__ = "vm_instance"

    instance_name: Mapped[str] = mapped_column(String(255), index=True)  # i-<account>-<id>-VM
    name: Mapped[str] = mapped_column(String(255))  # host name
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    vm_type: Mapped[str] = mapped_column(String(32), default="User")  # User | DomainRouter | ...
    # CloudStack's VirtualMachine.State: Starting Running Stopping Stopped Destroyed Expunging Migrating Error
    # Unknown Shutdown; written only through fsm.transition (compare-and-swap on update_count).
    state: Mapped[str] = mapped_column(String(32), default="Stopped", index=True)
    update_count: Mapped[int] = mapped_column(BigInteger, default=0)
    power_state: Mapped[str | None] = mapped_column(String(32), default=None)  # what the hypervisor reports
    power_state_updated: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), default=None)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"), index=True)
    pod_id: Mapped[int | None] = mapped_column(IdType, default=None)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"), default=None, index=True)
    last_host_id: Mapped[int | None] = mapped_column(IdType, default=None)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("vm_template.id"), default=None)
    iso_id: Mapped[int | None] = mapped_column(IdType, default=None)
    service_offering_id: Mapped[int] = mapped_column(ForeignKey("service_offering.id"))
    os_type_id: Mapped[int | None] = mapped_column(IdType, default=None)
    hypervisor_type: Mapped[str | None] = mapped_column(String(32), default=None)
    # Effective sizing (a customized offering's values live here).
    cpu: Mapped[int] = mapped_column(default=1)
    speed: Mapped[int] = mapped_column(default=0)
    ram_size: Mapped[int] = mapped_column(default=0)  # MiB
    ha_enabled: Mapped[bool] = mapped_column(default=False)
    user_data: Mapped[str | None] = mapped_column(Text, default=None)  # base64 as the client sent it
    user_data_id: Mapped[int | None] = mapped_column(IdType, default=None)  # a registered user-data object
    user_data_details: Mapped[str | None] = mapped_column(Text, default=None)  # JSON of its variables
    keypairs: Mapped[str | None] = mapped_column(Text, default=None)  # comma separated key pair names
    # Sealed with the database key (management.db.crypto), loaded only where read.
    password: Mapped[str | None] = mapped_column(SealedString(255), default=None, deferred=True)
    vnc_password: Mapped[str | None] = mapped_column(SealedString(255), default=None, deferred=True)
    group_name: Mapped[str | None] = mapped_column(String(255), default=None)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)
    display_vm: Mapped[bool] = mapped_column(default=True)
    expunge_after: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SSHKeyPair(IdMixin, Base):
    __tablename__ = "ssh_keypairs"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class InstanceGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "instance_group"

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
