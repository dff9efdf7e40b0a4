"""Platform and plugin tables: dedicated resources, quota, usage samples (metrics), annotations, resource details
and icons, GUI themes, issued certificates, extensions and custom actions, console sessions, two-factor
authentication, management server maintenance. Table and column names follow CloudStack's where a client or an
operator could notice."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, utcnow

# ------------------------------------------------------------------------------------------ dedicated resources


class DedicatedResource(IdMixin, Base):
    """A zone, pod, cluster or host dedicated to a domain (and optionally one account of it): placement only puts
    that owner's VMs there. Exactly one of the four resource columns is set."""

    __tablename__ = "dedicated_resources"

    zone_id: Mapped[int | None] = mapped_column(ForeignKey("data_center.id"), default=None, unique=True)
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"), default=None, unique=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id"), default=None, unique=True)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"), default=None, unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ------------------------------------------------------------------------------------------------------ quota


class QuotaTariff(IdMixin, Base):
    """A price per unit of one usage type, valid from `effective_on` to `end_date` (None: open ended)."""

    __tablename__ = "quota_tariff"

    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    usage_type: Mapped[int] = mapped_column(Integer)
    usage_name: Mapped[str] = mapped_column(String(255))
    usage_unit: Mapped[str] = mapped_column(String(255))
    usage_discriminator: Mapped[str] = mapped_column(String(255), default="")
    currency_value: Mapped[Decimal] = mapped_column(Numeric(15, 8))
    activation_rule: Mapped[str | None] = mapped_column(Text, default=None)
    position: Mapped[int] = mapped_column(Integer, default=1)
    effective_on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(IdType, default=None)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class QuotaAccount(Base):
    """An account's running balance and enforcement settings."""

    __tablename__ = "quota_account"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    quota_balance: Mapped[Decimal | None] = mapped_column(Numeric(15, 8), default=None)
    quota_balance_date: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    quota_enforce: Mapped[bool] = mapped_column(default=False)
    quota_min_balance: Mapped[Decimal] = mapped_column(Numeric(15, 8), default=Decimal(0))
    quota_alert_date: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_statement_date: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuotaCredit(Base):
    __tablename__ = "quota_credits"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    credit: Mapped[Decimal] = mapped_column(Numeric(15, 4))
    updated_on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(IdType, default=None)


class QuotaUsage(Base):
    """The cost of one usage record: quantity x tariff, per account and usage type."""

    __tablename__ = "quota_usage"
    __table_args__ = (Index("ix_quota_usage_account_start", "account_id", "start_date"),
                      UniqueConstraint("usage_item_id", "tariff_id"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    usage_item_id: Mapped[int] = mapped_column(IdType)  # the usage record's id
    zone_id: Mapped[int | None] = mapped_column(IdType, default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    usage_type: Mapped[int] = mapped_column(Integer)
    tariff_id: Mapped[int] = mapped_column(IdType)
    quota_used: Mapped[Decimal] = mapped_column(Numeric(15, 8))
    start_date: Mapped[datetime] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime] = mapped_column(UTCDateTime)


class QuotaBalance(Base):
    """Balance snapshots: one per account per quotaUpdate run (and per credit)."""

    __tablename__ = "quota_balance"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    credit_balance: Mapped[Decimal] = mapped_column(Numeric(15, 8))
    credits_id: Mapped[int | None] = mapped_column(IdType, default=None)
    updated_on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuotaEmailTemplate(Base):
    __tablename__ = "quota_email_templates"
    __table_args__ = (UniqueConstraint("template_name", "locale"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    template_name: Mapped[str] = mapped_column(String(64))
    template_subject: Mapped[str] = mapped_column(String(255))
    template_body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(25), default="en_US")
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuotaEmailConfiguration(Base):
    __tablename__ = "quota_email_configuration"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    email_template_id: Mapped[int] = mapped_column(ForeignKey("quota_email_templates.id", ondelete="CASCADE"),
                                                   primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)


# ---------------------------------------------------------------------------------------------------- metrics


class VmStats(Base):
    """One sample of a running VM's counters (CloudStack's vm_stats), kept for vm.stats.max.retention.time."""

    __tablename__ = "vm_stats"
    __table_args__ = (Index("ix_vm_stats_vm_time", "vm_id", "timestamp"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    vm_id: Mapped[int] = mapped_column(IdType)
    mgmt_server_id: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    vm_stats_data: Mapped[str] = mapped_column(Text)  # JSON, CloudStack's VmStatsEntry field names


class VolumeStats(Base):
    __tablename__ = "volume_stats"
    __table_args__ = (Index("ix_volume_stats_volume_time", "volume_id", "timestamp"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    volume_id: Mapped[int] = mapped_column(IdType)
    mgmt_server_id: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    volume_stats_data: Mapped[str] = mapped_column(Text)  # JSON, CloudStack's VmDiskStatsEntry field names


class ManagementServerMaintenance(Base):
    """A management server's maintenance/shutdown state (plugins/maintenance), beside its heartbeat row."""

    __tablename__ = "mshost_maintenance"

    msid: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(32), default="Up")
    maintenance_initiated: Mapped[bool] = mapped_column(default=False)
    shutdown_triggered: Mapped[bool] = mapped_column(default=False)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ------------------------------------------------------------------------------------- annotations and details


class Annotation(IdMixin, Base):
    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_entity", "entity_type", "entity_uuid"),)

    annotation: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_uuid: Mapped[str | None] = mapped_column(String(40), default=None)
    user_uuid: Mapped[str] = mapped_column(String(40))
    admins_only: Mapped[bool] = mapped_column(default=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ResourceDetail(Base):
    """Key/value details of any resource (CloudStack's *_details tables in one); `display` False hides a detail
    from non-admins."""

    __tablename__ = "resource_details"
    __table_args__ = (UniqueConstraint("resource_type", "resource_uuid", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_uuid: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)
    display: Mapped[bool] = mapped_column(default=True)
    account_id: Mapped[int | None] = mapped_column(IdType, default=None)
    domain_id: Mapped[int | None] = mapped_column(IdType, default=None)


class ResourceIcon(IdMixin, Base):
    __tablename__ = "resource_icon"
    __table_args__ = (UniqueConstraint("resource_type", "resource_uuid"),)

    resource_type: Mapped[str] = mapped_column(String(64))
    resource_uuid: Mapped[str] = mapped_column(String(40), index=True)
    icon: Mapped[str] = mapped_column(Text)  # base64 image
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GuiTheme(IdMixin, TimestampMixin, Base):
    __tablename__ = "gui_themes"

    name: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(4096), default=None)
    css: Mapped[str | None] = mapped_column(Text, default=None)
    json_configuration: Mapped[str | None] = mapped_column(Text, default=None)
    common_names: Mapped[str | None] = mapped_column(Text, default=None)
    domain_uuids: Mapped[str | None] = mapped_column(Text, default=None)
    account_uuids: Mapped[str | None] = mapped_column(Text, default=None)
    recursive_domains: Mapped[bool] = mapped_column(default=False)
    is_public: Mapped[bool] = mapped_column(default=True)


# -------------------------------------------------------------------------------------------- certificates (CA)


class IssuedCertificate(Base):
    """Certificates the root CA issued (serial in hex), and whether they were revoked (the CRL)."""

    __tablename__ = "ca_certificates"

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    cn: Mapped[str] = mapped_column(String(255))
    certificate: Mapped[str] = mapped_column(Text)
    host_id: Mapped[int | None] = mapped_column(IdType, default=None)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -------------------------------------------------------------------------------------------------- extensions


class Extension(IdMixin, TimestampMixin, Base):
    __tablename__ = "extension"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    type: Mapped[str] = mapped_column(String(32))  # Orchestrator
    relative_path: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16), default="Enabled")
    is_user_defined: Mapped[bool] = mapped_column(default=True)
    orchestrator_requires_prepare_vm: Mapped[bool] = mapped_column(default=False)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)


class ExtensionResourceMap(IdMixin, Base):
    __tablename__ = "extension_resource_map"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id"),)

    extension_id: Mapped[int] = mapped_column(ForeignKey("extension.id", ondelete="CASCADE"), index=True)
    resource_type: Mapped[str] = mapped_column(String(32))  # Cluster
    resource_id: Mapped[int] = mapped_column(IdType)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExtensionCustomAction(IdMixin, TimestampMixin, Base):
    __tablename__ = "extension_custom_action"

    extension_id: Mapped[int] = mapped_column(ForeignKey("extension.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    resource_type: Mapped[str | None] = mapped_column(String(32), default=None)
    allowed_role_types: Mapped[int] = mapped_column(Integer, default=1)  # bit set of RoleType
    success_message: Mapped[str | None] = mapped_column(Text, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    timeout: Mapped[int] = mapped_column(Integer, default=5)
    enabled: Mapped[bool] = mapped_column(default=False)
    parameters_json: Mapped[str | None] = mapped_column(Text, default=None)
    details_json: Mapped[str | None] = mapped_column(Text, default=None)


# ---------------------------------------------------------------------------------------------- console, 2FA


class ConsoleSession(IdMixin, Base):
    """A console token handed out by createConsoleEndpoint; `acquired` when the websocket used it."""

    __tablename__ = "console_session"

    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    instance_id: Mapped[int] = mapped_column(IdType, index=True)
    host_id: Mapped[int | None] = mapped_column(IdType, default=None)
    creator_address: Mapped[str | None] = mapped_column(String(64), default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acquired: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    removed: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class UserTwoFactor(Base):
    """A user's second factor: provider (totp, staticpin), its key, and whether setup was verified."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    secret: Mapped[str | None] = mapped_column(String(255), default=None)
    verified: Mapped[bool] = mapped_column(default=False)  # setup confirmed with a first valid code
    last_code_step: Mapped[int] = mapped_column(BigInteger, default=0)  # TOTP steps are used once


class SessionTwoFactor(Base):
    """Login sessions whose second factor was checked (by the digest of the session key)."""

    __tablename__ = "session_two_factor"

    session_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    verified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
