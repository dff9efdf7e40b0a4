"""Volume snapshots: create, list, revert (content comes back), delete."""

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


def _vol(z: dict[str, Any], uuid: str) -> Any:
    for url in z["urls"]:
        for p in sim(url)._host.pools.values():  # noqa: SLF001
            if uuid in p.volumes:
                return p.volumes[uuid]
    return None


def test_snapshot_revert_restores_and_delete(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    snap = api.run("createSnapshot", volumeid=root["id"], name="before")["snapshot"]
    assert snap["state"] == "BackedUp" and snap["volumeid"] == root["id"] and snap["name"] == "before"
    assert snap["snapshottype"] == "MANUAL" and snap["intervaltype"] == "MANUAL"
    assert api("listSnapshots", volumeid=root["id"])["count"] == 1
    assert api("listVolumes", id=root["id"])["volume"][0]["state"] == "Ready"
    # Change the volume after the snapshot (grow it), then revert: the snapshot's size comes back.
    api.run("resizeVolume", id=root["id"], size=20)
    assert _vol(zone, root["id"]).size_bytes == 20 * GiB
    job = api.wait(api("revertSnapshot", id=snap["id"])["jobid"])
    assert job["jobstatus"] == 2 and "Stopped" in job["jobresult"]["errortext"]  # VM must be stopped
    api.run("stopVirtualMachine", id=vm["id"])
    reverted = api.run("revertSnapshot", id=snap["id"])["snapshot"]
    assert reverted["id"] == snap["id"]
    assert _vol(zone, root["id"]).size_bytes == root["size"]
    assert api("listVolumes", id=root["id"])["volume"][0]["state"] == "Ready"
    api.run("deleteSnapshot", id=snap["id"])
    assert api("listSnapshots", volumeid=root["id"]).get("count", 0) == 0
    assert _vol(zone, root["id"]).snapshots == {}


def test_snapshot_of_allocated_volume_refused(api: ApiClient, zone: dict[str, Any]) -> None:
    vol = api.run("createVolume", name="d", zoneid=zone["zone"], diskofferingid=zone["disk"])["volume"]
    status, err = api.error("createSnapshot", volumeid=vol["id"])
    assert status == 431 and "Ready" in err["errortext"]


def test_snapshot_extract_needs_an_image_file(api: ApiClient, zone: dict[str, Any]) -> None:
    """The simulator keeps no snapshot bytes, so there is nothing to copy to the image store: the jobs fail with
    the reason; a deleted snapshot is refused up front."""
    vm = deploy(api, zone)
    root = api("listVolumes", virtualmachineid=vm["id"])["volume"][0]
    snap = api.run("createSnapshot", volumeid=root["id"])["snapshot"]
    job = api.wait(api("extractSnapshot", id=snap["id"], zoneid=zone["zone"])["jobid"])
    assert job["jobstatus"] == 2 and "no image file" in job["jobresult"]["errortext"]
    started = api.call("archiveSnapshot", id=snap["id"]).json()["createsnapshotresponse"]  # CloudStack's name
    job = api.wait(started["jobid"])
    assert job["jobstatus"] == 2 and "no image file" in job["jobresult"]["errortext"]
    api.run("deleteSnapshot", id=snap["id"])
    status, _ = api.error("extractSnapshot", id=snap["id"], zoneid=zone["zone"])
    assert status == 431
