"""Two management servers on one MariaDB: kill -9 of one while it runs jobs; the survivor declares it Down and
takes its jobs over. Every job ends, and a job's status matches its effect (checked on the tags, not the job table)."""

from __future__ import annotations

import json
import signal
import time
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
