"""Moving images in and out of the cloud through the management server: extractVolume / extractTemplate /
extractIso as a signed download URL, uploadVolume from a URL, and the signed POST form CloudStack's UI uses
(getUploadParamsForVolume / Template / Iso).

CloudStack serves both from its secondary storage VM (``https://<ssvm>/userdata/<file>`` and a POST to
``https://<ssvm>/upload/<uuid>``); here the management server's API listener serves them:

* ``GET /userdata/<token>/<file name>``: the token (HMAC-SHA256 under ``<state_dir>/transfer.secret``) names the
  image store and the store-relative path, and expires after ``extract.url.expiration.interval`` seconds.
* ``POST /upload/<entity uuid>`` with the ``x-signature``, ``x-metadata`` and ``x-expires`` headers (or form
  fields) getUploadParams* returned, and the file as the ``file`` part of a multipart form (or the raw body):
  the metadata names what the file becomes; the signature covers URL, metadata and expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from management import fsm, statedir
from management.db.base import utcnow
from management.drivers.base import Capability
from management.drivers.errors import DriverError
from management.errors import InternalError, ParamError, ResourceUnavailable
from management.fsm import VolumeEvent
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import ImageStore, StoragePool, Zone
from management.models.offerings import DiskOffering
from management.models.storage import Template, TemplateStoreRef, Volume
from management.models.volume_store import VolumeStoreRef
from management.services import configuration
from management.services.hypervisors import driver_for_volume, tx
from management.services.runtime import Runtime
from management.services.storage import templates as templates_service
from management.storage import download as dl
from management.storage.secondary import StoreError, extension

configuration.register("extract.url.expiration.interval", "14400", "Advanced", "The life of an extract URL after "
                       "which it is deleted ")
configuration.register("upload.operation.timeout", "60", "Storage", "Time (in minutes) to wait for an upload to "
                       "start; after that the upload URL is invalid")
VOLUME_ROOT = "volumes"
FORMATS = ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "VMDK")


# ------------------------------------------------------------------------------------------------- signing

def _secret(state_dir: Path) -> bytes:
    path = Path(state_dir) / "transfer.secret"
    return bytes.fromhex(statedir.create_once(path, secrets.token_hex(32).encode()).decode().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(state_dir: Path, message: str) -> str:
    return _b64(hmac.new(_secret(state_dir), message.encode(), hashlib.sha256).digest())


def download_token(state_dir: Path, store_id: int, rel: str, ttl: float) -> str:
    payload = _b64(json.dumps({"s": store_id, "p": rel, "e": int(time.time() + ttl)}, separators=(",", ":")).encode())
    return f"{payload}.{_mac(state_dir, payload)}"


def read_download_token(state_dir: Path, token: str) -> tuple[int, str]:
    """(store id, store-relative path) of a valid, unexpired token; ValueError otherwise."""
    payload, _, mac = token.partition(".")
    if not mac or not hmac.compare_digest(_mac(state_dir, payload), mac):
        raise ValueError("invalid download link")
    data = json.loads(_unb64(payload))
    if time.time() > int(data["e"]):
        raise ValueError("the download link has expired")
    return int(data["s"]), str(data["p"])


def public_base(session: Session, runtime: Runtime) -> str:
    """Where users reach this management server: CloudStack's `host` setting and the API port."""
    host = (configuration.get(session, "host", "127.0.0.1") or "127.0.0.1").strip()
    bind = runtime.settings.api_bind
    if host in ("", "127.0.0.1") and bind not in ("0.0.0.0", "::", ""):
        host = bind
    return f"http://{host}:{runtime.settings.api_port}"


def upload_signature(state_dir: Path, post_url: str, metadata: str, expires: str) -> str:
    """Signs the URL's path (a proxy in front may rewrite host and port), the metadata and the expiry."""
    return _mac(state_dir, f"{urlsplit(post_url).path}\n{metadata}\n{expires}")


# ------------------------------------------------------------------------------------------------- extract

def _layout(store: ImageStore):  # type: ignore[no-untyped-def]
    return templates_service.layout(store)


def extract_url(session: Session, runtime: Runtime, store: ImageStore, rel: str, filename: str) -> str:
    ttl = configuration.get_float(session, "extract.url.expiration.interval", 14400.0)
    token = download_token(runtime.settings.state_dir, store.id, rel, ttl)
    return f"{public_base(session, runtime)}/userdata/{token}/{filename}"


def extract_volume(runtime: Runtime, vol_id: int, zone: Zone) -> tuple[str, str]:
    """Copies the volume into the zone's image store; returns (URL, state name)."""
    with tx(runtime) as s:
        vol = s.get_one(Volume, vol_id)
        if vol.zone_id != zone.id:
            raise ParamError(f"Please specify a valid zone: volume {vol.uuid} is not in zone {zone.uuid}")
        if vol.state == "Uploaded":  # still on the image store where it was uploaded
            ref = s.scalar(select(VolumeStoreRef).where(VolumeStoreRef.volume_id == vol.id))
            if ref is not None and ref.install_path:
                store = s.get_one(ImageStore, ref.store_id)
                return extract_url(s, runtime, store, ref.install_path, os.path.basename(ref.install_path)), \
                    "DOWNLOAD_URL_CREATED"
        if vol.state != "Ready" or vol.pool_id is None:
            raise ParamError(f"Volume {vol.uuid} is not in Ready state; unable to extract it")
        vm = s.get(VirtualMachine, vol.instance_id) if vol.instance_id else None
        if vm is not None and vm.state != "Stopped":
            raise InternalError(f"Unable to extract the volume {vol.uuid}: it is attached to VM {vm.uuid} which is "
                                f"{vm.state}; stop the VM or detach the volume first")
        d = driver_for_volume(runtime, s, vol)
        pool = s.get_one(StoragePool, vol.pool_id)
        store = templates_service.writable_store(s, zone)
        rel = f"{VOLUME_ROOT}/{vol.account_id}/{vol.uuid}/{vol.uuid}.{extension(vol.format or 'QCOW2')}"
        vol_uuid = vol.uuid
    if d is None or not d.supports(Capability.VOLUME_TRANSFER):
        raise InternalError(f"Unable to extract volume {vol_uuid}: no host that reaches it can copy volumes out")
    lay = _layout(store)
    try:
        lay.ensure()
        with lay.atomic_path(rel) as tmp:
            d.export_volume(pool.uuid, vol_uuid, str(tmp))
    except (DriverError, StoreError, OSError) as exc:
        raise InternalError(f"Failed to extract volume {vol_uuid}: {exc}") from None
    with tx(runtime) as s:
        return extract_url(s, runtime, s.get_one(ImageStore, store.id), rel, os.path.basename(rel)), \
            "DOWNLOAD_URL_CREATED"


def template_extract_url(session: Session, runtime: Runtime, ref: TemplateStoreRef) -> str:
    store = session.get_one(ImageStore, ref.store_id)
    rel = ref.install_path or ""
    return extract_url(session, runtime, store, rel, os.path.basename(rel))


def resolve_download(runtime: Runtime, token: str) -> Path:
    """The file a download token grants; ValueError for a bad/expired token or a missing file."""
    store_id, rel = read_download_token(runtime.settings.state_dir, token)
    with runtime.db.session(write=False) as s:
        store = s.get(ImageStore, store_id)
        if store is None or store.removed is not None:
            raise ValueError("the image store of this link is gone")
        path = _layout(store).abs(rel)
    if not path.is_file():
        raise ValueError("the extracted file no longer exists")
    return path


# ------------------------------------------------------------------------------------------------- upload

def _check_format(fmt: str) -> str:
    if fmt.upper() not in FORMATS:
        raise ParamError(f"Image format: {fmt} is invalid. Valid values are {', '.join(FORMATS)}")
    return fmt.upper()


def new_upload_volume(session: Session, owner: Account, zone: Zone, *, name: str, fmt: str,
                      offering: DiskOffering | None, url: str | None, checksum: str | None) -> tuple[Volume, int]:
    """A volume row and its store ref for an upload; returns (volume, store ref id)."""
    fmt = _check_format(fmt)
    if url is not None:
        try:
            dl.check_url(url)
        except ValueError as exc:
            raise ParamError(str(exc)) from None
    try:
        dl.parse_checksum(checksum)
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    store = templates_service.writable_store(session, zone)
    vol = Volume(name=name, account_id=owner.id, domain_id=owner.domain_id, zone_id=zone.id, volume_type="DATADISK",
                 size=0, disk_offering_id=offering.id if offering else None, format=fmt,
                 state="Allocated" if url is not None else "NotUploaded")
    session.add(vol)
    session.flush()
    ref = VolumeStoreRef(volume_id=vol.id, store_id=store.id, zone_id=zone.id, url=url, checksum=checksum,
                         install_path=f"{VOLUME_ROOT}/{owner.id}/{vol.uuid}/{vol.uuid}.{extension(fmt)}",
                         created=utcnow())
    session.add(ref)
    session.flush()
    if url is not None:
        fsm.transition(session, vol, VolumeEvent.UploadRequested)  # Allocated -> UploadOp
    return vol, ref.id


def _finish_volume(runtime: Runtime, ref_id: int, ok: bool, error: str | None = None, size: int = 0,
                   physical: int = 0) -> None:
    with runtime.db.session() as s:
        ref = s.get_one(VolumeStoreRef, ref_id)
        vol = s.get_one(Volume, ref.volume_id)
        if ok:
            ref.download_state, ref.download_pct, ref.size, ref.physical_size = "DOWNLOADED", 100, size, physical
            vol.size = size
        else:
            ref.download_state, ref.error_str = "DOWNLOAD_ERROR", error
        if vol.state in ("UploadOp", "UploadInProgress"):
            fsm.transition(s, vol, VolumeEvent.OperationSucceeded if ok else VolumeEvent.OperationFailed)


def download_volume(runtime: Runtime, ref_id: int) -> None:
    """uploadVolume's download of the URL into the store (runs in the job)."""
    with runtime.db.session(write=False) as s:
        ref = s.get_one(VolumeStoreRef, ref_id)
        store = s.get_one(ImageStore, ref.store_id)
        url, rel, checksum, fmt = ref.url or "", ref.install_path or "", ref.checksum, s.get_one(
            Volume, ref.volume_id).format
    lay = _layout(store)
    try:
        lay.ensure()
        with lay.atomic_path(rel) as tmp:
            with open(tmp, "wb") as fh:
                dl.fetch(url, fh, checksum=dl.parse_checksum(checksum))
            info = dl.image_info(str(tmp), fmt)
    except (dl.DownloadError, StoreError, ValueError, OSError) as exc:
        _finish_volume(runtime, ref_id, False, str(exc) or type(exc).__name__)
        raise InternalError(f"Failed to upload volume from {url}: {exc}") from None
    _finish_volume(runtime, ref_id, True, size=info.virtual_size, physical=info.physical_size)


def upload_params(session: Session, runtime: Runtime, *, kind: str, entity_uuid: str, store: ImageStore, rel: str,
                  fmt: str, checksum: str | None) -> dict[str, str]:
    """getUploadParams*' answer: where to POST, and the signed metadata the POST must carry."""
    minutes = configuration.get_float(session, "upload.operation.timeout", 60.0)
    expires = datetime.fromtimestamp(time.time() + 60 * minutes, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    post_url = f"{public_base(session, runtime)}/upload/{entity_uuid}"
    metadata = _b64(json.dumps({"kind": kind, "id": entity_uuid, "store": store.id, "path": rel, "format": fmt,
                                "checksum": checksum}, separators=(",", ":")).encode())
    signature = upload_signature(runtime.settings.state_dir, post_url, metadata, expires)
    return {"id": entity_uuid, "postURL": post_url, "metadata": metadata, "expires": expires, "signature": signature}


def new_upload_template(session: Session, runtime: Runtime, template: Template, zone: Zone) -> dict[str, str]:
    store = templates_service.writable_store(session, zone)
    rel = templates_service.layout(store).template_rel(template.account_id, template.id, template.uuid,
                                                        template.format)
    ref = TemplateStoreRef(template_id=template.id, store_id=store.id, zone_id=zone.id,
                           download_state=templates_service.NOT_DOWNLOADED, download_pct=0, created=utcnow(),
                           last_updated=utcnow())
    session.add(ref)
    session.flush()
    kind = "iso" if template.format == "ISO" else "template"
    return upload_params(session, runtime, kind=kind, entity_uuid=template.uuid, store=store, rel=rel,
                         fmt=template.format, checksum=template.checksum)


class UploadRefused(Exception):
    """The POST does not carry a valid, unexpired signature for this entity (HTTP 403)."""


def check_upload(runtime: Runtime, post_url: str, entity_uuid: str, metadata: str, expires: str,
                 signature: str) -> dict[str, Any]:
    if not (metadata and expires and signature):
        raise UploadRefused("missing x-signature, x-metadata or x-expires")
    want = upload_signature(runtime.settings.state_dir, post_url, metadata, expires)
    if not hmac.compare_digest(want, signature):
        raise UploadRefused("signature mismatch")
    try:
        deadline = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        meta = json.loads(_unb64(metadata))
    except (ValueError, TypeError) as exc:
        raise UploadRefused(f"malformed upload metadata: {exc}") from None
    if datetime.now(UTC) > deadline:
        raise UploadRefused("the upload URL has expired")
    if meta.get("id") != entity_uuid:
        raise UploadRefused("the metadata names another object")
    return meta  # type: ignore[no-any-return]


def receive_upload(runtime: Runtime, meta: dict[str, Any], chunks: Iterable[bytes] | BinaryIO) -> None:
    """Stores the POSTed file and makes the volume Uploaded / the template Ready (raises UploadRefused or
    ParamError for a duplicate / bad file)."""
    with runtime.db.session(write=False) as s:
        store = s.get_one(ImageStore, int(meta["store"]))
        kind, uuid = meta["kind"], meta["id"]
        if kind == "volume":
            vol = s.scalar(select(Volume).where(Volume.uuid == uuid))
            if vol is None or vol.state != "NotUploaded":
                raise UploadRefused(f"volume {uuid} is not waiting for an upload")
        else:
            tmpl = s.scalar(select(Template).where(Template.uuid == uuid))
            ref = s.scalar(select(TemplateStoreRef).where(TemplateStoreRef.template_id == tmpl.id)) if tmpl else None
            if tmpl is None or ref is None or ref.download_state != templates_service.NOT_DOWNLOADED:
                raise UploadRefused(f"{kind} {uuid} is not waiting for an upload")
    if kind == "volume":
        with runtime.db.session() as s:
            vol = s.scalar(select(Volume).where(Volume.uuid == uuid))
            assert vol is not None
            fsm.transition(s, vol, VolumeEvent.UploadRequested)  # NotUploaded -> UploadInProgress
            vref = s.scalar(select(VolumeStoreRef).where(VolumeStoreRef.volume_id == vol.id))
            assert vref is not None
            vref_id = vref.id
            vref.download_state = "DOWNLOAD_IN_PROGRESS"
    lay = _layout(store)
    rel = str(meta["path"])
    try:
        lay.ensure()
        with lay.atomic_path(rel) as tmp:
            digest = dl.parse_checksum(meta.get("checksum"))
            h = digest.new() if digest is not None else None
            with open(tmp, "wb") as fh:
                source = chunks if not hasattr(chunks, "read") else iter(lambda: chunks.read(1 << 20), b"")  # type: ignore[union-attr]
                for chunk in source:
                    fh.write(chunk)
                    if h is not None:
                        h.update(chunk)
            if digest is not None and h is not None and h.hexdigest() != digest.hexdigest:
                raise ValueError(f"checksum mismatch: expected {digest.hexdigest}, got {h.hexdigest()}")
            info = dl.image_info(str(tmp), meta.get("format"))
    except (ValueError, OSError, StoreError, dl.DownloadError) as exc:
        if kind == "volume":
            _finish_volume(runtime, vref_id, False, str(exc))
        raise ParamError(f"upload failed: {exc}") from None
    if kind == "volume":
        _finish_volume(runtime, vref_id, True, size=info.virtual_size, physical=info.physical_size)
        return
    with runtime.db.session() as s:
        tmpl = s.scalar(select(Template).where(Template.uuid == uuid))
        assert tmpl is not None
        ref = s.scalar(select(TemplateStoreRef).where(TemplateStoreRef.template_id == tmpl.id))
        assert ref is not None
        templates_service.complete_ref(s, ref, rel, info)


# ----------------------------------------------------------------------------------------- first attach

def uploaded_source(session: Session, vol: Volume) -> str:
    """The image-store file of an Uploaded volume, which its first attach imports into primary storage."""
    ref = session.scalar(select(VolumeStoreRef).where(VolumeStoreRef.volume_id == vol.id))
    if ref is None or not ref.install_path:
        raise ResourceUnavailable(f"Volume {vol.uuid} has no uploaded file")
    return str(_layout(session.get_one(ImageStore, ref.store_id)).abs(ref.install_path))
