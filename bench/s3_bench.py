"""S3: devcloud vs the moto server, same machine, same run, same boto3 client code.

Measures 4 KiB PUT/GET ops/s from 1 client and from 8 (threads, one boto3 client each), 64 MiB PUT/GET MiB/s
(single-request put_object/get_object) with each server's CPU seconds per 64 MiB PUT (from /proc: independent of
how busy the machine is), the disk's own write speed in the same run (``dd conv=fdatasync`` into the state
directory), and a full ListObjectsV2 walk over 10,000 keys. Bounded: every phase stops at its count or its time
cap. Writes bench/results/s3.json and prints a table. ``--phases big`` runs only the large-object phase.

moto: ``$MOTO_SERVER`` or /opt/s3tools-venv/bin/moto_server (``pip install 'moto[server]'`` into a venv of its own);
skipped when absent.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.conftest import start_served  # noqa: E402

MiB = 1 << 20
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user+sys CPU of a process and its children's threads (moto_server may fork a worker)."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def disk_write_mib_s(directory: Path, mib: int = 256) -> float:
    """The disk's own sequential write speed: dd of zeros with fdatasync, as `dd conv=fdatasync` reports it."""
    target = directory / "dd.tmp"
    try:
        r = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={mib}", "conv=fdatasync"],
                           capture_output=True, text=True, timeout=300, check=True)
    finally:
        target.unlink(missing_ok=True)
    m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", r.stderr)
    assert m, r.stderr
    return round(int(m.group(1)) / MiB / float(m.group(2)), 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(endpoint: str, ak: str, sk: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                               retries={"max_attempts": 1}, max_pool_connections=16))


def timed(op: Callable[[int], None], count: int, cap: float, threads: int = 1) -> dict[str, float]:
    """Runs op(i) for i < count (split over threads) until done or cap seconds; returns ops/s and p50 ms."""
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + cap
    nxt = [0]

    def worker() -> None:
        mine = []
        while time.monotonic() < stop:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= count:
                break
            t = time.perf_counter()
            op(i)
            mine.append(time.perf_counter() - t)
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    return {"ops": len(lat), "ops_per_s": round(len(lat) / wall, 1), "p50_ms": round(statistics.median(lat) * 1e3, 2)}


class Target:
    """One server under test; each phase method fills ``out``. Phases alternate between the targets so that a
    busy shared machine slows both alike."""

    def __init__(self, name: str, endpoint: str, ak: str, sk: str, args: argparse.Namespace, pid: int) -> None:
        self.name, self.endpoint, self.ak, self.sk, self.args, self.pid = name, endpoint, ak, sk, args, pid
        self.out: dict[str, Any] = {}
        self.c = client(endpoint, ak, sk)
        self.bucket = f"bench-{os.urandom(3).hex()}"
        self.c.create_bucket(Bucket=self.bucket)
        self.small = os.urandom(4096)
        for i in range(20):  # warm up the connection
            self.c.put_object(Bucket=self.bucket, Key=f"warm{i}", Body=self.small)

    def _pool(self) -> Callable[[], Any]:
        clients = [client(self.endpoint, self.ak, self.sk) for _ in range(8)]
        local = threading.local()
        lock = threading.Lock()

        def mine() -> Any:
            if not hasattr(local, "c"):
                with lock:
                    local.c = clients.pop()
            return local.c

        return mine

    def small_ops(self) -> None:
        a, b, c, small = self.args, self.bucket, self.c, self.small
        self.out["put_4k_1"] = timed(lambda i: c.put_object(Bucket=b, Key=f"s/{i}", Body=small), a.small, a.cap)
        self.out["get_4k_1"] = timed(lambda i: c.get_object(Bucket=b, Key=f"s/{i % a.small}")["Body"].read(),
                                     a.small, a.cap)
        mine = self._pool()
        self.out["put_4k_8"] = timed(lambda i: mine().put_object(Bucket=b, Key=f"p/{i}", Body=small), a.small * 2,
                                     a.cap, threads=8)
        mine = self._pool()
        self.out["get_4k_8"] = timed(lambda i: mine().get_object(Bucket=b, Key=f"s/{i % a.small}")["Body"].read(),
                                     a.small * 2, a.cap, threads=8)
        for k in ("put_4k_1", "get_4k_1", "put_4k_8", "get_4k_8"):
            v = self.out[k]
            print(f"  {self.name:8s} {k:10s} {v['ops_per_s']:8.1f} ops/s  p50 {v['p50_ms']:6.2f} ms", flush=True)

    def big_round(self, big: bytes, i: int) -> None:
        """One 64 MiB PUT (boto3), GET and presigned PUT; the caller alternates the targets round by round."""
        t0 = self.out.setdefault("_big", {"puts": [], "gets": [], "raw": [], "cpu": []})
        signer = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.ak,
                              aws_secret_access_key=self.sk, region_name="us-east-1",
                              config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
        c0 = cpu_seconds(self.pid)
        t = time.perf_counter()
        self.c.put_object(Bucket=self.bucket, Key=f"big{i}", Body=big)
        t0["puts"].append(time.perf_counter() - t)
        t0["cpu"].append(cpu_seconds(self.pid) - c0)
        t = time.perf_counter()
        body = self.c.get_object(Bucket=self.bucket, Key=f"big{i}")["Body"]
        n = 0
        while chunk := body.read(4 * MiB):
            n += len(chunk)
        t0["gets"].append(time.perf_counter() - t)
        assert n == len(big)
        # the same bytes through a presigned URL: no client-side SHA-256/CRC before sending
        url = urlsplit(signer.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": f"raw{i}"}))
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        t = time.perf_counter()
        conn.request("PUT", f"{url.path}?{url.query}", body=big, headers={"Content-Length": str(len(big))})
        resp = conn.getresponse()
        resp.read()
        t0["raw"].append(time.perf_counter() - t)
        conn.close()
        assert resp.status == 200, resp.status
        # Each round frees what it wrote, so every round writes into blocks the disk already backs. On a thin
        # virtual disk a never-written block costs several times a reused one (here dd: ~370 MB/s against
        # ~2 GB/s), and five rounds that only add would measure the disk's first-touch cost, not the server.
        self.c.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": f"big{i}"}, {"Key": f"raw{i}"}]})

    def big_summary(self) -> None:
        t0 = self.out.pop("_big")
        self.out["put_64m_mib_s"] = round(64 / statistics.median(t0["puts"]), 1)
        self.out["put_64m_all_mib_s"] = [round(64 / x, 1) for x in t0["puts"]]
        self.out["put_64m_server_cpu_s"] = round(statistics.median(t0["cpu"]), 3)
        self.out["put_64m_presigned_mib_s"] = round(64 / statistics.median(t0["raw"]), 1)
        self.out["get_64m_mib_s"] = round(64 / statistics.median(t0["gets"]), 1)
        print(f"  {self.name:8s} 64 MiB PUT {self.out['put_64m_mib_s']} MiB/s {self.out['put_64m_all_mib_s']} "
              f"(presigned, no client hashing: {self.out['put_64m_presigned_mib_s']}), GET "
              f"{self.out['get_64m_mib_s']} MiB/s; server CPU per PUT {self.out['put_64m_server_cpu_s']} s",
              flush=True)

    def list_ops(self) -> None:
        keys = self.args.keys
        lb = f"list-{os.urandom(3).hex()}"
        self.c.create_bucket(Bucket=lb)
        t = time.perf_counter()
        clients = [client(self.endpoint, self.ak, self.sk) for _ in range(8)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: clients[i % 8].put_object(Bucket=lb, Key=f"d{i % 100:02d}/k{i:05d}", Body=b""),
                          range(keys)))
        self.out["list_populate_s"] = round(time.perf_counter() - t, 2)
        walks = []
        for _ in range(3):
            t = time.perf_counter()
            n = sum(len(p.get("Contents", [])) for p in self.c.get_paginator("list_objects_v2").paginate(Bucket=lb))
            walks.append(time.perf_counter() - t)
            assert n == keys, n
        self.out["list_v2_10k_s"] = round(statistics.median(walks), 3)
        self.out["list_v2_keys_per_s"] = round(keys / statistics.median(walks))
        print(f"  {self.name:8s} ListObjectsV2 over {keys} keys: {self.out['list_v2_10k_s']} s "
              f"({self.out['list_v2_keys_per_s']} keys/s; populate {self.out['list_populate_s']} s)", flush=True)


def start_moto() -> tuple[subprocess.Popen[bytes] | None, int]:
    moto_bin = os.environ.get("MOTO_SERVER") or "/opt/s3tools-venv/bin/moto_server"
    if not (Path(moto_bin).exists() or shutil.which(moto_bin)):
        print(f"moto_server not found ({moto_bin}): devcloud numbers only")
        return None, 0
    port = free_port()
    proc = subprocess.Popen([moto_bin, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=500, help="4 KiB ops per single-client phase")
    ap.add_argument("--big", type=int, default=5, help="64 MiB objects (rounds alternating the targets)")
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--cap", type=float, default=20.0, help="seconds per phase at most")
    ap.add_argument("--phases", default="small,big,list", help="comma-separated: small, big, list")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "platform": platform.platform(), "boto3": boto3.__version__},
                               "params": vars(args), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "load_average_before": os.getloadavg()}
    state = Path(tempfile.mkdtemp(prefix="s3bench-"))
    port = free_port()
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}",
                          extra_env={"DEVCLOUD_S3_PORT": str(port), "DEVCLOUD_JOB_WORKERS": "1"})
    moto, mport = start_moto()
    try:
        targets = [Target("devcloud", f"http://127.0.0.1:{port}", served.apikey, served.secretkey, args,
                          served.proc.pid)]
        if moto is not None:
            targets.append(Target("moto", f"http://127.0.0.1:{mport}", "testing", "testing", args, moto.pid))
        if "small" in phases:
            for t in targets:
                t.small_ops()
        if "big" in phases:
            results["disk_write_mib_s"] = disk_write_mib_s(state)
            print(f"  disk     dd conv=fdatasync {results['disk_write_mib_s']} MiB/s", flush=True)
            big = os.urandom(64 * MiB)
            for i in range(args.big):
                for t in targets:
                    t.big_round(big, i)
            for t in targets:
                t.big_summary()
            del big
        if "list" in phases:
            for t in targets:
                t.list_ops()
        for t in targets:
            results[t.name] = t.out
    finally:
        served.kill(signal.SIGTERM)
        shutil.rmtree(state, ignore_errors=True)
        if moto is not None:
            os.killpg(moto.pid, signal.SIGTERM)
            moto.wait(10)
    results["load_average_after"] = os.getloadavg()

    rows = [("4 KiB PUT, 1 client (ops/s)", "put_4k_1", "ops_per_s"), ("4 KiB GET, 1 client (ops/s)", "get_4k_1",
            "ops_per_s"), ("4 KiB PUT, 8 clients (ops/s)", "put_4k_8", "ops_per_s"),
            ("4 KiB GET, 8 clients (ops/s)", "get_4k_8", "ops_per_s"), ("64 MiB PUT (MiB/s)", "put_64m_mib_s", None),
            ("64 MiB PUT server CPU (s)", "put_64m_server_cpu_s", None),
            ("64 MiB PUT presigned (MiB/s)", "put_64m_presigned_mib_s", None),
            ("64 MiB GET (MiB/s)", "get_64m_mib_s", None), ("ListObjectsV2 10k keys (s)", "list_v2_10k_s", None)]
    print(f"\n{'metric':34s} {'devcloud':>10s} {'moto':>10s} {'ratio':>7s}")
    table = []
    for label, key, sub in rows:
        if key not in results["devcloud"]:
            continue
        d = results["devcloud"][key]
        d = d[sub] if sub else d
        m = results.get("moto", {}).get(key)
        m = (m[sub] if sub else m) if m is not None else None
        ratio = None
        if m:
            lower_is_better = key.startswith("list") or key.endswith("cpu_s")
            ratio = round(m / d, 2) if lower_is_better else round(d / m, 2)
        table.append({"metric": label, "devcloud": d, "moto": m, "devcloud_advantage": ratio})
        print(f"{label:34s} {d:>10} {m if m is not None else '-':>10} {ratio if ratio else '-':>7}")
    if "disk_write_mib_s" in results:
        print(f"{'disk write, dd conv=fdatasync (MiB/s)':34s} {results['disk_write_mib_s']:>10}")
        results["put_64m_share_of_disk"] = round(results["devcloud"]["put_64m_mib_s"] / results["disk_write_mib_s"],
                                                 2)
    results["table"] = table
    if phases != {"small", "big", "list"}:
        print("\n(a partial run: bench/results/s3.json is left as it is)")
        return
    out = ROOT / "bench" / "results" / "s3.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
