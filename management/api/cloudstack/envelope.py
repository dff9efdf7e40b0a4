"""Response envelopes: one top-level `<command>response` key, CloudStack's list, object, async and error shapes,
JSON (`response=json`) or XML (the default)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import orjson
from pydantic import BaseModel

from management.api.xmltext import xml_chars
from management.errors import CloudError

JSON_TYPE = "application/json; charset=UTF-8"
XML_TYPE = "text/xml; charset=UTF-8"


def cs_date(value: datetime) -> str:
    """CloudStack's date format, yyyy-MM-dd'T'HH:mm:ssZ (e.g. 2024-05-01T10:00:00+0000)."""
    if value.tzinfo is not None and value.utcoffset():
        return value.strftime("%Y-%m-%dT%H:%M:%S%z")
    # naive values are UTC; isoformat is ~4x faster than strftime (a 500-VM page formats 500 dates) and pads the
    # year to four digits as Java's yyyy does
    return value.isoformat(timespec="seconds")[:19] + "+0000"


@dataclass(slots=True)
class ListResult:
    items: list[Any]
    count: int
    # An empty list is CloudStack's bare {}; True answers {"count": 0, key: []} instead (see listZones).
    keep_key: bool = False


@dataclass(slots=True)
class Flat:
    """A response whose fields sit directly under the response key (login, queryAsyncJobResult...)."""

    body: dict[str, Any]


@dataclass(slots=True)
class Success:
    success: bool = True
    displaytext: str | None = None


class JsonReady(list):  # type: ignore[type-arg]
    """Items already in wire form (JSON values only, nulls dropped, dates formatted): `plain` passes them as they
    are. The big list paths build these directly instead of response models (listVirtualMachines)."""


_LEAVES = frozenset({str, int, bool, float})


def plain(value: Any) -> Any:
    """Converts response objects to JSON-ready values, dropping nulls (Gson's behaviour)."""
    # Leaves first, by exact type: a list page of 500 VMs is ~100k leaves, and this runs for every one of them.
    if type(value) in _LEAVES or type(value) is JsonReady:
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_none=True)
    if isinstance(value, dict):
        return {k: v if type(v) in _LEAVES else plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set):
        return [v if type(v) in _LEAVES else plain(v) for v in value]
    if isinstance(value, datetime):
        return cs_date(value)
    if isinstance(value, Decimal):  # BigDecimal fields (quota): a JSON number, as Gson writes them
        return float(value)
    return value


def body_for(result: Any, result_key: str | None) -> dict[str, Any]:
    """The object under the response key for a command's return value."""
    if isinstance(result, Flat):
        return plain(result.body)
    if isinstance(result, Success):
        out: dict[str, Any] = {"success": result.success}
        if result.displaytext:
            out["displaytext"] = result.displaytext
        return out
    if isinstance(result, ListResult):
        if result.count == 0:
            return {"count": 0, result_key or "item": []} if result.keep_key else {}
        body: dict[str, Any] = {"count": result.count}
        if result.items:
            body[result_key or "item"] = plain(result.items)
        return body
    if result is None:
        return {}
    return {result_key or "item": plain(result)}


def error_body(err: CloudError) -> dict[str, Any]:
    body: dict[str, Any] = {"uuidList": err.uuids, "errorcode": err.code}
    if err.cs_code is not None:
        body["cserrorcode"] = err.cs_code
    body["errortext"] = err.text
    return body


def render(response_name: str, body: dict[str, Any], fmt: str) -> tuple[bytes, str]:
    if fmt == "json":
        # compact (listApis must be one line) and UTF-8 as it is, like json.dumps(separators=(",", ":"),
        # ensure_ascii=False); what orjson refuses (an integer beyond 64 bits) goes the slow way
        try:
            return orjson.dumps({response_name: body}, option=orjson.OPT_NON_STR_KEYS), JSON_TYPE
        except TypeError:
            return json.dumps({response_name: body}, separators=(",", ":"), ensure_ascii=False).encode(), JSON_TYPE
    return render_xml(response_name, body).encode(), XML_TYPE


def _xml_value(name: str, value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append(f"<{name}>")
        for k, v in value.items():
            _xml_value(k, v, out)
        out.append(f"</{name}>")
    elif isinstance(value, list):
        for v in value:
            _xml_value(name, v, out)
    else:
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        out.append(f"<{name}>{escape(text)}</{name}>")


def render_xml(response_name: str, body: dict[str, Any], version: str | None = "4.22.0.0") -> str:
    attr = f' cloud-stack-version="{version}"' if version else ""
    out = [f'<?xml version="1.0" encoding="UTF-8"?><{response_name}{attr}>']
    for k, v in body.items():
        _xml_value(k, v, out)
    out.append(f"</{response_name}>")
    return xml_chars("".join(out))
