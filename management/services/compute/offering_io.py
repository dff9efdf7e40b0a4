"""I/O settings offerings carry (CloudStack's cache mode and throttles): validated once, applied to service and
disk offerings alike, rendered in their responses under CloudStack's camel-case names."""

from __future__ import annotations

from typing import Any

from management.errors import ParamError
from management.models.offerings import DiskOffering, ServiceOffering

CACHE_MODES = ("none", "writeback", "writethrough", "hypervisor_default")
RATES = ("bytes_read_rate", "bytes_write_rate", "iops_read_rate", "iops_write_rate")


def validate_cache_mode(cache_mode: str | None) -> str | None:
    """ConfigurationManagerImpl.validateCacheMode: one of DiskCacheMode's values, case-insensitive."""
    if cache_mode is None:
        return None
    if cache_mode.lower() not in CACHE_MODES:
        raise ParamError(f"Invalid cache mode ({cache_mode}). Please specify one of the following valid cache mode "
                         "parameters: none, writeback, writethrough or hypervisor_default.")
    return cache_mode.lower()


def apply(offering: ServiceOffering | DiskOffering, *, cachemode: str | None, bytesreadrate: int | None,
          byteswriterate: int | None, iopsreadrate: int | None, iopswriterate: int | None) -> None:
    mode = validate_cache_mode(cachemode)
    if mode is not None:
        offering.cache_mode = mode
    for col, value in zip(RATES, (bytesreadrate, byteswriterate, iopsreadrate, iopswriterate), strict=True):
        if value is not None:
            if value < 0:
                raise ParamError(f"{col.replace('_', '')} can not be negative")
            setattr(offering, col, value or None)  # CloudStack keeps only positive rates


def response_fields(offering: ServiceOffering | DiskOffering) -> dict[str, Any]:
    return {"cacheMode": offering.cache_mode, "diskBytesReadRate": offering.bytes_read_rate,
            "diskBytesWriteRate": offering.bytes_write_rate, "diskIopsReadRate": offering.iops_read_rate,
            "diskIopsWriteRate": offering.iops_write_rate}
