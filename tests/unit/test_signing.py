"""Request signatures: the 10 published client vectors (cloudstack-api.md §1.6) and v3 `expires` handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from management.api.cloudstack import signing
from management.errors import Unauthorized

pytestmark = pytest.mark.unit

LIBCLOUD = {"apiKey": "fnord", "response": "json"}
CS = {"apiKey": "foo", "response": "json"}
DEPLOY = {"command": "deployVirtualMachine", "name": "fred", "displayname": "George", "serviceofferingid": "5",
          "templateid": "17", "zoneid": "23", "networkids": "42"}

# (id, params, secret, signature, java_exact)
VECTORS = [
    ("libcloud-list", {**LIBCLOUD, "command": "listVirtualMachines"}, "abracadabra", "z/a9Y7J52u48VpqIgiwaGUMCso0="),
    ("libcloud-deploy", {**LIBCLOUD, **DEPLOY}, "abracadabra", "gHTo7mYmadZ+zluKHzlEKb1i/QU="),
    ("libcloud-plus", {**LIBCLOUD, **DEPLOY, "displayname": "George+Ringo"}, "abracadabra",
     "tAgfrreI1ZvWlWLClD3gu4+aKv4="),
    ("cs-listall", {**CS, "command": "listVirtualMachines", "listall": "true"}, "bar", "B0d6hBsZTcFVCiioSxzwKA9Pke8="),
    ("cs-case-sensitive-sort", {**CS, "command": "listVirtualMachines", "zoneId": "2", "templateId": "3",
                                "temPlateidd": "4", "pageSize": "10", "page": "1"}, "bar",
     "mMS7XALuGkCXk7kj5SywySku0Z0="),
    ("cs-unicode", {**CS, "command": "listVirtualMachines", "listall": "1", "unicode_param": "éèààû"}, "bar",
     "gABU/KFJKD3FLAgKDuxQoryu4sA="),
    ("cs-map-and-comma", {**CS, "command": "listVirtualMachines", "foo": "foo,bar", "bar[0].baz": "blah",
                          "bar[0].foo": "1000", "bytes_param": "blah"}, "bar", "ImJ/5F0P2RDL7yn4LdLnGcEx5WE="),
    ("cs-scale-details", {**CS, "command": "scaleVirtualMachine", "id": "a", "details[0].cpunumber": "1000",
                          "details[0].memory": "640k"}, "bar", "ZNl66z3gFhnsx2Eo3vvCIM0kAgI="),
    ("cs-empty-values", {**CS, "command": "createNetwork", "name": "", "display_text": ""}, "bar",
     "CistTEiPt/4Rv1v4qSyILvPbhmg="),
    ("cs-post-body", {**CS, "command": "listVirtualMachines", "blah": "brah"}, "bar", "58VvLSaVUqHnG9DhXNOAiDFwBoA="),
]
IDS = [v[0] for v in VECTORS]


@pytest.mark.parametrize(("name", "params", "secret", "expected"), VECTORS, ids=IDS)
def test_sign_reproduces_published_vector(name: str, params: dict[str, str], secret: str, expected: str) -> None:
    assert signing.sign(params, secret) == expected


@pytest.mark.parametrize(("name", "params", "secret", "expected"), VECTORS, ids=IDS)
def test_signature_matches_published_vector(name: str, params: dict[str, str], secret: str, expected: str) -> None:
    assert signing.signature_matches(params, secret, expected)
    # The signature parameter itself never takes part in the canonical string.
    assert signing.signature_matches({**params, "signature": expected}, secret, expected)


@pytest.mark.parametrize(("name", "params", "secret", "expected"), VECTORS, ids=IDS)
def test_wrong_secret_or_tampered_value_is_refused(name: str, params: dict[str, str], secret: str,
                                                   expected: str) -> None:
    assert not signing.signature_matches(params, secret + "x", expected)
    assert not signing.signature_matches({**params, "command": "deleteAccount"}, secret, expected)


def test_case_insensitive_sort_gives_the_wrong_vector_but_is_tolerated() -> None:
    params = VECTORS[4][1]
    lower_sorted = signing._hmac("bar", signing.canonical_string(params, lower_sort=True))
    assert lower_sorted == "GN/H2DT9Phd/s9djmht3lJxsAts="
    assert signing.sign(params, "bar") != lower_sorted
    # libcloud and Marvin sort lower-cased names: the server accepts that variant too.
    assert signing.signature_matches(params, "bar", lower_sorted)


def test_java_urlencoder_rules() -> None:
    enc = signing.java_urlencode
    assert enc("a b") == "a%20b"
    assert enc("AZaz09.-*_") == "AZaz09.-*_"
    assert enc("~!'()[]+,/") == "%7E%21%27%28%29%5B%5D%2B%2C%2F"
    assert enc("é") == "%C3%A9"


def test_client_encoder_variants_are_accepted() -> None:
    params = {"apiKey": "k", "command": "listZones", "name": "a~b[0]"}
    java = signing.sign(params, "s")
    cs_style = signing._hmac("s", "apikey=k&command=listzones&name=a~b%5b0%5d")
    libcloud_style = signing._hmac("s", "apikey=k&command=listzones&name=a~b[0]")
    for sig in (java, cs_style, libcloud_style):
        assert signing.signature_matches(params, "s", sig)
    assert not signing.signature_matches(params, "s", signing._hmac("s", "apikey=k&command=listzones&name=x"))


# ---- v3 expires ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-01T10:00:00Z", datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
    ("2026-01-01T10:00:00+00:00", datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
    ("2026-01-01T10:00:00+0000", datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
    ("2026-01-01T12:00:00+0200", datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
    ("2026-01-01T05:00:00-05:00", datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
    ("2026-01-01T10:00:00.123Z", datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ("2026-01-01T10:00:00.123456+0000", datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
])
def test_parse_expires_forms(value: str, expected: datetime) -> None:
    assert signing.parse_expires(value) == expected


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01T10:00:00Z", ""])
def test_parse_expires_garbage_is_unauthorized(value: str) -> None:
    with pytest.raises(Unauthorized):
        signing.parse_expires(value)


def _v3(expires: str, version_name: str = "signatureVersion") -> dict[str, str]:
    return {"command": "listZones", version_name: "3", "expires": expires}


def test_check_expiry_v3() -> None:
    now = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    signing.check_expiry(_v3("2026-01-01T10:10:00+0000"), now)  # cs: now+600s, %z form
    signing.check_expiry(_v3("2026-01-01T10:15:00Z", "signatureversion"), now)  # cloudstack-go form
    with pytest.raises(Unauthorized):
        signing.check_expiry(_v3("2026-01-01T09:59:59Z"), now)
    with pytest.raises(Unauthorized):
        signing.check_expiry({"command": "listZones", "signatureVersion": "3"}, now)
    # Without signatureVersion=3 an old `expires` means nothing (v1 request).
    signing.check_expiry({"command": "listZones", "expires": "2000-01-01T00:00:00Z"}, now)
    signing.check_expiry(_v3((datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S%z")))
