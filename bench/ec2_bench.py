"""EC2 DescribeInstances with 1,000 instances: devcloud (simulator zone, in-process server, EC2 app on uvicorn) vs
the moto server, same machine, same run, same boto3 client code.

Both sides get their instances through RunInstances (devcloud: batches, then waits until all are running on the
simulator; moto: MaxCount batches). Then each side answers `--reps` full DescribeInstances calls (no MaxResults:
all 1,000 instances in one reply, as boto3 callers usually do); phases alternate devcloud/moto so machine load
hits both alike. Writes bench/results/ec2.json and prints a table.

moto: ``$MOTO_SERVER`` or /opt/s3tools-venv/bin/moto_server; skipped when absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.s3_bench import start_moto  # noqa: E402
from tests.api.test_ec2_helpers import ec2_client, in_process_cloud  # noqa: E402


def count(client: Any) -> int:
    return sum(len(r["Instances"]) for r in client.describe_instances()["Reservations"])


def timed(client: Any, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        client.describe_instances()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    n = args.instances
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "load": os.getloadavg()[0]}, "instances": n}
    moto, port = start_moto()
    try:
        with tempfile.TemporaryDirectory() as tmp, in_process_cloud(Path(tmp), hosts=4, cpus=1024,
                                                                    mem_gib=4096, guest_cidr="10.0.0.0/20") as cloud:
            dev = cloud.client()
            ami = dev.describe_images()["Images"][0]["ImageId"]
            t0 = time.perf_counter()
            made = 0
            while made < n:
                k = min(args.batch, n - made)
                dev.run_instances(ImageId=ami, MinCount=k, MaxCount=k)
                made += k
            deadline = time.monotonic() + 1800
            while True:
                states = [i["State"]["Name"] for r in dev.describe_instances()["Reservations"] for i in r["Instances"]]
                if sum(s == "running" for s in states) >= n:
                    break
                if any(s == "terminated" for s in states):
                    raise RuntimeError("some devcloud instances failed to deploy")
                if time.monotonic() > deadline:
                    raise RuntimeError("devcloud instances did not all reach running")
                time.sleep(1)
            results["devcloud_populate_s"] = round(time.perf_counter() - t0, 1)
            assert count(dev) == n
            mo = None
            if moto is not None:
                mo = ec2_client(f"http://127.0.0.1:{port}", "testing", "testing")
                mami = mo.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
                t0 = time.perf_counter()
                made = 0
                while made < n:
                    k = min(args.batch, n - made)
                    mo.run_instances(ImageId=mami, MinCount=k, MaxCount=k, InstanceType="t2.micro")
                    made += k
                results["moto_populate_s"] = round(time.perf_counter() - t0, 1)
                assert count(mo) == n
            dev_t: list[float] = []
            moto_t: list[float] = []
            timed(dev, 1)  # warm both (imports, caches) before measuring
            if mo is not None:
                timed(mo, 1)
            for _ in range(args.reps):
                dev_t += timed(dev, 1)
                if mo is not None:
                    moto_t += timed(mo, 1)
    finally:
        if moto is not None:
            os.killpg(moto.pid, signal.SIGKILL)
    results["devcloud_describe_s"] = {"median": round(statistics.median(dev_t), 4), "min": round(min(dev_t), 4),
                                      "all": [round(x, 4) for x in dev_t]}
    if moto_t:
        results["moto_describe_s"] = {"median": round(statistics.median(moto_t), 4), "min": round(min(moto_t), 4),
                                      "all": [round(x, 4) for x in moto_t]}
        results["ratio_moto_over_devcloud"] = round(statistics.median(moto_t) / statistics.median(dev_t), 2)
    results["aim"] = ">= 10x moto"
    out = REPO / "bench" / "results" / "ec2.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nDescribeInstances, {n} instances, {args.reps} reps (median, seconds)")
    print(f"{'server':<10} {'median':>8} {'min':>8}")
    print(f"{'devcloud':<10} {results['devcloud_describe_s']['median']:>8} {results['devcloud_describe_s']['min']:>8}")
    if moto_t:
        print(f"{'moto':<10} {results['moto_describe_s']['median']:>8} {results['moto_describe_s']['min']:>8}")
        print(f"ratio (moto / devcloud): {results['ratio_moto_over_devcloud']}x   (aim >= 10x)")
    print(f"results in {out}")


if __name__ == "__main__":
    main()
