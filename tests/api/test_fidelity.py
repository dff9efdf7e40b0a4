"""Behaviour Marvin-style tests and real tools rely on, answered as CloudStack answers (issue 15's fidelity list):
list scoping by id, lists by a deleted id, associateIpAddress without networkid, validations with CloudStack's
texts, response fields, and the commands core tests call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_networks import make_zone, offering_id
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def test_root_admin_lists_another_accounts_vm_by_id_without_listall(server: InProcess, api: ApiClient,
                                                                   zone: dict[str, Any]) -> None:
    """AccountManagerImpl.buildACLSearchParameters: an id implies listall for admins; a user still sees only its
    own rows."""
    dom = api("createDomain", name="sub")["domain"]
    alice = api.new_account(name="alice", domainid=dom["id"])
    bob = api.new_account(name="bob", domainid=dom["id"])
    dadmin = api.new_account(name="dadmin", domainid=dom["id"], accounttype=2)
    vm = deploy(api.client_for(alice), zone)
    assert api("listVirtualMachines") == {}  # without id: the caller's own only
    assert [v["id"] for v in api("listVirtualMachines", id=vm["id"])["virtualmachine"]] == [vm["id"]]
    assert api("listVirtualMachines", id=vm["id"], listall=False)["count"] == 1
    root = api("listVolumes", virtualmachineid=vm["id"], listall=True)["volume"][0]
    assert api("listVolumes", id=root["id"])["count"] == 1
    assert api.client_for(dadmin)("listVirtualMachines", id=vm["id"])["count"] == 1
    status, _ = api.client_for(bob).error("listVirtualMachines", id=vm["id"])
    assert status == 531  # a user's list by another's id is refused, never answered with the row


def test_list_by_the_id_of_a_deleted_entity_is_empty(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    vol = api.run("createVolume", name="d", zoneid=zone["zone"], diskofferingid=zone["disk"])["volume"]
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert api("listVirtualMachines", id=vm["id"]) == {}
    assert api("listVirtualMachines", id=vm["id"], listall=True) == {}
    api("deleteVolume", id=vol["id"])
    assert api("listVolumes", id=vol["id"]) == {}
    status, err = api.error("listVirtualMachines", id="0e9c4b6a-0000-4000-8000-000000000000")
    assert status == 431 and "Invalid parameter id value" in err["errortext"]  # never existed: still 431


def test_associate_ip_without_networkid_takes_the_callers_isolated_network(server: InProcess,
                                                                           api: ApiClient) -> None:
    z = make_zone(server)
    user = api.new_account(name="ipuser")
    ua = api.client_for(user)
    status, err = ua.error("associateIpAddress", zoneid=z["id"])
    assert status == 431
    assert err["errortext"] == "Account name=ipuser domain=ROOT doesn't have virtual networks in zone=Sandbox-simulator"
    off = offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    net = ua("createNetwork", name="n1", displaytext="n1", networkofferingid=off, zoneid=z["id"])["network"]
    ip = ua.run("associateIpAddress", zoneid=z["id"])["ipaddress"]
    assert ip["associatednetworkid"] == net["id"]
    ua("createNetwork", name="n2", displaytext="n2", networkofferingid=off, zoneid=z["id"])
    status, err = ua.error("associateIpAddress", zoneid=z["id"])
    assert (status, err["errortext"]) == (431, "Account has more than one isolated network in the zone")


def test_disk_offering_cache_mode_and_io_fields(api: ApiClient) -> None:
    status, err = api.error("createDiskOffering", name="bad", disksize=1, cachemode="fast")
    assert status == 431
    assert err["errortext"] == ("Invalid cache mode (fast). Please specify one of the following valid cache mode "
                                "parameters: none, writeback, writethrough or hypervisor_default.")
    do = api("createDiskOffering", name="wb", disksize=1, cachemode="WriteBack", bytesreadrate=1048576,
             iopswriterate=200, encrypt=True)["diskoffering"]
    assert do["cacheMode"] == "writeback" and do["diskBytesReadRate"] == 1048576 and do["diskIopsWriteRate"] == 200
    assert do["encrypt"] is True
    so = api("createServiceOffering", name="so-io", cpunumber=1, cpuspeed=500, memory=256,
             cachemode="none")["serviceoffering"]
    assert so["cacheMode"] == "none" and so["encryptroot"] is False
    listed = api("listDiskOfferings", id=do["id"])["diskoffering"][0]
    assert listed["cacheMode"] == "writeback" and "encrypt" in listed


def test_rootdisksize_zero_or_below_the_template(api: ApiClient, zone: dict[str, Any]) -> None:
    status, err = api.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                            templateid=zone["template"], rootdisksize=0)
    assert (status, err["errortext"]) == (431, "Root disk size should be a positive number.")
    tmpl = api("listTemplates", templatefilter="all", id=zone["template"])["template"][0]
    assert tmpl["size"] > 1024**3  # the builtin template is bigger than 1 GiB
    status, err = api.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                            templateid=zone["template"], rootdisksize=1)
    assert status == 431
    assert err["errortext"].startswith("Unsupported: rootdisksize override (1 GB) is smaller than template size (")
    assert err["errortext"].endswith(f" {tmpl['size']}")


def test_update_account_with_an_empty_name(api: ApiClient) -> None:
    acct = api.new_account(name="keepme")
    status, err = api.error("updateAccount", id=acct["id"], newname="")
    assert status == 431
    assert err["errortext"] == (f"The new account name for account '{acct['id']}' within domain '{acct['domainid']}'"
                                "  is empty string. Account will be not renamed.")
    assert api("listAccounts", id=acct["id"])["account"][0]["name"] == "keepme"


def test_restart_of_an_l2_network_that_never_ran(server: InProcess, api: ApiClient) -> None:
    z = make_zone(server)
    off = offering_id(api, "DefaultL2NetworkOffering")
    net = api("createNetwork", name="l2", displaytext="l2", networkofferingid=off, zoneid=z["id"])["network"]
    job = api.wait(api("restartNetwork", id=net["id"])["jobid"])
    assert job["jobstatus"] == 2
    assert job["jobresult"]["errortext"] == ("Network is not in the right state to be restarted. Correct states "
                                             "are: Implemented, Setup")


def test_accounts_and_domains_carry_limits_totals_and_availables(api: ApiClient, zone: dict[str, Any]) -> None:
    dom = api("createDomain", name="quota")["domain"]
    acct = api.new_account(name="counted", domainid=dom["id"])
    deploy(api.client_for(acct), zone)
    a = api("listAccounts", id=acct["id"])["account"][0]
    assert (a["vmlimit"], a["vmtotal"], a["vmavailable"]) == ("20", 1, "19")
    assert a["vmrunning"] == 1 and a["cputotal"] == 1 and a["memorytotal"] == 512
    assert a["volumetotal"] == 1 and a["primarystoragetotal"] >= 1 and a["iplimit"] == "20"
    admin = api("listAccounts", name="admin")["account"][0]
    assert admin["vmlimit"] == "Unlimited" and admin["vmavailable"] == "Unlimited"
    d = api("listDomains", id=dom["id"])["domain"][0]
    assert d["vmtotal"] == 1 and d["vmlimit"] == "40" and d["vmavailable"] == "39"
    root = api("listDomains", id=acct["domainid"], listall=True)["domain"][0]
    assert root["vmtotal"] == 1
    assert api("listDomains", level=0)["domain"][0]["vmlimit"] == "Unlimited"


def test_vlan_ranges_say_forsystemvms_and_can_be_dedicated(server: InProcess, api: ApiClient) -> None:
    z = make_zone(server)
    rng = api("listVlanIpRanges", zoneid=z["id"])["vlaniprange"][0]
    assert rng["forsystemvms"] is False and "account" not in rng
    acct = api.new_account(name="owner")
    ded = api("dedicatePublicIpRange", id=rng["id"], account="owner", domainid=acct["domainid"])["vlan"]
    assert ded["account"] == "owner" and ded["domainid"] == acct["domainid"]
    status, err = api.error("dedicatePublicIpRange", id=rng["id"], account="owner", domainid=acct["domainid"])
    assert (status, err["errortext"]) == (431, "Specified Public IP range has already been dedicated to an account")
    assert api("releasePublicIpRange", id=rng["id"]) == {"success": True}
    assert "account" not in api("listVlanIpRanges", id=rng["id"])["vlaniprange"][0]
    status, _ = api.error("releasePublicIpRange", id=rng["id"])
    assert status == 431


def test_move_user_between_accounts_of_a_domain(api: ApiClient) -> None:
    a = api.new_account(name="from")
    b = api.new_account(name="to")
    user = api("createUser", account="from", username="mover", password="pw", email="m@example.org",
               firstname="M", lastname="V")["user"]
    assert api("moveUser", id=user["id"], account="to") == {"success": True}
    moved = api("listUsers", id=user["id"])["user"][0]
    assert moved["account"] == "to" and moved["accountid"] == b["id"]
    assert api("moveUser", id=user["id"], accountid=a["id"]) == {"success": True}
    status, _ = api.error("moveUser", id=user["id"], accountid=a["id"])
    assert status == 431
    ua = api.client_for(a)
    assert ua.error("moveUser", id=user["id"], account="to")[0] == 401  # root admin only


def test_list_system_vms_is_honestly_empty(api: ApiClient, zone: dict[str, Any]) -> None:
    assert api("listSystemVms") == {}
    assert api("listSystemVms", zoneid=zone["zone"], systemvmtype="secondarystoragevm") == {}
    status, _ = api.error("listSystemVms", id="0e9c4b6a-0000-4000-8000-000000000001")
    assert status == 431


def test_destroy_recover_and_update_volume(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    vol = api.run("createVolume", name="data", zoneid=zone["zone"], diskofferingid=zone["disk"])["volume"]
    api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    job = api.wait(api("destroyVolume", id=vol["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == ("Please specify a volume that is not "
                                                                       "attached to any VM.")
    api.run("detachVolume", id=vol["id"])
    assert api.run("destroyVolume", id=vol["id"])["volume"]["state"] == "Destroy"
    assert api("recoverVolume", id=vol["id"])["volume"]["state"] == "Ready"
    status, err = api.error("recoverVolume", id=vol["id"])
    assert (status, err["errortext"]) == (431, "Please specify a volume in Destroy state.")
    up = api.run("updateVolume", id=vol["id"], name="renamed", displayvolume=False)["volume"]
    assert up["name"] == "renamed" and up["displayvolume"] is False
    api.run("destroyVolume", id=vol["id"], expunge=True)
    assert api("listVolumes", id=vol["id"]) == {}
