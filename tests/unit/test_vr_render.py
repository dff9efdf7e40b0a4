"""Virtual router: specs -> nftables / dnsmasq / haproxy / hosts / metadata text, and security-group rendering."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from management.network.provider import (
    DhcpHost,
    EgressRule,
    FirewallRule,
    GuestSide,
    LbBackend,
    LoadBalancerRule,
    PortForward,
    PortRange,
    PublicSide,
    RouterSpec,
    StaticNat,
    VmMetadata,
    spec_from_dict,
    spec_to_dict,
)
from management.network.render import (
    RouterPaths,
    render_dhcp_hosts,
    render_dnsmasq,
    render_haproxy,
    render_hosts,
    render_metadata,
    render_nftables,
)
from management.network.security_groups import NicSecurity, SgRule, render_nic, render_remove

pytestmark = pytest.mark.unit

PUB = ("198.18.7.10", "198.18.7.11")


def spec(**kw) -> RouterSpec:
    base = RouterSpec(
        router_id="r1", name="r-1-VM",
        guest=GuestSide("brdc-100", "10.1.1.1/24", vlan=100, domain="net.test", dns_servers=("192.0.2.53",)),
        public=PublicSide("dcpub0", PUB, 24, "198.18.7.1", PUB[0]),
        dhcp_hosts=(DhcpHost("02:00:00:00:00:01", "10.1.1.11", "vm1"), DhcpHost("02:00:00:00:00:02", "10.1.1.12",
                                                                               "vm2")),
    )
    return dataclasses.replace(base, **kw).validate()


def lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_nft_is_atomic_table_replacement_with_source_nat_and_default_drop():
    text = render_nftables(spec())
    ls = lines(text)
    assert ls[:3] == ["add table ip devcloud", "delete table ip devcloud", "table ip devcloud {"]
    assert 'oifname "pub0" ip saddr 10.1.1.0/24 snat to 198.18.7.10' in ls
    assert "type filter hook input priority filter; policy drop;" in ls
    assert "type filter hook forward priority filter; policy drop;" in ls
    assert 'iifname "pub0" jump public_ingress' in ls
    # no firewall rule: the public_ingress chain is empty, the egress chain just accepts
    body = text.split("chain public_ingress {")[1].split("}")[0]
    assert lines(body) == []
    assert lines(text.split("chain egress {")[1].split("}")[0]) == ["accept"]


def test_nft_firewall_port_forward_static_nat():
    s = spec(firewall=(FirewallRule(PUB[0], "tcp", PortRange(22), ("203.0.113.0/24", "198.51.100.7/32")),
                       FirewallRule(PUB[1], "icmp", icmp_type=8, icmp_code=0)),
             port_forwards=(PortForward(PUB[0], PortRange(2222), "10.1.1.11", PortRange(22), open_firewall=True),
                            PortForward(PUB[0], PortRange(5000, 5002), "10.1.1.12", PortRange(6000, 6002), "udp"),
                            PortForward(PUB[0], PortRange(7000, 7100), "10.1.1.12", PortRange(7000, 7100))),
             static_nats=(StaticNat(PUB[1], "10.1.1.12"),))
    ls = lines(render_nftables(s))
    assert ("ct original ip daddr 198.18.7.10 ip saddr { 203.0.113.0/24, 198.51.100.7/32 } meta l4proto tcp "
            "ct original proto-dst 22 accept") in ls
    assert "ct original ip daddr 198.18.7.11 meta l4proto icmp icmp type 8 icmp code 0 accept" in ls
    assert "ip daddr 198.18.7.10 tcp dport 2222 dnat to 10.1.1.11:22" in ls
    assert "ct original ip daddr 198.18.7.10 meta l4proto tcp ct original proto-dst 2222 accept" in ls  # openfirewall
    # a shifted range is expanded port by port, an unshifted one keeps the ports
    assert [ln for ln in ls if "udp dport" in ln] == [
        f"ip daddr 198.18.7.10 udp dport {5000 + i} dnat to 10.1.1.12:{6000 + i}" for i in range(3)]
    assert "ip daddr 198.18.7.10 tcp dport 7000-7100 dnat to 10.1.1.12" in ls
    assert "ip daddr 198.18.7.11 dnat to 10.1.1.12" in ls
    assert 'oifname "pub0" ip saddr 10.1.1.12 snat to 198.18.7.11' in ls
    # static NAT's SNAT comes before the network-wide source NAT
    snat_order = [ln for ln in ls if "snat to" in ln]
    assert snat_order.index('oifname "pub0" ip saddr 10.1.1.12 snat to 198.18.7.11') < snat_order.index(
        'oifname "pub0" ip saddr 10.1.1.0/24 snat to 198.18.7.10')


@pytest.mark.parametrize(("default", "verdict", "final"), [("allow", "drop", "accept"), ("deny", "accept", "drop")])
def test_nft_egress_rules_are_exceptions_to_the_default(default, verdict, final):
    s = spec(egress=(EgressRule("tcp", PortRange(25), ("0.0.0.0/0",)), EgressRule("all", None, ("192.0.2.0/24",))),
             egress_default=default)
    chain = lines(render_nftables(s).split("chain egress {")[1].split("}")[0])
    assert chain == [f"meta l4proto tcp th dport 25 {verdict}", f"ip daddr 192.0.2.0/24 {verdict}", final]


def test_nft_without_public_side_has_no_nat_or_public_chains():
    text = render_nftables(spec(public=None))
    assert "pub0" not in text and "snat" not in text


def test_dnsmasq_static_leases_only_by_default(tmp_path: Path):
    s = spec()
    text = render_dnsmasq(s, RouterPaths(tmp_path))
    ls = lines(text)
    assert "interface=guest0" in ls and "bind-interfaces" in ls
    assert "dhcp-range=set:guest,10.1.1.0,static,255.255.255.0,86400" in ls
    assert "dhcp-option=tag:guest,option:router,10.1.1.1" in ls
    assert "dhcp-option=tag:guest,option:dns-server,10.1.1.1" in ls
    assert "domain=net.test" in ls and "local=/net.test/" in ls and "expand-hosts" in ls
    assert "server=192.0.2.53" in ls and "no-resolv" in ls
    assert f"dhcp-hostsfile={tmp_path}/dhcp-hosts" in ls and f"addn-hosts={tmp_path}/hosts" in ls
    ranged = spec(guest=dataclasses.replace(s.guest, dhcp_range=("10.1.1.100", "10.1.1.200")))
    assert "dhcp-range=set:guest,10.1.1.100,10.1.1.200,255.255.255.0,86400" in render_dnsmasq(ranged,
                                                                                               RouterPaths(tmp_path))


def test_hosts_and_dhcp_hosts_files():
    s = spec()
    assert lines(render_dhcp_hosts(s)) == ["02:00:00:00:00:01,10.1.1.11,vm1,infinite",
                                           "02:00:00:00:00:02,10.1.1.12,vm2,infinite"]
    hosts = [ln.split() for ln in lines(render_hosts(s))]
    assert ["10.1.1.11", "vm1"] in hosts and ["10.1.1.12", "vm2"] in hosts and ["10.1.1.1", "r-r1-vm"] in hosts


def test_haproxy_only_with_lb_rules(tmp_path: Path):
    assert render_haproxy(spec(), RouterPaths(tmp_path)) is None
    s = spec(load_balancers=(LoadBalancerRule("web", PUB[0], 80, (LbBackend("10.1.1.11", 8080),
                                                                  LbBackend("10.1.1.12", 8080)), "leastconn"),))
    ls = lines(render_haproxy(s, RouterPaths(tmp_path)))
    assert "mode tcp" in ls
    assert "frontend fe_web" in ls and "bind 198.18.7.10:80" in ls and "default_backend be_web" in ls
    assert "balance leastconn" in ls
    assert "server s0_10_1_1_11 10.1.1.11:8080" in ls and "server s1_10_1_1_12 10.1.1.12:8080" in ls
    assert f"pidfile {tmp_path}/haproxy.pid" in ls


def test_metadata_json_and_spec_roundtrip():
    s = spec(metadata={"10.1.1.11": VmMetadata("i-2-5-VM", "vm1", b"\x00\xffdata", ("ssh-rsa AAA k",), "z1",
                                               public_ipv4=PUB[0])},
             port_forwards=(PortForward(PUB[0], PortRange(22), "10.1.1.11", PortRange(22)),),
             load_balancers=(LoadBalancerRule("w", PUB[0], 80, (LbBackend("10.1.1.11", 80),)),))
    md = json.loads(render_metadata(s))["10.1.1.11"]
    assert bytes.fromhex(md["user-data"]) == b"\x00\xffdata"
    assert md["local-ipv4"] == "10.1.1.11" and md["public-keys"] == ["ssh-rsa AAA k"] and md["vm-id"] == "i-2-5-VM"
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(s)))) == s


def test_security_group_rendering():
    n = NicSecurity("vnet7", "52:54:00:aa:bb:cc", ("10.9.0.5",),
                    ingress=(SgRule("tcp", PortRange(22), cidrs=("0.0.0.0/0",)),
                             SgRule("icmp", icmp_type=8, icmp_code=-1, member_ips=("10.9.0.6", "10.9.0.7")),
                             SgRule("udp", PortRange(53), cidrs=())),  # no sources: matches nothing
                    egress=(SgRule("tcp", PortRange(80, 443), cidrs=("192.0.2.0/24",)),))
    text = render_nic(n, "brsg0")
    ls = text.splitlines()
    out = [ln.split(" ", 5)[5] for ln in ls if ln.startswith("add rule bridge devcloud_sg o_")]
    inn = [ln.split(" ", 5)[5] for ln in ls if ln.startswith("add rule bridge devcloud_sg i_")]
    assert out[0] == "ether saddr != 52:54:00:aa:bb:cc drop"
    assert "ether type ip ip saddr != 10.9.0.5 drop" in out
    assert "ether type arp arp saddr ip != { 0.0.0.0, 10.9.0.5 } drop" in out
    assert "ip daddr 192.0.2.0/24 meta l4proto tcp th dport 80-443 accept" in out
    assert out[-1] == "ether type ip drop"  # an egress rule exists: everything else is denied
    assert "meta l4proto tcp th dport 22 accept" in inn
    assert "ip saddr { 10.9.0.6, 10.9.0.7 } meta l4proto icmp icmp type 8 accept" in inn
    assert not any("th dport 53" in r for r in inn)
    assert inn[-2:] == ["ether type ip drop", "ether type ip6 drop"]
    assert 'add element bridge devcloud_sg from_vm { "vnet7" : jump o_vnet7_' in text
    assert 'add element ip devcloud_sg bridges { "brsg0" }' in text
    # no egress rules: egress is open
    assert render_nic(NicSecurity("vnet7", "52:54:00:aa:bb:cc", ("10.9.0.5",)), "b").count("ether type ip drop") == 1
    assert "delete chain bridge devcloud_sg o_vnet7_" in render_remove("vnet7")
