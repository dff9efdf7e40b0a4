"""The event log: every mutating command leaves a trace that listEvents shows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from management.models.events import Event
from management.services.context import Caller


def record(session: Session, caller: Caller, event_type: str, description: str, *, state: str = "Completed",
           level: str = "INFO", resource_type: str | None = None, resource_uuid: str | None = None,
           start_id: int | None = None) -> Event:
    ev = Event(type=event_type, state=state, level=level, description=description[:4000],
               account_id=caller.account_id, domain_id=caller.domain_id, user_id=caller.user_id,
               resource_type=resource_type, resource_uuid=resource_uuid, start_id=start_id)
    session.add(ev)
    session.flush()
    return ev
