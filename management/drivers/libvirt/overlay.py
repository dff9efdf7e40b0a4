"""Guest networks stretched to remote KVM hosts over VXLAN.

A guest network is one Linux bridge per network (``dcb<uuid prefix>``), made where its virtual router runs: the
management server's machine. A VM on a remote libvirt host plugs into a bridge of the same name there. The two are
joined by a VXLAN device in each (``dcx<same suffix>``): VNI from the network's uuid, multicast group
``239.<VNI as three bytes>`` (CloudStack's scheme for VXLAN isolation), UDP 4789, on the interface that routes to
the other side. Every host of one L2 segment joins the group, so guests on several hosts reach each other and the
router without a per-host configuration. The encapsulation takes 50 bytes: guest NICs on such a bridge get an MTU
of ``GUEST_MTU`` from libvirt (``<mtu>``, which virtio-net passes to the guest), so TCP needs no larger underlay.

The remote side is made by libvirt's QEMU hook (``/etc/libvirt/hooks/qemu``, installed by host preparation): before a
domain starts, arrives by migration or is restored, libvirt hands the hook the domain XML, whose devcloud metadata
lists the overlays its NICs need. This file is that hook as well (run it as a script); it uses the standard library
only, so a host needs nothing of devcloud but this file and Python 3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

DEVCLOUD_NS = "http://devcloud.dev/xmlns/libvirt/instance/1.0"
OVERLAY_TAG = f"{{{DEVCLOUD_NS}}}overlay"
PORT = 4789
OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
GUEST_MTU = 1500 - OVERHEAD
BRIDGE_PREFIX = "dcb"
VXLAN_PREFIX = "dcx"
HOOK_PATH = Path("/etc/libvirt/hooks/qemu")


class OverlayError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Overlay:
    """What one side needs to join a network's segment: its bridge, the VNI and group, and an address of the other
    side (the underlay interface is the one that routes there)."""

    bridge: str
    vni: int
    group: str
    peer: str

    @property
    def device(self) -> str:
        return vxlan_device(self.bridge)

    def to_element(self) -> ET.Element:
        return ET.Element(OVERLAY_TAG, bridge=self.bridge, vni=str(self.vni), group=self.group, peer=self.peer)

    @classmethod
    def from_element(cls, el: ET.Element) -> Overlay:
        try:
            return cls(bridge=el.attrib["bridge"], vni=int(el.attrib["vni"]), group=el.attrib["group"],
                       peer=el.attrib["peer"])
        except (KeyError, ValueError) as exc:
            raise OverlayError(f"bad devcloud overlay element {ET.tostring(el, 'unicode')}: {exc}") from None


def vni_for(network_uuid: str) -> int:
    """24 bits of the network's uuid (never 0): two clouds on one segment don't share a VNI by their row ids."""
    return int(network_uuid.replace("-", "")[:6], 16) or 1


def group_for(vni: int) -> str:
    return f"239.{(vni >> 16) & 255}.{(vni >> 8) & 255}.{vni & 255}"


def vxlan_device(bridge: str) -> str:
    if not bridge.startswith(BRIDGE_PREFIX):
        raise OverlayError(f"{bridge!r} is not a devcloud guest bridge")
    return VXLAN_PREFIX + bridge[len(BRIDGE_PREFIX):]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # libvirtd may run its hooks with a short PATH
    ip = shutil.which("ip", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])) or "ip"
    proc = subprocess.run([ip, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise OverlayError(f"ip {' '.join(args)} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()}")
    return proc


def route_to(address: str) -> tuple[str, str]:
    """(interface, source address) this machine uses to reach ``address``."""
    proc = _ip("-j", "route", "get", address, check=False)
    routes = json.loads(proc.stdout or "[]") if proc.returncode == 0 else []
    if not routes or not routes[0].get("dev") or not routes[0].get("prefsrc"):
        raise OverlayError(f"no route from this machine to {address} for the guest network overlay")
    return routes[0]["dev"], routes[0]["prefsrc"]


def _link(name: str) -> dict | None:
    proc = _ip("-j", "-d", "link", "show", "dev", name, check=False)
    data = json.loads(proc.stdout or "[]") if proc.returncode == 0 else []
    return data[0] if data else None


def ensure(overlay: Overlay) -> bool:
    """The bridge (made if missing) with the VXLAN device in it, both up. Returns True when something changed.
    A VXLAN device of that name with another VNI, group or underlay is made again."""
    dev, _ = route_to(overlay.peer)
    changed = False
    if _link(overlay.bridge) is None:
        _ip("link", "add", overlay.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        changed = True
    vx = _link(overlay.device)
    info = ((vx or {}).get("linkinfo") or {}).get("info_data") or {}
    if vx is not None and (info.get("id") != overlay.vni or info.get("group") != overlay.group
                           or info.get("link") != dev):
        _ip("link", "del", "dev", overlay.device)
        vx = None
    if vx is None:
        _ip("link", "add", overlay.device, "type", "vxlan", "id", str(overlay.vni), "group", overlay.group,
            "dev", dev, "dstport", str(PORT))
        changed = True
    if vx is None or vx.get("master") != overlay.bridge:
        _ip("link", "set", "dev", overlay.device, "master", overlay.bridge)
    for name in (overlay.device, overlay.bridge):
        _ip("link", "set", "dev", name, "up")
    return changed


def remove(bridge: str) -> bool:
    """Deletes the bridge's VXLAN device, if it has one."""
    device = vxlan_device(bridge)
    if _link(device) is None:
        return False
    _ip("link", "del", "dev", device, check=False)
    return True


def other_ports(bridge: str) -> list[str]:
    """The bridge's ports other than its VXLAN device."""
    p = Path("/sys/class/net", bridge, "brif")
    device = vxlan_device(bridge)
    return sorted(x.name for x in p.iterdir() if x.name != device) if p.exists() else []


def overlays_in(domain_xml: str) -> list[Overlay]:
    try:
        root = ET.fromstring(domain_xml)
    except ET.ParseError as exc:
        raise OverlayError(f"unreadable domain XML: {exc}") from None
    return [Overlay.from_element(el) for el in root.iter(OVERLAY_TAG)]


# libvirt calls the QEMU hook as `qemu <domain> <operation> <sub-operation> <extra>` with the domain XML on stdin.
# These operations precede the domain's devices being set up here: a plain start, an incoming migration, a restore
# (a memory snapshot reverted).
JOIN_OPERATIONS = {("prepare", "begin"), ("migrate", "begin"), ("restore", "begin")}


def hook(argv: list[str], stdin: str) -> int:
    if len(argv) < 3:
        return 0
    operation = (argv[1], argv[2])
    if operation not in JOIN_OPERATIONS and operation != ("release", "end"):
        return 0
    overlays = overlays_in(stdin)
    if operation in JOIN_OPERATIONS:
        for overlay in overlays:
            ensure(overlay)
        return 0
    for overlay in overlays:  # the domain is gone: a bridge nothing else uses goes with its VXLAN device
        if _link(overlay.bridge) is not None and not other_ports(overlay.bridge):
            remove(overlay.bridge)
            _ip("link", "del", "dev", overlay.bridge, check=False)
    return 0


def main() -> int:
    try:
        # libvirt's migrate hook must echo the XML (or nothing) on stdout; nothing keeps it unchanged
        return hook(sys.argv[1:], sys.stdin.read())
    except OverlayError as exc:
        print(f"devcloud overlay: {exc}", file=sys.stderr)  # libvirt puts this in the start's error
        return 1


if __name__ == "__main__":
    sys.exit(main())
