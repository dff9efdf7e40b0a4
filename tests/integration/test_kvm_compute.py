"""Compute on real QEMU (TCG) guests through the CloudStack API of a served devcloud: NIC hotplug with DHCP from a
second network's router, volume hotplug and online resize seen by the guest, a VM snapshot with memory that
brings back a deleted file and the guest's uptime, quiesce without a guest agent, an ISO as a CD-ROM media
change, deploy from an ISO, extractVolume over HTTP.

One served instance, one advanced zone (this machine's libvirt as the KVM host, virtual routers in namespaces),
one guest shared by the tests (booted once); the guest's console log carries the tiny image's markers
(DEVCLOUD-NIC-ADDED, DEVCLOUD-DHCP-BOUND ... iface=, DEVCLOUD-DISK-SIZE, DEVCLOUD-CDROM). Timings are printed.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import libvirt
import pytest

from tests.conftest import free_public_net
from tests.integration.test_network_guests import Cloud, advanced_zone_spec, served_cloud, ssh_ok, wait_for
from tests.integration.test_network_guests import _reason as _guests_reason

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]
if _guests_reason:
    pytestmark = [pytest.mark.integration, pytest.mark.skip(reason=_guests_reason)]  # type: ignore[list-item]

PUBLIC_NET = free_public_net(high=240)  # the pods take 198.18.248-249
PUBLIC_GW = f"{PUBLIC_NET}.1"
GiB = 1024**3


def zone_spec(tag: str, workdir: Path, basic: bool) -> Any:
    return advanced_zone_spec(tag, source="test_kvm_compute", host_url="qemu:///system",
                              primary_url=f"file://{workdir / 'primary'}",
                              secondary_url=f"file://{workdir / 'secondary'}", public_net=PUBLIC_NET,
                              pod_net="198.18.249", guest_cidr="10.252.8.0/24", vlan="720-739", instance_prefix="C")


def ssh_guest(cloud: Cloud, net: dict[str, Any], ip: str, command: str) -> str:
    """A command in the guest over SSH from its network's router namespace."""
    return ssh_ok(cloud.key, ip, command, netns=cloud.netns_of(net["gateway"]))


def console_since(cloud: Cloud, vm: dict[str, Any], start: int, pattern: str, timeout: float = 180) -> re.Match[str]:
    rx = re.compile(pattern)
    try:
        return wait_for(lambda: rx.search(cloud.console(vm), start), timeout,  # type: ignore[no-any-return]
                        f"{pattern!r} on the console of {vm['name']}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- console tail ---\n{cloud.console(vm)[-2500:]}") from None


@pytest.fixture(scope="module")
def image() -> Path:
    from appliance.image import build_tiny_image

    return build_tiny_image()


@pytest.fixture(scope="module")
def env(image: Path) -> Iterator[dict[str, Any]]:
    with served_cloud(image, basic=False, spec=zone_spec, public_gw=PUBLIC_GW) as cloud:
        api = cloud.api
        off = api("listNetworkOfferings", name="DefaultIsolatedNetworkOfferingWithSourceNatService")[
            "networkoffering"][0]
        # two subnets: a NIC on each answers through its own network
        nets = [api("createNetwork", zoneid=cloud.zone["id"], name=f"{n}-{cloud.tag}", displaytext=n,
                    networkofferingid=off["id"], gateway=gw, netmask="255.255.255.0")["network"]
                for n, gw in (("front", "10.252.8.1"), ("back", "10.252.9.1"))]
        t = time.monotonic()
        vm = cloud.deploy(name=f"c1-{cloud.tag}", networkids=nets[0]["id"])
        nets = [api("listNetworks", id=n["id"])["network"][0] for n in nets]
        cloud.wait_console(vm, r"DEVCLOUD-GUEST-READY")
        print(f"[kvm compute] deploy + boot to READY: {time.monotonic() - t:.1f}s")
        yield {"cloud": cloud, "nets": nets, "vm": vm, "ip": vm["nic"][0]["ipaddress"]}


def test_nic_hotplug_gets_dhcp_from_the_second_network(env: dict[str, Any]) -> None:
    cloud, vm, (front, back) = env["cloud"], env["vm"], env["nets"]
    # the second network gets its router (implemented) before the NIC needs its DHCP
    start = len(cloud.console(vm))
    t = time.monotonic()
    added = cloud.run("addNicToVirtualMachine", virtualmachineid=vm["id"], networkid=back["id"])["virtualmachine"]
    nic = next(n for n in added["nic"] if n["networkid"] == back["id"])
    back = cloud.api("listNetworks", id=back["id"])["network"][0]
    console_since(cloud, vm, start, rf"DEVCLOUD-NIC-ADDED eth1 mac={re.escape(nic['macaddress'])}")
    console_since(cloud, vm, start, rf"DEVCLOUD-DHCP-BOUND ip={re.escape(nic['ipaddress'])} "
                                    rf"router={re.escape(back['gateway'])} iface=eth1")
    print(f"[kvm compute] addNic -> DHCP lease on eth1: {time.monotonic() - t:.1f}s")
    # the new address answers SSH from the second network's router (this machine has no ping)
    out = ssh_guest(cloud, back, nic["ipaddress"], "ip -4 -o addr show dev eth1")
    assert nic["ipaddress"] in out, out
    start = len(cloud.console(vm))
    removed = cloud.run("removeNicFromVirtualMachine", virtualmachineid=vm["id"], nicid=nic["id"])
    assert [n["networkid"] for n in removed["virtualmachine"]["nic"]] == [front["id"]]
    console_since(cloud, vm, start, r"DEVCLOUD-NIC-REMOVED eth1")
    dom = cloud_conn().lookupByUUIDString(vm["id"])
    assert nic["macaddress"] not in dom.XMLDesc(0)


def cloud_conn() -> Any:
    return libvirt.open("qemu:///system")


def test_volume_hotplug_and_online_resize(env: dict[str, Any]) -> None:
    cloud, vm = env["cloud"], env["vm"]
    do = [d for d in cloud.api("listDiskOfferings")["diskoffering"] if d.get("iscustomized")][0]
    vol = cloud.run("createVolume", name="grow-" + uuid.uuid4().hex[:4], zoneid=cloud.zone["id"],
                    diskofferingid=do["id"], size=1)["volume"]
    start = len(cloud.console(vm))
    cloud.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    dev = console_since(cloud, vm, start, r"DEVCLOUD-DISK-ADDED ([sv]d[a-z])").group(1)
    t = time.monotonic()
    resized = cloud.run("resizeVolume", id=vol["id"], size=2)["volume"]
    assert resized["size"] == 2 * GiB
    # /sys/block/<dev>/size (512-byte sectors) seen by the guest's watcher on the console
    console_since(cloud, vm, start, rf"DEVCLOUD-DISK-SIZE {dev} sectors={2 * GiB // 512}\b")
    print(f"[kvm compute] online resize 1 -> 2 GiB seen by the guest after {time.monotonic() - t:.1f}s")
    start = len(cloud.console(vm))
    cloud.run("detachVolume", id=vol["id"])
    console_since(cloud, vm, start, rf"DEVCLOUD-DISK-REMOVED {dev}")
    cloud.api("deleteVolume", id=vol["id"])


def test_vm_snapshot_with_memory_brings_back_the_marker_and_the_uptime(env: dict[str, Any]) -> None:
    cloud, vm, front, ip = env["cloud"], env["vm"], env["nets"][0], env["ip"]
    marker = "VMSNAP-" + uuid.uuid4().hex[:8]
    ssh_guest(cloud, front, ip, f"echo {marker} > /root/marker; sync; echo written")
    up_snap = float(ssh_guest(cloud, front, ip, "cut -d' ' -f1 /proc/uptime"))
    t = time.monotonic()
    snap = cloud.run("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True,
                     name="with-memory")["vmsnapshot"]
    took_snap = time.monotonic() - t
    assert (snap["state"], snap["type"]) == ("Ready", "DiskAndMemory")
    ssh_guest(cloud, front, ip, "rm /root/marker; sync; echo removed")
    assert "gone" in ssh_guest(cloud, front, ip, "cat /root/marker 2>/dev/null || echo gone")
    # the guest runs on well past the snapshot's instant before the revert
    up_before = wait_for(lambda: (u := float(ssh_guest(cloud, front, ip, "cut -d' ' -f1 /proc/uptime")))
                         > up_snap + 30 and u, 120, "the guest's uptime to pass the snapshot's by 30 s", interval=5)
    t = time.monotonic()
    reverted = cloud.run("revertToVMSnapshot", vmsnapshotid=snap["id"])["virtualmachine"]
    took_revert = time.monotonic() - t
    assert reverted["state"] == "Running"
    assert ssh_guest(cloud, front, ip, "cat /root/marker").strip() == marker
    up_after = float(ssh_guest(cloud, front, ip, "cut -d' ' -f1 /proc/uptime"))
    print(f"[kvm compute] memory snapshot {took_snap:.1f}s, revert {took_revert:.1f}s; uptime at snapshot "
          f"~{up_snap:.1f}s, before revert {up_before:.1f}s, after revert {up_after:.1f}s")
    # back at the snapshot's instant: the clock went back, then ran on from there
    assert up_snap <= up_after < up_before, (up_snap, up_before, up_after)
    cloud.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    dom = cloud_conn().lookupByUUIDString(vm["id"])
    assert dom.snapshotNum(0) == 0


def test_quiesce_without_agent_and_disk_only_of_a_running_vm(env: dict[str, Any]) -> None:
    cloud, vm = env["cloud"], env["vm"]
    started = cloud.api("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True, quiescevm=True,
                        name="frozen")
    job = cloud.api.wait(started["jobid"], timeout=120)
    assert job["jobstatus"] == 2, job
    text = job["jobresult"]["errortext"]
    assert f"Could not freeze VM.Failed to freeze VM - {vm['instancename']} due to" in text, text
    print(f"[kvm compute] quiesce without agent: {text}")
    cloud.run("deleteVMSnapshot", vmsnapshotid=started["id"])
    status, err = cloud.api.error("createVMSnapshot", virtualmachineid=vm["id"], name="disk-only")
    assert (status, err["errortext"]) == (530, "Creating a snapshot of a running KVM Instance without memory is not "
                                               "supported")


def test_iso_attach_is_a_media_change_and_deploy_from_iso(env: dict[str, Any], tmp_path: Path) -> None:
    from appliance.image.iso import LABEL, build_tiny_iso

    cloud, vm = env["cloud"], env["vm"]
    src = cloud.workdir / "tiny.iso"
    src.write_bytes(build_tiny_iso().read_bytes())
    iso = cloud.api("registerIso", name=f"tiny-iso-{cloud.tag}", displaytext="tiny iso", url=f"file://{src}",
                    zoneid=cloud.zone["id"], ispublic=True, bootable=True)["iso"][0]
    wait_for(lambda: cloud.api("listIsos", isofilter="all", id=iso["id"])["iso"][0]["isready"], 120, "the ISO")
    start = len(cloud.console(vm))
    assert cloud.run("attachIso", id=iso["id"], virtualmachineid=vm["id"])["virtualmachine"]["isoid"] == iso["id"]
    drive = console_since(cloud, vm, start, rf"DEVCLOUD-CDROM (sr\d) label={LABEL}").group(1)
    start = len(cloud.console(vm))
    cloud.run("detachIso", virtualmachineid=vm["id"])
    console_since(cloud, vm, start, rf"DEVCLOUD-CDROM {drive} label=none")

    do = [d for d in cloud.api("listDiskOfferings")["diskoffering"] if d.get("iscustomized")][0]
    booted = cloud.deploy(name=f"iso-{cloud.tag}", templateid=iso["id"], diskofferingid=do["id"], size=1,
                          networkids=env["nets"][0]["id"])
    assert booted["isoid"] == iso["id"]
    cloud.wait_console(booted, r"devcloud\.iso=1")  # the kernel from the CD-ROM booted
    xml = cloud_conn().lookupByUUIDString(booted["id"]).XMLDesc(0)
    # the ISO's drive boots first, then the root disk (per-device order: the config drive is a CD-ROM too)
    assert re.search(r"<target dev='hdd' bus='ide'/>.*?<boot order='1'/>", xml, re.S), xml
    assert re.search(r"<target dev='vda' bus='virtio'/>.*?<boot order='2'/>", xml, re.S), xml
    cloud.run("destroyVirtualMachine", id=booted["id"], expunge=True)
    cloud.vms.remove(booted["id"])


def test_extract_volume_over_http(env: dict[str, Any]) -> None:
    cloud = env["cloud"]
    do = [d for d in cloud.api("listDiskOfferings")["diskoffering"] if d.get("iscustomized")][0]
    vol = cloud.run("createVolume", name="out-" + uuid.uuid4().hex[:4], zoneid=cloud.zone["id"],
                    diskofferingid=do["id"], size=1)["volume"]
    cloud.run("attachVolume", id=vol["id"], virtualmachineid=env["vm"]["id"])  # created on primary storage
    cloud.run("detachVolume", id=vol["id"])
    out = cloud.run("extractVolume", id=vol["id"], zoneid=cloud.zone["id"], mode="HTTP_DOWNLOAD")["volume"]
    assert out["url"].startswith(f"http://127.0.0.1:{cloud.served.api_port}/userdata/"), out["url"]
    got = httpx.get(out["url"], timeout=60)
    assert got.status_code == 200 and got.content[:4] == b"QFI\xfb"  # a standalone qcow2
    assert int.from_bytes(got.content[24:32], "big") == 1 * GiB
    cloud.api("deleteVolume", id=vol["id"])

