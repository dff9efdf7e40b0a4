"""Buckets made through the CloudStack API are buckets of devcloud's own S3 endpoint: a served instance, an object
storage pool pointing at its S3 port, createBucket as a user, then boto3 (unmodified) with the account's keys puts
and reads objects; the bucket's versioning and public-read policy are the endpoint's; deleteBucket removes it."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
import pytest
from botocore.client import Config
from botocore.exceptions import ClientError

from tests.clients.test_s3_clients import served_s3  # noqa: F401 - a served instance with its S3 port
from tests.conftest import ApiClient, Served

pytestmark = [pytest.mark.clients]


def s3(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


def test_bucket_lifecycle_through_the_api_and_boto3(served_s3: tuple[Served, int]) -> None:  # noqa: F811
    served, port = served_s3
    admin = served.client()
    endpoint = f"http://127.0.0.1:{port}"
    status, err = admin.error("addObjectStoragePool", name="minio", url="http://10.0.0.1:9000", provider="MinIO")
    assert status == 530 and "MinIO" in err["errortext"]
    pool = admin("addObjectStoragePool", name="local-s3", url=endpoint, provider="Simulator")["objectstore"]
    assert pool["providername"] == "Simulator" and pool["url"] == endpoint
    acct = admin.new_account()
    user: ApiClient = admin.client_for(acct)
    assert user("listObjectStoragePools")["objectstore"][0]["id"] == pool["id"]
    status, err = user.error("createBucket", name="Bad_Name", objectstorageid=pool["id"], quota=1)
    assert status == 431 and "Invalid Bucket name" in err["errortext"]
    b = user.run("createBucket", name="cs-bucket-1", objectstorageid=pool["id"], quota=2, versioning=True)["bucket"]
    assert (b["state"], b["quota"], b["versioning"], b["url"]) == ("Created", 2, True, f"{endpoint}/cs-bucket-1")
    assert b["accesskey"] == acct["apikey"] and b["usersecretkey"] == acct["secretkey"]

    c = s3(endpoint, acct["apikey"], acct["secretkey"])
    assert [x["Name"] for x in c.list_buckets()["Buckets"]] == ["cs-bucket-1"]
    assert c.get_bucket_versioning(Bucket="cs-bucket-1")["Status"] == "Enabled"
    c.put_object(Bucket="cs-bucket-1", Key="hello.txt", Body=b"hello devcloud")
    assert c.get_object(Bucket="cs-bucket-1", Key="hello.txt")["Body"].read() == b"hello devcloud"
    listed = user("listBuckets")["bucket"][0]
    assert listed["id"] == b["id"] and listed["size"] == len(b"hello devcloud")
    assert admin("listObjectStoragePools", id=pool["id"])["objectstore"][0]["storageused"] == len(b"hello devcloud")

    # another account neither sees it in the API nor reaches it over S3
    other = admin.new_account()
    assert admin.client_for(other)("listBuckets", listall=True) == {}
    with pytest.raises(ClientError) as exc:
        s3(endpoint, other["apikey"], other["secretkey"]).get_object(Bucket="cs-bucket-1", Key="hello.txt")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"

    # public policy: anonymous reads work; private again: they do not
    anon = f"{endpoint}/cs-bucket-1/hello.txt"
    assert httpx.get(anon).status_code == 403
    assert user("updateBucket", id=b["id"], policy="public", versioning=False)["success"] is True
    assert httpx.get(anon).content == b"hello devcloud"
    assert c.get_bucket_versioning(Bucket="cs-bucket-1")["Status"] == "Suspended"
    user("updateBucket", id=b["id"], policy="private")
    assert httpx.get(anon).status_code == 403

    status, err = user.error("deleteBucket", id=b["id"])
    assert status == 530 and "not empty" in err["errortext"]
    for v in c.list_object_versions(Bucket="cs-bucket-1").get("Versions", []):
        c.delete_object(Bucket="cs-bucket-1", Key=v["Key"], VersionId=v["VersionId"])
    assert user("deleteBucket", id=b["id"])["success"] is True
    assert c.list_buckets()["Buckets"] == [] and user("listBuckets") == {}
    assert admin("deleteObjectStoragePool", id=pool["id"])["success"] is True
