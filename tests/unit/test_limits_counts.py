"""Resource counts of owners (services.limits), as listAccounts, listProjects and the limit checks read them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

import management.models  # noqa: F401  (every table)
from management.db.base import Base
from management.models.compute import VirtualMachine
from management.models.storage import Snapshot, Template, Volume
from management.services import limits

pytestmark = pytest.mark.unit


@pytest.fixture()
def session() -> Any:
    # foreign keys off (SQLite's default): only the counted columns matter here
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        own = {"account_id": 1, "domain_id": 1}

        def vm(name: str, **kw: Any) -> VirtualMachine:
            return VirtualMachine(instance_name=name, name=name, zone_id=1, service_offering_id=1, **own, **kw)

        live = [vm("a", state="Running", cpu=2, ram_size=512), vm("b", state="Stopped", cpu=1, ram_size=256)]
        gone, router = vm("c", state="Destroyed", cpu=4, ram_size=4096), vm("r", vm_type="DomainRouter", cpu=1)
        s.add_all([*live, gone, router])
        s.flush()

        def vol(name: str, size: int, **kw: Any) -> Volume:
            return Volume(name=name, size=size, zone_id=1, volume_type="ROOT", **({"state": "Ready"} | kw), **own)

        s.add_all([vol("v1", 10, instance_id=live[0].id), vol("v2", 20), vol("v3", 40, state="Expunged"),
                   vol("vr", 80, instance_id=router.id)])
        s.add_all([Snapshot(name="s1", zone_id=1, volume_id=1, state="BackedUp", size=5, physical_size=3, **own),
                   Snapshot(name="s2", zone_id=1, volume_id=1, state="Destroyed", size=50, **own)])
        s.add_all([Template(name="t1", format="QCOW2", size=7, **own),
                   Template(name="t2", format="QCOW2", template_type="BUILTIN", size=70, **own)])
        s.commit()
        yield s


def test_owner_counts_follow_cloudstack_s_rules(session: Session) -> None:
    counts = limits.counts_for_accounts(session, [1, 2])
    assert {t: n for t, n in counts[1].items() if n} == {
        "user_vm": 2, "cpu": 3, "memory": 768, "volume": 2, "primary_storage": 30, "snapshot": 1, "template": 1,
        "secondary_storage": 3 + 7}  # a snapshot's physical size and a template's size
    assert set(counts[1]) == {t.name for t in limits.TYPES}
    assert set(counts[2].values()) == {0}
    assert limits.counts_for_accounts(session, [1], ["memory"]) == {1: {"memory": 768}}


def test_owner_counts_read_each_table_once(session: Session) -> None:
    # listAccounts/listProjects count every type for a page of owners: VMs give their count, CPUs and memory in one
    # statement, volumes their count and size, and so on (8 statements, not 13)
    seen: list[str] = []
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", lambda c, cur, statement, *a: seen.append(statement))
    limits.counts_for_accounts(session, [1, 2])
    assert len(seen) == 8
    seen.clear()
    limits.counts_for_accounts(session, [1], ["memory", "secondary_storage"])
    assert len(seen) == 3  # VMs, snapshots, templates
