"""A zone spec deploys through the public API (deployDataCenter order), and a second run changes nothing."""

from __future__ import annotations

import pytest

from appliance import zonespec
from appliance.client import CloudClient
from appliance.deploy import Deployer

pytestmark = pytest.mark.api


@pytest.mark.parametrize("scenario", ["simulator-advanced"])
def test_simulator_spec_deploys_and_is_idempotent(served, scenario: str) -> None:  # type: ignore[no-untyped-def]
    spec = zonespec.load(scenario)
    client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.05, job_timeout=60)
    try:
        first = Deployer(client).deploy(spec)
        assert first.changed
        zone = client.one("listZones", "zone", name=spec.zones[0].name)
        assert zone is not None and zone["allocationstate"] == "Enabled"
        assert zone["networktype"] == spec.zones[0].network_type
        hosts = client.items("listHosts", "host", zoneid=zone["id"], type="Routing")
        expected = sum(len(c.hosts) for p in spec.zones[0].pods for c in p.clusters)
        assert len(hosts) == expected and all(h["state"] == "Up" for h in hosts)
        pools = client.items("listStoragePools", "storagepool", zoneid=zone["id"])
        assert {p["name"] for p in pools} == {ps.name for p in spec.zones[0].pods for c in p.clusters
                                              for ps in c.primary_storage}
        assert client.items("listImageStores", "imagestore", zoneid=zone["id"])

        second = Deployer(client).deploy(spec)
        assert second.created == [], f"second run changed {second.created}"
    finally:
        client.close()
