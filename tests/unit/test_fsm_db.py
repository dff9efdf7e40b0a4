"""fsm.transition against a real (SQLite) table: compare-and-swap, no-ops write nothing, concurrent writers lose."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from management import fsm
from management.errors import ConcurrentOperation, InvalidStateTransition
from management.models.compute import VirtualMachine
from management.models.storage import Volume

pytestmark = pytest.mark.unit


def _vm(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        vm = VirtualMachine(instance_name="i-1-1-VM", name="vm", account_id=1, domain_id=1, zone_id=1,
                            service_offering_id=1)
        s.add(vm)
        s.commit()
        return vm.id


def test_transition_writes_state_and_bumps_update_count(engine) -> None:  # type: ignore[no-untyped-def]
    vm_id = _vm(engine)
    with Session(engine) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        assert vm.state == "Stopped" and vm.update_count == 0
        assert fsm.transition(s, vm, "StartRequested") == "Starting"
        assert vm.state == "Starting" and vm.update_count == 1
        assert fsm.transition(s, vm, "OperationSucceeded") == "Running"
        assert fsm.transition(s, vm, "StartRequested") == "Running"  # no-op: nothing written
        assert vm.update_count == 2
        with pytest.raises(InvalidStateTransition, match="Unable to recover VM in state Running"):
            fsm.transition(s, vm, "RecoveryRequested")
        s.commit()


def _behind(engine, vm_id: int, b: Session) -> VirtualMachine:  # type: ignore[no-untyped-def]
    """The VM as session `b` read it, before another session started it."""
    vb = b.get_one(VirtualMachine, vm_id)
    with Session(engine) as a:
        fsm.transition(a, a.get_one(VirtualMachine, vm_id), "StartRequested")
        a.commit()
    return vb


def test_concurrent_writer_loses(engine) -> None:  # type: ignore[no-untyped-def]
    vm_id = _vm(engine)
    with Session(engine) as b:
        vb = _behind(engine, vm_id, b)
        with pytest.raises(ConcurrentOperation):
            fsm.transition(b, vb, "DestroyRequested")  # b still believes the VM is Stopped
        assert vb.state == "Starting"  # refreshed: the caller sees why


def test_volume_kind_and_unknown_rows(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        vol = Volume(name="v", account_id=1, domain_id=1, zone_id=1, volume_type="DATADISK")
        s.add(vol)
        s.flush()
        assert fsm.transition(s, vol, "CreateRequested") == "Creating"
        with pytest.raises(TypeError):
            fsm.kind_of(object())


def test_columns_that_change_with_a_state_are_written_by_its_statement(engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    vm_id = _vm(engine)
    updates: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_r: updates.append(sql) if sql.startswith("UPDATE") else None)
    with Session(engine) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        fsm.transition(s, vm, "StartRequested", also={"host_id": 7, "pod_id": 3})
        assert (vm.state, vm.host_id, vm.pod_id, vm.update_count) == ("Starting", 7, 3, 1)
        s.flush()  # the session holds nothing more to write for them
        fsm.transition(s, vm, "OperationSucceeded", also={"power_state": "PowerOn"})
        s.commit()
    assert len(updates) == 2 and all("state=" in u for u in updates), updates
    with Session(engine) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        assert (vm.state, vm.host_id, vm.pod_id, vm.power_state, vm.update_count) == ("Running", 7, 3, "PowerOn", 2)
        # a no-op writes nothing itself: the columns are then set as plain attributes, written at the flush
        assert fsm.transition(s, vm, "StartRequested", also={"last_host_id": 7}) == "Running"
        s.commit()
        assert s.get_one(VirtualMachine, vm_id).last_host_id == 7
        with pytest.raises(ValueError, match="can not set update_count"):
            fsm.transition(s, vm, "StopRequested", also={"update_count": 9})


def test_a_lost_compare_and_swap_applies_none_of_its_columns(engine) -> None:  # type: ignore[no-untyped-def]
    vm_id = _vm(engine)
    with Session(engine) as b:
        vb = _behind(engine, vm_id, b)
        with pytest.raises(ConcurrentOperation):
            fsm.transition(b, vb, "StartRequested", also={"host_id": 5})
        b.commit()
    with Session(engine) as s:
        assert s.get_one(VirtualMachine, vm_id).host_id is None
