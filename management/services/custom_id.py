"""`customid` of update commands: a root admin may give a resource a UUID of their choosing (CloudStack's
UUIDManager.checkUuid)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError, PermissionDenied
from management.services.context import Caller

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def apply(session: Session, caller: Caller, row: Any, custom_id: str | None) -> None:
    if custom_id is None:
        return
    if not caller.is_root_admin:
        raise PermissionDenied("Please check your permissions, you are not allowed to create/update custom id")
    if not _UUID.match(custom_id):
        raise ParamError(f"UUID: {custom_id} doesn't follow the UUID format")
    model = type(row)
    taken = session.scalar(select(model.id).where(model.uuid == custom_id, model.id != row.id))
    if taken is not None:
        raise ParamError(f"UUID: {custom_id} already exists so can't create/update with custom id")
    row.uuid = custom_id
    session.flush()
