"""Real KVM/QEMU-TCG guests through the CloudStack API of a served devcloud, checked through libvirt-python and
the guests' serial console logs.

One served instance and one advanced zone per module: this machine (`qemu:///system`) as a KVM host, a directory
primary pool and a `file://` image store in a temp dir, the tiny image registered with registerTemplate. Each test
boots at most one or two guests. Everything the module creates (domains, pools, bridges, files) is removed at the
end, whatever happened.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libvirt  # noqa: E402
import pytest

from tests.conftest import Served, free_public_net, start_served
from tests.tiers import capability_gate

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("kvm-cloud")]  # one public range

URI = "qemu:///system"
BOOT_TIMEOUT = 300.0  # a TCG boot on a busy 2-core machine: 120 s ran out in a CI run with three farm nodes beside it
LOGIN = re.compile(r"\S+ login:")
PUBLIC_NET = free_public_net()  # the zone's public /24: its gateway goes on the cloud's public bridge
PUBLIC_GATEWAY = f"{PUBLIC_NET}.1/24"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root for qemu:///system"
    for tool in ("qemu-img", "qemu-io", "genisoimage", "mkfs.ext2", "extlinux", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run .ci/services.sh)"
    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError as exc:
        return f"{URI} does not answer ({exc.get_error_message()}); run .ci/services.sh"
    return None


_reason = _skip_reason()
if _reason:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=_reason)]


# ------------------------------------------------------------------------------------------------ helpers

def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as exc:  # noqa: BLE001 - reported at the deadline
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f": {last!r}" if last else ""))
        time.sleep(interval)


class Cloud:
    def __init__(self, served: Served, conn: Any, workdir: Path, console: Path, zone: dict[str, Any],
                 template: dict[str, Any], offering: dict[str, Any], disk_offering: dict[str, Any],
                 keypair: str, key_path: Path, pool_dir: Path, store_dir: Path) -> None:
        self.served, self.conn, self.workdir, self.console = served, conn, workdir, console
        self.zone, self.template, self.offering, self.disk_offering = zone, template, offering, disk_offering
        self.keypair, self.key_path, self.pool_dir, self.store_dir = keypair, key_path, pool_dir, store_dir
        self.api = served.client()
        self.vms: list[str] = []

    # -- API
    def __call__(self, command: str, **kw: Any) -> dict[str, Any]:
        return self.api(command, **kw)

    def job(self, command: str, timeout: float = 180.0, **kw: Any) -> dict[str, Any]:
        started = self.api(command, **kw)
        return self.api.wait(started["jobid"], timeout=timeout)

    def run(self, command: str, timeout: float = 180.0, **kw: Any) -> dict[str, Any]:
        job = self.job(command, timeout=timeout, **kw)
        assert job["jobstatus"] == 1, f"{command} failed: {job.get('jobresult')}\n{self.served.log()}"
        return job.get("jobresult", {})  # type: ignore[no-any-return]

    def deploy(self, **kw: Any) -> dict[str, Any]:
        params = {"zoneid": self.zone["id"], "templateid": self.template["id"],
                  "serviceofferingid": self.offering["id"], **kw}
        started = self.api("deployVirtualMachine", **params)
        self.vms.append(started["id"])
        job = self.api.wait(started["jobid"], timeout=180)
        assert job["jobstatus"] == 1, f"deploy failed: {job.get('jobresult')}\n{self.served.log()}"
        return job["jobresult"]["virtualmachine"]  # type: ignore[no-any-return]

    def vm(self, vm_id: str) -> dict[str, Any]:
        return self.api("listVirtualMachines", id=vm_id, listall=True)["virtualmachine"][0]  # type: ignore[no-any-return]

    # -- libvirt
    def domain(self, vm_id: str) -> Any | None:
        try:
            return self.conn.lookupByUUIDString(vm_id)
        except libvirt.libvirtError:
            return None

    def pool(self) -> Any:
        pools = self.api("listStoragePools", zoneid=self.zone["id"])["storagepool"]
        return self.conn.storagePoolLookupByName(pools[0]["id"])

    def pool_volumes(self) -> set[str]:
        p = self.pool()
        p.refresh(0)
        return set(p.listVolumes())

    def console_log(self, instance: str) -> str:
        try:
            return (self.console / f"{instance}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, instance: str, pattern: str | re.Pattern[str], timeout: float = BOOT_TIMEOUT,
                     start: int = 0) -> re.Match[str]:
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        try:
            return wait_for(lambda: rx.search(self.console_log(instance), start), timeout,  # type: ignore[no-any-return]
                            f"{rx.pattern!r} on the serial console of {instance}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- console tail ---\n{self.console_log(instance)[-3000:]}") from None


def qemu_pid(name: str) -> int | None:
    try:
        return int(Path(f"/run/libvirt/qemu/{name}.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def is_qemu(pid: int) -> bool:
    try:
        return "qemu" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except FileNotFoundError:
        return False


def dom_state(cloud: Cloud, vm_id: str) -> str:
    dom = cloud.domain(vm_id)
    if dom is None:
        return "missing"
    return {libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
            libvirt.VIR_DOMAIN_PAUSED: "paused", libvirt.VIR_DOMAIN_CRASHED: "crashed"}.get(dom.state()[0], "other")


def zone_spec(tag: str, pool_dir: Path, store_dir: Path) -> Any:
    from appliance import zonespec

    return zonespec.parse({
        "name": f"kvm-test-{tag}",
        # instance.name: domain names stay unique when another devcloud drives this libvirtd at the same time
        "global_settings": {"expunge.delay": "0", "expunge.interval": "600", "vm.sync.interval": "1",
                            "instance.name": f"T{tag}"},
        "zones": [{
            "name": f"kvm-{tag}", "network_type": "Advanced", "dns1": "198.19.255.53", "internal_dns1": "198.19.255.53",
            "guest_cidr": "10.251.1.0/24",
            "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": "600-619",
                                   "traffic_types": ["Guest", "Management", "Public"],
                                   "providers": ["VirtualRouter"]}],
            "public_ranges": [{"vlan": "untagged", "gateway": f"{PUBLIC_NET}.1", "netmask": "255.255.255.0",
                               "start": f"{PUBLIC_NET}.10", "end": f"{PUBLIC_NET}.60"}],
            "pods": [{"name": f"pod-{tag}", "gateway": "198.18.250.1", "netmask": "255.255.255.0",
                      "start": "198.18.250.10", "end": "198.18.250.50",
                      "clusters": [{"name": f"kvm-{tag}", "hypervisor": "KVM",
                                    "hosts": [{"url": URI}],
                                    "primary_storage": [{"name": f"ps-{tag}", "url": f"file://{pool_dir}"}]}]}],
            "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS", "url": f"file://{store_dir}"}],
        }],
        "service_offerings": [{"name": f"tiny-{tag}", "cpu": 1, "speed": 500, "memory": 192}],
    }, source="test_kvm_api")


def cleanup_host_networking(state_dir: Path, bridges_before: set[str], public_gateway: str | None = None) -> None:
    """Routers whose state lives in our state dir (a killed server leaves them), our public gateway address on a
    public bridge someone else also uses, then the bridges that did not exist before and are unused now."""
    from management.network import host as nethost

    net_state = state_dir / "network"
    if (net_state / "routers").is_dir():
        from management.network.vr import NamespaceRouterProvider

        prov = NamespaceRouterProvider(net_state)
        for rid in prov.routers():
            with contextlib.suppress(Exception):
                prov.destroy(rid)
    if public_gateway:
        for name in os.listdir("/sys/class/net"):
            if name.startswith("dcp"):
                nethost.run(["ip", "addr", "del", public_gateway, "dev", name], check=False)
    for name in sorted(set(os.listdir("/sys/class/net")) - bridges_before):
        if name.startswith(("dcb", "dcp")):
            with contextlib.suppress(Exception):
                nethost.remove_bridge(name)


# ------------------------------------------------------------------------------------------------ the module cloud

def new_workdir(prefix: str) -> tuple[Path, str, Path, Path, Path, Path]:
    """A module's directory under /var/lib/devcloud (libvirt's QEMU reads it): (workdir, a tag for names,
    primary pool, secondary store, console logs, server state)."""
    base = Path("/var/lib/devcloud")
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    workdir.chmod(0o755)
    dirs = [workdir / name for name in ("primary", "secondary", "console", "state")]
    for d in dirs:
        d.mkdir()
    return workdir, uuid.uuid4().hex[:6], *dirs


@pytest.fixture(scope="module")
def image() -> Path:
    from appliance.image import build_tiny_image

    return build_tiny_image()


@pytest.fixture(scope="module")
def cloud(image: Path) -> Iterator[Cloud]:
    from appliance.client import CloudClient
    from appliance.deploy import Deployer

    workdir, tag, pool_dir, store_dir, console, state = new_workdir("test-kvm-api.")
    tiny = workdir / "tiny.qcow2"
    shutil.copyfile(image, tiny)
    bridges_before = set(os.listdir("/sys/class/net"))
    conn = libvirt.open(URI)
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}",
                          extra_env={"DEVCLOUD_CONSOLE_LOG_DIR": str(console)})
    cloud: Cloud | None = None
    try:
        client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.1, job_timeout=120)
        try:
            Deployer(client).deploy(zone_spec(tag, pool_dir, store_dir))
        finally:
            client.close()
        api = served.client()
        zone = api("listZones", name=f"kvm-{tag}")["zone"][0]
        host = api("listHosts", zoneid=zone["id"], type="Routing")["host"][0]
        assert host["state"] == "Up" and host["hypervisor"] == "KVM", host
        tmpl = api("registerTemplate", name=f"tiny-{tag}", displaytext="tiny", url=f"file://{tiny}",
                   format="QCOW2", hypervisor="KVM", zoneid=zone["id"], ostypeid=None, ispublic=True,
                   sshkeyenabled=True)["template"][0]
        wait_for(lambda: api("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"], 120,
                 "the tiny template to download")
        so = api("listServiceOfferings", name=f"tiny-{tag}")["serviceoffering"][0]
        do = api("listDiskOfferings", name="Small")["diskoffering"][0]
        key = workdir / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        api("registerSSHKeyPair", name=f"kp-{tag}", publickey=key.with_suffix(".pub").read_text().strip())
        cloud = Cloud(served, conn, workdir, console, zone, tmpl, so, do, f"kp-{tag}", key, pool_dir, store_dir)
        yield cloud
    finally:
        _teardown(cloud, served, conn, bridges_before, workdir)


def _teardown(cloud: Cloud | None, served: Served, conn: Any, bridges_before: set[str], workdir: Path) -> None:
    pool_names: list[str] = []
    if cloud is not None:
        api = cloud.api
        for vm_id in cloud.vms:
            with contextlib.suppress(Exception):
                cloud.job("destroyVirtualMachine", id=vm_id, expunge=True, timeout=60)
        with contextlib.suppress(Exception):
            for v in api("listVolumes", listall=True).get("volume", []):
                if v.get("type") == "DATADISK":
                    if v.get("virtualmachineid"):
                        cloud.job("detachVolume", id=v["id"], timeout=60)
                    api("deleteVolume", id=v["id"])
        with contextlib.suppress(Exception):
            pool_names = [p["id"] for p in api("listStoragePools", zoneid=cloud.zone["id"])["storagepool"]]
        with contextlib.suppress(Exception):  # the virtual router (when one is wired in) goes with its network
            for net in api("listNetworks", listall=True).get("network", []):
                with contextlib.suppress(Exception):
                    cloud.job("deleteNetwork", id=net["id"], timeout=60)
    served.kill(signal.SIGTERM)
    cleanup_host_networking(workdir / "state", bridges_before, PUBLIC_GATEWAY)
    # whatever is left that lives in our workdir: domains, pools
    for dom in conn.listAllDomains(0):
        with contextlib.suppress(libvirt.libvirtError):
            if str(workdir) in dom.XMLDesc(0):
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(0) if dom.isPersistent() else None
    for p in conn.listAllStoragePools(0):
        with contextlib.suppress(libvirt.libvirtError):
            if p.name() in pool_names or str(workdir) in p.XMLDesc(0):
                for vol in p.listAllVolumes() if p.isActive() else []:
                    with contextlib.suppress(libvirt.libvirtError):
                        vol.delete(0)
                if p.isActive():
                    p.destroy()
                p.undefine()
    conn.close()
    shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ tests

def test_host_pool_and_template(cloud: Cloud) -> None:
    """addHost read the machine through libvirt; the primary pool is a libvirt dir pool; virt type from the
    probe's cache (kvm only where a KVM guest booted)."""
    from management.services.infra import kvm

    host = cloud("listHosts", zoneid=cloud.zone["id"], type="Routing")["host"][0]
    model, mem_mib, cpus, mhz, *_ = cloud.conn.getInfo()
    assert (host["cpunumber"], host["cpuspeed"]) == (cpus, mhz)
    assert abs(int(host["memorytotal"]) - mem_mib * 1024 * 1024) < 64 * 1024 * 1024
    pool = cloud.pool()
    assert pool.isActive() and f"<path>{cloud.pool_dir}</path>" in pool.XMLDesc(0)
    assert "type='dir'" in pool.XMLDesc(0)
    assert kvm.probed_virt_type()[0] in ("kvm", "qemu")


def test_deploy_userdata_key_console_and_power_cycle(cloud: Cloud) -> None:
    from management.services.infra import kvm

    marker = "KVM-API-USERDATA-" + uuid.uuid4().hex[:8]
    user_data = f"#!/bin/sh\necho {marker} $(hostname)\n".encode()
    name = "kvm-" + uuid.uuid4().hex[:6]
    vols_before = cloud.pool_volumes()
    vm = cloud.deploy(name=name, userdata=base64.b64encode(user_data).decode(), keypair=cloud.keypair)
    assert vm["state"] == "Running"
    inst = vm["instancename"]
    # a QEMU process runs the domain, whose UUID is the VM's id
    dom = cloud.domain(vm["id"])
    assert dom is not None and dom.isActive() and dom.name() == inst
    pid = qemu_pid(inst)
    assert pid and is_qemu(pid), f"no QEMU process for {inst}"
    xml = dom.XMLDesc(0)
    expected_vt = kvm.probed_virt_type()[0]
    assert f"type='{expected_vt}'" in xml.split(">", 1)[0], xml.split(">", 1)[0]
    assert re.search(r"<interface type='bridge'>.*?<source bridge='dcb[0-9a-f]+'/>", xml, re.S), xml
    # the guest applied the config drive: hostname, key, user data; then the login prompt
    cloud.wait_console(inst, rf"DEVCLOUD-GUEST-READY hostname={name}\b")
    cloud.wait_console(inst, LOGIN, 60)
    log = cloud.console_log(inst)
    assert "DEVCLOUD-SSHKEY-INSTALLED 1" in log
    assert f"DEVCLOUD-USERDATA-APPLIED sha256={hashlib.sha256(user_data).hexdigest()}" in log
    assert f"{marker} {name}" in log

    # stop / start / reboot
    assert cloud.run("stopVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    assert dom_state(cloud, vm["id"]) == "shutoff"
    assert qemu_pid(inst) is None or not is_qemu(qemu_pid(inst) or 0)
    size = len(cloud.console_log(inst))
    assert cloud.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert dom_state(cloud, vm["id"]) == "running"
    cloud.wait_console(inst, LOGIN, start=size)
    size = len(cloud.console_log(inst))
    assert cloud.run("rebootVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
    cloud.wait_console(inst, LOGIN, start=size)
    assert dom_state(cloud, vm["id"]) == "running"

    # destroy with expunge: no domain, no disk, no pool volume
    cloud.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert cloud.domain(vm["id"]) is None
    assert cloud.pool_volumes() <= vols_before | {cloud.template["id"]}, cloud.pool_volumes() - vols_before
    assert not any(vm["id"] in f for f in os.listdir(cloud.pool_dir))
    # expunged: CloudStack keeps the row (removed set), so the id still resolves and the list is empty
    assert cloud.api("listVirtualMachines", id=vm["id"], listall=True) == {}


def test_data_volume_hotplug_and_snapshot_revert(cloud: Cloud) -> None:
    vm = cloud.deploy(name="vol-" + uuid.uuid4().hex[:6])
    inst = vm["instancename"]
    vol = cloud.run("createVolume", name="data-" + uuid.uuid4().hex[:4], zoneid=cloud.zone["id"],
                    diskofferingid=cloud.disk_offering["id"])["volume"]
    cloud.wait_console(inst, LOGIN)
    size = len(cloud.console_log(inst))
    cloud.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    added = cloud.wait_console(inst, r"DEVCLOUD-DISK-ADDED ([sv]d[a-z])", 60, start=size)
    dev = added.group(1)
    assert dev != "vda"
    dom = cloud.domain(vm["id"])
    path = next(p for p in re.findall(r"<source file='([^']+)'", dom.XMLDesc(0)) if p.endswith(vol["id"]))
    cloud.run("detachVolume", id=vol["id"])
    cloud.wait_console(inst, rf"DEVCLOUD-DISK-REMOVED {dev}", 60, start=size)
    assert vol["id"] not in cloud.domain(vm["id"]).XMLDesc(0)
    assert vol["id"] not in cloud.domain(vm["id"]).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    # snapshot -> overwrite -> revert -> the earlier bytes are back (volume detached: qemu-io may open it)
    def qemu_io(cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, path], capture_output=True, text=True)

    assert qemu_io("write -P 0xa5 0 1M").returncode == 0
    snap = cloud.run("createSnapshot", volumeid=vol["id"])["snapshot"]
    assert snap["state"] == "BackedUp"
    assert qemu_io("write -P 0x3c 0 1M").returncode == 0
    assert "Pattern verification failed" in qemu_io("read -P 0xa5 0 1M").stdout
    cloud.run("revertSnapshot", id=snap["id"])
    r = qemu_io("read -P 0xa5 0 1M")
    assert r.returncode == 0 and "Pattern verification failed" not in r.stdout, r.stdout + r.stderr

    cloud.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    cloud.run("deleteSnapshot", id=snap["id"])
    cloud("deleteVolume", id=vol["id"])
    assert vol["id"] not in " ".join(cloud.pool_volumes())


def test_qemu_killed_out_of_band_and_hand_made_domain(cloud: Cloud) -> None:
    vm = cloud.deploy(name="kill-" + uuid.uuid4().hex[:6])
    inst = vm["instancename"]
    pid = qemu_pid(inst)
    assert pid and is_qemu(pid)
    # a domain defined by hand, with a name that looks like ours: reported by sync, never destroyed
    hand_uuid = str(uuid.uuid4())
    hand = cloud.conn.defineXML(f"""<domain type='qemu'><name>i-999-{os.getpid()}-VM</name><uuid>{hand_uuid}</uuid>
      <memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
      <devices/></domain>""")
    try:
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: cloud.vm(vm["id"])["state"] == "Stopped", 10, "the API to show the killed VM Stopped")
        print(f"killed VM Stopped in the API after {time.monotonic() - t0:.2f}s (sync interval 1s)")
        # two more sync rounds: the hand-made domain is reported, still defined
        wait_for(lambda: f"i-999-{os.getpid()}-VM" in cloud.served.log_path.read_text(errors="replace"), 10,
                 "vm sync to report the hand-made domain")
        time.sleep(0)  # the assertion below must hold after the rounds that reported it
        assert cloud.conn.lookupByUUIDString(hand_uuid).name() == f"i-999-{os.getpid()}-VM"
        # the killed VM starts again
        assert cloud.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
        assert dom_state(cloud, vm["id"]) == "running"
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            hand.undefine()
    cloud.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert cloud.domain(vm["id"]) is None


def test_ha_vm_whose_qemu_is_killed_runs_again(cloud: Cloud) -> None:
    o = cloud.offering
    ha = cloud("createServiceOffering", name="ha-" + uuid.uuid4().hex[:6], displaytext="HA", offerha=True,
               cpunumber=o["cpunumber"], cpuspeed=o["cpuspeed"], memory=o["memory"])["serviceoffering"]
    vm = cloud.deploy(name="ha-" + uuid.uuid4().hex[:6], serviceofferingid=ha["id"])
    assert vm["haenable"] is True
    inst = vm["instancename"]
    cloud.wait_console(inst, LOGIN)
    pid = qemu_pid(inst)
    assert pid and is_qemu(pid)
    logins = len(LOGIN.findall(cloud.console_log(inst)))
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    def running_again() -> bool:
        new = qemu_pid(inst)
        return cloud.vm(vm["id"])["state"] == "Running" and bool(new) and new != pid and is_qemu(new or 0)

    wait_for(running_again, 60, "the HA VM Running again on a new QEMU")
    print(f"HA VM Running again {time.monotonic() - t0:.1f}s after its QEMU was killed")
    assert dom_state(cloud, vm["id"]) == "running"

    def start_jobs() -> list[dict[str, Any]] | None:
        jobs = [j for j in cloud("listAsyncJobs", listall=True)["asyncjobs"]
                if j.get("jobinstanceid") == vm["id"] and j["cmd"].endswith("startVirtualMachineCmd")]
        return jobs if jobs and all(j["jobstatus"] != 0 for j in jobs) else None

    # The VM shows Running once the start commits; its job completes a moment later, after building its response.
    jobs = wait_for(start_jobs, 60, "HA's start job to end")
    assert [j["jobstatus"] for j in jobs] == [1], jobs
    # the serial log is appended to: the restarted guest's boot ends in one more login prompt
    wait_for(lambda: len(LOGIN.findall(cloud.console_log(inst))) > logins, BOOT_TIMEOUT,
             "the restarted guest's login prompt")
    cloud.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert cloud.domain(vm["id"]) is None


def test_failed_disk_copy_leaves_nothing_behind(cloud: Cloud) -> None:
    """A template whose image cannot be cloned (its qcow2 backing file is missing): the copy to primary storage
    works, the linked clone fails in the middle of the deploy. The job FAILS with the libvirt reason, and no
    domain, root disk or config drive is left."""
    bad = cloud.workdir / "broken.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b",
                    str(cloud.workdir / "no-such-backing.qcow2"), str(bad), "64M"], check=True)
    tmpl = cloud("registerTemplate", name="broken-" + uuid.uuid4().hex[:4], displaytext="broken",
                 url=f"file://{bad}", format="QCOW2", hypervisor="KVM", zoneid=cloud.zone["id"])["template"][0]
    wait_for(lambda: cloud("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"], 60,
             "the broken template to download")
    vols_before = cloud.pool_volumes()
    doms_before = {d.UUIDString() for d in cloud.conn.listAllDomains(0)}
    started = cloud("deployVirtualMachine", zoneid=cloud.zone["id"], templateid=tmpl["id"],
                    serviceofferingid=cloud.offering["id"], keypair=cloud.keypair,
                    userdata=base64.b64encode(b"#!/bin/sh\necho hi\n").decode())
    cloud.vms.append(started["id"])
    job = cloud.api.wait(started["jobid"], timeout=120)
    assert job["jobstatus"] == 2, job
    text = job["jobresult"]["errortext"]
    assert "Unable to start VM instance" in text and "no-such-backing" in text, text
    assert cloud.domain(started["id"]) is None
    assert {d.UUIDString() for d in cloud.conn.listAllDomains(0)} <= doms_before
    # only the template's copy (a cache, reused by later deploys) may be new in the pool
    assert cloud.pool_volumes() - vols_before <= {tmpl["id"]}, cloud.pool_volumes() - vols_before
    assert cloud.vm(started["id"])["state"] == "Error"


def test_remote_host_unreachable_is_a_clear_error(cloud: Cloud) -> None:
    """qemu+ssh:// hosts connect through libvirt's ssh transport; one that does not answer is refused with the
    connection error, and no host row is left."""
    cluster = cloud("listClusters", zoneid=cloud.zone["id"])["cluster"][0]
    url = "qemu+ssh://root@127.0.0.1:1/system?no_tty=1&no_verify=1"
    status, err = cloud.api.error("addHost", zoneid=cloud.zone["id"], podid=cluster["podid"],
                                  clusterid=cluster["id"], hypervisor="KVM", url=url, username="root",
                                  password="x")
    assert status == 530, err
    print(f"addHost {url}: {err['errortext']}")
    assert "cannot connect to qemu+ssh://root@127.0.0.1:1/system" in err["errortext"], err
    hosts = cloud("listHosts", zoneid=cloud.zone["id"]).get("host", [])
    assert all(h.get("name") and "127.0.0.1:1" not in str(h) for h in hosts)


def test_nfs_primary_storage_is_a_libvirt_netfs_pool(cloud: Cloud) -> None:
    """An nfs:// primary pool on a KVM cluster is a libvirt netfs pool that libvirt mounts at /mnt/<pool uuid>
    (CloudStack's KVM layout). This kernel has no NFS client, so the mount fails: createStoragePool says so, and
    neither a pool row nor a libvirt pool nor a mount point is left. (The appliance, whose kernel mounts NFS,
    runs its guests on such a pool: tests/infra.)"""
    from management.storage import nfs

    if nfs.client_available():
        capability_gate("this kernel mounts NFS; the appliance's testinfra checks cover the mounted pool")
    cluster = cloud("listClusters", zoneid=cloud.zone["id"])["cluster"][0]
    pools_before = set(cloud.conn.listStoragePools()) | set(cloud.conn.listDefinedStoragePools())
    mnt_before = set(os.listdir("/mnt"))
    status, err = cloud.api.error("createStoragePool", zoneid=cloud.zone["id"], podid=cluster["podid"],
                                  clusterid=cluster["id"], name="nfs-primary", url="nfs://127.0.0.1/export/primary")
    assert status == 530, err
    print(f"createStoragePool nfs://: {err['errortext']}")
    assert "Failed to add data store nfs-primary" in err["errortext"], err
    assert "mounting NFS export 127.0.0.1:/export/primary" in err["errortext"], err
    assert "nfs-primary" not in {p["name"] for p in cloud("listStoragePools", zoneid=cloud.zone["id"])["storagepool"]}
    assert set(cloud.conn.listStoragePools()) | set(cloud.conn.listDefinedStoragePools()) == pools_before
    assert set(os.listdir("/mnt")) == mnt_before


def test_nfs_secondary_storage_refused_without_an_nfs_client(cloud: Cloud) -> None:
    """The management server mounts an nfs:// image store of a real zone; without an NFS client in the kernel the
    store is refused with that reason rather than recorded unmounted."""
    from management.storage import nfs

    if nfs.client_available():
        capability_gate("this kernel mounts NFS")
    status, err = cloud.api.error("addImageStore", zoneid=cloud.zone["id"], name="nfs-secondary", provider="NFS",
                                  url="nfs://127.0.0.1/export/secondary")
    assert status == 431, err
    assert "no NFS client in its kernel" in err["errortext"], err
    assert "nfs-secondary" not in {s["name"] for s in cloud("listImageStores").get("imagestore", [])}


@pytest.mark.parametrize(("doc", "expected"), [
    (None, "qemu"),  # no probe result: never assume /dev/kvm works
    ({"virt_type": "kvm"}, "kvm"),
    ({"virt_type": "qemu", "detail": "kvm guest showed no marker"}, "qemu"),
    ({"virt_type": "kvm", "kernel": "0.0.0-other"}, "qemu"),  # probed on another kernel: stale
    ("not json", "qemu"),
])
def test_virt_type_comes_from_the_probe(tmp_path: Path, doc: Any, expected: str) -> None:
    import json

    from management.services.infra import kvm

    path = tmp_path / "virt-type.json"
    if isinstance(doc, dict):
        path.write_text(json.dumps({"kernel": os.uname().release, **doc}))
    elif doc is not None:
        path.write_text(doc)
    assert kvm.probed_virt_type(str(path))[0] == expected
