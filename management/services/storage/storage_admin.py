"""Primary and secondary storage administration: the objects in a store or pool, storage access groups, scope
changes, and moving templates between image stores."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.infra import Cluster, Host, ImageStore, Pod, StoragePool, Zone
from management.models.storage import Snapshot, Template, TemplateStoreRef, Volume
from management.models.storage_admin import StorageAccessGroup
from management.services.storage import templates as templates_service
from management.storage.secondary import ImageStoreLayout, StoreError

ACCESS_GROUP_KINDS = ("zone", "pod", "cluster", "host", "storagepool")


def stable_id(*parts: str) -> str:
    """A uuid that is the same every time for the same parts (ids of rows CloudStack keeps and we derive)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "devcloud:" + "/".join(parts)))


# ------------------------------------------------------------------------------------------------ objects

@dataclass(slots=True)
class StoreObject:
    name: str
    isdirectory: bool
    size: int | None
    lastupdated: datetime
    template: Template | None = None
    snapshot: Snapshot | None = None
    volume: Volume | None = None


def list_directory(root: Path, path: str | None) -> list[StoreObject]:
    """The entries of ``root/path`` (path relative to the root, never escaping it); 431 when it is no folder."""
    layout = ImageStoreLayout(root)
    rel = (path or "").strip("/")
    try:
        where = layout.abs(rel) if rel else layout.root.resolve()
    except StoreError:
        raise ParamError(f"Invalid path {path}: it is outside the data store") from None
    if not where.is_dir():
        if where.is_file():
            st = where.stat()
            return [StoreObject(where.name, False, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))]
        return []
    out = []
    for entry in sorted(where.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(".tmp-") or entry.name == ".index.sqlite3":
            continue
        with contextlib.suppress(OSError):
            st = entry.stat()
            isdir = entry.is_dir()
            out.append(StoreObject(entry.name, isdir, None if isdir else st.st_size,
                                   datetime.fromtimestamp(st.st_mtime, UTC)))
    return out


def annotate_store_objects(session: Session, store: ImageStore, path: str | None, objs: list[StoreObject]) -> None:
    """Names the template behind each template file of an image store listing."""
    rel = (path or "").strip("/")
    refs = {r.install_path: r for r in session.scalars(select(TemplateStoreRef).where(
        TemplateStoreRef.store_id == store.id))}
    for o in objs:
        ref = refs.get(f"{rel}/{o.name}".strip("/"))
        if ref is not None:
            o.template = session.get(Template, ref.template_id)


def annotate_pool_objects(session: Session, pool: StoragePool, objs: list[StoreObject]) -> None:
    """Names the volume, template or snapshot each file of a primary pool belongs to."""
    names = {o.name for o in objs}
    for v in session.scalars(select(Volume).where(Volume.pool_id == pool.id, Volume.removed.is_(None))):
        for o in objs:
            if o.name in (v.uuid, v.path):
                o.volume = v
    for o in objs:
        if o.volume is None and o.name in names:
            o.template = session.scalar(select(Template).where(Template.uuid == o.name))
        if o.name.startswith("snap-") and o.volume is None:
            o.snapshot = session.scalar(select(Snapshot).where(Snapshot.uuid == o.name[-36:]))


# ------------------------------------------------------------------------------------------------ access groups

def _model(kind: str) -> type:
    return {"zone": Zone, "pod": Pod, "cluster": Cluster, "host": Host, "storagepool": StoragePool}[kind]


def access_groups_of(session: Session, kind: str, resource_id: int) -> list[str]:
    row = session.scalar(select(StorageAccessGroup).where(StorageAccessGroup.resource_type == kind,
                                                          StorageAccessGroup.resource_id == resource_id))
    return [g for g in (row.groups.split(",") if row else []) if g]


def set_access_groups(session: Session, kind: str, resource_id: int, groups: list[str]) -> None:
    row = session.scalar(select(StorageAccessGroup).where(StorageAccessGroup.resource_type == kind,
                                                          StorageAccessGroup.resource_id == resource_id))
    clean = sorted({g.strip() for g in groups if g.strip()})
    if not clean:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(StorageAccessGroup(resource_type=kind, resource_id=resource_id, groups=",".join(clean)))
    else:
        row.groups = ",".join(clean)


def all_access_groups(session: Session) -> dict[str, dict[str, list[object]]]:
    """group name -> kind -> rows carrying it."""
    out: dict[str, dict[str, list[object]]] = {}
    for row in session.scalars(select(StorageAccessGroup).order_by(StorageAccessGroup.id)):
        target = session.get(_model(row.resource_type), row.resource_id)
        if target is None or getattr(target, "removed", None) is not None:
            continue
        for g in row.groups.split(","):
            if g:
                out.setdefault(g, {}).setdefault(row.resource_type, []).append(target)
    return out


def pool_scope_change_vms(session: Session, pool: StoragePool, cluster: Cluster) -> list[VirtualMachine]:
    """VMs with a volume on the pool that run (or last ran) on a host outside ``cluster``."""
    vm_ids = set(session.scalars(select(Volume.instance_id).where(Volume.pool_id == pool.id,
                                                                  Volume.removed.is_(None),
                                                                  Volume.instance_id.is_not(None))))
    out = []
    for vm in session.scalars(select(VirtualMachine).where(VirtualMachine.id.in_(vm_ids),
                                                           VirtualMachine.removed.is_(None))
                              .order_by(VirtualMachine.id)):
        hid = vm.host_id or vm.last_host_id
        host = session.get(Host, hid) if hid else None
        if host is None or host.cluster_id != cluster.id:
            out.append(vm)
    return out


# ------------------------------------------------------------------------------------------------ migration

def migrate_templates(session: Session, src: ImageStore, dests: list[ImageStore], *, balance: bool,
                      only: set[int] | None = None) -> tuple[int, int]:
    """Copies template/ISO files from ``src`` to the destination stores (round robin) and moves their store
    records; ``balance`` stops once ``src`` holds no more than its share. Returns (moved, skipped)."""
    refs = list(session.scalars(select(TemplateStoreRef).where(
        TemplateStoreRef.store_id == src.id, TemplateStoreRef.download_state == templates_service.DOWNLOADED)
        .order_by(TemplateStoreRef.id)))
    if only is not None:
        refs = [r for r in refs if r.template_id in only]
    keep = len(refs) // (len(dests) + 1) if balance else 0
    moved = skipped = 0
    src_layout = ImageStoreLayout(src.local_path)
    for i, ref in enumerate(refs[keep:]):
        dest = dests[i % len(dests)]
        clash = session.scalar(select(TemplateStoreRef).where(TemplateStoreRef.template_id == ref.template_id,
                                                              TemplateStoreRef.store_id == dest.id))
        if clash is not None or not ref.install_path:
            skipped += 1
            continue
        dst_layout = ImageStoreLayout(dest.local_path)
        source = src_layout.abs(ref.install_path)
        if not source.is_file():
            skipped += 1
            continue
        dst_layout.ensure()
        dst_layout.copy_in(source, ref.install_path)
        ref.store_id, ref.zone_id = dest.id, dest.zone_id or ref.zone_id
        session.flush()
        src_layout.remove(ref.install_path)
        moved += 1
    for store in (src, *dests):
        with contextlib.suppress(OSError):
            usage = shutil.disk_usage(store.local_path)
            store.total_bytes, store.used_bytes = usage.total, usage.used
    return moved, skipped


def file_usage(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(dirpath, f)).st_blocks * 512
    return total
