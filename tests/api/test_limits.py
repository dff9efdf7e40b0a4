"""Resource limits: 532 with CloudStack's text at the limit, raising it lets the same call through; domain limits
cap their accounts; project limits; storage in GiB; counts equal a recount after 500 random concurrent operations
(every backend)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api

GiB = 1024**3


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def test_user_vm_limit_532_then_raised(api: ApiClient, server: InProcess, zone: dict[str, Any]) -> None:
    dom = api("createDomain", name="lim")["domain"]
    acct = api.new_account(domainid=dom["id"], name="capped")
    u = api.client_for(acct)
    lim = api("updateResourceLimit", account="capped", domainid=dom["id"], resourcetype=0, max=1)["resourcelimit"]
    assert (lim["resourcetype"], lim["resourcetypename"], lim["max"], lim["account"]) == ("0", "user_vm", 1,
                                                                                          "capped")
    deploy(u, zone)
    params = {"serviceofferingid": zone["small"], "zoneid": zone["zone"], "templateid": zone["template"]}
    status, err = u.error("deployVirtualMachine", params)
    assert status == 532 and err["cserrorcode"] == 4370
    assert err["errortext"] == (
        "Maximum amount of resources of Type = 'user_vm', tag = 'null' for Account Name = capped in Domain Id = "
        f"{_domain_dbid(server, dom['id'])} is exceeded: Account Resource Limit = 1, Current Account Resource Amount = "
        "1, Current Account Resource Reservation = 0, Requested Resource Amount = 1.")
    api("updateResourceLimit", account="capped", domainid=dom["id"], resourcetype=0, max=2)
    deploy(u, zone)
    limits = {x["resourcetypename"]: x["max"] for x in u("listResourceLimits")["resourcelimit"]}
    assert limits["user_vm"] == 2 and limits["volume"] == 20 and limits["primary_storage"] == 200
    assert len(limits) == 17
    counts = {x["resourcetypename"]: x["resourcecount"] for x in api(
        "updateResourceCount", account="capped", domainid=dom["id"])["resourcecount"]}
    assert counts["user_vm"] == 2 and counts["volume"] == 2 and counts["cpu"] == 2 and counts["memory"] == 1024
    me = u("listAccounts")["account"][0]
    assert (me["vmlimit"], me["vmtotal"], me["vmavailable"]) == ("2", 2, "0")
    # a user may not raise its own limit (the command is not available to the User role)
    assert u.error("updateResourceLimit", account="capped", domainid=dom["id"], resourcetype=0, max=9)[0] == 401


def _domain_dbid(server: InProcess, uuid: str) -> int:
    from management.models.identity import Domain

    with server.server.runtime.db.session(write=False) as s:
        return int(s.scalar(select(Domain.id).where(Domain.uuid == uuid)))  # type: ignore[arg-type]


def test_domain_limit_caps_its_accounts(api: ApiClient, zone: dict[str, Any]) -> None:
    dom = api("createDomain", name="team")["domain"]
    one, two = api.new_account(domainid=dom["id"], name="one"), api.new_account(domainid=dom["id"], name="two")
    api("updateResourceLimit", domainid=dom["id"], resourcetype=0, max=1)
    deploy(api.client_for(one), zone)
    status, err = api.client_for(two).error("deployVirtualMachine", serviceofferingid=zone["small"],
                                            zoneid=zone["zone"], templateid=zone["template"])
    assert status == 532
    assert err["errortext"] == (
        f"Maximum domain resource limits of Type 'user_vm' for Domain Id = {dom['id']} is exceeded: Domain Resource "
        "Limit = 1, Current Domain Resource Amount = 1, Current Resource Reservation = 0, Requested Resource "
        "Amount = 1.")
    d = api("listDomains", id=dom["id"])["domain"][0]
    assert (d["vmlimit"], d["vmtotal"], d["vmavailable"]) == ("1", 1, "0")
    assert {x["resourcetypename"]: x["max"] for x in api("listResourceLimits", domainid=dom["id"])[
        "resourcelimit"]}["user_vm"] == 1


def test_project_and_storage_limits(api: ApiClient, zone: dict[str, Any]) -> None:
    owner = api.new_account(name="prj-owner")
    u = api.client_for(owner)
    prj = u.run("createProject", name="metered")["project"]
    api("updateResourceLimit", projectid=prj["id"], resourcetype=0, max=0)
    status, err = u.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                          templateid=zone["template"], projectid=prj["id"])
    assert status == 532 and "for Project Name = metered in Domain Id" in err["errortext"]
    lim = api("updateResourceLimit", account=owner["name"], domainid=owner["domainid"], resourcetype=10,
              max=1)["resourcelimit"]
    assert lim["max"] == 1 and lim["resourcetypename"] == "primary_storage"
    custom = api("createDiskOffering", name="custom", displaytext="custom", customized=True)["diskoffering"]
    status, err = u.error("createVolume", name="big", diskofferingid=custom["id"], size=2, zoneid=zone["zone"])
    assert status == 532 and "Account Resource Limit = 1.00 GB" in err["errortext"]
    assert "Requested Resource Amount = 2.00 GB" in err["errortext"]


def test_counts_equal_recount_after_concurrent_operations(server: InProcess, zone: dict[str, Any]) -> None:
    """500 random deploys, destroys, volume creations and deletions from 6 threads against 3 accounts with small
    limits: no limit is ever passed, refusals are 532s, and every count equals a recount of the rows."""
    from management.errors import ResourceLimitExceeded
    from management.models.compute import VirtualMachine
    from management.models.identity import Account
    from management.models.infra import Zone
    from management.models.offerings import DiskOffering, ServiceOffering
    from management.models.storage import Template, Volume
    from management.services import limits
    from management.services.compute import vm as vm_service
    from management.services.storage import volumes as volumes_service

    api, rt = server.api, server.server.runtime
    dom = api("createDomain", name="prop")["domain"]
    names = [api.new_account(domainid=dom["id"], name=f"p{i}")["id"] for i in range(3)]
    for n in range(3):
        api("updateResourceLimit", account=f"p{n}", domainid=dom["id"], resourcetype=0, max=4)
        api("updateResourceLimit", account=f"p{n}", domainid=dom["id"], resourcetype=2, max=7)
    with rt.db.session(write=False) as s:
        accts = [s.scalar(select(Account.id).where(Account.uuid == u)) for u in names]
    rng = random.Random(20261204)
    plan = [(rng.choice(("deploy", "deploy", "destroy", "volume", "unvolume")), rng.choice(accts))
            for _ in range(500)]
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def one(op: str, acct_id: int) -> str:
        if op == "deploy":
            with rt.db.session() as s:
                owner = s.get_one(Account, acct_id)
                req = vm_service.DeployRequest(
                    owner=owner, zone=s.scalar(select(Zone).where(Zone.uuid == zone["zone"])),
                    offering=s.scalar(select(ServiceOffering).where(ServiceOffering.uuid == zone["small"])),
                    template=s.scalar(select(Template).where(Template.uuid == zone["template"])))
                limits.check(s, owner, vm_service.needs(req))
                vm_service.allocate(s, req)
            return "deployed"
        if op == "volume":
            with rt.db.session() as s:
                volumes_service.create(s, s.get_one(Account, acct_id), s.scalar(
                    select(Zone).where(Zone.uuid == zone["zone"])), name=None,
                    offering=s.scalar(select(DiskOffering).where(DiskOffering.uuid == zone["disk"])), size_gb=None)
            return "volume"
        with rt.db.session(write=False) as s:
            if op == "destroy":
                ids = list(s.scalars(select(VirtualMachine.id).where(
                    VirtualMachine.account_id == acct_id, VirtualMachine.removed.is_(None),
                    VirtualMachine.vm_type == "User", VirtualMachine.state == "Stopped")))
            else:
                ids = list(s.scalars(select(Volume.id).where(
                    Volume.account_id == acct_id, Volume.removed.is_(None), Volume.instance_id.is_(None),
                    Volume.state == "Allocated")))
        if not ids:
            return "nothing"
        try:
            if op == "destroy":
                vm_service.destroy(rt, rng.choice(ids), expunge_now=True)
            else:
                volumes_service.delete(rt, rng.choice(ids))
        except Exception as exc:  # noqa: BLE001 - another thread took it first
            return type(exc).__name__
        return op

    def worker(part: list[tuple[str, int]]) -> None:
        for op, acct_id in part:
            try:
                outcome = one(op, acct_id)
            except ResourceLimitExceeded:
                outcome = "532"
            except BaseException as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(exc)
                continue
            with lock:
                outcomes[outcome] += 1
            with rt.db.session(write=False) as s:  # never over a limit, at any moment anyone looks
                counts = limits.counts_for_accounts(s, [acct_id], ["user_vm", "volume"])[acct_id]
            assert counts["user_vm"] <= 4 and counts["volume"] <= 7, counts

    threads = [threading.Thread(target=worker, args=(plan[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors[:3]
    assert outcomes["532"] > 0 and outcomes["deployed"] > 0, outcomes
    for n, acct_id in enumerate(accts):
        got = {x["resourcetypename"]: x["resourcecount"] for x in api(
            "updateResourceCount", account=f"p{n}", domainid=dom["id"])["resourcecount"]}
        with rt.db.session(write=False) as s:
            vms = s.scalar(select(func.count()).select_from(VirtualMachine).where(
                VirtualMachine.account_id == acct_id, VirtualMachine.removed.is_(None),
                VirtualMachine.state.not_in(("Destroyed", "Expunging", "Error"))))
            vols = list(s.scalars(select(Volume.size).where(Volume.account_id == acct_id, Volume.removed.is_(None),
                                                            Volume.state.not_in(("Destroy", "Expunged")))))
        assert (got["user_vm"], got["volume"], got["primary_storage"]) == (vms, len(vols), sum(vols)), n
        assert got["user_vm"] <= 4 and got["volume"] <= 7
