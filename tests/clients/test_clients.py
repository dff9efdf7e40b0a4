"""Real clients against a served `devcloud-management serve`: cs CLI, Apache Libcloud, legacy cloudmonkey, and
Marvin's bootstrap over the integration port.

cloudmonkey 5.3.3.1 (PyPI, 2021) is Python-2-only code. On Python 3.11 it can not even be installed: its
setup.py line 50 is `print "If you're upgrading, run the following to enable parameter completion:"`
(SyntaxError: Missing parentheses in call to 'print'), and every module fails to compile, first
cloudmonkey/__init__.py line 22 `except ImportError, e:` (SyntaxError: multiple exception types must be
parenthesized). It installs and runs on pyenv's Python 2.7.18 (`pip install --target`, no venv module there),
which is what this test does, in a cache directory outside the project venv.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.clients

VENV_BIN = Path(sys.executable).parent
PY27 = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions" / "2.7.18" / "bin" / "python"
CM_DIR = Path(os.environ.get("DEVCLOUD_TEST_CACHE", Path.home() / ".cache" / "devcloud-tests")) / "cloudmonkey-5.3.3.1"


def _cs(served: Any, *args: str, env_extra: dict[str, str] | None = None) -> Any:
    env = {**os.environ, "CLOUDSTACK_ENDPOINT": served.endpoint, "CLOUDSTACK_KEY": served.apikey,
           "CLOUDSTACK_SECRET": served.secretkey, **(env_extra or {})}
    r = subprocess.run([str(VENV_BIN / "cs"), *args], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"cs {' '.join(args)} failed ({r.returncode}): {r.stdout}\n{r.stderr}"
    return json.loads(r.stdout) if r.stdout.strip() else {}


@pytest.mark.parametrize("post", [False, True], ids=["get", "post"])
def test_cs_cli(served: Any, post: bool) -> None:
    flags = ["--post"] if post else []
    apis = _cs(served, "listApis", *flags)
    assert apis["count"] == len(apis["api"]) > 10
    accounts = _cs(served, "listAccounts", *flags)
    assert "admin" in {a["name"] for a in accounts["account"]}
    name = "cs-post" if post else "cs-get"
    dom = _cs(served, "createDomain", f"name={name}", *flags)["domain"]
    assert dom["path"] == f"ROOT/{name}"
    acct = _cs(served, "createAccount", f"username={name}-user", "password=p a+ss~w*rd", "email=x@example.org",
               "firstname=Jöhn", "lastname=D'oe", "accounttype=0", f"domainid={dom['id']}", *flags)["account"]
    assert acct["name"] == f"{name}-user" and acct["user"][0]["firstname"] == "Jöhn"
    # cs polls async jobs itself until they finish.
    out = _cs(served, "createTags", f"resourceids={acct['id']}", "resourcetype=Account", "tags[0].key=k",
              "tags[0].value=v w", *flags)
    assert out.get("jobstatus", 1) == 1
    # v3 signatures (cs default) and v1 (expiration -1) both work.
    assert _cs(served, "listZones", *flags, env_extra={"CLOUDSTACK_EXPIRATION": "-1"}) in ({}, {"count": 0, "zone": []})


def test_libcloud(served: Any) -> None:
    from libcloud.compute.providers import Provider, get_driver

    cls = get_driver(Provider.CLOUDSTACK)
    where = {"host": "127.0.0.1", "port": served.api_port, "path": "/client/api", "secure": False}
    driver = cls(key=served.apikey, secret=served.secretkey, **where)
    # Empty cloud: libcloud 3.9.1 list_locations() does `for loc in locs["zone"]`
    # (libcloud/compute/drivers/cloudstack.py:1411); listZones answers {"count": 0, "zone": []} so it gets [].
    assert driver.list_locations() == []
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from management.models.infra import Zone

    engine = create_engine(served.db_url)
    with Session(engine) as s, s.begin():
        s.add(Zone(name="libcloud-zone", allocation_state="Enabled"))
    engine.dispose()
    assert [loc.name for loc in driver.list_locations()] == ["libcloud-zone"]
    bad = cls(key=served.apikey, secret="wrong", **where)
    from libcloud.common.types import InvalidCredsError

    with pytest.raises(InvalidCredsError):
        bad.list_locations()


def test_marvin_bootstrap_over_integration_port(served: Any) -> None:
    import httpx

    url = served.integration_endpoint
    users = httpx.get(url, params={"command": "listUsers", "account": "admin", "response": "json"}).json()
    admin = users["listusersresponse"]["user"][0]
    keys = httpx.get(url, params={"command": "getUserKeys", "id": admin["id"], "response": "json"}).json()
    assert keys["getuserkeysresponse"]["userkeys"] == {"apikey": served.apikey, "secretkey": served.secretkey}
    apis = httpx.get(url, params={"command": "listApis", "response": "json"})
    assert apis.text.count("\n") <= 1 and json.loads(apis.text.splitlines()[0])["listapisresponse"]["count"] > 10


def _cloudmonkey() -> list[str]:
    if not PY27.exists():
        pytest.skip(f"cloudmonkey 5.3.3.1 needs Python 2.7 ({PY27} missing); on Python 3.11 its setup.py line 50 "
                    "`print \"...\"` is a SyntaxError and cloudmonkey/__init__.py line 22 `except ImportError, e:` "
                    "does not compile")
    if not (CM_DIR / "bin" / "cloudmonkey").exists():
        # a directory of our own: another run on this machine may be installing it at the same moment
        tmp = CM_DIR.with_name(f"{CM_DIR.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")
        r = subprocess.run([str(PY27), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target",
                            str(tmp), "cloudmonkey==5.3.3.1"], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            pytest.skip(f"could not install cloudmonkey 5.3.3.1 for Python 2.7: {r.stderr[-500:]}")
        try:
            tmp.rename(CM_DIR)  # atomic; whoever renames first wins, the other copy goes
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return [str(PY27), str(CM_DIR / "bin" / "cloudmonkey")]


def test_cloudmonkey_is_python2_only() -> None:
    """The finding above, kept true by a test: cloudmonkey's sources do not compile on this Python 3."""
    cm = _cloudmonkey()
    init = CM_DIR / "cloudmonkey" / "__init__.py"
    with pytest.raises(SyntaxError) as exc:
        compile(init.read_text(), str(init), "exec")
    assert exc.value.lineno == 22
    assert cm


def test_cloudmonkey_legacy(served: Any, tmp_path: Path) -> None:
    cm = _cloudmonkey()
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(CM_DIR)}

    def run(*args: str) -> str:
        r = subprocess.run([*cm, *args], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"cloudmonkey {' '.join(args)}: {r.stdout}\n{r.stderr}"
        return r.stdout

    run("set", "url", served.endpoint)
    run("set", "apikey", served.apikey)
    run("set", "secretkey", served.secretkey)
    run("set", "display", "json")
    out = run("sync")
    assert "discovered" in out.lower() or "api" in out.lower(), out
    listing = run("list", "accounts")
    assert '"admin"' in listing or "admin" in listing, listing
    data = json.loads(listing[listing.index("{"):])
    assert "admin" in {a["name"] for a in data["account"]}
