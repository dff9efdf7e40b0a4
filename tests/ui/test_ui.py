"""The web UI in a real browser (Debian's Chromium driven by playwright-core through tests/ui/run.mjs), against a
management server served on a loopback port with a simulator zone. The simulator host's VNC console is a small
RFB server (fakevnc) so noVNC, the console proxy and key input are exercised end to end.

Screenshots land in tests/ui/artifacts/ (gitignored)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.conftest import ApiClient, admin_keys, wait_for
from tests.ui.fakevnc import FakeVnc
from tests.ui.runner import ARTIFACTS, run_ui, ui_missing

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # type: ignore[no-any-return]


@pytest.fixture
def served_ui(tmp_path: Path) -> Iterator[dict[str, Any]]:
    why = ui_missing()
    if why:
        pytest.skip(why)
    import uvicorn

    from management.api.app import api_app
    from management.drivers.simulator import SimulatorDriver, reset_simulator
    from management.server import build
    from management.services import rbac
    from management.settings import Settings
    from tests.api.test_vm_lifecycle import build_sim_zone

    rbac.RULES.invalidate()
    state = tmp_path / "state"
    srv = build(Settings(state_dir=state, api_port=0, integration_port=0), start_workers=True)
    port = _free_port()
    userver = uvicorn.Server(uvicorn.Config(api_app(srv.dispatcher), host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="off"))
    thread = threading.Thread(target=userver.run, daemon=True)
    thread.start()
    wait_for(lambda: userver.started, timeout=20, what="uvicorn")
    zone = build_sim_zone(SimpleNamespace(server=srv), tmp_path, hosts=1)  # type: ignore[arg-type]
    vnc = FakeVnc()
    SimulatorDriver(zone["urls"][0])._host.next_console_port = vnc.port
    keys = admin_keys(state)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    api = ApiClient(http, keys["apikey"], keys["secretkey"])
    api.peers["api"] = api
    try:
        yield {"base": f"http://127.0.0.1:{port}", "api": api, "zone": zone, "vnc": vnc, "admin": keys}
    finally:
        userver.should_exit = True
        thread.join(10)
        vnc.close()
        srv.queue.stop()
        srv.runtime.db.dispose()
        for url in zone["urls"]:
            reset_simulator(url)
        rbac.RULES.invalidate()


def _deploy(api: ApiClient, zone: dict[str, Any], name: str) -> dict[str, Any]:
    return api.run("deployVirtualMachine", serviceofferingid=zone["small"], zoneid=zone["zone"],  # type: ignore
                   templateid=zone["template"], name=name)["virtualmachine"]


def test_admin_deploys_opens_console_types_stops_destroys(served_ui: dict[str, Any], tmp_path: Path) -> None:
    cfg = {"base": served_ui["base"], "artifacts": str(ARTIFACTS), "typeLine": "hello",
           "admin": {"username": served_ui["admin"]["username"], "password": served_ui["admin"]["password"]}}
    t0 = time.monotonic()
    out = run_ui(cfg, tmp_path, "admin")
    assert out["ok"], out
    assert any("lit pixels" in s for s in out["steps"]), out
    assert "hello\n" in served_ui["vnc"].typed, served_ui["vnc"].keys  # the keys reached the "guest"
    vms = served_ui["api"]("listVirtualMachines", name="ui-vm-1", listall=True).get("virtualmachine", [])
    assert vms and vms[0]["state"] in ("Destroyed", "Expunging"), vms
    for name in ("login", "dashboard", "instance", "console", "deploy-wizard", "infrastructure"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 1000
    print(f"admin scenario {time.monotonic() - t0:.1f}s: {out['steps']}")


def test_plain_user_sees_no_admin_pages_nor_other_vms(served_ui: dict[str, Any], tmp_path: Path) -> None:
    api, zone = served_ui["api"], served_ui["zone"]
    admin_vm = _deploy(api, zone, "admin-only-vm")
    user = api.new_account(password="userpass1")
    user_vm = _deploy(api.client_for(user), zone, "user-vm")
    cfg = {"base": served_ui["base"], "artifacts": str(ARTIFACTS), "adminVm": admin_vm["id"], "userVm": user_vm["id"],
           "user": {"username": user["username"], "password": "userpass1"}}
    out = run_ui(cfg, tmp_path, "user")
    assert out["ok"], out
    assert (ARTIFACTS / "user-instances.png").stat().st_size > 1000
