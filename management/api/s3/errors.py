"""S3 error codes, their HTTP statuses and default messages, and the XML error body."""

from __future__ import annotations

from management.api.guard import Kind, Rejection
from management.api.xmltext import xml_escape

STATUS = {
    "AccessDenied": 403, "AuthorizationHeaderMalformed": 400, "AuthorizationQueryParametersError": 400,
    "BadDigest": 400, "BucketAlreadyExists": 409, "BucketAlreadyOwnedByYou": 409, "BucketNotEmpty": 409,
    "EntityTooLarge": 400, "EntityTooSmall": 400, "IncompleteBody": 400, "InternalError": 500,
    "InvalidAccessKeyId": 403, "InvalidArgument": 400, "InvalidBucketName": 400, "InvalidDigest": 400,
    "InvalidPart": 400, "InvalidPartOrder": 400, "InvalidRange": 416, "InvalidRequest": 400,
    "MalformedXML": 400, "MethodNotAllowed": 405, "MissingContentLength": 411, "NoSuchBucket": 404,
    "NoSuchKey": 404, "NoSuchUpload": 404, "NotImplemented": 501, "NotModified": 304, "PreconditionFailed": 412,
    "RequestTimeTooSkewed": 403, "SignatureDoesNotMatch": 403, "XAmzContentSHA256Mismatch": 400,
    "InvalidLocationConstraint": 400, "IllegalLocationConstraintException": 400, "KeyTooLongError": 400,
    "MetadataTooLarge": 400, "InvalidTag": 400, "InvalidPartNumber": 416, "InvalidObjectState": 403,
    "NoSuchBucketPolicy": 404, "InvalidStorageClass": 400, "NoSuchVersion": 404, "MalformedPolicy": 400,
    "MalformedACLError": 400, "NoSuchPublicAccessBlockConfiguration": 404, "OwnershipControlsNotFoundError": 404,
    "AccessControlListNotSupported": 400, "InvalidBucketAclWithObjectOwnership": 400,
    "UnresolvableGrantByEmailAddress": 400, "NoSuchCORSConfiguration": 404, "NoSuchLifecycleConfiguration": 404,
    "NoSuchWebsiteConfiguration": 404, "NoSuchTagSet": 404, "ServerSideEncryptionConfigurationNotFoundError": 404,
    "ReplicationConfigurationNotFoundError": 404, "ObjectLockConfigurationNotFoundError": 404,
    "MissingSecurityHeader": 400, "UnexpectedContent": 400, "InvalidURI": 400, "RequestHeaderSectionTooLarge": 400,
}

MESSAGES = {
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchUpload": "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
                    "been aborted or completed.",
    "BucketNotEmpty": "The bucket you tried to delete is not empty",
    "BucketAlreadyExists": "The requested bucket name is not available. The bucket namespace is shared by all "
                           "users of the system. Please select a different name and try again.",
    "BucketAlreadyOwnedByYou": "Your previous request to create the named bucket succeeded and you already own it.",
    "AccessDenied": "Access Denied",
    "InvalidPart": "One or more of the specified parts could not be found. The part might not have been uploaded, "
                   "or the specified entity tag might not have matched the part's entity tag.",
    "InvalidPartOrder": "The list of parts was not in ascending order. Parts must be ordered by part number.",
    "EntityTooSmall": "Your proposed upload is smaller than the minimum allowed object size.",
    "InvalidRange": "The requested range is not satisfiable",
    "PreconditionFailed": "At least one of the pre-conditions you specified did not hold",
    "MalformedXML": "The XML you provided was not well-formed or did not validate against our published schema",
    "BadDigest": "The Content-MD5 you specified did not match what we received.",
    "InternalError": "We encountered an internal error. Please try again.",
    "NotImplemented": "A header or query you provided implies functionality that is not implemented",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
    "NoSuchVersion": "The specified version does not exist.",
    "NoSuchBucketPolicy": "The bucket policy does not exist",
    "MalformedACLError": "The XML you provided was not well-formed or did not validate against our published schema",
    "NoSuchPublicAccessBlockConfiguration": "The public access block configuration was not found",
    "OwnershipControlsNotFoundError": "The bucket ownership controls were not found",
    "AccessControlListNotSupported": "The bucket does not allow ACLs",
    "InvalidBucketAclWithObjectOwnership": "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced "
                                           "setting",
    "InvalidDigest": "The Content-MD5 you specified is not valid.",
}


class S3Error(Exception):
    def __init__(self, code: str, message: str | None = None, *, headers: list[tuple[str, str]] | None = None,
                 **extra: str | None) -> None:
        super().__init__(message or MESSAGES.get(code, code))
        self.code = code
        self.message = message or MESSAGES.get(code, code)
        self.status = STATUS.get(code, 400)
        self.extra = {k: v for k, v in extra.items() if v is not None}
        self.headers = headers or []  # response headers the error carries (ETag of a 304, x-amz-delete-marker)

    def xml(self, request_id: str, host_id: str, resource: str | None = None) -> bytes:
        extra = "".join(f"<{k}>{xml_escape(str(v))}</{k}>" for k, v in self.extra.items())
        res = f"<Resource>{xml_escape(resource)}</Resource>" if resource else ""
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f"<Message>{xml_escape(self.message)}</Message>{extra}{res}<RequestId>{request_id}</RequestId>"
                f"<HostId>{host_id}</HostId></Error>").encode()


# What the HTTP layer refuses (management.api.guard), as S3 names it.
_REJECTIONS = {Kind.MALFORMED: "InvalidRequest", Kind.METHOD: "MethodNotAllowed", Kind.TARGET_TOO_LONG: "InvalidURI",
               Kind.HEADERS_TOO_LARGE: "RequestHeaderSectionTooLarge", Kind.BODY_TOO_LARGE: "EntityTooLarge",
               Kind.INTERNAL: "InternalError"}


def render_rejection(rejection: Rejection, rid: str, _known: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    code = _REJECTIONS[rejection.kind]
    err = S3Error(code, None if code in MESSAGES else rejection.text)
    return err.status, [(b"content-type", b"application/xml"), (b"x-amz-request-id", rid.encode())], \
        err.xml(rid, "devcloud")
