"""A VM on a remote libvirt host joins a guest network whose bridge, router and DHCP are on this machine.

The remote host is the nested KVM host (tests/nested_kvm.py, reached over `qemu+tcp` on a bridge of its own). The
server stretches the router's network to it over VXLAN: this machine's side by `drivers.libvirt.overlay.ensure`,
the host's side by libvirt's QEMU hook from the devcloud metadata in the domain XML (the nested host carries the
hook host preparation installs). The guest gets its address from the router's dnsmasq here, answers SSH through the
router's port forwarding with the NIC MTU the overlay leaves, and the host's bridge and VXLAN device go when the
domain does. Nothing joins the nested host to the network but the overlay: its second NIC stays out of it.

One guest only: it boots under TCG inside the TCG host, 5-10 minutes under CI's load, so the driver-level checks
(domain XML, the host's VXLAN device and bridge ports, their removal) are made on the VM the API deployed.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from management.drivers.libvirt import overlay
from tests.conftest import free_public_net, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800),
              pytest.mark.xdist_group("tests/contract/drivers/test_driver_contract.py")]

def at_host(host: Any, command: str) -> str:
    """What ``command`` printed at the nested host's console shell. The markers are split by quotes in the command
    so that the shell's echo of the line never contains them."""
    mark = uuid.uuid4().hex[:8]
    out = host.run(f"echo OUT''-{mark}; {command}; echo OUT''-{mark}").replace("\r", "")
    parts = out.split(f"OUT-{mark}\n")
    assert len(parts) >= 3, f"no output of {command!r} on the nested host's console: {out[-1000:]!r}"
    return parts[1]


PUBLIC_NET = free_public_net(high=240)
PUBLIC_GW = f"{PUBLIC_NET}.1"


def remote_zone_spec(uri: str) -> Any:
    """An advanced zone whose only KVM host is the nested one; primary storage is a directory on it, secondary and
    the routers are on this machine."""
    def spec(tag: str, workdir: Path, basic: bool) -> Any:
        from tests.integration.test_network_guests import advanced_zone_spec

        return advanced_zone_spec(tag, source="test_remote_guest_network", host_url=uri,
                                  primary_url=f"file:///var/lib/devcloud/ps-{tag}",
                                  secondary_url=f"file://{workdir / 'secondary'}", public_net=PUBLIC_NET,
                                  pod_net="198.18.247", guest_cidr="10.252.16.0/24", vlan="740-759",
                                  instance_prefix="R", sync_interval="5")
    return spec


def test_a_vm_deployed_on_a_remote_host_answers_ssh_through_its_router() -> None:
    """Through the API: an isolated network's router on this machine, its VM on the remote host, SSH to the
    source-NAT address's forwarded port from this machine (the path a farm's first VM takes)."""
    import libvirt

    from appliance.image import build_tiny_image
    from management.drivers.libvirt.driver import tap_name
    from tests.integration.test_network_guests import served_cloud, ssh
    from tests.nested_kvm import nested_host

    host = nested_host()
    with served_cloud(build_tiny_image(), basic=False, spec=remote_zone_spec(host.uri),
                      public_gw=PUBLIC_GW) as cloud:
        api = cloud.api
        off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
            "networkoffering"][0]
        net = api("createNetwork", zoneid=cloud.zone["id"], name=f"far-{cloud.tag}", displaytext="far",
                  networkofferingid=off["id"])["network"]
        t = time.monotonic()
        vm = cloud.deploy(name=f"far-{cloud.tag}", networkids=net["id"])
        deployed = time.monotonic() - t
        assert vm["hostname"] == api("listHosts", type="Routing")["host"][0]["name"]
        net = api("listNetworks", id=net["id"])["network"][0]
        bridge = "dcb" + net["id"].replace("-", "")[:11]
        device = overlay.vxlan_device(bridge)
        conn = libvirt.open(host.uri)
        try:
            xml = conn.lookupByName(vm["instancename"]).XMLDesc()
        finally:
            conn.close()
        vni = overlay.vni_for(net["id"])
        assert f"<mtu size='{overlay.GUEST_MTU}'/>" in xml and f'vni="{vni}"' in xml, xml
        there = at_host(host, f"ip -d -o link show {device}")
        assert f"vxlan id {vni} group {overlay.group_for(vni)} dev eth0" in there, there
        nic = vm["nic"][0]
        ports = at_host(host, f"ls /sys/class/net/{bridge}/brif").split()
        assert sorted(ports) == sorted([device, tap_name(nic["macaddress"])]), ports
        snat = next(i for i in api("listPublicIpAddresses", associatednetworkid=net["id"])["publicipaddress"]
                    if i["issourcenat"])
        cloud.run("createFirewallRule", ipaddressid=snat["id"], protocol="tcp", startport=2222, endport=2222,
                  cidrlist="0.0.0.0/0")
        cloud.run("createPortForwardingRule", ipaddressid=snat["id"], protocol="tcp", publicport=2222,
                  privateport=22, virtualmachineid=vm["id"], openfirewall=False)

        def answered() -> str | None:
            r = ssh(cloud.key, snat["ipaddress"], "hostname; cat /sys/class/net/eth0/mtu", port=2222, timeout=60)
            return r.stdout if r.returncode == 0 else None

        # TCG inside TCG: 400-600 s to SSH when CI's other guests share the two cores
        out = wait_for(answered, timeout=1200, interval=3, what=f"ssh -p 2222 root@{snat['ipaddress']}")
        print(f"[overlay] deployVirtualMachine on the remote host {deployed:.1f} s; SSH through the router's "
              f"port forwarding {time.monotonic() - t:.1f} s after the call")
        assert out.split() == [vm["name"], str(overlay.GUEST_MTU)]
        cloud.run("destroyVirtualMachine", id=vm["id"], expunge=True)
        cloud.vms.remove(vm["id"])
        gone = wait_for(lambda: at_host(host, f"ip link show {bridge} 2>&1; ip link show {device} 2>&1")
                        .count("does not exist") == 2, timeout=60, interval=1,
                        what="the host's bridge and VXLAN device removed with the domain")
        assert gone
