"""The state tables: CloudStack names, guards, no-ops, terminal states, and the one-writer rule."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from management import fsm
from management.errors import InvalidStateTransition
from management.fsm import Kind, VmEvent, VmState

pytestmark = pytest.mark.unit


def test_vm_state_names_are_cloudstacks() -> None:
    assert [s.value for s in VmState] == [
        "Starting", "Running", "Stopping", "Stopped", "Destroyed", "Expunging", "Migrating", "Error", "Unknown",
        "Shutdown",
    ]
    assert {"Starting", "Stopping", "Expunging", "Migrating"} == fsm.TRANSITIONAL


def test_vm_lifecycle_path() -> None:
    s = "Stopped"
    for ev, want in [("StartRequested", "Starting"), ("OperationSucceeded", "Running"), ("StopRequested", "Stopping"),
                     ("OperationSucceeded", "Stopped"), ("DestroyRequested", "Destroyed"),
                     ("RecoveryRequested", "Stopped"), ("DestroyRequested", "Destroyed"),
                     ("ExpungeOperation", "Expunging")]:
        s = fsm.next_state(Kind.VM, s, ev)
        assert s == want


def test_invalid_transition_text_and_code() -> None:
    with pytest.raises(InvalidStateTransition) as ei:
        fsm.next_state(Kind.VM, "Destroyed", VmEvent.StartRequested)
    assert ei.value.code == 431
    assert ei.value.text == "Unable to start VM in state Destroyed"


def test_noop_requests_succeed() -> None:
    assert fsm.next_state(Kind.VM, "Running", "StartRequested") == "Running"
    assert fsm.next_state(Kind.VM, "Stopped", "StopRequested") == "Stopped"


def test_allowed_from_derives_from_table() -> None:
    assert fsm.allowed_from("StartRequested") == {"Stopped", "Shutdown", "Running", "Starting"}
    assert "Running" in fsm.allowed_from("StopRequested")
    assert fsm.allowed_from("RecoveryRequested") == {"Destroyed"}
    assert fsm.allowed_from("SnapshotRequested", Kind.VOLUME) == {"Ready"}


def test_mermaid_render() -> None:
    assert "Stopped --> Starting: StartRequested" in fsm.mermaid(Kind.VM)


@pytest.mark.parametrize("kind", list(Kind))
def test_tables_use_declared_names(kind: Kind) -> None:
    states, events = set(fsm.STATES[kind]), set(fsm.EVENTS[kind])
    for (s, e), n in fsm.TABLES[kind].items():
        assert s in states and n in states and e in events


@st.composite
def walks(draw: st.DrawFn) -> tuple[Kind, str, list[str]]:
    kind = draw(st.sampled_from(list(Kind)))
    start = draw(st.sampled_from([s.value for s in fsm.STATES[kind]]))
    events = draw(st.lists(st.sampled_from([e.value for e in fsm.EVENTS[kind]]), max_size=60))
    return kind, start, events


@settings(max_examples=400, deadline=None)
@given(walks())
def test_random_event_sequences_stay_in_declared_states(walk: tuple[Kind, str, list[str]]) -> None:
    kind, state, events = walk
    declared = {s.value for s in fsm.STATES[kind]}
    terminal = fsm.TERMINAL[kind]
    for ev in events:
        was_terminal = state in terminal
        try:
            new = fsm.next_state(kind, state, ev)
        except InvalidStateTransition:
            assert not fsm.can(kind, state, ev)
            continue
        assert new in declared
        if was_terminal:
            assert new == state, f"{kind} left terminal state {state} on {ev}"
        state = new


# ---------------------------------------------------------------------------------------------- one writer
ROOT = Path(__file__).resolve().parents[2] / "management"
# Receivers that name FSM-managed rows (VM, router, volume, snapshot, template store ref, network).
FSM_RECEIVER = re.compile(r"(^|_)(vm|vms|instance|router|vol|volume|volumes|snap|snapshot|network|net|ref|"
                          r"store_ref|row)$")
# path:line entries allowed to write .state directly (none today).
ALLOWED: set[str] = set()


def test_only_fsm_writes_state() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path.name == "fsm.py" or "migrations" in path.parts or "drivers" in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr in ("state", "status"):
                    recv = t.value
                    name = recv.id if isinstance(recv, ast.Name) else getattr(recv, "attr", "")
                    if t.attr == "status" and "host" not in name.lower():
                        continue
                    if t.attr == "state" and not FSM_RECEIVER.search(name.lower()):
                        continue
                    where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
                    if where not in ALLOWED:
                        offenders.append(f"{where} {name}.{t.attr} = ...")
    assert not offenders, "state written outside fsm.transition:\n" + "\n".join(offenders)
