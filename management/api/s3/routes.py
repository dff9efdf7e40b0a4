"""Which S3 operation a request is: one row per (method, level, sub-resource) S3 defines.

Every operation of S3's API model has a row, with the handler that serves it or None (501 NotImplemented). A
request that names a sub-resource no row of its method takes (``DELETE /bucket?acl``) is refused with 405
MethodNotAllowed instead of falling through to the plain operation (``DELETE /bucket`` deletes the bucket).
``tests/api/test_s3_routes.py`` checks the table against botocore's service model.

``action`` is the IAM action the request needs (bucket policies and ACLs are decided on it); ``on`` says whether
the ACL that can grant it is the bucket's or the object's (for "object" the handler decides once it has read the
object's ACL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    op: str  # S3 operation name (botocore)
    method: str
    level: str  # "service" (no bucket), "bucket" or "object"
    query: frozenset[str] = frozenset()  # query keys that must be present
    handler: str | None = None  # S3App handler name; None: 501 NotImplemented
    action: str = ""  # IAM action ("" for the service level)
    on: str = "bucket"  # "bucket": decided before the handler runs; "object": by the handler, on the object's ACL
    header: str | None = None  # a header that must be present
    value: tuple[str, str] | None = None  # a query key that must have this value
    aliases: tuple[str, ...] = ()  # other operation names with the same wire form


def _r(op: str, method: str, level: str, query: str = "", handler: str | None = None, action: str = "",
       on: str = "bucket", header: str | None = None, value: tuple[str, str] | None = None,
       aliases: tuple[str, ...] = ()) -> Route:
    return Route(op, method, level, frozenset(query.split()), handler, action, on, header, value, aliases)


B, OBJ = "bucket", "object"

TABLE: tuple[Route, ...] = (
    # ---- service
    _r("ListBuckets", "GET", "service", "", "list_buckets", "s3:ListAllMyBuckets", aliases=("ListDirectoryBuckets",)),
    _r("ListBuckets", "HEAD", "service", "", "list_buckets", "s3:ListAllMyBuckets"),
    # ---- bucket: GET
    _r("ListObjects", "GET", B, "", "list_objects_v1", "s3:ListBucket"),
    _r("ListObjectsV2", "GET", B, "", "list_objects_v2", "s3:ListBucket", value=("list-type", "2")),
    _r("ListObjectVersions", "GET", B, "versions", "list_object_versions", "s3:ListBucketVersions"),
    _r("ListMultipartUploads", "GET", B, "uploads", "list_uploads", "s3:ListBucketMultipartUploads"),
    _r("GetBucketLocation", "GET", B, "location", "get_bucket_location", "s3:GetBucketLocation"),
    _r("GetBucketVersioning", "GET", B, "versioning", "get_bucket_versioning", "s3:GetBucketVersioning"),
    _r("GetBucketAcl", "GET", B, "acl", "get_bucket_acl", "s3:GetBucketAcl"),
    _r("GetBucketPolicy", "GET", B, "policy", "get_bucket_policy", "s3:GetBucketPolicy"),
    _r("GetBucketPolicyStatus", "GET", B, "policyStatus", "get_bucket_policy_status", "s3:GetBucketPolicyStatus"),
    _r("GetPublicAccessBlock", "GET", B, "publicAccessBlock", "get_public_access_block",
       "s3:GetBucketPublicAccessBlock"),
    _r("GetBucketOwnershipControls", "GET", B, "ownershipControls", "get_ownership_controls",
       "s3:GetBucketOwnershipControls"),
    _r("GetBucketCors", "GET", B, "cors", "get_unset_config", "s3:GetBucketCORS"),
    _r("GetBucketLifecycleConfiguration", "GET", B, "lifecycle", "get_unset_config", "s3:GetLifecycleConfiguration",
       aliases=("GetBucketLifecycle",)),
    _r("GetBucketWebsite", "GET", B, "website", "get_unset_config", "s3:GetBucketWebsite"),
    _r("GetBucketTagging", "GET", B, "tagging", "get_unset_config", "s3:GetBucketTagging"),
    _r("GetBucketEncryption", "GET", B, "encryption", "get_unset_config", "s3:GetEncryptionConfiguration"),
    _r("GetBucketReplication", "GET", B, "replication", "get_unset_config", "s3:GetReplicationConfiguration"),
    _r("GetObjectLockConfiguration", "GET", B, "object-lock", "get_unset_config",
       "s3:GetBucketObjectLockConfiguration"),
    _r("GetBucketLogging", "GET", B, "logging", "get_default_config", "s3:GetBucketLogging"),
    _r("GetBucketNotificationConfiguration", "GET", B, "notification", "get_default_config",
       "s3:GetBucketNotification", aliases=("GetBucketNotification",)),
    _r("GetBucketAccelerateConfiguration", "GET", B, "accelerate", "get_default_config",
       "s3:GetAccelerateConfiguration"),
    _r("GetBucketRequestPayment", "GET", B, "requestPayment", "get_default_config", "s3:GetBucketRequestPayment"),
    _r("GetBucketDefaultStorageClass", "GET", B, "default-storage-class", None, "s3:GetBucketDefaultStorageClass"),
    _r("GetBucketAnalyticsConfiguration", "GET", B, "analytics id", None, "s3:GetAnalyticsConfiguration"),
    _r("ListBucketAnalyticsConfigurations", "GET", B, "analytics", None, "s3:GetAnalyticsConfiguration"),
    _r("GetBucketIntelligentTieringConfiguration", "GET", B, "intelligent-tiering id", None,
       "s3:GetIntelligentTieringConfiguration"),
    _r("ListBucketIntelligentTieringConfigurations", "GET", B, "intelligent-tiering", None,
       "s3:GetIntelligentTieringConfiguration"),
    _r("GetBucketInventoryConfiguration", "GET", B, "inventory id", None, "s3:GetInventoryConfiguration"),
    _r("ListBucketInventoryConfigurations", "GET", B, "inventory", None, "s3:GetInventoryConfiguration"),
    _r("GetBucketMetricsConfiguration", "GET", B, "metrics id", None, "s3:GetMetricsConfiguration"),
    _r("ListBucketMetricsConfigurations", "GET", B, "metrics", None, "s3:GetMetricsConfiguration"),
    _r("GetBucketMetadataConfiguration", "GET", B, "metadataConfiguration", None,
       "s3:GetBucketMetadataTableConfiguration"),
    _r("GetBucketMetadataTableConfiguration", "GET", B, "metadataTable", None,
       "s3:GetBucketMetadataTableConfiguration"),
    _r("GetBucketAbac", "GET", B, "abac", None, "s3:GetBucketABAC"),
    _r("CreateSession", "GET", B, "session", None, "s3express:CreateSession"),
    # ---- bucket: HEAD
    _r("HeadBucket", "HEAD", B, "", "head_bucket", "s3:ListBucket"),
    # ---- bucket: PUT
    _r("CreateBucket", "PUT", B, "", "create_bucket", "s3:CreateBucket"),
    _r("PutBucketVersioning", "PUT", B, "versioning", "put_bucket_versioning", "s3:PutBucketVersioning"),
    _r("PutBucketAcl", "PUT", B, "acl", "put_bucket_acl", "s3:PutBucketAcl"),
    _r("PutBucketPolicy", "PUT", B, "policy", "put_bucket_policy", "s3:PutBucketPolicy"),
    _r("PutPublicAccessBlock", "PUT", B, "publicAccessBlock", "put_public_access_block",
       "s3:PutBucketPublicAccessBlock"),
    _r("PutBucketOwnershipControls", "PUT", B, "ownershipControls", "put_ownership_controls",
       "s3:PutBucketOwnershipControls"),
    _r("PutBucketCors", "PUT", B, "cors", None, "s3:PutBucketCORS"),
    _r("PutBucketLifecycleConfiguration", "PUT", B, "lifecycle", None, "s3:PutLifecycleConfiguration",
       aliases=("PutBucketLifecycle",)),
    _r("PutBucketWebsite", "PUT", B, "website", None, "s3:PutBucketWebsite"),
    _r("PutBucketTagging", "PUT", B, "tagging", None, "s3:PutBucketTagging"),
    _r("PutBucketEncryption", "PUT", B, "encryption", None, "s3:PutEncryptionConfiguration"),
    _r("PutBucketLogging", "PUT", B, "logging", None, "s3:PutBucketLogging"),
    _r("PutBucketNotificationConfiguration", "PUT", B, "notification", None, "s3:PutBucketNotification",
       aliases=("PutBucketNotification",)),
    _r("PutBucketReplication", "PUT", B, "replication", None, "s3:PutReplicationConfiguration"),
    _r("PutObjectLockConfiguration", "PUT", B, "object-lock", None, "s3:PutBucketObjectLockConfiguration"),
    _r("PutBucketAccelerateConfiguration", "PUT", B, "accelerate", None, "s3:PutAccelerateConfiguration"),
    _r("PutBucketRequestPayment", "PUT", B, "requestPayment", None, "s3:PutBucketRequestPayment"),
    _r("PutBucketDefaultStorageClass", "PUT", B, "default-storage-class", None, "s3:PutBucketDefaultStorageClass"),
    _r("PutBucketAnalyticsConfiguration", "PUT", B, "analytics", None, "s3:PutAnalyticsConfiguration"),
    _r("PutBucketIntelligentTieringConfiguration", "PUT", B, "intelligent-tiering", None,
       "s3:PutIntelligentTieringConfiguration"),
    _r("PutBucketInventoryConfiguration", "PUT", B, "inventory", None, "s3:PutInventoryConfiguration"),
    _r("PutBucketMetricsConfiguration", "PUT", B, "metrics", None, "s3:PutMetricsConfiguration"),
    _r("PutBucketAbac", "PUT", B, "abac", None, "s3:PutBucketABAC"),
    _r("UpdateBucketMetadataAnnotationTableConfiguration", "PUT", B, "metadataAnnotationTable", None,
       "s3:UpdateBucketMetadataJournalTableConfiguration"),
    _r("UpdateBucketMetadataInventoryTableConfiguration", "PUT", B, "metadataInventoryTable", None,
       "s3:UpdateBucketMetadataInventoryTableConfiguration"),
    _r("UpdateBucketMetadataJournalTableConfiguration", "PUT", B, "metadataJournalTable", None,
       "s3:UpdateBucketMetadataJournalTableConfiguration"),
    # ---- bucket: DELETE (only a DELETE with no sub-resource removes the bucket)
    _r("DeleteBucket", "DELETE", B, "", "delete_bucket", "s3:DeleteBucket"),
    _r("DeleteBucketPolicy", "DELETE", B, "policy", "delete_bucket_setting", "s3:DeleteBucketPolicy"),
    _r("DeletePublicAccessBlock", "DELETE", B, "publicAccessBlock", "delete_bucket_setting",
       "s3:PutBucketPublicAccessBlock"),
    _r("DeleteBucketOwnershipControls", "DELETE", B, "ownershipControls", "delete_bucket_setting",
       "s3:PutBucketOwnershipControls"),
    _r("DeleteBucketCors", "DELETE", B, "cors", "delete_unset_config", "s3:PutBucketCORS"),
    _r("DeleteBucketLifecycle", "DELETE", B, "lifecycle", "delete_unset_config", "s3:PutLifecycleConfiguration"),
    _r("DeleteBucketWebsite", "DELETE", B, "website", "delete_unset_config", "s3:DeleteBucketWebsite"),
    _r("DeleteBucketTagging", "DELETE", B, "tagging", "delete_unset_config", "s3:PutBucketTagging"),
    _r("DeleteBucketEncryption", "DELETE", B, "encryption", "delete_unset_config", "s3:PutEncryptionConfiguration"),
    _r("DeleteBucketReplication", "DELETE", B, "replication", "delete_unset_config",
       "s3:PutReplicationConfiguration"),
    _r("DeleteBucketAnalyticsConfiguration", "DELETE", B, "analytics", None, "s3:PutAnalyticsConfiguration"),
    _r("DeleteBucketIntelligentTieringConfiguration", "DELETE", B, "intelligent-tiering", None,
       "s3:PutIntelligentTieringConfiguration"),
    _r("DeleteBucketInventoryConfiguration", "DELETE", B, "inventory", None, "s3:PutInventoryConfiguration"),
    _r("DeleteBucketMetricsConfiguration", "DELETE", B, "metrics", None, "s3:PutMetricsConfiguration"),
    _r("DeleteBucketMetadataConfiguration", "DELETE", B, "metadataConfiguration", None,
       "s3:DeleteBucketMetadataTableConfiguration"),
    _r("DeleteBucketMetadataTableConfiguration", "DELETE", B, "metadataTable", None,
       "s3:DeleteBucketMetadataTableConfiguration"),
    # ---- bucket: POST
    _r("DeleteObjects", "POST", B, "delete", "delete_objects", "s3:DeleteObject", on=OBJ),  # decided per key
    _r("CreateBucketMetadataConfiguration", "POST", B, "metadataConfiguration", None,
       "s3:CreateBucketMetadataTableConfiguration"),
    _r("CreateBucketMetadataTableConfiguration", "POST", B, "metadataTable", None,
       "s3:CreateBucketMetadataTableConfiguration"),
    _r("PostObject", "POST", B, "", None, "s3:PutObject"),  # browser form upload (not in botocore's model)
    _r("WriteGetObjectResponse", "POST", B, "", None, "s3:PutObject", header="x-amz-request-route"),
    # ---- object: GET / HEAD
    _r("GetObject", "GET", OBJ, "", "get_object", "s3:GetObject", on=OBJ),
    _r("HeadObject", "HEAD", OBJ, "", "get_object", "s3:GetObject", on=OBJ),
    _r("ListParts", "GET", OBJ, "uploadId", "list_parts", "s3:ListMultipartUploadParts"),
    _r("GetPart", "GET", OBJ, "part uploadId", None, "s3:GetObject"),
    _r("GetObjectAcl", "GET", OBJ, "acl", "get_object_acl", "s3:GetObjectAcl", on=OBJ),
    _r("GetObjectTagging", "GET", OBJ, "tagging", "get_tagging", "s3:GetObjectTagging", on=OBJ),
    _r("GetObjectAttributes", "GET", OBJ, "attributes", "get_object_attributes", "s3:GetObjectAttributes", on=OBJ),
    _r("GetObjectLegalHold", "GET", OBJ, "legal-hold", None, "s3:GetObjectLegalHold"),
    _r("GetObjectRetention", "GET", OBJ, "retention", None, "s3:GetObjectRetention"),
    _r("GetObjectTorrent", "GET", OBJ, "torrent", None, "s3:GetObjectTorrent"),
    _r("GetObjectAnnotation", "GET", OBJ, "annotation annotationName", None, "s3:GetObject"),
    _r("ListObjectAnnotations", "GET", OBJ, "annotation", None, "s3:GetObject"),
    # ---- object: PUT
    _r("PutObject", "PUT", OBJ, "", "put_object", "s3:PutObject"),
    _r("CopyObject", "PUT", OBJ, "", "copy_object", "s3:PutObject", header="x-amz-copy-source"),
    _r("UploadPart", "PUT", OBJ, "uploadId partNumber", "upload_part", "s3:PutObject"),
    _r("UploadPartCopy", "PUT", OBJ, "uploadId partNumber", "upload_part_copy", "s3:PutObject",
       header="x-amz-copy-source"),
    _r("PutObjectAcl", "PUT", OBJ, "acl", "put_object_acl", "s3:PutObjectAcl", on=OBJ),
    _r("PutObjectTagging", "PUT", OBJ, "tagging", "put_tagging", "s3:PutObjectTagging", on=OBJ),
    _r("PutObjectLegalHold", "PUT", OBJ, "legal-hold", None, "s3:PutObjectLegalHold"),
    _r("PutObjectRetention", "PUT", OBJ, "retention", None, "s3:PutObjectRetention"),
    _r("RenameObject", "PUT", OBJ, "renameObject", None, "s3:PutObject", header="x-amz-rename-source"),
    _r("PutObjectAnnotation", "PUT", OBJ, "annotation", None, "s3:PutObject"),
    _r("UpdateObjectEncryption", "PUT", OBJ, "encryption", None, "s3:PutObject"),
    # ---- object: DELETE
    _r("DeleteObject", "DELETE", OBJ, "", "delete_object", "s3:DeleteObject"),
    _r("AbortMultipartUpload", "DELETE", OBJ, "uploadId", "abort_upload", "s3:AbortMultipartUpload"),
    _r("DeleteObjectTagging", "DELETE", OBJ, "tagging", "delete_tagging", "s3:DeleteObjectTagging", on=OBJ),
    _r("DeleteObjectAnnotation", "DELETE", OBJ, "annotation", None, "s3:DeleteObject"),
    # ---- object: POST
    _r("CreateMultipartUpload", "POST", OBJ, "uploads", "create_upload", "s3:PutObject"),
    _r("CompleteMultipartUpload", "POST", OBJ, "uploadId", "complete_upload", "s3:PutObject"),
    _r("RestoreObject", "POST", OBJ, "restore", None, "s3:RestoreObject"),
    _r("SelectObjectContent", "POST", OBJ, "select select-type", None, "s3:GetObject"),
)

# query keys that only qualify an operation (they never select one on their own)
PARAMETERS = frozenset({"id", "annotationName", "partNumber", "select-type"})
# query keys that select an operation: a request carrying one its method has no row for is refused
SUBRESOURCES = frozenset(k for r in TABLE for k in r.query) - PARAMETERS

_BY: dict[tuple[str, str], list[Route]] = {}
for _route in TABLE:
    _BY.setdefault((_route.method, _route.level), []).append(_route)


def resolve(method: str, level: str, query: Mapping[str, str], headers: Mapping[str, object]) -> Route | None:
    """The most specific row the request satisfies; None when there is none, or when the request names a
    sub-resource the chosen row does not take (S3 then answers 405 MethodNotAllowed)."""
    best: Route | None = None
    best_score = (-1, False, False)
    for r in _BY.get((method, level), ()):
        if not r.query <= query.keys():
            continue
        if r.value is not None and query.get(r.value[0]) != r.value[1]:
            continue
        if r.header is not None and r.header not in headers:
            continue
        score = (len(r.query), r.header is not None, r.value is not None)
        if score > best_score:
            best, best_score = r, score
    if best is None or (query.keys() & SUBRESOURCES) - best.query:
        return None
    return best
