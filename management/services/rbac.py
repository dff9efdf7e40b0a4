"""Role-based command permissions: a role's explicit rules first, then the command's declared role set."""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Collection

from sqlalchemy.orm import Session

from management.models.identity import RoleType
from management.services import identity
from management.services.context import Caller


class RuleCache:
    """Role permission rules, cached briefly: they are read on every request and change rarely."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        # Keyed by (database URL, role id): several servers (tests, tools) may share one process.
        self._data: dict[tuple[str, int], tuple[float, list[tuple[str, str]]]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, role_id: int) -> list[tuple[str, str]]:
        now = time.monotonic()
        key = (str(session.get_bind().url), role_id)
        with self._lock:
            hit = self._data.get(key)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        rules = identity.role_rules(session, role_id)
        with self._lock:
            self._data[key] = (now, rules)
        return rules

    def invalidate(self) -> None:
        with self._lock:
            self._data.clear()


RULES = RuleCache()


def allowed(session: Session, caller: Caller, command: str, roles: Collection[RoleType]) -> bool:
    """First matching rule of the caller's role wins; an ALLOW can not lift a command above its role set."""
    if caller.role_id is not None:
        for rule, permission in RULES.get(session, caller.role_id):
            if fnmatch.fnmatchcase(command, rule):
                return permission.upper() != "DENY" and caller.role_type in roles
    return caller.role_type in roles
