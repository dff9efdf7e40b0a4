"""LibvirtDriver against a real libvirtd (qemu:///system, TCG guests).

Guests boot from a blank qcow2 (they sit in the firmware): everything checked here is libvirt's and the
disks' state, read back through libvirt-python, never guest output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt  # noqa: E402
import pytest

from management.drivers.base import (  # noqa: E402
    DiskSpec,
    DomainSpec,
    LifecycleEvent,
    LifecycleEventType,
    MiB,
    PoolSpec,
    PowerState,
)
from management.drivers.errors import DriverError, InvalidDomainState, TemplateNotFound  # noqa: E402

pytestmark = pytest.mark.integration

URI = "qemu:///system"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root for qemu:///system"
    if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
        return "qemu-utils (qemu-img, qemu-io) not installed"
    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError as exc:
        return f"libvirtd not running ({exc.get_error_message()}); start with: virtlogd -d; libvirtd -d"
    return None


_reason = _skip_reason()
if _reason:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=_reason)]


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def qemu_io(path: str, cmd: str, fmt: str = "qcow2") -> None:
    out = subprocess.run(["qemu-io", "-f", fmt, "-c", cmd, path], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def has_pattern(path: str, byte: int, fmt: str = "qcow2") -> bool:
    """qemu-io exits 1 with 'Pattern verification failed' when the bytes differ."""
    out = subprocess.run(["qemu-io", "-f", fmt, "-c", f"read -P {byte:#x} 0 64k", path],
                         capture_output=True, text=True)
    return out.returncode == 0 and "Pattern verification failed" not in out.stdout


@pytest.fixture(scope="module")
def raw_conn() -> Iterator[object]:
    conn = libvirt.open(URI)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from management.drivers.libvirt.driver import LibvirtDriver

    logs = tmp_path_factory.mktemp("console")
    drv = LibvirtDriver(URI, virt_type="qemu", shutdown_timeout=2, console_log_dir=str(logs))
    drv.connect()
    yield drv
    drv.close()


@pytest.fixture
def pool(driver, raw_conn, tmp_path: Path) -> Iterator[str]:
    name = f"dcit-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pool"
    path.mkdir()
    driver.ensure_pool(PoolSpec(name=name, path=str(path)))
    yield name
    with contextlib.suppress(libvirt.libvirtError):
        p = raw_conn.storagePoolLookupByName(name)
        for vol in p.listAllVolumes():
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
    driver.ex_delete_pool(name)


@pytest.fixture
def template(driver, pool, tmp_path: Path) -> str:
    src = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(src), "32M"], check=True)
    tid = str(uuid.uuid4())
    driver.prepare_template(pool, tid, str(src))
    return tid


@pytest.fixture
def vms(driver) -> Iterator[list[str]]:
    """UUIDs to destroy at the end, whatever happens."""
    created: list[str] = []
    yield created
    for vm in created:
        with contextlib.suppress(Exception):
            driver.destroy(vm)


def make_spec(vms: list[str], pool: str, template: str | None, **kw) -> DomainSpec:
    vm = str(uuid.uuid4())
    vms.append(vm)
    fields = dict(uuid=vm, name=f"dcit-{vm[:8]}", vcpus=1, memory_mib=64,
                  disks=(DiskSpec(volume_uuid=str(uuid.uuid4()), pool=pool, template=template,
                                  size_bytes=64 * MiB),))
    fields.update(kw)
    return DomainSpec(**fields)


def pool_volumes(raw_conn, pool: str) -> set[str]:
    p = raw_conn.storagePoolLookupByName(pool)
    p.refresh(0)
    return set(p.listVolumes())


def domain_exists(raw_conn, vm: str) -> bool:
    try:
        raw_conn.lookupByUUIDString(vm)
        return True
    except libvirt.libvirtError:
        return False


# ------------------------------------------------------------------------------------------------ tests


def test_lifecycle_leaves_nothing_behind(driver, raw_conn, pool, template, vms):
    before = pool_volumes(raw_conn, pool)
    spec = make_spec(vms, pool, template, user_data="#cloud-config\n", metadata={"hostname": "lc"})
    info = driver.spawn(spec)
    assert info.state is PowerState.RUNNING and info.extra["owned"] == "true"
    assert len(pool_volumes(raw_conn, pool) - before) == 2  # linked-clone root + config drive ISO
    root_path = raw_conn.storagePoolLookupByName(pool).storageVolLookupByName(spec.disks[0].volume_uuid).path()
    assert "backing file" in subprocess.run(["qemu-img", "info", "-U", root_path], capture_output=True,
                                            text=True).stdout  # copy-on-write over the template copy
    addr = driver.console_address(spec.uuid)
    assert addr.host == "127.0.0.1" and addr.port >= 5900

    assert driver.stop(spec.uuid).state is PowerState.STOPPED  # blank guest ignores ACPI: falls back
    assert driver.start(spec.uuid).state is PowerState.RUNNING
    assert driver.reboot(spec.uuid).state is PowerState.RUNNING
    driver.destroy(spec.uuid)
    driver.destroy(spec.uuid)  # idempotent

    assert not domain_exists(raw_conn, spec.uuid)
    assert pool_volumes(raw_conn, pool) == before
    assert not list(Path(driver.console_log_dir).glob(f"{spec.name}*"))


def test_attach_detach_data_volume_live(driver, raw_conn, pool, template, vms):
    spec = make_spec(vms, pool, template)
    driver.spawn(spec)
    data = str(uuid.uuid4())
    driver.create_volume(pool, data, 16 * MiB)
    try:
        assert data in driver.attach_volume(spec.uuid, pool, data).volumes
        live = raw_conn.lookupByUUIDString(spec.uuid).XMLDesc(0)
        assert data in live
        assert data not in driver.detach_volume(spec.uuid, data).volumes
        dom = raw_conn.lookupByUUIDString(spec.uuid)
        assert data not in dom.XMLDesc(0)
        assert data not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        driver.destroy(spec.uuid)
        driver.delete_volume(pool, data)
    assert data not in pool_volumes(raw_conn, pool)


def test_snapshot_revert_restores_content(driver, raw_conn, pool, template, vms):
    data = str(uuid.uuid4())
    path = driver.create_volume(pool, data, 8 * MiB).path
    qemu_io(path, "write -P 0xab 0 64k")
    driver.snapshot_volume(pool, data, "s1")
    qemu_io(path, "write -P 0xcd 0 64k")
    assert not has_pattern(path, 0xAB)
    driver.revert_volume_snapshot(pool, data, "s1")
    assert has_pattern(path, 0xAB)
    driver.delete_volume(pool, data)
    assert not {v for v in pool_volumes(raw_conn, pool) if data in v}  # snapshots went with it


def test_snapshot_of_attached_volume_on_running_domain(driver, raw_conn, pool, template, vms):
    """Live snapshot goes through a libvirt push backup; revert needs the domain stopped."""
    data = str(uuid.uuid4())
    path = driver.create_volume(pool, data, 8 * MiB).path
    qemu_io(path, "write -P 0x5a 0 64k")
    spec = make_spec(vms, pool, template)
    driver.spawn(spec)
    driver.attach_volume(spec.uuid, pool, data)
    driver.snapshot_volume(pool, data, "live1")
    with pytest.raises(InvalidDomainState):
        driver.revert_volume_snapshot(pool, data, "live1")
    driver.stop(spec.uuid, force=True)
    qemu_io(path, "write -P 0x11 0 64k")
    assert not has_pattern(path, 0x5A)
    driver.revert_volume_snapshot(pool, data, "live1")
    assert has_pattern(path, 0x5A)
    driver.destroy(spec.uuid)
    driver.delete_volume(pool, data)


def test_killed_qemu_reports_crash(driver, raw_conn, pool, template, vms):
    events: list[LifecycleEvent] = []
    lock = threading.Lock()

    def listen(ev: LifecycleEvent) -> None:
        with lock:
            events.append(ev)

    unregister = driver.register_event_listener(listen)
    try:
        spec = make_spec(vms, pool, template)
        driver.spawn(spec)
        pid = int(Path(f"/run/libvirt/qemu/{spec.name}.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)

        def stopped() -> bool:
            with lock:
                return any(e.vm_uuid == spec.uuid and e.type in (LifecycleEventType.CRASHED,
                                                                  LifecycleEventType.STOPPED) for e in events)

        assert wait_for(stopped), events
        with lock:
            ours = [e for e in events if e.vm_uuid == spec.uuid]
        assert ours[-1].type is LifecycleEventType.CRASHED  # not a requested stop
        assert driver.get_domain(spec.uuid).state is not PowerState.RUNNING
    finally:
        unregister()
    driver.destroy(spec.uuid)
    assert not domain_exists(raw_conn, spec.uuid)


def test_hand_defined_domain_is_listed_not_ours_and_survives(driver, raw_conn, tmp_path):
    vm = str(uuid.uuid4())
    xml = (f"<domain type='qemu'><name>handmade-{vm[:8]}</name><uuid>{vm}</uuid><memory unit='MiB'>32</memory>"
           "<os><type arch='x86_64'>hvm</type></os></domain>")
    dom = raw_conn.defineXML(xml)
    try:
        listed = {d.uuid: d for d in driver.list_domains()}
        assert listed[vm].extra["owned"] == "false"
        assert driver.ex_is_owned(vm) is False
        with pytest.raises(DriverError):
            driver.destroy(vm)
        assert domain_exists(raw_conn, vm)
    finally:
        dom.undefine()


def test_spawn_with_failing_disk_copy_leaves_nothing(driver, raw_conn, pool, template, vms, tmp_path):
    before = pool_volumes(raw_conn, pool)
    with pytest.raises(TemplateNotFound):
        driver.prepare_template(pool, str(uuid.uuid4()), str(tmp_path / "missing.qcow2"))
    # root from a template that was never copied to the pool, after a data disk was already created
    data = DiskSpec(volume_uuid=str(uuid.uuid4()), pool=pool, size_bytes=8 * MiB, device_id=1)
    root = DiskSpec(volume_uuid=str(uuid.uuid4()), pool=pool, template="not-prepared", device_id=2)
    spec = make_spec(vms, pool, template, disks=(data, root))
    with pytest.raises(TemplateNotFound, match="not-prepared"):
        driver.spawn(spec)
    assert not domain_exists(raw_conn, spec.uuid)
    assert pool_volumes(raw_conn, pool) == before


def test_start_failure_after_define_is_rolled_back(driver, raw_conn, pool, template, vms):
    from management.drivers.base import NicSpec

    before = pool_volumes(raw_conn, pool)
    spec = make_spec(vms, pool, template, nics=(NicSpec(mac="02:00:00:00:dc:01", bridge="dcit-nosuchbr"),))
    with pytest.raises(DriverError):
        driver.spawn(spec)
    assert not domain_exists(raw_conn, spec.uuid)
    assert pool_volumes(raw_conn, pool) == before


def test_measure_create_and_destroy_latency(driver, raw_conn, pool, template, vms, capsys):
    """Not a timed assertion: prints define+start and destroy latency for the report/bench."""
    creates, destroys = [], []
    for _ in range(3):
        spec = make_spec(vms, pool, template)
        t0 = time.perf_counter()
        driver.spawn(spec)
        creates.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        driver.destroy(spec.uuid)
        destroys.append(time.perf_counter() - t0)
    with capsys.disabled():
        print(f"\nlibvirt qemu:///system spawn (clone+define+start): "
              f"{', '.join(f'{c:.3f}' for c in creates)} s; destroy: {', '.join(f'{d:.3f}' for d in destroys)} s")


def test_vm_stats_of_a_running_domain(driver, raw_conn, pool, template, vms):
    """What autoscale policies read: CPU share since the previous sample (0 on the first), memory share; a
    stopped domain has none."""
    spec = make_spec(vms, pool, template)
    driver.spawn(spec)
    try:
        first = driver.vm_stats(spec.uuid)
        assert first.cpu_percent == 0.0 and 0.0 <= first.memory_percent <= 100.0
        time.sleep(0.5)
        second = driver.vm_stats(spec.uuid)
        assert 0.0 <= second.cpu_percent <= 100.0 and 0.0 < second.memory_percent <= 100.0
        driver.stop(spec.uuid, force=True)
        with pytest.raises(InvalidDomainState):
            driver.vm_stats(spec.uuid)
    finally:
        driver.destroy(spec.uuid)
