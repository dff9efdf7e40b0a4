"""A ROUTED DualStack network through the API with a real namespace router: the network takes a subnet of the
zone's IPv4 subnets and a /64 of its IPv6 prefix; an emulated guest gets its IPv4 by DHCP and its IPv6 from the
router's advertisements; an "upstream router" namespace on the zone's public bridge routes both subnets to the
router's public addresses (listNetworks ip4routes/ip6routes) and reaches the guest only where
createRoutingFirewallRule / createIpv6FirewallRule open it, seeing the guest's own addresses (no NAT)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest

from management.network.testing import Guest, missing_prerequisites, sh, wait_for
from tests.integration.test_network_api import NET, _vm, _zone

pytestmark = pytest.mark.integration

UP_IP = f"198.18.{NET}.50"
UP6 = f"fd00:dd:{NET:x}::1"
SFX = f"{os.getpid() % 10000:04d}"


@pytest.fixture
def world(server: Any, tmp_path: Path):
    why = missing_prerequisites("dnsmasq", "nft", "busybox")
    if why:
        pytest.skip(why)
    from management.models.infra import Zone
    from management.models.network import Network
    from management.services.network.networks import guest_bridge_name
    from management.services.network.routers import public_bridge_name

    api = server.api
    z = _zone(server)
    api("createVlanIpRange", zoneid=z["id"], vlan="untagged", ip6gateway=UP6, ip6cidr=f"fd00:dd:{NET:x}::/64")
    api.run("createIpv4SubnetForZone", zoneid=z["id"], subnet=f"100.66.{NET}.0/24")
    api.run("createGuestNetworkIpv6Prefix", zoneid=z["id"], prefix=f"fd00:de:{NET:x}::/56")
    api("updateConfiguration", name="ipv6.offering.enabled", value="true")
    services = "Dhcp,Dns,Firewall,UserData"
    providers = {k: v for i, svc in enumerate(services.split(",")) for k, v in (
        (f"serviceproviderlist[{i}].service", svc), (f"serviceproviderlist[{i}].provider", "VirtualRouter"))}
    off = api("createNetworkOffering", name="routed-ds", displaytext="routed-ds", guestiptype="Isolated",
              traffictype="Guest", supportedservices=services, networkmode="ROUTED", internetprotocol="DualStack",
              enable=True, **providers)["networkoffering"]
    net = api("createNetwork", name="routed", networkofferingid=off["id"], zoneid=z["id"], cidrsize=28,
              networkdomain="routed.devcloud")["network"]
    vm = _vm(server, z["dbid"], net["id"], "web1", "#!/bin/sh\n")
    with server.server.runtime.db.session() as s:
        bridge = guest_bridge_name(s.query(Network).filter_by(uuid=net["id"]).one())
        pub_bridge = public_bridge_name(s, s.query(Zone).filter_by(uuid=z["id"]).one())
    made: list[Guest] = []
    try:
        guest = Guest("web1", f"dcw{SFX}", f"vw{SFX}", vm["mac"], bridge, tmp_path).create()
        made.append(guest)
        guest.exec("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        up = Guest("up", f"dcx{SFX}", f"vx{SFX}", "02:dc:00:00:01:50", pub_bridge, tmp_path).create()
        made.append(up)
        up.exec("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        yield {"api": api, "net": net, "vm": vm, "guest": guest, "up": up}
    finally:
        for g in made:
            g.destroy()
        for r in (api("listRouters", listall=True) or {}).get("router", []):
            with contextlib.suppress(Exception):
                api.run("destroyRouter", id=r["id"])
        api("updateConfiguration", name="ipv6.offering.enabled", value="false")
        sh("ip", "link", "del", bridge, check=False)
        sh("ip", "link", "del", pub_bridge, check=False)  # this cloud's own public bridge


def test_routed_dual_stack_network_through_the_api(world: dict[str, Any]) -> None:
    api, net, vm, guest, up = world["api"], world["net"], world["vm"], world["guest"], world["up"]
    shown = api("listNetworks", id=net["id"])["network"][0]
    (route4,), (route6,) = shown["ip4routes"], shown["ip6routes"]
    assert route4["subnet"] == net["cidr"] == f"100.66.{NET}.0/28" and route6["subnet"] == shown["ip6cidr"]
    assert route6["gateway"].startswith(f"fd00:dd:{NET:x}::")
    # the upstream router: routes to both subnets via the network router's public addresses
    up.set_static(f"{UP_IP}/24")
    up.exec("ip", "-6", "addr", "add", f"{UP6}/64", "dev", "eth0", "nodad")
    up.exec("ip", "route", "add", route4["subnet"], "via", route4["gateway"])
    up.exec("ip", "-6", "route", "add", route6["subnet"], "via", route6["gateway"])
    up.serve_http(8080)
    up.serve_http(8080, ip=UP6)
    # the guest: IPv4 from DHCP, IPv6 from the router's advertisements of the network's /64
    assert guest.dhcp() == vm["ip"]
    ip6 = guest.slaac_address(shown["ip6cidr"])
    guest.serve_http(8080)
    guest.serve_http(8080, ip=ip6)
    # outbound: the guest's own addresses, no NAT (egress allowed by the offering's default)
    assert wait_for(lambda: guest.wget(f"http://{UP_IP}:8080/whoami"), what="routed egress") == vm["ip"]
    assert wait_for(lambda: guest.wget(f"http://[{UP6}]:8080/whoami"), what="IPv6 egress") == ip6
    # inbound: closed until a rule opens it
    assert up.wget(f"http://{vm['ip']}:8080/") is None
    assert up.wget(f"http://[{ip6}]:8080/") is None
    rule = api.run("createRoutingFirewallRule", networkid=net["id"], protocol="tcp", startport=8080,
                   cidrlist=f"{UP_IP}/32")["routingfirewallrule"]
    assert wait_for(lambda: up.wget(f"http://{vm['ip']}:8080/"), what="routing rule") == "web1"
    api.run("createIpv6FirewallRule", networkid=net["id"], protocol="tcp", startport=8080)
    assert wait_for(lambda: up.wget(f"http://[{ip6}]:8080/"), what="IPv6 rule") == "web1"
    api.run("deleteRoutingFirewallRule", id=rule["id"])
    assert up.wget(f"http://{vm['ip']}:8080/") is None
