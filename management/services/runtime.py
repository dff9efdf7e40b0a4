"""Process-wide state the services share: settings, the database, the server id, plug-in registries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from management.db.session import Database
from management.settings import Settings


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    msid: str
    runid: int = 0  # this start of the server (services/cluster/membership.py); claims and leases carry it
    # Room for long-lived collaborators (driver pools, network providers) keyed by name.
    extras: dict[str, Any] = field(default_factory=dict)
