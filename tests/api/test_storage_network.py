"""Storage network IP ranges of a pod: refused until the zone carries Storage traffic, then created, listed by
range/pod/zone, moved and deleted, never overlapping the pod's management range or each other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


def failed(api: ApiClient, command: str, **params: Any) -> tuple[int, str]:
    job = api.wait(api(command, params)["jobid"])
    assert job["jobstatus"] == 2, job
    return job["jobresultcode"], job["jobresult"]["errortext"]


def test_storage_network_ranges(api: ApiClient, zone: dict[str, Any]) -> None:
    rng = {"podid": zone["pod"], "startip": "10.10.0.10", "endip": "10.10.0.20", "gateway": "10.10.0.1",
           "netmask": "255.255.255.0"}
    code, text = failed(api, "createStorageNetworkIpRange", **rng)
    assert code == 530 and text.startswith("Cannot find storage network in zone ")
    phy = api.run("createPhysicalNetwork", zoneid=zone["zone"], name="storage-phy")["physicalnetwork"]
    api.run("addTrafficType", physicalnetworkid=phy["id"], traffictype="Storage")

    r = api.run("createStorageNetworkIpRange", rng, vlan=300)["storagenetworkiprange"]
    assert (r["podid"], r["zoneid"], r["startip"], r["endip"], r["gateway"], r["netmask"], r["vlan"]) == (
        zone["pod"], zone["zone"], "10.10.0.10", "10.10.0.20", "10.10.0.1", "255.255.255.0", 300)
    single = api.run("createStorageNetworkIpRange", rng, startip="10.10.0.30", endip=None)["storagenetworkiprange"]
    assert single["endip"] == "10.10.0.30"  # no end: a range of one address

    code, text = failed(api, "createStorageNetworkIpRange", **{**rng, "startip": "10.10.0.15", "endip": "10.10.0.25"})
    assert (code, text) == (431, "The Storage network Start IP and endIP address range overlap with private IP :"
                                 "10.10.0.10 - 10.10.0.20")
    code, text = failed(api, "createStorageNetworkIpRange", **{**rng, "startip": "172.16.15.50",
                                                                "endip": "172.16.15.60"})
    assert (code, text) == (431, "The Storage network Start IP and endIP address range overlap with private IP :"
                                 "172.16.15.2:172.16.15.200")
    code, text = failed(api, "createStorageNetworkIpRange", **{**rng, "netmask": "255.0.255.0"})
    assert (code, text) == (530, "Invalid netmask:255.0.255.0")
    code, _ = failed(api, "createStorageNetworkIpRange", **{**rng, "startip": "10.10.0.300"})
    assert code == 431

    assert api("listStorageNetworkIpRange", zoneid=zone["zone"])["count"] == 2
    assert [x["id"] for x in api("listStorageNetworkIpRange", id=r["id"])["storagenetworkiprange"]] == [r["id"]]
    assert api("listStorageNetworkIpRange", podid=zone["pod"])["count"] == 2

    moved = api.run("updateStorageNetworkIpRange", id=r["id"], startip="10.10.0.5", vlan=301)["storagenetworkiprange"]
    assert (moved["startip"], moved["endip"], moved["vlan"]) == ("10.10.0.5", "10.10.0.20", 301)
    code, _ = failed(api, "updateStorageNetworkIpRange", id=r["id"], endip="10.10.0.30")  # onto the other range
    assert code == 431

    assert api.run("deleteStorageNetworkIpRange", id=single["id"]) == {"success": True}
    assert api.run("deleteStorageNetworkIpRange", id=r["id"]) == {"success": True}
    assert api("listStorageNetworkIpRange") == {}
    status, _ = api.error("deleteStorageNetworkIpRange", id=r["id"])
    assert status == 431
    user = api.client_for(api.new_account(name="nosy"))
    assert user.error("listStorageNetworkIpRange")[0] == 401
