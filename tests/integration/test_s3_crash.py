"""kill -9 of the server during 50 concurrent PUTs: after a restart every object is absent or complete and right."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from management.storage.objects import INLINE_MAX
from tests.conftest import _free_port, start_served

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
N = 50


def client(port: int, ak: str, sk: str) -> object:
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=ak,
                        aws_secret_access_key=sk, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      max_pool_connections=N, connect_timeout=5, read_timeout=30))


@pytest.mark.parametrize("round_", range(2))
def test_kill_9_during_concurrent_puts(tmp_path: Path, round_: int) -> None:
    state = tmp_path / "state"
    port = _free_port()
    env = {"DEVCLOUD_S3_PORT": str(port)}
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env=env)
    try:
        s3 = client(port, served.apikey, served.secretkey)
        s3.create_bucket(Bucket="crash")  # type: ignore[attr-defined]
        # an older version of half the keys exists: after the crash it is either still there or fully replaced
        old = {f"k{i:02d}": os.urandom(1000 + i) for i in range(0, N, 2)}
        for k, v in old.items():
            s3.put_object(Bucket="crash", Key=k, Body=v)  # type: ignore[attr-defined]
        bodies = {f"k{i:02d}": os.urandom((1 << 20) + i * 65536) for i in range(N)}
        done: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(N + 1)

        def put(key: str) -> None:
            start.wait()
            try:
                s3.put_object(Bucket="crash", Key=key, Body=bodies[key])  # type: ignore[attr-defined]
                with lock:
                    done.append(key)
            except (BotoCoreError, ClientError, OSError):
                pass

        with ThreadPoolExecutor(N) as pool:
            futures = [pool.submit(put, k) for k in bodies]
            start.wait()
            deadline = time.monotonic() + 10
            while len(done) < 3 + round_ * 10 and time.monotonic() < deadline:
                time.sleep(0.002)
            served.kill(signal.SIGKILL)
            for f in futures:
                f.result(timeout=60)
        acknowledged = set(done)
        assert len(acknowledged) < N, "every PUT finished before the kill: the test proves nothing"
    finally:
        served.kill(signal.SIGKILL)

    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env=env)
    try:
        s3 = client(port, served.apikey, served.secretkey)
        present = complete_new = inline = 0
        for key, body in bodies.items():
            try:
                got = s3.get_object(Bucket="crash", Key=key)  # type: ignore[attr-defined]
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "NoSuchKey"
                assert key not in acknowledged, f"{key} was acknowledged but is gone"
                assert key not in old, f"{key} lost its previous version"
                continue
            data = got["Body"].read()
            present += 1
            inline += len(data) <= INLINE_MAX  # small objects live in the index, not in files
            assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"', key
            if key in acknowledged:
                assert data == body, f"{key} was acknowledged but holds other bytes"
            assert data == body or data == old.get(key), f"{key} is torn ({len(data)} bytes)"
            complete_new += data == body
        assert complete_new >= len(acknowledged) and present >= len(old)
        print(f"acknowledged {len(acknowledged)}/{N}, new and complete after restart {complete_new}, present {present}")
        leftovers = [p for p in (state / "objects" / "buckets").rglob(".tmp-*")]
        assert leftovers == [], leftovers  # the store swept what the crash left behind
        listed = {o["Key"] for o in s3.list_objects_v2(Bucket="crash")["Contents"]}  # type: ignore[attr-defined]
        assert len(listed) == present
        files = [p for p in (state / "objects" / "buckets" / "crash").rglob("*") if p.is_file()]
        assert len(files) == present - inline, "unreferenced data files survived the sweep"
    finally:
        served.kill(signal.SIGTERM)
