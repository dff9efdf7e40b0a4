"""Two management servers on one MariaDB: kill -9 of one while it runs jobs; the survivor declares it Down and
takes its jobs over. Every job ends, and a job's status matches its effect (checked on the tags, not the job table)."""

from __future__ import annotations

import json
import random
import signal
import time
import uuid
from typing import Any

import pytest

from tests.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

JOBS = 40


def _states(api: Any) -> dict[str, str]:
    return {m["id"]: m["state"] for m in api("listManagementServers").get("managementserver", [])}


@pytest.mark.parametrize("backend_name", [pytest.param("mariadb", marks=pytest.mark.mysql)], indirect=True)
def test_survivor_takes_over_a_killed_servers_jobs(served_factory: Any) -> None:
    # Each createTags sleeps inside its job before its transaction commits: 30 s on a (what a holds when it is
    # killed has not committed), 0.5 s on b.
    a = served_factory(extra_env={"DEVCLOUD_JOB_DELAY": json.dumps({"createTags": 30}),
                                  "DEVCLOUD_SERVER_ID": "ms-farm-a"})
    api_a = a.client()
    api_a("updateConfiguration", name="cluster.heartbeat.threshold", value="3000")
    b = served_factory(extra_env={"DEVCLOUD_JOB_DELAY": json.dumps({"createTags": 0.5}),
                                  "DEVCLOUD_SERVER_ID": "ms-farm-b"})
    api_b = b.client()
    assert _states(api_b) == {"ms-farm-a": "Up", "ms-farm-b": "Up"}

    acct = api_a("listAccounts", name="admin")["account"][0]
    jobs = {}
    for i in range(JOBS):
        api = api_a if i % 2 == 0 else api_b
        jobs[f"farm{i}"] = api("createTags", resourceids=acct["id"], resourcetype="Account",
                               **{"tags[0].key": f"farm{i}", "tags[0].value": "v"})["jobid"]

    def a_is_busy() -> list[str] | None:
        held = [j for j in jobs.values() if (r := api_b("queryAsyncJobResult", jobid=j))["jobstatus"] == 0
                and r.get("managementserverid") == "ms-farm-a"]
        return held or None

    held_by_a = wait_for(a_is_busy, timeout=30, what="server a to be running jobs")
    t0 = time.monotonic()
    a.kill(signal.SIGKILL)

    def all_done() -> dict[str, dict[str, Any]] | None:
        results = {k: api_b("queryAsyncJobResult", jobid=j) for k, j in jobs.items()}
        return results if all(r["jobstatus"] != 0 for r in results.values()) else None

    results = wait_for(all_done, timeout=60, interval=0.5, what="every job to end after server a was killed")
    print(f"{len(held_by_a)} jobs held by the killed server; all {JOBS} ended {time.monotonic() - t0:.1f}s after "
          "the kill (threshold 3 s)")
    for key, res in results.items():
        tags = api_b("listTags", key=key, resourcetype="Account", listall=True).get("tag", [])
        if res["jobstatus"] == 1:
            assert len(tags) == 1, (key, res, tags)  # exactly once
        else:
            assert tags == [], (key, res, tags)  # a FAILED job has no committed effect
            assert res["jobresult"]["errortext"]
    # What a held when it died ran nowhere (its transactions died with it): the survivor ran it, successfully.
    for jobid in held_by_a:
        done = api_b("queryAsyncJobResult", jobid=jobid)
        assert done["jobstatus"] == 1, done
        assert done["managementserverid"] == "ms-farm-b", done

    assert _states(api_b) == {"ms-farm-a": "Down", "ms-farm-b": "Up"}
    alerts = [e["description"] for e in api_b("listEvents", type="MS.ALERT", listall=True).get("event", [])]
    assert any(d.startswith("Management server node ms-farm-a (") and "is down" in d for d in alerts), alerts

    served_factory(extra_env={"DEVCLOUD_SERVER_ID": "ms-farm-a"})
    assert _states(api_b) == {"ms-farm-a": "Up", "ms-farm-b": "Up"}


MIXED_TAGS, MIXED_UNTAGS, MIXED_DEPLOYS = 600, 300, 100


def _every(api: Any, command: str, key: str, **kw: Any) -> list[dict[str, Any]]:
    """Every item of a list command, page by page (500 is the largest page a server allows by default)."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        items = api(command, page=page, pagesize=500, **kw).get(key, [])
        out += items
        if len(items) < 500:
            return out
        page += 1


def _simulator_zone(tag: str) -> Any:
    from appliance import zonespec

    # spawn takes three seconds on every simulated host: a killed server is caught in the middle of deploys
    hosts = [{"url": f"http://sim/mix-{tag}/h{i}?cpu=64&mhz=2000&mem=256G&slow=spawn:3", "username": "root",
              "password": "password"} for i in range(4)]
    return zonespec.parse({"name": f"mix-{tag}", "zones": [{
        "name": f"mix-{tag}", "network_type": "Advanced", "dns1": "10.147.28.6", "internal_dns1": "10.147.28.6",
        "guest_cidr": "10.0.0.0/22",
        "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": "100-110",
                               "traffic_types": ["Guest", "Management", "Public"], "providers": ["VirtualRouter"]}],
        "public_ranges": [{"vlan": "50", "gateway": "192.168.2.1", "netmask": "255.255.255.0",
                           "start": "192.168.2.2", "end": "192.168.2.200"}],
        "pods": [{"name": f"pod-{tag}", "gateway": "172.16.0.1", "netmask": "255.255.0.0", "start": "172.16.0.2",
                  "end": "172.16.0.200", "clusters": [{
                      "name": f"c-{tag}", "hypervisor": "Simulator", "hosts": hosts,
                      "primary_storage": [{"name": f"ps-{tag}", "url": f"nfs://10.147.28.6:/export/primary-{tag}"}]}]}],
        "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS", "url": f"nfs://10.147.28.6:/export/ss-{tag}"}],
    }]}, "<test_farm>")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend_name", [pytest.param("mariadb", marks=pytest.mark.mysql)], indirect=True)
def test_a_thousand_mixed_jobs_and_a_kill(served_factory: Any, tmp_path: Any) -> None:
    """1,000 jobs across two servers (tags made, tags removed, simulator deploys), kill -9 of one mid-way: every job
    ends, each SUCCEEDED job's effect is there exactly once, and no FAILED job's effect is (checked on the tags
    and VMs). The simulated hosts' state is shared by both servers (DEVCLOUD_SIMULATOR_STORE), as a real
    hypervisor's would be."""
    from appliance.client import CloudClient
    from appliance.deploy import Deployer

    store = tmp_path / "simulator"
    store.mkdir()
    common = {"DEVCLOUD_SIMULATOR_STORE": str(store)}
    a = served_factory(extra_env={**common, "DEVCLOUD_SERVER_ID": "ms-mix-a",
                                  "DEVCLOUD_JOB_DELAY": json.dumps({"createTags": 0.5, "deleteTags": 0.5})})
    api_a = a.client()
    api_a("updateConfiguration", name="cluster.heartbeat.threshold", value="3000")
    b = served_factory(extra_env={**common, "DEVCLOUD_SERVER_ID": "ms-mix-b"})
    api_b = b.client()
    tag = uuid.uuid4().hex[:6]
    client = CloudClient(a.endpoint, a.apikey, a.secretkey, poll_interval=0.1, job_timeout=120)
    try:
        Deployer(client).deploy(_simulator_zone(tag))
    finally:
        client.close()
    zone = api_a("listZones", name=f"mix-{tag}")["zone"][0]
    template = wait_for(lambda: next((t for t in api_a("listTemplates", templatefilter="all", zoneid=zone["id"])
                                      .get("template", []) if t.get("isready")), None), timeout=60,
                        what="the simulator template")
    offering = api_a("listServiceOfferings")["serviceoffering"][0]
    acct = api_a("listAccounts", name="admin")["account"][0]
    on_acct = {"resourceids": acct["id"], "resourcetype": "Account"}
    api_a.run("createTags", **on_acct, **{f"tags[{j}].key": f"untag{j}" for j in range(MIXED_UNTAGS)},
              **{f"tags[{j}].value": "v" for j in range(MIXED_UNTAGS)})

    def a_holds_a_deploy() -> list[str] | None:
        listed = _every(api_b, "listAsyncJobs", "asyncjobs", listall=True)
        held = [j for j in listed if j["jobstatus"] == 0 and j.get("managementserverid") == "ms-mix-a"]
        return [j["jobid"] for j in held] if any("deployVirtualMachine" in j["cmd"] for j in held) else None

    jobs: dict[tuple[str, int], str] = {}
    work = ([("tag", i) for i in range(MIXED_TAGS)] + [("untag", j) for j in range(MIXED_UNTAGS)]
            + [("deploy", k) for k in range(MIXED_DEPLOYS)])
    random.Random(7).shuffle(work)
    held_by_a: list[str] | None = None
    t0 = 0.0
    for n, (kind, i) in enumerate(work):
        # the clients spread their calls over both servers until one dies, then use the survivor
        api = api_a if n % 2 == 0 and held_by_a is None else api_b
        if kind == "tag":
            r = api("createTags", **on_acct, **{"tags[0].key": f"mix{i}", "tags[0].value": "v"})
        elif kind == "untag":
            r = api("deleteTags", **on_acct, **{"tags[0].key": f"untag{i}"})
        else:
            r = api("deployVirtualMachine", zoneid=zone["id"], templateid=template["id"],
                    serviceofferingid=offering["id"], name=f"mixvm-{i}")
        jobs[(kind, i)] = r["jobid"]
        if held_by_a is None and n >= 200 and n % 20 == 0:
            held_by_a = a_holds_a_deploy()
            if held_by_a:
                a.kill(signal.SIGKILL)
                t0 = time.monotonic()
    assert held_by_a, "server a never ran a deploy while the jobs were submitted"

    def ended(ids: list[str]) -> dict[str, dict[str, Any]] | None:
        results = {j: api_b("queryAsyncJobResult", jobid=j) for j in ids}
        return results if all(r["jobstatus"] != 0 for r in results.values()) else None

    wait_for(lambda: ended(held_by_a), timeout=120, interval=0.5, what="the killed server's jobs to end")
    held_done = time.monotonic() - t0
    results = wait_for(lambda: ended(list(jobs.values())), timeout=600, interval=2, what="every job to end")
    by_status = {s: sum(r["jobstatus"] == s for r in results.values()) for s in (1, 2)}
    taken_over = [j for j in held_by_a if results[j].get("managementserverid") == "ms-mix-b"]
    print(f"{len(held_by_a)} jobs held by the killed server ended {held_done:.1f}s after the kill; all "
          f"{len(jobs)} ended {time.monotonic() - t0:.1f}s after it: {by_status[1]} succeeded, {by_status[2]} "
          f"failed; {len(taken_over)} of the killed server's jobs were finished by the survivor")
    assert taken_over, "the kill interrupted nothing: every job the killed server held had ended before it"

    tags = {t["key"] for t in _every(api_b, "listTags", "tag", resourcetype="Account", listall=True)}
    vm_rows = _every(api_b, "listVirtualMachines", "virtualmachine", listall=True)
    vms: dict[str, list[dict[str, Any]]] = {}
    for v in vm_rows:
        vms.setdefault(v["name"], []).append(v)
    for (kind, i), jobid in jobs.items():
        res = results[jobid]
        ok = res["jobstatus"] == 1
        if not ok:
            assert res["jobresult"]["errortext"], res
        if kind == "tag":
            assert (f"mix{i}" in tags) == ok, (kind, i, res)
        elif kind == "untag":
            assert (f"untag{i}" not in tags) == ok, (kind, i, res)
        else:
            mine = vms.get(f"mixvm-{i}", [])
            if ok:
                assert [v["state"] for v in mine] == ["Running"], (kind, i, res, mine)
            else:
                assert all(v["state"] != "Running" for v in mine), (kind, i, res, mine)
    assert _states(api_b) == {"ms-mix-a": "Down", "ms-mix-b": "Up"}
