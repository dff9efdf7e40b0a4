"""The libvirt driver's Xen (libxl) flavour: PV guest XML, capabilities, URI defaults (no libvirtd needed)."""

import xml.etree.ElementTree as ET

import libvirt  # noqa: E402, F401 - the XML helpers import it

from management.drivers.base import Capability, DiskSpec, DomainSpec, NicSpec  # noqa: E402
from management.drivers.libvirt.driver import LibvirtDriver, capabilities_for_uri  # noqa: E402
from management.drivers.libvirt.xml import DevcloudMetadata, DiskConfig, DomainConfig  # noqa: E402


def _spec() -> DomainSpec:
    return DomainSpec(uuid="6f1f1a4e-0000-4000-8000-000000000001", name="i-2-3-VM", vcpus=1, memory_mib=128,
                      disks=(DiskSpec(volume_uuid="v1", pool="p1", template="t1"),),
                      nics=(NicSpec(mac="02:00:00:00:00:01", bridge="xenbr0"),))


def test_xen_uri_defaults_to_xen_virt_type_and_pv_capabilities():
    d = LibvirtDriver("xen+tcp://127.0.0.1:16510/system", events=False)
    assert d.virt_type == "xen"
    assert not d.supports(Capability.CONFIG_DRIVE)
    assert d.supports(Capability.VOLUME_HOTPLUG)
    assert d.data_disk_bus == "xen"
    assert capabilities_for_uri("xen:///system") is capabilities_for_uri("xen+ssh://root@h/system")
    assert LibvirtDriver("qemu:///system", events=False).virt_type == "qemu"


def test_pv_domain_xml_direct_kernel_boot():
    d = LibvirtDriver("xen+tcp://127.0.0.1:1/system", events=False, pv_kernel="/boot/k", pv_initrd="/boot/i",
                      pv_cmdline="root=LABEL=dcroot console=hvc0")
    disk = DiskConfig(target_dev="xvda", target_bus="xen", source_path="/pool/v1", driver_type="qcow2")
    cfg = d._build_domain(_spec(), [disk], DevcloudMetadata(vm_uuid=_spec().uuid))
    el = ET.fromstring(cfg.to_xml())
    assert el.get("type") == "xen"
    assert el.findtext("os/type") == "xen"
    assert el.find("os/type").get("machine") == "xenpv"
    assert (el.findtext("os/kernel"), el.findtext("os/initrd")) == ("/boot/k", "/boot/i")
    assert el.findtext("os/cmdline") == "root=LABEL=dcroot console=hvc0"
    assert el.find("os/boot") is None and el.find("bootloader") is None
    assert el.find("features") is None  # no acpi/apic for PV
    assert el.find("devices/disk/target").attrib == {"dev": "xvda", "bus": "xen"}
    iface = el.find("devices/interface")
    assert iface.find("model") is None and iface.find("source").get("bridge") == "xenbr0"
    console = el.find("devices/console")
    assert console.get("type") == "pty" and console.find("target").get("type") == "xen"
    assert el.find("devices/graphics") is None and el.find("devices/controller") is None
    back = DomainConfig.from_xml(cfg.to_xml())
    assert back.serials[0].target_type == "xen" and back.os.kernel == "/boot/k"


def test_pv_domain_falls_back_to_bootloader_without_kernel(monkeypatch):
    d = LibvirtDriver("xen+tcp://127.0.0.1:1/system", events=False)
    monkeypatch.setattr(d, "_pv_boot", lambda: (None, None))
    cfg = d._build_domain(_spec(), [], DevcloudMetadata(vm_uuid=_spec().uuid))
    el = ET.fromstring(cfg.to_xml())
    assert el.findtext("bootloader") == "pygrub"
    assert el.find("os/kernel") is None and el.find("os/cmdline") is None
    assert DomainConfig.from_xml(cfg.to_xml()).bootloader == "pygrub"
