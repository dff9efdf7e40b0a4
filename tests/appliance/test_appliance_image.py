"""CI's appliance tier: the KVM appliance image is built when its inputs (playbooks/, packer/, appliance/,
scenarios/, Vagrantfile) change and taken from the project cache otherwise (`devcloud build appliance --cache`);
every run boots it (TCG here) with only loopback forwards, calls the API with the admin keys the first boot
generated, and runs testinfra's checks of the roles Packer applied against the running machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import build
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


def _ssh_config(path: Path, port: int, key: Path) -> Path:
    return write_ssh_config(path, {"appliance": ("127.0.0.1", port)}, key)


@pytest.mark.timeout(3600)
def test_the_appliance_image_boots_answers_and_passes_testinfra(tmp_path: Path) -> None:
    image = build.cached_appliance(progress=lambda m: print(m, file=sys.stderr, flush=True))
    # Packer provisions twice: the second Ansible run must find nothing to change
    changed = image.get("provisioning_changed")
    assert isinstance(changed, list) and len(changed) == 2 and changed[1] == 0, changed
    qcow2, key = Path(str(image["qcow2"])), Path(str(image["key"]))
    api_port, ssh_port = _free_port(), _free_port()
    config = _ssh_config(tmp_path / "ssh_config", ssh_port, key)

    def testinfra() -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, DEVCLOUD_INFRA_HOSTS=f"ssh://appliance?ssh_config={config}",
                   DEVCLOUD_INFRA_ROLES=IMAGE_CHECKS)
        cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rfEs",
               "-k", NOT_IN_AN_UNPROVISIONED_IMAGE, "tests/infra"]
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)

    result = build.boot_check(qcow2, key=key, api_port=api_port, ssh_port=ssh_port, timeout=900,
                              while_up=testinfra, progress=lambda m: print(m, file=sys.stderr, flush=True))
    # the image deploys no zone (listZones answers an empty list with its key and a count, as CloudStack does)
    assert result["listZones"] == {"count": 0, "zone": []}, result["listZones"]
    infra = result["while_up"]
    assert isinstance(infra, subprocess.CompletedProcess)
    out = infra.stdout + infra.stderr
    assert infra.returncode == 0, out[-4000:]
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, out[-2000:]
    print(f"appliance image {image['digest'][:16]} ({'cached' if image['cached'] else 'built now'}): "
          f"SSH after {result['ssh_seconds']} s, listZones after {result['listzones_seconds']} s; testinfra: "
          f"{summary}", file=sys.stderr)
