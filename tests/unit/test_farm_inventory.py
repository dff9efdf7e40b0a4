"""The farm's inventory and the rehearsal's machines come from the zone spec (appliance.inventory, appliance.farm)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from appliance import farm, inventory, zonespec

REPO = Path(__file__).resolve().parents[2]


def _hosts(doc: dict, group: str) -> dict:
    return doc["all"]["children"][group]["hosts"]


def test_rehearsal_inventory_groups_and_addresses() -> None:
    doc = inventory.farm_inventory(zonespec.load("farm-rehearsal"), "farm-rehearsal")
    assert _hosts(doc, "management") == {"mgmt": {"ansible_host": "100.126.0.2", "devcloud_scenario": "farm-rehearsal",
                                                  "devcloud_deploy_datacenter": True}}
    assert _hosts(doc, "database") == {"mgmt": None}
    assert _hosts(doc, "nfs") == {"storage": {"ansible_host": "100.126.0.5"}}
    assert _hosts(doc, "kvm_hosts") == {"kvm1": {"ansible_host": "100.126.0.11"}}
    assert _hosts(doc, "management_lb") == _hosts(doc, "xen_hosts") == {}
    assert doc["all"]["vars"]["ansible_user"] == "root"


def test_only_the_first_management_server_deploys_the_zone() -> None:
    doc = inventory.farm_inventory(zonespec.load("farm-example"))
    mgmt = _hosts(doc, "management")
    assert mgmt["mgmt1"]["devcloud_deploy_datacenter"] is True
    assert "devcloud_deploy_datacenter" not in mgmt["mgmt2"]
    assert {h["devcloud_scenario"] for h in mgmt.values()} == {"farm-example"}


def test_a_host_without_a_name_is_named_by_its_url() -> None:
    data = zonespec.load("farm-rehearsal").model_dump()
    data["zones"][0]["pods"][0]["clusters"][0]["hosts"][0]["name"] = None
    doc = inventory.farm_inventory(zonespec.parse(data))
    assert _hosts(doc, "kvm_hosts") == {"100.126.0.11": {"ansible_host": "100.126.0.11"}}


def test_the_local_host_is_not_a_farm_machine() -> None:
    """qemu:///system (the management machine itself) is not an inventory host; a spec without `management` has no
    farm inventory and says why."""
    spec = zonespec.load("appliance")
    assert inventory.hypervisor_hosts(spec) == []
    with pytest.raises(zonespec.SpecError, match="needs the management servers"):
        inventory.farm_inventory(spec)


def test_one_name_two_addresses_is_refused() -> None:
    data = zonespec.load("farm-rehearsal").model_dump()
    data["storage_nodes"][0]["name"] = "kvm1"
    with pytest.raises(zonespec.SpecError, match="kvm1: two addresses"):
        inventory.farm_inventory(zonespec.parse(data))


def test_cli_writes_yaml_ansible_reads() -> None:
    r = subprocess.run([sys.executable, "-m", "appliance.inventory", "farm-rehearsal"], cwd=REPO,
                       capture_output=True, text=True, check=True)
    assert r.stdout.startswith("# Generated from the zone spec farm-rehearsal")
    assert yaml.safe_load(r.stdout) == inventory.farm_inventory(zonespec.load("farm-rehearsal"), "farm-rehearsal")
    bad = subprocess.run([sys.executable, "-m", "appliance.inventory", "no-such-spec"], cwd=REPO,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "no such zone spec" in bad.stderr and "Traceback" not in bad.stderr


def test_rehearsal_nodes_are_sized_by_their_roles() -> None:
    nodes = {n.name: n for n in farm.nodes_of(zonespec.load("farm-rehearsal"))}
    assert list(nodes) == ["mgmt", "storage", "kvm1"]
    assert nodes["mgmt"].groups == ["management", "database"]
    assert (nodes["mgmt"].memory, nodes["kvm1"].memory, nodes["storage"].memory) == (2048, 1536, 768)
    assert len({n.mac for n in nodes.values()}) == 3
    assert str(farm.subnet_of(list(nodes.values()))) == "100.126.0.0/24"


def test_rehearsal_nodes_must_share_a_subnet() -> None:
    data = zonespec.load("farm-rehearsal").model_dump()
    data["storage_nodes"][0]["address"] = "100.126.9.5"
    with pytest.raises(ValueError, match="one /24"):
        farm.subnet_of(farm.nodes_of(zonespec.parse(data)))


def test_farm_up_refuses_a_spec_without_farm_machines() -> None:
    """`devcloud farm up` on a spec that names no farm machines stops before booting anything, with the reason."""
    from typer.testing import CliRunner

    from appliance.cli import app

    r = CliRunner().invoke(app, ["farm", "up", "appliance"])
    assert r.exit_code == 1
    assert "farm rehearsal failed" in r.output and "needs the management servers" in r.output
    assert "Traceback" not in r.output
