"""Object storage pools and buckets made through the CloudStack API.

CloudStack's object storage providers (MinIO, Ceph, its Simulator) create buckets on an external S3 service and
users for them. This server serves S3 itself (``management.api.s3`` over ``management.storage.objects``), so its
one provider, named "Simulator" as CloudStack's own test provider is, is real: a pool's url is this server's S3
endpoint, a bucket made with createBucket is a bucket of that endpoint owned by the account, reachable with the
account's API keys (access key = API key, secret = secret key), and versioning and a public-read policy are the
endpoint's own settings. Quota and encryption are recorded, not enforced (the endpoint has neither)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import InternalError, ParamError
from management.models.identity import Account, User
from management.models.infra import ImageStore, Zone
from management.models.objectstore import Bucket, ObjectStore
from management.services.runtime import Runtime
from management.storage import objects as st

PROVIDERS = ("Simulator",)
EXTERNAL = {"minio": "MinIO", "ceph": "Ceph", "cloudian": "Cloudian"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY = "objectstore"


def store_root(runtime: Runtime) -> Path:
    """The secondary image store of the first zone that has one; ``<state_dir>/objects`` when there is none."""
    with runtime.db.session(write=False) as s:
        row = s.execute(select(ImageStore.local_path)
                        .join(Zone, Zone.id == ImageStore.zone_id)
                        .where(ImageStore.removed.is_(None), Zone.removed.is_(None), ImageStore.role == "Image",
                               ImageStore.readonly.is_(False))
                        .order_by(Zone.id, ImageStore.id)).first()
    if row is not None and row[0]:
        return Path(row[0])
    return Path(runtime.settings.state_dir) / "objects"


def open_store(runtime: Runtime) -> st.ObjectStore:
    """The process's one ObjectStore over the S3 root (the S3 endpoint and the API share it and its caches)."""
    cached: tuple[Path, st.ObjectStore] | None = runtime.extras.get(_KEY)
    root = store_root(runtime)
    if cached is None or cached[0] != root:
        cached = (root, st.ObjectStore(root))
        runtime.extras[_KEY] = cached
    return cached[1]


def check_provider(name: str, url: str) -> str:
    if name.lower() in EXTERNAL:
        raise InternalError(f"Failed to add object store: the {EXTERNAL[name.lower()]} object store at {url} cannot "
                            "be managed from here; use the provider Simulator, backed by this server's own S3 "
                            "endpoint")
    if name.lower() != "simulator":
        raise ParamError(f"Unable to find object store provider: {name}")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ParamError(f"Invalid url {url} for the object store: the S3 endpoint, http(s)://host:port")
    return "Simulator"


def validate_bucket_name(name: str) -> None:
    if not _NAME.match(name) or ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
        raise ParamError(f"Invalid Bucket name: {name}. Bucket names can contain only lowercase letters, numbers, "
                         "dots (.), and hyphens (-); they must begin and end with a letter or a number and be "
                         "3-63 characters long")


def owner_keys(session: Session, account: Account, prefer_user: int | None = None) -> tuple[str | None, str | None]:
    """The S3 credentials of an account: a user's API key and secret key (the caller's own when it has them)."""
    users = list(session.scalars(select(User).where(User.account_id == account.id, User.removed.is_(None),
                                                    User.api_key.is_not(None)).order_by(User.id)))
    users.sort(key=lambda u: u.id != prefer_user)
    return (users[0].api_key, users[0].secret_key) if users else (None, None)


def public_policy(name: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{name}/*"]}]})


def apply_settings(runtime: Runtime, b: Bucket) -> None:
    store = open_store(runtime)
    policy = b.policy or "private"
    if policy.lower() not in ("private", "public"):
        raise ParamError(f"Invalid bucket policy {b.policy}: private or public")
    store.set_bucket(b.name, versioning="Enabled" if b.versioning else ("Suspended" if _versioned(store, b) else None),
                     policy=public_policy(b.name) if policy.lower() == "public" else None)


def _versioned(store: st.ObjectStore, b: Bucket) -> bool:
    info = store.bucket(b.name)
    return info is not None and info.versioning is not None


def create(runtime: Runtime, session: Session, b: Bucket, account: Account) -> None:
    store = open_store(runtime)
    try:
        store.create_bucket(b.name, account.uuid, account.name, "us-east-1")
    except st.BucketExists:
        raise InternalError(f"Failed to create bucket {b.name}: a bucket with this name already exists") from None
    apply_settings(runtime, b)


def delete(runtime: Runtime, b: Bucket) -> None:
    try:
        open_store(runtime).delete_bucket(b.name)
    except st.NoSuchBucket:
        return
    except st.BucketNotEmpty:
        raise InternalError(f"Failed to delete bucket {b.name}: the bucket is not empty") from None


def bucket_size(runtime: Runtime, name: str) -> int:
    store = open_store(runtime)
    total, after = 0, None
    while True:
        try:
            page = store.list_keys(name, after=after)
        except st.ObjectStoreError:
            return total
        total += sum(o.size for o in page.contents)
        if not page.truncated:
            return total
        after = page.last


def store_usage(runtime: Runtime, session: Session, store: ObjectStore) -> dict[str, Any]:
    names = list(session.scalars(select(Bucket.name).where(Bucket.object_store_id == store.id,
                                                           Bucket.removed.is_(None))))
    quotas = session.scalars(select(Bucket.quota).where(Bucket.object_store_id == store.id,
                                                        Bucket.removed.is_(None)))
    return {"used": sum(bucket_size(runtime, n) for n in names),
            "allocated": sum((q or 0) for q in quotas) * 1024**3}
