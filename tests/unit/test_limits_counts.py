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
    # listAccounts' vmrunning/vmstopped come from the same statement as the VM count
    assert limits.counts_for_accounts(session, [1], ["vm_running", "vm_stopped"]) == {
        1: {"vm_running": 1, "vm_stopped": 1}}


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


@pytest.fixture()
def owner(session: Session) -> Any:
    """Account 1 (a user, the rows above are its) in ROOT/a/b: its own VM limit, a CPU limit on /a that /b
    inherits, defaults for the rest."""
    from management.models.governance import ResourceLimit
    from management.models.identity import Account, Domain

    root = Domain(id=1, name="ROOT", path="/")
    a = Domain(id=2, name="a", parent_id=1, path="/a/", level=1)
    b = Domain(id=3, name="b", parent_id=2, path="/a/b/", level=2)
    acct = Account(id=1, name="alice", domain_id=3)
    from management.models.events import Configuration

    session.add_all([root, a, b, acct,
                     ResourceLimit(owner_type="Account", owner_id=1, resource_type="user_vm", max=3),
                     ResourceLimit(owner_type="Domain", owner_id=2, resource_type="cpu", max=4)])
    # the global defaults' rows, as bootstrap seeds them (the server keeps them in memory once read)
    session.add_all([Configuration(name=limits.setting_name(scope, limits.BY_NAME[t]), value=str(v))
                     for scope, defaults in limits.DEFAULTS.items() if scope != "project" for t, v in defaults.items()])
    session.commit()
    return acct


def test_limits_come_from_the_owner_then_the_nearest_domain_then_the_defaults(session: Session, owner: Any) -> None:
    from management.models.identity import Domain

    mine = limits.account_limits(session, [owner])[owner.id]
    assert mine["user_vm"] == 3 and mine["cpu"] == 40 and mine["primary_storage"] == 200 * limits.GiB
    b = session.get_one(Domain, 3)
    assert limits.domain_limits(session, b, ["cpu", "user_vm"]) == {"cpu": 4, "user_vm": 40}
    assert set(limits.domain_limits(session, session.get_one(Domain, 1)).values()) == {limits.UNLIMITED}
    assert limits.account_limit(session, owner, limits.BY_NAME["user_vm"]) == 3


def test_a_check_names_the_first_limit_passed(session: Session, owner: Any) -> None:
    # the account holds 2 VMs with 3 CPUs: one more VM of one CPU fits; two CPUs pass /a's limit of 4
    limits.check(session, owner, {"user_vm": 1, "cpu": 1, "memory": 256})
    with pytest.raises(Exception, match="Type 'cpu' for Domain Id = .* Domain Resource Limit = 4, Current Domain "
                                        "Resource Amount = 3, .* Requested Resource Amount = 2"):
        limits.check(session, owner, {"user_vm": 1, "cpu": 2})
    with pytest.raises(Exception, match="Type = 'user_vm', tag = 'null' for Account Name = alice .* Account Resource "
                                        "Limit = 3, Current Account Resource Amount = 2"):
        limits.check(session, owner, {"user_vm": 2, "cpu": 2})


def test_a_check_reads_the_limits_and_counts_once_per_owner(session: Session, owner: Any) -> None:
    wanted = {"user_vm": 1, "cpu": 1, "memory": 256}
    limits.check(session, owner, wanted)  # as a server that has read the settings before
    chain = [session.get_one(limits.Domain, i) for i in (1, 2, 3)]  # in the session, as a caller's lookups leave it
    seen: list[str] = []
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", lambda c, cur, statement, *a: seen.append(statement))
    limits.check(session, owner, wanted)
    assert [d.name for d in chain] == ["ROOT", "a", "b"]
    # the account's explicit limits, the chain's, the account's VM counts (count, CPUs and memory in one),
    # then for each of /b and /a: its accounts and their VM counts
    assert len(seen) == 7, "\n".join(seen)
