"""Dedicated resources (plugins/dedicated-resources): dedicate/list/release zones, pods, clusters and hosts with
CloudStack's rules and texts; the planner keeps every other owner's VMs off a dedicated resource."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def host_of(api: ApiClient, vm: dict[str, Any]) -> str:
    """Where a VM runs (users do not see hostid; the root admin does)."""
    return str(api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["hostid"])


@pytest.fixture
def people(api: ApiClient) -> dict[str, Any]:
    dom = api("createDomain", name="tenants")["domain"]
    return {"domain": dom, "alice": api.new_account(name="alice", domainid=dom["id"]),
            "bob": api.new_account(name="bob", domainid=dom["id"])}


def test_a_dedicated_host_takes_only_its_accounts_vms(api: ApiClient, zone: dict[str, Any],
                                                      people: dict[str, Any]) -> None:
    h0, h1 = zone["hosts"]
    alice, bob = people["alice"], people["bob"]
    out = api.run("dedicateHost", hostid=h0, domainid=people["domain"]["id"], account="alice")
    d = out["dedicatedhost"][0]
    assert (d["hostid"], d["domainid"], d["accountid"]) == (h0, people["domain"]["id"], alice["id"])
    ub = api.client_for(bob)
    for _ in range(3):  # bob's VMs never land on alice's host
        assert host_of(api, deploy(ub, zone)) == h1
    assert host_of(api, deploy(api, zone, account="alice", domainid=people["domain"]["id"], hostid=h0)) == h0
    # Pinning bob's VM to the dedicated host (as root admin can) finds no capacity there.
    job = api.wait(api("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                       templateid=zone["template"], account="bob", domainid=people["domain"]["id"],
                       hostid=h0)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 533

    listed = api("listDedicatedHosts", domainid=people["domain"]["id"], account="alice")["dedicatedhost"]
    assert [x["hostid"] for x in listed] == [h0]
    assert api.run("releaseDedicatedHost", hostid=h0) == {"success": True}
    assert api("listDedicatedHosts") == {}
    job = api.wait(api("releaseDedicatedHost", hostid=h0)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == "No Dedicated Resource available to release"


def test_dedication_rules_and_texts(api: ApiClient, zone: dict[str, Any], people: dict[str, Any]) -> None:
    dom = people["domain"]["id"]
    bob_vm = deploy(api.client_for(people["bob"]), zone)
    bob_vm["hostid"] = host_of(api, bob_vm)
    # A host running another account's VM can not be dedicated to alice.
    job = api.wait(api("dedicateHost", hostid=bob_vm["hostid"], domainid=dom, account="alice")["jobid"])
    assert job["jobstatus"] == 2
    assert job["jobresult"]["errortext"] == (f"Host {bob_vm['hostid']} found to be unsuitable for explicit "
                                             "dedication as it is running instances of another account")
    # The zone to the whole domain: bob's VM is in the domain, so that works; twice does not.
    api.run("dedicateZone", zoneid=zone["zone"], domainid=dom)
    zone_name = api("listZones", id=zone["zone"])["zone"][0]["name"]
    job = api.wait(api("dedicateZone", zoneid=zone["zone"], domainid=dom)["jobid"])
    assert job["jobresult"]["errortext"] == f"Zone  {zone_name} is already dedicated"  # two spaces, as CloudStack
    # A cluster under the domain's zone may go to one of the domain's accounts... unless it runs others' VMs.
    job = api.wait(api("dedicateCluster", clusterid=zone["cluster"], domainid=dom, account="alice")["jobid"])
    assert "running instances of another account" in job["jobresult"]["errortext"]
    # ...and never to an account of another domain.
    other = api.new_account(name="carol")
    root_id = api("listDomains", name="ROOT")["domain"][0]["id"]
    job = api.wait(api("dedicatePod", podid=zone["pod"], domainid=root_id, account=other["name"])["jobid"])
    assert job["jobresult"]["errortext"] == f"Pod's Zone {zone_name} is already dedicated"
    assert api("listDedicatedZones")["dedicatedzone"][0]["zoneid"] == zone["zone"]
    api.run("releaseDedicatedZone", zoneid=zone["zone"])
    assert api("listDedicatedZones") == {}


def test_a_dedicated_zone_keeps_other_domains_out(api: ApiClient, zone: dict[str, Any],
                                                  people: dict[str, Any]) -> None:
    api.run("dedicateZone", zoneid=zone["zone"], domainid=people["domain"]["id"])
    outsider = api.new_account(name="outsider")
    job = api.wait(api.client_for(outsider)("deployVirtualMachine", serviceofferingid=zone["small"],
                                            zoneid=zone["zone"], templateid=zone["template"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 533
    assert deploy(api.client_for(people["alice"]), zone)["state"] == "Running"  # in the domain: fine


def test_only_root_admins_dedicate(api: ApiClient, zone: dict[str, Any], people: dict[str, Any]) -> None:
    ua = api.client_for(people["alice"])
    status, _ = ua.error("dedicateHost", hostid=zone["hosts"][0], domainid=people["domain"]["id"])
    assert status == 401
    status, err = api.error("listDedicatedHosts", account="alice")
    assert (status, err["errortext"]) == (431, "Please specify the domain id of the account: alice")
