"""Response envelopes (cloudstack-api.md §2): one key, list/empty/object/async/error shapes, nulls, dates, XML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest

from management.api.cloudstack import envelope
from management.api.cloudstack.envelope import Flat, ListResult, Success, body_for, error_body, render
from management.api.cloudstack.schemas import TagResp
from management.errors import (
    CloudError,
    InternalError,
    ParamError,
    PermissionDenied,
    ServerApiParamError,
    Unauthorized,
    UnsupportedAction,
)

pytestmark = pytest.mark.unit


def _json(name: str, body: dict) -> dict:
    raw, ctype = render(name, body, "json")
    assert ctype.startswith("application/json")
    assert b"\n" not in raw  # listApis must be one line (Marvin reads readlines()[0])
    out = json.loads(raw)
    assert list(out) == [name]
    return out


def test_list_has_count_and_items_under_the_object_name() -> None:
    tags = [TagResp(key="k", value=str(i), resourcetype="Zone", resourceid="z") for i in range(2)]
    body = body_for(ListResult(tags, 7), "tag")
    assert body["count"] == 7  # total rows, not the page length
    assert [t["value"] for t in body["tag"]] == ["0", "1"]
    assert _json("listtagsresponse", body) == {"listtagsresponse": body}


def test_empty_list_is_an_empty_object() -> None:
    assert body_for(ListResult([], 0), "zone") == {}
    assert _json("listzonesresponse", body_for(ListResult([], 0), "zone")) == {"listzonesresponse": {}}


def test_page_beyond_the_end_keeps_count_without_items() -> None:
    assert body_for(ListResult([], 5), "zone") == {"count": 5}


def test_nulls_are_omitted_everywhere() -> None:
    tag = TagResp(key="k", value="v", resourcetype="Zone", resourceid="z")
    body = body_for(tag, "tag")
    assert body == {"tag": {"key": "k", "value": "v", "resourcetype": "Zone", "resourceid": "z"}}
    nested = envelope.plain({"a": None, "b": [{"c": None, "d": 1}], "e": {"f": None}})
    assert nested == {"b": [{"d": 1}], "e": {}}


@pytest.mark.parametrize(("when", "text"), [
    (datetime(2024, 5, 1, 10, 0, 0), "2024-05-01T10:00:00+0000"),  # naive datetimes are UTC
    (datetime(2024, 5, 1, 10, 0, 0, 999999, tzinfo=UTC), "2024-05-01T10:00:00+0000"),
    (datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T12:00:00+0200"),
    (datetime(2024, 5, 1, 10, 0, 0, 500001), "2024-05-01T10:00:00+0000"),  # seconds, not rounded
    (datetime(987, 1, 2, 3, 4, 5), "0987-01-02T03:04:05+0000"),  # four-digit years, as Java's yyyy
])
def test_dates_use_cloudstack_format(when: datetime, text: str) -> None:
    assert envelope.cs_date(when) == text
    assert envelope.plain({"created": when}) == {"created": text}


def test_success_is_a_json_boolean() -> None:
    assert body_for(Success(), None) == {"success": True}
    assert body_for(Success(displaytext="done"), None) == {"success": True, "displaytext": "done"}
    assert _json("deletetagsresponse", body_for(Success(), None))["deletetagsresponse"]["success"] is True


def test_flat_bodies_are_not_wrapped() -> None:
    assert body_for(Flat({"jobid": "j", "jobstatus": 0, "jobresult": None}), None) == {"jobid": "j", "jobstatus": 0}


@pytest.mark.parametrize(("err", "code", "cscode"), [
    (ServerApiParamError("Unable to execute API command x due to missing parameter y"), 431, 9999),
    (ParamError("bad"), 431, 4350),
    (PermissionDenied("no", uuids=["u1"]), 531, 4365),
    (InternalError("boom"), 530, 4250),
    (UnsupportedAction("Unknown API command: x"), 432, 9999),
])
def test_error_body_shape(err: CloudError, code: int, cscode: int) -> None:
    body = error_body(err)
    assert list(body) == ["uuidList", "errorcode", "cserrorcode", "errortext"]
    assert body["errorcode"] == code and body["cserrorcode"] == cscode
    assert isinstance(body["uuidList"], list) and body["errortext"] == err.text


def test_unauthorized_error_has_no_cserrorcode() -> None:
    body = error_body(Unauthorized("unable to verify user credentials and/or request signature"))
    assert body == {"uuidList": [], "errorcode": 401,
                    "errortext": "unable to verify user credentials and/or request signature"}


def test_xml_rendering() -> None:
    body = body_for(ListResult([{"id": "z1", "name": "a<b", "enabled": True}], 1), "zone")
    raw, ctype = render("listzonesresponse", body, "xml")
    assert ctype.startswith("text/xml")
    root = ElementTree.fromstring(raw)
    assert root.tag == "listzonesresponse"
    assert root.attrib.get("cloud-stack-version")
    assert root.findtext("count") == "1"
    assert root.findtext("zone/name") == "a<b"
    assert root.findtext("zone/enabled") == "true"


def test_non_ascii_text_is_kept() -> None:
    out = _json("x", {"name": "éè<>"})
    assert out["x"]["name"] == "éè<>"


def test_json_is_what_json_dumps_writes_compact_and_utf8() -> None:
    """The JSON renderer (orjson) writes the bytes clients got from json.dumps(separators=(",", ":"),
    ensure_ascii=False): non-ASCII as UTF-8, control characters escaped, integer keys as strings, and an
    integer beyond 64 bits still rendered."""
    body = {"count": 2, "zone": [{"id": "z1", "name": "Zürich ☁", "note": 'tab\there "q" \\ </x>\u2028',
                                  "cpu": 12.5, "ctl": "\x01\x1f", "ok": True, "tags": []}],
            "by_id": {7: "seven"}}
    for b in (body, {"count": 1, "big": 10**20}):
        raw, _ = render("listzonesresponse", b, "json")
        assert raw == json.dumps({"listzonesresponse": b}, separators=(",", ":"), ensure_ascii=False).encode()
