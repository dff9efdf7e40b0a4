"""A guest on a remote libvirt host joins a guest network whose bridge and DHCP are on this machine.

The remote host is the nested KVM host (tests/nested_kvm.py, reached over `qemu+tcp` on a bridge of its own). The
network is stretched to it over VXLAN as the management server stretches a router's network to a farm's host: this
machine's side by `drivers.libvirt.overlay.ensure`, the host's side by libvirt's QEMU hook from the devcloud
metadata in the domain XML (the nested host carries the hook host preparation installs). The guest gets its address
from dnsmasq here, answers SSH with the NIC MTU the overlay leaves, and the host's bridge and VXLAN device go when
the domain does. Nothing joins the nested host to the network but the overlay: its second NIC stays out of it.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from management.drivers.libvirt import overlay
from management.network import host as nethost
from tests.conftest import free_public_net, wait_for
from tests.integration.test_live_migration_guest import dhcp_server, ssh_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800),
              pytest.mark.xdist_group("tests/contract/drivers/test_driver_contract.py")]

MiB = 1024 * 1024


def at_host(host: Any, command: str) -> str:
    """What ``command`` printed at the nested host's console shell. The markers are split by quotes in the command
    so that the shell's echo of the line never contains them."""
    mark = uuid.uuid4().hex[:8]
    out = host.run(f"echo OUT''-{mark}; {command}; echo OUT''-{mark}").replace("\r", "")
    parts = out.split(f"OUT-{mark}\n")
    assert len(parts) >= 3, f"no output of {command!r} on the nested host's console: {out[-1000:]!r}"
    return parts[1]


@pytest.fixture(scope="module")
def segment() -> Iterator[dict[str, Any]]:
    """A guest network's bridge here (named as the server names them), with DHCP, stretched toward the nested
    host."""
    from tests.nested_kvm import nested_host

    host = nested_host()
    net_uuid = str(uuid.uuid4())
    bridge = "dcb" + net_uuid.replace("-", "")[:11]
    prefix = free_public_net("192.168", 150, 199)
    vni = overlay.vni_for(net_uuid)
    here = overlay.Overlay(bridge=bridge, vni=vni, group=overlay.group_for(vni), peer=host.address)
    overlay.ensure(here)
    nethost.run(["ip", "addr", "add", f"{prefix}.1/24", "dev", bridge])
    try:
        yield {"host": host, "bridge": bridge, "prefix": prefix, "overlay": here}
    finally:
        nethost.remove_bridge(bridge, only_if_unused=False)


def test_a_guest_on_a_remote_host_gets_dhcp_and_ssh_through_the_overlay(segment: dict[str, Any],
                                                                         tmp_path: Path) -> None:
    from appliance.image import build_tiny_image
    from management.drivers.base import DiskSpec, DomainSpec, NicSpec, PoolSpec
    from management.drivers.libvirt.driver import LibvirtDriver, tap_name

    host, bridge, prefix, here = segment["host"], segment["bridge"], segment["prefix"], segment["overlay"]
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    mac = f"02:00:00:{uuid.uuid4().hex[:2]}:{uuid.uuid4().hex[:2]}:02"
    ip = f"{prefix}.30"
    dnsmasq = dhcp_server(bridge, prefix, mac, ip, tmp_path)
    remote = LibvirtDriver(host.uri, virt_type="qemu", shutdown_timeout=3,
                           console_log_dir="/var/log/devcloud/console")
    remote.connect()
    pool = PoolSpec(name=f"ovl-{uuid.uuid4().hex[:8]}", path=f"/var/lib/devcloud/ovl-{uuid.uuid4().hex[:8]}")
    vm, root, tmpl = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    name = f"i-2-{uuid.UUID(vm).int % 10**7}-VM"
    device = overlay.vxlan_device(bridge)
    _, peer = overlay.route_to(host.address)
    try:
        remote.ensure_pool(pool)
        remote.prepare_template(pool.name, tmpl, str(build_tiny_image()))
        assert "does not exist" in at_host(host, f"ip link show {bridge} 2>&1")  # nothing there before the start
        spec = DomainSpec(uuid=vm, name=name, vcpus=1, memory_mib=160,
                          disks=(DiskSpec(volume_uuid=root, pool=pool.name, size_bytes=64 * MiB, template=tmpl),),
                          nics=(NicSpec(mac=mac, bridge=bridge, overlay=(here.vni, here.group, peer)),),
                          metadata={"public-keys": key.with_suffix(".pub").read_text(), "hostname": "faraway"})
        t = time.monotonic()
        remote.spawn(spec)
        xml = remote.ex_domain_xml(vm)
        assert f"<mtu size='{overlay.GUEST_MTU}'/>" in xml and f'vni="{here.vni}"' in xml, xml
        there = at_host(host, f"ip -d -o link show {device}")
        assert f"vxlan id {here.vni} group {here.group} dev eth0" in there, there
        ports = at_host(host, f"ls /sys/class/net/{bridge}/brif").split()
        assert sorted(ports) == sorted([device, tap_name(mac)]), ports

        out = ssh_until(key, ip, "cat /sys/class/net/eth0/mtu; hostname", 480)  # boot of TCG in TCG
        print(f"[overlay] the guest on the nested host answers SSH at {ip} {time.monotonic() - t:.1f} s after "
              f"spawn (VNI {here.vni}, group {here.group})")
        assert out.split() == [str(overlay.GUEST_MTU), "faraway"]
        leases = (tmp_path / "leases").read_text()
        assert mac in leases and ip in leases  # its address came from the DHCP server on this machine

        remote.destroy(vm)
        gone = wait_for(lambda: at_host(host, f"ip link show {bridge} 2>&1; ip link show {device} 2>&1")
                        .count("does not exist") == 2, timeout=60, interval=1,
                        what="the host's bridge and VXLAN device removed with the domain")
        assert gone
    finally:
        dnsmasq.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            dnsmasq.wait(10)
        with contextlib.suppress(Exception):
            remote.destroy(vm)
        with contextlib.suppress(Exception):
            for v in (root, tmpl):
                remote.delete_volume(pool.name, v)
            remote.ex_delete_pool(pool.name)  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            host.run(f"ip link del {device} 2>/dev/null; ip link del {bridge} 2>/dev/null")
        with contextlib.suppress(Exception):
            remote.close()


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
    from appliance.image import build_tiny_image
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
        assert overlay.vxlan_device(bridge) in at_host(host, f"ls /sys/class/net/{bridge}/brif")
        snat = next(i for i in api("listPublicIpAddresses", associatednetworkid=net["id"])["publicipaddress"]
                    if i["issourcenat"])
        cloud.run("createFirewallRule", ipaddressid=snat["id"], protocol="tcp", startport=2222, endport=2222,
                  cidrlist="0.0.0.0/0")
        cloud.run("createPortForwardingRule", ipaddressid=snat["id"], protocol="tcp", publicport=2222,
                  privateport=22, virtualmachineid=vm["id"], openfirewall=False)

        def answered() -> str | None:
            r = ssh(cloud.key, snat["ipaddress"], "hostname; cat /sys/class/net/eth0/mtu", port=2222, timeout=60)
            return r.stdout if r.returncode == 0 else None

        out = wait_for(answered, timeout=480, interval=3, what=f"ssh -p 2222 root@{snat['ipaddress']}")
        print(f"[overlay] deployVirtualMachine on the remote host {deployed:.1f} s; SSH through the router's "
              f"port forwarding {time.monotonic() - t:.1f} s after the call")
        assert out.split() == [vm["name"], str(overlay.GUEST_MTU)]
        cloud.run("destroyVirtualMachine", id=vm["id"], expunge=True)
        cloud.vms.remove(vm["id"])
