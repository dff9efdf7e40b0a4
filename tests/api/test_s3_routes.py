"""The S3 routing table against the API definition clients use: botocore's S3 service model.

Every operation of the model, serialized by botocore itself, resolves to its own row (a handler or 501); a
sub-resource no row of the method takes is refused (405), so nothing falls through to another operation.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from management.api.s3 import access, bucket_config, routes
from management.api.s3.app import S3App

botocore = pytest.importorskip("botocore")
from botocore import serialize  # noqa: E402

from tests.api.test_s3_helpers import dummy, s3_model  # noqa: E402

pytestmark = pytest.mark.unit
def wire(op_name: str) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """(method, level, query, headers) of an operation as botocore sends it."""
    op = s3_model().operation_model(op_name)
    params = dummy(op.input_shape) if op.input_shape is not None else {}
    req = serialize.create_serializer("rest-xml", include_validation=False).serialize_to_request(params, op)
    path, _, static = req["url_path"].partition("?")
    query = dict(parse_qsl(static, keep_blank_values=True))
    query.update({k: str(v) for k, v in req["query_string"].items()})
    parts = [p for p in path.split("/", 2)[1:] if p]
    level = "object" if len(parts) > 1 else "bucket" if parts else "service"
    return req["method"], level, query, {k.lower(): v for k, v in req["headers"].items()}


@pytest.mark.parametrize("op_name", s3_model().operation_names)
def test_every_operation_of_the_model_resolves_to_its_row(op_name: str) -> None:
    method, level, query, headers = wire(op_name)
    route = routes.resolve(method, level, query, headers)
    assert route is not None, (op_name, method, level, query)
    assert op_name in (route.op, *route.aliases), (op_name, route.op)


def test_the_table_has_no_row_the_model_lacks_and_every_handler_exists() -> None:
    model_ops = set(s3_model().operation_names)
    extra = {"PostObject"}  # browser form uploads: S3 has them, botocore does not
    for r in routes.TABLE:
        assert r.op in model_ops | extra, r.op
        assert r.handler is None or hasattr(S3App, r.handler) or r.handler in bucket_config.HANDLERS, r
        if r.level != "service":
            assert r.action in access.KNOWN_ACTIONS | access.ACCOUNT_ACTIONS, (r.op, r.action)
    implemented = {r.op for r in routes.TABLE if r.handler}
    for op in ("ListObjectVersions", "PutBucketVersioning", "GetBucketVersioning", "PutBucketAcl", "PutObjectAcl",
               "GetObjectAcl", "PutBucketPolicy", "GetBucketPolicyStatus", "DeletePublicAccessBlock",
               "GetObjectAttributes"):
        assert op in implemented, op


@pytest.mark.parametrize("method,query", [
    ("DELETE", {"acl": ""}), ("DELETE", {"versioning": ""}), ("DELETE", {"uploads": ""}),
    ("DELETE", {"delete": ""}), ("DELETE", {"location": ""}), ("PUT", {"versions": ""}), ("POST", {"policy": ""}),
    ("DELETE", {"uploadId": "x"}),
])
def test_a_sub_resource_the_method_does_not_take_never_falls_through(method: str, query: dict[str, str]) -> None:
    assert routes.resolve(method, "bucket", query, {}) is None


def test_plain_requests_and_parameters() -> None:
    assert routes.resolve("DELETE", "bucket", {}, {}).op == "DeleteBucket"  # type: ignore[union-attr]
    assert routes.resolve("GET", "object", {"partNumber": "2", "versionId": "null"},  # type: ignore[union-attr]
                          {}).op == "GetObject"
    assert routes.resolve("GET", "bucket", {"list-type": "2", "x-id": "ListObjectsV2"},  # type: ignore[union-attr]
                          {}).op == "ListObjectsV2"
    assert routes.resolve("PUT", "object", {}, {"x-amz-copy-source": "a/b"}).op == "CopyObject"  # type: ignore
