"""Moving domains and volumes on libvirt: live migration to another libvirt host (LIVE_MIGRATION, with disks
copied along for STORAGE_MIGRATION), a volume to another pool of the same host, and a volume out to / in from an
image file on the management server (VOLUME_TRANSFER).

Live migration is ``virDomainMigrateToURI3`` with ``VIR_MIGRATE_LIVE | PEER2PEER | PERSIST_DEST |
UNDEFINE_SOURCE``: the source libvirtd talks to the destination's (``destination.uri``), and QEMU streams the
guest's memory over TCP to the destination host's address. Disks named in ``volumes`` are precreated (blank,
same size) in the destination pool and mirrored by QEMU while the guest runs (``VIR_MIGRATE_NON_SHARED_DISK``
limited to those devices by ``VIR_MIGRATE_PARAM_MIGRATE_DISKS``); the destination XML points them at their new
paths, and the read-only drives (config drive, ISO) are copied to the destination pool beforehand. The source copies
of moved volumes are deleted once the guest runs on the destination.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import libvirt

from management.drivers.base import Capability, DomainInfo, HypervisorDriver, PowerState, VolumeInfo
from management.drivers.errors import DomainExists, DriverError, InvalidDomainState
from management.drivers.libvirt import storage
from management.drivers.libvirt.xml import DEVCLOUD_NS, DevcloudMetadata

MIGRATE_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
                 | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


class Moves:
    """Mixed into LibvirtDriver."""

    _require: Any
    _running: Any
    _state: Any
    _info: Any
    _call: Any
    _pool: Any
    _is_local: Any
    _volume_owner: Any
    _lookup: Any
    _redefine: Any
    _delete_volume_quiet: Any
    conn: Any
    require: Any
    uri: str
    console_log_dir: str

    # ------------------------------------------------------------------------------------------- migration

    def migrate(self, vm_uuid: str, destination: HypervisorDriver, *,
                volumes: Mapping[str, str] | None = None) -> DomainInfo:
        self.require(Capability.LIVE_MIGRATION)
        if volumes:
            self.require(Capability.STORAGE_MIGRATION)
        if not isinstance(destination, Moves) or destination.uri == self.uri:
            raise DriverError(f"cannot migrate a libvirt domain to {destination!r}")
        dom = self._require(vm_uuid)
        state = self._state(dom)
        if state is not PowerState.RUNNING:
            raise InvalidDomainState(vm_uuid, state.value, "migrate")
        if destination._lookup(vm_uuid) is not None:
            raise DomainExists(vm_uuid)
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_MIGRATABLE))
        copy_devs: list[str] = []
        made: list[tuple[str, str]] = []  # (dest pool, volume) precreated on the destination
        moved: list[tuple[str, str]] = []  # (source pool, volume) to delete here afterwards
        try:
            for disk in root.iterfind("devices/disk"):
                src = disk.find("source")
                path = src.get("file") if src is not None else None
                if not path:
                    continue
                name = os.path.basename(path)
                target_dev = disk.find("target").get("dev")  # type: ignore[union-attr]
                src_pool = self._pool_of(path)
                dest_pool = (volumes or {}).get(name)
                readonly = disk.find("readonly") is not None
                if dest_pool is None and readonly and volumes and src_pool is not None:
                    # the config drive / ISO next to a root disk that moves: it moves too
                    dest_pool = next(iter(volumes.values()))
                if dest_pool is None or src_pool is None:
                    continue
                vol = storage.require_volume(self._pool(src_pool), name)
                if readonly:  # not mirrored by QEMU: copied now (the management server relays the bytes)
                    if destination.get_volume(dest_pool, name) is None:
                        with _exported(self, src_pool, name) as local:
                            destination.import_volume(dest_pool, name, local)
                            made.append((dest_pool, name))
                else:
                    destination.create_volume(dest_pool, name, vol.info()[1], format="qcow2")
                    made.append((dest_pool, name))
                    copy_devs.append(str(target_dev))
                    moved.append((src_pool, name))
                    disk.find("driver").set("type", "qcow2")  # type: ignore[union-attr]
                    for bs in disk.findall("backingStore"):  # the copy is flat
                        disk.remove(bs)
                new = destination.get_volume(dest_pool, name)
                assert new is not None
                src.set("file", new.path)  # type: ignore[union-attr]
                _rename_created(root, src_pool, dest_pool, name)
            for serial in root.iterfind("devices/serial"):
                src = serial.find("source")
                log_path = src.get("path") if src is not None else None
                if serial.get("type") == "file" and src is not None and log_path:
                    src.set("path", os.path.join(destination.console_log_dir, os.path.basename(log_path)))
            for files in root.iterfind(f".//{{{DEVCLOUD_NS}}}file"):
                path = files.get("path", "")
                if path.startswith(self.console_log_dir):
                    files.set("path", os.path.join(destination.console_log_dir, os.path.basename(path)))
            dest_xml = ET.tostring(root, encoding="unicode")
            params: dict[str, Any] = {libvirt.VIR_MIGRATE_PARAM_DEST_XML: dest_xml,
                                      libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: dest_xml}
            host = urlsplit(destination.uri).hostname
            if host:  # QEMU's stream goes straight to the destination host's address
                params[libvirt.VIR_MIGRATE_PARAM_URI] = f"tcp://{host}"
            flags = MIGRATE_FLAGS
            if copy_devs:
                flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
                params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = copy_devs
            dom.migrateToURI3(destination.uri, params, flags)
        except (libvirt.libvirtError, DriverError, OSError) as exc:
            for dest_pool, name in made:
                with contextlib.suppress(DriverError):
                    destination.delete_volume(dest_pool, name)
            msg = exc.get_error_message() if isinstance(exc, libvirt.libvirtError) else str(exc)
            raise DriverError(f"migration of {vm_uuid} to {destination.uri} failed: {msg}") from exc
        for src_pool, name in moved:
            with contextlib.suppress(DriverError):
                self._delete_volume_quiet(src_pool, name)
        moved_in = destination._lookup(vm_uuid)
        if moved_in is None:
            raise DriverError(f"migration of {vm_uuid} reported success, but {destination.uri} has no such domain")
        return destination._info(moved_in)  # type: ignore[no-any-return]

    def _pool_of(self, path: str) -> str | None:
        """The name of the pool holding ``path`` (None: a file outside every pool)."""
        for p in self._call(lambda c: c.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)):
            target = ET.fromstring(p.XMLDesc(0)).findtext("target/path") or ""
            if target and os.path.dirname(path) == target.rstrip("/"):
                return str(p.name())
        return None

    # ---------------------------------------------------------------------------------------- volume move

    def migrate_volume(self, pool: str, volume_uuid: str, dest_pool: str) -> VolumeInfo:
        self.require(Capability.STORAGE_MIGRATION)
        p, dp = self._pool(pool), self._pool(dest_pool)
        vol = storage.require_volume(p, volume_uuid)
        if pool == dest_pool:
            return storage.volume_info(p, vol)
        owner = self._volume_owner(vol.path())
        dom = self._lookup(owner) if owner else None
        if dom is not None and self._running(dom):
            raise InvalidDomainState(owner, self._state(dom).value, f"move volume {volume_uuid} of")
        fmt = storage.VolumeConfig.from_xml(vol.XMLDesc(0)).format
        if storage.lookup_volume(dp, volume_uuid) is not None:
            raise DriverError(f"volume {volume_uuid} already exists in pool {dest_pool!r}")
        try:
            new = storage.full_copy(dp, volume_uuid, vol, fmt)
        except libvirt.libvirtError as exc:
            self._delete_volume_quiet(dest_pool, volume_uuid)
            raise DriverError(f"copying {volume_uuid} to {dest_pool!r} failed: {exc.get_error_message()}") from exc
        old_path, new_path = vol.path(), new.path()
        if dom is not None:
            def repoint(root: ET.Element) -> None:
                for src in root.iterfind("devices/disk/source"):
                    if src.get("file") == old_path:
                        src.set("file", new_path)
                        disk = next(d for d in root.iterfind("devices/disk") if d.find("source") is src)
                        for bs in disk.findall("backingStore"):
                            disk.remove(bs)
                        drv = disk.find("driver")
                        if drv is not None:
                            drv.set("type", fmt)
                _rename_created(root, pool, dest_pool, volume_uuid)

            self._redefine(dom, repoint)
        for name in [n for n in p.listVolumes() if n.startswith(storage.snapshot_volume_name(volume_uuid, ""))]:
            self._delete_volume_quiet(pool, name)
        self._delete_volume_quiet(pool, volume_uuid)
        return storage.volume_info(dp, new)

    # ------------------------------------------------------------------------------------------- transfer

    def export_volume(self, pool: str, volume_uuid: str, dest_path: str) -> int:
        self.require(Capability.VOLUME_TRANSFER)
        p = self._pool(pool)
        vol = storage.require_volume(p, volume_uuid)
        owner = self._volume_owner(vol.path())
        dom = self._lookup(owner) if owner else None
        if dom is not None and self._running(dom):
            raise InvalidDomainState(owner, self._state(dom).value, f"export volume {volume_uuid} of")
        return self._export(pool, volume_uuid, dest_path)

    def _export(self, pool: str, volume_uuid: str, dest_path: str) -> int:
        p = self._pool(pool)
        vol = storage.require_volume(p, volume_uuid)
        flat = f".export-{volume_uuid}"
        self._delete_volume_quiet(pool, flat)
        try:
            fmt = storage.VolumeConfig.from_xml(vol.XMLDesc(0)).format
            tmp = storage.full_copy(p, flat, vol, fmt)  # a standalone image: the backing chain folded in
            try:
                return storage.download_file(self.conn, tmp, dest_path)
            finally:
                self._delete_volume_quiet(pool, flat)
        except libvirt.libvirtError as exc:
            raise DriverError(f"exporting {volume_uuid} failed: {exc.get_error_message()}") from exc

    def import_volume(self, pool: str, volume_uuid: str, source_path: str) -> VolumeInfo:
        self.require(Capability.VOLUME_TRANSFER)
        p = self._pool(pool)
        if storage.lookup_volume(p, volume_uuid) is not None:
            raise DriverError(f"volume {volume_uuid} already exists in pool {pool!r}")
        try:
            vol = storage.upload_file(self.conn, p, volume_uuid, source_path)
        except libvirt.libvirtError as exc:
            raise DriverError(f"importing {volume_uuid} failed: {exc.get_error_message()}") from exc
        return storage.volume_info(p, vol)


def _rename_created(root: ET.Element, old_pool: str | None, new_pool: str, name: str) -> None:
    """Our metadata's record of a volume spawn created follows the volume to its new pool."""
    meta = root.find(f"metadata/{DevcloudMetadata.root_tag}")
    if meta is None:
        return
    for v in meta.iterfind(f".//{{{DEVCLOUD_NS}}}volume"):
        if v.get("name") == name and (old_pool is None or v.get("pool") == old_pool):
            v.set("pool", new_pool)


@contextlib.contextmanager
def _exported(driver: Moves, pool: str, name: str) -> Any:
    with tempfile.TemporaryDirectory(prefix="devcloud-migrate-") as tmp:
        path = os.path.join(tmp, name)
        driver._export(pool, name, path)  # a read-only drive of the running domain: safe to read
        yield path
