"""Host HA configuration and Degraded hosts: an operator picks a host's HA provider, enables and disables HA for
the host, its cluster and its zone; a silent host whose HA is switched off is marked Down without being fenced;
a host that stopped answering can be declared Degraded and back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_storage_network import failed
from tests.api.test_vm_lifecycle import sim, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


def test_ha_configuration(api: ApiClient, server: InProcess, zone: dict[str, Any]) -> None:
    host = zone["hosts"][0]
    providers = api("listHostHAProviders", hypervisor="Simulator")["haprovider"]
    assert [p["haprovider"] for p in providers] == ["simulatorhaprovider"]
    assert api("listHostHAProviders", hypervisor="VMware") == {}
    assert api("listHostHAResources", hostid=host) == {}

    code, text = failed(api, "enableHAForHost", hostid=host)
    assert code == 431 and text.startswith("HAProvider is not provided for the resource [")
    code, text = failed(api, "configureHAForHost", hostid=host, provider="ipmiprovider")
    assert (code, text) == (530, "Given HA provider [ipmiprovider] does not exist.")

    cfg = api.run("configureHAForHost", hostid=host, provider="SimulatorHAProvider")["hostha"]
    assert (cfg["hostid"], cfg["haprovider"], cfg["haenable"], cfg["hastate"], cfg["status"]) == (
        host, "simulatorhaprovider", False, "Disabled", True)
    on = api.run("enableHAForHost", hostid=host)["hostha"]
    assert (on["haenable"], on["hastate"]) == (True, "Available")

    # switching the cluster (or zone) off takes the host's HA with it
    assert api.run("disableHAForCluster", clusterid=zone["cluster"]) == {"success": True}
    (res,) = api("listHostHAResources", hostid=host)["hostha"]
    assert (res["haenable"], res["hastate"]) == (True, "Disabled")
    assert api.run("enableHAForCluster", clusterid=zone["cluster"]) == {"success": True}
    assert api("listHostHAResources")["hostha"][0]["hastate"] == "Available"
    assert api.run("disableHAForZone", zoneid=zone["zone"]) == {"success": True}
    assert api("listHostHAResources")["hostha"][0]["hastate"] == "Disabled"
    assert api.run("enableHAForZone", zoneid=zone["zone"]) == {"success": True}

    # HA on: the silent host is investigated; with no neighbour to read its heartbeat it is only in Alert
    from management.models.infra import Host
    from management.services.ha import hostha

    runtime, host_id = server.server.runtime, zone["host_ids"][0]

    def go_silent() -> None:
        with runtime.db.session() as s:
            s.get_one(Host, host_id).status = "Disconnected"

    go_silent()
    assert hostha.investigate(runtime, host_id) == "Alert"

    off = api.run("disableHAForHost", hostid=host)["hostha"]
    assert (off["haenable"], off["hastate"]) == (False, "Disabled")
    # HA off: the plain rule marks it Down straight away, without investigating or fencing it
    go_silent()
    assert hostha.investigate(runtime, host_id) == "Down"
    assert sim(zone["urls"][0]).list_domains() == []  # still answering: it was not powered off

def test_degraded_host(api: ApiClient, server: InProcess, zone: dict[str, Any]) -> None:
    host = zone["hosts"][0]
    code, text = failed(api, "declareHostAsDegraded", id=host)
    assert code == 431 and text.startswith("Cannot perform declare host [id=") and text.endswith(
        "as 'Degraded' when host is in Up status")
    code, text = failed(api, "cancelHostAsDegraded", id=host)
    assert code == 530 and text.endswith("when host is in Enabled state")

    from management.models.infra import Host

    with server.server.runtime.db.session() as s:
        s.get_one(Host, zone["host_ids"][0]).status = "Alert"
    h = api.run("declareHostAsDegraded", id=host)["host"]
    assert (h["id"], h["resourcestate"], h["state"]) == (host, "Degraded", "Alert")
    assert api("listHosts", id=host)["host"][0]["resourcestate"] == "Degraded"
    code, text = failed(api, "declareHostAsDegraded", id=host)
    assert code == 530 and text.endswith("was already marked as Degraded.")
    back = api.run("cancelHostAsDegraded", id=host)["host"]
    assert back["resourcestate"] == "Enabled"
