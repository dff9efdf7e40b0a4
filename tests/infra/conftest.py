"""testinfra checks of a machine devcloud's Ansible roles provisioned: this machine (`local://`) after the suite
applied the farm's common + kvm_host roles to it, or the appliance over SSH (`ssh://root@127.0.0.1:2222?
ssh_identity_file=dist/appliance/build-key` when booted by hand with that forward, or a Vagrant machine:
`vagrant ssh-config appliance > dist/appliance/vagrant-ssh-config`, then
`ssh://appliance?ssh_config=dist/appliance/vagrant-ssh-config`).

Only machines the roles provisioned are checked: each role records itself in /etc/devcloud/provisioned-by-roles,
and a target without that file fails at once (a `make up` machine is not such a machine, whatever it has in
/var/lib/devcloud). For `local://` without the file, the suite applies the roles first (tests/appliance/roles.py).

    DEVCLOUD_INFRA_HOSTS   comma-separated testinfra host specs (default: local://)
    DEVCLOUD_INFRA_ROLES   which checks apply: management,database,nfs,kvm,xen,datacenter (default: those of the roles
                           this machine's marker lists, else of the roles the suite applies here: kvm). Checks of
                           roles not applied are deselected.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.appliance.roles import LOCAL_ROLES, MARKER

HOSTS = [h.strip() for h in os.environ.get("DEVCLOUD_INFRA_HOSTS", "local://").split(",") if h.strip()]
# role (as the marker names it) -> the checks it enables
ROLE_CHECKS = {"kvm_host": "kvm", "xen_host": "xen", "mariadb": "database", "nfs_server": "nfs",
               "management": "management", "datacenter": "datacenter"}
HERE = Path(__file__).resolve().parent


def _local_roles() -> set[str]:
    try:
        return set(Path(MARKER).read_text().split())
    except OSError:
        return set(LOCAL_ROLES)


def _checks() -> set[str]:
    env = os.environ.get("DEVCLOUD_INFRA_ROLES")
    if env:
        return {r.strip() for r in env.split(",") if r.strip()}
    return {ROLE_CHECKS[r] for r in _local_roles() if r in ROLE_CHECKS}


CHECKS = _checks()


def needs(check: str) -> pytest.MarkDecorator:
    """Applies only to machines whose roles enable `check`; deselected elsewhere (not skipped)."""
    return pytest.mark.infra_role(check)


def needs_any(*checks: str) -> pytest.MarkDecorator:
    """Applies to machines whose roles enable at least one of `checks` (deselected elsewhere)."""
    return pytest.mark.infra_any_role(*checks)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        wanted = {m.args[0] for m in item.iter_markers("infra_role")}
        any_of = [set(m.args) for m in item.iter_markers("infra_any_role")]
        applies = wanted <= CHECKS and all(a & CHECKS for a in any_of)
        (drop if HERE in item.path.parents and not applies else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=HOSTS, scope="module")
def machine(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    import testinfra

    host = testinfra.get_host(request.param)
    if request.param.startswith("local://") and not host.file(MARKER).exists:
        request.getfixturevalue("roles_applied_here")
    marker = host.file(MARKER)
    if not marker.exists:
        pytest.fail(f"{request.param} was not provisioned by devcloud's Ansible roles (no {MARKER}): tests/infra "
                    "checks only such machines")
    applied = set(marker.content_string.split())
    missing = sorted(r for r, check in ROLE_CHECKS.items() if check in CHECKS and r not in applied)
    if missing:
        pytest.fail(f"{request.param}: checks {sorted(CHECKS)} need the roles {missing}, which {MARKER} does not "
                    f"list (it lists {sorted(applied)})")
    return host
