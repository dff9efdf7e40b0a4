"""Resource tags: key/value pairs on any taggable entity (createTags, deleteTags, listTags, tags[N] filters)."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from management.db.prepared import prepared
from management.errors import ParamError
from management.models.events import ResourceTag
from management.services import access
from management.services.context import Caller

# CloudStack's ResourceObjectType names (lower-cased) -> (canonical name, our entity name for access checks).
TAGGABLE: dict[str, tuple[str, str]] = {}


def register(resource_type: str, entity: str) -> None:
    TAGGABLE[resource_type.lower()] = (resource_type, entity)


def taggable() -> dict[str, tuple[str, str]]:
    """Every tag type (their modules all imported)."""
    access.complete()
    return TAGGABLE


def _lookup(resource_type: str) -> tuple[str, str]:
    found = TAGGABLE.get(resource_type.lower()) or taggable().get(resource_type.lower())
    if found is None:
        supported = ", ".join(sorted(c for c, _ in TAGGABLE.values()))
        raise ParamError(f"Invalid resource type {resource_type}; supported: {supported}")
    return found


def canonical_type(resource_type: str) -> str:
    return _lookup(resource_type)[0]


def _owner(session: Session, caller: Caller, resource_type: str, uuid: str) -> tuple[int, int]:
    entity = _lookup(resource_type)[1]
    row = access.resolve(session, caller, entity, uuid, "write")
    if hasattr(row, "account_id") and hasattr(row, "domain_id"):
        return row.account_id, row.domain_id
    if entity == "Account":
        return row.id, row.domain_id
    return caller.account_id, caller.domain_id


def create_tags(session: Session, caller: Caller, resource_type: str, resource_ids: list[str],
                tags: list[dict[str, str]], customer: str | None = None) -> None:
    rtype = canonical_type(resource_type)
    if not tags:
        raise ParamError("at least one tag (tags[0].key, tags[0].value) is required")
    for uuid in resource_ids:
        account_id, domain_id = _owner(session, caller, rtype, uuid)
        for t in tags:
            key, value = t.get("key"), t.get("value")
            if not key or value is None:
                raise ParamError("every tag needs a key and a value")
            exists = session.scalar(select(ResourceTag).where(ResourceTag.resource_type == rtype,
                                                              ResourceTag.resource_uuid == uuid,
                                                              ResourceTag.key == key))
            if exists is not None:
                raise ParamError(f"tag {key} already exists on {rtype} {uuid}")
            session.add(ResourceTag(key=key, value=value, resource_type=rtype, resource_uuid=uuid,
                                    account_id=account_id, domain_id=domain_id, customer=customer))
    session.flush()


def delete_tags(session: Session, caller: Caller, resource_type: str, resource_ids: list[str],
                tags: list[dict[str, str]] | None) -> None:
    rtype = canonical_type(resource_type)
    for uuid in resource_ids:
        _owner(session, caller, rtype, uuid)
        stmt = delete(ResourceTag).where(ResourceTag.resource_type == rtype, ResourceTag.resource_uuid == uuid)
        if tags:
            for t in tags:
                cond = stmt.where(ResourceTag.key == t["key"]) if "key" in t else stmt
                if t.get("value") is not None:
                    cond = cond.where(ResourceTag.value == t["value"])
                session.execute(cond)
        else:
            session.execute(stmt)


def tags_of(session: Session, resource_type: str, uuids: list[str]) -> dict[str, list[ResourceTag]]:
    if not uuids:
        return {}
    out: dict[str, list[ResourceTag]] = {}
    stmt = prepared("tags-of", lambda: select(ResourceTag).where(
        ResourceTag.resource_type == bindparam("rtype"),
        ResourceTag.resource_uuid.in_(bindparam("uuids", expanding=True))))
    for t in session.scalars(stmt, {"rtype": resource_type, "uuids": list(uuids)}):
        out.setdefault(t.resource_uuid, []).append(t)
    return out
