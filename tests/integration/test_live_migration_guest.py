"""A running tiny guest live-migrates from this machine's libvirt to the nested KVM host and keeps answering: ping
(a few losses at the switch-over at most) during the move, and SSH before and after it.

Both hosts see one guest network: a bridge made here (DHCP from dnsmasq on it) with the nested host's second NIC
in it, and inside the nested host a bridge of the same name holding that NIC (`NestedKvmHost.bridge_guest_nic`), so
the domain XML's `<source bridge=.../>` resolves on both sides and the guest keeps its address. The disk has no
shared storage: it is copied along (`VIR_MIGRATE_NON_SHARED_DISK`). The nested host is the contract suite's
(tests/nested_kvm.py): this module runs on the same xdist worker, so a session boots it once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.network import host as nethost
from tests.conftest import free_public_net, wait_for
from tests.integration.test_network_guests import ssh

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800),
              pytest.mark.xdist_group("tests/contract/drivers/test_driver_contract.py")]

MiB = 1024 * 1024


def ssh_until(key: Path, ip: str, command: str, timeout: float) -> str:
    def answered() -> str | None:
        r = ssh(key, ip, command, timeout=60)  # an SSH handshake in a guest nested in a TCG host is slow
        return r.stdout if r.returncode == 0 else None
    return wait_for(answered, timeout=timeout, interval=2, what=f"ssh root@{ip} {command!r}")  # type: ignore[no-any-return]


class Pinger:
    """`ping -i 0.2` in the background, its replies' sequence numbers collected as they come."""

    INTERVAL = 0.2

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.started = time.monotonic()
        self.replies: list[int] = []
        self.lines: list[str] = []
        self.proc = subprocess.Popen(["ping", "-n", "-i", str(self.INTERVAL), "-W", "1", ip],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            m = re.search(rf"from {re.escape(self.ip)}: icmp_seq=(\d+)", line)
            if m:
                self.replies.append(int(m.group(1)))

    def seq_now(self) -> int:
        return int((time.monotonic() - self.started) / self.INTERVAL) + 1

    def longest_silence(self) -> int:
        """The most consecutive requests without a reply between the first reply and the last."""
        got = sorted(set(self.replies))
        return max((b - a - 1 for a, b in zip(got, got[1:], strict=False)), default=0)

    def stop(self) -> tuple[int, int, str]:
        self.proc.send_signal(signal.SIGINT)  # ping prints its summary
        self.proc.wait(timeout=30)
        self._reader.join(10)
        out = "".join(self.lines)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        assert m, out[-2000:]
        return int(m.group(1)), int(m.group(2)), out


def silence_report(pinger: Pinger, dest: Any, nested: Any, vm: str, name: str, mac: str, bridge: str) -> str:
    """What a silent moved guest looks like from outside: the domain's state and reason on the nested host, where
    each bridge has its MAC, the last ping lines, the guest console's tail, the load."""
    parts = [f"load {os.getloadavg()}", "ping: " + "".join(pinger.lines[-8:])]
    with contextlib.suppress(Exception):
        parts.append(f"domain state/reason on the nested host: {dest._lookup(vm).state()}")
    with contextlib.suppress(Exception):
        fdb = subprocess.run(["bridge", "fdb", "show", "br", bridge], capture_output=True, text=True).stdout
        parts.append("this machine's fdb: " + " | ".join(ln for ln in fdb.splitlines() if mac in ln))
    with contextlib.suppress(Exception):
        parts.append("nested host: " + nested.run(
            f"bridge fdb show br {bridge} | grep -i {mac}; ip -s link show eth1 | tail -4; "
            f"tail -c 2500 /var/log/devcloud/console/{name}.log", timeout=60))
    return "\n".join(parts)


def dhcp_server(bridge: str, prefix: str, mac: str, ip: str, workdir: Path) -> subprocess.Popen[bytes]:
    """dnsmasq on ``bridge`` (``<prefix>.10-50``), giving ``mac`` the address ``ip``; leases in workdir/leases."""
    return subprocess.Popen(
        ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--bind-interfaces",
         f"--interface={bridge}", "--except-interface=lo", f"--pid-file={workdir / 'dnsmasq.pid'}",
         f"--dhcp-leasefile={workdir / 'leases'}", f"--dhcp-range={prefix}.10,{prefix}.50,1h",
         f"--dhcp-host={mac},{ip}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def prioritised(pids: list[int], nice: int = -5) -> Iterator[None]:
    """Every thread of these processes at a higher CPU priority while the move is timed: the guest on the nested
    host is TCG inside TCG, and other CI workers' guests must not starve it into a silence that is not the
    migration's (one CI run saw 12 s without replies after the move, never seen on a quiet machine)."""
    threads = [int(t.name) for pid in pids for t in Path(f"/proc/{pid}/task").glob("*")]
    before = {}
    for tid in threads:
        with contextlib.suppress(OSError):
            before[tid] = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    try:
        yield
    finally:
        for tid, value in before.items():
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, value)


@pytest.fixture(scope="module")
def net() -> Iterator[dict[str, Any]]:
    run = uuid.uuid4().hex[:6]
    prefix = free_public_net("192.168", 150, 199)
    bridge = f"dcmg{run}"
    nethost.ensure_public_bridge(bridge, f"{prefix}.1/24")
    try:
        yield {"bridge": bridge, "prefix": prefix}
    finally:
        nethost.remove_bridge(bridge, only_if_unused=False)


@pytest.fixture(scope="module")
def nested(net: dict[str, Any]) -> Iterator[Any]:
    """The nested host with its guest NIC in the guest network on both sides."""
    from tests.nested_kvm import nested_host

    host = nested_host()
    nethost.attach_port(net["bridge"], host.guest_tap)
    host.bridge_guest_nic(net["bridge"])
    try:
        yield host
    finally:
        with contextlib.suppress(Exception):
            host.run(f"ip link set eth1 nomaster; ip link del {net['bridge']}")
        nethost.run(["ip", "link", "set", host.guest_tap, "nomaster"], check=False)


def test_a_running_guest_keeps_answering_while_it_moves(net: dict[str, Any], nested: Any, tmp_path: Path) -> None:
    from appliance.image import build_tiny_image
    from management.drivers.base import DiskSpec, DomainSpec, NicSpec, PoolSpec, PowerState
    from management.drivers.libvirt.driver import LibvirtDriver

    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    mac = f"02:00:00:{uuid.uuid4().hex[:2]}:{uuid.uuid4().hex[:2]}:01"
    ip = f"{net['prefix']}.20"
    dnsmasq = dhcp_server(net["bridge"], net["prefix"], mac, ip, tmp_path)
    console_dir = tmp_path / "console"
    console_dir.mkdir()
    src = LibvirtDriver("qemu:///system", virt_type="qemu", shutdown_timeout=3, console_log_dir=str(console_dir))
    dest = LibvirtDriver(nested.uri, virt_type="qemu", shutdown_timeout=3,
                         console_log_dir="/var/log/devcloud/console")
    src.connect()
    dest.connect()
    pool = PoolSpec(name=f"mig-{uuid.uuid4().hex[:8]}", path=str(tmp_path / "pool"))
    dest_pool = PoolSpec(name=pool.name, path=f"/var/lib/devcloud/{pool.name}")
    vm = str(uuid.uuid4())
    root = str(uuid.uuid4())
    tmpl = str(uuid.uuid4())
    name = f"i-2-{uuid.UUID(vm).int % 10**7}-VM"
    pinger: Pinger | None = None
    try:
        src.ensure_pool(pool)
        dest.ensure_pool(dest_pool)
        src.prepare_template(pool.name, tmpl, str(build_tiny_image()))
        spec = DomainSpec(uuid=vm, name=name, vcpus=1, memory_mib=160,
                          disks=(DiskSpec(volume_uuid=root, pool=pool.name, size_bytes=64 * MiB, template=tmpl),),
                          nics=(NicSpec(mac=mac, bridge=net["bridge"]),),
                          metadata={"public-keys": key.with_suffix(".pub").read_text(), "hostname": "mover"})
        t = time.monotonic()
        src.spawn(spec)
        before = ssh_until(key, ip, "cat /proc/uptime; hostname", 240)
        print(f"[live migration] guest answers SSH {time.monotonic() - t:.1f} s after spawn: {before.split()}")
        assert before.split()[-1] == "mover"
        ssh(key, ip, "echo still-here > /root/marker").check_returncode()

        qemu_pid = int(Path(f"/run/libvirt/qemu/{name}.pid").read_text().strip())
        with prioritised([qemu_pid, nested.proc.pid]):
            pinger = Pinger(ip)
            time.sleep(3)  # a few replies before the move
            t = time.monotonic()
            copy_from = pinger.seq_now()
            info = src.migrate(vm, dest, volumes={root: pool.name})
            moved_s = time.monotonic() - t
            sent_by_then = pinger.seq_now()
            print(f"[live migration] migrate() took {moved_s:.1f} s")
            assert info.state is PowerState.RUNNING, info  # not left paused on the destination

            def resumed() -> bool:  # 5 s of replies from the nested host after the move
                return max(pinger.replies, default=0) > sent_by_then + 25
            try:
                wait_for(resumed, timeout=60, interval=0.5, what="ping replies from the moved guest")
            except AssertionError:
                # Still silent: say why while it lasts (a paused domain, a frame path through the bridges, a guest
                # kernel busy printing stall reports to its serial console), then give TCG-in-TCG under CI load
                # the budget SSH has after the move.
                print(f"[live migration] no replies 60 s after the move:\n"
                      f"{silence_report(pinger, dest, nested, vm, name, mac, net['bridge'])}")
                wait_for(resumed, timeout=240, interval=0.5, what="ping replies from the moved guest")
            resumed_s = time.monotonic() - t - moved_s
            silence = pinger.longest_silence()
            sent, got, out = pinger.stop()
        print(f"[live migration] ping: {sent} sent, {got} received, longest silence "
              f"{silence * Pinger.INTERVAL:.1f} s; 5 s of replies {resumed_s:.1f} s after the move")

        # Live: the guest answered while its memory and disk were copied (an offline move pauses it for all of it).
        # The switch-over's silence is printed, not asserted: under TCG-in-TCG and CI load it measures the machine.
        copying = [s for s in pinger.replies if copy_from + 5 <= s <= copy_from + int(moved_s / Pinger.INTERVAL) - 5]
        assert copying, f"no replies while the guest was being copied:\n{out[-3000:]}"
        assert src.get_domain(vm) is None
        there = dest.get_domain(vm)
        assert there is not None and there.state is PowerState.RUNNING

        t = time.monotonic()
        after = ssh_until(key, ip, "cat /proc/uptime; cat /root/marker", 300)  # TCG in TCG under CI load
        print(f"[live migration] SSH on the nested host answered in {time.monotonic() - t:.1f} s")
        up_before, up_after = float(before.split()[0]), float(after.split()[0])
        assert after.split()[-1] == "still-here"  # the same guest, its memory and disk carried over
        assert up_after > up_before, (before, after)  # it did not reboot
        print(f"[live migration] after the move: uptime {up_before:.1f} -> {up_after:.1f} s, marker kept")
    finally:
        if pinger is not None and pinger.proc.poll() is None:
            pinger.proc.kill()
        dnsmasq.terminate()  # first: nothing below may keep it running
        dnsmasq.wait(10)
        for drv in (dest, src):
            with contextlib.suppress(Exception):
                drv.destroy(vm)
        with contextlib.suppress(Exception):
            dest.ex_delete_pool(pool.name)  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            for v in (root, tmpl):
                src.delete_volume(pool.name, v)
            src.ex_delete_pool(pool.name)  # type: ignore[attr-defined]
        for drv in (src, dest):
            with contextlib.suppress(Exception):
                drv.close()
