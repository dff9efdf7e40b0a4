"""Role-based command permissions: a role's explicit rules first, then the command's declared role set."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection

from sqlalchemy.orm import Session

from management.models.identity import Role, RolePermission, RoleType
from management.services.cache import TTLCache
from management.services.context import Caller
from management.services.identity import identity

# Rules are read on every request and change rarely; a change made here clears the cache at once.
RULES: TTLCache[list[tuple[str, str]]] = TTLCache(5.0, watch=(RolePermission, Role))


def _rules(session: Session, role_id: int) -> list[tuple[str, str]]:
    # Keyed by database too: several servers (tests, tools) may share one process.
    return RULES.get((str(session.get_bind().engine.url), role_id), lambda: identity.role_rules(session, role_id))


def allowed(session: Session, caller: Caller, command: str, roles: Collection[RoleType]) -> bool:
    """First matching rule of the caller's role wins; an ALLOW can not lift a command above its role set."""
    if caller.role_id is not None:
        for rule, permission in _rules(session, caller.role_id):
            if fnmatch.fnmatchcase(command, rule):
                return permission.upper() != "DENY" and caller.role_type in roles
    return caller.role_type in roles
