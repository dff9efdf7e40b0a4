"""Console sessions: every console token createConsoleEndpoint hands out is recorded (who, which VM and host,
from which address), marked acquired when the console websocket uses it and ended when that connection closes;
listConsoleSessions reads them."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from management.db.base import utcnow
from management.models.platform import ConsoleSession
from management.services.context import Caller


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issued(session: Any, caller: Caller, vm: Any, token: str, creator_address: str | None = None) -> ConsoleSession:
    row = ConsoleSession(token_digest=_digest(token), account_id=vm.account_id, domain_id=vm.domain_id,
                         user_id=caller.user_id, instance_id=vm.id, host_id=vm.host_id,
                         creator_address=creator_address)
    session.add(row)
    session.flush()
    return row


def acquired(runtime: Any, token: str, client_address: str | None) -> None:
    with runtime.db.session() as s:
        row = s.scalar(select(ConsoleSession).where(ConsoleSession.token_digest == _digest(token)))
        if row is not None and row.acquired is None:
            row.acquired, row.client_address = utcnow(), client_address


def ended(runtime: Any, token: str) -> None:
    with runtime.db.session() as s:
        row = s.scalar(select(ConsoleSession).where(ConsoleSession.token_digest == _digest(token)))
        if row is not None and row.removed is None:
            row.removed = utcnow()
