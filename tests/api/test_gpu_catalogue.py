"""The GPU catalogue: cards, vGPU profiles and hosts' GPU devices, as an operator manages them; a user sees no
device of another account's VM; these hosts have no GPU, so discovery reports none."""

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


def card(api: ApiClient, **kw: Any) -> dict[str, Any]:
    params = {"deviceid": "0x2236", "devicename": "GA102GL [A10]", "name": "NVIDIA A10", "vendorname": "NVIDIA",
              "vendorid": "10de", "videoram": 24576, **kw}
    return api("createGpuCard", params)["gpucard"]  # type: ignore[no-any-return]


def test_cards_and_profiles(api: ApiClient) -> None:
    assert api("listGpuCards") == {}
    c = card(api)
    assert (c["name"], c["vendorid"], c["deviceid"], c["vendorname"]) == ("NVIDIA A10", "10de", "0x2236", "NVIDIA")
    status, err = api.error("createGpuCard", deviceid="0x2236", devicename="x", name="dup", vendorname="NVIDIA",
                            vendorid="10de")
    assert (status, err["errortext"]) == (431, "GPU card with vendor ID 10de and device ID 0x2236 already exists")

    # a card comes with its passthrough profile
    (passthrough,) = api("listVgpuProfiles", gpucardid=c["id"])["vgpuprofile"]
    assert (passthrough["name"], passthrough["maxvgpuperphysicalgpu"], passthrough["videoram"]) == (
        "passthrough", 1, 24576)
    p = api("createVgpuProfile", name="A10-4Q", gpucardid=c["id"], maxvgpuperphysicalgpu=6, videoram=4096,
            maxheads=4, maxresolutionx=7680, maxresolutiony=4320)["vgpuprofile"]
    assert (p["gpucardname"], p["vendorid"], p["maxheads"]) == ("NVIDIA A10", "10de", 4)
    status, err = api.error("createVgpuProfile", name="A10-4Q", gpucardid=c["id"])
    assert status == 431 and "already exists" in err["errortext"]
    status, _ = api.error("createVgpuProfile", name="bad", gpucardid=c["id"], videoram=-1)
    assert status == 431
    up = api("updateVgpuProfile", id=p["id"], description="4 GiB frame buffer", maxvgpuperphysicalgpu=5)["vgpuprofile"]
    assert (up["description"], up["maxvgpuperphysicalgpu"], up["videoram"]) == ("4 GiB frame buffer", 5, 4096)
    assert api("listVgpuProfiles", name="A10-4Q")["count"] == 1

    renamed = api("updateGpuCard", id=c["id"], name="A10 24GB")["gpucard"]
    assert renamed["name"] == "A10 24GB"
    assert [x["id"] for x in api("listGpuCards", vendorid="10de")["gpucard"]] == [c["id"]]
    assert api("listGpuCards", activeonly=True) == {}  # no host has one
    assert api("listGpuCards", vendorid="1002") == {}

    assert api("deleteVgpuProfile", id=p["id"]) == {"success": True}
    assert api("deleteGpuCard", id=c["id"]) == {"success": True}
    assert api("listGpuCards") == {} and api("listVgpuProfiles") == {}
    status, err = api.error("deleteGpuCard", id=c["id"])
    assert status == 431


def test_devices_of_a_host(api: ApiClient, zone: dict[str, Any]) -> None:
    host = zone["hosts"][0]
    c = card(api, deviceid="0x20b5", vendorid="10de", name="A100")
    (profile,) = api("listVgpuProfiles", gpucardid=c["id"])["vgpuprofile"]
    assert api("discoverGpuDevices", id=host) == {}  # the simulated host reports no GPU

    d = api("createGpuDevice", hostid=host, busaddress="00:1e.0", gpucardid=c["id"], vgpuprofileid=profile["id"],
            numanode="0")["gpudevice"]
    assert (d["hostid"], d["gpucardname"], d["vgpuprofilename"], d["gpudevicetype"], d["state"],
            d["managedstate"], d["numanode"]) == (host, "A100", "passthrough", "PCI", "Free", "Managed", "0")
    status, err = api.error("createGpuDevice", hostid=host, busaddress="00:1e.0", gpucardid=c["id"],
                            vgpuprofileid=profile["id"])
    assert status == 431 and "already exists" in err["errortext"]
    status, err = api.error("createGpuDevice", hostid=host, busaddress="00:1f.0", gpucardid=c["id"],
                            vgpuprofileid=profile["id"], type="SRIOV")
    assert (status, err["errortext"]) == (431, "Invalid GPU device type: SRIOV. Valid values are: PCI, MDEV, "
                                               "VGPUOnly")
    assert [x["id"] for x in api("discoverGpuDevices", id=host)["gpudevice"]] == [d["id"]]
    assert api("listGpuDevices", hostid=host)["count"] == 1
    assert api("listGpuCards", activeonly=True)["gpucard"][0]["id"] == c["id"]

    up = api("updateGpuDevice", id=d["id"], numanode="1", type="MDEV")["gpudevice"]
    assert (up["numanode"], up["gpudevicetype"]) == ("1", "MDEV")
    assert api("unmanageGpuDevice", ids=d["id"]) == {"success": True}
    assert api("listGpuDevices", id=d["id"])["gpudevice"][0]["managedstate"] == "Unmanaged"
    assert api("manageGpuDevice", ids=d["id"]) == {"success": True}
    assert api("listGpuDevices", id=d["id"])["gpudevice"][0]["managedstate"] == "Managed"

    # a card in use by a device stays; a user sees only the devices of its own VMs (none)
    status, err = api.error("deleteGpuCard", id=c["id"])
    assert status == 431 and "in use by GPU devices" in err["errortext"]
    user = api.client_for(api.new_account(name="gamer"))
    assert user("listGpuDevices") == {}
    assert user.error("createGpuCard", deviceid="1", devicename="x", name="x", vendorname="x", vendorid="x")[0] == 401

    assert api("deleteGpuDevice", ids=d["id"]) == {"success": True}
    assert api("listGpuDevices") == {}
    assert api("deleteGpuCard", id=c["id"]) == {"success": True}
