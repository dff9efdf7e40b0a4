"""S3 answers as S3 does, per item of issue 20 (boto3 and hand-made requests against the served app):
no operation removes a bucket but DeleteBucket, and the status codes and fields clients rely on."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from tests.api.test_s3_helpers import REGION, Cloud, code, dummy, in_process_cloud, s3_model

boto3 = pytest.importorskip("boto3")
from botocore import xform_name  # noqa: E402
from botocore.auth import HmacV1Auth, SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

pytestmark = pytest.mark.api
MiB = 1 << 20


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with in_process_cloud(tmp_path_factory.mktemp("s3fidelity")) as c:
        yield c


@pytest.fixture(scope="module")
def s3(cloud: Cloud) -> Any:
    return cloud.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = "fid-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    return name



def signed(cloud: Cloud, method: str, url: str, headers: dict[str, str], body: bytes = b"") -> dict[str, str]:
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(cloud.admin["apikey"], cloud.admin["secretkey"]), "s3", REGION).add_auth(req)
    return dict(req.headers.items())


# ------------------------------------------------------------------------------------------------ routing

def test_no_operation_of_the_model_removes_a_bucket_or_fails_with_500(cloud: Cloud) -> None:
    """Every S3 operation botocore knows, called with its required parameters on an empty bucket: an answer
    (success, an S3 error or 501), never a 500, and the bucket is still there unless the call was DeleteBucket.
    On the old router DELETE ?publicAccessBlock, ?ownershipControls, ?metrics, ?analytics, ?replication
    deleted the bucket."""
    raw = cloud.client(parameter_validation=False, inject_host_prefix=False)
    name = "walk-" + os.urandom(3).hex()
    raw.create_bucket(Bucket=name)
    answers: dict[str, int] = {}
    for op_name in s3_model().operation_names:
        if op_name in ("DeleteBucket", "CreateBucket", "WriteGetObjectResponse", "SelectObjectContent"):
            continue
        op = s3_model().operation_model(op_name)
        params = dummy(op.input_shape) if op.input_shape is not None else {}
        if "Bucket" in params:
            params["Bucket"] = name
        if "CopySource" in params:
            params["CopySource"] = f"{name}/k"
        try:
            r = getattr(raw, xform_name(op_name))(**params)
            status = r["ResponseMetadata"]["HTTPStatusCode"]
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        answers[op_name] = status
        assert status != 500, op_name
        raw.head_bucket(Bucket=name)  # still there
    for sub in ("delete_public_access_block", "delete_bucket_ownership_controls", "delete_bucket_replication"):
        assert answers["".join(w.title() for w in sub.split("_"))] in (204, 404), sub
    assert answers["DeleteBucketMetricsConfiguration"] == 501 and answers["PutBucketCors"] == 501
    for o in raw.list_object_versions(Bucket=name).get("Versions", []):
        raw.delete_object(Bucket=name, Key=o["Key"], VersionId=o["VersionId"])
    for up in raw.list_multipart_uploads(Bucket=name).get("Uploads", []):
        raw.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    raw.delete_bucket(Bucket=name)


def test_a_sub_resource_delete_the_method_lacks_is_405_and_keeps_the_bucket(cloud: Cloud, s3: Any,
                                                                            bucket: str) -> None:
    for sub in ("acl", "versioning", "uploads", "location", "policyStatus"):
        url = f"{cloud.endpoint}/{bucket}?{sub}"
        r = httpx.delete(url, headers=signed(cloud, "DELETE", url, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}))
        assert r.status_code == 405 and b"<Code>MethodNotAllowed</Code>" in r.content, (sub, r.text)
        s3.head_bucket(Bucket=bucket)


# ------------------------------------------------------------------------------------------------ status codes

def test_part_number_beyond_the_parts_is_invalid_part(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="single", Body=b"one part")
    assert s3.get_object(Bucket=bucket, Key="single", PartNumber=1)["Body"].read() == b"one part"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="single", PartNumber=2)
    assert code(e) == (400, "InvalidPart")


def test_recreating_your_own_bucket_in_us_east_1_is_200(s3: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    r = s3.create_bucket(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]  # and its ACL is reset
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]


def test_a_second_complete_of_the_same_upload_answers_the_same(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"only part")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    first = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload=parts)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200 and again["ETag"] == first["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="other", UploadId=uid, MultipartUpload=parts)
    assert code(e) == (404, "NoSuchUpload")


def test_not_modified_carries_the_etag(cloud: Cloud, s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"cond")["ETag"]
    url = f"{cloud.endpoint}/{bucket}/c"
    r = httpx.get(url, headers=signed(cloud, "GET", url, {"If-None-Match": etag,
                                                          "X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()}))
    assert r.status_code == 304 and r.headers["etag"] == etag and r.headers["last-modified"] and not r.content


def test_conditional_put(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch='"00000000000000000000000000000000"')
    assert code(e) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfNoneMatch="*")
    assert code(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=etag)
    assert code(e) == (404, "NoSuchKey")
    s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"


def test_list_objects_v1_sends_the_prefix_as_given(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a b/c+d", Body=b"")
    r = s3.list_objects(Bucket=bucket, Prefix="a b/")  # boto3 asks encoding-type=url and decodes what S3 encodes
    assert r["Prefix"] == "a b/" and [o["Key"] for o in r["Contents"]] == ["a b/c+d"]
    r2 = s3.list_objects_v2(Bucket=bucket, Prefix="a b/")
    assert r2["Prefix"] == "a b/" and [o["Key"] for o in r2["Contents"]] == ["a b/c+d"]


def test_non_ascii_metadata_signs_and_comes_back_mime_encoded(cloud: Cloud, s3: Any, bucket: str) -> None:
    """curl and most SDKs send UTF-8 header bytes and sign those bytes; S3 returns the value RFC 2047-encoded."""
    url = f"{cloud.endpoint}/{bucket}/meta"
    body = b"x"
    value = "caf\u00e9 \u2713"
    headers = signed(cloud, "PUT", url, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),
                                          "X-Amz-Meta-Note": value}, body)
    raw = [(k.encode(), v.encode("utf-8") if isinstance(v, str) else v) for k, v in headers.items()]
    r = httpx.put(url, headers=raw, content=body)
    assert r.status_code == 200, r.text
    got = s3.head_object(Bucket=bucket, Key="meta")["Metadata"]["note"]
    assert got == "=?UTF-8?B?" + base64.b64encode(value.encode()).decode() + "?="


def test_content_encoding_is_kept_verbatim(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="enc", Body=b"x", ContentEncoding="deflate, gzip")
    assert s3.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"


def test_list_buckets_pages_with_max_buckets(cloud: Cloud) -> None:
    other = cloud.integration.new_account()
    c = cloud.client(other["apikey"], other["secretkey"])
    names = sorted(f"lb-{i}-{os.urandom(2).hex()}" for i in range(5))
    for n in names:
        c.create_bucket(Bucket=n)
    r = c.list_buckets(MaxBuckets=2)
    assert [b["Name"] for b in r["Buckets"]] == names[:2] and r["ContinuationToken"]
    seen = [b["Name"] for page in c.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 2})
            for b in page["Buckets"]]
    assert seen == names
    assert [b["Name"] for b in c.list_buckets(Prefix=names[3][:5])["Buckets"]] == [names[3]]
    url = f"{cloud.endpoint}/?max-buckets=0"
    r = httpx.get(url, headers=signed(cloud, "GET", url, {"X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()}))
    assert r.status_code == 400 and b"<Code>InvalidArgument</Code>" in r.content


def test_upload_part_copy_past_the_end_is_invalid_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=5-10")
    assert code(e) == (416, "InvalidRange")
    r = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=5-9")
    assert r["CopyPartResult"]["ETag"] == f'"{hashlib.md5(b"56789").hexdigest()}"'
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid)


def test_empty_content_md5_is_invalid_digest(cloud: Cloud, bucket: str) -> None:
    url = f"{cloud.endpoint}/{bucket}/md5"
    body = b"hello"
    headers = signed(cloud, "PUT", url, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),
                                          "Content-MD5": ""}, body)
    r = httpx.put(url, headers=headers, content=body)
    assert r.status_code == 400 and b"<Code>InvalidDigest</Code>" in r.content


def _raw_exchange(endpoint: str, request: bytes) -> bytes:
    host, port = endpoint.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        out = b""
        while b"</Error>" not in out and b"\r\n\r\n" not in out.split(b"<?xml")[0][-4:]:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def test_content_length_below_the_body_is_bad_digest(cloud: Cloud, bucket: str) -> None:
    """The server reads Content-Length bytes: their MD5 is not the Content-MD5 of the whole body. The bytes
    after them are no request: the connection closes once the answer is out."""
    body = b"hello world"
    url = f"{cloud.endpoint}/{bucket}/short"
    headers = signed(cloud, "PUT", url, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
                                          "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()},
                     body)
    headers["Content-Length"] = "5"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host")
    port = cloud.endpoint.rsplit(":", 1)[1]
    reply = _raw_exchange(cloud.endpoint, f"PUT /{bucket}/short HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n"
                          .encode() + body)
    assert reply.startswith(b"HTTP/1.1 400") and b"<Code>BadDigest</Code>" in reply, reply[:600]


@pytest.mark.parametrize("amz_date", ["", formatdate(-631152000.0, usegmt=True)])  # empty, 1950
def test_sigv2_with_an_empty_or_pre_epoch_amz_date_is_access_denied(cloud: Cloud, bucket: str,
                                                                     amz_date: str) -> None:
    url = f"{cloud.endpoint}/{bucket}/v2"
    req = AWSRequest(method="PUT", url=url, data=b"x", headers={"x-amz-date": amz_date})
    HmacV1Auth(Credentials(cloud.admin["apikey"], cloud.admin["secretkey"])).add_auth(req)
    headers = dict(req.headers.items())
    headers["x-amz-date"] = amz_date  # the signer replaces it with now
    r = httpx.put(url, headers=headers, content=b"x")
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content, r.text


def test_get_object_attributes(s3: Any, bucket: str) -> None:
    data = os.urandom(3000)
    r = s3.put_object(Bucket=bucket, Key="attr", Body=data, ChecksumAlgorithm="SHA256")
    got = s3.get_object_attributes(Bucket=bucket, Key="attr",
                                   ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"])
    assert got["ETag"] == hashlib.md5(data).hexdigest() and got["ObjectSize"] == 3000
    assert got["Checksum"]["ChecksumSHA256"] == r["ChecksumSHA256"] and got["StorageClass"] == "STANDARD"
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mpa")["UploadId"]
    p1, p2 = os.urandom(5 * MiB), b"tail"
    e1 = s3.upload_part(Bucket=bucket, Key="mpa", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mpa", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mpa", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    parts = s3.get_object_attributes(Bucket=bucket, Key="mpa", ObjectAttributes=["ObjectParts"], MaxParts=1)
    op = parts["ObjectParts"]
    assert op["TotalPartsCount"] == 2 and op["IsTruncated"] and [p["Size"] for p in op["Parts"]] == [5 * MiB]
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])
    assert code(e) == (404, "NoSuchKey")


def test_request_time_checks_still_apply(cloud: Cloud, bucket: str) -> None:
    url = f"{cloud.endpoint}/{bucket}/v2"
    req = AWSRequest(method="GET", url=url, headers={"x-amz-date": formatdate(time.time() - 3600, usegmt=True)})
    HmacV1Auth(Credentials(cloud.admin["apikey"], cloud.admin["secretkey"])).add_auth(req)
    headers = dict(req.headers.items())
    headers["x-amz-date"] = formatdate(time.time() - 3600, usegmt=True)
    r = httpx.get(url, headers=headers)
    assert r.status_code == 403 and re.search(rb"<Code>(RequestTimeTooSkewed|SignatureDoesNotMatch)</Code>",
                                              r.content)
