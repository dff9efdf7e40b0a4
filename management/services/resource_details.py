"""Resource details (addResourceDetail, listResourceDetails, removeResourceDetail) and resource icons
(uploadResourceIcon, listResourceIcon, deleteResourceIcon, `showicon` on lists).

Both hang on any resource that has a CloudStack resource type (the same names resource tags use: UserVm,
Volume, Template, Zone, ...), and both check the caller's right on that resource the way tags do."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management.errors import ParamError, PermissionDenied
from management.models.platform import ResourceDetail, ResourceIcon
from management.services import access, tags
from management.services.context import Caller

# Details devcloud keeps for itself on a resource (password reset tokens...): never listed, never removable.
HIDDEN = frozenset({"PasswordResetToken", "PasswordResetTokenExpiryDate"})

# Resource types that can carry an icon (CloudStack's ResourceIcon resource types).
ICON_TYPES = ("Zone", "UserVm", "Template", "ISO", "Network", "Vpc", "Project", "Domain", "Account", "User",
              "ServiceOffering", "DiskOffering", "NetworkOffering", "VpcOffering")


# Resource types beyond the taggable ones, by CloudStack's name -> our entity name.
_MORE_TYPES = {"ServiceOffering": "ServiceOffering", "DiskOffering": "DiskOffering",
               "NetworkOffering": "NetworkOffering", "Host": "Host", "Cluster": "Cluster", "Pod": "Pod",
               "Storage": "StoragePool", "ImageStore": "ImageStore", "SSHKeyPair": "SSHKeyPair",
               "SecurityGroup": "SecurityGroup", "PhysicalNetwork": "PhysicalNetwork"}


def _types() -> dict[str, tuple[str, str]]:
    out = {k.lower(): (k, v) for k, v in _MORE_TYPES.items() if access.is_entity(v)}
    out.update(tags.taggable())
    return out


def canonical_type(resource_type: str) -> tuple[str, str]:
    found = _types().get(resource_type.lower())
    if found is None:
        raise ParamError(f"Invalid resource type {resource_type}; supported: "
                         f"{', '.join(sorted(c for c, _ in _types().values()))}")
    return found


def resolve(session: Session, caller: Caller, resource_type: str, uuid: str, kind: str = "write") -> tuple[str, Any]:
    """(canonical resource type, row): 431 for an unknown type or id, 531 when the caller may not use it. Shared
    resources (zones, offerings, hosts...) are changed by root admins only."""
    canonical, entity = canonical_type(resource_type)
    row = access.resolve(session, caller, entity, uuid, kind)
    if kind == "write" and access.entity_policy(entity).kind == "public" and not caller.is_root_admin:
        raise PermissionDenied(f"Account '{caller.account_name}' does not have permission to access {entity} with "
                               f"id {uuid}", uuids=[uuid])
    return canonical, row


def _owner_ids(row: Any, caller: Caller) -> tuple[int, int]:
    if hasattr(row, "account_id") and hasattr(row, "domain_id") and row.account_id is not None:
        return row.account_id, row.domain_id
    return caller.account_id, caller.domain_id


def add_details(session: Session, caller: Caller, resource_type: str, uuid: str, details: list[dict[str, str]],
                display: bool) -> None:
    canonical, row = resolve(session, caller, resource_type, uuid)
    if not details:
        raise ParamError("Details map is empty")
    account_id, domain_id = _owner_ids(row, caller)
    for item in details:
        key, value = item.get("key"), item.get("value")
        if not key or value is None or key in HIDDEN:
            raise ParamError(f"Invalid details key {key}" if key else "Every detail needs a key and a value")
        found = session.scalar(select(ResourceDetail).where(ResourceDetail.resource_type == canonical,
                                                            ResourceDetail.resource_uuid == uuid,
                                                            ResourceDetail.name == key))
        if found is None:
            found = ResourceDetail(resource_type=canonical, resource_uuid=uuid, name=key, value=value,
                                   account_id=account_id, domain_id=domain_id)
            session.add(found)
        found.value, found.display = value, display
    session.flush()


def remove_details(session: Session, caller: Caller, resource_type: str, uuid: str, key: str | None) -> None:
    canonical, _row = resolve(session, caller, resource_type, uuid)
    stmt = delete(ResourceDetail).where(ResourceDetail.resource_type == canonical,
                                        ResourceDetail.resource_uuid == uuid, ResourceDetail.name.not_in(HIDDEN))
    if key:
        stmt = stmt.where(ResourceDetail.name == key)
    session.execute(stmt)


def decode_image(text: str) -> bytes:
    """The icon must be a base64 PNG, JPEG, GIF or SVG image."""
    try:
        data = base64.b64decode(text.split(",", 1)[-1] if text.startswith("data:") else text, validate=True)
    except (binascii.Error, ValueError):
        raise ParamError("Base64 image string provided is invalid") from None
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff") or data[:6] in (
            b"GIF87a", b"GIF89a") or b"<svg" in data[:1024]):
        raise ParamError("The image provided is not a PNG, JPEG, GIF or SVG image")
    return data


def icon_type(resource_type: str) -> str:
    canonical, _entity = canonical_type(resource_type)
    if canonical not in ICON_TYPES:
        raise ParamError(f"Resource icons are not supported for resource type {canonical}; supported: "
                         f"{', '.join(ICON_TYPES)}")
    return canonical


def upload_icon(session: Session, caller: Caller, resource_type: str, uuids: list[str], image: str) -> None:
    canonical = icon_type(resource_type)
    decode_image(image)
    for uuid in uuids:
        resolve(session, caller, canonical, uuid)
        row = session.scalar(select(ResourceIcon).where(ResourceIcon.resource_type == canonical,
                                                        ResourceIcon.resource_uuid == uuid))
        if row is None:
            session.add(ResourceIcon(resource_type=canonical, resource_uuid=uuid, icon=image))
        else:
            row.icon = image
    session.flush()


def delete_icons(session: Session, caller: Caller, resource_type: str, uuids: list[str]) -> None:
    canonical = icon_type(resource_type)
    for uuid in uuids:
        resolve(session, caller, canonical, uuid)
    session.execute(delete(ResourceIcon).where(ResourceIcon.resource_type == canonical,
                                               ResourceIcon.resource_uuid.in_(uuids)))


def icons(session: Session, uuids: list[str]) -> dict[str, ResourceIcon]:
    if not uuids:
        return {}
    return {r.resource_uuid: r for r in session.scalars(select(ResourceIcon).where(
        ResourceIcon.resource_uuid.in_(uuids)))}


def decorate(session: Session, body: dict[str, Any], result_key: str | None) -> dict[str, Any]:
    """`showicon=true` on a list: each item with an icon carries it (resourcetype, resourceid, base64image)."""
    items = body.get(result_key or "") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return body
    found = icons(session, [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)])
    for item in items:
        icon = found.get(str(item.get("id"))) if isinstance(item, dict) else None
        if icon is not None:
            item["icon"] = {"resourcetype": icon.resource_type, "resourceid": icon.resource_uuid,
                            "base64image": icon.icon}
    return body
