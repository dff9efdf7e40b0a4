"""Isolation walker: account B must never see or touch what account A owns — for EVERY command B may call.

It walks the live registry (what `listApis` returns to B, and each command's parameter metadata), so commands
teammates add later are covered without editing this file:

1. A and B are plain users in one child domain. A creates what it can: tags on its account and user, plus one
   call of every create/register/add/deploy/associate command its role allows, with parameters filled from
   listApis metadata (failures are fine: that command simply contributes no object).
2. A's objects are collected from every list command A may call (listall=true): items whose account/accountid/
   userid is A's, plus A's account, user, jobs and events.
3. For every command B may call that takes an id-like parameter (listApis type "uuid", or a name ending in
   id/ids), B calls it once per A object with A's id in every such parameter, other required parameters filled:
   - read commands (list/get/query): HTTP 200, 431 or 531 — and a 200 body contains nothing of A's;
   - mutations: 431 or 531 (async ones may answer 200 with a job that FAILS with 431/531); never 200/530.
4. Every list command B may call, with listall=true and without, returns nothing of A's.
5. A is unchanged afterwards (keys, tags, state, names). A mutation that answers 200 (its id-like parameter was
   not a reference it acts on, e.g. an ignored `projectid`) passes only if everything A lists is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.api.cloudstack import registry
from tests.api.isolation_seeds import seed_network_family
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api

READ_VERBS = ("list", "get", "query")
CREATE_VERBS = ("create", "register", "add", "deploy", "associate")
SKIP = {"login", "logout"}


def _id_params(api_entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in api_entry["params"]
            if p["type"] == "uuid" or p["name"].endswith("id") or p["name"].endswith("ids")]


def _fill(api_entry: dict[str, Any], *, skip: set[str], resource_type: str | None, apikey: str) -> dict[str, str]:
    """Values for the required parameters not already chosen, from their listApis types."""
    out: dict[str, str] = {}
    for p in api_entry["params"]:
        name = p["name"]
        if name in skip:
            continue
        if name.endswith("apikey"):
            out[name] = apikey
            continue
        if name == "resourcetype" and resource_type:
            out[name] = resource_type
            continue
        if not p["required"]:
            continue
        t = p["type"]
        if t == "map":
            out[f"{name}[0].key"] = "isolation"
            out[f"{name}[0].value"] = "walker"
        elif t == "boolean":
            out[name] = "false"
        elif t in ("long", "integer", "short"):
            out[name] = "1"
        elif t == "float":
            out[name] = "1.0"
        elif t in ("date", "tzdate"):
            out[name] = "2030-01-01"
        elif name == "permission":
            out[name] = "allow"
        elif name == "email":
            out[name] = "walker@example.org"
        else:
            out[name] = f"walker-{name}"
    return out


def _owned_by(item: Any, a: dict[str, Any]) -> bool:
    if not isinstance(item, dict):
        return False
    return (item.get("accountid") == a["id"] or item.get("userid") == a["userid"]
            or item.get("id") in (a["id"], a["userid"])
            or (item.get("account") == a["name"] and item.get("domainid") == a["domainid"]))


def _items(body: dict[str, Any]) -> list[Any]:
    return [x for k, v in body.items() if k != "count" and isinstance(v, list) for x in v]


def _entity_of(list_name: str) -> str:
    spec = registry.lookup(list_name)
    key = (spec.result_key if spec else None) or list_name[4:]
    return key.rstrip("s").lower()


@pytest.fixture
def world(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    api = server.api
    dom = api("createDomain", name="isolation")["domain"]
    a = api.new_account(domainid=dom["id"], name="alice")
    b = api.new_account(domainid=dom["id"], name="bob")
    ua, ub = api.client_for(a), api.client_for(b)
    seeds = seed_network_family(server, tmp_path, a)
    next(seeds)  # A's network-family objects (real ids for B's calls)
    jobs = [ua("createTags", resourceids=a["id"], resourcetype="Account",
               **{"tags[0].key": "secret", "tags[0].value": "a"})["jobid"],
            ua("createTags", resourceids=a["userid"], resourcetype="User",
               **{"tags[0].key": "secret", "tags[0].value": "u"})["jobid"]]
    for j in jobs:
        assert ua.wait(j)["jobstatus"] == 1
    a_apis = {e["name"]: e for e in ua("listApis")["api"]}
    for name, entry in sorted(a_apis.items()):  # A creates whatever its role lets it create
        if name.startswith(CREATE_VERBS) and name not in ("createTags", "registerUserKeys"):
            params = _fill(entry, skip=set(), resource_type="Account", apikey=a["apikey"])
            for p in _id_params(entry):
                if p["required"]:
                    params[p["name"]] = a["id"]
            r = ua.call(name, params)
            if r.status_code == 200 and "jobid" in next(iter(r.json().values())):
                ua.wait(next(iter(r.json().values()))["jobid"])
    # Everything A can list and owns.
    owned: dict[str, str] = {a["id"]: "account", a["userid"]: "user"}
    for j in jobs:
        owned[j] = "asyncjob"
    tags_before = ua("listTags")["count"]
    for name, entry in a_apis.items():
        if not name.startswith("list") or any(p["required"] for p in entry["params"]):
            continue
        for item in _items(ua(name, listall=True)):
            if _owned_by(item, a) and isinstance(item.get("id"), str):
                owned[item["id"]] = _entity_of(name)
    assert tags_before == 2
    assert {"condition", "autoscalepolicy", "autoscalevmprofile", "autoscalevmgroup", "cniconfig", "network",
            "asnumber"} <= set(owned.values()), owned
    yield {"domain": dom, "a": a, "b": b, "ua": ua, "ub": ub, "owned": owned, "tags_before": tags_before}
    next(seeds, None)


def _a_view(world: dict[str, Any]) -> str:
    """Everything A sees of its own, as one comparable string."""
    ua, a = world["ua"], world["a"]
    out = {}
    for entry in ua("listApis")["api"]:
        name = entry["name"]
        # the metrics lists carry live counters of A's running VMs and volumes (the plain lists show those objects)
        if name.startswith("list") and not any(p["required"] for p in entry["params"]) and name != "listEvents" \
                and name != "listAsyncJobs" and not name.endswith("Metrics"):
            out[name] = sorted(json.dumps(x, sort_keys=True) for x in _items(ua(name, listall=True))
                               if _owned_by(x, a) or name in ("listTags", "listSSHKeyPairs"))
    return json.dumps(out, sort_keys=True)


def _leaks(text: str, a: dict[str, Any], owned: dict[str, str]) -> list[str]:
    found = [v for v in (a["apikey"], a["secretkey"], a["name"]) if v in text]
    return found + [i for i in owned if i in text]


@pytest.mark.timeout(900)  # walks every command of the surface as B: ~4 min alone on this 2-core machine
def test_b_can_not_reach_a(world: dict[str, Any]) -> None:
    a, ub, owned = world["a"], world["ub"], world["owned"]
    b_apis = {e["name"]: e for e in ub("listApis")["api"]}
    problems: list[str] = []
    before = _a_view(world)
    walked: set[str] = set()
    calls = 0
    walk = world.get("walk", owned)  # the ids fed to B's commands (a world may narrow them to its own kinds)
    for name, entry in sorted(b_apis.items()):
        if name in SKIP:
            continue
        spec = registry.lookup(name)
        assert spec is not None, f"listApis shows {name} but the registry does not know it"
        id_params = _id_params(entry)
        if not id_params:
            continue
        walked.add(name)
        refs = spec.facts.refs
        for oid, kind in walk.items():
            # A Ref names its entity: only feed it ids of that kind (others just give 431, which proves nothing).
            chosen = {p["name"] for p in id_params
                      if p["name"] not in refs or refs[p["name"]].entity.lower().startswith(kind[:5])}
            if not chosen:
                continue
            params = {n: oid for n in chosen}
            params.update(_fill(entry, skip=set(chosen), resource_type=kind.capitalize(), apikey=a["apikey"]))
            r = ub.call(name, params)
            calls += 1
            body = r.json()
            inner = next(iter(body.values()))
            where = f"{name}({json.dumps(params)}) -> HTTP {r.status_code} {json.dumps(body)[:300]}"
            if r.status_code == 530 or r.status_code >= 500 and r.status_code != 531:
                problems.append(f"server error: {where}")
                continue
            if not spec.mutating:
                if r.status_code not in (200, 431, 531):
                    problems.append(f"unexpected status: {where}")
                elif r.status_code == 200 and (_leaks(r.text, a, {k: v for k, v in owned.items() if k != oid})
                                               or _leaks(json.dumps(_items(inner) or inner), a, {})):
                    problems.append(f"LEAK of A's data: {where}")
                continue
            if r.status_code in (431, 531):
                continue
            if r.status_code == 200 and spec.is_async and "jobid" in inner:
                job = ub.wait(inner["jobid"])
                code = job.get("jobresult", {}).get("errorcode")
                if job["jobstatus"] != 2 or code not in (431, 531):
                    problems.append(f"async mutation of A's object did not fail with 431/531: {where} job={job}")
                continue
            # 200: only acceptable when the id-like parameter was not an entity reference the command acts on
            # (e.g. an ignored projectid) — then B acted on its own objects and A must be exactly as before.
            if _a_view(world) != before or _leaks(r.text, a, {k: v for k, v in owned.items() if k != oid}):
                problems.append(f"mutation with A's id changed or leaked A's objects: {where}")
    assert calls > 0 and {"getUserKeys", "registerUserKeys", "updateUser", "queryAsyncJobResult",
                           "createTags"} <= walked, walked
    assert not problems, "\n".join(problems)

    # Lists, with and without listall, never show A's objects.
    for name, entry in sorted(b_apis.items()):
        if not name.startswith("list") or any(p["required"] for p in entry["params"]):
            continue
        for listall in (True, False):
            params = {"listall": listall} if any(p["name"] == "listall" for p in entry["params"]) else {}
            r = ub.call(name, params)
            assert r.status_code == 200, (name, r.text)
            mine = [x for x in _items(next(iter(r.json().values()))) if _owned_by(x, a)]
            assert not mine, f"{name} listall={listall} shows A's objects: {mine}"

    # A is intact.
    ua = world["ua"]
    me = ua("listAccounts")["account"][0]
    assert me["name"] == "alice" and me["state"] == "enabled"
    assert me["user"][0]["firstname"] == "First"
    assert ua("getUserKeys", id=a["userid"])["userkeys"]["apikey"] == a["apikey"]
    assert ua("listTags")["count"] == world["tags_before"]


def test_admin_sees_both(api: ApiClient, world: dict[str, Any]) -> None:
    names = {x["name"] for x in api("listAccounts", domainid=world["domain"]["id"])["account"]}
    assert names == {"alice", "bob"}
    assert api("listTags", listall=True)["count"] == 2


# ------------------------------------------------------------------------------------------------ project leg

def test_project_leg(api: ApiClient, world: dict[str, Any]) -> None:
    """A's project and everything made in it: invisible and untouchable for B (not a member) through every command
    B may call; visible to B once A adds B to the project."""
    a, ua, ub = world["a"], world["ua"], world["ub"]
    prj = ua.run("createProject", name="walkers", displaytext="walkers")["project"]
    a_apis = {e["name"]: e for e in ua("listApis")["api"]}
    for name, entry in sorted(a_apis.items()):  # A creates whatever it can inside the project
        if not name.startswith(CREATE_VERBS) or name in ("createTags", "registerUserKeys", "createProject"):
            continue
        if not any(p["name"] == "projectid" for p in entry["params"]):
            continue
        params = _fill(entry, skip={"projectid"}, resource_type="Project", apikey=a["apikey"])
        params["projectid"] = prj["id"]
        r = ua.call(name, params)
        if r.status_code == 200 and "jobid" in next(iter(r.json().values())):
            ua.wait(next(iter(r.json().values()))["jobid"])
    owned: dict[str, str] = {prj["id"]: "project"}
    for name, entry in a_apis.items():
        if not name.startswith("list") or any(p["required"] for p in entry["params"]):
            continue
        if not any(p["name"] == "projectid" for p in entry["params"]):
            continue
        for item in _items(ua(name, projectid=prj["id"])):
            if isinstance(item, dict) and item.get("projectid") == prj["id"] and isinstance(item.get("id"), str):
                owned[item["id"]] = _entity_of(name)
    assert len(owned) > 1, "nothing was created in the project"

    b_apis = {e["name"]: e for e in ub("listApis")["api"]}
    problems: list[str] = []
    for name, entry in sorted(b_apis.items()):
        if name in SKIP:
            continue
        spec = registry.lookup(name)
        assert spec is not None
        id_params = _id_params(entry)
        if not id_params:
            continue
        for oid, kind in owned.items():
            chosen = {p["name"] for p in id_params if p["name"] not in spec.facts.refs
                      or spec.facts.refs[p["name"]].entity.lower().startswith(kind[:5])}
            if not chosen:
                continue
            params = {n: oid for n in chosen}
            params.update(_fill(entry, skip=set(chosen), resource_type=kind.capitalize(), apikey=a["apikey"]))
            r = ub.call(name, params)
            body = r.json()
            inner = next(iter(body.values()))
            where = f"{name}({json.dumps(params)}) -> HTTP {r.status_code} {json.dumps(body)[:300]}"
            if r.status_code >= 500 and r.status_code != 531:
                problems.append(f"server error: {where}")
            elif r.status_code == 200 and not spec.mutating:
                if any(i in r.text for i in owned if i != oid) or any(
                        isinstance(x, dict) and x.get("projectid") == prj["id"] for x in _items(inner)):
                    problems.append(f"LEAK of the project's data: {where}")
            elif r.status_code == 200 and spec.is_async and "jobid" in inner:
                job = ub.wait(inner["jobid"])
                if job["jobstatus"] != 2 or job.get("jobresult", {}).get("errorcode") not in (431, 531):
                    problems.append(f"async mutation of the project's object did not fail: {where} job={job}")
            elif r.status_code == 200 and spec.mutating and any(i in r.text for i in owned if i != oid):
                problems.append(f"mutation leaked the project's objects: {where}")
    assert not problems, "\n".join(problems)
    for name, entry in sorted(b_apis.items()):  # B's lists never show the project's objects
        if not name.startswith("list") or any(p["required"] for p in entry["params"]):
            continue
        for extra in ({}, {"listall": True}, {"projectid": "-1"}):
            if any(k not in {p["name"] for p in entry["params"]} for k in extra):
                continue
            r = ub.call(name, extra)
            if r.status_code == 431 and "projectid" in extra:
                continue  # a few lists take only real project ids (listResourceLimits, as in CloudStack)
            assert r.status_code == 200, (name, r.text)
            assert not [x for x in _items(next(iter(r.json().values())))
                        if isinstance(x, dict) and (x.get("projectid") == prj["id"] or x.get("id") in owned)], name
    # Membership opens the door, by role.
    ua.run("addAccountToProject", projectid=prj["id"], account=world["b"]["name"])
    seen = {x["id"] for n in ("listNetworks", "listVolumes", "listSecurityGroups", "listSSHKeyPairs",
                             "listInstanceGroups", "listUserData")
            if n in b_apis for x in _items(ub(n, projectid=prj["id"]))}
    assert seen & set(owned), (seen, owned)
    assert ub.wait(ub("deleteProject", id=prj["id"])["jobid"])["jobresult"]["errorcode"] == 531
