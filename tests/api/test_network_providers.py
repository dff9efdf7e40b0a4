"""Network discovery and provider commands: supported services and capabilities, traffic type implementors,
isolation methods, protocol numbers, adding/removing network service providers, virtual router and OVS elements,
traffic type labels, and the commands whose appliance cannot exist here (network devices, traffic monitors,
global load balancing), which answer as a CloudStack without that appliance does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_networks import make_zone

pytestmark = pytest.mark.api


def test_supported_services_describe_the_router(server: Any) -> None:
    api = server.api
    services = {s["name"]: s for s in api("listSupportedNetworkServices")["networkservice"]}
    assert {"Dhcp", "Dns", "SourceNat", "Lb", "Firewall", "StaticNat", "PortForwarding", "UserData",
            "SecurityGroup"} <= set(services)
    lb = {c["name"]: c["value"] for c in services["Lb"]["capability"]}
    assert lb["SupportedProtocols"] == "tcp" and lb["SupportedLBAlgorithms"] == "roundrobin,leastconn,source"
    methods = {m["methodName"] for m in json.loads(lb["SupportedStickinessMethods"])}
    assert methods == {"LbCookie", "AppCookie", "SourceBased"}
    vr = api("listSupportedNetworkServices", provider="VirtualRouter")["networkservice"]
    assert "SecurityGroup" not in {s["name"] for s in vr}
    assert api("listSupportedNetworkServices", provider="Netscaler") == {}  # known, not implemented here
    status, err = api.error("listSupportedNetworkServices", provider="NoSuchThing")
    assert status == 431 and err["errortext"] == "Invalid Network Service Provider=NoSuchThing"
    only = api("listSupportedNetworkServices", service="Firewall")
    assert only["count"] == 1 and only["networkservice"][0]["provider"] == [{"name": "VirtualRouter"}]


def test_implementors_isolation_methods_and_protocols(server: Any) -> None:
    api = server.api
    impl = api("listTrafficTypeImplementors", traffictype="Guest")["traffictypeimplementor"]
    assert {i["traffictype"] for i in impl} == {"Guest"} and len(impl) >= 2
    assert api("listTrafficTypeImplementors")["count"] > len(impl)
    methods = [m["name"] for m in api("listNetworkIsolationMethods")["isolationmethod"]]
    assert "VLAN" in methods
    paged = api("listNetworkIsolationMethods", page=1, pagesize=2)
    assert paged["count"] == len(methods) and len(paged["isolationmethod"]) == 2
    protos = {p["index"]: p for p in api("listNetworkProtocols", option="protocolnumber")["networkprotocol"]}
    assert protos[6]["name"] == "TCP" and protos[17]["name"] == "UDP" and protos[58]["name"] == "IPv6-ICMP"
    icmp = {p["index"]: p for p in api("listNetworkProtocols", option="icmptype")["networkprotocol"]}
    assert icmp[3]["description"] == "Destination Unreachable" and icmp[3]["details"]["3"] == "Port Unreachable"
    status, _ = api.error("listNetworkProtocols", option="colours")
    assert status == 431
    status, err = api.error("listNetworkProtocols")
    assert status == 431 and "missing parameter option" in err["errortext"]


def test_add_and_delete_network_service_providers(server: Any) -> None:
    api = server.api
    z = make_zone(server)
    pn = api("listPhysicalNetworks", zoneid=z["id"])["physicalnetwork"][0]["id"]
    status, err = api.error("addNetworkServiceProvider", physicalnetworkid=pn, name="Netscaler")
    assert status == 431
    assert err["errortext"] == "Unable to find the Network Element implementing the Service Provider 'Netscaler'"
    status, err = api.error("addNetworkServiceProvider", physicalnetworkid=pn, name="Frobnicator")
    assert status == 431 and err["errortext"] == "Invalid Network Service Provider=Frobnicator"
    nsp = api.run("addNetworkServiceProvider", physicalnetworkid=pn, name="Ovs")["networkserviceprovider"]
    assert nsp["name"] == "Ovs" and nsp["state"] == "Disabled" and nsp["physicalnetworkid"] == pn
    status, err = api.error("addNetworkServiceProvider", physicalnetworkid=pn, name="Ovs")
    assert status == 431 and "already exists on physical network" in err["errortext"]
    ovs = api("listOvsElements", nspid=nsp["id"])["ovselement"]
    assert len(ovs) == 1 and ovs[0]["enabled"] is False
    assert api.run("configureOvsElement", id=ovs[0]["id"], enabled=True)["ovselement"]["enabled"] is True
    assert api("listOvsElements", enabled=True)["count"] == 1
    api.run("deleteNetworkServiceProvider", id=nsp["id"])
    assert api("listOvsElements") == {}
    left = api("listNetworkServiceProviders", physicalnetworkid=pn).get("networkserviceprovider", [])
    assert "Ovs" not in {p["name"] for p in left}


def test_virtual_router_element_and_traffic_type_labels(server: Any) -> None:
    api = server.api
    z = make_zone(server)
    pn = api("createPhysicalNetwork", zoneid=z["id"], name="pn2")
    job = api.wait(pn["jobid"])
    assert job["jobstatus"] == 1
    vr = api("listNetworkServiceProviders", physicalnetworkid=pn["id"], name="VirtualRouter")
    nsp = vr["networkserviceprovider"][0]["id"]
    status, err = api.error("createVirtualRouterElement", nspid=nsp)  # created with the physical network
    assert status == 431 and "already a virtual router element" in err["errortext"]
    el = api.run("createVirtualRouterElement", nspid=nsp, providertype="VPCVirtualRouter")["virtualrouterelement"]
    assert el["nspid"] == nsp and el["enabled"] is False
    tt = api.run("addTrafficType", physicalnetworkid=pn["id"], traffictype="Guest")["traffictype"]
    out = api.run("updateTrafficType", id=tt["id"], kvmnetworklabel="cloudbr1", hypervnetworklabel="vSwitch1")
    assert out["traffictype"]["kvmnetworklabel"] == "cloudbr1"
    assert out["traffictype"]["hypervnetworklabel"] == "vSwitch1"
    listed = api("listTrafficTypes", physicalnetworkid=pn["id"])["traffictype"][0]
    assert listed["kvmnetworklabel"] == "cloudbr1"


def test_absent_appliances_answer_as_cloudstack_without_them(server: Any) -> None:
    api = server.api
    z = make_zone(server)
    status, err = api.error("addNetworkDevice", networkdevicetype="PxeServer")
    assert (status, err["errortext"]) == (530, "Parameter list is null")
    status, err = api.error("addNetworkDevice", networkdevicetype="F5BigIpLoadBalancer",
                            **{"networkdeviceparameterlist[0].zoneid": z["id"]})
    assert status == 530 and err["errortext"] == "Unsupported network device type:F5BigIpLoadBalancer"
    assert api("listNetworkDevice", networkdevicetype="ExternalDhcp",
               **{"networkdeviceparameterlist[0].zoneid": z["id"]}) == {}
    assert api("listTrafficMonitors", zoneid=z["id"]) == {}
    status, err = api.error("addTrafficMonitor", zoneid=z["id"], url="http://127.0.0.1:7/ts")
    assert status == 530 and err["errortext"] == "Unable to find the server resources at http://127.0.0.1:7/ts"
    assert api("listGlobalLoadBalancerRules") == {}
    status, err = api.error("createGlobalLoadBalancerRule", name="g", regionid=1, gslbdomainname="app.example.org",
                            gslbservicetype="http")
    assert (status, err["errortext"]) == (530, "GSLB service is not enabled in region : Local")
    status, err = api.error("createGlobalLoadBalancerRule", name="g", regionid=1, gslbdomainname="app.example.org",
                            gslbservicetype="smtp")
    assert (status, err["errortext"]) == (431, "Invalid service type: smtp")
    status, _ = api.error("deleteGlobalLoadBalancerRule", id="7d2c2d3e-0000-4000-8000-000000000000")
    assert status == 431
    user = api.client_for(api.new_account())
    assert user("listGlobalLoadBalancerRules") == {}
    status, _ = user.error("listTrafficMonitors", zoneid=z["id"])
    assert status == 401  # an admin command
