"""`cs deployVirtualMachine ...` (the cs CLI, polling its async job) reaches a Running VM on a simulator zone built
from the simulator-advanced spec through the API; then stop, start, destroy with expunge. Client tier."""

from __future__ import annotations

from typing import Any

import pytest

from appliance import zonespec
from appliance.client import CloudClient
from appliance.deploy import Deployer
from tests.clients.test_clients import _cs

pytestmark = pytest.mark.clients


def test_cs_deploy_polls_to_running(served: Any) -> None:
    spec = zonespec.load("simulator-advanced")
    client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.05, job_timeout=60)
    try:
        Deployer(client).deploy(spec)
    finally:
        client.close()
    zone = _cs(served, "listZones", f"name={spec.zones[0].name}")["zone"][0]
    so = _cs(served, "listServiceOfferings", "name=Small Instance")["serviceoffering"][0]
    tmpl = _cs(served, "listTemplates", "templatefilter=featured", f"zoneid={zone['id']}")["template"][0]
    out = _cs(served, "deployVirtualMachine", f"zoneid={zone['id']}", f"serviceofferingid={so['id']}",
              f"templateid={tmpl['id']}", "name=cs-vm", "displayname=cs VM", "details[0].key=foo",
              "details[0].value=bar")
    vm = out["virtualmachine"]
    assert vm["state"] == "Running" and vm["name"] == "cs-vm" and vm["details"] == {"foo": "bar"}
    nic = vm["nic"][0]
    assert nic["isdefault"] is True and nic["ipaddress"] and nic["macaddress"]
    net = _cs(served, "listNetworks", f"id={nic['networkid']}")["network"][0]
    assert net["type"] == "Isolated"  # CloudStack created the account's default isolated network
    assert _cs(served, "stopVirtualMachine", f"id={vm['id']}")["virtualmachine"]["state"] == "Stopped"
    assert _cs(served, "startVirtualMachine", f"id={vm['id']}")["virtualmachine"]["state"] == "Running"
    _cs(served, "destroyVirtualMachine", f"id={vm['id']}", "expunge=true")
    assert _cs(served, "listVirtualMachines", "listall=true").get("count", 0) == 0
