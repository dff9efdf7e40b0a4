"""S3 versioning with boto3: status, version ids, reads and deletes by version, delete markers, ListObjectVersions
(markers, prefixes, delimiter, paging), null versions, copies from a version, multipart uploads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_s3_helpers import Cloud, code, in_process_cloud

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import ClientError  # noqa: E402

pytestmark = pytest.mark.api
MiB = 1 << 20


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with in_process_cloud(tmp_path_factory.mktemp("s3versions")) as c:
        yield c


@pytest.fixture(scope="module")
def s3(cloud: Cloud) -> Any:
    return cloud.client()


def empty_and_delete(s3: Any, bucket: str) -> None:
    """How test suites and tools empty a bucket: every version and delete marker, then the bucket."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            r = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})
            assert not r.get("Errors"), r["Errors"]
    s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def vbucket(s3: Any) -> Iterator[str]:
    name = "ver-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    empty_and_delete(s3, name)



def test_versioning_status(s3: Any) -> None:
    name = "vs-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Off"})
    assert code(e) == (400, "MalformedXML")
    s3.delete_bucket(Bucket=name)


def test_versions_reads_deletes_and_markers(s3: Any, vbucket: str) -> None:
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"two" * 40000)["VersionId"]  # a data file, not inline
    assert v1 != v2 and "null" not in (v1, v2)
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == b"two" * 40000 and got["VersionId"] == v2
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.head_object(Bucket=vbucket, Key="k", VersionId=v1)["ContentLength"] == 3
    gone = s3.delete_object(Bucket=vbucket, Key="k")
    assert gone["DeleteMarker"] is True and gone["VersionId"] not in (v1, v2)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k")
    assert code(e) == (404, "NoSuchKey")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=gone["VersionId"])
    assert code(e) == (405, "MethodNotAllowed")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="0" * 32)
    assert code(e) == (404, "NoSuchVersion")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="not-a-version")
    assert code(e) == (400, "InvalidArgument")
    assert "Contents" not in s3.list_objects_v2(Bucket=vbucket)
    lv = s3.list_object_versions(Bucket=vbucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in lv["DeleteMarkers"]] == [(gone["VersionId"], True)]
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in lv["Versions"]] == [(v2, False, 120000),
                                                                                  (v1, False, 3)]
    # removing the marker restores the object; removing a version for good says which one
    undo = s3.delete_object(Bucket=vbucket, Key="k", VersionId=gone["VersionId"])
    assert undo["DeleteMarker"] is True and undo["VersionId"] == gone["VersionId"]
    assert s3.get_object(Bucket=vbucket, Key="k")["VersionId"] == v2
    assert s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)["VersionId"] == v2
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=vbucket)
    assert code(e) == (409, "BucketNotEmpty")


def test_list_object_versions_markers_prefixes_and_paging(s3: Any, vbucket: str) -> None:
    want = []
    for key in ("a/1", "a/2", "b", "c d/x", "e"):
        ids = [s3.put_object(Bucket=vbucket, Key=key, Body=f"{key}{n}".encode())["VersionId"] for n in range(3)]
        want += [(key, v) for v in reversed(ids)]
    dm = s3.delete_object(Bucket=vbucket, Key="e")["VersionId"]
    want.insert(want.index(("e", want[-3][1])), ("e", dm))
    seen = []
    pages = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=vbucket,
                                                                   PaginationConfig={"PageSize": 4}):
        pages += 1
        merged = [(v["Key"], v["VersionId"], v["LastModified"]) for v in page.get("Versions", [])]
        merged += [(m["Key"], m["VersionId"], m["LastModified"]) for m in page.get("DeleteMarkers", [])]
        seen += [(k, v) for k, v, _ in sorted(merged, key=lambda t: (t[0].encode(), -t[2].timestamp()))]
    assert sorted(seen) == sorted(want) and len(seen) == len(want) and pages == 4
    r = s3.list_object_versions(Bucket=vbucket, MaxKeys=4)
    assert r["IsTruncated"] and r["NextKeyMarker"] == "a/2" and r["NextVersionIdMarker"] == want[3][1]
    r = s3.list_object_versions(Bucket=vbucket, KeyMarker="a/2", VersionIdMarker=want[3][1], MaxKeys=2)
    assert [(v["Key"], v["VersionId"]) for v in r["Versions"]] == want[4:6]
    r = s3.list_object_versions(Bucket=vbucket, KeyMarker="b")
    assert {v["Key"] for v in r["Versions"]} == {"c d/x", "e"}
    r = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c d/"]
    assert {v["Key"] for v in r["Versions"]} == {"b", "e"} and r["KeyMarker"] == ""
    r = s3.list_object_versions(Bucket=vbucket, Prefix="c d/")
    assert r["Prefix"] == "c d/" and [v["Key"] for v in r["Versions"]] == ["c d/x"] * 3
    assert [v["IsLatest"] for v in r["Versions"]] == [True, False, False]
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket=vbucket, VersionIdMarker=want[0][1])
    assert code(e) == (400, "InvalidArgument")


def test_every_bucket_lists_versions_null_versions(s3: Any) -> None:
    name = "nv-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    r = s3.put_object(Bucket=name, Key="plain", Body=b"p")
    assert "VersionId" not in r  # unversioned buckets send no version header
    lv = s3.list_object_versions(Bucket=name)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in lv["Versions"]] == [("plain", "null", True)]
    assert s3.get_object(Bucket=name, Key="plain", VersionId="null")["Body"].read() == b"p"
    # enabling keeps the null version as an old one; suspending writes null versions again
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    v = s3.put_object(Bucket=name, Key="plain", Body=b"q")["VersionId"]
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=name, Key="plain", Body=b"r")["VersionId"] == "null"
    lv = s3.list_object_versions(Bucket=name)
    assert [(x["VersionId"], x["IsLatest"]) for x in lv["Versions"]] == [("null", True), (v, False)]
    assert s3.delete_object(Bucket=name, Key="plain")["VersionId"] == "null"
    empty_and_delete(s3, name)


def test_copy_from_a_version_and_multipart_in_a_versioned_bucket(s3: Any, vbucket: str) -> None:
    v1 = s3.put_object(Bucket=vbucket, Key="src", Body=b"old source")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="src", Body=b"new source")
    r = s3.copy_object(Bucket=vbucket, Key="dst", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and r["VersionId"]
    assert s3.get_object(Bucket=vbucket, Key="dst")["Body"].read() == b"old source"
    # copying a version onto its own key restores it as the newest
    s3.copy_object(Bucket=vbucket, Key="src", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    assert s3.get_object(Bucket=vbucket, Key="src")["Body"].read() == b"old source"
    dm = s3.delete_object(Bucket=vbucket, Key="src")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=vbucket, Key="x", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": dm})
    assert code(e) == (400, "InvalidRequest")
    parts = [os.urandom(5 * MiB), b"end"]
    versions = []
    for _ in range(2):
        uid = s3.create_multipart_upload(Bucket=vbucket, Key="mp")["UploadId"]
        etags = [s3.upload_part(Bucket=vbucket, Key="mp", UploadId=uid, PartNumber=n, Body=p)["ETag"]
                 for n, p in enumerate(parts, 1)]
        done = s3.complete_multipart_upload(Bucket=vbucket, Key="mp", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
        versions.append(done["VersionId"])
    assert len(set(versions)) == 2
    old = s3.get_object(Bucket=vbucket, Key="mp", VersionId=versions[0])
    assert hashlib.md5(old["Body"].read()).digest() == hashlib.md5(b"".join(parts)).digest()
    assert old["PartsCount"] == 2
    r = s3.upload_part_copy(Bucket=vbucket, Key="mp2", UploadId=s3.create_multipart_upload(
        Bucket=vbucket, Key="mp2")["UploadId"], PartNumber=1, CopySource={"Bucket": vbucket, "Key": "dst",
                                                                          "VersionId": r["VersionId"]})
    assert r["CopySourceVersionId"]
    for up in s3.list_multipart_uploads(Bucket=vbucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=vbucket, Key=up["Key"], UploadId=up["UploadId"])


def test_tagging_and_multi_delete_by_version(s3: Any, vbucket: str) -> None:
    v1 = s3.put_object(Bucket=vbucket, Key="t", Body=b"1", Tagging="gen=1")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="t", Body=b"2", Tagging="gen=2")["VersionId"]
    assert s3.get_object_tagging(Bucket=vbucket, Key="t", VersionId=v1)["TagSet"] == [{"Key": "gen", "Value": "1"}]
    s3.put_object_tagging(Bucket=vbucket, Key="t", VersionId=v1, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=vbucket, Key="t")["TagSet"] == [{"Key": "gen", "Value": "2"}]
    assert s3.get_object_tagging(Bucket=vbucket, Key="t", VersionId=v1)["TagSet"] == [{"Key": "k", "Value": "v"}]
    r = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "t"}, {"Key": "t", "VersionId": v1}]})
    by_version = {d.get("VersionId"): d for d in r["Deleted"]}
    assert by_version[None]["DeleteMarker"] is True and by_version[None]["DeleteMarkerVersionId"]
    assert v1 in by_version and "DeleteMarker" not in by_version[v1]
    lv = s3.list_object_versions(Bucket=vbucket, Prefix="t")
    assert [v["VersionId"] for v in lv["Versions"]] == [v2] and len(lv["DeleteMarkers"]) == 1
