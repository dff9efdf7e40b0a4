"""The hypervisor driver contract: one behavioural suite, run over every registered driver factory.

Capability-gated tests skip when the driver declares the capability False. A driver that *claims* a
capability and then raises NotImplementedError fails here (the exception propagates as a test failure).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from management.drivers.base import (
    Capability,
    DomainInfo,
    DomainSnapshotInfo,
    DomainStats,
    HostInfo,
    HostStats,
    HypervisorDriver,
    LifecycleEvent,
    LifecycleEventType,
    MiB,
    PowerState,
    SnapshotInfo,
    VolumeInfo,
)
from management.drivers.errors import (
    CapabilityNotSupported,
    DomainExists,
    DomainNotFound,
    DriverError,
    DriverTimeout,
    GuestAgentUnavailable,
    InvalidDomainState,
    SnapshotNotFound,
    VolumeInUse,
)
from tests.tiers import capability_gate

pytestmark = pytest.mark.contract


def needs(driver: HypervisorDriver, capability: Capability) -> None:
    if not driver.supports(capability):
        capability_gate(f"{driver.name} declares {capability}=False")


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def state_of(driver: HypervisorDriver, vm_uuid: str) -> PowerState | None:
    info = driver.get_domain(vm_uuid)
    return info.state if info else None


# ------------------------------------------------------------------------------------------- declarations


def test_declares_name_and_known_capabilities(driver):
    assert isinstance(type(driver).name, str) and type(driver).name
    known = {c.value for c in Capability}
    assert set(driver.capabilities) <= known, "unknown capability flags"
    assert all(isinstance(v, bool) for v in driver.capabilities.values())
    with pytest.raises(TypeError):
        driver.capabilities["events"] = True  # type: ignore[index]  # declared, not mutable


def test_host_info_is_sane(driver):
    info = driver.host_info()
    assert isinstance(info, HostInfo)
    assert info.hostname
    assert info.cpu_sockets >= 1
    assert info.cpu_cores >= info.cpu_sockets
    assert info.cpu_mhz > 0
    assert info.memory_bytes >= 128 * MiB
    assert info.hypervisor_type and info.hypervisor_version and info.virt_type


def test_host_stats_are_sane(driver):
    stats = driver.host_stats()
    assert isinstance(stats, HostStats)
    assert stats.memory_total_bytes > 0
    assert 0 <= stats.memory_used_bytes <= stats.memory_total_bytes
    assert 0 <= stats.memory_free_bytes <= stats.memory_total_bytes
    assert 0.0 <= stats.cpu_utilization <= 100.0
    assert stats.vcpus_allocated >= 0 and stats.domains_running >= 0


# ------------------------------------------------------------------------------------------- lifecycle


def test_spawn_appears_in_list_running(h):
    spec = h.spec()
    info = h.driver.spawn(spec)
    assert isinstance(info, DomainInfo)
    assert info.uuid == spec.uuid and info.name == spec.name
    assert info.state is PowerState.RUNNING
    listed = {d.uuid: d for d in h.driver.list_domains()}
    assert listed[spec.uuid].state is PowerState.RUNNING


def test_domain_info_reports_our_ids_and_sizes(h):
    spec = h.spec(vcpus=2, memory_mib=128)
    h.driver.spawn(spec)
    info = h.driver.get_domain(spec.uuid)
    assert info is not None
    assert info.uuid == spec.uuid  # never a hypervisor id
    assert info.name == spec.name
    assert (info.vcpus, info.memory_mib) == (2, 128)
    assert info.volumes == (spec.disks[0].volume_uuid,)
    assert [m.lower() for m in info.macs] == [spec.nics[0].mac.lower()]


def test_states_are_normalised_power_states(h):
    h.spawn()
    h.spawn(start=False)
    for d in h.driver.list_domains():
        assert isinstance(d.state, PowerState), d
        assert isinstance(d.uuid, str) and len(d.uuid) == 36


def test_get_domain_of_unknown_uuid_is_none(h):
    assert h.driver.get_domain(h.new_uuid()) is None


def test_unknown_uuid_raises_domain_not_found(h):
    unknown = h.new_uuid()
    for call in (
        lambda: h.driver.start(unknown),
        lambda: h.driver.stop(unknown),
        lambda: h.driver.reboot(unknown),
        lambda: h.driver.detach_volume(unknown, h.new_uuid()),
        lambda: h.driver.unplug_nic(unknown, h.mac()),
    ):
        with pytest.raises(DomainNotFound):
            call()


def test_spawn_define_only_is_stopped(h):
    spec = h.spec(start=False)
    info = h.driver.spawn(spec)
    assert info.state is PowerState.STOPPED
    assert state_of(h.driver, spec.uuid) is PowerState.STOPPED


def test_spawn_duplicate_uuid_raises_domain_exists(h):
    spec = h.spec()
    h.driver.spawn(spec)
    with pytest.raises(DomainExists):
        h.driver.spawn(h.spec(uuid=spec.uuid))
    assert state_of(h.driver, spec.uuid) is PowerState.RUNNING


def test_stop_graceful(h):
    vm = h.spawn().uuid
    assert h.driver.stop(vm).state is PowerState.STOPPED
    assert state_of(h.driver, vm) is PowerState.STOPPED


def test_stop_force(h):
    vm = h.spawn().uuid
    assert h.driver.stop(vm, force=True).state is PowerState.STOPPED
    assert state_of(h.driver, vm) is PowerState.STOPPED


def test_stop_is_idempotent_and_start_restarts(h):
    vm = h.spawn().uuid
    h.driver.stop(vm, force=True)
    assert h.driver.stop(vm).state is PowerState.STOPPED  # no-op
    assert h.driver.start(vm).state is PowerState.RUNNING
    assert h.driver.start(vm).state is PowerState.RUNNING  # no-op
    assert state_of(h.driver, vm) is PowerState.RUNNING


def test_reboot_keeps_running(h):
    vm = h.spawn().uuid
    assert h.driver.reboot(vm).state is PowerState.RUNNING
    assert state_of(h.driver, vm) is PowerState.RUNNING


def test_reboot_of_stopped_domain_is_invalid(h):
    vm = h.spawn(start=False).uuid
    with pytest.raises(InvalidDomainState):
        h.driver.reboot(vm)


def test_destroy_removes_and_is_idempotent(h):
    vm = h.spawn().uuid
    h.driver.destroy(vm)
    assert h.driver.get_domain(vm) is None
    assert vm not in {d.uuid for d in h.driver.list_domains()}
    h.driver.destroy(vm)  # already gone: still succeeds
    h.driver.destroy(h.new_uuid())  # never existed: succeeds


def test_destroy_deletes_created_volumes_and_keeps_attached_ones(h):
    root = h.disk()
    data = h.volume()
    vm = h.driver.spawn(h.spec(disks=(root,))).uuid
    h.driver.stop(vm, force=True)
    h.driver.attach_volume(vm, h.pool, data)
    h.driver.destroy(vm)
    assert h.driver.get_volume(h.pool, root.volume_uuid) is None
    kept = h.driver.get_volume(h.pool, data)
    assert kept is not None
    h.driver.delete_volume(h.pool, data)  # detached by destroy, so deletable


def test_spawn_failing_half_way_leaves_nothing(h):
    good = h.disk()
    bad = h.disk(pool="no-such-pool-" + h.new_uuid()[:8], device_id=1)
    spec = h.spec(disks=(good, bad))
    with pytest.raises(DriverError):
        h.driver.spawn(spec)
    assert h.driver.get_domain(spec.uuid) is None
    assert h.driver.get_volume(h.pool, good.volume_uuid) is None


def test_injected_spawn_failure_leaves_nothing(h):
    injector = h.factory.inject_spawn_failure(h.driver)
    if injector is None:
        capability_gate(f"{h.factory.id} cannot inject a spawn failure")
    spec = h.spec()
    with injector, pytest.raises(DriverError):
        h.driver.spawn(spec)
    assert h.driver.get_domain(spec.uuid) is None
    assert h.driver.get_volume(h.pool, spec.disks[0].volume_uuid) is None
    # and the same spec spawns fine afterwards
    assert h.driver.spawn(spec).state is PowerState.RUNNING


def test_concurrent_spawns(h):
    specs = [h.spec() for _ in range(4)]
    errors: list[BaseException] = []

    def run(spec):
        try:
            h.driver.spawn(spec)
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    listed = {d.uuid for d in h.driver.list_domains()}
    assert {s.uuid for s in specs} <= listed


# ------------------------------------------------------------------------------------------- storage


def test_volume_create_get_delete(h):
    vol = h.volume(size_mib=32)
    info = h.driver.get_volume(h.pool, vol)
    assert isinstance(info, VolumeInfo)
    assert info.uuid == vol and info.pool == h.pool
    assert info.size_bytes >= 32 * MiB
    h.driver.delete_volume(h.pool, vol)
    assert h.driver.get_volume(h.pool, vol) is None


def test_delete_missing_volume_succeeds(h):
    h.driver.delete_volume(h.pool, h.new_uuid())
    h.driver.delete_volume("no-such-pool-" + h.new_uuid()[:8], h.new_uuid())


def test_attach_detach_round_trip_on_stopped_domain(h):
    vm = h.spawn(start=False).uuid
    vol = h.volume()
    info = h.driver.attach_volume(vm, h.pool, vol)
    assert vol in info.volumes
    assert vol in h.driver.get_domain(vm).volumes
    assert h.driver.attach_volume(vm, h.pool, vol).volumes.count(vol) == 1  # no-op
    info = h.driver.detach_volume(vm, vol)
    assert vol not in info.volumes
    assert vol not in h.driver.get_domain(vm).volumes
    h.driver.detach_volume(vm, vol)  # no-op
    h.driver.delete_volume(h.pool, vol)
    assert h.driver.get_volume(h.pool, vol) is None


def test_attach_detach_hotplug_on_running_domain(h):
    needs(h.driver, Capability.VOLUME_HOTPLUG)
    vm = h.spawn().uuid
    vol = h.volume()
    assert vol in h.driver.attach_volume(vm, h.pool, vol).volumes
    assert vol not in h.driver.detach_volume(vm, vol).volumes
    assert state_of(h.driver, vm) is PowerState.RUNNING


def test_attached_volume_cannot_be_deleted_or_attached_twice(h):
    vm = h.spawn(start=False).uuid
    other = h.spawn(start=False).uuid
    vol = h.volume()
    h.driver.attach_volume(vm, h.pool, vol)
    with pytest.raises(VolumeInUse):
        h.driver.delete_volume(h.pool, vol)
    with pytest.raises(VolumeInUse):
        h.driver.attach_volume(other, h.pool, vol)
    assert h.driver.get_volume(h.pool, vol) is not None


def test_resize_volume(h):
    needs(h.driver, Capability.VOLUME_RESIZE)
    vol = h.volume(size_mib=16)
    info = h.driver.resize_volume(h.pool, vol, 48 * MiB)
    assert info.size_bytes >= 48 * MiB
    assert h.driver.get_volume(h.pool, vol).size_bytes >= 48 * MiB


def test_snapshot_revert_delete(h):
    needs(h.driver, Capability.VOLUME_SNAPSHOT)
    vol = h.volume()
    snap = h.new_uuid()
    info = h.driver.snapshot_volume(h.pool, vol, snap)
    assert isinstance(info, SnapshotInfo)
    assert (info.uuid, info.volume_uuid, info.pool) == (snap, vol, h.pool)
    reverted = h.driver.revert_volume_snapshot(h.pool, vol, snap)
    assert isinstance(reverted, VolumeInfo) and reverted.uuid == vol
    h.driver.delete_volume_snapshot(h.pool, vol, snap)
    h.driver.delete_volume_snapshot(h.pool, vol, snap)  # idempotent
    with pytest.raises(SnapshotNotFound):
        h.driver.revert_volume_snapshot(h.pool, vol, snap)


def test_volume_snapshot_image(h):
    """A snapshot's own image (createTemplate from a snapshot copies it) has the volume's size, or is None where the
    driver keeps no file of its own for it; gone once the snapshot is deleted."""
    needs(h.driver, Capability.VOLUME_SNAPSHOT)
    vol = h.volume(size_mib=16)
    snap = h.new_uuid()
    h.driver.snapshot_volume(h.pool, vol, snap)
    image = h.driver.get_volume_snapshot(h.pool, vol, snap)
    assert image is None or (isinstance(image, VolumeInfo) and image.size_bytes >= 16 * MiB)
    assert h.driver.get_volume_snapshot(h.pool, vol, h.new_uuid()) is None
    h.driver.delete_volume_snapshot(h.pool, vol, snap)
    assert h.driver.get_volume_snapshot(h.pool, vol, snap) is None


def test_volume_with_snapshots_can_be_deleted(h):
    needs(h.driver, Capability.VOLUME_SNAPSHOT)
    vol = h.volume()
    h.driver.snapshot_volume(h.pool, vol, h.new_uuid())
    h.driver.delete_volume(h.pool, vol)
    assert h.driver.get_volume(h.pool, vol) is None


def test_prepare_template_once_and_spawn_from_it(h):
    source = h.factory.template_source(h.tmp_path)
    tmpl = h.new_uuid()
    h.volumes.append((h.pool, tmpl))
    first = h.driver.prepare_template(h.pool, tmpl, source)
    again = h.driver.prepare_template(h.pool, tmpl, source)
    assert first.uuid == again.uuid == tmpl and first.path == again.path
    root = h.disk(template=tmpl, size_mib=8)
    info = h.driver.spawn(h.spec(disks=(root,)))
    assert info.volumes == (root.volume_uuid,)
    cloned = h.driver.get_volume(h.pool, root.volume_uuid)
    assert cloned is not None and cloned.size_bytes >= first.size_bytes
    h.driver.destroy(info.uuid)
    assert h.driver.get_volume(h.pool, tmpl) is not None  # the template copy outlives its users


# ------------------------------------------------------------------------------------------- nics, console


def test_plug_unplug_nic(h):
    vm = h.spawn(start=False).uuid
    nic = h.factory.make_nic(h.mac())
    assert nic.mac.lower() in [m.lower() for m in h.driver.plug_nic(vm, nic).macs]
    assert nic.mac.lower() not in [m.lower() for m in h.driver.unplug_nic(vm, nic.mac).macs]
    h.driver.unplug_nic(vm, nic.mac)  # no-op


def test_plug_nic_hotplug(h):
    needs(h.driver, Capability.NIC_HOTPLUG)
    spec = h.spec()
    vm = h.driver.spawn(spec).uuid
    h.factory.wait_guest(h.driver, spec)  # a guest still in its firmware ignores the unplug request
    nic = h.factory.make_nic(h.mac())
    assert nic.mac.lower() in [m.lower() for m in h.driver.plug_nic(vm, nic).macs]
    if h.factory.guest_acks_unplug is False:
        return
    try:
        info = h.driver.unplug_nic(vm, nic.mac)
    except DriverTimeout:
        if h.factory.guest_acks_unplug:
            raise
        capability_gate(f"{h.factory.id}: its test guest does not acknowledge NIC hot-unplug")
    assert nic.mac.lower() not in [m.lower() for m in info.macs]


def test_console_address(h):
    needs(h.driver, Capability.CONSOLE)
    vm = h.spawn().uuid
    addr = h.driver.console_address(vm)
    assert addr.protocol in ("vnc", "spice", "serial")
    assert addr.host and addr.port > 0


def test_domain_stats_of_running_domains(h):
    """Metrics and usage history read these: a running domain's own counters; nothing for others."""
    needs(h.driver, Capability.DOMAIN_STATS)
    spec = h.spec(vcpus=2, memory_mib=128)
    h.driver.spawn(spec)
    first = h.driver.domain_stats(spec.uuid)
    assert isinstance(first, DomainStats)
    assert first.vcpus == 2 and first.memory_kib == 128 * 1024
    assert first.cpu_time_ns >= 0 and first.net_rx_bytes >= 0 and first.net_tx_bytes >= 0
    assert set(first.disks) <= {spec.disks[0].volume_uuid}  # keyed by our volume uuids, never device names
    if first.memory_unused_kib is not None:
        assert 0 <= first.memory_unused_kib <= first.memory_kib
    if first.cpu_utilization is not None:
        assert 0.0 <= first.cpu_utilization <= 100.0
    later = h.driver.domain_stats(spec.uuid)
    assert later is not None and later.cpu_time_ns >= first.cpu_time_ns  # counters never go back
    stopped = h.spawn(start=False)
    assert h.driver.domain_stats(stopped.uuid) is None
    assert h.driver.domain_stats(h.new_uuid()) is None


def test_undeclared_capabilities_raise_capability_not_supported(h):
    """A missing capability is declared and refused with CapabilityNotSupported, never NotImplementedError."""
    drv = h.driver
    vol = h.volume()
    gated = {
        Capability.VOLUME_RESIZE: lambda: drv.resize_volume(h.pool, vol, 64 * MiB),
        Capability.VOLUME_SNAPSHOT: lambda: drv.snapshot_volume(h.pool, vol, h.new_uuid()),
        Capability.CONSOLE: lambda: drv.console_address(h.spawn().uuid),
        Capability.VM_SNAPSHOT: lambda: drv.snapshot_domain(h.spawn(start=False).uuid, h.new_uuid()),
        Capability.LIVE_MIGRATION: lambda: drv.migrate(h.spawn().uuid, drv),
        Capability.STORAGE_MIGRATION: lambda: drv.migrate_volume(h.pool, vol, h.pool),
        Capability.CDROM: lambda: drv.eject_cdrom(h.spawn(start=False).uuid),
        Capability.VOLUME_TRANSFER: lambda: drv.export_volume(h.pool, vol, str(h.tmp_path / "x.img")),
        Capability.DOMAIN_STATS: lambda: drv.domain_stats(h.spawn().uuid),
    }
    missing = [cap for cap in gated if not drv.supports(cap)]
    if not missing:
        capability_gate(f"{drv.name} declares every gated capability: none to refuse")
    for cap in missing:
        with pytest.raises(CapabilityNotSupported):
            gated[cap]()


# ------------------------------------------------------------------------------------------- domain snapshots


def test_domain_snapshot_disk_only_revert_delete(h):
    needs(h.driver, Capability.VM_SNAPSHOT)
    vm = h.spawn(start=False).uuid
    snap = h.new_uuid()
    info = h.driver.snapshot_domain(vm, snap)
    assert isinstance(info, DomainSnapshotInfo)
    assert (info.uuid, info.vm_uuid, info.memory) == (snap, vm, False)
    assert [s.uuid for s in h.driver.list_domain_snapshots(vm)] == [snap]
    with pytest.raises(DriverError):
        h.driver.snapshot_domain(vm, snap)  # same id twice
    second = h.new_uuid()
    h.driver.snapshot_domain(vm, second)
    assert [s.uuid for s in h.driver.list_domain_snapshots(vm)] == [snap, second]
    assert h.driver.revert_domain_snapshot(vm, snap).state is PowerState.STOPPED
    h.driver.delete_domain_snapshot(vm, snap)
    h.driver.delete_domain_snapshot(vm, snap)  # idempotent
    with pytest.raises(SnapshotNotFound):
        h.driver.revert_domain_snapshot(vm, snap)
    assert h.driver.revert_domain_snapshot(vm, second).state is PowerState.STOPPED  # the other one still works
    assert h.driver.start(vm).state is PowerState.RUNNING  # and the reverted domain starts


def test_domain_snapshot_with_memory_reverts_to_running(h):
    needs(h.driver, Capability.VM_SNAPSHOT_MEMORY)
    vm = h.spawn().uuid
    snap = h.new_uuid()
    assert h.driver.snapshot_domain(vm, snap, memory=True).memory
    assert state_of(h.driver, vm) is PowerState.RUNNING  # taking it leaves the guest running
    h.driver.stop(vm, force=True)
    assert h.driver.revert_domain_snapshot(vm, snap).state is PowerState.RUNNING
    assert state_of(h.driver, vm) is PowerState.RUNNING
    h.driver.delete_domain_snapshot(vm, snap)
    assert h.driver.list_domain_snapshots(vm) == []


def test_volume_snapshot_from_a_domain_snapshot(h):
    needs(h.driver, Capability.VM_SNAPSHOT)
    needs(h.driver, Capability.VOLUME_SNAPSHOT)
    spec = h.spec(start=False)
    root = spec.disks[0].volume_uuid
    vm = h.driver.spawn(spec).uuid
    dsnap, vsnap = h.new_uuid(), h.new_uuid()
    h.driver.snapshot_domain(vm, dsnap)
    info = h.driver.snapshot_volume_from_domain_snapshot(vm, dsnap, h.pool, root, vsnap)
    assert (info.uuid, info.volume_uuid, info.pool) == (vsnap, root, h.pool)
    assert [s.uuid for s in h.driver.list_domain_snapshots(vm)] == [dsnap]  # kept
    assert h.driver.revert_volume_snapshot(h.pool, root, vsnap).uuid == root  # an ordinary volume snapshot
    h.driver.delete_volume_snapshot(h.pool, root, vsnap)
    with pytest.raises(SnapshotNotFound):
        h.driver.snapshot_volume_from_domain_snapshot(vm, h.new_uuid(), h.pool, root, h.new_uuid())


def test_memory_snapshot_needs_a_running_domain(h):
    needs(h.driver, Capability.VM_SNAPSHOT_MEMORY)
    vm = h.spawn(start=False).uuid
    with pytest.raises(InvalidDomainState):
        h.driver.snapshot_domain(vm, h.new_uuid(), memory=True)
    assert h.driver.list_domain_snapshots(vm) == []


def test_quiesced_snapshot_without_guest_agent_is_refused(h):
    needs(h.driver, Capability.VM_SNAPSHOT)
    vm = h.spawn().uuid
    with pytest.raises(GuestAgentUnavailable):
        h.driver.snapshot_domain(vm, h.new_uuid(), quiesce=True)
    assert h.driver.list_domain_snapshots(vm) == []
    assert state_of(h.driver, vm) is PowerState.RUNNING


def test_destroy_removes_domain_snapshots(h):
    needs(h.driver, Capability.VM_SNAPSHOT)
    vm = h.spawn(start=False).uuid
    h.driver.snapshot_domain(vm, h.new_uuid())
    h.driver.destroy(vm)
    assert h.driver.get_domain(vm) is None


# ------------------------------------------------------------------------------------------- migration


@pytest.mark.timeout(1800)  # the first one boots the session's second host (a nested VM for libvirt-qemu)
def test_live_migration_to_a_second_host(h):
    needs(h.driver, Capability.LIVE_MIGRATION)
    dest = h.destination
    spec = h.spec()
    vm = h.driver.spawn(spec).uuid
    # without shared storage the disks travel to the destination's pool of the same name
    copy = None if h.factory.shared_storage else {spec.disks[0].volume_uuid: h.pool}
    info = h.driver.migrate(vm, dest, volumes=copy)
    assert isinstance(info, DomainInfo) and info.uuid == vm and info.state is PowerState.RUNNING
    assert h.driver.get_domain(vm) is None
    moved = dest.get_domain(vm)
    assert moved is not None and moved.state is PowerState.RUNNING
    assert moved.volumes == (spec.disks[0].volume_uuid,)
    assert [m.lower() for m in moved.macs] == [spec.nics[0].mac.lower()]
    dest.stop(vm, force=True)
    dest.destroy(vm)
    assert dest.get_volume(h.pool, spec.disks[0].volume_uuid) is None  # the spawned disk went with it


@pytest.mark.timeout(1800)  # the first one boots the session's second host (a nested VM for libvirt-qemu)
def test_live_migration_with_storage_copy(h):
    needs(h.driver, Capability.LIVE_MIGRATION)
    needs(h.driver, Capability.STORAGE_MIGRATION)
    dest = h.destination
    target = h.factory.pool_spec(h.tmp_path / "dest-only")
    dest.ensure_pool(target)
    spec = h.spec()
    root = spec.disks[0].volume_uuid
    vm = h.driver.spawn(spec).uuid
    h.volumes.append((target.name, root))
    info = h.driver.migrate(vm, dest, volumes={root: target.name})
    assert info.state is PowerState.RUNNING
    dest_info = dest.get_domain(vm)
    assert dest_info is not None and dest_info.volumes == (root,)
    assert dest.get_volume(target.name, root) is not None
    assert h.driver.get_volume(h.pool, root) is None  # the source copy is gone
    assert h.driver.get_domain(vm) is None


@pytest.mark.timeout(1800)  # the first one boots the session's second host (a nested VM for libvirt-qemu)
def test_migrating_a_stopped_domain_is_invalid(h):
    needs(h.driver, Capability.LIVE_MIGRATION)
    vm = h.spawn(start=False).uuid
    with pytest.raises(InvalidDomainState):
        h.driver.migrate(vm, h.destination)
    assert state_of(h.driver, vm) is PowerState.STOPPED
    assert h.destination.get_domain(vm) is None


def test_migrate_volume_between_pools(h):
    needs(h.driver, Capability.STORAGE_MIGRATION)
    other = h.second_pool()
    vol = h.volume(size_mib=16)
    h.volumes.append((other, vol))
    vm = h.spawn(start=False).uuid
    h.driver.attach_volume(vm, h.pool, vol)
    info = h.driver.migrate_volume(h.pool, vol, other)
    assert (info.uuid, info.pool) == (vol, other) and info.size_bytes >= 16 * MiB
    assert h.driver.get_volume(h.pool, vol) is None
    assert h.driver.get_volume(other, vol) is not None
    assert vol in h.driver.get_domain(vm).volumes  # the stopped domain uses the copy
    assert h.driver.start(vm).state is PowerState.RUNNING
    with pytest.raises(InvalidDomainState):  # in use by a running domain
        h.driver.migrate_volume(other, vol, h.pool)


# ------------------------------------------------------------------------------------------- CD-ROM


def _iso(h) -> str:
    iso = h.new_uuid()
    h.volumes.append((h.pool, iso))
    h.driver.prepare_template(h.pool, iso, h.factory.iso_source(h.tmp_path))
    return iso


def test_cdrom_media_change_on_a_running_domain(h):
    needs(h.driver, Capability.CDROM)
    iso = _iso(h)
    vm = h.spawn().uuid
    assert h.driver.cdrom_of(vm) is None
    h.driver.insert_cdrom(vm, h.pool, iso)
    assert h.driver.cdrom_of(vm) == iso
    assert state_of(h.driver, vm) is PowerState.RUNNING
    h.driver.eject_cdrom(vm)
    assert h.driver.cdrom_of(vm) is None
    h.driver.eject_cdrom(vm)  # no-op
    h.driver.insert_cdrom(vm, h.pool, iso)
    h.driver.stop(vm, force=True)
    assert h.driver.cdrom_of(vm) == iso  # the media stays in across a power cycle
    h.driver.destroy(vm)
    assert h.driver.get_volume(h.pool, iso) is not None  # the ISO copy outlives its user


def test_spawn_with_an_iso_in_the_drive(h):
    needs(h.driver, Capability.CDROM)
    iso = _iso(h)
    vm = h.driver.spawn(h.spec(cdrom=(h.pool, iso))).uuid
    assert h.driver.cdrom_of(vm) == iso
    assert state_of(h.driver, vm) is PowerState.RUNNING


# ------------------------------------------------------------------------------------------- volume transfer


def test_export_and_import_a_volume(h):
    needs(h.driver, Capability.VOLUME_TRANSFER)
    vol = h.volume(size_mib=8)
    out = h.tmp_path / "exported.img"
    size = h.driver.export_volume(h.pool, vol, str(out))
    assert out.is_file() and size == out.stat().st_size and size > 0
    copy = h.new_uuid()
    h.volumes.append((h.pool, copy))
    info = h.driver.import_volume(h.pool, copy, str(out))
    assert info.uuid == copy and info.size_bytes >= 8 * MiB
    vm = h.spawn(start=False).uuid
    assert copy in h.driver.attach_volume(vm, h.pool, copy).volumes  # an ordinary volume
    with pytest.raises(DriverError):
        h.driver.import_volume(h.pool, copy, str(out))  # exists already


# ------------------------------------------------------------------------------------------- events


def test_lifecycle_events_started_and_stopped(h):
    needs(h.driver, Capability.EVENTS)
    seen: list[LifecycleEvent] = []
    lock = threading.Lock()

    def listener(ev: LifecycleEvent) -> None:
        with lock:
            seen.append(ev)

    unregister = h.driver.register_event_listener(listener)

    def got(vm: str, kind: LifecycleEventType) -> bool:
        with lock:
            return any(e.vm_uuid == vm and e.type is kind for e in seen)

    vm = h.spawn().uuid
    assert wait_for(lambda: got(vm, LifecycleEventType.STARTED)), seen
    h.driver.stop(vm, force=True)
    assert wait_for(lambda: got(vm, LifecycleEventType.STOPPED)), seen
    with lock:
        ours = [e for e in seen if e.vm_uuid == vm]
    assert all(isinstance(e.state, PowerState) for e in ours)
    assert [e.state for e in ours if e.type is LifecycleEventType.STOPPED][-1] is PowerState.STOPPED

    unregister()
    count = len(seen)
    h.driver.start(vm)
    time.sleep(0.2)
    assert len(seen) == count, "events delivered after unregister"
