"""The Ansible CloudStack modules for the compute extras of issue 18, twice against a served instance on a
simulator zone: cs_affinitygroup, cs_instance with affinity groups, cs_vmsnapshot, cs_snapshot_policy,
cs_instance_nic, cs_instance_nic_secondaryip (the ngine_io.cloudstack names of the collection's affinity_group,
instance, instance_snapshot, volume_snapshot_policy, instance_nic and instance_nic_secondaryip). The first run
changes things, the second reports changed=0."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.clients.test_ansible_compute import PLAYBOOK, RAW_IMAGE, RECAP, _ansible_ready, _python_with_cs
from tests.clients.test_ansible_compute import image_server as image_server  # noqa: F401 - the fixture
from tests.conftest import Served

pytestmark = [pytest.mark.clients, pytest.mark.timeout(1200)]

# the compute playbook (zone, template, key, ansible-vm, data volume), its final assert dropped, then these
_BASE = PLAYBOOK[:PLAYBOOK.index("    - assert:")]
EXTRAS = textwrap.indent(textwrap.dedent("""\
    # ---- issue 18 ---------------------------------------------------------------------------------------------
    - ngine_io.cloudstack.cs_affinitygroup:
        name: ansible-spread
        affinity_type: host anti-affinity
        description: one VM per host
    - ngine_io.cloudstack.cs_instance:
        name: ansible-aff
        template: ansible-tiny
        service_offering: Small Instance
        zone: "{{ zone }}"
        affinity_groups: [ansible-spread]
      register: aff
    - ngine_io.cloudstack.cs_snapshot_policy:
        vm: ansible-vm
        volume_type: ROOT
        interval_type: daily
        schedule: "30:02"
        time_zone: Europe/Berlin
        max_snaps: 3
      register: policy
    - ngine_io.cloudstack.cs_network:
        name: ansible-back
        zone: "{{ zone }}"
        network_offering: DefaultIsolatedNetworkOfferingWithSourceNatService
        gateway: 10.1.2.1
        netmask: 255.255.255.0
    - ngine_io.cloudstack.cs_instance_nic:
        vm: ansible-vm
        network: ansible-back
        ip_address: 10.1.2.10
        zone: "{{ zone }}"
      register: nic
    - ngine_io.cloudstack.cs_instance_nic_secondaryip:
        vm: ansible-vm
        network: ansible-back
        vm_guest_ip: 10.1.2.50
        zone: "{{ zone }}"
      register: secip
    # (after the NIC: CloudStack adds no NIC to a VM that has VM snapshots)
    - ngine_io.cloudstack.cs_vmsnapshot:
        name: ansible-vmsnap
        vm: ansible-vm
        zone: "{{ zone }}"
        snapshot_memory: true
        description: before the change
      register: vmsnap
    - assert:
        that:
          - aff.affinity_groups == ["ansible-spread"]
          - vmsnap.type == "DiskAndMemory"
          - policy.max_snaps == 3 and policy.interval_type == "daily"
          - nic.ip_address == "10.1.2.10"
          - secip.vm_guest_ip == "10.1.2.50"
    """), "    ")


def test_compute_extras_playbook_idempotent(served: Served, tmp_path: Path, image_server: str) -> None:  # noqa: F811
    reason = _ansible_ready()
    if reason:
        pytest.skip(reason)
    py = _python_with_cs()
    if py is None:
        pytest.skip("no Python with the `cs` and `sshpubkeys` libraries for the Ansible modules "
                    "(pip install cs sshpubkeys)")
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    book = tmp_path / "extras.yml"
    book.write_text(_BASE + EXTRAS)
    env = {**os.environ, "CLOUDSTACK_ENDPOINT": served.endpoint, "CLOUDSTACK_KEY": served.apikey,
           "CLOUDSTACK_SECRET": served.secretkey, "CLOUDSTACK_TIMEOUT": "60", "SIM_TAG": tmp_path.name[-12:],
           "IMAGE_URL": image_server, "IMAGE_MD5": hashlib.md5(RAW_IMAGE).hexdigest(),
           "PUBKEY": key.with_suffix(".pub").read_text().strip(),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_PYTHON_INTERPRETER": py}
    # an enabled zone first (see test_ansible_compute: cs_zone cannot start from an empty cloud)
    admin = served.client(integration=True)
    zone = admin("createZone", name="Sandbox-simulator-advanced", networktype="Advanced", dns1="8.8.8.8",
                 internaldns1="8.8.4.4", guestcidraddress="10.1.1.0/24")["zone"]
    admin("updateZone", id=zone["id"], allocationstate="Enabled")
    recaps = []
    for run in (1, 2):
        out = subprocess.run(["ansible-playbook", "-i", "localhost,", str(book)], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, env=env, timeout=600, cwd=tmp_path)
        m = RECAP.search(out.stdout)
        assert out.returncode == 0 and m, f"run {run} failed:\n{out.stdout[-8000:]}\n{out.stderr[-2000:]}\n" \
                                          f"{served.log()}"
        recaps.append(m.group(0))
        ok, changed, unreachable, failed = map(int, m.groups())
        assert failed == 0 and unreachable == 0
        if run == 1:
            assert changed > 0
        else:
            changed_tasks = re.findall(r"changed: \[localhost\].*", out.stdout)
            assert changed == 0, f"second run changed something: {changed_tasks}\n{out.stdout[-8000:]}"
    print("\n".join(recaps))
    c = served.client(integration=True)
    groups = c("listAffinityGroups", name="ansible-spread", listall=True)["affinitygroup"]
    assert groups[0]["type"] == "host anti-affinity" and len(groups[0]["virtualmachineIds"]) == 1
    vm = c("listVirtualMachines", name="ansible-vm", listall=True)["virtualmachine"][0]
    snaps = c("listVMSnapshot", virtualmachineid=vm["id"], listall=True)["vmSnapshot"]
    assert [s["displayname"] for s in snaps] == ["ansible-vmsnap"]  # name: the internal i-..._VS_<time>
    root = c("listVolumes", virtualmachineid=vm["id"], type="ROOT", listall=True)["volume"][0]
    (policy,) = c("listSnapshotPolicies", volumeid=root["id"], listall=True)["snapshotpolicy"]
    assert (policy["schedule"], policy["maxsnaps"], policy["timezone"]) == ("30:02", 3, "Europe/Berlin")
    nics = {n["networkname"]: n for n in c("listNics", virtualmachineid=vm["id"])["nic"]}
    assert nics["ansible-back"]["ipaddress"] == "10.1.2.10"
    assert [ip["ipaddress"] for ip in nics["ansible-back"]["secondaryip"]] == ["10.1.2.50"]
