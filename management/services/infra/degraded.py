"""Declaring a host Degraded (and cancelling it), as CloudStack's ResourceManager does: an operator marks a host
that stopped answering (Alert or Disconnected) as out of service; a Degraded host takes no VMs (placement only
uses Enabled hosts) until the mark is cancelled, when it is Enabled again."""

from __future__ import annotations

from sqlalchemy.orm import Session

from management.errors import InternalError, ParamError
from management.models.infra import Host

DEGRADED = "Degraded"


def declare(s: Session, host: Host) -> Host:
    if host.resource_state == DEGRADED:
        raise InternalError(f"Host [id:{host.id}] was already marked as Degraded.")
    if host.status not in ("Alert", "Disconnected"):
        raise ParamError(f"Cannot perform declare host [id={host.id}, name={host.name}] as 'Degraded' when host is "
                         f"in {host.status} status")
    host.resource_state = DEGRADED
    s.flush()
    return host


def cancel(s: Session, host: Host) -> Host:
    if host.resource_state != DEGRADED:
        raise InternalError(f"Cannot perform cancelHostAsDegraded on host [id={host.id}, name={host.name}] when host "
                            f"is in {host.resource_state} state")
    host.resource_state = "Enabled"
    s.flush()
    return host
