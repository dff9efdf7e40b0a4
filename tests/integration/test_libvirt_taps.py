"""A guest NIC's host tap is its own: named after the NIC's MAC, never one of libvirt's recycled ``vnetN`` names.

Security groups filter a VM's traffic by its tap's name (nftables bridge tables keyed by interface name). With
libvirt's ``vnetN`` names, a table left by a cloud that died without cleaning up -- or another cloud on the same
host -- named a device that libvirt later handed to a stranger's NIC, and that guest's DHCP and SSH were dropped
(the e2e sandbox's guest lost its network this way whenever a test cloud's leftover table named its vnet).
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from management.drivers.base import DiskSpec, DomainSpec, MiB, NicSpec, PoolSpec
from management.drivers.libvirt.driver import LibvirtDriver, tap_name

pytestmark = pytest.mark.integration


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[LibvirtDriver, str, str]]:
    bridge = f"dctap{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    driver = LibvirtDriver("qemu:///system", virt_type="qemu", shutdown_timeout=3,
                           console_log_dir=str(tmp_path / "console"))
    pool = driver.ensure_pool(PoolSpec(name=f"taps-{uuid.uuid4().hex[:8]}", path=str(tmp_path / "pool"))).name
    try:
        yield driver, pool, bridge
    finally:
        with contextlib.suppress(Exception):
            driver.ex_delete_pool(pool)
        driver.close()
        subprocess.run(["ip", "link", "del", bridge], check=False)


def _spawn(driver: LibvirtDriver, pool: str, bridge: str, mac: str) -> tuple[str, str]:
    vm = str(uuid.uuid4())
    info = driver.spawn(DomainSpec(
        uuid=vm, name=f"i-2-{uuid.UUID(vm).int % 10**7}-VMtap", vcpus=1, memory_mib=64,
        disks=(DiskSpec(volume_uuid=str(uuid.uuid4()), pool=pool, size_bytes=16 * MiB),),
        nics=(NicSpec(mac=mac, bridge=bridge),)))
    taps = dict(t.split("=", 1) for t in info.extra["taps"].split(","))
    return vm, taps[mac]


def test_each_nic_gets_a_tap_named_after_its_mac(host: tuple[LibvirtDriver, str, str]) -> None:
    driver, pool, bridge = host
    mac_a, mac_b = (f"02:00:{uuid.uuid4().hex[:2]}:{uuid.uuid4().hex[:2]}:{uuid.uuid4().hex[:2]}:0{i}"
                    for i in (1, 2))
    vm_a, tap_a = _spawn(driver, pool, bridge, mac_a)
    try:
        assert tap_a == tap_name(mac_a) == "dt" + mac_a.replace(":", "")
        # the device is on the host, a port of the network's bridge
        assert Path(f"/sys/class/net/{tap_a}/master").resolve().name == bridge
    finally:
        driver.destroy(vm_a)
    assert not Path(f"/sys/class/net/{tap_a}").exists()

    # the next NIC on this host never inherits the gone one's name (what a leftover filter table would match)
    vm_b, tap_b = _spawn(driver, pool, bridge, mac_b)
    try:
        assert tap_b == tap_name(mac_b) != tap_a
        assert Path(f"/sys/class/net/{tap_b}/master").resolve().name == bridge
    finally:
        driver.destroy(vm_b)
