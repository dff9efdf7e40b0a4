"""Boot the nested KVM host under QEMU TCG on a bridge of this machine and wait for its libvirtd.

Network: a bridge this machine creates (``dckh<id>``, ``100.127.<n>.1/24``), the nested host on a tap in it at
``100.127.<n>.2`` - its libvirt is ``qemu+tcp://100.127.<n>.2/system`` and migration streams reach it directly.
Optionally a second NIC on a tap the caller enslaves to a guest network's bridge (``guest_tap``): inside, a bridge
of the same name joins it (``bridge_guest_nic``), so a guest migrated there stays on its network. The root disk is
a qcow2 overlay on the cached raw image: every boot starts clean. ``stop()`` removes the VM, taps and bridge.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from appliance.kvmhost.builder import INIT_PATH, KvmHostImage
from appliance.xen.boot import console_command

READY_MARK = "DEVCLOUD-KVMHOST-READY"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _free_subnet() -> int:
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for _ in range(64):
        n = random.randint(1, 254)
        if f"100.127.{n}." not in used:
            return n
    raise RuntimeError("no free 100.127.x.0/24 for the nested KVM host bridge")


@dataclass
class NestedKvmHost:
    image: KvmHostImage
    workdir: Path
    memory_mib: int = 1536
    vcpus: int = 2
    guest_nic: bool = True
    tag: str = field(default_factory=lambda: os.urandom(3).hex())
    subnet: int = 0
    proc: subprocess.Popen | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _t0: float = 0.0

    @property
    def bridge(self) -> str:
        return f"dckh{self.tag}"

    @property
    def mgmt_tap(self) -> str:
        return f"dckhm{self.tag}"

    @property
    def guest_tap(self) -> str:
        return f"dckhg{self.tag}"

    @property
    def address(self) -> str:
        return f"100.127.{self.subnet}.2"

    @property
    def uri(self) -> str:
        return f"qemu+tcp://{self.address}/system"

    @property
    def console_log(self) -> Path:
        return self.workdir / "console.log"

    @property
    def console_socket(self) -> Path:
        return self.workdir / "console.sock"

    def run(self, command: str, timeout: float = 60) -> str:
        """A command at the nested host's console shell; returns what it printed."""
        return console_command(self.console_socket, command, timeout)

    def bridge_guest_nic(self, bridge: str) -> None:
        """Inside the nested host: a bridge named like the guest network's, with the guest NIC (eth1) in it."""
        self.run(f"ip link add {bridge} type bridge 2>/dev/null; ip link set eth1 master {bridge}; "
                 f"ip link set {bridge} up; ip link set eth1 up")

    def _net_up(self) -> None:
        self.subnet = self.subnet or _free_subnet()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"100.127.{self.subnet}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for tap in (self.mgmt_tap, *([self.guest_tap] if self.guest_nic else [])):
            _ip("tuntap", "add", "dev", tap, "mode", "tap")
            _ip("link", "set", tap, "up")
        _ip("link", "set", self.mgmt_tap, "master", self.bridge)

    def command(self) -> list[str]:
        overlay = self.workdir / "root.qcow2"
        args = (f"root=/dev/vda rw console=ttyS0,115200 net.ifnames=0 init={INIT_PATH} loglevel=4 "
                f"devcloud.ip={self.address}/24")
        cmd = [
            "qemu-system-x86_64", "-machine", "pc,accel=tcg", "-cpu", "max", "-smp", str(self.vcpus),
            "-m", str(self.memory_mib), "-nographic", "-no-reboot",
            "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd), "-append", args,
            "-drive", f"file={overlay},if=virtio,format=qcow2,cache=unsafe",
            "-netdev", f"tap,id=n0,ifname={self.mgmt_tap},script=no,downscript=no",
            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:d1:00:01",
            "-chardev", f"socket,id=ser0,path={self.console_socket},server=on,wait=off,logfile={self.console_log}",
            "-serial", "chardev:ser0", "-monitor", "none",
        ]
        if self.guest_nic:
            cmd += ["-netdev", f"tap,id=n1,ifname={self.guest_tap},script=no,downscript=no",
                    "-device", "virtio-net-pci,netdev=n1,mac=52:54:00:d1:00:02"]
        return cmd

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        overlay = self.workdir / "root.qcow2"
        with contextlib.suppress(FileNotFoundError):
            overlay.unlink()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(self.image.root),
                        str(overlay)], check=True, capture_output=True)
        self._net_up()
        self._t0 = time.monotonic()
        with open(self.workdir / "qemu.err", "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, start_new_session=True)

    def console(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 600) -> dict[str, float]:
        import libvirt

        deadline = time.monotonic() + timeout
        while READY_MARK not in self.console():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited ({self.proc.returncode}): "
                                   f"{(self.workdir / 'qemu.err').read_text(errors='replace')[-2000:]}\n"
                                   f"{self.console()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"nested KVM host not ready in {timeout}s:\n{self.console()[-3000:]}")
            time.sleep(0.5)
        self.timings["boot"] = time.monotonic() - self._t0
        libvirt.registerErrorHandler(lambda *_a: None, None)
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                conn = libvirt.open(self.uri)
                try:
                    conn.getVersion()
                finally:
                    conn.close()
                self.timings["libvirt_ready"] = time.monotonic() - self._t0
                return self.timings
            except libvirt.libvirtError as exc:
                last = exc
                time.sleep(0.5)
        raise TimeoutError(f"libvirt at {self.uri} not answering: {last}\n{self.console()[-3000:]}")

    def stop(self, timeout: float = 15) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        for dev in (self.mgmt_tap, self.guest_tap, self.bridge):
            if os.path.exists(f"/sys/class/net/{dev}"):
                subprocess.run(["ip", "link", "del", dev], capture_output=True)

    def __enter__(self) -> NestedKvmHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["NestedKvmHost", "READY_MARK"]
