"""Applying the farm's `common` + `kvm_host` roles to THIS machine (connection local, as farm host `host1`): what
tests/appliance/test_roles_local.py checks (a second run changes nothing) and what tests/infra then inspects
(the roles leave /etc/devcloud/provisioned-by-roles)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(os.environ.get("DEVCLOUD_ANSIBLE_TOOLS", "/opt/ansible-tools")) / "bin" / "ansible-playbook"
LOCAL_ROLES = ("common", "kvm_host")  # what `--limit host1` of the farm inventory applies
MARKER = "/etc/devcloud/provisioned-by-roles"


def playbook() -> str:
    for cand in (PLAYBOOK, shutil.which("ansible-playbook")):
        if cand and Path(cand).exists():
            return str(cand)
    pytest.fail(f"ansible-playbook is not installed ({PLAYBOOK}; `make test` provisions it)")


def run_roles() -> tuple[int, str]:
    """One ansible-playbook run of the farm's roles for host1 against this machine; (exit code, output)."""
    from appliance import build

    if os.geteuid() != 0:
        pytest.fail("applying the roles to this machine needs root")
    if not build.WHEELHOUSE.with_name("wheelhouse.tar").is_file():
        build.build_wheelhouse(progress=lambda _m: None)
    cmd = [playbook(), "-i", "playbooks/inventories/farm/hosts.yml", "playbooks/site.yml", "--limit", "host1",
           # no network here: the apt lists are not refreshed (packages are installed or the run fails)
           "-e", "ansible_connection=local", "-e", "common_apt_update=false"]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500,
                       env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    return r.returncode, r.stdout + r.stderr


def recap(out: str) -> dict[str, int]:
    m = re.search(r"^host1\s*:\s*(.*)$", out, re.M)
    assert m, out[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
