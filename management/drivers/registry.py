"""Build a hypervisor driver for a host from its URL and/or CloudStack hypervisor type.

Driver classes are referenced by dotted path and imported lazily, so ``libvirt-python`` is only needed when a
libvirt host is actually used. Every driver is constructed as ``cls(url, **options)``.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from management.drivers.base import HypervisorDriver
from management.drivers.errors import DriverError

# driver name -> "module:Class"
_DRIVERS: dict[str, str] = {
    "simulator": "management.drivers.simulator:SimulatorDriver",
    "libvirt": "management.drivers.libvirt.driver:LibvirtDriver",
    "xenapi": "management.drivers.xenapi.driver:XenAPIDriver",
}

# CloudStack hypervisor type (lower-cased) -> driver name
_HYPERVISOR_TYPES: dict[str, str] = {
    "simulator": "simulator",
    "kvm": "libvirt",
    "qemu": "libvirt",
    "lxc": "libvirt",
    "xen": "libvirt",
    "xenserver": "xenapi",  # XenServer / XCP-ng pools through XAPI (http(s)://pool-member URLs)
    "xcp-ng": "xenapi",
}

# URL scheme -> driver name; "qemu+ssh" etc. are matched on the part before "+".
_SCHEMES: dict[str, str] = {
    "sim": "simulator",
    "simulator": "simulator",
    "qemu": "libvirt",
    "test": "libvirt",
    "xen": "libvirt",
    "lxc": "libvirt",
    "xenapi": "xenapi",
}


class UnknownDriver(DriverError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no hypervisor driver for {what}")


def register_driver(
    name: str, target: str, *, schemes: tuple[str, ...] = (), hypervisor_types: tuple[str, ...] = ()
) -> None:
    """Add (or replace) a driver: ``target`` is ``"package.module:Class"``."""
    _DRIVERS[name] = target
    for scheme in schemes:
        _SCHEMES[scheme.lower()] = name
    for hv in hypervisor_types:
        _HYPERVISOR_TYPES[hv.lower()] = name


def driver_names() -> list[str]:
    return sorted(_DRIVERS)


def resolve_driver_name(url: str, hypervisor: str | None = None) -> str:
    """Pick the driver for a host.

    An explicit CloudStack hypervisor type wins ("Simulator", "KVM", ...); otherwise the URL scheme decides.
    ``http(s)://sim/...`` URLs (CloudStack simulator style) map to the simulator.
    """
    if hypervisor:
        name = _HYPERVISOR_TYPES.get(hypervisor.lower())
        if name is None:
            raise UnknownDriver(f"hypervisor type {hypervisor!r}")
        return name
    parts = urlsplit(url)
    scheme = parts.scheme.lower().split("+", 1)[0]
    if scheme in _SCHEMES:
        return _SCHEMES[scheme]
    if scheme in ("http", "https") and (parts.hostname or "").lower() in ("sim", "simulator"):
        return "simulator"
    raise UnknownDriver(f"host url {url!r}")


def load_driver_class(name: str) -> type[HypervisorDriver]:
    try:
        target = _DRIVERS[name]
    except KeyError:
        raise UnknownDriver(f"driver name {name!r}") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DriverError(f"driver {name!r} cannot be loaded: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, HypervisorDriver)):
        raise DriverError(f"{target} is not a HypervisorDriver")
    return cls


def driver_for_host(url: str, hypervisor: str | None = None, **options: object) -> HypervisorDriver:
    """Construct (not connect) the driver for a host URL such as ``http://sim/c0/h0`` or ``qemu:///system``."""
    cls = load_driver_class(resolve_driver_name(url, hypervisor))
    return cls(url, **options)
