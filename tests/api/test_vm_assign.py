"""assignVirtualMachine as CloudStack answers it: only a stopped VM moves, with its volumes, to an account that
has room for it; rules or snapshots left behind refuse the move; the refusal names only the VM's id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api

REFUSED = re.compile(r"Failed to move Instance due to \[\d+\]\.")


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def _refused(api: ApiClient, **params: Any) -> int:
    status, err = api.error("assignVirtualMachine", params)
    assert REFUSED.fullmatch(err["errortext"]), err
    return status


def test_assign_a_stopped_vm_to_another_account(api: ApiClient, zone: dict[str, Any]) -> None:
    alice = api.new_account(name="alice")
    bob = api.new_account(name="bob")
    vm = deploy(api.client_for(alice), zone)
    assert _refused(api, virtualmachineid=vm["id"], account="bob", domainid=bob["domainid"]) == 431  # Running
    api.run("stopVirtualMachine", id=vm["id"])
    assert _refused(api, virtualmachineid=vm["id"], account="alice", domainid=alice["domainid"]) == 431  # same
    moved = api("assignVirtualMachine", virtualmachineid=vm["id"], account="bob",
                domainid=bob["domainid"])["virtualmachine"]
    assert moved["id"] == vm["id"] and moved["account"] == "bob" and moved["state"] == "Stopped"
    assert moved["username"] == "bob"
    ub = api.client_for(bob)
    assert [v["id"] for v in ub("listVirtualMachines")["virtualmachine"]] == [vm["id"]]
    assert ub("listVolumes", virtualmachineid=vm["id"])["volume"][0]["account"] == "bob"
    assert api.client_for(alice)("listVirtualMachines") == {}
    totals = {a["name"]: a["vmtotal"] for a in api("listAccounts", listall=True)["account"]
              if a["name"] in ("alice", "bob")}
    assert totals == {"alice": 0, "bob": 1}
    assert ub.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"


def test_assign_is_refused_by_snapshots_limits_and_roles(api: ApiClient, zone: dict[str, Any]) -> None:
    carol = api.new_account(name="carol")
    full = api.new_account(name="full")
    api("updateResourceLimit", account="full", domainid=full["domainid"], resourcetype=0, max=0)
    vm = deploy(api, zone)
    api.run("stopVirtualMachine", id=vm["id"])
    assert _refused(api, virtualmachineid=vm["id"], account="full", domainid=full["domainid"]) == 530  # limit
    root = api("listVolumes", virtualmachineid=vm["id"])["volume"][0]
    snap = api.run("createSnapshot", volumeid=root["id"])["snapshot"]
    assert _refused(api, virtualmachineid=vm["id"], account="carol", domainid=carol["domainid"]) == 431
    api.run("deleteSnapshot", id=snap["id"])
    status, err = api.error("assignVirtualMachine", virtualmachineid=vm["id"], projectid=carol["id"])
    assert (status, err["errortext"]) == (431, "Please provide a valid domain ID; cannot assign VM to a project if "
                                               "domain ID is NULL.")
    assert api.client_for(carol).error("assignVirtualMachine", virtualmachineid=vm["id"], account="carol",
                                       domainid=carol["domainid"])[0] == 401
    assert api.error("assignVirtualMachine", virtualmachineid="nope", account="carol",
                     domainid=carol["domainid"])[0] == 431
    assert api("assignVirtualMachine", virtualmachineid=vm["id"], account="carol",
               domainid=carol["domainid"])["virtualmachine"]["account"] == "carol"
