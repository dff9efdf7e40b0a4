"""Usage records from usage events, as CloudStack's usage server computes them, for a scripted day on a controlled
clock: a VM running 3 h then stopped 2 h, a 10 GiB volume for 5 h, one public IP for 1 h."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_networks import make_zone
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api

T0 = datetime(2026, 1, 10, 6, 0, 0, tzinfo=UTC)


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def test_scripted_day(api: ApiClient, server: InProcess, zone: dict[str, Any],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    from management.services.platform import usage

    now = {"t": T0}
    monkeypatch.setattr(usage, "CLOCK", lambda: now["t"])
    ipzone = make_zone(server, name="usage-ip-zone")
    user = api.new_account(name="metered")
    u = api.client_for(user)
    ten = api("createDiskOffering", name="ten", displaytext="10 GiB", disksize=10)["diskoffering"]

    vm = deploy(u, zone)                                                   # 06:00 created and running
    root = u("listVolumes", virtualmachineid=vm["id"])["volume"][0]
    vol = u.run("createVolume", name="data", diskofferingid=ten["id"], zoneid=zone["zone"])["volume"]
    off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]
    net = u("createNetwork", name="metered-net", displaytext="n", networkofferingid=off["id"],
            zoneid=ipzone["id"])["network"]
    now["t"] = T0 + timedelta(hours=1)
    ip = u.run("associateIpAddress", networkid=net["id"])["ipaddress"]     # 07:00 IP taken
    now["t"] = T0 + timedelta(hours=2)
    u.run("disassociateIpAddress", id=ip["id"])                            # 08:00 IP released
    now["t"] = T0 + timedelta(hours=3)
    u.run("stopVirtualMachine", id=vm["id"])                               # 09:00 stopped
    now["t"] = T0 + timedelta(hours=5)
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)           # 11:00 gone
    u("deleteVolume", id=vol["id"])                                    # 11:00 volume deleted

    assert api("generateUsageRecords", startdate="2026-01-10", enddate="2026-01-10")["success"] is True
    recs = api("listUsageRecords", startdate="2026-01-10", enddate="2026-01-10", account="metered",
               domainid=user["domainid"])["usagerecord"]
    scripted = {vm["id"], root["id"], vol["id"], ip["id"]}  # (the network's source NAT IP has its own record)
    got = sorted((r["usagetype"], r["rawusage"], r.get("size"), r["usageid"]) for r in recs
                 if r["usageid"] in scripted)
    expected = sorted([
        (1, "3.000000", None, vm["id"]),                 # running VM: 06:00-09:00
        (2, "5.000000", None, vm["id"]),                 # allocated VM: 06:00-11:00
        (3, "1.000000", None, ip["id"]),                 # public IP: 07:00-08:00
        (6, "5.000000", 10 * 1024**3, vol["id"]),        # the 10 GiB volume: 06:00-11:00
        (6, "5.000000", root["size"], root["id"]),       # the VM's root disk: 06:00-11:00
    ] + [(13, "5.000000", None, vm["id"]) for r in recs if r["usagetype"] == 13])
    assert got == expected, recs
    run = next(r for r in recs if r["usagetype"] == 1)
    assert run["usage"] == "3.000000 Hrs" and run["startdate"].startswith("2026-01-10T00:00:00")
    assert run["enddate"].startswith("2026-01-10T23:59:59") and run["account"] == "metered"
    assert "running time" in run["description"]
    # Regenerating the same day writes the same records, not a second copy.
    api("generateUsageRecords", startdate="2026-01-10", enddate="2026-01-10")
    assert api("listUsageRecords", startdate="2026-01-10", enddate="2026-01-10", account="metered",
               domainid=user["domainid"])["count"] == len(recs)
    types = {t["id"]: t["name"] for t in api("listUsageTypes")["usagetype"]}
    assert types[1] == "RUNNING_VM" and types[6] == "VOLUME" and len(types) >= 25
