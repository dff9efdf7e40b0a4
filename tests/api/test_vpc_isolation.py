"""The isolation walker (test_isolation.py) over a world where A owns VPC objects: a VPC with a tier, an ACL list
and items, a VPC public IP with port forwarding and static NAT, a VPN gateway, a customer gateway and a connection,
a remote-access VPN with a user, a private gateway and a static route (made for A by the admin), an internal load
balancer with its appliance. B must reach none of them through any command it may call."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import test_isolation
from tests.api.test_networks import make_zone, offering_id
from tests.api.test_vpc import vm_in
from tests.conftest import ApiClient

pytestmark = pytest.mark.api

GENERIC = {"account", "user", "virtualmachine", "volume", "securitygroup", "asyncjob", "event"}


def _a_builds_a_vpc(server: Any, api: ApiClient, ua: ApiClient, a: dict[str, Any]) -> None:
    z = make_zone(server, vlan="100-120", public=("192.168.2.2", "192.168.2.20"))
    vo = ua("listVPCOfferings", name="Default VPC offering")["vpcoffering"][0]
    vpc = ua.run("createVPC", name="a-vpc", cidr="10.40.0.0/16", vpcofferingid=vo["id"], zoneid=z["id"])["vpc"]
    acl = ua.run("createNetworkACLList", name="a-acl", vpcid=vpc["id"])["networkacllist"]
    ua.run("createNetworkACL", aclid=acl["id"], protocol="tcp", startport=22, number=1)
    web = ua("createNetwork", name="a-web", displaytext="w", networkofferingid=offering_id(ua, "DefaultIsolatedNetwork"
             "OfferingForVpcNetworksWithInternalLB"), zoneid=z["id"], vpcid=vpc["id"], gateway="10.40.1.1",
             netmask="255.255.255.0", aclid=acl["id"])["network"]
    env = {"zone": z}
    with_account = dict(a)
    vm = _vm_for(server, env, web, with_account)
    ip = ua.run("associateIpAddress", vpcid=vpc["id"])["ipaddress"]
    ua.run("createPortForwardingRule", ipaddressid=ip["id"], privateport=22, publicport=22, protocol="tcp",
           virtualmachineid=vm["id"], networkid=web["id"])
    ip2 = ua.run("associateIpAddress", vpcid=vpc["id"])["ipaddress"]
    ua("enableStaticNat", ipaddressid=ip2["id"], virtualmachineid=vm["id"], networkid=web["id"])
    gw = ua.run("createVpnGateway", vpcid=vpc["id"])["vpngateway"]
    cgw = ua.run("createVpnCustomerGateway", name="a-office", gateway="198.51.100.40", cidrlist="192.168.40.0/24",
                 ipsecpsk="a-secret-psk", ikepolicy="aes128-sha1;modp1536", esppolicy="aes128-sha1")
    ua.run("createVpnConnection", s2svpngatewayid=gw["id"], s2scustomergatewayid=cgw["vpncustomergateway"]["id"],
           passive=True)
    snat = ua("listPublicIpAddresses", vpcid=vpc["id"], issourcenat=True)["publicipaddress"][0]
    ua.run("createRemoteAccessVpn", publicipid=snat["id"])
    ua.run("addVpnUser", username="a-user", password="A-pass-123")
    pg = api.run("createPrivateGateway", vpcid=vpc["id"], ipaddress="172.31.40.2", gateway="172.31.40.1",
                 netmask="255.255.255.0", vlan="940")["privategateway"]
    ua.run("createStaticRoute", gatewayid=pg["id"], cidr="192.168.41.0/24")
    ilb = ua.run("createLoadBalancer", name="a-ilb", networkid=web["id"], sourceipaddressnetworkid=web["id"],
                 scheme="Internal", algorithm="roundrobin", sourceport=80, instanceport=80)["loadbalancer"]
    ua.run("assignToLoadBalancerRule", id=ilb["id"], virtualmachineids=vm["id"])
    ua.run("createTags", resourceids=vpc["id"], resourcetype="Vpc", **{"tags[0].key": "a", "tags[0].value": "v"})


def _vm_for(server: Any, env: dict[str, Any], net: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    from management.models.compute import VirtualMachine
    from management.models.identity import Account

    vm = vm_in(server, env, net, "a-vm")
    with server.server.runtime.db.session() as s:  # vm_in makes the admin's VM: hand it to A
        row = s.query(VirtualMachine).filter_by(uuid=vm["id"]).one()
        acct = s.query(Account).filter_by(uuid=account["id"]).one()
        row.account_id, row.domain_id = acct.id, acct.domain_id
    return vm


@pytest.fixture
def vpc_world(server: Any) -> dict[str, Any]:
    api = server.api
    dom = api("createDomain", name="isolation")["domain"]
    a = api.new_account(domainid=dom["id"], name="alice")
    b = api.new_account(domainid=dom["id"], name="bob")
    ua, ub = api.client_for(a), api.client_for(b)
    for u in (ua, ub):  # a first listSecurityGroups writes the default group: not while A's VPC jobs commit
        u("listSecurityGroups")
    _a_builds_a_vpc(server, api, ua, a)
    owned: dict[str, str] = {a["id"]: "account", a["userid"]: "user"}
    for name, entry in {e["name"]: e for e in ua("listApis")["api"]}.items():
        if not name.startswith("list") or any(p["required"] for p in entry["params"]):
            continue
        for item in test_isolation._items(ua(name, listall=True)):
            if test_isolation._owned_by(item, a) and isinstance(item.get("id"), str):
                owned[item["id"]] = test_isolation._entity_of(name)
    # ACL lists and items carry no owner fields (CloudStack's responses): A's are those of A's VPC
    for vpc in ua("listVPCs")["vpc"]:
        for acl in ua("listNetworkACLLists", vpcid=vpc["id"])["networkacllist"]:
            owned[acl["id"]] = "networkacllist"
            for item in ua("listNetworkACLs", aclid=acl["id"])["networkacl"]:
                owned[item["id"]] = "networkacl"
    assert {"vpc", "networkacllist", "vpnconnection", "vpncustomergateway", "remoteaccessvpn", "vpnuser",
            "loadbalancer", "staticroute", "privategateway", "vpngateway"} <= set(owned.values()), owned
    # B's commands are fed the ids of A's VPC world; A's account, user, VM and volume are test_isolation's world.
    walk = {i: kind for i, kind in owned.items() if kind not in GENERIC}
    return {"domain": dom, "a": a, "b": b, "ua": ua, "ub": ub, "owned": owned, "walk": walk,
            "tags_before": ua("listTags")["count"]}


def test_b_can_not_reach_a_vpc(vpc_world: dict[str, Any]) -> None:
    test_isolation.test_b_can_not_reach_a(vpc_world)
