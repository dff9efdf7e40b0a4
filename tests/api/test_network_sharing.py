"""Network permissions (sharing an isolated network with accounts of its domain), guest VLAN ranges dedicated to
an account and how the VLAN allocator honours them, listGuestVlans, updateVlanIpRange, CNI configurations."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.api.test_networks import make_vm, make_zone, offering_id

pytestmark = pytest.mark.api

ISOLATED = "DefaultIsolatedNetworkOfferingWithSourceNatService"


def _implement(server: Any, zone_dbid: int, net_uuid: str, account: str) -> None:
    """A VM NIC on the network implements it (takes its guest VLAN)."""
    from management.models.compute import VirtualMachine
    from management.models.network import Network
    from management.services.network import networks

    vm = make_vm(server, zone_dbid, account=account)
    with server.server.runtime.db.session() as s:
        networks.allocate_nics(s, s.get(VirtualMachine, vm.id), [s.query(Network).filter_by(uuid=net_uuid).one()])


def test_network_permissions(server: Any) -> None:
    api = server.api
    z = make_zone(server)
    dom = api("createDomain", name="team")["domain"]
    alice = api.new_account(domainid=dom["id"], name="alice")
    bob = api.new_account(domainid=dom["id"], name="bob")
    carol = api.new_account(name="carol")  # another domain
    a, b = api.client_for(alice), api.client_for(bob)
    net = a("createNetwork", name="shared-by-alice", displaytext="s", zoneid=z["id"],
            networkofferingid=offering_id(api, ISOLATED))["network"]
    status, _ = b.error("listNetworks", id=net["id"])
    assert status == 531
    assert a("createNetworkPermissions", networkid=net["id"], accounts="bob") == {"success": True}
    assert b("listNetworks", id=net["id"])["network"][0]["id"] == net["id"]
    perms = a("listNetworkPermissions", networkid=net["id"])["networkpermission"]
    assert [(x["account"], x["networkid"]) for x in perms] == [("bob", net["id"])]
    assert net["id"] in {n["id"] for n in b("listNetworks").get("network", [])}
    status, err = b.error("createNetworkPermissions", networkid=net["id"], accounts="alice")
    assert status == 531  # bob may use it, not manage it
    status, err = a.error("createNetworkPermissions", networkid=net["id"], accountids=carol["id"])
    assert status == 431 and "in the domain of network" in err["errortext"]
    status, err = a.error("createNetworkPermissions", networkid=net["id"], accounts="nobody")
    assert (status, err["errortext"]) == (431, "Unable to find account by name nobody")
    a("removeNetworkPermissions", networkid=net["id"], accountids=bob["id"])
    assert a("listNetworkPermissions", networkid=net["id"]) == {}
    a("createNetworkPermissions", networkid=net["id"], accountids=bob["id"])
    a("resetNetworkPermissions", networkid=net["id"])
    assert net["id"] not in {n["id"] for n in b("listNetworks").get("network", [])}
    shared = api("createNetwork", name="domainwide", displaytext="d", zoneid=z["id"], gateway="10.30.0.1",
                 netmask="255.255.255.0", startip="10.30.0.10", endip="10.30.0.20", vlan="77",
                 networkofferingid=offering_id(api, "DefaultSharedNetworkOffering"))["network"]
    status, err = api.error("createNetworkPermissions", networkid=shared["id"], accounts="bob")
    assert (status, err["errortext"]) == (431, "network is already shared in domain")


def test_dedicated_guest_vlan_ranges(server: Any) -> None:
    api = server.api
    z = make_zone(server, vlan="100-104")
    pn = z["pn"]
    alice, bob = api.new_account(name="alice"), api.new_account(name="bob")
    status, err = api.error("dedicateGuestVlanRange", vlanrange="100-300", physicalnetworkid=pn,
                            account="alice", domainid=alice["domainid"])
    assert (status, err["errortext"]) == (431, "Unable to find guest vlan by range 100-300")
    status, err = api.error("dedicateGuestVlanRange", vlanrange="101", physicalnetworkid=pn, account="alice",
                            domainid=alice["domainid"])
    assert status == 431 and "should be specified as 'startvlan-endvlan'" in err["errortext"]
    d = api("dedicateGuestVlanRange", vlanrange="103-104", physicalnetworkid=pn, account="alice",
            domainid=alice["domainid"])["dedicatedguestvlanrange"]
    assert d["guestvlanrange"] == "103-104" and d["account"] == "alice" and d["physicalnetworkid"] == pn
    status, err = api.error("dedicateGuestVlanRange", vlanrange="104-104", physicalnetworkid=pn, account="bob",
                            domainid=bob["domainid"])
    assert status == 431 and err["errortext"].startswith("Vlan range is already dedicated")
    # an adjacent range of the same account extends the dedication
    ext = api("dedicateGuestVlanRange", vlanrange="102-102", physicalnetworkid=pn, account="alice",
              domainid=alice["domainid"])["dedicatedguestvlanrange"]
    assert ext["id"] == d["id"] and ext["guestvlanrange"] == "102-104"
    off = offering_id(api, ISOLATED)
    na = api.client_for(alice)("createNetwork", name="na", displaytext="a", zoneid=z["id"],
                               networkofferingid=off)["network"]
    nb = api.client_for(bob)("createNetwork", name="nb", displaytext="b", zoneid=z["id"],
                             networkofferingid=off)["network"]
    _implement(server, z["dbid"], nb["id"], "bob")
    _implement(server, z["dbid"], na["id"], "alice")
    vlan = {n["name"]: n.get("vlan") or n.get("broadcasturi") for n in api("listNetworks", listall=True)["network"]}
    assert "102" in str(vlan["na"]) and "100" in str(vlan["nb"])  # alice: her range; bob: never hers
    listed = api("listDedicatedGuestVlanRanges", physicalnetworkid=pn)["dedicatedguestvlanrange"]
    assert [x["guestvlanrange"] for x in listed] == ["102-104"]
    vlans = {v["vlan"]: v for v in api("listGuestVlans", physicalnetworkid=pn)["guestvlan"]}
    assert set(vlans) == {"100", "101", "102", "103", "104"}
    assert vlans["102"]["allocationstate"] == "Allocated" and vlans["102"]["isdedicated"] is True
    assert vlans["102"]["network"][0]["id"] == na["id"] and vlans["102"]["account"] == "alice"
    assert vlans["101"]["allocationstate"] == "Free" and vlans["101"]["isdedicated"] is False
    assert api("listGuestVlans", allocatedonly=True, physicalnetworkid=pn)["count"] == 2
    assert api("listGuestVlans", id=vlans["103"]["id"])["guestvlan"][0]["vlan"] == "103"
    api.run("releaseDedicatedGuestVlanRange", id=d["id"])
    assert api("listDedicatedGuestVlanRanges") == {}
    user = api.client_for(alice)
    status, _ = user.error("listGuestVlans")
    assert status == 401


def test_update_vlan_ip_range(server: Any) -> None:
    api = server.api
    z = make_zone(server, public=("192.168.2.2", "192.168.2.6"))
    rng = api("listVlanIpRanges", zoneid=z["id"])["vlaniprange"][0]
    ips = api("listPublicIpAddresses", zoneid=z["id"], allocatedonly=False)["count"]
    assert ips == 5
    out = api("updateVlanIpRange", id=rng["id"], endip="192.168.2.8", forsystemvms=True)["vlan"]
    assert out["endip"] == "192.168.2.8" and out["forsystemvms"] is True
    assert api("listPublicIpAddresses", zoneid=z["id"], allocatedonly=False)["count"] == 7
    user = api.new_account()
    api("reserveIpAddress", id=api("listPublicIpAddresses", ipaddress="192.168.2.8", allocatedonly=False)[
        "publicipaddress"][0]["id"], account=user["name"], domainid=user["domainid"])
    status, err = api.error("updateVlanIpRange", id=rng["id"], endip="192.168.2.7")
    assert status == 431 and "which is already in use" in err["errortext"]
    status, err = api.error("updateVlanIpRange", id=rng["id"], netmask="255.255.0.0")
    assert (status, err["errortext"]) == (431, "Unable to change netmask to 255.255.0.0 because some IPs are in use")
    status, err = api.error("updateVlanIpRange", id=rng["id"], startipv6="fd00::10")
    assert (status, err["errortext"]) == (431, "IPv6 is not support in this IP range.")
    out = api("updateVlanIpRange", id=rng["id"], startip="192.168.2.4")["vlan"]
    assert out["startip"] == "192.168.2.4"
    assert api("listPublicIpAddresses", zoneid=z["id"], allocatedonly=False)["count"] == 5


def test_cni_configurations(server: Any) -> None:
    api = server.api
    user = api.client_for(api.new_account())
    doc = base64.b64encode(b"network: {{ podcidr }}\nmtu: 1450\n").decode()
    # (a dict: `params` is also the client's own argument name)
    assert user("registerCniConfiguration", {"name": "calico", "cniconfig": doc, "params": "podcidr"}) == {
        "success": True}
    status, err = user.error("registerCniConfiguration", name="calico", cniconfig=doc)
    assert (status, err["errortext"]) == (431, "A CNI configuration with name calico already exists for this "
                                          "account.")
    status, err = user.error("registerCniConfiguration", name="x", cniconfig="%%%")
    assert (status, err["errortext"]) == (431, "CNI configuration is not base64 encoded")
    status, err = user.error("registerCniConfiguration", {"name": "y", "cniconfig": doc, "params": "mtu2"})
    assert status == 431 and "mtu2" in err["errortext"]
    got = user("listCniConfiguration")["cniconfig"]
    assert len(got) == 1 and got[0]["name"] == "calico" and got[0]["userdata"] == doc
    assert got[0]["params"] == "podcidr"
    assert api("listCniConfiguration") == {}  # the admin's own: none
    assert api("listCniConfiguration", listall=True)["count"] == 1
    other = api.client_for(api.new_account())
    status, _ = other.error("deleteCniConfiguration", id=got[0]["id"])
    assert status == 531
    assert user("deleteCniConfiguration", id=got[0]["id"]) == {"success": True}
    assert user("listCniConfiguration") == {}
