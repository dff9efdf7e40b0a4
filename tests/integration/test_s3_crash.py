"""kill -9 of the server during 50 concurrent PUTs: after a restart every object is absent or complete and right.

In a versioned bucket the same holds for every version: each one listed is whole, acknowledged versions are
there, older versions survive, and no data file is left that no version references.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3  # noqa: E402
import pytest
from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

from management.storage.objects import INLINE_MAX
from tests.conftest import _free_port, start_served

pytestmark = [pytest.mark.integration, pytest.mark.slow]
N = 50


def client(port: int, ak: str, sk: str) -> Any:
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=ak,
                        aws_secret_access_key=sk, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      max_pool_connections=N, connect_timeout=5, read_timeout=30))


def crash_during_puts(state: Path, port: int, *, versioned: bool, round_: int) -> dict[str, Any]:
    """Older objects, then N concurrent PUTs and a kill -9 once a few are acknowledged. Returns what was sent
    and what the server acknowledged (with version ids)."""
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env={"DEVCLOUD_S3_PORT": str(port)})
    try:
        s3 = client(port, served.apikey, served.secretkey)
        s3.create_bucket(Bucket="crash")
        if versioned:
            s3.put_bucket_versioning(Bucket="crash", VersioningConfiguration={"Status": "Enabled"})
        # an older version of half the keys exists: after the crash it is either still there or fully replaced
        old = {f"k{i:02d}": os.urandom(1000 + i) for i in range(0, N, 2)}
        old_versions = {k: s3.put_object(Bucket="crash", Key=k, Body=v).get("VersionId") for k, v in old.items()}
        bodies = {f"k{i:02d}": os.urandom((1 << 20) + i * 65536) for i in range(N)}
        done: dict[str, str | None] = {}
        lock = threading.Lock()
        start = threading.Barrier(N + 1)

        def put(key: str) -> None:
            start.wait()
            try:
                r = s3.put_object(Bucket="crash", Key=key, Body=bodies[key])
                with lock:
                    done[key] = r.get("VersionId")
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
        assert len(done) < N, "every PUT finished before the kill: the test proves nothing"
    finally:
        served.kill(signal.SIGKILL)
    return {"old": old, "old_versions": old_versions, "bodies": bodies, "done": dict(done)}


def assert_swept(state: Path, stored: int) -> None:
    leftovers = list((state / "objects" / "buckets").rglob(".tmp-*"))
    assert leftovers == [], leftovers  # the store swept what the crash left behind
    files = [p for p in (state / "objects" / "buckets" / "crash").rglob("*") if p.is_file()]
    assert len(files) == stored, "unreferenced data files survived the sweep"


@pytest.mark.parametrize("round_", range(2))
def test_kill_9_during_concurrent_puts(tmp_path: Path, round_: int) -> None:
    state, port = tmp_path / "state", _free_port()
    run = crash_during_puts(state, port, versioned=False, round_=round_)
    old, bodies, acknowledged = run["old"], run["bodies"], set(run["done"])
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env={"DEVCLOUD_S3_PORT": str(port)})
    try:
        s3 = client(port, served.apikey, served.secretkey)
        present = complete_new = inline = 0
        for key, body in bodies.items():
            try:
                got = s3.get_object(Bucket="crash", Key=key)
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
        listed = {o["Key"] for o in s3.list_objects_v2(Bucket="crash")["Contents"]}
        assert len(listed) == present
        assert_swept(state, present - inline)
    finally:
        served.kill(signal.SIGTERM)


@pytest.mark.parametrize("round_", range(2))
def test_kill_9_during_concurrent_puts_in_a_versioned_bucket(tmp_path: Path, round_: int) -> None:
    state, port = tmp_path / "state", _free_port()
    run = crash_during_puts(state, port, versioned=True, round_=round_)
    old, old_versions, bodies, done = run["old"], run["old_versions"], run["bodies"], run["done"]
    served = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env={"DEVCLOUD_S3_PORT": str(port)})
    try:
        s3 = client(port, served.apikey, served.secretkey)
        listing: dict[str, list[dict[str, Any]]] = {}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket="crash"):
            assert not page.get("DeleteMarkers")
            for v in page.get("Versions", []):
                listing.setdefault(v["Key"], []).append(v)
        stored = new_versions = 0
        for key, body in bodies.items():
            versions = listing.get(key, [])
            ids = [v["VersionId"] for v in versions]
            assert len(set(ids)) == len(ids) and len(ids) <= 2, (key, ids)
            if key in old:
                assert old_versions[key] in ids, f"{key} lost its previous version"
            if key in done:
                assert done[key] in ids, f"{key}: the acknowledged version is gone"
            for v in versions:  # every version there is whole: the old bytes or the new ones
                got = s3.get_object(Bucket="crash", Key=key, VersionId=v["VersionId"])
                data = got["Body"].read()
                assert got["ETag"] == v["ETag"] == f'"{hashlib.md5(data).hexdigest()}"', key
                assert data in (body, old.get(key)), f"{key} version {v['VersionId']} is torn ({len(data)} bytes)"
                stored += len(data) > INLINE_MAX
                new_versions += data == body
            if versions:  # the newest version is the current one
                assert versions[0]["IsLatest"] and s3.get_object(Bucket="crash", Key=key)["VersionId"] == ids[0]
        assert new_versions >= len(done)
        print(f"acknowledged {len(done)}/{N}, new versions after restart {new_versions}, "
              f"old versions kept {len(old)}")
        assert_swept(state, stored)
    finally:
        served.kill(signal.SIGTERM)
