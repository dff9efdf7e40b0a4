"""deployVirtualMachine -> login prompt on the serial console, on this machine as a KVM host (libvirt qemu:///system,
TCG unless the KVM probe proved KVM guests boot), through the CloudStack API of an in-process server.

Each run is split into:
  request        API call -> its answer (the job id): what a client waits for before it polls
  planning       API call -> the driver's spawn starts (request, job queue, placement, volume/NIC records,
                 pool + template checks on the host)
  disk clone     qcow2 linked clone of the template copy on the primary pool (libvirt volume create)
  config drive   the ConfigDrive ISO (hostname, key, user data) built and uploaded to the pool
  domain create  defineXML + create (QEMU started)
  guest boot     domain running -> "<hostname> login:" on the serial console
  job done       spawn returned -> the job's result visible through queryAsyncJobResult
Plus the libvirt domain-create latency alone (createXML of a transient tiny domain, no devcloud code).

Usage: .venv/bin/python bench/deploy_latency.py [--runs 5] [--out bench/results/deploy.json]   (root, libvirtd up)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

URI = "qemu:///system"
LOGIN = re.compile(r"\S+ login:")
PHASES = ["request", "planning", "disk_clone", "config_drive", "domain_create", "guest_boot", "job_done",
          "total_to_login"]


class InProcClient:
    """appliance.client.CloudClient's interface over the in-process dispatcher (as the SYSTEM admin)."""

    def __init__(self, dispatcher: Any) -> None:
        from appliance.client import CloudClient

        self.d = dispatcher
        self._cc = CloudClient.__new__(CloudClient)
        self._cc.call = self.call  # type: ignore[method-assign]
        self._cc.poll_interval, self._cc.job_timeout = 0.02, 300.0

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        from appliance.client import ApiError

        pairs = [("command", command), ("response", "json")]
        for k, v in params.items():
            if v is not None:
                pairs.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
        r = self.d.handle(pairs, integration=True)
        body = next(iter(json.loads(r.body).values()))
        if r.status != 200:
            raise ApiError(command, r.status, body.get("errortext", str(body)))
        return body  # type: ignore[no-any-return]

    def run(self, command: str, **params: Any) -> dict[str, Any]:
        from appliance.client import CloudClient

        return CloudClient.run(self._cc, command, **params)

    def items(self, command: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return list(self.call(command, listall=True, **params).get(key, [])) if "list" in command else []

    def one(self, command: str, key: str, **params: Any) -> dict[str, Any] | None:
        found = self.items(command, key, **params)
        return found[0] if found else None


class Timings:
    """Class-level wrappers around LibvirtDriver methods; deploys run one at a time, so one record suffices."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rec: dict[str, float] = {}

    def install(self) -> None:
        from management.drivers.libvirt.driver import LibvirtDriver

        def wrap(name: str, key: str, only_in_spawn: bool = False) -> None:
            orig = getattr(LibvirtDriver, name)

            def timed(drv: Any, *a: Any, **kw: Any) -> Any:
                t0 = time.monotonic()
                try:
                    return orig(drv, *a, **kw)
                finally:
                    dt = time.monotonic() - t0
                    with self.lock:
                        if not only_in_spawn or "spawn_start" in self.rec and "spawn_end" not in self.rec:
                            self.rec[key] = self.rec.get(key, 0.0) + dt

            setattr(LibvirtDriver, name, timed)

        orig_spawn = LibvirtDriver.spawn

        def spawn(drv: Any, spec: Any) -> Any:
            with self.lock:
                self.rec["spawn_start"] = time.monotonic()
            try:
                return orig_spawn(drv, spec)
            finally:
                with self.lock:
                    self.rec["spawn_end"] = time.monotonic()

        LibvirtDriver.spawn = spawn  # type: ignore[method-assign]
        wrap("create_volume", "disk_clone", only_in_spawn=True)
        wrap("_prepare_config_drive", "config_drive", only_in_spawn=True)
        wrap("prepare_template", "template_prepare")

    def reset(self) -> None:
        with self.lock:
            self.rec = {}


def zone_spec(tag: str, pool_dir: Path, store_dir: Path) -> Any:
    from appliance import zonespec

    return zonespec.parse({
        "name": f"bench-{tag}",
        "global_settings": {"expunge.delay": "0", "instance.name": f"B{tag}"},
        "zones": [{
            "name": f"bench-{tag}", "network_type": "Advanced", "dns1": "198.19.255.53",
            "internal_dns1": "198.19.255.53",
            "guest_cidr": "10.252.1.0/24",
            "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": "620-639",
                                   "traffic_types": ["Guest", "Management", "Public"],
                                   "providers": ["VirtualRouter"]}],
            "public_ranges": [{"vlan": "untagged", "gateway": "198.51.101.1", "netmask": "255.255.255.0",
                               "start": "198.51.101.10", "end": "198.51.101.60"}],
            "pods": [{"name": f"pod-{tag}", "gateway": "198.18.251.1", "netmask": "255.255.255.0",
                      "start": "198.18.251.10", "end": "198.18.251.50",
                      "clusters": [{"name": f"kvm-{tag}", "hypervisor": "KVM", "hosts": [{"url": URI}],
                                    "primary_storage": [{"name": f"ps-{tag}", "url": f"file://{pool_dir}"}]}]}],
            "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS", "url": f"file://{store_dir}"}],
        }],
        "service_offerings": [{"name": f"tiny-{tag}", "cpu": 1, "speed": 500, "memory": 192}],
    }, source="bench")


def wait_login(path: Path, timeout: float = 180.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            if LOGIN.search(path.read_text(errors="replace")):
                return time.monotonic()
        time.sleep(0.02)
    raise RuntimeError(f"no login prompt in {path} after {timeout:.0f}s:\n{path.read_text(errors='replace')[-2000:]}")


def one_deploy(c: InProcClient, timings: Timings, console: Path, params: dict[str, Any]) -> dict[str, Any]:
    timings.reset()
    t0 = time.monotonic()
    started = c.call("deployVirtualMachine", **params)
    t_answer = time.monotonic()
    while True:
        job = c.call("queryAsyncJobResult", jobid=started["jobid"])
        if job["jobstatus"] != 0:
            break
        time.sleep(0.01)
    t_job = time.monotonic()
    if job["jobstatus"] != 1:
        raise RuntimeError(f"deploy failed: {job.get('jobresult')}")
    vm = job["jobresult"]["virtualmachine"]
    log_path = console / f"{vm['instancename']}.log"
    t_login = wait_login(log_path)
    text = log_path.read_text(errors="replace")
    r = dict(timings.rec)
    spawn = r["spawn_end"] - r["spawn_start"]
    out: dict[str, Any] = {
        "request": t_answer - t0,
        "planning": r["spawn_start"] - t0,
        "disk_clone": r.get("disk_clone", 0.0),
        "config_drive": r.get("config_drive", 0.0),
        "domain_create": spawn - r.get("disk_clone", 0.0) - r.get("config_drive", 0.0),
        "guest_boot": t_login - r["spawn_end"],
        "job_done": t_job - r["spawn_end"],
        "total_to_login": t_login - t0,
        "template_prepare": r.get("template_prepare", 0.0),
    }
    # inside the guest (kernel uptime printed by the tiny image's init): initramfs reached, init done
    for key, rx in (("guest_uptime_initramfs", r"DEVCLOUD-INITRAMFS uptime=([\d.]+)"),
                    ("guest_uptime_ready", r"DEVCLOUD-GUEST-READY .*uptime=([\d.]+)")):
        m = re.search(rx, text)
        if m:
            out[key] = float(m.group(1))
    ready = re.search(r"DEVCLOUD-GUEST-READY .*", text)
    out["guest_ready_line"] = ready.group(0).strip() if ready else ""  # type: ignore[assignment]
    c.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    return out


def domain_create_alone(image: Path, workdir: Path, runs: int, virt_type: str) -> list[float]:
    import libvirt

    conn = libvirt.open(URI)
    out = []
    try:
        for i in range(runs):
            disk = workdir / f"alone-{i}.qcow2"
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image), str(disk)],
                           check=True)
            name = f"devcloud-bench-{uuid.uuid4().hex[:8]}"
            xml = f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>192</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
  <target dev='vda' bus='virtio'/></disk>
  <serial type='file'><source path='{workdir}/alone-{i}.log'/><target port='0'/></serial></devices></domain>"""
            t0 = time.monotonic()
            dom = conn.createXML(xml, 0)
            out.append(time.monotonic() - t0)
            dom.destroy()
            disk.unlink()
    finally:
        conn.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "deploy.json"))
    args = ap.parse_args()

    from appliance.image import build_tiny_image

    image = build_tiny_image()
    base = Path("/var/lib/devcloud")
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-deploy.", dir=base))
    workdir.chmod(0o755)
    pool_dir, store_dir, console, state = (workdir / "primary", workdir / "secondary", workdir / "console",
                                           workdir / "state")
    for d in (pool_dir, store_dir, console, state):
        d.mkdir()
    os.environ["DEVCLOUD_CONSOLE_LOG_DIR"] = str(console)
    tiny = workdir / "tiny.qcow2"
    shutil.copyfile(image, tiny)

    from appliance.deploy import Deployer
    from management.server import build
    from management.services.infra import kvm
    from management.settings import Settings

    virt_type, why = kvm.virt_type_for(URI)
    timings = Timings()
    timings.install()
    srv = build(Settings(state_dir=state, api_port=0, integration_port=0, job_workers=2, job_poll_interval=0.02),
                start_workers=True)
    tag = uuid.uuid4().hex[:6]
    c = InProcClient(srv.dispatcher)
    pool_name = None
    bridges_before = set(os.listdir("/sys/class/net"))
    try:
        Deployer(c).deploy(zone_spec(tag, pool_dir, store_dir))  # type: ignore[arg-type]
        zone = c.one("listZones", "zone", name=f"bench-{tag}")
        assert zone is not None
        pool_name = c.items("listStoragePools", "storagepool", zoneid=zone["id"])[0]["id"]
        tmpl = c.call("registerTemplate", name=f"tiny-{tag}", displaytext="tiny", url=f"file://{tiny}",
                      format="QCOW2", hypervisor="KVM", zoneid=zone["id"], ispublic=True)["template"][0]
        deadline = time.monotonic() + 120
        while not c.call("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0].get("isready"):
            if time.monotonic() > deadline:
                raise RuntimeError("template not ready")
            time.sleep(0.1)
        so = c.one("listServiceOfferings", "serviceoffering", name=f"tiny-{tag}")
        assert so is not None
        key = workdir / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        c.call("registerSSHKeyPair", name=f"kp-{tag}", publickey=key.with_suffix(".pub").read_text().strip())
        params = {"zoneid": zone["id"], "templateid": tmpl["id"], "serviceofferingid": so["id"],
                  "keypair": f"kp-{tag}", "userdata": base64.b64encode(b"#!/bin/sh\necho bench\n").decode()}
        print(f"virt type {virt_type} ({why}); warm-up deploy (copies the template to primary storage)...",
              flush=True)
        warm = one_deploy(c, timings, console, params)
        runs = []
        for i in range(args.runs):
            r = one_deploy(c, timings, console, params)
            runs.append(r)
            print(f"  run {i + 1}: " + " ".join(f"{k}={r[k]:.2f}" for k in PHASES), flush=True)
        alone = domain_create_alone(image, workdir, args.runs, virt_type if virt_type in ("kvm", "qemu") else "qemu")
    finally:
        with contextlib.suppress(Exception):
            for net in c.items("listNetworks", "network"):
                with contextlib.suppress(Exception):
                    c.run("deleteNetwork", id=net["id"])
        srv.queue.stop()
        with contextlib.suppress(Exception):
            import libvirt

            conn = libvirt.open(URI)
            for dom in conn.listAllDomains(0):
                if str(workdir) in dom.XMLDesc(0):
                    with contextlib.suppress(libvirt.libvirtError):
                        if dom.isActive():
                            dom.destroy()
                        dom.undefine()
            if pool_name:
                with contextlib.suppress(libvirt.libvirtError):
                    p = conn.storagePoolLookupByName(pool_name)
                    for v in p.listAllVolumes():
                        v.delete(0)
                    p.destroy()
                    p.undefine()
            conn.close()
        from tests.integration.test_kvm_api import cleanup_host_networking

        cleanup_host_networking(state, bridges_before, "198.51.101.1/24")
        shutil.rmtree(workdir, ignore_errors=True)

    med = {k: statistics.median(r[k] for r in runs) for k in PHASES}
    alone_med = statistics.median(alone)
    print()
    print(f"deployVirtualMachine -> login prompt, median of {len(runs)} runs (virt type {virt_type})")
    print(f"{'phase':<16}{'median s':>10}{'min s':>9}{'max s':>9}")
    for k in PHASES:
        vals = [r[k] for r in runs]
        print(f"{k:<16}{med[k]:>10.2f}{min(vals):>9.2f}{max(vals):>9.2f}")
    for k in ("guest_uptime_initramfs", "guest_uptime_ready"):
        vals = [r[k] for r in runs if k in r]
        if vals:
            print(f"{k:<24}median {statistics.median(vals):.2f}s (kernel uptime in the guest)")
    print(f"{'libvirt createXML alone':<24} median {alone_med:.3f}s (min {min(alone):.3f}, max {max(alone):.3f})")
    print(f"warm-up deploy (template copy {warm['template_prepare']:.2f}s): {warm['total_to_login']:.2f}s to login; "
          f"its request (the first VM of its network, which the job implements) answered in {warm['request']:.3f}s")
    doc = {
        "benchmark": "deploy_latency",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
        "virt_type": virt_type, "virt_type_reason": why,
        "runs": runs, "median": med, "warmup": warm,
        "libvirt_create_alone": {"runs": alone, "median": alone_med},
        "note": "planning includes the API request, the job queue, placement and the pool/template checks; "
                "job_done overlaps guest_boot (the job returns once the domain runs)",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
