"""The farm inventory's `common` and `kvm_host` roles against THIS machine (connection local, as farm host
`host1`): the run succeeds and a second run changes nothing. kvm_host prepares the host with
appliance.host.prepare (the same code `devcloud host prepare` runs), so this also checks that the two agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.appliance.roles import LOCAL_ROLES, MARKER, recap, run_roles

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800), pytest.mark.xdist_group("roles")]


def test_farm_kvm_host_roles_twice_on_this_machine(roles_applied_here: str) -> None:
    out = roles_applied_here  # the session's first run (tests/infra inspects what it made)
    first = recap(out)
    assert first["failed"] == 0 and first["unreachable"] == 0
    assert "TASK [kvm_host : Prepare the host with appliance.host.prepare]" in out
    assert set(LOCAL_ROLES) <= set(Path(MARKER).read_text().split())
    rc, out = run_roles()
    assert rc == 0, out[-5000:]
    second = recap(out)
    changed = re.findall(r"^TASK \[(.*?)\].*\n(?:.*\n)*?changed:", out, re.M)
    assert second["changed"] == 0, f"second run changed something: {changed}\n{out[-4000:]}"
