"""Console endpoint + websocket proxy: tokens issued after the VM access check, refused for another user, after
expiry and when forged; the websocket relays bytes to the VM's VNC port; the serial log fallback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from management.api import console
from management.api.app import api_app
from management.drivers.simulator import SimulatorDriver
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


class FakeVnc:
    """A TCP listener that greets like an RFB server and echoes what it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.sendall(b"RFB 003.008\n")
            while data := conn.recv(4096):
                self.received += data
                conn.sendall(data)
            conn.close()


def _endpoint(client: ApiClient, vm: str) -> dict[str, Any]:
    return client("createConsoleEndpoint", virtualmachineid=vm)["consoleendpoint"]  # type: ignore[no-any-return]


def test_endpoint_shape_and_relay(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    vnc = FakeVnc()
    SimulatorDriver(zone["urls"][0])._host.next_console_port = vnc.port  # the simulator hands out this port
    ep = _endpoint(api, vm["id"])
    assert ep["success"] is True and ep["websocket"]["path"] == "/client/console" and ep["websocket"]["token"]
    assert ep["url"].startswith("/client/")
    with TestClient(api_app(server.server.dispatcher)) as http, \
            http.websocket_connect(f"/client/console?token={ep['websocket']['token']}",
                                   subprotocols=["binary"]) as ws:
        assert ws.receive_bytes() == b"RFB 003.008\n"
        ws.send_bytes(b"RFB 003.008\n")
        assert ws.receive_bytes() == b"RFB 003.008\n"
    assert vnc.received.startswith(b"RFB 003.008\n")


def test_other_user_expired_and_forged_tokens_refused(server: InProcess, api: ApiClient,
                                                      zone: dict[str, Any]) -> None:
    a = api.new_account()
    b = api.new_account()
    ca, cb = api.client_for(a), api.client_for(b)
    vm = deploy(ca, zone)
    status, err = cb.error("createConsoleEndpoint", virtualmachineid=vm["id"])
    assert status == 531, err
    token = _endpoint(ca, vm["id"])["websocket"]["token"]
    state_dir = server.settings.state_dir
    assert console.verify_token(state_dir, token).vm_uuid == vm["id"]
    with pytest.raises(console.TokenError, match="expired"):
        console.verify_token(state_dir, token, now=time.time() + console.TOKEN_TTL + 5)
    payload, mac = token.split(".")
    with pytest.raises(console.TokenError):
        console.verify_token(state_dir, payload + "." + mac[::-1])
    # a token minted (with the server secret) for user B on A's VM fails the access re-check at connect
    stolen, _ = console.issue_token(state_dir, b["userid"], vm["id"])
    expired, _ = console.issue_token(state_dir, a["userid"], vm["id"], now=time.time() - 120)
    with TestClient(api_app(server.server.dispatcher)) as http:
        for bad in (stolen, expired, "garbage", ""):
            with pytest.raises(WebSocketDisconnect) as exc, http.websocket_connect(f"/client/console?token={bad}"):
                pass
            assert exc.value.code == 4403
        # A's valid token presented with B's browser session is refused too
        login = http.post("/client/api", data={"command": "login", "username": b["username"],
                                               "password": "password", "domain": "/", "response": "json"})
        assert login.status_code == 200, login.text
        good = _endpoint(ca, vm["id"])["websocket"]["token"]
        with pytest.raises(WebSocketDisconnect) as exc, http.websocket_connect(f"/client/console?token={good}"):
            pass
        assert exc.value.code == 4403


def test_stopped_vm_has_no_console_and_serial_log(server: InProcess, api: ApiClient, zone: dict[str, Any],
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVCLOUD_CONSOLE_LOG_DIR", str(tmp_path))
    vm = deploy(api, zone)
    (tmp_path / f"{vm['instancename']}.log").write_text("login: root\n" * 3)
    out = api("getVirtualMachineConsoleLog", virtualmachineid=vm["id"])["consolelog"]
    assert out == {"id": vm["id"], "log": "login: root\n" * 3}
    assert api("getVirtualMachineConsoleLog", virtualmachineid=vm["id"], bytes=5)["consolelog"]["log"] == "root\n"
    other = api.client_for(api.new_account())
    assert other.error("getVirtualMachineConsoleLog", virtualmachineid=vm["id"])[0] == 531
    api.run("stopVirtualMachine", id=vm["id"])
    assert api.error("createConsoleEndpoint", virtualmachineid=vm["id"])[0] == 431


def test_ui_served(server: InProcess) -> None:
    with TestClient(api_app(server.server.dispatcher)) as http:
        r = http.get("/client", follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/client/"
        r = http.get("/client/")
        assert r.status_code in (200, 404) and "devcloud" in r.text
        assert http.get("/client/api?command=listZones&response=json").status_code == 401
