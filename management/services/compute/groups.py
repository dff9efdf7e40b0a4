"""Instance groups as VMs see them: a deploy with group=<name> joins (or creates) the owner's group of that name."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.models.compute import InstanceGroup, VirtualMachine
from management.models.identity import Account


def ensure(session: Session, owner: Account, name: str) -> InstanceGroup:
    g = session.scalar(select(InstanceGroup).where(InstanceGroup.account_id == owner.id,
                                                   InstanceGroup.removed.is_(None),
                                                   func.lower(InstanceGroup.name) == name.lower()))
    if g is None:
        g = InstanceGroup(name=name, account_id=owner.id, domain_id=owner.domain_id)
        session.add(g)
        session.flush()
    return g


def ids_by_name(session: Session, vms: Sequence[VirtualMachine]) -> dict[tuple[int, str], str]:
    """{(account id, group name): group uuid} for the groups the VMs name."""
    wanted = {(v.account_id, v.group_name) for v in vms if v.group_name}
    if not wanted:
        return {}
    rows = session.execute(select(InstanceGroup.account_id, InstanceGroup.name, InstanceGroup.uuid).where(
        InstanceGroup.account_id.in_({a for a, _ in wanted}), InstanceGroup.removed.is_(None)))
    return {(a, n): u for a, n, u in rows if (a, n) in wanted}


def name_of(session: Session, uuid: str) -> str | None:
    return session.scalar(select(InstanceGroup.name).where(InstanceGroup.uuid == uuid,
                                                           InstanceGroup.removed.is_(None)))
