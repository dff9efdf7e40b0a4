"""Role-based command permissions: a role's explicit rules first, then the command's declared role set."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy.orm import Session

from management.errors import ParamError
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


def permission_value(permission: str) -> str:
    """ALLOW or DENY from a caller's allow/deny (any case); CloudStack's 431 otherwise."""
    if permission.lower() not in ("allow", "deny"):
        raise ParamError("Values for permission parameter should be: allow or deny")
    return permission.upper()


def update_rule(rule: Any | None, permission: str | None, ruleorder: list[str] | None, rules: Sequence[Any], *,
                noun: str, rule_param: str) -> None:
    """updateRolePermission / updateProjectRolePermission: a rule's permission, or the order of all the role's
    rules. `rules` are the role's rule rows (uuid, permission, sort_order); `rule` must be one of them."""
    if rule is not None and permission:
        if rule not in rules:
            raise ParamError(f"The rule does not belong to the {noun}")
        rule.permission = permission_value(permission)
    elif ruleorder:
        by_uuid = {r.uuid: r for r in rules}
        if set(ruleorder) != set(by_uuid):
            raise ParamError(f"ruleorder must list every rule of the {noun} exactly once")
        for i, uuid in enumerate(ruleorder):
            by_uuid[uuid].sort_order = i
    else:
        raise ParamError(f"Either {rule_param} with permission, or ruleorder, must be given")
