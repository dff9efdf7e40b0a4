"""S3: devcloud vs the moto server, same machine, same run, same boto3 client code.

Measures 4 KiB PUT/GET ops/s from 1 client and from 8 (threads, one boto3 client each), 64 MiB PUT/GET MiB/s
(single-request put_object/get_object), and a full ListObjectsV2 walk over 10,000 keys. Bounded: every phase stops
at its count or its time cap. Writes bench/results/s3.json and prints a table.

moto: ``$MOTO_SERVER`` or /opt/s3tools-venv/bin/moto_server (``pip install 'moto[server]'`` into a venv of its own);
skipped when absent.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
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


def run_target(name: str, endpoint: str, ak: str, sk: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"== {name} {endpoint}", flush=True)
    out: dict[str, Any] = {}
    c = client(endpoint, ak, sk)
    bucket = f"bench-{os.urandom(3).hex()}"
    c.create_bucket(Bucket=bucket)
    small = os.urandom(4096)
    clients = [client(endpoint, ak, sk) for _ in range(8)]
    for i in range(20):  # warm up connections
        c.put_object(Bucket=bucket, Key=f"warm{i}", Body=small)

    out["put_4k_1"] = timed(lambda i: c.put_object(Bucket=bucket, Key=f"s/{i}", Body=small), args.small, args.cap)
    out["get_4k_1"] = timed(lambda i: c.get_object(Bucket=bucket, Key=f"s/{i % args.small}")["Body"].read(),
                            args.small, args.cap)
    local = threading.local()

    def mine() -> Any:
        if not hasattr(local, "c"):
            with lock:
                local.c = clients.pop()
        return local.c

    lock = threading.Lock()
    out["put_4k_8"] = timed(lambda i: mine().put_object(Bucket=bucket, Key=f"p/{i}", Body=small), args.small * 2,
                            args.cap, threads=8)
    clients = [client(endpoint, ak, sk) for _ in range(8)]
    local = threading.local()
    out["get_4k_8"] = timed(lambda i: mine().get_object(Bucket=bucket, Key=f"s/{i % args.small}")["Body"].read(),
                            args.small * 2, args.cap, threads=8)
    for k, v in out.items():
        print(f"  {k:10s} {v['ops_per_s']:8.1f} ops/s  p50 {v['p50_ms']:6.2f} ms", flush=True)

    big = os.urandom(64 * MiB)
    puts, gets = [], []
    for i in range(args.big):
        t = time.perf_counter()
        c.put_object(Bucket=bucket, Key=f"big{i}", Body=big)
        puts.append(time.perf_counter() - t)
        t = time.perf_counter()
        body = c.get_object(Bucket=bucket, Key=f"big{i}")["Body"]
        n = 0
        while chunk := body.read(4 * MiB):
            n += len(chunk)
        gets.append(time.perf_counter() - t)
        assert n == len(big)
    # the same bytes through a presigned URL: no client-side SHA-256/CRC before sending (server-bound number)
    signer = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                          region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                                 signature_version="s3v4"))
    raw = []
    for i in range(args.big):
        url = urlsplit(signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"raw{i}"}))
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        t = time.perf_counter()
        conn.request("PUT", f"{url.path}?{url.query}", body=big, headers={"Content-Length": str(len(big))})
        resp = conn.getresponse()
        resp.read()
        raw.append(time.perf_counter() - t)
        conn.close()
        assert resp.status == 200, resp.status
    out["put_64m_presigned_mib_s"] = round(64 / statistics.median(raw), 1)
    out["put_64m_mib_s"] = round(64 / statistics.median(puts), 1)
    out["get_64m_mib_s"] = round(64 / statistics.median(gets), 1)
    print(f"  64 MiB PUT {out['put_64m_mib_s']} MiB/s (presigned, no client hashing: "
          f"{out['put_64m_presigned_mib_s']}), GET {out['get_64m_mib_s']} MiB/s", flush=True)
    del big

    lb = f"list-{os.urandom(3).hex()}"
    c.create_bucket(Bucket=lb)
    t = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        clients = [client(endpoint, ak, sk) for _ in range(8)]
        list(pool.map(lambda i: clients[i % 8].put_object(Bucket=lb, Key=f"d{i % 100:02d}/k{i:05d}", Body=b""),
                      range(args.keys)))
    out["list_populate_s"] = round(time.perf_counter() - t, 2)
    walks = []
    for _ in range(3):
        t = time.perf_counter()
        n = sum(len(p.get("Contents", [])) for p in c.get_paginator("list_objects_v2").paginate(Bucket=lb))
        walks.append(time.perf_counter() - t)
        assert n == args.keys, n
    out["list_v2_10k_s"] = round(statistics.median(walks), 3)
    out["list_v2_keys_per_s"] = round(args.keys / statistics.median(walks))
    print(f"  ListObjectsV2 over {args.keys} keys: {out['list_v2_10k_s']} s "
          f"({out['list_v2_keys_per_s']} keys/s; populate {out['list_populate_s']} s)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=500, help="4 KiB ops per single-client phase")
    ap.add_argument("--big", type=int, default=3, help="64 MiB objects")
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--cap", type=float, default=20.0, help="seconds per phase at most")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "platform": platform.platform(), "boto3": boto3.__version__},
                               "params": vars(args), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    state = Path(tempfile.mkdtemp(prefix="s3bench-"))
    port = free_port()
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}",
                          extra_env={"DEVCLOUD_S3_PORT": str(port), "DEVCLOUD_JOB_WORKERS": "1"})
    moto = None
    try:
        results["devcloud"] = run_target("devcloud", f"http://127.0.0.1:{port}", served.apikey, served.secretkey,
                                         args)
    finally:
        served.kill(signal.SIGTERM)
        shutil.rmtree(state, ignore_errors=True)
    moto_bin = os.environ.get("MOTO_SERVER") or "/opt/s3tools-venv/bin/moto_server"
    if Path(moto_bin).exists() or shutil.which(moto_bin):
        mport = free_port()
        moto = subprocess.Popen([moto_bin, "-H", "127.0.0.1", "-p", str(mport)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", mport), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("moto_server did not start") from None
                    time.sleep(0.1)
            results["moto"] = run_target("moto", f"http://127.0.0.1:{mport}", "testing", "testing", args)
        finally:
            os.killpg(moto.pid, signal.SIGTERM)
            moto.wait(10)
    else:
        print(f"moto_server not found ({moto_bin}): devcloud numbers only")

    rows = [("4 KiB PUT, 1 client (ops/s)", "put_4k_1", "ops_per_s"), ("4 KiB GET, 1 client (ops/s)", "get_4k_1",
            "ops_per_s"), ("4 KiB PUT, 8 clients (ops/s)", "put_4k_8", "ops_per_s"),
            ("4 KiB GET, 8 clients (ops/s)", "get_4k_8", "ops_per_s"), ("64 MiB PUT (MiB/s)", "put_64m_mib_s", None),
            ("64 MiB PUT presigned (MiB/s)", "put_64m_presigned_mib_s", None),
            ("64 MiB GET (MiB/s)", "get_64m_mib_s", None), ("ListObjectsV2 10k keys (s)", "list_v2_10k_s", None)]
    print(f"\n{'metric':34s} {'devcloud':>10s} {'moto':>10s} {'ratio':>7s}")
    table = []
    for label, key, sub in rows:
        d = results["devcloud"][key]
        d = d[sub] if sub else d
        m = results.get("moto", {}).get(key)
        m = (m[sub] if sub else m) if m is not None else None
        ratio = None
        if m:
            ratio = round(m / d, 2) if key.startswith("list") else round(d / m, 2)
        table.append({"metric": label, "devcloud": d, "moto": m, "devcloud_advantage": ratio})
        print(f"{label:34s} {d:>10} {m if m is not None else '-':>10} {ratio if ratio else '-':>7}")
    results["table"] = table
    out = ROOT / "bench" / "results" / "s3.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
