"""Round-trip tests for the libvirt XML config objects."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from management.drivers.libvirt.xml import (
    DEVCLOUD_NS,
    BackingStore,
    ClockConfig,
    ControllerConfig,
    CpuConfig,
    DevcloudMetadata,
    DiskConfig,
    DomainConfig,
    GraphicsConfig,
    InterfaceConfig,
    OsConfig,
    PoolConfig,
    SerialConfig,
    VolumeConfig,
)

pytestmark = pytest.mark.unit


def _full_domain() -> DomainConfig:
    return DomainConfig(
        virt_type="qemu",
        name="i-2-3-VM",
        uuid="0b5e7c9e-61b5-4c3f-9d0e-0a1c2b3d4e5f",
        memory_kib=262144,
        vcpus=2,
        os=OsConfig(arch="x86_64", machine="pc", boot=["hd", "cdrom"]),
        features=["acpi", "apic", "pae"],
        cpu=CpuConfig(mode="custom", model="qemu64", sockets=1, cores=2, threads=1),
        clock=ClockConfig(offset="utc", timers={"rtc": "catchup", "hpet": ""}),
        disks=[
            DiskConfig(target_dev="vda", source_path="/pool/root.qcow2",
                       backing=BackingStore(path="/pool/tmpl.qcow2", format="qcow2")),
            DiskConfig(target_dev="vdb", source_type="volume", source_pool="primary", source_volume="data-1"),
            DiskConfig(target_dev="sda", target_bus="sata", device="cdrom", driver_type="raw",
                       source_path="/pool/cd.iso", readonly=True),
        ],
        interfaces=[
            InterfaceConfig(type="bridge", source="br0", mac="02:00:00:aa:bb:cc"),
            InterfaceConfig(type="network", source="default", mac="02:00:00:aa:bb:cd", target_dev="vnet7"),
        ],
        serials=[SerialConfig(type="file", path="/var/log/devcloud/i-2-3-VM.log")],
        graphics=[GraphicsConfig()],
        controllers=[ControllerConfig(type="scsi", model="virtio-scsi")],
        devcloud=DevcloudMetadata(vm_uuid="0b5e7c9e-61b5-4c3f-9d0e-0a1c2b3d4e5f", display_name="web",
                                  created_volumes=[("primary", "root.qcow2")], created_files=["/tmp/cd.iso"]),
    )


def test_domain_round_trip() -> None:
    dom = _full_domain()
    again = DomainConfig.from_xml(dom.to_xml())
    assert again == dom
    assert again.to_xml() == dom.to_xml()


def test_domain_xml_shape() -> None:
    root = ET.fromstring(_full_domain().to_xml())
    assert root.get("type") == "qemu"
    assert root.findtext("memory") == "262144" and root.find("memory").get("unit") == "KiB"
    assert root.find("devices/graphics").get("listen") == "127.0.0.1"
    assert root.find("devices/graphics").get("autoport") == "yes"
    assert root.find("devices/serial").get("type") == "file"
    assert root.find(f"metadata/{{{DEVCLOUD_NS}}}instance/{{{DEVCLOUD_NS}}}uuid").text.startswith("0b5e")
    assert root.find("devices/disk[@device='cdrom']/readonly") is not None
    assert root.find("devices/disk/source").get("file") == "/pool/root.qcow2"
    assert root.find("devices/disk[@type='volume']/source").get("pool") == "primary"
    # the devcloud namespace gets a readable prefix, not ns0
    assert "devcloud:instance" in _full_domain().to_xml()


def test_parse_libvirt_live_xml_ignores_unknown_parts() -> None:
    live = """
    <domain type='kvm' id='7'>
      <name>hand-made</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
      <memory unit='MiB'>512</memory><vcpu placement='static'>1</vcpu>
      <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><boot dev='hd'/></os>
      <devices>
        <emulator>/usr/bin/qemu-system-x86_64</emulator>
        <disk type='file' device='disk'>
          <driver name='qemu' type='qcow2'/>
          <source file='/p/root.qcow2' index='2'/>
          <backingStore type='file' index='3'><format type='qcow2'/><source file='/p/t.qcow2'/>
            <backingStore/></backingStore>
          <target dev='vda' bus='virtio'/><alias name='virtio-disk0'/>
          <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
        </disk>
        <serial type='pty'><source path='/dev/pts/3'/><log file='/l/x.log' append='on'/>
          <target type='isa-serial' port='0'/></serial>
        <console type='pty' tty='/dev/pts/3'><target type='serial' port='0'/></console>
        <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'>
          <listen type='address' address='127.0.0.1'/></graphics>
        <video><model type='cirrus'/></video>
      </devices>
    </domain>"""
    dom = DomainConfig.from_xml(live)
    assert dom.domain_id == 7 and dom.virt_type == "kvm"
    assert dom.memory_kib == 512 * 1024
    assert dom.devcloud is None
    assert dom.disks[0].backing == BackingStore(path="/p/t.qcow2", format="qcow2")
    assert dom.serials == [SerialConfig(type="pty", log_file="/l/x.log", port=0)]
    assert dom.graphics[0].port == 5901
    assert dom.emulator == "/usr/bin/qemu-system-x86_64"


@pytest.mark.parametrize(
    "obj",
    [
        DiskConfig(target_dev="vdc", source_path="/x/y.raw", driver_type="raw", serial="abc", cache="none"),
        DiskConfig(target_dev="vdd", source_type="block", source_path="/dev/loop0", driver_type="raw"),
        InterfaceConfig(type="bridge", source="cloudbr0", mac="02:01:02:03:04:05"),
        InterfaceConfig(type="network", source="default", model="e1000"),
        SerialConfig(type="file", path="/tmp/s.log"),
        SerialConfig(type="pty", log_file="/tmp/c.log", tag="console"),
        GraphicsConfig(autoport=False, port=5905, passwd="secret"),
        OsConfig(kernel="/boot/vmlinuz", initrd="/boot/initrd", cmdline="console=ttyS0", boot=[]),
        CpuConfig(mode="host-passthrough"),
        ClockConfig(offset="localtime"),
        DevcloudMetadata(vm_uuid="u"),
        PoolConfig(type="dir", name="primary", target_path="/var/lib/devcloud/primary"),
        PoolConfig(type="netfs", name="nfs1", uuid="a0000000-0000-0000-0000-00000000000a",
                   target_path="/mnt/nfs1", source_host="10.0.0.5", source_dir="/export/primary",
                   source_format="nfs"),
        VolumeConfig(name="root-1.qcow2", capacity=1 << 30, format="qcow2",
                     backing=BackingStore(path="/pool/tmpl-1.qcow2", format="qcow2")),
        VolumeConfig(name="data.raw", capacity=5 << 20, allocation=0, format="raw", path="/pool/data.raw"),
    ],
    ids=lambda o: type(o).__name__,
)
def test_small_objects_round_trip(obj) -> None:
    again = type(obj).from_xml(obj.to_xml())
    assert again == obj


def test_netfs_pool_xml_shape() -> None:
    root = ET.fromstring(PoolConfig(type="netfs", name="nfs1", target_path="/mnt/n", source_host="h",
                                    source_dir="/e").to_xml())
    assert root.get("type") == "netfs"
    assert root.find("source/host").get("name") == "h"
    assert root.find("source/dir").get("path") == "/e"
    assert root.find("source/format").get("type") == "nfs"
    assert root.findtext("target/path") == "/mnt/n"


def test_volume_xml_units_parsed() -> None:
    vol = VolumeConfig.from_xml(
        "<volume type='file'><name>v</name><capacity unit='G'>2</capacity>"
        "<allocation unit='KiB'>4</allocation><target><path>/p/v</path><format type='qcow2'/></target>"
        "</volume>"
    )
    assert vol.capacity == 2 << 30 and vol.allocation == 4096 and vol.path == "/p/v"


def test_wrong_root_rejected() -> None:
    with pytest.raises(ValueError):
        DomainConfig.from_xml("<pool type='dir'/>")


def test_disk_boot_order_round_trips() -> None:
    disk = DiskConfig(target_dev="hdd", target_bus="ide", device="cdrom", driver_type="raw",
                      source_path="/p/tiny.iso", readonly=True, boot_order=1)
    el = disk.to_element()
    assert el.find("boot").get("order") == "1"
    assert DiskConfig.from_element(el).boot_order == 1
    assert DiskConfig.from_element(DiskConfig(target_dev="vda").to_element()).boot_order is None
