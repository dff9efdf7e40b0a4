"""Capacity stays exact: thousands of random deploy/stop/start/destroy/expunge operations (with injected hypervisor
failures) through the services, then the host ledger must equal the sum over Starting/Running/Stopping VMs, no
host may be over-committed, the hypervisors must hold exactly the domains the database expects, and 533 must
appear when the zone is full. A concurrent phase checks that the conditional claims never over-commit."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from management.drivers.errors import InsufficientResources
from management.drivers.simulator import SimulatorFaults
from tests.api.test_vm_lifecycle import domains, expected_ledger, ledger, sim_zone
from tests.conftest import InProcess

pytestmark = pytest.mark.api

OPS = int(os.environ.get("DEVCLOUD_CAPACITY_OPS", "2000"))
MiB = 1024 * 1024


@pytest.fixture
def small_zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    # 3 hosts x (2 cores x 1000 MHz, 2 GiB): room for 4 Small Instances (500 MHz, 512 MiB) per host.
    yield from sim_zone(server, tmp_path, hosts=3, cpus=2, mhz=1000, mem_gib=2)


def _request(srv: InProcess, z: dict[str, Any], offering: str) -> Any:
    from management.models.identity import Account
    from management.models.infra import Zone
    from management.models.offerings import ServiceOffering
    from management.models.storage import Template
    from management.services.compute import vm as vm_service

    with srv.server.runtime.db.session() as s:
        so = s.scalar(select(ServiceOffering).where(ServiceOffering.uuid == z[offering]))
        req = vm_service.DeployRequest(
            owner=s.get_one(Account, 2), zone=s.scalar(select(Zone).where(Zone.uuid == z["zone"])), offering=so,
            template=s.scalar(select(Template).where(Template.uuid == z["template"])))
        vm = vm_service.allocate(s, req)
        return vm.id


def _check(srv: InProcess, z: dict[str, Any]) -> None:
    from management.models.compute import VirtualMachine
    from management.models.infra import Host

    assert ledger(srv, z) == expected_ledger(srv, z)
    with srv.server.runtime.db.session(write=False) as s:
        for h in s.scalars(select(Host).where(Host.id.in_(z["host_ids"]))):
            assert 0 <= h.cpu_allocated <= h.cpus * h.speed, h.name
            assert 0 <= h.mem_allocated <= h.total_memory, h.name
        vms = list(s.scalars(select(VirtualMachine).where(VirtualMachine.zone_id == z["zone_id"],
                                                          VirtualMachine.removed.is_(None))))
    doms = domains(z)
    # Every VM that ever ran and is not expunged has its domain; running ones are running there.
    expected = {v.uuid for v in vms if v.last_host_id is not None}
    assert set(doms) == expected
    for v in vms:
        if v.state == "Running":
            assert doms[v.uuid].state == "Running"
        elif v.uuid in doms:
            assert doms[v.uuid].state == "Stopped"


def test_random_operations_keep_capacity_exact(server: InProcess, small_zone: dict[str, Any]) -> None:
    from management.errors import CloudError, InsufficientCapacity
    from management.models.compute import VirtualMachine
    from management.services.compute import vm as vm_service

    rt = server.server.runtime
    z = small_zone
    rng = random.Random(20261125)
    stats: Counter[str] = Counter()
    live: list[int] = []
    t0 = time.monotonic()
    for i in range(OPS):
        op = rng.choices(["deploy", "stop", "start", "destroy", "expunge", "fault"], [30, 15, 15, 20, 15, 5])[0]
        try:
            if op == "deploy" or not live:
                vm_id = _request(server, z, rng.choice(["small", "small", "medium"]))
                live.append(vm_id)
                vm_service.start(rt, vm_id, deploy=True)
                stats["deployed"] += 1
            elif op == "fault":
                url = rng.choice(z["urls"])
                SimulatorFaults.for_host(url).fail("spawn", times=1,
                                                   error=InsufficientResources("simulated: host refuses"))
                stats["fault"] += 1
            else:
                vm_id = rng.choice(live)
                if op == "stop":
                    vm_service.stop(rt, vm_id, forced=rng.random() < 0.3)
                elif op == "start":
                    vm_service.start(rt, vm_id)
                elif op == "destroy":
                    vm_service.destroy(rt, vm_id, expunge_now=rng.random() < 0.5)
                else:
                    vm_service.destroy(rt, vm_id, expunge_now=True)
                stats[op] += 1
        except InsufficientCapacity as exc:
            assert exc.code == 533 and "Unable to create a deployment for VM" in exc.text
            stats["533"] += 1
        except CloudError as exc:
            assert exc.code == 431, exc.text  # invalid transitions only (start a Destroyed VM, ...)
            stats[f"{op}-431"] += 1
        if op in ("destroy", "expunge"):
            with rt.db.session(write=False) as s:
                alive = set(s.scalars(select(VirtualMachine.id).where(VirtualMachine.id.in_(live),
                                                                      VirtualMachine.removed.is_(None))))
            live = [v for v in live if v in alive]
        if i % 200 == 0:
            _check(server, z)
    elapsed = time.monotonic() - t0
    _check(server, z)
    for url in z["urls"]:
        SimulatorFaults.for_host(url).clear()
    print(f"\n{OPS} ops in {elapsed:.1f}s ({OPS / elapsed:.0f} ops/s): {dict(stats)}")
    assert stats["533"] > 0, "the zone never filled up"
    assert stats["deployed"] > OPS // 20
    # Drain: destroy + expunge everything; the ledger returns to zero and the hypervisors are empty.
    for vm_id in live:
        vm_service.destroy(rt, vm_id, expunge_now=True)
    assert ledger(server, z) == {h: (0, 0) for h in z["host_ids"]}
    assert domains(z) == {}


def test_concurrent_deploys_never_overcommit(server: InProcess, small_zone: dict[str, Any]) -> None:
    from management.errors import InsufficientCapacity
    from management.services.compute import vm as vm_service

    rt = server.server.runtime
    z = small_zone
    results: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(8):
            vm_id = _request(server, z, "small")
            try:
                vm_service.start(rt, vm_id, deploy=True)
                outcome = "ok"
            except InsufficientCapacity:
                outcome = "533"
            with lock:
                results[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results["ok"] == 12, results  # 3 hosts x 4 slots, exactly
    assert results["533"] == 20, results
    _check(server, z)
