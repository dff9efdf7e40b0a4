"""Migration through the signed API on a two-host simulator cluster with two pools: findHostsForMigration,
live migrateVirtualMachine (chosen and auto-selected host), migrateVirtualMachineWithVolume for a Running and a
Stopped VM, migrateVolume and findStoragePoolsForMigration, the capacity ledger, and the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_vm_lifecycle import deploy, domains, expected_ledger, ledger, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api
GiB = 1024**3


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    from management.models.infra import Cluster, Pod, StoragePool

    for z in sim_zone(server, tmp_path, hosts=2):
        second = tmp_path / "pool-two"
        second.mkdir()
        with server.server.runtime.db.session() as s:
            cl = s.query(Cluster).filter_by(uuid=z["cluster"]).one()
            pod = s.query(Pod).filter_by(uuid=z["pod"]).one()
            pool = StoragePool(name=f"PS1-{z['tag']}", zone_id=z["zone_id"], pod_id=pod.id, cluster_id=cl.id,
                               scope="CLUSTER", pool_type="Filesystem", url=f"file://{second}", path=str(second),
                               capacity_bytes=1024 * GiB, status="Up")
            s.add(pool)
            s.flush()
            z["pool2"] = pool.uuid
        yield z


def test_find_hosts_and_live_migrate(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    src = vm["hostid"]
    other = next(h for h in zone["hosts"] if h != src)
    found = api("findHostsForMigration", virtualmachineid=vm["id"])
    assert found["count"] == 1
    cand = found["host"][0]
    assert (cand["id"], cand["suitableformigration"], cand["requiresStorageMotion"]) == (other, True, False)
    moved = api.run("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=other)["virtualmachine"]
    assert (moved["state"], moved["hostid"]) == ("Running", other)
    assert domains(zone)[vm["id"]].state.value == "Running"
    assert ledger(server, zone) == expected_ledger(server, zone)
    # autoselect (the default) picks the other host again
    back = api.run("migrateVirtualMachine", virtualmachineid=vm["id"])["virtualmachine"]
    assert back["hostid"] == src
    assert ledger(server, zone) == expected_ledger(server, zone)
    # the same host, a stopped VM
    job = api.wait(api("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=src)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"].startswith(
        "Cannot migrate VM, VM is already present on this host")
    api.run("stopVirtualMachine", id=vm["id"])
    job = api.wait(api("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=other)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == ("VM is not Running, unable to migrate the vm "
                                                                        "with specified id")
    status, err = api.error("findHostsForMigration", virtualmachineid=vm["id"])
    assert status == 431


def test_anti_affinity_blocks_a_migration(api: ApiClient, zone: dict[str, Any]) -> None:
    g = api.run("createAffinityGroup", name="apart", type="host anti-affinity")["affinitygroup"]
    a = deploy(api, zone, affinitygroupids=g["id"])
    b = deploy(api, zone, affinitygroupids=g["id"])
    cand = api("findHostsForMigration", virtualmachineid=a["id"])["host"][0]
    assert cand["id"] == b["hostid"] and cand["suitableformigration"] is False
    job = api.wait(api("migrateVirtualMachine", virtualmachineid=a["id"], hostid=b["hostid"])["jobid"])
    assert job["jobstatus"] == 2
    assert job["jobresult"]["errortext"] == "Unable to create deployment, affinity rules associated to the VM conflict"
    assert api("listVirtualMachines", id=a["id"])["virtualmachine"][0]["state"] == "Running"


def test_migrate_with_volume_running_and_stopped(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    root = api("listVolumes", virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    first_pool = root["storageid"]
    other = next(h for h in zone["hosts"] if h != vm["hostid"])
    moved = api.run("migrateVirtualMachineWithVolume", virtualmachineid=vm["id"], hostid=other,
                    **{"migrateto[0].volume": root["id"], "migrateto[0].pool": zone["pool2"]})["virtualmachine"]
    assert moved["hostid"] == other
    assert api("listVolumes", id=root["id"])["volume"][0]["storageid"] == zone["pool2"]
    api.run("stopVirtualMachine", id=vm["id"])
    job = api.wait(api("migrateVirtualMachineWithVolume", virtualmachineid=vm["id"], hostid=vm["hostid"])["jobid"])
    assert job["jobstatus"] == 2 and "is not in Running state to migrate it to new host" in \
        job["jobresult"]["errortext"]
    stopped = api.run("migrateVirtualMachineWithVolume", virtualmachineid=vm["id"],
                      **{"migrateto[0].volume": root["id"], "migrateto[0].pool": first_pool})["virtualmachine"]
    assert stopped["state"] == "Stopped"
    assert api("listVolumes", id=root["id"])["volume"][0]["storageid"] == first_pool
    assert api.run("startVirtualMachine", id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert ledger(server, zone) == expected_ledger(server, zone)


def test_migrate_volume_and_find_pools(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    vol = api.run("createVolume", name="data", zoneid=zone["zone"], diskofferingid=zone["disk"])["volume"]
    api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    vol = api("listVolumes", id=vol["id"])["volume"][0]
    pools = api("findStoragePoolsForMigration", id=vol["id"])
    assert [(p["id"], p["suitableformigration"]) for p in pools["storagepool"]] == [(zone["pool2"], True)]
    job = api.wait(api("migrateVolume", volumeid=vol["id"], storageid=zone["pool2"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == "Volume needs to be detached from VM"
    api.run("detachVolume", id=vol["id"])
    moved = api.run("migrateVolume", volumeid=vol["id"], storageid=zone["pool2"])["volume"]
    assert moved["storageid"] == zone["pool2"] and moved["state"] == "Ready"
    # and it still attaches (the simulator's host sees the volume in its new pool)
    api.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    assert vol["id"] in {v for d in domains(zone).values() for v in d.volumes}
