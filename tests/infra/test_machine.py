"""What a provisioned machine must offer (see conftest.py for the targets)."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import CHECKS, needs, needs_any
from tests.tiers import capability_gate

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("roles")]

API_PROBE = (
    "import json,sys,urllib.request;"
    "print(urllib.request.urlopen('http://127.0.0.1:{port}/client/api?command={cmd}&response=json',"
    " timeout=10).read().decode())"
)


def _api(machine, cmd: str, port: int = 8096) -> dict:
    out = machine.check_output("python3 -c %s", API_PROBE.format(port=port, cmd=cmd))
    return next(iter(json.loads(out).values()))


# ---- every devcloud machine ------------------------------------------------------------------------------------
@needs_any("management", "kvm")  # a storage-only node (the nfs group) runs no devcloud code
def test_devcloud_package_installed(machine) -> None:
    assert machine.file("/opt/devcloud/venv/bin/python").exists
    machine.run_test("/opt/devcloud/venv/bin/python -c 'import appliance.host.prepare, management.server'")


def test_state_dirs(machine) -> None:
    for d in ("/var/lib/devcloud", "/var/log/devcloud", "/etc/devcloud"):
        assert machine.file(d).is_directory, d


# ---- KVM host --------------------------------------------------------------------------------------------------
@needs("kvm")
def test_libvirt_reachable(machine) -> None:
    r = machine.run("virsh -c qemu:///system version")
    assert r.rc == 0, r.stderr
    assert "QEMU" in r.stdout or "hypervisor" in r.stdout


@needs("kvm")
def test_libvirt_runs_qemu_as_root(machine) -> None:
    conf = machine.file("/etc/libvirt/qemu.conf").content_string
    assert 'user = "root"' in conf and 'group = "root"' in conf


@needs("kvm")
def test_qemu_hook_joins_remote_guest_networks(machine) -> None:
    """libvirt's QEMU hook is the guest network overlay (a farm's hosts reach the routers' bridges over VXLAN)."""
    hook = machine.file("/etc/libvirt/hooks/qemu")
    assert hook.is_file and hook.mode & 0o111 and hook.user == "root"
    assert hook.content_string.startswith("#!/usr/bin/python3 -I\n") and "def hook(" in hook.content_string
    r = machine.run("/etc/libvirt/hooks/qemu probe release end - </dev/null")
    assert r.rc == 1 and "unreadable domain XML" in r.stderr, r.stderr  # it runs, and refuses what it can't read


@needs("kvm")
def test_virt_type_probed(machine) -> None:
    doc = json.loads(machine.file("/var/lib/devcloud/virt-type.json").content_string)
    assert doc["virt_type"] in ("kvm", "qemu")


@needs("kvm")
def test_bridges_up(machine) -> None:
    iface = machine.interface("cloudbr0")
    assert iface.exists
    assert "UP" in machine.check_output("ip -o link show cloudbr0")


@needs("kvm")
def test_storage_dirs(machine) -> None:
    # the console directory too: a remote host's guests log their serial console there (a start fails without it)
    for d in ("/var/lib/devcloud/primary", "/var/lib/devcloud/secondary", "/var/log/devcloud/console"):
        assert machine.file(d).is_directory, d


# ---- Xen host (dom0) --------------------------------------------------------------------------------------------
@needs("xen")
def test_runs_as_xen_dom0(machine) -> None:
    assert "control_d" in machine.file("/proc/xen/capabilities").content_string
    info = machine.check_output("xl info")
    assert "xen_version" in info and "pv" in info.split("virt_caps", 1)[1].splitlines()[0], info


@needs("xen")
def test_libxl_answers_through_libvirt(machine) -> None:
    caps = machine.check_output("virsh -c xen:///system capabilities")
    assert "<os_type>xen</os_type>" in caps and "<machine>xenpv</machine>" in caps, caps


@needs("xen")
def test_pv_boot_pool_holds_the_tiny_pv_kernel(machine) -> None:
    """The libvirt driver's Xen flavour boots PV guests from the devcloud-pvboot pool the role filled."""
    vols = machine.check_output("virsh -c xen:///system vol-list devcloud-pvboot")
    assert "/var/lib/devcloud/pvboot/vmlinuz" in vols and "/var/lib/devcloud/pvboot/initrd.img" in vols, vols
    assert "Autostart:      yes" in machine.check_output("virsh -c xen:///system pool-info devcloud-pvboot")


# ---- database ---------------------------------------------------------------------------------------------------
@needs("database")
def test_mariadb_listens_on_loopback_only(machine) -> None:
    assert machine.socket("tcp://127.0.0.1:3306").is_listening
    assert not machine.socket("tcp://0.0.0.0:3306").is_listening
    env = machine.file("/etc/devcloud/mysql.env")
    assert env.mode == 0o600 and env.user == "root"


# ---- NFS --------------------------------------------------------------------------------------------------------
@needs("nfs")
def test_exports_present(machine) -> None:
    for d in ("/export/primary", "/export/secondary"):
        assert machine.file(d).is_directory
    if "nfsd" not in machine.file("/proc/filesystems").content_string and machine.run("modprobe -n nfsd").rc != 0:
        capability_gate("this kernel has no NFS server: directory storage (the nfs_server role said so)")
    exports = machine.check_output("exportfs -v")
    assert "/export/primary" in exports and "/export/secondary" in exports
    assert machine.socket("tcp://0.0.0.0:2049").is_listening or machine.socket("tcp://:::2049").is_listening


# ---- management server --------------------------------------------------------------------------------------------
@needs("management")
def test_management_listening(machine) -> None:
    assert machine.socket("tcp://0.0.0.0:8080").is_listening or machine.socket("tcp://127.0.0.1:8080").is_listening
    assert machine.socket("tcp://127.0.0.1:8096").is_listening


@needs("management")
def test_management_healthy(machine) -> None:
    caps = _api(machine, "listCapabilities")
    assert "capability" in caps
    settings = machine.file("/etc/devcloud/management.yaml")
    assert settings.mode == 0o600


@needs("management")
@needs("datacenter")
def test_a_template_is_ready(machine) -> None:
    templates = _api(machine, "listTemplates&templatefilter=all").get("template", [])
    assert any(t.get("isready") for t in templates), templates


def _nfs_pools(machine) -> list[dict]:
    pools = _api(machine, "listStoragePools").get("storagepool", [])
    return [p for p in pools if p.get("type") == "NetworkFilesystem"]


def _libvirt_uri() -> str:
    return "xen:///system" if "xen" in CHECKS else "qemu:///system"


@needs("management")
@needs_any("kvm", "xen")
@needs("datacenter")
def test_nfs_primary_is_a_mounted_netfs_pool_with_a_guest_on_it(machine) -> None:
    """The zone's nfs:// primary pool is a libvirt netfs pool mounted over NFS at /mnt/<pool id>, and a Running
    guest's root disk is a file on that mount."""
    pools = _nfs_pools(machine)
    if not pools:
        capability_gate("the deployed scenario has no nfs:// primary storage")
    pool = pools[0]
    mount = f"/mnt/{pool['id']}"
    xml = machine.check_output("virsh -c %s pool-dumpxml %s", _libvirt_uri(), pool["id"])
    assert "type='netfs'" in xml and f"<path>{mount}</path>" in xml, xml
    fstype = machine.check_output("findmnt -n -o FSTYPE --target %s", mount)
    assert fstype.startswith("nfs"), fstype
    vms = [v for v in _api(machine, "listVirtualMachines&listall=true").get("virtualmachine", [])
           if v.get("state") == "Running"]
    assert vms, "no Running guest (the datacenter role deploys the first VM)"
    disks = machine.check_output("virsh -c %s domblklist --details %s", _libvirt_uri(), vms[0]["instancename"])
    assert any(line.split()[-1].startswith(mount + "/") for line in disks.splitlines() if " disk " in line), disks


@needs("management")
@needs("datacenter")
def test_nfs_secondary_is_mounted_by_the_management_server(machine) -> None:
    stores = [s for s in _api(machine, "listImageStores").get("imagestore", []) if s.get("protocol") == "nfs"]
    if not stores or not _nfs_pools(machine):
        capability_gate("the deployed scenario has no nfs:// secondary storage")
    mount = f"/var/lib/devcloud/mnt/secondary/{stores[0]['id']}"
    fstype = machine.check_output("findmnt -n -o FSTYPE --target %s", mount)
    assert fstype.startswith("nfs"), fstype
    tmpl = machine.run("find %s/template -name '*.qcow2'", mount)
    assert tmpl.rc == 0 and tmpl.stdout.strip(), "no template file on the NFS secondary store"


@needs("management")
@needs("xen")
@needs("datacenter")
def test_first_vm_is_a_pv_guest_answering_ssh_through_its_router(machine) -> None:
    """The datacenter role's first VM runs on dom0 as a PV guest (no hardware virtualisation) and answers SSH on its
    router's public address, through the port forward the role opened."""
    vms = [v for v in _api(machine, "listVirtualMachines&listall=true").get("virtualmachine", [])
           if v.get("state") == "Running"]
    assert vms, "no Running guest (the datacenter role deploys the first VM)"
    xml = machine.check_output("virsh -c xen:///system dumpxml %s", vms[0]["instancename"])
    assert "<domain type='xen'" in xml and "machine='xenpv'" in xml, xml
    rules = _api(machine, "listPortForwardingRules&listall=true").get("portforwardingrule", [])
    rule = next(r for r in rules if r.get("virtualmachineid") == vms[0]["id"] and r.get("privateport") == "22")
    out = machine.check_output(
        "ssh -i /var/lib/devcloud/keys/devcloud-sandbox.pem -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        " -o BatchMode=yes -o ConnectTimeout=20 -p %s root@%s cat /sys/hypervisor/type", rule["publicport"],
        rule["ipaddress"])
    assert out.strip() == "xen", out
