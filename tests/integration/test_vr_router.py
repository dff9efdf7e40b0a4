"""The namespace virtual router against real dnsmasq, nftables, haproxy and emulated guests (network namespaces).

Topology (all created here, removed at teardown): a "public" bridge ``dcpb<sfx>`` holding 198.18.<n>.1/24 on the
host, a guest bridge ``dcgb<sfx>``, router ``dcr-<rid>`` between them, guests vm1/vm2 as namespaces on the guest
bridge getting their addresses from the router's DHCP.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from management.network import host
from management.network.provider import (
    DhcpHost,
    EgressRule,
    FirewallRule,
    GuestSide,
    LbBackend,
    LbHealthCheck,
    LbStickiness,
    LoadBalancerRule,
    NetworkProvider,
    PortForward,
    PortRange,
    PublicSide,
    RouterSpec,
    StaticNat,
    VmMetadata,
)
from management.network.testing import (
    Guest,
    blocked,
    http_get,
    missing_prerequisites,
    self_signed_pem,
    sh,
    wait_for,
)
from management.network.vr import NamespaceRouterProvider
from tests.conftest import free_public_net

pytestmark = pytest.mark.integration

SFX = f"{os.getpid() % 100000:05d}"
NET = int(free_public_net().rsplit(".", 1)[1])  # 198.18.NET.0/24, unused on this machine
PUB_BR, GUEST_BR = f"dcpb{SFX}", f"dcgb{SFX}"
GW = f"198.18.{NET}.1"
SNAT_IP, NAT2_IP = f"198.18.{NET}.10", f"198.18.{NET}.11"
MACS = {"vm1": "02:dc:00:00:00:11", "vm2": "02:dc:00:00:00:12"}
IPS = {"vm1": "10.251.0.11", "vm2": "10.251.0.12"}
TIMES: dict[str, float] = {}


def base_spec(rid: str) -> RouterSpec:
    return RouterSpec(
        router_id=rid, name=f"r-{rid}",
        guest=GuestSide(GUEST_BR, "10.251.0.1/24", domain="net1.devcloud"),
        public=PublicSide(PUB_BR, (SNAT_IP, NAT2_IP), 24, GW, SNAT_IP),
        dhcp_hosts=tuple(DhcpHost(MACS[n], IPS[n], n) for n in ("vm1", "vm2")),
        metadata={IPS[n]: VmMetadata(f"i-2-{i}-VM", n, f"#cloud-config\nhostname: {n}\n".encode(),
                                     public_keys=(f"ssh-ed25519 AAAAkey{n} user@{n}",), availability_zone="zone1",
                                     public_ipv4=SNAT_IP)
                  for i, n in enumerate(("vm1", "vm2"), start=1)},
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    reason = missing_prerequisites("dnsmasq", "nft", "haproxy", "busybox", "ip")
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("vr")
    provider = NamespaceRouterProvider(work / "state")
    rid = f"t{SFX}"
    guests: dict[str, Guest] = {}
    try:
        host.ensure_public_bridge(PUB_BR, f"{GW}/24")
        spec = base_spec(rid)
        t0 = time.monotonic()
        res = provider.implement(spec)
        TIMES["implement (cold)"] = time.monotonic() - t0
        assert "netns" in res.changed
        for i, n in enumerate(("vm1", "vm2"), start=1):
            guests[n] = Guest(n, f"dcq{SFX}{i}", f"vq{SFX}{i}", MACS[n], GUEST_BR, work).create()
        t0 = time.monotonic()
        for g in guests.values():
            g.dhcp()
        TIMES["dhcp (2 guests)"] = time.monotonic() - t0
        for g in guests.values():
            g.serve_http(22)
            g.serve_http(8080)
        yield provider, spec, guests
    finally:
        for g in guests.values():
            g.destroy()
        provider.destroy(rid)
        host.remove_bridge(PUB_BR, only_if_unused=False)
        host.remove_bridge(GUEST_BR, only_if_unused=False)
        print("\nvirtual router timings: " + ", ".join(f"{k}={v * 1000:.0f}ms" for k, v in TIMES.items()))


def apply(provider: NamespaceRouterProvider, spec: RouterSpec, label: str):
    t0 = time.monotonic()
    res = provider.apply_rules(spec)
    TIMES[label] = time.monotonic() - t0
    return res


def test_provider_satisfies_protocol(tmp_path):
    assert isinstance(NamespaceRouterProvider(tmp_path), NetworkProvider)


def test_guests_get_allocated_addresses_from_dhcp(world):
    _, _, guests = world
    assert {n: g.ip for n, g in guests.items()} == IPS
    # the default route points at the router
    assert "via 10.251.0.1" in guests["vm1"].exec("ip", "route", "show", "default").stdout


def test_the_routers_files_are_private_after_dnsmasq_wrote_its_own(world):
    """dnsmasq sets its own umask (022) for its pid, lease and log files, whatever the server's (0077, which makes
    the router's other files 0600); the router makes them 0600 too (a lease names guests' MACs and addresses)."""
    provider, spec, _ = world
    paths = provider.paths(spec.router_id)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (paths.dnsmasq_pid, paths.leases, paths.dnsmasq_log)}
    assert modes == {"dnsmasq.pid": "0o600", "dnsmasq.leases": "0o600", "dnsmasq.log": "0o600"}


def test_guests_resolve_each_other_by_name(world):
    _, _, guests = world
    for me, other in (("vm1", "vm2"), ("vm2", "vm1")):
        for name in (other, f"{other}.net1.devcloud"):
            out = guests[me].exec("busybox", "nslookup", name, "10.251.0.1").stdout
            assert IPS[other] in out, out


def test_metadata_service_identifies_the_vm_by_source_ip(world):
    _, _, guests = world
    base = "http://10.251.0.1"
    assert guests["vm1"].wget(f"{base}/latest/user-data") == "#cloud-config\nhostname: vm1\n"
    assert guests["vm2"].wget(f"{base}/latest/user-data") == "#cloud-config\nhostname: vm2\n"
    g = guests["vm2"]
    assert g.wget(f"{base}/latest/meta-data/instance-id") == "i-2-2-VM"
    assert g.wget(f"{base}/latest/meta-data/local-hostname") == "vm2"
    assert g.wget(f"{base}/latest/meta-data/local-ipv4") == IPS["vm2"]
    assert g.wget(f"{base}/latest/meta-data/public-ipv4") == SNAT_IP
    assert g.wget(f"{base}/latest/meta-data/availability-zone") == "zone1"
    assert g.wget(f"{base}/latest/meta-data/public-keys").strip() == "ssh-ed25519 AAAAkeyvm2 user@vm2"
    assert "instance-id" in g.wget(f"{base}/latest/meta-data/").split()
    assert '"hostname": "vm2"' in g.wget(f"{base}/openstack/latest/meta_data.json")


def test_port_forwarding_then_firewall_removal_blocks(world):
    provider, spec, _ = world
    pf = PortForward(SNAT_IP, PortRange(2222), IPS["vm1"], PortRange(22))
    fw = FirewallRule(SNAT_IP, "tcp", PortRange(2222), ("198.18.0.0/15",))
    res = apply(provider, dataclasses.replace(spec, port_forwards=(pf,), firewall=(fw,)), "apply_rules (pf+fw)")
    assert res.changed == ("nftables",)
    assert wait_for(lambda: http_get(SNAT_IP, 2222) == "vm1", what="port forward to vm1")
    res = apply(provider, dataclasses.replace(spec, port_forwards=(pf,), firewall=()), "apply_rules (fw removed)")
    assert res.changed == ("nftables",)
    assert blocked(SNAT_IP, 2222)
    # openfirewall=true on the rule opens its own port, as CloudStack does
    apply(provider, dataclasses.replace(spec, port_forwards=(dataclasses.replace(pf, open_firewall=True),)), "pf")
    assert wait_for(lambda: http_get(SNAT_IP, 2222) == "vm1", what="port forward with openfirewall")


def _host_listener(ip: str) -> tuple[socket.socket, list[str]]:
    """A TCP listener on the host's public-bridge address that records the peers' addresses."""
    srv = socket.create_server((ip, 0))
    peers: list[str] = []

    def loop() -> None:
        while True:
            try:
                c, addr = srv.accept()
            except OSError:
                return
            peers.append(addr[0])
            c.close()
    threading.Thread(target=loop, daemon=True).start()
    return srv, peers


def test_static_nat_maps_second_public_ip_both_ways(world):
    provider, spec, guests = world
    s = dataclasses.replace(spec, static_nats=(StaticNat(NAT2_IP, IPS["vm2"]),),
                            firewall=(FirewallRule(NAT2_IP, "tcp", PortRange(8080)),))
    apply(provider, s, "apply_rules (static nat)")
    assert wait_for(lambda: http_get(NAT2_IP, 8080) == "vm2", what="static NAT inbound")
    assert blocked(NAT2_IP, 22)  # no firewall rule for 22
    srv, peers = _host_listener(GW)
    try:
        port = srv.getsockname()[1]
        for n in ("vm2", "vm1"):
            guests[n].exec("busybox", "nc", "-w", "2", GW, str(port), check=False, timeout=5)
        wait_for(lambda: len(peers) >= 2, what="two outbound connections")
        assert peers[:2] == [NAT2_IP, SNAT_IP]  # vm2 leaves as its static NAT IP, vm1 as the source-NAT IP
    finally:
        srv.close()


def test_load_balancer_alternates_between_guests(world):
    provider, spec, _ = world
    lb = LoadBalancerRule("web", SNAT_IP, 80, (LbBackend(IPS["vm1"], 8080), LbBackend(IPS["vm2"], 8080)),
                          "roundrobin", open_firewall=True)
    res = apply(provider, dataclasses.replace(spec, load_balancers=(lb,)), "apply_rules (lb add)")
    assert set(res.changed) == {"nftables", "haproxy:start"}
    wait_for(lambda: http_get(SNAT_IP, 80) in ("vm1", "vm2"), what="haproxy answering")
    seen = [http_get(SNAT_IP, 80) for _ in range(6)]
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False)), seen
    assert set(seen) == {"vm1", "vm2"}
    # changing the algorithm reloads haproxy only
    res = apply(provider, dataclasses.replace(spec, load_balancers=(dataclasses.replace(lb, algorithm="source"),)),
                "apply_rules (lb change)")
    assert res.changed == ("haproxy:reload",)
    res = apply(provider, spec, "apply_rules (lb removed)")
    assert set(res.changed) == {"nftables", "haproxy:stop"}
    assert blocked(SNAT_IP, 80)


def test_ssl_load_balancer_terminates_tls(world, tmp_path):
    """A load balancer rule of protocol ssl: haproxy in the router terminates TLS with the uploaded certificate
    (a real TLS client checks it) and passes plain HTTP to the guests."""
    import hashlib
    import http.client
    import ssl

    provider, spec, _ = world
    cert, key = self_signed_pem("web.devcloud.test", SNAT_IP)
    lb = LoadBalancerRule("tls", SNAT_IP, 443, (LbBackend(IPS["vm1"], 8080),), "roundrobin", open_firewall=True,
                          ssl_pem=cert + key)
    res = apply(provider, dataclasses.replace(spec, load_balancers=(lb,)), "apply_rules (ssl lb add)")
    assert "haproxy:start" in res.changed
    pem = provider.paths(spec.router_id).certs / "tls.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    (tmp_path / "ca.pem").write_text(cert)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    seen: dict[str, object] = {}

    def tls_get() -> str:
        conn = http.client.HTTPSConnection(SNAT_IP, 443, timeout=2, context=ctx)
        try:
            conn.request("GET", "/")
            seen["peer"] = conn.sock.getpeercert(binary_form=True)
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    wait_for(lambda: tls_get() == "vm1", what="haproxy answering over TLS")
    der = ssl.PEM_cert_to_DER_cert(cert)
    assert hashlib.sha256(seen["peer"]).digest() == hashlib.sha256(der).digest()  # type: ignore[arg-type]
    with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate refuses it
        http.client.HTTPSConnection(SNAT_IP, 443, timeout=2, context=ssl.create_default_context()).request("GET", "/")
    res = apply(provider, spec, "apply_rules (ssl lb removed)")
    assert "haproxy:stop" in res.changed and not pem.exists()
    assert blocked(SNAT_IP, 443)


def test_reapplying_same_spec_is_a_noop_and_changes_touch_only_what_changed(world):
    provider, spec, guests = world
    provider.implement(spec)
    before = provider.status(spec.router_id)
    assert before.healthy, before
    t0 = time.monotonic()
    res = provider.implement(spec)
    TIMES["implement (no-op)"] = time.monotonic() - t0
    assert res.changed == ()
    assert provider.status(spec.router_id) == before  # same pids
    # a new VM: dnsmasq re-reads its hosts files (SIGHUP), nothing restarts
    extra = DhcpHost("02:dc:00:00:00:13", "10.251.0.13", "vm3")
    s2 = dataclasses.replace(spec, dhcp_hosts=spec.dhcp_hosts + (extra,))
    res = provider.implement(s2)
    assert res.changed == ("dnsmasq:reload",)
    assert provider.status(spec.router_id) == before
    assert wait_for(lambda: "10.251.0.13" in guests["vm1"].exec("busybox", "nslookup", "vm3", "10.251.0.1").stdout,
                    what="vm3 resolvable after SIGHUP")
    # metadata changes are picked up without a restart
    md = dict(spec.metadata)
    md[IPS["vm1"]] = dataclasses.replace(md[IPS["vm1"]], user_data=b"new user data")
    res = provider.implement(dataclasses.replace(s2, metadata=md))
    assert res.changed == ("metadata:data",)
    assert guests["vm1"].wget("http://10.251.0.1/latest/user-data") == "new user data"
    # back to the original spec
    provider.implement(spec)
    assert provider.status(spec.router_id) == before


def test_an_address_given_to_a_new_nic_is_leased_to_it_at_once(world):
    """vm1 is destroyed and a new VM gets its address: dnsmasq must not keep refusing the new MAC ("not using
    configured address ... because it is leased to" the old one) until the old lease expires."""
    provider, spec, guests = world
    assert guests["vm1"].dhcp() == IPS["vm1"]  # vm1's lease is on record
    newcomer = DhcpHost("02:dc:00:00:00:14", IPS["vm1"], "vm4")
    reused = dataclasses.replace(spec, dhcp_hosts=(newcomer,) + spec.dhcp_hosts[1:])
    vm4 = Guest("vm4", f"dcq{SFX}4", f"vq{SFX}4", newcomer.mac, GUEST_BR, guests["vm1"].workdir).create()
    try:
        res = provider.implement(reused)
        assert vm4.dhcp() == IPS["vm1"]
        assert res.changed == ("dnsmasq:restart",)  # the old lease can only go while dnsmasq is stopped
        assert guests["vm2"].dhcp() == IPS["vm2"]  # the other leases are kept
    finally:
        vm4.destroy()
        provider.implement(spec)  # and back: vm1's MAC gets its address again
    assert guests["vm1"].dhcp() == IPS["vm1"]


def test_reboot_restarts_services_and_guests_keep_working(world):
    provider, spec, guests = world
    before = provider.status(spec.router_id)
    t0 = time.monotonic()
    res = provider.reboot(spec.router_id)
    TIMES["reboot"] = time.monotonic() - t0
    assert "reboot" in res.changed
    after = provider.status(spec.router_id)
    assert after.healthy
    assert after.service("dnsmasq").pid != before.service("dnsmasq").pid
    assert wait_for(lambda: guests["vm2"].wget("http://10.251.0.1/latest/meta-data/local-hostname") == "vm2",
                    what="metadata after reboot")
    assert guests["vm1"].dhcp() == IPS["vm1"]


def test_egress_default_deny_blocks_guest_traffic_to_public_side(world):
    provider, spec, guests = world
    srv, peers = _host_listener(GW)
    try:
        port = srv.getsockname()[1]
        apply(provider, dataclasses.replace(spec, egress_default="deny"), "apply_rules (egress deny)")
        guests["vm1"].exec("busybox", "nc", "-w", "1", GW, str(port), check=False, timeout=5)
        assert peers == []
        apply(provider, dataclasses.replace(spec, egress_default="deny",
                                            egress=(EgressRule("tcp", PortRange(port), ("198.18.0.0/15",)),)),
              "apply_rules (egress allow rule)")
        guests["vm1"].exec("busybox", "nc", "-w", "1", GW, str(port), check=False, timeout=5)
        wait_for(lambda: peers == [SNAT_IP], what="egress allowed by rule")
    finally:
        srv.close()
        provider.apply_rules(spec)


def test_remote_access_vpn_on_the_source_nat_ip(world):
    """Remote-access VPN on an isolated network: a client namespace with a VPN user's credentials reaches a guest."""
    from management.network.provider import RemoteAccess, VpnSpec, VpnUserCred
    from management.network.testing import RemoteAccessClient

    provider, spec, guests = world
    ra = RemoteAccess(SNAT_IP, "iso-psk-secret", ("10.1.2.2", "10.1.2.8"), ("10.251.0.0/24",),
                      (VpnUserCred("carol", "Carol-pass-1"),))
    apply(provider, dataclasses.replace(spec, vpn=VpnSpec(remote_access=(ra,))), "apply_rules (remote access)")
    assert provider.status(spec.router_id).service("charon").running
    work = Path(f"/tmp/dcvpn{SFX}")
    client = RemoteAccessClient(f"dcc{SFX}", f"vqc{SFX}", PUB_BR, f"198.18.{NET}.250/24", work,
                                Path(f"/run/devcloud/clientv{SFX}")).create()
    try:
        assert client.connect(SNAT_IP, "iso-psk-secret", "carol", "Carol-pass-1", "10.251.0.0/24")
        out = client.exec("busybox", "wget", "-q", "-O", "-", f"http://{IPS['vm1']}:8080/", timeout=15).stdout
        assert out == "vm1"
        assert not client.connect(SNAT_IP, "iso-psk-secret", "carol", "wrong-pass-1", "10.251.0.0/24", timeout=8)
    finally:
        client.destroy()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        apply(provider, spec, "apply_rules (remote access removed)")
    assert provider.status(spec.router_id).service("charon") is None


def test_restore_after_host_crash(world):
    """The namespace and every daemon vanish (host reboot); a new provider instance (server restart) restores."""
    provider, spec, guests = world
    ns = spec.netns
    for pid in sh("ip", "netns", "pids", ns).stdout.split():
        os.kill(int(pid), 9)
    sh("ip", "netns", "del", ns)
    assert provider.status(spec.router_id).state == "Stopped"
    fresh = NamespaceRouterProvider(provider.state_dir)
    t0 = time.monotonic()
    res = fresh.restore_all()
    TIMES["restore after crash"] = time.monotonic() - t0
    assert "netns" in res[spec.router_id].changed
    assert fresh.status(spec.router_id).healthy
    assert fresh.restore_all()[spec.router_id].changed == ()
    assert wait_for(lambda: guests["vm1"].wget("http://10.251.0.1/latest/meta-data/instance-id") == "i-2-1-VM",
                    what="metadata after restore")
    assert guests["vm2"].dhcp() == IPS["vm2"]


def test_destroy_leaves_nothing_behind(world, tmp_path):
    # a second, throw-away router on its own guest bridge
    provider = NamespaceRouterProvider(tmp_path)
    rid = f"d{SFX}"
    gbr = f"dcgd{SFX}"
    spec = dataclasses.replace(base_spec(rid), guest=GuestSide(gbr, "10.252.0.1/24"), dhcp_hosts=(), metadata={},
                               public=PublicSide(PUB_BR, (f"198.18.{NET}.20",), 24, GW, f"198.18.{NET}.20"),
                               load_balancers=(LoadBalancerRule("x", f"198.18.{NET}.20", 80,
                                                                (LbBackend("10.252.0.5", 80),)),))
    provider.implement(spec)
    st = provider.status(rid)
    assert st.healthy and st.service("haproxy").running
    pids = [s.pid for s in st.services if s.pid]
    t0 = time.monotonic()
    provider.destroy(rid)
    TIMES["destroy"] = time.monotonic() - t0
    assert f"dcr-{rid}" not in sh("ip", "netns", "list").stdout
    for dev in (f"vrg-{rid}", f"vrp-{rid}", gbr):
        assert not host.link_exists(dev), dev
    for pid in pids:  # killed; PID 1 reaps them shortly after
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), timeout=5, what=f"pid {pid} gone")
    assert not (tmp_path / "routers" / rid).exists()
    assert provider.status(rid).state == "Stopped"
    assert provider.destroy(rid).changed == ()  # already gone: still succeeds


def _get_with_cookie(ip: str, port: int, cookie: str | None = None) -> tuple[str, str | None]:
    """(body, Set-Cookie header) of GET / with an optional Cookie header."""
    import http.client

    conn = http.client.HTTPConnection(ip, port, timeout=2)
    try:
        conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        return resp.read().decode(), resp.getheader("Set-Cookie")
    finally:
        conn.close()


def test_lb_stickiness_source_and_cookie(world):
    provider, spec, _ = world
    base = LoadBalancerRule("sticky", SNAT_IP, 80, (LbBackend(IPS["vm1"], 8080), LbBackend(IPS["vm2"], 8080)),
                            "roundrobin", open_firewall=True)
    try:
        apply(provider, dataclasses.replace(spec, load_balancers=(dataclasses.replace(
            base, stickiness=LbStickiness("SourceBased", (("expire", "30m"),))),)), "apply_rules (lb source)")
        wait_for(lambda: http_get(SNAT_IP, 80) in ("vm1", "vm2"), what="haproxy answering")
        assert len({http_get(SNAT_IP, 80) for _ in range(6)}) == 1  # one client, one server
        cfg = provider.paths(spec.router_id).haproxy_cfg.read_text()
        assert "stick-table type ip size 200k expire 30m" in cfg and "stick on src" in cfg
        # LbCookie: haproxy inserts its cookie; a client sending it back stays on that server
        res = apply(provider, dataclasses.replace(spec, load_balancers=(dataclasses.replace(
            base, stickiness=LbStickiness("LbCookie", (("cookie-name", "SRV"), ("nocache", "")))),)),
            "apply_rules (lb cookie)")
        assert res.changed == ("haproxy:reload",)
        wait_for(lambda: (_get_with_cookie(SNAT_IP, 80)[1] or "").startswith("SRV="), what="cookie inserted")
        first, cookie = _get_with_cookie(SNAT_IP, 80)
        assert cookie is not None
        sticky = {_get_with_cookie(SNAT_IP, 80, cookie.split(";")[0])[0] for _ in range(6)}
        assert sticky == {first}
        fresh = {_get_with_cookie(SNAT_IP, 80)[0] for _ in range(6)}
        assert fresh == {"vm1", "vm2"}  # without the cookie: round robin again
    finally:
        provider.apply_rules(spec)


def test_lb_health_check_takes_a_failing_member_out(world, tmp_path):
    provider, spec, guests = world
    sick = tmp_path / "vm1.sick"
    for n, g in guests.items():
        g.serve_http(8081, sick if n == "vm1" else tmp_path / "never")
    lb = LoadBalancerRule("hc", SNAT_IP, 81, (LbBackend(IPS["vm1"], 8081), LbBackend(IPS["vm2"], 8081)),
                          "roundrobin", open_firewall=True,
                          health_check=LbHealthCheck("/healthz", response_time=1, interval=1, healthy=1, unhealthy=2))
    try:
        apply(provider, dataclasses.replace(spec, load_balancers=(lb,)), "apply_rules (lb health check)")
        assert "option httpchk GET /healthz" in provider.paths(spec.router_id).haproxy_cfg.read_text()
        wait_for(lambda: {http_get(SNAT_IP, 81) for _ in range(4)} == {"vm1", "vm2"}, timeout=15,
                 what="both members in service")
        sick.write_text("")
        wait_for(lambda: {http_get(SNAT_IP, 81) for _ in range(6)} == {"vm2"}, timeout=15,
                 what="vm1 taken out after failing /healthz twice")
        sick.unlink()
        wait_for(lambda: {http_get(SNAT_IP, 81) for _ in range(6)} == {"vm1", "vm2"}, timeout=15,
                 what="vm1 back in service")
    finally:
        provider.apply_rules(spec)
