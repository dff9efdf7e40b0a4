"""Process-wide state the services share: settings, the database, the server id, plug-in registries."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from management.db.session import Database
from management.settings import Settings


def _already_set() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    msid: str
    runid: int = 0  # this start of the server (services/cluster/membership.py); claims and leases carry it
    # Room for long-lived collaborators (driver pools, network providers) keyed by name.
    extras: dict[str, Any] = field(default_factory=dict)
    # Cleared while the served server starts its background (server.start_background) beside its first answers:
    # that start changes state (membership, takeover, the maintenance state) which a write must not race, so
    # writes wait for it. Set from the outset where nothing starts in the background.
    started: threading.Event = field(default_factory=_already_set)
