"""Behaviours CloudStack has that clients rely on (each of these differed before): default pod end IP, name filters
ignoring case, deletable user-made system offerings, egress rules defaulting to the network CIDR, clearing physical
network tags with tags="", shrinking a volume on the simulator, CloudStack's text for a missing key pair, and the
fields of nested tags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_rules import _setup
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def test_create_pod_without_endip_runs_to_the_last_usable_address(api: ApiClient, zone: dict[str, Any]) -> None:
    pod = api("createPod", name="POD-noend", zoneid=zone["zone"], gateway="172.16.40.1", netmask="255.255.255.0",
              startip="172.16.40.10")["pod"]
    assert pod["startip"] == ["172.16.40.10"] and pod["endip"] == ["172.16.40.254"]


def test_name_filters_ignore_case(api: ApiClient, zone: dict[str, Any]) -> None:
    name = api("listZones", id=zone["zone"])["zone"][0]["name"]
    assert [z["id"] for z in api("listZones", name=name.upper())["zone"]] == [zone["zone"]]
    assert api("listServiceOfferings", name="small instance")["serviceoffering"][0]["name"] == "Small Instance"
    assert api("listDomains", name="root")["domain"][0]["name"] == "ROOT"


def test_user_made_system_offering_can_be_deleted(api: ApiClient, server: InProcess) -> None:
    from management.services.network import routers

    so = api("createServiceOffering", name="System Offering For My Router", displaytext="mine", cpunumber=1,
             cpuspeed=500, memory=256, issystem=True, systemvmtype="domainrouter")["serviceoffering"]
    assert api("deleteServiceOffering", id=so["id"])["success"] is True
    with server.server.runtime.db.session() as s:
        seeded = routers.router_offering(s).uuid
    status, err = api.error("deleteServiceOffering", id=seeded)
    assert status == 431 and "Default system offering" in err["errortext"]


def test_egress_rule_without_cidrlist_means_the_network_cidr(server: InProcess) -> None:
    api = server.api
    env = _setup(server)
    rule = api.run("createEgressFirewallRule", networkid=env["net"]["id"], protocol="tcp", startport=80,
                   endport=80)["firewallrule"]
    assert rule["cidrlist"] == env["net"]["cidr"]


def test_update_physical_network_empty_tags_clears_them(api: ApiClient, zone: dict[str, Any]) -> None:
    pn = api.run("createPhysicalNetwork", name="tagged", zoneid=zone["zone"], tags="gold")["physicalnetwork"]
    assert pn["tags"] == "gold"
    api.run("updatePhysicalNetwork", id=pn["id"], tags="")
    assert "tags" not in api("listPhysicalNetworks", id=pn["id"])["physicalnetwork"][0]


def test_resize_volume_shrink_on_the_simulator(api: ApiClient, zone: dict[str, Any]) -> None:
    custom = api("createDiskOffering", name="shrinkable", displaytext="c", customized=True)["diskoffering"]
    vm = deploy(api, zone)
    vol = api.run("createVolume", name="d", diskofferingid=custom["id"], size=4, zoneid=zone["zone"])["volume"]
    api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    job = api.wait(api("resizeVolume", id=vol["id"], size=2)["jobid"])
    assert job["jobstatus"] == 2 and "shrinkok" in job["jobresult"]["errortext"]
    shrunk = api.run("resizeVolume", id=vol["id"], size=2, shrinkok=True)["volume"]
    assert shrunk["size"] == 2 * 1024**3


def test_missing_key_pair_text(api: ApiClient, zone: dict[str, Any]) -> None:
    status, err = api.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                            templateid=zone["template"], keypair="nope")
    assert status == 431 and err["errortext"] == "Not all specified keyparis exist"


def test_nested_tags_carry_cloudstacks_fields(server: InProcess, zone: dict[str, Any]) -> None:
    api = server.api
    env = _setup(server)
    user = api.new_account(name="tagger")
    u = api.client_for(user)
    vm = deploy(u, zone)
    u.run("createTags", resourceids=vm["id"], resourcetype="UserVm", **{"tags[0].key": "k", "tags[0].value": "v"})
    api.run("createTags", resourceids=env["net"]["id"], resourcetype="Network",
            **{"tags[0].key": "n", "tags[0].value": "w"})
    want = {"key", "value", "resourcetype", "resourceid", "account", "domainid", "domain", "domainpath"}
    tag = u("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["tags"][0]
    assert set(tag) == want and tag["account"] == "tagger" and tag["resourcetype"] == "UserVm"
    ntag = api("listNetworks", id=env["net"]["id"])["network"][0]["tags"][0]
    assert set(ntag) == want and ntag["account"] == "admin" and ntag["domainpath"] == "ROOT"
    assert u("listTags")["tag"][0] == tag
