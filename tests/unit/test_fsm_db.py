"""fsm.transition against a real (SQLite) table: compare-and-swap, no-ops write nothing, concurrent writers lose."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import Base
from management.errors import ConcurrentOperation, InvalidStateTransition
from management.models.compute import VirtualMachine
from management.models.storage import Volume

pytestmark = pytest.mark.unit


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    eng = create_engine(f"sqlite:///{tmp_path / 'fsm.db'}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


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


def test_concurrent_writer_loses(engine) -> None:  # type: ignore[no-untyped-def]
    vm_id = _vm(engine)
    with Session(engine) as a, Session(engine) as b:
        va, vb = a.get_one(VirtualMachine, vm_id), b.get_one(VirtualMachine, vm_id)
        fsm.transition(a, va, "StartRequested")
        a.commit()
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
