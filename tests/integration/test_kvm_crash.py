"""kill -9 of the management server in the middle of 50 deploys on a real libvirt host, then a restart on the same
database: every deploy job ends, a SUCCEEDED one has its domain running, a FAILED one left nothing, and nothing
is orphaned — no libvirt domain or primary-storage volume that no live VM owns, and the network keeps its bridge.

The guests boot a blank disk (the BIOS finds nothing to boot and idles), so fifty QEMU processes are cheap under
TCG; what is checked is the server's bookkeeping against libvirt, not the guest OS.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import libvirt
import pytest

from management.services.network.networks import guest_bridge_for
from tests.conftest import start_served
from tests.integration.test_kvm_api import Cloud, cloud, image, wait_for  # noqa: F401 - the module's cloud

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("kvm-cloud")]

DEPLOYS = 50


def _blank_template(cloud: Cloud) -> dict[str, Any]:  # noqa: F811
    blank = cloud.workdir / "blank.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(blank), "64M"], check=True)
    tmpl = cloud("registerTemplate", name="blank-" + uuid.uuid4().hex[:4], displaytext="blank disk",
                 url=f"file://{blank}", format="QCOW2", hypervisor="KVM", zoneid=cloud.zone["id"])["template"][0]
    wait_for(lambda: cloud("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"], 60,
             "the blank template to download")
    return tmpl  # type: ignore[no-any-return]


def _restart(cloud: Cloud) -> Path:  # noqa: F811
    """The same server again: same state dir, database, ports and server id; the module's teardown stops it.
    Returns the log of the killed run."""
    old = cloud.served
    killed_log = Path(old.log_path).with_suffix(".killed.log")  # the new run's log takes the same name
    shutil.copyfile(old.log_path, killed_log)
    env = {k: v for k, v in old.env.items() if k.startswith("DEVCLOUD_")}
    new = start_served(old.state_dir, old.db_url, extra_env=env, ports=(old.api_port, old.integration_port))
    old.proc, old.log_path = new.proc, new.log_path
    cloud.api = old.client()
    return killed_log


def _warnings(*logs: Path) -> str:
    """The servers' warnings and errors: what a failed deploy's errortext does not say (host state, takeover)."""
    lines = [ln for log in logs if log.exists() for ln in log.read_text(errors="replace").splitlines()
             if "WARNING" in ln or "ERROR" in ln]
    return "\n".join(lines[-60:])


def _our_domains(cloud: Cloud) -> dict[str, Any]:  # noqa: F811
    """The domains whose disks live in this module's work dir, by UUID."""
    ours = {}
    for d in cloud.conn.listAllDomains(0):
        try:  # other clouds of the suite destroy their domains meanwhile
            if str(cloud.workdir) in d.XMLDesc(0):
                ours[d.UUIDString()] = d
        except libvirt.libvirtError:
            continue
    return ours


@pytest.mark.timeout(900)  # fifty deploys, a restart, fifty destroys on a busy 2-core machine
def test_kill_during_fifty_deploys_leaves_no_orphans(cloud: Cloud) -> None:  # noqa: F811
    tmpl = _blank_template(cloud)
    cluster = cloud("listClusters", zoneid=cloud.zone["id"])["cluster"][0]
    # fifty small VMs on this 2-core host: CloudStack's own knob for overcommitting a cluster's CPU
    cloud("updateConfiguration", name="cpu.overprovisioning.factor", value="40", clusterid=cluster["id"])
    jobs: dict[str, str] = {}
    for i in range(DEPLOYS):
        started = cloud("deployVirtualMachine", zoneid=cloud.zone["id"], templateid=tmpl["id"],
                        serviceofferingid=cloud.offering["id"], name=f"crash-{i}")
        cloud.vms.append(started["id"])
        jobs[started["id"]] = started["jobid"]
    print(f"{DEPLOYS} deploys submitted", flush=True)

    def some_done() -> bool:
        return sum(cloud("queryAsyncJobResult", jobid=j)["jobstatus"] != 0 for j in jobs.values()) >= 10

    wait_for(some_done, 300, "ten of the deploys to end")
    pending_at_kill = sum(cloud("queryAsyncJobResult", jobid=j)["jobstatus"] == 0 for j in jobs.values())
    cloud.served.kill(signal.SIGKILL)
    t0 = time.monotonic()
    killed_log = _restart(cloud)
    print(f"killed with {pending_at_kill} pending; restarted in {time.monotonic() - t0:.1f}s", flush=True)

    def all_ended() -> dict[str, dict[str, Any]] | None:
        results = {vm: cloud("queryAsyncJobResult", jobid=j) for vm, j in jobs.items()}
        return results if all(r["jobstatus"] != 0 for r in results.values()) else None

    results = wait_for(all_ended, 480, "every deploy job to end after the restart", interval=1)
    ended = time.monotonic() - t0
    succeeded = [vm for vm, r in results.items() if r["jobstatus"] == 1]
    failed = {vm: r["jobresult"].get("errortext") for vm, r in results.items() if r["jobstatus"] == 2}
    print(f"{pending_at_kill} of {DEPLOYS} deploys pending at kill -9; all ended {ended:.1f}s after it; "
          f"{len(succeeded)} succeeded, {len(failed)} failed: {sorted(set(failed.values()))}")
    assert pending_at_kill > 0, "the kill came after every deploy had ended: nothing was interrupted"
    # the survivor resumes an interrupted deploy (its journal says which volumes it made): none should fail
    assert not failed, f"{failed}\nserver warnings:\n{_warnings(killed_log, Path(cloud.served.log_path))}"

    vms = {v["id"]: v for v in cloud("listVirtualMachines", listall=True).get("virtualmachine", [])}
    for vm in succeeded:
        assert vms[vm]["state"] == "Running", vms[vm]
    for vm in failed:
        assert vm not in vms or vms[vm]["state"] in ("Error", "Stopped", "Destroyed", "Expunging"), vms[vm]

    # libvirt's view against the API's, once the sync has had its rounds
    def running_vms() -> set[str]:
        listed = cloud("listVirtualMachines", listall=True).get("virtualmachine", [])
        return {v["id"] for v in listed if v["state"] == "Running"}

    def domains_settled() -> bool:
        doms = _our_domains(cloud)
        return set(doms) == running_vms() and all(d.isActive() for d in doms.values())

    wait_for(domains_settled, 60, "libvirt's domains to be exactly the Running VMs")
    assert not set(failed) & set(_our_domains(cloud)), "a failed deploy left its domain"

    # primary storage: the templates' copies, the volumes the API lists and the VMs' config drives, nothing else
    volumes = cloud("listVolumes", listall=True).get("volume", [])
    owned = ({v["path"] for v in volumes if v.get("path")} | {f"cfg-{vm}.iso" for vm in vms}
             | {tmpl["id"], cloud.template["id"]})
    strays = cloud.pool_volumes() - owned
    assert not strays, f"volumes nobody owns: {sorted(strays)}"

    # guest bridges: each network of this cloud still has its bridge (other clouds of the suite make bridges on
    # this machine at the same time, so bridges not named after one of our networks can't be judged here)
    nets = cloud("listNetworks", listall=True).get("network", [])
    present = set(os.listdir("/sys/class/net"))
    assert all(guest_bridge_for(n["id"]) in present for n in nets if n.get("state") == "Implemented"), nets

    for vm in vms:
        if vm in jobs:
            cloud.run("destroyVirtualMachine", id=vm, expunge=True)
    assert not set(_our_domains(cloud)) & set(jobs)
