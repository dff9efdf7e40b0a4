"""Backup and recovery (NAS provider model) on the simulator, through the driver contract: the framework switch,
repositories as provider offerings, VM assignment, backups, restores (in place and as a new attached volume),
scheduled backups with retention under a clock the test moves, and who may see what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from management.services import scheduling
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.api.test_vm_schedules import FakeClock
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api

DISABLED = "Backup and Recovery feature is disabled for the zone"


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def _enable(api: ApiClient, z: dict[str, Any]) -> None:
    api("updateConfiguration", name="backup.framework.enabled", value="true", zoneid=z["zone"])


def _offering(api: ApiClient, z: dict[str, Any], repo_dir: Path, *, user: bool = True) -> dict[str, Any]:
    repo = api("addBackupRepository", name="repo1", address=str(repo_dir), type="nfs",
               zoneid=z["zone"])["backuprepository"]
    assert (repo["provider"], repo["type"], repo["address"]) == ("nas", "nfs", str(repo_dir))
    ext = api("listBackupProviderOfferings", zoneid=z["zone"])["backupoffering"]
    assert [o["externalid"] for o in ext] == [repo["id"]]
    return api.run("importBackupOffering", name="daily", description="nas daily", externalid=repo["id"],
                   zoneid=z["zone"], allowuserdrivenbackups=user)["backupoffering"]


def test_framework_switch_and_providers(api: ApiClient, zone: dict[str, Any], tmp_path: Path) -> None:
    assert api("listBackupProviders")["providers"] == [{"name": "nas", "description": "NAS Backup Plugin"}]
    status, err = api.error("listBackupProviderOfferings", zoneid=zone["zone"])
    assert status == 530 and err["errortext"] == DISABLED
    repo = api("addBackupRepository", name="r", address=str(tmp_path), type="nfs",
               zoneid=zone["zone"])["backuprepository"]
    job = api.wait(api("importBackupOffering", name="o", description="d", externalid=repo["id"],
                       zoneid=zone["zone"], allowuserdrivenbackups=True)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == DISABLED
    _enable(api, zone)
    job = api.wait(api("importBackupOffering", name="o", description="d", externalid="nope",
                       zoneid=zone["zone"], allowuserdrivenbackups=True)["jobid"])
    assert job["jobstatus"] == 2 and "does not exist on provider nas" in job["jobresult"]["errortext"]
    upd = api("updateBackupRepository", id=repo["id"], name="r2", crosszoneinstancecreation=True)
    assert upd["backuprepository"]["name"] == "r2" and upd["backuprepository"]["crosszoneinstancecreation"] is True
    assert api("listBackupRepositories", zoneid=zone["zone"])["count"] == 1
    assert api("deleteBackupRepository", id=repo["id"])["success"] is True
    assert api("listBackupRepositories") == {}


def test_backup_restore_and_volume_restore(server: InProcess, api: ApiClient, zone: dict[str, Any],
                                           tmp_path: Path) -> None:
    _enable(api, zone)
    offering = _offering(api, zone, tmp_path / "repo")
    assert offering["provider"] == "nas" and offering["allowuserdrivenbackups"] is True
    vm = deploy(api, zone, diskofferingid=zone["disk"])
    job = api.wait(api("createBackup", virtualmachineid=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and "has not backup offering" in job["jobresult"]["errortext"]
    api.run("assignVirtualMachineToBackupOffering", virtualmachineid=vm["id"], backupofferingid=offering["id"])
    job = api.wait(api("assignVirtualMachineToBackupOffering", virtualmachineid=vm["id"],
                       backupofferingid=offering["id"])["jobid"])
    assert job["jobstatus"] == 2 and "already is assigned" in job["jobresult"]["errortext"]
    api.run("createBackup", virtualmachineid=vm["id"], name="first", description="before the change")
    (b,) = api("listBackups", virtualmachineid=vm["id"])["backup"]
    vols = {v["type"]: v for v in api("listVolumes", virtualmachineid=vm["id"])["volume"]}
    assert (b["name"], b["status"], b["intervaltype"], b["type"]) == ("first", "BackedUp", "MANUAL", "FULL")
    assert b["virtualmachineid"] == vm["id"] and b["backupofferingid"] == offering["id"]
    assert b["size"] == vols["ROOT"]["size"] + vols["DATADISK"]["size"]
    assert b["externalid"].startswith(vm["instancename"] + "/")
    backed = {v["uuid"]: v for v in json.loads(b["volumes"])}
    assert set(backed) == {vols["ROOT"]["id"], vols["DATADISK"]["id"]}
    assert backed[vols["ROOT"]["id"]]["path"] == f"root.{vols['ROOT']['id']}.qcow2"
    # restore needs a stopped VM
    job = api.wait(api("restoreBackup", id=b["id"])["jobid"])
    assert job["jobstatus"] == 2 and "should be stopped" in job["jobresult"]["errortext"]
    api.run("stopVirtualMachine", id=vm["id"])
    api.run("restoreBackup", id=b["id"])
    assert api.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
    # a backed-up volume comes back as a new data volume attached to the VM
    api.run("restoreVolumeFromBackupAndAttachToVM", backupid=b["id"], volumeid=vols["DATADISK"]["id"],
            virtualmachineid=vm["id"])
    restored = [v for v in api("listVolumes", virtualmachineid=vm["id"])["volume"]
                if v["name"].startswith("RestoredVol-")]
    assert len(restored) == 1 and restored[0]["state"] == "Ready"
    assert restored[0]["size"] == vols["DATADISK"]["size"]
    # deletion, offering and assignment rules
    status, err = api.error("deleteBackupOffering", id=offering["id"])
    assert status == 530 and "has backups associated" in err["errortext"]
    api.run("deleteBackup", id=b["id"])
    assert api("listBackups", virtualmachineid=vm["id"]) == {}
    status, err = api.error("deleteBackupOffering", id=offering["id"])
    assert status == 530 and "assigned to VMs" in err["errortext"]
    api.run("removeVirtualMachineFromBackupOffering", virtualmachineid=vm["id"])
    assert api("deleteBackupOffering", id=offering["id"])["success"] is True
    assert api("listBackupOfferings") == {}


def test_scheduled_backups_and_retention(server: InProcess, api: ApiClient, zone: dict[str, Any],
                                         tmp_path: Path) -> None:
    runtime = server.server.runtime
    clock = FakeClock(datetime(2030, 1, 7, 1, 50, tzinfo=UTC))
    runtime.extras["clock"] = clock
    try:
        _enable(api, zone)
        offering = _offering(api, zone, tmp_path / "repo")
        vm = deploy(api, zone)
        api.run("assignVirtualMachineToBackupOffering", virtualmachineid=vm["id"], backupofferingid=offering["id"])
        status, err = api.error("createBackupSchedule", virtualmachineid=vm["id"], intervaltype="DAILY",
                                schedule="00:02", timezone="UTC", maxbackups=9)
        assert status == 431 and "exceeds limit [8]" in err["errortext"]
        status, err = api.error("createBackupSchedule", virtualmachineid=vm["id"], intervaltype="DAILY",
                                schedule="99:02", timezone="UTC", maxbackups=1)
        assert status == 431 and "Invalid schedule" in err["errortext"]
        sch = api("createBackupSchedule", virtualmachineid=vm["id"], intervaltype="DAILY", schedule="00:02",
                  timezone="UTC", maxbackups=1)["backupschedule"]
        assert (sch["intervaltype"], sch["schedule"], sch["maxbackups"]) == ("DAILY", "00:02", 1)
        for day in range(2):
            clock.advance(days=1) if day else clock.advance(minutes=15)
            scheduling.run_once(runtime)
            wait_for(lambda n=day + 1: len(api("listBackups", virtualmachineid=vm["id"]).get("backup", [])) >= n
                     or None, what="the scheduled backup")
            wait_for(lambda: not _pending(server), what="the backup job")
            scheduling.run_once(runtime)  # finishes the run: interval type and retention
        backups = api("listBackups", virtualmachineid=vm["id"])["backup"]
        assert [x["intervaltype"] for x in backups] == ["DAILY"]  # maxbackups=1 kept the newest only
        listed = api("listBackupSchedule", virtualmachineid=vm["id"])["backupschedule"]
        assert [x["id"] for x in listed] == [sch["id"]]
        assert api("deleteBackupSchedule", virtualmachineid=vm["id"])["success"] is True
        assert api("listBackupSchedule", virtualmachineid=vm["id"]) == {}
    finally:
        runtime.extras.pop("clock", None)


def _pending(server: InProcess) -> bool:
    from sqlalchemy import select

    from management.models.jobs import AsyncJob

    with server.server.runtime.db.session(write=False) as s:
        return s.scalar(select(AsyncJob.id).where(AsyncJob.command == "createBackup", AsyncJob.status == 0)
                        .limit(1)) is not None


def test_other_accounts_see_nothing(api: ApiClient, zone: dict[str, Any], tmp_path: Path) -> None:
    _enable(api, zone)
    offering = _offering(api, zone, tmp_path / "repo")
    vm = deploy(api, zone)
    api.run("assignVirtualMachineToBackupOffering", virtualmachineid=vm["id"], backupofferingid=offering["id"])
    api.run("createBackup", virtualmachineid=vm["id"])
    b = api("listBackups", virtualmachineid=vm["id"])["backup"][0]
    other = api.client_for(api.new_account())
    assert other("listBackups", listall=True) == {}
    assert other("listBackupOfferings")["backupoffering"][0]["id"] == offering["id"]  # user driven: visible
    for cmd, kw in (("createBackup", {"virtualmachineid": vm["id"]}), ("deleteBackup", {"id": b["id"]}),
                    ("restoreBackup", {"id": b["id"]})):
        status, _ = other.error(cmd, **kw)
        assert status == 531, cmd
    status, _ = other.error("addBackupRepository", name="x", address="/tmp", type="nfs", zoneid=zone["zone"])
    assert status == 401
