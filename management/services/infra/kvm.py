"""KVM (libvirt) host specifics: which virt type a host's domains get, where serial consoles are logged, and the
host bridges guest NICs plug into.

- **Virt type.** `kvm` only where the host-prepare probe (`appliance.host.prepare.probe_virt_type`) saw a KVM
  guest actually boot, and recorded it in `/var/lib/devcloud/virt-type.json` for the running kernel; otherwise
  `qemu` (TCG). The presence of /dev/kvm proves nothing on nested machines (a KVM guest hangs after the boot
  loader), so a missing, unreadable or stale cache means `qemu`. A remote host's cache is on that host: until the
  prepare step reports it, remote hosts run `qemu` too. `DEVCLOUD_VIRT_TYPE=kvm|qemu` overrides (operators only).
- **Console logs.** `DEVCLOUD_CONSOLE_LOG_DIR`, default `/var/log/devcloud/console`; one `<instance>.log` per VM.
- **Bridges.** A guest NIC attaches to `networks.guest_bridge_name(network)`. The virtual router (when enabled)
  creates that bridge with its namespace; without it, `ensure_bridges` makes a plain bridge on a local host before
  spawn so deploys work either way. A remote host's NICs reach that bridge over VXLAN (`drivers.libvirt.overlay`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from management.drivers.base import NicSpec
from management.drivers.errors import DriverError
from management.drivers.libvirt import overlay

log = logging.getLogger(__name__)

VIRT_TYPE_FILE = "/var/lib/devcloud/virt-type.json"
CONSOLE_LOG_DIR = "/var/log/devcloud/console"
VIRT_TYPES = ("kvm", "qemu")


def is_local(url: str) -> bool:
    """qemu:///system (no host part): this machine."""
    parts = urlsplit(url)
    return not parts.hostname and parts.scheme.split("+", 1)[0] in ("qemu", "lxc", "xen")


def is_libvirt_url(url: str) -> bool:
    return urlsplit(url).scheme.split("+", 1)[0].lower() in ("qemu", "xen", "lxc")


def virt_type_file() -> str:
    return os.environ.get("DEVCLOUD_VIRT_TYPE_FILE") or VIRT_TYPE_FILE


def probed_virt_type(path: str | None = None, kernel: str | None = None) -> tuple[str, str]:
    """(virt type, why) from the probe's cache on this machine; `qemu` unless the probe saw a KVM guest boot
    on the running kernel."""
    path = path or virt_type_file()
    kernel = kernel or os.uname().release
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return "qemu", f"no KVM probe result ({path} missing; run `python -m appliance.host.prepare --probe`)"
    except (OSError, ValueError) as exc:
        return "qemu", f"unreadable KVM probe result {path}: {exc}"
    vt = doc.get("virt_type")
    if vt not in VIRT_TYPES:
        return "qemu", f"KVM probe result {path} has no valid virt_type"
    if doc.get("kernel") and doc["kernel"] != kernel:
        return "qemu", f"KVM probe result is for kernel {doc['kernel']}, this host runs {kernel}"
    return vt, str(doc.get("detail") or f"probe result {vt}")


def virt_type_for(url: str) -> tuple[str, str]:
    forced = (os.environ.get("DEVCLOUD_VIRT_TYPE") or "").strip().lower()
    if forced in VIRT_TYPES:
        return forced, "DEVCLOUD_VIRT_TYPE"
    if url.startswith("test:"):
        return "test", "libvirt test driver"
    if not is_local(url):
        return "qemu", "remote host: KVM not proven by a probe on that host"
    return probed_virt_type()


def console_log_dir() -> str:
    return os.environ.get("DEVCLOUD_CONSOLE_LOG_DIR") or CONSOLE_LOG_DIR


def driver_options(url: str, hypervisor: str | None) -> dict[str, object]:
    """Constructor options for the libvirt driver of a KVM host (empty for other drivers)."""
    if not is_libvirt_url(url) or (hypervisor or "KVM").lower() not in ("kvm", "qemu"):
        return {}
    vt, why = virt_type_for(url)
    log.info("libvirt host %s: virt type %s (%s)", url, vt, why)
    # DEVCLOUD_CONSOLE_LOG_DIR is a directory of this machine; a remote host logs where host preparation made room
    return {"virt_type": vt, "console_log_dir": console_log_dir() if is_local(url) else CONSOLE_LOG_DIR}


def host_address(url: str) -> str:
    """The IPv4 address of a remote libvirt host's URL."""
    name = urlsplit(url).hostname or ""
    try:
        return socket.gethostbyname(name)
    except OSError as exc:
        raise DriverError(f"cannot resolve the libvirt host {name!r} of {url}: {exc}") from None


def overlay_peer(url: str) -> str | None:
    """This machine's address toward a remote host: where the host's side of a guest network overlay sends. None
    when the host is reached over loopback (a port forward, as the nested Xen host is): there is no network
    between the two to carry VXLAN, and a VXLAN device on `lo` would hand the bridge its own frames back."""
    try:
        dev, source = overlay.route_to(host_address(url))
    except overlay.OverlayError as exc:
        raise DriverError(str(exc)) from None
    return None if dev == "lo" else source


def ensure_bridges(url: str, nics: Iterable[NicSpec]) -> list[str]:
    """Make sure every bridge the NICs name exists (a plain bridge, up); returns those created.

    On a local host that is the bridge itself. For a remote host it is this machine's side of the overlay: the
    network's bridge here (the router's, or a plain one) with a VXLAN device toward the host; the host makes its
    side from the domain XML (``drivers.libvirt.overlay``, libvirt's QEMU hook)."""
    if not is_local(url):
        stretched = [(n.bridge, n.overlay) for n in nics if n.bridge and n.overlay]
        peer = host_address(url) if stretched else ""  # resolved once, not per NIC
        made = []
        for bridge, (vni, group, _) in stretched:
            try:
                if overlay.ensure(overlay.Overlay(bridge=bridge, vni=vni, group=group, peer=peer)):
                    log.info("guest bridge %s joined to VXLAN %s (group %s) toward %s", bridge, vni, group, url)
                    made.append(bridge)
            except overlay.OverlayError as exc:
                raise DriverError(str(exc)) from None
        return made
    from management.network import host as nethost

    created = []
    for nic in nics:
        if nic.bridge and nethost.ensure_bridge(nic.bridge):
            log.info("created guest bridge %s (no virtual router has created it yet)", nic.bridge)
            created.append(nic.bridge)
    return created


def console_log_path(instance_name: str) -> str:
    return os.path.join(console_log_dir(), f"{instance_name}.log")
