"""CI's farm tier: the three-node rehearsal of scenarios/farm-rehearsal.yaml (`devcloud farm up`).

When the inputs (playbooks/, appliance/, scenarios/, ... as for the appliance image) have no recorded rehearsal,
this runs it: mgmt, storage and kvm1 booted from the base image on a bridge of this machine, `site.yml` twice over
the inventory generated from the spec, the first VM checked on kvm1 (its disk on storage's NFS export, SSH through
its router on mgmt). The nodes' provisioned disks are kept. Every run then boots those disks and checks the nodes
live: the management server sees kvm1 Up, and testinfra passes on each node for its roles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import farm
from tests.appliance.ssh import write_ssh_config

# the appliance image's worker: both are long TCG runs and must not overlap
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("appliance-image")]

REPO = Path(__file__).resolve().parents[2]
SCENARIO = "farm-rehearsal"
# playbook group -> the testinfra checks it enables (tests/infra/conftest.py)
GROUP_CHECKS = {"management": "management", "database": "database", "nfs": "nfs", "kvm_hosts": "kvm"}


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _checks(groups: list[str], first_management: bool) -> str:
    checks = [GROUP_CHECKS[g] for g in groups if g in GROUP_CHECKS]
    return ",".join(checks + (["datacenter"] if first_management else []))


@pytest.mark.timeout(5400)
def test_three_node_farm_from_the_farm_playbooks(tmp_path: Path) -> None:
    r = farm.cached_rehearsal(SCENARIO, progress=_say)
    nodes = dict(r["nodes"])  # type: ignore[call-overload]
    assert set(nodes) == {"mgmt", "storage", "kvm1"}

    # provisioning: every node in both runs, nothing failed, and the second run changed nothing
    first, second = dict(r["first_run"]), dict(r["second_run"])  # type: ignore[call-overload]
    assert set(first) == set(second) == set(nodes), (first, second)
    assert all(v["failed"] == 0 and v["unreachable"] == 0 for v in [*first.values(), *second.values()])
    assert sum(v["changed"] for v in first.values()) > 0
    assert {h: v["changed"] for h, v in second.items()} == {h: 0 for h in nodes}, second

    # the first VM: on kvm1, its root disk a file of storage's NFS export, SSH through the router on mgmt
    vm = dict(r["first_vm"])  # type: ignore[call-overload]
    storage = nodes["storage"]["address"]
    assert vm["state"] == "Running" and vm["kvm_node"] == "kvm1", vm
    assert vm["pool_type"] == "NetworkFilesystem" and vm["pool_path"] == f"{storage}:/export/primary", vm
    source, fstype = str(vm["disk_mount"]).split()
    assert source == f"{storage}:/export/primary" and fstype.startswith("nfs"), vm
    assert str(vm["disk_on_storage"]).startswith("/export/primary/"), vm
    ssh = dict(vm["ssh"])
    assert ssh["rc"] == 0 and "inet 10.1.1." in ssh["out"], ssh
    _say(f"farm rehearsal {r['entry']} ({'recorded' if r['cached'] else 'run now'}): steps {r['steps']}; "
         f"first VM {vm}")

    # live: the provisioned disks boot, the server reconnects to kvm1, and testinfra passes on every node
    def testinfra(_farm: farm.Farm, key: Path) -> dict[str, subprocess.CompletedProcess[str]]:
        # the key the nodes were booted with: the recorded one names the build tree that rehearsed (maybe gone)
        config = write_ssh_config(tmp_path / "ssh_config", {name: (n["address"], 22) for name, n in nodes.items()},
                                  key)
        out = {}
        for name, n in nodes.items():
            env = dict(os.environ, DEVCLOUD_INFRA_HOSTS=f"ssh://{name}?ssh_config={config}",
                       DEVCLOUD_INFRA_ROLES=_checks(n["groups"], name == "mgmt"))
            cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rfEs", "tests/infra"]
            out[name] = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        return out

    live = farm.boot_provisioned(r, tmp_path / "boot", scenario=SCENARIO, while_up=testinfra, progress=_say)
    assert live["hosts"] == {"kvm1": "Up"}, live
    for name, proc in dict(live["while_up"]).items():  # type: ignore[call-overload]
        text = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{name}: {text[-4000:]}"
        summary = text.strip().splitlines()[-1]
        assert " passed" in summary and "failed" not in summary and "skipped" not in summary, f"{name}: {summary}"
        _say(f"testinfra on {name}: {summary}")
    _say(f"provisioned disks booted: SSH {live['ssh_after']}, kvm1 Up after {live['hosts_up_after']} s")
