"""The Ansible CloudStack modules (Debian's `ansible` bundles ngine_io.cloudstack) build a simulator zone against a
served instance; the second run of the same playbook must report changed=0."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import Served

pytestmark = pytest.mark.clients

PLAYBOOK = textwrap.dedent("""\
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        zone: Sandbox-simulator-advanced
        tag: "{{ lookup('env', 'SIM_TAG') }}"
      tasks:
        - ngine_io.cloudstack.cs_configuration: {name: expunge.delay, value: 60}
        - ngine_io.cloudstack.cs_configuration: {name: vm.allocation.algorithm, value: firstfit}
        - ngine_io.cloudstack.cs_zone:
            name: "{{ zone }}"
            network_type: Advanced
            dns1: 8.8.8.8
            internal_dns1: 8.8.4.4
            guest_cidr_address: 10.1.1.0/24
        - ngine_io.cloudstack.cs_physical_network:
            name: Sandbox-pnet
            zone: "{{ zone }}"
            isolation_method: VLAN
            vlan: 100-200
            broadcast_domain_range: ZONE
        - ngine_io.cloudstack.cs_pod:
            name: POD0
            zone: "{{ zone }}"
            start_ip: 172.16.15.2
            end_ip: 172.16.15.200
            netmask: 255.255.255.0
            gateway: 172.16.15.1
        - ngine_io.cloudstack.cs_cluster:
            name: C0
            zone: "{{ zone }}"
            pod: POD0
            hypervisor: Simulator
            cluster_type: CloudManaged
        - ngine_io.cloudstack.cs_host:
            name: "sim-{{ tag }}-c0-h0"
            url: "http://sim/{{ tag }}/c0/h0"
            zone: "{{ zone }}"
            pod: POD0
            cluster: C0
            hypervisor: Simulator
            username: root
            password: password
        - ngine_io.cloudstack.cs_storage_pool:
            name: PS0
            zone: "{{ zone }}"
            pod: POD0
            cluster: C0
            storage_url: nfs://10.147.28.6/export/home/sandbox/primary0
            provider: DefaultPrimary
            scope: cluster
        - ngine_io.cloudstack.cs_service_offering:
            name: ansible-small
            display_text: Ansible small
            cpu_number: 1
            cpu_speed: 500
            memory: 256
        - ngine_io.cloudstack.cs_configuration: {name: cpu.overprovisioning.factor, value: 2, cluster: C0}
    """)

RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def _ansible_ready(module: str = "cs_zone") -> str | None:
    """None when Debian's Ansible has the ngine_io.cloudstack collection with `module`, else why not."""
    if shutil.which("ansible-playbook") is None:
        return "ansible-playbook is not installed (apt-get install -y ansible)"
    doc = subprocess.run(["ansible-doc", "-l", "ngine_io.cloudstack"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL,  # ansible refuses a non-blocking stdin (an xdist worker's)
                         timeout=120)
    if module in doc.stdout:
        return None
    return (f"the ngine_io.cloudstack collection ({module}) is not available to ansible (`ansible-doc -l` exited "
            f"{doc.returncode}: {(doc.stderr or doc.stdout).strip()[-500:]})")


def _python_with_cs() -> str | None:
    for py in ("/usr/bin/python3", sys.executable):
        if Path(py).exists() and subprocess.run([py, "-c", "import cs"], capture_output=True).returncode == 0:
            return py
    return None


def test_playbook_idempotent(served: Served, tmp_path: Path) -> None:
    reason = _ansible_ready()
    if reason:
        pytest.skip(reason)
    py = _python_with_cs()
    if py is None:
        pytest.skip("no Python with the `cs` library for the Ansible modules (apt-get install python3-cs)")
    book = tmp_path / "inventory.yml"
    book.write_text(PLAYBOOK)
    env = {**os.environ, "CLOUDSTACK_ENDPOINT": served.endpoint, "CLOUDSTACK_KEY": served.apikey,
           "CLOUDSTACK_SECRET": served.secretkey, "CLOUDSTACK_TIMEOUT": "60", "SIM_TAG": tmp_path.name[-12:],
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_PYTHON_INTERPRETER": py}
    recaps = []
    for run in (1, 2):
        out = subprocess.run(["ansible-playbook", "-i", "localhost,", str(book)], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, env=env, timeout=600, cwd=tmp_path)
        m = RECAP.search(out.stdout)
        assert out.returncode == 0 and m, f"run {run} failed:\n{out.stdout[-6000:]}\n{out.stderr[-2000:]}\n" \
                                          f"{served.log()}"
        recaps.append(m.group(0))
        ok, changed, unreachable, failed = map(int, m.groups())
        assert failed == 0 and unreachable == 0
        if run == 1:
            assert changed > 0
        else:
            assert changed == 0, f"second run changed something:\n{out.stdout[-6000:]}"
    print("\n".join(recaps))
    c = served.client(integration=True)
    hosts = c("listHosts", state="Up")
    assert hosts["count"] == 1
    assert c("listClusters", name="C0")["cluster"][0]["cpuovercommitratio"] == "2.0"
