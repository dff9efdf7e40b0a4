"""VM autoscaling on a load-balancer rule: counters (what is measured), conditions (counter, operator,
threshold), scale-up/down policies (conditions held for a duration, then a quiet time), VM profiles (what a new
member is deployed from) and VM groups (a profile, policies and member bounds on one LB rule)."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, IdType, TimestampMixin, UTCDateTime


class Counter(IdMixin, TimestampMixin, Base):
    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255))  # CPU | MEMORY | NETSCALER | SNMP | VIRTUALROUTER
    value: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(255))


class Condition(IdMixin, TimestampMixin, Base):
    __tablename__ = "conditions"

    counter_id: Mapped[int] = mapped_column(ForeignKey("counter.id"), index=True)
    threshold: Mapped[int] = mapped_column(BigInteger)
    relational_operator: Mapped[str] = mapped_column(String(8))  # GT GE LT LE EQ
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))


class AutoScalePolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "autoscale_policies"

    name: Mapped[str | None] = mapped_column(String(255), default=None)
    action: Mapped[str] = mapped_column(String(16))  # ScaleUp | ScaleDown
    duration: Mapped[int] = mapped_column(Integer)  # seconds the conditions must hold
    quiet_time: Mapped[int] = mapped_column(Integer, default=300)  # seconds after an action
    last_quiet_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))


class AutoScalePolicyCondition(Base):
    __tablename__ = "autoscale_policy_condition_map"
    __table_args__ = (UniqueConstraint("policy_id", "condition_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("autoscale_policies.id", ondelete="CASCADE"), index=True)
    condition_id: Mapped[int] = mapped_column(ForeignKey("conditions.id"), index=True)


class AutoScaleVmProfile(IdMixin, TimestampMixin, Base):
    __tablename__ = "autoscale_vmprofiles"

    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    service_offering_id: Mapped[int] = mapped_column(ForeignKey("service_offering.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("vm_template.id"))
    other_deploy_params: Mapped[str | None] = mapped_column(Text, default=None)  # JSON {name: value}
    counter_params: Mapped[str | None] = mapped_column(Text, default=None)  # JSON {name: value}
    expunge_vm_grace_period: Mapped[int] = mapped_column(Integer, default=120)
    user_data: Mapped[str | None] = mapped_column(Text, default=None)
    user_data_id: Mapped[str | None] = mapped_column(String(40), default=None)
    user_data_details: Mapped[str | None] = mapped_column(Text, default=None)
    autoscale_user_id: Mapped[int | None] = mapped_column(IdType, default=None)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    for_display: Mapped[bool] = mapped_column(default=True)


class AutoScaleVmGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "autoscale_vmgroups"

    name: Mapped[str | None] = mapped_column(String(255), default=None)
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    load_balancer_id: Mapped[int] = mapped_column(ForeignKey("firewall_rules.id"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("autoscale_vmprofiles.id"), index=True)
    min_members: Mapped[int] = mapped_column(Integer)
    max_members: Mapped[int] = mapped_column(Integer)
    member_port: Mapped[int] = mapped_column(Integer)
    interval: Mapped[int] = mapped_column(Integer, default=30)  # seconds between evaluations
    last_interval: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    state: Mapped[str] = mapped_column(String(16), default="New")  # New Enabled Disabled Scaling Revoke
    next_vm_seq: Mapped[int] = mapped_column(Integer, default=1)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    for_display: Mapped[bool] = mapped_column(default=True)


class AutoScaleVmGroupPolicy(Base):
    __tablename__ = "autoscale_vmgroup_policy_map"
    __table_args__ = (UniqueConstraint("vmgroup_id", "policy_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    vmgroup_id: Mapped[int] = mapped_column(ForeignKey("autoscale_vmgroups.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("autoscale_policies.id"), index=True)


class AutoScaleVmGroupVm(Base):
    __tablename__ = "autoscale_vmgroup_vm_map"
    __table_args__ = (UniqueConstraint("vmgroup_id", "instance_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    vmgroup_id: Mapped[int] = mapped_column(ForeignKey("autoscale_vmgroups.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int] = mapped_column(IdType, index=True)
    created: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AutoScaleVmGroupStatistic(Base):
    """One sampled counter value of a group (CloudStack's autoscale_vmgroup_statistics): policies compare the
    average over their duration with their conditions' thresholds."""

    __tablename__ = "autoscale_vmgroup_statistics"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    vmgroup_id: Mapped[int] = mapped_column(ForeignKey("autoscale_vmgroups.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int | None] = mapped_column(IdType, default=None)
    counter_id: Mapped[int] = mapped_column(IdType)
    resource_id: Mapped[int | None] = mapped_column(IdType, default=None)  # the member VM
    value: Mapped[float] = mapped_column()
    created: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
