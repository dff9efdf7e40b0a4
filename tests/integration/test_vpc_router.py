"""The VPC router (namespace, one leg per tier, ACL chains, NAT, strongSwan) against real dnsmasq, nftables, charon
and emulated guests (network namespaces on the tiers' bridges). Fast: no QEMU; the API-level guest tests are in
test_vpc_guests.py.

Topology (created here, removed at teardown): a public bridge holding 198.18.<n>.1/24; VPC A (10.61.0.0/16, tiers
web 10.61.1.0/24 and db 10.61.2.0/24, guests web1 and db1) and VPC B (10.62.0.0/16, tier app with guest app1), both
routers on the public bridge; a remote-access client namespace on the public bridge.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from management.network import host
from management.network import vpn as ipsec
from management.network.provider import (
    DhcpHost,
    PortForward,
    PortRange,
    PublicSide,
    RemoteAccess,
    S2sConnection,
    VpnSpec,
    VpnUserCred,
)
from management.network.testing import Guest, RemoteAccessClient, blocked, missing_prerequisites, wait_for
from management.network.vpc_router import VpcRouterProvider
from management.network.vpc_spec import AclEntry, Tier, VpcRouterSpec
from tests.conftest import free_public_net

pytestmark = pytest.mark.integration

SFX = f"{os.getpid() % 100000:05d}"
NET = int(free_public_net().rsplit(".", 1)[1])  # 198.18.NET.0/24, unused on this machine
PUB_BR = f"dcpv{SFX}"
GW = f"198.18.{NET}.1"
A_IP, A_IP2, B_IP, CLIENT_IP, OUTSIDE_IP = (f"198.18.{NET}.{i}" for i in (10, 11, 20, 30, 40))
MACS = {"web1": "02:dc:00:00:01:11", "db1": "02:dc:00:00:01:12", "app1": "02:dc:00:00:02:11"}
IPS = {"web1": "10.61.1.11", "db1": "10.61.2.11", "app1": "10.62.1.11"}
TIMES: dict[str, float] = {}
ALL = AclEntry(True)
SSH_FROM_ANYWHERE = AclEntry(True, "tcp", PortRange(22))
DB_FROM_WEB = AclEntry(True, "tcp", PortRange(3306), ("10.61.1.0/24",))
PING = AclEntry(True, "icmp")


def vpc_a(rid: str, db_ingress: tuple[AclEntry, ...] = (DB_FROM_WEB,), vpn: VpnSpec = VpnSpec()) -> VpcRouterSpec:
    return VpcRouterSpec(
        router_id=rid, name="vpc-a", cidr="10.61.0.0/16",
        public=PublicSide(PUB_BR, (A_IP, A_IP2), 24, GW, A_IP),
        tiers=(Tier("t1", f"dcw{SFX}", "10.61.1.1/24", "a.devcloud", (), (DhcpHost(MACS["web1"], IPS["web1"], "web1"),),
                    ingress=(SSH_FROM_ANYWHERE, PING)),
               Tier("t2", f"dcd{SFX}", "10.61.2.1/24", "a.devcloud", (), (DhcpHost(MACS["db1"], IPS["db1"], "db1"),),
                    ingress=db_ingress)),
        port_forwards=(PortForward(A_IP, PortRange(2222), IPS["web1"], PortRange(22)),),
        vpn=vpn)


def vpc_b(rid: str, vpn: VpnSpec = VpnSpec()) -> VpcRouterSpec:
    return VpcRouterSpec(
        router_id=rid, name="vpc-b", cidr="10.62.0.0/16", public=PublicSide(PUB_BR, (B_IP,), 24, GW, B_IP),
        tiers=(Tier("t1", f"dca{SFX}", "10.62.1.1/24", "b.devcloud", (), (DhcpHost(MACS["app1"], IPS["app1"], "app1"),),
                    ingress=(PING, AclEntry(True, "tcp", PortRange(80), ("10.61.0.0/16",)))),),
        vpn=vpn)


def s2s(name: str, local: str, peer: str, local_cidr: str, peer_cidr: str, passive: bool) -> S2sConnection:
    return S2sConnection(name, local, peer, (local_cidr,), (peer_cidr,), "s2s-secret-psk",
                         ipsec.proposals("aes128-sha1;modp1536", ike=True), ipsec.proposals("aes128-sha1", ike=False),
                         ike_version="ikev2", dpd=True, passive=passive)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    reason = missing_prerequisites("dnsmasq", "nft", "busybox", "ip", "swanctl", "setsid", "unshare")
    if reason or not Path(ipsec.CHARON).exists():
        pytest.fail(reason or f"{ipsec.CHARON} is missing (Debian strongswan-charon)")
    work = tmp_path_factory.mktemp("vpc")
    provider = VpcRouterProvider(work / "state")
    ra, rb = f"va{SFX}", f"vb{SFX}"
    guests: dict[str, Guest] = {}
    try:
        host.ensure_public_bridge(PUB_BR, f"{GW}/24")
        t0 = time.monotonic()
        provider.implement(vpc_a(ra))
        TIMES["implement VPC (2 tiers)"] = time.monotonic() - t0
        provider.implement(vpc_b(rb))
        bridges = {"web1": f"dcw{SFX}", "db1": f"dcd{SFX}", "app1": f"dca{SFX}"}
        for i, (n, br) in enumerate(bridges.items(), start=1):
            guests[n] = Guest(n, f"dcq{SFX}v{i}", f"vq{SFX}v{i}", MACS[n], br, work).create()
            guests[n].dhcp()
        guests["web1"].serve_http(22)
        guests["db1"].serve_http(3306)
        guests["db1"].serve_http(22)
        guests["app1"].serve_http(80)
        # "outside": a namespace on the public bridge that routes the VPC's CIDR to its public IP
        outside = Guest("outside", f"dco{SFX}", f"vqo{SFX}", "02:dc:00:00:03:11", PUB_BR, work).create()
        guests["outside"] = outside
        outside.set_static(f"{OUTSIDE_IP}/24")
        outside.exec("ip", "route", "add", "10.61.0.0/16", "via", A_IP)
        yield provider, (ra, rb), guests, work
    finally:
        for g in guests.values():
            g.destroy()
        for rid in (ra, rb):
            provider.destroy(rid)
        host.remove_bridge(PUB_BR, only_if_unused=False)
        for br in (f"dcw{SFX}", f"dcd{SFX}", f"dca{SFX}"):
            host.remove_bridge(br, only_if_unused=False)
        print("\nVPC router timings: " + ", ".join(f"{k}={v * 1000:.0f}ms" for k, v in TIMES.items()))


def test_each_tier_gets_its_own_leg_and_dhcp(world):
    _, _, guests, _ = world
    assert {n: g.ip for n, g in guests.items() if n in IPS} == IPS
    assert "via 10.61.1.1" in guests["web1"].exec("ip", "route", "show", "default").stdout
    assert "via 10.61.2.1" in guests["db1"].exec("ip", "route", "show", "default").stdout


def test_port_forwarding_reaches_the_web_tier_and_nothing_else(world):
    _, _, guests, _ = world
    outside = guests["outside"]
    assert wait_for(lambda: outside.wget(f"http://{A_IP}:2222/"), what="web1 through port forwarding") == "web1"
    assert outside.wget(f"http://{A_IP}:22/") is None
    assert outside.wget(f"http://{IPS['db1']}:3306/") is None  # routed to the VPC, but no ACL lets it in
    assert blocked(A_IP, 22)


def test_db_tier_reachable_from_web_only_on_allowed_port(world):
    _, _, guests, _ = world
    assert guests["web1"].wget(f"http://{IPS['db1']}:3306/") == "db1"
    assert guests["web1"].wget(f"http://{IPS['db1']}:22/") is None


def test_acl_change_applies_within_milliseconds(world):
    provider, (ra, _), guests, _ = world
    t0 = time.monotonic()
    res = provider.apply_rules(vpc_a(ra, db_ingress=(DB_FROM_WEB, AclEntry(True, "tcp", PortRange(22),
                                                                         ("10.61.1.0/24",)))))
    TIMES["ACL change applied"] = time.monotonic() - t0
    assert res.changed == ("nftables",)
    assert guests["web1"].wget(f"http://{IPS['db1']}:22/") == "db1"
    # a deny item numbered before the allow wins
    provider.apply_rules(vpc_a(ra, db_ingress=(AclEntry(False, "tcp", PortRange(3306)), DB_FROM_WEB)))
    assert guests["web1"].wget(f"http://{IPS['db1']}:3306/") is None
    provider.apply_rules(vpc_a(ra))
    assert guests["web1"].wget(f"http://{IPS['db1']}:3306/") == "db1"


def _ping(g: Guest, ip: str) -> bool:
    return g.exec("busybox", "ping", "-c", "1", "-W", "2", ip, check=False, timeout=6).returncode == 0


def test_site_to_site_vpn_joins_two_vpcs(world):
    provider, (ra, rb), guests, _ = world
    assert not _ping(guests["web1"], IPS["app1"])
    vpn_a = VpnSpec(s2s=(s2s("s2s1", A_IP, B_IP, "10.61.0.0/16", "10.62.0.0/16", passive=False),))
    vpn_b = VpnSpec(s2s=(s2s("s2s1", B_IP, A_IP, "10.62.0.0/16", "10.61.0.0/16", passive=True),))
    provider.apply_rules(vpc_b(rb, vpn=vpn_b))
    t0 = time.monotonic()
    provider.apply_rules(vpc_a(ra, vpn=vpn_a))
    wait_for(lambda: ipsec.sa_states(provider.vpn_paths(ra)).get("s2s1") == "Connected", timeout=30,
             what="the tunnel to come up")
    TIMES["VPN connected"] = time.monotonic() - t0
    assert wait_for(lambda: _ping(guests["web1"], IPS["app1"]), timeout=15, what="ping across the tunnel")
    assert guests["web1"].wget(f"http://{IPS['app1']}/") == "app1"
    assert ipsec.sa_states(provider.vpn_paths(rb)).get("s2s1") == "Connected"
    # removing the connection tears the tunnel down at once
    provider.apply_rules(vpc_a(ra))
    assert not ipsec.sa_states(provider.vpn_paths(ra))
    assert not _ping(guests["web1"], IPS["app1"])
    provider.apply_rules(vpc_b(rb))


def test_remote_access_vpn_user_reaches_a_tier(world):
    provider, (ra, _), guests, work = world
    users = (VpnUserCred("alice", "Alice-pass-1"), VpnUserCred("bob", "Bob-pass-1"))
    ras = RemoteAccess(A_IP, "ra-pre-shared", ("10.1.2.1", "10.1.2.8"), ("10.61.0.0/16",), users)
    provider.apply_rules(vpc_a(ra, vpn=VpnSpec(remote_access=(ras,))))
    client = RemoteAccessClient(f"dcc{SFX}", f"vqc{SFX}", PUB_BR, f"{CLIENT_IP}/24", work / "client",
                                Path(f"/run/devcloud/client{SFX}")).create()
    try:
        assert client.connect(A_IP, "ra-pre-shared", "alice", "Alice-pass-1", "10.61.0.0/16")
        out = client.exec("busybox", "wget", "-q", "-O", "-", f"http://{IPS['web1']}:22/").stdout
        assert out == "web1"
        assert not client.connect(A_IP, "ra-pre-shared", "alice", "wrong-password", "10.61.0.0/16", timeout=8)
        assert client.connect(A_IP, "ra-pre-shared", "bob", "Bob-pass-1", "10.61.0.0/16")
        provider.apply_rules(vpc_a(ra, vpn=VpnSpec(remote_access=(dataclasses.replace(ras, users=users[:1]),))))
        assert not client.connect(A_IP, "ra-pre-shared", "bob", "Bob-pass-1", "10.61.0.0/16", timeout=8)
    finally:
        client.destroy()
        provider.apply_rules(vpc_a(ra))


def test_reboot_restores_every_rule(world):
    provider, (ra, _), guests, _ = world
    res = provider.reboot(ra)
    assert "reboot" in res.changed and "nftables" in res.changed
    assert provider.status(ra).healthy, provider.status(ra)
    assert wait_for(lambda: guests["outside"].wget(f"http://{A_IP}:2222/"),
                    what="port forwarding after reboot") == "web1"
    assert guests["web1"].wget(f"http://{IPS['db1']}:3306/") == "db1"
    assert guests["web1"].wget(f"http://{IPS['db1']}:22/") is None
    assert provider.implement(vpc_a(ra)).changed == ()  # converged: nothing to do
