"""The fake XAPI pool enforces what XAPI enforces, in XAPI's error shapes, through the real XenAPI client."""

from __future__ import annotations

import time

import pytest
import XenAPI

from management.drivers.xenapi.fake import FakeXapi
from management.drivers.xenapi.session import parse_task_result

GiB = 1024**3
MiB = 1024**2


@pytest.fixture
def fake() -> FakeXapi:
    return FakeXapi(hosts=(("xs-1", "192.0.2.11"), ("xs-2", "192.0.2.12")), host_memory=4 * GiB,
                    dom0_memory=1 * GiB)


@pytest.fixture
def x(fake: FakeXapi):
    s = fake.session_factory(fake.url())
    s.xenapi.login_with_password("root", "password", "2.0", "test")
    return s.xenapi


def vm_record(name: str = "vm", mem: int = 256 * MiB) -> dict:
    m = str(mem)
    return {"name_label": name, "memory_static_min": m, "memory_static_max": m, "memory_dynamic_min": m,
            "memory_dynamic_max": m, "VCPUs_max": "1", "VCPUs_at_startup": "1", "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy", "PV_bootloader": "", "PV_kernel": "",
            "PV_ramdisk": "", "PV_args": "", "HVM_boot_policy": "BIOS order", "HVM_boot_params": {},
            "other_config": {}, "user_version": "1", "is_a_template": False, "affinity": "OpaqueRef:NULL"}


def local_sr(x) -> str:
    return next(r for r, v in x.SR.get_all_records().items() if v["name_label"] == "Local storage on xs-1")


def vdi(x, sr: str, size: int = 16 * MiB) -> str:
    return x.VDI.create({"name_label": "d", "SR": sr, "virtual_size": str(size), "type": "user", "sharable": False,
                         "read_only": False, "other_config": {}})


def vbd(x, vm: str, disk: str, device: str = "0") -> str:
    return x.VBD.create({"VM": vm, "VDI": disk, "userdevice": device, "bootable": device == "0", "mode": "RW",
                         "type": "Disk", "empty": False, "other_config": {}})


def details(excinfo) -> list[str]:
    return list(excinfo.value.details)


def test_login_rules(fake: FakeXapi) -> None:
    s = fake.session_factory(fake.url())
    with pytest.raises(XenAPI.Failure) as e:
        s.xenapi.login_with_password("root", "nope", "2.0", "t")
    assert details(e) == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    member = fake.session_factory("http://192.0.2.12")
    with pytest.raises(XenAPI.Failure) as e:
        member.xenapi.login_with_password("root", "password", "2.0", "t")
    assert details(e) == ["HOST_IS_SLAVE", "192.0.2.11"]


def test_session_invalid_after_logout_and_expiry(fake: FakeXapi, x) -> None:
    env = fake.dispatch(fake.master_address, "session.login_with_password", ("root", "password"))
    ref = env["Value"]
    assert fake.dispatch(fake.master_address, "VM.get_all", (ref,))["Status"] == "Success"
    fake.dispatch(fake.master_address, "session.logout", (ref,))
    assert fake.dispatch(fake.master_address, "VM.get_all", (ref,))["ErrorDescription"] == ["SESSION_INVALID", ref]
    # the real client logs in again by itself after SESSION_INVALID (expiry)
    fake.expire_sessions()
    assert x.VM.get_all()
    assert [n for n in fake.call_names() if n == "session.login_with_password"] == ["session.login_with_password"] * 3


def test_handles_and_int64_on_the_wire(fake: FakeXapi, x) -> None:
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.get_record("OpaqueRef:00000000-0000-0000-0000-000000000000")
    assert details(e) == ["HANDLE_INVALID", "VM", "OpaqueRef:00000000-0000-0000-0000-000000000000"]
    vm = x.VM.create(vm_record())
    assert vm.startswith("OpaqueRef:")
    rec = x.VM.get_record(vm)
    assert rec["memory_static_max"] == str(256 * MiB) and rec["power_state"] == "Halted"
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.create({k: v for k, v in vm_record().items() if k != "VCPUs_max"})
    assert details(e) == ["FIELD_TYPE_ERROR", "VCPUs_max"]
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.create(dict(vm_record(), memory_dynamic_max=str(512 * MiB)))
    assert details(e)[0] == "MEMORY_CONSTRAINT_VIOLATION"
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.no_such_call(vm)
    assert details(e) == ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_call"]


def test_power_state_rules(fake: FakeXapi, x) -> None:
    vm = x.VM.create(vm_record())
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.clean_shutdown(vm)
    assert details(e) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    host = fake.master
    free = int(x.host.compute_free_memory(host))
    x.VM.start_on(vm, host, False, False)
    assert int(x.host.compute_free_memory(host)) == free - 256 * MiB
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(vm, False, False)
    assert details(e) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.destroy(vm)
    assert details(e) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    assert x.VM.get_resident_on(vm) == host and x.VM.get_consoles(vm)
    x.VM.hard_shutdown(vm)
    assert int(x.host.compute_free_memory(host)) == free and x.VM.get_consoles(vm) == []
    big = x.VM.create(vm_record("big", mem=8 * GiB))
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start_on(big, host, False, False)
    assert details(e)[0] == "HOST_NOT_ENOUGH_FREE_MEMORY"
    x.VM.destroy(vm)
    with pytest.raises(XenAPI.Failure):
        x.VM.get_record(vm)


def test_vbd_vdi_plugging_rules(fake: FakeXapi, x) -> None:
    sr = local_sr(x)
    a, b = x.VM.create(vm_record("a")), x.VM.create(vm_record("b"))
    disk = vdi(x, sr)
    va = vbd(x, a, disk)
    with pytest.raises(XenAPI.Failure) as e:
        vbd(x, a, vdi(x, sr), "0")
    assert details(e) == ["DEVICE_ALREADY_EXISTS", "0"]
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.plug(va)  # the VM is halted
    assert details(e)[0] == "VM_BAD_POWER_STATE"
    x.VM.start(a, False, False)
    assert x.VBD.get_currently_attached(va) is True
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.plug(va)
    assert details(e) == ["DEVICE_ALREADY_ATTACHED", va]
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.destroy(va)
    assert details(e)[0] == "OPERATION_NOT_ALLOWED"
    with pytest.raises(XenAPI.Failure) as e:
        x.VDI.destroy(disk)
    assert details(e) == ["VDI_IN_USE", disk, "destroy"]
    vbd(x, b, disk)  # a second VBD may exist; the VDI cannot be plugged RW twice
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(b, False, False)
    assert details(e) == ["VDI_IN_USE", disk, "start"]
    x.VBD.unplug(va)
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.unplug(va)
    assert details(e) == ["DEVICE_ALREADY_DETACHED", va]
    x.VBD.destroy(va)


def test_sr_full(fake: FakeXapi, x) -> None:
    sr = local_sr(x)
    disk = vdi(x, sr, 10 * GiB)
    fake.fill_sr(sr)
    for call in (lambda: vdi(x, sr, MiB), lambda: x.VDI.clone(disk, {}), lambda: x.VDI.snapshot(disk, {}),
                 lambda: x.VDI.resize(disk, str(11 * GiB))):
        with pytest.raises(XenAPI.Failure) as e:
            call()
        assert details(e)[0] == "SR_FULL"


def test_async_tasks_progress_and_failure(fake: FakeXapi, x) -> None:
    fake.task_delay = 0.2
    vm = x.VM.create(vm_record())
    task = x.Async.VM.start(vm, False, False)
    assert x.task.get_status(task) == "pending"
    seen = set()
    deadline = time.monotonic() + 5
    while x.task.get_status(task) == "pending" and time.monotonic() < deadline:
        seen.add(float(x.task.get_progress(task)))
        time.sleep(0.02)
    assert x.task.get_status(task) == "success" and x.task.get_progress(task) == 1.0
    assert any(0 < p < 1 for p in seen)
    x.task.destroy(task)
    fake.task_delay = 0.0
    task = x.Async.VM.start(vm, False, False)
    while x.task.get_status(task) == "pending":
        time.sleep(0.01)
    assert x.task.get_error_info(task) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    # creators return the new ref as XAPI does, XML-RPC-encoded
    sr = local_sr(x)
    task = x.Async.VDI.create({"name_label": "d", "SR": sr, "virtual_size": str(MiB), "type": "user",
                               "sharable": False, "read_only": False, "other_config": {}})
    while x.task.get_status(task) == "pending":
        time.sleep(0.01)
    result = x.task.get_result(task)
    assert result.startswith("<value>OpaqueRef:") and parse_task_result(result) in x.VDI.get_all()
    # injected failure of a named call: the task fails with that error
    fake.fail("VM.clean_reboot", ("INTERNAL_ERROR", "boom"))
    task = x.Async.VM.clean_reboot(vm)
    while x.task.get_status(task) == "pending":
        time.sleep(0.01)
    assert x.task.get_error_info(task) == ["INTERNAL_ERROR", "boom"]


def test_event_from_tokens(fake: FakeXapi, x) -> None:
    first = getattr(x.event, "from")(["vm"], "", 0.1)
    assert first["events"] and all(e["class"] == "vm" for e in first["events"])
    token = first["token"]
    empty = getattr(x.event, "from")(["vm"], token, 0.1)
    assert empty["events"] == []
    vm = x.VM.create(vm_record())
    got = getattr(x.event, "from")(["vm"], empty["token"], 1.0)
    assert [(e["operation"], e["ref"]) for e in got["events"]] == [("add", vm)]


def test_unreachable(fake: FakeXapi) -> None:
    fake.set_unreachable(True)
    s = fake.session_factory(fake.url())
    with pytest.raises(ConnectionRefusedError):
        s.xenapi.login_with_password("root", "password", "2.0", "t")
