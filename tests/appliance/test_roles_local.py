"""The farm inventory's `common` and `kvm_host` roles against THIS machine (connection local, as farm host
`host1`): the run succeeds and a second run changes nothing. kvm_host prepares the host with
appliance.host.prepare (the same code `devcloud host prepare` runs), so this also checks that the two agree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance import build

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(os.environ.get("DEVCLOUD_ANSIBLE_TOOLS", "/opt/ansible-tools")) / "bin" / "ansible-playbook"


def _playbook() -> str:
    for cand in (PLAYBOOK, shutil.which("ansible-playbook")):
        if cand and Path(cand).exists():
            return str(cand)
    pytest.skip("ansible-playbook is not installed")


def _run_roles() -> tuple[int, str]:
    cmd = [_playbook(), "-i", "playbooks/inventories/farm/hosts.yml", "playbooks/site.yml", "--limit", "host1",
           # no network here: the apt lists are not refreshed (packages are installed or the run fails)
           "-e", "ansible_connection=local", "-e", "common_apt_update=false"]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500,
                       env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    return r.returncode, r.stdout + r.stderr


def _recap(out: str) -> dict[str, int]:
    m = re.search(r"^host1\s*:\s*(.*)$", out, re.M)
    assert m, out[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def test_farm_kvm_host_roles_twice_on_this_machine() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not build.WHEELHOUSE.with_name("wheelhouse.tar").is_file():
        build.build_wheelhouse(progress=lambda _m: None)
    rc, out = _run_roles()
    assert rc == 0, out[-5000:]
    first = _recap(out)
    assert first["failed"] == 0 and first["unreachable"] == 0
    assert "TASK [kvm_host : Prepare the host with appliance.host.prepare]" in out
    rc, out = _run_roles()
    assert rc == 0, out[-5000:]
    second = _recap(out)
    changed = re.findall(r"^TASK \[(.*?)\].*\n(?:.*\n)*?changed:", out, re.M)
    assert second["changed"] == 0, f"second run changed something: {changed}\n{out[-4000:]}"
