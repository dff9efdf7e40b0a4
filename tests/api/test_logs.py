"""The server's log as an operator reads it: `serve --log-format json` (DEVCLOUD_LOG_FORMAT=json) writes one JSON
object per line; every request on every port gets a request id (the client's sane X-Request-Id, else a new one),
answered in the X-Request-Id header and written on one access line; the lines written while a request or its
async job runs carry the id, the job, the account and the command; secrets never reach the log."""

from __future__ import annotations

import base64
import json
import signal
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Served, start_served, wait_for

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def served_json(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    state = tmp_path_factory.mktemp("served-json")
    srv = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env={"DEVCLOUD_LOG_FORMAT": "json"})
    try:
        yield srv
    finally:
        srv.kill(signal.SIGTERM)


def records(served: Served) -> list[dict[str, Any]]:
    """Every line of the server's log, each one a JSON object (the assertion fails on a line that is not)."""
    out = []
    for line in served.log_path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line is not JSON: {line!r}") from None
    return out


def access_line(served: Served, rid: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        lines = [r for r in records(served) if r["logger"] == "devcloud.access" and r["request_id"] == rid]
        assert len(lines) <= 1, lines
        return lines[0] if lines else None

    return wait_for(found, timeout=10, what=f"the access line of request {rid}")  # type: ignore[no-any-return]


def test_every_port_answers_with_a_request_id_and_writes_one_access_line(served_json: Served) -> None:
    s = served_json
    api = s.client()
    ports = {"api": s.api_port, "integration": s.integration_port, "s3": int(s.env["DEVCLOUD_S3_PORT"]),
             "ec2": int(s.env["DEVCLOUD_EC2_PORT"])}
    signed = api.params_for("listCapabilities", None, {})
    calls = [  # (listener, method, path, query, command)
        ("api", "GET", "/client/api", signed, "listCapabilities"),
        ("integration", "GET", "/client/api", {"command": "listZones", "response": "json"}, "listZones"),
        ("api", "GET", "/metrics", None, None),
        ("api", "GET", "/client/api/openapi.json", None, None),
        ("api", "GET", "/client/", None, None),
        ("s3", "GET", "/", None, None),
        ("ec2", "GET", "/", {"Action": "DescribeRegions", "Version": "2016-11-15"}, None),
    ]
    for listener, method, path, query, command in calls:
        r = httpx.request(method, f"http://127.0.0.1:{ports[listener]}{path}", params=query, timeout=30)
        rid = r.headers.get("x-request-id")
        assert rid and len(rid) == 8, (listener, path, r.headers)
        line = access_line(s, rid)
        assert (line["port"], line["method"], line["path"], line["status"], line["bytes"]) == \
            (listener, method, path, r.status_code, len(r.content)), line
        assert line["duration"] >= 0 and line["outcome"] == ("ok" if r.status_code < 400 else "error")
        assert line.get("command") == command, line
        assert "?" not in line["message"] and "?" not in line["path"]
    r = api.call("listCapabilities")
    assert access_line(s, r.headers["x-request-id"])["account"] == "admin"


def test_what_the_http_parser_refuses_has_an_id_and_an_access_line_too(served_json: Served) -> None:
    with socket.create_connection(("127.0.0.1", served_json.api_port), timeout=10) as sock:
        sock.sendall(b"GET /client/api?command=listZones HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    rid = next(ln.split(b": ", 1)[1].decode() for ln in head.split(b"\r\n") if ln.lower().startswith(b"x-request-id:"))
    line = access_line(served_json, rid)
    assert status == 400 and (line["port"], line["status"], line["bytes"]) == ("api", status, len(body)), line


def test_a_signed_ec2_call_names_its_action_and_account(served_json: Served) -> None:
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{served_json.env['DEVCLOUD_EC2_PORT']}",
                       region_name="us-east-1", aws_access_key_id=served_json.apikey,
                       aws_secret_access_key=served_json.secretkey)
    out = ec2.describe_regions()
    rid = out["ResponseMetadata"]["HTTPHeaders"]["x-request-id"]
    line = access_line(served_json, rid)
    assert (line["port"], line["command"], line["account"], line["status"]) == ("ec2", "DescribeRegions", "admin",
                                                                                200), line


def test_a_sane_client_request_id_is_kept_and_an_odd_one_replaced(served_json: Served) -> None:
    s = served_json
    api = s.client()
    mine = "trace-0042.a:b"
    r = api.http.get("/client/api", params=api.params_for("listZones", None, {}), headers={"X-Request-Id": mine})
    assert r.status_code == 200 and r.headers["x-request-id"] == mine
    assert access_line(s, mine)["command"] == "listZones"
    for odd in ("has spaces", "x" * 65, "quote\"", "-leading-dash"):
        r = api.http.get("/client/api", params=api.params_for("listZones", None, {}), headers={"X-Request-Id": odd})
        assert r.status_code == 200 and r.headers["x-request-id"] != odd and len(r.headers["x-request-id"]) == 8


def test_the_job_runs_under_its_requests_id_account_and_command(served_json: Served) -> None:
    s = served_json
    api = s.client()
    acct = api.new_account()
    r = api.call("deleteAccount", id=acct["id"])
    assert r.status_code == 200, r.text
    rid = r.headers["x-request-id"]
    jobid = r.json()["deleteaccountresponse"]["jobid"]
    assert api.wait(jobid)["jobstatus"] == 1
    with sqlite3.connect(s.state_dir / "devcloud.db") as db:
        assert db.execute("SELECT request_id FROM async_job WHERE uuid = ?", (jobid,)).fetchone() == (rid,)

    def job_line() -> dict[str, Any] | None:
        return next((x for x in records(s) if x.get("job_id") == jobid and x.get("outcome")), None)

    done = wait_for(job_line, timeout=10, what="the job's completion line")
    assert (done["request_id"], done["account"], done["command"], done["outcome"]) == \
        (rid, "admin", "deleteAccount", "succeeded"), done
    assert done["duration"] >= 0 and done["level"] == "INFO" and done["time"].endswith("+00:00")
    assert access_line(s, rid)["command"] == "deleteAccount"


def test_secrets_never_reach_the_log(served_json: Served, tmp_path: Path) -> None:
    s = served_json
    api = s.client()
    password = "Pw-" + base64.b32encode(b"not-in-any-log").decode().rstrip("=")
    acct = api.new_account(password=password)
    user = api.client_for(acct)
    user("listZones")  # signed with the user's keys: apiKey and signature in the query string
    signed = api.params_for("listZones", None, {})
    api.http.get("/client/api", params=signed)
    login = httpx.post(s.endpoint, data={"command": "login", "username": acct["username"], "password": password,
                                         "response": "json"}, timeout=30)
    assert login.status_code == 200, login.text
    bad = httpx.post(s.endpoint, data={"command": "login", "username": acct["username"],
                                       "password": password + "-wrong", "response": "json"}, timeout=30)
    assert bad.status_code == 401
    userdata = base64.b64encode(b"#!/bin/sh\necho userdata-not-in-the-log\n").decode()
    status, _ = api.error("deployVirtualMachine", zoneid="00000000-0000-0000-0000-000000000000",
                          templateid="00000000-0000-0000-0000-000000000000", serviceofferingid="x",
                          userdata=userdata)
    assert status == 431
    s3 = f"http://127.0.0.1:{s.env['DEVCLOUD_S3_PORT']}"
    httpx.get(f"{s3}/bucket/key", params={"X-Amz-Credential": acct["apikey"], "X-Amz-Signature": "f" * 64},
              timeout=30)
    assert access_line(s, login.headers["x-request-id"])["command"] == "login"
    text = s.log_path.read_text()
    for secret in (password, acct["apikey"], acct["secretkey"], s.apikey, s.secretkey, user.secret,
                   signed["signature"], userdata, "f" * 64):
        assert secret and secret not in text, f"a secret is in the log: {secret[:6]}..."
    for name in ("signature=", "apikey=", "apiKey=", "password=", "secretkey=", "userdata="):
        assert name not in text, name


def test_an_unknown_log_format_is_refused_before_serving() -> None:
    from typer.testing import CliRunner

    from management.cli import app

    r = CliRunner().invoke(app, ["serve", "--log-format", "xml"])
    assert r.exit_code == 2 and "--log-format must be text or json, not 'xml'" in r.output, r.output


def test_start_up_ends_with_its_objects_frozen_and_the_collector_on(served_json: Served) -> None:
    """`serve` starts with the cyclic collector off (a fifth of the CPU to the first answer went to it) and, once the
    background start is done, freezes what start-up made and turns the collector back on: a server that never did
    would grow without bound. The log says when and how many objects."""
    def line() -> dict[str, Any] | None:
        return next((r for r in records(served_json) if r["message"].startswith("start-up done:")), None)

    rec = wait_for(line, timeout=30, what="the start-up line")
    assert rec["logger"] == "devcloud.management" and rec["message"].endswith("objects frozen, cyclic collector on")
    assert int(rec["message"].split()[2]) > 100_000, rec  # modules, mappers, every command's models
