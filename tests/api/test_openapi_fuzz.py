"""Property-based API testing driven by the served OpenAPI document: hypothesis picks an operation from
`/client/api/openapi.json` and values for its parameters from their schemas (and, as often, values of the wrong
type), sends the request signed as the admin, and checks what every client relies on: a JSON envelope with the
operation's response name (or CloudStack's error object inside it), an HTTP status CloudStack uses, and no
server-side text (tracebacks, SQL) in an error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api

# what CloudStack answers with: success, its 4xx (401 auth, 405 method, 431 parameter, 432 not found in some
# commands) and its 530 family (530 internal, 531 permission, 532 concurrency, 533 capacity, 534 resource
# unavailable, 535 allocation, 536 insufficient capacity, 537 storage unavailable)
ALLOWED = {200, 401, 405, 431, 432, 530, 531, 532, 533, 534, 535, 536, 537}
LEAKS = re.compile(r"Traceback \(most recent call last\)|sqlalchemy|SELECT .* FROM|pymysql|sqlite3\.|File \"/")
# Commands whose side effects outlive one example and would make later ones meaningless (or end the session)
SKIP = {"logout", "login", "deleteDomain", "deleteAccount", "disableAccount", "lockAccount", "deleteUser",
        "disableUser", "registerUserKeys", "updateUser", "updateConfiguration", "resetConfiguration",
        "deleteRole", "updateRole", "deleteRolePermission", "updateRolePermission", "createRolePermission",
        "removeManagementServer", "shutdown", "triggerShutdown", "prepareForShutdown", "prepareForMaintenance",
        "importRole", "updateRolePermissions"}


def _value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    t = schema.get("type")
    if t == "boolean":
        good: st.SearchStrategy[str] = st.sampled_from(["true", "false"])
    elif t == "integer":
        good = st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str)
    elif t == "number":
        good = st.floats(allow_nan=False, allow_infinity=False).map(repr)
    elif schema.get("format") == "uuid":
        good = st.uuids().map(str)
    elif t == "array":
        good = st.lists(st.text(min_size=1, max_size=12), max_size=3).map(",".join)
    else:
        good = st.text(max_size=min(int(schema.get("maxLength", 64)), 64))
    wrong = st.one_of(st.text(max_size=40), st.sampled_from(["", "-1", "1e999", "null", "%00", "'; DROP TABLE x;--"]))
    return st.one_of(good, good, wrong)


def _request(op: dict[str, Any]) -> st.SearchStrategy[dict[str, str]]:
    params = [p for p in op["parameters"] if p["name"] not in ("command", "response")]
    required = [p for p in params if p["required"]]
    optional = [p for p in params if not p["required"]]
    fixed = st.fixed_dictionaries({p["name"]: _value(p["schema"]) for p in required})
    extra = st.lists(st.sampled_from(optional), max_size=4, unique_by=lambda p: p["name"]) if optional \
        else st.just([])
    return st.tuples(fixed, extra).flatmap(
        lambda fe: st.fixed_dictionaries({**{k: st.just(v) for k, v in fe[0].items()},
                                          **{p["name"]: _value(p["schema"]) for p in fe[1]}}))


def test_generated_requests_get_cloudstack_envelopes(server: InProcess, api: ApiClient) -> None:
    doc = api.http.get("/client/api/openapi.json").json()
    ops = {path.removeprefix("/client/api#"): item["get"] for path, item in doc["paths"].items()}
    names = sorted(n for n in ops if n not in SKIP)
    response_names = {n: next(iter(ops[n]["responses"]["200"]["content"]["application/json"]["schema"]
                                   ["properties"])) for n in names}
    seen: dict[int, int] = {}

    @settings(max_examples=400, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(names), label="command")
        params = data.draw(_request(ops[name]), label="params")
        r = api.call(name, params)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code in ALLOWED, (name, params, r.status_code, r.text[:300])
        body = r.json()
        assert isinstance(body, dict) and len(body) == 1, (name, params, r.text[:300])
        (key,) = body
        assert key in (response_names[name], "errorresponse"), (name, key)
        if r.status_code != 200:
            err = body[key]
            assert err["errorcode"] == r.status_code and isinstance(err["errortext"], str), (name, err)
            assert not LEAKS.search(err["errortext"]), (name, params, err["errortext"])

    run()
    assert seen.get(200, 0) > 0 and seen.get(431, 0) > 0, seen  # both sides of validation were exercised
