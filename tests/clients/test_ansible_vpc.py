"""The Ansible CloudStack collection's VPC, ACL and VPN modules against a served instance on a simulator zone:
cs_vpc_offering, cs_vpc, cs_network_acl, cs_network_acl_rule, cs_network (a VPC tier), cs_vpn_gateway,
cs_vpn_customer_gateway, cs_vpn_connection (the modules Debian's bundled ngine_io.cloudstack has; it has no
cs_vpc_private_gateway, cs_static_route or cs_vpn_user). The first run changes things, the second reports changed=0.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.clients.test_ansible_compute import RECAP, _ansible_ready, _python_with_cs
from tests.conftest import Served

pytestmark = pytest.mark.clients

ZONE = "Sandbox-simulator-vpc"

PLAYBOOK = textwrap.dedent(f"""\
    - hosts: localhost
      connection: local
      gather_facts: false
      vars:
        zone: {ZONE}
      tasks:
        - ngine_io.cloudstack.cs_vpc_offering:
            name: ansible-vpc-offering
            display_text: an offering made by Ansible
            supported_services: [Dhcp, Dns, SourceNat, PortForwarding, NetworkACL, StaticNat, UserData, Vpn, Lb]
            state: enabled
        - ngine_io.cloudstack.cs_vpc:
            name: ansible-vpc
            display_text: ansible vpc
            cidr: 10.10.0.0/16
            vpc_offering: Default VPC offering
            zone: "{{{{ zone }}}}"
          register: vpc
        - ngine_io.cloudstack.cs_network_acl:
            name: web-acl
            description: web tier
            vpc: ansible-vpc
            zone: "{{{{ zone }}}}"
        - ngine_io.cloudstack.cs_network_acl_rule:
            network_acl: web-acl
            rule_position: 10
            protocol: tcp
            start_port: 22
            end_port: 22
            cidrs: [0.0.0.0/0]
            traffic_type: ingress
            action_policy: allow
            vpc: ansible-vpc
            zone: "{{{{ zone }}}}"
        - ngine_io.cloudstack.cs_network_acl_rule:
            network_acl: web-acl
            rule_position: 20
            protocol: icmp
            icmp_type: -1
            icmp_code: -1
            cidrs: [10.0.0.0/8]
            traffic_type: ingress
            action_policy: deny
            vpc: ansible-vpc
            zone: "{{{{ zone }}}}"
        - ngine_io.cloudstack.cs_network:
            name: web
            display_text: web tier
            network_offering: DefaultIsolatedNetworkOfferingForVpcNetworks
            vpc: ansible-vpc
            gateway: 10.10.1.1
            netmask: 255.255.255.0
            acl: web-acl
            zone: "{{{{ zone }}}}"
          register: web
        - ngine_io.cloudstack.cs_vpn_gateway:
            vpc: ansible-vpc
            zone: "{{{{ zone }}}}"
          register: vpngw
        - ngine_io.cloudstack.cs_vpn_customer_gateway:
            name: office
            gateway: 198.51.100.10
            cidrs: [192.168.50.0/24]
            ipsec_psk: s3cr3t-psk
            ike_policy: aes128-sha1;modp1536
            esp_policy: aes128-sha1
            dpd: true
        - ngine_io.cloudstack.cs_vpn_connection:
            vpc: ansible-vpc
            vpn_customer_gateway: office
            passive: true
            zone: "{{{{ zone }}}}"
          register: conn
        - assert:
            that:
              - vpc.cidr == "10.10.0.0/16"
              - web.vpc == "ansible-vpc"
              - web.network_offering == "DefaultIsolatedNetworkOfferingForVpcNetworks"
              - vpngw.public_ip is defined
              - conn.passive
    """)


def _zone(served: Served) -> None:
    """An advanced simulator zone with a public range (the VPC's source-NAT IP comes from it)."""
    admin = served.client(integration=True)
    zone = admin("createZone", name=ZONE, networktype="Advanced", dns1="8.8.8.8", internaldns1="8.8.4.4",
                 guestcidraddress="10.1.1.0/24")["zone"]
    pn = admin.run("createPhysicalNetwork", zoneid=zone["id"], name="vpc-pnet", isolationmethods="VLAN",
                   vlan="100-200")["physicalnetwork"]
    for traffic in ("Guest", "Public"):
        admin.run("addTrafficType", physicalnetworkid=pn["id"], traffictype=traffic)
    admin("createVlanIpRange", zoneid=zone["id"], vlan="untagged", gateway="172.16.15.1", netmask="255.255.255.0",
          startip="172.16.15.2", endip="172.16.15.50", forvirtualnetwork=True)
    admin("updateZone", id=zone["id"], allocationstate="Enabled")


def test_vpc_playbook_idempotent(served: Served, tmp_path: Path) -> None:
    reason = _ansible_ready()
    if reason:
        pytest.fail(reason)
    py = _python_with_cs()
    if py is None:
        pytest.fail("no Python with the `cs` and `sshpubkeys` libraries for the Ansible modules")
    _zone(served)
    book = tmp_path / "vpc.yml"
    book.write_text(PLAYBOOK)
    env = {**os.environ, "CLOUDSTACK_ENDPOINT": served.endpoint, "CLOUDSTACK_KEY": served.apikey,
           "CLOUDSTACK_SECRET": served.secretkey, "CLOUDSTACK_TIMEOUT": "60", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_PYTHON_INTERPRETER": py}
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
            assert changed >= 8, out.stdout[-4000:]
        else:
            assert changed == 0, f"second run changed something:\n{out.stdout[-8000:]}"
    print("\n".join(recaps))
    c = served.client(integration=True)
    vpc = c("listVPCs", name="ansible-vpc", listall=True)["vpc"][0]
    assert [n["name"] for n in vpc["network"]] == ["web"] and vpc["network"][0]["aclname"] == "web-acl"
    acl = c("listNetworkACLLists", vpcid=vpc["id"], listall=True)["networkacllist"][0]
    items = c("listNetworkACLs", aclid=acl["id"], listall=True)["networkacl"]
    assert [(i["number"], i["protocol"], i["action"]) for i in items] == [(10, "tcp", "Allow"), (20, "icmp", "Deny")]
    assert c("listVpnConnections", vpcid=vpc["id"], listall=True)["vpnconnection"][0]["passive"] is True
    offering = c("listVPCOfferings", name="ansible-vpc-offering")["vpcoffering"][0]
    assert offering["state"] == "Enabled"
