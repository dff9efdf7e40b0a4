"""Hostile API requests generated from the command registry's own parameter descriptions (hypothesis strategies),
and the checks every reply must pass. Shared by tests/api/test_fuzz.py (bounded, in CI) and bench/fuzz_api.py
(10,000 requests against a served instance).

A request is a command from the registry with values drawn for its parameters by their listApis type: strings at
and past their length, integers at and past the 32/64-bit edges, uuids of real rows and of nothing, lists, maps,
control characters, SQL and LIKE metacharacters, unknown names. Commands that reach outside the database (a
``url`` to fetch or connect to) are left out: a random value could name a real place.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from hypothesis import strategies as st

from management.api.cloudstack import registry

# Texts that must never reach a client: driver, ORM and interpreter internals.
INTERNAL_MARKERS = ("Traceback", "sqlite3", "pymysql", "OperationalError", "IntegrityError", "DataError",
                    "ProgrammingError", "SELECT ", "INSERT INTO", "Python int", 'File "', "site-packages",
                    "sqlalchemy", "[SQL:", "Internal error executing command:")
# Error codes that say "the server failed" rather than "the request was wrong": never an answer to bad input.
SERVER_FAULTS = {500, 530}
# 530s CloudStack itself answers to a caller's request (a CloudRuntimeException or INTERNAL_ERROR by design, not a
# fault), by the start of their text: the 2FA setup of a domain without 2FA, the simulator's mock commands on an
# unknown mock, createExtension with an unknown type, addNetworkDevice without paramlist, releasePodIpAddress of an
# address never taken or unknown, assignVirtualMachine over the new owner's limits
CLOUDSTACK_530 = ("2FA is not enabled for this domain or at global level", "Failed to cleanup mock",
                  "Failed to query mock", "Invalid type specified - ", "Parameter list is null",
                  "Unable to find ip address by id:", "Ip Address with id= ", "Failed to move Instance due to [")

TRICKY = ["", " ", "%", "_", "%%", "\\", "'", '"', "' or '1'='1", "\x00", "\r", "\n", "\r\n", "\t", "\x7f", "\x1b[0m",
          "-1", "0", "null", "None", "true", "../../../etc/passwd", "<a>&amp;</a>", "{}", "[]", "a,b", ",,", "\u202e",
          "\U0001f642", "é", "\ufeff", "\x01", "\ufffe", "\uffff", "ROOT", "admin", "system", "*", "$(id)", "%s%s%s",
          "{0}", "1;2"]
INT_EDGES = [0, -1, 1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32, 2**53 + 1, 2**62, 2**63 - 1, 2**63,
             -(2**63), -(2**63) - 1, 2**64, 10**30]
LONG_SIZES = [255, 256, 1024, 4096, 4097, 40_000]


def _clean(text: str) -> bool:
    return not any(m in text for m in INTERNAL_MARKERS)


def weighted(*choices: tuple[int, st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    """One of the strategies, each as often as its weight says (plausible values get past validation, so the
    handlers behind it are reached too)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(pool) - 1).flatmap(lambda i: pool[i])


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40).filter(_clean)
PLAIN = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-. "), min_size=1, max_size=20)


def strings() -> st.SearchStrategy[str]:
    long = st.builds(lambda n, c: c * n, st.sampled_from(LONG_SIZES), st.sampled_from(["x", "é", "%", "_", "a\r"]))
    return weighted((4, PLAIN), (2, st.sampled_from(TRICKY)), (2, TEXT), (1, long))


def integers() -> st.SearchStrategy[str]:
    junk = st.sampled_from(["1.5", "1e3", "0x10", " 7", "7 ", "+3", "--1", "\u0663", "1_000", "9" * 5000, "", "NaN"])
    return weighted((4, st.integers(-2, 4096).map(str)), (1, st.integers().map(str)),
                    (2, st.sampled_from(INT_EDGES).map(str)), (1, junk), (1, TEXT))


def booleans() -> st.SearchStrategy[str]:
    return weighted((6, st.sampled_from(["true", "false"])),
                    (1, st.sampled_from(["TRUE", "False", "1", "0", "yes", ""])), (1, TEXT))


def floats() -> st.SearchStrategy[str]:
    return weighted((2, st.floats(-10, 10).map(repr)), (1, st.floats().map(repr)),
                    (1, st.sampled_from(["nan", "inf", "-inf", "1e309", "0.5", "-0.0"])), (1, TEXT))


def uuids(known: list[str]) -> st.SearchStrategy[str]:
    other = weighted((1, st.uuids().map(str)), (1, strings()))
    return weighted((4, st.sampled_from(known)), (1, other)) if known else other


def value_for(info: Mapping[str, Any], ref: registry.Ref | None, known: Mapping[str, list[str]],
              config_names: list[str]) -> st.SearchStrategy[str]:
    kind = info["type"]
    if ref is not None:
        return uuids(known.get(ref.entity, []))
    if info["name"] == "name" and config_names:
        return st.one_of(st.sampled_from(config_names), strings())
    if kind == "long":
        return integers()
    if kind == "boolean":
        return booleans()
    if kind == "float":
        return floats()
    if kind == "date":
        return st.one_of(st.sampled_from(["2024-01-01", "2024-13-45", "2024-01-01 10:00:00", "yesterday"]), TEXT)
    if kind == "uuid":
        return uuids([u for v in known.values() for u in v][:200])
    return strings()


def fuzzable_commands() -> list[registry.CommandSpec]:
    """Every registered command except those whose values reach outside the database (a url to fetch)."""
    return [s for n, s in sorted(registry.commands().items())
            if not any(p["name"] == "url" for p in s.facts.params_info) and n not in ("login", "logout")]


@st.composite
def api_request(draw: st.DrawFn, known: Mapping[str, list[str]], config_names: list[str],
                specs: list[registry.CommandSpec]) -> list[tuple[str, str]]:
    """(name, value) pairs of one request; asks for JSON, one in seven for XML (the envelope must parse too)."""
    if draw(st.integers(0, 99)) < 3:
        command = draw(st.one_of(st.sampled_from(["", "listZones\r", "foo%0Dbar", "foo\x01bar", "LISTZONES"]), TEXT))
        spec = None
    else:
        spec = draw(st.sampled_from(specs))
        command = spec.name
    pairs: list[tuple[str, str]] = [("command", command)]
    if spec is not None:
        for info in spec.facts.params_info:
            wanted = 90 if info["required"] else 35
            if draw(st.integers(0, 99)) >= wanted:
                continue
            name = info["name"]
            ref = spec.facts.refs.get(name)
            if info["type"] == "map":
                groups = draw(st.lists(st.dictionaries(st.sampled_from(["key", "value", "name", "cidr", "id"]),
                                                       strings(), max_size=3), max_size=3))
                for i, group in enumerate(groups):
                    pairs += [(f"{name}[{i}].{k}", v) for k, v in group.items()]
            elif info["type"] == "list":
                items = draw(st.lists(uuids(known.get(ref.entity, []) if ref else []), max_size=4))
                pairs.append((name, ",".join(items)))
            else:
                pairs.append((name, draw(value_for(info, ref, known, config_names))))
    if draw(st.integers(0, 99)) < 10:
        pairs.append((draw(st.sampled_from(["id", "Id", "zoneid", "page", "x[0].y", "a[b]", "\u00e9"])),
                      draw(strings())))
    pairs.append(("response", "xml" if draw(st.integers(0, 6)) == 0 else "json"))
    return pairs


def known_ids(db_url: str) -> tuple[dict[str, list[str]], list[str]]:
    """uuids of the rows each Ref entity names, and the configuration names, read from the database."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from management.models.events import Configuration
    from management.services import access

    engine = create_engine(db_url)
    out: dict[str, list[str]] = {}
    try:
        with Session(engine) as s:
            for entity, policy in access.ENTITIES.items():
                if hasattr(policy.model, "uuid"):
                    out[entity] = list(s.scalars(select(policy.model.uuid).limit(50)))
            names = list(s.scalars(select(Configuration.name)))
    finally:
        engine.dispose()
    return out, names


def _xml_envelope(body: bytes) -> dict[str, Any] | None:
    """CloudStack's XML error envelope as {name: {errorcode, errortext, ...}}; None when it is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    inner: dict[str, Any] = {child.tag: child.text or "" for child in root}
    if "errorcode" in inner:
        inner["errorcode"] = int(inner["errorcode"])
    return {root.tag: inner}


def _registered_response(key: str) -> bool:
    """A response name CloudStack spells its own way (addImageStoreS3Response, updateImageStore)."""
    return any(spec.response_name == key for spec in registry.commands().values())


def reply_problems(status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
    """What is wrong with one reply: outside the envelope, a server fault for bad input, internal text. A request
    the server could not read far enough to see response=json gets CloudStack's default, XML."""
    try:
        doc = json.loads(body) if not body.startswith(b"<?xml") else _xml_envelope(body)
    except ValueError:
        doc = None
    if doc is None:
        return [f"HTTP {status} outside the envelope: {body[:80]!r}"]
    if not isinstance(doc, dict) or len(doc) != 1:
        return [f"HTTP {status}: not a one-key object: {body[:80]!r}"]
    (key, inner), = doc.items()
    problems: list[str] = []
    if not (key.endswith("response") or _registered_response(key)) or not isinstance(inner, dict):
        problems.append(f"HTTP {status}: bad envelope key {key!r}")
    if status != 200:
        if not isinstance(inner, dict) or inner.get("errorcode") != status or not isinstance(inner.get("errortext"),
                                                                                              str):
            problems.append(f"HTTP {status}: errorcode/errortext missing or not the status: {body[:120]!r}")
        by_design = status == 530 and isinstance(inner, dict) and str(inner.get("errortext", "")).startswith(
            CLOUDSTACK_530)
        if (status in SERVER_FAULTS and not by_design) or status >= 600 or status < 400:
            problems.append(f"HTTP {status} (server fault): {body[:200]!r}")
    text = body.decode("utf-8", "replace")
    leaked = [m for m in INTERNAL_MARKERS if m in text]
    if leaked:
        problems.append(f"HTTP {status}: internal text {leaked}: {text[:200]!r}")
    desc = headers.get("x-description", "")
    if any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in desc):
        problems.append(f"HTTP {status}: control character in X-Description {desc!r}")
    return problems


# ---- the HTTP layer: what a parser must refuse, in the envelope ---------------------------------------------------

RAW_REQUESTS: list[bytes] = [
    b"PUT /client/api?command=listZones&response=json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    b"DELETE /client/api?command=listZones&response=json HTTP/1.1\r\nHost: x\r\n\r\n",
    b"FOO /client/api?command=listZones&response=json HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /client/api?command=listZones&response=json&x=" + b"y" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /client/api?command=listZones&response=json HTTP/1.1\r\nHost: x\r\nX-Big: " + b"z" * 70_000 + b"\r\n\r\n",
    b"GET /client/api?command=listZones&response=json HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"GET /client/api?command=listZones&response=json HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET\x00/ HTTP/1.1\r\n\r\n",
    b"POST /client/api?response=json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /client/api?response=json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde",
    b"GET /nowhere?response=json HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS hello on a plain port
]


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes] | None:
    """Sends raw bytes, reads one HTTP reply; None when the server closed without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before it read everything
            sock.sendall(data)
        chunks: list[bytes] = []
        try:
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                chunks.append(piece)
                if _complete(b"".join(chunks)):
                    break
        except OSError:
            pass
    raw = b"".join(chunks)
    if not raw:
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        return None
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(m.group(1)), headers, body


def _complete(raw: bytes) -> bool:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
    return m is not None and len(body) >= int(m.group(1))


def traceback_lines(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if "Traceback" in ln]


def pairs_summary(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v[:40]!r}" for k, v in pairs)[:400]
