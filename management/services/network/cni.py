"""CNI configurations (CloudStack 4.21, for Kubernetes clusters): named, base64-encoded configuration documents
with declared template variables, owned by an account, stored and listed as registered."""

from __future__ import annotations

import base64
import binascii
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.identity import Account
from management.models.network_access import CniConfiguration

MAX_BYTES = 1048576
_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def register(session: Session, owner: Account, name: str, config: str | None, params: str | None) -> CniConfiguration:
    if not name.strip():
        raise ParamError("Name of the CNI configuration can't be empty")
    dup = session.scalar(select(CniConfiguration.id).where(CniConfiguration.account_id == owner.id,
                                                           CniConfiguration.name == name,
                                                           CniConfiguration.removed.is_(None)))
    if dup is not None:
        raise ParamError(f"A CNI configuration with name {name} already exists for this account.")
    text = ""
    if config:
        try:
            raw = base64.b64decode(config, validate=True)
        except (binascii.Error, ValueError):
            raise ParamError("CNI configuration is not base64 encoded") from None
        if len(raw) > MAX_BYTES:
            raise ParamError(f"CNI configuration is too long: {len(raw)} bytes, at most {MAX_BYTES}")
        text = raw.decode("utf-8", errors="replace")
    declared = [p.strip() for p in (params or "").split(",") if p.strip()]
    used = set(_VAR.findall(text))
    missing = [p for p in declared if p not in used]
    if missing:
        raise ParamError(f"Params passed {', '.join(missing)} are not present in the CNI configuration")
    row = CniConfiguration(name=name, account_id=owner.id, domain_id=owner.domain_id, config=config or None,
                           params=",".join(declared) or None)
    session.add(row)
    session.flush()
    return row
