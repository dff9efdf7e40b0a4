"""ISOs in VMs through the signed API on the simulator: deploy from an ISO (blank root disk sized by the disk
offering, the ISO in the drive), attachIso/detachIso on a running VM (a media change on the domain)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.drivers.simulator import SimulatorDriver
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


@pytest.fixture
def iso(api: ApiClient, zone: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    src = tmp_path / "installer.iso"
    src.write_bytes(b"CD001" * 4096)
    reg = api("registerIso", name="installer", displaytext="installer", url=src.as_uri(), zoneid=zone["zone"],
              ispublic=True, bootable=True)["iso"][0]
    wait_for(lambda: api("listIsos", isofilter="all", id=reg["id"])["iso"][0]["isready"], timeout=30,
             what="the ISO to download")
    return reg  # type: ignore[no-any-return]


def cdrom(zone: dict[str, Any], vm_id: str) -> str | None:
    d = SimulatorDriver(zone["urls"][0])
    d.connect()
    return d.cdrom_of(vm_id)


def test_deploy_from_iso(api: ApiClient, zone: dict[str, Any], iso: dict[str, Any]) -> None:
    status, err = api.error("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],
                            templateid=iso["id"])
    assert (status, err["errortext"]) == (431, "Installing from ISO requires a disk offering to be specified for the "
                                               "root disk.")
    vm = deploy(api, zone, templateid=iso["id"], diskofferingid=zone["disk"])
    assert vm["state"] == "Running" and vm["isoid"] == iso["id"] and vm["isoname"] == "installer"
    root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    offering = api("listDiskOfferings", id=zone["disk"])["diskoffering"][0]
    assert root["size"] == offering["disksize"] * 1024**3
    assert cdrom(zone, vm["id"]) == iso["id"]
    detached = api.run("detachIso", virtualmachineid=vm["id"])["virtualmachine"]
    assert "isoid" not in detached and cdrom(zone, vm["id"]) is None


def test_attach_detach_on_a_running_vm(api: ApiClient, zone: dict[str, Any], iso: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    attached = api.run("attachIso", id=iso["id"], virtualmachineid=vm["id"])["virtualmachine"]
    assert attached["isoid"] == iso["id"] and cdrom(zone, vm["id"]) == iso["id"]
    assert api.run("attachIso", id=iso["id"], virtualmachineid=vm["id"])["virtualmachine"]["isoid"] == iso["id"]
    api.run("detachIso", virtualmachineid=vm["id"])
    assert cdrom(zone, vm["id"]) is None
    job = api.wait(api("detachIso", virtualmachineid=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresultcode"] == 431
    assert "has no ISO attached" in job["jobresult"]["errortext"]
    # attached while stopped: in the drive when the VM starts again
    api.run("stopVirtualMachine", id=vm["id"])
    api.run("attachIso", id=iso["id"], virtualmachineid=vm["id"])
    api.run("startVirtualMachine", id=vm["id"])
    assert cdrom(zone, vm["id"]) == iso["id"]
