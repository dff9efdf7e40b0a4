"""Exceptions raised by hypervisor drivers.

Every driver failure crosses the driver boundary as a :class:`DriverError` subclass, never as a raw
``libvirt.libvirtError`` or XenAPI failure, so services can map them to CloudStack error codes without
knowing which hypervisor is underneath. Messages name our UUIDs, never hypervisor ids.
"""

from __future__ import annotations


class DriverError(Exception):
    """Base class for every error a driver raises. ``retryable`` hints the job layer."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DomainNotFound(DriverError):
    def __init__(self, vm_uuid: str) -> None:
        super().__init__(f"domain {vm_uuid} not found on this host")
        self.vm_uuid = vm_uuid


class DomainExists(DriverError):
    def __init__(self, vm_uuid: str) -> None:
        super().__init__(f"domain {vm_uuid} is already defined on this host")
        self.vm_uuid = vm_uuid


class PoolNotFound(DriverError):
    def __init__(self, pool: str) -> None:
        super().__init__(f"storage pool {pool!r} not found on this host")
        self.pool = pool


class VolumeNotFound(DriverError):
    def __init__(self, pool: str, volume_uuid: str) -> None:
        super().__init__(f"volume {volume_uuid} not found in pool {pool!r}")
        self.pool = pool
        self.volume_uuid = volume_uuid


class VolumeInUse(DriverError):
    def __init__(self, volume_uuid: str, vm_uuid: str) -> None:
        super().__init__(f"volume {volume_uuid} is attached to domain {vm_uuid}")
        self.volume_uuid = volume_uuid
        self.vm_uuid = vm_uuid


class SnapshotNotFound(DriverError):
    def __init__(self, volume_uuid: str, snapshot_uuid: str) -> None:
        super().__init__(f"snapshot {snapshot_uuid} of volume {volume_uuid} not found")
        self.volume_uuid = volume_uuid
        self.snapshot_uuid = snapshot_uuid


class TemplateNotFound(DriverError):
    def __init__(self, template: str) -> None:
        super().__init__(f"template {template!r} not found (not prepared on the pool, or source missing)")
        self.template = template


class InvalidDomainState(DriverError):
    """The operation is impossible in the domain's current power state (e.g. reboot a stopped VM)."""

    def __init__(self, vm_uuid: str, state: str, operation: str) -> None:
        super().__init__(f"cannot {operation} domain {vm_uuid} while it is {state}")
        self.vm_uuid = vm_uuid
        self.state = state
        self.operation = operation


class InsufficientResources(DriverError):
    def __init__(self, message: str) -> None:
        super().__init__(f"insufficient resources: {message}")


class HostUnreachable(DriverError):
    retryable = True

    def __init__(self, host: str, reason: str = "") -> None:
        super().__init__(f"hypervisor host {host} is unreachable" + (f": {reason}" if reason else ""))
        self.host = host
        self.reason = reason


class CapabilityNotSupported(DriverError):
    """Raised for an operation whose capability flag the driver declares False."""

    def __init__(self, driver: str, capability: str) -> None:
        super().__init__(f"driver {driver!r} does not support {capability!r}")
        self.driver = driver
        self.capability = capability


class GuestAgentUnavailable(DriverError):
    """A request needs the guest's cooperation (filesystem freeze for a quiesced snapshot) and no agent answers."""

    def __init__(self, vm_uuid: str, reason: str) -> None:
        super().__init__(f"the guest agent of domain {vm_uuid} is unavailable: {reason}")
        self.vm_uuid = vm_uuid
        self.reason = reason


class DriverTimeout(DriverError):
    retryable = True

    def __init__(self, operation: str, seconds: float) -> None:
        super().__init__(f"operation {operation!r} timed out after {seconds:g}s")
        self.operation = operation
        self.seconds = seconds


__all__ = [
    "CapabilityNotSupported",
    "DomainExists",
    "DomainNotFound",
    "DriverError",
    "DriverTimeout",
    "GuestAgentUnavailable",
    "HostUnreachable",
    "InsufficientResources",
    "InvalidDomainState",
    "PoolNotFound",
    "SnapshotNotFound",
    "TemplateNotFound",
    "VolumeInUse",
    "VolumeNotFound",
]
