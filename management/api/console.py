"""Console proxy: short-lived signed console tokens and the websocket that relays them to a VM's VNC port.

A token is ``<payload>.<mac>``: the payload (base64url JSON) names the user, the VM and the expiry; the MAC is
HMAC-SHA256 under a server secret kept in ``<state_dir>/console.secret``. Tokens are issued by the
``createConsoleEndpoint`` command after the normal access check on the VM; the websocket
(``/client/console?token=...``) checks the MAC, the expiry, that the user is still enabled and may still use the
VM, and (when the browser sends a session) that the session belongs to the same user. It then opens a TCP
connection to the address the VM's hypervisor driver reports and relays binary frames both ways, as websockify
does (noVNC's ``binary`` subprotocol).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from management import statedir

log = logging.getLogger("devcloud.console")

TOKEN_TTL = 60  # seconds a console token may be used to open a connection
WS_PATH = "/client/console"


class TokenError(Exception):
    """The token is malformed, forged, expired or not the caller's."""


def _secret(state_dir: Path) -> bytes:
    path = Path(state_dir) / "console.secret"
    # first writer wins: every process signs and checks with the same secret
    return bytes.fromhex(statedir.create_once(path, secrets.token_hex(32).encode()).decode().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(state_dir: Path, user_uuid: str, vm_uuid: str, *, ttl: float = TOKEN_TTL,
                now: float | None = None) -> tuple[str, int]:
    """A token for ``user_uuid`` to open the console of ``vm_uuid``; returns (token, expiry epoch seconds)."""
    exp = int((time.time() if now is None else now) + ttl)
    payload = _b64(json.dumps({"u": user_uuid, "v": vm_uuid, "e": exp, "n": secrets.token_hex(4)},
                              separators=(",", ":")).encode())
    mac = _b64(hmac.new(_secret(state_dir), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{mac}", exp


@dataclass(frozen=True, slots=True)
class Grant:
    user_uuid: str
    vm_uuid: str
    expires: int


def verify_token(state_dir: Path, token: str, *, now: float | None = None) -> Grant:
    try:
        payload, mac = token.split(".", 1)
        want = _b64(hmac.new(_secret(state_dir), payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, mac):
            raise TokenError("console token signature mismatch")
        data: dict[str, Any] = json.loads(_unb64(payload))
        grant = Grant(str(data["u"]), str(data["v"]), int(data["e"]))
    except TokenError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError("malformed console token") from exc
    if (time.time() if now is None else now) > grant.expires:
        raise TokenError("console token expired")
    return grant


def console_target(runtime: Any, grant: Grant, session_key: str | None = None) -> tuple[str, int]:
    """Re-checks the grant against the database and asks the VM's host driver where its VNC console listens."""
    from sqlalchemy import select

    from management.errors import CloudError
    from management.models.identity import User, UserSession
    from management.models.infra import Host
    from management.services import access, hypervisors
    from management.services.context import Caller
    from management.services.identity import identity

    with runtime.db.session(write=False) as s:
        user = s.scalar(select(User).where(User.uuid == grant.user_uuid, User.removed.is_(None)))
        if user is None or user.state != "enabled" or user.account.state != "enabled":
            raise TokenError("the token's user no longer exists or is disabled")
        if session_key:
            sess = s.get(UserSession, identity.session_digest(session_key))
            if sess is not None and sess.user_id != user.id:
                raise TokenError("the console token belongs to another user")
        caller = Caller.from_user(user)
        try:
            vm = access.resolve(s, caller, "VirtualMachine", grant.vm_uuid, "write")
        except CloudError as exc:
            raise TokenError(f"no access to the VM: {exc}") from exc
        if vm.state != "Running" or vm.host_id is None:
            raise TokenError(f"VM {vm.uuid} is {vm.state}, not Running")
        host = s.get(Host, vm.host_id)
        s.expunge_all()
    assert host is not None
    addr = hypervisors.driver_for(runtime, host).console_address(grant.vm_uuid)
    if addr.protocol != "vnc":
        raise TokenError(f"the VM's console speaks {addr.protocol}, not VNC")
    return addr.host, addr.port


def serial_log(runtime: Any, vm: Any, tail_bytes: int = 65536) -> str:
    """The last ``tail_bytes`` of the VM's serial console log ('' when its host keeps none)."""
    from management.services.infra import kvm

    if not vm.instance_name:
        return ""
    path = Path(kvm.console_log_path(vm.instance_name))
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - tail_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


async def console_ws(websocket: WebSocket, runtime: Any) -> None:
    token = websocket.query_params.get("token", "")
    session_key = websocket.cookies.get("sessionkey") or websocket.cookies.get("JSESSIONID")
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    subprotocol = "binary" if "binary" in offered else None
    try:
        grant = verify_token(runtime.settings.state_dir, token)
        host, port = await run_in_threadpool(console_target, runtime, grant, session_key)
    except Exception as exc:  # refused: a token error, or the driver could not say where the console is
        log.info("console refused: %s", exc)
        await websocket.close(code=4403 if isinstance(exc, TokenError) else 4500, reason=str(exc)[:120])
        return
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)
    except (OSError, TimeoutError) as exc:
        log.info("console of %s: cannot reach %s:%s: %s", grant.vm_uuid, host, port, exc)
        await websocket.close(code=4502, reason=f"cannot reach the console at {host}:{port}")
        return
    await websocket.accept(subprotocol=subprotocol)
    from management.services import console_sessions

    client = websocket.client.host if websocket.client else None
    with contextlib.suppress(Exception):  # the record must never cost the user the console
        await run_in_threadpool(console_sessions.acquired, runtime, token, client)

    async def to_vnc() -> None:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("bytes")
            if data is None and msg.get("text") is not None:
                data = msg["text"].encode()
            if data:
                writer.write(data)
                await writer.drain()

    async def to_browser() -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            await websocket.send_bytes(data)

    tasks = [asyncio.create_task(to_vnc()), asyncio.create_task(to_browser())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        # Shielded: the server may cancel this handler as the client goes (a test client does), and the
        # session's end must be recorded all the same.
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await run_in_threadpool(console_sessions.ended, runtime, token)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        with contextlib.suppress(Exception):
            await websocket.close()
