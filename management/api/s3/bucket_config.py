"""Bucket sub-resources: versioning, ACL, policy and its status, public access block, ownership controls, location,
and the configurations devcloud does not keep (their GET answers "none set", as S3 does for a fresh bucket).

Each handler is ``async (app, req) -> (status, headers, body)``; the router has already found the bucket and
decided access (``req.bucket_info``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool

from management.api.s3 import access
from management.api.s3.errors import S3Error
from management.storage import objects as st

if TYPE_CHECKING:
    from management.api.s3.app import Req, S3App

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
Reply = tuple[int, list[tuple[str, str]], Any]
Handler = Callable[["S3App", "Req"], Awaitable[Reply]]
HANDLERS: dict[str, Handler] = {}

# GET of a configuration that is never set here: S3's "not found" answer for each
UNSET = {
    "cors": ("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
    "lifecycle": ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
    "website": ("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
    "tagging": ("NoSuchTagSet", "The TagSet does not exist"),
    "encryption": ("ServerSideEncryptionConfigurationNotFoundError",
                   "The server side encryption configuration was not found"),
    "replication": ("ReplicationConfigurationNotFoundError", "The replication configuration was not found"),
    "object-lock": ("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket"),
}
# GET of a configuration whose unset state is an empty (or default) document
DEFAULT = {
    "logging": "<BucketLoggingStatus xmlns=\"{ns}\"/>",
    "notification": "<NotificationConfiguration xmlns=\"{ns}\"/>",
    "accelerate": "<AccelerateConfiguration xmlns=\"{ns}\"/>",
    "requestPayment": "<RequestPaymentConfiguration xmlns=\"{ns}\"><Payer>BucketOwner</Payer>"
                      "</RequestPaymentConfiguration>",
}


def handler(fn: Handler) -> Handler:
    HANDLERS[fn.__name__] = fn
    return fn


def _xml(body: str) -> Reply:
    return 200, [], (XML_HEAD + body).encode()


def _bucket(req: Req) -> st.Bucket:
    assert req.bucket_info is not None
    return req.bucket_info


async def _set(app: S3App, req: Req, **settings: str | None) -> st.Bucket:
    return await run_in_threadpool(lambda: app.store.set_bucket(req.bucket, **settings))


# ---- location, HEAD ---------------------------------------------------------------------------------------------
@handler
async def head_bucket(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    return 200, [("x-amz-bucket-region", _bucket(req).region)], b""


@handler
async def get_bucket_location(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    region = _bucket(req).region
    return _xml(f'<LocationConstraint xmlns="{NS}">{"" if region == "us-east-1" else escape(region)}'
                "</LocationConstraint>")


# ---- versioning -------------------------------------------------------------------------------------------------
@handler
async def get_bucket_versioning(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    status = _bucket(req).versioning
    inner = f"<Status>{status}</Status>" if status else ""
    return _xml(f'<VersioningConfiguration xmlns="{NS}">{inner}</VersioningConfiguration>')


@handler
async def put_bucket_versioning(app: S3App, req: Req) -> Reply:
    root = await app.xml_body(req)
    if root.tag != "VersioningConfiguration":
        raise S3Error("MalformedXML")
    mfa = root.findtext("MfaDelete")
    if mfa is not None and mfa.strip() not in ("Enabled", "Disabled"):
        raise S3Error("MalformedXML")
    if mfa is not None and mfa.strip() == "Enabled":
        raise S3Error("NotImplemented", "MFA Delete is not supported")
    status = root.findtext("Status")
    if status is None:
        return 200, [], b""
    if status.strip() not in (st.ENABLED, st.SUSPENDED):
        raise S3Error("MalformedXML")
    await _set(app, req, versioning=status.strip())
    return 200, [], b""


# ---- ACL --------------------------------------------------------------------------------------------------------
@handler
async def get_bucket_acl(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    b = _bucket(req)
    acl = access.Acl.load(None if b.ownership == access.BUCKET_OWNER_ENFORCED else b.acl, b.owner, b.owner_name)
    return 200, [], acl.xml(NS).encode()


async def requested_acl(app: S3App, req: Req, owner: str, owner_name: str, bucket: st.Bucket) -> access.Acl:
    """The ACL of a PutBucketAcl/PutObjectAcl: the AccessControlPolicy body, or the x-amz-acl/-grant-* headers."""
    from_headers, _ = access.from_headers(req.headers, owner, owner_name, bucket.owner, bucket.owner_name,
                                          app.accounts)
    body = await app.small_body(req)
    if body.strip():
        if from_headers is not None:
            raise S3Error("UnexpectedContent", "This request does not support content")
        acl = access.from_xml(app.parse_xml(body), owner, owner_name, app.accounts)
    elif from_headers is not None:
        acl = from_headers
    else:
        raise S3Error("MissingSecurityHeader", "Your request was missing a required header",
                      MissingHeaderName="x-amz-acl")
    if bucket.ownership == access.BUCKET_OWNER_ENFORCED and not access.owner_grants(acl.grants, owner):
        raise S3Error("AccessControlListNotSupported")
    if acl.public and access.PublicAccessBlock.load(bucket.pab).block_public_acls:
        raise S3Error("AccessDenied")
    return acl


@handler
async def put_bucket_acl(app: S3App, req: Req) -> Reply:
    b = _bucket(req)
    acl = await requested_acl(app, req, b.owner, b.owner_name, b)
    await _set(app, req, acl=acl.dump(b.owner))
    return 200, [], b""


# ---- policy -----------------------------------------------------------------------------------------------------
def _policy_text(b: st.Bucket) -> str:
    if not b.policy:
        raise S3Error("NoSuchBucketPolicy", BucketName=b.name)
    return b.policy


@handler
async def get_bucket_policy(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    return 200, [("content-type", "application/json")], _policy_text(_bucket(req)).encode("utf-8")


@handler
async def put_bucket_policy(app: S3App, req: Req) -> Reply:
    b = _bucket(req)
    body = await app.small_body(req)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("MalformedPolicy", "This policy contains invalid Json") from None
    policy = await run_in_threadpool(access.Policy.parse, text, b.name, app.accounts)
    if policy.public and access.PublicAccessBlock.load(b.pab).block_public_policy:
        raise S3Error("AccessDenied")
    await _set(app, req, policy=text)
    return 204, [], b""


@handler
async def get_bucket_policy_status(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    b = _bucket(req)
    public = access.Policy.parse(_policy_text(b), b.name).public
    return _xml(f'<PolicyStatus xmlns="{NS}"><IsPublic>{"true" if public else "false"}</IsPublic></PolicyStatus>')


# ---- public access block ----------------------------------------------------------------------------------------
@handler
async def get_public_access_block(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    b = _bucket(req)
    if not b.pab:
        raise S3Error("NoSuchPublicAccessBlockConfiguration", BucketName=b.name)
    return 200, [], access.PublicAccessBlock.load(b.pab).xml(NS).encode()


@handler
async def put_public_access_block(app: S3App, req: Req) -> Reply:
    pab = access.PublicAccessBlock.from_xml(await app.xml_body(req))
    await _set(app, req, pab=pab.dump())
    return 200, [], b""


# ---- ownership controls -----------------------------------------------------------------------------------------
@handler
async def get_ownership_controls(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    b = _bucket(req)
    if not b.ownership:
        raise S3Error("OwnershipControlsNotFoundError", BucketName=b.name)
    return _xml(f'<OwnershipControls xmlns="{NS}"><Rule><ObjectOwnership>{b.ownership}</ObjectOwnership></Rule>'
                "</OwnershipControls>")


def check_ownership(value: str, acl_json: str | None, owner: str, owner_name: str) -> None:
    if value not in access.OWNERSHIP:
        raise S3Error("MalformedXML")
    if value == access.BUCKET_OWNER_ENFORCED and \
            not access.owner_grants(access.Acl.load(acl_json, owner, owner_name).grants, owner):
        raise S3Error("InvalidBucketAclWithObjectOwnership")


@handler
async def put_ownership_controls(app: S3App, req: Req) -> Reply:
    root = await app.xml_body(req)
    rules = root.findall("Rule")
    if root.tag != "OwnershipControls" or len(rules) != 1:
        raise S3Error("MalformedXML")
    value = (rules[0].findtext("ObjectOwnership") or "").strip()
    b = _bucket(req)
    check_ownership(value, b.acl, b.owner, b.owner_name)
    await _set(app, req, ownership=value)
    return 200, [], b""


# ---- DELETE of a kept setting --------------------------------------------------------------------------------------
SETTING_OF = {"policy": "policy", "publicAccessBlock": "pab", "ownershipControls": "ownership"}


@handler
async def delete_bucket_setting(app: S3App, req: Req) -> Reply:
    """DeleteBucketPolicy, DeletePublicAccessBlock, DeleteBucketOwnershipControls (204 whether one was set or not)."""
    await app.no_body(req)
    await _set(app, req, **{SETTING_OF[_sub(req, SETTING_OF)]: None})
    return 204, [], b""


# ---- configurations that are never set ---------------------------------------------------------------------------
def _sub(req: Req, names: dict[str, Any]) -> str:
    return next(k for k in names if k in req.query)


@handler
async def get_unset_config(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    code, message = UNSET[_sub(req, UNSET)]
    raise S3Error(code, message, BucketName=req.bucket)


@handler
async def get_default_config(app: S3App, req: Req) -> Reply:
    await app.no_body(req)
    return _xml(DEFAULT[_sub(req, DEFAULT)].format(ns=NS))


@handler
async def delete_unset_config(app: S3App, req: Req) -> Reply:
    """DELETE of a configuration that is never set: nothing to remove (S3 answers 204 then too)."""
    await app.no_body(req)
    return 204, [], b""
