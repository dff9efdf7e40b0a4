"""IPsec for a router namespace: one strongSwan charon per router, configured through swanctl from a ``VpnSpec``.

Layout for router ``<id>`` (state dir ``<root>``, runtime dir ``<run>`` = ``/run/devcloud/<id>/ipsec``):
- ``<root>/strongswan.conf`` (charon's settings, ``STRONGSWAN_CONF``), ``<root>/swanctl.conf`` (connections, pools,
  secrets; mode 0600), ``<root>/charon.log``;
- charon runs in the router's netns and in a mount namespace of its own where ``<run>`` is bind-mounted on ``/run``:
  its compiled-in pid file and its vici socket land in ``<run>`` (``charon.pid``, ``charon.vici``), so several
  charons coexist on one host and the host's ``swanctl --uri unix://<run>/charon.vici`` reaches each one.
- IPsec itself runs in user space (charon's kernel-libipsec plugin: a TUN device ``ipsec0`` in the namespace, ESP
  in UDP 4500, routes to the peers in table 220): this host's kernel has XFRM but no ESP, and no PPP/L2TP, which is
  also why remote access is IKEv1 PSK + XAuth instead of L2TP/IPsec (see README).

Every operation converges: configs are rewritten only when they change, charon is (re)loaded only then, and
connections that disappear from the spec have their SAs terminated (their traffic stops at once).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2

from management.network.provider import ProviderError, S2sConnection, VpnSpec

CHARON = "/usr/lib/ipsec/charon"
TEMPLATES = Path(__file__).parent / "templates"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=True, autoescape=False)
_env.filters["swan_quote"] = _quote


@dataclass(frozen=True)
class VpnPaths:
    root: Path
    run: Path

    @property
    def strongswan_conf(self) -> Path: return self.root / "strongswan.conf"
    @property
    def swanctl_conf(self) -> Path: return self.root / "swanctl.conf"
    @property
    def log(self) -> Path: return self.root / "charon.log"
    @property
    def loaded(self) -> Path: return self.root / "loaded.json"
    @property
    def pid(self) -> Path: return self.run / "charon.pid"
    @property
    def vici(self) -> Path: return self.run / "charon.vici"


# ------------------------------------------------------------------------------------------------ policies

def proposals(policy: str, *, ike: bool) -> tuple[str, ...]:
    """CloudStack's ``aes128-sha1;modp1536,3des-md5`` -> strongSwan's ``aes128-sha1-modp1536,3des-md5``. An IKE
    proposal needs a DH group: without one, CloudStack's historic default modp1536 is used."""
    out = []
    for p in policy.split(","):
        p = p.strip()
        if not p:
            continue
        cipher_hash, _, group = p.partition(";")
        if ike and not group:
            group = "modp1536"
        out.append(cipher_hash + (f"-{group}" if group else ""))
    return tuple(out)


# ------------------------------------------------------------------------------------------------ rendering

def render_strongswan(router_id: str, netns: str, paths: VpnPaths) -> str:
    return _env.get_template("strongswan.conf.j2").render(router_id=router_id, netns=netns, log=paths.log)


def render_swanctl(router_id: str, vpn: VpnSpec) -> str:
    return _env.get_template("swanctl.conf.j2").render(router_id=router_id, vpn=vpn)


def connection_names(vpn: VpnSpec) -> list[str]:
    return [c.name for c in vpn.s2s] + [f"ra{i}" for i in range(len(vpn.remote_access))]


# ------------------------------------------------------------------------------------------------ charon

def _alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    if stat.rsplit(")", 1)[1].split()[0] == "Z" or b"charon" not in cmdline:
        return None
    return pid


def _write(path: Path, text: str, mode: int = 0o644) -> bool:
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def swanctl(paths: VpnPaths, *args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    cmd = ["swanctl", *args, "--uri", f"unix://{paths.vici}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "STRONGSWAN_CONF": str(paths.strongswan_conf)})
    except subprocess.TimeoutExpired:
        raise ProviderError(f"{' '.join(args)} timed out after {timeout:.0f}s") from None
    if check and proc.returncode != 0:
        raise ProviderError(f"swanctl {' '.join(args)} failed ({proc.returncode}): "
                            f"{(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc


def start_charon(netns: str, paths: VpnPaths) -> None:
    paths.run.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.pid.unlink(missing_ok=True)
    paths.vici.unlink(missing_ok=True)
    # setsid -f: charon is nobody's child here (it outlives a server restart, as the router's other daemons do)
    script = 'mount --bind "$1" /run && exec "$2"'
    subprocess.run(["setsid", "-f", "ip", "netns", "exec", netns, "unshare", "--mount", "sh", "-c", script, "sh",
                    str(paths.run), CHARON], env={**os.environ, "STRONGSWAN_CONF": str(paths.strongswan_conf)},
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _alive(paths.pid) and paths.vici.exists():
            return
        time.sleep(0.02)
    raise ProviderError(f"charon did not start in {netns} (see {paths.log})")


def stop_charon(paths: VpnPaths) -> bool:
    pid = _alive(paths.pid)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 15)
    deadline = time.monotonic() + 5
    while _alive(paths.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _alive(paths.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    return True


def converge(router_id: str, netns: str, paths: VpnPaths, vpn: VpnSpec) -> list[str]:
    """Makes the namespace's IPsec match ``vpn``: nothing running for an empty spec."""
    changed: list[str] = []
    if vpn.empty:
        if stop_charon(paths):
            changed.append("vpn:stop")
        for f in (paths.swanctl_conf, paths.loaded):
            f.unlink(missing_ok=True)
        return changed
    paths.root.mkdir(parents=True, exist_ok=True)
    conf_changed = _write(paths.strongswan_conf, render_strongswan(router_id, netns, paths))
    swan_changed = _write(paths.swanctl_conf, render_swanctl(router_id, vpn), 0o600)
    started = False
    if conf_changed or _alive(paths.pid) is None:
        stop_charon(paths)
        start_charon(netns, paths)
        changed.append("vpn:start")
        started = True
    if swan_changed or started:
        try:
            before = set(json.loads(paths.loaded.read_text()))
        except (OSError, ValueError):
            before = set()
        swanctl(paths, "--load-all", "--file", str(paths.swanctl_conf))
        now = connection_names(vpn)
        for gone in sorted(before - set(now)):
            terminate(paths, gone)
        _write(paths.loaded, json.dumps(now))
        changed.append("vpn:load")
    return changed


def terminate(paths: VpnPaths, name: str) -> None:
    swanctl(paths, "--terminate", "--ike", name, "--force", "--timeout", "3", check=False)


def initiate(paths: VpnPaths, conn: S2sConnection, *, timeout: float = 10) -> bool:
    ok = True
    for i in range(len(conn.local_cidrs) if conn.split else 1):
        r = swanctl(paths, "--initiate", "--child", f"{conn.name}-{i}", "--timeout", str(int(timeout)),
                    check=False, timeout=timeout + 5)
        ok = ok and r.returncode == 0
    return ok


_SA = re.compile(r"^(\S+): #\d+, (\w+),", re.M)


def sa_states(paths: VpnPaths) -> dict[str, str]:
    """IKE SA name -> "Connected" (ESTABLISHED with an INSTALLED child) or the IKE state (CONNECTING, ...)."""
    if _alive(paths.pid) is None:
        return {}
    out = swanctl(paths, "--list-sas", check=False, timeout=10).stdout
    states: dict[str, str] = {}
    blocks = re.split(r"(?m)^(?=\S+: #\d+,)", out)
    for b in blocks:
        m = _SA.match(b)
        if not m:
            continue
        name, ike = m.group(1), m.group(2)
        up = ike == "ESTABLISHED" and "INSTALLED" in b
        if states.get(name) != "Connected":
            states[name] = "Connected" if up else ike
    return states


def destroy(paths: VpnPaths) -> list[str]:
    changed = ["vpn:stop"] if stop_charon(paths) else []
    shutil.rmtree(paths.run, ignore_errors=True)
    return changed


__all__ = ["VpnPaths", "converge", "destroy", "initiate", "proposals", "render_swanctl", "sa_states", "terminate"]
