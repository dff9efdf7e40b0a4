"""listVirtualMachines answers from plain rows in wire form (management/api/cloudstack/commands/compute/vm.py
`vm_dicts`, no response models on the list path). Here a VM with everything a response shows — a second NIC
with a secondary IP, static NAT, a data disk, key pairs, a group, details, user data, tags and an affinity
group — is listed, and its listing must be exactly what VirtualMachineResp makes of it (field names, types,
defaults, no nulls, CloudStack's dates) and what the one-VM answers (startVirtualMachine) say."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from management.api.cloudstack.envelope import plain
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from tests.api.test_vm_lifecycle import deploy
from tests.api.test_vm_nics import network, zone  # noqa: F401 - the advanced zone fixture
from tests.conftest import ApiClient

pytestmark = pytest.mark.api


def _as_model_would(item: dict[str, Any]) -> dict[str, Any]:
    return plain(VirtualMachineResp.model_validate(item))  # type: ignore[no-any-return]


def test_a_listed_vm_is_what_its_response_model_makes_of_it(api: ApiClient, zone: dict[str, Any]) -> None:  # noqa: F811
    front, back = network(api, zone, "front"), network(api, zone, "back")
    api("createSSHKeyPair", name="ops")
    api.run("createAffinityGroup", name="spread", type="host anti-affinity")
    userdata = base64.b64encode(b"#cloud-config\n").decode()
    vm = deploy(api, zone, networkids=front["id"], keypairs="ops", group="web", affinitygroupnames="spread",
                diskofferingid=zone["disk"], userdata=userdata, **{"details[0].cpuNumber": "1"})
    nic = api.run("addNicToVirtualMachine", virtualmachineid=vm["id"], networkid=back["id"])["virtualmachine"]["nic"]
    api.run("addIpToNic", nicid=[n for n in nic if n["networkid"] == back["id"]][0]["id"])
    ip = api.run("associateIpAddress", networkid=front["id"])["ipaddress"]
    assert api("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm["id"])["success"] is True
    api.run("createTags", resourceids=vm["id"], resourcetype="UserVm", **{"tags[0].key": "tier",
                                                                          "tags[0].value": "web"})

    listed = api("listVirtualMachines", id=vm["id"], details="all")["virtualmachine"][0]
    # everything above shows, so the comparison below covers every part of the view
    assert listed["publicip"] == ip["ipaddress"] and listed["publicipid"] == ip["id"]
    assert listed["keypairs"] == "ops" and listed["group"] == "web" and listed["groupid"]
    assert [g["name"] for g in listed["affinitygroup"]] == ["spread"]
    assert [(t["key"], t["value"]) for t in listed["tags"]] == [("tier", "web")]
    assert listed["diskofferingid"] == zone["disk"] and listed["userdata"] == userdata
    assert [len(n.get("secondaryip", [])) for n in listed["nic"]] == [0, 1]
    assert listed["details"] and listed["created"].endswith("+0000")
    assert _as_model_would(listed) == listed

    api.run("stopVirtualMachine", id=vm["id"])
    started = api.run("startVirtualMachine", id=vm["id"])["virtualmachine"]  # the one-VM (model) path
    again = api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
    assert started == again
    assert _as_model_would(again) == again
    assert "userdata" not in again  # only with details=all or userdata


def test_the_list_view_leaves_out_what_details_min_drops(api: ApiClient, zone: dict[str, Any]) -> None:  # noqa: F811
    vm = deploy(api, zone, networkids=network(api, zone, "one")["id"], **{"details[0].cpuNumber": "1"})
    assert api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["details"]
    minimal = api("listVirtualMachines", id=vm["id"], details="min")["virtualmachine"][0]
    assert "details" not in minimal and _as_model_would(minimal) == minimal
    assert minimal["rootdeviceid"] == 0 and minimal["isdynamicallyscalable"] is False  # the model's defaults
