"""A volume's copy in a zone's image store: uploads (uploadVolume, getUploadParamsForVolume) land here before the
volume's first attach copies it to primary storage (CloudStack's volume_store_ref)."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db.base import Base, IdMixin, UTCDateTime


class VolumeStoreRef(IdMixin, Base):
    __tablename__ = "volume_store_ref"
    __table_args__ = (UniqueConstraint("volume_id", "store_id"),)

    volume_id: Mapped[int] = mapped_column(ForeignKey("volumes.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("image_store.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("data_center.id"))
    url: Mapped[str | None] = mapped_column(String(2048), default=None)  # uploadVolume's source
    checksum: Mapped[str | None] = mapped_column(String(255), default=None)
    # NOT_DOWNLOADED | DOWNLOAD_IN_PROGRESS | DOWNLOADED | DOWNLOAD_ERROR | UPLOAD_ABANDONED
    download_state: Mapped[str] = mapped_column(String(32), default="NOT_DOWNLOADED")
    download_pct: Mapped[int] = mapped_column(Integer, default=0)
    error_str: Mapped[str | None] = mapped_column(Text, default=None)
    install_path: Mapped[str | None] = mapped_column(String(1024), default=None)  # relative to the store
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)  # virtual size
    physical_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
