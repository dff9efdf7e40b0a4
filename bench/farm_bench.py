"""A farm on the simulator: job throughput with 1, 2 and 3 management server processes on one MariaDB, and the time
from kill -9 of one server to the last of its orphaned jobs resolved by the survivors.

Throughput: for each server count, a fresh `devcloud_t_*` database next to DEVCLOUD_TEST_MYSQL_URL (`source
.ci/mariadb.sh`), that many `devcloud-management serve` processes on it (one state directory, so one database
key; one simulator store, so the simulated hosts are shared as a real hypervisor is), an Advanced zone of
`--hosts` simulator hosts, then `--vms` deployVirtualMachine calls through the signed API with `--concurrency` in
flight, spread over the servers (client thread i calls server i mod n; any server's workers may run any job).
Reported: deploys/s, deploy p50, server CPU per VM (all servers' user+sys), and how many deploy jobs each server
ran.

Takeover: two servers, `cluster.heartbeat.threshold` set to `--threshold-ms`, hosts whose spawn takes
`--spawn-s` seconds; `--kill-jobs` deploys are submitted to both; once server a runs deploys it is killed with
SIGKILL. Reported: how many jobs it held, the time until listManagementServers shows it Down, and until the last
of its jobs ended (and how they ended; every one should have succeeded, run by the survivor).

    .venv/bin/python bench/farm_bench.py                      # 1, 2, 3 servers; 20 hosts, 120 VMs each; takeover
    .venv/bin/python bench/farm_bench.py --servers 1,2 --vms 60 --no-takeover

Writes bench/results/farm_bench.json (the machine description, one entry per server count, the takeover run).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from appliance.client import CloudClient  # noqa: E402
from appliance.deploy import Deployer  # noqa: E402
from bench.scale_simulator import (  # noqa: E402
    HOST_QUERY,
    database,
    deploy_vms,
    machine,
    proc_cpu,
    ready_template,
    write_result,
    zone_spec,
)
from tests.conftest import Served, start_served  # noqa: E402


def start_farm(n: int, state: Path, url: str, store: Path, workers: int) -> list[Served]:
    store.mkdir(parents=True, exist_ok=True)
    servers = []
    try:
        for i in range(n):
            servers.append(start_served(state, url, extra_env={
                "DEVCLOUD_SERVER_ID": f"ms-bench-{chr(ord('a') + i)}", "DEVCLOUD_SIMULATOR_STORE": str(store),
                "DEVCLOUD_JOB_WORKERS": str(workers), "DEVCLOUD_JOB_POLL_INTERVAL": "0.02"}))
    except BaseException:
        stop_farm(servers)
        raise
    return servers


def stop_farm(servers: list[Served]) -> None:
    for s in servers:
        s.kill(signal.SIGTERM)


def prepare_zone(s: Served, hosts: int, tag: str, host_query: str = HOST_QUERY) -> tuple[CloudClient, dict[str, str]]:
    """The zone, and one deploy alone (it makes the account's default network; concurrent first deploys race)."""
    client = CloudClient(s.endpoint, s.apikey, s.secretkey, poll_interval=0.05, job_timeout=180)
    Deployer(client).deploy(zone_spec(hosts, tag, host_query=host_query))
    zone = client.one("listZones", "zone", name=f"Sandbox-simulator-scale-{tag}")
    offering = client.one("listServiceOfferings", "serviceoffering", name="Small Instance")
    assert zone and offering
    z = {"zone": zone["id"], "offering": offering["id"], "template": ready_template(client, zone["id"])["id"]}
    client.run("deployVirtualMachine", zoneid=z["zone"], serviceofferingid=z["offering"], templateid=z["template"],
               name="vm-warmup")
    return client, z


def jobs_by_server(client: CloudClient, command: str) -> dict[str, int]:
    out: dict[str, int] = {}
    page = 1
    while True:
        jobs = client.call("listAsyncJobs", listall=True, page=page, pagesize=500).get("asyncjobs", [])
        for j in jobs:
            if command in j.get("cmd", ""):
                ms = j.get("managementserverid") or "?"
                out[ms] = out.get(ms, 0) + 1
        if len(jobs) < 500:
            return out
        page += 1


def throughput(n: int, args: argparse.Namespace) -> dict[str, Any]:
    print(f"== {n} server(s): {args.hosts} hosts, {args.vms} deploys, {args.concurrency} in flight", flush=True)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="devcloud-farm-") as tmp, database("mariadb", Path(tmp)) as url:
        servers = start_farm(n, Path(tmp) / "state", url, Path(tmp) / "simulator", args.workers)
        try:
            client, z = prepare_zone(servers[0], args.hosts, f"f{os.getpid()}n{n}")
            cpu0 = sum(proc_cpu(s.proc.pid) for s in servers)
            dep = deploy_vms([s.endpoint for s in servers], servers[0].keys, z, args.vms, args.concurrency,
                             args.poll, max(20, args.vms // 4))
            cpu = sum(proc_cpu(s.proc.pid) for s in servers) - cpu0
            ran = jobs_by_server(client, "deployVirtualMachine")
            client.close()
        finally:
            stop_farm(servers)
    return {"servers": n, "hosts": args.hosts, "vms": args.vms, "concurrency": args.concurrency,
            "job_workers_per_server": args.workers, "deployed": dep["deployed"], "failed": dep["failed"],
            "failures_sample": dep["failures_sample"], "deploy_total_s": dep["deploy_total_s"],
            "deploys_per_s": dep["deploy_vms_per_s"], "deploy_p50_s": dep["deploy_latency_p50_s"],
            "server_cpu_ms_per_vm": round(1000 * cpu / max(dep["deployed"], 1), 1),
            "deploy_jobs_by_server": ran, "loadavg_start": round(load0, 1),
            "loadavg_end": round(os.getloadavg()[0], 1)}


def takeover(args: argparse.Namespace) -> dict[str, Any]:
    print(f"== takeover: 2 servers, {args.kill_jobs} deploys (spawn {args.spawn_s} s), threshold "
          f"{args.threshold_ms} ms", flush=True)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="devcloud-farm-") as tmp, database("mariadb", Path(tmp)) as url:
        servers = start_farm(2, Path(tmp) / "state", url, Path(tmp) / "simulator", args.workers)
        a, b = servers
        try:
            client, z = prepare_zone(a, 8, f"k{os.getpid()}", f"{HOST_QUERY}&slow=spawn:{args.spawn_s}")
            client.call("updateConfiguration", name="cluster.heartbeat.threshold", value=str(args.threshold_ms))
            client.close()
            ca = CloudClient(a.endpoint, a.apikey, a.secretkey)
            cb = CloudClient(b.endpoint, b.apikey, b.secretkey)
            jobs = []
            for i in range(args.kill_jobs):
                c = ca if i % 2 == 0 else cb
                jobs.append(c.call("deployVirtualMachine", zoneid=z["zone"], serviceofferingid=z["offering"],
                                   templateid=z["template"], name=f"kill-{i}")["jobid"])
            deadline = time.monotonic() + 120
            held: list[str] = []
            while not held:
                if time.monotonic() > deadline:
                    raise RuntimeError("server a never ran a deploy")
                held = [j for j in jobs if (r := cb.call("queryAsyncJobResult", jobid=j))["jobstatus"] == 0
                        and r.get("managementserverid") == "ms-bench-a"]
                if not held:
                    time.sleep(0.1)
            a.kill(signal.SIGKILL)
            t0 = time.monotonic()
            ca.close()
            down_s = None
            results: dict[str, dict[str, Any]] = {}
            while True:
                el = time.monotonic() - t0
                if down_s is None:
                    ms = {m["id"]: m["state"] for m in cb.call("listManagementServers").get("managementserver", [])}
                    if ms.get("ms-bench-a") == "Down":
                        down_s = el
                pending = [j for j in held if j not in results]
                for j in pending:
                    r = cb.call("queryAsyncJobResult", jobid=j)
                    if r["jobstatus"] != 0:
                        results[j] = {**r, "_ended_s": time.monotonic() - t0}
                if len(results) == len(held) and down_s is not None:
                    break
                if el > args.kill_timeout:
                    break
                time.sleep(0.1)
            resolved_s = max((r["_ended_s"] for r in results.values()), default=None)
            all_done = wait_all(cb, jobs, 300)
            cb.close()
        finally:
            stop_farm(servers)
    status = {s: sum(r["jobstatus"] == s for r in results.values()) for s in (1, 2)}
    return {"servers": 2, "kill_jobs": args.kill_jobs, "spawn_s": args.spawn_s,
            "heartbeat_threshold_ms": args.threshold_ms, "held_by_killed": len(held),
            "resolved": len(results), "succeeded": status[1], "failed": status[2],
            "finished_by_survivor": sum(r.get("managementserverid") == "ms-bench-b" for r in results.values()),
            "kill_to_down_s": round(down_s, 1) if down_s is not None else None,
            "kill_to_last_orphan_resolved_s": round(resolved_s, 1) if resolved_s is not None else None,
            "failed_errortexts": [r.get("jobresult", {}).get("errortext") for r in results.values()
                                  if r["jobstatus"] == 2],
            "all_jobs": all_done, "loadavg_start": round(load0, 1), "loadavg_end": round(os.getloadavg()[0], 1)}


def wait_all(c: CloudClient, jobs: list[str], timeout: float) -> dict[str, int]:
    """How every submitted job ended (pending = still running after `timeout`)."""
    deadline = time.monotonic() + timeout
    ended: dict[str, int] = {}
    while True:
        for j in jobs:
            if j not in ended and (st := c.call("queryAsyncJobResult", jobid=j)["jobstatus"]) != 0:
                ended[j] = st
        if len(ended) == len(jobs) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return {"succeeded": sum(s == 1 for s in ended.values()), "failed": sum(s == 2 for s in ended.values()),
            "pending": len(jobs) - len(ended)}


COLUMNS = [("servers", "servers", 8), ("deployed", "ok", 6), ("vms", "of", 5), ("deploy_total_s", "total s", 9),
           ("deploys_per_s", "deploys/s", 10), ("deploy_p50_s", "p50 s", 8), ("server_cpu_ms_per_vm", "CPU ms/VM", 10),
           ("loadavg_start", "load", 6)]


def table(rows: list[dict[str, Any]], kill: dict[str, Any] | None) -> str:
    head = "".join(f"{h:>{w}}" for _, h, w in COLUMNS) + "  jobs by server"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append("".join(f"{str(r.get(k)):>{w}}" for k, _, w in COLUMNS) + "  "
                     + ", ".join(f"{k}={v}" for k, v in sorted(r["deploy_jobs_by_server"].items())))
    if kill:
        lines.append(f"kill -9 of 1 of 2 servers holding {kill['held_by_killed']} deploys (threshold "
                     f"{kill['heartbeat_threshold_ms']} ms): Down after {kill['kill_to_down_s']} s, last orphaned job "
                     f"resolved after {kill['kill_to_last_orphan_resolved_s']} s ({kill['succeeded']} succeeded, "
                     f"{kill['failed']} failed {kill['failed_errortexts']}, {kill['finished_by_survivor']} by the "
                     f"survivor); all {kill['kill_jobs']} jobs: {kill['all_jobs']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="1,2,3", help="comma list of server counts")
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--vms", type=int, default=120, help="deploys per server count")
    ap.add_argument("--concurrency", type=int, default=12, help="deployVirtualMachine calls in flight")
    ap.add_argument("--workers", type=int, default=4, help="job workers per server (DEVCLOUD_JOB_WORKERS)")
    ap.add_argument("--poll", type=float, default=0.2, help="client queryAsyncJobResult interval, s")
    ap.add_argument("--no-takeover", action="store_true", help="skip the kill -9 run")
    ap.add_argument("--kill-jobs", type=int, default=30, help="deploys in flight when a server is killed")
    ap.add_argument("--spawn-s", type=float, default=3.0, help="simulated spawn time in the takeover run")
    ap.add_argument("--threshold-ms", type=int, default=5000, help="cluster.heartbeat.threshold in the takeover run")
    ap.add_argument("--kill-timeout", type=float, default=180.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "farm_bench.json"))
    args = ap.parse_args()
    mach = machine()
    rows = [throughput(int(n), args) for n in args.servers.split(",") if n.strip()]
    kill = None if args.no_takeover else takeover(args)
    print(table(rows, kill))
    mach["loadavg_end"] = list(os.getloadavg())
    result = {"machine": mach, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": rows, "takeover": kill}
    write_result(args.out, result)


if __name__ == "__main__":
    main()
