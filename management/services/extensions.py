"""Extensions (CloudStack 4.21's framework/extensions): Orchestrator extensions whose entry point is an executable
under the extensions directory (`<state dir>/extensions/<name>/<name>.sh` by default), registered with clusters of
the External hypervisor type, and their custom actions.

As in CloudStack, an extension can be Enabled only while its entry point is ready (an executable file); devcloud
ships no base provisioner script to copy there, so a new extension starts ready only if an administrator put the
executable in place. Custom actions run through the entry point of an extension registered with the resource's
cluster; devcloud's clusters are never of the External type, so running one answers CloudStack's "Internal error
running action"."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.identity import RoleType
from management.models.platform import Extension, ExtensionCustomAction, ExtensionResourceMap
from management.services.runtime import Runtime

TYPES = ("Orchestrator",)
STATES = ("Enabled", "Disabled")
RESOURCE_TYPES = ("Cluster",)
ACTION_RESOURCE_TYPES = ("VirtualMachine",)
ROLE_BITS = {RoleType.ADMIN: 1, RoleType.RESOURCE_ADMIN: 2, RoleType.DOMAIN_ADMIN: 4, RoleType.USER: 8}
ERROR = "Internal error running action"


def directory(runtime: Runtime) -> Path:
    return Path(runtime.settings.state_dir) / "extensions"


def dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-").lower() or "extension"


def entry_point(name: str, path: str | None) -> str:
    if not path:
        return f"{dir_name(name)}/{dir_name(name)}.sh"
    rel = path.strip().lstrip("/")
    if ".." in Path(rel).parts or not rel:
        raise ParamError("Invalid entry point specified")
    return rel if rel.startswith(dir_name(name) + "/") else f"{dir_name(name)}/{rel}"


def absolute(runtime: Runtime, ext: Extension) -> Path:
    return directory(runtime) / ext.relative_path


def ready(runtime: Runtime, ext: Extension) -> bool:
    p = absolute(runtime, ext)
    return p.is_file() and os.access(p, os.R_OK | os.X_OK)


def details(ext: Extension | ExtensionCustomAction | ExtensionResourceMap) -> dict[str, str]:
    return dict(json.loads(ext.details_json or "{}"))


def as_details(items: list[dict[str, str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if len(item) == 1:  # details[0].foo=bar
            ((k, v),) = item.items()
            out[k] = v
        elif "key" in item:
            out[item["key"]] = item.get("value", "")
        else:
            out.update(item)
    return out


def create(session: Session, runtime: Runtime, *, name: str, description: str | None, type_: str,
           path: str | None, prepare_vm: bool | None, state: str | None, details_map: dict[str, str]) -> Extension:
    if session.scalar(select(Extension.id).where(Extension.name == name, Extension.removed.is_(None))):
        raise InternalError("Extension by name already exists")
    if type_ not in TYPES:
        raise InternalError(f"Invalid type specified - {type_}")
    if state is not None and state not in STATES:
        raise ParamError("Invalid state specified")
    ext = Extension(name=name, description=description, type=type_, relative_path=entry_point(name, path),
                    state=state or "Enabled", orchestrator_requires_prepare_vm=bool(prepare_vm),
                    details_json=json.dumps(details_map) if details_map else None)
    if ext.state == "Enabled" and not ready(runtime, ext):
        raise InternalError(f"Failed to enable extension: {name} as it entry-point is not ready")
    session.add(ext)
    session.flush()
    return ext


def update(session: Session, runtime: Runtime, ext: Extension, *, description: str | None, prepare_vm: bool | None,
           state: str | None, details_map: dict[str, str], cleanup_details: bool | None) -> Extension:
    if description is not None:
        ext.description = description
    if prepare_vm is not None:
        ext.orchestrator_requires_prepare_vm = prepare_vm
    if state:
        if state not in STATES:
            raise ParamError("Invalid state specified")
        if state == "Enabled" and not ready(runtime, ext):
            raise InternalError(f"Failed to enable extension: {ext.name} as it entry-point is not ready")
        ext.state = state
    if cleanup_details or details_map:
        ext.details_json = json.dumps(details_map) if details_map and not cleanup_details else None
    session.flush()
    return ext


def delete(session: Session, runtime: Runtime, ext: Extension, cleanup: bool) -> None:
    if not ext.is_user_defined:
        raise ParamError("System extension can not be deleted")
    if session.scalar(select(ExtensionResourceMap.id).where(ExtensionResourceMap.extension_id == ext.id).limit(1)):
        raise InternalError("Extension has associated resources, unregister them to delete the extension")
    ext.removed = utcnow()
    session.flush()
    if cleanup:
        target = absolute(runtime, ext).parent
        if target.is_dir() and target.parent == directory(runtime):
            for child in sorted(target.rglob("*"), reverse=True):
                child.unlink() if not child.is_dir() else child.rmdir()
            target.rmdir()


def check_map_type(resource_type: str, verb: str) -> None:
    if resource_type not in RESOURCE_TYPES:
        raise ParamError(f"Currently only [{', '.join(RESOURCE_TYPES)}] can be used to {verb} an extension of "
                         "type Orchestrator")


def register(session: Session, ext: Extension, cluster: Any, resource_type: str,
             details_map: dict[str, str]) -> None:
    check_map_type(resource_type, "register")
    if cluster.hypervisor_type != "External":
        raise InternalError(f"Cluster ID: {cluster.uuid} is not of {cluster.hypervisor_type} hypervisor type")
    if session.scalar(select(ExtensionResourceMap.id).where(ExtensionResourceMap.resource_type == resource_type,
                                                            ExtensionResourceMap.resource_id == cluster.id)):
        raise InternalError("Extension already registered with this resource")
    session.add(ExtensionResourceMap(extension_id=ext.id, resource_type=resource_type, resource_id=cluster.id,
                                     details_json=json.dumps(details_map) if details_map else None))
    session.flush()


def unregister(session: Session, ext: Extension, cluster: Any, resource_type: str) -> None:
    check_map_type(resource_type, "unregister")
    row = session.scalar(select(ExtensionResourceMap).where(ExtensionResourceMap.resource_type == resource_type,
                                                            ExtensionResourceMap.resource_id == cluster.id,
                                                            ExtensionResourceMap.extension_id == ext.id))
    if row is not None:
        session.delete(row)
        session.flush()


def role_mask(roles: list[str] | None) -> int:
    if not roles:
        return ROLE_BITS[RoleType.ADMIN]
    mask = 0
    for r in roles:
        match = next((rt for rt in ROLE_BITS if rt.value.lower() == r.strip().lower()), None)
        if match is None:
            raise ParamError(f"Invalid role specified - {r}")
        mask |= ROLE_BITS[match]
    return mask


def role_names(mask: int) -> list[str]:
    return [rt.value for rt, bit in ROLE_BITS.items() if mask & bit]


def action_parameters(items: list[dict[str, str]] | None) -> list[dict[str, Any]]:
    """parameters[N].name/type/validationformat/valueoptions/required -> CloudStack's parameter objects."""
    out = []
    for item in items or []:
        name = item.get("name")
        if not name:
            raise ParamError("Invalid parameter specified with empty name")
        ptype = (item.get("type") or "STRING").upper()
        if ptype not in ("STRING", "NUMBER", "BOOLEAN", "DATE"):
            raise ParamError(f"Invalid parameter type specified - {ptype} for parameter: {name}")
        out.append({"name": name, "type": ptype, "validationformat": (item.get("validationformat") or "NONE")
                    .upper(), "valueoptions": [v for v in (item.get("valueoptions") or "").split(",") if v],
                    "required": (item.get("required") or "false").lower() == "true"})
    return out


def check_resource_type(value: str | None) -> str | None:
    if value is None:
        return None
    match = next((t for t in ACTION_RESOURCE_TYPES if t.lower() == value.lower()), None)
    if match is None:
        raise ParamError(f"Invalid resource type specified: {value}. Valid values are: "
                         f"[{', '.join(ACTION_RESOURCE_TYPES)}]")
    return match


def run_action(session: Session, action: ExtensionCustomAction, ext: Extension, resource_type: str | None,
               resource: Any) -> None:
    """The checks CloudStack makes before sending the action to the extension's entry point; here they always end
    in its error, since no resource can belong to an External cluster (see the module docstring)."""
    if ext.state != "Enabled":
        raise InternalError(ERROR)
    if action.resource_type is None and not resource_type:
        raise ParamError("Resource type not specified for the action")
    chosen = check_resource_type(resource_type) if resource_type else action.resource_type
    if chosen is None or (action.resource_type and chosen != action.resource_type):
        raise InternalError(ERROR)
    if resource is None:
        raise InternalError(ERROR)
    if getattr(resource, "hypervisor_type", None) != "External":
        raise ParamError(ERROR)
