"""Build the nested KVM host image: a Debian root with libvirt's QEMU driver and QEMU, booted under QEMU TCG on
this machine as a second libvirt host (live migration tests).

Made like the nested Xen host (``appliance.xen.builder``): an mmdebstrap minbase root (cached as a tarball keyed by
the package versions), written into a sparse raw ext4 image with ``mkfs.ext4 -d`` (no mounting); the generic
kernel and its initramfs are copied out beside it for QEMU's direct kernel boot. PID 1 is
``/sbin/devcloud-kvmhost-init`` (files/kvmhost-init). libvirtd listens on TCP without authentication: the host is
reached only over a bridge the caller creates on this machine (``appliance.kvmhost.boot``). The QEMU inside runs
guests under TCG (nested KVM does not work here) and is the same Debian build as this machine's, so migration
streams are compatible.

Cache keys: ``kvmhost-base-<key>.tar`` (the packages), ``kvmhost-<key>/`` (base + init + configuration).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from appliance.host.prepare import qemu_hook_text
from appliance.image.builder import Progress, _apt_show, default_cache_dir
from appliance.xen.builder import _run, base_key, build_base
from management.drivers.libvirt.overlay import HOOK_PATH

BUILDER_VERSION = "1"
PACKAGES = (
    "linux-image-amd64",
    "initramfs-tools",
    "libvirt-daemon",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    "iproute2",
    "procps",
    "kmod",
    "python3",  # libvirt's QEMU hook (the guest network overlay)
)
ROOT_SIZE_MB = 3072
INIT_PATH = "/sbin/devcloud-kvmhost-init"
HOSTNAME = "kvmhost"
LIBVIRTD_CONF = """\
# devcloud nested KVM host: libvirtd answers on TCP 16509 without authentication, on a bridge of the build
# machine only.
listen_tls = 0
listen_tcp = 1
listen_addr = "0.0.0.0"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
"""
QEMU_CONF = """\
# no /dev/kvm in here: guests run under TCG; root owns the QEMU processes (no capability re-probing)
user = "root"
group = "root"
dynamic_ownership = 0
"""


@dataclass(frozen=True)
class KvmHostImage:
    directory: Path
    key: str

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def root(self) -> Path:
        return self.directory / "root.raw"

    def manifest(self) -> dict:
        return json.loads((self.directory / "manifest.json").read_text())


def host_file(name: str) -> bytes:
    return resources.files("appliance.kvmhost").joinpath("files", name).read_bytes()


def resolve_versions() -> dict[str, str]:
    try:
        info = _apt_show(PACKAGES)
    except (RuntimeError, subprocess.CalledProcessError):
        _run(["apt-get", "update", "-qq"])
        info = _apt_show(PACKAGES)
    return {n: info[n]["Version"] for n in PACKAGES}


def cache_key(versions: dict[str, str]) -> str:
    doc = {"builder": BUILDER_VERSION, "base": base_key(versions),
           "init": hashlib.sha256(host_file("kvmhost-init")).hexdigest(),
           "conf": hashlib.sha256((LIBVIRTD_CONF + QEMU_CONF).encode()).hexdigest(), "size_mb": ROOT_SIZE_MB,
           "hook": hashlib.sha256(qemu_hook_text().encode()).hexdigest()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _customize(root: Path) -> None:
    init = root / INIT_PATH.lstrip("/")
    init.write_bytes(host_file("kvmhost-init"))
    init.chmod(0o755)
    (root / "etc/hostname").write_text(HOSTNAME + "\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost {HOSTNAME}\n")
    (root / "etc/fstab").write_text("/dev/vda / ext4 rw,errors=remount-ro 0 1\n")
    (root / "etc/libvirt/libvirtd.conf").write_text(LIBVIRTD_CONF)
    (root / "etc/libvirt/qemu.conf").write_text(QEMU_CONF)
    hook = root / str(HOOK_PATH).lstrip("/")  # what host preparation installs on a farm's hosts
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(qemu_hook_text())
    hook.chmod(0o755)
    # libvirtd's QEMU driver wants its user; libvirt-daemon-system's postinst would make it (and pull systemd)
    _run(["chroot", str(root), "sh", "-c",
          "getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu; "
          "getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt "
          "-s /usr/sbin/nologin libvirt-qemu; getent group libvirt >/dev/null || groupadd -r libvirt; "
          "getent group kvm >/dev/null || groupadd -r kvm"])
    shadow = root / "etc/shadow"  # root on the serial console without a password (only this machine sees it)
    shadow.write_text("\n".join(("root::" + ln.split(":", 2)[2]) if ln.startswith("root:") else ln
                                for ln in shadow.read_text().splitlines()) + "\n")


def _build(out: Path, work: Path, base: Path, versions: dict[str, str], progress: Progress) -> None:
    rootdir = work / "root"
    rootdir.mkdir()
    if progress:
        progress(f"unpacking {base.name}")
    _run(["tar", "-x", "-p", "--numeric-owner", "--xattrs", "-f", str(base), "-C", str(rootdir)])
    _customize(rootdir)
    boot = rootdir / "boot"
    vmlinuz = sorted(boot.glob("vmlinuz-*"))[-1]
    kver = vmlinuz.name.removeprefix("vmlinuz-")
    shutil.copy2(vmlinuz, out / "vmlinuz")
    shutil.copy2(boot / f"initrd.img-{kver}", out / "initrd.img")
    if progress:
        progress("mkfs.ext4 -d root.raw")
    _run(["mkfs.ext4", "-q", "-F", "-L", "kvmhost", "-d", str(rootdir), "-m", "0", str(out / "root.raw"),
          f"{ROOT_SIZE_MB}M"])
    (out / "manifest.json").write_text(json.dumps(
        {"builder": BUILDER_VERSION, "kernel": kver, "packages": versions, "init": INIT_PATH}, indent=2))


def build_kvmhost_image(cache_dir: str | Path | None = None, *, progress: Progress = None) -> KvmHostImage:
    """The cached nested KVM host image, built when its inputs change (minutes the first time, then cached)."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    versions = resolve_versions()
    key = cache_key(versions)
    target = cache / f"kvmhost-{key[:16]}"
    image = KvmHostImage(target, key)
    if (target / "manifest.json").exists():
        return image
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".kvmhost-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "manifest.json").exists():
            return image
        if progress:
            progress(f"building nested KVM host image {key[:16]}")
        with tempfile.TemporaryDirectory(prefix=".kvmhost-build-", dir=cache) as tmp:
            work = Path(tmp)
            out = work / "out"
            out.mkdir()
            base = build_base(cache, versions, progress, prefix="kvmhost-base")
            _build(out, work, base, versions, progress)
            data = json.loads((out / "manifest.json").read_text())
            data["key"] = key
            (out / "manifest.json").write_text(json.dumps(data, indent=2))
            shutil.rmtree(work / "root", ignore_errors=True)
            os.replace(out, target)
    return image


__all__ = ["KvmHostImage", "build_kvmhost_image", "cache_key", "resolve_versions"]
