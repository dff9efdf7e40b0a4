"""SSL certificates for load balancer rules of protocol ssl (uploadSslCert / assignCertToLoadBalancer)."""

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin


class SslCert(IdMixin, TimestampMixin, Base):
    __tablename__ = "sslcerts"

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    certificate: Mapped[str] = mapped_column(Text)
    private_key: Mapped[str] = mapped_column(Text)
    chain: Mapped[str | None] = mapped_column(Text, default=None)
    fingerprint: Mapped[str] = mapped_column(String(255))


class LoadBalancerCertMap(IdMixin, Base):
    __tablename__ = "load_balancer_cert_map"

    load_balancer_id: Mapped[int] = mapped_column(ForeignKey("firewall_rules.id", ondelete="CASCADE"), unique=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("sslcerts.id"), index=True)
