"""testinfra checks of a provisioned devcloud machine: this machine after the roles ran on it (`local://`), or the
appliance over SSH (`ssh://root@127.0.0.1:2222?ssh_identity_file=dist/appliance/build-key` when booted by hand with
that forward, or a Vagrant machine: `vagrant ssh-config appliance > dist/appliance/vagrant-ssh-config`, then
`ssh://appliance?ssh_config=dist/appliance/vagrant-ssh-config`).

    DEVCLOUD_INFRA_HOSTS   comma-separated testinfra host specs (default: local://)
    DEVCLOUD_INFRA_ROLES   which checks apply: management,database,nfs,kvm (default: kvm, what the farm's
                           kvm_host role made of this machine)
"""

from __future__ import annotations

import os

import pytest

HOSTS = [h.strip() for h in os.environ.get("DEVCLOUD_INFRA_HOSTS", "local://").split(",") if h.strip()]
ROLES = {r.strip() for r in os.environ.get("DEVCLOUD_INFRA_ROLES", "kvm").split(",") if r.strip()}


@pytest.fixture(params=HOSTS, scope="module")
def machine(request):
    testinfra = pytest.importorskip("testinfra")
    return testinfra.get_host(request.param)


def needs(role: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(role not in ROLES, reason=f"role {role!r} not in DEVCLOUD_INFRA_ROLES={sorted(ROLES)}")
