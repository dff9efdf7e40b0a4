"""Tiny guest image builder and config-drive helper."""

from appliance.image.builder import build_tiny_image, cache_key, resolve_packages
from management.drivers.configdrive import build_config_drive

__all__ = ["build_tiny_image", "build_config_drive", "cache_key", "resolve_packages"]
