"""Routed networks through the API (simulator zone, records; the router side is tests/integration/
test_routed_network_api.py): zone IPv4 subnets and the guest subnets ROUTED networks take, routing firewall rules,
IPv6 guest prefixes and DualStack networks with IPv6 firewall rules, AS number ranges and BGP peers of dynamically
routed networks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_networks import make_zone
from tests.api.test_public_ip_lifecycle import failure
from tests.api.test_rules import _setup

pytestmark = pytest.mark.api

ROUTED_SERVICES = "Dhcp,Dns,Firewall,UserData"


def _providers(services: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, svc in enumerate(services.split(",")):
        out[f"serviceproviderlist[{i}].service"] = svc
        out[f"serviceproviderlist[{i}].provider"] = "VirtualRouter"
    return out


def _offering(api: Any, name: str, **kw: Any) -> dict[str, Any]:
    services = kw.pop("supportedservices", ROUTED_SERVICES)
    return api("createNetworkOffering", name=name, displaytext=name, guestiptype="Isolated", traffictype="Guest",
               supportedservices=services, enable=True, **_providers(services), **kw)["networkoffering"]


def test_zone_and_guest_ipv4_subnets(server: Any) -> None:
    api = server.api
    z = make_zone(server, name="routed1")
    sub = api.run("createIpv4SubnetForZone", zoneid=z["id"], subnet="100.64.0.0/16")["zoneipv4subnet"]
    assert (sub["subnet"], sub["zoneid"]) == ("100.64.0.0/16", z["id"]) and "account" not in sub
    code, text = failure(api, "createIpv4SubnetForZone", zoneid=z["id"], subnet="100.64.128.0/20")
    assert (code, text) == (431, "Existing zone subnet 100.64.0.0/16 has overlap with: 100.64.128.0/20")
    assert api("listIpv4SubnetsForZone", zoneid=z["id"])["count"] == 1
    # carve guest subnets explicitly and by size
    g1 = api.run("createIpv4SubnetForGuestNetwork", parentid=sub["id"], subnet="100.64.1.0/24")[
        "ipv4subnetforguestnetwork"]
    assert (g1["parentsubnet"], g1["state"], g1["zoneid"]) == ("100.64.0.0/16", "Free", z["id"])
    g2 = api.run("createIpv4SubnetForGuestNetwork", parentid=sub["id"], cidrsize=24)["ipv4subnetforguestnetwork"]
    assert g2["subnet"] == "100.64.0.0/24"
    code, text = failure(api, "createIpv4SubnetForGuestNetwork", parentid=sub["id"], subnet="100.65.0.0/24")
    assert (code, text) == (431, "networkCidr 100.65.0.0/24 is not within parent cidr: 100.64.0.0/16")
    listed = api("listIpv4SubnetsForGuestNetwork", parentid=sub["id"])
    assert sorted(r["subnet"] for r in listed["ipv4subnetforguestnetwork"]) == ["100.64.0.0/24", "100.64.1.0/24"]
    # narrowing the zone subnet must keep its guest subnets
    code, text = failure(api, "updateIpv4SubnetForZone", id=sub["id"], subnet="100.64.0.0/24")
    assert (code, text) == (431, "Used subnet for guest network 100.64.1.0/24 is not within new cidr: "
                                 "100.64.0.0/24")
    assert api.run("updateIpv4SubnetForZone", id=sub["id"], subnet="100.64.0.0/15")["zoneipv4subnet"][
        "subnet"] == "100.64.0.0/15"
    # dedication to an account and back
    user = api.new_account()
    ded = api.run("dedicateIpv4SubnetForZone", id=sub["id"], account=user["name"], domainid=user["domainid"])[
        "zoneipv4subnet"]
    assert ded["account"] == user["name"] and ded["domainid"] == user["domainid"]
    assert "account" not in api.run("releaseIpv4SubnetForZone", id=sub["id"])["zoneipv4subnet"]
    # users do not see these commands at all
    status, _ = api.client_for(user).error("listIpv4SubnetsForZone")
    assert status == 401
    api.run("deleteIpv4SubnetForGuestNetwork", id=g2["id"])
    api.run("deleteIpv4SubnetForZone", id=sub["id"])
    assert api("listIpv4SubnetsForZone", zoneid=z["id"]) == {}


def test_routed_network_takes_a_subnet_and_routing_rules(server: Any) -> None:
    api = server.api
    z = make_zone(server, name="routed2")
    code, text = failure(api, "createNetworkOffering", name="bad", displaytext="bad", guestiptype="Isolated",
                         traffictype="Guest", supportedservices="Dhcp,SourceNat", networkmode="ROUTED",
                         **_providers("Dhcp,SourceNat"))
    assert (code, text) == (431, "Service(s) SourceNat are not supported by network offerings in ROUTED mode")
    off = _offering(api, "routed-static", networkmode="ROUTED", routingmode="Static")
    assert (off["networkmode"], off["routingmode"], off["internetprotocol"]) == ("ROUTED", "Static", "IPv4")
    assert api("listNetworkOfferings", routingmode="Static")["networkoffering"][0]["id"] == off["id"]
    sub = api.run("createIpv4SubnetForZone", zoneid=z["id"], subnet="100.70.0.0/22")["zoneipv4subnet"]
    user = api.new_account()
    u = api.client_for(user)
    status, err = u.error("createNetwork", name="r", zoneid=z["id"], networkofferingid=off["id"])
    assert (status, err["errortext"]) == (431, "CIDR size or gateway/netmask is required for ROUTED networks")
    status, err = u.error("createNetwork", name="r", zoneid=z["id"], networkofferingid=off["id"],
                          gateway="100.70.3.1", netmask="255.255.255.0")
    assert (status, err["errortext"]) == (431, "Only root admin can specify gateway and netmask for ROUTED networks")
    net = u("createNetwork", name="r", zoneid=z["id"], networkofferingid=off["id"], cidrsize=26)["network"]
    assert (net["cidr"], net["gateway"], net["ip4routing"]) == ("100.70.0.0/26", "100.70.0.1", "Static")
    taken = api("listIpv4SubnetsForGuestNetwork", networkid=net["id"])["ipv4subnetforguestnetwork"][0]
    assert (taken["subnet"], taken["state"], taken["parentid"]) == ("100.70.0.0/26", "Allocated", sub["id"])
    # a second network gets the next free /26
    net2 = u("createNetwork", name="r2", zoneid=z["id"], networkofferingid=off["id"], cidrsize=26)["network"]
    assert net2["cidr"] == "100.70.0.64/26"
    status, err = u.error("createNetwork", name="r3", zoneid=z["id"], networkofferingid=off["id"], cidrsize=20)
    assert (status, err["errortext"]) == (431, "CIDR size 20 is invalid: it must be between 24 and 30")
    # routing firewall rules
    rule = u.run("createRoutingFirewallRule", networkid=net["id"], protocol="tcp", startport=22,
                 cidrlist="198.51.100.0/24")["routingfirewallrule"]
    assert (rule["protocol"], rule["startport"], rule["endport"], rule["cidrlist"], rule["networkid"]) == \
        ("tcp", 22, 22, "198.51.100.0/24", net["id"])
    assert rule["traffictype"] == "Ingress" and rule["destcidrlist"] == "0.0.0.0/0"
    listed = u("listRoutingFirewallRules", networkid=net["id"])
    assert listed["count"] == 1 and listed["routingfirewallrule"][0]["id"] == rule["id"]
    upd = u.run("updateRoutingFirewallRule", id=rule["id"], fordisplay=False)["routingfirewallrule"]
    assert upd["fordisplay"] is False
    code, text = failure(u, "createRoutingFirewallRule", networkid=net["id"], protocol="icmp", startport=1)
    assert (code, text) == (431, "Can't specify start/end port when protocol is ICMP")
    other = api.client_for(api.new_account())
    assert other.error("deleteRoutingFirewallRule", id=rule["id"])[0] == 531
    u.run("deleteRoutingFirewallRule", id=rule["id"])
    assert u("listRoutingFirewallRules", networkid=net["id"]) == {}
    # a NATed network has no routing firewall rules
    nat_off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
        "networkoffering"][0]["id"]
    nat = u("createNetwork", name="n", zoneid=z["id"], networkofferingid=nat_off)["network"]
    code, text = failure(u, "createRoutingFirewallRule", networkid=nat["id"], protocol="tcp", startport=22)
    assert code == 431 and "ROUTED networks only" in text
    # deleting the network frees its subnet for the next one
    u.run("deleteNetwork", id=net["id"])
    assert api("listIpv4SubnetsForGuestNetwork", subnet="100.70.0.0/26") == {}
    net3 = u("createNetwork", name="r3", zoneid=z["id"], networkofferingid=off["id"], cidrsize=26)["network"]
    assert net3["cidr"] == "100.70.0.0/26"
    code, text = failure(api, "deleteIpv4SubnetForZone", id=sub["id"])
    assert (code, text) == (431, "The subnet is being used by 2 guest networks.")
    stranger = api.new_account()
    code, text = failure(api, "dedicateIpv4SubnetForZone", id=sub["id"], account=stranger["name"],
                         domainid=stranger["domainid"])
    assert (code, text) == (431, "The subnet is being used by 2 guest networks of other accounts.")


def test_dual_stack_network_gets_a_64_and_ipv6_firewall_rules(server: Any) -> None:
    api = server.api
    z = make_zone(server, name="dualstack")
    status, err = api.error("createNetworkOffering", name="ds", displaytext="ds", guestiptype="Isolated",
                            traffictype="Guest", supportedservices="Dhcp,Dns,SourceNat,Firewall",
                            internetprotocol="DualStack", **_providers("Dhcp,Dns,SourceNat,Firewall"))
    assert (status, err["errortext"]) == (431, "Configuration ipv6.offering.enabled needs to be enabled for "
                                               "creating IPv6 supported network offering")
    api("updateConfiguration", name="ipv6.offering.enabled", value="true")
    try:
        off = _offering(api, "ds", supportedservices="Dhcp,Dns,SourceNat,Firewall", internetprotocol="dualstack")
    finally:
        api("updateConfiguration", name="ipv6.offering.enabled", value="false")
    assert off["internetprotocol"] == "DualStack" and off["networkmode"] == "NATTED"
    code, text = failure(api, "createGuestNetworkIpv6Prefix", zoneid=z["id"], prefix="fd17:ac56:1234::/72")
    assert (code, text) == (431, "IPv6 prefix must be /64 or less")
    pfx = api.run("createGuestNetworkIpv6Prefix", zoneid=z["id"], prefix="fd17:ac56:1234::/62")[
        "guestnetworkipv6prefix"]
    assert (pfx["totalsubnets"], pfx["usedsubnets"], pfx["availablesubnets"]) == (4, 0, 4)
    # the public range gets its IPv6 part (the router's public address comes from it)
    rng = api("listVlanIpRanges", zoneid=z["id"])["vlaniprange"][0]
    code, text = failure(api, "createVlanIpRange", zoneid=z["id"], vlan=rng["vlan"], ip6gateway="fd00:1::1",
                         ip6cidr="fd00:1::/72")
    assert (code, text) == (431, "The cidr size of IPv6 network must be no more than 64 bits")
    six = api("createVlanIpRange", zoneid=z["id"], vlan=rng["vlan"], ip6gateway="fd00:1::1",
              ip6cidr="fd00:1::/64")["vlan"]
    assert (six["id"], six["ip6cidr"], six["ip6gateway"]) == (rng["id"], "fd00:1::/64", "fd00:1::1")
    user = api.new_account()
    u = api.client_for(user)
    net = u("createNetwork", name="ds", zoneid=z["id"], networkofferingid=off["id"])["network"]
    assert (net["ip6cidr"], net["ip6gateway"], net["internetprotocol"]) == \
        ("fd17:ac56:1234::/64", "fd17:ac56:1234::1", "DualStack")
    assert net["ip6routes"][0]["subnet"] == "fd17:ac56:1234::/64"
    assert api("listGuestNetworkIpv6Prefixes", id=pfx["id"])["guestnetworkipv6prefix"][0]["usedsubnets"] == 1
    code, text = failure(api, "deleteGuestNetworkIpv6Prefix", id=pfx["id"])
    assert (code, text) == (431, "Unable to delete the prefix fd17:ac56:1234::/62 as it is in use by 1 networks")
    rule = u.run("createIpv6FirewallRule", networkid=net["id"], protocol="tcp", startport=80, endport=81,
                 cidrlist="2001:db8::/32")["ipv6firewallrule"]
    assert (rule["cidrlist"], rule["destcidrlist"], rule["traffictype"]) == ("2001:db8::/32", "::/0", "Ingress")
    code, text = failure(u, "createIpv6FirewallRule", networkid=net["id"], protocol="tcp", startport=80,
                         cidrlist="10.0.0.0/8")
    assert (code, text) == (431, "Invalid IPv6 CIDR: 10.0.0.0/8")
    eg = u.run("createIpv6FirewallRule", networkid=net["id"], protocol="icmp", icmptype=128, icmpcode=0,
               traffictype="Egress")["ipv6firewallrule"]
    assert (eg["icmptype"], eg["traffictype"]) == (128, "Egress")
    assert u("listIpv6FirewallRules", networkid=net["id"], traffictype="Egress")["ipv6firewallrule"][0]["id"] == \
        eg["id"]
    assert u.run("updateIpv6FirewallRule", id=rule["id"], fordisplay=False)["ipv6firewallrule"]["fordisplay"] \
        is False
    u.run("deleteIpv6FirewallRule", id=eg["id"])
    assert u("listIpv6FirewallRules", networkid=net["id"])["count"] == 1
    u.run("deleteNetwork", id=net["id"])
    assert api("listGuestNetworkIpv6Prefixes", id=pfx["id"])["guestnetworkipv6prefix"][0]["usedsubnets"] == 0
    api.run("deleteGuestNetworkIpv6Prefix", id=pfx["id"])
    assert api("listGuestNetworkIpv6Prefixes", zoneid=z["id"]) == {}


def test_as_numbers_and_bgp_peers(server: Any) -> None:
    api = server.api
    z = make_zone(server, name="dynamic")
    rng = api("createASNRange", zoneid=z["id"], startasn=64600, endasn=64609)["asnrange"]
    assert (rng["startasn"], rng["endasn"], rng["zoneid"]) == (64600, 64609, z["id"])
    status, err = api.error("createASNRange", zoneid=z["id"], startasn=64605, endasn=64700)
    assert (status, err["errortext"]) == (431, "New AS number range (64605-64700) has conflict with an existing AS "
                                               "number range (64600-64609)")
    assert api("listASNRanges", zoneid=z["id"])["count"] == 1
    assert api("listASNumbers", asnrangeid=rng["id"])["count"] == 10
    peer = api.run("createBgpPeer", zoneid=z["id"], ipaddress="198.51.100.1", asnumber=65001, password="s3cret",
                   **{"details[0].EBGP_MultiHop": "5"})["bgppeer"]
    assert (peer["ipaddress"], peer["asnumber"], peer["details"]) == ("198.51.100.1", 65001, {"EBGP_MultiHop": "5"})
    code, text = failure(api, "createBgpPeer", zoneid=z["id"], ipaddress="198.51.100.1", asnumber=65001)
    assert (code, text) == (431, "There is already a BGP peer with same IPv4 address and AS number in the zone.")
    api.run("createIpv4SubnetForZone", zoneid=z["id"], subnet="100.80.0.0/24")
    off = _offering(api, "routed-dynamic", networkmode="ROUTED", routingmode="Dynamic", specifyasnumber=True)
    assert off["specifyasnumber"] is True
    code, text = failure(api, "createNetworkOffering", name="x", displaytext="x", guestiptype="Isolated",
                         traffictype="Guest", supportedservices="Dhcp", specifyasnumber=True,
                         **_providers("Dhcp"))
    assert (code, text) == (431, "AS number can be specified only for network offerings with Dynamic routing mode")
    user = api.new_account()
    status, err = api.error("createNetwork", name="d", zoneid=z["id"], networkofferingid=off["id"], cidrsize=28,
                            account=user["name"], domainid=user["domainid"])
    assert (status, err["errortext"]) == (431, "AS number is required for the network but not passed.")
    net = api("createNetwork", name="d", zoneid=z["id"], networkofferingid=off["id"], cidrsize=28, asnumber=64603,
              bgppeerids=peer["id"], account=user["name"], domainid=user["domainid"])["network"]
    assert (net["asnumber"], net["ip4routing"]) == (64603, "Dynamic")
    assert [b["id"] for b in net["bgppeers"]] == [peer["id"]]
    held = api("listASNumbers", zoneid=z["id"], isallocated=True)["asnumber"]
    assert [(a["asnumber"], a["associatednetworkid"], a["account"]) for a in held] == \
        [(64603, net["id"], user["name"])]
    # the owner sees its number, other users do not
    assert api.client_for(user)("listASNumbers")["asnumber"][0]["asnumber"] == 64603
    assert api.client_for(api.new_account())("listASNumbers") == {}
    status, err = api.error("releaseASNumber", zoneid=z["id"], asnumber=64603)
    assert (status, err["errortext"]) == (530, "Cannot release the AS number 64603 as it is acquired by a network "
                                               "that requires AS number")
    status, err = api.error("deleteASNRange", id=rng["id"])
    assert (status, err["errortext"]) == (530, "There are 1 AS numbers in use from the range 64600-64609, cannot "
                                               "remove the range")
    code, text = failure(api, "deleteBgpPeer", id=peer["id"])
    assert (code, text) == (431, "The BGP peer is being used by 1 guest networks.")
    # peers: update, dedicate to the user, change the network's peers
    upd = api.run("updateBgpPeer", id=peer["id"], asnumber=65002, cleanupdetails=True)["bgppeer"]
    assert upd["asnumber"] == 65002 and "details" not in upd
    stranger = api.new_account()
    code, text = failure(api, "dedicateBgpPeer", id=peer["id"], account=stranger["name"], domainid=stranger["domainid"])
    # CloudStack's text says "subnet" for a peer too
    assert (code, text) == (431, "The subnet is being used by 1 guest networks of other accounts.")
    ded = api.run("dedicateBgpPeer", id=peer["id"], account=user["name"], domainid=user["domainid"])["bgppeer"]
    assert ded["account"] == user["name"]
    assert api("listBgpPeers", isdedicated=True)["bgppeer"][0]["id"] == peer["id"]
    peer2 = api.run("createBgpPeer", zoneid=z["id"], ip6address="fd00::9", asnumber=65003)["bgppeer"]
    changed = api.run("changeBgpPeersForNetwork", networkid=net["id"], bgppeerids=peer2["id"])["network"]
    assert [b["id"] for b in changed["bgppeers"]] == [peer2["id"]]
    assert api.run("releaseBgpPeer", id=peer["id"])["bgppeer"].get("account") is None
    api.run("deleteBgpPeer", id=peer["id"])
    # deleting the network frees its AS number
    api.run("deleteNetwork", id=net["id"])
    assert api("listASNumbers", zoneid=z["id"], isallocated=True) == {}
    assert api("releaseASNumber", zoneid=z["id"], asnumber=64601)["success"] is True
    assert api("deleteASNRange", id=rng["id"]) == {"success": True}
    assert api("listASNRanges", zoneid=z["id"]) == {}


def test_migrate_network_to_another_offering(server: Any) -> None:
    api = server.api
    cur = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
        "networkoffering"][0]
    services = "Dhcp,Dns,SourceNat,Firewall,PortForwarding,Lb,StaticNat,UserData"
    strict = _offering(api, "deny-egress", supportedservices=services, egressdefaultpolicy=False)
    net = _setup(server)["net"]  # implemented: VMs on it, a router with the source NAT IP
    assert api("listRouters", networkid=net["id"])["router"][0]["state"] == "Running"
    user = api.client_for(api.new_account())
    assert user.error("migrateNetwork", networkid=net["id"], networkofferingid=strict["id"])[0] == 401
    code, text = failure(api, "migrateNetwork", networkid=net["id"], networkofferingid=cur["id"])
    assert (code, text) == (431, "Network net1 already uses the network offering "
                                 "DefaultIsolatedNetworkOfferingWithSourceNatService")
    shared = api("listNetworkOfferings", name="DefaultSharedNetworkOffering")["networkoffering"][0]
    code, text = failure(api, "migrateNetwork", networkid=net["id"], networkofferingid=shared["id"])
    assert (code, text) == (431, f"Can't upgrade from network offering {cur['id']} to {shared['id']}; check logs "
                                 "for more information")
    moved = api.run("migrateNetwork", networkid=net["id"], networkofferingid=strict["id"])["network"]
    assert (moved["networkofferingid"], moved["egressdefaultpolicy"], moved["state"]) == \
        (strict["id"], False, "Implemented")
    assert api("listRouters", networkid=net["id"])["router"][0]["state"] == "Running"
