"""The inventory as CloudStack has it: Marvin's deployDataCenter call order on the simulator, response shapes the
clients read, failure cases, the host monitor, and capacity figures."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.conftest import ApiClient, wait_for

pytestmark = pytest.mark.api


def _one(resp: dict[str, Any], key: str) -> dict[str, Any]:
    v = resp[key]
    return v[0] if isinstance(v, list) else v


def deploy_zone(api: ApiClient, name: str = "Sandbox-simulator", hosts: int = 2,
                tag: str | None = None, store: str = "SS0") -> dict[str, Any]:
    """deployDataCenter.py's order over 8096, up to updateZone allocationstate=Enabled and listHosts state=Up."""
    i = api.integration_api
    tag = tag or secrets.token_hex(3)
    for name_, value in (("expunge.delay", "60"), ("expunge.interval", "60"), ("instance.name", "QA"),
                         ("vm.allocation.algorithm", "random"), ("network.gc.interval", "60")):
        assert i("updateConfiguration", name=name_, value=value)["configuration"]["value"] == value
    z = i("createZone", name=name, networktype="Advanced", dns1="10.147.28.6", internaldns1="10.147.28.6",
          guestcidraddress="10.1.1.0/24")["zone"]
    assert z["allocationstate"] == "Disabled" and z["networktype"] == "Advanced"
    started = i("createPhysicalNetwork", zoneid=z["id"], name="Sandbox-pnet", isolationmethods="VLAN",
                vlan="100-200")
    assert set(started) == {"id", "jobid"}
    job = i.wait(started["jobid"])
    assert job["jobstatus"] == 1, job
    pn = job["jobresult"]["physicalnetwork"]
    assert pn["id"] == started["id"] and pn["state"] == "Disabled" and pn["vlan"] == "100-200"
    nsps = i("listNetworkServiceProviders", physicalnetworkid=pn["id"])
    assert {n["name"] for n in nsps["networkserviceprovider"]} >= {"VirtualRouter", "VpcVirtualRouter",
                                                                    "InternalLbVm", "SecurityGroupProvider"}
    assert all(n["state"] == "Disabled" for n in nsps["networkserviceprovider"])
    vr = _one(i("listNetworkServiceProviders", name="VirtualRouter", physicalnetworkid=pn["id"]),
              "networkserviceprovider")
    el = _one(i("listVirtualRouterElements", nspid=vr["id"]), "virtualrouterelement")
    assert i.run("configureVirtualRouterElement", id=el["id"], enabled="true")["virtualrouterelement"]["enabled"]
    assert i.run("updateNetworkServiceProvider", id=vr["id"],
                 state="Enabled")["networkserviceprovider"]["state"] == "Enabled"
    ilb_nsp = _one(i("listNetworkServiceProviders", name="InternalLbVm", physicalnetworkid=pn["id"]),
                   "networkserviceprovider")
    ilb = _one(i("listInternalLoadBalancerElements", nspid=ilb_nsp["id"]), "internalloadbalancerelement")
    i.run("configureInternalLoadBalancerElement", id=ilb["id"], enabled="true")
    i.run("updateNetworkServiceProvider", id=ilb_nsp["id"], state="Enabled")
    assert i.run("updatePhysicalNetwork", id=pn["id"], state="Enabled",
                 vlan="100-200")["physicalnetwork"]["state"] == "Enabled"
    for t in ("Guest", "Management", "Public"):
        started = i("addTrafficType", physicalnetworkid=pn["id"], traffictype=t)
        assert "id" in started and "jobid" in started
        job = i.wait(started["jobid"])
        assert job["jobresult"]["traffictype"]["traffictype"] == t
    pod = i("createPod", zoneid=z["id"], name="POD0", gateway="172.16.15.1", netmask="255.255.255.0",
            startip="172.16.15.2", endip="172.16.15.200")["pod"]
    assert pod["startip"] == ["172.16.15.2"] and pod["endip"] == ["172.16.15.200"]
    vlan = i("createVlanIpRange", zoneid=z["id"], vlan="50", gateway="192.168.2.1", netmask="255.255.255.0",
             startip="192.168.2.2", endip="192.168.2.200", forvirtualnetwork="true")["vlan"]
    assert vlan["forvirtualnetwork"] is True and vlan["vlan"] == "vlan://50"
    cl = i("addCluster", zoneid=z["id"], podid=pod["id"], clustername="C0", hypervisor="Simulator",
           clustertype="CloudManaged")
    assert cl["count"] == 1 and isinstance(cl["cluster"], list)
    c = cl["cluster"][0]
    assert c["hypervisortype"] == "Simulator" and c["clustertype"] == "CloudManaged"
    added = []
    for h in range(hosts):
        r = i("addHost", zoneid=z["id"], podid=pod["id"], clusterid=c["id"], hypervisor="Simulator",
              url=f"http://sim/{tag}/c0/h{h}", username="root", password="password")
        assert isinstance(r["host"], list) and r["count"] == 1
        added.append(r["host"][0])
    up = wait_for(lambda: (r := i("listHosts", zoneid=z["id"], type="Routing", state="Up")).get("count") == hosts
                  and r, what="hosts Up")
    assert {h["id"] for h in up["host"]} == {h["id"] for h in added}
    ps = i("createStoragePool", zoneid=z["id"], podid=pod["id"], clusterid=c["id"], name="PS0", scope="cluster",
           url="nfs://10.147.28.6:/export/home/sandbox/primary0")["storagepool"]
    assert ps["scope"] == "CLUSTER" and ps["state"] == "Up" and ps["type"] == "NetworkFilesystem"
    assert ps["disksizetotal"] > 0
    ss = i("addImageStore", zoneid=z["id"], name=store, provider="NFS",
           url="nfs://10.147.28.6:/export/home/sandbox/sstor")["imagestore"]
    assert ss["url"] == "nfs://10.147.28.6:/export/home/sandbox/sstor" and ss["providername"] == "NFS"
    i("createSecondaryStagingStore", zoneid=z["id"], url="nfs://10.147.28.6:/export/home/sandbox/staging")
    z = i("updateZone", id=z["id"], allocationstate="Enabled")["zone"]
    assert z["allocationstate"] == "Enabled"
    return {"zone": z, "pn": pn, "pod": pod, "cluster": c, "hosts": added, "pool": ps, "store": ss, "tag": tag}


def test_deploy_datacenter_marvin_order(api: ApiClient) -> None:
    dc = deploy_zone(api)
    h = dc["hosts"][0]
    # what Ansible's cs_host / Marvin read from a host
    for key in ("id", "name", "state", "resourcestate", "hypervisor", "ipaddress", "clusterid", "podid", "zoneid",
                "cpunumber", "cpuspeed", "memorytotal", "cpuallocated", "type", "created"):
        assert key in h, key
    assert h["state"] == "Up" and h["resourcestate"] == "Enabled" and h["type"] == "Routing"
    assert h["ipaddress"].startswith("172.16.15.")
    zones = api("listZones", name="Sandbox-simulator")
    assert zones["count"] == 1 and zones["zone"][0]["allocationstate"] == "Enabled"
    pods = api("listPods", zoneid=dc["zone"]["id"])
    assert pods["pod"][0]["name"] == "POD0"
    assert api("listClusters", name="C0")["cluster"][0]["podname"] == "POD0"
    assert api("listStoragePools", zoneid=dc["zone"]["id"])["count"] == 1
    assert api("listImageStores", zoneid=dc["zone"]["id"])["imagestore"][0]["name"] == "SS0"
    ranges = api("listVlanIpRanges", zoneid=dc["zone"]["id"])
    assert ranges["vlaniprange"][0]["startip"] == "192.168.2.2"
    tts = api("listTrafficTypes", physicalnetworkid=dc["pn"]["id"])
    assert {t["traffictype"] for t in tts["traffictype"]} == {"Guest", "Management", "Public"}
    assert api("listHosts", resourcestate="Enabled", clusterid=dc["cluster"]["id"])["count"] == 2
    assert api("listHosts", state="Down") == {}
    assert api("listHypervisors", zoneid=dc["zone"]["id"])["hypervisor"] == [{"name": "Simulator"}]


def test_seeds(api: ApiClient) -> None:
    so = {o["name"]: o for o in api("listServiceOfferings")["serviceoffering"]}
    assert (so["Small Instance"]["cpunumber"], so["Small Instance"]["cpuspeed"], so["Small Instance"]["memory"]) \
        == (1, 500, 512)
    assert (so["Medium Instance"]["cpuspeed"], so["Medium Instance"]["memory"]) == (1000, 1024)
    do = {o["name"]: o for o in api("listDiskOfferings")["diskoffering"]}
    assert do["Small"]["disksize"] == 5 and do["Medium"]["disksize"] == 20 and do["Large"]["disksize"] == 100
    assert do["Custom"]["iscustomized"] is True
    os_types = api("listOsTypes", description="CentOS 5.6 (64-bit)")["ostype"]
    assert os_types[0]["description"] == "CentOS 5.6 (64-bit)" and os_types[0]["isuserdefined"] is False
    names = {o["description"] for o in api("listOsTypes")["ostype"]}
    assert {"Other Linux (64-bit)", "Debian GNU/Linux 12 (64-bit)", "Ubuntu 22.04 LTS"} <= names
    assert api("listOsCategories", name="Debian")["count"] == 1
    conf = api("listConfigurations", name="cpu.overprovisioning.factor")["configuration"][0]
    assert conf["value"] == "1.0" and conf["category"] == "Advanced"
    assert api("listConfigurations", name="ping.interval")["configuration"][0]["value"] == "60"


def test_failures(api: ApiClient) -> None:
    dc = deploy_zone(api, hosts=1)
    i = api.integration_api
    z, pod, c = dc["zone"], dc["pod"], dc["cluster"]
    status, err = i.error("addHost", zoneid=z["id"], podid=pod["id"], clusterid=c["id"], hypervisor="Simulator",
                          url="http://sim/gone/h9?unreachable=1", username="root", password="password")
    assert status == 530 and "cannot connect" in err["errortext"]
    assert api("listHosts", zoneid=z["id"])["count"] == 1  # no row left behind
    status, err = i.error("addHost", zoneid=z["id"], podid=pod["id"], clusterid=c["id"], hypervisor="Hyperv9",
                          url="http://sim/x/h1", username="root", password="password")
    assert status == 431 and "Hyperv9" in err["errortext"]
    status, err = i.error("addCluster", zoneid=z["id"], podid=pod["id"], clustername="C1", hypervisor="Nope",
                          clustertype="CloudManaged")
    assert status == 431
    status, err = i.error("createZone", name=z["name"], networktype="Advanced", dns1="8.8.8.8",
                          internaldns1="8.8.8.8")
    assert status == 431 and "already exists" in err["errortext"]
    status, err = i.error("createPod", zoneid=z["id"], name="POD0", gateway="172.16.16.1", netmask="255.255.255.0",
                          startip="172.16.16.2", endip="172.16.16.20")
    assert status == 431 and "already exists" in err["errortext"]
    status, err = i.error("addCluster", zoneid=z["id"], podid=pod["id"], clustername="C0", hypervisor="Simulator",
                          clustertype="CloudManaged")
    assert status == 431
    status, err = i.error("deleteZone", id=z["id"])
    assert status == 530 and "not deletable" in err["errortext"]
    status, err = i.error("deletePod", id=pod["id"])
    assert status == 530 and "servers" in err["errortext"]
    status, err = i.error("createVlanIpRange", zoneid=z["id"], vlan="51", gateway="192.168.2.1",
                          netmask="255.255.255.0", startip="192.168.2.100", endip="192.168.2.250",
                          forvirtualnetwork="true")
    assert status == 431 and "overlaps" in err["errortext"]
    status, err = i.error("updateConfiguration", name="no.such.setting", value="1")
    assert status == 431
    # a user can list offerings but not the inventory
    user = api.client_for(api.new_account())
    assert user("listServiceOfferings")["count"] >= 2
    r = user.call("listHosts")
    assert r.status_code == 401


def test_a_repeated_simulator_url_is_another_simulated_host(api: ApiClient) -> None:
    """CloudStack's simulator makes a new mock host at every addHost, whatever the URL: Marvin configurations (and
    scripts that build one zone after another) repeat http://sim/c0/h0. The same URL in a second zone, and again in
    the same cluster, adds hosts of their own."""
    first = deploy_zone(api, name="Sim-first", hosts=1)
    i = api.integration_api
    # image store names are unique cloud-wide, as in CloudStack
    status, err = i.error("addImageStore", zoneid=first["zone"]["id"], name="SS0", provider="NFS",
                          url="nfs://10.147.28.6:/export/home/sandbox/sstor2")
    assert (status, err["cserrorcode"]) == (431, 4350)
    assert err["errortext"] == "The image store with name SS0 already exists, try creating with another name"
    second = deploy_zone(api, name="Sim-second", hosts=1, tag=first["tag"], store="SS1")  # the same host URLs
    z, pod, c = second["zone"], second["pod"], second["cluster"]
    again = i("addHost", zoneid=z["id"], podid=pod["id"], clusterid=c["id"], hypervisor="Simulator",
              url=f"http://sim/{first['tag']}/c0/h0", username="root", password="password")["host"][0]
    hosts = [first["hosts"][0], second["hosts"][0], again]
    assert len({h["id"] for h in hosts}) == 3 and len({h["name"] for h in hosts}) == 3
    assert second["hosts"][0]["ipaddress"] != again["ipaddress"]  # two addresses of the second zone's pod
    up = wait_for(lambda: (r := i("listHosts", zoneid=z["id"], type="Routing", state="Up")).get("count") == 2 and r,
                  what="both hosts of the second zone Up")
    assert {h["id"] for h in up["host"]} == {second["hosts"][0]["id"], again["id"]}
    assert i("listHosts", zoneid=first["zone"]["id"], type="Routing")["count"] == 1
    # each is a machine of its own: its memory counts once in its zone's capacity
    mem = {h["id"]: h["memorytotal"] for h in up["host"]}
    cap = {x["type"]: x for x in api("listCapacity", zoneid=z["id"])["capacity"]}
    assert cap[0]["capacitytotal"] == sum(mem.values())


def test_host_lifecycle_maintenance_and_monitor(api: ApiClient) -> None:
    from management.drivers.simulator import SimulatorFaults

    i = api.integration_api
    i("updateConfiguration", name="ping.interval", value="0.2")
    i("updateConfiguration", name="ping.timeout", value="2")
    dc = deploy_zone(api, name="zone-monitor", hosts=2)
    host = dc["hosts"][0]
    url = f"http://sim/{dc['tag']}/c0/h0"
    faults = SimulatorFaults.for_host(url)
    faults.set_unreachable(True)
    try:
        # Disconnected lasts ping.interval * ping.timeout (0.4 s) before HA looks: a busy machine can poll past it,
        # so the test waits for either and then checks the host recorded when it disconnected
        wait_for(lambda: i("listHosts", id=host["id"])["host"][0]["state"] in ("Disconnected", "Alert"), timeout=20,
                 what="host Disconnected")
        # the neighbour still reads its storage heartbeat: alive, only unreachable (tests/api/test_ha.py)
        wait_for(lambda: i("listHosts", id=host["id"])["host"][0]["state"] == "Alert", timeout=20,
                 what="host Alert")
        assert i("listHosts", id=host["id"])["host"][0]["disconnected"]
        assert i("listHosts", state="Up", zoneid=dc["zone"]["id"])["count"] == 1
    finally:
        faults.set_unreachable(False)
    wait_for(lambda: i("listHosts", id=host["id"])["host"][0]["state"] == "Up", timeout=20, what="host Up again")
    # maintenance
    h = i.run("prepareHostForMaintenance", id=host["id"])["host"]
    assert h["resourcestate"] == "Maintenance"
    assert i("listHosts", resourcestate="Maintenance")["count"] == 1
    h = i.run("cancelHostMaintenance", id=host["id"])["host"]
    assert h["resourcestate"] == "Enabled"
    job = i.wait(i("cancelHostMaintenance", id=host["id"])["jobid"])
    assert job["jobstatus"] == 2 and "not in maintenance" in job["jobresult"]["errortext"]
    h = i.run("reconnectHost", id=host["id"])["host"]
    assert h["state"] == "Up"
    h = i("updateHost", id=host["id"], allocationstate="Disable", hosttags="fast,ssd")["host"]
    assert h["resourcestate"] == "Disabled" and h["hosttags"] == "fast,ssd"
    h = i("updateHost", id=host["id"], allocationstate="Enable")["host"]
    assert h["resourcestate"] == "Enabled"
    status, err = i.error("deleteHost", id=host["id"])
    assert status == 431 and "maintenance" in err["errortext"]
    i.run("prepareHostForMaintenance", id=host["id"])
    assert i("deleteHost", id=host["id"])["success"] is True
    assert i("listHosts", zoneid=dc["zone"]["id"])["count"] == 1


def test_capacity_equals_sum_of_hosts(api: ApiClient) -> None:
    dc = deploy_zone(api, hosts=3)
    i = api.integration_api
    hosts = i("listHosts", zoneid=dc["zone"]["id"])["host"]
    caps = {c["type"]: c for c in i("listCapacity", zoneid=dc["zone"]["id"])["capacity"]}
    assert caps[0]["capacitytotal"] == sum(h["memorytotal"] for h in hosts)
    assert caps[1]["capacitytotal"] == sum(h["cpunumber"] * h["cpuspeed"] for h in hosts)
    assert caps[0]["capacityused"] == 0 and caps[0]["percentused"] == "0.00"
    assert caps[4]["capacitytotal"] == 199 and caps[4]["capacityused"] == 0  # 192.168.2.2-200
    assert caps[5]["capacitytotal"] == 199 and caps[5]["capacityused"] == 3  # pod range, one IP per host
    assert caps[7]["capacitytotal"] == 101  # VLAN 100-200
    assert caps[2]["capacitytotal"] == dc["pool"]["disksizetotal"]
    assert caps[3]["capacitytotal"] == 2 * dc["pool"]["disksizetotal"]  # storage.overprovisioning.factor 2
    i("updateConfiguration", name="cpu.overprovisioning.factor", value="2", clusterid=dc["cluster"]["id"])
    assert i("listClusters", id=dc["cluster"]["id"])["cluster"][0]["cpuovercommitratio"] == "2.0"
    cpu = i("listCapacity", zoneid=dc["zone"]["id"], type=1)["capacity"][0]
    assert cpu["capacitytotal"] == 2 * sum(h["cpunumber"] * h["cpuspeed"] for h in hosts)


def test_offerings_crud(api: ApiClient) -> None:
    i = api.integration_api
    so = i("createServiceOffering", name="tiny", displaytext="Tiny", cpunumber=1, cpuspeed=100,
           memory=64)["serviceoffering"]
    assert (so["cpunumber"], so["memory"], so["iscustomized"], so["issystem"]) == (1, 64, False, False)
    so = i("updateServiceOffering", id=so["id"], displaytext="Tiny!")["serviceoffering"]
    assert so["displaytext"] == "Tiny!"
    custom = i("createServiceOffering", name="custom", displaytext="custom", customized="true")["serviceoffering"]
    assert custom["iscustomized"] is True and "cpunumber" not in custom
    assert i("deleteServiceOffering", id=so["id"])["success"] is True
    assert api("listServiceOfferings", name="tiny") == {}
    do = i("createDiskOffering", name="d7", displaytext="d7", disksize=7)["diskoffering"]
    assert do["disksize"] == 7 and do["iscustomized"] is False
    status, _ = i.error("createDiskOffering", name="bad", displaytext="bad", disksize=0)
    assert status == 431
    assert i("deleteDiskOffering", id=do["id"])["success"] is True
