"""Affinity groups through the signed API on a two-host simulator zone: types, create/list/delete, membership on
deploy (ids and names), the planner's strict and non-strict rules, updateVMAffinityGroup."""

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
    yield from sim_zone(server, tmp_path, hosts=2)


def group(api: ApiClient, name: str, kind: str) -> dict[str, Any]:
    return api.run("createAffinityGroup", name=name, type=kind)["affinitygroup"]  # type: ignore[no-any-return]


def test_types_create_list_delete(api: ApiClient) -> None:
    types = api("listAffinityGroupTypes")
    assert [t["type"] for t in types["affinityGroupType"]] == [
        "host anti-affinity", "host affinity", "non-strict host anti-affinity", "non-strict host affinity"]
    started = api("createAffinityGroup", name="web", type="host anti-affinity", description="spread the web tier")
    assert set(started) == {"id", "jobid"}
    g = api.wait(started["jobid"])["jobresult"]["affinitygroup"]
    assert (g["id"], g["name"], g["type"], g["description"]) == (started["id"], "web", "host anti-affinity",
                                                                 "spread the web tier")
    assert g["account"] == "admin" and g["virtualmachineIds"] == []
    listed = api("listAffinityGroups", name="web")
    assert listed["count"] == 1 and listed["affinitygroup"][0]["id"] == g["id"]
    assert api("listAffinityGroups", type="host affinity") == {}
    # same name twice, an unknown type: the create phase refuses them before any job exists
    status, err = api.error("createAffinityGroup", name="web", type="host anti-affinity")
    assert status == 431 and err["errortext"] == ("Unable to create affinity group, a group with name web already "
                                                  "exists.")
    status, err = api.error("createAffinityGroup", name="x", type="rack anti-affinity")
    assert status == 431 and err["errortext"].startswith(
        "Unable to create affinity group, invalid affinity group type: rack anti-affinity. Valid values are host "
        "anti-affinity")
    assert api.run("deleteAffinityGroup", name="web") == {"success": True}
    assert api("listAffinityGroups") == {}
    job = api.wait(api("deleteAffinityGroup")["jobid"])
    assert job["jobstatus"] == 2 and job["jobresultcode"] == 431
    assert "Either the affinity group Id or group name must be specified" in job["jobresult"]["errortext"]


def test_strict_anti_affinity_spreads_and_refuses_a_third(api: ApiClient, zone: dict[str, Any]) -> None:
    g = group(api, "spread", "host anti-affinity")
    a = deploy(api, zone, affinitygroupids=g["id"])
    b = deploy(api, zone, affinitygroupnames="spread")
    assert a["hostid"] != b["hostid"]
    assert [x["name"] for x in a["affinitygroup"]] == ["spread"]
    started = api("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                  templateid=zone["template"], affinitygroupids=g["id"])
    job = api.wait(started["jobid"])
    assert job["jobstatus"] == 2 and job["jobresultcode"] == 533, job
    text = job["jobresult"]["errortext"]
    assert text.startswith("Unable to create a deployment for VM[User|i-"), text
    assert text.endswith(", Please check the affinity groups provided, there may not be sufficient capacity to "
                         "follow them"), text
    members = api("listAffinityGroups", id=g["id"])["affinitygroup"][0]["virtualmachineIds"]
    assert set(members) >= {a["id"], b["id"]}
    # a VM outside the group still deploys on either host
    assert deploy(api, zone)["state"] == "Running"


def test_non_strict_anti_affinity_is_best_effort(api: ApiClient, zone: dict[str, Any]) -> None:
    g = group(api, "soft", "non-strict host anti-affinity")
    vms = [deploy(api, zone, affinitygroupids=g["id"]) for _ in range(3)]
    assert all(v["state"] == "Running" for v in vms)
    assert vms[0]["hostid"] != vms[1]["hostid"]  # spread while a free host exists
    assert vms[2]["hostid"] in zone["hosts"]  # then any host


def test_host_affinity_keeps_members_together(api: ApiClient, zone: dict[str, Any]) -> None:
    together = group(api, "together", "host affinity")
    soft = group(api, "near", "non-strict host affinity")
    a = deploy(api, zone, affinitygroupids=together["id"])
    b = deploy(api, zone, affinitygroupids=together["id"])
    assert a["hostid"] == b["hostid"]
    c = deploy(api, zone, affinitygroupids=soft["id"])
    d = deploy(api, zone, affinitygroupids=soft["id"])
    assert c["hostid"] == d["hostid"]


def test_update_vm_affinity_group_needs_a_stopped_vm(api: ApiClient, zone: dict[str, Any]) -> None:
    g1 = group(api, "g1", "host anti-affinity")
    g2 = group(api, "g2", "non-strict host affinity")
    vm = deploy(api, zone, affinitygroupids=g1["id"])
    job = api.wait(api("updateVMAffinityGroup", id=vm["id"], affinitygroupids=g2["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresultcode"] == 431
    assert "make sure the virtual machine is stopped" in job["jobresult"]["errortext"]
    api.run("stopVirtualMachine", id=vm["id"])
    started = api("updateVMAffinityGroup", id=vm["id"], affinitygroupnames="g1,g2")
    updated = api.wait(started["jobid"])["jobresult"]["virtualmachine"]
    assert sorted(x["name"] for x in updated["affinitygroup"]) == ["g1", "g2"]
    assert [x["id"] for x in api("listAffinityGroups", virtualmachineid=vm["id"])["affinitygroup"]] == \
        [g1["id"], g2["id"]]
    api.run("updateVMAffinityGroup", id=vm["id"], affinitygroupids=g2["id"])
    assert [x["name"] for x in api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["affinitygroup"]] == \
        ["g2"]
    # expunging the VM takes it out of its groups
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert api("listAffinityGroups", id=g2["id"])["affinitygroup"][0]["virtualmachineIds"] == []
