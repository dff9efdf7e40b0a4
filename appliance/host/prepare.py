"""Prepare a hypervisor host (Debian, no systemd) idempotently.

Each step checks first and acts only when needed, returning a `StepResult`; a second
run reports `changed=False` everywhere. All host access goes through a `Runner`
(local subprocess now, Fabric later), so the same steps prepare a remote host.

    python -m appliance.host.prepare [--no-install] [--probe] [--restart] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from appliance.host.runner import CommandError, LocalRunner, Runner
from management.drivers.libvirt import overlay

PACKAGES = (
    "libvirt-daemon-system",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    # the namespace virtual router: DHCP/DNS, NAT and firewall, load balancing
    "dnsmasq-base",
    "nftables",
    "haproxy",
    "iproute2",
    # runDiagnostics in a router's namespace
    "iputils-ping",
    "iputils-arping",
    "traceroute",
    # VPC VPN: one charon per router namespace, IPsec in user space (kernel-libipsec, in the extra plugins),
    # remote access with XAuth (extauth plugins); swanctl configures it
    "strongswan-charon",
    "strongswan-swanctl",
    "libcharon-extra-plugins",
    "libcharon-extauth-plugins",
    # NFS primary storage: libvirt's netfs pools call mount.nfs
    "nfs-common",
    # tiny image builder and config drive
    "genisoimage",
    "extlinux",
    "syslinux-common",
    "e2fsprogs",
    "binutils",
    # guest SSH checks; building libvirt-python from PyPI
    "openssh-client",
    "libvirt-dev",
    "pkg-config",
)
QEMU_CONF = "/etc/libvirt/qemu.conf"
# Running QEMU as root stops libvirt's /dev/kvm access check (as libvirt-qemu) from
# failing, which otherwise marks the capabilities cache stale and re-probes QEMU ~10
# times per domain start (~45 s create). No AppArmor/SELinux here: no labelling.
QEMU_SETTINGS = {"user": '"root"', "group": '"root"', "security_driver": '"none"'}
STORAGE_DIRS = (
    "/var/lib/devcloud/primary",
    "/var/lib/devcloud/secondary",
    "/var/lib/devcloud/configdrive",
    "/var/cache/devcloud/images",
    # guests' serial console logs: a remote host's domain XML names this directory (services/infra/kvm.py)
    "/var/log/devcloud/console",
)
VIRT_TYPE_FILE = "/var/lib/devcloud/virt-type.json"
URI = "qemu:///system"


@dataclass
class StepResult:
    name: str
    changed: bool
    detail: str = ""


# --- packages -------------------------------------------------------------------------
def missing_packages(runner: Runner, packages: Iterable[str]) -> list[str]:
    missing = []
    for pkg in packages:
        r = runner.run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
        if "install ok installed" not in r.stdout:
            missing.append(pkg)
    return missing


def ensure_packages(runner: Runner, packages: Iterable[str] = PACKAGES) -> StepResult:
    missing = missing_packages(runner, packages)
    if not missing:
        return StepResult("apt-packages", False, "all installed")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    runner.run(["apt-get", "update", "-qq"], env=env, timeout=600)
    runner.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env, timeout=1200)
    return StepResult("apt-packages", True, "installed " + " ".join(missing))


# --- libvirt configuration ------------------------------------------------------------
def apply_settings(text: str, settings: dict[str, str]) -> str:
    """Set `key = value` lines in a libvirt-style config, keeping everything else."""
    lines = text.splitlines()
    for key, value in settings.items():
        pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
        idx = [i for i, ln in enumerate(lines) if pat.match(ln)]
        want = f"{key} = {value}"
        if idx:
            lines[idx[0]] = want
            for i in reversed(idx[1:]):
                del lines[i]
        else:
            lines.append(want)
    return "\n".join(lines) + "\n"


def ensure_qemu_conf(runner: Runner, path: str = QEMU_CONF, settings: dict[str, str] | None = None) -> StepResult:
    settings = settings or QEMU_SETTINGS
    old = runner.read_file(path) or ""
    new = apply_settings(old, settings)
    if new == old:
        return StepResult("qemu.conf", False, "already set")
    runner.write_file(path, new, 0o600)
    return StepResult("qemu.conf", True, ", ".join(f"{k} = {v}" for k, v in settings.items()))


def ensure_kvm_device(runner: Runner) -> StepResult:
    """/dev/kvm 0660 root:kvm: fixes the slow create at once for a libvirtd that was
    already running before qemu.conf changed (Debian's libvirt-qemu is in group kvm)."""
    if not runner.exists("/dev/kvm"):
        return StepResult("dev-kvm", False, "no /dev/kvm")
    cur = runner.run(["stat", "-c", "%a %G", "/dev/kvm"]).stdout.split()
    if cur == ["660", "kvm"]:
        return StepResult("dev-kvm", False, "0660 root:kvm")
    if runner.run(["getent", "group", "kvm"], check=False).ok:
        runner.run(["chgrp", "kvm", "/dev/kvm"])
        runner.run(["chmod", "0660", "/dev/kvm"])
        return StepResult("dev-kvm", True, f"was {' '.join(cur)}, now 0660 root:kvm")
    return StepResult("dev-kvm", False, "no kvm group; relying on qemu.conf")


def qemu_hook_text() -> str:
    """libvirt's QEMU hook: the guest network overlay's host side (management/drivers/libvirt/overlay.py, run by
    the host's Python 3; the file uses the standard library only)."""
    return "#!/usr/bin/python3 -I\n" + Path(overlay.__file__).read_text()  # -I: no script dir on sys.path


def ensure_qemu_hook(runner: Runner, path: str = str(overlay.HOOK_PATH)) -> StepResult:
    """Installs the hook that makes a remote guest network's bridge and VXLAN device before a domain starts. libvirtd
    reads its hooks when it starts: a new or changed hook needs a libvirtd restart (the stale check below)."""
    text = qemu_hook_text()
    if runner.read_file(path) == text:
        return StepResult("qemu-hook", False, "installed")
    runner.run(["mkdir", "-p", str(Path(path).parent)])
    runner.write_file(path, text, 0o755)
    return StepResult("qemu-hook", True, f"{path} (guest network overlays over VXLAN)")


# --- daemons --------------------------------------------------------------------------
def daemon_pid(runner: Runner, name: str) -> int | None:
    raw = runner.read_file(f"/run/{name}.pid")
    if not raw or not raw.strip().isdigit():
        return None
    pid = int(raw.strip())
    comm = runner.read_file(f"/proc/{pid}/comm")
    return pid if comm and comm.strip() == name else None


def _started_at(runner: Runner, pid: int) -> float | None:
    r = runner.run(["stat", "-c", "%Y", f"/proc/{pid}"], check=False)
    return float(r.stdout.strip()) if r.ok and r.stdout.strip() else None


def _wait_for(pred, deadline: float, interval: float = 0.1) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def ensure_daemon(
    runner: Runner,
    name: str,
    socket: str,
    *,
    stale_after: float | None = None,
    restart: bool = False,
    timeout: float = 30.0,
) -> StepResult:
    """Start `name -d` unless running. A daemon started before `stale_after` (the config's
    mtime) is restarted only when `restart` is set: it may be someone else's."""
    pid = daemon_pid(runner, name)
    if pid is not None:
        started = _started_at(runner, pid)
        stale = stale_after is not None and started is not None and started < stale_after
        if not stale:
            return StepResult(name, False, f"running (pid {pid})")
        if not restart:
            return StepResult(
                name,
                False,
                f"running (pid {pid}); started before its config changed, restart to apply (--restart)",
            )
        runner.run(["kill", "-TERM", str(pid)])
        if not _wait_for(lambda: daemon_pid(runner, name) is None, timeout):
            raise RuntimeError(f"{name} (pid {pid}) did not stop")
    runner.run([_sbin(runner, name), "-d"])
    if not _wait_for(lambda: daemon_pid(runner, name) is not None and runner.exists(socket), timeout):
        raise RuntimeError(f"{name} did not come up ({socket} missing)")
    what = "restarted" if pid is not None else "started"
    return StepResult(name, True, f"{what} (pid {daemon_pid(runner, name)})")


def _sbin(runner: Runner, name: str) -> str:
    for d in ("/usr/sbin", "/usr/bin", "/sbin"):
        if runner.exists(f"{d}/{name}"):
            return f"{d}/{name}"
    return name


def libvirt_answers(runner: Runner, uri: str = URI) -> bool:
    if runner.local:
        try:
            import libvirt  # local fast path; virsh below works through any runner
        except ImportError:
            pass
        else:
            try:
                conn = libvirt.open(uri)
            except libvirt.libvirtError:
                return False
            try:
                conn.getVersion()
                return True
            finally:
                conn.close()
    return runner.run(["virsh", "-c", uri, "version"], check=False, timeout=30).ok


def ensure_libvirt_ready(runner: Runner, uri: str = URI, timeout: float = 30.0) -> StepResult:
    t0 = time.monotonic()
    if not _wait_for(lambda: libvirt_answers(runner, uri), timeout, 0.2):
        raise RuntimeError(f"{uri} does not answer after {timeout:.0f}s")
    return StepResult("libvirt-ready", False, f"{uri} answers ({time.monotonic() - t0:.2f}s)")


def ensure_dirs(runner: Runner, dirs: Iterable[str] = STORAGE_DIRS) -> StepResult:
    made = [d for d in dirs if not runner.exists(d)]
    if made:
        runner.run(["mkdir", "-p", *made])
    return StepResult("storage-dirs", bool(made), ("created " + " ".join(made)) if made else "present")


# --- virtualisation type -------------------------------------------------------------
PROBE_MARKER = "DEVCLOUD-INITRAMFS"


def _probe_xml(name: str, disk: str, serial: str, virt_type: str) -> str:
    return f"""<domain type='{virt_type}'>
  <name>{name}</name><memory unit='MiB'>192</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
    <serial type='file'><source path='{serial}'/><target port='0'/></serial>
  </devices>
</domain>"""


def probe_virt_type(
    runner: Runner | None = None,
    *,
    image: str | None = None,
    cache_file: str = VIRT_TYPE_FILE,
    deadline: float = 20.0,
    uri: str = URI,
    force: bool = False,
) -> str:
    """'kvm' only if the tiny image really boots under KVM (reaches its initramfs
    marker before `deadline`), else 'qemu'. Cached per host kernel in `cache_file`."""
    runner = runner or LocalRunner()
    kernel = runner.run(["uname", "-r"]).stdout.strip()
    cached = runner.read_file(cache_file)
    if cached and not force:
        try:
            doc = json.loads(cached)
            if doc.get("kernel") == kernel and doc.get("virt_type") in ("kvm", "qemu"):
                runner.write_file(cache_file, cached, 0o600)  # an older release wrote it 0644: same bytes, private
                return doc["virt_type"]
        except ValueError:
            pass
    virt_type, detail = "qemu", "no /dev/kvm"
    if runner.exists("/dev/kvm"):
        if image is None:
            from appliance.image import build_tiny_image  # builds locally; remote callers pass image

            image = str(build_tiny_image())
        virt_type, detail = _boot_probe(runner, image, deadline, uri)
    # 0600: it lives in the state directory, whose files are all private (management.statedir)
    runner.write_file(
        cache_file,
        json.dumps({"virt_type": virt_type, "kernel": kernel, "detail": detail, "probed_at": time.time()}) + "\n",
        0o600,
    )
    return virt_type


def _boot_probe(runner: Runner, image: str, deadline: float, uri: str) -> tuple[str, str]:
    runner.run(["mkdir", "-p", "/var/lib/devcloud"])
    tmp = runner.run(["mktemp", "-d", "/var/lib/devcloud/kvm-probe.XXXXXX"]).stdout.strip()
    name = "devcloud-kvm-probe-" + tmp.rsplit(".", 1)[-1]
    disk, serial, xml = f"{tmp}/disk.qcow2", f"{tmp}/serial.log", f"{tmp}/domain.xml"
    try:
        runner.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image, disk])
        runner.write_file(xml, _probe_xml(name, disk, serial, "kvm"))
        r = runner.run(["virsh", "-c", uri, "create", xml], check=False, timeout=120)
        if not r.ok:
            return "qemu", f"kvm domain did not start: {r.stderr.strip()[-200:]}"
        t0 = time.monotonic()
        booted = _wait_for(lambda: PROBE_MARKER in (runner.read_file(serial) or ""), deadline, 0.25)
        if booted:
            return "kvm", f"kvm guest reached its initramfs in {time.monotonic() - t0:.1f}s"
        return "qemu", f"kvm guest showed no {PROBE_MARKER} within {deadline:.0f}s"
    finally:
        runner.run(["virsh", "-c", uri, "destroy", name], check=False, timeout=60)
        runner.run(["rm", "-rf", tmp], check=False)


def ensure_virt_type(runner: Runner, **kw) -> StepResult:
    before = runner.read_file(kw.get("cache_file", VIRT_TYPE_FILE))
    vt = probe_virt_type(runner, **kw)
    after = runner.read_file(kw.get("cache_file", VIRT_TYPE_FILE))
    detail = vt
    with contextlib.suppress(ValueError):
        detail = f"{vt} ({json.loads(after or '{}').get('detail', '')})"
    return StepResult("virt-type", before != after, detail)


# --- all steps --------------------------------------------------------------------------
def prepare_host(
    runner: Runner | None = None,
    *,
    install: bool = True,
    probe: bool = False,
    restart: bool = False,
    packages: Iterable[str] = PACKAGES,
    dirs: Iterable[str] = STORAGE_DIRS,
) -> list[StepResult]:
    runner = runner or LocalRunner()
    results: list[StepResult] = []
    if install:
        results.append(ensure_packages(runner, packages))
    results.append(ensure_qemu_conf(runner))
    results.append(ensure_kvm_device(runner))
    results.append(ensure_qemu_hook(runner))
    conf_mtime = max(float(runner.run(["stat", "-c", "%Y", f]).stdout.strip())
                     for f in (QEMU_CONF, str(overlay.HOOK_PATH)))
    results.append(ensure_daemon(runner, "virtlogd", "/run/libvirt/virtlogd-sock"))
    results.append(
        ensure_daemon(runner, "libvirtd", "/run/libvirt/libvirt-sock", stale_after=conf_mtime, restart=restart)
    )
    results.append(ensure_libvirt_ready(runner))
    results.append(ensure_dirs(runner, dirs))
    if probe:
        results.append(ensure_virt_type(runner))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m appliance.host.prepare", description=__doc__.split("\n")[0])
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install missing packages")
    ap.add_argument("--probe", action="store_true", help="probe kvm vs qemu (boots the tiny image)")
    ap.add_argument("--restart", action="store_true",
                    help="restart a libvirtd started before qemu.conf or the QEMU hook changed")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        results = prepare_host(install=not args.no_install, probe=args.probe, restart=args.restart)
    except (CommandError, RuntimeError) as e:
        print(f"prepare failed: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            print(f"{r.name:15} {'changed' if r.changed else 'ok':8} {r.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
