"""Boot files for tiny Xen PV guests, and putting them on a Xen host through libvirt.

A PV guest boots its kernel directly (libxl reads kernel and initramfs from dom0's filesystem). The tiny image's
Debian cloud kernel is a Xen PV kernel (CONFIG_XEN_PV=y, hvc0 built in) but builds the block/net frontends as
modules, and the tiny initramfs only loads virtio drivers; so the PV initramfs is the tiny one plus
``xen-blkfront`` and ``xen-netfront`` (same init: finds the root by label ``dcroot``, then the tiny root's rcS
brings eth0 up with DHCP). Built from the same packages as the tiny image, cached beside it by checksum.

``install_on_host(uri)`` uploads them into the host's libvirt dir pool ``devcloud-pvboot`` as the volumes
``vmlinuz``/``initrd.img``: the libvirt driver's Xen flavour boots PV guests from there (``_pv_boot``).
This is the host-preparation step the ``xen_host`` role does on a farm (copy the two files, define the pool).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

from appliance.image import builder as tiny

PV_MODULES = (*tiny.MODULES, "xen-blkfront", "xen-netfront")
POOL_NAME = "devcloud-pvboot"
POOL_PATH = "/var/lib/devcloud/pvboot"
VERSION = "1"


def pv_key(packages: list[tiny.Package]) -> str:
    doc = {"v": VERSION, "tiny": tiny.cache_key(packages), "modules": list(PV_MODULES)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def build_pv_boot(cache_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(vmlinuz, initrd.img) for tiny PV guests, cached by checksum."""
    cache = Path(cache_dir) if cache_dir else tiny.default_cache_dir()
    packages = tiny.resolve_packages()
    target = cache / f"pvboot-{pv_key(packages)[:16]}"
    kernel, initrd = target / "vmlinuz", target / "initrd.img"
    if initrd.exists():
        return kernel, initrd
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if initrd.exists():
            return kernel, initrd
        debs = tiny._download(packages, cache / "debs", None)
        with tempfile.TemporaryDirectory(prefix=".pvboot-", dir=cache) as tmp:
            work = Path(tmp)
            tree = work / "tree"
            for name in (packages[0].name, "busybox-static"):
                tiny._run(["dpkg-deb", "-x", str(debs[name]), str(tree)])
            kver = packages[0].name.removeprefix("linux-image-")
            moddir = tree / "lib/modules" / kver
            if not moddir.exists():
                moddir = tree / "usr/lib/modules" / kver
            modules = tiny._module_closure(moddir, PV_MODULES)
            out = work / "out"
            out.mkdir()
            (out / "initrd.img").write_bytes(tiny._make_initrd(tree, modules, moddir))
            (out / "vmlinuz").write_bytes((tree / f"boot/vmlinuz-{kver}").read_bytes())
            os.replace(out, target)
    return kernel, initrd


def install_on_host(uri: str, kernel: Path, initrd: Path) -> dict[str, str]:
    """Upload the PV boot files into the host's ``devcloud-pvboot`` dir pool; returns volume name -> path."""
    import libvirt

    from management.drivers.libvirt import storage
    from management.drivers.libvirt.xml import PoolConfig

    conn = libvirt.open(uri)
    try:
        try:
            pool = conn.storagePoolLookupByName(POOL_NAME)
        except libvirt.libvirtError:
            pool = conn.storagePoolDefineXML(PoolConfig(type="dir", name=POOL_NAME, target_path=POOL_PATH).to_xml())
            pool.build(0)
            pool.setAutostart(True)
        if not pool.isActive():
            pool.create(0)
        pool.refresh(0)
        paths = {}
        for name, src in (("vmlinuz", kernel), ("initrd.img", initrd)):
            try:
                vol = pool.storageVolLookupByName(name)
                if vol.info()[1] == src.stat().st_size:
                    paths[name] = vol.path()
                    continue
                vol.delete(0)
            except libvirt.libvirtError:
                pass
            paths[name] = storage.upload_file(conn, pool, name, str(src)).path()
        return paths
    finally:
        conn.close()


__all__ = ["POOL_NAME", "build_pv_boot", "install_on_host"]
