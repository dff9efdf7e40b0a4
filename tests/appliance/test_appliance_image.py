"""CI's appliance tier: the KVM and Xen appliance images are built when their inputs (playbooks/, packer/,
appliance/, scenarios/, Vagrantfile) change and taken from the project cache otherwise (`devcloud build appliance
--cache`); every run boots them (TCG here) with only loopback forwards, calls the API with the admin keys the first
boot generated, and runs testinfra's checks of the roles Packer applied against the running machine. The Xen
appliance then deploys its zone spec with the datacenter role, as `vagrant up` does, and its first PV guest must
answer SSH through its virtual router."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import build
from tests.appliance.roles import playbook
from tests.appliance.ssh import write_ssh_config
from tests.conftest import _free_port

# its own worker: a build (when the inputs changed) takes 10-20 min of TCG; the boot ~1-2 min
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("appliance-image")]

REPO = Path(__file__).resolve().parents[2]
# the roles the Packer build applies (packer/build.pkr.hcl); no zone is deployed into the image
IMAGE_CHECKS = "management,database,nfs,kvm"
# Whether KVM works belongs to the machine the image boots on, not to the image: Packer runs kvm_host without the
# probe, and Vagrant's (or a farm's) Ansible run probes on the machine itself. Until then the server uses QEMU (TCG)
# and says why ("no KVM probe result").
NOT_IN_AN_UNPROVISIONED_IMAGE = "not test_virt_type_probed"
# The Xen appliance after the datacenter role deployed scenarios/appliance-xen.yaml in it
XEN_CHECKS = "management,database,nfs,xen,datacenter"


def _ssh_config(path: Path, port: int, key: Path) -> Path:
    return write_ssh_config(path, {"appliance": ("127.0.0.1", port)}, key)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _testinfra(config: Path, checks: str, *select: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEVCLOUD_INFRA_HOSTS=f"ssh://appliance?ssh_config={config}", DEVCLOUD_INFRA_ROLES=checks)
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rfEs", *select,
           "tests/infra"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def _journal(config: Path, unit: str, lines: int = 60) -> str:
    """The unit's last journal lines from the appliance, for a failure's message (never raises)."""
    try:
        r = subprocess.run(["ssh", "-F", str(config), "appliance", "journalctl", "--no-pager", "-o",
                            "short-monotonic", "-n", str(lines), "-u", unit], capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        return f"\n--- {unit}'s journal: ssh did not answer within 120 s ---\n"
    return f"\n--- {unit}'s journal, last {lines} lines (ssh exit {r.returncode}) ---\n{r.stdout}{r.stderr}"


def _passed(infra: object) -> str:
    """testinfra's summary line, after checking every selected check passed (none failed or was skipped)."""
    assert isinstance(infra, subprocess.CompletedProcess)
    out = infra.stdout + infra.stderr
    assert infra.returncode == 0, out[-4000:]
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, out[-2000:]
    return summary


def _image(flavor: build.Flavor) -> tuple[dict[str, object], Path, Path]:
    image = build.cached_appliance(flavor=flavor, progress=_say)
    # Packer provisions twice: the second Ansible run must find nothing to change
    changed = image.get("provisioning_changed")
    assert isinstance(changed, list) and len(changed) == 2 and changed[1] == 0, changed
    return image, Path(str(image["qcow2"])), Path(str(image["key"]))


@pytest.mark.timeout(3600)
def test_the_appliance_image_boots_answers_and_passes_testinfra(tmp_path: Path) -> None:
    image, qcow2, key = _image(build.KVM)
    api_port, ssh_port = _free_port(), _free_port()
    config = _ssh_config(tmp_path / "ssh_config", ssh_port, key)
    result = build.boot_check(qcow2, key=key, api_port=api_port, ssh_port=ssh_port, timeout=900,
                              while_up=lambda: _testinfra(config, IMAGE_CHECKS, "-k", NOT_IN_AN_UNPROVISIONED_IMAGE),
                              progress=_say)
    # the image deploys no zone (listZones answers an empty list with its key and a count, as CloudStack does)
    assert result["listZones"] == {"count": 0, "zone": []}, result["listZones"]
    summary = _passed(result["while_up"])
    _say(f"appliance image {image['digest'][:16]} ({'cached' if image['cached'] else 'built now'}): "
         f"SSH after {result['ssh_seconds']} s, listZones after {result['listzones_seconds']} s; testinfra: "
         f"{summary}")


def _datacenter(tmp_path: Path, ssh_port: int, key: Path, scenario: str) -> tuple[subprocess.CompletedProcess[str],
                                                                                  float]:
    """The datacenter role (site.yml's datacenter play) over the booted image, as `vagrant up` ends: the zone spec
    through the API, its template, the first VM and its SSH through the router's port forward."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("".join(f"[{g}]\nappliance\n" for g in ("management", "database", "nfs", "xen_hosts"))
                         + f"[all:vars]\nansible_host=127.0.0.1\nansible_port={ssh_port}\nansible_user=root\n"
                         "ansible_python_interpreter=/usr/bin/python3\n")
    cmd = [playbook(), "-i", str(inventory), "playbooks/site.yml", "--tags", "datacenter", "--private-key", str(key),
           "-e", f"devcloud_scenario={scenario}", "-e", "devcloud_deploy_datacenter=true",
           "-e", f"datacenter_images_dir={build.IMAGES}"]
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_PIPELINING="True", ANSIBLE_TIMEOUT="60",
               ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile=/dev/null "
                                "-o StrictHostKeyChecking=no")
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=1800)
    return r, time.monotonic() - t0


@pytest.mark.timeout(3600)
def test_the_xen_appliance_boots_dom0_and_its_first_pv_guest_answers_ssh(tmp_path: Path) -> None:
    image, qcow2, key = _image(build.FLAVORS["xen"])
    build.export_guest_images(progress=_say)  # the datacenter role copies dist/images/tiny.qcow2 into the image
    api_port, ssh_port = _free_port(), _free_port()
    config = _ssh_config(tmp_path / "ssh_config", ssh_port, key)

    def deploy_then_testinfra() -> tuple[subprocess.CompletedProcess[str], float, subprocess.CompletedProcess[str]]:
        deployed, seconds = _datacenter(tmp_path, ssh_port, key, "appliance-xen")
        if deployed.returncode != 0:  # the server's side of it, while the appliance still runs
            deployed.stderr += _journal(config, "devcloud-management")
        return deployed, seconds, _testinfra(config, XEN_CHECKS)

    # SSH came after 220 s on an idle machine, after 1,109 s in a CI run on a busier one (dom0 under TCG)
    result = build.boot_check(qcow2, key=key, api_port=api_port, ssh_port=ssh_port, timeout=1800,
                              while_up=deploy_then_testinfra, progress=_say)
    assert result["listZones"] == {"count": 0, "zone": []}, result["listZones"]
    deployed, seconds, infra = result["while_up"]  # type: ignore[misc]
    out = deployed.stdout + deployed.stderr
    assert deployed.returncode == 0, out[-8000:]
    recap = re.search(r"^appliance\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", out, re.M)
    assert recap, out[-3000:]
    # the role's report: the first VM answered SSH (its host name) on the router's forwarded port
    assert '"ssh": "first-vm"' in out, out[-3000:]
    summary = _passed(infra)
    _say(f"xen appliance image {image['digest'][:16]} ({'cached' if image['cached'] else 'built now'}): "
         f"SSH after {result['ssh_seconds']} s, listZones after {result['listzones_seconds']} s; datacenter role "
         f"(zone, template, PV guest to SSH) {seconds:.0f} s; testinfra: {summary}")
