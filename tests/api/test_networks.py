"""Guest network records: default offerings, createNetwork/listNetworks, the account's default network, VLAN and IP
allocation (unique under concurrency), source NAT, public IPs, deleteNetwork in use (536), listNics."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.api

DEFAULT_OFFERINGS = {
    "DefaultIsolatedNetworkOfferingWithSourceNatService", "DefaultSharedNetworkOfferingWithSGService",
    "DefaultSharedNetworkOffering", "DefaultIsolatedNetworkOffering", "DefaultL2NetworkOffering",
    "DefaultIsolatedNetworkOfferingForVpcNetworks",
}


def make_zone(server: Any, name: str = "Sandbox-simulator", vlan: str = "100-102",
              public: tuple[str, str] | None = ("192.168.2.2", "192.168.2.6")) -> dict[str, Any]:
    """Zone, guest physical network with a VLAN range and a public range, as rows (inventory is another room)."""
    import ipaddress

    from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange, Zone

    with server.server.runtime.db.session() as s:
        z = Zone(name=name, network_type="Advanced", allocation_state="Enabled", guest_cidr="10.1.1.0/24",
                 dns1="8.8.8.8", internal_dns1="8.8.4.4")
        s.add(z)
        s.flush()
        pn = PhysicalNetwork(name=f"{name}-pnet", zone_id=z.id, vlan=vlan, state="Enabled", isolation_methods="VLAN")
        s.add(pn)
        s.flush()
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Guest"))
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Public"))
        if public:
            r = VlanIpRange(zone_id=z.id, physical_network_id=pn.id, vlan_tag="50", gateway="192.168.2.1",
                            netmask="255.255.255.0", start_ip=public[0], end_ip=public[1])
            s.add(r)
            s.flush()
            lo, hi = int(ipaddress.IPv4Address(public[0])), int(ipaddress.IPv4Address(public[1]))
            for n in range(lo, hi + 1):
                s.add(PublicIpAddress(public_ip_address=str(ipaddress.IPv4Address(n)), zone_id=z.id, vlan_id=r.id,
                                      physical_network_id=pn.id))
        s.flush()
        return {"id": z.uuid, "dbid": z.id, "pn": pn.uuid}


def offering_id(api: Any, name: str) -> str:
    rows = api("listNetworkOfferings", name=name)["networkoffering"]
    assert len(rows) == 1
    return rows[0]["id"]  # type: ignore[no-any-return]


def make_vm(server: Any, zone_dbid: int, account: str = "admin") -> Any:
    """A VM row (the VM commands are another room's); returns the row (detached)."""
    from management.models.compute import VirtualMachine
    from management.models.identity import Account
    from management.models.offerings import ServiceOffering

    with server.server.runtime.db.session() as s:
        acct = s.query(Account).filter_by(name=account).one()
        so = s.query(ServiceOffering).first()
        if so is None:
            so = ServiceOffering(name="Small Instance", cpu=1, speed=500, ram_size=512)
            s.add(so)
            s.flush()
        vm = VirtualMachine(instance_name="i-x", name="vm", account_id=acct.id, domain_id=acct.domain_id,
                            zone_id=zone_dbid, service_offering_id=so.id, state="Stopped")
        s.add(vm)
        s.flush()
        vm.instance_name = f"i-{acct.id}-{vm.id}-VM"
        return vm


def test_default_offerings_seeded_with_service_maps(server: Any) -> None:
    api = server.api
    rows = api("listNetworkOfferings")["networkoffering"]
    names = {r["name"] for r in rows}
    assert names >= DEFAULT_OFFERINGS
    snat = next(r for r in rows if r["name"] == "DefaultIsolatedNetworkOfferingWithSourceNatService")
    services = {s["name"]: [p["name"] for p in s["provider"]] for s in snat["service"]}
    assert services["SourceNat"] == ["VirtualRouter"] and "Dhcp" in services and "Firewall" in services
    assert snat["guestiptype"] == "Isolated" and snat["availability"] == "Required" and snat["state"] == "Enabled"
    sg = next(r for r in rows if r["name"] == "DefaultSharedNetworkOfferingWithSGService")
    assert {s["name"] for s in sg["service"]} >= {"SecurityGroup", "Dhcp"} and sg["specifyvlan"] is True
    assert api("listNetworkOfferings", guestiptype="Shared", supportedservices="SecurityGroup")["count"] == 1
    assert {r["name"] for r in api("listNetworkOfferings", sourcenatsupported=True)["networkoffering"]} >= {
        "DefaultIsolatedNetworkOfferingWithSourceNatService"}

    # create (Disabled by default) -> enable -> delete
    off = api("createNetworkOffering", name="my-iso", displaytext="mine", guestiptype="Isolated",
              traffictype="Guest", supportedservices="Dhcp,Dns,SourceNat",
              **{"serviceproviderlist[0].service": "Dhcp", "serviceproviderlist[0].provider": "VirtualRouter"}
              )["networkoffering"]
    assert off["state"] == "Disabled" and {s["name"] for s in off["service"]} == {"Dhcp", "Dns", "SourceNat"}
    up = api("updateNetworkOffering", id=off["id"], state="Enabled", displaytext="mine2")["networkoffering"]
    assert up["state"] == "Enabled" and up["displaytext"] == "mine2"
    api("deleteNetworkOffering", id=off["id"])
    assert api("listNetworkOfferings", id=None, name="my-iso") == {}
    status, _ = api.error("deleteNetworkOffering", id=snat["id"])
    assert status == 431


def test_isolated_network_lifecycle_vlan_snat_and_delete_in_use(server: Any) -> None:
    from management.services.network import networks

    api = server.api
    z = make_zone(server)
    off = offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    net = api("createNetwork", name="net1", displaytext="net one", networkofferingid=off, zoneid=z["id"])["network"]
    assert net["cidr"] == "10.1.1.0/24" and net["gateway"] == "10.1.1.1" and net["netmask"] == "255.255.255.0"
    assert net["state"] == "Allocated" and net["type"] == "Isolated" and net["canusefordeploy"] is True
    assert "SourceNat" in {s["name"] for s in net["service"]}
    assert net["networkofferingname"] == "DefaultIsolatedNetworkOfferingWithSourceNatService"
    # custom CIDR via gateway/netmask
    net2 = api("createNetwork", name="net2", networkofferingid=off, zoneid=z["id"], gateway="10.9.0.1",
               netmask="255.255.255.240")["network"]
    assert net2["cidr"] == "10.9.0.0/28"

    vm = make_vm(server, z["dbid"])
    from management.models.compute import VirtualMachine
    from management.models.network import Network

    with server.server.runtime.db.session() as s:
        n1 = s.query(Network).filter_by(uuid=net["id"]).one()
        n2 = s.query(Network).filter_by(uuid=net2["id"]).one()
        v = s.get(VirtualMachine, vm.id)
        nics = networks.allocate_nics(s, v, [n1, n2], {n2.id: "10.9.0.5"})
        assert [n.default_nic for n in nics] == [True, False]
        assert nics[0].ip4_address == "10.1.1.2" and nics[1].ip4_address == "10.9.0.5"
        assert nics[0].mac_address != nics[1].mac_address and nics[0].mac_address.startswith("02:00:")
        assert nics[0].broadcast_uri == "vlan://100" and nics[1].broadcast_uri == "vlan://101"

    listed = api("listNetworks", id=net["id"])["network"][0]
    assert listed["state"] == "Implemented" and listed["vlan"] == "100" and listed["broadcasturi"] == "vlan://100"
    snat = api("listPublicIpAddresses", associatednetworkid=net["id"], issourcenat=True)["publicipaddress"]
    assert len(snat) == 1 and snat[0]["ipaddress"] == "192.168.2.2" and snat[0]["state"] == "Allocated"
    assert snat[0]["account"] == "admin" and snat[0]["zoneid"] == z["id"]
    job = api.wait(api("disassociateIpAddress", id=snat[0]["id"])["jobid"])
    assert job["jobstatus"] == 2 and "source NAT" in job["jobresult"]["errortext"]

    nic_rows = api("listNics", virtualmachineid=vm.uuid)["nic"]
    assert [n["ipaddress"] for n in nic_rows] == ["10.1.1.2", "10.9.0.5"] and nic_rows[0]["isdefault"] is True

    # in use -> 536 (the async job fails with it)
    started = api("deleteNetwork", id=net["id"])
    job = api.wait(started["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 536, job
    with server.server.runtime.db.session() as s:
        networks.release_nics(s, s.get(VirtualMachine, vm.id))
    api.run("deleteNetwork", id=net["id"])
    assert api("listNetworks", id=None, name="net1") == {}
    # VLAN and source NAT IP are free again
    free = api("listPublicIpAddresses", allocatedonly=False, ipaddress="192.168.2.2")["publicipaddress"][0]
    assert free["state"] == "Free"
    from management.models.infra import GuestVlan

    with server.server.runtime.db.session() as s:
        assert {g.vnet for g in s.query(GuestVlan).all()} == {101}


def test_default_network_for_advanced_deploy(server: Any) -> None:
    from management.models.identity import Account
    from management.models.infra import Zone
    from management.services.network import networks

    api = server.api
    z = make_zone(server)
    user = api.new_account()
    with server.server.runtime.db.session() as s:
        acct = s.query(Account).filter_by(name=user["name"]).one()
        zone = s.query(Zone).filter_by(uuid=z["id"]).one()
        n = networks.default_network(s, acct, zone)
        assert n.name == f"{user['name']}-network" and n.is_default and n.guest_type == "Isolated"
        assert networks.default_network(s, acct, zone).id == n.id  # reused, not duplicated
        nid = n.uuid
    uapi = api.client_for(user)
    rows = uapi("listNetworks")["network"]
    assert [r["id"] for r in rows] == [nid] and rows[0]["account"] == user["name"] and rows[0]["isdefault"]
    assert "vlan" not in rows[0]  # VLAN / broadcast URI are for root admins only
    # another account does not see it
    other = api.client_for(api.new_account())
    assert other("listNetworks") == {}
    status, _ = other.error("listNetworks", id=nid)
    assert status == 531


def test_shared_network_needs_admin_and_range(server: Any) -> None:
    api = server.api
    z = make_zone(server, vlan="200-201", public=None)
    off = offering_id(api, "DefaultSharedNetworkOffering")
    status, err = api.error("createNetwork", name="sh", networkofferingid=off, zoneid=z["id"], vlan="300")
    assert status == 431 and "gateway" in err["errortext"]
    sh = api("createNetwork", name="sh", networkofferingid=off, zoneid=z["id"], vlan="300", gateway="172.16.0.1",
             netmask="255.255.255.0", startip="172.16.0.10", endip="172.16.0.11")["network"]
    assert sh["type"] == "Shared" and sh["vlan"] == "300" and sh["state"] == "Setup" and sh["acltype"] == "Domain"
    user = api.new_account()
    uapi = api.client_for(user)
    assert [r["id"] for r in uapi("listNetworks")["network"]] == [sh["id"]]  # domain-wide: users see it
    status, _ = uapi.error("createNetwork", name="x", networkofferingid=off, zoneid=z["id"], vlan="301",
                           gateway="172.17.0.1", netmask="255.255.255.0", startip="172.17.0.10")
    assert status in (431, 531)
    # IPs come from the range only, and run out
    from management.errors import InsufficientCapacity
    from management.models.compute import VirtualMachine
    from management.models.network import Network
    from management.services.network import networks

    vms = [make_vm(server, z["dbid"]) for _ in range(3)]
    with server.server.runtime.db.session() as s:
        n = s.query(Network).filter_by(uuid=sh["id"]).one()
        ips = [networks.allocate_nics(s, s.get(VirtualMachine, v.id), [n])[0].ip4_address for v in vms[:2]]
        assert ips == ["172.16.0.10", "172.16.0.11"]
        with pytest.raises(InsufficientCapacity):
            networks.allocate_nics(s, s.get(VirtualMachine, vms[2].id), [n])


def test_ip_and_vlan_allocation_unique_under_concurrency(server: Any) -> None:
    from management.models.compute import VirtualMachine
    from management.models.network import Network, Nic
    from management.services.network import networks

    api = server.api
    z = make_zone(server, vlan="500-519")
    off = offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    net = api("createNetwork", name="busy", networkofferingid=off, zoneid=z["id"])["network"]
    vms = [make_vm(server, z["dbid"]) for _ in range(16)]
    nets = [api("createNetwork", name=f"n{i}", networkofferingid=off, zoneid=z["id"])["network"] for i in range(8)]
    db = server.server.runtime.db
    errors: list[BaseException] = []

    def nic_for(vm_id: int) -> None:
        try:
            with db.session() as s:
                n = s.query(Network).filter_by(uuid=net["id"]).one()
                networks.allocate_nics(s, s.get(VirtualMachine, vm_id), [n])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def implement(uuid: str) -> None:
        try:
            with db.session() as s:
                networks.implement(s, s.query(Network).filter_by(uuid=uuid).one(), strict=False)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=nic_for, args=(v.id,)) for v in vms]
    threads += [threading.Thread(target=implement, args=(n["id"],)) for n in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with db.session() as s:
        n = s.query(Network).filter_by(uuid=net["id"]).one()
        ips = [x.ip4_address for x in s.query(Nic).filter_by(network_id=n.id)]
        macs = [x.mac_address for x in s.query(Nic)]
        vlans = [x.broadcast_uri for x in s.query(Network).filter(Network.removed.is_(None))]
    assert len(ips) == 16 and len(set(ips)) == 16 and "10.1.1.1" not in ips
    assert len(set(macs)) == len(macs)
    assert len(vlans) == 9 and len(set(vlans)) == 9 and None not in vlans


def test_public_ip_associate_disassociate(server: Any, tmp_path: Path) -> None:
    api = server.api
    z = make_zone(server)
    off = offering_id(api, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    user = api.new_account()
    uapi = api.client_for(user)
    net = uapi("createNetwork", name="mine", networkofferingid=off, zoneid=z["id"])["network"]
    assert net["account"] == user["name"]
    started = uapi("associateIpAddress", networkid=net["id"])
    assert set(started) == {"id", "jobid"}
    ip = uapi.wait(started["jobid"])["jobresult"]["ipaddress"]
    assert ip["id"] == started["id"] and ip["state"] == "Allocated" and ip["associatednetworkid"] == net["id"]
    assert ip["issourcenat"] is False and ip["account"] == user["name"]
    rows = uapi("listPublicIpAddresses")["publicipaddress"]
    assert [r["id"] for r in rows] == [ip["id"]]
    assert api.client_for(api.new_account())("listPublicIpAddresses") == {}
    uapi.run("disassociateIpAddress", id=ip["id"])
    assert uapi("listPublicIpAddresses") == {}
    # exhaustion -> 533 (zoneid alone: the user's one isolated network takes them, 5 in the range)
    taken = 0
    for _ in range(6):
        r = uapi.call("associateIpAddress", zoneid=z["id"])
        if r.status_code != 200:
            break
        job = uapi.wait(r.json()["associateipaddressresponse"]["jobid"])
        assert job["jobresult"]["ipaddress"]["associatednetworkid"] == net["id"]
        taken += 1
    assert r.status_code == 533 and 4 <= taken <= 5, r.text


def test_concurrent_first_deploys_share_one_default_network(server: Any) -> None:
    """Four deploys of a new account's first VM at once (no networkids) end with one `<account>-network`."""
    import threading

    from management.models.identity import Account
    from management.models.infra import Zone
    from management.services.network import networks

    api = server.api
    z = make_zone(server, vlan="100-109")
    user = api.new_account()
    db = server.server.runtime.db
    start = threading.Barrier(4)
    got: list[str] = []
    errors: list[BaseException] = []

    def first_deploy() -> None:
        try:
            start.wait(10)
            with db.session() as s:  # as a deploy request's: on SQLite a write transaction serialises them
                acct = s.query(Account).filter_by(name=user["name"]).one()
                zone = s.query(Zone).filter_by(uuid=z["id"]).one()
                got.append(networks.default_network(s, acct, zone).uuid)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_deploy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(got) == 4 and len(set(got)) == 1, got
    rows = api("listNetworks", account=user["name"], domainid=user["domainid"], listall=True)["network"]
    assert [r["name"] for r in rows] == [f"{user['name']}-network"]


def test_advanced_zone_deploy_creates_default_network(server: Any, tmp_path: Path) -> None:
    """deployVirtualMachine naming no network in an advanced zone puts the VM on the account's default isolated
    network (created once), with a VLAN and a source NAT IP; deleteNetwork while it is used is a 536."""
    from management.drivers.simulator import reset_simulator
    from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange
    from tests.api.test_vm_lifecycle import build_sim_zone, deploy

    api = server.api
    z = build_sim_zone(server, tmp_path, network_type="Advanced")
    with server.server.runtime.db.session() as s:
        pn = PhysicalNetwork(name="Sandbox-pnet", zone_id=z["zone_id"], vlan="100-200", state="Enabled")
        s.add(pn)
        s.flush()
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Guest"))
        r = VlanIpRange(zone_id=z["zone_id"], physical_network_id=pn.id, vlan_tag="50", gateway="192.168.2.1",
                        netmask="255.255.255.0", start_ip="192.168.2.2", end_ip="192.168.2.3")
        s.add(r)
        s.flush()
        for ip in ("192.168.2.2", "192.168.2.3"):
            s.add(PublicIpAddress(public_ip_address=ip, zone_id=z["zone_id"], vlan_id=r.id))
    try:
        vm1 = deploy(api, z)
        vm2 = deploy(api, z)
        assert len(vm1["nic"]) == 1 and vm1["nic"][0]["networkid"] == vm2["nic"][0]["networkid"]
        nid = vm1["nic"][0]["networkid"]
        net = api("listNetworks", id=nid)["network"][0]
        assert net["name"] == "admin-network" and net["state"] == "Implemented" and net["vlan"] == "100"
        assert {vm1["nic"][0]["ipaddress"], vm2["nic"][0]["ipaddress"]} == {"10.1.1.2", "10.1.1.3"}
        assert api("listPublicIpAddresses", associatednetworkid=nid, issourcenat=True)["count"] == 1
        nics = api("listNics", virtualmachineid=vm1["id"])["nic"]
        assert nics[0]["macaddress"] == vm1["nic"][0]["macaddress"] and nics[0]["isdefault"] is True
        job = api.wait(api("deleteNetwork", id=nid)["jobid"])
        assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 536
        # naming the network explicitly works too, and an IP can be requested
        vm3 = deploy(api, z, networkids=nid, ipaddress="10.1.1.77")
        assert vm3["nic"][0]["networkid"] == nid and vm3["nic"][0]["ipaddress"] == "10.1.1.77"
    finally:
        for url in z["urls"]:
            reset_simulator(url)


def test_basic_zone_shared_network_takes_ips_from_pod_ranges(server: Any) -> None:
    """Marvin's basic zone: createNetwork with DefaultSharedNetworkOfferingWithSGService and no vlan/range, then a
    pod guest range (createVlanIpRange podid=...); NICs get addresses from the pod range."""
    from management.models.compute import VirtualMachine
    from management.models.identity import Account
    from management.models.infra import Pod, VlanIpRange, Zone
    from management.services.network import networks

    api = server.api
    with server.server.runtime.db.session() as s:
        z = Zone(name="Sandbox-simulator-basic", network_type="Basic", allocation_state="Enabled",
                 security_groups_enabled=True)
        s.add(z)
        s.flush()
        pod = Pod(name="POD0-basic", zone_id=z.id)
        s.add(pod)
        s.flush()
        zid, zdb, pod_id = z.uuid, z.id, pod.id
    off = offering_id(api, "DefaultSharedNetworkOfferingWithSGService")
    net = api("createNetwork", name="guestNetworkForBasicZone", displaytext="guest", networkofferingid=off,
              zoneid=zid)["network"]
    assert net["type"] == "Shared" and "SecurityGroup" in {x["name"] for x in net["service"]}
    with server.server.runtime.db.session() as s:
        s.add(VlanIpRange(zone_id=zdb, pod_id=pod_id, gateway="10.147.29.1", netmask="255.255.255.0",
                          start_ip="10.147.29.10", end_ip="10.147.29.20", vlan_type="DirectAttached"))
    vm = make_vm(server, zdb)
    with server.server.runtime.db.session() as s:
        zone = s.get(Zone, zdb)
        n = networks.default_network(s, s.query(Account).filter_by(name="admin").one(), zone)
        assert n.uuid == net["id"]
        nic = networks.allocate_nics(s, s.get(VirtualMachine, vm.id), [n])[0]
        assert (nic.ip4_address, nic.gateway, nic.netmask) == ("10.147.29.10", "10.147.29.1", "255.255.255.0")
