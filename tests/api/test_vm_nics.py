"""A VM's NICs through the signed API on an advanced simulator zone: add (plugged into the running domain),
default swap, remove, updateVmNicIp, secondary IPs (addIpToNic/removeIpFromNic, listNics)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.drivers.simulator import SimulatorDriver, reset_simulator
from tests.api.test_vm_lifecycle import build_sim_zone, deploy
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange

    z = build_sim_zone(server, tmp_path, hosts=1, network_type="Advanced")
    with server.server.runtime.db.session() as s:
        pn = PhysicalNetwork(name="nic-pnet", zone_id=z["zone_id"], vlan="100-200", state="Enabled")
        s.add(pn)
        s.flush()
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Guest"))
        r = VlanIpRange(zone_id=z["zone_id"], physical_network_id=pn.id, vlan_tag="50", gateway="192.168.2.1",
                        netmask="255.255.255.0", start_ip="192.168.2.2", end_ip="192.168.2.9")
        s.add(r)
        s.flush()
        for i in range(2, 10):
            s.add(PublicIpAddress(public_ip_address=f"192.168.2.{i}", zone_id=z["zone_id"], vlan_id=r.id))
    yield z
    for url in z["urls"]:
        reset_simulator(url)


def network(api: ApiClient, z: dict[str, Any], name: str) -> dict[str, Any]:
    off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]
    return api("createNetwork", zoneid=z["zone"], name=name, displaytext=name,  # type: ignore[no-any-return]
               networkofferingid=off["id"])["network"]


def macs_on_host(z: dict[str, Any], vm_id: str) -> list[str]:
    d = SimulatorDriver(z["urls"][0])
    d.connect()
    info = d.get_domain(vm_id)
    assert info is not None
    return [m.lower() for m in info.macs]


def test_add_swap_default_and_remove_a_nic(api: ApiClient, zone: dict[str, Any]) -> None:
    first, second = network(api, zone, "front"), network(api, zone, "back")
    vm = deploy(api, zone, networkids=first["id"])
    added = api.run("addNicToVirtualMachine", virtualmachineid=vm["id"], networkid=second["id"],
                    ipaddress="10.1.1.50")["virtualmachine"]
    nics = {n["networkid"]: n for n in added["nic"]}
    assert set(nics) == {first["id"], second["id"]}
    new = nics[second["id"]]
    assert (new["ipaddress"], new["isdefault"], new["deviceid"]) == ("10.1.1.50", False, "1")
    assert new["macaddress"] in macs_on_host(zone, vm["id"])  # plugged into the running domain
    job = api.wait(api("addNicToVirtualMachine", virtualmachineid=vm["id"], networkid=second["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresultcode"] == 530
    assert job["jobresult"]["errortext"] == (f"A NIC already exists for VM:{vm['instancename']} in network: "
                                             f"{second['id']}")
    job = api.wait(api("removeNicFromVirtualMachine", virtualmachineid=vm["id"],
                       nicid=nics[first["id"]]["id"])["jobid"])
    assert job["jobstatus"] == 2 and "nic is default" in job["jobresult"]["errortext"]

    swapped = api.run("updateDefaultNicForVirtualMachine", virtualmachineid=vm["id"], nicid=new["id"])
    after = {n["networkid"]: n for n in swapped["virtualmachine"]["nic"]}
    assert after[second["id"]]["isdefault"] is True and after[second["id"]]["deviceid"] == "0"
    assert after[first["id"]]["isdefault"] is False and after[first["id"]]["deviceid"] == "1"
    job = api.wait(api("updateDefaultNicForVirtualMachine", virtualmachineid=vm["id"], nicid=new["id"])["jobid"])
    assert job["jobresult"]["errortext"] == "refusing to set default nic because chosen nic is already the default"

    removed = api.run("removeNicFromVirtualMachine", virtualmachineid=vm["id"],
                      nicid=nics[first["id"]]["id"])["virtualmachine"]
    assert [n["networkid"] for n in removed["nic"]] == [second["id"]]
    assert nics[first["id"]]["macaddress"] not in macs_on_host(zone, vm["id"])
    assert api("listNics", virtualmachineid=vm["id"])["count"] == 1


def test_update_nic_ip_and_secondary_ips(api: ApiClient, zone: dict[str, Any]) -> None:
    net = network(api, zone, "ips")
    vm = deploy(api, zone, networkids=net["id"])
    nic = vm["nic"][0]
    job = api.wait(api("updateVmNicIp", nicid=nic["id"], ipaddress="10.1.1.99")["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == ("VM is not Stopped, unable to update the vm "
                                                                        "nic having the specified id")
    api.run("stopVirtualMachine", id=vm["id"])
    moved = api.run("updateVmNicIp", nicid=nic["id"], ipaddress="10.1.1.99")["virtualmachine"]
    assert moved["nic"][0]["ipaddress"] == "10.1.1.99"

    started = api("addIpToNic", nicid=nic["id"], ipaddress="10.1.1.100")
    sec = api.wait(started["jobid"])["jobresult"]["nicsecondaryip"]
    assert (sec["id"], sec["ipaddress"], sec["nicid"], sec["networkid"], sec["virtualmachineid"]) == \
        (started["id"], "10.1.1.100", nic["id"], net["id"], vm["id"])
    auto = api.run("addIpToNic", nicid=nic["id"])["nicsecondaryip"]
    assert auto["ipaddress"] not in ("10.1.1.99", "10.1.1.100")
    listed = api("listNics", virtualmachineid=vm["id"])["nic"][0]
    assert sorted(x["ipaddress"] for x in listed["secondaryip"]) == sorted(["10.1.1.100", auto["ipaddress"]])
    # a secondary address is taken: neither a NIC nor another secondary IP gets it
    status, err = api.error("addIpToNic", nicid=nic["id"], ipaddress="10.1.1.100")  # refused by the create phase
    assert status == 431 and err["errortext"] == "The IP address 10.1.1.100 is already in use in the network"
    other = deploy(api, zone, networkids=net["id"])
    assert other["nic"][0]["ipaddress"] not in ("10.1.1.99", "10.1.1.100", auto["ipaddress"])
    assert api.run("removeIpFromNic", id=sec["id"]) == {"success": True}
    listed = api("listNics", virtualmachineid=vm["id"], nicid=nic["id"])["nic"][0]
    assert [x["ipaddress"] for x in listed["secondaryip"]] == [auto["ipaddress"]]
    assert api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]["nic"][0]["secondaryip"][0]["id"] == auto["id"]
