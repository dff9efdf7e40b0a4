"""S3 access control: ACLs (canned, grant headers, AccessControlPolicy XML), bucket policies (the common subset),
public access block settings, and the decision for one request.

Owners and grantees are CloudStack accounts: the canonical user id is the account's uuid and the display name
its name. A policy principal is ``*``, an account uuid, ``arn:aws:iam::<uuid>:root`` or ``{"CanonicalUser": uuid}``.
The decision follows S3's order: an explicit Deny in the bucket policy wins; otherwise an Allow in the policy, the
owner's own rights, or an ACL grant admits the request; anything else is denied. Written from the S3 user guide
(acl-overview, access-policy-language-overview, access-control-block-public-access).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from management.api.s3.errors import S3Error

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
PERMISSIONS = ("FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP")
CANNED = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read",
          "bucket-owner-full-control", "log-delivery-write")
GRANT_HEADERS = {"x-amz-grant-read": "READ", "x-amz-grant-write": "WRITE", "x-amz-grant-read-acp": "READ_ACP",
                 "x-amz-grant-write-acp": "WRITE_ACP", "x-amz-grant-full-control": "FULL_CONTROL"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ANONYMOUS = "anonymous"  # the owner of what an unauthenticated request writes
BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
OWNERSHIP = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")

# What each ACL permission allows, on a bucket and on an object (S3 user guide, "ACL permissions").
BUCKET_ACL_ACTIONS = {
    "READ": {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"},
    "WRITE": {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload"},
    "READ_ACP": {"s3:GetBucketAcl"},
    "WRITE_ACP": {"s3:PutBucketAcl"},
}
OBJECT_ACL_ACTIONS = {
    "READ": {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes",
             "s3:GetObjectTorrent"},
    "READ_ACP": {"s3:GetObjectAcl", "s3:GetObjectVersionAcl"},
    "WRITE_ACP": {"s3:PutObjectAcl", "s3:PutObjectVersionAcl"},
    "WRITE": set(),
}

# Bucket-policy actions S3 knows, by the kind of resource they act on (Service Authorization Reference, S3).
OBJECT_ACTIONS = frozenset(f"s3:{a}" for a in [
    "AbortMultipartUpload", "DeleteObject", "DeleteObjectTagging", "DeleteObjectVersion",
    "DeleteObjectVersionTagging", "GetObject", "GetObjectAcl", "GetObjectAttributes", "GetObjectLegalHold",
    "GetObjectRetention", "GetObjectTagging", "GetObjectTorrent", "GetObjectVersion", "GetObjectVersionAcl",
    "GetObjectVersionAttributes", "GetObjectVersionForReplication", "GetObjectVersionTagging",
    "GetObjectVersionTorrent", "ListMultipartUploadParts", "PutObject", "PutObjectAcl", "PutObjectLegalHold",
    "PutObjectRetention", "PutObjectTagging", "PutObjectVersionAcl", "PutObjectVersionTagging", "ReplicateDelete",
    "ReplicateObject", "ReplicateTags", "RestoreObject", "BypassGovernanceRetention",
    "ObjectOwnerOverrideToBucketOwner"])
BUCKET_ACTIONS = frozenset(f"s3:{a}" for a in [
    "CreateBucket", "DeleteBucket", "DeleteBucketPolicy", "DeleteBucketWebsite",
    "GetAccelerateConfiguration", "GetAnalyticsConfiguration", "GetBucketAcl", "GetBucketCORS", "GetBucketLocation",
    "GetBucketLogging", "GetBucketNotification", "GetBucketObjectLockConfiguration", "GetBucketOwnershipControls",
    "GetBucketPolicy", "GetBucketPolicyStatus", "GetBucketPublicAccessBlock", "GetBucketRequestPayment",
    "GetBucketTagging", "GetBucketVersioning", "GetBucketWebsite", "GetEncryptionConfiguration",
    "GetIntelligentTieringConfiguration", "GetInventoryConfiguration", "GetLifecycleConfiguration",
    "GetMetricsConfiguration", "GetReplicationConfiguration", "ListBucket", "ListBucketMultipartUploads",
    "ListBucketVersions", "PutAccelerateConfiguration", "PutAnalyticsConfiguration", "PutBucketAcl", "PutBucketCORS",
    "PutBucketLogging", "PutBucketNotification", "PutBucketObjectLockConfiguration", "PutBucketOwnershipControls",
    "PutBucketPolicy", "PutBucketPublicAccessBlock", "PutBucketRequestPayment", "PutBucketTagging",
    "PutBucketVersioning", "PutBucketWebsite", "PutEncryptionConfiguration", "PutIntelligentTieringConfiguration",
    "PutInventoryConfiguration", "PutLifecycleConfiguration", "PutMetricsConfiguration",
    "PutReplicationConfiguration", "GetBucketMetadataTableConfiguration", "CreateBucketMetadataTableConfiguration",
    "DeleteBucketMetadataTableConfiguration", "GetBucketABAC", "PutBucketABAC",
    "UpdateBucketMetadataJournalTableConfiguration", "UpdateBucketMetadataInventoryTableConfiguration",
    "GetBucketDefaultStorageClass", "PutBucketDefaultStorageClass"])
ACCOUNT_ACTIONS = frozenset({"s3:ListAllMyBuckets", "s3express:CreateSession"})
KNOWN_ACTIONS = OBJECT_ACTIONS | BUCKET_ACTIONS

# version-specific action of an object action when the request names a version
VERSIONED_ACTION = {
    "s3:GetObject": "s3:GetObjectVersion", "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl", "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging", "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}


def arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


# ------------------------------------------------------------------------------------------------ ACLs

@dataclass(frozen=True, slots=True)
class Grant:
    kind: str  # "CanonicalUser" or "Group"
    id: str  # account uuid, or the group's URI
    name: str  # display name of an account ("" for groups)
    perm: str

    def matches(self, principal: str | None, ignore_public: bool) -> bool:
        if self.kind == "CanonicalUser":
            return principal is not None and self.id == principal
        if ignore_public:
            return False
        return self.id == ALL_USERS or (self.id == AUTHENTICATED_USERS and principal is not None)

    @property
    def public(self) -> bool:
        return self.kind == "Group" and self.id in (ALL_USERS, AUTHENTICATED_USERS)


@dataclass(frozen=True, slots=True)
class Acl:
    owner: str
    owner_name: str
    grants: tuple[Grant, ...] = ()

    @classmethod
    def private(cls, owner: str, owner_name: str) -> Acl:
        return cls(owner, owner_name, (Grant("CanonicalUser", owner, owner_name, "FULL_CONTROL"),))

    @classmethod
    def load(cls, text: str | None, owner: str, owner_name: str) -> Acl:
        """The stored JSON, or (None) the default: the given owner, private."""
        if not text:
            return cls.private(owner, owner_name)
        d = json.loads(text)
        return cls(d["o"][0], d["o"][1], tuple(Grant(*g) for g in d["g"]))

    def dump(self, default_owner: str) -> str | None:
        """JSON for the store; None when the ACL is the default (``default_owner``'s, private)."""
        if self == Acl.private(self.owner, self.owner_name) and self.owner == default_owner:
            return None
        return json.dumps({"o": [self.owner, self.owner_name],
                           "g": [[g.kind, g.id, g.name, g.perm] for g in self.grants]}, separators=(",", ":"))

    @property
    def public(self) -> bool:
        return any(g.public for g in self.grants)

    def allows(self, principal: str | None, action: str, table: Mapping[str, set[str]], ignore_public: bool) -> bool:
        for g in self.grants:
            if g.matches(principal, ignore_public) and (g.perm == "FULL_CONTROL" or action in table.get(g.perm, ())):
                return True
        return False

    def xml(self, ns: str) -> str:
        grants = []
        for g in self.grants:
            if g.kind == "CanonicalUser":
                who = f"<ID>{escape(g.id)}</ID><DisplayName>{escape(g.name)}</DisplayName>"
            else:
                who = f"<URI>{escape(g.id)}</URI>"
            grants.append(f'<Grant><Grantee xmlns:xsi="{XSI}" xsi:type="{g.kind}">{who}</Grantee>'
                          f"<Permission>{g.perm}</Permission></Grant>")
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="{ns}"><Owner><ID>'
                f"{escape(self.owner)}</ID><DisplayName>{escape(self.owner_name)}</DisplayName></Owner>"
                f"<AccessControlList>{''.join(grants)}</AccessControlList></AccessControlPolicy>")


def canned(name: str, owner: str, owner_name: str, bucket_owner: str = "", bucket_owner_name: str = "") -> Acl:
    """The grants a canned ACL stands for (S3 user guide, "Canned ACL")."""
    if name not in CANNED:
        raise S3Error("InvalidArgument", None, ArgumentName="x-amz-acl", ArgumentValue=name)
    grants = [Grant("CanonicalUser", owner, owner_name, "FULL_CONTROL")]
    if name == "public-read":
        grants.append(Grant("Group", ALL_USERS, "", "READ"))
    elif name == "public-read-write":
        grants += [Grant("Group", ALL_USERS, "", "READ"), Grant("Group", ALL_USERS, "", "WRITE")]
    elif name == "authenticated-read":
        grants.append(Grant("Group", AUTHENTICATED_USERS, "", "READ"))
    elif name == "log-delivery-write":
        grants += [Grant("Group", LOG_DELIVERY, "", "WRITE"), Grant("Group", LOG_DELIVERY, "", "READ_ACP")]
    elif name in ("bucket-owner-read", "bucket-owner-full-control") and bucket_owner and bucket_owner != owner:
        perm = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
        grants.append(Grant("CanonicalUser", bucket_owner, bucket_owner_name, perm))
    return Acl(owner, owner_name, tuple(grants))


AccountLookup = Callable[[str], "str | None"]  # account uuid -> display name (None: no such account)

_GRANTEE_RE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*("([^"]*)"|[^,\s]+)\s*(,|$)', re.IGNORECASE)


def _grantee(kind: str, value: str, accounts: AccountLookup | None) -> tuple[str, str, str]:
    kind = kind.lower()
    if kind == "emailaddress":
        raise S3Error("UnresolvableGrantByEmailAddress", "The e-mail address you provided does not match any "
                      "account on record.", EmailAddress=value)
    if kind == "uri":
        if value not in GROUPS:
            raise S3Error("InvalidArgument", "Invalid group uri", ArgumentName="uri", ArgumentValue=value)
        return "Group", value, ""
    name = accounts(value) if accounts is not None else value
    if name is None:
        raise S3Error("InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=value)
    return "CanonicalUser", value, name


def from_headers(headers: Mapping[str, list[str]], owner: str, owner_name: str, bucket_owner: str,
                 bucket_owner_name: str, accounts: AccountLookup | None) -> tuple[Acl | None, str | None]:
    """(ACL, canned name) from x-amz-acl or x-amz-grant-* headers; (None, None) when the request has neither."""
    canned_name = (headers.get("x-amz-acl") or [""])[0].strip()
    grant_values = {h: ",".join(headers[h]) for h in GRANT_HEADERS if h in headers}
    if canned_name and grant_values:
        raise S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    if canned_name:
        return canned(canned_name, owner, owner_name, bucket_owner, bucket_owner_name), canned_name
    if not grant_values:
        return None, None
    grants = []
    for header, value in grant_values.items():
        pos = 0
        value = value.strip()
        while pos < len(value):
            m = _GRANTEE_RE.match(value, pos)
            if m is None:
                raise S3Error("InvalidArgument", "Invalid grantee in the grant header", ArgumentName=header,
                              ArgumentValue=value)
            kind, gid, name = _grantee(m.group(1), m.group(3) if m.group(3) is not None else m.group(2), accounts)
            grants.append(Grant(kind, gid, name, GRANT_HEADERS[header]))
            pos = m.end()
    return Acl(owner, owner_name, tuple(grants)), None


def from_xml(root: Any, owner: str, owner_name: str, accounts: AccountLookup | None) -> Acl:
    """An AccessControlPolicy document (namespaces already stripped from tags)."""
    if root.tag != "AccessControlPolicy" or root.find("AccessControlList") is None:
        raise S3Error("MalformedACLError")
    doc_owner = (root.findtext("Owner/ID") or "").strip()
    if doc_owner and doc_owner != owner:
        raise S3Error("AccessDenied")
    grants = []
    for g in root.findall("AccessControlList/Grant"):
        grantee = g.find("Grantee")
        perm = (g.findtext("Permission") or "").strip()
        if grantee is None or perm not in PERMISSIONS:
            raise S3Error("MalformedACLError")
        kind = grantee.get(f"{{{XSI}}}type") or grantee.get("type") or ""
        if kind == "CanonicalUser":
            value = (grantee.findtext("ID") or "").strip()
            grants.append(Grant(*_grantee("id", value, accounts), perm))
        elif kind == "Group":
            grants.append(Grant(*_grantee("uri", (grantee.findtext("URI") or "").strip(), accounts), perm))
        elif kind == "AmazonCustomerByEmail":
            _grantee("emailAddress", (grantee.findtext("EmailAddress") or "").strip(), accounts)
        else:
            raise S3Error("MalformedACLError")
    if len(grants) > 100:
        raise S3Error("MalformedACLError", "The request contains more than 100 grants")
    return Acl(owner, owner_name, tuple(grants))


# ------------------------------------------------------------------------------------------------ public access block

PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    @classmethod
    def load(cls, text: str | None) -> PublicAccessBlock:
        return cls(*json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps([self.block_public_acls, self.ignore_public_acls, self.block_public_policy,
                           self.restrict_public_buckets])

    @classmethod
    def from_xml(cls, root: Any) -> PublicAccessBlock:
        if root.tag != "PublicAccessBlockConfiguration":
            raise S3Error("MalformedXML")
        values = []
        for name in PAB_FIELDS:
            text = (root.findtext(name) or "false").strip().lower()
            if text not in ("true", "false"):
                raise S3Error("MalformedXML")
            values.append(text == "true")
        return cls(*values)

    def xml(self, ns: str) -> str:
        body = "".join(f"<{n}>{'true' if v else 'false'}</{n}>" for n, v in zip(PAB_FIELDS, (
            self.block_public_acls, self.ignore_public_acls, self.block_public_policy, self.restrict_public_buckets),
            strict=True))
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<PublicAccessBlockConfiguration xmlns="{ns}">{body}'
                "</PublicAccessBlockConfiguration>")


# ------------------------------------------------------------------------------------------------ policies

MAX_POLICY = 20 * 1024
_ARN_PREFIX = "arn:aws:s3:::"
_IAM_ARN = re.compile(r"^arn:aws:iam::([^:]+):(root|user/.+|role/.+)$")
# condition operators (without IfExists) -> how one request value compares with one policy value
_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda a, b: a == b,
    "StringNotEquals": lambda a, b: a == b,
    "StringEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StringNotEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StringLike": lambda a, b: _glob(b, a, case=True),
    "StringNotLike": lambda a, b: _glob(b, a, case=True),
    "ArnEquals": lambda a, b: a == b, "ArnNotEquals": lambda a, b: a == b,
    "ArnLike": lambda a, b: _glob(b, a, case=True), "ArnNotLike": lambda a, b: _glob(b, a, case=True),
}
_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "NumericEquals": lambda a, b: a == b, "NumericNotEquals": lambda a, b: a == b,
    "NumericLessThan": lambda a, b: a < b, "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b, "NumericGreaterThanEquals": lambda a, b: a >= b,
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike",
            "NumericNotEquals", "NotIpAddress"}
# condition keys whose fixed value makes an Allow to "*" non-public
PINNING_KEYS = frozenset({"aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount",
                          "aws:principalaccount", "aws:principalarn", "aws:userid", "aws:sourceowner",
                          "s3:datasourceaccount"})
CONDITION_OPS = frozenset(_STRING_OPS) | frozenset(_NUMERIC_OPS) | {"IpAddress", "NotIpAddress", "Bool", "Null"}


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    """IAM wildcards: ``*`` any run (``/`` and ``:`` included), ``?`` one character."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _malformed(message: str) -> S3Error:
    return S3Error("MalformedPolicy", message)


@dataclass(slots=True)
class Statement:
    effect: str
    principals: list[str] | None  # None: NotPrincipal given instead
    not_principals: list[str] | None
    actions: list[str] | None
    not_actions: list[str] | None
    resources: list[str] | None
    not_resources: list[str] | None
    conditions: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (operator, key, values)

    def matches_principal(self, principal: str | None) -> bool:
        def hit(ids: list[str]) -> bool:
            return "*" in ids or (principal is not None and principal in ids)

        if self.principals is not None:
            return hit(self.principals)
        return not hit(self.not_principals or [])

    def matches_action(self, action: str) -> bool:
        if self.actions is not None:
            return any(_glob(a, action, case=False) for a in self.actions)
        return not any(_glob(a, action, case=False) for a in self.not_actions or [])

    def matches_resource(self, resource: str) -> bool:
        if self.resources is not None:
            return any(_glob(r, resource, case=True) for r in self.resources)
        return not any(_glob(r, resource, case=True) for r in self.not_resources or [])

    def conditions_hold(self, ctx: Mapping[str, str | None]) -> bool:
        return all(_condition(op, ctx.get(key.lower()), values) for op, key, values in self.conditions)

    @property
    def public(self) -> bool:
        """Grants to everyone: principal ``*`` without a condition that pins the caller (S3's definition:
        a fixed aws:SourceIp range, aws:SourceArn/Vpc/Vpce, aws:PrincipalAccount ... make it non-public)."""
        if self.effect != "Allow" or not self.matches_principal("\0any-account\0"):
            return False
        for op, key, values in self.conditions:
            base = op.removesuffix("IfExists")
            k = key.lower()
            if base == "IpAddress" and k == "aws:sourceip":
                if all(ipaddress.ip_network(v, strict=False).prefixlen >= 8 for v in values):
                    return False
            elif base in ("StringEquals", "ArnEquals") and k in PINNING_KEYS \
                    and not any("*" in v or "?" in v for v in values):
                return False
        return True


def _condition(op: str, value: str | None, wanted: list[str]) -> bool:
    if_exists = op.endswith("IfExists")
    base = op.removesuffix("IfExists")
    if base == "Null":
        return (value is None) == (wanted[0].lower() == "true")
    if value is None:
        return if_exists or base in _NEGATED
    if base == "Bool":
        return value.lower() in (w.lower() for w in wanted)
    if base in ("IpAddress", "NotIpAddress"):
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            return base == "NotIpAddress"
        hit = any(addr in ipaddress.ip_network(w, strict=False) for w in wanted)
        return hit != (base == "NotIpAddress")
    if base in _NUMERIC_OPS:
        try:
            v = float(value)
            hit = any(_NUMERIC_OPS[base](v, float(w)) for w in wanted)
        except ValueError:
            return False
        return hit != (base in _NEGATED)
    hit = any(_STRING_OPS[base](value, w) for w in wanted)
    return hit != (base in _NEGATED)


@dataclass(slots=True)
class Policy:
    statements: list[Statement]

    @classmethod
    def parse(cls, text: str, bucket: str, accounts: AccountLookup | None = None) -> Policy:
        """Validates a bucket policy the way PutBucketPolicy does (MalformedPolicy with S3's messages)."""
        if len(text.encode("utf-8")) > MAX_POLICY:
            raise _malformed("Policies must be less than 20 KB")
        if not text.lstrip().startswith("{"):
            raise _malformed("Policies must be valid JSON and the first byte must be '{'")
        try:
            doc = json.loads(text)
        except ValueError:
            raise _malformed("This policy contains invalid Json") from None
        if not isinstance(doc, dict):
            raise _malformed("This policy contains invalid Json")
        version = doc.get("Version")
        if version is not None and version not in ("2012-10-17", "2008-10-17"):
            raise _malformed("The policy must contain a valid version string")
        if "Statement" not in doc:
            raise _malformed("Missing required field Statement")
        raw = _as_list(doc["Statement"])
        if not raw:
            raise _malformed("Could not parse the policy: Statement is empty!")
        return cls([_statement(s, bucket, accounts) for s in raw])

    def evaluate(self, principal: str | None, action: str, resource: str, ctx: Mapping[str, str | None],
                 *, only: Callable[[Statement], bool] | None = None) -> str | None:
        """"Deny" if a matching statement denies, else "Allow" if one allows, else None."""
        allowed = False
        for s in self.statements:
            if only is not None and not only(s):
                continue
            if s.matches_principal(principal) and s.matches_action(action) and s.matches_resource(resource) \
                    and s.conditions_hold(ctx):
                if s.effect == "Deny":
                    return "Deny"
                allowed = True
        return "Allow" if allowed else None

    @property
    def public(self) -> bool:
        return any(s.public for s in self.statements)


def _principals(value: Any, accounts: AccountLookup | None) -> list[str]:
    if value == "*":
        return ["*"]
    if not isinstance(value, dict) or not value:
        raise _malformed("Invalid principal in policy")
    out = []
    for kind, ids in value.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise _malformed("Invalid principal in policy")
        for ident in _as_list(ids):
            if not isinstance(ident, str) or not ident:
                raise _malformed("Invalid principal in policy")
            if ident == "*" and kind == "AWS":
                out.append("*")
                continue
            m = _IAM_ARN.match(ident) if kind == "AWS" else None
            account = m.group(1) if m else ident
            if m and m.group(2) != "root":  # users and roles of an account are not modelled: the account itself
                raise _malformed("Invalid principal in policy")
            if accounts is not None and accounts(account) is None:
                raise _malformed("Invalid principal in policy")
            out.append(account)
    return out


def _statement(raw: Any, bucket: str, accounts: AccountLookup | None) -> Statement:
    if not isinstance(raw, dict):
        raise _malformed("This policy contains invalid Json")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _malformed(f"Invalid effect: {effect}" if effect else "Missing required field Effect")
    if "Principal" not in raw and "NotPrincipal" not in raw:
        raise _malformed("Missing required field Principal")
    principals = _principals(raw["Principal"], accounts) if "Principal" in raw else None
    not_principals = _principals(raw["NotPrincipal"], accounts) if "NotPrincipal" in raw else None
    if "Action" not in raw and "NotAction" not in raw:
        raise _malformed("Missing required field Action")
    actions = [str(a) for a in _as_list(raw["Action"])] if "Action" in raw else None
    not_actions = [str(a) for a in _as_list(raw["NotAction"])] if "NotAction" in raw else None
    expanded: set[str] = set()
    for a in (actions or []) + (not_actions or []):
        hits = {k for k in KNOWN_ACTIONS if _glob(a, k, case=False)}
        if not hits and a != "*":
            raise _malformed("Policy has invalid action")
        expanded |= hits
    if "Resource" not in raw and "NotResource" not in raw:
        raise _malformed("Missing required field Resource")
    resources = [str(r) for r in _as_list(raw["Resource"])] if "Resource" in raw else None
    not_resources = [str(r) for r in _as_list(raw["NotResource"])] if "NotResource" in raw else None
    kinds = set()
    for r in (resources or []) + (not_resources or []):
        if not r.startswith(_ARN_PREFIX):
            raise _malformed("Policy has invalid resource")
        rest = r[len(_ARN_PREFIX):]
        name, slash, _ = rest.partition("/")
        if not _glob(name, bucket, case=True):
            raise _malformed("Policy has invalid resource")
        kinds.add("object" if slash else "bucket")
        if "*" in name:
            kinds.add("object")
    if actions is not None and resources is not None and expanded:
        fits = (expanded & OBJECT_ACTIONS and "object" in kinds) or (expanded & BUCKET_ACTIONS and "bucket" in kinds)
        if not fits:
            raise _malformed("Action does not apply to any resource(s) in statement")
    conditions = []
    cond = raw.get("Condition", {})
    if not isinstance(cond, dict):
        raise _malformed("This policy contains invalid Json")
    for op, block in cond.items():
        base = op.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: on single-valued keys: as the plain operator
        if base.removesuffix("IfExists") not in CONDITION_OPS or not isinstance(block, dict):
            raise _malformed(f"Invalid Condition type : {op}")
        for key, values in block.items():
            vals = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(values)]
            if base.removesuffix("IfExists") in ("IpAddress", "NotIpAddress"):
                for v in vals:
                    try:
                        ipaddress.ip_network(v, strict=False)
                    except ValueError:
                        raise _malformed(f"Invalid IP address or CIDR block: {v}") from None
            conditions.append((base, key, vals))
    return Statement(effect, principals, not_principals, actions, not_actions, resources, not_resources, conditions)


# ------------------------------------------------------------------------------------------------ the decision

@dataclass(slots=True)
class Subject:
    """Who asks, for what, on which bucket settings."""

    principal: str | None  # account uuid, None: anonymous
    action: str
    resource: str
    context: dict[str, str | None]


def decide(subject: Subject, *, bucket_owner: str, policy: Policy | None, pab: PublicAccessBlock,
           acl: Acl | None, acl_actions: Mapping[str, set[str]], resource_owner: str | None,
           acls_enabled: bool = True) -> bool:
    """S3's order: explicit Deny in the policy; then an Allow in the policy, the resource owner, an ACL grant.

    ``resource_owner`` is the bucket owner for bucket-level actions and the object's owner for object-level ones
    (the bucket owner has no implicit right to read another account's object).
    """
    p = subject.principal
    if policy is not None:
        verdict = policy.evaluate(p, subject.action, subject.resource, subject.context)
        if verdict == "Deny":
            return False
        if verdict == "Allow":
            restricted = pab.restrict_public_buckets and policy.public and p != bucket_owner
            if not restricted:
                return True
            # a public policy under RestrictPublicBuckets still grants through its non-public statements
            if policy.evaluate(p, subject.action, subject.resource, subject.context,
                               only=lambda s: not s.public) == "Allow":
                return True
    if p is not None and p == resource_owner:
        return True
    if acl is not None and acls_enabled:
        return acl.allows(p, subject.action, acl_actions, pab.ignore_public_acls)
    return False


def owner_grants(grants: Iterable[Grant], owner: str) -> bool:
    """Only the owner (and possibly nothing else) is granted: what BucketOwnerEnforced accepts."""
    return all(g.kind == "CanonicalUser" and g.id == owner and g.perm == "FULL_CONTROL" for g in grants)
