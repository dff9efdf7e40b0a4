"""The virtual router as a Linux network namespace on this host.

Layout for router ``<id>``:
- netns ``dcr-<id>``; inside it ``guest0`` (gateway address) and ``pub0`` (public IPs, default route);
- host veth ends ``vrg-<id>`` (enslaved to the guest bridge) and ``vrp-<id>`` (enslaved to the public bridge);
- VLANs: isolation is one guest bridge per network (this kernel has neither 802.1Q nor bridge VLAN filtering), so
  ``GuestSide.vlan`` is informational; the services layer derives the bridge name from it (e.g. ``brdc-<vlan>``);
- dnsmasq (DHCP static leases + DNS for the network domain), nftables table ``ip devcloud`` (NAT, firewall, egress),
  haproxy (only with load-balancer rules) and the metadata server (``metadata_server.py``, gateway:80), all inside
  the namespace;
- files under ``<state_dir>/routers/<id>/``: ``spec.json`` (last applied spec), rendered configs, pid files, leases;
  haproxy's stats socket under ``/run/devcloud/<id>/`` (short: Unix socket paths are limited to 107 bytes).

Every operation converges: files are rewritten only when their content changes, and only the daemon whose input
changed is touched (nft -f, dnsmasq SIGHUP or restart, haproxy reload).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from management import statedir
from management.network import host
from management.network import vpn as ipsec
from management.network.host import run
from management.network.provider import (
    ApplyResult,
    NamespaceSpec,
    ProviderError,
    RouterSpec,
    RouterStatus,
    ServiceHealth,
    spec_from_dict,
    spec_to_dict,
)
from management.network.render import (
    GUEST_IF,
    PUBLIC_IF,
    RouterPaths,
    render_dhcp_hosts,
    render_dnsmasq,
    render_haproxy,
    render_hosts,
    render_metadata,
    render_nftables,
)

METADATA_SCRIPT = Path(__file__).with_name("metadata_server.py")
AnySpec = NamespaceSpec  # RouterSpec here; VpcRouterSpec and InternalLbSpec in the subclasses
NETNS_DIR = Path("/run/netns")


def router_mac(router_id: str, side: str) -> str:
    """A stable, locally administered MAC per router side: a rebuilt router keeps its MACs, so guests' and the
    host's ARP caches stay valid across reboot/restartNetwork (as a CloudStack VR's NICs do)."""
    h = hashlib.sha1(f"{router_id}/{side}".encode()).digest()
    return "02:dc:" + ":".join(f"{b:02x}" for b in h[:4])


def _pid_alive(pid: int | None, marker: str | None = None) -> bool:
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return marker is None or marker.encode() in cmdline


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kill(pid: int | None, marker: str | None = None, timeout: float = 5.0) -> None:
    if not _pid_alive(pid, marker):
        return
    assert pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.01)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _conflicting_leases(leases: Path, hosts: Any) -> set[str]:
    """Lines of dnsmasq's lease file (``expiry mac ip hostname client-id``) holding an address that a DHCP host
    entry now gives to another MAC."""
    owner = {h.ip: h.mac.lower() for h in hosts}
    try:
        lines = leases.read_text().splitlines()
    except OSError:
        return set()
    out = set()
    for line in lines:
        f = line.split()
        if len(f) >= 3 and f[2] in owner and owner[f[2]] != f[1].lower():
            out.add(line)
    return out


def _drop_leases(leases: Path, drop: set[str]) -> None:
    kept = [line for line in leases.read_text().splitlines() if line not in drop]
    tmp = leases.with_name(leases.name + ".new")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    os.replace(tmp, leases)


def _write_if_changed(path: Path, text: str | None) -> bool:
    """Write ``text`` (None = remove the file); True when the content on disk changed."""
    try:
        old = path.read_text()
    except OSError:
        old = None
    if old == text:
        return False
    if text is None:
        path.unlink(missing_ok=True)
    else:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return True


class NamespaceRouterProvider:
    """``NetworkProvider`` implemented with a network namespace per router (see the module docstring).

    Subclasses (the VPC router) keep their routers under another ``SUBDIR`` and override the spec (de)serialisation
    (``_dump``/``_load``), the links, addresses and services they converge, and what teardown removes."""

    SUBDIR = "routers"

    def __init__(self, state_dir: str | os.PathLike[str], *, python: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.python = python or sys.executable
        self._dir.mkdir(parents=True, exist_ok=True)

    @property
    def _dir(self) -> Path:
        return self.state_dir / self.SUBDIR

    def _dump(self, spec: Any) -> dict[str, Any]:
        return spec_to_dict(spec)

    def _load(self, data: dict[str, Any]) -> Any:
        return spec_from_dict(data)

    # ------------------------------------------------------------------------------------------ public API

    def paths(self, router_id: str) -> RouterPaths:
        return RouterPaths(self._dir / router_id)

    def vpn_paths(self, router_id: str) -> ipsec.VpnPaths:
        paths = self.paths(router_id)
        return ipsec.VpnPaths(paths.root / "ipsec", paths.run_dir / "ipsec")

    def implement(self, spec: AnySpec) -> ApplyResult:
        spec.validate()
        t0 = time.monotonic()
        with self._lock(spec.router_id):
            paths = self.paths(spec.router_id)
            paths.root.mkdir(parents=True, exist_ok=True)
            changed: list[str] = []
            changed += self._ensure_netns(spec)
            changed += self._ensure_links(spec, paths)
            changed += self._ensure_addresses(spec)
            changed += self._converge_services(spec, paths)
            _write_if_changed(paths.spec, json.dumps(self._dump(spec), indent=1, sort_keys=True) + "\n")
        return ApplyResult(spec.router_id, tuple(changed), time.monotonic() - t0)

    def apply_rules(self, spec: AnySpec) -> ApplyResult:
        spec.validate()
        t0 = time.monotonic()
        with self._lock(spec.router_id):
            if not (NETNS_DIR / spec.netns).exists():
                raise ProviderError(f"router {spec.router_id} is not implemented")
            paths = self.paths(spec.router_id)
            changed = self._converge_services(spec, paths)
            _write_if_changed(paths.spec, json.dumps(self._dump(spec), indent=1, sort_keys=True) + "\n")
        return ApplyResult(spec.router_id, tuple(changed), time.monotonic() - t0)

    def status(self, router: AnySpec | str) -> RouterStatus:
        rid = router if isinstance(router, str) else router.router_id
        spec: Any = self.last_spec(rid) if isinstance(router, str) else router
        ns = f"dcr-{rid}"
        if not (NETNS_DIR / ns).exists():
            return RouterStatus(rid, "Stopped", ())
        paths = self.paths(rid)
        services = [
            self._health("dnsmasq", paths.dnsmasq_pid, str(paths.dnsmasq_conf)),
            self._health("metadata", paths.metadata_pid, str(paths.metadata)),
        ]
        nft_ok = run(["ip", "netns", "exec", ns, "nft", "list", "table", "ip", "devcloud"], check=False)
        services.append(ServiceHealth("nftables", nft_ok.returncode == 0, None,
                                      "" if nft_ok.returncode == 0 else "table ip devcloud missing"))
        if spec is not None and spec.load_balancers:
            services.append(self._health("haproxy", paths.haproxy_pid, str(paths.haproxy_cfg)))
        if spec is not None and not spec.vpn.empty:
            services.append(self._health("charon", self.vpn_paths(rid).pid, "charon"))
        return RouterStatus(rid, "Running", tuple(services))

    def reboot(self, router: AnySpec | str) -> ApplyResult:
        rid = router if isinstance(router, str) else router.router_id
        spec = self.last_spec(rid) if isinstance(router, str) else router
        if spec is None:
            raise ProviderError(f"router {rid} has never been implemented here: nothing to reboot")
        t0 = time.monotonic()
        with self._lock(rid):
            self._teardown(rid, spec, keep_files=True)
        res = self.implement(spec)
        return ApplyResult(rid, ("reboot",) + res.changed, time.monotonic() - t0)

    def destroy(self, router: AnySpec | str) -> ApplyResult:
        rid = router if isinstance(router, str) else router.router_id
        spec = self.last_spec(rid) if isinstance(router, str) else router
        t0 = time.monotonic()
        with self._lock(rid):
            changed = self._teardown(rid, spec, keep_files=False)
        return ApplyResult(rid, tuple(changed), time.monotonic() - t0)

    def last_spec(self, router_id: str) -> AnySpec | None:
        try:
            return self._load(json.loads(self.paths(router_id).spec.read_text()))
        except (OSError, ValueError, KeyError):
            return None

    def restore_all(self) -> dict[str, ApplyResult | Exception]:
        """Re-implement every router whose spec is stored here (host reboot / server start). Idempotent: routers that
        are already running are left untouched."""
        out: dict[str, ApplyResult | Exception] = {}
        for rid in self.routers():
            spec = self.last_spec(rid)
            if spec is None:
                continue
            try:
                out[rid] = self.implement(spec)
            except (ProviderError, OSError) as e:
                out[rid] = e
        return out

    def routers(self) -> list[str]:
        """Router ids with state here (e.g. to re-implement them after a server restart)."""
        return sorted(p.name for p in self._dir.iterdir() if p.is_dir())

    # ------------------------------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _lock(self, router_id: str) -> Iterator[None]:
        path = self._dir / f".{router_id}.lock"
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _ns(self, spec: Any, *args: str, check: bool = True):
        return run(["ip", "netns", "exec", spec.netns, *args], check=check)

    def _ensure_netns(self, spec: Any) -> list[str]:
        if (NETNS_DIR / spec.netns).exists():
            return []
        run(["ip", "netns", "add", spec.netns])
        run(["ip", "-n", spec.netns, "link", "set", "lo", "up"])
        self._ns(spec, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                 "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.default.arp_notify=1",
                 "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        return ["netns"]

    def _ensure_veth(self, spec: Any, host_end: str, ns_end: str, bridge: str, vlan: int | None) -> list[str]:
        changed: list[str] = []
        inner = host.link_info(ns_end, spec.netns)
        if not host.link_exists(host_end) or inner is None:
            run(["ip", "link", "del", "dev", host_end], check=False)
            run(["ip", "-n", spec.netns, "link", "del", "dev", ns_end], check=False)
            run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end,
                 "address", router_mac(spec.router_id, ns_end), "netns", spec.netns])
            changed.append(f"veth:{host_end}")
        if host.attach_port(bridge, host_end, vlan) and not changed:
            changed.append(f"port:{host_end}")
        return changed

    def _ensure_links(self, spec: Any, paths: RouterPaths) -> list[str]:
        changed: list[str] = []
        owned = self._owned(paths)
        if host.ensure_bridge(spec.guest.bridge):
            owned.setdefault("bridges", []).append(spec.guest.bridge)
            paths.owned.write_text(json.dumps(owned))
            changed.append(f"bridge:{spec.guest.bridge}")
        changed += self._ensure_veth(spec, f"vrg-{spec.router_id}", GUEST_IF, spec.guest.bridge, None)
        if spec.public is not None:
            host.ensure_bridge(spec.public.bridge)
            changed += self._ensure_veth(spec, f"vrp-{spec.router_id}", PUBLIC_IF, spec.public.bridge, None)
        elif host.link_exists(f"vrp-{spec.router_id}"):
            run(["ip", "link", "del", "dev", f"vrp-{spec.router_id}"])
            changed.append("veth:public-removed")
        return changed

    def _owned(self, paths: RouterPaths) -> dict:
        try:
            return json.loads(paths.owned.read_text())
        except (OSError, ValueError):
            return {}

    def _addresses(self, spec: Any, dev: str) -> set[str]:
        out = run(["ip", "-n", spec.netns, "-j", "addr", "show", "dev", dev]).stdout
        return {f"{a['local']}/{a['prefixlen']}" for e in json.loads(out or "[]") for a in e.get("addr_info", [])
                if a.get("family") == "inet"}

    def _ensure_addresses(self, spec: Any) -> list[str]:
        want = {GUEST_IF: {str(spec.guest_iface)}}
        if spec.public is not None:
            want[PUBLIC_IF] = {f"{ip}/{spec.public.prefix}" for ip in spec.public.ips}
        return self._converge_addresses(spec, want) + self._ensure_ipv6(spec)

    def _converge_addresses(self, spec: Any, want: dict[str, set[str]]) -> list[str]:
        """Each device of ``want`` up with exactly its addresses; the default route via the public gateway."""
        changed: list[str] = []
        for dev, addrs in want.items():
            info = host.link_info(dev, spec.netns) or {}
            have = self._addresses(spec, dev)
            added = sorted(addrs - have)
            # the primary address first, so that secondaries in the same subnet stay secondaries
            if spec.public is not None and dev == PUBLIC_IF and spec.public.source_nat_ip:
                first = f"{spec.public.source_nat_ip}/{spec.public.prefix}"
                added.sort(key=lambda a: a != first)
            for a in sorted(have - addrs):
                run(["ip", "-n", spec.netns, "addr", "del", a, "dev", dev])
                changed.append(f"addr-:{dev}:{a}")
            for a in added:
                run(["ip", "-n", spec.netns, "addr", "add", a, "dev", dev])
                changed.append(f"addr+:{dev}:{a}")
            if dev == PUBLIC_IF and added and spec.public is not None:
                host.flush_neighbours(spec.public.bridge, [a.split("/")[0] for a in added])
            if "UP" not in (info.get("flags") or []):
                run(["ip", "-n", spec.netns, "link", "set", dev, "up"])
                changed.append(f"up:{dev}")
        if spec.public is not None:
            routes = json.loads(run(["ip", "-n", spec.netns, "-j", "route", "show", "default"]).stdout or "[]")
            if not any(r.get("gateway") == spec.public.gateway and r.get("dev") == PUBLIC_IF for r in routes):
                run(["ip", "-n", spec.netns, "route", "replace", "default", "via", spec.public.gateway,
                     "dev", PUBLIC_IF])
                changed.append("route:default")
        return changed

    def _ensure_ipv6(self, spec: RouterSpec) -> list[str]:
        """A DualStack network's IPv6 (the namespace starts with IPv6 off): forwarding on, the guest /64's gateway
        and the public address (no duplicate detection: the addresses are the cloud's to hand out), default
        route upstream. Without IPv6 in the spec it is switched off again."""
        six = spec.ipv6
        devs = [GUEST_IF] + ([PUBLIC_IF] if spec.public is not None else [])
        enabled = self._ns(spec, "sysctl", "-n", "net.ipv6.conf.all.disable_ipv6").stdout.strip() == "0"
        if six is None:
            if not enabled:
                return []
            self._ns(spec, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                     *[f"net.ipv6.conf.{d}.disable_ipv6=1" for d in devs])
            return ["ipv6:off"]
        changed: list[str] = []
        if not enabled:
            self._ns(spec, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.all.forwarding=1",
                     *[f"net.ipv6.conf.{d}.{k}" for d in devs for k in ("accept_dad=0", "disable_ipv6=0")])
            changed.append("ipv6:on")
        want = {GUEST_IF: f"{six.gateway}/{ipaddress.IPv6Network(six.guest_cidr).prefixlen}"}
        if six.public_ip and spec.public is not None:
            want[PUBLIC_IF] = f"{six.public_ip}/{six.public_prefix}"
        for dev in devs:
            out = run(["ip", "-n", spec.netns, "-j", "-6", "addr", "show", "dev", dev, "scope", "global"]).stdout
            have = {f"{a['local']}/{a['prefixlen']}" for e in json.loads(out or "[]") for a in e.get("addr_info", [])
                    if "local" in a}
            for a in sorted(have - {want.get(dev)}):
                run(["ip", "-n", spec.netns, "-6", "addr", "del", a, "dev", dev])
                changed.append(f"addr6-:{a}")
            if dev in want and want[dev] not in have:
                run(["ip", "-n", spec.netns, "-6", "addr", "add", want[dev], "dev", dev, "nodad"])
                changed.append(f"addr6+:{want[dev]}")
        if six.public_gateway and spec.public is not None:
            routes = json.loads(run(["ip", "-n", spec.netns, "-j", "-6", "route", "show", "default"]).stdout or "[]")
            if not any(r.get("gateway") == six.public_gateway for r in routes):
                run(["ip", "-n", spec.netns, "-6", "route", "replace", "default", "via", six.public_gateway,
                     "dev", PUBLIC_IF])
                changed.append("route6:default")
        return changed

    def _health(self, name: str, pidfile: Path, marker: str) -> ServiceHealth:
        pid = _read_pid(pidfile)
        alive = _pid_alive(pid, marker)
        return ServiceHealth(name, alive, pid if alive else None, "" if alive else "not running")

    # ------------------------------------------------------------------------------------------ services

    def _converge_services(self, spec: Any, paths: RouterPaths) -> list[str]:
        changed: list[str] = []
        changed += self._converge_nft(spec, paths)
        changed += self._converge_dnsmasq(spec, paths)
        changed += self._converge_haproxy(spec, paths)
        changed += self._converge_metadata(spec, paths)
        changed += ipsec.converge(spec.router_id, spec.netns, self.vpn_paths(spec.router_id), spec.vpn)
        return changed

    def _render_nft(self, spec: Any) -> str:
        return render_nftables(spec)

    def _converge_nft(self, spec: Any, paths: RouterPaths) -> list[str]:
        text = self._render_nft(spec)
        try:
            same = paths.nft.read_text() == text
        except OSError:
            same = False
        if same and self._ns(spec, "nft", "list", "table", "ip", "devcloud", check=False).returncode == 0:
            return []
        new = paths.nft.with_name("nftables.conf.new")
        new.write_text(text)
        self._ns(spec, "nft", "-f", str(new))  # atomic: the whole file is one transaction
        os.replace(new, paths.nft)
        return ["nftables"]

    def _converge_dnsmasq(self, spec: Any, paths: RouterPaths) -> list[str]:
        conf_changed = _write_if_changed(paths.dnsmasq_conf, render_dnsmasq(spec, paths))
        hosts_changed = _write_if_changed(paths.hosts, render_hosts(spec))
        hosts_changed |= _write_if_changed(paths.dhcp_hosts, render_dhcp_hosts(spec))
        return self._run_dnsmasq(spec, paths, conf_changed, hosts_changed)

    def _run_dnsmasq(self, spec: Any, paths: RouterPaths, conf_changed: bool, hosts_changed: bool) -> list[str]:
        """(Re)starts dnsmasq when its configuration changed or it is not running; SIGHUP for new hosts only."""
        marker = str(paths.dnsmasq_conf)
        pid = _read_pid(paths.dnsmasq_pid)
        # An address handed to a new NIC (a VM destroyed, another deployed) may still be leased to the old MAC:
        # dnsmasq then answers the new guest "no address available" until that lease expires. dnsmasq reads its
        # lease file only when it starts, so such a lease is dropped with dnsmasq stopped.
        stale = hosts_changed and bool(_conflicting_leases(paths.leases, spec.dhcp_hosts))
        if conf_changed or stale or not _pid_alive(pid, marker):
            _kill(pid, marker)
            paths.dnsmasq_pid.unlink(missing_ok=True)
            if stale:  # read again: dnsmasq may have renewed a lease (a new expiry) before it stopped
                _drop_leases(paths.leases, _conflicting_leases(paths.leases, spec.dhcp_hosts))
            self._ns(spec, "dnsmasq", f"--conf-file={paths.dnsmasq_conf}")
            # dnsmasq sets its own umask (022): its pid, lease and log files would be readable by others. It has
            # made them by the time it returns, and keeps them (leases are rewritten in place).
            statedir.tighten(paths.root, recursive=False)
            return ["dnsmasq:restart"]
        if hosts_changed:
            os.kill(pid, signal.SIGHUP)  # type: ignore[arg-type]
            return ["dnsmasq:reload"]
        return []

    def _converge_haproxy(self, spec: Any, paths: RouterPaths) -> list[str]:
        text = render_haproxy(spec, paths)
        marker = str(paths.haproxy_cfg)
        pid = _read_pid(paths.haproxy_pid)
        if text is None:
            _write_certs(spec, paths)  # no TLS rule left: no key stays on disk
            was = _pid_alive(pid, marker)
            _kill(pid, marker)
            paths.haproxy_pid.unlink(missing_ok=True)
            return ["haproxy:stop"] if _write_if_changed(paths.haproxy_cfg, None) or was else []
        try:
            same = paths.haproxy_cfg.read_text() == text
        except OSError:
            same = False
        alive = _pid_alive(pid, marker)
        if same and alive:
            return []
        paths.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_certs(spec, paths)
        new = paths.haproxy_cfg.with_name("haproxy.cfg.new")
        new.write_text(text)
        run(["haproxy", "-c", "-q", "-f", str(new)])
        os.replace(new, paths.haproxy_cfg)
        cmd = ["haproxy", "-f", str(paths.haproxy_cfg), "-D", "-p", str(paths.haproxy_pid)]
        if alive:
            self._ns(spec, *cmd, "-sf", str(pid))
            return ["haproxy:reload"]
        self._ns(spec, *cmd)
        return ["haproxy:start"]

    def _converge_metadata(self, spec: Any, paths: RouterPaths) -> list[str]:
        changed = ["metadata:data"] if _write_if_changed(paths.metadata, render_metadata(spec)) else []
        marker = str(paths.metadata)
        pid = _read_pid(paths.metadata_pid)
        want_bind = spec.gateway_ip
        if _pid_alive(pid, marker) and want_bind.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            return changed
        _kill(pid, marker)
        paths.metadata_pid.unlink(missing_ok=True)
        with open(paths.metadata_log, "ab") as log:
            import subprocess

            proc = subprocess.run(["ip", "netns", "exec", spec.netns, self.python, str(METADATA_SCRIPT),
                                   str(paths.metadata), want_bind, "80", str(paths.metadata_pid)],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if proc.returncode != 0 or not _pid_alive(_read_pid(paths.metadata_pid)):
            raise ProviderError(f"metadata server did not start (see {paths.metadata_log})")
        return changed + ["metadata:start"]

    # ------------------------------------------------------------------------------------------ teardown

    def _daemons(self, paths: RouterPaths) -> list[tuple[Path, Path]]:
        """(pid file, marker) of the daemons the router runs (the marker is in their command line)."""
        return [(paths.dnsmasq_pid, paths.dnsmasq_conf), (paths.haproxy_pid, paths.haproxy_cfg),
                (paths.metadata_pid, paths.metadata)]

    def _host_links(self, rid: str, spec: Any) -> list[str]:
        return [f"vrg-{rid}", f"vrp-{rid}"]

    def _teardown(self, rid: str, spec: Any, *, keep_files: bool) -> list[str]:
        changed: list[str] = []
        paths = self.paths(rid)
        ns = f"dcr-{rid}"
        changed += ipsec.destroy(self.vpn_paths(rid))
        for pidfile, marker in self._daemons(paths):
            pid = _read_pid(pidfile)
            if _pid_alive(pid, str(marker)):
                _kill(pid, str(marker))
                changed.append(f"kill:{pidfile.stem}")
            pidfile.unlink(missing_ok=True)
        if (NETNS_DIR / ns).exists():
            stray = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for p in stray:
                _kill(int(p))
        for dev in self._host_links(rid, spec):
            if host.link_exists(dev):
                run(["ip", "link", "del", "dev", dev], check=False)
                changed.append(f"veth:{dev}")
        if (NETNS_DIR / ns).exists():
            run(["ip", "netns", "del", ns])
            changed.append("netns")
        if spec is not None and spec.public is not None:
            host.flush_neighbours(spec.public.bridge, list(spec.public.ips))
        if not keep_files:
            for b in self._owned(paths).get("bridges", []):
                if host.remove_bridge(b, only_if_unused=True):
                    changed.append(f"bridge:{b}")
            shutil.rmtree(paths.run_dir, ignore_errors=True)
            if paths.root.exists():
                shutil.rmtree(paths.root, ignore_errors=True)
                changed.append("files")
            (self._dir / f".{rid}.lock").unlink(missing_ok=True)
        else:
            # force re-rendering on the next implement (the daemons are gone)
            for f in (paths.nft, paths.dnsmasq_conf, paths.haproxy_cfg):
                f.unlink(missing_ok=True)
        return changed


def _write_certs(spec: Any, paths: RouterPaths) -> None:
    """The PEM (certificate, chain, key) of every TLS-terminating load balancer rule, mode 0600; stale ones go."""
    wanted = {f"{lb.name}.pem": lb.ssl_pem for lb in spec.load_balancers if lb.ssl_pem}
    if not wanted and not paths.certs.exists():
        return
    paths.certs.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in paths.certs.glob("*.pem"):
        if stale.name not in wanted:
            stale.unlink()
    for name, pem in wanted.items():
        statedir.write_private(paths.certs / name, pem if pem.endswith("\n") else pem + "\n")
