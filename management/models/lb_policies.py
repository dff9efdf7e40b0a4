"""Load-balancer rule policies: stickiness (CloudStack's load_balancer_stickiness_policies) and health checks
(load_balancer_healthcheck_policies). Both hang off a ``NetworkRule`` of purpose LoadBalancing; the router's
haproxy renders them (``management/network``)."""

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin


class LbStickinessPolicy(IdMixin, Base):
    __tablename__ = "load_balancer_stickiness_policies"

    load_balancer_id: Mapped[int] = mapped_column(ForeignKey("firewall_rules.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(4096), default=None)
    method_name: Mapped[str] = mapped_column(String(255))  # LbCookie | AppCookie | SourceBased
    params_json: Mapped[str] = mapped_column(Text, default="{}")  # {param: value}; flags carry "true"
    revoke: Mapped[bool] = mapped_column(default=False)
    for_display: Mapped[bool] = mapped_column(default=True)


class LbHealthCheckPolicy(IdMixin, Base):
    __tablename__ = "load_balancer_healthcheck_policies"

    load_balancer_id: Mapped[int] = mapped_column(ForeignKey("firewall_rules.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(String(4096), default=None)
    ping_path: Mapped[str] = mapped_column(String(255), default="/")
    response_time: Mapped[int] = mapped_column(Integer, default=2)  # seconds
    interval: Mapped[int] = mapped_column(Integer, default=5)  # seconds
    healthy_threshold: Mapped[int] = mapped_column(Integer, default=2)
    unhealthy_threshold: Mapped[int] = mapped_column(Integer, default=10)
    revoke: Mapped[bool] = mapped_column(default=False)
    for_display: Mapped[bool] = mapped_column(default=True)
