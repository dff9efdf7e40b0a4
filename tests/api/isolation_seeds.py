"""What the isolation walker's account A owns beyond what blind create calls give it: real objects of the network
family (a network with a load balancer rule, an autoscale VM group with its member, conditions, policies, a VM
profile, a CNI configuration, a ROUTED network with an AS number), so that B's calls are fed their ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import ApiClient, InProcess


def seed_network_family(server: InProcess, tmp_path: Path, a: dict[str, Any]) -> Iterator[None]:
    from tests.api.test_autoscale import advanced_sim_zone

    api = server.api
    ua = api.client_for(a)
    for z in advanced_sim_zone(server, tmp_path):
        _seed(api, ua, z)
        yield


def _seed(api: ApiClient, ua: ApiClient, z: dict[str, Any]) -> None:
    api("updateConfiguration", name="autoscale.stats.interval", value="0")
    off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
        "networkoffering"][0]["id"]
    net = ua("createNetwork", name="a-net", networkofferingid=off, zoneid=z["zone"])["network"]
    ip = ua.run("associateIpAddress", networkid=net["id"])["ipaddress"]
    lb = ua.run("createLoadBalancerRule", publicipid=ip["id"], name="a-lb", algorithm="roundrobin", publicport=80,
                privateport=8080)["loadbalancer"]
    ua.run("createLBStickinessPolicy", lbruleid=lb["id"], name="a-st", methodname="SourceBased")
    ua.run("createLBHealthCheckPolicy", lbruleid=lb["id"], pingpath="/a")
    cpu = next(c["id"] for c in ua("listCounters", source="cpu")["counter"])
    up_c = ua.run("createCondition", counterid=cpu, relationaloperator="GT", threshold=80)["condition"]
    down_c = ua.run("createCondition", counterid=cpu, relationaloperator="LT", threshold=10)["condition"]
    up = ua.run("createAutoScalePolicy", action="ScaleUp", duration=60, conditionids=up_c["id"])["autoscalepolicy"]
    down = ua.run("createAutoScalePolicy", action="ScaleDown", duration=60, conditionids=down_c["id"])[
        "autoscalepolicy"]
    prof = ua.run("createAutoScaleVmProfile", zoneid=z["zone"], serviceofferingid=z["small"],
                  templateid=z["template"])["autoscalevmprofile"]
    ua.run("createAutoScaleVmGroup", lbruleid=lb["id"], minmembers=1, maxmembers=2, scaleuppolicyids=up["id"],
           scaledownpolicyids=down["id"], vmprofileid=prof["id"])
    ua("registerCniConfiguration", name="a-cni", cniconfig="e30=")
    # a ROUTED network with Dynamic routing: its guest subnet and AS number are A's
    services = "Dhcp,Dns,Firewall,UserData"
    providers = {k: v for i, svc in enumerate(services.split(",")) for k, v in (
        (f"serviceproviderlist[{i}].service", svc), (f"serviceproviderlist[{i}].provider", "VirtualRouter"))}
    routed = api("createNetworkOffering", name="iso-routed", displaytext="r", guestiptype="Isolated",
                 traffictype="Guest", supportedservices=services, networkmode="ROUTED", routingmode="Dynamic",
                 enable=True, **providers)["networkoffering"]
    api.run("createIpv4SubnetForZone", zoneid=z["zone"], subnet="100.72.0.0/24")
    api("createASNRange", zoneid=z["zone"], startasn=64700, endasn=64701)
    rnet = ua("createNetwork", name="a-routed", networkofferingid=routed["id"], zoneid=z["zone"],
              cidrsize=28)["network"]
    ua.run("createRoutingFirewallRule", networkid=rnet["id"], protocol="tcp", startport=22)
