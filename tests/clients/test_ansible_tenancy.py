"""The Ansible CloudStack modules for the tenancy surface (Debian's `ansible` bundles ngine_io.cloudstack): domains
and accounts, projects (present, suspended, owned by an account), resource limits of an account and a project,
instance groups, account- and global-scope settings, regions. Run twice against a served instance: the first run
changes things, the second reports changed=0."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.clients.test_ansible_inventory import RECAP, _ansible_ready, _python_with_cs
from tests.conftest import Served

pytestmark = pytest.mark.clients

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - ngine_io.cloudstack.cs_domain: {path: tenancy}
        - ngine_io.cloudstack.cs_account:
            name: tenant1
            domain: tenancy
            username: tenant1
            password: Secret-123
            first_name: Ten
            last_name: Ant
            email: tenant1@example.org
            account_type: user
        - ngine_io.cloudstack.cs_project: {name: ansible-prj, display_text: Ansible project}
        - ngine_io.cloudstack.cs_project: {name: paused-prj, state: suspended}
        - ngine_io.cloudstack.cs_project: {name: tenant-prj, display_text: Tenant project, account: tenant1,
                                           domain: tenancy}
        - ngine_io.cloudstack.cs_resourcelimit: {type: instance, limit: 5, account: tenant1, domain: tenancy}
        - ngine_io.cloudstack.cs_resourcelimit: {type: memory, limit: 2048, account: tenant1, domain: tenancy}
        - ngine_io.cloudstack.cs_resourcelimit: {type: cpu, limit: 8, project: ansible-prj}
        - ngine_io.cloudstack.cs_instancegroup: {name: web, account: tenant1, domain: tenancy}
        - ngine_io.cloudstack.cs_instancegroup: {name: db, project: ansible-prj}
        - ngine_io.cloudstack.cs_configuration: {name: allow.user.create.projects, value: false}
        - ngine_io.cloudstack.cs_configuration:
            name: allow.user.expunge.recover.vm
            value: true
            account: tenant1
            domain: tenancy
        - ngine_io.cloudstack.cs_region: {id: 2, name: Ansible-Region, endpoint: "http://region2:8080/client/"}
    """)


def test_tenancy_playbook_idempotent(served: Served, tmp_path: Path) -> None:
    reason = _ansible_ready()
    if reason:
        pytest.fail(reason)
    py = _python_with_cs()
    if py is None:
        pytest.fail("no Python with the `cs` library for the Ansible modules (apt-get install python3-cs)")
    book = tmp_path / "tenancy.yml"
    book.write_text(PLAYBOOK)
    env = {**os.environ, "CLOUDSTACK_ENDPOINT": served.endpoint, "CLOUDSTACK_KEY": served.apikey,
           "CLOUDSTACK_SECRET": served.secretkey, "CLOUDSTACK_TIMEOUT": "60", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_PYTHON_INTERPRETER": py}
    changes = []
    for run in (1, 2):
        out = subprocess.run(["ansible-playbook", "-i", "localhost,", str(book)], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, env=env, timeout=600, cwd=tmp_path)
        m = RECAP.search(out.stdout)
        assert out.returncode == 0 and m, f"run {run} failed:\n{out.stdout[-6000:]}\n{out.stderr[-2000:]}\n" \
                                          f"{served.log()}"
        ok, changed, unreachable, failed = map(int, m.groups())
        assert failed == 0 and unreachable == 0
        changes.append(changed)
    print(f"ansible tenancy playbook: changed={changes[0]} then changed={changes[1]}")
    assert changes[0] == 13 and changes[1] == 0, changes  # every task changes once, then none
    c = served.client(integration=True)
    prjs = {p["name"]: p for p in c("listProjects", listall=True)["project"]}
    assert prjs["paused-prj"]["state"] == "Suspended" and prjs["ansible-prj"]["displaytext"] == "Ansible project"
    assert prjs["tenant-prj"]["owner"][0]["account"] == "tenant1"
    dom = c("listDomains", name="tenancy")["domain"][0]
    limits = {x["resourcetypename"]: x["max"] for x in c("listResourceLimits", account="tenant1",
                                                         domainid=dom["id"])["resourcelimit"]}
    assert limits["user_vm"] == 5 and limits["memory"] == 2048
    assert {r["name"] for r in c("listRegions")["region"]} == {"Local", "Ansible-Region"}
