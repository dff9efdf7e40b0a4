"""Cheap checks of the appliance builder, run on every change: playbook syntax, ansible-lint's production profile,
yamllint, `packer validate`, `vagrant validate`, the inventories' shared group names and the VirtualBox box
structure. Each tool-backed check skips when its tool is not installed (.ci/run installs them)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from appliance import build
from tests.tiers import capability_gate

pytestmark = pytest.mark.appliance

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("DEVCLOUD_ANSIBLE_TOOLS", "/opt/ansible-tools"))
GROUPS = {"management", "management_lb", "database", "nfs", "kvm_hosts", "xen_hosts"}


def _tool(name: str) -> str:
    for cand in (TOOLS / "bin" / name, shutil.which(name)):
        if cand and Path(cand).exists():
            return str(cand)
    pytest.skip(f"{name} is not installed")


def _run(cmd: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", PACKER_CHECKPOINT_DISABLE="1", VAGRANT_CHECKPOINT_DISABLE="1",
               NO_COLOR="1", **kw.pop("env", {}))
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env, **kw)


@pytest.mark.parametrize("inventory", ["sandbox", "farm"])
def test_playbook_syntax(inventory: str) -> None:
    r = _run([_tool("ansible-playbook"), "--syntax-check", "-i", f"playbooks/inventories/{inventory}/hosts.yml",
              "playbooks/site.yml"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_ansible_lint_production() -> None:
    r = _run([_tool("ansible-lint"), "--offline", "playbooks"], timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in r.stderr + r.stdout


def test_yamllint() -> None:
    r = _run([_tool("yamllint"), "-s", "playbooks", ".ansible-lint", ".yamllint"])
    assert r.returncode == 0, r.stdout + r.stderr


def _groups(inventory: Path) -> set[str]:
    return set(yaml.safe_load(inventory.read_text())["all"]["children"])


def test_inventories_share_group_names() -> None:
    sandbox = _groups(REPO / "playbooks/inventories/sandbox/hosts.yml")
    farm = _groups(REPO / "playbooks/inventories/farm/hosts.yml")
    assert sandbox == farm == GROUPS


def test_farm_inventory_is_generated_from_the_farm_example() -> None:
    """playbooks/inventories/farm/hosts.yml is what `python -m appliance.inventory farm-example` writes: the spec is
    the one source of the farm's machines (regenerate the file after editing the spec)."""
    from appliance import inventory, zonespec

    spec = zonespec.load("farm-example")
    text = (REPO / "playbooks/inventories/farm/hosts.yml").read_text()
    assert text == inventory.render(spec, "farm-example")
    groups = yaml.safe_load(text)["all"]["children"]
    assert spec.management is not None and spec.management.load_balancer is not None
    assert {n: h["ansible_host"] for n, h in groups["management"]["hosts"].items()} == {
        m.name: m.address for m in spec.management.servers}
    assert list(groups["database"]["hosts"]) == [spec.management.database]
    assert groups["nfs"]["hosts"] == {"storage1": {"ansible_host": "10.0.0.5"}}
    assert list(groups["kvm_hosts"]["hosts"]) == ["host1", "host2", "host3"]
    assert list(groups["xen_hosts"]["hosts"]) == ["xen1"]


def test_every_role_has_argument_specs() -> None:
    roles = [p for p in (REPO / "playbooks/roles").iterdir() if p.is_dir()]
    assert {"common", "mariadb", "management", "management_lb", "nfs_server", "kvm_host", "xen_host",
            "datacenter"} <= {
        r.name for r in roles}
    for role in roles:
        spec = yaml.safe_load((role / "meta/argument_specs.yml").read_text())
        defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
        options = spec["argument_specs"]["main"].get("options", {})
        assert set(defaults) <= set(options), f"{role.name}: defaults without a spec: {set(defaults) - set(options)}"


def test_mariadb_role_ships_the_ci_script() -> None:
    shipped = REPO / "playbooks/roles/mariadb/files/mariadb.sh"
    assert shipped.is_symlink() and shipped.resolve() == (REPO / ".ci/mariadb.sh").resolve()


def test_packer_validate(tmp_path: Path) -> None:
    packer = _tool("packer")
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    r = _run([packer, "validate", "-var", f"ssh_private_key_file={key}", "-var", "accelerator=tcg", "packer/"])
    assert r.returncode == 0, r.stdout + r.stderr
    bad = _run([packer, "validate", "-var", f"ssh_private_key_file={key}", "-var", "accelerator=hvf", "packer/"])
    assert bad.returncode != 0 and "accelerator must be kvm or tcg" in bad.stdout + bad.stderr
    xen = _run([packer, "validate", "-var", f"ssh_private_key_file={key}", "-var", "flavor=xen", "packer/"])
    assert xen.returncode == 0, xen.stdout + xen.stderr
    bad = _run([packer, "validate", "-var", f"ssh_private_key_file={key}", "-var", "flavor=hyperv", "packer/"])
    assert bad.returncode != 0 and "flavor must be kvm or xen" in bad.stdout + bad.stderr


@pytest.mark.parametrize("scenario", ["appliance", "appliance-xen", "local", "farm-example"])
def test_vagrant_validate(scenario: str) -> None:
    vagrant = _tool("vagrant")
    r = _run([vagrant, "validate"], timeout=120, env={"DEVCLOUD_SCENARIO": scenario})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "validated successfully" in r.stdout


def test_accelerator_follows_the_probe_cache(tmp_path: Path) -> None:
    f = tmp_path / "virt-type.json"
    assert build.accelerator(f) == "tcg"  # no probe: never guess kvm
    f.write_text(json.dumps({"virt_type": "qemu"}))
    assert build.accelerator(f) == "tcg"
    f.write_text(json.dumps({"virt_type": "kvm"}))
    assert build.accelerator(f) == "kvm"


def test_base_carries_what_the_roles_need_offline() -> None:
    # the nfs_server role's kernel mode (nfsd through kmod's modprobe) and Vagrant's tools must be in the base:
    # the Packer guest has no network to install them
    for pkg in ("kmod", "nfs-kernel-server", "sudo", "openssh-server", "python3", "nftables", "haproxy"):
        assert pkg in build.BASE_PACKAGES, pkg


def test_module_tools_keep_kmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(build, "_run", lambda cmd, **kw: calls.append(cmd))
    rootfs, tree = tmp_path / "root", tmp_path / "tree"
    (rootfs / "usr/bin").mkdir(parents=True)
    (rootfs / "usr/sbin").mkdir(parents=True)
    (tree / "bin").mkdir(parents=True)
    (tree / "bin/busybox").write_text("busybox")
    # kmod installed: its (absolute, so dangling from outside the root) links stay, its depmod runs in the root
    (rootfs / "usr/bin/kmod").write_text("kmod")
    (rootfs / "usr/sbin/modprobe").symlink_to("/nonexistent/kmod")
    build._module_tools(rootfs, "6.1.0-test", tree)
    assert os.readlink(rootfs / "usr/sbin/modprobe") == "/nonexistent/kmod"
    assert calls == [["chroot", str(rootfs), "depmod", "-a", "6.1.0-test"]]
    # no kmod: busybox's applets, and a dangling link is not replaced
    calls.clear()
    (rootfs / "usr/bin/kmod").unlink()
    build._module_tools(rootfs, "6.1.0-test", tree)
    assert os.readlink(rootfs / "usr/sbin/modprobe") == "/nonexistent/kmod"
    assert os.readlink(rootfs / "usr/sbin/depmod") == "/usr/bin/busybox"
    assert calls == [["busybox", "depmod", "-b", str(rootfs), "6.1.0-test"]]


# ---- the VirtualBox box ---------------------------------------------------------------------------------------
@pytest.fixture
def vbox_box(tmp_path: Path) -> Path:
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img is not installed")
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    return build.make_vbox_box(disk, tmp_path / "test-virtualbox.box", progress=lambda _m: None)


def test_vbox_box_structure(vbox_box: Path) -> None:
    assert build.validate_vbox_box(vbox_box) == []
    with tarfile.open(vbox_box) as tar:
        names = set(tar.getnames())
        assert {"metadata.json", "Vagrantfile", "box.ovf", "box-disk001.vmdk"} <= names
        ovf = tar.extractfile("box.ovf").read().decode()  # type: ignore[union-attr]
    assert 'ovf:capacity="67108864"' in ovf
    assert "NestedHWVirt" in ovf


def _rewrite(box: Path, out: Path, drop: str | None = None, replace: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(box) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            if m.name == drop:
                continue
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if replace and m.name in replace:
                data = replace[m.name]
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    return out


def test_vbox_box_validator_finds_problems(vbox_box: Path, tmp_path: Path) -> None:
    no_meta = _rewrite(vbox_box, tmp_path / "a.box", drop="metadata.json")
    assert "metadata.json missing" in build.validate_vbox_box(no_meta)
    wrong_provider = _rewrite(vbox_box, tmp_path / "b.box", replace={"metadata.json": b'{"provider": "libvirt"}'})
    assert any("not 'virtualbox'" in p for p in build.validate_vbox_box(wrong_provider))
    no_disk = _rewrite(vbox_box, tmp_path / "c.box", drop="box-disk001.vmdk")
    assert any("not in the box" in p for p in build.validate_vbox_box(no_disk))
    not_vmdk = _rewrite(vbox_box, tmp_path / "d.box", replace={"box-disk001.vmdk": b"QFI\xfb" + b"\0" * 60})
    problems = build.validate_vbox_box(not_vmdk)
    assert any("not a VMDK" in p for p in problems) and any("OVF size" in p for p in problems)
    (tmp_path / "e.box").write_bytes(b"garbage")
    assert build.validate_vbox_box(tmp_path / "e.box")[0].startswith("not a tar archive")


def test_devcloud_up_vagrant_reports_an_unusable_provider(tmp_path: Path) -> None:
    """`devcloud up --provider vagrant` runs the Vagrantfile through python-vagrant; a provider that cannot run here
    (VirtualBox) ends with Vagrant's reason and exit 1, an unknown scenario with exit 2 before Vagrant starts."""
    _tool("vagrant")
    if shutil.which("VBoxManage"):
        capability_gate("VirtualBox is installed: this check would start a VM")
    devcloud = str(Path(sys.executable).with_name("devcloud"))
    # its own Vagrant state: a developer's appliance (libvirt) under .vagrant/ is neither seen nor touched
    r = _run([devcloud, "up", "--provider", "vagrant", "--vagrant-provider", "virtualbox", "--scenario", "local"],
             timeout=120, env={"VAGRANT_DOTFILE_PATH": str(tmp_path / "vagrant"), "DEVCLOUD_STATE_DIR": str(tmp_path)})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "vagrant up failed" in r.stderr and "Vagrant could not detect VirtualBox" in r.stderr, r.stderr
    bad = _run([devcloud, "up", "--provider", "vagrant", "--scenario", "no-such-spec"], timeout=60)
    assert bad.returncode == 2 and "no such zone spec" in bad.stderr, bad.stdout + bad.stderr
