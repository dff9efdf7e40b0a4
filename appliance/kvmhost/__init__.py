"""Nested KVM host: a Debian root with libvirt + QEMU built offline and booted under QEMU TCG on this machine (the
second libvirt host of the live-migration tests)."""

from appliance.kvmhost.boot import NestedKvmHost
from appliance.kvmhost.builder import KvmHostImage, build_kvmhost_image

__all__ = ["KvmHostImage", "NestedKvmHost", "build_kvmhost_image"]
