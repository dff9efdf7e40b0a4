"""S3: devcloud vs the moto server, same machine, same run, same boto3 client code.

Measures 4 KiB PUT/GET ops/s from 1 client and from 8 (threads, one boto3 client each), 64 MiB PUT/GET MiB/s
(single-request put_object/get_object) with each server's CPU seconds per 64 MiB PUT (from /proc: independent of
how busy the machine is), the disk's own write speed in the same run (``dd conv=fdatasync`` into the state
directory), and a full ListObjectsV2 walk over 10,000 keys. The large-object rounds also PUT to a floor server
(read the body, answer its MD5: what any S3 server must do at least), which bounds the ratio any server can show.
Bounded: every phase stops at its count or its time cap. Writes bench/results/s3.json and prints a table.
``--phases big`` runs only the large-object phase.

moto: ``$MOTO_SERVER`` or /opt/s3tools-venv/bin/moto_server (``pip install 'moto[server]'`` into a venv of its own);
skipped when absent.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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


class FloorServer:
    """The least any S3 server must do with a PUT: read the body and answer its MD5 as the ETag (no signature
    check, no disk, no listing). What boto3 reaches against it bounds what any server can reach on this machine
    with this client; it also records when each request's headers arrive, so the client's own work before it sends
    (SigV4 payload SHA-256 and the CRC32 checksum over plain HTTP) can be told apart."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.headers_at: list[float] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = memoryview(bytearray(MiB))
        with conn:
            while True:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                self.headers_at.append(time.time())
                raw, rest = head.split(b"\r\n\r\n", 1)
                fields = dict(line.split(":", 1) for line in raw.decode("latin-1").split("\r\n")[1:])
                headers = {k.strip().lower(): v.strip() for k, v in fields.items()}
                if headers.get("expect", "").lower() == "100-continue":
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                size, md5, got = int(headers.get("content-length", "0")), hashlib.md5(rest), len(rest)
                while got < size:
                    n = conn.recv_into(buf, min(len(buf), size - got))
                    if not n:
                        return
                    md5.update(buf[:n])
                    got += n
                conn.sendall(f'HTTP/1.1 200 OK\r\nETag: "{md5.hexdigest()}"\r\nContent-Length: 0\r\n\r\n'.encode())


class FloorTarget:
    """The floor server in the large-object phase: boto3 PUTs only."""

    name = "floor"

    def __init__(self) -> None:
        self.server = FloorServer()
        self.c = client(f"http://127.0.0.1:{self.server.port}", "floor", "floor")
        self.puts: list[float] = []
        self.lead: list[float] = []
        self.out: dict[str, Any] = {}

    def big_round(self, big: bytes, i: int) -> None:
        called, t = time.time(), time.perf_counter()
        self.c.put_object(Bucket="floor", Key=f"big{i}", Body=big)
        self.puts.append(time.perf_counter() - t)
        self.lead.append(self.server.headers_at[-1] - called)

    def big_summary(self) -> None:
        self.out["put_64m_mib_s"] = round(64 / statistics.median(self.puts), 1)
        self.out["put_64m_all_mib_s"] = [round(64 / x, 1) for x in self.puts]
        self.out["client_work_before_sending_ms"] = round(statistics.median(self.lead) * 1e3, 1)
        print(f"  floor    64 MiB PUT {self.out['put_64m_mib_s']} MiB/s {self.out['put_64m_all_mib_s']} (read + MD5 "
              f"only); boto3 worked {self.out['client_work_before_sending_ms']} ms before its headers arrived",
              flush=True)


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
            floor = FloorTarget()
            rounds: list[Target | FloorTarget] = [*targets, floor]
            for i in range(args.big):
                for r in rounds:
                    r.big_round(big, i)
            for r in rounds:
                r.big_summary()
            t0 = time.perf_counter()
            hashlib.md5(big).digest()
            results["md5_64m_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
            results["floor"] = floor.out
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
    if "floor" in results:
        f = results["floor"]["put_64m_mib_s"]
        m = results.get("moto", {}).get("put_64m_mib_s")
        results["floor_over_moto"] = round(f / m, 2) if m else None
        print(f"{'64 MiB PUT, MD5-only floor (MiB/s)':34s} {f:>10} {m if m else '-':>10} "
              f"{results['floor_over_moto'] or '-':>7}")
        print(f"{'  boto3 before sending (ms)':34s} {results['floor']['client_work_before_sending_ms']:>10}")
        print(f"{'  MD5 of 64 MiB, one core (ms)':34s} {results['md5_64m_ms']:>10}")
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
