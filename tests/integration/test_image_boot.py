"""Boot the tiny image on qemu:///system (TCG) with a config drive and check, as a user
would: serial markers, login prompt, SSH with the injected key, disk hotplug markers."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import free_public_net

pytestmark = pytest.mark.integration

import libvirt  # noqa: E402

URI = "qemu:///system"
# names and addresses of this run only: another run on the machine may boot its own test guests meanwhile
_RUN = uuid.uuid4().hex[:6]
NET_NAME = f"dcimgtest-{_RUN}"
BRIDGE = f"dcimg{_RUN}"
# isolated network (no <forward>): traffic stays on the bridge
SUBNET = free_public_net("192.168", 200, 254)
USERDATA_MARKER = "USERDATA-RAN-" + uuid.uuid4().hex[:8]


def _need(cond: bool, why: str) -> None:
    if not cond:
        pytest.skip(why)


def _wait_for(pred, deadline: float, interval: float = 0.2):
    end = time.monotonic() + deadline
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


@pytest.fixture(scope="module")
def conn():
    _need(os.geteuid() == 0, "needs root")
    for tool in ("genisoimage", "mkfs.ext2", "extlinux", "qemu-img", "readelf", "ssh"):
        _need(shutil.which(tool) is not None, f"{tool} is not installed")
    try:
        c = libvirt.open(URI)
    except libvirt.libvirtError as e:
        pytest.skip(f"{URI} does not answer (run .ci/services.sh): {e}")
    yield c
    c.close()


@pytest.fixture(scope="module")
def image():
    from appliance.image import build_tiny_image

    t0 = time.monotonic()
    path = build_tiny_image(progress=lambda m: print(f"[image] {m}"))
    print(f"tiny image {path} ({path.stat().st_size} bytes) ready in {time.monotonic() - t0:.2f}s")
    return path


@pytest.fixture(scope="module")
def network(conn):
    in_use = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    try:
        stale = conn.networkLookupByName(NET_NAME)
        if stale.isActive():
            stale.destroy()
        in_use = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    except libvirt.libvirtError:
        pass
    _need(f"{SUBNET}.0/24" not in in_use, f"{SUBNET}.0/24 is already routed on this host")
    xml = f"""<network><name>{NET_NAME}</name><bridge name='{BRIDGE}' stp='off' delay='0'/>
      <ip address='{SUBNET}.1' netmask='255.255.255.0'>
        <dhcp><range start='{SUBNET}.10' end='{SUBNET}.99'/></dhcp></ip></network>"""
    net = conn.networkCreateXML(xml)
    yield net
    net.destroy()


@pytest.fixture(scope="module")
def workdir():
    # not under /tmp/pytest-of-root (0700): QEMU may run as libvirt-qemu
    base = Path("/var/lib/devcloud")
    base.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="test-image-boot.", dir=base))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def guest(conn, image, network, workdir):
    from management.drivers.configdrive import build_config_drive

    key = workdir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    hostname = "tiny-" + uuid.uuid4().hex[:6]
    inst = str(uuid.uuid4())
    user_data = f"#!/bin/sh\necho {USERDATA_MARKER} $(hostname)\n".encode()
    cd = build_config_drive(
        workdir / "config.iso",
        hostname=hostname,
        instance_uuid=inst,
        public_keys=[key.with_suffix(".pub").read_text()],
        user_data=user_data,
    )
    root = workdir / "root.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image), str(root)], check=True)
    serial = workdir / "serial.log"
    name = f"dcimgtest-{inst[:8]}"
    xml = f"""<domain type='qemu'>
  <name>{name}</name><uuid>{inst}</uuid><memory unit='MiB'>256</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='{root}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>
      <source file='{cd}'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <interface type='network'><source network='{NET_NAME}'/><model type='virtio'/></interface>
    <serial type='file'><source path='{serial}'/><target port='0'/></serial>
  </devices>
</domain>"""
    t0 = time.monotonic()
    dom = conn.createXML(xml, 0)
    print(f"createXML took {time.monotonic() - t0:.2f}s")
    info = {
        "dom": dom,
        "serial": serial,
        "hostname": hostname,
        "key": key,
        "t0": t0,
        "user_data": user_data,
        "workdir": workdir,
    }
    yield info
    with contextlib.suppress(libvirt.libvirtError):
        dom.destroy()


def _log(g) -> str:
    try:
        return g["serial"].read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _wait_log(g, pattern: str, deadline: float = 90.0) -> re.Match | None:
    return _wait_for(lambda: re.search(pattern, _log(g)), deadline)


def test_boot_markers_and_login_prompt(guest):
    m = _wait_log(guest, r"DEVCLOUD-GUEST-READY hostname=(\S+) ip=(\S+)")
    assert m, "no READY marker; serial log:\n" + _log(guest)[-3000:]
    print(f"READY marker {time.monotonic() - guest['t0']:.1f}s after create")
    assert m.group(1) == guest["hostname"]
    assert _wait_log(guest, rf"{guest['hostname']} login:", 30), _log(guest)[-2000:]
    print(f"login prompt {time.monotonic() - guest['t0']:.1f}s after create")
    log = _log(guest)
    assert "DEVCLOUD-SSHKEY-INSTALLED 1" in log
    assert f"{USERDATA_MARKER} {guest['hostname']}" in log  # the user data ran, after the hostname
    import hashlib

    assert f"DEVCLOUD-USERDATA-APPLIED sha256={hashlib.sha256(guest['user_data']).hexdigest()}" in log
    disks = re.search(r"DEVCLOUD-DISKS (.*)", log)
    assert disks and "vda" in disks.group(1).split()


def test_ssh_with_injected_key(guest):
    # the lease shows in the READY marker, or later in DHCP-BOUND if it came after it
    m = _wait_log(guest, rf"(?:DEVCLOUD-GUEST-READY hostname=\S+|DEVCLOUD-DHCP-BOUND) ip=({SUBNET}\.\d+)")
    assert m, f"guest got no DHCP lease on {BRIDGE}:\n" + _log(guest)[-2000:]
    ip = m.group(1)
    cmd = [
        "ssh",
        "-i",
        str(guest["key"]),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
        f"root@{ip}",
        "hostname",
    ]
    t0 = time.monotonic()
    r = _wait_for(
        lambda: (p := subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                                    stdin=subprocess.DEVNULL)).returncode == 0 and p, 60, 1.0
    )
    assert r, f"ssh to {ip} failed"
    print(f"ssh answered {time.monotonic() - guest['t0']:.1f}s after create ({time.monotonic() - t0:.1f}s after READY)")
    assert r.stdout.strip() == guest["hostname"]


def test_disk_hotplug_markers(guest):
    assert _wait_log(guest, r"DEVCLOUD-GUEST-READY"), _log(guest)[-2000:]
    vol = guest["workdir"] / "data.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(vol), "16M"], check=True)
    xml = f"""<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='{vol}'/><target dev='vdb' bus='virtio'/></disk>"""
    flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
    guest["dom"].attachDeviceFlags(xml, flags)
    assert _wait_log(guest, r"DEVCLOUD-DISK-ADDED vdb", 60), _log(guest)[-2000:]
    guest["dom"].detachDeviceFlags(xml, flags)
    assert _wait_log(guest, r"DEVCLOUD-DISK-REMOVED vdb", 60), _log(guest)[-2000:]


class _MetadataHandler(BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802
        body = self.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def metadata_guest(conn, image, network, workdir):
    """A guest without config drive: keys/user data come from http://<dhcp server>/latest/..."""
    key = workdir / "id_md"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    hostname = "md-" + uuid.uuid4().hex[:6]
    _MetadataHandler.routes = {
        "/latest/meta-data/public-keys": key.with_suffix(".pub").read_bytes(),
        "/latest/meta-data/local-hostname": hostname.encode(),
        "/latest/user-data": f"#!/bin/sh\necho MD-{USERDATA_MARKER}\n".encode(),
    }
    try:  # bound to the test bridge's address only
        srv = ThreadingHTTPServer((f"{SUBNET}.1", 80), _MetadataHandler)
    except OSError as e:
        pytest.skip(f"cannot serve metadata on {SUBNET}.1:80: {e}")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    root = workdir / "md-root.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image), str(root)], check=True)
    serial = workdir / "md-serial.log"
    name = f"dcimgtest-md-{uuid.uuid4().hex[:6]}"
    xml = f"""<domain type='qemu'>
  <name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='{root}'/><target dev='vda' bus='virtio'/></disk>
    <interface type='network'><source network='{NET_NAME}'/><model type='virtio'/></interface>
    <serial type='file'><source path='{serial}'/><target port='0'/></serial>
  </devices>
</domain>"""
    dom = conn.createXML(xml, 0)
    yield {"dom": dom, "serial": serial, "hostname": hostname, "t0": time.monotonic()}
    srv.shutdown()
    srv.server_close()
    with contextlib.suppress(libvirt.libvirtError):
        dom.destroy()


def test_metadata_service_fallback(metadata_guest):
    g = metadata_guest
    m = _wait_log(g, r"DEVCLOUD-GUEST-READY hostname=(\S+) ip=\S+ source=(\S+)")
    assert m, _log(g)[-3000:]
    assert (m.group(1), m.group(2)) == (g["hostname"], "metadata"), _log(g)[-3000:]
    log = _log(g)
    assert "DEVCLOUD-SSHKEY-INSTALLED 1" in log
    assert f"MD-{USERDATA_MARKER}" in log


def test_acpi_shutdown_powers_off(metadata_guest):
    g = metadata_guest
    assert _wait_log(g, r"login:"), _log(g)[-2000:]
    t0 = time.monotonic()
    g["dom"].shutdown()
    off = _wait_for(lambda: not _is_active(g["dom"]), 60, 0.5)
    assert off, "guest ignored the ACPI power button:\n" + _log(g)[-2000:]
    print(f"ACPI shutdown took {time.monotonic() - t0:.1f}s")


def _is_active(dom) -> bool:
    try:
        return bool(dom.isActive())
    except libvirt.libvirtError:
        return False  # transient domain is gone once it powered off
