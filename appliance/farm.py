"""The farm rehearsal: the farm's playbooks run against separate machines, here.

A zone spec with `management`, `storage_nodes` and remote hypervisor hosts (scenarios/farm-rehearsal.yaml) names
the machines. Each becomes a QEMU VM booted from the appliance's base image (a qcow2 overlay: every rehearsal starts
clean) on a bridge this machine makes (`dcfarm<id>`, the first address of the machines' /24, no route beyond it),
where dnsmasq hands each VM the spec's address by MAC. The inventory is generated from the same spec
(appliance.inventory); `playbooks/site.yml` then provisions the nodes and the datacenter role deploys the zone and
its first VM through the management node's API, exactly as on a farm. A second run must change nothing.

    devcloud farm up [SCENARIO]     # boot, provision twice, report (the nodes stay up)
    devcloud farm down [SCENARIO]   # stop the nodes, remove the bridge

Under TCG every node is slow; the KVM host's guests run TCG inside TCG.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import typer

from appliance import build, inventory, zonespec

Progress = Callable[[str], None]
T = TypeVar("T")
STATE_ROOT = Path("/var/lib/devcloud-farm")
# Memory (MiB) and vCPUs by the groups a node is in: the KVM host runs the tiny guest (256 MiB) under TCG.
SIZES = {"management": (2048, 2), "kvm_hosts": (1536, 2), "xen_hosts": (1536, 2), "nfs": (768, 1),
         "management_lb": (512, 1)}
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass
class Node:
    name: str
    address: str
    groups: list[str]
    index: int
    memory: int = 1024
    vcpus: int = 1
    pid: int | None = None

    @property
    def mac(self) -> str:
        return f"52:54:00:fa:00:{self.index:02x}"

    def tap(self, tag: str) -> str:
        return f"dcft{tag}{self.index}"


def nodes_of(spec: zonespec.CloudSpec) -> list[Node]:
    """The spec's machines, in inventory order, each with its groups and a size fitting them."""
    doc = inventory.farm_inventory(spec)["all"]["children"]
    nodes: dict[str, Node] = {}
    for group, body in doc.items():
        for name, hv in (body["hosts"] or {}).items():
            if name not in nodes:
                if not (hv or {}).get("ansible_host"):
                    continue
                nodes[name] = Node(name, hv["ansible_host"], [], len(nodes) + 1)
            nodes[name].groups.append(group)
    for name in (n for g in doc.values() for n in (g["hosts"] or {})):
        if name not in nodes:
            raise zonespec.SpecError(spec.name, [f"{name}: no address in the spec"])
    for n in nodes.values():
        n.memory = max(SIZES.get(g, (1024, 1))[0] for g in n.groups)
        n.vcpus = max(SIZES.get(g, (1024, 1))[1] for g in n.groups)
    return list(nodes.values())


def subnet_of(nodes: list[Node]) -> ipaddress.IPv4Network:
    nets = {ipaddress.IPv4Network(f"{n.address}/24", strict=False) for n in nodes}
    if len(nets) != 1:
        raise ValueError(f"the rehearsal needs every node in one /24: {sorted(str(n) for n in nets)}")
    return nets.pop()


@dataclass
class Farm:
    """One rehearsal's machines and network; state is kept in `workdir`/farm.json so `down` works from another
    process."""

    scenario: str
    workdir: Path
    nodes: list[Node] = field(default_factory=list)
    tag: str = field(default_factory=lambda: os.urandom(2).hex())
    dnsmasq_pid: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_scenario(cls, scenario: str = "farm-rehearsal", workdir: Path | None = None) -> Farm:
        spec = zonespec.load(scenario)
        workdir = workdir or STATE_ROOT / spec.name
        saved = workdir / "farm.json"
        if saved.is_file():
            data = json.loads(saved.read_text())
            data["nodes"] = [Node(**n) for n in data["nodes"]]
            data["workdir"] = Path(data["workdir"])
            return cls(**data)
        return cls(scenario, workdir, nodes_of(spec))

    @property
    def spec(self) -> zonespec.CloudSpec:
        return zonespec.load(self.scenario)

    @property
    def bridge(self) -> str:
        return f"dcfarm{self.tag}"

    @property
    def gateway(self) -> str:
        return str(next(subnet_of(self.nodes).hosts()))

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def save(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["workdir"] = str(self.workdir)
        (self.workdir / "farm.json").write_text(json.dumps(data, indent=2) + "\n")

    # ---- network ------------------------------------------------------------------------------------------------
    def _net_up(self) -> None:
        net = subnet_of(self.nodes)
        used = _ip("-4", "-o", "addr").stdout
        for line in used.splitlines():
            addr = line.split()[3]
            if ipaddress.ip_interface(addr).network.overlaps(net):
                raise RuntimeError(f"{net} is in use here ({line.split()[1]} {addr}): `devcloud farm down` first, "
                                   "or give the spec's nodes other addresses")
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/{net.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for n in self.nodes:
            _ip("tuntap", "add", "dev", n.tap(self.tag), "mode", "tap")
            _ip("link", "set", n.tap(self.tag), "master", self.bridge)
            _ip("link", "set", n.tap(self.tag), "up")
        # DHCP by MAC; no router and no DNS server handed out: the nodes reach each other and this machine only
        cmd = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", f"--interface={self.bridge}",
               "--bind-interfaces", "--except-interface=lo", f"--dhcp-range={net.network_address},static,"
               f"{net.netmask},12h", f"--dhcp-leasefile={self.workdir / 'leases'}", "--dhcp-option=3",
               "--dhcp-option=6", f"--pid-file={self.workdir / 'dnsmasq.pid'}",
               f"--log-facility={self.workdir / 'dnsmasq.log'}", "--log-dhcp"]
        cmd += [f"--dhcp-host={n.mac},{n.address},{n.name}" for n in self.nodes]
        errfile = self.workdir / "dnsmasq.err"
        with open(errfile, "wb") as err:  # a file, not a pipe: nobody reads dnsmasq's output while it runs
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)
        time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(f"dnsmasq on {self.bridge} failed: {errfile.read_text(errors='replace')[-500:]}")
        self.dnsmasq_pid = proc.pid

    # ---- machines -----------------------------------------------------------------------------------------------
    def _qemu(self, n: Node) -> list[str]:
        accel = build.accelerator()
        overlay = self.workdir / f"{n.name}.qcow2"
        return ["qemu-system-x86_64", "-accel", accel, "-name", f"devcloud-farm-{n.name}", "-m", str(n.memory),
                "-smp", str(n.vcpus), "-cpu", build.guest_cpu(accel), "-display", "none",
                "-serial", f"file:{self.workdir / (n.name + '-console.log')}",
                "-drive", f"file={overlay},if=virtio,format=qcow2,cache=unsafe",
                "-netdev", f"tap,id=n0,ifname={n.tap(self.tag)},script=no,downscript=no",
                "-device", f"virtio-net,netdev=n0,mac={n.mac}",
                "-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng0"]

    def boot(self, base: Path, progress: Progress = _say, disks: dict[str, Path] | None = None) -> None:
        """Each node on a fresh overlay: of the base image, or of `disks[name]` (a provisioned node's disk kept in
        the cache, left untouched)."""
        if (self.workdir / "farm.json").is_file():
            raise RuntimeError(f"a rehearsal of {self.scenario} is up ({self.workdir}): `devcloud farm down` first")
        self.workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self.save()  # from here on `down` can clean up whatever follows
        try:
            self._net_up()
            self.save()
            for n in self.nodes:
                overlay = self.workdir / f"{n.name}.qcow2"
                overlay.unlink(missing_ok=True)
                backing = (disks or {}).get(n.name, base)
                subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                                str(backing.resolve()), str(overlay)], check=True, capture_output=True)
                with open(self.workdir / f"{n.name}-qemu.err", "wb") as err:
                    proc = subprocess.Popen(self._qemu(n), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
                n.pid = proc.pid
                progress(f"{n.name}: booting at {n.address} ({', '.join(n.groups)}; {n.memory} MiB, "
                         f"{n.vcpus} vCPU)")
            self.save()
        except BaseException:
            self.down()
            raise
        self.timings["boot_started"] = round(time.monotonic() - t0, 1)

    def ssh(self, key: Path) -> list[str]:
        return ["ssh", "-q", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

    def run_on(self, name: str, command: str, key: Path, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*self.ssh(key), f"root@{self.node(name).address}", command],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    def wait_ssh(self, key: Path, timeout: float = 900, progress: Progress = _say) -> dict[str, float]:
        t0 = time.monotonic()
        waiting = {n.name for n in self.nodes}
        seen: dict[str, float] = {}
        while waiting and time.monotonic() - t0 < timeout:
            for name in sorted(waiting):
                n = self.node(name)
                if n.pid is not None and not _alive(n.pid):
                    raise RuntimeError(f"{name}'s QEMU exited: "
                                       f"{(self.workdir / (name + '-qemu.err')).read_text()[-500:]}")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    if self.run_on(name, "true", key, timeout=15).returncode == 0:
                        seen[name] = round(time.monotonic() - t0, 1)
                        progress(f"{name}: SSH answers after {seen[name]:.0f} s")
                        waiting.discard(name)
            if waiting:
                time.sleep(2)
        if waiting:
            raise TimeoutError(f"no SSH within {timeout:.0f} s from {', '.join(sorted(waiting))} (consoles in "
                               f"{self.workdir})")
        return seen

    def name_nodes(self, key: Path) -> None:
        """Each node gets its inventory name as host name, as a farm's machines have their own. The base image's is
        `devcloud` on every clone, and Linux's NFSv4 client names itself by it: with two nodes mounting the same
        server (kvm1 primary, mgmt secondary) the server took them for one client, dropped kvm1's state, and the
        guest's disk on the export failed with I/O errors ("NFS: lost 3 locks")."""
        for n in self.nodes:
            r = self.run_on(n.name, f"echo {n.name} > /etc/hostname && hostname {n.name} && "
                                    f"sed -i 's/^127\\.0\\.1\\.1[[:space:]].*/127.0.1.1 {n.name}/' /etc/hosts", key)
            if r.returncode != 0:
                raise RuntimeError(f"{n.name}: setting the host name failed: {r.stderr.strip()[-300:]}")

    # ---- provisioning -------------------------------------------------------------------------------------------
    def write_inventory(self) -> Path:
        path = self.workdir / "hosts.yml"
        path.write_text(inventory.render(self.spec, self.scenario))
        return path

    def provision(self, playbook: Path, key: Path, log: Path, progress: Progress = _say,
                  extra_vars: dict[str, str] | None = None) -> dict[str, dict[str, int]]:
        """One `ansible-playbook site.yml` over the generated inventory; returns each host's PLAY RECAP counts and
        raises when a host failed or was unreachable."""
        inv = self.write_inventory()
        evars = {"common_apt_update": "false", "devcloud_wheelhouse": str(build.WHEELHOUSE),
                 "datacenter_images_dir": str(build.IMAGES), **(extra_vars or {})}
        cmd = [str(playbook), "-i", str(inv), str(build.REPO / "playbooks" / "site.yml"), "--private-key", str(key)]
        for k, v in evars.items():
            cmd += ["--extra-vars", f"{k}={v}"]
        env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_PIPELINING="True", ANSIBLE_FORKS="5", ANSIBLE_TIMEOUT="60",
                   ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile=/dev/null "
                                    "-o StrictHostKeyChecking=no -o ServerAliveInterval=15")
        recap: dict[str, dict[str, int]] = {}
        with open(log, "a") as out:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                    cwd=build.REPO)
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                out.flush()
                if line.startswith(("PLAY [", "TASK [")):
                    progress(line.rstrip(" *\n"))
                if m := _RECAP.match(line):
                    recap[m.group(1)] = {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                         "unreachable": int(m.group(4)), "failed": int(m.group(5))}
            rc = proc.wait()
        bad = {h: r for h, r in recap.items() if r["failed"] or r["unreachable"]}
        if rc != 0 or bad or not recap:
            raise RuntimeError(f"ansible-playbook exited {rc} ({bad or 'no recap'}); log: {log}")
        return recap

    # ---- teardown -----------------------------------------------------------------------------------------------
    def poweroff(self, key: Path, timeout: float = 300) -> None:
        """A clean shutdown of every node (their disks are then consistent, to be kept), then `down`'s cleanup of
        the network; the overlays stay."""
        for n in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.run_on(n.name, "systemctl poweroff", key, timeout=30)
        deadline = time.monotonic() + timeout
        while any(n.pid and _alive(n.pid) for n in self.nodes) and time.monotonic() < deadline:
            time.sleep(1)
        self.down(keep_disks=True)

    def down(self, keep_disks: bool = False) -> list[str]:
        """Stops the nodes and dnsmasq, removes the taps, the bridge and the overlays; idempotent."""
        done = []
        for n in self.nodes:
            if n.pid and _kill(n.pid):
                done.append(f"stopped {n.name}")
            n.pid = None
        if self.dnsmasq_pid and _kill(self.dnsmasq_pid):
            done.append("stopped dnsmasq")
        self.dnsmasq_pid = None
        for dev in [n.tap(self.tag) for n in self.nodes] + [self.bridge]:
            if os.path.exists(f"/sys/class/net/{dev}"):
                _ip("link", "del", dev, check=False)
                done.append(f"removed {dev}")
        if not keep_disks:
            for n in self.nodes:
                (self.workdir / f"{n.name}.qcow2").unlink(missing_ok=True)
        (self.workdir / "farm.json").unlink(missing_ok=True)
        return done


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours counts as gone
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def _kill(pid: int, timeout: float = 20) -> bool:
    if not _alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def first_vm_report(farm: Farm, key: Path, progress: Progress = _say) -> dict[str, object]:
    """Where the spec's first VM runs and whether it answers: asked of the management node's API (its admin keys
    read over SSH), of the storage node's export, of the KVM host's libvirt and, for SSH, through the router's port
    forwarding from the management node (the public range is routed there only)."""
    from appliance.client import CloudClient

    spec = farm.spec
    assert spec.management is not None and spec.first_vm is not None
    mgmt = spec.management.servers[0].name
    admin = json.loads(farm.run_on(mgmt, "cat /var/lib/devcloud/admin.json", key).stdout)
    client = CloudClient(f"http://{farm.node(mgmt).address}:8080/client/api", admin["apikey"], admin["secretkey"],
                         timeout=60)
    try:
        vm = client.one("listVirtualMachines", "virtualmachine", name=spec.first_vm.name)
        assert vm is not None, f"no VM {spec.first_vm.name}"
        host = client.one("listHosts", "host", id=vm["hostid"])
        vols = client.items("listVolumes", "volume", virtualmachineid=vm["id"])
        pools = {p["id"]: p for p in client.items("listStoragePools", "storagepool")}
        ips = [i for i in client.items("listPublicIpAddresses", "publicipaddress")
               if i.get("issourcenat") and i.get("associatednetworkname") == spec.first_vm.network]
    finally:
        client.close()
    root = next(v for v in vols if v.get("type") == "ROOT")
    pool = pools.get(root.get("storageid"), {})
    report: dict[str, object] = {"vm": vm["name"], "state": vm["state"], "host": (host or {}).get("name"),
                                 "host_ip": (host or {}).get("ipaddress"), "instancename": vm.get("instancename"),
                                 "root_volume": root["id"], "pool": pool.get("name"), "pool_type": pool.get("type"),
                                 "pool_path": f"{pool.get('ipaddress')}:{pool.get('path')}"}
    kvm = next(n.name for n in farm.nodes if n.address == report["host_ip"] or n.name == report["host"])
    disks = farm.run_on(kvm, f"virsh -c qemu:///system domblklist --details {vm['instancename']}", key).stdout
    disk = next((ln.split()[-1] for ln in disks.splitlines() if " disk " in ln), "")
    report["kvm_node"], report["disk_on_host"] = kvm, disk
    mount = farm.run_on(kvm, f"findmnt -n -o SOURCE,FSTYPE --target {disk}", key).stdout.split()
    report["disk_mount"] = " ".join(mount)
    storage = [n.name for n in farm.nodes if "nfs" in n.groups]
    if storage and disk:
        found = farm.run_on(storage[0], f"find /export -name {Path(disk).name}", key).stdout.split()
        report["disk_on_storage"] = found[0] if found else None
    if ips:
        fv = spec.first_vm
        pem = f"/var/lib/devcloud/keys/{fv.keypair}.pem"
        t0 = time.monotonic()
        r = farm.run_on(mgmt, f"ssh -q -i {pem} -p {fv.ssh_public_port} -o StrictHostKeyChecking=no "
                              f"-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o BatchMode=yes "
                              f"{fv.ssh_user}@{ips[0]['ipaddress']} 'hostname; ip -o -4 addr show eth0'", key,
                        timeout=90)
        report["ssh"] = {"rc": r.returncode, "out": r.stdout.strip(), "seconds": round(time.monotonic() - t0, 1),
                         "via": f"{ips[0]['ipaddress']}:{fv.ssh_public_port}"}
    progress(f"first VM: {json.dumps(report)}")
    return report


def rehearse(scenario: str = "farm-rehearsal", *, workdir: Path | None = None, progress: Progress = _say,
             keep: bool = True) -> dict[str, object]:
    """Everything `devcloud farm up` does: the base image, wheelhouse, guest images and Ansible (each built only
    when missing), the nodes booted, `site.yml` run twice. Returns the timings and both runs' recaps."""
    farm = Farm.for_scenario(scenario, workdir)
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    def step(name: str, fn: Callable[[], T]) -> T:
        s = time.monotonic()
        progress(f"== {name}")
        value = fn()
        timings[name] = round(time.monotonic() - s, 1)
        progress(f"== {name}: {timings[name]:.0f} s")
        return value

    base, key = step("base image", lambda: build.ensure_base(progress=progress))
    step("wheelhouse", lambda: build.build_wheelhouse(progress=progress))
    step("guest images", lambda: build.export_guest_images(progress=progress))
    playbook = step("ansible", lambda: build.ensure_ansible_tools(progress=progress))
    log = farm.workdir / "provision.log"
    step("boot", lambda: farm.boot(base, progress))
    try:
        ssh = step("ssh", lambda: farm.wait_ssh(key, progress=progress))
        farm.name_nodes(key)
        log.unlink(missing_ok=True)
        first = step("provision", lambda: farm.provision(playbook, key, log, progress))
        second = step("provision again", lambda: farm.provision(playbook, key, log, progress))
        first_vm = step("first VM", lambda: first_vm_report(farm, key, progress))
    except BaseException:
        if not keep:
            farm.down()
        raise
    result = {"scenario": scenario, "nodes": {n.name: {"address": n.address, "groups": n.groups}
                                             for n in farm.nodes},
              "ssh_after": ssh, "steps": timings, "first_run": first, "second_run": second,
              "first_vm": first_vm,
              "seconds": round(time.monotonic() - t0, 1), "key": str(key), "workdir": str(farm.workdir),
              "log": str(log)}
    (farm.workdir / "rehearsal.json").write_text(json.dumps(result, indent=2) + "\n")
    if not keep:
        farm.down()
    return result


# ---- the rehearsal cache (CI's farm tier) --------------------------------------------------------------------------
# The rehearsal's inputs are the appliance image's (playbooks/, appliance/, scenarios/, ...): when they change, CI
# rehearses again (~25 min of TCG); otherwise it boots the nodes' provisioned disks kept from the last rehearsal and
# checks them live. The disks are qcow2 overlays of the cached base image.
def cache_entry(scenario: str = "farm-rehearsal", cache: Path | None = None) -> Path:
    return (cache or build.appliance_cache_dir()) / f"farm-{zonespec.load(scenario).name}-{build.inputs_digest()[:16]}"


def keep_rehearsal(scenario: str, work: Path, result: dict[str, object], entry: Path, cache: Path) -> None:
    """Shuts the rehearsal's nodes down cleanly and keeps their disks (rebased onto the cache's copy of the base
    image) and the report as the cache entry `entry`, which appears whole or not at all."""
    farm = Farm.for_scenario(scenario, work)
    farm.poweroff(Path(str(result["key"])))
    base_entry = cache / f"base-{build.base_digest()[:16]}"
    for n in farm.nodes:  # from the build's dist/ path to the cache's copy of the same base
        subprocess.run(["qemu-img", "rebase", "-u", "-F", "qcow2", "-b", str(base_entry / "base.qcow2"),
                        str(work / f"{n.name}.qcow2")], check=True, capture_output=True)
    tmp = cache / f".{entry.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for n in farm.nodes:
        (work / f"{n.name}.qcow2").rename(tmp / f"{n.name}.qcow2")
    shutil.copy2(work / "provision.log", tmp / "provision.log")
    (tmp / "rehearsal.json").write_text(json.dumps(result, indent=2) + "\n")
    tmp.rename(entry)
    shutil.rmtree(work, ignore_errors=True)
    for old in cache.glob(f"farm-{farm.spec.name}-*"):
        if old != entry:
            shutil.rmtree(old, ignore_errors=True)


def cached_rehearsal(scenario: str = "farm-rehearsal", *, cache: Path | None = None,
                     progress: Progress = _say) -> dict[str, object]:
    """The rehearsal of the current inputs: recorded before, or run now (nodes booted, provisioned twice, the first
    VM checked, then shut down cleanly and their disks kept). Returns the rehearsal's report plus `cached`,
    `entry` and `disks` (node name -> its provisioned disk)."""
    cache = cache or build.appliance_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    entry = cache_entry(scenario, cache)
    with open(cache / ".farm.lock", "w") as lock:  # the appliance image keeps its own lock (ensure_base takes it)
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = (entry / "rehearsal.json").is_file()
        if cached:
            progress(f"farm rehearsal for inputs {entry.name}: recorded before; booting its disks")
        else:
            progress(f"no farm rehearsal for these inputs in {cache}: rehearsing ({entry.name})")
            work = cache / f".{entry.name}.work"
            down(scenario, work)
            shutil.rmtree(work, ignore_errors=True)
            try:
                result = rehearse(scenario, workdir=work, progress=progress, keep=True)
            except BaseException:
                down(scenario, work)  # nothing left running; the work directory keeps the logs
                raise
            keep_rehearsal(scenario, work, result, entry, cache)
    result = json.loads((entry / "rehearsal.json").read_text())
    result.update(cached=cached, entry=str(entry),
                  disks={name: str(entry / f"{name}.qcow2") for name in result["nodes"]})
    return result


def boot_provisioned(rehearsal: dict[str, object], workdir: Path, *, scenario: str = "farm-rehearsal",
                     while_up: Callable[[Farm, Path], object] | None = None, timeout: float = 900,
                     progress: Progress = _say) -> dict[str, object]:
    """Boots the rehearsal's provisioned disks (on throw-away overlays), waits for SSH on every node and for the
    management server to see its KVM hosts Up, runs `while_up(farm, key)`, stops everything."""
    from appliance.client import CloudClient

    base, key = build.ensure_base(progress=progress)
    farm = Farm.for_scenario(scenario, workdir)
    disks = {k: Path(v) for k, v in dict(rehearsal["disks"]).items()}  # type: ignore[call-overload]
    t0 = time.monotonic()
    farm.boot(base, progress, disks=disks)
    try:
        out: dict[str, object] = {"ssh_after": farm.wait_ssh(key, timeout, progress)}
        spec = farm.spec
        assert spec.management is not None
        mgmt = spec.management.servers[0].name
        wanted = {h[0] for h in inventory.hypervisor_hosts(spec)}
        hosts: dict[str, str] = {}
        while time.monotonic() - t0 < timeout:
            r = farm.run_on(mgmt, "cat /var/lib/devcloud/admin.json", key)
            if r.returncode == 0 and r.stdout.strip():
                admin = json.loads(r.stdout)
                client = CloudClient(f"http://{farm.node(mgmt).address}:8080/client/api", admin["apikey"],
                                     admin["secretkey"], timeout=30)
                try:
                    hosts = {h["name"]: h["state"] for h in client.items("listHosts", "host", type="Routing")}
                except Exception as exc:  # noqa: BLE001 - the server may still be starting
                    progress(f"management API not answering yet: {type(exc).__name__}")
                finally:
                    client.close()
                if hosts and all(hosts.get(n) == "Up" for n in wanted):
                    break
            time.sleep(5)
        out.update(hosts=hosts, hosts_up_after=round(time.monotonic() - t0, 1))
        progress(f"hypervisor hosts {hosts} after {out['hosts_up_after']} s")
        if while_up is not None:
            out["while_up"] = while_up(farm, key)
        return out
    finally:
        farm.down()


def down(scenario: str = "farm-rehearsal", workdir: Path | None = None) -> list[str]:
    return Farm.for_scenario(scenario, workdir).down()


def status(scenario: str = "farm-rehearsal", workdir: Path | None = None) -> list[dict[str, object]]:
    farm = Farm.for_scenario(scenario, workdir)
    up = (farm.workdir / "farm.json").is_file()
    return [{"name": n.name, "address": n.address, "groups": n.groups,
             "running": bool(up and n.pid and _alive(n.pid))} for n in farm.nodes]


# ---- CLI (`devcloud farm ...`) -------------------------------------------------------------------------------------
farm_app = typer.Typer(help="the farm rehearsal: the farm playbooks on VMs of this machine", no_args_is_help=True)


@farm_app.command("up")
def cli_up(scenario: str = typer.Argument("farm-rehearsal", help="zone spec naming the nodes"),
           keep: bool = typer.Option(True, help="leave the nodes running afterwards (`devcloud farm down`)")) -> None:
    """Boot the spec's nodes, run playbooks/site.yml over the generated inventory twice, print the report."""
    try:
        result = rehearse(scenario, keep=keep)
    except (zonespec.SpecError, RuntimeError, TimeoutError, FileNotFoundError) as exc:
        typer.echo(f"farm rehearsal failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2))


@farm_app.command("down")
def cli_down(scenario: str = typer.Argument("farm-rehearsal")) -> None:
    """Stop the nodes and dnsmasq, remove the taps and the bridge."""
    for line in down(scenario) or ["nothing was running"]:
        typer.echo(line)


@farm_app.command("status")
def cli_status(scenario: str = typer.Argument("farm-rehearsal")) -> None:
    """Each node, its address, groups and whether its VM runs."""
    for n in status(scenario):
        typer.echo(f"{n['name']:<10} {n['address']:<15} {'running' if n['running'] else 'stopped':<8} "
                   f"{','.join(n['groups'])}")  # type: ignore[arg-type]


__all__ = ["Farm", "Node", "boot_provisioned", "cache_entry", "cached_rehearsal", "down", "farm_app", "nodes_of",
           "rehearse", "status", "subnet_of"]
