"""EC2 ids <-> CloudStack uuids, derived without a table: ``<prefix>-<first 17 hex digits of the uuid>``.

``i-`` VMs, ``ami-`` templates, ``vol-`` volumes, ``snap-`` snapshots, ``sg-`` security groups, ``eipalloc-``
public IPs, ``key-`` key pairs, ``r-`` reservations (the first VM of a RunInstances call). 17 hex digits (68 bits)
of a random uuid4 never collide in practice; the reverse lookup is a LIKE on the indexed uuid column.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

_HEX = re.compile(r"^[0-9a-f]{17}$")


def to_ec2(prefix: str, uuid: str | None) -> str | None:
    if not uuid:
        return None
    return f"{prefix}-{uuid.replace('-', '')[:17]}"


def _pattern(hex17: str) -> str:
    return f"{hex17[:8]}-{hex17[8:12]}-{hex17[12:16]}-{hex17[16]}%"


def well_formed(prefix: str, ec2_id: str) -> bool:
    head, _, tail = ec2_id.partition("-")
    return head == prefix and bool(_HEX.match(tail))


def to_uuid(session: Session, model: Any, prefix: str, ec2_id: str, *extra: Any) -> str | None:
    """The uuid of the (not removed) row whose EC2 id is ec2_id, or None. Also accepts the plain uuid."""
    if not isinstance(ec2_id, str):
        return None
    if len(ec2_id) == 36 and ec2_id.count("-") == 4:
        stmt = select(model.uuid).where(model.uuid == ec2_id)
    elif well_formed(prefix, ec2_id):
        stmt = select(model.uuid).where(model.uuid.like(_pattern(ec2_id.partition("-")[2])))
    else:
        return None
    if hasattr(model, "removed"):
        stmt = stmt.where(model.removed.is_(None))
    for cond in extra:
        stmt = stmt.where(cond)
    return session.scalars(stmt.limit(1)).first()
