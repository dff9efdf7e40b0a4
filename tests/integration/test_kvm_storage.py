"""Storage features on real KVM/QEMU-TCG guests through the API of a served devcloud (the module cloud of
test_kvm_api: this machine as the KVM host, a directory pool and image store in a temp dir): backups of a
running guest through a libvirt push backup job and their restores, checked with qemu-io on the volume files."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import libvirt
import pytest

from tests.api.test_template_extras import self_signed_pem
from tests.integration.test_kvm_api import Cloud, cloud, image, wait_for  # noqa: F401 - the module cloud fixture

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
    # its snapshot, extracted: a copy of the image in the image store, served by URL
    snap = cloud.run("createSnapshot", volumeid=vol["id"])["snapshot"]
    ext = cloud.run("extractSnapshot", id=snap["id"], zoneid=cloud.zone["id"])["snapshot"]
    copy = Path(ext["url"][len("file://"):])
    assert ext["state"] == "DOWNLOAD_URL_CREATED" and copy.is_file() and str(cloud.store_dir) in str(copy)
    assert pattern_ok(str(copy), "0x5a")
    # CloudStack answers archiveSnapshot under createSnapshot's response name
    job = api.wait(api.call("archiveSnapshot", id=snap["id"]).json()["createsnapshotresponse"]["jobid"],
                   timeout=120)
    assert job["jobstatus"] == 1 and job["jobresult"]["snapshot"]["id"] == snap["id"], job
    cloud.run("deleteSnapshot", id=snap["id"])
    assert not copy.exists()  # the snapshot's copy goes with it
    cloud.run("unmanageVolume", id=vol["id"])
    assert api("listVolumes", id=vol["id"], listall=True) == {}
    assert adopted.is_file()  # unmanaged, not deleted
    adopted.unlink()


def test_direct_download_certificate_on_the_kvm_host(cloud: Cloud) -> None:  # noqa: F811
    api = cloud.api
    host = api("listHosts", zoneid=cloud.zone["id"], type="Routing")["host"][0]
    cert = api("uploadTemplateDirectDownloadCertificate", certificate=self_signed_pem("mirror.example"),
               name=f"mirror-{uuid.uuid4().hex[:6]}", hypervisor="KVM",
               zoneid=cloud.zone["id"])["directdownloadcertificate"]
    assert cert["subject"] == "CN=mirror.example"
    assert [h["hostid"] for h in cert["hostsmap"]] == [host["id"]]
    revoked = api("revokeTemplateDirectDownloadCertificate", id=cert["id"], zoneid=cloud.zone["id"])
    st = revoked["directdownloadcertificatehoststatus"]
    assert revoked["count"] == 1 and st[0]["hostid"] == host["id"] and st[0]["status"] is True
    listed = api("listTemplateDirectDownloadCertificates", id=cert["id"], listhosts=True)
    assert listed["directdownloadcertificate"][0]["hostsmap"][0]["revoked"] is True
    again = api("provisionTemplateDirectDownloadCertificate", id=cert["id"], hostid=host["id"])
    assert again["directdownloadcertificatehoststatus"]["status"] is True
    listed = api("listTemplateDirectDownloadCertificates", id=cert["id"], listhosts=True)
    assert listed["directdownloadcertificate"][0]["hostsmap"][0]["revoked"] is False


def _hand_made_domain(cloud: Cloud, name: str, disk: Path, console: Path) -> str:  # noqa: F811
    from management.services.infra import kvm

    dom_uuid = str(uuid.uuid4())
    virt = kvm.probed_virt_type()[0]
    xml = f"""<domain type='{virt}'>
  <name>{name}</name><uuid>{dom_uuid}</uuid><memory unit='MiB'>192</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
      <target dev='vda' bus='virtio'/></disk>
    <serial type='file'><source path='{console}' append='on'/><target port='0'/></serial>
  </devices>
</domain>"""
    cloud.conn.defineXML(xml)
    return dom_uuid


def test_import_and_unmanage_a_hand_made_domain(cloud: Cloud, image: Path) -> None:  # noqa: F811
    api = cloud.api
    name = "hand-" + uuid.uuid4().hex[:6]
    disk = cloud.pool_dir / f"{name}.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(image), str(disk)], check=True)
    console = cloud.console / f"{name}.log"
    dom_uuid = _hand_made_domain(cloud, name, disk, console)
    cloud.pool().refresh(0)
    leftovers = [disk]
    try:
        cluster = api("listClusters", zoneid=cloud.zone["id"])["cluster"][0]
        listed = {i["name"]: i for i in api("listUnmanagedInstances", clusterid=cluster["id"])["unmanagedinstance"]}
        inst = listed[name]
        assert inst["powerstate"] == "PowerOff" and inst["memory"] == 192 and inst["cpunumber"] == 1
        assert inst["disk"][0]["imagepath"] == str(disk)
        vm = cloud.run("importUnmanagedInstance", clusterid=cluster["id"], name=name, hostname=name,
                       serviceofferingid=cloud.offering["id"])["virtualmachine"]
        cloud.vms.append(vm["id"])
        assert (vm["id"], vm["instancename"], vm["state"]) == (dom_uuid, name, "Stopped")
        assert name not in {i["name"] for i in api("listUnmanagedInstances", clusterid=cluster["id"])
                            .get("unmanagedinstance", [])}
        root = api("listVolumes", virtualmachineid=vm["id"])["volume"][0]
        leftovers.append(cloud.pool_dir / root["id"])
        assert root["type"] == "ROOT" and (cloud.pool_dir / root["id"]).is_file() and not disk.exists()
        # starting the imported VM boots the hand-made domain from its (renamed) disk
        assert cloud.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
        assert cloud.domain(dom_uuid).isActive()
        wait_for(lambda: "login:" in console.read_text(errors="replace"), 120, "the imported guest's login prompt")
        cloud.run("stopVirtualMachine", id=vm["id"])
        res = cloud.run("unmanageVirtualMachine", id=vm["id"])["virtualmachine"]
        assert res["success"] is True
        cloud.vms.remove(vm["id"])
        assert api("listVirtualMachines", id=vm["id"]) == {}
        dom = cloud.domain(dom_uuid)
        from management.drivers.libvirt.xml import DomainConfig

        assert dom is not None and DomainConfig.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).devcloud is None
        assert name in {i["name"] for i in api("listUnmanagedInstances", clusterid=cluster["id"])["unmanagedinstance"]}
        assert (cloud.pool_dir / root["id"]).is_file()  # the disk stays with the domain
    finally:
        dom = cloud.domain(dom_uuid)
        if dom is not None:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        for f in leftovers:
            f.unlink(missing_ok=True)
        cloud.pool().refresh(0)
