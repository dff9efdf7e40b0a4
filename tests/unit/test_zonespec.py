"""Zone specs: the shipped scenarios validate, and a broken one is refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import zonespec

pytestmark = pytest.mark.unit


# smoke-*/e2e-* are scenario run files (appliance/scenario.py), not zone specs
@pytest.mark.parametrize("path", sorted(p for p in zonespec.SCENARIO_DIR.glob("*.yaml")
                                        if not p.stem.startswith(("smoke", "e2e"))), ids=lambda p: p.stem)
def test_shipped_scenarios_validate(path: Path) -> None:
    spec = zonespec.load(path)
    assert spec.zones and spec.zones[0].pods


def test_local_spec_is_one_kvm_host_on_directory_storage() -> None:
    spec = zonespec.load("local")
    cluster = spec.zones[0].pods[0].clusters[0]
    assert cluster.hypervisor == "KVM"
    assert cluster.hosts[0].url == "qemu:///system"
    assert cluster.primary_storage[0].url.startswith("file://")


def test_each_state_dir_gets_its_own_public_range(tmp_path: Path) -> None:
    gateways = {str(d): zonespec.load("local", d).zones[0].public_ranges[0].gateway
                for d in ("/var/lib/devcloud", tmp_path / "a", tmp_path / "b")}
    assert gateways["/var/lib/devcloud"] == "198.19.20.1"  # the default sandbox keeps its range
    assert len(set(gateways.values())) == 3 and all(g.startswith("198.19.") for g in gateways.values())
    assert zonespec.load("local", tmp_path / "a").zones[0].public_ranges[0].gateway == gateways[str(tmp_path / "a")]


def test_error_names_the_field(tmp_path: Path) -> None:
    bad = zonespec.load("local").model_dump()
    bad["zones"][0]["pods"][0]["clusters"][0]["hypervisor"] = "VMwhat"
    bad["zones"][0]["public_ranges"][0]["start"] = "not-an-ip"
    with pytest.raises(zonespec.SpecError) as err:
        zonespec.parse(bad, "broken.yaml")
    text = str(err.value)
    assert "zones[0].pods[0].clusters[0].hypervisor" in text and "unknown hypervisor 'VMwhat'" in text
    assert "zones[0].public_ranges[0].start" in text


def test_unknown_key_is_refused() -> None:
    data = zonespec.load("local").model_dump()
    data["zones"][0]["pods"][0]["clusterz"] = []
    with pytest.raises(zonespec.SpecError) as err:
        zonespec.parse(data)
    assert "zones[0].pods[0].clusterz: Extra inputs are not permitted" in str(err.value)


def test_missing_scenario_lists_known_ones() -> None:
    with pytest.raises(zonespec.SpecError) as err:
        zonespec.load("no-such-scenario")
    assert "local" in str(err.value)


def test_farm_example_is_remote_kvm_on_nfs() -> None:
    spec = zonespec.load("farm-example")
    cluster = spec.zones[0].pods[0].clusters[0]
    assert len(cluster.hosts) >= 2 and all(h.url.startswith("qemu+ssh://root@") for h in cluster.hosts)
    assert cluster.primary_storage[0].url.startswith("nfs://")
    assert spec.zones[0].secondary_storage[0].url.startswith("nfs://")


def test_farm_example_has_two_management_servers_behind_haproxy() -> None:
    mgmt = zonespec.load("farm-example").management
    assert mgmt is not None and [m.name for m in mgmt.servers] == ["mgmt1", "mgmt2"]
    assert mgmt.database == "mgmt1" and mgmt.load_balancer is not None


def test_several_management_servers_need_a_load_balancer() -> None:
    data = zonespec.load("farm-example").model_dump()
    data["management"]["load_balancer"] = None
    with pytest.raises(zonespec.SpecError, match="several management servers need a load_balancer"):
        zonespec.parse(data)
    data["management"]["servers"] = data["management"]["servers"][:1]
    data["management"]["database"] = "db9"
    with pytest.raises(zonespec.SpecError, match="database 'db9' is not one of the management servers"):
        zonespec.parse(data)


def test_state_dir_placeholder(tmp_path: Path) -> None:
    spec = zonespec.load("local", tmp_path)
    assert spec.zones[0].pods[0].clusters[0].primary_storage[0].url == f"file://{tmp_path}/primary"
    assert spec.zones[0].secondary_storage[0].url == f"file://{tmp_path}/secondary"


def test_host_and_storage_urls_are_checked() -> None:
    data = zonespec.load("local").model_dump()
    data["zones"][0]["pods"][0]["clusters"][0]["hosts"][0]["url"] = "http://sim/c0/h0"
    data["zones"][0]["secondary_storage"][0]["url"] = "/var/lib/x"
    with pytest.raises(zonespec.SpecError) as err:
        zonespec.parse(data)
    text = str(err.value)
    assert "zones[0].pods[0].clusters[0]: Value error, hosts[0].url 'http://sim/c0/h0' is not a KVM host URL" in text
    assert "zones[0].secondary_storage[0].url" in text


def test_first_vm_references_are_checked() -> None:
    data = zonespec.load("local").model_dump()
    data["first_vm"]["template"] = "nope"
    with pytest.raises(zonespec.SpecError, match="first_vm.template 'nope' is not one of the templates"):
        zonespec.parse(data)


def test_json_schema_is_current() -> None:
    """scenarios/schema/zonespec.schema.json (for editors) matches the pydantic model; regenerate with
    python -c "import json; from appliance.zonespec import CloudSpec; print(json.dumps(CloudSpec.model_json_schema(),
    indent=1, sort_keys=True))" > scenarios/schema/zonespec.schema.json"""
    import json

    path = zonespec.SCENARIO_DIR / "schema" / "zonespec.schema.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(zonespec.CloudSpec.model_json_schema()))


@pytest.mark.parametrize(("scenario", "box"), [("appliance", "devcloud-appliance"),
                                               ("appliance-xen", "devcloud-appliance-xen"),
                                               ("farm-example", "devcloud-appliance")])
def test_vagrant_boots_the_xen_box_where_the_appliance_is_dom0(scenario: str, box: str) -> None:
    """appliance-xen's Xen host has no address (the appliance itself is dom0): Vagrant boots the xen flavor's box.
    farm-example's Xen host is a machine of its own, so the appliance stays the KVM one."""
    from appliance import vagrant

    name, path = vagrant.box_of(scenario)
    assert name == box and path.name == f"{box}-libvirt.box"
