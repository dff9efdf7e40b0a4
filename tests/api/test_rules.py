"""Routers and network rules on a simulator zone (records only): listRouters, firewall/egress, port forwarding,
static NAT, load balancing — shapes, conflicts (537), errors, restartNetwork/destroyRouter."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_networks import make_vm, make_zone, offering_id

pytestmark = pytest.mark.api


def _setup(server: Any) -> dict[str, Any]:
    from management.models.compute import VirtualMachine
    from management.models.network import Network
    from management.services.network import networks

    api = server.api
    z = make_zone(server)
    off = offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    net = api("createNetwork", name="net1", displaytext="n", networkofferingid=off, zoneid=z["id"])["network"]
    vms = []
    for name in ("web1", "web2"):
        vm = make_vm(server, z["dbid"])
        with server.server.runtime.db.session() as s:
            v = s.get(VirtualMachine, vm.id)
            v.name = name
            v.state = "Running"
            networks.allocate_nics(s, v, [s.query(Network).filter_by(uuid=net["id"]).one()])
            vms.append(v.uuid)
    snat = api("listPublicIpAddresses", associatednetworkid=net["id"], issourcenat=True)["publicipaddress"][0]
    return {"zone": z, "net": net, "vms": vms, "snat": snat}


def test_router_record_and_lifecycle(server: Any) -> None:
    api = server.api
    env = _setup(server)
    routers = api("listRouters", networkid=env["net"]["id"])["router"]
    assert len(routers) == 1
    r = routers[0]
    assert r["name"].startswith("r-") and r["name"].endswith("-VM") and r["state"] == "Running"
    assert r["guestnetworkid"] == env["net"]["id"] and r["publicip"] == env["snat"]["ipaddress"]
    assert r["guestipaddress"] == "10.1.1.1" and r["role"] == "VIRTUAL_ROUTER" and r["zoneid"] == env["zone"]["id"]
    assert r["account"] == "admin"
    assert api("listVirtualMachines", listall=True).get("count", 0) == 2  # routers are not user VMs
    assert api.run("stopRouter", id=r["id"])["router"]["state"] == "Stopped"
    assert api.run("startRouter", id=r["id"])["router"]["state"] == "Running"
    assert api.run("rebootRouter", id=r["id"])["router"]["state"] == "Running"
    api.run("destroyRouter", id=r["id"])
    assert api("listRouters", networkid=env["net"]["id"]) == {}
    assert api("listNetworks", id=env["net"]["id"])["network"][0]["state"] == "Shutdown"
    api.run("restartNetwork", id=env["net"]["id"], cleanup=True)
    assert api("listNetworks", id=env["net"]["id"])["network"][0]["state"] == "Implemented"
    assert len(api("listRouters", networkid=env["net"]["id"])["router"]) == 1


def test_firewall_port_forwarding_and_conflicts(server: Any) -> None:
    api = server.api
    env = _setup(server)
    ip = env["snat"]["id"]
    fw = api.run("createFirewallRule", ipaddressid=ip, protocol="tcp", startport=22, endport=22,
                 cidrlist="0.0.0.0/0")["firewallrule"]
    assert fw["protocol"] == "tcp" and fw["startport"] == 22 and fw["endport"] == 22 and fw["state"] == "Active"
    assert fw["ipaddress"] == env["snat"]["ipaddress"] and fw["cidrlist"] == "0.0.0.0/0"
    status, body = api.error("createFirewallRule", ipaddressid=ip, protocol="tcp", startport=20, endport=30)
    assert status == 537, body
    status, _ = api.error("createFirewallRule", ipaddressid=ip, protocol="tcp", startport=30, endport=20)
    assert status == 431
    pf = api.run("createPortForwardingRule", ipaddressid=ip, protocol="tcp", publicport=2222, privateport=22,
                 virtualmachineid=env["vms"][0], openfirewall=False)["portforwardingrule"]
    assert pf["publicport"] == "2222" and pf["privateport"] == "22" and pf["publicendport"] == "2222"
    assert pf["virtualmachineid"] == env["vms"][0] and pf["vmguestip"] == "10.1.1.2" and pf["state"] == "Active"
    status, _ = api.error("createPortForwardingRule", ipaddressid=ip, protocol="tcp", publicport=2222,
                          privateport=80, virtualmachineid=env["vms"][1])
    assert status == 537
    # openfirewall=true (the default) opens its own firewall rule; deleting the PF rule closes it
    pf2 = api.run("createPortForwardingRule", ipaddressid=ip, protocol="tcp", publicport=8080, privateport=80,
                  virtualmachineid=env["vms"][1])["portforwardingrule"]
    fws = api("listFirewallRules", ipaddressid=ip)["firewallrule"]
    assert {(f["startport"], f["endport"]) for f in fws} == {(22, 22), (8080, 8080)}
    up = api.run("updatePortForwardingRule", id=pf2["id"], privateport=8000)["portforwardingrule"]
    assert up["privateport"] == "8000"
    up = api.run("updatePortForwardingRule", id=pf2["id"], cidrlist="198.51.100.0/24,203.0.113.7/32")
    assert up["portforwardingrule"]["cidrlist"] == "198.51.100.0/24,203.0.113.7/32"
    assert api("listPortForwardingRules", ipaddressid=ip)["count"] == 2
    api.run("deletePortForwardingRule", id=pf2["id"])
    assert api("listFirewallRules", ipaddressid=ip)["count"] == 1
    api.run("deleteFirewallRule", id=fw["id"])
    assert api("listFirewallRules", ipaddressid=ip) == {}
    job = api.wait(api("deleteFirewallRule", id=pf["id"])["jobid"])  # a PF rule is not a firewall rule
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431
    # egress
    eg = api.run("createEgressFirewallRule", networkid=env["net"]["id"], protocol="tcp", startport=80,
                 endport=80, destcidrlist="10.0.0.0/8")["firewallrule"]
    assert eg["traffictype"] == "Egress" and eg["destcidrlist"] == "10.0.0.0/8"
    assert api("listEgressFirewallRules", networkid=env["net"]["id"])["count"] == 1
    api.run("deleteEgressFirewallRule", id=eg["id"])
    assert api("listEgressFirewallRules", networkid=env["net"]["id"]) == {}


def test_static_nat_and_load_balancer(server: Any) -> None:
    api = server.api
    env = _setup(server)
    ip2 = api.run("associateIpAddress", networkid=env["net"]["id"])["ipaddress"]
    assert api("enableStaticNat", ipaddressid=ip2["id"], virtualmachineid=env["vms"][0])["success"] is True
    got = api("listPublicIpAddresses", id=ip2["id"])["publicipaddress"][0]
    assert got["isstaticnat"] is True and got["virtualmachineid"] == env["vms"][0] and got["vmipaddress"] == "10.1.1.2"
    fwd = api("listIpForwardingRules")["ipforwardingrule"]
    assert fwd[0]["ipaddress"] == ip2["ipaddress"] and fwd[0]["virtualmachineid"] == env["vms"][0]
    assert (fwd[0]["startport"], fwd[0]["endport"]) == (1, 65535)  # libcloud's list_nodes reads both
    vm = api("listVirtualMachines", id=env["vms"][0])["virtualmachine"][0]
    assert vm["publicip"] == ip2["ipaddress"] and vm["publicipid"] == ip2["id"]
    assert "publicip" not in api("listVirtualMachines", id=env["vms"][1])["virtualmachine"][0]
    pn = api("listPhysicalNetworks", zoneid=env["zone"]["id"])["physicalnetwork"]
    assert got["physicalnetworkid"] in {p["id"] for p in pn}
    status, _ = api.error("createPortForwardingRule", ipaddressid=ip2["id"], protocol="tcp", publicport=22,
                          privateport=22, virtualmachineid=env["vms"][0])
    assert status == 537
    status, _ = api.error("enableStaticNat", ipaddressid=env["snat"]["id"], virtualmachineid=env["vms"][1])
    assert status == 431
    api.run("disableStaticNat", ipaddressid=ip2["id"])
    assert api("listPublicIpAddresses", id=ip2["id"])["publicipaddress"][0]["isstaticnat"] is False
    assert "publicip" not in api("listVirtualMachines", id=env["vms"][0])["virtualmachine"][0]

    lb = api.run("createLoadBalancerRule", publicipid=env["snat"]["id"], name="web", algorithm="roundrobin",
                 publicport=80, privateport=8000)["loadbalancer"]
    assert lb["name"] == "web" and lb["publicport"] == "80" and lb["privateport"] == "8000"
    assert lb["algorithm"] == "roundrobin" and lb["publicip"] == env["snat"]["ipaddress"]
    api.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=",".join(env["vms"]))
    inst = api("listLoadBalancerRuleInstances", id=lb["id"])["loadbalancerruleinstance"]
    assert {i["id"] for i in inst} == set(env["vms"])
    assert api("listLoadBalancerRules", id=lb["id"])["loadbalancerrule"][0]["state"] == "Active"
    assert api.run("updateLoadBalancerRule", id=lb["id"], algorithm="leastconn")["loadbalancer"]["algorithm"] == \
        "leastconn"
    status, _ = api.error("createLoadBalancerRule", publicipid=env["snat"]["id"], name="x", algorithm="bogus",
                          publicport=81, privateport=80)
    assert status == 431
    status, _ = api.error("createPortForwardingRule", ipaddressid=env["snat"]["id"], protocol="tcp",
                          publicport=80, privateport=22, virtualmachineid=env["vms"][0])
    assert status == 537
    api.run("removeFromLoadBalancerRule", id=lb["id"], virtualmachineids=env["vms"][0])
    inst = api("listLoadBalancerRuleInstances", id=lb["id"])["loadbalancerruleinstance"]
    assert [i["id"] for i in inst] == [env["vms"][1]]
    api.run("deleteLoadBalancerRule", id=lb["id"])
    assert api("listLoadBalancerRules") == {}


def test_security_groups_records(server: Any) -> None:
    api = server.api
    groups = api("listSecurityGroups")["securitygroup"]
    assert [g["name"] for g in groups] == ["default"]
    sg = api("createSecurityGroup", name="web", description="web servers")["securitygroup"]
    assert sg["name"] == "web" and sg["ingressrule"] == [] and sg["account"] == "admin"
    status, _ = api.error("createSecurityGroup", name="web")
    assert status == 431
    got = api.run("authorizeSecurityGroupIngress", securitygroupid=sg["id"], protocol="tcp", startport=22,
                  endport=22, cidrlist="0.0.0.0/0")["securitygroup"]
    rule = got["ingressrule"][0]
    assert rule["protocol"] == "tcp" and rule["startport"] == 22 and rule["cidr"] == "0.0.0.0/0"
    got = api.run("authorizeSecurityGroupIngress", securitygroupname="web", protocol="icmp", icmptype=-1,
                  icmpcode=-1, **{"usersecuritygrouplist[0].account": "admin",
                                  "usersecuritygrouplist[0].group": "default"})["securitygroup"]
    assert got["ingressrule"][0]["securitygroupname"] == "default"
    api.run("authorizeSecurityGroupEgress", securitygroupid=sg["id"], protocol="udp", startport=53, endport=53,
            cidrlist="10.0.0.0/8")
    listed = api("listSecurityGroups", securitygroupname="web")["securitygroup"][0]
    assert len(listed["ingressrule"]) == 2 and len(listed["egressrule"]) == 1
    api.run("revokeSecurityGroupIngress", id=rule["ruleid"])
    assert len(api("listSecurityGroups", id=sg["id"])["securitygroup"][0]["ingressrule"]) == 1
    default = next(g for g in groups if g["name"] == "default")
    status, _ = api.error("deleteSecurityGroup", id=default["id"])
    assert status == 431
    assert api("deleteSecurityGroup", id=sg["id"])["success"] is True


def test_disassociate_ip_revokes_its_rules_and_static_nat(server: Any) -> None:
    api = server.api
    env = _setup(server)
    ip = api.run("associateIpAddress", networkid=env["net"]["id"])["ipaddress"]
    api.run("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=22, endport=22)
    api.run("createPortForwardingRule", ipaddressid=ip["id"], protocol="tcp", publicport=2222, privateport=22,
            virtualmachineid=env["vms"][0])
    lb = api.run("createLoadBalancerRule", publicipid=ip["id"], name="lb", algorithm="roundrobin", publicport=80,
                 privateport=80)["loadbalancer"]
    api.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=env["vms"][1])
    ip2 = api.run("associateIpAddress", networkid=env["net"]["id"])["ipaddress"]
    api("enableStaticNat", ipaddressid=ip2["id"], virtualmachineid=env["vms"][1])
    for i in (ip, ip2):
        api.run("disassociateIpAddress", id=i["id"])
    assert api("listFirewallRules", ipaddressid=ip["id"]) == {}
    assert api("listPortForwardingRules", ipaddressid=ip["id"]) == {}
    assert api("listLoadBalancerRules", publicipid=ip["id"]) == {}
    left = {i["ipaddress"] for i in api("listPublicIpAddresses", associatednetworkid=env["net"]["id"])
            .get("publicipaddress", [])}
    assert left == {env["snat"]["ipaddress"]}
    # the released (formerly static-NAT) address is free again and carries nothing
    again = api.run("associateIpAddress", networkid=env["net"]["id"], ipaddress=ip2["ipaddress"])["ipaddress"]
    assert not again["isstaticnat"] and again.get("virtualmachineid") is None


def test_deploy_joins_security_groups_in_a_basic_zone(server: Any, tmp_path: Any) -> None:
    from management.models.infra import Zone
    from tests.api.test_vm_lifecycle import build_sim_zone, deploy

    api = server.api
    z = build_sim_zone(server, tmp_path, hosts=1)
    with server.server.runtime.db.session() as s:
        s.get(Zone, z["zone_id"]).security_groups_enabled = True
        s.commit()
    web = api("createSecurityGroup", name="web")["securitygroup"]
    vm = deploy(api, z, securitygroupnames="web")
    assert [g["name"] for g in vm["securitygroup"]] == ["web"]
    vm2 = deploy(api, z)  # none given: the account's default group
    assert [g["name"] for g in vm2["securitygroup"]] == ["default"]
    listed = api("listSecurityGroups", id=web["id"])["securitygroup"][0]
    assert listed["virtualmachinecount"] == 1 and listed["virtualmachineids"] == [vm["id"]]
    status, _ = api.error("deployVirtualMachine", serviceofferingid=z["small"], zoneid=z["zone"],
                          templateid=z["template"], securitygroupnames="nosuchgroup")
    assert status == 431
    status, _ = api.error("deployVirtualMachine", serviceofferingid=z["small"], zoneid=z["zone"],
                          templateid=z["template"], securitygroupnames="web", securitygroupids=web["id"])
    assert status == 431
    status, _ = api.error("deleteSecurityGroup", id=web["id"])
    assert status == 536
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    assert api("deleteSecurityGroup", id=web["id"])["success"] is True
