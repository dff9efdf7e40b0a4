"""Build the "tiny" guest image offline from Debian packages.

The image is an unpartitioned ext2 filesystem (extlinux boots straight from its
boot sector; extlinux 6.04 cannot boot ext4) holding a Debian cloud kernel, a
small initramfs with the virtio/cdrom modules, static busybox and dropbear,
compressed into a qcow2. Results are cached by a sha256 over every input, so a
rebuild only happens when a package version, a guest script or the builder changes.

Host tools: apt-get + dpkg-deb (download/extract), mkfs.ext2 (e2fsprogs),
extlinux + syslinux-common, readelf (binutils), qemu-img (qemu-utils), mount -o loop.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# Bump when the build procedure changes in a way that alters the output.
BUILDER_VERSION = "2"
IMAGE_NAME = "tiny.qcow2"
ROOT_LABEL = "dcroot"
ROOT_SIZE_MB = 96
KERNEL_META = "linux-image-cloud-amd64"
# dropbear-bin and the libraries it links against (readelf decides what is copied).
USER_PACKAGES = (
    "busybox-static",
    "dropbear-bin",
    "libc6",
    "libcrypt1",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
    "zlib1g",
)
# Modules the cloud kernel builds as =m that the guest needs early: virtio disk/net,
# IDE cdrom (config drive as a cdrom on the pc machine), iso9660/vfat, ACPI power
# button as an input device (busybox acpid reads /dev/input/event*).
MODULES = (
    "virtio_pci",
    "virtio_blk",
    "virtio_net",
    "virtio_scsi",
    "virtio_console",
    "virtio_balloon",
    "virtio-rng",
    "sd_mod",
    "sr_mod",
    "ata_piix",
    "isofs",
    "vfat",
    "nls_cp437",
    "nls_iso8859-1",
    "nls_utf8",
    "button",
    "evdev",
)
# tty0 first: kernel messages reach the VGA screen (the browser console) too; ttyS0 last is /dev/console, the
# serial log everything greps.
KERNEL_CMDLINE = f"root=LABEL={ROOT_LABEL} console=tty0 console=ttyS0,115200 quiet panic=-1 no_timer_check"
GUEST_FILES = ("initramfs-init", "rcS", "udhcpc.script", "disk-event", "devcloud-watch")
DEFAULT_CACHE_DIR = "/var/cache/devcloud/images"

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class Package:
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"


def default_cache_dir() -> Path:
    return Path(os.environ.get("DEVCLOUD_CACHE_DIR") or DEFAULT_CACHE_DIR)


def guest_file(name: str) -> bytes:
    return resources.files("appliance.image").joinpath("files", name).read_bytes()


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def _apt_show(names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Candidate stanza per package, from one apt-cache call (each call costs ~0.5 s)."""
    names = list(names)
    out = _run(["apt-cache", "show", "--no-all-versions", *names]).stdout
    stanzas: dict[str, dict[str, str]] = {}
    for block in out.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", block, re.M))
        if "Package" in fields and "Version" in fields:
            stanzas.setdefault(fields["Package"], fields)
    missing = [n for n in names if n not in stanzas]
    if missing:
        raise RuntimeError(f"apt knows no candidate for {missing} (run apt-get update?)")
    return stanzas


def resolve_packages() -> list[Package]:
    """Candidate versions from apt; the kernel comes from the cloud meta package, whose
    Depends pins the exact image package and version."""
    names = [KERNEL_META, *USER_PACKAGES]
    try:
        info = _apt_show(names)
    except (RuntimeError, subprocess.CalledProcessError):
        # a fresh machine may have no package lists yet
        _run(["apt-get", "update", "-qq"])
        info = _apt_show(names)
    dep = info[KERNEL_META].get("Depends", "")
    m = re.search(r"(linux-image-[0-9][^\s,(]*-cloud-amd64)\s*\(=\s*([^)\s]+)\)", dep)
    if not m:
        raise RuntimeError(f"cannot resolve the kernel from {KERNEL_META}: {dep}")
    return [Package(m.group(1), m.group(2)), *(Package(n, info[n]["Version"]) for n in USER_PACKAGES)]


def cache_key(packages: Iterable[Package], files: dict[str, bytes] | None = None) -> str:
    """sha256 over everything that determines the image content."""
    if files is None:
        files = {n: guest_file(n) for n in GUEST_FILES}
    doc = {
        "builder": BUILDER_VERSION,
        "packages": sorted([p.name, p.version] for p in packages),
        "files": {n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())},
        "modules": list(MODULES),
        "cmdline": KERNEL_CMDLINE,
        "size_mb": ROOT_SIZE_MB,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def image_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:16] / IMAGE_NAME


# --- cpio (newc) writer: avoids a host dependency on cpio and lets us add /dev/console
class _Cpio:
    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(
            f"{v:08x}" for v in (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0)
        )
        self.ino += 1
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b"\0" * (-(110 + len(nb)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._entry(name, 0o100000 | perm, data)

    def chardev(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


def _module_deps(moddir: Path) -> dict[str, list[str]]:
    """Map module name -> names it depends on, read from each .ko's modinfo section."""
    deps: dict[str, list[str]] = {}
    for ko in moddir.rglob("*.ko"):
        data = ko.read_bytes()
        m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
        dep = m.group(1).decode() if m else ""
        deps[ko.stem.replace("-", "_")] = [d for d in dep.split(",") if d]
    return deps


def _module_closure(moddir: Path, wanted: Iterable[str]) -> list[Path]:
    """Wanted modules plus dependencies, in load order (dependencies first)."""
    deps = _module_deps(moddir)
    paths = {ko.stem.replace("-", "_"): ko for ko in moddir.rglob("*.ko")}
    order: list[str] = []

    def visit(n: str) -> None:
        if n in order or n not in paths:
            return  # missing = built in (or absent from this kernel flavour)
        for d in deps.get(n, []):
            visit(d)
        order.append(n)

    for w in wanted:
        visit(w.replace("-", "_"))
    return [paths[n] for n in order]


def _needed_libs(binary: Path) -> list[str]:
    out = _run(["readelf", "-d", str(binary)]).stdout
    return re.findall(r"\(NEEDED\).*\[(.+?)\]", out)


def _find_lib(tree: Path, soname: str) -> Path:
    for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib"):
        p = tree / d / soname
        if p.exists() or p.is_symlink():
            return p
    raise FileNotFoundError(f"{soname} not found in the extracted packages")


def _download(packages: list[Package], debdir: Path, progress: Progress) -> dict[str, Path]:
    debdir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    missing = []
    for p in packages:
        # apt encodes ':' in epochs as %3a in file names
        ver = p.version.replace(":", "%3a")
        hits = list(debdir.glob(f"{p.name}_{ver}_*.deb"))
        if hits:
            found[p.name] = hits[0]
        else:
            missing.append(p)
    if missing:
        if progress:
            progress(f"downloading {' '.join(p.name for p in missing)}")
        _run(["apt-get", "download", "-q", *[p.spec for p in missing]], cwd=debdir)
        for p in missing:
            ver = p.version.replace(":", "%3a")
            found[p.name] = next(debdir.glob(f"{p.name}_{ver}_*.deb"))
    return found


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def _populate_root(root: Path, tree: Path, kver: str, modules: list[Path], moddir: Path, initrd: bytes) -> None:
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc/init.d",
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "root",
        "mnt",
        "var/log",
        "boot/extlinux",
        "lib/devcloud",
        "usr/share/udhcpc",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    bb = root / "bin/busybox"
    shutil.copy2(tree / "bin/busybox", bb)
    applets = _run([str(bb), "--list-full"]).stdout.split()
    for a in applets:
        link = root / a
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(bb, link.parent))
    # dropbear, dropbearkey and the closure of their shared libraries
    for b in ("usr/sbin/dropbear", "usr/bin/dropbearkey"):
        shutil.copy2(tree / b, root / b)
    todo = [root / "usr/sbin/dropbear", root / "usr/bin/dropbearkey"]
    seen: set[str] = set()
    while todo:
        for so in _needed_libs(todo.pop()):
            if so in seen:
                continue
            seen.add(so)
            dst = root / "lib/x86_64-linux-gnu" / so
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(_find_lib(tree, so).resolve(), dst)
            todo.append(dst)
    (root / "lib64").mkdir(exist_ok=True)
    ld = root / "lib64/ld-linux-x86-64.so.2"
    shutil.copy2(_find_lib(tree, "ld-linux-x86-64.so.2").resolve(), ld)
    # kernel modules (same set as the initramfs) with a modules.dep for busybox modprobe
    mroot = root / "lib/modules" / kver
    deps = _module_deps(moddir)
    names = {k.stem.replace("-", "_"): k.relative_to(moddir) for k in modules}
    lines = []
    for ko in modules:
        rel = ko.relative_to(moddir)
        _write(mroot / rel, ko.read_bytes())
        dl = " ".join(str(names[d]) for d in deps.get(ko.stem.replace("-", "_"), []) if d in names)
        lines.append(f"{rel}: {dl}".rstrip())
    _write(mroot / "modules.dep", "\n".join(lines) + "\n")
    # boot
    shutil.copy2(tree / f"boot/vmlinuz-{kver}", root / "boot/vmlinuz")
    _write(root / "boot/initrd.img", initrd)
    _write(
        root / "boot/extlinux/extlinux.conf",
        f"DEFAULT devcloud\nTIMEOUT 0\nPROMPT 0\nSERIAL 0 115200\n"
        f"LABEL devcloud\n  LINUX /boot/vmlinuz\n  INITRD /boot/initrd.img\n"
        f"  APPEND {KERNEL_CMDLINE}\n",
    )
    # system configuration
    _write(
        root / "etc/inittab",
        "::sysinit:/etc/init.d/rcS\n"
        "ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100\n"
        "tty1::respawn:/sbin/getty 38400 tty1\n"
        "::ctrlaltdel:/sbin/reboot\n"
        "::shutdown:/bin/umount -a -r\n",
    )
    _write(root / "etc/init.d/rcS", guest_file("rcS"), 0o755)
    _write(root / "usr/share/udhcpc/default.script", guest_file("udhcpc.script"), 0o755)
    _write(root / "lib/devcloud/disk-event", guest_file("disk-event"), 0o755)
    _write(root / "lib/devcloud/devcloud-watch", guest_file("devcloud-watch"), 0o755)
    _write(
        root / "etc/mdev.conf",
        "vd[a-z]+ 0:0 660 */lib/devcloud/disk-event\nsd[a-z]+ 0:0 660 */lib/devcloud/disk-event\n",
    )
    # ACPI power button -> clean poweroff, so a soft stop works
    # (busybox acpid's built-in table maps the button to this path)
    _write(root / "etc/acpi/PWRF/00000080", "#!/bin/sh\n/sbin/poweroff\n", 0o755)
    _write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    # '*' = no password login, but not "locked" ('!') which dropbear would refuse
    _write(root / "etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600)
    _write(root / "etc/group", "root:x:0:\ntty:x:5:\n")
    _write(root / "etc/shells", "/bin/sh\n/bin/ash\n")
    _write(root / "etc/hostname", "tiny\n")
    _write(root / "etc/hosts", "127.0.0.1 localhost\n")
    _write(root / "etc/issue", "devcloud tiny \\n \\l\n\n")
    _write(root / "etc/profile", "export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nexport PS1='\\h:\\w# '\n")


def _make_initrd(tree: Path, modules: list[Path], moddir: Path) -> bytes:
    c = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.file("bin/busybox", (tree / "bin/busybox").read_bytes(), 0o755)
    c.file("init", guest_file("initramfs-init"), 0o755)
    order = []
    for ko in modules:
        c.file(f"lib/modules/{ko.name}", ko.read_bytes())
        order.append(ko.name)
    c.file("lib/modules/load-order", ("\n".join(order) + "\n").encode())
    return gzip.compress(c.finish(), compresslevel=6, mtime=0)


def _build(out: Path, debs: dict[str, Path], kernel_pkg: str, work: Path, progress: Progress) -> None:
    tree = work / "tree"
    for deb in debs.values():
        _run(["dpkg-deb", "-x", str(deb), str(tree)])
    kver = kernel_pkg.removeprefix("linux-image-")
    moddir = tree / "lib/modules" / kver
    if not moddir.exists():
        moddir = tree / "usr/lib/modules" / kver
    modules = _module_closure(moddir, MODULES)
    if progress:
        progress(f"kernel {kver}, {len(modules)} modules")
    initrd = _make_initrd(tree, modules, moddir)
    root = work / "root"
    _populate_root(root, tree, kver, modules, moddir, initrd)
    raw = work / "root.img"
    _run(["mkfs.ext2", "-q", "-F", "-L", ROOT_LABEL, "-d", str(root), "-m", "0", str(raw), f"{ROOT_SIZE_MB}M"])
    # extlinux only installs into a mounted filesystem: one short loop mount
    mnt = work / "mnt"
    mnt.mkdir()
    _run(["mount", "-o", "loop", str(raw), str(mnt)])
    try:
        _run(["extlinux", "--install", str(mnt / "boot/extlinux")])
    finally:
        _run(["umount", str(mnt)])
    if progress:
        progress("converting to compressed qcow2")
    _run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(out)])


def build_tiny_image(cache_dir: str | Path | None = None, *, progress: Progress = None) -> Path:
    """Return the path of the cached tiny qcow2, building it if its inputs changed."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    packages = resolve_packages()
    key = cache_key(packages)
    target = image_path(cache, key)
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # one builder at a time per cache (parallel test workers share the debs dir)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # built by whoever held the lock before us
            return target
        if progress:
            progress(f"building tiny image {key[:16]}")
        debs = _download(packages, cache / "debs", progress)
        with tempfile.TemporaryDirectory(prefix=".build-", dir=cache) as tmp:
            work = Path(tmp)
            out = work / IMAGE_NAME
            _build(out, debs, packages[0].name, work, progress)
            (work / "manifest.json").write_text(
                json.dumps(
                    {
                        "key": key,
                        "builder": BUILDER_VERSION,
                        "cmdline": KERNEL_CMDLINE,
                        "packages": {p.name: p.version for p in packages},
                    },
                    indent=2,
                )
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / "manifest.json", target.parent / "manifest.json")
            # rename is atomic: readers never see a half-written image
            os.replace(out, target)
    return target
