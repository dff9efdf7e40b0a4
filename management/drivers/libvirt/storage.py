"""Pool and volume helpers on a libvirt connection (libvirt-python only, never ``virsh``)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import time
from collections.abc import Iterator

import libvirt

from management.drivers.base import PoolInfo, VolumeInfo
from management.drivers.errors import DriverError, PoolNotFound, TemplateNotFound, VolumeNotFound
from management.drivers.libvirt.xml import BackingStore, PoolConfig, VolumeConfig

SNAPSHOT_PREFIX = "snap-"


def snapshot_volume_name(volume_uuid: str, snapshot_uuid: str) -> str:
    return f"{SNAPSHOT_PREFIX}{volume_uuid}-{snapshot_uuid}"


def lookup_pool(conn: libvirt.virConnect, name: str) -> libvirt.virStoragePool:
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise PoolNotFound(name) from None
        raise
    if not pool.isActive():
        pool.create(0)
    return pool


def lookup_volume(pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def require_volume(pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol:
    vol = lookup_volume(pool, name)
    if vol is None:
        raise VolumeNotFound(pool.name(), name)
    return vol


def refresh(pool: libvirt.virStoragePool, timeout: float = 120.0) -> None:
    """Re-read a pool's volumes. libvirt refuses while any volume of the pool is being built or uploaded ("has
    asynchronous jobs running"), which concurrent deploys into one pool make common: wait for those to end."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            pool.refresh(0)
            return
        except libvirt.libvirtError as exc:
            if "asynchronous jobs running" not in (exc.get_error_message() or "") or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def pool_info(pool: libvirt.virStoragePool) -> PoolInfo:
    _state, capacity, allocation, available = pool.info()
    cfg = PoolConfig.from_xml(pool.XMLDesc(0))
    return PoolInfo(name=pool.name(), path=cfg.target_path, capacity_bytes=capacity,
                    available_bytes=available, allocated_bytes=allocation)


def volume_info(pool: libvirt.virStoragePool, vol: libvirt.virStorageVol) -> VolumeInfo:
    cfg = VolumeConfig.from_xml(vol.XMLDesc(0))
    _type, capacity, allocation = vol.info()
    return VolumeInfo(uuid=vol.name(), pool=pool.name(), path=vol.path(), size_bytes=capacity,
                      format=cfg.format, allocated_bytes=allocation)


def define_pool(conn: libvirt.virConnect, cfg: PoolConfig) -> libvirt.virStoragePool:
    """Define (persistent), build (mkdir / mount point) and start a pool, autostarted with libvirtd."""
    pool = conn.storagePoolDefineXML(cfg.to_xml(), 0)
    # fails when already built (directory exists) or on a driver without build (test:///)
    with contextlib.suppress(libvirt.libvirtError):
        pool.build(0)
    pool.create(0)
    with contextlib.suppress(libvirt.libvirtError):
        pool.setAutostart(1)
    return pool


def create_blank(pool: libvirt.virStoragePool, name: str, size: int, fmt: str) -> libvirt.virStorageVol:
    return pool.createXML(VolumeConfig(name=name, capacity=size, format=fmt, allocation=0).to_xml(), 0)


def create_linked_clone(pool: libvirt.virStoragePool, name: str, template: libvirt.virStorageVol,
                        size: int) -> libvirt.virStorageVol:
    """qcow2 copy-on-write over the template copy in the same pool: instant, shares the base blocks."""
    tcfg = VolumeConfig.from_xml(template.XMLDesc(0))
    cfg = VolumeConfig(name=name, capacity=max(size, template.info()[1]), format="qcow2",
                       backing=BackingStore(path=template.path(), format=tcfg.format))
    return pool.createXML(cfg.to_xml(), 0)


def full_copy(pool: libvirt.virStoragePool, name: str, source: libvirt.virStorageVol,
              fmt: str = "qcow2") -> libvirt.virStorageVol:
    """A flat copy (libvirt runs ``qemu-img convert``; backing chains are folded in)."""
    capacity = source.info()[1]
    cfg = VolumeConfig(name=name, capacity=capacity, format=fmt)
    return pool.createXMLFrom(cfg.to_xml(), source, 0)


def _image_format_and_size(path: str) -> tuple[str, int]:
    """Detect qcow2 (magic + virtual size from the header) vs raw without running qemu-img."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(32)
    if len(head) >= 32 and head[:4] == b"QFI\xfb":
        return "qcow2", struct.unpack(">Q", head[24:32])[0]
    return "raw", size


def upload_file(conn: libvirt.virConnect, pool: libvirt.virStoragePool, name: str, source: str,
                *, fake_data: bool = False) -> libvirt.virStorageVol:
    """Copy a local image file into the pool as volume ``name`` through a libvirt stream, so the same code
    works for a remote host (qemu+ssh). ``fake_data``: the test driver stores no bytes; only size counts."""
    if not os.path.isfile(source):
        raise TemplateNotFound(source)
    fmt, virtual = _image_format_and_size(source)
    length = os.path.getsize(source)
    vol = pool.createXML(VolumeConfig(name=name, capacity=virtual, format=fmt).to_xml(), 0)
    if fake_data:
        return vol
    try:
        stream = conn.newStream(0)
        vol.upload(stream, 0, length, 0)
        with open(source, "rb") as fh:
            def feed(_stream: libvirt.virStream, nbytes: int, _opaque: object) -> bytes:
                return fh.read(nbytes)
            stream.sendAll(feed, None)
        stream.finish()
        refresh(pool)  # libvirt re-reads the header: real capacity/format of what we uploaded
        return pool.storageVolLookupByName(name)
    except Exception as exc:
        with contextlib.suppress(libvirt.libvirtError):
            vol.delete(0)
        raise DriverError(f"copying {source} into pool {pool.name()} failed: {exc}") from exc


@contextlib.contextmanager
def directory_pool(conn: libvirt.virConnect, path: str, *, build: bool = False) -> Iterator[libvirt.virStoragePool]:
    """A transient ``dir`` pool over any directory of the host (a backup directory), gone after the block: files
    there can be copied with libvirt (qemu-img convert) on a local or a remote host alike. ``build`` creates the
    directory first."""
    name = "devcloud-dir-" + hashlib.sha256(path.encode()).hexdigest()[:16]
    with contextlib.suppress(libvirt.libvirtError):
        old = conn.storagePoolLookupByName(name)  # left over by a crash
        old.destroy()
    cfg = PoolConfig(type="dir", name=name, target_path=path)
    flags = libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD if build else 0
    pool = conn.storagePoolCreateXML(cfg.to_xml(), flags)
    try:
        yield pool
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            pool.destroy()


def download_file(conn: libvirt.virConnect, vol: libvirt.virStorageVol, dest: str) -> int:
    """Copy a volume's bytes to a local file through a libvirt stream (remote hosts too); returns the size."""
    stream = conn.newStream(0)
    written = 0
    with open(dest, "wb") as fh:
        vol.download(stream, 0, 0, 0)

        def sink(_stream: libvirt.virStream, data: bytes, _opaque: object) -> int:
            nonlocal written
            fh.write(data)
            written += len(data)
            return len(data)

        try:
            stream.recvAll(sink, None)
            stream.finish()
        except Exception:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise
    return written
