"""Role extras: enableRole, disableRole, importRole."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import delete, select

from management.api.cloudstack.commands.identity.identity import role_resp
from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, MapParam, Params, Ref, api_command
from management.api.cloudstack.schemas import RoleResp
from management.api.cloudstack.schemas_platform import SuccessResp
from management.errors import InternalError, ParamError, PermissionDenied, ServerApiParamError
from management.models.identity import Role, RolePermission, RoleType
from management.services.context import CallContext


class RoleIdParams(Params):
    id: Annotated[str, Ref("Role")] = Field(description="ID of the role")


def _set_state(ctx: CallContext, state: str) -> Success:
    role: Role = ctx.refs["id"]
    if role.state == state:
        raise PermissionDenied(f"Role is already {state}")
    role.state = state
    ctx.session.flush()
    return Success()


@api_command("enableRole", params=RoleIdParams, response=SuccessResp, roles=ADMIN, entity="Role",
             event="ROLE.ENABLE", since="4.20.0", description="Enables a role")
def enable_role(ctx: CallContext, p: RoleIdParams) -> Success:
    return _set_state(ctx, "ENABLED")


@api_command("disableRole", params=RoleIdParams, response=SuccessResp, roles=ADMIN, entity="Role",
             event="ROLE.DISABLE", since="4.20.0", description="Disables a role")
def disable_role(ctx: CallContext, p: RoleIdParams) -> Success:
    return _set_state(ctx, "DISABLED")


class ImportRoleParams(Params):
    name: str = Field(description="Creates a role with this unique name")
    rules: MapParam = Field(description="Rules param list, rule and permission is must. Example: "
                            "rules[0].rule=create*&rules[0].permission=allow&rules[0].description=create%20rule&"
                            "rules[1].rule=list*&rules[1].permission=allow&rules[1].description=listing")
    forced: bool = Field(False, description="Force create a role with the same name. This overrides the role type, "
                         "description and rule permissions for the existing role. Default is false.")
    ispublic: bool = Field(True, description="Indicates whether the role will be visible to all users (public) or "
                           "only to root admins (private). Default is true.")
    type: str | None = Field(None, description="The type of the role, valid options are: Admin, ResourceAdmin, "
                             "DomainAdmin, User")
    description: str | None = Field(None, description="The description of the role")


def _rules(items: list[dict[str, str]]) -> list[tuple[str, str, str | None]]:
    out = []
    for item in items:
        rule = (item.get("rule") or "").strip()
        if not rule:
            raise ParamError("Empty rule(s) provided in rules param")
        if not all(c.isalnum() or c == "*" for c in rule):
            raise ParamError(f"Only API name or wildcard rule is allowed: {rule}")
        permission = (item.get("permission") or "").strip().upper()
        if permission not in ("ALLOW", "DENY"):
            raise ParamError(f"Invalid permission: {item.get('permission')} provided in rules param")
        out.append((rule, permission, item.get("description")))
    return out


@api_command("importRole", params=ImportRoleParams, result_key="role", response=RoleResp, roles=ADMIN,
             entity="Role", event="ROLE.IMPORT", since="4.15.0", description="Imports a role based on provided map "
             "of rule permissions")
def import_role(ctx: CallContext, p: ImportRoleParams) -> RoleResp:
    if not p.name.strip():
        raise ServerApiParamError("Invalid role name provided")
    try:
        rtype = RoleType(p.type) if p.type else None
    except ValueError:
        rtype = None
    if rtype is None:
        raise ServerApiParamError("Invalid role type provided")
    rules = _rules(p.rules)
    s = ctx.session
    existing = list(s.scalars(select(Role).where(Role.name == p.name, Role.removed.is_(None))))
    if existing and not p.forced:
        raise InternalError("Role already exists")
    role = next((r for r in existing if r.role_type == rtype.value), None)
    if role is not None:
        if role.is_default:
            raise InternalError(f"Failed to import the role: {p.name}, default role cannot be overriden")
        s.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
        role.description = p.description
    else:
        role = Role(name=p.name, role_type=rtype.value, description=p.description)
        s.add(role)
        s.flush()
    for order, (rule, permission, description) in enumerate(rules):
        s.add(RolePermission(role_id=role.id, rule=rule, permission=permission, description=description,
                             sort_order=order))
    s.flush()
    return role_resp(role)
