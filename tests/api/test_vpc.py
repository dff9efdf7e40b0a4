"""VPCs through the API on a records-only (simulator-style) zone: offerings, the VPC lifecycle and its router, tiers,
network ACL lists and items, VPC public IPs with port forwarding and static NAT, private gateways and static
routes, site-to-site and remote-access VPN, internal load balancing, limits, events and tags -- CloudStack's shapes,
async-ness and error codes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_networks import make_vm, make_zone, offering_id
from tests.conftest import ApiClient

pytestmark = pytest.mark.api

TIER_OFFERING = "DefaultIsolatedNetworkOfferingForVpcNetworks"
ILB_OFFERING = "DefaultIsolatedNetworkOfferingForVpcNetworksWithInternalLB"


def vpc_env(server: Any, *, public: tuple[str, str] = ("192.168.2.2", "192.168.2.9")) -> dict[str, Any]:
    api = server.api
    z = make_zone(server, vlan="100-120", public=public)
    vo = api("listVPCOfferings", name="Default VPC offering")["vpcoffering"][0]
    vpc = api.run("createVPC", name="vpc1", displaytext="vpc one", cidr="10.10.0.0/16", vpcofferingid=vo["id"],
                  zoneid=z["id"])["vpc"]
    return {"zone": z, "vpc": vpc, "offering": vo}


def tier(api: ApiClient, env: dict[str, Any], name: str, third: int, offering: str = TIER_OFFERING,
         **kw: Any) -> dict[str, Any]:
    return api("createNetwork", name=name, displaytext=name, networkofferingid=offering_id(api, offering),
               zoneid=env["zone"]["id"], vpcid=env["vpc"]["id"], gateway=f"10.10.{third}.1",
               netmask="255.255.255.0", **kw)["network"]


def vm_in(server: Any, env: dict[str, Any], net: dict[str, Any], name: str) -> dict[str, Any]:
    from management.models.compute import VirtualMachine
    from management.models.network import Network, Nic
    from management.services.network import networks

    vm = make_vm(server, env["zone"]["dbid"])
    with server.server.runtime.db.session() as s:
        v = s.get(VirtualMachine, vm.id)
        v.name, v.state = name, "Running"
        nic = networks.allocate_nics(s, v, [s.query(Network).filter_by(uuid=net["id"]).one()])[0]
        out = {"id": v.uuid, "ip": nic.ip4_address}
        assert s.query(Nic).filter_by(instance_id=v.id).count() == 1
    return out


def err(api: ApiClient, command: str, **kw: Any) -> tuple[int, str]:
    status, body = api.error(command, **kw)
    return status, body["errortext"]


def job_err(api: ApiClient, command: str, **kw: Any) -> tuple[int, str]:
    r = api.call(command, kw)
    body = next(iter(r.json().values()))
    if r.status_code != 200:
        return r.status_code, body["errortext"]
    job = api.wait(body["jobid"])
    assert job["jobstatus"] == 2, job
    return job["jobresult"]["errorcode"], job["jobresult"]["errortext"]


# ------------------------------------------------------------------------------------------------ offerings

def test_vpc_offerings_seeded_and_managed(server: Any) -> None:
    api = server.api
    rows = {o["name"]: o for o in api("listVPCOfferings")["vpcoffering"]}
    assert set(rows) == {"Default VPC offering", "Redundant VPC offering"}  # no hardware appliance needed
    default = rows["Default VPC offering"]
    assert default["isdefault"] is True and default["state"] == "Enabled"
    services = {s["name"]: {p["name"] for p in s["provider"]} for s in default["service"]}
    assert services["Lb"] == {"VpcVirtualRouter", "InternalLbVm"} and services["NetworkACL"] == {"VpcVirtualRouter"}
    assert "Firewall" not in services and "SecurityGroup" not in services
    started = api("createVPCOffering", name="custom", displaytext="custom",
                  supportedservices="Dhcp,Dns,SourceNat,NetworkACL,PortForwarding,UserData")
    assert set(started) == {"id", "jobid"}
    off = api.wait(started["jobid"])["jobresult"]["vpcoffering"]
    assert off["id"] == started["id"] and off["state"] == "Disabled" and off["isdefault"] is False
    assert api.run("updateVPCOffering", id=off["id"], state="Enabled")["vpcoffering"]["state"] == "Enabled"
    assert api("listVPCOfferings", supportedservices="Lb")["count"] == 2
    code, text = job_err(api, "createVPCOffering", name="bad", supportedservices="Dhcp,Firewall,SourceNat")
    assert code == 431 and "Firewall is not supported in VPC" in text
    assert job_err(api, "deleteVPCOffering", id=default["id"]) == (431, "Default network offering can't be deleted")
    api.run("deleteVPCOffering", id=off["id"])
    assert api("listVPCOfferings", id=off["id"]) == {}  # a list by a deleted id is empty
    assert "custom" not in {o["name"] for o in api("listVPCOfferings")["vpcoffering"]}
    user = api.client_for(api.new_account())
    assert err(user, "createVPCOffering", name="x")[0] == 401  # admins only


# ------------------------------------------------------------------------------------------------ VPCs and tiers

def test_vpc_lifecycle_router_tiers_and_errors(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    vpc = env["vpc"]
    assert vpc["state"] == "Enabled" and vpc["cidr"] == "10.10.0.0/16" and vpc["account"] == "admin"
    assert vpc["vpcofferingname"] == "Default VPC offering" and vpc["redundantvpcrouter"] is False
    snat = api("listPublicIpAddresses", vpcid=vpc["id"], issourcenat=True)["publicipaddress"]
    assert len(snat) == 1 and snat[0]["vpcid"] == vpc["id"] and snat[0]["vpcname"] == "vpc1"
    routers = api("listRouters", vpcid=vpc["id"])["router"]
    assert len(routers) == 1 and routers[0]["vpcid"] == vpc["id"] and routers[0]["state"] == "Running"
    assert routers[0]["publicip"] == snat[0]["ipaddress"]
    assert api("listRouters", forvpc=True)["count"] == 1 and api("listRouters", forvpc=False) == {}

    web = tier(api, env, "web", 1)
    assert web["vpcid"] == vpc["id"] and web["aclname"] == "default_deny" and web["cidr"] == "10.10.1.0/24"
    assert web["state"] == "Allocated" and web["networkdomain"] == vpc["networkdomain"]
    db = tier(api, env, "db", 2)
    assert api("listNetworks", vpcid=vpc["id"])["count"] == 2
    assert {n["name"] for n in api("listVPCs", id=vpc["id"])["vpc"][0]["network"]} == {"web", "db"}
    assert api("listNetworks", forvpc=False) == {}

    status, text = err(api, "createNetwork", name="out", displaytext="out", zoneid=env["zone"]["id"],
                       networkofferingid=offering_id(api, TIER_OFFERING), vpcid=vpc["id"], gateway="10.20.1.1",
                       netmask="255.255.255.0")
    assert status == 431 and text == "Network cidr 10.20.1.0/24 is not within vpc vpc1 cidr"
    status, text = err(api, "createNetwork", name="ovl", displaytext="ovl", zoneid=env["zone"]["id"],
                       networkofferingid=offering_id(api, TIER_OFFERING), vpcid=vpc["id"], gateway="10.10.1.129",
                       netmask="255.255.255.128")
    assert status == 431 and "crosses other network cidr web belonging to the same vpc" in text
    status, text = err(api, "createNetwork", name="iso", displaytext="iso", zoneid=env["zone"]["id"],
                       networkofferingid=offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService"),
                       vpcid=vpc["id"], gateway="10.10.9.1", netmask="255.255.255.0")
    assert status == 431 and "can't be used for VPC networks" in text
    status, text = err(api, "createNetwork", name="novpc", displaytext="x", zoneid=env["zone"]["id"],
                       networkofferingid=offering_id(api, TIER_OFFERING))
    assert status == 431 and "VPC networks only" in text
    tier(api, env, "app", 3, offering="DefaultIsolatedNetworkOfferingForVpcNetworksNoLB")
    status, text = err(api, "createNetwork", name="t4", displaytext="t4", zoneid=env["zone"]["id"],
                       networkofferingid=offering_id(api, TIER_OFFERING), vpcid=vpc["id"], gateway="10.10.4.1",
                       netmask="255.255.255.0")
    assert (status, text) == (530, "Number of networks per VPC cannot surpass [3].")  # CloudStack: a runtime error

    # a VM in a tier implements it (VLAN, a leg on the VPC router; no source NAT IP of its own)
    vm = vm_in(server, env, web, "web1")
    assert vm["ip"].startswith("10.10.1.")
    web = api("listNetworks", id=web["id"])["network"][0]
    assert web["state"] == "Implemented" and web["vlan"]
    assert api("listPublicIpAddresses", associatednetworkid=web["id"]) == {}
    assert api("listPublicIpAddresses", vpcid=vpc["id"])["count"] == 1

    updated = api.run("updateVPC", id=vpc["id"], name="vpc-one", displaytext="renamed")["vpc"]
    assert updated["name"] == "vpc-one" and updated["displaytext"] == "renamed"
    api.run("restartVPC", id=vpc["id"], cleanup=True)
    assert api("listRouters", vpcid=vpc["id"])["router"][0]["state"] == "Running"
    code, text = job_err(api, "deleteVPC", id=vpc["id"])
    assert code == 536 and "as its used by 3 networks" in text
    from management.models.compute import VirtualMachine
    from management.services.network import networks

    with server.server.runtime.db.session() as s:
        v = s.query(VirtualMachine).filter_by(uuid=vm["id"]).one()
        networks.release_nics(s, v)
    for n in (web, db):
        api.run("deleteNetwork", id=n["id"])
    api.run("deleteNetwork", id=api("listNetworks", vpcid=vpc["id"], name="app")["network"][0]["id"])
    api.run("deleteVPC", id=vpc["id"])
    assert api("listVPCs") == {}
    assert api("listRouters", forvpc=True) == {}
    assert api("listPublicIpAddresses", allocatedonly=True) == {}  # the source NAT IP went back to the pool
    events = {e["type"] for e in api("listEvents", pagesize=500, page=1)["event"]}
    assert {"VPC.CREATE", "VPC.UPDATE", "VPC.RESTART", "VPC.DELETE", "NETWORK.CREATE"} <= events


def test_vpc_limit_tags_and_user_isolation(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    acct = api.new_account()
    user = api.client_for(acct)
    api("updateConfiguration", name="max.account.vpcs", value="1")
    first = user.run("createVPC", name="u1", cidr="10.30.0.0/16", vpcofferingid=env["offering"]["id"],
                     zoneid=env["zone"]["id"])["vpc"]
    code, text = job_err(user, "createVPC", name="u2", cidr="10.31.0.0/16", vpcofferingid=env["offering"]["id"],
                         zoneid=env["zone"]["id"])
    assert code == 532 and "type 'vpc'" in text
    usage = user("listAccounts")["account"][0]
    assert (usage["vpclimit"], usage["vpctotal"], usage["vpcavailable"]) == ("1", 1, "0")
    user.run("createTags", resourceids=first["id"], resourcetype="Vpc",
             **{"tags[0].key": "tier", "tags[0].value": "prod"})
    listed = user("listVPCs", **{"tags[0].key": "tier", "tags[0].value": "prod"})["vpc"]
    assert [v["id"] for v in listed] == [first["id"]] and listed[0]["tags"][0]["value"] == "prod"
    assert user("listVPCs", id=None)["count"] == 1  # the admin's VPC is not the user's
    status, _ = err(user, "listVPCs", id=env["vpc"]["id"])
    assert status == 531
    code, _ = job_err(user, "deleteVPC", id=env["vpc"]["id"])
    assert code == 531
    code, text = job_err(api, "createVPC", name="bad", cidr="8.8.0.0/16", vpcofferingid=env["offering"]["id"],
                         zoneid=env["zone"]["id"])
    assert code == 431 and "RFC 1918" in text


# ------------------------------------------------------------------------------------------------ ACLs

def test_network_acl_lists_and_items(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    lists = {a["name"]: a for a in api("listNetworkACLLists")["networkacllist"]}
    assert {"default_allow", "default_deny"} <= set(lists)
    allow_items = api("listNetworkACLs", aclid=lists["default_allow"]["id"])["networkacl"]
    assert [(i["number"], i["traffictype"], i["action"], i["protocol"]) for i in allow_items] == [
        (1, "Ingress", "Allow", "all"), (2, "Egress", "Allow", "all")]
    assert job_err(api, "createNetworkACL", aclid=lists["default_deny"]["id"], protocol="tcp") == \
        (431, "Default ACL cannot be modified")
    assert job_err(api, "deleteNetworkACLList", id=lists["default_allow"]["id"]) == \
        (431, "Default ACL cannot be removed")

    started = api("createNetworkACLList", name="web-acl", description="web", vpcid=env["vpc"]["id"])
    assert set(started) == {"id", "jobid"}
    acl = api.wait(started["jobid"])["jobresult"]["networkacllist"]
    assert acl["vpcid"] == env["vpc"]["id"] and acl["name"] == "web-acl"
    ssh = api.run("createNetworkACL", aclid=acl["id"], protocol="tcp", startport=22, endport=22,
                  cidrlist="0.0.0.0/0", action="Allow", traffictype="Ingress", number=10)["networkacl"]
    assert ssh["number"] == 10 and ssh["startport"] == "22" and ssh["aclname"] == "web-acl"
    http = api.run("createNetworkACL", aclid=acl["id"], protocol="TCP", startport=80, cidrlist="10.0.0.0/8,"
                   "192.168.0.0/16")["networkacl"]
    assert http["number"] == 11 and http["action"] == "Allow" and http["traffictype"] == "Ingress"
    assert http["cidrlist"] == "10.0.0.0/8,192.168.0.0/16" and http["endport"] == "80"
    icmp = api.run("createNetworkACL", aclid=acl["id"], protocol="icmp", icmptype=-1, icmpcode=-1, number=5,
                   action="deny", traffictype="egress")["networkacl"]
    assert (icmp["action"], icmp["traffictype"], icmp["icmptype"]) == ("Deny", "Egress", -1)
    code, text = job_err(api, "createNetworkACL", aclid=acl["id"], protocol="tcp", startport=1, number=10)
    assert code == 431 and text == f"ACL item with number 10 already exists in ACL: {acl['id']}"
    assert job_err(api, "createNetworkACL", aclid=acl["id"], protocol="gre")[0] == 431
    assert job_err(api, "createNetworkACL", aclid=acl["id"], protocol="icmp", startport=1) == \
        (431, "Can't specify start/end port when protocol is ICMP")
    assert job_err(api, "createNetworkACL", aclid=acl["id"], protocol="all", startport=1, endport=2) == \
        (431, "start port and end port must be null if protocol = 'all'")
    assert job_err(api, "createNetworkACL", aclid=acl["id"], protocol="tcp", action="reject")[0] == 431
    assert [i["number"] for i in api("listNetworkACLs", aclid=acl["id"])["networkacl"]] == [5, 10, 11]

    # updateNetworkACLItem answers under createnetworkaclresponse (CloudStack's s_name)
    r = api.call("updateNetworkACLItem", id=http["id"], startport=8080, endport=8081)
    assert list(r.json()) == ["createnetworkaclresponse"]
    upd = api.wait(r.json()["createnetworkaclresponse"]["jobid"])["jobresult"]["networkacl"]
    assert (upd["startport"], upd["endport"], upd["cidrlist"]) == ("8080", "8081", "10.0.0.0/8,192.168.0.0/16")
    # move the last rule to the top: it takes number 1 (nothing else moves)
    items = api("listNetworkACLs", aclid=acl["id"])["networkacl"]
    import hashlib

    digest = hashlib.md5("".join(i["id"] for i in items).encode()).hexdigest()
    r = api.call("moveNetworkAclItem", id=http["id"], nextaclruleid=icmp["id"], aclconsistencyhash=digest)
    assert list(r.json()) == ["moveNetworkAclItemResponse"]
    moved = api.wait(r.json()["moveNetworkAclItemResponse"]["jobid"])["jobresult"]["networkacl"]
    assert moved["number"] == 1
    assert [i["id"] for i in api("listNetworkACLs", aclid=acl["id"])["networkacl"]] == \
        [http["id"], icmp["id"], ssh["id"]]
    assert job_err(api, "moveNetworkAclItem", id=ssh["id"], previousaclruleid=http["id"], nextaclruleid=icmp["id"],
                   aclconsistencyhash="0" * 32)[0] == 431
    r = api.call("moveNetworkAclItem", id=ssh["id"], previousaclruleid=http["id"], nextaclruleid=icmp["id"])
    assert api.wait(r.json()["moveNetworkAclItemResponse"]["jobid"])["jobstatus"] == 1
    assert [i["number"] for i in api("listNetworkACLs", aclid=acl["id"])["networkacl"]] == [1, 2, 5]

    web = tier(api, env, "web", 1, aclid=acl["id"])
    assert web["aclid"] == acl["id"] and web["aclname"] == "web-acl"
    assert [a["id"] for a in api("listNetworkACLLists", networkid=web["id"])["networkacllist"]] == [acl["id"]]
    assert api("listNetworkACLs", networkid=web["id"])["count"] == 3
    code, _ = job_err(api, "deleteNetworkACLList", id=acl["id"])
    assert code == 536
    api.run("replaceNetworkACLList", aclid=lists["default_allow"]["id"], networkid=web["id"])
    assert api("listNetworks", id=web["id"])["network"][0]["aclname"] == "default_allow"
    assert job_err(api, "replaceNetworkACLList", aclid=acl["id"])[0] == 431
    api.run("updateNetworkACLList", id=acl["id"], name="web2", description="renamed")
    assert api("listNetworkACLLists", id=acl["id"])["networkacllist"][0]["name"] == "web2"
    api.run("deleteNetworkACL", id=icmp["id"])
    api.run("deleteNetworkACLList", id=acl["id"])
    assert api("listNetworkACLLists", vpcid=env["vpc"]["id"]) == {}
    # an ACL of another VPC can't serve this VPC's tier
    other = api.run("createVPC", name="vpc2", cidr="10.11.0.0/16", vpcofferingid=env["offering"]["id"],
                    zoneid=env["zone"]["id"])["vpc"]
    foreign = api.run("createNetworkACLList", name="foreign", vpcid=other["id"])["networkacllist"]
    code, text = job_err(api, "replaceNetworkACLList", aclid=foreign["id"], networkid=web["id"])
    assert code == 431 and "do not belong to the same VPC" in text


# ------------------------------------------------------------------------------------------------ IPs and rules

def test_vpc_public_ips_port_forwarding_and_static_nat(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    web = tier(api, env, "web", 1)
    vm = vm_in(server, env, web, "web1")
    started = api("associateIpAddress", vpcid=env["vpc"]["id"])
    assert set(started) == {"id", "jobid"}
    ip = api.wait(started["jobid"])["jobresult"]["ipaddress"]
    assert ip["vpcid"] == env["vpc"]["id"] and ip["state"] == "Allocated" and not ip.get("associatednetworkid")
    pf = api.run("createPortForwardingRule", ipaddressid=ip["id"], privateport=22, publicport=2222, protocol="tcp",
                 virtualmachineid=vm["id"], networkid=web["id"])["portforwardingrule"]
    assert pf["vmguestip"] == vm["ip"] and pf["networkid"] == web["id"]
    assert api("listFirewallRules", ipaddressid=ip["id"]) == {}  # a VPC has no firewall: ACLs filter
    assert api("listPublicIpAddresses", id=ip["id"])["publicipaddress"][0]["associatednetworkid"] == web["id"]
    code, text = job_err(api, "createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=1)
    assert code == 431 and "VPC" in text
    ip2 = api.run("associateIpAddress", vpcid=env["vpc"]["id"])["ipaddress"]
    api("enableStaticNat", ipaddressid=ip2["id"], virtualmachineid=vm["id"], networkid=web["id"])
    assert api("listPublicIpAddresses", id=ip2["id"])["publicipaddress"][0]["isstaticnat"] is True
    other = api.run("createVPC", name="vpc2", cidr="10.11.0.0/16", vpcofferingid=env["offering"]["id"],
                    zoneid=env["zone"]["id"])["vpc"]
    foreign = api.run("associateIpAddress", vpcid=other["id"])["ipaddress"]
    code, text = job_err(api, "createPortForwardingRule", ipaddressid=foreign["id"], privateport=22, publicport=22,
                         protocol="tcp", virtualmachineid=vm["id"], networkid=web["id"])
    assert code == 431 and "not one of its tiers" in text
    api.run("disassociateIpAddress", id=ip["id"])
    assert api("listPortForwardingRules", ipaddressid=None) == {}
    assert api("listPublicIpAddresses", vpcid=env["vpc"]["id"])["count"] == 2  # source NAT + static NAT


def test_private_gateway_and_static_routes(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    started = api("createPrivateGateway", vpcid=env["vpc"]["id"], ipaddress="172.31.0.2", gateway="172.31.0.1",
                  netmask="255.255.255.0", vlan="900")
    gw = api.wait(started["jobid"])["jobresult"]["privategateway"]
    assert gw["id"] == started["id"] and gw["state"] == "Ready" and gw["vlan"] == "vlan://900"
    assert gw["aclname"] == "default_deny" and gw["sourcenatsupported"] is False
    route = api.run("createStaticRoute", gatewayid=gw["id"], cidr="192.168.50.0/24")["staticroute"]
    assert route["vpcgatewayid"] == gw["id"] and route["state"] == "Active" and route["cidr"] == "192.168.50.0/24"
    code, text = job_err(api, "createStaticRoute", gatewayid=gw["id"], cidr="10.10.5.0/24")
    assert code == 431 and "outside of VPC cidr" in text
    assert job_err(api, "createStaticRoute", gatewayid=gw["id"], cidr="192.168.50.0/25")[0] == 431
    hop = api.run("createStaticRoute", vpcid=env["vpc"]["id"], nexthop="172.31.0.9", cidr="192.168.60.0/24")
    assert hop["staticroute"]["nexthop"] == "172.31.0.9"
    assert api("listStaticRoutes", vpcid=env["vpc"]["id"])["count"] == 2
    assert job_err(api, "deletePrivateGateway", id=gw["id"])[0] == 536
    acl = api.run("createNetworkACLList", name="pg", vpcid=env["vpc"]["id"])["networkacllist"]
    api.run("replaceNetworkACLList", aclid=acl["id"], gatewayid=gw["id"])
    assert api("listPrivateGateways", vpcid=env["vpc"]["id"])["privategateway"][0]["aclid"] == acl["id"]
    api.run("deleteStaticRoute", id=route["id"])
    api.run("deleteStaticRoute", id=hop["staticroute"]["id"])
    api.run("deletePrivateGateway", id=gw["id"])
    assert api("listPrivateGateways") == {}
    user = api.client_for(api.new_account())
    assert job_err(user, "createPrivateGateway", vpcid=env["vpc"]["id"], ipaddress="172.31.1.2",
                   gateway="172.31.1.1", netmask="255.255.255.0")[0] == 531


# ------------------------------------------------------------------------------------------------ VPN

def test_site_to_site_vpn_records(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    vpc = env["vpc"]
    gw = api.run("createVpnGateway", vpcid=vpc["id"])["vpngateway"]
    snat = api("listPublicIpAddresses", vpcid=vpc["id"], issourcenat=True)["publicipaddress"][0]
    assert gw["publicip"] == snat["ipaddress"] and gw["vpcid"] == vpc["id"]
    code, text = job_err(api, "createVpnGateway", vpcid=vpc["id"])
    assert code == 431 and "already existed" in text
    base = {"gateway": "198.51.100.10", "cidrlist": "192.168.50.0/24", "ipsecpsk": "s3cr3t-psk",
            "esppolicy": "aes128-sha1"}
    cgw = api.run("createVpnCustomerGateway", name="office", ikepolicy="aes128-sha1;modp1536", dpd=True,
                  ikeversion="ikev2", **base)["vpncustomergateway"]
    assert (cgw["name"], cgw["ikelifetime"], cgw["esplifetime"], cgw["ikeversion"]) == ("office", 86400, 3600,
                                                                                       "ikev2")
    for bad, message in (({"ikepolicy": "des-sha1"}, "IKE policy des-sha1 is invalid!"),
                         ({"ikepolicy": "aes128-sha1", "esppolicy": "aes128-sha999"}, "ESP policy"),
                         ({"ikepolicy": "aes128-sha1", "gateway": "not-an-ip"}, "customer gateway ip"),
                         ({"ikepolicy": "aes128-sha1", "ikelifetime": 90000}, "IKE lifetime 90000"),
                         ({"ikepolicy": "aes128-sha1", "ikeversion": "ikev3"}, "IKE version ikev3")):
        code, text = job_err(api, "createVpnCustomerGateway", **{**base, "name": "bad", **bad})
        assert code == 431 and message in text, (bad, text)
    conn = api.run("createVpnConnection", s2svpngatewayid=gw["id"], s2scustomergatewayid=cgw["id"],
                   passive=True)["vpnconnection"]
    assert conn["passive"] is True and conn["publicip"] == snat["ipaddress"] and conn["gateway"] == "198.51.100.10"
    assert conn["state"] == "Disconnected"
    listed = api("listVpnConnections", vpcid=vpc["id"])["vpnconnection"]
    assert [c["id"] for c in listed] == [conn["id"]]
    assert api.run("resetVpnConnection", id=conn["id"])["vpnconnection"]["id"] == conn["id"]
    code, text = job_err(api, "createVpnConnection", s2svpngatewayid=gw["id"], s2scustomergatewayid=cgw["id"])
    assert code == 431 and "already existed" in text
    assert job_err(api, "deleteVpnGateway", id=gw["id"])[0] == 536
    assert job_err(api, "deleteVpnCustomerGateway", id=cgw["id"])[0] == 536
    overlap = api.run("createVpnCustomerGateway", name="overlap", ikepolicy="aes256-sha256;modp2048",
                      **{**base, "cidrlist": "10.10.0.0/24", "gateway": "198.51.100.11"})["vpncustomergateway"]
    code, text = job_err(api, "createVpnConnection", s2svpngatewayid=gw["id"], s2scustomergatewayid=overlap["id"])
    assert code == 431 and "overlapped with VPC cidr" in text
    api.run("deleteVpnConnection", id=conn["id"])
    updated = api.run("updateVpnCustomerGateway", id=cgw["id"], name="office2", ikepolicy="aes256-sha256;modp2048",
                      **base)["vpncustomergateway"]
    assert updated["name"] == "office2" and updated["ikepolicy"] == "aes256-sha256;modp2048"
    api.run("deleteVpnCustomerGateway", id=cgw["id"])
    api.run("deleteVpnGateway", id=gw["id"])
    assert api("listVpnGateways") == {} and api("listVpnConnections") == {}


def test_remote_access_vpn_and_users(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    snat = api("listPublicIpAddresses", vpcid=env["vpc"]["id"], issourcenat=True)["publicipaddress"][0]
    started = api("createRemoteAccessVpn", publicipid=snat["id"])
    assert set(started) == {"id", "jobid"}
    ra = api.wait(started["jobid"])["jobresult"]["remoteaccessvpn"]
    assert ra["publicip"] == snat["ipaddress"] and ra["iprange"] == "10.1.2.1-10.1.2.8" and ra["state"] == "Running"
    assert len(ra["presharedkey"]) == 24
    code, text = job_err(api, "createRemoteAccessVpn", publicipid=snat["id"])
    assert code == 431 and "already exists" in text
    other = api.run("associateIpAddress", vpcid=env["vpc"]["id"])["ipaddress"]
    assert job_err(api, "createRemoteAccessVpn", publicipid=other["id"])[0] == 431  # not the source NAT IP
    user = api.run("addVpnUser", username="alice", password="Alice-pass-1")["vpnuser"]
    assert user["username"] == "alice" and user["state"] == "Active" and "password" not in user
    assert job_err(api, "addVpnUser", username="alice", password="x-pass-12")[0] == 431
    assert job_err(api, "addVpnUser", username="b", password="pw")[0] == 431
    assert [u["username"] for u in api("listVpnUsers")["vpnuser"]] == ["alice"]
    api.run("removeVpnUser", username="alice")
    assert api("listVpnUsers") == {}
    assert job_err(api, "removeVpnUser", username="alice") == (431, "Could not find vpn user alice")
    assert api("listRemoteAccessVpns", publicipid=snat["id"])["remoteaccessvpn"][0]["id"] == ra["id"]
    api.run("deleteRemoteAccessVpn", publicipid=snat["id"])
    assert api("listRemoteAccessVpns") == {}
    # also on an isolated network's source NAT IP
    iso = api("createNetwork", name="iso", displaytext="iso", zoneid=env["zone"]["id"],
              networkofferingid=offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService"))["network"]
    vm_in(server, env, iso, "iso1")
    iso_snat = api("listPublicIpAddresses", associatednetworkid=iso["id"], issourcenat=True)["publicipaddress"][0]
    ra2 = api.run("createRemoteAccessVpn", publicipid=iso_snat["id"], iprange="10.2.2.1-10.2.2.20")
    assert ra2["remoteaccessvpn"]["iprange"] == "10.2.2.1-10.2.2.20"
    assert job_err(api, "createRemoteAccessVpn", publicipid=iso_snat["id"])[0] == 431


# ------------------------------------------------------------------------------------------------ internal LB

def test_internal_load_balancer(server: Any) -> None:
    api = server.api
    env = vpc_env(server)
    app = tier(api, env, "app", 2, offering=ILB_OFFERING)
    plain = tier(api, env, "web", 1)
    vms = [vm_in(server, env, app, f"app{i}") for i in (1, 2)]
    started = api("createLoadBalancer", name="ilb", networkid=app["id"], sourceipaddressnetworkid=app["id"],
                  scheme="Internal", algorithm="roundrobin", sourceport=80, instanceport=8080,
                  sourceipaddress="10.10.2.200")
    lb = api.wait(started["jobid"])["jobresult"]["loadbalancer"]
    assert lb["id"] == started["id"] and lb["sourceipaddress"] == "10.10.2.200"
    assert lb["loadbalancerrule"] == [{"sourceport": 80, "instanceport": 8080, "state": "Active"}]
    api.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=",".join(v["id"] for v in vms))
    got = api("listLoadBalancers", networkid=app["id"])["loadbalancer"][0]
    assert {i["ipaddress"] for i in got["loadbalancerinstance"]} == {v["ip"] for v in vms}
    assert api("listLoadBalancerRules") == {}  # public LB rules only there
    r = api.call("listInternalLoadBalancerVMs", vpcid=env["vpc"]["id"])
    appliances = r.json()["listinternallbvmsresponse"]["internalloadbalancervm"]
    assert len(appliances) == 1 and appliances[0]["role"] == "INTERNAL_LB_VM"
    assert appliances[0]["guestipaddress"] == "10.10.2.200" and appliances[0]["state"] == "Running"
    r = api.call("stopInternalLoadBalancerVM", id=appliances[0]["id"])
    assert list(r.json()) == ["stopinternallbvmresponse"]
    stopped = api.wait(r.json()["stopinternallbvmresponse"]["jobid"])["jobresult"]["internalloadbalancervm"]
    assert stopped["state"] == "Stopped"
    r = api.call("startInternalLoadBalancerVM", id=appliances[0]["id"])
    started_vm = api.wait(r.json()["startinternallbvmresponse"]["jobid"])["jobresult"]["internalloadbalancervm"]
    assert started_vm["state"] == "Running"
    code, text = job_err(api, "createLoadBalancer", name="x", networkid=plain["id"],
                         sourceipaddressnetworkid=plain["id"], scheme="Internal", algorithm="roundrobin",
                         sourceport=80, instanceport=80)
    assert code == 431 and "Scheme Internal is not supported" in text
    assert job_err(api, "createLoadBalancer", name="x", networkid=app["id"], sourceipaddressnetworkid=app["id"],
                   scheme="Public", algorithm="roundrobin", sourceport=80, instanceport=80) == \
        (431, "Invalid value for scheme. Supported value is internal")
    assert api.run("updateLoadBalancer", id=lb["id"], fordisplay=False)["loadbalancer"]["fordisplay"] is False
    api.run("deleteLoadBalancer", id=lb["id"])
    assert api("listLoadBalancers") == {}
    assert api.call("listInternalLoadBalancerVMs").json() == {"listinternallbvmsresponse": {}}


def test_list_vpn_connections_reads_live_state_beside_a_writer(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """listVpnConnections shows what the router's charon says (Connected) and answers while jobs write: it reads
    the state, it never writes it (a read that turns into a write after another commit was a 530 on SQLite)."""
    from management.models.vpc import S2sCustomerGateway, S2sVpnConnection
    from management.services.network import routers

    api = server.api
    env = vpc_env(server)
    gw = api.run("createVpnGateway", vpcid=env["vpc"]["id"])["vpngateway"]
    cgw = api.run("createVpnCustomerGateway", name="office", gateway="198.51.100.10", cidrlist="192.168.50.0/24",
                  ipsecpsk="s3cr3t-psk", ikepolicy="aes128-sha1;modp1536",
                  esppolicy="aes128-sha1")["vpncustomergateway"]
    conn = api.run("createVpnConnection", s2svpngatewayid=gw["id"], s2scustomergatewayid=cgw["id"],
                   passive=True)["vpnconnection"]
    assert conn["state"] == "Disconnected"

    class Router:  # a real router's answer, while a job commits a write meanwhile
        def vpn_states(self, session: Any, vpc_id: int) -> dict[str, str]:
            with server.server.runtime.db.session() as other:
                other.query(S2sCustomerGateway).filter_by(uuid=cgw["id"]).one().name = "office-renamed"
            return {f"s2s{session.query(S2sVpnConnection).filter_by(uuid=conn['id']).one().id}": "Connected"}

    monkeypatch.setattr(routers, "current", lambda: Router())
    listed = api("listVpnConnections", vpcid=env["vpc"]["id"])["vpnconnection"]
    assert [(c["id"], c["state"]) for c in listed] == [(conn["id"], "Connected")]
    monkeypatch.setattr(routers, "current", lambda: None)
    assert api("listVpnConnections", id=conn["id"])["vpnconnection"][0]["state"] == "Disconnected"
