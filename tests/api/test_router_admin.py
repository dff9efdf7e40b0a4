"""Router administration on a simulator zone: changeServiceForRouter's checks and effect, a forced reboot,
getRouterHealthCheckResults where no router runs (the real router's checks: tests/integration/test_network_api.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_public_ip_lifecycle import failure
from tests.api.test_rules import _setup

pytestmark = pytest.mark.api


def _system_offering(api: Any, name: str, **kw: Any) -> dict[str, Any]:
    return api("createServiceOffering", name=name, displaytext=name, cpunumber=1, cpuspeed=500, memory=256,
               issystem=True, systemvmtype="domainrouter", **kw)["serviceoffering"]


def test_change_service_for_router(server: Any) -> None:
    api = server.api
    env = _setup(server)
    r = api("listRouters", networkid=env["net"]["id"])["router"][0]
    bigger = _system_offering(api, "router-bigger")
    from management.models.compute import VirtualMachine

    with server.server.runtime.db.session() as s:
        vm = s.query(VirtualMachine).filter_by(uuid=r["id"]).one()
        label = "VM instance " + json.dumps({"id": vm.id, "instanceName": vm.instance_name, "type": "DomainRouter",
                                             "uuid": vm.uuid}, separators=(",", ":"))
    code, text = failure(api, "changeServiceForRouter", id=r["id"], serviceofferingid=bigger["id"])
    assert (code, text) == (431, f"Unable to upgrade router {label} in state Running; make sure the router is "
                                 "stopped and not in an error state before upgrading.")
    user_off = api("listServiceOfferings")["serviceoffering"][0]
    code, text = failure(api, "changeServiceForRouter", id=r["id"], serviceofferingid=user_off["id"])
    assert (code, text) == (431, f"Cannot upgrade router vm to a non system service offering {user_off['id']}")
    api.run("stopRouter", id=r["id"])
    local = _system_offering(api, "router-local", storagetype="local")
    code, text = failure(api, "changeServiceForRouter", id=r["id"], serviceofferingid=local["id"])
    assert (code, text) == (431, "Can't upgrade, due to new local storage status : true is different from current "
                                 f"local storage status of router {label}")
    changed = api("changeServiceForRouter", id=r["id"], serviceofferingid=bigger["id"])["router"]
    assert (changed["id"], changed["serviceofferingid"], changed["serviceofferingname"]) == \
        (r["id"], bigger["id"], "router-bigger")
    started = api.run("startRouter", id=r["id"])["router"]
    assert (started["state"], started["serviceofferingid"]) == ("Running", bigger["id"])
    assert api.run("rebootRouter", id=r["id"], forced=True)["router"]["state"] == "Running"
    # a user is not offered the command
    user = api.client_for(api.new_account())
    assert user.error("changeServiceForRouter", id=r["id"], serviceofferingid=bigger["id"])[0] == 401


def test_health_checks_of_a_router_nothing_runs(server: Any) -> None:
    api = server.api
    env = _setup(server)
    r = api("listRouters", networkid=env["net"]["id"])["router"][0]
    status, err = api.error("getRouterHealthCheckResults", routerid=r["id"])
    assert (status, err["errortext"], err["cserrorcode"]) == (
        530, "Failed to get health check results due to: No health check results found for the router. This could "
             "happen for a newly created router. Please wait for periodic results to populate or manually call for "
             "checks to execute.", 9999)
    api("updateConfiguration", name="router.health.checks.enabled", value="false")
    status, err = api.error("getRouterHealthCheckResults", routerid=r["id"])
    assert status == 530 and err["errortext"].startswith(
        "Failed to get health check results due to: Router health checks are not enabled for router ")
    code, text = failure(api, "getRouterHealthCheckResults", routerid=env["net"]["id"])
    assert code == 431 and f"Invalid parameter id value={env['net']['id']} " in text  # a network is no router


def test_routers_of_a_simulated_zone_carry_a_link_local_ip(server: Any) -> None:
    """CloudStack gives every KVM/simulator router a control address from the zone's link-local network
    (169.254.0.0/16, gateway 169.254.0.1); Marvin's router tests read it as `linklocalip`."""
    import ipaddress

    api = server.api
    env = _setup(server)
    off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"]
    other = api("createNetwork", name="second", displaytext="second", networkofferingid=off[0]["id"],
                zoneid=env["net"]["zoneid"])["network"]
    from management.models.compute import VirtualMachine
    from management.models.network import Network
    from management.services.network import networks

    with server.server.runtime.db.session() as s:  # a NIC on it implements it: it gets its router
        vm = s.query(VirtualMachine).filter_by(uuid=env["vms"][0]).one()
        networks.allocate_nics(s, vm, [s.query(Network).filter_by(uuid=other["id"]).one()])
    routers = api("listRouters", listall=True)["router"]
    ips = [r["linklocalip"] for r in routers]
    assert len(ips) >= 2 and len(set(ips)) == len(ips)
    for ip in ips:
        addr = ipaddress.IPv4Address(ip)
        assert addr in ipaddress.IPv4Network("169.254.0.0/16") and ip not in ("169.254.0.0", "169.254.0.1",
                                                                              "169.254.255.255")
    r = routers[0]
    assert api("listRouters", id=r["id"])["router"][0]["linklocalip"] == r["linklocalip"]  # stable
