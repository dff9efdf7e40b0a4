"""The Ansible CloudStack compute modules (cs_sshkeypair, cs_instance, cs_volume) against a served instance with a
simulator zone built from the simulator-advanced spec through the API; the second run must report changed=0.
(Client tier: it lives beside the VM API tests because it exercises exactly those commands.)"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from appliance import zonespec
from appliance.client import CloudClient
from appliance.deploy import Deployer
from tests.clients.test_ansible_inventory import _ansible_ready, _python_with_cs
from tests.conftest import Served

pytestmark = pytest.mark.clients

RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        zone: Sandbox-simulator-advanced
        template: "CentOS 5.6 (64-bit) no GUI (Simulator)"
      tasks:
        - ngine_io.cloudstack.cs_sshkeypair:
            name: ansible-key
            public_key: "{{ lookup('file', 'key.pub') }}"
        - ngine_io.cloudstack.cs_instance:
            name: ansible-vm-1
            display_name: Ansible VM 1
            zone: "{{ zone }}"
            template: "{{ template }}"
            service_offering: Small Instance
            ssh_key: ansible-key
            group: ansible
            user_data: "#cloud-config\\nhostname: ansible-vm-1\\n"
          register: vm1
        - assert:
            that:
              - vm1.state == "Running"
              - vm1.name == "ansible-vm-1"
              - vm1.service_offering == "Small Instance"
              - vm1.ssh_key == "ansible-key"
              - vm1.default_ip is defined and vm1.default_ip
        - ngine_io.cloudstack.cs_volume:
            name: ansible-data-1
            zone: "{{ zone }}"
            disk_offering: Small
            vm: ansible-vm-1
            state: attached
        - ngine_io.cloudstack.cs_instance:
            name: ansible-vm-2
            zone: "{{ zone }}"
            template: "{{ template }}"
            service_offering: Small Instance
            state: stopped
        - ngine_io.cloudstack.cs_instance:
            name: ansible-vm-never
            zone: "{{ zone }}"
            state: expunged
    """)


def test_compute_playbook_idempotent(served: Served, tmp_path: Path) -> None:
    reason = _ansible_ready()
    if reason:
        pytest.skip(reason)
    py = _python_with_cs()
    if py is None:
        pytest.skip("no Python with the `cs` library for the Ansible modules (apt-get install python3-cs)")
    if subprocess.run([py, "-c", "import sshpubkeys"], capture_output=True).returncode != 0:
        pytest.skip("cs_sshkeypair needs sshpubkeys in the modules' Python (apt-get install python3-sshpubkeys)")
    client = CloudClient(served.endpoint, served.apikey, served.secretkey, poll_interval=0.05, job_timeout=60)
    try:
        Deployer(client).deploy(zonespec.load("simulator-advanced"))
    finally:
        client.close()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    book = tmp_path / "compute.yml"
    book.write_text(PLAYBOOK)
    env = {**os.environ, "CLOUDSTACK_ENDPOINT": served.endpoint, "CLOUDSTACK_KEY": served.apikey,
           "CLOUDSTACK_SECRET": served.secretkey, "CLOUDSTACK_TIMEOUT": "60", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_PYTHON_INTERPRETER": py}
    for run in (1, 2):
        out = subprocess.run(["ansible-playbook", "-i", "localhost,", str(book)], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, env=env, timeout=600, cwd=tmp_path)
        m = RECAP.search(out.stdout)
        assert out.returncode == 0 and m, f"run {run} failed:\n{out.stdout[-8000:]}\n{out.stderr[-2000:]}\n" \
                                          f"{served.log()[-4000:]}"
        ok, changed, unreachable, failed = map(int, m.groups())
        assert failed == 0 and unreachable == 0
        if run == 1:
            assert changed > 0
        else:
            assert changed == 0, f"second run changed something:\n{out.stdout[-8000:]}"
    c = served.client(integration=True)
    vms = {v["name"]: v for v in c("listVirtualMachines", listall=True)["virtualmachine"]}
    assert vms["ansible-vm-1"]["state"] == "Running" and vms["ansible-vm-2"]["state"] == "Stopped"
    assert "ansible-vm-never" not in vms
    vol = c("listVolumes", name="ansible-data-1", listall=True)["volume"][0]
    assert vol["virtualmachineid"] == vms["ansible-vm-1"]["id"] and vol["state"] == "Ready"
