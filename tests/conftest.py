"""Fixtures shared by every tier: settings, database backends, the in-process server and a served subprocess.

Backends: every test that uses ``backend`` (directly or through ``server``/``served``) runs once per database:
``sqlite`` always, ``mariadb`` when DEVCLOUD_TEST_MYSQL_URL is set (``.ci/mariadb.sh`` starts one and exports it).
Each backend instance gets a fresh database (MariaDB: a new ``devcloud_t_<hex>`` database, dropped afterwards);
the server migrates it with Alembic itself.

Callers:
- ``api`` (the admin, signed, through the real ASGI app of port 8080), ``api.integration`` (port 8096, SYSTEM),
  ``api.as_user(apikey, secret)``, ``api.anonymous()``: see ``ApiClient``.
- ``served``: a real ``devcloud-management serve`` subprocess on ephemeral loopback ports.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # test modules import helpers as `from tests.conftest import ...`
    sys.path.insert(0, str(REPO))
pytest_plugins = ["tests.tiers"]  # tiers (--tiers), the skip policy, the time table per tier


def pytest_configure(config: pytest.Config) -> None:
    # SQLAlchemy's warnings name real faults (a flush that found fewer rows than it deleted, an API the next
    # release drops): raised where they happen, in the server's threads too, so a test that provokes one fails.
    for category in ("sqlalchemy.exc.SAWarning", "sqlalchemy.exc.SADeprecationWarning"):
        config.addinivalue_line("filterwarnings", f"error::{category}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The session's nested KVM host goes with the session, in each xdist worker too (tests/nested_kvm.py)."""
    nested = sys.modules.get("tests.nested_kvm")
    if nested is not None:
        nested.stop()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test starts with a blocking stdin. A child that inherits it may leave it non-blocking: OpenSSH sets
    O_NONBLOCK on a stdin that is not a tty and cannot undo it when a timeout kills it, and the flag belongs to the
    open file that every later child of this worker shares. Ansible then refuses to start ("Ansible requires
    blocking IO on stdin")."""
    with contextlib.suppress(OSError, ValueError):
        os.set_blocking(0, True)


VENV_BIN = Path(sys.executable).parent
MYSQL_ENV = "DEVCLOUD_TEST_MYSQL_URL"
NO_MYSQL_REASON = (f"{MYSQL_ENV} is not set: no MariaDB to test against (`make test` starts one through "
                   "scripts/provision-test.sh; or `source .ci/mariadb.sh`)")

# Response names that are not <command>response (the registry knows them too; tests must not depend on it).
_RESPONSE_NAMES = {"restoreVirtualMachine": "restorevmresponse",
                   "cleanVMReservations": "cleanvmreservationresponse",
                   "acquirePodIpAddress": "acquirepodipaddress", "releasePodIpAddress": "releasepodipresponse",
                   # CloudStack's own spelling (the commands' s_name), network family
                   "createAutoScalePolicy": "autoscalepolicyresponse",
                   "createAutoScaleVmGroup": "autoscalevmgroupresponse",
                   "createAutoScaleVmProfile": "autoscalevmprofileresponse", "createCondition": "conditionresponse",
                   "createCounter": "counterresponse", "listCounters": "counterresponse",
                   "createLBStickinessPolicy": "createLBStickinessPolicy",
                   "deleteLBStickinessPolicy": "deleteLBstickinessrruleresponse",
                   "deletePortableIpRange": "deleteportablepublicipresponse",
                   "listPortableIpRanges": "listportableipresponse",
                   "enableAutoScaleVmGroup": "enableautoscalevmGroupresponse",
                   "disableAutoScaleVmGroup": "disableautoscalevmGroupresponse",
                   "listNetworkDevice": "listnetworkdevice",
                   "removeFromGlobalLoadBalancerRule": "removefromloadbalancerruleresponse",
                   "updateVMAffinityGroup": "updatevirtualmachineresponse", "addIpToNic": "addiptovmnicresponse",
                   "getUploadParamsForVolume": "postuploadvolumeresponse",
                   "getUploadParamsForTemplate": "postuploadtemplateresponse",
                   "getUploadParamsForIso": "postuploadisoresponse", "listVolumesMetrics": "listvolumesresponse",
                   "configureSimulator": "simulatormock", "querySimulatorMock": "simulatormock",
                   "activateProject": "activaterojectresponse"}


# ------------------------------------------------------------------------------------------------ polling

def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Polls until predicate() returns something truthy; fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported when the deadline passes
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------ signing

def java_encode(value: str) -> str:
    """java.net.URLEncoder.encode(v, UTF-8) with + -> %20 (what the Java server verifies)."""
    return quote(value, safe="-_.*")


def sign_params(params: Mapping[str, str], secret: str) -> str:
    """CloudStack's v1 signature, written independently of the server's implementation."""
    names = sorted(n for n in params if n.lower() != "signature")
    message = "&".join(f"{n}={java_encode(str(params[n]))}" for n in names).lower()
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest()).decode()


# ------------------------------------------------------------------------------------------------ this machine

@pytest.fixture(scope="session")
def roles_applied_here() -> str:
    """The farm's common + kvm_host roles applied to this machine once per session (tests/appliance/roles.py);
    returns ansible-playbook's output. tests/infra inspects what they made."""
    from tests.appliance.roles import run_roles

    rc, out = run_roles()
    assert rc == 0, out[-5000:]
    return out


# ------------------------------------------------------------------------------------------------ backends

@dataclass
class Backend:
    name: str  # "sqlite" | "mariadb"
    url: str
    state_dir: Path


_PICKED_NETS: set[str] = set()


def free_public_net(first: str = "198.18", low: int = 100, high: int = 250) -> str:
    """`a.b.c` of a /24 for a test zone's public range that no route on this machine uses now (nor another module
    of this process picked): tests, CI and a developer's sandbox run side by side, and two public bridges holding
    one /24 would take each other's traffic (the server's public-range guard refuses such a range too)."""
    import ipaddress
    import random

    routes = subprocess.run(["ip", "-4", "-o", "route", "show", "table", "all"], capture_output=True,
                            text=True).stdout
    used = []
    for word in routes.split():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.IPv4Network(word, strict=False))
    candidates = [f"{first}.{n}" for n in range(low, high + 1)]
    random.shuffle(candidates)
    for net in candidates:
        mine = ipaddress.IPv4Network(f"{net}.0/24")
        if net not in _PICKED_NETS and not any(mine.overlaps(u) for u in used if u.prefixlen >= 8):
            _PICKED_NETS.add(net)
            return net
    raise RuntimeError(f"no free /24 in {first}.{low}-{high}.0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def fresh_mysql_database(base_url: str, template: str | None = None) -> Iterator[str]:
    """Creates a new database next to the one in base_url (empty, or a copy of the database `template`: its
    tables as SHOW CREATE TABLE gives them, foreign keys included, and their rows); yields its URL; drops it
    afterwards."""
    import pymysql
    from sqlalchemy.engine import make_url

    u = make_url(base_url)
    name = f"devcloud_t_{secrets.token_hex(6)}"
    conn = pymysql.connect(host=u.host or "127.0.0.1", port=u.port or 3306, user=u.username,
                           password=u.password or "", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            if template:
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                            "AND table_type = 'BASE TABLE'", (template,))
                tables = [row[0] for row in cur.fetchall()]
                cur.execute(f"USE `{name}`")
                cur.execute("SET FOREIGN_KEY_CHECKS = 0")
                for table in tables:
                    cur.execute(f"SHOW CREATE TABLE `{template}`.`{table}`")
                    cur.execute(cur.fetchone()[1])
                    cur.execute(f"INSERT INTO `{table}` SELECT * FROM `{template}`.`{table}`")
                cur.execute("SET FOREIGN_KEY_CHECKS = 1")
        yield u.set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception), conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("mariadb", id="mariadb", marks=pytest.mark.mysql)]


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    if request.param == "mariadb" and not os.environ.get(MYSQL_ENV):
        pytest.fail(NO_MYSQL_REASON)
    return str(request.param)


class MigratedTemplates:
    """One database per backend migrated to head once per session (per xdist worker); every `backend` starts from a
    copy of it. Migrating a new database takes seconds, copying one milliseconds: the server's own migration step
    then finds the copy at head. What the server does on a first start (bootstrap: admin, cloud id) still happens
    on every copy."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sqlite: Path | None = None
        self._mysql: contextlib.ExitStack | None = None
        self._mysql_name: str | None = None

    def sqlite(self, dest: Path) -> None:
        import shutil

        from management.db import migrate

        if self._sqlite is None:
            path = self.root / "template.db"
            migrate.upgrade(f"sqlite:///{path}")
            self._sqlite = path
        shutil.copyfile(self._sqlite, dest)

    def mysql(self) -> str:
        from sqlalchemy.engine import make_url

        from management.db import migrate

        if self._mysql_name is None:
            self._mysql = contextlib.ExitStack()
            url = self._mysql.enter_context(fresh_mysql_database(os.environ[MYSQL_ENV]))
            migrate.upgrade(url)
            self._mysql_name = str(make_url(url).database)
        return self._mysql_name

    def close(self) -> None:
        if self._mysql is not None:
            self._mysql.close()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    t = MigratedTemplates(tmp_path_factory.mktemp("db-templates"))
    try:
        yield t
    finally:
        t.close()


@pytest.fixture
def backend(backend_name: str, tmp_path: Path, migrated_templates: MigratedTemplates) -> Iterator[Backend]:
    """A fresh database at the migrations' head (a copy of the session's migrated template) and a state directory;
    the server bootstraps it as on a first start."""
    state = tmp_path / "state"
    state.mkdir()
    if backend_name == "sqlite":
        migrated_templates.sqlite(state / "devcloud.db")
        yield Backend("sqlite", f"sqlite:///{state / 'devcloud.db'}", state)
        return
    with fresh_mysql_database(os.environ[MYSQL_ENV], template=migrated_templates.mysql()) as url:
        yield Backend("mariadb", url, state)


@pytest.fixture
def db_url(backend: Backend) -> str:
    return backend.url


# ------------------------------------------------------------------------------------------------ settings

@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Any]:
    """settings_factory(**overrides) -> Settings on a temp state dir, isolated from DEVCLOUD_* of the caller."""
    from management.settings import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"state_dir": tmp_path / "state", "job_workers": 2, "job_poll_interval": 0.02,
                                  "heartbeat_interval": 1.0, "api_port": 0, "integration_port": 0}
        values.update(overrides)
        return Settings(**values)

    return make


# ------------------------------------------------------------------------------------------------ API client

class ApiError(AssertionError):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {json.dumps(body)[:600]}")
        self.status = status
        self.body = body


def response_name(command: str) -> str:
    return _RESPONSE_NAMES.get(command, command.lower() + "response")


@dataclass
class ApiClient:
    """Calls the CloudStack API the way a client does: signed with keys, through a session, or on 8096.

    ``call`` returns the raw httpx response; ``__call__`` asserts HTTP 200 and returns the object under the
    single ``<command>response`` key; ``wait(jobid)`` polls queryAsyncJobResult.
    """

    http: httpx.Client
    apikey: str | None = None
    secret: str | None = None
    integration: bool = False
    path: str = "/client/api"
    peers: dict[str, ApiClient] = field(default_factory=dict)

    def params_for(self, command: str, params: Mapping[str, Any] | None, kw: Mapping[str, Any],
                   response: str | None = "json", sign: bool = True) -> dict[str, str]:
        out: dict[str, str] = {"command": command}
        if response is not None:
            out["response"] = response
        for k, v in {**(params or {}), **kw}.items():
            if v is None:
                continue
            out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        if self.apikey and not self.integration and sign:
            out["apiKey"] = self.apikey
            out["signature"] = sign_params(out, self.secret or "")
        return out

    def call(self, command: str, params: Mapping[str, Any] | None = None, *, method: str = "GET",
             response: str | None = "json", sign: bool = True, cookies: Mapping[str, str] | None = None,
             **kw: Any) -> httpx.Response:
        p = self.params_for(command, params, kw, response, sign)
        if cookies is not None:
            self.http.cookies.clear()
            for k, v in cookies.items():
                self.http.cookies.set(k, v, path="/client")
        if method == "POST":
            return self.http.post(self.path, content=urlencode(p),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        return self.http.get(self.path + "?" + urlencode(p, quote_via=quote))

    def __call__(self, command: str, params: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        r = self.call(command, params, **kw)
        body = r.json()
        assert len(body) == 1, f"more than one top-level key: {list(body)}"
        if r.status_code != 200:
            raise ApiError(r.status_code, body)
        key = response_name(command)
        assert key in body, f"expected top-level key {key}, got {list(body)}"
        return body[key]  # type: ignore[no-any-return]

    def error(self, command: str, params: Mapping[str, Any] | None = None, **kw: Any) -> tuple[int, dict[str, Any]]:
        """Calls a command that must fail; returns (HTTP status, the inner error object)."""
        r = self.call(command, params, **kw)
        body = r.json()
        assert r.status_code != 200, f"{command} unexpectedly succeeded: {body}"
        assert len(body) == 1, body
        (inner,) = body.values()
        assert inner["errorcode"] == r.status_code, (r.status_code, inner)
        return r.status_code, inner

    def wait(self, jobid: str, timeout: float = 30.0) -> dict[str, Any]:
        """Polls queryAsyncJobResult until jobstatus != 0; returns the job."""
        def done() -> dict[str, Any] | None:
            job = self("queryAsyncJobResult", jobid=jobid)
            return job if job["jobstatus"] != 0 else None

        return wait_for(done, timeout=timeout, what=f"job {jobid}")  # type: ignore[no-any-return]

    def run(self, command: str, params: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """Calls an async command and waits for success; returns jobresult."""
        started = self(command, params, **kw)
        job = self.wait(started["jobid"])
        assert job["jobstatus"] == 1, job
        return job.get("jobresult", {})  # type: ignore[no-any-return]

    def as_user(self, apikey: str, secret: str) -> ApiClient:
        return ApiClient(self.peers["api"].http, apikey, secret, peers=self.peers)

    def anonymous(self) -> ApiClient:
        return ApiClient(self.peers["api"].http, peers=self.peers)

    @property
    def integration_api(self) -> ApiClient:
        return self.peers["integration"]

    # ---- conveniences used by many tests ---------------------------------------------------------------------
    def new_account(self, *, accounttype: int = 0, domainid: str | None = None, name: str | None = None,
                    password: str = "password") -> dict[str, Any]:
        """Creates an account with keys; returns the account plus `apikey`, `secretkey`, `userid`, `username`."""
        name = name or f"acct-{secrets.token_hex(4)}"
        acct = self("createAccount", username=name, password=password, email=f"{name}@example.org",
                    firstname="First", lastname="Last", accounttype=accounttype, domainid=domainid,
                    account=name)["account"]
        user = acct["user"][0]
        keys = self("registerUserKeys", id=user["id"])["userkeys"]
        return {**acct, "apikey": keys["apikey"], "secretkey": keys["secretkey"], "userid": user["id"],
                "username": user["username"]}

    def client_for(self, account: Mapping[str, Any]) -> ApiClient:
        return self.as_user(account["apikey"], account["secretkey"])


def admin_keys(state_dir: Path) -> dict[str, str]:
    return json.loads((state_dir / "admin.json").read_text())  # type: ignore[no-any-return]


@dataclass
class InProcess:
    server: Any
    settings: Any
    backend: Backend
    admin: dict[str, str]
    api: ApiClient


@pytest.fixture
def server(backend: Backend, settings_factory: Callable[..., Any]) -> Iterator[InProcess]:
    """The management server built in-process (`management.server.build`) with job workers running, on a fresh
    database; requests go through the real ASGI apps of both listeners (Starlette's TestClient)."""
    from starlette.testclient import TestClient

    from management.api.app import api_app, integration_app
    from management.server import build
    from management.services.identity import rbac

    rbac.RULES.invalidate()  # a process-wide cache keyed by role id: backends in one process share ids
    settings = settings_factory(state_dir=backend.state_dir, db_url=backend.url)
    srv = build(settings, start_workers=True)
    keys = admin_keys(backend.state_dir)
    with TestClient(api_app(srv.dispatcher), base_url="http://127.0.0.1:8080") as h8080, \
            TestClient(integration_app(srv.dispatcher), base_url="http://127.0.0.1:8096") as h8096:
        peers: dict[str, ApiClient] = {}
        api = ApiClient(h8080, keys["apikey"], keys["secretkey"], peers=peers)
        peers["api"] = api
        peers["integration"] = ApiClient(h8096, integration=True, peers=peers)
        try:
            yield InProcess(srv, settings, backend, keys, api)
        finally:
            srv.queue.stop()
            srv.runtime.db.dispose()
            rbac.RULES.invalidate()


@pytest.fixture
def api(server: InProcess) -> ApiClient:
    return server.api


# ------------------------------------------------------------------------------------------------ served subprocess

@dataclass
class Served:
    """A `devcloud-management serve` subprocess."""

    proc: subprocess.Popen[bytes]
    state_dir: Path
    db_url: str
    api_port: int
    integration_port: int
    env: dict[str, str]
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/client/api"

    @property
    def integration_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.integration_port}/client/api"

    @property
    def keys(self) -> dict[str, str]:
        return admin_keys(self.state_dir)

    @property
    def apikey(self) -> str:
        return self.keys["apikey"]

    @property
    def secretkey(self) -> str:
        return self.keys["secretkey"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        if self.proc.poll() is None:  # SIGTERM ignored: make sure nothing is left behind
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def client(self, *, integration: bool = False) -> ApiClient:
        peers: dict[str, ApiClient] = {}
        api = ApiClient(httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=30), self.apikey,
                        self.secretkey, peers=peers)
        peers["api"] = api
        peers["integration"] = ApiClient(httpx.Client(base_url=f"http://127.0.0.1:{self.integration_port}",
                                                      timeout=30), integration=True, peers=peers)
        return peers["integration"] if integration else api


def start_served(state_dir: Path, db_url: str, *, extra_env: Mapping[str, str] | None = None,
                 timeout: float = 60.0, ports: tuple[int, int] | None = None) -> Served:
    """Starts `devcloud-management serve` and waits until both listeners answer."""
    api_port, int_port = ports or (_free_port(), _free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVCLOUD_")}
    env.update({"DEVCLOUD_STATE_DIR": str(state_dir), "DEVCLOUD_DB_URL": db_url,
                "DEVCLOUD_API_PORT": str(api_port), "DEVCLOUD_INTEGRATION_PORT": str(int_port),
                "DEVCLOUD_API_BIND": "127.0.0.1", "DEVCLOUD_INTEGRATION_BIND": "127.0.0.1",
                # Every served instance gets its own S3 port; a shared 8081 would serve only the first one.
                "DEVCLOUD_S3_PORT": str(_free_port()), "DEVCLOUD_EC2_PORT": str(_free_port()),
                "DEVCLOUD_HEARTBEAT_INTERVAL": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra_env or {})
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / f"serve-{api_port}.log"
    exe = VENV_BIN / "devcloud-management"
    cmd = [str(exe), "serve"] if exe.exists() else [sys.executable, "-m", "management", "serve"]
    with open(log_path, "wb", opener=lambda path, flags: os.open(path, flags, 0o600)) as log:  # a private dir
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=str(state_dir))
    served = Served(proc, state_dir, db_url, api_port, int_port, env, log_path)

    def answering() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{served.log()}")
        try:
            r = httpx.get(served.integration_endpoint, params={"command": "listCapabilities", "response": "json"},
                          timeout=2)
            r2 = httpx.get(served.endpoint, params={"command": "listCapabilities", "response": "json"}, timeout=2)
        except httpx.TransportError:
            return False
        return r.status_code == 200 and r2.status_code == 401 and (state_dir / "admin.json").is_file()

    try:
        deadline = time.monotonic() + timeout
        while not answering():
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {timeout}s:\n{served.log()}")
            time.sleep(0.05)
    except BaseException:
        served.kill()
        raise
    return served


@pytest.fixture
def served_factory(backend: Backend) -> Iterator[Callable[..., Served]]:
    """served_factory(extra_env=...) starts a server on this backend; every one started is killed at teardown."""
    started: list[Served] = []

    def start(extra_env: Mapping[str, str] | None = None, **kw: Any) -> Served:
        s = start_served(backend.state_dir, backend.url, extra_env=extra_env, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill(signal.SIGTERM)


@pytest.fixture
def served(served_factory: Callable[..., Served]) -> Served:
    """A real `devcloud-management serve` on ephemeral loopback ports (endpoint, integration_endpoint, keys)."""
    return served_factory()


@pytest.fixture
def served_sqlite(tmp_path: Path) -> Iterator[Served]:
    """A served instance on a SQLite database of its own, for what does not depend on the backend (the HTTP
    layer, a long fuzz run): one server, not one per backend."""
    state = tmp_path / "served-sqlite"
    srv = start_served(state, f"sqlite:///{state / 'devcloud.db'}")
    try:
        yield srv
    finally:
        srv.kill(signal.SIGTERM)
