"""Build the nested Xen host image: a Debian root with Xen 4.17, xl and libvirt's libxl driver.

The root is made by mmdebstrap (variant minbase plus the Xen/libvirt packages and Debian's *generic* kernel,
whose initramfs has the virtio disk driver), then written into a sparse raw ext4 image with ``mkfs.ext4 -d``
(no mounting). The hypervisor (``xen-4.17-amd64.gz``, decompressed: QEMU's multiboot loader wants the ELF),
the dom0 kernel and its initramfs are copied out beside the image, because QEMU boots them directly
(``-kernel xen -initrd "vmlinuz args,initrd.img"``) - no boot loader in the image.

PID 1 in dom0 is ``/sbin/devcloud-dom0-init`` (files/dom0-init): no systemd. It starts the Xen daemons
(``/etc/init.d/xen start``: xenstored, xen-init-dom0, xenconsoled) and ``libvirtd --listen`` with TCP and no
authentication (reachable only through QEMU's user-mode hostfwd on 127.0.0.1 of this machine).

Two cache levels, each keyed by a sha256 like the tiny image (``appliance.image.builder``):
``xen-base-<key>.tar`` - the mmdebstrap output, keyed by the package candidate versions (the slow step, minutes);
``xen-<key>/`` - the bootable artifacts, keyed by the base key plus the init script and configuration (~20 s
from the tarball), so editing dom0's init does not re-run mmdebstrap.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from appliance.image.builder import Progress, _apt_show, default_cache_dir

BUILDER_VERSION = "1"
SUITE = "bookworm"
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
XEN_VERSION = "4.17"
PACKAGES = (
    f"xen-hypervisor-{XEN_VERSION}-amd64",
    f"xen-utils-{XEN_VERSION}",
    "libvirt-daemon",
    "libvirt-daemon-driver-xen",
    "libvirt-clients",
    "linux-image-amd64",
    "initramfs-tools",
    "qemu-utils",  # libvirt's dir pools convert/clone volumes with qemu-img
    "iproute2",
    "procps",
    "kmod",
    "dnsmasq-base",  # a DHCP server for a guest bridge inside dom0 (tests)
    "qemu-system-xen",  # qdisk backend: libxl serves qcow2 disks of PV guests through a per-domain QEMU
)
ROOT_SIZE_MB = 2048
INIT_PATH = "/sbin/devcloud-dom0-init"
HOSTNAME = "xendom0"
LIBVIRTD_CONF = """\
# devcloud nested Xen host: libvirtd answers on TCP 16509 without authentication. dom0's only network is
# QEMU's user-mode NAT; the outside reaches it through a hostfwd bound to 127.0.0.1 on the build machine.
listen_tls = 0
listen_tcp = 1
listen_addr = "0.0.0.0"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
"""
FILES = ("dom0-init", "vif-bridge-ondemand")
ARTIFACTS = ("xen.bin", "vmlinuz", "initrd.img", "root.raw")


@dataclass(frozen=True)
class XenImage:
    """Paths of one built image (all in one cache directory)."""

    directory: Path
    key: str

    @property
    def hypervisor(self) -> Path:
        return self.directory / "xen.bin"

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


def xen_file(name: str) -> bytes:
    return resources.files("appliance.xen").joinpath("files", name).read_bytes()


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "")[-2000:]
        raise RuntimeError(f"{cmd[0]} failed ({exc.returncode}): {tail}") from exc


def resolve_versions() -> dict[str, str]:
    try:
        info = _apt_show(PACKAGES)
    except (RuntimeError, subprocess.CalledProcessError):
        _run(["apt-get", "update", "-qq"])
        info = _apt_show(PACKAGES)
    return {n: info[n]["Version"] for n in PACKAGES}


def base_key(versions: dict[str, str]) -> str:
    """sha256 over what determines the mmdebstrap output."""
    doc = {"builder": BUILDER_VERSION, "suite": SUITE, "mirrors": list(MIRRORS), "packages": sorted(versions.items())}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def cache_key(versions: dict[str, str], files: dict[str, bytes] | None = None) -> str:
    """sha256 over everything that determines the bootable artifacts."""
    if files is None:
        files = {n: xen_file(n) for n in FILES}
    doc = {
        "base": base_key(versions),
        "files": {n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())},
        "libvirtd_conf": hashlib.sha256(LIBVIRTD_CONF.encode()).hexdigest(),
        "size_mb": ROOT_SIZE_MB,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _customize(root: Path) -> None:
    init = root / INIT_PATH.lstrip("/")
    init.write_bytes(xen_file("dom0-init"))
    init.chmod(0o755)
    (root / "etc/hostname").write_text(HOSTNAME + "\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n10.0.2.15 {HOSTNAME}\n")
    (root / "etc/fstab").write_text("/dev/vda / ext4 rw,errors=remount-ro 0 1\n")
    (root / "etc/libvirt/libvirtd.conf").write_text(LIBVIRTD_CONF)
    # libvirtd's QEMU driver (libvirt-daemon depends on it) refuses to initialise - and takes the whole daemon
    # down - without its user; libvirt-daemon-system's postinst would create it, but that package pulls systemd
    _run(["chroot", str(root), "sh", "-c",
          "getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu; "
          "getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt "
          "-s /usr/sbin/nologin libvirt-qemu; getent group libvirt >/dev/null || groupadd -r libvirt"])
    # root login on the serial console without a password (debugging only; nothing is exposed)
    shadow = root / "etc/shadow"
    shadow.write_text("\n".join(
        ("root::" + ln.split(":", 2)[2]) if ln.startswith("root:") else ln
        for ln in shadow.read_text().splitlines()) + "\n")
    # the libxl driver's default bridge name in xl.conf style; guests name their bridge explicitly anyway
    vif = root / "etc/xen/scripts/vif-bridge"
    marker = 'ip link show dev "$bridge"'
    text = vif.read_text()
    if marker not in text:
        raise RuntimeError("vif-bridge changed: cannot insert the on-demand bridge snippet")
    vif.write_text(text.replace(marker, xen_file("vif-bridge-ondemand").decode() + marker, 1))
    xlconf = root / "etc/xen/xl.conf"
    if xlconf.exists():
        xlconf.write_text(xlconf.read_text() + '\nautoballoon="off"\n')


def build_base(cache: Path, versions: dict[str, str], progress: Progress = None, *, prefix: str = "xen-base") -> Path:
    """The cached mmdebstrap tarball of a minbase Debian root with ``versions``' packages (by default the nested Xen
    host's: Xen, libvirt, the generic kernel); other nested hosts pass their own packages and ``prefix``."""
    target = cache / f"{prefix}-{base_key(versions)[:16]}.tar"
    if target.exists():
        return target
    includes = ",".join(versions)
    if progress:
        progress(f"mmdebstrap ({includes})")
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        _run([
            "mmdebstrap", "--variant=minbase", "--mode=root", f"--include={includes}",
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*", "--aptopt=APT::Install-Recommends \"false\"",
            "--format=tar", SUITE, str(tmp), *MIRRORS,
        ])
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


def _build(out: Path, work: Path, base: Path, versions: dict[str, str], progress: Progress) -> None:
    rootdir = work / "root"
    rootdir.mkdir()
    if progress:
        progress(f"unpacking {base.name}")
    _run(["tar", "-x", "-p", "--numeric-owner", "--xattrs", "-f", str(base), "-C", str(rootdir)])
    _customize(rootdir)
    boot = rootdir / "boot"
    xen_gz = next(boot.glob(f"xen-{XEN_VERSION}-amd64.gz"))
    (out / "xen.bin").write_bytes(gzip.decompress(xen_gz.read_bytes()))
    vmlinuz = sorted(boot.glob("vmlinuz-*"))[-1]
    kver = vmlinuz.name.removeprefix("vmlinuz-")
    shutil.copy2(vmlinuz, out / "vmlinuz")
    shutil.copy2(boot / f"initrd.img-{kver}", out / "initrd.img")
    if progress:
        progress("mkfs.ext4 -d root.raw")
    _run(["mkfs.ext4", "-q", "-F", "-L", "dom0root", "-d", str(rootdir), "-m", "0", str(out / "root.raw"),
          f"{ROOT_SIZE_MB}M"])
    (out / "manifest.json").write_text(json.dumps(
        {"builder": BUILDER_VERSION, "kernel": kver, "packages": versions, "init": INIT_PATH}, indent=2))


def build_xen_image(cache_dir: str | Path | None = None, *, progress: Progress = None) -> XenImage:
    """The cached nested-Xen image, built when its inputs changed (~2-4 min the first time)."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    versions = resolve_versions()
    key = cache_key(versions)
    target = cache / f"xen-{key[:16]}"
    image = XenImage(target, key)
    if (target / "manifest.json").exists():
        return image
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".xen-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "manifest.json").exists():
            return image
        if progress:
            progress(f"building nested Xen image {key[:16]}")
        with tempfile.TemporaryDirectory(prefix=".xen-build-", dir=cache) as tmp:
            work = Path(tmp)
            out = work / "out"
            out.mkdir()
            base = build_base(cache, versions, progress)
            _build(out, work, base, versions, progress)
            data = json.loads((out / "manifest.json").read_text())
            data["key"] = key
            (out / "manifest.json").write_text(json.dumps(data, indent=2))
            shutil.rmtree(work / "root", ignore_errors=True)
            # rename is atomic: readers never see a half-built directory
            os.replace(out, target)
    return image


__all__ = ["XenImage", "base_key", "build_base", "build_xen_image", "cache_key", "resolve_versions"]
