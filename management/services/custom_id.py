"""`customid` of update commands: a root admin may give a resource a UUID of their choosing (CloudStack's
UUIDManager.checkUuid, run before an async command is queued)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError, PermissionDenied
from management.services.context import Caller

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check(session: Session, caller: Caller, model: Any, custom_id: str | None, own_id: int | None = None) -> None:
    if custom_id is None:
        return
    if not caller.is_root_admin:
        raise PermissionDenied("Please check your permissions, you are not allowed to create/update custom id")
    if not _UUID.match(custom_id):
        raise ParamError(f"UUID: {custom_id} doesn't follow the UUID format")
    taken = session.scalar(select(model.id).where(model.uuid == custom_id))
    if taken is not None and taken != own_id:
        raise ParamError(f"UUID: {custom_id} already exists so can't create/update with custom id")


def apply(session: Session, caller: Caller, row: Any, custom_id: str | None) -> None:
    if custom_id is None:
        return
    check(session, caller, type(row), custom_id, row.id)
    row.uuid = custom_id
    session.flush()


def precheck(param: str = "id") -> Any:
    """A ``create=`` hook for async update commands: refuses a bad customid before the job is queued (returns
    None, so the response stays ``{jobid}``)."""

    def hook(ctx: Any, p: Any) -> None:
        row = ctx.refs.get(param)
        if row is not None:
            check(ctx.session, ctx.caller, type(row), getattr(p, "customid", None), row.id)
        return None

    return hook
