"""Object storage pools (CloudStack's object_store) and the buckets made through the CloudStack API."""

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, TimestampMixin
from management.db.crypto import SealedText


class ObjectStore(IdMixin, TimestampMixin, Base):
    __tablename__ = "object_store"

    name: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    total_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    allocated_size: Mapped[int] = mapped_column(BigInteger, default=0)
    tags: Mapped[str | None] = mapped_column(String(1024), default=None)
    details_json: Mapped[str | None] = mapped_column(SealedText, default=None)  # access and secret keys: sealed


class Bucket(IdMixin, TimestampMixin, Base):
    __tablename__ = "bucket"

    name: Mapped[str] = mapped_column(String(255), index=True)
    object_store_id: Mapped[int] = mapped_column(ForeignKey("object_store.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    state: Mapped[str] = mapped_column(String(16), default="Created")
    quota: Mapped[int | None] = mapped_column(Integer, default=None)  # GiB
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    encryption: Mapped[bool] = mapped_column(default=False)
    versioning: Mapped[bool] = mapped_column(default=False)
    object_lock: Mapped[bool] = mapped_column(default=False)
    policy: Mapped[str | None] = mapped_column(String(255), default=None)
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
