"""Build the devcloud appliance: the wheelhouse, the Debian base image (mmdebstrap), the Packer build, the boxes.

    devcloud build wheelhouse   # dist/wheelhouse: devcloud's wheel + every dependency (hosts install offline)
    devcloud build base         # dist/appliance/base.qcow2: a bootable Debian root made by mmdebstrap
    devcloud build appliance    # packer build packer/ -> qcow2 + libvirt box; then the VirtualBox box
    devcloud build vbox-box     # the VirtualBox .box from a qcow2 (VMDK + generated OVF + metadata.json)

Nothing is downloaded but Debian packages (`apt-get download`, through the host's apt sources, and only those
neither cached nor installed here: the offline path needs none) and Python wheels (pip, through the host's index
configuration: the wheelhouse, and the Ansible tools venv when it is missing). The base image boots with extlinux
from an unpartitioned ext2 root (as the tiny guest image does: extlinux 6.04 cannot boot ext4), systemd as init,
systemd-networkd on DHCP, root reachable by the build's SSH key and Vagrant's well-known key (Vagrant replaces it on
first up and logs in as root; sudo is installed but the vagrant user has no sudoers entry). The base also carries
kmod and nfs-kernel-server, so the nfs_server role finds the cloud kernel's nfsd module and serves the exports with
kernel NFS.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import typer

from appliance.image import builder as tiny

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "dist"
OUT = DIST / "appliance"
WHEELHOUSE = DIST / "wheelhouse"
IMAGES = DIST / "images"  # built-in guest images the datacenter role copies to hosts (builtin:<name> templates)
BASE_IMAGE = OUT / "base.qcow2"
BUILD_KEY = OUT / "build-key"
PACKER_DIR = REPO / "packer"
VIRT_TYPE_FILE = Path("/var/lib/devcloud/virt-type.json")
# The Ansible that runs playbooks/ from Packer: a venv of its own (ansible-core 2.19 supports Python 3.11; the
# project's venv does not carry it, and the wheelhouse the roles install must not). scripts/provision-test.sh makes
# the same venv for the test tiers, from the same requirements file.
ANSIBLE_TOOLS_DEFAULT = Path("/opt/ansible-tools")
ANSIBLE_REQUIREMENTS = REPO / "scripts" / "ansible-tools.txt"
VAGRANT_PUBKEY_CANDIDATES = (
    "/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub",
    "/usr/share/vagrant/keys/vagrant.pub",
)
SUITE = "bookworm"
BASE_SIZE = "6G"

# Everything the roles install, preinstalled in the base so the Packer guest needs no network (its user-mode
# network is `restrict=on`): the roles' apt tasks then find every package present.
BASE_PACKAGES = (
    # init, access (the kernel and its initramfs come from the tiny image's kernel package, see _kernel_tree)
    "systemd-sysv", "udev", "dbus", "openssh-server", "iproute2", "procps", "less", "ca-certificates", "python3",
    "python3-venv", "python3-apt", "usr-is-merged", "sudo", "kmod",
    # mariadb role
    "mariadb-server", "mariadb-client",
    # nfs_server role, kernel mode (the cloud kernel ships nfsd.ko; kmod's modprobe finds it)
    "nfs-kernel-server",
    # kvm_host (appliance.host.prepare's PACKAGES)
    "libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils", "dnsmasq-base", "genisoimage",
    "extlinux", "syslinux-common", "e2fsprogs", "binutils", "openssh-client", "libvirt-dev", "pkg-config",
    # the management server's virtual router (a network namespace): nft for NAT/firewall, haproxy for load balancers,
    # strongSwan for VPC site-to-site and remote-access VPN
    "nftables", "haproxy", "strongswan-charon", "strongswan-swanctl", "libcharon-extra-plugins",
    "libcharon-extauth-plugins",
    # runDiagnostics in a router's namespace
    "iputils-ping", "iputils-arping", "traceroute",
    # xen_host (the xen flavor; one base for both flavors and the farm's nodes): the hypervisor, libxl and its qdisk
    # backend, and Debian's generic kernel for dom0 (the cloud kernel has no CONFIG_XEN_DOM0) with its initramfs
    "xen-system-amd64", "xen-utils-common", "libvirt-daemon-driver-xen", "qemu-system-xen", "linux-image-amd64",
    "initramfs-tools",
)
# Where Debian packages are looked for, in order: apt's archive cache and the project's deb cache (the tiny image
# builder's, under DEVCLOUD_CACHE_DIR); then the packages installed on this host, repacked the way dpkg-repack does;
# then the package registry apt-get reaches (`apt-get download` into the project's deb cache). A machine without a
# registry builds from the first two alone.
APT_ARCHIVES = Path("/var/cache/apt/archives")
APT_LISTS = Path("/var/lib/apt/lists")
ALIASED_DIRS = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Flavor:
    """One appliance image of the Packer template (packer/variables.pkr.hcl `flavor`): its name there, the image's
    file names, and the cache entries' prefix."""

    name: str
    image: str
    cache_prefix: str

    @property
    def qcow2(self) -> str:
        return f"{self.image}.qcow2"

    @property
    def entry_pattern(self) -> str:
        return f"{self.cache_prefix}[0-9a-f]{{16}}"


FLAVORS = {"kvm": Flavor("kvm", "devcloud-appliance", ""), "xen": Flavor("xen", "devcloud-appliance-xen", "xen-")}
KVM = FLAVORS["kvm"]
build_app = typer.Typer(help="build the appliance: wheelhouse, base image, Packer image, Vagrant boxes",
                        no_args_is_help=True)


def _say(msg: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


# ---- wheelhouse -------------------------------------------------------------------------------------------------
def build_wheelhouse(out: Path = WHEELHOUSE, extras: str = "libvirt", progress: Progress = _say) -> Path:
    """devcloud's wheel and all its dependencies in one directory (the roles install with `pip --no-index`)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("devcloud-*.whl"):  # same version, new code: always rebuild our own wheel
        old.unlink()
    progress(f"building the wheelhouse in {out}")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(out), f"{REPO}[{extras}]"])
    # The roles copy one archive (one transfer instead of one per wheel); stable member order and times keep it
    # byte-identical while the wheels are, so a second run copies nothing.
    tar_path = out.with_name(out.name + ".tar")
    tmp = tar_path.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for whl in sorted(out.glob("*.whl")):
            info = tar.gettarinfo(str(whl), arcname=whl.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            with open(whl, "rb") as fh:
                tar.addfile(info, fh)
    if tar_path.exists() and tar_path.read_bytes() == tmp.read_bytes():
        tmp.unlink()
    else:
        tmp.replace(tar_path)
    return out


# ---- a local apt repository (no network) ------------------------------------------------------------------------
def export_guest_images(out: Path = IMAGES, progress: Progress = _say) -> Path:
    """The tiny guest image (built offline, cached by checksum) as dist/images/tiny.qcow2, and the boot files of
    its Xen PV guests (kernel and initramfs, which libxl reads from dom0) in dist/images/pvboot/."""
    from appliance.xen.pvboot import build_pv_boot

    src = tiny.build_tiny_image(progress=progress)
    kernel, initrd = build_pv_boot()
    out.mkdir(parents=True, exist_ok=True)
    (out / "pvboot").mkdir(exist_ok=True)
    dest = out / "tiny.qcow2"
    for s, d in ((src, dest), (kernel, out / "pvboot/vmlinuz"), (initrd, out / "pvboot/initrd.img")):
        if not d.is_file() or sha256(d) != sha256(s):
            tmp = d.with_suffix(".tmp")
            shutil.copyfile(s, tmp)
            tmp.replace(d)
    return dest


def resolve_closure(packages: tuple[str, ...]) -> list[tuple[str, str]]:
    """(package, version) of everything an empty bookworm root needs for `packages` (Priority: required included),
    resolved by apt from the host's package lists."""
    with tempfile.TemporaryDirectory() as tmp:
        status = Path(tmp) / "status"
        status.write_text("")
        required = _required_packages()
        r = subprocess.run(["apt-get", "-o", f"Dir::State::status={status}", "-o", "Debug::NoLocking=1",
                            "install", "-s", "-qq", "--no-install-recommends", *required, "apt", *packages],
                           capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"apt cannot resolve the base packages: {r.stderr.strip()[-500:]}")
    # (--print-uris would leave out what apt's archive cache already holds)
    return re.findall(r"^Inst (\S+) \((\S+) ", r.stdout, re.M)


def _required_packages() -> list[str]:
    names: set[str] = set()
    for lst in APT_LISTS.glob("*_dists_bookworm_main_binary-amd64_Packages*"):
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(lst)], capture_output=True,
                              text=True).stdout
        for para in text.split("\n\n"):
            if "\nPriority: required" in para and para.startswith("Package: "):
                names.add(para.split("\n", 1)[0].split(": ", 1)[1])
    return sorted(names)


def _installed_version(pkg: str) -> str | None:
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", pkg], capture_output=True,
                       text=True)
    if r.returncode != 0 or not r.stdout.startswith("ii"):
        return None
    return r.stdout.split("|", 1)[1]


def deb_cache_dir() -> Path:
    """The project's own deb cache: the tiny image builder downloads its packages there, the base build too."""
    return tiny.default_cache_dir() / "debs"


def deb_caches() -> tuple[Path, ...]:
    return (APT_ARCHIVES, deb_cache_dir())


def _cached_deb(pkg: str, version: str | None = None) -> Path | None:
    for cache in deb_caches():
        hits = sorted(cache.glob(f"{pkg}_*.deb"))
        for deb in hits:
            v = deb.name.split("_")[1].replace("%3a", ":")
            if version is None or v == version:
                return deb
    return None


def repack_installed(pkg: str, out_dir: Path) -> Path:
    """Rebuild the .deb of an installed package from dpkg's database (files, control, maintainer scripts,
    conffiles), as dpkg-repack does."""
    info = Path("/var/lib/dpkg/info")
    arch = subprocess.run(["dpkg-query", "-W", "-f=${Architecture}", pkg], capture_output=True,
                          text=True).stdout.strip()
    stem = next(n for n in (f"{pkg}:{arch}", pkg) if (info / f"{n}.list").exists())
    with tempfile.TemporaryDirectory(prefix=f"repack-{pkg}-", dir=out_dir) as tmp:
        root = Path(tmp) / "pkg"
        (root / "DEBIAN").mkdir(parents=True)
        for line in (info / f"{stem}.list").read_text().splitlines():
            if line in ("/.", ""):
                continue
            src, dst = Path(line), root / line.lstrip("/")
            if line in ALIASED_DIRS or (src.is_dir() and not src.is_symlink()):
                dst.mkdir(parents=True, exist_ok=True)
            elif src.is_symlink():
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.is_symlink():
                    os.symlink(os.readlink(src), dst)
            elif src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        control = subprocess.run(["dpkg-query", "-s", pkg], capture_output=True, text=True, check=True).stdout
        keep, skip = [], False
        for ln in control.splitlines():
            if ln.startswith((" ", "\t")):
                if not skip:
                    keep.append(ln)
                continue
            skip = ln.split(":", 1)[0] in ("Status", "Conffiles", "Config-Version")
            if not skip:
                keep.append(ln)
        (root / "DEBIAN/control").write_text("\n".join(keep) + "\n")
        for suffix in ("preinst", "postinst", "prerm", "postrm", "config", "templates", "triggers", "shlibs",
                       "symbols"):
            f = info / f"{stem}.{suffix}"
            if f.exists():
                shutil.copy2(f, root / "DEBIAN" / suffix)
        conff = info / f"{stem}.conffiles"
        if conff.exists():
            paths = [ln.split()[0] for ln in conff.read_text().splitlines() if ln.strip()]
            present = [p for p in paths if (root / p.lstrip("/")).exists()]
            if present:
                (root / "DEBIAN/conffiles").write_text("\n".join(present) + "\n")
        version = control.split("\nVersion: ", 1)[1].split("\n", 1)[0].replace(":", "%3a")
        deb = out_dir / f"{pkg}_{version}_{arch}.deb"
        _run(["dpkg-deb", "-Zgzip", "-z1", "--root-owner-group", "--build", str(root), str(deb)],
             stdout=subprocess.DEVNULL)
    return deb


class FetchError(RuntimeError):
    """apt-get could not download packages (no registry, or package lists older than the registry)."""


def apt_update(progress: Progress = _say) -> None:
    progress("refreshing apt's package lists (apt-get update)")
    r = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
    if r.returncode != 0:
        raise FetchError(f"apt-get update failed: {r.stderr.strip()[-500:]}")


def fetch_debs(specs: list[str], dest: Path, progress: Progress = _say) -> list[Path]:
    """`apt-get download` of `specs` (name or name=version) into dest, from the registry apt-get reaches; returns
    the .deb files. Raises FetchError with apt's message when it cannot."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.deb"))
    progress(f"fetching {len(specs)} package(s) with apt-get download into {dest}: "
             f"{' '.join(s.split('=')[0] for s in specs)[:300]}")
    r = subprocess.run(["apt-get", "download", "-q", *specs], cwd=dest, capture_output=True, text=True)
    if r.returncode != 0:
        raise FetchError(f"apt-get download failed: {r.stderr.strip()[-500:]}")
    fetched = []
    for spec in specs:
        name, _, version = spec.partition("=")
        hits = [d for d in dest.glob(f"{name}_*.deb")
                if not version or d.name.split("_")[1].replace("%3a", ":") == version]
        if not hits:
            raise FetchError(f"apt-get download reported success but left no {spec} in {dest}")
        fetched.append(sorted(hits, key=lambda d: d in before)[0])
    return fetched


def collect_debs(closure: list[tuple[str, str]], repo: Path, fetch_dir: Path,
                 progress: Progress = _say) -> dict[str, int]:
    """Copy a .deb for each (package, version) into repo: from the caches (apt's version, else the installed one,
    else any), else the installed package repacked, else fetched with apt-get download into fetch_dir. Returns how
    many came from where."""
    counts = {"cached": 0, "repacked": 0, "fetched": 0}
    missing = []
    progress(f"collecting {len(closure)} packages: from the deb caches, else repacked from this host, else fetched")
    for name, version in closure:
        if any(repo.glob(f"{name}_*.deb")):
            continue
        installed = _installed_version(name)
        deb = _cached_deb(name, version) or (_cached_deb(name, installed) if installed else _cached_deb(name))
        if deb is not None:
            shutil.copy2(deb, repo / deb.name)
            counts["cached"] += 1
        elif installed:
            repack_installed(name, repo)
            counts["repacked"] += 1
        else:
            missing.append(f"{name}={version}")
    if missing:
        progress(f"{len(missing)} package(s) neither cached nor installed here")
        try:
            debs = fetch_debs(missing, fetch_dir, progress)
        except FetchError as exc:
            raise FetchError(f"not cached, not installed here, and not fetched ({exc}): {' '.join(missing)}") \
                from None
        for deb in debs:
            shutil.copy2(deb, repo / deb.name)
        counts["fetched"] = len(debs)
    return counts


def build_local_repo(packages: tuple[str, ...], repo: Path, progress: Progress = _say,
                     fetch_dir: Path | None = None) -> Path:
    """A flat apt repository holding every package `packages` needs (see collect_debs). When apt-get cannot
    download a package, the package lists are refreshed once and the closure resolved again (a fresh machine's
    lists may name versions the registry no longer has); a machine without a registry gets the list of what is
    missing."""
    fetch_dir = fetch_dir or deb_cache_dir()
    for attempt in (1, 2):
        if repo.exists():
            shutil.rmtree(repo)
        repo.mkdir(parents=True)
        progress(f"resolving the base packages' closure ({len(packages)} packages and Debian's required ones)")
        closure = resolve_closure(packages)
        try:
            counts = collect_debs(closure, repo, fetch_dir, progress)
            break
        except FetchError:
            if attempt == 2:
                raise
            apt_update(progress)
    progress(f"local repository {repo}: {len(closure)} packages ({counts['cached']} cached, {counts['repacked']} "
             f"repacked from this host, {counts['fetched']} fetched into {fetch_dir})")
    packages_txt = subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=repo, capture_output=True, text=True,
                                  check=True).stdout
    (repo / "Packages").write_text(packages_txt)
    digest = hashlib.sha256(packages_txt.encode()).hexdigest()
    (repo / "Release").write_text(
        f"Origin: devcloud\nLabel: devcloud-local\nSuite: {SUITE}\nCodename: {SUITE}\nArchitectures: amd64 all\n"
        f"SHA256:\n {digest} {len(packages_txt.encode())} Packages\n")
    return repo


# ---- base image ------------------------------------------------------------------------------------------------
def _vagrant_pubkey() -> str:
    for p in VAGRANT_PUBKEY_CANDIDATES:
        if Path(p).is_file():
            return Path(p).read_text().strip()
    raise FileNotFoundError("Vagrant's insecure public key not found (apt-get install vagrant)")


def ensure_build_key(path: Path | None = None) -> Path:
    path = path or BUILD_KEY
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "devcloud-appliance-build", "-f", str(path)])
    return path


def _customize_script(root_key: str, vagrant_key: str) -> str:
    """The mmdebstrap customize hook ($1 = the root directory)."""
    return f"""#!/bin/sh
set -eu
R="$1"
echo devcloud > "$R/etc/hostname"
printf '127.0.0.1 localhost\\n127.0.1.1 devcloud\\n' > "$R/etc/hosts"
# the appliance's apt sources are Debian's (the build used a local repository)
{{ echo 'deb http://deb.debian.org/debian {SUITE} main'
  echo 'deb http://deb.debian.org/debian-security {SUITE}-security main'; }} > "$R/etc/apt/sources.list"
mkdir -p "$R/etc/systemd/network"
printf '[Match]\\nName=en* eth*\\n\\n[Network]\\nDHCP=yes\\n' > "$R/etc/systemd/network/80-dhcp.network"
chroot "$R" systemctl enable systemd-networkd ssh
# no network services the build does not need at boot
chroot "$R" systemctl mask apt-daily.timer apt-daily-upgrade.timer
install -d -m 0700 "$R/root/.ssh"
# root: the build's key, and Vagrant's well-known key (Vagrant logs in as root)
printf '%s\\n%s\\n' '{root_key}' '{vagrant_key}' > "$R/root/.ssh/authorized_keys"
chmod 0600 "$R/root/.ssh/authorized_keys"
chroot "$R" useradd -m -s /bin/bash vagrant
install -d -m 0700 -o 1000 -g 1000 "$R/home/vagrant/.ssh"
echo '{vagrant_key}' > "$R/home/vagrant/.ssh/authorized_keys"
chroot "$R" chown -R vagrant:vagrant /home/vagrant/.ssh
chmod 0600 "$R/home/vagrant/.ssh/authorized_keys"
rm -f "$R/etc/ssh/ssh_host_"*
# host keys are made at first boot (not baked into every appliance)
printf '[Unit]\\nDescription=SSH host keys\\nBefore=ssh.service\\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\\n\
[Service]\\nType=oneshot\\nExecStart=/usr/bin/ssh-keygen -A\\n[Install]\\nWantedBy=multi-user.target\\n' \\
  > "$R/etc/systemd/system/ssh-hostkeys.service"
chroot "$R" systemctl enable ssh-hostkeys.service
"""


def _kernel_tree(work: Path, progress: Progress) -> tuple[str, Path, bytes]:
    """The cloud kernel and an initramfs from the tiny image builder's parts: its kernel and busybox packages in the
    versions it resolves (from the deb caches, else downloaded into the project's), its module list and its stage-1
    init, which finds the root by label and switch_roots to /sbin/init. Debian's initramfs-tools is not needed."""
    tree = work / "kernel-tree"
    wanted = [p for p in tiny.resolve_packages() if p.name.startswith("linux-image-") or p.name == "busybox-static"]
    progress(f"kernel and busybox for the initramfs: {' '.join(p.spec for p in wanted)}")
    debs = [d for d in (_cached_deb(p.name, p.version) for p in wanted) if d is not None]
    absent = [p for p in wanted if not any(d.name.startswith(f"{p.name}_") for d in debs)]
    if absent:
        debs += tiny._download(absent, deb_cache_dir(), progress).values()
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(tree)])
    kver = next((tree / "lib/modules").iterdir()).name if (tree / "lib/modules").exists() else next(
        (tree / "usr/lib/modules").iterdir()).name
    moddir = tree / "lib/modules" / kver
    if not moddir.exists():
        moddir = tree / "usr/lib/modules" / kver
    modules = tiny._module_closure(moddir, tiny.MODULES)
    progress(f"kernel {kver}, initramfs with {len(modules)} modules")
    return kver, tree, tiny._make_initrd(tree, modules, moddir)


def _module_tools(rootfs: Path, kver: str, tree: Path) -> None:
    """modules.dep for the kernel's modules, so they load on demand (bridge, nfsd, ...); busybox's modprobe & co.
    only where the base has no kmod (kmod's own links are kept)."""
    if (rootfs / "usr/bin/kmod").exists():
        # kmod's depmod writes the binary indexes its modprobe reads (the host may have no kmod)
        _run(["chroot", str(rootfs), "depmod", "-a", kver])
        return
    shutil.copy2(tree / "bin/busybox", rootfs / "usr/bin/busybox")
    for applet in ("modprobe", "depmod", "insmod", "rmmod", "lsmod", "modinfo"):
        link = rootfs / "usr/sbin" / applet
        if not (link.exists() or link.is_symlink()):  # a dangling absolute link (kmod's) is a link all the same
            link.symlink_to("/usr/bin/busybox")
    _run(["busybox", "depmod", "-b", str(rootfs), kver])


def _unmount_below(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    with open("/proc/mounts") as fh:
        targets = [ln.split()[1] for ln in fh if ln.split()[1].startswith(prefix)]
    for t in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", t], check=False)


def build_base(out: Path = BASE_IMAGE, *, size: str = BASE_SIZE, progress: Progress = _say,
               packages: tuple[str, ...] = BASE_PACKAGES) -> Path:
    """A bootable Debian root (systemd, cloud kernel, everything the roles install) as a qcow2, from a local apt
    repository (no network)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    key = ensure_build_key()
    root_key = key.with_suffix(".pub").read_text().strip()
    repo = build_local_repo(packages, OUT / "repo", progress)
    with tempfile.TemporaryDirectory(prefix="devcloud-base-", dir=out.parent) as tmp:
        work = Path(tmp)
        hook = work / "customize.sh"
        hook.write_text(_customize_script(root_key, _vagrant_pubkey()))
        hook.chmod(0o755)
        rootfs = work / "root"
        t0 = time.monotonic()
        progress(f"mmdebstrap {SUITE} ({len(packages)} packages) from {repo}")
        try:
            _run(["mmdebstrap", "--variant=minbase", "--mode=root",
                  "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
                  "--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount",
                  "--include=" + ",".join(packages), f"--customize-hook={hook} \"$1\"",
                  SUITE, str(rootfs), f"deb [trusted=yes] file://{repo.resolve()} ./"], stdout=subprocess.DEVNULL)
        finally:
            _unmount_below(rootfs)  # a failed mmdebstrap can leave the repository bind-mounted in the chroot
        progress(f"mmdebstrap done in {time.monotonic() - t0:.0f} s; kernel, initramfs, ext2 root")
        kver, tree, initrd = _kernel_tree(work, progress)
        src_mod = tree / "lib/modules" / kver
        if not src_mod.exists():
            src_mod = tree / "usr/lib/modules" / kver
        shutil.copytree(src_mod, rootfs / "usr/lib/modules" / kver, symlinks=True)
        _module_tools(rootfs, kver, tree)
        shutil.copy2(tree / "boot" / f"vmlinuz-{kver}", rootfs / "boot" / f"vmlinuz-{kver}")
        (rootfs / "boot" / f"initrd.img-{kver}").write_bytes(initrd)
        (rootfs / "boot/extlinux").mkdir(parents=True, exist_ok=True)
        (rootfs / "boot/extlinux/extlinux.conf").write_text(
            f"DEFAULT devcloud\nTIMEOUT 1\nLABEL devcloud\n  LINUX /boot/vmlinuz-{kver}\n"
            f"  INITRD /boot/initrd.img-{kver}\n  APPEND root=LABEL={tiny.ROOT_LABEL} console=ttyS0 net.ifnames=0\n")
        (rootfs / "etc/fstab").write_text(f"LABEL={tiny.ROOT_LABEL} / ext2 defaults 0 1\n")
        raw = work / "root.img"
        _run(["mkfs.ext2", "-q", "-F", "-L", tiny.ROOT_LABEL, "-d", str(rootfs), "-m", "0", str(raw), size])
        shutil.rmtree(rootfs)
        mnt = work / "mnt"
        mnt.mkdir()
        _run(["mount", "-o", "loop", str(raw), str(mnt)])
        try:
            _run(["extlinux", "--install", str(mnt / "boot/extlinux")], stdout=subprocess.DEVNULL)
        finally:
            _run(["umount", str(mnt)])
        tmp_out = out.with_suffix(".tmp")
        _run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(tmp_out)])
        tmp_out.replace(out)
    _record_recipe(out)
    progress(f"base image {out} ({out.stat().st_size // 2**20} MiB)")
    return out


def _recipe_file(base: Path) -> Path:
    return base.with_suffix(".recipe.json")


def _record_recipe(base: Path) -> None:
    _recipe_file(base).write_text(json.dumps({"recipe": base_digest()}) + "\n")


def base_is_current(base: Path | None = None) -> bool:
    """The base image exists and was made by today's recipe (base_digest); a base from before recipes were
    recorded counts as current, as it did before."""
    base = base or BASE_IMAGE
    if not base.is_file():
        return False
    try:
        return json.loads(_recipe_file(base).read_text()).get("recipe") == base_digest()
    except FileNotFoundError:
        return True
    except ValueError:
        return False


# ---- Packer ----------------------------------------------------------------------------------------------------
def accelerator(virt_type_file: Path = VIRT_TYPE_FILE) -> str:
    """kvm only where the host's probe saw a KVM guest really boot (appliance.host.prepare --probe), else tcg."""
    try:
        doc = json.loads(virt_type_file.read_text())
    except (OSError, ValueError):
        return "tcg"
    return "kvm" if doc.get("virt_type") == "kvm" else "tcg"


def guest_cpu(accel: str) -> str:
    """The appliance VM's CPU model. Under TCG a model without SVM or VMX (the nested Xen host uses it too): with
    QEMU's `max` the appliance sees AMD SVM, loads kvm_amd, and libvirtd's KVM probing inside it stalled the whole
    VM (SSH timed out in the image test's testinfra run); `max,svm=off` does not boot (the initramfs's init dies
    of a general protection fault). Its guests run TCG either way."""
    return "host" if accel == "kvm" else "Nehalem"


def packer_env() -> dict[str, str]:
    return dict(os.environ, PACKER_CHECKPOINT_DISABLE="1", CHECKPOINT_DISABLE="1", PACKER_NO_COLOR="1",
                PACKER_CACHE_DIR=str(DIST / "packer_cache"),
                ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")


def ansible_tools_dir() -> Path:
    return Path(os.environ.get("DEVCLOUD_ANSIBLE_TOOLS") or ANSIBLE_TOOLS_DEFAULT)


def ansible_playbook() -> Path:
    """The ansible-playbook Packer runs: $DEVCLOUD_ANSIBLE_PLAYBOOK, else the tools venv's."""
    explicit = os.environ.get("DEVCLOUD_ANSIBLE_PLAYBOOK")
    return Path(explicit) if explicit else ansible_tools_dir() / "bin" / "ansible-playbook"


def ansible_requirements() -> list[str]:
    """The tools venv's requirements (scripts/ansible-tools.txt), without comments."""
    lines = (ln.split("#", 1)[0].strip() for ln in ANSIBLE_REQUIREMENTS.read_text().splitlines())
    return [ln for ln in lines if ln]


def ensure_ansible_tools(venv: Path | None = None, progress: Progress = _say) -> Path:
    """The ansible-playbook the build runs; when it is absent, make the tools venv (Python's venv, then pip with the
    host's index configuration; the build needs only ansible-core, the test tiers add the rest of the file)."""
    explicit = os.environ.get("DEVCLOUD_ANSIBLE_PLAYBOOK")
    if venv is None and explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"DEVCLOUD_ANSIBLE_PLAYBOOK={explicit} does not exist")
        return Path(explicit)
    venv = venv or ansible_tools_dir()
    playbook = venv / "bin" / "ansible-playbook"
    if playbook.is_file():
        progress(f"Ansible: {playbook}")
        return playbook
    core = [r for r in ansible_requirements() if re.match(r"ansible-core\b", r)]
    progress(f"Ansible: no {playbook}; making the tools venv {venv} ({' '.join(core)})")
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "-q", *core])
    if not playbook.is_file():
        raise FileNotFoundError(f"{playbook} missing after installing {core} into {venv}")
    return playbook


def packer_vars(out_dir: Path, base: Path = BASE_IMAGE, playbook: Path | None = None,
                flavor: Flavor = KVM) -> list[str]:
    return ["-var", f"base_image={base}", "-var", f"output_dir={out_dir}",
            "-var", f"ssh_private_key_file={BUILD_KEY}", "-var", f"accelerator={accelerator()}",
            "-var", f"ansible_playbook={playbook or ansible_playbook()}", "-var", f"wheelhouse={WHEELHOUSE}",
            "-var", f"cpu={guest_cpu(accelerator())}", "-var", f"flavor={flavor.name}",
            "-var", f"pvboot_dir={IMAGES / 'pvboot'}"]


def packer_validate(out_dir: Path = OUT / "packer", flavor: Flavor = KVM) -> subprocess.CompletedProcess:
    return subprocess.run(["packer", "validate", *packer_vars(out_dir, flavor=flavor), str(PACKER_DIR)],
                          capture_output=True, text=True, env=packer_env(), cwd=REPO)


_STEP = re.compile(r"==> (\S+): (.*)")
_RECAP = re.compile(r"\bok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=\d+")


def provisioning_changes(lines: Iterable[str]) -> list[int]:
    """`changed=` of each Ansible run's PLAY RECAP in Packer's output, in order (the second run must be 0)."""
    return [int(m.group(1)) for line in lines if (m := _RECAP.search(line))]


def run_packer(out_dir: Path, log: Path, progress: Progress = _say, playbook: Path | None = None,
               flavor: Flavor = KVM) -> list[int]:
    """`packer build` as a subprocess: every line goes to the build log, Packer's `==>` steps to the progress.
    Returns the provisioning runs' `changed=` counts."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # packer refuses an existing output directory
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["packer", "build", "-color=false", "-timestamp-ui",
           *packer_vars(out_dir, playbook=playbook, flavor=flavor), str(PACKER_DIR)]
    with open(log, "w") as fh, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                                env=packer_env(), cwd=REPO) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            fh.flush()
            m = _STEP.search(line)
            if m:
                progress(m.group(2).strip()[:160])
            elif "PLAY RECAP" in line or "TASK [" in line:
                progress(line.split(": ", 2)[-1].strip()[:160])
        rc = proc.wait()
    if rc != 0:
        raise RuntimeError(f"packer build failed ({rc}); log: {log}")
    return provisioning_changes(log.read_text(errors="replace").splitlines())


# ---- VirtualBox box --------------------------------------------------------------------------------------------
OVF_NS = "http://schemas.dmtf.org/ovf/envelope/1"
RASD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VBOX_NS = "http://www.virtualbox.org/ovf/machine"


def _virtual_size(image: Path) -> int:
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(image)], check=True,
                                     capture_output=True, text=True).stdout)
    return int(info["virtual-size"])


def ovf_descriptor(name: str, disk_file: str, disk_bytes: int, capacity: int, *, cpus: int = 2,
                   memory_mb: int = 4096) -> str:
    """An OVF 1.0 envelope as VirtualBox exports it: one SATA/AHCI disk, one NAT NIC, nested paging and
    nested hardware virtualisation on (the appliance hosts nested KVM)."""
    items = [
        ("Virtual CPU", 3, f"<rasd:VirtualQuantity>{cpus}</rasd:VirtualQuantity>", "1"),
        ("Memory", 4, f"<rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>"
                      f"<rasd:VirtualQuantity>{memory_mb}</rasd:VirtualQuantity>", "2"),
        ("sataController0", 20, "<rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:Address>0</rasd:Address>",
         "3"),
        ("disk1", 17, "<rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>/disk/vmdisk1"
                      "</rasd:HostResource><rasd:Parent>3</rasd:Parent>", "4"),
        ("Ethernet adapter on 'NAT'", 10, "<rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>"
                                          "<rasd:Connection>NAT</rasd:Connection>"
                                          "<rasd:ResourceSubType>E1000</rasd:ResourceSubType>", "5"),
    ]
    hw = "\n".join(
        f"      <Item><rasd:Caption>{cap}</rasd:Caption><rasd:ElementName>{cap}</rasd:ElementName>"
        f"<rasd:InstanceID>{iid}</rasd:InstanceID><rasd:ResourceType>{rtype}</rasd:ResourceType>{extra}</Item>"
        for cap, rtype, extra, iid in items)
    return f"""<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="{OVF_NS}" xmlns:ovf="{OVF_NS}" xmlns:rasd="{RASD_NS}"
  xmlns:vssd="{VSSD_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="{VBOX_NS}">
  <References>
    <File ovf:id="file1" ovf:href="{disk_file}" ovf:size="{disk_bytes}"/>
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="{capacity}" ovf:diskId="vmdisk1" ovf:fileRef="file1"
      ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
    <Network ovf:name="NAT"><Description>Logical network used by this appliance.</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{name}">
    <Info>A virtual machine</Info>
    <OperatingSystemSection ovf:id="96">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian_64</Description>
      <vbox:OSType ovf:required="false">Debian_64</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType></System>
{hw}
    </VirtualHardwareSection>
    <vbox:Machine ovf:required="false" version="1.16-linux" uuid="{{{uuid.uuid4()}}}" name="{name}"
      OSType="Debian_64">
      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info>
      <Hardware>
        <CPU count="{cpus}"><HardwareVirtExNestedPaging enabled="true"/><NestedHWVirt enabled="true"/></CPU>
        <Memory RAMSize="{memory_mb}"/>
      </Hardware>
    </vbox:Machine>
  </VirtualSystem>
</Envelope>
"""


VBOX_VAGRANTFILE = """Vagrant.configure("2") do |config|
  config.vm.base_mac = "080027D0C0DE"
  config.vm.synced_folder ".", "/vagrant", disabled: true
end
"""


def make_vbox_box(qcow2: Path, box: Path, name: str = "devcloud-appliance", progress: Progress = _say) -> Path:
    """The VirtualBox box from the same disk: streamOptimized VMDK + an OVF descriptor + metadata.json."""
    with tempfile.TemporaryDirectory(prefix="devcloud-vbox-", dir=box.parent) as tmp:
        work = Path(tmp)
        disk = work / "box-disk001.vmdk"
        progress(f"converting {qcow2.name} to VMDK")
        _run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", str(qcow2), str(disk)])
        (work / "box.ovf").write_text(ovf_descriptor(name, disk.name, disk.stat().st_size, _virtual_size(qcow2)))
        (work / "metadata.json").write_text(json.dumps({"provider": "virtualbox"}) + "\n")
        (work / "Vagrantfile").write_text(VBOX_VAGRANTFILE)
        tmp_box = box.with_suffix(".tmp")
        with tarfile.open(tmp_box, "w:gz", compresslevel=1) as tar:
            for member in ("metadata.json", "Vagrantfile", "box.ovf", disk.name):
                tar.add(work / member, arcname=member)
        tmp_box.replace(box)
    problems = validate_vbox_box(box)
    if problems:
        raise RuntimeError(f"{box} is not a valid VirtualBox box: {'; '.join(problems)}")
    return box


def validate_vbox_box(box: Path) -> list[str]:
    """Structural checks of a VirtualBox .box (VirtualBox itself is not available here): the tar holds
    metadata.json with provider virtualbox, an OVF envelope whose every File reference is a member of the right
    size and a VMDK, a Disk with a capacity referring to that file, and a virtual hardware section with a disk."""
    try:
        tar = tarfile.open(box)  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        return [f"not a tar archive: {exc}"]
    return _validate_members(tar)


def _validate_members(tar: tarfile.TarFile) -> list[str]:
    problems: list[str] = []
    with tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
        if "metadata.json" not in members:
            problems.append("metadata.json missing")
        else:
            try:
                meta = json.load(tar.extractfile(members["metadata.json"]))  # type: ignore[arg-type]
                if meta.get("provider") != "virtualbox":
                    problems.append(f"metadata.json provider is {meta.get('provider')!r}, not 'virtualbox'")
            except ValueError as exc:
                problems.append(f"metadata.json is not JSON: {exc}")
        ovfs = [n for n in members if n.endswith(".ovf")]
        if len(ovfs) != 1:
            problems.append(f"expected one .ovf, found {ovfs}")
            return problems
        try:
            root = ET.parse(tar.extractfile(members[ovfs[0]])).getroot()  # type: ignore[arg-type]
        except ET.ParseError as exc:
            return [*problems, f"{ovfs[0]} is not XML: {exc}"]
        ns = {"ovf": OVF_NS, "rasd": RASD_NS}
        if root.tag != f"{{{OVF_NS}}}Envelope":
            problems.append(f"root element is {root.tag}, not an OVF Envelope")
        files = {}
        for f in root.findall("ovf:References/ovf:File", ns):
            href, fid = f.get(f"{{{OVF_NS}}}href"), f.get(f"{{{OVF_NS}}}id")
            files[fid] = href
            if href not in members:
                problems.append(f"OVF references {href}, not in the box")
                continue
            size = f.get(f"{{{OVF_NS}}}size")
            if size is not None and int(size) != members[href].size:
                problems.append(f"{href}: OVF size {size} != actual {members[href].size}")
            head = tar.extractfile(members[href]).read(4)  # type: ignore[union-attr]
            if head != b"KDMV":
                problems.append(f"{href} is not a VMDK (magic {head!r})")
        disks = root.findall("ovf:DiskSection/ovf:Disk", ns)
        if not disks:
            problems.append("no Disk in the DiskSection")
        for d in disks:
            if d.get(f"{{{OVF_NS}}}fileRef") not in files:
                problems.append(f"disk {d.get(f'{{{OVF_NS}}}diskId')} refers to an unknown file")
            if int(d.get(f"{{{OVF_NS}}}capacity") or 0) <= 0:
                problems.append("disk capacity missing")
        vs = root.find("ovf:VirtualSystem", ns)
        if vs is None:
            problems.append("no VirtualSystem")
        else:
            types = [i.findtext("rasd:ResourceType", namespaces=ns) for i in vs.iter(f"{{{OVF_NS}}}Item")]
            for rtype, what in (("3", "CPU"), ("4", "memory"), ("17", "disk drive")):
                if rtype not in types:
                    problems.append(f"no {what} item in the VirtualHardwareSection")
    return problems


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- boot check ------------------------------------------------------------------------------------------------
def boot_check(qcow2: Path, *, api_port: int = 18080, ssh_port: int = 12222, timeout: float = 900,
               key: Path = BUILD_KEY, while_up: Callable[[], object] | None = None,
               progress: Progress = _say) -> dict[str, object]:
    """Boot the built image under QEMU (TCG unless the probe saw KVM) on a throw-away overlay, with only
    127.0.0.1 port forwards (SSH and the API) and no other network; read the admin keys over SSH and call
    listZones through the forwarded API port, then run `while_up` (more checks) before the machine is stopped.
    Returns the timings, the listZones answer and what `while_up` returned."""
    from appliance.client import CloudClient

    work = Path(tempfile.mkdtemp(prefix="devcloud-boot-", dir=qcow2.parent))
    overlay, console = work / "overlay.qcow2", work / "console.log"
    _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(qcow2.resolve()), str(overlay)])
    accel = accelerator()
    cmd = ["qemu-system-x86_64", "-accel", accel, "-m", "2048", "-smp", "2", "-cpu", guest_cpu(accel),
           "-display", "none", "-serial", f"file:{console}", "-drive", f"file={overlay},if=virtio,format=qcow2",
           "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{ssh_port}-:22,"
                      f"hostfwd=tcp:127.0.0.1:{api_port}-:8080",
           "-device", "virtio-net,netdev=n0",
           "-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng0"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ssh = ["ssh", "-q", "-p", str(ssh_port), "-i", str(key), "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "root@127.0.0.1"]
    try:
        admin = None
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"qemu exited with {proc.returncode}; console: {console}")
            r = subprocess.run([*ssh, "cat", "/var/lib/devcloud/admin.json"], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip():
                admin = json.loads(r.stdout)
                break
            time.sleep(2)
        if admin is None:
            raise TimeoutError(f"no SSH/admin keys within {timeout:.0f} s; console: {console}")
        ssh_s = time.monotonic() - t0
        progress(f"SSH and admin keys after {ssh_s:.0f} s; calling listZones on 127.0.0.1:{api_port}")
        client = CloudClient(f"http://127.0.0.1:{api_port}/client/api", admin["apikey"], admin["secretkey"],
                             timeout=30)
        zones, last_error = None, "no attempt"
        while time.monotonic() - t0 < timeout:
            try:
                zones = client.call("listZones")
                break
            except Exception as exc:  # noqa: BLE001 - the server may still be starting
                last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(2)
        if zones is None:
            raise TimeoutError(f"listZones did not answer within {timeout:.0f} s; last error: {last_error[:300]}")
        result = {"accelerator": accel, "ssh_seconds": round(ssh_s, 1),
                  "listzones_seconds": round(time.monotonic() - t0, 1), "listZones": zones}
        progress(f"listZones answered after {result['listzones_seconds']} s: {json.dumps(zones)[:200]}")
        if while_up is not None:
            result["while_up"] = while_up()
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


# ---- the whole build ---------------------------------------------------------------------------------------------
def build_appliance(out: Path = OUT, *, rebuild_base: bool = False, flavor: Flavor = KVM,
                    progress: Progress = _say) -> dict[str, object]:
    """Every step a fresh machine needs, each announced and timed: wheelhouse, tiny guest image, base image (its
    packages fetched when missing), the Ansible tools venv, Packer, the VirtualBox box. Both flavors share the
    base; build.json (the xen flavor: build-xen.json) records the steps' times."""
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    steps = ["wheelhouse", "guest images", "base", "ansible tools", "packer", "virtualbox box"]
    if base_is_current() and not rebuild_base:
        steps.remove("base")

    def step(name: str, fn: Callable[[], object]) -> object:
        progress(f"step {steps.index(name) + 1}/{len(steps)}: {name}")
        s = time.monotonic()
        value = fn()
        timings[name] = round(time.monotonic() - s, 1)
        progress(f"step {name} done in {timings[name]:.0f} s")
        return value

    out.mkdir(parents=True, exist_ok=True)
    step("wheelhouse", lambda: build_wheelhouse(progress=progress))
    step("guest images", lambda: export_guest_images(progress=progress))
    if "base" in steps:
        step("base", lambda: build_base(progress=progress))
    else:
        progress(f"base image {BASE_IMAGE} present and of the current recipe (--rebuild-base makes it again)")
    playbook = step("ansible tools", lambda: ensure_ansible_tools(progress=progress))
    assert isinstance(playbook, Path)
    packer_out = out / "packer"
    suffix = "" if flavor == KVM else f"-{flavor.name}"
    log = out / f"build{suffix}.log"
    progress(f"packer build, {flavor.name} flavor (accelerator {accelerator()}); log: {log}")
    changes = step("packer", lambda: run_packer(packer_out, log, progress, playbook=playbook, flavor=flavor))
    progress(f"provisioning runs changed {changes} (the second must change nothing)")
    final = out / flavor.qcow2
    shutil.move(str(packer_out / flavor.qcow2), final)
    libvirt_box = out / f"{flavor.image}-libvirt.box"
    vbox_box = out / f"{flavor.image}-virtualbox.box"
    step("virtualbox box", lambda: make_vbox_box(final, vbox_box, name=flavor.image, progress=progress))
    result = {"flavor": flavor.name, "qcow2": str(final), "boxes": [str(libvirt_box), str(vbox_box)],
              "log": str(log), "seconds": round(time.monotonic() - t0, 1), "steps": timings,
              "provisioning_changed": changes}
    (out / f"build{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# ---- the image cache (CI's appliance tier) -----------------------------------------------------------------------
# What the appliance image is made from. A change to any tracked file below is a new image: CI builds it once and
# boots it from the cache on every later run until the inputs change again. The server's own code (management/) is
# not an input: a cached image may carry an older server, and the boot check tests the appliance, not the server.
IMAGE_INPUTS = ("playbooks", "packer", "appliance", "scenarios", "Vagrantfile", "pyproject.toml",
                "scripts/ansible-tools.txt")
# The front ends that run on the user's machine and take no part in building or provisioning an image (the CLI,
# snapshot bundles, `scenario run`, the python-vagrant wrapper): like the server's code, the image carries them in
# its wheelhouse but an edit to them is not a new image (a cold rebuild costs ~80 min of TCG here).
NOT_IMAGE_INPUTS = frozenset({"appliance/cli.py", "appliance/bundle.py", "appliance/snapshots.py",
                              "appliance/scenario.py", "appliance/vagrant.py"})
CACHE_KEEP = 2  # image entries kept (each ~1-2 GB): the current inputs' and the one before


def appliance_cache_dir() -> Path:
    return tiny.default_cache_dir() / "appliance"


def cache_entry(cache: Path | None = None, flavor: Flavor = KVM) -> Path:
    """The cache entry of the current inputs (it may not exist yet)."""
    return (cache or appliance_cache_dir()) / f"{flavor.cache_prefix}{inputs_digest()[:16]}"


def _input_files(repo: Path, inputs: tuple[str, ...]) -> list[str]:
    """The inputs' files, relative to the repository: git's tracked files in a checkout (build outputs and caches
    are not inputs), else every file but bytecode; never NOT_IMAGE_INPUTS."""
    if (repo / ".git").exists():
        out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--", *inputs], capture_output=True,
                             check=True).stdout
        tracked = [f for f in out.decode().split("\0") if f and (repo / f).is_file()]
        return sorted(f for f in tracked if f not in NOT_IMAGE_INPUTS)
    files = []
    for name in inputs:
        top = repo / name
        candidates = [top] if top.is_file() else sorted(top.rglob("*"))
        files += [str(f.relative_to(repo)) for f in candidates
                  if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"]
    return sorted(f for f in files if f not in NOT_IMAGE_INPUTS)


def inputs_digest(repo: Path = REPO, inputs: tuple[str, ...] = IMAGE_INPUTS) -> str:
    """sha256 over the inputs' paths and contents (the working tree's, so an uncommitted change counts)."""
    h = hashlib.sha256()
    for rel in _input_files(repo, inputs):
        h.update(rel.encode() + b"\0" + hashlib.sha256((repo / rel).read_bytes()).digest())
    return h.hexdigest()


def base_digest() -> str:
    """What the base image is made from: its packages and the code that makes it (not the rest of this module, so
    an edit elsewhere reuses the cached base; mmdebstrap and the package collection take ~4 min)."""
    parts = [SUITE, BASE_SIZE, *BASE_PACKAGES, tiny.ROOT_LABEL]
    parts += [inspect.getsource(f) for f in (build_base, _customize_script, _kernel_tree, _module_tools)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _place(src: Path, dest: Path) -> None:
    """A hard link where the two are on one filesystem (the images are large), else a copy."""
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _copy_key(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".pub"):
        s, d = src.with_name(src.name + suffix), dest.with_name(dest.name + suffix)
        d.unlink(missing_ok=True)
        shutil.copy2(s, d)
    dest.chmod(0o600)


def _prune(cache: Path, keep: Path, pattern: str, count: int, in_use: frozenset[str] = frozenset()) -> None:
    """Removes all but the `count` most recently used entries matching `pattern` (`keep` always stays), and never
    one named in `in_use`."""
    entries = sorted((p for p in cache.iterdir() if p.is_dir() and re.fullmatch(pattern, p.name)),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [e for e in entries if e != keep][count - 1:]:
        if old.name not in in_use:
            shutil.rmtree(old, ignore_errors=True)


def _bases_in_use(cache: Path) -> frozenset[str]:
    """The base entries the farm rehearsal's kept disks are overlays of: pruning one would leave those disks
    without their backing file."""
    used = set()
    for disk in cache.glob("farm-*/*.qcow2"):
        r = subprocess.run(["qemu-img", "info", "--output=json", str(disk)], capture_output=True, text=True)
        backing = json.loads(r.stdout).get("backing-filename", "") if r.returncode == 0 else ""
        if backing and Path(backing).parent.parent == cache:
            used.add(Path(backing).parent.name)
    return frozenset(used)


def cached_appliance(*, cache: Path | None = None, flavor: Flavor = KVM, progress: Progress = _say,
                     build: Callable[..., dict[str, object]] | None = None) -> dict[str, object]:
    """The appliance image of `flavor` for the current inputs: from the cache when built before, else built (the
    base image too, unless the cache holds one of the same recipe) and stored. Returns build.json's content plus
    `qcow2`, `key` (the build's SSH key, which the image authorises for root), `digest` and `cached`."""
    cache = cache or appliance_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    digest = inputs_digest()
    entry = cache_entry(cache, flavor)
    with open(cache / ".lock", "w") as lock:  # one build at a time per cache (two CI runs on one machine)
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = (entry / "build.json").is_file()
        if cached:
            progress(f"{flavor.name} appliance image for inputs {digest[:16]}: {entry} (built before; not rebuilt)")
            os.utime(entry)  # pruning keeps the most recently used
        else:
            progress(f"no {flavor.name} appliance image for inputs {digest[:16]} in {cache}: building it")
            _build_into(entry, digest, cache, progress, functools.partial(build or build_appliance, flavor=flavor),
                        flavor)
            _prune(cache, entry, flavor.entry_pattern, CACHE_KEEP)
    result = json.loads((entry / "build.json").read_text())
    result.update(qcow2=str(entry / flavor.qcow2), key=str(entry / "build-key"), digest=digest, cached=cached)
    return result


def _base_from_cache(cache: Path, progress: Progress) -> Path:
    """Puts the cached base image of today's recipe in place (dist/appliance/base.qcow2 and its key) when the one
    there is not current; returns the cache entry (it may not exist)."""
    base_entry = cache / f"base-{base_digest()[:16]}"
    if (base_entry / "base.qcow2").is_file() and not base_is_current():
        progress(f"base image from the cache: {base_entry}")
        BASE_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        _place(base_entry / "base.qcow2", BASE_IMAGE)
        _record_recipe(BASE_IMAGE)
        _copy_key(base_entry / "build-key", BUILD_KEY)
    return base_entry


def _base_into_cache(cache: Path, base_entry: Path) -> None:
    if not (base_entry / "base.qcow2").is_file() and _recipe_file(BASE_IMAGE).is_file() and base_is_current():
        tmp = cache / f".{base_entry.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _place(BASE_IMAGE, tmp / "base.qcow2")
        _copy_key(BUILD_KEY, tmp / "build-key")
        tmp.rename(base_entry)
        _prune(cache, base_entry, r"base-[0-9a-f]{16}", 1, _bases_in_use(cache))


def ensure_base(*, cache: Path | None = None, progress: Progress = _say) -> tuple[Path, Path]:
    """The base image of today's recipe and the SSH key it authorises for root: in place, from the cache, or built
    (and cached). The farm rehearsal boots its nodes from it."""
    cache = cache or appliance_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        base_entry = _base_from_cache(cache, progress)
        if not base_is_current():
            build_base(progress=progress)
        _base_into_cache(cache, base_entry)
    return BASE_IMAGE, BUILD_KEY


def _build_into(entry: Path, digest: str, cache: Path, progress: Progress,
                build: Callable[..., dict[str, object]], flavor: Flavor = KVM) -> None:
    base_entry = _base_from_cache(cache, progress)
    result = build(progress=progress)
    _base_into_cache(cache, base_entry)
    tmp = cache / f".{entry.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _place(Path(str(result["qcow2"])), tmp / flavor.qcow2)
    _copy_key(BUILD_KEY, tmp / "build-key")
    (tmp / "build.json").write_text(json.dumps({**result, "digest": digest}, indent=2) + "\n")
    tmp.rename(entry)  # the entry appears whole or not at all


# ---- CLI (`devcloud build ...`) -----------------------------------------------------------------------------------
@build_app.command("wheelhouse")
def cli_wheelhouse() -> None:
    """devcloud's wheel and every dependency in dist/wheelhouse."""
    typer.echo(build_wheelhouse())


@build_app.command("images")
def cli_images() -> None:
    """The built-in guest images for the datacenter role: dist/images/tiny.qcow2."""
    typer.echo(export_guest_images())


@build_app.command("base")
def cli_base(size: str = typer.Option(BASE_SIZE, help="root filesystem size")) -> None:
    """The Debian base image (mmdebstrap): dist/appliance/base.qcow2."""
    typer.echo(build_base(size=size))


@build_app.command("appliance")
def cli_appliance(rebuild_base: bool = typer.Option(False, help="rebuild the mmdebstrap base image"),
                  cache: bool = typer.Option(False, "--cache", help="reuse the image built for the same inputs "
                                             "(playbooks/, packer/, appliance/, scenarios/, Vagrantfile) from the "
                                             "project cache, else build it and store it there (CI's appliance tier)"),
                  flavor: str = typer.Option("all", help="kvm (the appliance is a KVM host), xen (it boots Xen "
                                             "and is dom0) or all"),
                  ) -> None:
    """Packer (QEMU, Ansible provisioner running playbooks/): a qcow2, a libvirt box and a VirtualBox box per
    flavor."""
    flavors = _flavors(flavor)
    results = {}
    try:
        for f in flavors:
            results[f.name] = (cached_appliance(flavor=f) if cache else
                               build_appliance(rebuild_base=rebuild_base and f == flavors[0], flavor=f))
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        typer.echo(f"build failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(results, indent=2))


def _flavors(name: str) -> list[Flavor]:
    if name == "all":
        return list(FLAVORS.values())
    if name not in FLAVORS:
        typer.echo(f"unknown flavor {name!r}: kvm, xen or all", err=True)
        raise typer.Exit(2)
    return [FLAVORS[name]]


@build_app.command("boot-check")
def cli_boot_check(qcow2: Path = typer.Argument(None, help="default: dist/appliance/<the flavor's image>.qcow2"),
                   cached: bool = typer.Option(False, "--cached", help="boot the cached image of the current "
                                               "inputs (`devcloud build appliance --cache` makes it)"),
                   flavor: str = typer.Option("kvm", help="kvm or xen")) -> None:
    """Boot the built qcow2 (TCG here) and call listZones through a 127.0.0.1 port forward; prints the seconds to
    SSH and to the listZones answer, and the answer."""
    if flavor not in FLAVORS:  # one image is booted: "all" is not a choice here
        typer.echo(f"unknown flavor {flavor!r}: kvm or xen", err=True)
        raise typer.Exit(2)
    f = FLAVORS[flavor]
    key = BUILD_KEY
    qcow2 = qcow2 or OUT / f.qcow2
    if cached:
        entry = cache_entry(flavor=f)
        qcow2, key = entry / f.qcow2, entry / "build-key"
    if not qcow2.is_file():
        typer.echo(f"{qcow2} does not exist: run `devcloud build appliance{' --cache' if cached else ''}` first",
                   err=True)
        raise typer.Exit(1)
    try:
        result = boot_check(qcow2, key=key)
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        typer.echo(f"boot check failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2))


@build_app.command("vbox-box")
def cli_vbox_box(qcow2: Path, box: Path) -> None:
    """The VirtualBox .box from a qcow2 (VMDK + OVF + metadata.json), validated."""
    typer.echo(make_vbox_box(qcow2, box))


@build_app.command("validate-box")
def cli_validate_box(box: Path) -> None:
    """Structural checks of a VirtualBox .box; exit 1 with the problems."""
    problems = validate_vbox_box(box)
    for p in problems:
        typer.echo(p, err=True)
    raise typer.Exit(1 if problems else 0)


if __name__ == "__main__":
    build_app()
