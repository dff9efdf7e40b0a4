"""Snapshot images copied to secondary storage: extractSnapshot (a download URL of a copy in the zone's image
store) and archiveSnapshot (a copy kept there); deleting the snapshot removes its copies. Snapshots here live on
primary storage as full images; the copy is made by the management server from the file the driver names, so that
file must be readable here (a local libvirt host or a shared pool); the simulator keeps no snapshot bytes and is
refused."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from sqlalchemy.orm import Session

from management.drivers.errors import DriverError
from management.errors import InternalError, InvalidStateTransition, ParamError
from management.models.infra import ImageStore, StoragePool, Zone
from management.models.storage import Snapshot, Volume
from management.services.hypervisors import driver_for_volume, tx
from management.services.runtime import Runtime
from management.services.storage import templates as templates_service
from management.storage.secondary import ImageStoreLayout, StoreError

log = logging.getLogger(__name__)


def _rel(snap: Snapshot) -> str:
    return ImageStoreLayout.snapshot_rel(snap.account_id, snap.volume_id, snap.uuid)


def _existing(session: Session, snap: Snapshot, zone_id: int) -> ImageStore | None:
    for store in templates_service.image_stores(session, zone_id):
        with contextlib.suppress(StoreError):
            if templates_service.layout(store).exists(_rel(snap)):
                return store
    return None


def copy_to_store(runtime: Runtime, snap_id: int, zone_id: int | None = None) -> Path:
    """Copies the snapshot's image into an image store of its zone unless one already holds it; returns the
    copy's path."""
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        if snap.state != "BackedUp":
            raise InvalidStateTransition(f"Snapshot {snap.uuid} is not in BackedUp state but {snap.state}")
        zone = s.get_one(Zone, zone_id or snap.zone_id)
        rel = _rel(snap)
        held = _existing(s, snap, zone.id)
        if held is not None:
            return templates_service.layout(held).abs(rel)
        if zone.id != snap.zone_id:  # another zone holds it only once copySnapshot put it there
            raise ParamError(f"Snapshot {snap.uuid} is not in zone {zone.uuid}")
        store = templates_service.writable_store(s, zone)
        vol = s.get_one(Volume, snap.volume_id)
        d = driver_for_volume(runtime, s, vol) if vol.removed is None else None
        pool = s.get(StoragePool, vol.pool_id) if vol.pool_id else None
        vol_uuid, snap_uuid = vol.uuid, snap.uuid
    if d is None or pool is None:
        raise InternalError(f"No host can reach the volume of snapshot {snap_uuid}")
    try:
        info = d.get_volume_snapshot(pool.uuid, vol_uuid, snap_uuid)
    except DriverError as exc:
        raise InternalError(f"Failed to read snapshot {snap_uuid}: {exc}") from None
    if info is None or not os.path.isfile(info.path):
        raise InternalError(f"Snapshot {snap_uuid} has no image file this server can read (its host keeps "
                            "snapshots it cannot hand out)")
    target = templates_service.layout(store)
    try:
        target.ensure()
        target.copy_in(info.path, rel)
    except (OSError, StoreError) as exc:
        raise InternalError(f"Failed to copy snapshot {snap_uuid} to image store {store.name}: {exc}") from None
    return target.abs(rel)


def copy_to_zones(runtime: Runtime, snap_id: int, source_zone_id: int, dest_zone_ids: list[int]) -> None:
    """copySnapshot: copies the snapshot's image from an image store of the source zone to one of each destination
    zone (a zone that holds it already is left as it is)."""
    with tx(runtime) as s:
        snap = s.get_one(Snapshot, snap_id)
        src = _existing(s, snap, source_zone_id)
        if src is None:
            raise ParamError(f"There is no snapshot ID: {snap.uuid} ready on image store")
        rel, snap_uuid = _rel(snap), snap.uuid
        source = templates_service.layout(src).abs(rel)
        targets = [(zone.name, templates_service.writable_store(s, zone))
                   for zone in (s.get_one(Zone, z) for z in dest_zone_ids) if _existing(s, snap, zone.id) is None]
    failed = []
    for zone_name, store in targets:
        target = templates_service.layout(store)
        try:
            target.ensure()
            target.copy_in(source, rel)
        except (OSError, StoreError) as exc:
            log.error("copy of snapshot %s to zone %s failed: %s", snap_uuid, zone_name, exc)
            failed.append(zone_name)
    if failed and len(failed) == len(dest_zone_ids):
        raise InternalError("Failed to copy snapshot")


def remove_copies(session: Session, snap: Snapshot) -> None:
    """Removes the snapshot's copies from every image store (those of other zones came from copySnapshot)."""
    for store in templates_service.image_stores(session):
        with contextlib.suppress(StoreError, OSError):
            templates_service.layout(store).remove(_rel(snap))
