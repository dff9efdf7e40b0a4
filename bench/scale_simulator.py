"""Scale on the simulator: one zone, N simulator hosts, M VMs deployed through the signed API, on SQLite and MariaDB.

A `devcloud-management serve` subprocess (fresh state directory, ephemeral loopback ports) gets a Basic zone with
`--hosts` simulator hosts (added one by one with addHost through the signed API, as Marvin does), then `--vms`
deployVirtualMachine calls with `--concurrency` in flight (each async job polled with queryAsyncJobResult).
Reported: deploy throughput, total time, listVirtualMachines (pagesize 500) p50/p95 at the final count, server
RSS (VmRSS/VmHWM from /proc/<pid>/status). MariaDB runs on a fresh database created next to
DEVCLOUD_TEST_MYSQL_URL (`source .ci/mariadb.sh`), dropped afterwards.

    .venv/bin/python bench/scale_simulator.py                 # 1000 hosts, 10000 VMs, 32 in flight, both backends
    .venv/bin/python bench/scale_simulator.py --quick         # 50 hosts, 500 VMs: a smoke run
    .venv/bin/python bench/scale_simulator.py --backends sqlite --hosts 200 --vms 2000

Writes bench/results/scale_simulator.json (one entry per backend, plus the machine description).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from appliance import zonespec  # noqa: E402
from appliance.client import CloudClient  # noqa: E402
from appliance.deploy import Deployer  # noqa: E402
from management.api.cloudstack.signing import sign  # noqa: E402
from tests.conftest import MYSQL_ENV, fresh_mysql_database, start_served  # noqa: E402

HOSTS_PER_CLUSTER = 100
# Each simulated host: 8 cores x 2000 MHz, 16 GiB -> 32 Small Instances (500 MHz, 512 MiB); first fit fills a
# cluster of 100 up to its 85 % disable threshold (~2,700 VMs) before the next one.
HOST_QUERY = "cpu=8&mhz=2000&mem=16G"
# A simulated NFS pool is 1 TiB (x2 overprovisioning x 0.85 threshold: ~870 root disks of 2 GiB). Placement picks
# the host first and a pool of the host's cluster after, so a cluster needs room for all the VMs it will get.
POOLS_PER_CLUSTER = 4


def machine() -> dict[str, Any]:
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    distro = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip('"')
    return {"platform": platform.platform(), "distro": distro, "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "mem_gib": round(mem_kib / 1024 / 1024, 1), "loadavg_start": list(os.getloadavg())}


def proc_cpu(pid: int) -> float:
    """utime + stime of the process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(rest.split()[0]) / 1024, 1)
    return out


def zone_spec(hosts: int, tag: str, security_groups: bool = False, host_query: str = HOST_QUERY) -> zonespec.CloudSpec:
    clusters = []
    for c in range((hosts + HOSTS_PER_CLUSTER - 1) // HOSTS_PER_CLUSTER):
        n = min(HOSTS_PER_CLUSTER, hosts - c * HOSTS_PER_CLUSTER)
        clusters.append({
            "name": f"C{c}-{tag}", "hypervisor": "Simulator",
            "hosts": [{"url": f"http://sim/{tag}/c{c}/h{i}?{host_query}", "username": "root", "password": "password"}
                      for i in range(n)],
            "primary_storage": [{"name": f"PS{c}.{k}-{tag}", "url": f"nfs://10.147.28.6:/export/primary-{tag}-{c}-{k}"}
                                for k in range(POOLS_PER_CLUSTER)],
        })
    zone: dict[str, Any] = {
        "name": f"Sandbox-simulator-scale-{tag}", "dns1": "10.147.28.6", "internal_dns1": "10.147.28.6",
        "pods": [{"name": f"POD0-{tag}", "gateway": "172.16.0.1", "netmask": "255.255.0.0",
                  "start": "172.16.0.2", "end": "172.16.255.200", "clusters": clusters}],
        "secondary_storage": [{"name": f"SS0-{tag}", "provider": "NFS",
                               "url": f"nfs://10.147.28.6:/export/secondary-{tag}"}],
    }
    if security_groups:
        # Basic zone: one shared guest network (a /17: room for 32k NICs), security groups on.
        zone.update({
            "network_type": "Basic", "security_groups": True, "guest_cidr": None,
            "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["L3"],
                                   "traffic_types": ["Guest", "Management"],
                                   "providers": ["VirtualRouter", "SecurityGroupProvider"]}],
            "guest_ranges": [{"gateway": "10.128.0.1", "netmask": "255.255.128.0", "start": "10.128.0.10",
                              "end": "10.128.127.250"}]})
    else:
        # Advanced zone: the admin's default isolated network (created on the first deploy) gets the zone's
        # guest CIDR, a /16, so 10k VMs fit in it.
        zone.update({
            "network_type": "Advanced", "guest_cidr": "10.0.0.0/16",
            "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": "100-200",
                                   "traffic_types": ["Guest", "Management", "Public"],
                                   "providers": ["VirtualRouter"]}],
            "public_ranges": [{"vlan": "50", "gateway": "192.168.2.1", "netmask": "255.255.255.0",
                               "start": "192.168.2.2", "end": "192.168.2.200"}]})
    return zonespec.parse({
        "name": f"scale-{tag}",
        "zones": [zone],
    }, "<bench>")


def ready_template(client: CloudClient, zone_id: str, timeout: float = 60) -> dict[str, Any]:
    """The builtin simulator template once it is ready in the zone (the image store seeds it by a job)."""
    deadline = time.monotonic() + timeout
    while True:
        for t in client.items("listTemplates", "template", templatefilter="all", zoneid=zone_id):
            if t.get("isready"):
                return t
        if time.monotonic() > deadline:
            raise RuntimeError("no ready template in the zone")
        time.sleep(0.1)


class Signed:
    """A thread's signed client (own connection)."""

    def __init__(self, endpoint: str, apikey: str, secret: str) -> None:
        self.endpoint, self.apikey, self.secret = endpoint, apikey, secret
        self.http = httpx.Client(timeout=60)

    def get(self, command: str, **params: Any) -> httpx.Response:
        q = {"command": command, "response": "json", "apiKey": self.apikey, **{k: str(v) for k, v in params.items()}}
        q["signature"] = sign(q, self.secret)
        return self.http.get(self.endpoint, params=q)

    def call(self, command: str, **params: Any) -> tuple[int, dict[str, Any]]:
        r = self.get(command, **params)
        return r.status_code, next(iter(r.json().values()))

    def close(self) -> None:
        self.http.close()


def deploy_vms(endpoint: str | list[str], keys: dict[str, str], z: dict[str, str], total: int, concurrency: int,
               poll: float, progress_every: int) -> dict[str, Any]:
    """`concurrency` threads, each: submit deployVirtualMachine, poll its job to the end, next. Several endpoints
    (servers of a farm): thread i calls endpoint i mod n."""
    endpoints = [endpoint] if isinstance(endpoint, str) else endpoint
    lock = threading.Lock()
    next_i = [0]
    done = [0]
    failures: list[str] = []
    latencies: list[float] = []
    polls = [0]
    t0 = time.monotonic()

    def worker(n: int) -> None:
        c = Signed(endpoints[n % len(endpoints)], keys["apikey"], keys["secretkey"])
        try:
            while True:
                with lock:
                    i = next_i[0]
                    if i >= total or len(failures) > 20:
                        return
                    next_i[0] += 1
                start = time.monotonic()
                status, body = c.call("deployVirtualMachine", zoneid=z["zone"], serviceofferingid=z["offering"],
                                      templateid=z["template"], name=f"vm-{i}")
                err = None
                if status != 200:
                    err = f"deploy {i}: HTTP {status} {body.get('errortext')}"
                else:
                    jobid = body["jobid"]
                    deadline = time.monotonic() + 300
                    while True:
                        time.sleep(poll)
                        status, job = c.call("queryAsyncJobResult", jobid=jobid)
                        polls[0] += 1
                        if status == 200 and job.get("jobstatus") == 1:
                            break
                        if status != 200 or job.get("jobstatus") != 0:
                            err = f"deploy {i}: job {job}"
                            break
                        if time.monotonic() > deadline:
                            err = f"deploy {i}: job {jobid} still pending after 300 s"
                            break
                with lock:
                    if err:
                        failures.append(err)
                    else:
                        latencies.append(time.monotonic() - start)
                    done[0] += 1
                    if done[0] % progress_every == 0:
                        el = time.monotonic() - t0
                        print(f"  {done[0]:>6} VMs  {el:7.1f} s  {done[0] / el:6.1f} VMs/s", flush=True)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    ok = len(latencies)
    latencies.sort()
    return {"deployed": ok, "failed": len(failures), "failures_sample": failures[:5],
            "deploy_total_s": round(elapsed, 1), "deploy_vms_per_s": round(ok / elapsed, 1) if elapsed else 0.0,
            "polls_per_vm": round(polls[0] / max(ok, 1), 1),
            "deploy_latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "deploy_latency_p95_s": round(latencies[int(0.95 * (ok - 1))], 3) if latencies else None}


def measure_list(endpoint: str, keys: dict[str, str], samples: int) -> dict[str, Any]:
    c = Signed(endpoint, keys["apikey"], keys["secretkey"])
    try:
        status, body = c.call("listVirtualMachines", listall="true", page=1, pagesize=500)
        assert status == 200, body
        count = int(body.get("count", 0))
        pages = max(1, (count + 499) // 500)
        times, parsed = [], []
        for i in range(samples):
            page = 1 + i % pages
            t0 = time.perf_counter()
            r = c.get("listVirtualMachines", listall="true", page=page, pagesize=500)  # the whole body is in
            t1 = time.perf_counter()
            body = next(iter(r.json().values()))
            times.append(t1 - t0)  # the request's round trip: what the server and the wire cost
            parsed.append(time.perf_counter() - t0)  # plus this client's JSON parse of the ~0.8 MB page
            assert r.status_code == 200 and len(body.get("virtualmachine", [])) <= 500, body
        times.sort()
        parsed.sort()
        return {"list_vms_count": count, "list_samples": samples,
                "list_p50_ms": round(1000 * statistics.median(times), 1),
                "list_p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
                "list_parsed_p50_ms": round(1000 * statistics.median(parsed), 1)}
    finally:
        c.close()


@contextlib.contextmanager
def database(backend: str, state: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{state / 'devcloud.db'}"
        return
    base = os.environ.get(MYSQL_ENV)
    if not base:
        raise SystemExit(f"mariadb backend: {MYSQL_ENV} is not set (source .ci/mariadb.sh)")
    with fresh_mysql_database(base) as url:
        yield url


def server_errors(log_path: Path, most: int = 12) -> list[str]:
    """The distinct exception lines of the server's log (a traceback's last line), most frequent first."""
    seen: Counter[str] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        m = re.match(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception|Locked)\b.*)$", line)
        if m:
            seen[m.group(1)[:300]] += 1
    return [f"{n}x {text}" for text, n in seen.most_common(most)]


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"== {backend}: {args.hosts} hosts, {args.vms} VMs, {args.concurrency} in flight", flush=True)
    with tempfile.TemporaryDirectory(prefix="devcloud-scale-") as tmp:
        state = Path(tmp) / "state"
        with database(backend, state) as url:
            env = {"DEVCLOUD_JOB_WORKERS": str(args.workers), "DEVCLOUD_JOB_POLL_INTERVAL": str(args.job_poll)}
            t0 = time.monotonic()
            served = start_served(state, url, extra_env=env)
            cold = time.monotonic() - t0
            try:
                keys = served.keys
                pid = served.proc.pid
                tag = f"b{os.getpid()}{backend[0]}"
                client = CloudClient(served.endpoint, keys["apikey"], keys["secretkey"], poll_interval=0.05,
                                     job_timeout=120)
                t0 = time.monotonic()
                Deployer(client).deploy(zone_spec(args.hosts, tag, args.security_groups))
                zone_s = time.monotonic() - t0
                zone = client.one("listZones", "zone", name=f"Sandbox-simulator-scale-{tag}")
                assert zone is not None
                offering = client.one("listServiceOfferings", "serviceoffering", name="Small Instance")
                tmpl = ready_template(client, zone["id"])
                client.close()
                print(f"  zone with {args.hosts} hosts in {zone_s:.1f} s; deploying", flush=True)
                z = {"zone": zone["id"], "offering": offering["id"], "template": tmpl["id"]}
                # One deploy alone first: it creates the account's default isolated network. (Concurrent first
                # deploys race to create it on MariaDB: "More than 1 default Isolated networks are found".)
                warm = CloudClient(served.endpoint, keys["apikey"], keys["secretkey"], poll_interval=0.05,
                                   job_timeout=120)
                warm.run("deployVirtualMachine", zoneid=z["zone"], serviceofferingid=z["offering"],
                         templateid=z["template"], name="vm-warmup")
                warm.close()
                mem_before = proc_mem(pid)
                cpu0 = proc_cpu(pid)
                dep = deploy_vms(served.endpoint, keys, z, args.vms, args.concurrency, args.poll,
                                 max(100, args.vms // 20))
                dep["server_cpu_ms_per_vm"] = round(1000 * (proc_cpu(pid) - cpu0) / max(dep["deployed"], 1), 1)
                lst = measure_list(served.endpoint, keys, args.list_samples)
                mem = proc_mem(pid)
                if dep["failed"]:  # the state directory goes with the run: keep why the server failed them
                    dep["server_errors"] = server_errors(served.log_path)
                if args.server_log:
                    shutil.copyfile(served.log_path, f"{args.server_log}.{backend}")
            finally:
                served.kill(15)
    return {"backend": backend, "hosts": args.hosts, "vms": args.vms, "concurrency": args.concurrency,
            "security_groups": args.security_groups, "job_workers": args.workers,
            "job_poll_interval_s": args.job_poll, "client_poll_s": args.poll,
            "cold_start_s": round(cold, 2), "zone_setup_s": round(zone_s, 1), **dep, **lst,
            "rss_after_zone_mb": mem_before.get("VmRSS"), "rss_mb": mem.get("VmRSS"), "hwm_mb": mem.get("VmHWM"),
            "loadavg_end": list(os.getloadavg())}


COLUMNS = [("backend", "backend", 9), ("hosts", "hosts", 6), ("vms", "VMs", 7), ("deployed", "ok", 7),
           ("deploy_total_s", "total s", 9), ("deploy_vms_per_s", "VMs/s", 8),
           ("deploy_latency_p50_s", "dep p50 s", 10),
           ("server_cpu_ms_per_vm", "CPU ms/VM", 10), ("list_p50_ms", "list p50ms", 11),
           ("list_p95_ms", "list p95ms", 11), ("list_parsed_p50_ms", "+parse p50", 11), ("rss_mb", "RSS MB", 8),
           ("hwm_mb", "HWM MB", 8)]


def table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"{h:>{w}}" for _, h, w in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append("".join(f"{str(r.get(k)):>{w}}" for k, _, w in COLUMNS))
    return "\n".join(lines)


def write_result(path: str | Path, result: dict[str, Any]) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=32, help="deployVirtualMachine calls in flight")
    ap.add_argument("--backends", default="sqlite,mariadb", help="comma list: sqlite,mariadb")
    ap.add_argument("--workers", type=int, default=8, help="server job workers (DEVCLOUD_JOB_WORKERS)")
    ap.add_argument("--job-poll", type=float, default=0.02,
                    help="server job poll interval (DEVCLOUD_JOB_POLL_INTERVAL)")
    ap.add_argument("--poll", type=float, default=0.2,
                    help="client queryAsyncJobResult interval, s (every poll costs the server a signed request)")
    ap.add_argument("--list-samples", type=int, default=40)
    ap.add_argument("--security-groups", action="store_true",
                    help="a Basic zone with security groups instead of an Advanced zone")
    ap.add_argument("--server-log", metavar="PATH", help="keep the server's log as PATH.<backend>")
    ap.add_argument("--quick", action="store_true", help="smoke run: 50 hosts, 500 VMs")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale_simulator.json"))
    args = ap.parse_args()
    if args.quick:
        args.hosts, args.vms, args.list_samples = min(args.hosts, 50), min(args.vms, 500), min(args.list_samples, 10)
    mach = machine()  # load average at the start of the run
    rows = [run_backend(b.strip(), args) for b in args.backends.split(",") if b.strip()]
    print(table(rows))
    result = {"machine": mach, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "quick": args.quick,
              "aims": {"deploy_total_s": 120, "list_p50_ms": 50, "rss_mb": 300}, "runs": rows}
    write_result(args.out, result)


if __name__ == "__main__":
    main()
