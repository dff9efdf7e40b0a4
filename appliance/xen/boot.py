"""Boot the nested Xen host under QEMU TCG and wait for its libvirt (libxl driver) to answer.

``qemu-system-x86_64 -cpu qemu64`` (``-cpu max`` crashes dom0) loads the decompressed hypervisor with
``-kernel``; the dom0 kernel (with its command line) and its initramfs are multiboot modules given to
``-initrd "vmlinuz args,initrd.img"``. The root disk is a qcow2 overlay on the cached raw image, so every boot
starts clean and the cache is never written.

Network: QEMU user-mode NAT (dom0 is 10.0.2.15) with hostfwd bound to 127.0.0.1 of this machine - libvirtd's
TCP port 16509 (``xen+tcp://127.0.0.1:<port>/system``). Optionally a second NIC on a tap device the caller
enslaves to a bridge it created (``guest_tap=``); dom0 puts that NIC into its bridge ``xenbr0``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from appliance.xen.builder import INIT_PATH, XenImage

READY_MARK = "DEVCLOUD-DOM0-READY"
LIBVIRT_PORT = 16509


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def console_command(socket_path: Path, command: str, timeout: float = 60) -> str:
    """Type a command at a nested host's serial-console shell (a QEMU chardev unix socket); returns its output."""
    import uuid

    mark = uuid.uuid4().hex[:8]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(socket_path))
        s.settimeout(1)
        s.sendall(f"\n{command}; echo END-{mark}\n".encode())
        out = b""
        deadline = time.monotonic() + timeout
        # the tty echoes the command line (one END-mark), then the echo prints the second
        while time.monotonic() < deadline and out.count(f"END-{mark}".encode()) < 2:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            out += chunk
    return out.decode(errors="replace")


@dataclass
class NestedXen:
    """One running nested Xen host. ``start()`` returns at once; ``wait_ready()`` blocks until libvirt answers."""

    image: XenImage
    workdir: Path
    memory_mib: int = 2048
    dom0_mem_mib: int = 1024
    vcpus: int = 2
    # QEMU CPU model under TCG: "max" crashes dom0; with "qemu64" (and AMD models like Opteron_G3) Xen boots but
    # libvirt's libxl driver finds no CPU model for the host features Xen reports and libvirtd exits
    # ("Failed to initialize host cpu features"); Intel "Nehalem" works for both.
    cpu: str = "Nehalem"
    libvirt_port: int = 0
    guest_tap: str | None = None
    guest_mac: str = "52:54:00:d0:00:02"
    proc: subprocess.Popen | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _t0: float = 0.0

    @property
    def uri(self) -> str:
        return f"xen+tcp://127.0.0.1:{self.libvirt_port}/system"

    @property
    def console_log(self) -> Path:
        return self.workdir / "console.log"

    @property
    def console_socket(self) -> Path:
        return self.workdir / "console.sock"

    def run_in_dom0(self, command: str, timeout: float = 60) -> str:
        """Type a command at dom0's console shell; returns what it printed (debugging and tests)."""
        return console_command(self.console_socket, command, timeout)

    def command(self) -> list[str]:
        overlay = self.workdir / "dom0.qcow2"
        xen_args = (f"dom0_mem={self.dom0_mem_mib}M dom0_max_vcpus={self.vcpus} console=com1 com1=115200,8n1 "
                    "noreboot loglvl=all guest_loglvl=all")
        # QEMU splits the multiboot module list on ',' (a literal comma is ',,')
        dom0_args = f"root=/dev/vda rw console=hvc0 net.ifnames=0 init={INIT_PATH} loglevel=5"
        modules = f"{self.image.kernel} {dom0_args},{self.image.initrd}"
        cmd = [
            "qemu-system-x86_64", "-machine", "pc,accel=tcg", "-cpu", self.cpu, "-smp", str(self.vcpus),
            "-m", str(self.memory_mib), "-nographic", "-no-reboot",
            "-kernel", str(self.image.hypervisor), "-append", xen_args, "-initrd", modules,
            "-drive", f"file={overlay},if=virtio,format=qcow2,cache=unsafe",
            "-netdev", f"user,id=n0,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:{self.libvirt_port}-:{LIBVIRT_PORT}",
            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:d0:00:01",
            # the serial console: logged to console.log, interactive on a unix socket (root only)
            "-chardev", f"socket,id=ser0,path={self.console_socket},server=on,wait=off,logfile={self.console_log}",
            "-serial", "chardev:ser0", "-monitor", "none",
        ]
        if self.guest_tap:
            cmd += ["-netdev", f"tap,id=n1,ifname={self.guest_tap},script=no,downscript=no",
                    "-device", f"virtio-net-pci,netdev=n1,mac={self.guest_mac}"]
        return cmd

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.libvirt_port:
            self.libvirt_port = free_port()
        overlay = self.workdir / "dom0.qcow2"
        with contextlib.suppress(FileNotFoundError):
            overlay.unlink()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(self.image.root),
                        str(overlay)], check=True, capture_output=True)
        self._t0 = time.monotonic()
        with open(self.workdir / "qemu.err", "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, start_new_session=True)

    def console(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            err = (self.workdir / "qemu.err").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"QEMU exited ({self.proc.returncode}): {err}\n--- console ---\n"
                               f"{self.console()[-3000:]}")

    def wait_ready(self, timeout: float = 300) -> dict[str, float]:
        """Wait for dom0's init mark, then for libvirt to answer over the remote URI; returns timings (s)."""
        import libvirt

        deadline = time.monotonic() + timeout
        while READY_MARK not in self.console():
            self._check_alive()
            if "libvirtd EXITED" in self.console():
                raise RuntimeError(f"libvirtd died in dom0:\n{self.console()[-3000:]}")
            if "Welcome to" in self.console() or "Run /sbin" in self.console():
                self.timings.setdefault("dom0_kernel", time.monotonic() - self._t0)
            if time.monotonic() > deadline:
                raise TimeoutError(f"dom0 not ready in {timeout}s:\n{self.console()[-3000:]}")
            time.sleep(0.5)
        self.timings["dom0_boot"] = time.monotonic() - self._t0
        libvirt.registerErrorHandler(lambda *_a: None, None)
        last: Exception | None = None
        while time.monotonic() < deadline:
            self._check_alive()
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
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __enter__(self) -> NestedXen:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["NestedXen", "READY_MARK", "console_command", "free_port"]
