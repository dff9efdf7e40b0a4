"""Metrics (plugins/metrics) over a simulated zone: the list*Metrics commands carry the usage figures of the
simulator's hosts and domains on top of their base lists; VM and volume usage history comes from the samples the
stats collector stores every vm.stats.interval milliseconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.drivers import simulator_mocks
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    simulator_mocks.clear()
    yield from sim_zone(server, tmp_path, cpus=4, mhz=2000, mem_gib=8)
    simulator_mocks.clear()


def test_vm_metrics_come_from_the_simulated_domain(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    base = api("listVirtualMachines", id=vm["id"])["virtualmachine"][0]
    m = api("listVirtualMachinesMetrics", id=vm["id"])["virtualmachine"][0]
    assert {k: m[k] for k in base} == base  # the base list's row, untouched
    assert m["cpuused"] == "25.00%"  # the simulator keeps a quarter of each running vCPU busy
    assert m["cputotal"] == f"{base['cpunumber'] * base['cpuspeed'] / 1000:.1f} Ghz"
    assert m["memorytotal"] == f"{base['memory'] / 1024:.2f} GiB"
    assert m["memorykbs"] == base["memory"] * 1024
    assert m["networkread"].endswith(" MiB") and m["diskiopstotal"] == m["diskioread"] + m["diskiowrite"]
    api.run("stopVirtualMachine", id=vm["id"])
    stopped = api("listVirtualMachinesMetrics", id=vm["id"])["virtualmachine"][0]
    assert "cpuused" not in stopped and stopped["cputotal"] == m["cputotal"]


def test_host_cluster_zone_metrics(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    hosts = {h["id"]: h for h in api("listHostsMetrics", zoneid=zone["zone"])["host"]}
    busy = hosts[vm["hostid"]]
    assert busy["instances"] == "1 / 1" and busy["cputotalghz"] == "8.00 Ghz"
    assert busy["cpuused"] == "6.25%"  # one vCPU a quarter busy on a 4-core host
    assert busy["cpuusedghz"] == "0.50 Ghz" and busy["memorytotalgb"] == "8.00 GB"
    assert busy["memoryusedgb"] == "0.50 GB" and busy["cpuallocatedghz"] == "0.50 Ghz"
    assert busy["cputhreshold"] is False and busy["memoryallocatedthreshold"] is False
    idle = next(h for hid, h in hosts.items() if hid != vm["hostid"])
    assert idle["instances"] == "0 / 0" and idle["cpuused"] == "0.00%"

    cluster = api("listClustersMetrics", id=zone["cluster"])["cluster"][0]
    assert cluster["hosts"] == "2 / 2" and cluster["state"] == "Enabled"
    assert cluster["cputotal"] == "16.00 Ghz" and cluster["memorytotal"] == "16.00 GB"
    # (6.25% + 0%) / 2 hosts, and 500 of 16000 MHz allocated: 3.125 rounds half up, as Java's %.2f does
    assert cluster["cpuused"] == "3.13%" and cluster["cpuallocated"] == "3.13%"
    zone_m = api("listZonesMetrics", id=zone["zone"])["zone"][0]
    assert zone_m["clusters"] == "1 / 1" and zone_m["cputotal"] == "16.00 Ghz"

    pool = api("listStoragePoolsMetrics", zoneid=zone["zone"])["storagepool"][0]
    assert pool["disksizetotalgb"].endswith(" GB") and pool["storageusagethreshold"] is False

    user = api.new_account(name="metricsuser")
    status, _ = api.client_for(user).error("listHostsMetrics")
    assert status == 401  # admin only, as in CloudStack


def test_volume_metrics_answer_as_listvolumesresponse(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    r = api.call("listVolumesMetrics", virtualmachineid=vm["id"])
    assert list(r.json()) == ["listvolumesresponse"]  # CloudStack keeps the base command's response name
    vol = r.json()["listvolumesresponse"]["volume"][0]
    assert vol["sizegb"] == f"{vol['size'] / 1024**3:.2f} GB"
    assert vol["diskiopstotal"] == vol["diskioread"] + vol["diskiowrite"]


def test_usage_history_is_collected_every_interval(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    api("updateConfiguration", name="vm.stats.interval", value="300")

    def sampled() -> list[dict[str, Any]] | None:
        rows = api("listVirtualMachinesUsageHistory", id=vm["id"]).get("virtualmachine", [])
        return rows[0]["stats"] if rows and len(rows[0]["stats"]) >= 2 else None

    stats = wait_for(sampled, timeout=30, what="two usage samples")
    assert stats[0]["cpuused"] == "25%" and stats[0]["memorykbs"] > 0
    assert stats[-1]["networkkbsread"] >= stats[0]["networkkbsread"]
    vols = api("listVolumesUsageHistory", name="ROOT")["volume"]
    assert any(v["stats"] for v in vols)
    status, err = api.error("listVirtualMachinesUsageHistory", startdate="2030-01-02", enddate="2030-01-01")
    assert (status, err["errortext"]) == (431, "startDate cannot be after endDate.")
    assert api("listSystemVmsUsageHistory") == {}


def test_a_collection_round_writes_in_short_transactions(api: ApiClient, server: InProcess, zone: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every running VM is sampled, but no write transaction carries more than WRITE_BATCH samples: on SQLite one
    transaction for a whole round held the write lock for seconds at thousands of VMs, and deploys waiting behind
    it failed with "database is locked"."""
    from sqlalchemy import event

    from management.services.plugins import stats

    vms = [deploy(api, zone, name=f"s{i}") for i in range(5)]
    monkeypatch.setattr(stats, "WRITE_BATCH", 2)
    runtime = server.server.runtime
    txn = [0]
    inserts: list[tuple[int, str, int]] = []  # (transaction, table, rows)

    def on_begin(_conn: Any) -> None:
        txn[0] += 1

    def on_execute(_conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        for table in ("vm_stats", "volume_stats"):
            if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
                inserts.append((txn[0], table, len(params) if many else 1))

    event.listen(runtime.db.engine, "begin", on_begin)
    event.listen(runtime.db.engine, "before_cursor_execute", on_execute)
    try:
        assert stats.collect(runtime) == len(vms)
    finally:
        event.remove(runtime.db.engine, "begin", on_begin)
        event.remove(runtime.db.engine, "before_cursor_execute", on_execute)
    per_txn: dict[tuple[int, str], int] = {}
    for n, table, rows in inserts:
        per_txn[(n, table)] = per_txn.get((n, table), 0) + rows
    assert sum(r for (_n, table), r in per_txn.items() if table == "vm_stats") == len(vms)
    assert max(per_txn.values()) <= 2 and len({n for n, _t in per_txn}) >= 3 + 3  # 5 VM and 5 root-disk samples
    for vm in vms:  # and each VM's history shows the round
        assert api("listVirtualMachinesUsageHistory", id=vm["id"])["virtualmachine"][0]["stats"]


def test_server_database_and_usage_server_metrics(api: ApiClient, server: InProcess) -> None:
    ms = api("listManagementServersMetrics", system=True)["managementserver"]
    me = next(m for m in ms if m["id"] == server.server.runtime.msid)
    assert me["state"] == "Up" and me["availableprocessors"] >= 1 and me["threadstotalcount"] >= 1
    assert me["systemmemorytotal"].endswith(("GB", "MB")) and len(me["systemloadaverages"]) == 3
    db = api("listDbMetrics")["dbMetrics"]
    assert db["version"] and db["uptime"] >= 0
    usage = api("listUsageServerMetrics")["usageMetrics"]
    assert usage["state"] == "Down"  # no separate usage server process runs here


def test_list_infrastructure_counts_what_the_lists_show(api: ApiClient, zone: dict[str, Any]) -> None:
    deploy(api, zone)
    infra = api("listInfrastructure")["infrastructure"]
    hosts = api("listHosts", type="Routing")["host"]

    def count(command: str, key: str, **kw: Any) -> int:
        return len(api(command, **kw).get(key, []))

    assert infra["zones"] == count("listZones", "zone") == 1
    assert infra["pods"] == count("listPods", "pod")
    assert infra["clusters"] == count("listClusters", "cluster")
    assert infra["hosts"] == len(hosts) and infra["hosts"] >= 1
    assert infra["cpusockets"] == sum(h["cpusockets"] for h in hosts)
    assert infra["storagepools"] == count("listStoragePools", "storagepool") >= 1
    assert infra["imagestores"] == count("listImageStores", "imagestore") >= 1
    assert infra["routers"] == count("listRouters", "router", listall=True)
    assert infra["objectstores"] == count("listObjectStoragePools", "objectstore")
    assert infra["backuprepositories"] == count("listBackupRepositories", "backuprepository")
    assert infra["systemvms"] == count("listSystemVms", "systemvm") == 0 and infra["ilbvms"] == 0
    assert infra["managementservers"] == 1
    status, _ = api.client_for(api.new_account(name="curious")).error("listInfrastructure")
    assert status == 401  # an admin-only command is unknown to a user
