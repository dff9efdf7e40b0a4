"""The S3 endpoint with unmodified boto3 (path-style, endpoint_url) against the app served by uvicorn on loopback.

One in-process cloud per module (SQLite); accounts are created through the integration API.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3  # noqa: E402  (comes with botocore)
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from tests.api.test_s3_helpers import REGION, Cloud, code, in_process_cloud

pytestmark = pytest.mark.api
urllib3.disable_warnings()
MiB = 1 << 20


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with in_process_cloud(tmp_path_factory.mktemp("s3state")) as c:
        yield c


@pytest.fixture(scope="module")
def s3(cloud: Cloud) -> Any:
    return cloud.client()


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "b-" + re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40] + "-" + os.urandom(3).hex()
    s3.create_bucket(Bucket=name)
    yield name
    for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    while True:
        objs = s3.list_objects_v2(Bucket=name).get("Contents", [])
        if not objs:
            break
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": o["Key"]} for o in objs]})
    s3.delete_bucket(Bucket=name)



def sign(cloud: Cloud, method: str, url: str, headers: dict[str, str], body: bytes = b"",
         host: str | None = None) -> dict[str, str]:
    """SigV4 with botocore's generic signer (it keeps the X-Amz-Content-SHA256 we set)."""
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    if host:
        req.headers["Host"] = host
    SigV4Auth(Credentials(cloud.admin["apikey"], cloud.admin["secretkey"]), "s3", REGION).add_auth(req)
    return dict(req.headers.items())


# ------------------------------------------------------------------------------------------------ buckets

def test_bucket_lifecycle(cloud: Cloud, s3: Any) -> None:
    name = "life-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert code(e) == (409, "BucketAlreadyOwnedByYou")
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert code(e) == (409, "BucketNotEmpty")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert code(e)[0] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert code(e) == (404, "NoSuchBucket")
    for bad in ("ab", "UPPER", "a_b", "-ab", "192.168.1.1", "a..b"):
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=bad)
        assert code(e) == (400, "InvalidBucketName"), bad
    default = "loc-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=default)
    assert s3.get_bucket_location(Bucket=default)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=default)


# ------------------------------------------------------------------------------------------------ objects

def test_put_get_1mib_and_metadata(s3: Any, bucket: str) -> None:
    data = os.urandom(MiB)
    r = s3.put_object(Bucket=bucket, Key="dir/one MiB+.bin", Body=data, Metadata={"color": "blue", "n": "1"},
                      ContentType="application/x-test", ContentEncoding="identity",
                      ContentDisposition='attachment; filename="x.bin"', CacheControl="max-age=60")
    assert r["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/one MiB+.bin")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"color": "blue", "n": "1"}
    assert got["ContentType"] == "application/x-test"
    assert got["ContentEncoding"] == "identity"
    assert got["ContentDisposition"] == 'attachment; filename="x.bin"'
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLength"] == MiB and got["ETag"] == r["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/one MiB+.bin")
    assert head["ContentLength"] == MiB and head["Metadata"]["color"] == "blue"
    assert "x-amz-request-id" in head["ResponseMetadata"]["HTTPHeaders"]
    # overwrite replaces content and metadata
    s3.put_object(Bucket=bucket, Key="dir/one MiB+.bin", Body=b"small")
    got = s3.get_object(Bucket=bucket, Key="dir/one MiB+.bin")
    assert got["Body"].read() == b"small" and got["Metadata"] == {}
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""


@pytest.mark.slow
def test_multipart_100mib_upload_download(s3: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "big"
    h = hashlib.sha256()
    md5s = []
    with open(src, "wb") as f:
        for _ in range(100 // 8 + 1):
            chunk = os.urandom(min(8 * MiB, 100 * MiB - f.tell()))
            if not chunk:
                break
            h.update(chunk)
            md5s.append(hashlib.md5(chunk).digest())
            f.write(chunk)
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(src), bucket, "big", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big")
    assert head["ContentLength"] == 100 * MiB
    assert head["ETag"] == f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-{len(md5s)}"'
    out = tmp_path / "down"
    s3.download_file(bucket, "big", str(out), Config=cfg)
    h2 = hashlib.sha256()
    with open(out, "rb") as f:
        while chunk := f.read(8 * MiB):
            h2.update(chunk)
    assert h2.hexdigest() == h.hexdigest()
    part2 = s3.get_object(Bucket=bucket, Key="big", PartNumber=2)
    assert part2["PartsCount"] == len(md5s) and part2["ContentLength"] == 8 * MiB
    assert hashlib.md5(part2["Body"].read()).digest() == md5s[1]


def test_ranges(s3: Any, bucket: str) -> None:
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    for spec, want in (("bytes=100-199", data[100:200]), ("bytes=-10", data[-10:]), ("bytes=10200-", data[10200:]),
                       ("bytes=0-0", data[:1]), ("bytes=10000-99999", data[10000:])):
        r = s3.get_object(Bucket=bucket, Key="r", Range=spec)
        assert r["Body"].read() == want, spec
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert r["ContentRange"].endswith(f"/{len(data)}")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20000-20010")
    assert code(e) == (416, "InvalidRange")
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=abc")["Body"].read() == data  # ignored, like S3


def test_conditional_get(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"cond")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"cond"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert code(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert code(e)[0] == 304
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert code(e)[0] == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"cond"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert code(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert code(e)[0] == 412


def test_copy_object(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", Metadata={"a": "1"}, ContentType="text/x")["ETag"]
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me" and got["Metadata"] == {"a": "1"} and got["ContentType"] == "text/x"
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="text/y")
    got = s3.get_object(Bucket=bucket, Key="dst2")
    assert got["Metadata"] == {"b": "2"} and got["ContentType"] == "text/y"
    # the source is independent of the copy
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"copy me"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "dst"})
    assert code(e) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert code(e) == (404, "NoSuchKey")
    s3.copy_object(Bucket=bucket, Key="dst3", CopySource={"Bucket": bucket, "Key": "dst"}, MetadataDirective="REPLACE")
    assert s3.head_object(Bucket=bucket, Key="dst3")["Metadata"] == {}


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=blue&env=dev%20x")
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]}
    assert tags == {"team": "blue", "env": "dev x"}
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket=bucket, Key="t2", CopySource={"Bucket": bucket, "Key": "t"})
    assert s3.get_object_tagging(Bucket=bucket, Key="t2")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket=bucket, Key="t3", CopySource={"Bucket": bucket, "Key": "t"}, TaggingDirective="REPLACE",
                   Tagging="a=b")
    assert s3.get_object_tagging(Bucket=bucket, Key="t3")["TagSet"] == [{"Key": "a", "Value": "b"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert code(e) == (404, "NoSuchKey")


# ------------------------------------------------------------------------------------------------ listing

def _keys(resp: dict[str, Any]) -> list[str]:
    return [o["Key"] for o in resp.get("Contents", [])]


def _prefixes(resp: dict[str, Any]) -> list[str]:
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


def test_list_v2_prefix_delimiter_continuation(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d e+f&g", "é/x", "z"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket=bucket)
    assert _keys(r) == sorted(keys, key=lambda k: k.encode()) and r["KeyCount"] == len(keys)
    assert r["IsTruncated"] is False and "NextContinuationToken" not in r
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert _keys(r) == ["c", "d e+f&g", "z"] and _prefixes(r) == ["a/", "b/", "é/"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert _keys(r) == ["a/1", "a/2"] and _prefixes(r) == ["a/b/"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/")
    assert _keys(r) == ["a/1", "a/2", "a/b/3"]
    # paging: prefixes count toward MaxKeys
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2, **kw)
        pages += 1
        assert r["KeyCount"] <= 2
        seen += _keys(r) + _prefixes(r)
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert sorted(seen) == sorted(["c", "d e+f&g", "z", "a/", "b/", "é/"]) and pages == 3
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="b/1")
    assert _keys(r) == ["c", "d e+f&g", "z", "é/x"] and r["StartAfter"] == "b/1"
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=3)
    assert r["IsTruncated"] and len(_keys(r)) == 3
    paginator = s3.get_paginator("list_objects_v2")
    allkeys = [o["Key"] for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
               for o in page.get("Contents", [])]
    assert allkeys == sorted(keys, key=lambda k: k.encode())
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="!!not-a-token!!")
    assert code(e) == (400, "InvalidArgument")


def test_list_v1_marker(s3: Any, bucket: str) -> None:
    for k in ["p/a", "p/b", "q/a", "r", "s"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    r = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert _keys(r) == ["p/a", "p/b"] and r["IsTruncated"] and "NextMarker" not in r
    r = s3.list_objects(Bucket=bucket, Marker="p/b")
    assert _keys(r) == ["q/a", "r", "s"]
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert _prefixes(r) == ["p/", "q/"] and r["IsTruncated"] and r["NextMarker"] == "q/"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=r["NextMarker"])
    assert _keys(r) == ["r", "s"] and not _prefixes(r)
    paginator = s3.get_paginator("list_objects")
    seen = []
    for page in paginator.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}):
        seen += _keys(page) + _prefixes(page)
    assert seen == ["p/", "q/", "r", "s"]
    assert all("Owner" in o for o in s3.list_objects(Bucket=bucket)["Contents"])


def test_multi_delete(s3: Any, bucket: str) -> None:
    for k in ("x1", "x2", "x3"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x1"}, {"Key": "x2"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["nope", "x1", "x2"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x3"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert _keys(s3.list_objects_v2(Bucket=bucket)) == []


# ------------------------------------------------------------------------------------------------ multipart

def test_multipart_rules(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Metadata={"m": "v"}, ContentType="text/mp")
    uid = up["UploadId"]
    p1 = os.urandom(5 * MiB)
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
    e3 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=3, Body=b"small")["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e1, 5 * MiB), (2, e2, 4), (3, e3, 5)]
    ups = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("mp", uid)]
    for body, want in (
        ([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}], "InvalidPartOrder"),
        ([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}], "InvalidPart"),
        ([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 7, "ETag": e2}], "InvalidPart"),
        ([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}],
         "EntityTooSmall"),
    ):
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": body})
        assert code(e) == (400, want), want
    r = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    want_etag = hashlib.md5(bytes.fromhex(e1.strip('"')) + bytes.fromhex(e2.strip('"'))).hexdigest() + "-2"
    assert r["ETag"] == f'"{want_etag}"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == p1 + b"tail" and got["Metadata"] == {"m": "v"} and got["ContentType"] == "text/mp"
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert code(e) == (404, "NoSuchUpload")
    # abort
    uid2 = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid2, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=uid2)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid2, PartNumber=2, Body=b"x")
    assert code(e) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="ab", UploadId="bogus", MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert code(e) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=10001, Body=b"x")
    assert code(e)[1] in ("InvalidArgument", "NoSuchUpload")


def test_upload_part_copy_and_checksums(s3: Any, bucket: str) -> None:
    src = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pc", ChecksumAlgorithm="CRC32")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="pc", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    r2 = s3.upload_part(Bucket=bucket, Key="pc", UploadId=uid, PartNumber=2, Body=b"end", ChecksumAlgorithm="CRC32")
    assert r2["ChecksumCRC32"] == base64.b64encode(zlib.crc32(b"end").to_bytes(4, "big")).decode()
    s3.complete_multipart_upload(Bucket=bucket, Key="pc", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["ETag"], "ChecksumCRC32": r2["ChecksumCRC32"]}]})
    assert s3.get_object(Bucket=bucket, Key="pc")["Body"].read() == src[:5 * MiB] + b"end"


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_checksums_stored_and_returned(s3: Any, bucket: str, algo: str) -> None:
    if algo == "CRC32C":
        import awscrt  # noqa: F401 - botocore computes CRC32C only with botocore[crt]
    data = os.urandom(3000)
    r = s3.put_object(Bucket=bucket, Key="ck", Body=data, ChecksumAlgorithm=algo)
    assert r[f"Checksum{algo}"]
    head = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert head[f"Checksum{algo}"] == r[f"Checksum{algo}"]
    got = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got[f"Checksum{algo}"] == r[f"Checksum{algo}"]


def test_aws_chunked_unsigned_trailer_over_https(cloud: Cloud, bucket: str, tmp_path: Path) -> None:
    """Over https current botocore sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC trailer."""
    seen: list[str] = []
    c = cloud.client(tls=True)
    c.meta.events.register("before-send.s3.PutObject",
                           lambda request, **_: seen.append(request.headers.get("X-Amz-Content-SHA256", b"")))
    data = os.urandom(3 * MiB + 17)
    algos = ["CRC32", "SHA1", "SHA256"]
    try:
        import awscrt  # noqa: F401  (botocore computes CRC32C only with botocore[crt])

        algos.append("CRC32C")
    except ImportError:
        pass
    for algo in algos:
        r = c.put_object(Bucket=bucket, Key=f"chunked-{algo}", Body=data, ChecksumAlgorithm=algo)
        assert r["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert c.get_object(Bucket=bucket, Key=f"chunked-{algo}")["Body"].read() == data
    assert {s if isinstance(s, str) else s.decode() for s in seen} == {"STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
    src = tmp_path / "f"
    src.write_bytes(os.urandom(20 * MiB))
    c.upload_file(str(src), bucket, "chunked-mp", Config=TransferConfig(multipart_threshold=8 * MiB,
                                                                        multipart_chunksize=8 * MiB))
    assert c.get_object(Bucket=bucket, Key="chunked-mp")["Body"].read() == src.read_bytes()


def _aws_chunked_signed(cloud: Cloud, url: str, data: bytes, chunk: int, *, tamper: bool = False,
                        trailer: str | None = None) -> httpx.Response:
    """An independent client of STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] (AWS sigv4-streaming docs)."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    headers = {"X-Amz-Date": amz_date, "X-Amz-Content-SHA256": mode, "Content-Encoding": "aws-chunked",
               "X-Amz-Decoded-Content-Length": str(len(data))}
    if trailer:
        headers["X-Amz-Trailer"] = "x-amz-checksum-crc32"
    signed = sign(cloud, "PUT", url, headers)
    seed = signed["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    key = b"AWS4" + cloud.admin["secretkey"].encode()
    for part in (amz_date[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    empty = hashlib.sha256(b"").hexdigest()
    prev = seed
    body = bytearray()
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty, hashlib.sha256(piece).hexdigest()])
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        sig = ("0" * 64) if tamper and piece else prev
        body += f"{len(piece):x};chunk-signature={sig}\r\n".encode() + piece + (b"\r\n" if piece else b"")
    if trailer:
        line = f"x-amz-checksum-crc32:{trailer}\n"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev, hashlib.sha256(line.encode()).hexdigest()])
        tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        body += f"x-amz-checksum-crc32:{trailer}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode()
    else:
        body += b"\r\n"
    signed.pop("Content-Length", None)
    return httpx.put(url, headers=signed, content=bytes(body), timeout=30)


def test_aws_chunked_signed_payload(cloud: Cloud, s3: Any, bucket: str) -> None:
    data = os.urandom(200_000)
    url = f"{cloud.endpoint}/{bucket}/signed-chunks"
    r = _aws_chunked_signed(cloud, url, data, 65536)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="signed-chunks")["Body"].read() == data
    r = _aws_chunked_signed(cloud, f"{cloud.endpoint}/{bucket}/tampered", data, 65536, tamper=True)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="tampered")
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    r = _aws_chunked_signed(cloud, f"{cloud.endpoint}/{bucket}/trailer", data, 65536, trailer=crc)
    assert r.status_code == 200, r.text
    assert r.headers["x-amz-checksum-crc32"] == crc
    r = _aws_chunked_signed(cloud, f"{cloud.endpoint}/{bucket}/badcrc", data, 65536, trailer="AAAAAA==")
    assert r.status_code == 400 and b"BadDigest" in r.content


def test_signed_payload_mismatch_and_content_md5(cloud: Cloud, bucket: str) -> None:
    url = f"{cloud.endpoint}/{bucket}/mismatch"
    headers = sign(cloud, "PUT", url, {"X-Amz-Content-SHA256": hashlib.sha256(b"other").hexdigest()}, b"body")
    r = httpx.put(url, headers=headers, content=b"body")
    assert r.status_code == 400 and b"XAmzContentSHA256Mismatch" in r.content
    url = f"{cloud.endpoint}/{bucket}/md5"
    body = b"hello"
    headers = sign(cloud, "PUT", url, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),
                                       "Content-MD5": base64.b64encode(hashlib.md5(b"nope").digest()).decode()}, body)
    r = httpx.put(url, headers=headers, content=body)
    assert r.status_code == 400 and b"BadDigest" in r.content
    headers = sign(cloud, "PUT", url, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, body)
    assert httpx.put(url, headers=headers, content=body).status_code == 200


# ------------------------------------------------------------------------------------------------ presigned, v2, vhost

def test_presigned_get_put(cloud: Cloud, bucket: str) -> None:
    s3 = cloud.client(signature_version="s3v4")  # botocore presigns S3 with SigV2 unless told otherwise
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/signed key"},
                                        ExpiresIn=300)
    assert httpx.put(put_url, content=b"via presigned").status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed key"},
                                        ExpiresIn=300)
    r = httpx.get(get_url)
    assert r.status_code == 200 and r.content == b"via presigned"
    r = httpx.get(get_url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    too_long = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed key"},
                                         ExpiresIn=604801)
    r = httpx.get(too_long)  # S3 refuses an out-of-range expiry like an expired URL (s3-tests expects 403)
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content
    assert b"X-Amz-Expires must be less than a week" in r.content
    negative = re.sub(r"X-Amz-Expires=\d+", "X-Amz-Expires=-7", get_url)
    r = httpx.get(negative)
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed key"},
                                        ExpiresIn=1)
    time.sleep(2.1)
    r = httpx.get(expired)
    assert r.status_code == 403 and b"expired" in r.content


def test_sigv2_header_and_presigned(cloud: Cloud, bucket: str) -> None:
    c = cloud.client(signature_version="s3")
    c.put_object(Bucket=bucket, Key="v2 key", Body=b"v2", Metadata={"k": "v"})
    assert c.get_object(Bucket=bucket, Key="v2 key")["Body"].read() == b"v2"
    assert _keys(c.list_objects(Bucket=bucket)) == ["v2 key"]
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2 key"}, ExpiresIn=60)
    assert "AWSAccessKeyId=" in url
    assert httpx.get(url).content == b"v2"
    r = httpx.get(url.replace("Signature=", "Signature=A"))
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    assert cloud.client().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2 key"})


def test_virtual_host_style(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="vh/obj", Body=b"virtual")
    port = cloud.endpoint.rsplit(":", 1)[1]
    for host in (f"{bucket}.localhost:{port}", f"{bucket}.s3.devcloud.test:{port}"):
        headers = sign(cloud, "GET", f"http://{host}/vh/obj", {"X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
        headers["Host"] = host
        r = httpx.get(f"{cloud.endpoint}/vh/obj", headers=headers)
        assert r.status_code == 200 and r.content == b"virtual", (host, r.text)


# ------------------------------------------------------------------------------------------------ errors, tenancy

def test_errors(cloud: Cloud, s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code(e) == (404, "NoSuchKey")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert code(e)[0] == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket-" + os.urandom(3).hex(), Key="k")
    assert code(e) == (404, "NoSuchBucket")
    bad = cloud.client(cloud.admin["apikey"], "wrong-secret")
    with pytest.raises(ClientError) as e:
        bad.list_buckets()
    assert code(e) == (403, "SignatureDoesNotMatch")
    unknown = cloud.client("AKIDUNKNOWN", "x")
    with pytest.raises(ClientError) as e:
        unknown.list_buckets()
    assert code(e) == (403, "InvalidAccessKeyId")
    skewed = {"Authorization": f"AWS4-HMAC-SHA256 Credential={cloud.admin['apikey']}/20000101/us-east-1/s3/"
                               "aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
              "X-Amz-Date": "20000101T000000Z", "X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()}
    r = httpx.get(cloud.endpoint + "/", headers=skewed)
    assert r.status_code == 403 and b"RequestTimeTooSkewed" in r.content
    # garbage never produces a 500
    for headers in ({}, {"Authorization": "AWS4-HMAC-SHA256 garbage"}, {"Authorization": "AWS x"},
                    {"Authorization": "Bearer zzz"}):
        r = httpx.get(f"{cloud.endpoint}/{bucket}/k", headers=headers)
        assert 400 <= r.status_code < 500 and r.content.startswith(b"<?xml"), (headers, r.status_code, r.text)
    url = f"{cloud.endpoint}/{bucket}?delete"
    for body in (b"<Delete><Object><Key>a</Key></Object>", b"not xml", b"<Other/>", b""):
        headers = sign(cloud, "POST", url, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}, body)
        r = httpx.post(url, headers=headers, content=body)
        assert r.status_code == 400 and b"MalformedXML" in r.content, r.text
    r = httpx.get(cloud.endpoint + "/", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request"
                                                                  ", SignedHeaders=host, Signature=0"})
    assert r.status_code in (400, 403)
    headers = sign(cloud, "GET", f"{cloud.endpoint}/{bucket}?list-type=2&max-keys=abc",
                   {"X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
    r = httpx.get(f"{cloud.endpoint}/{bucket}?list-type=2&max-keys=abc", headers=headers)
    assert r.status_code == 400 and b"InvalidArgument" in r.content


def test_second_account_is_isolated(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="secret", Body=b"mine")
    other = cloud.integration.new_account()
    o = cloud.client(other["apikey"], other["secretkey"])
    assert bucket not in [b["Name"] for b in o.list_buckets()["Buckets"]]
    for call in (lambda: o.get_object(Bucket=bucket, Key="secret"),
                 lambda: o.put_object(Bucket=bucket, Key="x", Body=b"x"),
                 lambda: o.list_objects_v2(Bucket=bucket),
                 lambda: o.delete_object(Bucket=bucket, Key="secret"),
                 lambda: o.delete_bucket(Bucket=bucket),
                 lambda: o.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "secret"})):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        o.head_bucket(Bucket=bucket)
    assert code(e)[0] == 403
    with pytest.raises(ClientError) as e:
        o.create_bucket(Bucket=bucket)
    assert code(e) == (409, "BucketAlreadyExists")
    mine = "other-" + os.urandom(3).hex()
    o.create_bucket(Bucket=mine)
    o.put_object(Bucket=mine, Key="k", Body=b"theirs")
    with pytest.raises(ClientError) as e:  # and the other way around, also for copies out of it
        s3.copy_object(Bucket=bucket, Key="stolen", CopySource={"Bucket": mine, "Key": "k"})
    assert code(e) == (403, "AccessDenied")
    assert [b["Name"] for b in o.list_buckets()["Buckets"]] == [mine]
    o.delete_object(Bucket=mine, Key="k")
    o.delete_bucket(Bucket=mine)
    # a disabled account's keys stop working
    cloud.integration("disableAccount", id=other["id"], lock="false")
    time.sleep(5.2)  # the credential cache lives 5 s
    with pytest.raises(ClientError) as e:
        o.list_buckets()
    assert code(e) == (403, "InvalidAccessKeyId")


def test_objects_live_in_the_zone_secondary_store(tmp_path: Path) -> None:
    """With a zone image store (file:// here), buckets are laid out under <store>/buckets/<bucket>/."""
    with in_process_cloud(tmp_path / "state") as c:
        i = c.integration
        z = i("createZone", name="s3zone", networktype="Advanced", dns1="10.147.28.6", internaldns1="10.147.28.6",
              guestcidraddress="10.1.1.0/24")["zone"]
        sstor = tmp_path / "sstor"
        i("addImageStore", zoneid=z["id"], name="SS0", provider="NFS", url=f"file://{sstor}")
        s3 = c.client()
        s3.create_bucket(Bucket="in-sstor")
        body = os.urandom(200_000)  # above the inline threshold: a data file (small objects live in the index)
        s3.put_object(Bucket="in-sstor", Key="a/b", Body=body)
        s3.put_object(Bucket="in-sstor", Key="small", Body=b"in the index")
        files = [p for p in (sstor / "buckets" / "in-sstor").rglob("*") if p.is_file()]
        assert [p.read_bytes() for p in files] == [body]
        assert (sstor / "buckets" / ".index.sqlite3").is_file()
        assert s3.get_object(Bucket="in-sstor", Key="small")["Body"].read() == b"in the index"
        assert not (tmp_path / "state" / "objects").exists()
