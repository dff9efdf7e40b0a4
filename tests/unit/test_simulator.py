"""Simulator specifics the shared contract suite does not cover: faults, shared state, capacity, registry."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from management.drivers.base import (
    DiskSpec,
    DomainSpec,
    GiB,
    LifecycleEventType,
    MiB,
    PoolSpec,
    PowerState,
    make_capabilities,
)
from management.drivers.errors import (
    DomainNotFound,
    DriverError,
    DriverTimeout,
    HostUnreachable,
    InsufficientResources,
    InvalidDomainState,
    TemplateNotFound,
)
from management.drivers.registry import UnknownDriver, driver_for_host, resolve_driver_name
from management.drivers.simulator import SimulatorDriver, SimulatorFaults, host_key, reset_simulator

pytestmark = pytest.mark.unit


@pytest.fixture
def url():
    u = f"http://sim/unit/{uuid.uuid4().hex[:10]}"
    yield u
    reset_simulator(u)


def make(url: str) -> SimulatorDriver:
    d = SimulatorDriver(url)
    d.connect()
    return d


def spec(memory_mib: int = 256, start: bool = True, disks=()) -> DomainSpec:
    u = str(uuid.uuid4())
    return DomainSpec(
        uuid=u, name=f"i-2-{u[:4]}-VM", vcpus=1, memory_mib=memory_mib, disks=disks, start=start
    )


# ---------------------------------------------------------------------------------------------- shared state


def test_instances_for_same_host_share_state(url):
    a, b = make(url), make(url + "?slow=get_domain:0")  # query does not change the host identity
    vm = a.spawn(spec()).uuid
    assert b.get_domain(vm).state is PowerState.RUNNING
    b.stop(vm)
    assert a.get_domain(vm).state is PowerState.STOPPED
    assert host_key(url + "?x=1") == host_key(url.replace("http://sim", "HTTP://SIM"))


def test_different_hosts_are_isolated(url):
    a, other = make(url), make(url + "-other")
    try:
        a.spawn(spec())
        assert other.list_domains() == []
    finally:
        reset_simulator(url + "-other")


def test_events_reach_listeners_of_every_instance_on_the_host(url):
    a, b = make(url), make(url)
    seen = []
    b.register_event_listener(seen.append)
    vm = a.spawn(spec()).uuid
    a.ex_set_state(vm, PowerState.CRASHED)
    kinds = [e.type for e in seen if e.vm_uuid == vm]
    assert kinds == [LifecycleEventType.DEFINED, LifecycleEventType.STARTED, LifecycleEventType.CRASHED]
    b.close()
    a.start(vm)
    assert len([e for e in seen if e.vm_uuid == vm]) == 3  # closed drivers get nothing


def test_broken_listener_does_not_break_the_driver(url):
    d = make(url)

    def boom(event):
        raise RuntimeError("listener bug")

    d.register_event_listener(boom)
    assert d.spawn(spec()).state is PowerState.RUNNING


# ---------------------------------------------------------------------------------------------- faults


def test_fail_from_url_query_applies_to_that_instance_only(url):
    failing, healthy = make(url + "?fail=spawn,stop"), make(url)
    s = spec()
    with pytest.raises(DriverError, match="simulated failure of spawn"):
        failing.spawn(s)
    assert healthy.get_domain(s.uuid) is None
    healthy.spawn(s)
    with pytest.raises(DriverError):
        failing.stop(s.uuid)
    assert healthy.stop(s.uuid).state is PowerState.STOPPED


def test_fail_via_api_counts_down_and_clears(url):
    d = make(url)
    vm = d.spawn(spec()).uuid
    SimulatorFaults.for_host(url).fail("stop", times=2, error=DriverError("disk on fire"))
    for _ in range(2):
        with pytest.raises(DriverError, match="disk on fire"):
            d.stop(vm)
    assert d.stop(vm).state is PowerState.STOPPED
    d.faults.fail("*")
    with pytest.raises(DriverError):
        d.start(vm)
    d.faults.clear()
    assert d.start(vm).state is PowerState.RUNNING


def test_injected_spawn_failure_rolls_back_created_disks(url):
    d = make(url)
    d.ensure_pool(PoolSpec("p", "/tmp/p"))
    d.faults.fail("spawn", times=1)
    s = spec(disks=(DiskSpec(str(uuid.uuid4()), "p", GiB),))
    with pytest.raises(DriverError):
        d.spawn(s)
    assert d.get_volume("p", s.disks[0].volume_uuid) is None
    assert d.host_stats().memory_used_bytes == 0


def test_slow_delays_then_succeeds(url):
    d = make(url + "?slow=start:0.3")
    vm = d.spawn(spec(start=False)).uuid
    t0 = time.monotonic()
    assert d.start(vm).state is PowerState.RUNNING
    assert time.monotonic() - t0 >= 0.3


def test_hang_delays_then_times_out(url):
    d = make(url)
    vm = d.spawn(spec()).uuid
    d.faults.hang("stop", 0.2)
    t0 = time.monotonic()
    with pytest.raises(DriverTimeout) as exc:
        d.stop(vm)
    assert time.monotonic() - t0 >= 0.2
    assert exc.value.retryable
    assert d.get_domain(vm).state is PowerState.RUNNING  # the hung operation did not happen


def test_unreachable_from_url_refuses_connect(url):
    d = SimulatorDriver(url + "?unreachable=1")
    with pytest.raises(HostUnreachable):
        d.connect()


def test_unreachable_via_api_affects_every_operation_until_cleared(url):
    d = make(url)
    vm = d.spawn(spec()).uuid
    SimulatorFaults.for_host(url).set_unreachable(True)
    for call in (d.host_info, d.list_domains, lambda: d.get_domain(vm), lambda: d.destroy(vm)):
        with pytest.raises(HostUnreachable):
            call()
    d.faults.clear()
    assert d.get_domain(vm).state is PowerState.RUNNING


# ---------------------------------------------------------------------------------------------- capacity


def test_host_size_defaults_and_url_overrides(url):
    info = make(url).host_info()
    assert (info.cpu_cores, info.cpu_mhz, info.memory_bytes) == (8, 2000, 16 * GiB)
    assert info.hypervisor_type == "Simulator"
    reset_simulator(url)
    info = make(url + "?cpu=4&mhz=2400&mem=8192&sockets=2").host_info()
    assert (info.cpu_sockets, info.cpu_cores, info.cpu_mhz, info.memory_bytes) == (2, 4, 2400, 8 * GiB)
    assert make(url + "?mem=1T").host_info().memory_bytes == 1024 * GiB


def test_memory_is_claimed_by_running_domains_and_released_on_stop(url):
    d = make(url + "?mem=1G")
    vm = d.spawn(spec(memory_mib=768)).uuid
    assert d.host_stats().memory_used_bytes == 768 * MiB
    big = spec(memory_mib=512)
    with pytest.raises(InsufficientResources):
        d.spawn(big)
    assert d.get_domain(big.uuid) is None
    d.stop(vm)
    assert d.host_stats().memory_used_bytes == 0
    d.spawn(big)
    with pytest.raises(InsufficientResources):
        d.start(vm)
    assert d.get_domain(vm).state is PowerState.STOPPED


def test_concurrent_spawns_never_overcommit_memory(url):
    d = make(url + "?mem=4G")
    results: list[str] = []

    def run():
        try:
            d.spawn(spec(memory_mib=1024))
            results.append("ok")
        except InsufficientResources:
            results.append("full")

    threads = [threading.Thread(target=run) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 4 and results.count("full") == 6


def test_pool_capacity_is_enforced(url):
    d = make(url)
    d.ensure_pool(PoolSpec("small", "/tmp/small", capacity_bytes=GiB))
    d.create_volume("small", "v1", 768 * MiB)
    with pytest.raises(InsufficientResources):
        d.create_volume("small", "v2", 512 * MiB)
    with pytest.raises(InsufficientResources):
        d.resize_volume("small", "v1", 2 * GiB)
    d.delete_volume("small", "v1")
    assert d.ensure_pool(PoolSpec("small", "/tmp/small")).available_bytes == GiB


# ------------------------------------------------------------------------------------------ storage details


def test_revert_restores_snapshot_size_and_refuses_running_domain(url):
    d = make(url)
    d.ensure_pool(PoolSpec("p", "/tmp/p"))
    d.create_volume("p", "v", GiB)
    d.snapshot_volume("p", "v", "s1")
    d.resize_volume("p", "v", 2 * GiB)
    assert d.revert_volume_snapshot("p", "v", "s1").size_bytes == GiB
    assert d.ex_list_snapshots("p", "v") == ["s1"]
    vm = d.spawn(spec()).uuid
    d.attach_volume(vm, "p", "v")
    with pytest.raises(InvalidDomainState):
        d.revert_volume_snapshot("p", "v", "s1")


def test_prepare_template_requires_readable_source(url, tmp_path: Path):
    d = make(url)
    d.ensure_pool(PoolSpec("p", str(tmp_path)))
    with pytest.raises(TemplateNotFound):
        d.prepare_template("p", "t", str(tmp_path / "missing.qcow2"))
    assert d.prepare_template("p", "t", "http://images.example/tiny.qcow2").size_bytes == 2 * GiB
    with pytest.raises(DriverError):
        d.spawn(spec(disks=(DiskSpec("root", "p", template="not-prepared"),)))
    assert d.get_volume("p", "root") is None


def test_ex_set_state_models_out_of_band_changes(url):
    d = make(url)
    vm = d.spawn(spec()).uuid
    assert d.ex_set_state(vm, PowerState.STOPPED).state is PowerState.STOPPED
    assert d.host_stats().domains_running == 0
    with pytest.raises(DomainNotFound):
        d.ex_set_state(str(uuid.uuid4()), PowerState.RUNNING)


# ------------------------------------------------------------------------------------------ registry, rules


def test_registry_resolves_hosts():
    assert resolve_driver_name("http://sim/c0/h0") == "simulator"
    assert resolve_driver_name("anything", hypervisor="Simulator") == "simulator"
    for uri in ("qemu:///system", "qemu+ssh://root@h1/system", "test:///default", "xen:///system"):
        assert resolve_driver_name(uri) == "libvirt"
    assert resolve_driver_name("http://10.0.0.5", hypervisor="KVM") == "libvirt"
    with pytest.raises(UnknownDriver):
        resolve_driver_name("http://10.0.0.5")
    with pytest.raises(UnknownDriver):
        resolve_driver_name("x", hypervisor="Hyperv")
    d = driver_for_host("http://sim/c9/h9")
    assert isinstance(d, SimulatorDriver) and d.url == "http://sim/c9/h9"
    reset_simulator("http://sim/c9/h9")


def test_capabilities_are_read_only_and_typo_proof():
    caps = make_capabilities(events=True)
    assert caps["events"] is True and caps["volume_resize"] is False
    with pytest.raises(TypeError):
        caps["events"] = False  # type: ignore[index]
    with pytest.raises(ValueError):
        make_capabilities(evnets=True)
