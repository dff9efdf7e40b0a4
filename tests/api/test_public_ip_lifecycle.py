"""Public IP lifecycle beyond associate/disassociate (simulator zone, records): reserving and releasing an
address, updateIpAddress, the quarantine of released addresses (public.ip.address.quarantine.duration), portable
IP ranges and portable IPs moving between networks, IP forwarding rules on static NAT, and the update commands of
firewall rules, load balancers and security groups."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_networks import make_zone, offering_id
from tests.api.test_rules import _setup

pytestmark = pytest.mark.api


def failure(api: Any, command: str, **params: Any) -> tuple[int, str]:
    """(errorcode, errortext) of a command that must fail: synchronously, or in its async job."""
    r = api.call(command, params)
    inner = next(iter(r.json().values()))
    if r.status_code != 200:
        return r.status_code, inner["errortext"]
    assert "jobid" in inner, f"{command} unexpectedly succeeded: {inner}"
    job = api.wait(inner["jobid"])
    assert job["jobstatus"] == 2, f"{command} unexpectedly succeeded: {job}"
    return job["jobresult"]["errorcode"], job["jobresult"]["errortext"]


def _free(api: Any, zone: str) -> list[dict[str, Any]]:
    rows = api("listPublicIpAddresses", zoneid=zone, allocatedonly=False, state="Free").get("publicipaddress", [])
    return sorted(rows, key=lambda r: r["ipaddress"])


def test_reserve_release_and_update_ip(server: Any) -> None:
    api = server.api
    z = make_zone(server)
    ip = _free(api, z["id"])[0]
    user = api.new_account()
    res = api("reserveIpAddress", id=ip["id"], account=user["name"], domainid=user["domainid"])["ipaddress"]
    assert res["state"] == "Reserved" and res["account"] == user["name"] and "associatednetworkid" not in res
    assert api("reserveIpAddress", id=ip["id"], account=user["name"], domainid=user["domainid"])["ipaddress"][
        "state"] == "Reserved"  # again for the same account: no-op
    status, err = api.error("reserveIpAddress", id=ip["id"])
    assert (status, err["errortext"]) == (431, "Unable to reserve a IP because it has already been reserved for "
                                          "another account.")
    # the owner associates the reserved address with its network by naming it
    u = api.client_for(user)
    net = u("createNetwork", name="n", displaytext="n", zoneid=z["id"],
            networkofferingid=offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService"))["network"]
    got = u.run("associateIpAddress", networkid=net["id"], ipaddress=ip["ipaddress"])["ipaddress"]
    assert got["id"] == ip["id"] and got["state"] == "Allocated" and got["associatednetworkid"] == net["id"]
    status, err = u.error("releaseIpAddress", id=ip["id"])
    assert (status, err["errortext"]) == (431, "Unable to release a public IP in Allocated state, please use "
                                          "disassociateIpAddress instead")
    u.run("disassociateIpAddress", id=ip["id"])
    other = _free(api, z["id"])[0]
    api("reserveIpAddress", id=other["id"])
    assert api("releaseIpAddress", id=other["id"]) == {"success": True}
    assert api("listPublicIpAddresses", id=other["id"], allocatedonly=False)["publicipaddress"][0]["state"] == "Free"
    fresh = u.run("associateIpAddress", networkid=net["id"])["ipaddress"]
    upd = u.run("updateIpAddress", id=fresh["id"], fordisplay=False)["ipaddress"]
    assert upd["fordisplay"] is False
    status, err = u.error("updateIpAddress", id=upd["id"], customid="0c2e7c66-5b1e-4c4d-9f0a-333333333333")
    assert (status, err["errortext"]) == (531, "Please check your permissions, you are not allowed to create/update "
                                          "custom id")


def test_quarantine_keeps_released_ip_for_its_previous_owner(server: Any) -> None:
    api = server.api
    z = make_zone(server, public=("192.168.2.2", "192.168.2.2"))  # one public address
    alice, bob = api.new_account(), api.new_account()
    a, b = api.client_for(alice), api.client_for(bob)
    off = offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    na = a("createNetwork", name="na", displaytext="na", zoneid=z["id"], networkofferingid=off)["network"]
    nb = b("createNetwork", name="nb", displaytext="nb", zoneid=z["id"], networkofferingid=off)["network"]
    ip = a.run("associateIpAddress", networkid=na["id"])["ipaddress"]
    # no quarantine by default
    a.run("disassociateIpAddress", id=ip["id"])
    assert api("listQuarantinedIps") == {}
    ip = a.run("associateIpAddress", networkid=na["id"], ipaddress=ip["ipaddress"])["ipaddress"]
    api("updateConfiguration", name="public.ip.address.quarantine.duration", value="60")
    a.run("disassociateIpAddress", id=ip["id"])
    q = api("listQuarantinedIps")["quarantinedip"]
    assert len(q) == 1 and q[0]["ipaddress"] == ip["ipaddress"] and q[0]["previousownername"] == alice["name"]
    assert q[0]["enddate"] > q[0]["created"]
    code, text = failure(b, "associateIpAddress", networkid=nb["id"], ipaddress=ip["ipaddress"])
    assert code == 431 and ip["ipaddress"] in text
    # automatic allocation skips it (it is the zone's only address)
    code, _ = failure(b, "associateIpAddress", networkid=nb["id"])
    assert code == 533
    status, _ = b.error("listQuarantinedIps")
    assert status == 401  # admins and domain admins only
    # the admin moves the end, then ends it early
    status, err = api.error("updateQuarantinedIp", ipaddress=ip["ipaddress"], enddate="2000-01-01 00:00:00")
    assert status == 431 and "is invalid as it is before the current date" in err["errortext"]
    moved = api("updateQuarantinedIp", ipaddress=ip["ipaddress"], enddate="2099-01-01 00:00:00")["quarantinedip"]
    assert moved["enddate"].startswith("2099-01-01")
    status, err = api.error("removeQuarantinedIp", id=moved["id"], removalreason=" ")
    assert status == 431
    done = api("removeQuarantinedIp", id=moved["id"], removalreason="bob needs it")["quarantinedip"]
    assert done["removalreason"] == "bob needs it" and done["removed"]
    assert api("listQuarantinedIps") == {}
    assert api("listQuarantinedIps", showremoved=True)["count"] == 1
    got = b.run("associateIpAddress", networkid=nb["id"], ipaddress=ip["ipaddress"])["ipaddress"]
    assert got["account"] == bob["name"]
    # the previous owner taking it back ends the quarantine itself
    b.run("disassociateIpAddress", id=got["id"])
    b.run("associateIpAddress", networkid=nb["id"], ipaddress=ip["ipaddress"])
    assert api("listQuarantinedIps") == {}
    last = api("listQuarantinedIps", showremoved=True)["quarantinedip"]
    assert any("allocated by the previous owner" in (x.get("removalreason") or "") for x in last)


def test_portable_ip_ranges_and_transfer(server: Any) -> None:
    api = server.api
    env = _setup(server)
    z = env["zone"]
    status, err = api.error("createPortableIpRange", regionid=1, startip="10.9.0.10", endip="10.9.0.5",
                            gateway="10.9.0.1", netmask="255.255.255.0")
    assert (status, err["errortext"]) == (431, "Invalid portable ip  range: 10.9.0.10-10.9.0.5")
    status, err = api.error("createPortableIpRange", regionid=7, startip="10.9.0.5", endip="10.9.0.6",
                            gateway="10.9.0.1", netmask="255.255.255.0")
    assert (status, err["errortext"]) == (431, "Invalid region ID: 7")
    rng = api.run("createPortableIpRange", regionid=1, startip="10.9.0.5", endip="10.9.0.6", gateway="10.9.0.1",
                  netmask="255.255.255.0", vlan="60")["portableiprange"]
    assert rng["vlan"] == "60" and [a["ipaddress"] for a in rng["portableipaddress"]] == ["10.9.0.5", "10.9.0.6"]
    assert {a["state"] for a in rng["portableipaddress"]} == {"Free"}
    code, text = failure(api, "createPortableIpRange", regionid=1, startip="10.9.0.6", endip="10.9.0.9",
                         gateway="10.9.0.1", netmask="255.255.255.0")
    assert code == 431 and "overlaps with a portable IP range" in text
    ip = api.run("associateIpAddress", networkid=env["net"]["id"], isportable=True)["ipaddress"]
    assert ip["isportable"] is True and ip["ipaddress"] == "10.9.0.5" and ip["associatednetworkid"] == env["net"]["id"]
    listed = api("listPortableIpRanges", id=rng["id"])["portableiprange"][0]["portableipaddress"]
    assert listed[0]["state"] == "Allocated" and listed[0]["networkid"] == env["net"]["id"]
    assert failure(api, "deletePortableIpRange", id=rng["id"]) == (
        431, "Can't delete portable IP range as there are IP's assigned.")
    status, err = api.error("reserveIpAddress", id=ip["id"])
    assert status == 431
    # a second network of the same account: static NAT there moves the portable IP over
    net2 = api("createNetwork", name="net2", displaytext="n2", zoneid=z["id"],
               networkofferingid=offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService"))["network"]
    from management.models.compute import VirtualMachine
    from management.models.network import Network
    from management.services.network import networks
    from tests.api.test_networks import make_vm
    vm = make_vm(server, z["dbid"])
    with server.server.runtime.db.session() as s:
        v = s.get(VirtualMachine, vm.id)
        v.state = "Running"
        networks.allocate_nics(s, v, [s.query(Network).filter_by(uuid=net2["id"]).one()])
        vm_uuid = v.uuid
    api("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=vm_uuid, networkid=net2["id"])
    moved = api("listPublicIpAddresses", id=ip["id"])["publicipaddress"][0]
    assert moved["associatednetworkid"] == net2["id"] and moved["isstaticnat"] is True
    api.run("disassociateIpAddress", id=ip["id"])
    assert api("listPublicIpAddresses", ipaddress="10.9.0.5", allocatedonly=False) == {}
    again = api("listPortableIpRanges")["portableiprange"][0]["portableipaddress"]
    assert {a["state"] for a in again} == {"Free"}
    api.run("deletePortableIpRange", id=rng["id"])
    assert api("listPortableIpRanges") == {}


def test_ip_forwarding_rules_on_static_nat(server: Any) -> None:
    api = server.api
    env = _setup(server)
    ip = api.run("associateIpAddress", networkid=env["net"]["id"])["ipaddress"]
    assert failure(api, "createIpForwardingRule", ipaddressid=ip["id"], protocol="tcp", startport=22) == (
        537, f"Can't do static nat on ip address: {ip['ipaddress']}")
    api("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=env["vms"][0])
    rule = api.run("createIpForwardingRule", ipaddressid=ip["id"], protocol="tcp", startport=8000,
                   endport=8010)["ipforwardingrule"]
    assert rule["startport"] == 8000 and rule["endport"] == 8010 and rule["publicport"] == "8000"
    assert rule["virtualmachineid"] == env["vms"][0] and rule["vmguestip"] == "10.1.1.2" and rule["protocol"] == "tcp"
    fw = api("listFirewallRules", ipaddressid=ip["id"])["firewallrule"]
    assert [(f["startport"], f["endport"], f["cidrlist"]) for f in fw] == [(8000, 8010, "0.0.0.0/0")]
    assert failure(api, "createIpForwardingRule", ipaddressid=ip["id"], protocol="tcp", startport=8005)[0] == 537
    listed = api("listIpForwardingRules", ipaddressid=ip["id"])
    assert listed["count"] == 1 and listed["ipforwardingrule"][0]["id"] == rule["id"]
    assert failure(api, "deleteIpForwardingRule", id=fw[0]["id"]) == (
        431, f"Unable to find static nat rule by id: {fw[0]['id']}")
    api.run("deleteIpForwardingRule", id=rule["id"])
    assert api("listFirewallRules", ipaddressid=ip["id"]) == {}
    # without explicit rules, static NAT is listed as one rule forwarding every port (libcloud reads it)
    whole = api("listIpForwardingRules", ipaddressid=ip["id"])["ipforwardingrule"][0]
    assert (whole["startport"], whole["endport"], whole["protocol"]) == (1, 65535, "NAT")
    api.run("createIpForwardingRule", ipaddressid=ip["id"], protocol="udp", startport=53)
    api.run("disableStaticNat", ipaddressid=ip["id"])
    assert api("listIpForwardingRules", ipaddressid=ip["id"]) == {}
    assert api("listFirewallRules", ipaddressid=ip["id"]) == {}


def test_update_commands_of_rules_lbs_and_security_groups(server: Any) -> None:
    api = server.api
    env = _setup(server)
    snat = env["snat"]["id"]
    fw = api.run("createFirewallRule", ipaddressid=snat, protocol="tcp", startport=22)["firewallrule"]
    assert api.run("updateFirewallRule", id=fw["id"], fordisplay=False)["firewallrule"]["fordisplay"] is False
    custom = "0c2e7c66-5b1e-4c4d-9f0a-444444444444"
    assert api.run("updateFirewallRule", id=fw["id"], customid=custom)["firewallrule"]["id"] == custom
    status, err = api.error("updateFirewallRule", id=custom, customid="not-a-uuid")
    assert (status, err["errortext"]) == (431, "UUID: not-a-uuid doesn't follow the UUID format")
    eg = api.run("createEgressFirewallRule", networkid=env["net"]["id"], protocol="tcp", startport=80)["firewallrule"]
    assert failure(api, "updateFirewallRule", id=eg["id"], fordisplay=True) == (
        431, f"Unable to find firewall rule with id {eg['id']}")
    assert api.run("updateEgressFirewallRule", id=eg["id"], fordisplay=False)["firewallrule"]["fordisplay"] is False
    lb = api.run("createLoadBalancerRule", publicipid=snat, name="web", algorithm="roundrobin", publicport=80,
                 privateport=8080)["loadbalancer"]
    app = api.run("updateLoadBalancer", id=lb["id"], fordisplay=False)["loadbalancer"]
    assert app["name"] == "web" and app["sourceipaddress"] == env["snat"]["ipaddress"] and app["fordisplay"] is False
    assert app["loadbalancerrule"] == [{"sourceport": 80, "instanceport": 8080, "state": "Add"}]
    upd = api.run("updateLoadBalancerRule", id=lb["id"], cidrlist="10.0.0.0/8")["loadbalancer"]
    assert upd["cidrlist"] == "10.0.0.0/8"
    sg = api("createSecurityGroup", name="web")["securitygroup"]
    assert api("updateSecurityGroup", id=sg["id"], name="frontend")["securitygroup"]["name"] == "frontend"
    status, err = api.error("updateSecurityGroup", id=sg["id"], name="default")
    assert (status, err["errortext"]) == (431, "The security group name default is reserved")
    user = api.client_for(api.new_account())
    status, _ = user.error("updateSecurityGroup", id=sg["id"], name="x")
    assert status == 401  # root admins only
