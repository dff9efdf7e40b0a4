"""Templates and ISOs: registration, downloads into the zones' image stores, visibility, copies, deletion.

A template (or ISO: the same table, format ISO) has one ``TemplateStoreRef`` per image store holding it; the
API shows one row per zone. ``register`` creates the rows and, once the request's transaction commits, a
background download per store fetches the URL into the store (``management.storage``), updating
``download_pct`` ("xx% Downloaded") until "Download Complete" or an error text.

Seams for other rooms:
- ``source_for_pool(session, template, zone) -> (template uuid, absolute file path)`` for the driver's
  ``prepare_template``;
- ``on_image_store_added(session, store)`` and ``on_cluster_added(session, cluster)``, called by the infra service
  (prepare the layout and make the seeded simulator template ready in a zone with a simulator cluster);
  ``ensure_builtin(session)`` for seeding. All are idempotent; ``ensure_builtin_ready`` repeats them lazily.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, bindparam, event, exists, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import utcnow
from management.db.prepared import prepared
from management.db.subtree import in_subtree
from management.errors import InvalidStateTransition, ParamError, ResourceUnavailable, logged
from management.models.identity import Account, Domain
from management.models.infra import Cluster, Host, ImageStore, StoragePool, Zone
from management.models.offerings import OsType
from management.models.storage import Snapshot, Template, TemplatePermission, TemplateStoreRef, Volume
from management.services import access
from management.services.cache import TTLCache
from management.services.context import Caller
from management.services.infra import infra
from management.services.runtime import Runtime
from management.storage import download as dl
from management.storage.secondary import ImageStoreLayout, StoreError

log = logging.getLogger(__name__)

BUILTIN_NAME = "CentOS 5.6 (64-bit) no GUI (Simulator)"
BUILTIN_OS = "CentOS 5.6 (64-bit)"
BUILTIN_SIZE = 2 * 1024**3  # a sparse file: the simulator only needs a size
SYSTEM_ACCOUNT_ID = 1

# TemplateStoreRef.download_state values (CloudStack's VMTemplateStorageResourceAssoc.Status)
NOT_DOWNLOADED = "NOT_DOWNLOADED"
IN_PROGRESS = "DOWNLOAD_IN_PROGRESS"
DOWNLOADED = "DOWNLOADED"
ERROR = "DOWNLOAD_ERROR"

FILTERS = ("featured", "self", "selfexecutable", "sharedexecutable", "executable", "community", "all")
FORMATS = ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "ISO", "TAR", "VMDK")
MAX_TEMPLATE_BYTES = 50 * 1024**3  # CloudStack's max.template.iso.size default (50 GB)


# ------------------------------------------------------------------------------------------------ visibility

def _shared_with(session: Session, template_id: int, account_id: int) -> bool:
    return session.scalar(select(TemplatePermission.id).where(TemplatePermission.template_id == template_id,
                                                              TemplatePermission.account_id == account_id)) \
        is not None


def _template_visible(session: Session, caller: Caller, row: Template, access_kind: str) -> bool:
    if access.can_access_owner(session, caller, row.account_id, row.domain_id):
        return True
    if access_kind != "read":
        return False
    return bool(row.is_public) or _shared_with(session, row.id, caller.account_id)


access.register_entity("Template", Template, "owned", visible=_template_visible)
access.register_entity("Iso", Template, "owned", visible=_template_visible)


def usable_by(caller: Caller) -> object:
    """SQL condition: templates the caller may launch (own, public, shared with it)."""
    shared = select(TemplatePermission.id).where(TemplatePermission.template_id == Template.id,
                                                 TemplatePermission.account_id == caller.account_id).exists()
    return or_(Template.account_id == caller.account_id, Template.is_public.is_(True), shared)


def filter_condition(session: Session, caller: Caller, flt: str) -> object | None:
    """CloudStack's templatefilter/isofilter semantics; None = no restriction (admin `all`)."""
    flt = flt.lower()
    if flt not in FILTERS:
        raise ParamError(f"Invalid value {flt} for templatefilter; valid: {', '.join(FILTERS)}")
    own = Template.account_id == caller.account_id
    if caller.is_domain_admin and flt in ("self", "selfexecutable", "all"):
        sub = select(Domain.id).where(in_subtree(Domain.path, caller.domain_path))
        own = or_(own, Template.domain_id.in_(sub))
    shared = select(TemplatePermission.id).where(TemplatePermission.template_id == Template.id,
                                                 TemplatePermission.account_id == caller.account_id).exists()
    featured = and_(Template.is_featured.is_(True), Template.is_public.is_(True))
    community = and_(Template.is_public.is_(True), Template.is_featured.is_(False))
    if flt == "featured":
        return featured
    if flt in ("self", "selfexecutable"):
        return own
    if flt == "sharedexecutable":
        return shared
    if flt == "community":
        return community
    if flt == "executable":
        return or_(own, Template.is_public.is_(True), shared)
    # all
    if caller.is_root_admin:
        return None
    return or_(own, Template.is_public.is_(True), shared)


def executable_only(flt: str) -> bool:
    return flt.lower() in ("selfexecutable", "sharedexecutable", "executable", "featured", "community")


# ------------------------------------------------------------------------------------------------ stores

def layout(store: ImageStore) -> ImageStoreLayout:
    return ImageStoreLayout(store.local_path)


def image_stores(session: Session, zone_id: int | None = None) -> list[ImageStore]:
    stmt = select(ImageStore).where(ImageStore.removed.is_(None), ImageStore.role == "Image")
    if zone_id is not None:
        stmt = stmt.where(or_(ImageStore.zone_id == zone_id, ImageStore.zone_id.is_(None)))
    return list(session.scalars(stmt.order_by(ImageStore.id)))


def writable_store(session: Session, zone: Zone) -> ImageStore:
    """The image store a new copy goes to in a zone: the one with the most free space."""
    stores = [s for s in image_stores(session, zone.id) if not s.readonly]
    if not stores:
        raise ResourceUnavailable(f"Cannot find any image store in zone {zone.name}; add one with addImageStore")

    def free(s: ImageStore) -> int:
        try:
            return layout(s).space().free_bytes
        except StoreError:
            return -1

    return max(stores, key=free)


def refresh_store_space(store: ImageStore) -> None:
    with contextlib.suppress(StoreError):
        sp = layout(store).space()
        store.total_bytes, store.used_bytes = sp.total_bytes, sp.used_bytes


# ------------------------------------------------------------------------------------------------ states

def to_ready(session: Session, ref: TemplateStoreRef) -> None:
    """Walks a copy's state to Ready through the table (fsm.transition is the only writer of ref.state)."""
    if ref.id is None:
        session.add(ref)
        session.flush()
    if ref.state in ("Failed",):
        fsm.transition(session, ref, "CreateRequested")
    if ref.state == "Allocated":
        fsm.transition(session, ref, "CreateRequested")
    if ref.state in ("Creating", "Created", "Copying", "Migrating"):
        fsm.transition(session, ref, "OperationSuccessed")


def _new_ready_ref(session: Session, **cols: object) -> TemplateStoreRef:
    ref = TemplateStoreRef(**cols)  # born Allocated
    session.add(ref)
    session.flush()
    to_ready(session, ref)
    return ref


# ------------------------------------------------------------------------------------------------ builtin

def _os_type_id(session: Session, name: str) -> int | None:
    return session.scalar(select(OsType.id).where(OsType.display_name == name).order_by(OsType.id).limit(1))


def ensure_builtin(session: Session) -> Template:
    """The seeded simulator template (BUILTIN, featured, public), as CloudStack's templates.simulator.sql."""
    tmpl = session.scalar(select(Template).where(Template.name == BUILTIN_NAME, Template.template_type == "BUILTIN",
                                                 Template.removed.is_(None)))
    if tmpl is None:
        acct = session.get(Account, SYSTEM_ACCOUNT_ID)
        if acct is None:
            raise ResourceUnavailable("the database is not bootstrapped (no SYSTEM account)")
        tmpl = Template(name=BUILTIN_NAME, display_text=BUILTIN_NAME, format="VHD", hypervisor_type="Simulator",
                        template_type="BUILTIN", url="http://nfs1.lab.vmops.com/templates/centos53-x86_64/"
                        "latest/f59f18fb-ae94-4f97-afd2-f84755767aca.vhd.bz2", account_id=acct.id,
                        domain_id=acct.domain_id, is_public=True, is_featured=True, is_extractable=True,
                        password_enabled=False, sshkey_enabled=False, bootable=True, cross_zones=True,
                        size=BUILTIN_SIZE, os_type_id=_os_type_id(session, BUILTIN_OS), state="Active",
                        checksum=None)
        session.add(tmpl)
        session.flush()
    elif tmpl.os_type_id is None:
        tmpl.os_type_id = _os_type_id(session, BUILTIN_OS)
    return tmpl


def _zone_has_simulator(session: Session, zone_id: int) -> bool:
    return session.scalar(select(Cluster.id).where(Cluster.zone_id == zone_id, Cluster.removed.is_(None),
                                                   func.lower(Cluster.hypervisor_type) == "simulator").limit(1)) \
        is not None


def _place_builtin(session: Session, tmpl: Template, store: ImageStore) -> None:
    exists_ref = session.scalar(select(TemplateStoreRef).where(TemplateStoreRef.template_id == tmpl.id,
                                                               TemplateStoreRef.store_id == store.id))
    if exists_ref is not None and exists_ref.download_state == DOWNLOADED:
        return
    lay = layout(store)
    rel = lay.template_rel(tmpl.account_id, tmpl.id, tmpl.uuid, tmpl.format)
    try:
        lay.ensure()
        if not lay.exists(rel):
            lay.write_sparse(rel, BUILTIN_SIZE, head=b"devcloud simulator template\n")
    except (StoreError, OSError) as exc:
        log.warning("cannot place the simulator template in store %s: %s", store.name, exc)
        return
    ref = exists_ref or TemplateStoreRef(template_id=tmpl.id, store_id=store.id, zone_id=store.zone_id,
                                         created=utcnow())
    ref.download_state, ref.download_pct = DOWNLOADED, 100
    ref.install_path, ref.size, ref.physical_size = rel, BUILTIN_SIZE, lay.usage_of(rel)
    ref.last_updated = utcnow()
    to_ready(session, ref)
    session.flush()


def on_image_store_added(session: Session, store: ImageStore) -> None:
    """Hook for addImageStore: prepares the directory layout, records its space, and makes the seeded simulator
    template ready there when the zone has (or later gets) a simulator cluster."""
    with contextlib.suppress(StoreError):
        layout(store).ensure()
    refresh_store_space(store)
    if store.zone_id is not None and _zone_has_simulator(session, store.zone_id):
        _place_builtin(session, ensure_builtin(session), store)


def on_cluster_added(session: Session, cluster: Cluster) -> None:
    """Hook for addCluster: a zone's first simulator cluster makes the seeded template ready in its image stores."""
    if cluster.hypervisor_type.lower() != "simulator":
        return
    stores = session.scalars(select(ImageStore).where(ImageStore.zone_id == cluster.zone_id, ImageStore.role == "Image",
                                                      ImageStore.removed.is_(None))).all()
    if stores:
        tmpl = ensure_builtin(session)
        for store in stores:
            _place_builtin(session, tmpl, store)


if on_image_store_added not in infra.IMAGE_STORE_ADDED_HOOKS:
    infra.IMAGE_STORE_ADDED_HOOKS.append(on_image_store_added)
if on_cluster_added not in infra.CLUSTER_ADDED_HOOKS:
    infra.CLUSTER_ADDED_HOOKS.append(on_cluster_added)


# "The simulator template is in every store that needs it", known for a while: a deploy from it asks each time.
# Stores and clusters added here invalidate it at once (and place it through their hooks anyway).
_BUILTIN_PLACED: TTLCache[bool | None] = TTLCache(10.0, watch=(ImageStore, Cluster, Template, TemplateStoreRef))


def ensure_builtin_ready(session: Session) -> None:
    """Lazily: the simulator template is ready in every zone that has an image store and a simulator cluster."""
    _BUILTIN_PLACED.get(str(session.get_bind().engine.url), lambda: _place_builtin_where_missing(session), session)


def _place_builtin_where_missing(session: Session) -> bool | None:
    """True when no store lacked the template (cacheable); None when this call had to place it."""
    zones_missing = select(ImageStore).where(
        ImageStore.removed.is_(None), ImageStore.role == "Image", ImageStore.zone_id.is_not(None),
        exists().where(Cluster.zone_id == ImageStore.zone_id, Cluster.removed.is_(None),
                       func.lower(Cluster.hypervisor_type) == "simulator"),
        ~exists().where(TemplateStoreRef.store_id == ImageStore.id, TemplateStoreRef.template_id == Template.id,
                        Template.name == BUILTIN_NAME, Template.template_type == "BUILTIN",
                        Template.removed.is_(None)))
    stores = list(session.scalars(zones_missing))
    if not stores:
        return True
    # A fallback for stores made before these hooks ran (the normal path is on_image_store_added and
    # on_cluster_added). Reached from read-only requests: on SQLite the write may lose the lock race; the next
    # call then does it.
    try:
        with session.begin_nested():
            tmpl = ensure_builtin(session)
            for store in stores:
                _place_builtin(session, tmpl, store)
    except OperationalError as exc:
        log.info("simulator template not placed yet (%s); will retry", exc.orig)
    return None  # placed in this transaction, which may still roll back: the next call looks again


# ------------------------------------------------------------------------------------------------ registration

@dataclass(slots=True)
class RegisterRequest:
    name: str
    display_text: str | None
    url: str
    format: str
    hypervisor: str | None
    zones: list[Zone] | None  # None: every zone (zoneid=-1)
    checksum: str | None = None
    os_type_id: int | None = None
    is_public: bool = False
    is_featured: bool = False
    is_extractable: bool = False
    password_enabled: bool = False
    sshkey_enabled: bool = False
    bootable: bool = True
    requires_hvm: bool = True
    template_type: str = "USER"
    details: dict[str, str] | None = None


def register(session: Session, caller: Caller, owner: Account, req: RegisterRequest) -> tuple[Template, list[int]]:
    """Creates the template and one store ref per zone; returns the ref ids to download (see start_downloads)."""
    fmt = req.format.upper()
    if fmt not in FORMATS:
        raise ParamError(f"Invalid format {req.format}; supported: {', '.join(FORMATS)}")
    try:
        dl.check_url(req.url)
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    try:
        dl.parse_checksum(req.checksum)
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    if req.is_featured and not caller.is_root_admin:
        raise ParamError("Only admins can create featured templates")  # CloudStack: isfeatured needs admin
    zones = req.zones
    if zones is None:
        zones = list(session.scalars(select(Zone).where(Zone.removed.is_(None)).order_by(Zone.id)))
        zones = [z for z in zones if image_stores(session, z.id)]
        if not zones:
            raise ResourceUnavailable("Cannot find any image store in any zone; add one with addImageStore")
    stores = [(z, writable_store(session, z)) for z in zones]
    tmpl = Template(name=req.name, display_text=req.display_text or req.name, format=fmt,
                    hypervisor_type=None if fmt == "ISO" else req.hypervisor, template_type=req.template_type,
                    url=req.url, checksum=req.checksum, os_type_id=req.os_type_id, account_id=owner.id,
                    domain_id=owner.domain_id, is_public=req.is_public, is_featured=req.is_featured,
                    is_extractable=req.is_extractable, password_enabled=req.password_enabled,
                    sshkey_enabled=req.sshkey_enabled, bootable=req.bootable, requires_hvm=req.requires_hvm,
                    cross_zones=req.zones is None, state="Active",
                    details_json=json.dumps(req.details) if req.details else None)
    session.add(tmpl)
    session.flush()
    ids = []
    for zone, store in stores:
        ref = TemplateStoreRef(template_id=tmpl.id, store_id=store.id, zone_id=zone.id, download_state=NOT_DOWNLOADED,
                               download_pct=0, created=utcnow(), last_updated=utcnow())
        session.add(ref)
        session.flush()
        ids.append(ref.id)
    return tmpl, ids


# ------------------------------------------------------------------------------------------------ downloads

_EXECUTOR_KEY = "template_downloads"
_executor_lock = threading.Lock()


def _executor(runtime: Runtime) -> ThreadPoolExecutor:
    with _executor_lock:
        ex = runtime.extras.get(_EXECUTOR_KEY)
        if ex is None:
            ex = runtime.extras[_EXECUTOR_KEY] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="download")
        return ex  # type: ignore[no-any-return]


def start_downloads(runtime: Runtime, session: Session, ref_ids: Iterable[int]) -> None:
    """Downloads the refs in the background once ``session`` commits (never before: the rows must exist)."""
    ids = list(ref_ids)
    if not ids:
        return

    def launch(_session: Session) -> None:
        submit(runtime, ids)

    event.listen(session, "after_commit", launch, once=True)


_ACTIVE: set[tuple[int, int]] = set()  # (id(runtime), ref id) downloads queued or running in this process


def submit(runtime: Runtime, ref_ids: Iterable[int]) -> None:
    ex = _executor(runtime)
    for rid in ref_ids:
        key = (id(runtime), rid)
        with _executor_lock:
            if key in _ACTIVE:
                continue
            _ACTIVE.add(key)
        ex.submit(_download_guarded, runtime, rid)


def resume_downloads(runtime: Runtime) -> int:
    """Restarts the downloads a previous server process left unfinished (NOT_DOWNLOADED / in progress);
    runs once per process, lazily from listTemplates/listIsos. Returns how many were queued."""
    with _executor_lock:
        if runtime.extras.get("template_downloads_resumed"):
            return 0
        runtime.extras["template_downloads_resumed"] = True
    with runtime.db.session(write=False) as s:
        ids = list(s.scalars(select(TemplateStoreRef.id).join(Template, Template.id == TemplateStoreRef.template_id)
                             .where(TemplateStoreRef.download_state.in_((NOT_DOWNLOADED, IN_PROGRESS)),
                                    Template.removed.is_(None), Template.url.is_not(None))))
    submit(runtime, ids)
    return len(ids)


def _download_guarded(runtime: Runtime, ref_id: int) -> None:
    try:
        download_ref(runtime, ref_id)
    except Exception:  # a background thread: log, and leave an error status rather than a stuck download
        log.exception("template download %s failed", ref_id)
        with contextlib.suppress(Exception):
            _fail(runtime, ref_id, "Internal error during download")
    finally:
        with _executor_lock:
            _ACTIVE.discard((id(runtime), ref_id))


def _fail(runtime: Runtime, ref_id: int, text: str) -> None:
    with runtime.db.session() as s:
        ref = s.get(TemplateStoreRef, ref_id)
        if ref is None or ref.download_state == DOWNLOADED:
            return
        ref.download_state, ref.error_str, ref.last_updated = ERROR, text, utcnow()
        if ref.state == "Creating":
            fsm.transition(s, ref, "OperationFailed")


def _set(runtime: Runtime, ref_id: int, **values: object) -> None:
    with runtime.db.session() as s:
        s.execute(update(TemplateStoreRef).where(TemplateStoreRef.id == ref_id).values(last_updated=utcnow(),
                                                                                      **values))


def download_ref(runtime: Runtime, ref_id: int) -> None:
    """Fetches one template copy into its store, recording progress; the worker of ``start_downloads``."""
    with runtime.db.session(write=False) as s:
        ref = s.get(TemplateStoreRef, ref_id)
        if ref is None or ref.download_state == DOWNLOADED:
            return
        tmpl = s.get_one(Template, ref.template_id)
        store = s.get_one(ImageStore, ref.store_id)
        url, fmt, checksum = tmpl.url or "", tmpl.format, tmpl.checksum
        lay = layout(store)
        rel = lay.template_rel(tmpl.account_id, tmpl.id, tmpl.uuid, fmt)
    with runtime.db.session() as s:
        ref = s.get_one(TemplateStoreRef, ref_id)
        ref.download_state, ref.download_pct, ref.error_str, ref.last_updated = IN_PROGRESS, 0, None, utcnow()
        if ref.state == "Creating":  # left half-done by a previous process: start over
            fsm.transition(s, ref, "OperationFailed")
        fsm.transition(s, ref, "CreateRequested")  # Allocated/Failed -> Creating
    last = {"pct": -1, "t": 0.0}

    def progress(done: int, total: int | None) -> None:
        if not total:
            return
        pct = min(int(done * 100 / total), 100)
        now = time.monotonic()
        if pct != last["pct"] and (now - last["t"] >= 0.2 or pct == 100):
            last["pct"], last["t"] = pct, now
            _set(runtime, ref_id, download_pct=pct)

    try:
        cks = dl.parse_checksum(checksum)
        lay.ensure()
        with lay.atomic_path(rel) as tmp:
            with open(tmp, "wb") as fh:
                dl.fetch(url, fh, checksum=cks, progress=progress, max_bytes=MAX_TEMPLATE_BYTES)
            info = dl.image_info(str(tmp), fmt)
    except (dl.DownloadError, StoreError, ValueError, OSError) as exc:
        log.info("download of template %s into %s failed: %s", url, store.local_path, exc)
        _fail(runtime, ref_id, str(exc) or type(exc).__name__)
        return
    with runtime.db.session() as s:
        ref = s.get(TemplateStoreRef, ref_id)
        live = s.get(Template, ref.template_id) if ref is not None else None
        if ref is None or live is None or live.removed is not None:
            lay.remove(rel)  # deleted while downloading
            return
        complete_ref(s, ref, rel, info)


def complete_ref(s: Session, ref: TemplateStoreRef, rel: str, info: dl.ImageInfo) -> None:
    """A template copy whose file is in place (downloaded, or uploaded by POST): Ready, with its sizes."""
    tmpl = s.get_one(Template, ref.template_id)
    if ref.state == "Allocated":  # an upload never went through a download's CreateRequested
        fsm.transition(s, ref, "CreateRequested")
    ref.download_state, ref.download_pct = DOWNLOADED, 100
    ref.install_path, ref.size, ref.physical_size = rel, info.virtual_size, info.physical_size
    ref.error_str, ref.last_updated = None, utcnow()
    to_ready(s, ref)
    if not tmpl.size or tmpl.size < info.virtual_size:
        tmpl.size = info.virtual_size
    st = s.get(ImageStore, ref.store_id)
    if st is not None:
        refresh_store_space(st)


def wait_idle(runtime: Runtime, timeout: float = 30.0) -> None:
    """For tests and shutdown: waits until queued downloads have finished."""
    ex = runtime.extras.get(_EXECUTOR_KEY)
    if ex is None:
        return
    done = threading.Event()
    ex.submit(done.set)
    done.wait(timeout)


def shutdown(runtime: Runtime) -> None:
    ex = runtime.extras.pop(_EXECUTOR_KEY, None)
    if ex is not None:
        ex.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------------------------------------ status

def status_text(ref: TemplateStoreRef) -> str:
    """CloudStack's TemplateResponse.status for one copy."""
    if ref.download_state == DOWNLOADED:
        return "Download Complete"
    if ref.download_state == IN_PROGRESS:
        return "Installing Template" if ref.download_pct >= 100 else f"{ref.download_pct}% Downloaded"
    if ref.download_state == ERROR:
        return ref.error_str or "Download Failed"
    if ref.error_str:
        return ref.error_str
    return "Not Downloaded" if ref.state != "Ready" else "Download Complete"


def is_ready(ref: TemplateStoreRef) -> bool:
    return ref.download_state == DOWNLOADED and ref.state == "Ready"


def ready_ref(session: Session, template: Template, zone_id: int) -> TemplateStoreRef | None:
    return session.scalar(prepared("template-ready-ref", lambda: select(TemplateStoreRef).where(
        TemplateStoreRef.template_id == bindparam("template_id"), TemplateStoreRef.zone_id == bindparam("zone_id"),
        TemplateStoreRef.download_state == DOWNLOADED, TemplateStoreRef.state == "Ready")
        .order_by(TemplateStoreRef.id).limit(1)), {"template_id": template.id, "zone_id": zone_id})


def source_for_pool(session: Session, template: Template, zone: Zone) -> tuple[str, str]:
    """(template uuid, absolute path of the downloaded file in the zone's image store) for prepare_template.

    Raises ResourceUnavailable (534) when the template is not ready in that zone."""
    if template.template_type == "BUILTIN":
        ensure_builtin_ready(session)
    ref = ready_ref(session, template, zone.id)
    if ref is None or not ref.install_path:
        raise ResourceUnavailable(f"Template {template.name} is not ready in zone {zone.name}")
    store = session.get_one(ImageStore, ref.store_id)
    path = layout(store).abs(ref.install_path)
    if not path.is_file():
        raise ResourceUnavailable(f"Template {template.name}: its file {path} is missing from image store "
                                  f"{store.name}")
    return template.uuid, str(path)


# ------------------------------------------------------------------------------------------------ changes

def in_use_by(session: Session, template: Template) -> list[str]:
    from management.models.compute import VirtualMachine

    col = VirtualMachine.iso_id if template.format == "ISO" else VirtualMachine.template_id
    return list(session.scalars(select(VirtualMachine.uuid).where(
        col == template.id, VirtualMachine.removed.is_(None),
        VirtualMachine.state.not_in(("Expunging", "Error")))))


def delete(session: Session, template: Template, zone: Zone | None = None, forced: bool = False) -> None:
    """Removes the copies (in one zone, or all) and their files; the template is removed with its last copy."""
    kind = "ISO" if template.format == "ISO" else "template"
    if template.template_type == "SYSTEM":
        raise ParamError(f"Unable to delete the system {kind} {template.name}")
    users = in_use_by(session, template)
    if users and not forced:
        raise ParamError(f"Unable to delete {kind} with id: {template.uuid} because VM instances: "
                         f"[{', '.join(users)}] are using it.")
    stmt = select(TemplateStoreRef).where(TemplateStoreRef.template_id == template.id)
    if zone is not None:
        stmt = stmt.where(TemplateStoreRef.zone_id == zone.id)
    refs = list(session.scalars(stmt))
    if zone is not None and not refs:
        raise ParamError(f"The {kind} {template.uuid} is not available in zone {zone.name}")
    for ref in refs:
        store = session.get(ImageStore, ref.store_id)
        if store is not None:
            lay = layout(store)
            rel = ref.install_path or lay.template_rel(template.account_id, template.id, template.uuid,
                                                       template.format)
            with contextlib.suppress(StoreError, OSError):
                lay.remove_dir(str(Path(rel).parent))
            refresh_store_space(store)
        session.delete(ref)
    session.flush()
    left = session.scalar(select(func.count()).select_from(TemplateStoreRef)
                          .where(TemplateStoreRef.template_id == template.id))
    if not left:
        template.removed = utcnow()
        template.state = "Inactive"


def copy(session: Session, template: Template, source_zone: Zone | None, dest_zone: Zone) -> TemplateStoreRef:
    """Copies a ready template between zones' image stores (what copyTemplate does through the SSVMs)."""
    if source_zone is None:
        src_ref = session.scalar(select(TemplateStoreRef).where(
            TemplateStoreRef.template_id == template.id, TemplateStoreRef.download_state == DOWNLOADED)
            .order_by(TemplateStoreRef.id).limit(1))
    else:
        src_ref = ready_ref(session, template, source_zone.id)
    if src_ref is None or not src_ref.install_path:
        where = f" in zone {source_zone.name}" if source_zone else ""
        raise ParamError(f"Template {template.name} is not ready{where}, it cannot be copied")
    if src_ref.zone_id == dest_zone.id:
        raise ParamError("Please specify a different source zone and destination zone.")
    existing = ready_ref(session, template, dest_zone.id)
    if existing is not None:
        return existing
    src_store = session.get_one(ImageStore, src_ref.store_id)
    dest_store = writable_store(session, dest_zone)
    src_path = layout(src_store).abs(src_ref.install_path)
    lay = layout(dest_store)
    rel = src_ref.install_path
    try:
        lay.ensure()
        lay.copy_in(src_path, rel)
    except (StoreError, OSError) as exc:
        raise logged(ResourceUnavailable, f"Failed to copy template {template.name} to zone {dest_zone.name}",
                     exc) from None
    ref = session.scalar(select(TemplateStoreRef).where(TemplateStoreRef.template_id == template.id,
                                                        TemplateStoreRef.store_id == dest_store.id))
    if ref is None:
        ref = TemplateStoreRef(template_id=template.id, store_id=dest_store.id, zone_id=dest_zone.id,
                               created=utcnow())
    ref.download_state, ref.download_pct, ref.error_str = DOWNLOADED, 100, None
    ref.install_path, ref.size, ref.physical_size = rel, src_ref.size, src_ref.physical_size
    ref.last_updated = utcnow()
    to_ready(session, ref)
    refresh_store_space(dest_store)
    session.flush()
    return ref


def set_permissions(session: Session, caller: Caller, template: Template, *, is_public: bool | None,
                    is_featured: bool | None, is_extractable: bool | None, accounts: list[Account] | None,
                    op: str | None) -> None:
    if template.template_type in ("SYSTEM",) and not caller.is_root_admin:
        raise ParamError("Only the root admin can change a system template")
    if is_featured is not None:
        if not caller.is_root_admin and is_featured:
            raise ParamError("Only admins can set a template featured")
        template.is_featured = is_featured
    if is_public is not None:
        template.is_public = is_public
    if is_extractable is not None:
        template.is_extractable = is_extractable
    if accounts is not None or op is not None:
        if op is None or op.lower() not in ("add", "remove", "reset"):
            raise ParamError("op must be one of add, remove, reset when accounts are given")
        op = op.lower()
        if op == "reset":
            session.query(TemplatePermission).filter(TemplatePermission.template_id == template.id).delete()
        elif not accounts:
            raise ParamError("accounts (or projectids) are required with op=add/remove")
        for acct in accounts or []:
            row = session.scalar(select(TemplatePermission).where(TemplatePermission.template_id == template.id,
                                                                  TemplatePermission.account_id == acct.id))
            if op == "add" and row is None and acct.id != template.account_id:
                session.add(TemplatePermission(template_id=template.id, account_id=acct.id))
            elif op == "remove" and row is not None:
                session.delete(row)
    template.update_count += 1
    session.flush()


def permitted_accounts(session: Session, template: Template) -> list[Account]:
    return list(session.scalars(select(Account).join(TemplatePermission, TemplatePermission.account_id == Account.id)
                                .where(TemplatePermission.template_id == template.id).order_by(Account.id)))


# ------------------------------------------------------------------------------------------------ createTemplate

def _driver_for_pool(session: Session, pool: StoragePool) -> object | None:
    """A driver on a host that sees the pool (cluster scope: the cluster's hosts; zone scope: the zone's)."""
    from management.drivers.registry import driver_for_host

    stmt = select(Host).where(Host.removed.is_(None), Host.type == "Routing", Host.zone_id == pool.zone_id)
    if pool.host_id is not None:
        stmt = stmt.where(Host.id == pool.host_id)
    elif pool.cluster_id is not None:
        stmt = stmt.where(Host.cluster_id == pool.cluster_id)
    stmt = stmt.order_by((Host.status == "Up").desc(), Host.id)
    for host in session.scalars(stmt):
        try:
            return driver_for_host(host.url, host.hypervisor_type)
        except Exception:  # noqa: BLE001 - try the next host
            log.debug("no driver for host %s", host.url, exc_info=True)
    return None


def fill_from_volume(session: Session, template: Template, volume: Volume | None,
                     snapshot: Snapshot | None) -> TemplateStoreRef:
    """The job half of createTemplate: copies the volume's (or the snapshot's) data into the zone's store.

    The hypervisor driver is asked where the volume (``get_volume``) or the snapshot (``get_volume_snapshot``) lives.
    When that path is a real file (libvirt dir/NFS pools) its bytes are copied; the simulator keeps no bytes, so its
    templates get a marker file and the recorded virtual size (honest about having no content)."""
    source_vol = volume if volume is not None else (session.get(Volume, snapshot.volume_id) if snapshot else None)
    if source_vol is None:
        raise ParamError("createTemplate needs a volumeid or a snapshotid whose volume still exists")
    zone = session.get_one(Zone, source_vol.zone_id)
    store = writable_store(session, zone)
    lay = layout(store)
    rel = lay.template_rel(template.account_id, template.id, template.uuid, template.format)
    size = (snapshot.size if snapshot is not None and snapshot.size else source_vol.size) or 0
    data_path: str | None = None
    if source_vol.pool_id is not None:
        pool = session.get(StoragePool, source_vol.pool_id)
        drv = _driver_for_pool(session, pool) if pool is not None else None
        if drv is not None and pool is not None:
            info = None
            for name in (pool.uuid, pool.name):
                try:
                    info = drv.get_volume(name, source_vol.uuid)  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - pool named differently on this driver
                    info = None
                if info is not None:
                    break
            if info is not None and snapshot is not None:
                # the snapshot's own image, where the driver keeps one (its size stays the one it was taken at)
                try:
                    info = drv.get_volume_snapshot(name, source_vol.uuid, snapshot.uuid)  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - no readable copy: the template gets the marker below
                    info = None
            elif info is not None:
                size = info.size_bytes or size
            if info is not None and info.path and os.path.isfile(info.path):
                data_path = info.path
    try:
        lay.ensure()
        if data_path is not None:
            lay.copy_in(data_path, rel)
            try:
                vsize = dl.image_info(str(lay.abs(rel)), template.format).virtual_size
            except dl.DownloadError:
                vsize = size
        else:
            marker = json.dumps({"devcloud": "template without content", "source_volume": source_vol.uuid,
                                 "source_snapshot": snapshot.uuid if snapshot else None,
                                 "virtual_size": size}).encode() + b"\n"
            lay.write_bytes(rel, marker)
            vsize = size
    except (StoreError, OSError) as exc:
        raise logged(ResourceUnavailable,
                     f"Failed to write template {template.name} to image store {store.name}", exc) from None
    ref = _new_ready_ref(session, template_id=template.id, store_id=store.id, zone_id=zone.id,
                         download_state=DOWNLOADED, download_pct=100, install_path=rel, size=vsize,
                         physical_size=lay.usage_of(rel), created=utcnow(), last_updated=utcnow())
    template.size = vsize
    template.state = "Active"
    refresh_store_space(store)
    session.flush()
    return ref


def check_source_volume(volume: Volume | None, snapshot: Snapshot | None) -> None:
    if volume is None and snapshot is None:
        raise ParamError("Failed to create private template record, need to specify snapshotId or volumeId")
    if volume is not None and snapshot is not None:
        raise ParamError("Failed to create private template record, please specify only one of volume ID "
                         "(volumeId) and snapshot ID (snapshotId)")
    if volume is not None and volume.state != "Ready":
        raise InvalidStateTransition(f"Volume {volume.uuid} is not in Ready state (it is {volume.state}); a "
                                     "template can only be created from a ready volume")
    if snapshot is not None and snapshot.state not in ("BackedUp", "CreatedOnPrimary"):
        raise InvalidStateTransition(f"Snapshot {snapshot.uuid} is not backed up (state {snapshot.state})")


# ------------------------------------------------------------------------------------------------ listing

def list_refs_stmt(session: Session, caller: Caller, *, isos: bool, flt: str) -> Select[Any]:
    """One representative TemplateStoreRef id per (template, zone) the caller may see with the filter."""
    cond = filter_condition(session, caller, flt)
    stmt = (select(func.min(TemplateStoreRef.id).label("rid"))
            .join(Template, Template.id == TemplateStoreRef.template_id)
            .where(Template.removed.is_(None)))
    stmt = stmt.where(Template.format == "ISO") if isos else stmt.where(Template.format != "ISO")
    if cond is not None:
        stmt = stmt.where(cond)  # type: ignore[arg-type]
    if not caller.is_root_admin:
        stmt = stmt.where(Template.template_type.not_in(("SYSTEM", "ROUTING")))
    if executable_only(flt):
        stmt = stmt.where(TemplateStoreRef.download_state == DOWNLOADED)
    return stmt


__all__ = [
    "BUILTIN_NAME", "RegisterRequest", "copy", "delete", "ensure_builtin", "ensure_builtin_ready", "fill_from_volume",
    "on_cluster_added", "on_image_store_added", "register", "set_permissions", "source_for_pool", "start_downloads",
    "status_text",
]
