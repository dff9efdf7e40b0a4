"""S3 access control with boto3 and plain HTTP: ACLs (canned and grants), anonymous requests, bucket policies,
public access block settings and ownership controls. Owners are CloudStack accounts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.test_s3_helpers import Cloud, code, in_process_cloud

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import ClientError  # noqa: E402

pytestmark = pytest.mark.api
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with in_process_cloud(tmp_path_factory.mktemp("s3access")) as c:
        yield c


@pytest.fixture(scope="module")
def s3(cloud: Cloud) -> Any:
    return cloud.client()


@pytest.fixture(scope="module")
def other(cloud: Cloud) -> tuple[dict[str, str], Any]:
    acct = cloud.integration.new_account()
    return acct, cloud.client(acct["apikey"], acct["secretkey"])


@pytest.fixture(scope="module")
def owner_id(s3: Any) -> str:
    return s3.list_buckets()["Owner"]["ID"]  # type: ignore[no-any-return]


@pytest.fixture
def bucket(s3: Any) -> str:
    name = "acc-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    return name



def anon(cloud: Cloud, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{cloud.endpoint}/{path}", timeout=10, **kw)


def grants(acl: dict[str, Any]) -> set[tuple[str, str]]:
    return {(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in acl["Grants"]}


def test_anonymous_reads_what_a_public_read_acl_grants_and_nothing_else(cloud: Cloud, s3: Any, bucket: str,
                                                                        owner_id: str) -> None:
    s3.put_object(Bucket=bucket, Key="pub", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="priv", Body=b"secret")
    r = anon(cloud, "GET", f"{bucket}/pub")
    assert r.status_code == 200 and r.content == b"hello"
    assert anon(cloud, "HEAD", f"{bucket}/pub").status_code == 200
    r = anon(cloud, "GET", f"{bucket}/priv")
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content
    r = anon(cloud, "GET", f"{bucket}/missing")  # no ListBucket: S3 does not tell that the key is missing
    assert r.status_code == 403
    for method, path in (("GET", bucket), ("PUT", f"{bucket}/new"), ("DELETE", f"{bucket}/pub"), ("GET", ""),
                         ("PUT", f"anon-{os.urandom(3).hex()}"), ("GET", f"{bucket}/pub?acl")):
        assert anon(cloud, method, path, content=b"x" if method == "PUT" else None).status_code == 403, (method,
                                                                                                      path)
    assert grants(s3.get_object_acl(Bucket=bucket, Key="pub")) == {(owner_id, "FULL_CONTROL"), (ALL_USERS, "READ")}
    assert grants(s3.get_object_acl(Bucket=bucket, Key="priv")) == {(owner_id, "FULL_CONTROL")}
    s3.put_object_acl(Bucket=bucket, Key="pub", ACL="private")
    assert anon(cloud, "GET", f"{bucket}/pub").status_code == 403


def test_bucket_acls_canned_and_granted(cloud: Cloud, s3: Any, other: tuple[dict[str, str], Any],
                                        owner_id: str) -> None:
    acct, o = other
    name = "pubrw-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name, ACL="public-read-write")
    assert grants(s3.get_bucket_acl(Bucket=name)) == {(owner_id, "FULL_CONTROL"), (ALL_USERS, "READ"),
                                                      (ALL_USERS, "WRITE")}
    assert anon(cloud, "PUT", f"{name}/dropped", content=b"from nobody").status_code == 200
    listing = anon(cloud, "GET", f"{name}?list-type=2")
    assert listing.status_code == 200 and b"<Key>dropped</Key>" in listing.content
    # what an anonymous writer puts belongs to nobody: the bucket owner cannot read it (S3's ObjectWriter rule)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=name, Key="dropped")
    assert code(e) == (403, "AccessDenied")
    s3.delete_object(Bucket=name, Key="dropped")  # but may delete it (WRITE on its bucket)
    # grants by account: the other account may list and read ACLs, nothing else
    s3.put_bucket_acl(Bucket=name, GrantRead=f'id="{acct["id"]}"', GrantReadACP=f"id={acct['id']}",
                      GrantFullControl=f'id="{owner_id}"')
    assert anon(cloud, "GET", f"{name}?list-type=2").status_code == 403
    assert "Contents" not in o.list_objects_v2(Bucket=name)
    assert (acct["id"], "READ") in grants(o.get_bucket_acl(Bucket=name))
    with pytest.raises(ClientError) as e:
        o.put_object(Bucket=name, Key="x", Body=b"x")
    assert code(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=name, GrantRead='id="no-such-account"')
    assert code(e) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=name, ACL="private", GrantRead=f'id="{owner_id}"')
    assert code(e) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:  # ExpectedBucketOwner guards against writing into someone else's bucket
        s3.list_objects_v2(Bucket=name, ExpectedBucketOwner=acct["id"])
    assert code(e) == (403, "AccessDenied")
    s3.list_objects_v2(Bucket=name, ExpectedBucketOwner=owner_id)
    # the AccessControlPolicy document form, as awscli's --access-control-policy sends it
    policy = s3.get_bucket_acl(Bucket=name)
    policy["Grants"].append({"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ"})
    s3.put_bucket_acl(Bucket=name, AccessControlPolicy={"Grants": policy["Grants"], "Owner": policy["Owner"]})
    assert (AUTHENTICATED, "READ") in grants(s3.get_bucket_acl(Bucket=name))
    s3.delete_bucket(Bucket=name)


def test_cross_account_object_acls_copy_and_multipart(cloud: Cloud, s3: Any, other: tuple[dict[str, str], Any],
                                                      bucket: str, owner_id: str) -> None:
    acct, o = other
    s3.put_object(Bucket=bucket, Key="shared", Body=b"for you", GrantRead=f'id="{acct["id"]}"')
    assert o.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"for you"
    with pytest.raises(ClientError) as e:
        o.get_object_acl(Bucket=bucket, Key="shared")
    assert code(e) == (403, "AccessDenied")
    mine = "theirs-" + os.urandom(3).hex()
    o.create_bucket(Bucket=mine)
    o.copy_object(Bucket=mine, Key="copied", CopySource={"Bucket": bucket, "Key": "shared"})
    assert o.get_object(Bucket=mine, Key="copied")["Body"].read() == b"for you"
    # canned ACLs on copy and on multipart uploads
    s3.copy_object(Bucket=bucket, Key="pubcopy", CopySource={"Bucket": bucket, "Key": "shared"}, ACL="public-read")
    assert anon(cloud, "GET", f"{bucket}/pubcopy").content == b"for you"
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pubmp", ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="pubmp", UploadId=uid, PartNumber=1, Body=b"mp")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="pubmp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert anon(cloud, "GET", f"{bucket}/pubmp").content == b"mp"
    # an object the other account writes into a bucket it may write to is its own, unless it hands it over
    s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{acct["id"]}"', GrantFullControl=f'id="{owner_id}"')
    o.put_object(Bucket=bucket, Key="by-other", Body=b"o")
    o.put_object(Bucket=bucket, Key="handed-over", Body=b"h", ACL="bucket-owner-full-control")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="by-other")
    assert code(e) == (403, "AccessDenied")
    assert s3.get_object(Bucket=bucket, Key="handed-over")["Body"].read() == b"h"
    owners = {c["Key"]: c["Owner"]["ID"] for c in s3.list_objects(Bucket=bucket)["Contents"]}
    assert owners["by-other"] == acct["id"] and owners["shared"] == owner_id


def test_public_read_policy(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="site/index.html", Body=b"<h1>hi</h1>")
    s3.put_object(Bucket=bucket, Key="private/key", Body=b"no")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/site/*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket",
         "Resource": f"arn:aws:s3:::{bucket}", "Condition": {"StringLike": {"s3:prefix": "site/*"}}}]}
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(e) == (404, "NoSuchBucketPolicy")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    r = anon(cloud, "GET", f"{bucket}/site/index.html")
    assert r.status_code == 200 and r.content == b"<h1>hi</h1>"
    assert anon(cloud, "GET", f"{bucket}/private/key").status_code == 403
    assert anon(cloud, "GET", f"{bucket}?list-type=2&prefix=site/").status_code == 200
    assert anon(cloud, "GET", f"{bucket}?list-type=2").status_code == 403
    assert anon(cloud, "GET", f"{bucket}/site/missing").status_code == 403  # no ListBucket without the prefix
    policy["Statement"][1].pop("Condition")  # who may list the bucket is told that a key is missing
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    r = anon(cloud, "GET", f"{bucket}/site/missing")
    assert r.status_code == 404 and b"<Code>NoSuchKey</Code>" in r.content
    s3.delete_bucket_policy(Bucket=bucket)
    assert anon(cloud, "GET", f"{bucket}/site/index.html").status_code == 403


def test_explicit_deny_wins_and_conditions(cloud: Cloud, s3: Any, bucket: str,
                                           other: tuple[dict[str, str], Any]) -> None:
    acct, o = other
    s3.put_object(Bucket=bucket, Key="k", Body=b"v", ACL="public-read")
    policy = {"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/k",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct['id']}:root"},
         "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], "Resource": f"arn:aws:s3:::{bucket}/drop/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    # loopback is not in 10/8: the deny applies to everyone, the owner included, whatever the ACL says
    assert anon(cloud, "GET", f"{bucket}/k").status_code == 403
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert code(e) == (403, "AccessDenied")
    o.put_object(Bucket=bucket, Key="drop/file", Body=b"from the other account")
    assert o.get_object(Bucket=bucket, Key="drop/file")["Body"].read() == b"from the other account"
    with pytest.raises(ClientError) as e:
        o.put_object(Bucket=bucket, Key="elsewhere", Body=b"x")
    assert code(e) == (403, "AccessDenied")
    r = o.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "drop/file"}, {"Key": "k"}]})  # per key
    assert [d["Key"] for d in r["Deleted"]] == ["drop/file"]
    assert [(x["Key"], x["Code"]) for x in r["Errors"]] == [("k", "AccessDenied")]
    s3.delete_bucket_policy(Bucket=bucket)  # the owner can always remove a policy that locks it out
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


@pytest.mark.parametrize("statement,message", [
    ({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"},
     "Policy has invalid resource"),
    ({"Effect": "Allow", "Principal": "*", "Action": "s3:Fly", "Resource": "arn:aws:s3:::{b}/*"},
     "Policy has invalid action"),
    ({"Effect": "Allow", "Principal": {"AWS": "nobody-at-all"}, "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::{b}/*"}, "Invalid principal in policy"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}/*"},
     "Missing required field Principal"),
    ({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}"},
     "Action does not apply to any resource(s) in statement"),
])
def test_malformed_policies(s3: Any, bucket: str, statement: dict[str, Any], message: str) -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": [statement]}).replace("{b}", bucket)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    assert code(e) == (400, "MalformedPolicy") and e.value.response["Error"]["Message"] == message


def test_public_access_block(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="pub", Body=b"p", ACL="public-read")
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert code(e) == (404, "NoSuchPublicAccessBlockConfiguration")
    cfg = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
           "RestrictPublicBuckets": True}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=cfg)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == cfg
    assert anon(cloud, "GET", f"{bucket}/pub").status_code == 403  # IgnorePublicAcls
    with pytest.raises(ClientError) as e:  # BlockPublicAcls
        s3.put_object(Bucket=bucket, Key="pub2", Body=b"p", ACL="public-read")
    assert code(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert code(e) == (403, "AccessDenied")
    public = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                        "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    with pytest.raises(ClientError) as e:  # BlockPublicPolicy
        s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert code(e) == (403, "AccessDenied")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**cfg, "BlockPublicPolicy": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert anon(cloud, "GET", f"{bucket}/pub").status_code == 403  # RestrictPublicBuckets
    s3.delete_public_access_block(Bucket=bucket)
    assert anon(cloud, "GET", f"{bucket}/pub").status_code == 200
    s3.head_bucket(Bucket=bucket)


def test_ownership_controls(cloud: Cloud, s3: Any, other: tuple[dict[str, str], Any], owner_id: str) -> None:
    acct, o = other
    name = "own-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    assert code(e) == (400, "AccessControlListNotSupported")
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=name, ACL="public-read")
    assert code(e) == (400, "AccessControlListNotSupported")
    s3.delete_bucket_ownership_controls(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket=name)
    assert code(e) == (404, "OwnershipControlsNotFoundError")
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert code(e) == (400, "InvalidBucketAclWithObjectOwnership")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
