"""Virtual router and security-group spec validation: bad input is a SpecError naming the field."""

from __future__ import annotations

import dataclasses

import pytest

from management.network.provider import (
    DhcpHost,
    FirewallRule,
    GuestSide,
    LbBackend,
    LoadBalancerRule,
    PortForward,
    PortRange,
    PublicSide,
    RouterSpec,
    SpecError,
    StaticNat,
    VmMetadata,
)
from management.network.security_groups import NicSecurity, SgRule

pytestmark = pytest.mark.unit

PUB = ("198.18.7.10", "198.18.7.11")
GOOD = RouterSpec("r1", "r", GuestSide("brdc-1", "10.1.1.1/24"), PublicSide("dcpub0", PUB, 24, "198.18.7.1", PUB[0]))


def test_good_spec_validates():
    assert GOOD.validate() is GOOD
    assert GOOD.netns == "dcr-r1" and GOOD.gateway_ip == "10.1.1.1" and GOOD.guest_cidr == "10.1.1.0/24"


@pytest.mark.parametrize(("change", "match"), [
    ({"router_id": "Router-1"}, "router_id"),
    ({"router_id": "abcdefghijk"}, "router_id"),
    ({"guest": GuestSide("a-bridge-name-too-long", "10.1.1.1/24")}, "guest.bridge"),
    ({"guest": GuestSide("br0", "10.1.1.1")}, "gateway_cidr"),
    ({"guest": GuestSide("br0", "10.1.1.300/24")}, "gateway_cidr"),
    ({"guest": GuestSide("br0", "10.1.1.1/24", vlan=5000)}, "vlan"),
    ({"guest": GuestSide("br0", "10.1.1.1/24", dhcp_range=("10.1.1.50", "10.1.2.5"))}, "dhcp_range"),
    ({"guest": GuestSide("br0", "10.1.1.1/24", domain="bad domain")}, "domain"),
    ({"dhcp_hosts": (DhcpHost("02:00:00:00:00:0G", "10.1.1.5", "vm"),)}, "MAC"),
    ({"dhcp_hosts": (DhcpHost("02:00:00:00:00:01", "10.9.9.9", "vm"),)}, "outside"),
    ({"dhcp_hosts": (DhcpHost("02:00:00:00:00:01", "10.1.1.1", "vm"),)}, "gateway"),
    ({"dhcp_hosts": (DhcpHost("02:00:00:00:00:01", "10.1.1.5", "vm_1"),)}, "host name"),
    ({"dhcp_hosts": (DhcpHost("02:00:00:00:00:01", "10.1.1.5", "a"), DhcpHost("02:00:00:00:00:02", "10.1.1.5",
                                                                              "b"))}, "duplicate ip"),
    ({"public": PublicSide("dcpub0", (), 24, "198.18.7.1")}, "public.ips"),
    ({"public": PublicSide("dcpub0", ("10.1.1.9",), 24, "198.18.7.1")}, "inside the guest CIDR"),
    ({"public": PublicSide("dcpub0", PUB, 24, "198.18.7.1", "198.18.7.99")}, "source_nat_ip"),
    ({"firewall": (FirewallRule("198.18.7.99"),)}, "not one of the router's public IPs"),
    ({"firewall": (FirewallRule(PUB[0], "icmp", PortRange(22)),)}, "ports only apply"),
    ({"firewall": (FirewallRule(PUB[0], "tcp", PortRange(0)),)}, "port range"),
    ({"firewall": (FirewallRule(PUB[0], "sctp"),)}, "protocol"),  # type: ignore[arg-type]
    ({"firewall": (FirewallRule(PUB[0], "tcp", cidrs=("nope",)),)}, "CIDR"),
    ({"egress_default": "maybe"}, "egress_default"),
    ({"port_forwards": (PortForward(PUB[0], PortRange(10, 20), "10.1.1.5", PortRange(10, 11)),)}, "differ in size"),
    ({"port_forwards": (PortForward(PUB[0], PortRange(22), "10.2.2.5", PortRange(22)),)}, "guest CIDR"),
    ({"port_forwards": (PortForward(PUB[0], PortRange(22), "10.1.1.5", PortRange(22)),
                        PortForward(PUB[0], PortRange(20, 30), "10.1.1.6", PortRange(20, 30)))}, "already used"),
    ({"port_forwards": (PortForward(PUB[1], PortRange(22), "10.1.1.5", PortRange(22)),),
      "static_nats": (StaticNat(PUB[1], "10.1.1.6"),)}, "static NAT enabled"),
    ({"static_nats": (StaticNat(PUB[0], "10.1.1.6"),)}, "source-NAT IP"),
    ({"static_nats": (StaticNat(PUB[1], "10.1.1.6"), StaticNat(PUB[1], "10.1.1.7"))}, "duplicate static NAT"),
    ({"load_balancers": (LoadBalancerRule("w", PUB[0], 80, (), "random"),)}, "algorithm"),  # type: ignore[arg-type]
    ({"load_balancers": (LoadBalancerRule("w w", PUB[0], 80, ()),)}, "name"),
    ({"load_balancers": (LoadBalancerRule("w", PUB[0], 80, (LbBackend("8.8.8.8", 80),)),)}, "guest CIDR"),
    ({"load_balancers": (LoadBalancerRule("w", PUB[0], 80, ()),),
      "port_forwards": (PortForward(PUB[0], PortRange(80), "10.1.1.5", PortRange(80)),)}, "already used"),
    ({"metadata": {"10.9.9.9": VmMetadata("i-1", "vm")}}, "metadata key"),
    ({"metadata": {"10.1.1.9": VmMetadata("i-1", "vm", "text")}}, "bytes"),  # type: ignore[arg-type]
])
def test_invalid_specs_are_rejected(change, match):
    with pytest.raises(SpecError, match=match):
        dataclasses.replace(GOOD, **change).validate()


@pytest.mark.parametrize(("nic", "match"), [
    (NicSecurity("vnet0", "52:54:00:AA:00:01", ("10.0.0.1",)), "mac"),
    (NicSecurity("vnet0", "52:54:00:aa:00:01", ()), "ips"),
    (NicSecurity("vnet0", "52:54:00:aa:00:01", ("10.0.0.1",), ingress=(SgRule("icmp", PortRange(1)),)), "ports"),
    (NicSecurity("vnet0", "52:54:00:aa:00:01", ("10.0.0.1",), ingress=(SgRule("tcp", cidrs=("x",)),)), "CIDR"),
    (NicSecurity("vnet0", "52:54:00:aa:00:01", ("10.0.0.1",), egress=(SgRule("gre"),)), "protocol"),
    (NicSecurity("a-very-long-device-name", "52:54:00:aa:00:01", ("10.0.0.1",)), "device"),
])
def test_invalid_nic_security_is_rejected(nic, match):
    with pytest.raises(SpecError, match=match):
        nic.validate()
