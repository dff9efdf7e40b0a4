"""A bootable ISO of the tiny guest's kernel and initramfs (deploy-from-ISO and CD-ROM tests).

The kernel and initramfs are read out of the cached tiny image (``debugfs``, no mount); the ISO boots them with
ISOLINUX (from the Debian ``isolinux`` package, fetched with ``apt-get download`` like the image's packages, plus
``ldlinux.c32`` from the host's syslinux-common) and a command line that names itself (``devcloud.iso=1``), so a
serial console shows the guest booted from the CD-ROM. The volume label is ``DEVCLOUD-TINY``. Cached by a sha256
over the tiny image's key and this recipe.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from appliance.image.builder import (
    Progress,
    _apt_show,
    _run,
    build_tiny_image,
    cache_key,
    default_cache_dir,
    resolve_packages,
)

ISO_VERSION = "1"
LABEL = "DEVCLOUD-TINY"
CMDLINE = "console=tty0 console=ttyS0,115200 devcloud.iso=1 panic=-1"
LDLINUX = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")


def _isolinux_bin(cache: Path) -> Path:
    """isolinux.bin from the isolinux .deb (downloaded once into the image cache)."""
    info = _apt_show(["isolinux"])["isolinux"]
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    ver = info["Version"].replace(":", "%3a")
    hits = list(debs.glob(f"isolinux_{ver}_*.deb"))
    if not hits:
        _run(["apt-get", "download", "-q", f"isolinux={info['Version']}"], cwd=debs)
        hits = list(debs.glob(f"isolinux_{ver}_*.deb"))
    out = cache / "isolinux" / ver
    target = out / "usr/lib/ISOLINUX/isolinux.bin"
    if not target.is_file():
        out.mkdir(parents=True, exist_ok=True)
        _run(["dpkg-deb", "-x", str(hits[0]), str(out)])
    return target


def build_tiny_iso(cache_dir: str | Path | None = None, *, progress: Progress = None) -> Path:
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    image = build_tiny_image(cache, progress=progress)
    doc = {"iso": ISO_VERSION, "image": cache_key(resolve_packages()), "cmdline": CMDLINE, "label": LABEL}
    key = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    target = cache / f"iso-{key[:16]}" / "tiny.iso"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(prefix=".iso-", dir=cache) as tmp:
        work = Path(tmp)
        raw = work / "root.raw"
        _run(["qemu-img", "convert", "-O", "raw", str(image), str(raw)])
        tree = work / "tree"
        (tree / "isolinux").mkdir(parents=True)
        for src, dst in (("/boot/vmlinuz", "vmlinuz"), ("/boot/initrd.img", "initrd.img")):
            _run(["debugfs", "-R", f"dump {src} {tree / dst}", str(raw)])
            if not (tree / dst).is_file() or (tree / dst).stat().st_size == 0:
                raise RuntimeError(f"could not read {src} out of {image}")
        shutil.copy2(_isolinux_bin(cache), tree / "isolinux/isolinux.bin")
        shutil.copy2(LDLINUX, tree / "isolinux/ldlinux.c32")
        (tree / "isolinux/isolinux.cfg").write_text(
            f"DEFAULT tiny\nPROMPT 0\nTIMEOUT 0\nSERIAL 0 115200\nLABEL tiny\n  KERNEL /vmlinuz\n"
            f"  APPEND initrd=/initrd.img {CMDLINE}\n")
        if progress:
            progress("writing the tiny ISO")
        out = work / "tiny.iso"
        subprocess.run(["genisoimage", "-quiet", "-o", str(out), "-V", LABEL, "-J", "-R", "-b",
                        "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4",
                        "-boot-info-table", str(tree)], check=True, capture_output=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, target)
    return target


__all__ = ["CMDLINE", "LABEL", "build_tiny_iso"]
