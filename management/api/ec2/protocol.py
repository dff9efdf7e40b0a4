"""The EC2 query protocol, driven by botocore's service model: request parameters -> nested dicts keyed by the
model's member names, result dicts (member names) -> response XML with the model's locationNames.

Wire names are therefore right by construction: ``Reservations`` becomes ``<reservationSet><item>…``,
``SecurityGroupIds`` is read from ``SecurityGroupId.N``, ``Filters`` from ``Filter.N.Name``/``Filter.N.Value.M``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from typing import Any
from xml.sax.saxutils import escape

from management.api.guard import Kind, Rejection
from management.api.xmltext import xml_chars

API_VERSION = "2016-11-15"
NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


class EC2Error(Exception):
    """An AWS error reply: code (e.g. ``InvalidInstanceID.NotFound``), message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@functools.lru_cache(maxsize=1)
def service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ec2")


@functools.lru_cache(maxsize=2048)
def operation(name: str) -> Any:
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


# ------------------------------------------------------------------------------------------------ requests

def _wire_name(member: Any, name: str) -> str:
    ser = member.serialization
    if ser.get("queryName"):
        return str(ser["queryName"])
    if ser.get("name"):
        loc = str(ser["name"])
        return loc[0].upper() + loc[1:]
    return name


def _tree(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        node = root
        parts = key.split(".")
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {} if nxt is None else {"": nxt}
                node[p] = nxt
            node = nxt
        last = parts[-1]
        if isinstance(node.get(last), dict):
            node[last].setdefault("", value)
        else:
            node.setdefault(last, value)
    return root


def _parse(shape: Any, node: Any, where: str) -> Any:
    t = shape.type_name
    if t == "structure":
        if not isinstance(node, dict):
            raise EC2Error("InvalidParameterValue", f"{where} must be a structure")
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            wire = _wire_name(member, name)
            if wire in node:
                out[name] = _parse(member, node[wire], f"{where}.{wire}" if where else wire)
        return out
    if t == "list":
        if not isinstance(node, dict):
            node = {"1": node}
        items = []
        for k in sorted((k for k in node if k.isdigit()), key=int):
            items.append(_parse(shape.member, node[k], f"{where}.{k}"))
        return items
    if isinstance(node, dict):
        node = node.get("", "")
    if t in ("integer", "long"):
        try:
            return int(node)
        except ValueError:
            raise EC2Error("InvalidParameterValue", f"Value ({node}) for parameter {where} is invalid. "
                                                    "Expected an integer.") from None
    if t == "boolean":
        return str(node).lower() == "true"
    if t in ("float", "double"):
        try:
            return float(node)
        except ValueError:
            raise EC2Error("InvalidParameterValue", f"Value ({node}) for parameter {where} is invalid.") from None
    if t == "blob":
        try:
            return base64.b64decode(node)
        except ValueError:
            raise EC2Error("InvalidParameterValue", f"Value for parameter {where} is not base64.") from None
    return node


def parse_request(op: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query pairs (without Action/Version/auth) -> input dict keyed by member names; required members checked."""
    shape = op.input_shape
    if shape is None:
        return {}
    out = _parse(shape, _tree(pairs), "")
    for req in shape.required_members:
        if req not in out:
            wire = _wire_name(shape.members[req], req)
            raise EC2Error("MissingParameter", f"The request must contain the parameter {wire}")
    return out  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------------ responses

def iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, (int, float)):
        return iso(dt.datetime.fromtimestamp(value, dt.UTC))
    return str(value)


def _ser(shape: Any, value: Any, out: list[str]) -> None:
    t = shape.type_name
    if t == "structure":
        members = shape.members
        for name, v in value.items():
            if v is None:
                continue
            member = members.get(name)
            if member is None:
                continue  # not in the model: never on the wire
            tag = member.serialization.get("name", name)
            out.append(f"<{tag}>")
            _ser(member, v, out)
            out.append(f"</{tag}>")
    elif t == "list":
        item = shape.member
        tag = item.serialization.get("name", "member")
        for v in value:
            out.append(f"<{tag}>")
            _ser(item, v, out)
            out.append(f"</{tag}>")
    elif t == "boolean":
        out.append("true" if value else "false")
    elif t == "timestamp":
        out.append(iso(value))
    elif t == "blob":
        out.append(base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode())
    elif t == "map":
        raise TypeError("maps do not occur in EC2 outputs")
    else:
        out.append(escape(str(value)))


def render(op: Any, result: dict[str, Any] | None, request_id: str) -> bytes:
    name = op.name
    out = [XML_HEAD, f'<{name}Response xmlns="{NS}"><requestId>{request_id}</requestId>']
    shape = op.output_shape
    if shape is None or not shape.members:
        out.append("<return>true</return>")
    else:
        _ser(shape, result or {}, out)
    out.append(f"</{name}Response>")
    return xml_chars("".join(out)).encode("utf-8")


def render_error(err: EC2Error, request_id: str) -> bytes:
    return xml_chars(f"{XML_HEAD}<Response><Errors><Error><Code>{escape(err.code)}</Code><Message>"
                     f"{escape(err.message)}</Message></Error></Errors><RequestID>{request_id}</RequestID>"
                     "</Response>").encode()


# What the HTTP layer refuses (management.api.guard), as EC2 names it.
_REJECTIONS = {Kind.MALFORMED: ("InvalidRequest", 400), Kind.METHOD: ("InvalidRequest", 405),
               Kind.TARGET_TOO_LONG: ("InvalidRequest", 400), Kind.HEADERS_TOO_LARGE: ("InvalidRequest", 400),
               Kind.BODY_TOO_LARGE: ("RequestEntityTooLarge", 413), Kind.INTERNAL: ("InternalError", 500)}


def render_rejection(rejection: Rejection, rid: str, _known: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    code, status = _REJECTIONS[rejection.kind]
    text = "An internal error has occurred" if rejection.kind is Kind.INTERNAL else rejection.text
    return status, [(b"content-type", b"text/xml;charset=UTF-8")], render_error(EC2Error(code, text, status), rid)
