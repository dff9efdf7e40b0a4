"""Annotations (comments) on infrastructure and user resources: addAnnotation, listAnnotations, removeAnnotation,
updateAnnotationVisibility. An annotation names its entity by CloudStack's EntityType (VM, VOLUME, HOST...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError
from management.models.platform import Annotation
from management.services import access
from management.services.context import Caller

# CloudStack's AnnotationService.EntityType -> our entity name.
ENTITY_TYPES: dict[str, str] = {
    "VM": "VirtualMachine", "VOLUME": "Volume", "SNAPSHOT": "Snapshot", "SSH_KEYPAIR": "SSHKeyPair",
    "NETWORK": "Network", "PUBLIC_IP_ADDRESS": "PublicIpAddress", "TEMPLATE": "Template", "ISO": "Iso",
    "SERVICE_OFFERING": "ServiceOffering", "DISK_OFFERING": "DiskOffering", "NETWORK_OFFERING": "NetworkOffering",
    "ZONE": "Zone", "POD": "Pod", "CLUSTER": "Cluster", "HOST": "Host", "DOMAIN": "Domain",
    "PRIMARY_STORAGE": "StoragePool", "SECONDARY_STORAGE": "ImageStore", "VR": "DomainRouter",
}


def entity_type(name: str | None) -> str:
    key = (name or "").upper()
    if key not in ENTITY_TYPES or not access.is_entity(ENTITY_TYPES[key]):
        raise ParamError(f"Invalid entity type {name}; supported: {', '.join(sorted(ENTITY_TYPES))}")
    return key


def entity_row(session: Session, caller: Caller, etype: str, uuid: str) -> Any:
    return access.resolve(session, caller, ENTITY_TYPES[etype], uuid, "read")


def entity_name(row: Any) -> str | None:
    return getattr(row, "display_name", None) or getattr(row, "name", None)


def add(session: Session, caller: Caller, text: str | None, etype_name: str | None, entity_uuid: str | None,
        admins_only: bool | None) -> Annotation:
    if not text:
        raise ParamError("Annotation text is required")
    etype = entity_type(etype_name)
    if not entity_uuid:
        raise ParamError("An entity id is required")
    entity_row(session, caller, etype, entity_uuid)
    ann = Annotation(annotation=text, entity_type=etype, entity_uuid=entity_uuid, user_uuid=caller.user_uuid,
                     admins_only=bool(admins_only))  # CloudStack: false unless given
    session.add(ann)
    session.flush()
    return ann


def find(session: Session, uuid: str) -> Annotation:
    ann = session.scalar(select(Annotation).where(Annotation.uuid == uuid, Annotation.removed.is_(None)))
    if ann is None:
        raise ParamError(f"Unable to find an annotation with ID: {uuid}")
    return ann


def remove(session: Session, uuid: str) -> Annotation:
    ann = find(session, uuid)
    ann.removed = utcnow()
    session.flush()
    return ann
