"""An idle management server asks the database only for what its loops are due to do, and still runs a job that
another management server queued (no local wake-up for it: the poller finds it)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.conftest import ApiClient, Backend, admin_keys, wait_for

pytestmark = pytest.mark.api


@pytest.fixture
def idle_server(backend: Backend, settings_factory: Callable[..., Any]) -> Iterator[Any]:
    from management.server import build

    # The shipped cadence for cross-server jobs (1 s) and a 1 s heartbeat: one look at the queue per heartbeat.
    srv = build(settings_factory(state_dir=backend.state_dir, db_url=backend.url, job_poll_interval=1.0,
                                 heartbeat_interval=1.0), start_workers=True)
    try:
        yield srv
    finally:
        srv.stop()
        srv.runtime.db.dispose()


def test_idle_statements_are_bounded_by_the_loops_intervals(idle_server: Any) -> None:
    """With nothing asked of it, the server's statements per heartbeat round stay a handful: the heartbeat
    itself (with its look at the peers and this server's maintenance state) and one look at the job queue per
    poll interval. The background loops (host monitor, VM sync, expunger, schedulers, autoscale, usage stats)
    sleep until their next round, a minute or more away; job workers sleep until woken. (Before, four loops
    re-read their settings five times a second and every worker tried to claim a job twenty times a second: a
    hundred statements a second, 10% of a core.)"""
    seen: Counter[str] = Counter()
    heartbeats = [0]

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen[statement.split(None, 1)[0].upper()] += 1
        if statement.lstrip().upper().startswith("UPDATE MSHOST"):
            heartbeats[0] += 1

    engine = idle_server.runtime.db.engine
    wait_for(lambda: idle_server.runtime.runid, what="the server to register")
    event.listen(engine, "before_cursor_execute", count)
    try:
        wait_for(lambda: heartbeats[0] >= 2, what="two heartbeats")  # past the start-up rounds
        seen.clear()
        heartbeats[0] = 0
        wait_for(lambda: heartbeats[0] >= 8, what="eight heartbeats", timeout=60)
        total, rounds = sum(seen.values()), heartbeats[0]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # Per round: the heartbeat's transaction (BEGIN, UPDATE, SELECT of the peers and of this server's maintenance
    # state) and about one queue look (BEGIN, SELECT); settings re-read when the settings cache expires (every
    # 5 s). Allowed: 8 per round plus a constant for the rounds' edges.
    assert total <= 8 * rounds + 12, (rounds, dict(seen))
    assert seen["INSERT"] == 0 and seen["DELETE"] == 0, dict(seen)  # nothing written but the heartbeat


def test_a_job_queued_by_another_server_runs(backend: Backend, idle_server: Any) -> None:
    """A job row written by another management server (its own connection; no wake-up reaches this process)
    is claimed by this server's poller and runs: the tag it creates appears."""
    from starlette.testclient import TestClient

    from management.api.app import api_app
    from management.db.session import Database
    from management.models.jobs import AsyncJob

    keys = admin_keys(backend.state_dir)
    with TestClient(api_app(idle_server.dispatcher), base_url="http://127.0.0.1:8080") as http:
        api = ApiClient(http, keys["apikey"], keys["secretkey"])
        user = api("listUsers")["user"][0]["id"]
        api.run("createTags", resourceids=user, resourcetype="User", **{"tags[0].key": "here", "tags[0].value": "1"})
        other = Database(backend.url)  # the other server's engine: its commit does not notify our queue
        try:
            with other.session() as s:
                mine = s.scalars(select(AsyncJob).where(AsyncJob.command == "createTags")).one()
                params = json.loads(mine.params_json)
                params["tags"] = [{"key": "there", "value": "2"}] if isinstance(params.get("tags"), list) else {
                    "0": {"key": "there", "value": "2"}}
                job = AsyncJob(command=mine.command, cmd_class=mine.cmd_class, params_json=json.dumps(params),
                               account_id=mine.account_id, user_id=mine.user_id, domain_id=mine.domain_id,
                               instance_type=mine.instance_type, instance_uuid=mine.instance_uuid,
                               init_msid=f"other-{uuid.uuid4().hex[:8]}")
                s.add(job)
                s.flush()
                job_uuid = job.uuid
        finally:
            other.dispose()
        done = wait_for(lambda: (r := api("queryAsyncJobResult", jobid=job_uuid))["jobstatus"] != 0 and r,
                        what="the other server's job to run")
        assert done["jobstatus"] == 1, done
        tags = {t["key"]: t["value"] for t in api("listTags", resourceid=user).get("tag", [])}
        assert tags == {"here": "1", "there": "2"}
