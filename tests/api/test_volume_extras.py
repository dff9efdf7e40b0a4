"""Volume extras on the simulator: changing a volume's disk offering, the image check, giving a volume to another
account, and importing/unmanaging volumes of a pool this server did not create (the simulator's pool holds a
volume made behind devcloud's back)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api
GiB = 1024**3


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def test_change_offering_and_check(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone, diskofferingid=zone["disk"])
    data = next(v for v in api("listVolumes", virtualmachineid=vm["id"])["volume"] if v["type"] == "DATADISK")
    medium = api("listDiskOfferings", name="Medium")["diskoffering"][0]
    custom = api("listDiskOfferings", name="Custom")["diskoffering"][0]
    job = api.wait(api("changeOfferingForVolume", id=data["id"], diskofferingid=custom["id"])["jobid"])
    assert job["jobstatus"] == 2 and "size be specified" in job["jobresult"]["errortext"]
    v = api.run("changeOfferingForVolume", id=data["id"], diskofferingid=medium["id"])["volume"]
    assert v["diskofferingid"] == medium["id"] and v["size"] == medium["disksize"] * GiB
    v = api.run("changeOfferingForVolume", id=data["id"], diskofferingid=custom["id"], size=30)["volume"]
    assert v["diskofferingid"] == custom["id"] and v["size"] == 30 * GiB
    job = api.wait(api.call("checkVolume", id=data["id"]).json()["checkandrepairvolumeresponse"]["jobid"])
    assert job["jobstatus"] == 2 and "needs the VM stopped" in job["jobresult"]["errortext"]
    api.run("stopVirtualMachine", id=vm["id"])
    r = api.call("checkVolume", id=data["id"], repair="leaks").json()["checkandrepairvolumeresponse"]
    job = api.wait(r["jobid"])
    res = job["jobresult"]["volume"]
    assert res["volumecheckresult"]["check-errors"] == 0 and res["volumerepairresult"]["leaks-fixed"] == 0
    r = api.call("checkVolume", id=data["id"], repair="everything")
    job = api.wait(r.json()["checkandrepairvolumeresponse"]["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431


def test_assign_volume_to_another_account(api: ApiClient, zone: dict[str, Any]) -> None:
    vol = api.run("createVolume", name="gift", zoneid=zone["zone"], diskofferingid=zone["disk"])["volume"]
    bob = api.new_account()
    status, err = api.error("assignVolume", volumeid=vol["id"])
    assert status == 431
    moved = api("assignVolume", volumeid=vol["id"], accountid=bob["id"])["volume"]
    assert moved["account"] == bob["name"]
    assert api.client_for(bob)("listVolumes", id=vol["id"])["volume"][0]["id"] == vol["id"]
    assert api("listVolumes", id=vol["id"], listall=True)["volume"][0]["account"] == bob["name"]
    status, _ = api.client_for(bob).error("assignVolume", volumeid=vol["id"], accountid=bob["id"])
    assert status == 401  # an admin command


def test_import_and_unmanage_a_pool_file(api: ApiClient, zone: dict[str, Any]) -> None:
    deploy(api, zone)  # the pool is known to the simulated hosts now
    pool = api("listStoragePools", zoneid=zone["zone"])["storagepool"][0]
    sim(zone["urls"][0]).create_volume(pool["id"], "legacy-disk.qcow2", 3 * GiB)  # made behind devcloud's back
    found = api("listVolumesForImport", storageid=pool["id"])["volumeforimport"]
    assert [(f["name"], f["virtualsize"], f["storageid"]) for f in found] == [("legacy-disk.qcow2", 3 * GiB,
                                                                               pool["id"])]
    vol = api.run("importVolume", path="legacy-disk.qcow2", storageid=pool["id"], name="legacy",
                  diskofferingid=zone["disk"])["volume"]
    assert (vol["name"], vol["state"], vol["size"], vol["type"]) == ("legacy", "Ready", 3 * GiB, "DATADISK")
    assert api("listVolumesForImport", storageid=pool["id"]) == {}
    job = api.wait(api("importVolume", path="legacy-disk.qcow2", storageid=pool["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431
    vm = deploy(api, zone)
    att = api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])["volume"]
    assert att["virtualmachineid"] == vm["id"]
    job = api.wait(api("unmanageVolume", id=vol["id"])["jobid"])
    assert job["jobstatus"] == 2 and "detach" in job["jobresult"]["errortext"]
    api.run("detachVolume", id=vol["id"])
    api.run("unmanageVolume", id=vol["id"])
    assert api("listVolumes", id=vol["id"]) == {}
    again = api("listVolumesForImport", storageid=pool["id"])["volumeforimport"]
    assert [f["name"] for f in again] == [vol["id"]]  # the file stays, under the volume's name
