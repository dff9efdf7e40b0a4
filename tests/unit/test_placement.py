"""Placement as pure functions over rows (transient model objects, no database)."""

from __future__ import annotations

import pytest

from management import placement
from management.models.infra import Cluster, Host, StoragePool
from management.placement import ClusterView, Factors, Need

pytestmark = pytest.mark.unit
GiB = 1024**3


def host(i: int, *, cluster: int = 1, cpus: int = 4, mhz: int = 1000, mem: int = 8, cpu_alloc: int = 0,
         mem_alloc: int = 0, status: str = "Up", rs: str = "Enabled", tags: str | None = None,
         hv: str = "Simulator") -> Host:
    return Host(id=i, name=f"h{i}", type="Routing", status=status, resource_state=rs, cluster_id=cluster, zone_id=1,
                hypervisor_type=hv, url=f"http://sim/h{i}", cpus=cpus, speed=mhz, total_memory=mem * GiB,
                cpu_allocated=cpu_alloc, mem_allocated=mem_alloc, host_tags=tags)


def cluster(i: int, hosts: list[Host], *, state: str = "Enabled", f: Factors | None = None) -> ClusterView:
    return ClusterView(Cluster(id=i, name=f"c{i}", zone_id=1, pod_id=1, hypervisor_type="Simulator",
                               allocation_state=state), hosts, f or Factors(thresholds_enabled=False))


def test_first_fit_order_and_capacity() -> None:
    need = Need.for_vm(1, 1000, 1024)
    full = host(1, cpu_alloc=4000)
    ok = host(2)
    assert [h.id for h in placement.first_fit([cluster(1, [full, ok])], need)] == [2]
    assert placement.first_fit([cluster(1, [full])], need) == []


def test_overprovisioning_factors() -> None:
    h = host(1, cpus=1, mhz=1000, mem=1)
    need = Need.for_vm(2, 1000, 2048)
    assert not placement.host_fits(h, need, Factors())
    assert placement.host_fits(h, need, Factors(cpu=2.0, mem=2.0))
    assert placement.host_capacity(h, Factors(cpu=3.0, mem=1.5)) == (3000, int(1.5 * GiB))


def test_state_tags_pin_avoid_hypervisor() -> None:
    need = Need.for_vm(1, 500, 512)
    hs = [host(1, status="Down"), host(2, rs="Disabled"), host(3, tags="ssd,gpu"), host(4, hv="KVM"), host(5)]
    cv = [cluster(1, hs)]
    assert [h.id for h in placement.first_fit(cv, need)] == [3, 4, 5]  # no hypervisor asked for
    assert [h.id for h in placement.first_fit(cv, Need(500, 512, host_tag="gpu"))] == [3]
    assert [h.id for h in placement.first_fit(cv, Need(500, 512, host_id=5))] == [5]
    assert [h.id for h in placement.first_fit(cv, Need(500, 512, avoid=frozenset({3, 4})))] == [5]
    assert [h.id for h in placement.first_fit(cv, Need(500, 512, hypervisor="KVM"))] == []
    assert placement.first_fit([cluster(1, hs, state="Disabled")], need) == []


def test_cluster_disable_threshold() -> None:
    f = Factors(cpu_threshold=0.5, mem_threshold=0.85, thresholds_enabled=True)
    hs = [host(1, cpus=2, mhz=1000, cpu_alloc=800)]
    need = Need.for_vm(1, 300, 128)  # (800 + 300) / 2000 = 0.55 > 0.5
    assert placement.cluster_disabled(hs, need, f)
    assert placement.first_fit([cluster(1, hs, f=f), cluster(2, [host(2, cluster=2)], f=f)], need)[0].id == 2
    assert not placement.cluster_disabled(hs, need, Factors(cpu_threshold=0.5, thresholds_enabled=False))


def test_pool_selection() -> None:
    pools = [
        StoragePool(id=1, name="zonewide", zone_id=1, scope="ZONE", status="Up", capacity_bytes=100 * GiB,
                    allocated_bytes=0, url="x", path="/x"),
        StoragePool(id=2, name="other-cluster", zone_id=1, cluster_id=9, scope="CLUSTER", status="Up",
                    capacity_bytes=100 * GiB, allocated_bytes=0, url="x", path="/x"),
        StoragePool(id=3, name="mine", zone_id=1, cluster_id=1, scope="CLUSTER", status="Up",
                    capacity_bytes=10 * GiB, allocated_bytes=9 * GiB, url="x", path="/x", tags="fast"),
    ]
    pick = placement.pick_pool
    # Cluster pools first; storage factor 2 x threshold 0.85 lets 9 + 5 GiB fit into 10 GiB x 1.7.
    assert pick(pools, 5 * GiB, cluster_id=1, host_id=None, tags=None, factor=2.0, threshold=0.85).id == 3
    assert pick(pools, 5 * GiB, cluster_id=1, host_id=None, tags=None, factor=1.0, threshold=1.0).id == 1
    assert pick(pools, 5 * GiB, cluster_id=1, host_id=None, tags="fast", factor=1.0, threshold=1.0) is None
    assert pick(pools, 500 * GiB, cluster_id=1, host_id=None, tags=None, factor=2.0, threshold=0.85) is None
