"""Security groups on a shared (Basic zone) bridge: two emulated guests, rules allow then block ping and TCP."""

from __future__ import annotations

import os
import time

import pytest

from management.network import host
from management.network.provider import PortRange
from management.network.security_groups import TABLE, NicSecurity, SecurityGroupEnforcer, SgRule
from management.network.testing import Guest, missing_prerequisites, sh, wait_for

pytestmark = pytest.mark.integration

SFX = f"{os.getpid() % 100000:05d}"
BR = f"dcsb{SFX}"
NET = "10.253.0"
MAC = {"a": "02:dc:5e:00:00:0a", "b": "02:dc:5e:00:00:0b"}
IP = {"a": f"{NET}.10", "b": f"{NET}.11"}


@pytest.fixture
def sg(tmp_path):
    reason = missing_prerequisites("nft", "busybox", "ip")
    if reason:
        pytest.skip(reason)
    enforcer = SecurityGroupEnforcer(tmp_path)
    guests: dict[str, Guest] = {}
    try:
        host.ensure_bridge(BR)
        for i, n in enumerate(("a", "b")):
            g = Guest(n, f"dcsq{SFX}{i}", f"vs{SFX}{i}", MAC[n], BR, tmp_path).create()
            g.set_static(f"{IP[n]}/24")
            guests[n] = g
        guests["b"].serve_http(22)
        yield enforcer, guests
    finally:
        for g in guests.values():
            enforcer.remove(g.host_dev)
            g.destroy()
        host.remove_bridge(BR, only_if_unused=False)


def ping(g: Guest, ip: str) -> bool:
    return g.exec("busybox", "ping", "-c", "1", "-W", "1", ip, check=False).returncode == 0


def tcp(g: Guest, ip: str, port: int) -> bool:
    out = g.exec("busybox", "nc", "-w", "1", ip, str(port), check=False, timeout=5)
    return out.returncode == 0


def nic(g: Guest, ingress: tuple[SgRule, ...] = (), egress: tuple[SgRule, ...] = ()) -> NicSecurity:
    return NicSecurity(g.host_dev, g.mac, (g.ip,), ingress, egress)


def test_rules_allow_then_block_ping_and_tcp(sg):
    enforcer, g = sg
    a, b = g["a"], g["b"]
    # no security groups yet: everything flows (plain bridge)
    assert ping(a, b.ip)
    # default group without rules: ingress denied
    t0 = time.monotonic()
    assert enforcer.apply(nic(a))
    assert enforcer.apply(nic(b))
    apply_ms = (time.monotonic() - t0) * 1000 / 2
    assert not ping(a, b.ip)
    assert not tcp(a, b.ip, 22)
    # allow ICMP from the subnet and TCP 22 from group "a"'s members
    rules = (SgRule("icmp", icmp_type=-1, cidrs=(f"{NET}.0/24",)), SgRule("tcp", PortRange(22), member_ips=(a.ip,)))
    assert enforcer.apply(nic(b, ingress=rules))
    assert not enforcer.apply(nic(b, ingress=rules))  # idempotent
    assert wait_for(lambda: ping(a, b.ip), what="ping allowed")
    assert tcp(a, b.ip, 22)
    assert not ping(b, a.ip)  # a's ingress is still closed (replies to b's pings never arrive)
    # revoke: blocked again
    assert enforcer.apply(nic(b))
    assert not ping(a, b.ip)
    assert not tcp(a, b.ip, 22)
    print(f"\nsecurity group apply per NIC: {apply_ms:.0f}ms")


def test_egress_rules_restrict_and_spoofing_is_dropped(sg):
    enforcer, g = sg
    a, b = g["a"], g["b"]
    enforcer.apply(nic(b, ingress=(SgRule("all", cidrs=("0.0.0.0/0",)),)))
    enforcer.apply(nic(a))
    assert wait_for(lambda: tcp(a, b.ip, 22), what="tcp allowed")
    # one egress rule (ICMP only): TCP from a is no longer allowed out
    enforcer.apply(nic(a, egress=(SgRule("icmp", cidrs=("0.0.0.0/0",)),)))
    assert ping(a, b.ip)
    assert not tcp(a, b.ip, 22)
    enforcer.apply(nic(a))
    # a spoofed source address from a is dropped at its port
    sh("ip", "-n", a.netns, "addr", "add", f"{NET}.99/24", "dev", "eth0")
    assert a.exec("busybox", "ping", "-c", "1", "-W", "1", "-I", f"{NET}.99", b.ip, check=False).returncode != 0
    assert ping(a, b.ip)


def test_remove_is_idempotent_and_leaves_no_chains(sg):
    enforcer, g = sg
    a = g["a"]
    enforcer.apply(nic(a))
    assert a.host_dev in enforcer.devices()
    assert enforcer.remove(a.host_dev)
    assert not enforcer.remove(a.host_dev)
    assert a.host_dev not in enforcer.devices()
    listing = sh("nft", "list", "table", "bridge", TABLE, check=False)
    assert listing.returncode != 0 or a.host_dev not in listing.stdout  # the last NIC took the tables with it


def test_rules_of_a_device_gone_from_the_host_are_dropped_at_the_next_apply(sg):
    """A NIC that vanished without its rules being removed (its VM died while the server was down) leaves no
    entry behind once the cloud applies rules again: the host may give that name to another NIC."""
    enforcer, g = sg
    a, b = g["a"], g["b"]
    enforcer.apply(nic(a))
    ghost = f"dcsg{SFX}x"
    sh("ip", "link", "add", ghost, "type", "veth", "peer", "name", f"{ghost}p")
    try:
        sh("ip", "link", "set", ghost, "master", BR)
        enforcer.apply(NicSecurity(ghost, "02:dc:5e:00:00:0c", (f"{NET}.12",), (), ()))
        assert ghost in enforcer.devices()
    finally:
        sh("ip", "link", "del", ghost, check=False)
    enforcer.apply(nic(b))
    assert sorted(enforcer.devices()) == sorted([a.host_dev, b.host_dev])
    assert ghost not in sh("nft", "list", "table", "bridge", TABLE).stdout
