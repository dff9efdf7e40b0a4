"""The namespace router of a ROUTED IPv4 network and of a DualStack network's IPv6: no NAT (the outside sees the
guests' own addresses), closed until a routing / IPv6 firewall rule opens it, egress rules as for IPv4, and
guests configuring their IPv6 from the router's advertisements.

Topology (created here, removed at teardown): a public bridge ``dcpb<sfx>`` with the host on 198.18.<n>.1/24, an
"upstream" namespace on it (198.18.<n>.50 and fd00:dc:<n>::1, the router's IPv6 gateway) routing the guest subnet
and /64 to the router, a guest bridge with one guest; one router for the whole module.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from management.network import host
from management.network.provider import (
    DhcpHost,
    GuestSide,
    Ipv6Side,
    PortRange,
    PublicSide,
    RoutedRule,
    RouterSpec,
)
from management.network.testing import Guest, missing_prerequisites, sh, wait_for
from management.network.vr import NamespaceRouterProvider
from tests.conftest import free_public_net

pytestmark = pytest.mark.integration

SFX = f"{os.getpid() % 100000:05d}"
NET = int(free_public_net().rsplit(".", 1)[1])  # 198.18.NET.0/24, unused on this machine
PUB_BR, GUEST_BR = f"dcpr{SFX}", f"dcgr{SFX}"
GW = f"198.18.{NET}.1"
ROUTER_IP, UP_IP = f"198.18.{NET}.10", f"198.18.{NET}.50"
SUBNET, VM_IP, VM_MAC = "100.64.37.0/28", "100.64.37.4", "02:dc:00:00:00:21"
UP6, ROUTER6 = f"fd00:dc:{NET:x}::1", f"fd00:dc:{NET:x}::10"
PREFIX6 = f"fd00:dc:{NET:x}:1::/64"


def spec_of(rid: str, **kw) -> RouterSpec:
    base = RouterSpec(
        router_id=rid, name=f"r-{rid}", routed=True,
        guest=GuestSide(GUEST_BR, "100.64.37.1/28", domain="routed.devcloud"),
        public=PublicSide(PUB_BR, (ROUTER_IP,), 24, GW, ROUTER_IP),
        dhcp_hosts=(DhcpHost(VM_MAC, VM_IP, "vm1"),),
        ipv6=Ipv6Side(PREFIX6, PREFIX6.replace("::/64", "::1"), ROUTER6, 64, UP6),
    )
    return dataclasses.replace(base, **kw)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    reason = missing_prerequisites("dnsmasq", "nft", "busybox", "ip")
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("vr6")
    provider = NamespaceRouterProvider(work / "state")
    rid = f"r{SFX}"
    made: list[Guest] = []
    try:
        host.ensure_public_bridge(PUB_BR, f"{GW}/24")
        spec = spec_of(rid)
        provider.implement(spec)
        up = Guest("up", f"dcu{SFX}", f"vu{SFX}", "02:dc:00:00:00:31", PUB_BR, work).create()
        made.append(up)
        up.exec("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        up.set_static(f"{UP_IP}/24")
        up.exec("ip", "-6", "addr", "add", f"{UP6}/64", "dev", "eth0", "nodad")
        up.exec("ip", "route", "add", SUBNET, "via", ROUTER_IP)
        up.exec("ip", "-6", "route", "add", PREFIX6, "via", ROUTER6)
        up.serve_http(8080)
        up.serve_http(8080, ip=UP6)
        vm = Guest("vm1", f"dcv{SFX}", f"vv{SFX}", VM_MAC, GUEST_BR, work).create()
        made.append(vm)
        vm.exec("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        assert vm.dhcp() == VM_IP
        vm6 = vm.slaac_address(PREFIX6)
        vm.serve_http(8080)
        vm.serve_http(8080, ip=vm6)
        yield provider, spec, up, vm, vm6
    finally:
        for g in made:
            g.destroy()
        provider.destroy(rid)
        host.remove_bridge(PUB_BR, only_if_unused=False)
        host.remove_bridge(GUEST_BR, only_if_unused=False)


def test_guest_configures_ipv6_from_router_advertisements(world):
    provider, spec, _, vm, vm6 = world
    # SLAAC: the interface id comes from the MAC (EUI-64), the default route from the router's advertisement
    assert vm6.endswith(":dc:ff:fe00:21")
    assert "via fe80::" in vm.exec("ip", "-6", "route", "show", "default").stdout
    assert provider.status(spec.router_id).healthy


def test_routed_ipv4_is_closed_until_a_routing_rule_opens_it_and_is_not_nated(world):
    provider, spec, up, vm, _ = world
    assert up.wget(f"http://{VM_IP}:8080/") is None
    provider.apply_rules(dataclasses.replace(spec, routed_ingress=(
        RoutedRule("tcp", PortRange(8080), sources=(f"{UP_IP}/32",)),)))
    assert wait_for(lambda: up.wget(f"http://{VM_IP}:8080/"), what="routed ingress") == "vm1"
    # the guest's own address reaches the outside: no source NAT on a ROUTED network
    assert vm.wget(f"http://{UP_IP}:8080/whoami") == VM_IP
    # a rule for another source opens nothing for this one
    provider.apply_rules(dataclasses.replace(spec, routed_ingress=(
        RoutedRule("tcp", PortRange(8080), sources=("203.0.113.0/24",)),)))
    assert up.wget(f"http://{VM_IP}:8080/") is None


def test_ipv6_firewall_ingress_and_egress(world):
    provider, spec, up, vm, vm6 = world
    provider.apply_rules(spec)
    assert up.wget(f"http://[{vm6}]:8080/") is None                     # closed by default
    assert vm.wget(f"http://[{UP6}]:8080/whoami") == vm6                 # egress allowed, no NAT
    opened = dataclasses.replace(spec, ipv6_ingress=(RoutedRule("tcp", PortRange(8080, 8081)),),
                                 ipv6_egress=(RoutedRule("tcp", PortRange(8080), destinations=(f"{UP6}/128",)),))
    provider.apply_rules(opened)
    assert wait_for(lambda: up.wget(f"http://[{vm6}]:8080/"), what="IPv6 ingress") == "vm1"
    # default allow: an egress rule is a deny
    assert vm.wget(f"http://[{UP6}]:8080/whoami") is None
    # ICMPv6 echo by rule
    assert sh("ip", "netns", "exec", up.netns, "busybox", "ping", "-6", "-c1", "-W1", vm6, check=False).returncode != 0
    provider.apply_rules(dataclasses.replace(opened, ipv6_ingress=opened.ipv6_ingress + (
        RoutedRule("icmp", icmp_type=128),)))
    assert sh("ip", "netns", "exec", up.netns, "busybox", "ping", "-6", "-c1", "-W2", vm6, check=False).returncode == 0


def test_turning_routed_and_ipv6_off_restores_nat(world):
    provider, spec, up, vm, _ = world
    provider.implement(dataclasses.replace(spec, routed=False, ipv6=None))
    # NATed again: the outside sees the router's public address
    assert vm.wget(f"http://{UP_IP}:8080/whoami") == ROUTER_IP
    assert sh("ip", "netns", "exec", spec.netns, "nft", "list", "table", "ip6", "devcloud6",
              check=False).returncode != 0
    provider.implement(spec)
    assert vm.wget(f"http://{UP_IP}:8080/whoami") == VM_IP
