"""XenAPI driver against the recording fake pool: the calls a real pool receives, and the errors it maps."""

from __future__ import annotations

import threading
import time

import pytest

from management.drivers.base import DiskSpec, DomainSpec, LifecycleEventType, NicSpec, PoolSpec, PowerState
from management.drivers.errors import (
    DomainNotFound,
    DriverError,
    HostUnreachable,
    InsufficientResources,
    InvalidDomainState,
)
from management.drivers.xenapi.driver import POWER_STATE_MAP, XenAPIDriver, power_state
from management.drivers.xenapi.fake import FakeXapi

GiB = 1024**3
MiB = 1024**2
MASTER, MEMBER = "192.0.2.11", "192.0.2.12"


@pytest.fixture
def fake() -> FakeXapi:
    return FakeXapi(hosts=(("xs-1", MASTER), ("xs-2", MEMBER)), host_memory=4 * GiB, dom0_memory=1 * GiB)


def make(fake: FakeXapi, address: str = MASTER, **kw) -> XenAPIDriver:
    d = XenAPIDriver(f"http://{address}", username="root", password="password",
                     session_factory=fake.session_factory, event_timeout=0.3, **kw)
    d.connect()
    return d


@pytest.fixture
def drv(fake: FakeXapi):
    d = make(fake)
    yield d
    d.close()


@pytest.fixture
def pool(drv: XenAPIDriver) -> str:
    return drv.ensure_pool(PoolSpec(name="ps-1", path="192.0.2.50:/export/primary", kind="nfs")).name


@pytest.fixture
def template(drv: XenAPIDriver, pool: str, tmp_path) -> str:
    src = tmp_path / "t.vhd"
    src.write_bytes(b"x" * 4096)
    drv.prepare_template(pool, "tmpl-1", str(src))
    return "tmpl-1"


def spec(pool: str, template: str | None = "tmpl-1", *, uuid: str = "11111111-1111-1111-1111-111111111111",
         mem: int = 256, nics=(NicSpec(mac="02:00:00:00:00:01", vlan=120),), start: bool = True) -> DomainSpec:
    return DomainSpec(uuid=uuid, name="i-2-5-VM", vcpus=2, memory_mib=mem, start=start,
                      disks=(DiskSpec(volume_uuid=uuid[:-4] + "aaaa", pool=pool, size_bytes=64 * MiB,
                                      template=template),), nics=nics)


def guest_objects(fake: FakeXapi) -> dict:
    vdis = fake.records("VDI", lambda r: "devcloud_template" not in r["other_config"])
    return {"vms": fake.guest_vms(), "vdis": vdis, "vbds": fake.records("VBD"), "vifs": fake.records("VIF")}


def test_power_state_table() -> None:
    assert POWER_STATE_MAP == {"Running": PowerState.RUNNING, "Halted": PowerState.STOPPED,
                               "Paused": PowerState.PAUSED, "Suspended": PowerState.PAUSED}
    assert power_state("halted") is PowerState.STOPPED and power_state("weird") is PowerState.UNKNOWN


def test_nfs_sr_is_created_once(fake: FakeXapi, drv: XenAPIDriver, pool: str) -> None:
    srs = fake.records("SR", lambda r: r["other_config"].get("devcloud_pool") == pool)
    (sr,) = srs.values()
    assert sr["type"] == "nfs" and sr["shared"] is True
    pbds = fake.records("PBD", lambda r: r["SR"] in srs)
    assert {p["device_config"]["server"] for p in pbds.values()} == {"192.0.2.50"} and len(pbds) == 2
    info = drv.ensure_pool(PoolSpec(name=pool, path="192.0.2.50:/export/primary", kind="nfs"))
    assert info.capacity_bytes == fake.nfs_size
    assert fake.call_names().count("SR.create") == 1
    # an export already attached by the pool's administrator is adopted, not created again
    fake.add_nfs_sr("admin nfs", "192.0.2.60", "/export/other")
    drv.ensure_pool(PoolSpec(name="ps-2", path="/export/other", kind="nfs"))
    assert fake.call_names().count("SR.create") == 1


def test_spawn_call_sequence(fake: FakeXapi, drv: XenAPIDriver, pool: str, template: str) -> None:
    fake.calls.clear()
    info = drv.spawn(spec(pool))
    assert info.state is PowerState.RUNNING and info.uuid == spec(pool).uuid
    names = [n for n in fake.call_names() if not n.startswith(("task.", "VM.get_all_records", "SR.get",
                                                                "VDI.get_all_records", "network.get_all_records",
                                                                "host.get_PIFs", "PIF.get"))]
    assert names[:names.index("Async.VM.start_on") + 1] == [
        "Async.VDI.clone", "VDI.set_other_config", "VDI.set_name_label", "VDI.resize",
        "VM.create", "VBD.create", "VBD.create", "network.create", "pool.create_VLAN", "VIF.create",
        "Async.VM.start_on"]  # the root disk, then the (empty) CD drive every VM gets
    # every async call was polled to its end and its task destroyed
    assert fake.call_names().count("task.destroy") == fake.call_names().count("Async.VDI.clone") + 1
    assert fake.records("task") == {}
    (vm,) = fake.guest_vms().values()
    assert vm["other_config"]["devcloud_uuid"] == info.uuid and vm["resident_on"] == fake.master
    (vif,) = fake.records("VIF").values()
    net = fake.records("network")[vif["network"]]
    vlans = fake.records("PIF", lambda p: p["network"] == vif["network"])
    assert {int(p["VLAN"]) for p in vlans.values()} == {120} and net["name_label"] == "devcloud-vlan-120"
    # a second VM on VLAN 120 reuses the network
    drv.spawn(spec(pool, uuid="22222222-2222-2222-2222-222222222222", nics=(NicSpec(mac="02:00:00:00:00:02",
                                                                                     vlan=120),)))
    assert fake.call_names().count("pool.create_VLAN") == 1
    # refs never leave the driver
    assert "OpaqueRef" not in repr(drv.list_domains()) + repr(drv.get_volume(pool, info.volumes[0]))


def test_destroy_shuts_down_first_and_deletes_owned_vdis(fake: FakeXapi, drv: XenAPIDriver, pool: str,
                                                          template: str) -> None:
    s = spec(pool)
    drv.spawn(s)
    data = drv.create_volume(pool, "data-1", 32 * MiB).uuid
    drv.attach_volume(s.uuid, pool, data)
    fake.calls.clear()
    drv.destroy(s.uuid)
    names = [n for n in fake.call_names() if n in ("Async.VM.hard_shutdown", "VBD.destroy", "VM.destroy",
                                                   "VDI.destroy")]
    # root, CD drive, data disk; only the VDI the spawn made is destroyed
    assert names == ["Async.VM.hard_shutdown", "VBD.destroy", "VBD.destroy", "VBD.destroy", "VM.destroy",
                     "VDI.destroy"]
    assert drv.get_volume(pool, data) is not None and drv.get_volume(pool, s.disks[0].volume_uuid) is None
    drv.delete_volume(pool, data)
    assert guest_objects(fake) == {"vms": {}, "vdis": {}, "vbds": {}, "vifs": {}}


def test_bad_power_state_is_normalised(fake: FakeXapi, drv: XenAPIDriver, pool: str, template: str) -> None:
    s = spec(pool)
    drv.spawn(s)
    (ref,) = fake.guest_vms()
    # the guest halts itself while we ask for a clean shutdown: XAPI answers VM_BAD_POWER_STATE, stop succeeds
    fake.set_power_state(ref, "Halted")
    fake.fail("VM.clean_shutdown", ("VM_BAD_POWER_STATE", ref, "running", "halted"))
    drv._find_vm = lambda u, _f=drv._find_vm: (ref, dict(_f(u)[1], power_state="Running"))  # stale view
    assert drv.stop(s.uuid).state is PowerState.STOPPED
    del drv._find_vm
    assert drv.stop(s.uuid).state is PowerState.STOPPED  # no-op
    with pytest.raises(InvalidDomainState) as e:
        drv.reboot(s.uuid)
    assert e.value.state == "Stopped" and "OpaqueRef" not in str(e.value)
    drv.start(s.uuid)
    fake.set_power_state(ref, "Paused")
    assert drv.get_domain(s.uuid).state is PowerState.PAUSED
    assert drv.start(s.uuid).state is PowerState.RUNNING  # unpause
    drv.destroy(s.uuid)
    drv.destroy(s.uuid)  # already gone
    with pytest.raises(DomainNotFound):
        drv.start(s.uuid)


def test_sr_full_is_insufficient_resources_and_leaves_nothing(fake: FakeXapi, drv: XenAPIDriver, pool: str,
                                                               template: str) -> None:
    sr = next(r for r, v in fake.records("SR").items() if v["other_config"].get("devcloud_pool") == pool)
    fake.fill_sr(sr)
    with pytest.raises(InsufficientResources) as e:
        drv.spawn(spec(pool))
    assert "primary storage is full" in str(e.value) and "OpaqueRef" not in str(e.value)
    assert guest_objects(fake) == {"vms": {}, "vdis": {}, "vbds": {}, "vifs": {}}


def test_not_enough_memory_is_insufficient_resources(fake: FakeXapi, drv: XenAPIDriver, pool: str,
                                                     template: str) -> None:
    with pytest.raises(InsufficientResources) as e:
        drv.spawn(spec(pool, mem=8192))
    assert "free memory" in str(e.value)
    assert guest_objects(fake) == {"vms": {}, "vdis": {}, "vbds": {}, "vifs": {}}
    stats = drv.host_stats()
    assert stats.memory_total_bytes == 4 * GiB and stats.memory_free_bytes == 3 * GiB
    drv.spawn(spec(pool, mem=1024))
    assert drv.host_stats().memory_free_bytes == 2 * GiB and drv.host_stats().vcpus_allocated == 2


@pytest.mark.parametrize("failing", ["VBD.create", "VIF.create", "pool.create_VLAN", "VM.create"])
def test_failure_at_each_step_leaves_nothing(fake: FakeXapi, drv: XenAPIDriver, pool: str, template: str,
                                             failing: str) -> None:
    fake.fail(failing, ("INTERNAL_ERROR", "injected"))
    with pytest.raises(DriverError) as e:
        drv.spawn(spec(pool))
    assert "INTERNAL_ERROR" in str(e.value)
    assert guest_objects(fake) == {"vms": {}, "vdis": {}, "vbds": {}, "vifs": {}}
    assert drv.spawn(spec(pool)).state is PowerState.RUNNING


def test_host_unreachable(fake: FakeXapi) -> None:
    fake.set_unreachable(True)
    d = XenAPIDriver(f"http://{MASTER}", username="root", password="password", session_factory=fake.session_factory)
    with pytest.raises(HostUnreachable) as e:
        d.connect()
    assert MASTER in str(e.value)
    fake.set_unreachable(False)
    d.connect()
    fake.set_unreachable(True)
    with pytest.raises(HostUnreachable):
        d.list_domains()
    fake.set_unreachable(False)
    assert d.list_domains() == []  # logs in again


def test_bad_credentials(fake: FakeXapi) -> None:
    d = XenAPIDriver(f"http://{MASTER}", username="root", password="wrong", session_factory=fake.session_factory)
    with pytest.raises(DriverError, match="authentication failure"):
        d.connect()


def test_session_expiry_relogin(fake: FakeXapi, drv: XenAPIDriver) -> None:
    logins = fake.call_names().count("session.login_with_password")
    fake.expire_sessions()
    assert drv.list_domains() == []
    assert fake.call_names().count("session.login_with_password") == logins + 1


def test_pool_member_logs_in_through_master_and_runs_its_own_vms(fake: FakeXapi, drv: XenAPIDriver, pool: str,
                                                                 template: str) -> None:
    member = make(fake, MEMBER)
    try:
        assert member.host_info().hostname == "xs-2"
        assert [h["address"] for h in drv.ex_pool_hosts()] == [MASTER, MEMBER]
        s = spec(pool)
        member.spawn(s)
        (vm,) = fake.guest_vms().values()
        assert fake.records("host")[vm["resident_on"]]["address"] == MEMBER
        assert [d.uuid for d in member.list_domains()] == [s.uuid]
        assert drv.list_domains() == [] and drv.get_domain(s.uuid) is None
        member.stop(s.uuid)
        assert member.get_domain(s.uuid).state is PowerState.STOPPED  # affinity keeps it on the member
    finally:
        member.close()


def test_console_location(fake: FakeXapi, drv: XenAPIDriver, pool: str, template: str) -> None:
    s = spec(pool)
    drv.spawn(s)
    addr = drv.console_address(s.uuid)
    assert (addr.protocol, addr.host, addr.port) == ("vnc", MASTER, 443)
    drv.stop(s.uuid, force=True)
    with pytest.raises(InvalidDomainState):
        drv.console_address(s.uuid)


def test_events_from_event_from(fake: FakeXapi, drv: XenAPIDriver, pool: str, template: str) -> None:
    seen = []
    lock = threading.Lock()

    def listener(ev):
        with lock:
            seen.append((ev.vm_uuid, ev.type, ev.state))

    drv.register_event_listener(listener)
    s = spec(pool)
    drv.spawn(s)
    (ref,) = fake.guest_vms()
    fake.set_power_state(ref, "Halted")  # out of band: the guest powered itself off

    def has(kind):
        with lock:
            return any(u == s.uuid and k is kind for u, k, _ in seen)

    deadline = time.monotonic() + 5
    while not (has(LifecycleEventType.STARTED) and has(LifecycleEventType.STOPPED)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert has(LifecycleEventType.STARTED) and has(LifecycleEventType.STOPPED), seen
    drv.destroy(s.uuid)
    deadline = time.monotonic() + 5
    while not has(LifecycleEventType.UNDEFINED) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert has(LifecycleEventType.UNDEFINED)


def test_snapshot_revert_swaps_the_disk_under_the_same_uuid(fake: FakeXapi, drv: XenAPIDriver, pool: str,
                                                            template: str) -> None:
    s = spec(pool, start=False)
    drv.spawn(s)
    root = s.disks[0].volume_uuid
    drv.snapshot_volume(pool, root, "snap-1")
    assert "Async.VDI.snapshot" in fake.call_names()
    drv.start(s.uuid)
    with pytest.raises(InvalidDomainState):
        drv.revert_volume_snapshot(pool, root, "snap-1")
    drv.stop(s.uuid, force=True)
    before = {r for r, v in fake.records("VDI").items() if v["other_config"].get("devcloud_uuid") == root}
    drv.revert_volume_snapshot(pool, root, "snap-1")
    after = {r for r, v in fake.records("VDI").items() if v["other_config"].get("devcloud_uuid") == root}
    assert before and after and before != after
    assert drv.get_domain(s.uuid).volumes == (root,)
    assert drv.start(s.uuid).state is PowerState.RUNNING
