"""Live migration of a real TCG guest through the CloudStack API, from this machine's libvirt to a second libvirt
host: a nested Debian VM (appliance.kvmhost, booted once per session by tests/nested_kvm.py) reached over
``qemu+tcp`` on a bridge this test makes.

The zone has two clusters: this machine (pool in a temp dir) and the nested host (a pool inside it). The guest
runs on an isolated network whose virtual router (a namespace here) keeps reaching it after the move: the nested
host's second NIC is enslaved to the network's bridge on this machine, and inside the nested host to a bridge of
the same name. migrateVirtualMachineWithVolume copies the root disk while the guest runs (the source and the
nested host share no storage). A pinger in the router's namespace measures what the guest's clients see: lost
replies and the longest gap; SSH answers afterwards. Figures are printed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_network_guests import Cloud, served_cloud, ssh_ok, wait_for
from tests.integration.test_network_guests import _reason as _guests_reason

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed")

# the nested host boots in minutes under TCG on a loaded 2-core machine; its guest runs doubly emulated
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]
if _guests_reason:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=_guests_reason)]  # type: ignore[list-item]

PUBLIC_GW = "198.18.79.1"


@pytest.fixture(scope="module")
def nested() -> Any:
    import shutil

    for tool in ("mmdebstrap", "qemu-system-x86_64", "mkfs.ext4"):
        assert shutil.which(tool), f"{tool} is not installed (.ci/run installs it)"
    from tests.nested_kvm import nested_host

    return nested_host()


def spec_for(nested_uri: str):  # type: ignore[no-untyped-def]
    def zone_spec(tag: str, workdir: Path, basic: bool) -> Any:
        from appliance import zonespec

        return zonespec.parse({
            "name": f"mig-test-{tag}",
            "global_settings": {"expunge.delay": "0", "expunge.interval": "600", "vm.sync.interval": "2",
                                "instance.name": f"M{tag}"},
            "zones": [{
                "name": f"net-{tag}", "dns1": PUBLIC_GW, "internal_dns1": PUBLIC_GW, "network_type": "Advanced",
                "guest_cidr": "10.252.10.0/24",
                "physical_networks": [{"name": f"pnet-{tag}", "isolation_methods": ["VLAN"], "vlan": "740-759",
                                       "traffic_types": ["Guest", "Management", "Public"],
                                       "providers": ["VirtualRouter"]}],
                "public_ranges": [{"vlan": "untagged", "gateway": PUBLIC_GW, "netmask": "255.255.255.0",
                                   "start": "198.18.79.10", "end": "198.18.79.40"}],
                "pods": [{"name": f"pod-{tag}", "gateway": "198.18.248.1", "netmask": "255.255.255.0",
                          "start": "198.18.248.10", "end": "198.18.248.50",
                          "clusters": [
                              {"name": f"here-{tag}", "hypervisor": "KVM", "hosts": [{"url": "qemu:///system"}],
                               "primary_storage": [{"name": f"ps-here-{tag}",
                                                    "url": f"file://{workdir / 'primary'}"}]},
                              {"name": f"nested-{tag}", "hypervisor": "KVM", "hosts": [{"url": nested_uri}],
                               "primary_storage": [{"name": f"ps-nested-{tag}",
                                                    "url": f"file:///var/lib/devcloud/primary-{tag}"}]}]}],
                "secondary_storage": [{"name": f"ss-{tag}", "provider": "NFS",
                                       "url": f"file://{workdir / 'secondary'}"}],
            }],
            "service_offerings": [{"name": f"tiny-{tag}", "cpu": 1, "speed": 500, "memory": 160}],
        }, source="test_kvm_migration")

    return zone_spec


@pytest.fixture(scope="module")
def env(nested: Any) -> Iterator[dict[str, Any]]:
    from appliance.image import build_tiny_image

    with served_cloud(build_tiny_image(), basic=False, spec=spec_for(nested.uri), public_gw=PUBLIC_GW) as cloud:
        api = cloud.api
        hosts = {h["name"]: h for h in api("listHosts", zoneid=cloud.zone["id"], type="Routing")["host"]}
        here = next(h for h in hosts.values() if h["clustername"].startswith("here-"))
        there = next(h for h in hosts.values() if h["clustername"].startswith("nested-"))
        assert there["state"] == "Up", there
        off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
            "networkoffering"][0]
        net = api("createNetwork", zoneid=cloud.zone["id"], name=f"mig-{cloud.tag}", displaytext="mig",
                  networkofferingid=off["id"])["network"]
        vm = cloud.deploy(name=f"m1-{cloud.tag}", networkids=net["id"], hostid=here["id"])
        net = api("listNetworks", id=net["id"])["network"][0]
        cloud.wait_console(vm, r"DEVCLOUD-GUEST-READY")
        # the nested host's guest NIC joins the network's bridge here, and a bridge of the same name inside it
        from management.services.network.networks import guest_bridge_for

        bridge = guest_bridge_for(net["id"])
        subprocess.run(["ip", "link", "set", nested.guest_tap, "master", bridge], check=True)
        nested.bridge_guest_nic(bridge)
        try:
            yield {"cloud": cloud, "net": net, "vm": vm, "here": here, "there": there, "bridge": bridge}
        finally:
            subprocess.run(["ip", "link", "set", nested.guest_tap, "nomaster"], capture_output=True)


# An ICMP echo every 0.2 s (this machine has no ping binary): one line per reply, "R <seq> <unix time>",
# and "S <seq>" per request; run with python3 inside the router's namespace.
_PING = r"""
import os, select, socket, struct, sys, time
dst = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF
def csum(b):
    b += b"\0" * (len(b) % 2)
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF); t += t >> 16
    return ~t & 0xFFFF
seq = 0
nxt = time.monotonic()
while True:
    seq = (seq + 1) & 0xFFFF
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"devcloud-ping"
    h = h[:2] + struct.pack("!H", csum(h)) + h[4:]
    s.sendto(h, (dst, 0)); print("S", seq, flush=True)
    nxt += 0.2
    while (left := nxt - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        pkt, addr = s.recvfrom(2048)
        ihl = (pkt[0] & 0x0F) * 4
        typ, _c, _k, rid, rseq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if typ == 0 and rid == ident and addr[0] == dst:
            print("R", rseq, "%.3f" % time.time(), flush=True)
"""


class Pinger:
    """An ICMP echo every 0.2 s from the router's namespace, for the length of the migration."""

    def __init__(self, netns: str, ip: str) -> None:
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-u", "-c", _PING, ip],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def replies(self) -> int:
        return sum(1 for line in self.lines if line.startswith("R "))

    def stop(self) -> dict[str, float]:
        self.proc.terminate()
        self.proc.wait(10)
        self.thread.join(5)
        sent = {int(line.split()[1]) for line in self.lines if line.startswith("S ")}
        got = {int(line.split()[1]): float(line.split()[2]) for line in self.lines if line.startswith("R ")}
        stamps = sorted(got.values())
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        flying = {max(sent, default=0)} - set(got)  # the last request may still be in flight
        return {"transmitted": len(sent - flying), "received": len(got), "lost": len(sent - set(got) - flying),
                "longest_gap_s": round(max(gaps, default=0.0), 2)}


def test_a_running_guest_live_migrates_to_the_nested_host(env: dict[str, Any], nested: Any) -> None:
    cloud: Cloud = env["cloud"]
    vm, net, there = env["vm"], env["net"], env["there"]
    ip = vm["nic"][0]["ipaddress"]
    netns = cloud.netns_of(net["gateway"])
    marker = "MIGRATE-" + uuid.uuid4().hex[:8]
    ssh_ok(cloud.key, ip, f"echo {marker} > /root/marker", netns=netns)
    found = {h["id"]: h for h in cloud.api("findHostsForMigration", virtualmachineid=vm["id"])["host"]}
    assert found[there["id"]]["requiresStorageMotion"] is True and found[there["id"]]["suitableformigration"]
    root = cloud.api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    pool_there = cloud.api("listStoragePools", clusterid=there["clusterid"])["storagepool"][0]
    pinger = Pinger(netns, ip)
    wait_for(lambda: pinger.replies() > 3, 30, "the first replies")
    t = time.monotonic()
    moved = cloud.run("migrateVirtualMachineWithVolume", timeout=1200, virtualmachineid=vm["id"],
                      hostid=there["id"], **{"migrateto[0].volume": root["id"],
                                             "migrateto[0].pool": pool_there["id"]})["virtualmachine"]
    took = time.monotonic() - t
    seen = pinger.replies()
    wait_for(lambda: pinger.replies() > seen + 3, 120, "replies after the move")
    stats = pinger.stop()
    print(f"[kvm migration] migrateVirtualMachineWithVolume {took:.1f}s; ICMP echo every 0.2 s from the router: "
          f"{stats}")
    assert moved["hostid"] == there["id"] and moved["state"] == "Running"
    assert stats["lost"] <= 10, stats  # "at most a few": the stop-and-copy pause under nested TCG
    conn = libvirt.open(nested.uri)
    try:
        dom = conn.lookupByUUIDString(vm["id"])
        assert dom.isActive() and pool_there["path"] in dom.XMLDesc(0)
    finally:
        conn.close()
    here = libvirt.open("qemu:///system")
    try:
        with pytest.raises(libvirt.libvirtError):
            here.lookupByUUIDString(vm["id"])
    finally:
        here.close()
    assert cloud.api("listVolumes", id=root["id"])["volume"][0]["storageid"] == pool_there["id"]
    # the guest kept its memory (the marker) and answers SSH on the nested host
    t = time.monotonic()
    assert ssh_ok(cloud.key, ip, "cat /root/marker", netns=netns).strip() == marker
    print(f"[kvm migration] SSH on the nested host answered after {time.monotonic() - t:.1f}s")
