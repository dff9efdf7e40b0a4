"""Whole-domain snapshots on libvirt (the libvirt driver's VM_SNAPSHOT and VM_SNAPSHOT_MEMORY).

Internal qcow2 snapshots, as CloudStack's KVM agent takes them: ``virDomainSnapshotCreateXML`` named by our
snapshot uuid. A Running domain's snapshot holds its memory and device state (``<memory snapshot='internal'/>``;
reverting resumes the guest at that instant); a Stopped domain's holds its disks only (libvirt runs
``qemu-img snapshot`` on each qcow2). Read-only and empty drives (config drive, CD-ROM) are left out by libvirt.

Quiescing asks the QEMU guest agent to freeze the guest's filesystems first (``virDomainFSFreeze``); a guest
without an agent channel or agent is refused with GuestAgentUnavailable before anything is taken.

Reverting a disk-only snapshot restores libvirt's copy of the domain definition from snapshot time; the current
definition (NICs and volumes added since) is put back right after, so only the disks' content goes back.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from management.drivers.base import Capability, DomainInfo, DomainSnapshotInfo, SnapshotInfo
from management.drivers.errors import DriverError, GuestAgentUnavailable, InvalidDomainState, SnapshotNotFound
from management.drivers.libvirt import storage


def _snapshot_info(vm_uuid: str, snap: libvirt.virDomainSnapshot) -> DomainSnapshotInfo:
    root = ET.fromstring(snap.getXMLDesc(0))
    memory = root.findtext("state") in ("running", "paused") or \
        (root.find("memory") is not None and root.find("memory").get("snapshot") == "internal")  # type: ignore[union-attr]
    created = float(root.findtext("creationTime") or time.time())
    return DomainSnapshotInfo(uuid=snap.getName(), vm_uuid=vm_uuid, memory=bool(memory), created_at=created)


class DomainSnapshots:
    """Mixed into LibvirtDriver (needs its _require, _running, _state, _info, _call, _pool, _is_local)."""

    _require: Any
    _running: Any
    _state: Any
    _info: Any
    _call: Any
    _pool: Any
    _is_local: Any
    _lock: Any
    require: Any
    uri: str

    def _snapshot(self, dom: libvirt.virDomain, vm_uuid: str, snapshot_uuid: str) -> libvirt.virDomainSnapshot:
        try:
            return dom.snapshotLookupByName(snapshot_uuid, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise SnapshotNotFound(vm_uuid, snapshot_uuid) from None
            raise DriverError(f"libvirt ({self.uri}): {exc.get_error_message()}") from exc

    def snapshot_domain(self, vm_uuid: str, snapshot_uuid: str, *, memory: bool = False,
                        quiesce: bool = False) -> DomainSnapshotInfo:
        self.require(Capability.VM_SNAPSHOT)
        if memory:
            self.require(Capability.VM_SNAPSHOT_MEMORY)
        dom = self._require(vm_uuid)
        running = self._running(dom)
        if memory and not running:
            raise InvalidDomainState(vm_uuid, self._state(dom).value, "take a memory snapshot of")
        with contextlib.suppress(libvirt.libvirtError):
            dom.snapshotLookupByName(snapshot_uuid, 0)
            raise DriverError(f"snapshot {snapshot_uuid} of domain {vm_uuid} already exists")
        frozen = False
        if quiesce:
            if not running:
                raise InvalidDomainState(vm_uuid, self._state(dom).value, "quiesce")
            try:
                dom.fsFreeze(None, 0)
                frozen = True
            except libvirt.libvirtError as exc:
                raise GuestAgentUnavailable(vm_uuid, exc.get_error_message()) from None
        if running and not memory:
            if frozen:
                with contextlib.suppress(libvirt.libvirtError):
                    dom.fsThaw(None, 0)
            raise DriverError(f"a disk-only snapshot of running domain {vm_uuid} is not supported by the libvirt "
                              "driver: take it with memory, or stop the domain first")
        root = ET.Element("domainsnapshot")
        ET.SubElement(root, "name").text = snapshot_uuid
        if running:
            ET.SubElement(root, "memory", snapshot="internal")
        try:
            snap = dom.snapshotCreateXML(ET.tostring(root, encoding="unicode"), 0)
        except libvirt.libvirtError as exc:
            raise DriverError(f"snapshot of domain {vm_uuid} failed: {exc.get_error_message()}") from exc
        finally:
            if frozen:
                with contextlib.suppress(libvirt.libvirtError):
                    dom.fsThaw(None, 0)
        return _snapshot_info(vm_uuid, snap)

    def revert_domain_snapshot(self, vm_uuid: str, snapshot_uuid: str) -> DomainInfo:
        self.require(Capability.VM_SNAPSHOT)
        dom = self._require(vm_uuid)
        snap = self._snapshot(dom, vm_uuid, snapshot_uuid)
        info = _snapshot_info(vm_uuid, snap)
        current = None
        if not info.memory:
            current = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
            if self._running(dom):  # a disk-only snapshot: the domain ends Stopped
                with contextlib.suppress(libvirt.libvirtError):
                    dom.destroy()
        try:
            flags = libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING if info.memory else 0
            dom.revertToSnapshot(snap, flags)
        except libvirt.libvirtError as exc:
            raise DriverError(f"revert of domain {vm_uuid} to {snapshot_uuid} failed: {exc.get_error_message()}"
                              ) from exc
        if current is not None:  # keep today's devices; only the disks went back
            with self._lock:
                self._call(lambda c: c.defineXML(current))
        return self._info(dom)  # type: ignore[no-any-return]

    def delete_domain_snapshot(self, vm_uuid: str, snapshot_uuid: str) -> None:
        self.require(Capability.VM_SNAPSHOT)
        dom = self._call(lambda c: _lookup_quiet(c, vm_uuid))
        if dom is None:
            return
        try:
            snap = dom.snapshotLookupByName(snapshot_uuid, 0)
        except libvirt.libvirtError:
            return
        try:
            snap.delete(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise DriverError(f"deleting snapshot {snapshot_uuid} of {vm_uuid} failed: "
                                  f"{exc.get_error_message()}") from exc

    def list_domain_snapshots(self, vm_uuid: str) -> list[DomainSnapshotInfo]:
        self.require(Capability.VM_SNAPSHOT)
        dom = self._require(vm_uuid)
        snaps = dom.listAllSnapshots(0)
        # creationTime has one-second resolution: within a second, a snapshot's ancestors come first
        parents = {}
        for snap in snaps:
            parent = ET.fromstring(snap.getXMLDesc(0)).findtext("parent/name")
            parents[snap.getName()] = parent

        def depth(name: str) -> int:
            n = 0
            while parents.get(name) and n < len(parents):
                name, n = parents[name] or "", n + 1
            return n

        infos = [_snapshot_info(vm_uuid, s) for s in snaps]
        return sorted(infos, key=lambda i: (i.created_at, depth(i.uuid), i.uuid))

    def snapshot_volume_from_domain_snapshot(self, vm_uuid: str, domain_snapshot_uuid: str, pool: str,
                                             volume_uuid: str, snapshot_uuid: str) -> SnapshotInfo:
        """qemu-img reads the internal snapshot out of the volume's qcow2 (a host this server runs on)."""
        self.require(Capability.VM_SNAPSHOT)
        dom = self._require(vm_uuid)
        self._snapshot(dom, vm_uuid, domain_snapshot_uuid)
        if not self._is_local():
            raise DriverError(f"a volume snapshot can be cut from a domain snapshot only on a local libvirt host, not "
                              f"{self.uri}")
        p = self._pool(pool)
        vol = storage.require_volume(p, volume_uuid)
        target = os.path.join(os.path.dirname(vol.path()), storage.snapshot_volume_name(volume_uuid, snapshot_uuid))
        if os.path.exists(target):
            raise DriverError(f"snapshot {snapshot_uuid} of volume {volume_uuid} already exists")
        cmd = ["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", "-l",
               f"snapshot.name={domain_snapshot_uuid}", vol.path(), target]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            if "snapshot" in done.stderr.lower() and "not found" in done.stderr.lower():
                raise SnapshotNotFound(vm_uuid, domain_snapshot_uuid)
            raise DriverError(f"extracting {volume_uuid} at {domain_snapshot_uuid} failed: {done.stderr.strip()}")
        storage.refresh(p)
        made = storage.require_volume(p, os.path.basename(target))
        return SnapshotInfo(uuid=snapshot_uuid, volume_uuid=volume_uuid, pool=pool, size_bytes=made.info()[1],
                            created_at=time.time())


def _lookup_quiet(conn: libvirt.virConnect, vm_uuid: str) -> libvirt.virDomain | None:
    try:
        return conn.lookupByUUIDString(vm_uuid)
    except libvirt.libvirtError:
        return None


__all__ = ["DomainSnapshots"]
