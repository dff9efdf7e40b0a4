"""Storage features on real KVM/QEMU-TCG guests through the API of a served devcloud (the module cloud of
test_kvm_api: this machine as the KVM host, a directory pool and image store in a temp dir): backups of a
running guest through a libvirt push backup job and their restores, checked with qemu-io on the volume files."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.test_kvm_api import Cloud, cloud, image  # noqa: F401 - the module cloud fixture

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed")

pytestmark = pytest.mark.integration


def qemu_io(path: str, cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, path], capture_output=True, text=True)


def pattern_ok(path: str, pattern: str) -> bool:
    r = qemu_io(path, f"read -P {pattern} 0 1M")
    return r.returncode == 0 and "Pattern verification failed" not in r.stdout


def test_backup_of_running_guest_and_restores(cloud: Cloud) -> None:  # noqa: F811
    api = cloud.api
    repo_dir = cloud.workdir / "backups"
    api("updateConfiguration", name="backup.framework.enabled", value="true", zoneid=cloud.zone["id"])
    repo = api("addBackupRepository", name="nas1", address=str(repo_dir), type="nfs",
               zoneid=cloud.zone["id"])["backuprepository"]
    offering = cloud.run("importBackupOffering", name="nas", description="nas", externalid=repo["id"],
                         zoneid=cloud.zone["id"], allowuserdrivenbackups=True)["backupoffering"]
    vm = cloud.deploy(name="bk-" + uuid.uuid4().hex[:6], diskofferingid=cloud.disk_offering["id"])
    vols = {v["type"]: v for v in api("listVolumes", virtualmachineid=vm["id"])["volume"]}
    data_path = str(cloud.pool_dir / vols["DATADISK"]["id"])
    cloud.run("stopVirtualMachine", id=vm["id"])
    assert qemu_io(data_path, "write -P 0xa5 0 1M").returncode == 0
    cloud.run("startVirtualMachine", id=vm["id"])
    cloud.run("assignVirtualMachineToBackupOffering", virtualmachineid=vm["id"], backupofferingid=offering["id"])

    # the guest runs while QEMU copies its disks (push backup job)
    cloud.run("createBackup", virtualmachineid=vm["id"], name="live")
    assert cloud.domain(vm["id"]).isActive()
    (b,) = api("listBackups", virtualmachineid=vm["id"])["backup"]
    assert b["status"] == "BackedUp" and b["size"] > 0
    files = {p.name: p for p in (repo_dir / b["externalid"]).iterdir()}
    assert set(files) == {f"root.{vols['ROOT']['id']}.qcow2", f"datadisk.{vols['DATADISK']['id']}.qcow2"}
    for f in files.values():
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(f)], capture_output=True,
                                         text=True, check=True).stdout)
        assert info["format"] == "qcow2" and "backing-filename" not in info  # a full, standalone copy
        assert subprocess.run(["qemu-img", "check", str(f)], capture_output=True).returncode == 0
    assert pattern_ok(str(files[f"datadisk.{vols['DATADISK']['id']}.qcow2"]), "0xa5")

    # the data disk changes; restoreBackup brings the backed-up bytes back
    cloud.run("stopVirtualMachine", id=vm["id"])
    assert qemu_io(data_path, "write -P 0x3c 0 1M").returncode == 0
    assert not pattern_ok(data_path, "0xa5")
    cloud.run("restoreBackup", id=b["id"])
    assert pattern_ok(data_path, "0xa5")

    # a backed-up volume as a new data volume of the VM
    cloud.run("restoreVolumeFromBackupAndAttachToVM", backupid=b["id"], volumeid=vols["DATADISK"]["id"],
              virtualmachineid=vm["id"])
    restored = next(v for v in api("listVolumes", virtualmachineid=vm["id"])["volume"]
                    if v["name"].startswith("RestoredVol-"))
    assert pattern_ok(str(cloud.pool_dir / restored["id"]), "0xa5")
    dom_xml = cloud.domain(vm["id"]).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert restored["id"] in dom_xml

    cloud.run("deleteBackup", id=b["id"])
    assert not (repo_dir / b["externalid"]).exists()
    cloud.run("removeVirtualMachineFromBackupOffering", virtualmachineid=vm["id"])
    cloud.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    cloud.job("detachVolume", id=restored["id"])
    api("deleteVolume", id=restored["id"])
    assert not Path(cloud.pool_dir / restored["id"]).exists()


def test_import_check_and_unmanage_a_hand_made_volume(cloud: Cloud) -> None:  # noqa: F811
    api = cloud.api
    pool = api("listStoragePools", zoneid=cloud.zone["id"])["storagepool"][0]
    name = f"handmade-{uuid.uuid4().hex[:6]}.qcow2"
    made = cloud.pool_dir / name
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(made), "64M"], check=True)
    assert qemu_io(str(made), "write -P 0x5a 0 1M").returncode == 0
    found = {f["name"]: f for f in api("listVolumesForImport", storageid=pool["id"]).get("volumeforimport", [])}
    assert found[name]["format"] == "QCOW2" and found[name]["virtualsize"] == 64 * 1024 * 1024
    assert not any(k.startswith("snap-") for k in found)
    vol = cloud.run("importVolume", path=name, storageid=pool["id"], name="handmade")["volume"]
    assert vol["state"] == "Ready" and vol["size"] == 64 * 1024 * 1024
    adopted = cloud.pool_dir / vol["id"]
    assert adopted.is_file() and not made.exists() and pattern_ok(str(adopted), "0x5a")
    # qemu-img check, for real, through the API
    job = api.wait(api.call("checkVolume", id=vol["id"], repair="leaks").json()["checkandrepairvolumeresponse"]
                   ["jobid"], timeout=120)
    assert job["jobstatus"] == 1, job
    res = job["jobresult"]["volume"]
    assert res["volumecheckresult"]["check-errors"] == 0 and res["volumecheckresult"]["format"] == "qcow2"
    assert res["volumecheckresult"]["filename"] == str(adopted)
    assert "leaks-fixed" in res["volumerepairresult"] or res["volumerepairresult"].get("leaks", 0) == 0
    cloud.run("unmanageVolume", id=vol["id"])
    assert api("listVolumes", id=vol["id"], listall=True) == {}
    assert adopted.is_file()  # unmanaged, not deleted
    adopted.unlink()
