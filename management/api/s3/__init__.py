"""The S3 endpoint (port ``s3_port``) over the cloud's secondary storage; see :mod:`management.api.s3.app`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select

from management.api.guard import Guard
from management.api.s3.app import S3App
from management.api.s3.auth import Credentials
from management.api.s3.errors import render_rejection
from management.services.storage import objectstore
from management.storage.objects import ObjectStore

log = logging.getLogger("devcloud.s3")


def credentials_lookup(runtime: Any) -> Any:
    """access key -> Credentials for an enabled user of an enabled, live account (CloudStack API keys)."""
    from management.models import Account, User

    def lookup(access_key: str) -> Credentials | None:
        with runtime.db.session() as s:
            row = s.execute(select(User.secret_key, Account.uuid, Account.name)
                            .join(Account, Account.id == User.account_id)
                            .where(User.api_key == access_key, User.state == "enabled", User.removed.is_(None),
                                   Account.state == "enabled", Account.removed.is_(None))).first()
        if row is None or not row[0]:
            return None
        return Credentials(access_key, row[0], row[1], row[2])

    return lookup


def account_names(runtime: Any) -> Any:
    """account uuid -> name of a live account (None: no such account): S3's canonical user ids are account uuids."""
    from management.models import Account

    def lookup(uuid: str) -> str | None:
        with runtime.db.session() as s:
            name = s.execute(select(Account.name).where(Account.uuid == uuid, Account.removed.is_(None))).scalar()
        return name if isinstance(name, str) else None

    return lookup


def store_root(runtime: Any) -> Path:
    """The secondary image store of the first zone that has one; ``<state_dir>/objects`` when there is none."""
    return objectstore.store_root(runtime)


def s3_app(runtime: Any, *, region: str = "us-east-1") -> Guard:
    """The S3 app behind the HTTP guard (AWS-shaped refusals of what the HTTP layer rejects, clean headers); the
    app streams and bounds object bodies itself."""
    def factory() -> ObjectStore:
        store = objectstore.open_store(runtime)  # shared with the CloudStack API's bucket commands
        log.info("S3 objects live in %s/buckets", store_root(runtime))
        return store

    return Guard(S3App(credentials_lookup(runtime), factory, region=region, accounts=account_names(runtime)),
                 render_rejection, name="s3", max_body=None)


__all__ = ["S3App", "s3_app", "credentials_lookup", "account_names", "store_root"]
