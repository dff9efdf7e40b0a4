"""Volumes on the simulator: create (Allocated until attached), attach, detach, resize, delete, list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, sim, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)
GiB = 1024**3


def _sim_volume(z: dict[str, Any], uuid: str) -> Any:
    for url in z["urls"]:
        for p in sim(url)._host.pools.values():  # noqa: SLF001 - the simulator's own state
            if uuid in p.volumes:
                return p.volumes[uuid]
    return None


def test_create_attach_detach_resize_delete(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    vol = api.run("createVolume", name="data1", zoneid=zone["zone"], diskofferingid=zone["disk"])["volume"]
    assert vol["state"] == "Allocated" and vol["size"] == 5 * GiB and vol["type"] == "DATADISK"
    assert _sim_volume(zone, vol["id"]) is None  # nothing on storage until attached
    att = api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])["volume"]
    assert att["state"] == "Ready" and att["virtualmachineid"] == vm["id"] and att["deviceid"] == 1
    assert _sim_volume(zone, vol["id"]).attached_to == vm["id"]
    assert api("listVolumes", virtualmachineid=vm["id"])["count"] == 2
    assert api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])["volume"]["deviceid"] == 1  # no-op
    status, err = api.error("deleteVolume", id=vol["id"])
    assert status == 536 and "attached" in err["errortext"]
    det = api.run("detachVolume", id=vol["id"])["volume"]
    assert "virtualmachineid" not in det and det["state"] == "Ready"
    assert _sim_volume(zone, vol["id"]).attached_to is None
    big = api.run("resizeVolume", id=vol["id"], size=10)["volume"]
    assert big["size"] == 10 * GiB and _sim_volume(zone, vol["id"]).size_bytes == 10 * GiB
    job = api.wait(api("resizeVolume", id=vol["id"], size=1)["jobid"])
    assert job["jobstatus"] == 2 and "shrink" in job["jobresult"]["errortext"]
    api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"], deviceid=2)
    api.run("detachVolume", virtualmachineid=vm["id"], deviceid=2)
    assert api("deleteVolume", id=vol["id"])["success"] is True
    assert _sim_volume(zone, vol["id"]) is None
    assert api("listVolumes", id=None, name="data1").get("count", 0) == 0


def test_custom_size_and_errors(api: ApiClient, zone: dict[str, Any]) -> None:
    custom = api("listDiskOfferings", name="Custom")["diskoffering"][0]
    status, err = api.error("createVolume", name="c", zoneid=zone["zone"], diskofferingid=custom["id"])
    assert status == 431 and "custom size" in err["errortext"]
    vol = api.run("createVolume", name="c2", zoneid=zone["zone"], diskofferingid=custom["id"], size=3)["volume"]
    assert vol["size"] == 3 * GiB
    status, _ = api.error("createVolume", name="x", zoneid=zone["zone"])
    assert status == 431


def test_attach_to_stopped_never_started_vm_creates_at_start(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone, startvm=False)
    vol = api.run("createVolume", name="d", zoneid=zone["zone"], diskofferingid=zone["disk"])["volume"]
    att = api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])["volume"]
    assert att["state"] == "Allocated" and att["virtualmachineid"] == vm["id"]
    api.run("startVirtualMachine", id=vm["id"])
    v = api("listVolumes", id=vol["id"])["volume"][0]
    assert v["state"] == "Ready" and _sim_volume(zone, vol["id"]).attached_to == vm["id"]
    # Destroy with expunge detaches data disks and keeps them (CloudStack's default without volumeids).
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    v = api("listVolumes", id=vol["id"])["volume"][0]
    assert v["state"] == "Ready" and "virtualmachineid" not in v


def test_deploy_with_data_disk_and_destroy_volumeids(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone, diskofferingid=zone["disk"], rootdisksize=8)
    vols = {v["type"]: v for v in api("listVolumes", virtualmachineid=vm["id"])["volume"]}
    assert vols["ROOT"]["size"] == 8 * GiB and vols["DATADISK"]["state"] == "Ready"
    assert vm["diskofferingid"] == zone["disk"]
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True, volumeids=vols["DATADISK"]["id"])
    assert _sim_volume(zone, vols["DATADISK"]["id"]) is None and _sim_volume(zone, vols["ROOT"]["id"]) is None
