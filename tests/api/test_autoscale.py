"""Autoscale through the API on simulator hosts: counters, conditions, policies, VM profiles and VM groups with
CloudStack's checks; a group on a load balancer rule deploys its minimum members for real (deploy service,
simulator domains), and the engine — driven here with its own clock — scales up when the members' CPU load (the
simulated domains' vm_stats) holds above the threshold for the policy's duration, rests for the quiet time, never
grows past the maximum and scales down when the load drops."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from management.db.base import utcnow
from management.drivers.simulator import set_vm_load
from tests.api.test_public_ip_lifecycle import failure
from tests.api.test_vm_lifecycle import sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


def advanced_sim_zone(server: InProcess, tmp_path: Path, **kw: Any) -> Iterator[dict[str, Any]]:
    """An advanced simulator zone (one host unless ``hosts=``; ``kw`` as for sim_zone) with a guest VLAN range and
    a public range."""
    import ipaddress

    from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange, Zone

    for z in sim_zone(server, tmp_path, **{"network_type": "Advanced", "hosts": 1, **kw}):
        with server.server.runtime.db.session() as s:
            row = s.query(Zone).filter_by(uuid=z["zone"]).one()
            row.guest_cidr = "10.9.0.0/24"
            pn = PhysicalNetwork(name="pn", zone_id=row.id, vlan="300-310", state="Enabled", isolation_methods="VLAN")
            s.add(pn)
            s.flush()
            s.add(TrafficType(physical_network_id=pn.id, traffic_type="Guest"))
            r = VlanIpRange(zone_id=row.id, physical_network_id=pn.id, vlan_tag="vlan://untagged",
                            gateway="198.51.100.1", netmask="255.255.255.0", start_ip="198.51.100.10",
                            end_ip="198.51.100.20")
            s.add(r)
            s.flush()
            for n in range(10, 21):
                s.add(PublicIpAddress(public_ip_address=str(ipaddress.IPv4Address(f"198.51.100.{n}")),
                                      zone_id=row.id, vlan_id=r.id, physical_network_id=pn.id))
        yield z


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from advanced_sim_zone(server, tmp_path)


def _cpu(api: ApiClient) -> str:
    return next(c["id"] for c in api("listCounters", source="cpu")["counter"] if c["provider"] == "VirtualRouter")


def test_counters_conditions_and_policies(server: InProcess, api: ApiClient) -> None:
    counters = api("listCounters")["counter"]
    assert {c["value"] for c in counters} >= {"vm.cpu.average.percentage", "vm.memory.average.percentage",
                                              "virtual.network.lb.average.connections"}
    user = api.new_account()
    u = api.client_for(user)
    assert u.error("createCounter", name="x", source="cpu", value="v", provider="VirtualRouter")[0] == 401
    code, text = failure(api, "createCounter", name="x", source="disk", value="v", provider="VirtualRouter")
    assert (code, text) == (431, "Source disk is not supported; supported: CPU, MEMORY, VIRTUALROUTER, NETSCALER, "
                                 "SNMP")
    mine = api.run("createCounter", name="snmp-load", source="snmp", value="1.3.6.1.4.1.2021.10.1.3.1",
                   provider="netscaler")["counter"]
    assert (mine["source"], mine["provider"]) == ("SNMP", "Netscaler")
    cond = u.run("createCondition", counterid=_cpu(api), relationaloperator="gt", threshold=70)["condition"]
    assert (cond["relationaloperator"], cond["threshold"], cond["account"]) == ("GT", 70, user["name"])
    assert cond["counter"]["value"] == "vm.cpu.average.percentage"
    code, text = failure(u, "createCondition", counterid=_cpu(api), relationaloperator="NE", threshold=1)
    assert (code, text) == (431, "The Operator NE is not supported; supported: GT, GE, LT, LE, EQ")
    pol = u.run("createAutoScalePolicy", action="scaleup", duration=60, conditionids=cond["id"])["autoscalepolicy"]
    assert (pol["action"], pol["duration"], pol["quiettime"]) == ("ScaleUp", 60, 300)
    assert [c["id"] for c in pol["conditions"]] == [cond["id"]]
    assert u("listAutoScalePolicies", conditionid=cond["id"])["autoscalepolicy"][0]["id"] == pol["id"]
    code, text = failure(u, "deleteCondition", id=cond["id"])
    assert (code, text) == (431, "Cannot delete Condition when it is in use by one or more AutoScale Policies.")
    code, text = failure(api, "deleteCounter", id=_cpu(api))
    assert code == 431 and text.startswith("Counter is in use by condition")
    upd = u.run("updateAutoScalePolicy", id=pol["id"], duration=120, quiettime=30)["autoscalepolicy"]
    assert (upd["duration"], upd["quiettime"]) == (120, 30)
    u.run("updateCondition", id=cond["id"], relationaloperator="GE", threshold=80)
    assert u("listConditions", id=cond["id"])["condition"][0]["threshold"] == 80
    other = api.client_for(api.new_account())
    assert other.error("deleteAutoScalePolicy", id=pol["id"])[0] == 531
    assert other("listConditions") == {}
    u.run("deleteAutoScalePolicy", id=pol["id"])
    u.run("deleteCondition", id=cond["id"])
    api.run("deleteCounter", id=mine["id"])
    assert u("listAutoScalePolicies") == {}


def test_vm_group_scales_on_cpu_load(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    from management.services.compute import autoscale

    runtime = server.server.runtime
    api("updateConfiguration", name="autoscale.stats.interval", value="0")  # this test drives the engine's clock
    off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
        "networkoffering"][0]["id"]
    net = api("createNetwork", name="web", networkofferingid=off, zoneid=zone["zone"])["network"]
    ip = api.run("associateIpAddress", networkid=net["id"])["ipaddress"]
    lb = api.run("createLoadBalancerRule", publicipid=ip["id"], name="web", algorithm="roundrobin", publicport=80,
                 privateport=8080)["loadbalancer"]
    cpu = _cpu(api)
    hot = api.run("createCondition", counterid=cpu, relationaloperator="GT", threshold=70)["condition"]
    cold = api.run("createCondition", counterid=cpu, relationaloperator="LT", threshold=20)["condition"]
    up = api.run("createAutoScalePolicy", action="ScaleUp", duration=60, quiettime=120,
                 conditionids=hot["id"])["autoscalepolicy"]
    down = api.run("createAutoScalePolicy", action="ScaleDown", duration=60, quiettime=0,
                   conditionids=cold["id"])["autoscalepolicy"]
    prof = api.run("createAutoScaleVmProfile", zoneid=zone["zone"], serviceofferingid=zone["small"],
                   templateid=zone["template"], expungevmgraceperiod=30,
                   **{"otherdeployparams[0].name": "keypairs", "otherdeployparams[0].value": ""})[
        "autoscalevmprofile"]
    assert prof["expungevmgraceperiod"] == 30
    code, text = failure(api, "createAutoScaleVmGroup", lbruleid=lb["id"], minmembers=2, maxmembers=1,
                         scaleuppolicyids=up["id"], scaledownpolicyids=down["id"], vmprofileid=prof["id"])
    assert (code, text) == (431, "maxmembers should be greater than or equal to minmembers: 1 < 2")
    code, text = failure(api, "createAutoScaleVmGroup", lbruleid=lb["id"], minmembers=1, maxmembers=2,
                         scaleuppolicyids=down["id"], scaledownpolicyids=down["id"], vmprofileid=prof["id"])
    assert (code, text) == (431, "Only ScaleUp policies can be specified in scaleuppolicyids")
    # the group deploys its minimum member and puts it behind the rule
    group = api.run("createAutoScaleVmGroup", lbruleid=lb["id"], name="web", minmembers=1, maxmembers=2,
                    interval=30, scaleuppolicyids=up["id"], scaledownpolicyids=down["id"],
                    vmprofileid=prof["id"])["autoscalevmgroup"]
    assert (group["state"], group["availablevirtualmachinecount"], group["publicip"]) == \
        ("enabled", 1, ip["ipaddress"])
    assert [p["id"] for p in group["scaleuppolicies"]] == [up["id"]]

    def members() -> list[dict[str, Any]]:
        rows = api("listLoadBalancerRuleInstances", id=lb["id"]).get("loadbalancerruleinstance", [])
        return sorted(rows, key=lambda r: r["name"])

    first = members()
    assert [m["name"] for m in first] == ["autoScaleVm-web-1"] and first[0]["state"] == "Running"
    assert api("listNetworks", id=net["id"])["network"][0]["supportsvmautoscaling"] is True

    def load(vm_id: str, cpu_percent: float) -> None:
        set_vm_load(zone["urls"][0], vm_id, cpu_percent=cpu_percent)

    t = utcnow() + timedelta(hours=1)
    load(first[0]["id"], 90)
    assert autoscale.run_once(runtime, t)  # one sample: the duration (60 s = 2 rounds) is not covered yet
    assert len(members()) == 1
    assert autoscale.run_once(runtime, t + timedelta(seconds=10)) == {}  # interval (30 s) not elapsed
    t += timedelta(seconds=30)
    assert list(autoscale.run_once(runtime, t).values()) == ["ScaleUp"]
    now = members()
    assert [m["name"] for m in now] == ["autoScaleVm-web-1", "autoScaleVm-web-2"]
    assert all(m["state"] == "Running" for m in now)
    for m in now:
        load(m["id"], 95)
    # at the maximum: no further scale-up, whatever the load
    for _ in range(4):
        t += timedelta(seconds=30)
        assert list(autoscale.run_once(runtime, t).values()) == [None]
    assert len(members()) == 2
    # an enabled group refuses changes to its bounds; a disabled one takes them and does not scale
    code, text = failure(api, "updateAutoScaleVmGroup", id=group["id"], maxmembers=3)
    assert (code, text) == (431, "An AutoScale Vm Group can be updated only when it is in disabled state")
    assert api.run("disableAutoScaleVmGroup", id=group["id"])["autoscalevmgroup"]["state"] == "disabled"
    assert api.run("updateAutoScaleVmGroup", id=group["id"], maxmembers=3)["autoscalevmgroup"]["maxmembers"] == 3
    t += timedelta(seconds=30)
    assert autoscale.run_once(runtime, t) == {}
    assert api.run("enableAutoScaleVmGroup", id=group["id"])["autoscalevmgroup"]["state"] == "enabled"
    code, text = failure(api, "enableAutoScaleVmGroup", id=group["id"])
    assert (code, text) == (431, "Only a AutoScale Vm Group which is in Disabled state can be enabled.")
    # load drops: after the duration the newest member leaves the rule and is destroyed
    for m in now:
        load(m["id"], 5)
    results = []
    for _ in range(3):
        t += timedelta(seconds=30)
        results += list(autoscale.run_once(runtime, t).values())
    assert "ScaleDown" in results
    assert [m["name"] for m in members()] == ["autoScaleVm-web-1"]
    gone = api("listVirtualMachines", id=now[1]["id"])["virtualmachine"][0]
    assert gone["state"] == "Destroyed"
    # never below the minimum
    for _ in range(3):
        t += timedelta(seconds=30)
        assert list(autoscale.run_once(runtime, t).values()) == [None]
    assert len(members()) == 1
    code, text = failure(api, "deleteAutoScalePolicy", id=up["id"])
    assert (code, text) == (431, "Cannot delete AutoScale Policy when it is in use by one or more AutoScale Vm "
                                 "Groups.")
    code, text = failure(api, "deleteAutoScaleVmGroup", id=group["id"])
    assert (code, text) == (431, "Cannot delete AutoScale Vm Group as it has Vms; delete it with cleanup=true")
    api.run("deleteAutoScaleVmGroup", id=group["id"], cleanup=True)
    assert api("listAutoScaleVmGroups") == {}
    assert members() == []
    assert api("listVirtualMachines", id=now[0]["id"])["virtualmachine"][0]["state"] == "Destroyed"
    api.run("deleteAutoScaleVmProfile", id=prof["id"])
    api.run("deleteAutoScalePolicy", id=up["id"])
