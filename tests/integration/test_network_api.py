"""Guest networking through the API with a real namespace router and emulated guests (network namespaces with the
NICs' MACs on the network's bridge): DHCP addresses from the router, DNS names, port forwarding + firewall from
the host through the public IP (blocked again after deleting the firewall rule), static NAT, load-balancer
alternation, metadata user data, restartNetwork cleanup=true and a server restart bring the rules back."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from management.network.testing import Guest, blocked, http_get, missing_prerequisites, sh, wait_for
from tests.conftest import free_public_net

pytestmark = pytest.mark.integration

NET = int(free_public_net().rsplit(".", 1)[1])  # 198.18.NET.0/24, unused on this machine
GW = f"198.18.{NET}.1"
SFX = f"{os.getpid() % 10000:04d}"


def _zone(server: Any) -> dict[str, Any]:
    import ipaddress

    from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange, Zone

    with server.server.runtime.db.session() as s:
        z = Zone(name="nszone", network_type="Advanced", allocation_state="Enabled", guest_cidr="10.77.0.0/24",
                 dns1="127.0.0.1", internal_dns1="127.0.0.1", details_json=json.dumps({"guest.router": "namespace"}))
        s.add(z)
        s.flush()
        pn = PhysicalNetwork(name="pn", zone_id=z.id, vlan="900-910", state="Enabled", isolation_methods="VLAN")
        s.add(pn)
        s.flush()
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Guest"))
        r = VlanIpRange(zone_id=z.id, physical_network_id=pn.id, vlan_tag="untagged", gateway=GW,
                        netmask="255.255.255.0", start_ip=f"198.18.{NET}.10", end_ip=f"198.18.{NET}.20")
        s.add(r)
        s.flush()
        for n in range(10, 21):
            s.add(PublicIpAddress(public_ip_address=str(ipaddress.IPv4Address(f"198.18.{NET}.{n}")), zone_id=z.id,
                                  vlan_id=r.id, physical_network_id=pn.id))
        return {"id": z.uuid, "dbid": z.id}


def _vm(server: Any, zone_dbid: int, net_uuid: str, name: str, userdata: str) -> dict[str, Any]:
    from management.models.compute import VirtualMachine
    from management.models.identity import Account
    from management.models.network import Network, Nic
    from management.models.offerings import ServiceOffering
    from management.services.network import networks

    with server.server.runtime.db.session() as s:
        acct = s.query(Account).filter_by(name="admin").one()
        so = s.query(ServiceOffering).filter_by(is_system=False).first() or ServiceOffering(name="small", cpu=1,
                                                                                            speed=500, ram_size=256)
        s.add(so)
        s.flush()
        vm = VirtualMachine(instance_name="i-x", name=name, account_id=acct.id, domain_id=acct.domain_id,
                            zone_id=zone_dbid, service_offering_id=so.id, state="Running",
                            user_data=base64.b64encode(userdata.encode()).decode())
        s.add(vm)
        s.flush()
        vm.instance_name = f"i-{acct.id}-{vm.id}-VM"
        networks.allocate_nics(s, vm, [s.query(Network).filter_by(uuid=net_uuid).one()])
        nic = s.query(Nic).filter_by(instance_id=vm.id).one()
        return {"id": vm.uuid, "mac": nic.mac_address, "ip": nic.ip4_address, "name": name}


@pytest.fixture
def world(server: Any, tmp_path: Path):
    why = missing_prerequisites("dnsmasq", "nft", "haproxy", "busybox")
    if why or os.geteuid() != 0:
        pytest.skip(why or "needs root")
    from management.models.network import Network
    from management.services.network.networks import guest_bridge_name

    api = server.api
    z = _zone(server)
    off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"]
    net = api("createNetwork", name="nsnet", displaytext="n", networkofferingid=off[0]["id"], zoneid=z["id"],
              networkdomain="nsnet.devcloud")["network"]
    vms = [_vm(server, z["dbid"], net["id"], n, f"#!/bin/sh\necho hello-{n}\n") for n in ("web1", "web2")]
    with server.server.runtime.db.session() as s:
        bridge = guest_bridge_name(s.query(Network).filter_by(uuid=net["id"]).one())
    guests = {}
    try:
        for i, vm in enumerate(vms):
            guests[vm["name"]] = Guest(vm["name"], f"dcn{SFX}{i}", f"vn{SFX}{i}", vm["mac"], bridge, tmp_path).create()
        snat = api("listPublicIpAddresses", associatednetworkid=net["id"], issourcenat=True)["publicipaddress"][0]
        yield {"api": api, "net": net, "vms": vms, "guests": guests, "snat": snat, "server": server, "zone": z}
    finally:
        for g in guests.values():
            g.destroy()
        for r in (api("listRouters", listall=True) or {}).get("router", []):
            api.run("destroyRouter", id=r["id"])
        sh("ip", "link", "del", bridge, check=False)
        with server.server.runtime.db.session() as s:
            from management.models.infra import Zone
            from management.services.network.routers import public_bridge_name
            sh("ip", "link", "del", public_bridge_name(s, s.query(Zone).filter_by(uuid=z["id"]).one()), check=False)


def test_router_serves_the_network_through_the_api(world: dict[str, Any]) -> None:
    api, g, vms, snat = world["api"], world["guests"], world["vms"], world["snat"]
    pub = snat["ipaddress"]
    # DHCP: the addresses the server allocated; DNS: each other's names
    for vm in vms:
        assert g[vm["name"]].dhcp() == vm["ip"]
    out = g["web1"].exec("busybox", "nslookup", "web2", "10.77.0.1").stdout
    assert vms[1]["ip"] in out
    # metadata: the guest's own user data from the router
    assert g["web1"].wget("http://10.77.0.1/latest/user-data") == "#!/bin/sh\necho hello-web1\n"
    for vm in vms:
        g[vm["name"]].serve_http(8000)
    # port forwarding + explicit firewall rule; deleting the firewall rule blocks it
    fw = api.run("createFirewallRule", ipaddressid=snat["id"], protocol="tcp", startport=2222, endport=2222,
                 cidrlist="0.0.0.0/0")["firewallrule"]
    api.run("createPortForwardingRule", ipaddressid=snat["id"], protocol="tcp", publicport=2222, privateport=8000,
            virtualmachineid=vms[0]["id"], openfirewall=False)
    assert "web1" in wait_for(lambda: _get(pub, 2222), what="port forwarding")
    api.run("deleteFirewallRule", id=fw["id"])
    assert blocked(pub, 2222)
    api.run("createFirewallRule", ipaddressid=snat["id"], protocol="tcp", startport=2222, endport=2222)
    assert "web1" in (_get(pub, 2222) or "")
    # static NAT on a second IP
    ip2 = api.run("associateIpAddress", networkid=world["net"]["id"])["ipaddress"]
    api("enableStaticNat", ipaddressid=ip2["id"], virtualmachineid=vms[1]["id"])
    api.run("createFirewallRule", ipaddressid=ip2["id"], protocol="tcp", startport=8000, endport=8000)
    assert "web2" in wait_for(lambda: _get(ip2["ipaddress"], 8000), what="static nat")
    # load balancer alternates between both guests
    lb = api.run("createLoadBalancerRule", publicipid=snat["id"], name="web", algorithm="roundrobin",
                 publicport=80, privateport=8000)["loadbalancer"]
    job = api.wait(api("assignToLoadBalancerRule", id=lb["id"],
                       virtualmachineids=",".join(v["id"] for v in vms))["jobid"])
    assert job["jobstatus"] == 1, job.get("jobresult")
    seen = {(_get(pub, 80) or "").strip() for _ in range(6)}
    assert {"web1", "web2"} <= {s for s in seen if s}, seen

    def all_rules_work() -> bool:
        return "web1" in (_get(pub, 2222) or "") and "web2" in (_get(ip2["ipaddress"], 8000) or "") and \
            len({(_get(pub, 80) or "").strip() for _ in range(4)} & {"web1", "web2"}) == 2

    # restartNetwork cleanup=true: router destroyed and rebuilt from the records
    api.run("restartNetwork", id=world["net"]["id"], cleanup=True)
    wait_for(all_rules_work, timeout=20, what="rules after restartNetwork cleanup=true")
    # server restart after the router vanished (host reboot): a new server on the same state dir/DB restores it
    from management.server import build

    srv = world["server"]
    impl = srv.server.runtime.extras["routers"]
    key = impl.provider.routers()[0]
    impl.provider._teardown(key, None, keep_files=True)
    assert blocked(pub, 2222)
    srv2 = build(srv.settings, start_workers=False)
    try:
        wait_for(all_rules_work, timeout=20, what="rules after a server restart")
    finally:
        srv2.runtime.db.dispose()


def test_a_starting_vms_network_gets_its_stopped_router_back(world: dict[str, Any]) -> None:
    """What a VM's start does for its networks (`networks.prepare_nics`, behind startVirtualMachine: the simulator
    zone's API test drives it through the API) brings a stopped namespace router up again from the records: the
    guest gets its address by DHCP from it once more."""
    from management.models.compute import VirtualMachine
    from management.models.network import Nic
    from management.services.network import networks

    api, guest, vm = world["api"], world["guests"]["web1"], world["vms"][0]
    assert guest.dhcp() == vm["ip"]
    (router,) = api("listRouters", networkid=world["net"]["id"])["router"]
    impl = world["server"].server.runtime.extras["routers"]
    (key,) = impl.provider.routers()
    netns = Path(f"/run/netns/dcr-{key}")
    assert netns.exists()
    api.run("stopRouter", id=router["id"])
    assert not netns.exists()  # the router's namespace, dnsmasq in it, went with the stop
    with world["server"].server.runtime.db.session() as s:
        row = s.query(VirtualMachine).filter_by(uuid=vm["id"]).one()
        nics = s.query(Nic).filter_by(instance_id=row.id, removed=None).all()
        assert networks.unprepared(s, nics)
        networks.prepare_nics(s, nics)
        s.commit()
        assert not networks.unprepared(s, nics)
    assert api("listRouters", id=router["id"])["router"][0]["state"] == "Running" and netns.exists()
    assert guest.dhcp() == vm["ip"]


def _get(ip: str, port: int) -> str | None:
    try:
        return http_get(ip, port, "/", timeout=1.0)
    except OSError:
        return None


def test_router_health_checks_see_its_services(world: dict[str, Any]) -> None:
    import signal

    from management.network.vr import _read_pid

    api = world["api"]
    router = api("listRouters", networkid=world["net"]["id"])["router"][0]
    checks = api("getRouterHealthCheckResults", routerid=router["id"])["routerhealthchecks"]
    assert checks["routerid"] == router["id"]
    got = {c["checkname"]: (c["checktype"], c["success"], c["status"]) for c in checks["healthchecks"]}
    assert got == {"connectivity.test": ("basic", True, "SUCCESS"), "dhcp_check.py": ("advanced", True, "SUCCESS"),
                   "dns_check.py": ("advanced", True, "SUCCESS"), "iptables_check.py": ("advanced", True, "SUCCESS"),
                   "metadata_check.py": ("advanced", True, "SUCCESS")}
    # dnsmasq dies: DHCP and DNS fail, the rest still pass
    impl = world["server"].server.runtime.extras["routers"]
    key = impl.provider.routers()[0]
    pid = _read_pid(impl.provider.paths(key).dnsmasq_pid)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    cmdline = Path(f"/proc/{pid}/cmdline")  # gone, or empty once a zombie
    wait_for(lambda: not cmdline.exists() or not cmdline.read_bytes(), what="dnsmasq gone")
    checks = api("getRouterHealthCheckResults", routerid=router["id"], performfreshchecks=True)["routerhealthchecks"]
    failed = sorted(c["checkname"] for c in checks["healthchecks"] if not c["success"])
    assert failed == ["dhcp_check.py", "dns_check.py"]
    assert all(c["status"] == "FAILED" and c["details"] == "dnsmasq: not running"
               for c in checks["healthchecks"] if not c["success"])
    # a restart brings it back
    api.run("restartNetwork", id=world["net"]["id"])
    checks = api("getRouterHealthCheckResults", routerid=router["id"])["routerhealthchecks"]
    assert all(c["success"] for c in checks["healthchecks"])
