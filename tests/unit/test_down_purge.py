"""`devcloud down --purge` against a VM that something else is already expunging."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.client import ApiError
from appliance.snapshots import _expunge_vm

pytestmark = pytest.mark.unit


class Cloud:
    """Answers as the server does when a destroy is already under way: the VM is listed as Expunging for
    `lists` more list calls, and a second destroy is refused with 431."""

    def __init__(self, lists: int, state: str = "Expunging", refuse: int = 431) -> None:
        self.lists = lists
        self.state = state
        self.refuse = refuse
        self.calls: list[str] = []

    def run(self, command: str, **params: Any) -> dict[str, Any]:
        self.calls.append(command)
        raise ApiError(command, self.refuse, f"Unable to destroy VM in state {self.state}")

    def items(self, command: str, key: str, **params: Any) -> list[dict[str, Any]]:
        self.calls.append(command)
        if self.lists <= 0:
            return []
        self.lists -= 1
        return [{"id": "vm-1", "state": self.state}, {"id": "vm-2", "state": "Running"}]


def test_a_vm_being_expunged_is_waited_for() -> None:
    cloud = Cloud(lists=3)
    _expunge_vm(cloud, "vm-1", poll=0)
    assert cloud.calls == ["destroyVirtualMachine"] + ["listVirtualMachines"] * 4


def test_a_vm_that_stays_expunging_past_the_wait_is_reported() -> None:
    with pytest.raises(ApiError, match="state Expunging"):
        _expunge_vm(Cloud(lists=10**6), "vm-1", wait=0.05, poll=0.01)


@pytest.mark.parametrize("cloud", [Cloud(lists=1, state="Running"), Cloud(lists=0, refuse=530)],
                         ids=["refused-but-not-expunging", "other-error"])
def test_other_refusals_are_reported(cloud: Cloud) -> None:
    with pytest.raises(ApiError):
        _expunge_vm(cloud, "vm-1", poll=0)
