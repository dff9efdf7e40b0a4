"""A job interrupted by `kill -9` of its server ends (status 1 or 2 with errortext) after a restart."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def test_job_survives_server_crash(served_factory: Any, backend: Any) -> None:
    env = {"DEVCLOUD_JOB_DELAY": json.dumps({"createTags": 30}), "DEVCLOUD_SERVER_ID": "ms-recovery"}
    first = served_factory(extra_env=env)
    api = first.client()
    acct = api("listAccounts", name="admin")["account"][0]
    jobid = api("createTags", resourceids=acct["id"], resourcetype="Account",
                **{"tags[0].key": "k", "tags[0].value": "v"})["jobid"]
    job = api("queryAsyncJobResult", jobid=jobid)
    assert job["jobstatus"] == 0 and "jobresult" not in job
    # Wait until a worker has claimed it (it then sleeps 30 s inside the job), then crash the server.
    wait_for(lambda: api("queryAsyncJobResult", jobid=jobid).get("managementserverid") == "ms-recovery",
             timeout=15, what="the job to be claimed")
    first.kill(signal.SIGKILL)
    second = served_factory(extra_env={"DEVCLOUD_SERVER_ID": "ms-recovery"})
    api2 = second.client()

    def finished() -> dict[str, Any] | None:
        j = api2("queryAsyncJobResult", jobid=jobid)
        return j if j["jobstatus"] != 0 else None

    done = wait_for(finished, timeout=60, what=f"job {jobid} to leave jobstatus 0 after the restart")
    assert done["jobstatus"] in (1, 2)
    if done["jobstatus"] == 2:
        assert done["jobresult"]["errortext"], done
        assert done["jobresultcode"] != 0
