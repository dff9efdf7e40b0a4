"""What a provisioned machine must offer (see conftest.py for the targets)."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import needs

pytestmark = pytest.mark.integration

API_PROBE = (
    "import json,sys,urllib.request;"
    "print(urllib.request.urlopen('http://127.0.0.1:{port}/client/api?command={cmd}&response=json',"
    " timeout=10).read().decode())"
)


def _api(machine, cmd: str, port: int = 8096) -> dict:
    out = machine.check_output("python3 -c %s", API_PROBE.format(port=port, cmd=cmd))
    return next(iter(json.loads(out).values()))


# ---- every devcloud machine ------------------------------------------------------------------------------------
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
    for d in ("/var/lib/devcloud/primary", "/var/lib/devcloud/secondary"):
        assert machine.file(d).is_directory


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
        pytest.skip("this kernel has no NFS server: directory storage (the nfs_server role said so)")
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
def test_a_template_is_ready(machine) -> None:
    zones = _api(machine, "listZones").get("zone", [])
    if not zones:
        pytest.skip("no zone deployed yet (the datacenter role was not run)")
    templates = _api(machine, "listTemplates&templatefilter=all").get("template", [])
    assert any(t.get("isready") for t in templates), templates
