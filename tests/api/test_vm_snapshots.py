"""VM snapshots through the signed API on the simulator: create (disk, memory, quiesce), list, revert rules,
delete, a volume snapshot cut from a VM snapshot, the per-VM limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.drivers.simulator import SimulatorDriver
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


def failed(api: ApiClient, command: str, **kw: Any) -> tuple[int, str]:
    job = api.wait(api(command, **kw)["jobid"])
    assert job["jobstatus"] == 2, job
    return job["jobresultcode"], job["jobresult"]["errortext"]


def test_snapshot_revert_and_delete_rules(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone, name="snappy")
    started = api("createVMSnapshot", virtualmachineid=vm["id"], name="before", description="clean state")
    assert set(started) == {"id", "jobid"}
    disk = api.wait(started["jobid"])["jobresult"]["vmsnapshot"]
    assert (disk["id"], disk["displayname"], disk["state"], disk["type"]) == (started["id"], "before", "Ready",
                                                                                "Disk")
    assert disk["name"].startswith(vm["instancename"] + "_VS_") and disk["current"] is True
    assert disk["virtualmachineid"] == vm["id"] and disk["description"] == "clean state"
    mem = api.run("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True)["vmsnapshot"]
    assert mem["type"] == "DiskAndMemory" and mem["parent"] == disk["id"] and mem["parentName"] == "before"
    listed = api("listVMSnapshot", virtualmachineid=vm["id"])
    assert listed["count"] == 2 and [x["id"] for x in listed["vmSnapshot"]] == [disk["id"], mem["id"]]
    assert [x["current"] for x in listed["vmSnapshot"]] == [False, True]
    assert api("listVMSnapshot", vmsnapshotid=disk["id"])["vmSnapshot"][0]["displayname"] == "before"

    status, err = api.error("createVMSnapshot", virtualmachineid=vm["id"], name="before")
    assert status == 431 and "Instance Snapshot with namebefore  already exists" in err["errortext"]

    # a disk-only snapshot of a running VM: powered off, disks back, started again (4.22 would refuse: see README)
    reverted = api.run("revertToVMSnapshot", vmsnapshotid=disk["id"])["virtualmachine"]
    assert reverted["state"] == "Running"
    api.run("stopVirtualMachine", id=vm["id"])
    code, text = failed(api, "revertToVMSnapshot", vmsnapshotid=mem["id"])  # memory on a stopped VM
    assert code == 431 and "when the Snapshot contains memory" in text
    status, err = api.error("createVMSnapshot", virtualmachineid=vm["id"], name="m2", snapshotmemory=True)
    assert status == 431 and err["errortext"] == "Can not Snapshot memory when the Instance is not in Running state"

    reverted = api.run("revertToVMSnapshot", vmsnapshotid=disk["id"])["virtualmachine"]
    assert reverted["id"] == vm["id"] and reverted["state"] == "Stopped"
    assert api("listVMSnapshot", vmsnapshotid=disk["id"])["vmSnapshot"][0]["current"] is True
    api.run("startVirtualMachine", id=vm["id"])
    reverted = api.run("revertToVMSnapshot", vmsnapshotid=mem["id"])["virtualmachine"]
    assert reverted["state"] == "Running"

    assert api.run("deleteVMSnapshot", vmsnapshotid=disk["id"]) == {"success": True}
    left = api("listVMSnapshot", virtualmachineid=vm["id"])["vmSnapshot"]
    assert [x["id"] for x in left] == [mem["id"]] and "parent" not in left[0]
    api.run("deleteVMSnapshot", vmsnapshotid=mem["id"])
    assert api("listVMSnapshot", virtualmachineid=vm["id"]) == {}


def test_quiesce_without_guest_agent_fails_like_kvm(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    code, text = failed(api, "createVMSnapshot", virtualmachineid=vm["id"], quiescevm=True)
    assert code == 530, text
    assert "Could not freeze VM.Failed to freeze VM - " + vm["instancename"] in text, text
    errored = api("listVMSnapshot", virtualmachineid=vm["id"])["vmSnapshot"]
    assert [x["state"] for x in errored] == ["Error"]
    api.run("deleteVMSnapshot", vmsnapshotid=errored[0]["id"])
    # with an agent in the guest the same request succeeds
    SimulatorDriver(zone["urls"][0]).ex_set_guest_agent(vm["id"])
    done = api.run("createVMSnapshot", virtualmachineid=vm["id"], name="frozen", quiescevm=True)
    assert done["vmsnapshot"]["state"] == "Ready"


def test_volume_snapshot_from_vm_snapshot_and_limit(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    vs = api.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
    started = api("createSnapshotFromVMSnapshot", volumeid=root["id"], vmsnapshotid=vs["id"], name="from-vs")
    snap = api.wait(started["jobid"])["jobresult"]["snapshot"]
    assert (snap["id"], snap["name"], snap["state"], snap["volumeid"]) == (started["id"], "from-vs", "BackedUp",
                                                                            root["id"])
    assert api("listSnapshots", volumeid=root["id"])["count"] == 1
    api("updateConfiguration", name="vmsnapshot.max", value="2")
    api.run("createVMSnapshot", virtualmachineid=vm["id"], name="second")
    status, err = api.error("createVMSnapshot", virtualmachineid=vm["id"], name="third")
    assert status == 530 and err["errortext"] == ("Creating Instance Snapshot failed due to a Instance can just have "
                                                  ": 2 Instance Snapshots. Please delete old ones")
    # expunging the VM takes its snapshots with it
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert api("listVMSnapshot", listall=True) == {}
