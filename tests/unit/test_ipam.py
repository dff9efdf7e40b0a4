"""Address arithmetic for guest networks."""

from __future__ import annotations

import ipaddress

import pytest

from management.errors import ParamError
from management.services.network import ipam

pytestmark = pytest.mark.unit


def test_cidr_gateway_and_first_free() -> None:
    net = ipam.parse_cidr("10.1.1.0/24")
    assert ipam.default_gateway(net) == "10.1.1.1"
    assert ipam.first_free(net, set(), reserved=["10.1.1.1"]) == "10.1.1.2"
    assert ipam.first_free(net, {"10.1.1.2", "10.1.1.3"}, reserved=["10.1.1.1"]) == "10.1.1.4"
    assert ipam.first_free(net, set(), start="10.1.1.50", end="10.1.1.51") == "10.1.1.50"
    assert ipam.first_free(net, {"10.1.1.50", "10.1.1.51"}, start="10.1.1.50", end="10.1.1.51") is None
    small = ipam.parse_cidr("10.0.0.0/30")  # two hosts: gateway + one
    assert ipam.first_free(small, set(), reserved=["10.0.0.1"]) == "10.0.0.2"
    assert ipam.first_free(small, {"10.0.0.2"}, reserved=["10.0.0.1"]) is None
    assert str(ipam.cidr_of("172.16.0.1", "255.255.255.240")) == "172.16.0.0/28"
    with pytest.raises(ParamError):
        ipam.parse_cidr("10.0.0.0/31")
    with pytest.raises(ParamError):
        ipam.parse_cidr("nonsense")


def test_requested_ip_checks() -> None:
    net = ipaddress.IPv4Network("10.1.1.0/24")
    assert ipam.check_requested(net, "10.1.1.9", set(), gateway="10.1.1.1") == "10.1.1.9"
    for bad in ("10.1.1.1", "10.1.1.0", "10.1.1.255", "10.2.0.1", "x"):
        with pytest.raises(ParamError):
            ipam.check_requested(net, bad, set(), gateway="10.1.1.1")
    with pytest.raises(ParamError, match="in use"):
        ipam.check_requested(net, "10.1.1.9", {"10.1.1.9"}, gateway="10.1.1.1")


def test_vlan_ranges() -> None:
    assert ipam.parse_vlan_ranges("100-102, 200") == [(100, 102), (200, 200)]
    assert ipam.parse_vlan_ranges(None) == []
    assert ipam.first_free_vlan([(100, 102), (200, 200)], {100, 101, 102}) == 200
    assert ipam.first_free_vlan([(100, 100)], {100}) is None
    for bad in ("0-5", "10-5", "abc", "4095"):
        with pytest.raises(ParamError):
            ipam.parse_vlan_ranges(bad)
    assert ipam.vlan_of("vlan://42") == "42" and ipam.vlan_of(None) is None


def test_macs_are_local_and_avoid_existing() -> None:
    seen = {ipam.random_mac() for _ in range(200)}
    assert all(m.startswith("02:00:") and len(m) == 17 for m in seen)
    taken = set(seen)
    m = ipam.random_mac(lambda mac: mac in taken)
    assert m not in taken
    with pytest.raises(RuntimeError):
        ipam.random_mac(lambda mac: True, attempts=3)
