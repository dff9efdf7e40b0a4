"""The cloud's identifier (getCloudIdentifier): a uuid made once per installation, kept in the hidden
`cloud.identifier` setting, and signed per user with the user's secret key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from sqlalchemy.orm import Session

from management.db.session import Database
from management.models.events import Configuration

NAME = "cloud.identifier"


def cloud_identifier(session: Session, db: Database) -> str:
    """The identifier; the first call makes it in its own write transaction (getCloudIdentifier only reads)."""
    row = session.get(Configuration, NAME)
    if row is not None and row.value:
        return row.value
    with db.session() as w:  # serialised with other writers: a concurrent first call finds the row made here
        made = w.get(Configuration, NAME)
        if made is None:
            made = Configuration(name=NAME, category="Hidden", description="A unique identifier for the cloud.",
                                 is_dynamic=False)
            w.add(made)
        if not made.value:  # the settings catalogue seeds the row empty, as CloudStack's schema does
            made.value = str(uuid.uuid4())
        return made.value


def signature(secret_key: str | None, identifier: str) -> str:
    """HMAC-SHA1 of the identifier with the user's secret key, base64 (empty for a user without keys)."""
    if not secret_key:
        return ""
    return base64.b64encode(hmac.new(secret_key.encode(), identifier.encode(), hashlib.sha1).digest()).decode()
