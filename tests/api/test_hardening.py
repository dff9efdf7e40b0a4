"""Issue 19: what an outside probe found, one test per finding.

1. a value with \\r or \\x7f echoed into X-Description dropped the connection;
2. a ~50 KB keyword reached SQLite's LIKE and came back as SQL in a 530;
3. integers past their column came back as a 530 ("Python int too large ...");
4. the HTTP layer answered in plain text (a query over 64 KiB, an unknown method, PUT);
5. the 32 MiB body limit was checked after the whole body was in memory;
6. secrets at rest: an open state directory, plain secret keys and host passwords in the database, the admin
   password in the log;
7. a 531 told a plain user another account's id.
Plus: an unexpected failure gives the client a request id (and the log the details), never the internals.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import stat
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text

from management.api.cloudstack import registry
from tests.api import fuzz_requests as fz
from tests.api.test_ec2_helpers import ec2_client
from tests.api.test_xen_api import add_pool, fake, xen_zone  # noqa: F401  (fixtures)
from tests.conftest import (
    MYSQL_ENV,
    ApiClient,
    InProcess,
    Served,
    fresh_mysql_database,
    sign_params,
)

pytestmark = pytest.mark.api

UNEXPECTED = "Internal error executing command, please contact your system administrator"


def _envelope(reply: tuple[int, dict[str, str], bytes] | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    assert reply is not None, "the server closed the connection without an answer"
    status, headers, body = reply
    doc = json.loads(body)
    (inner,) = doc.values()
    assert inner["errorcode"] == status, doc
    return status, inner, headers


def _http(method: str, port: int, target: str, body: bytes = b"", headers: str = "") -> bytes:
    extra = f"Content-Length: {len(body)}\r\nContent-Type: application/x-www-form-urlencoded\r\n" if body else ""
    return f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}{headers}\r\n".encode() + body


# ---- 1. control characters echoed into a header ---------------------------------------------------------------

@pytest.mark.parametrize("char", ["\r", "\x7f"], ids=["CR", "DEL"])
def test_an_echoed_control_character_keeps_the_connection(served_sqlite: Served, char: str) -> None:
    enc = "%0D" if char == "\r" else "%7F"
    login = _http("POST", served_sqlite.api_port, "/client/api",
                  f"command=login&username=a{enc}b&password=x&response=json".encode())
    status, inner, headers = _envelope(fz.raw_exchange(served_sqlite.api_port, login))
    assert status in (401, 431) and not re.search(r"[\x00-\x1f\x7f]", headers.get("x-description", ""))

    p = {"command": "listZones", "id": f"a{char}b", "response": "json", "apiKey": served_sqlite.apikey}
    p["signature"] = sign_params(p, served_sqlite.secretkey)
    r = httpx.get(served_sqlite.endpoint, params=p, timeout=30)
    assert r.status_code == 431 and r.json()["listzonesresponse"]["errorcode"] == 431

    foo = _http("GET", served_sqlite.integration_port, f"/client/api?command=foo{enc}bar&response=json")
    status, inner, _ = _envelope(fz.raw_exchange(served_sqlite.integration_port, foo))
    assert status == 432 and inner["errortext"] == f"Unknown API command: foo{char}bar"


def test_xml_replies_stay_well_formed_whatever_they_echo(api: ApiClient) -> None:
    """XML 1.0 has no place for most control characters nor U+FFFE/U+FFFF: the XML envelope stays parseable
    (they become U+FFFD) whether the text is echoed from the request or was stored earlier."""
    r = api.peers["integration"].call("foo\x01bar", response="xml")
    assert r.status_code == 432
    root = ET.fromstring(r.content)
    assert (root.tag, root.findtext("errortext")) == ("errorresponse", "Unknown API command: foo\ufffdbar")

    api("createDiskOffering", name="odd\ufffename", displaytext="odd\uffff", disksize=1)
    r = api.call("listDiskOfferings", name="odd\ufffename", response="xml")
    assert r.status_code == 200
    offering = ET.fromstring(r.content).find("diskoffering")
    assert offering is not None and offering.findtext("name") == "odd\ufffdname"
    # JSON carries them as they are
    assert api("listDiskOfferings", name="odd\ufffename")["diskoffering"][0]["displaytext"] == "odd\uffff"


# ---- 2. a huge keyword -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["listZones", "listRoles", "listNetworkServiceProviders"])
def test_a_keyword_past_its_length_is_431_in_cloudstacks_words(api: ApiClient, command: str) -> None:
    status, err = api.error(command, keyword="x" * 50_000, method="POST")
    assert status == 431
    assert err["errortext"] == (f"Unable to execute API command {command.lower()} due to invalid value. Value "
                                "greater than max allowed length 255 for param: keyword")
    assert err["cserrorcode"] == 9999
    assert api(command, keyword="x" * 255, method="POST") in ({}, {"count": 0, "zone": []})


# ---- 3. integers past their column -----------------------------------------------------------------------------

def test_integers_past_their_range_are_431(api: ApiClient) -> None:
    status, err = api.error("createServiceOffering", name="so", displaytext="so", cpunumber=9223372036854775808,
                            cpuspeed=500, memory=512)
    assert status == 431 and err["errortext"] == ("Unable to execute API command createserviceoffering due to "
                                                  "invalid value 9223372036854775808 for parameter cpunumber")
    # 64-bit for the API, but the column holds 32 bits: the column's range decides.
    status, err = api.error("createServiceOffering", name="so", displaytext="so", cpunumber=2**40, cpuspeed=500,
                            memory=512)
    assert status == 431 and "invalid value" in err["errortext"] and "cpu" in err["errortext"]
    # GB that would overflow the byte count: past storage.max.volume.size, in CloudStack's words
    for size in (4611686018427387904, 2001):
        status, err = api.error("createDiskOffering", name="do", displaytext="do", disksize=size)
        assert (status, err["errortext"]) == (431, "The maximum size for a disk is 2000 GB."), err
        status, err = api.error("createServiceOffering", name="so", displaytext="so", cpunumber=1, cpuspeed=500,
                                memory=512, rootdisksize=size)
        assert (status, err["errortext"]) == (431, "The maximum size for a disk is 2000 GB."), err
    assert api("createDiskOffering", name="do", displaytext="do", disksize=2000)["diskoffering"]["disksize"] == 2000
    # page is CloudStack's INTEGER
    status, err = api.error("listRoles", page=4611686018427387904, pagesize=10)
    assert status == 431 and "page" in err["errortext"]
    assert "role" not in api("listRoles", page=2**31 - 1, pagesize=10)  # the last page CloudStack allows: empty


# ---- 4. the HTTP layer answers in the envelope -----------------------------------------------------------------

def test_the_http_layer_refuses_in_the_cloudstack_envelope(served_sqlite: Served) -> None:
    for port in (served_sqlite.api_port, served_sqlite.integration_port):
        status, inner, _ = _envelope(fz.raw_exchange(port, _http("PUT", port, "/client/api?command=listZones&"
                                                                        "response=json")))
        assert status == 405 and inner["cserrorcode"] == 9999 and "PUT" in inner["errortext"]
        status, inner, _ = _envelope(fz.raw_exchange(port, _http("FOO", port, "/client/api?response=json")))
        assert status == 405
        long_query = "/client/api?command=listZones&response=json&junk=" + "y" * 80_000
        status, inner, _ = _envelope(fz.raw_exchange(port, _http("GET", port, long_query)))
        assert status == 400 and "too long" in inner["errortext"]
        big_header = "X-Junk: " + "z" * 70_000 + "\r\n"
        status, inner, _ = _envelope(fz.raw_exchange(port, _http("GET", port, "/client/api?response=json",
                                                                 headers=big_header)))
        assert status == 400 and "headers too large" in inner["errortext"]
    status, inner, _ = _envelope(fz.raw_exchange(served_sqlite.api_port, _http("GET", served_sqlite.api_port,
                                                                        "/nowhere?response=json")))
    assert status == 400


def test_s3_and_ec2_refuse_in_aws_xml(served_sqlite: Served) -> None:
    s3, ec2 = int(served_sqlite.env["DEVCLOUD_S3_PORT"]), int(served_sqlite.env["DEVCLOUD_EC2_PORT"])
    for port, root, code_path in ((s3, "Error", "Code"), (ec2, "Response", "Errors/Error/Code")):
        for request in (_http("FOO", port, "/"), _http("GET", port, "/?x=" + "y" * 80_000),
                        b"GARBAGE\r\n\r\n"):
            reply = fz.raw_exchange(port, request)
            assert reply is not None
            status, _headers, body = reply
            assert status in (400, 405), body
            doc = ET.fromstring(body)
            assert doc.tag == root and doc.findtext(code_path), body
    status, _h, body = fz.raw_exchange(ec2, _http("PUT", ec2, "/")) or (0, {}, b"")
    assert status == 405 and b"<Code>" in body

    # What they echo stays well-formed XML (characters XML 1.0 forbids become U+FFFD)
    status, _h, body = fz.raw_exchange(s3, _http("GET", s3, "/odd%01bucket/k")) or (0, {}, b"")
    assert status == 404 and ET.fromstring(body).findtext("BucketName") == "odd\ufffdbucket", body
    client = ec2_client(f"http://127.0.0.1:{ec2}", served_sqlite.apikey, served_sqlite.secretkey)
    for name in ("k\x01", "k\ufffe"):
        with pytest.raises(ClientError) as exc:
            client.describe_key_pairs(KeyNames=[name])
        assert exc.value.response["Error"] == {"Code": "InvalidKeyPair.NotFound",
                                               "Message": "The key pair 'k\ufffd' does not exist"}


def test_starlette_refusals_are_envelopes_in_process(api: ApiClient) -> None:
    r = api.http.put("/client/api?command=listZones&response=json")
    assert r.status_code == 405 and r.json()["listzonesresponse"]["errorcode"] == 405
    r = api.http.get("/client/nowhere/api?response=json")
    assert r.status_code == 400 and r.json()["errorresponse"]["errorcode"] == 400


# ---- 5. the body limit holds while the body streams ------------------------------------------------------------

def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _stream_post(port: int, size: int, chunked: bool) -> tuple[int, dict[str, str], bytes] | None:
    head = "POST /client/api HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    piece = b"command=listZones&response=json&x=" + b"a" * (1024 * 1024 - 34)
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head.encode())
        sent = 0
        try:
            while sent < size:
                chunk = piece[: min(len(piece), size - sent)]
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                sent += len(chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # answered and closed before everything was sent
        data = b""
        while True:
            try:
                got = sock.recv(65536)
            except OSError:
                break
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data and len(data.partition(b"\r\n\r\n")[2]) >= int(
                    re.search(rb"content-length: (\d+)", data, re.I).group(1)):  # type: ignore[union-attr]
                break
    if not data:
        return None
    head_b, _, body = data.partition(b"\r\n\r\n")
    lines = head_b.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.slow
def test_a_200_mb_body_is_refused_without_being_held(served_sqlite: Served) -> None:
    pid = served_sqlite.proc.pid
    before = _peak_rss(pid)
    for chunked in (False, True):
        status, inner, _ = _envelope(_stream_post(served_sqlite.api_port, 200 * 1024 * 1024, chunked))
        assert status == 400 and "body too large" in inner["errortext"].lower()
    grown = _peak_rss(pid) - before
    assert grown < 96 * 1024 * 1024, f"peak RSS grew by {grown >> 20} MiB for two 200 MB bodies"
    after = httpx.get(served_sqlite.integration_endpoint, params={"command": "listZones", "response": "json"})
    assert after.status_code == 200


# ---- 6. secrets at rest ----------------------------------------------------------------------------------------

def test_the_state_directory_is_private_and_holds_no_plain_secret(served: Served) -> None:
    api = served.client()
    user = api.new_account()
    admin = served.keys
    secrets_ = [admin["password"], admin["secretkey"], user["secretkey"]]
    assert api.as_user(user["apikey"], user["secretkey"])("listZones") is not None  # sealed keys still work
    loose = [p for p in [served.state_dir, *served.state_dir.rglob("*")]
             if not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == [], loose
    assert stat.S_IMODE((served.state_dir / "db.key").stat().st_mode) == 0o600
    found = [p.name for p in served.state_dir.rglob("*") if p.is_file() and p.name != "admin.json"
             and any(s.encode() in p.read_bytes() for s in secrets_)]
    assert found == [], f"a secret in {found}"
    engine = create_engine(served.db_url)  # the database alone (its file, or MariaDB's rows)
    try:
        with engine.connect() as conn:
            stored = [v for (v,) in conn.execute(text("SELECT secret_key FROM user WHERE secret_key IS NOT NULL"))]
    finally:
        engine.dispose()
    assert stored and all(v.startswith("enc1:") for v in stored)


def test_host_passwords_are_sealed(server: InProcess, api: ApiClient, xen_zone: dict[str, Any],  # noqa: F811
                                   fake: Any) -> None:  # noqa: F811
    add_pool(api, xen_zone, password="s3cret")
    engine = create_engine(server.backend.url)
    try:
        with engine.connect() as conn:
            stored = [v for (v,) in conn.execute(text("SELECT details_json FROM host")) if v]
    finally:
        engine.dispose()
    assert stored and all(v.startswith("enc1:") and "s3cret" not in v for v in stored)
    assert {h["state"] for h in api("listHosts", clusterid=xen_zone["cluster"])["host"]} == {"Up"}


def test_object_store_credentials_are_sealed(server: InProcess, api: ApiClient) -> None:
    api("addObjectStoragePool", name="pool", url="http://127.0.0.1:9/", provider="Simulator",
        **{"details[0].key": "accesskey", "details[0].value": "AK-plain-1", "details[1].key": "secretkey",
           "details[1].value": "SK-plain-2"})
    engine = create_engine(server.backend.url)
    try:
        with engine.connect() as conn:
            stored = [v for (v,) in conn.execute(text("SELECT details_json FROM object_store")) if v]
    finally:
        engine.dispose()
    assert stored and all(v.startswith("enc1:") and "SK-plain-2" not in v for v in stored)


# ---- 7. a 531 names nothing of the other account ---------------------------------------------------------------

def test_a_user_naming_another_account_learns_nothing_of_it(api: ApiClient) -> None:
    a, b = api.new_account(), api.new_account()
    as_b = api.client_for(b)
    status, err = as_b.error("createSSHKeyPair", name="k1", account=a["name"], domainid=a["domainid"])
    assert status == 531 and err["uuidList"] == []
    assert a["id"] not in json.dumps(err)
    # the same answer whether or not the account exists
    status, err = as_b.error("createSSHKeyPair", name="k1", account="no-such-account", domainid=a["domainid"])
    assert status == 531 and err["uuidList"] == []
    assert as_b("createSSHKeyPair", name="k2", account=b["name"], domainid=b["domainid"])["keypair"]["name"] == "k2"


# ---- unexpected failures: a request id, never the internals ----------------------------------------------------

def test_an_unexpected_failure_gives_a_request_id_not_internals(api: ApiClient, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.exc import OperationalError

    def broken(ctx: Any, p: Any) -> Any:
        raise OperationalError("SELECT secret_key FROM user", {}, Exception("disk I/O error"))

    monkeypatch.setattr(registry.lookup("listZones"), "handler", broken)
    caplog.set_level(logging.ERROR)
    r = api.call("listZones")
    inner = r.json()["listzonesresponse"]
    rid = r.headers["x-request-id"]
    assert r.status_code == 530 and inner["errortext"] == f"{UNEXPECTED} (request id {rid})"
    assert "SELECT" not in r.text and "disk I/O" not in r.text
    logged = [rec for rec in caplog.records if rid in rec.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_an_unexpected_job_failure_gives_a_request_id(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    acct = api.new_account()

    def broken(ctx: Any, p: Any) -> Any:
        raise RuntimeError("libvirt: internal error: /var/lib/secret/path")

    monkeypatch.setattr(registry.lookup("deleteAccount"), "handler", broken)
    job = api.wait(api("deleteAccount", id=acct["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresultcode"] == 530
    assert re.fullmatch(re.escape(UNEXPECTED) + r" \(request id [0-9a-f]{8}\)", job["jobresult"]["errortext"])


def test_refusals_are_logged_under_the_request_id_the_client_got(served_sqlite: Served) -> None:
    status, _inner, headers = _envelope(fz.raw_exchange(served_sqlite.api_port, _http("PUT", served_sqlite.api_port,
                                                                               "/client/api?response=json")))
    assert status == 405
    assert f"request {headers['x-request-id']} refused" in served_sqlite.log()


@pytest.fixture
def unmigrated_url(backend_name: str, tmp_path: Path) -> Iterator[str]:
    """An empty database (the `backend` fixture's copies are at head already)."""
    if backend_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with fresh_mysql_database(os.environ[MYSQL_ENV]) as url:
        yield url


def test_the_migration_seals_what_was_stored_before_it(unmigrated_url: str, tmp_path: Path) -> None:
    """A database written before secrets were sealed: the upgrade seals the keys in place, sessions keep working
    under the digest of their key, and the server reads the secrets back."""
    import hashlib

    from management.db import crypto, migrate
    from management.db.session import Database
    from management.models.identity import User, UserSession

    url = unmigrated_url
    crypto.install(crypto.load_or_create_key(tmp_path / crypto.KEY_FILE))
    migrate.upgrade(url, "0001")
    engine = create_engine(url)
    now = "2026-01-01 00:00:00"
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO domain (id, uuid, name, path, level, state, created) "
                              "VALUES (1, 'd-1', 'ROOT', '/', 0, 'Active', :t)"), {"t": now})
            conn.execute(text("INSERT INTO account (id, uuid, name, account_type, domain_id, state, is_default, "
                              "removed_marker, created) VALUES (1, 'a-1', 'old', 0, 1, 'enabled', 0, 0, :t)"),
                         {"t": now})
            conn.execute(text("INSERT INTO user (id, uuid, username, account_id, state, is_default, api_key, "
                              "secret_key, created) VALUES (1, 'u-1', 'old', 1, 'enabled', 0, 'AK', 'plain-secret', "
                              ":t)"), {"t": now})
            conn.execute(text("INSERT INTO user_session (`key`, user_id, created, last_access, timeout) "
                              "VALUES ('plain-session', 1, :t, :t, 1800)"), {"t": now})
        migrate.upgrade(url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT secret_key FROM user WHERE id = 1")).scalar_one()
            session_key = conn.execute(text("SELECT `key` FROM user_session")).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("enc1:") and "plain-secret" not in stored
    assert session_key == hashlib.sha256(b"plain-session").hexdigest()
    db = Database(url)
    try:
        with db.session(write=False) as s:
            assert s.get_one(User, 1).secret_key == "plain-secret"
            assert s.get(UserSession, session_key) is not None
    finally:
        db.dispose()


def test_a_taken_id_for_a_new_domain_is_431(api: ApiClient) -> None:
    """Found by the fuzz test: createDomain's domainid (an id from another region) hit the unique index."""
    api("createDomain", name="first", domainid="region-2-domain")
    status, err = api.error("createDomain", name="second", domainid="region-2-domain")
    assert status == 431 and err["errortext"] == "A domain with id region-2-domain already exists"


def test_a_server_without_the_databases_key_refuses_to_start(backend: Any, served_factory: Any) -> None:
    from cryptography.fernet import Fernet

    first = served_factory()
    first.kill()
    (backend.state_dir / "db.key").write_bytes(Fernet.generate_key() + b"\n")
    with pytest.raises(RuntimeError) as exc:
        served_factory(timeout=30)
    assert "cannot read the database's secrets" in str(exc.value) and "db.key" in str(exc.value)


def test_the_sandbox_log_holds_no_admin_secret(tmp_path: Path) -> None:
    """`devcloud up` starts the server with its output in <state dir>/logs/management.log: the first-start
    credentials stay in admin.json (the terminal shows them from there), the log and pid files are private."""
    from appliance.sandbox import Sandbox
    from tests.conftest import _free_port

    sb = Sandbox(tmp_path / "state", api_port=_free_port(), integration_port=_free_port(), s3_port=_free_port(),
                 ec2_port=_free_port())
    sb.save_state(scenario="test")
    try:
        assert sb.start(timeout=90)
    finally:
        sb.stop()
    admin = sb.admin() or {}
    log = sb.log_file.read_text()
    assert admin["password"] not in log and admin["secretkey"] not in log
    assert "admin.json" in log  # where to find them is said
    for path in (sb.state_dir, sb.log_file, sb.state_file):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_a_driver_failure_reaches_the_client_as_what_failed_and_a_request_id(
        caplog: pytest.LogCaptureFixture) -> None:
    from management import logcontext
    from management.drivers.errors import DriverError
    from management.services.hypervisors import driver_error

    caplog.set_level(logging.WARNING)
    with logcontext.bound("0badc0de"):
        err = driver_error("stop", "VM v-1", DriverError("libvirt: /var/lib/libvirt/qemu/v-1.xml: Permission denied"))
    assert err.code == 530 and err.text == "Unable to stop VM v-1 due to an error on its host (request id 0badc0de)"
    assert "0badc0de" in caplog.text and "Permission denied" in caplog.text
