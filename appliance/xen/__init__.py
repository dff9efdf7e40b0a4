"""Nested Xen host: a Debian dom0 (Xen 4.17 + libvirt libxl) built offline and booted under QEMU TCG."""

from appliance.xen.boot import NestedXen
from appliance.xen.builder import XenImage, build_xen_image

__all__ = ["NestedXen", "XenImage", "build_xen_image"]
