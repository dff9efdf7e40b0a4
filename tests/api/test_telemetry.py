"""`GET /metrics` (Prometheus text format) and `GET /client/api/openapi.json` on the API port: the series agree with
what the API lists, request counts and latencies follow the calls made, driver calls are timed, and the OpenAPI
document validates and describes exactly the registry's commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def scrape(api: ApiClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = api.http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(samples: list[tuple[dict[str, str], float]], **want: str) -> float:
    return sum(v for labels, v in samples if all(labels.get(k) == x for k, x in want.items()))


def test_inventory_series_match_the_api(api: ApiClient, zone: dict[str, Any]) -> None:
    a, b = deploy(api, zone), deploy(api, zone)
    api.run("stopVirtualMachine", id=b["id"])
    m = scrape(api)
    vms = api("listVirtualMachines", listall=True)["virtualmachine"]
    for state in ("Running", "Stopped"):
        assert total(m["devcloud_virtual_machines"], state=state, hypervisor="Simulator") == \
            sum(1 for v in vms if v["state"] == state)
    assert {a["id"], b["id"]} <= {v["id"] for v in vms}
    hosts = api("listHosts", type="Routing")["host"]
    assert total(m["devcloud_hosts"], type="Routing", state="Up") == sum(1 for h in hosts if h["state"] == "Up")
    pools = api("listStoragePools")["storagepool"]
    assert {lb["pool"]: v for lb, v in m["devcloud_storage_pool_capacity_bytes"]} == \
        {p["name"]: p["disksizetotal"] for p in pools}
    zones = api("listZones")["zone"]
    assert [lb["zone"] for lb, _ in m["devcloud_zones"]] == [z["name"] for z in zones]
    jobs = api("listAsyncJobs", listall=True)["asyncjobs"]
    assert total(m["devcloud_async_jobs"], command="deployVirtualMachine", status="succeeded") == \
        sum(1 for j in jobs if "deployv" in j["cmd"].lower() and j["jobstatus"] == 1)
    assert m["devcloud_async_job_queue_depth"][0][1] == sum(1 for j in jobs if j["jobstatus"] == 0)
    assert "devcloud_async_job_oldest_pending_age_seconds" in m


def test_request_counts_latency_statements_and_driver_calls(api: ApiClient, zone: dict[str, Any]) -> None:
    before = scrape(api)
    for _ in range(3):
        api("listZones")
    api.error("listZones", id="not-a-uuid")
    api.call("noSuchCommand")
    deploy(api, zone)
    m = scrape(api)

    def delta(name: str, **labels: str) -> float:
        return total(m.get(name, []), **labels) - total(before.get(name, []), **labels)

    assert delta("devcloud_api_requests_total", command="listZones", outcome="success", port="api") == 3
    assert delta("devcloud_api_requests_total", command="listZones", outcome="431", port="api") == 1
    assert delta("devcloud_api_requests_total", command="unknown", port="api") == 1
    assert delta("devcloud_api_request_duration_seconds_count", command="listZones", outcome="success") == 3
    # every listZones ran SQL: its statement histogram has 3 more observations, none in the "0" bucket
    assert delta("devcloud_api_request_db_statements_count", command="listZones") == 4
    assert delta("devcloud_api_request_db_statements_sum", command="listZones") >= 4
    # the deploy reached the simulator: spawn was timed
    assert delta("devcloud_driver_call_duration_seconds_count", driver="simulator", operation="spawn",
                 outcome="ok") == 1


def test_integration_port_requests_are_counted_apart(server: InProcess, api: ApiClient) -> None:
    api.peers["integration"]("listZones")
    m = scrape(api)
    assert total(m["devcloud_api_requests_total"], command="listZones", port="integration") >= 1


def test_openapi_document_validates_and_is_the_registry(api: ApiClient) -> None:
    from openapi_spec_validator import validate

    r = api.http.get("/client/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    listed = {a["name"]: a for a in api("listApis")["api"]}
    ops = {p.removeprefix("/client/api#"): item["get"] for p, item in doc["paths"].items()}
    assert set(ops) == set(listed)
    deploy_op = ops["deployVirtualMachine"]
    assert deploy_op["x-isasync"] is True and deploy_op["operationId"] == "deployVirtualMachine"
    params = {p["name"]: p for p in deploy_op["parameters"]}
    assert params["command"]["schema"]["const"] == "deployVirtualMachine" and params["command"]["required"]
    for p in listed["deployVirtualMachine"]["params"]:
        assert params[p["name"]]["required"] == p["required"], p["name"]
    assert params["zoneid"]["schema"]["format"] == "uuid" and params["zoneid"]["x-entity"] == "Zone"
    # a list command's answer: count + the items, each a referenced schema with listApis' response fields
    lz = ops["listZones"]["responses"]["200"]["content"]["application/json"]["schema"]
    items = lz["properties"]["listzonesresponse"]["properties"]["zone"]["items"]
    zone_schema = doc["components"]["schemas"][items["$ref"].rsplit("/", 1)[1]]
    assert {f["name"] for f in listed["listZones"]["response"]} <= set(zone_schema["properties"])
    err = ops["listZones"]["responses"]["default"]["content"]["application/json"]["schema"]
    assert err["properties"]["listzonesresponse"]["required"] == ["errorcode", "errortext"]
