"""libvirt XML as small config objects (the idea of Nova's ``LibvirtConfigObject``, our own code).

Each class is a dataclass with ``to_element()``/``from_element()`` plus the string forms ``to_xml()`` and
``from_xml()``. Only the parts devcloud writes or reads back are modelled; ``from_xml`` on a live domain
ignores everything else (addresses, aliases, emulator paths ...), so parsing libvirt's own output is safe.
Jinja2 is deliberately not used here: libvirt XML is data, and ElementTree escapes it for us.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import ClassVar, Self

from management.drivers.libvirt.overlay import DEVCLOUD_NS, OVERLAY_TAG, Overlay

DEVCLOUD_PREFIX = "devcloud"
ET.register_namespace(DEVCLOUD_PREFIX, DEVCLOUD_NS)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str | None) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _text(el: ET.Element | None, path: str, default: str | None = None) -> str | None:
    if el is None:
        return default
    found = el.find(path)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def _attr(el: ET.Element | None, path: str, name: str, default: str | None = None) -> str | None:
    if el is None:
        return default
    found = el.find(path) if path else el
    if found is None:
        return default
    return found.get(name, default)


_UNIT_BYTES = {
    "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3, "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}


def _to_bytes(el: ET.Element | None, default_unit: str = "bytes") -> int:
    if el is None or el.text is None:
        return 0
    return int(el.text.strip()) * _UNIT_BYTES[el.get("unit", default_unit).lower()]


class XmlConfig:
    """Mixin: string forms on top of ``to_element``/``from_element``."""

    root_tag: ClassVar[str]

    def to_element(self) -> ET.Element:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_xml(self, pretty: bool = True) -> str:
        el = self.to_element()
        if pretty:
            ET.indent(el)
        return ET.tostring(el, encoding="unicode")

    @classmethod
    def from_xml(cls, text: str | bytes) -> Self:
        el = ET.fromstring(text)
        if el.tag != cls.root_tag:
            raise ValueError(f"expected <{cls.root_tag}>, got <{el.tag}>")
        return cls.from_element(el)


# --------------------------------------------------------------------------------------------- devices


@dataclass(slots=True)
class BackingStore(XmlConfig):
    """``<backingStore>`` (domain disks) - libvirt reports it; we only write it for volumes."""

    root_tag: ClassVar[str] = "backingStore"
    path: str = ""
    format: str = "qcow2"

    def to_element(self) -> ET.Element:
        el = ET.Element("backingStore", type="file")
        _sub(el, "format", type=self.format)
        _sub(el, "source", file=self.path)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(
            path=_attr(el, "source", "file", "") or "",
            format=_attr(el, "format", "type", "raw") or "raw",
        )


@dataclass(slots=True)
class DiskConfig(XmlConfig):
    """A disk or cdrom. ``source_type``: ``file`` (path), ``volume`` (pool + volume name) or ``block``."""

    root_tag: ClassVar[str] = "disk"
    target_dev: str = "vda"
    target_bus: str = "virtio"
    device: str = "disk"  # disk | cdrom
    source_type: str = "file"
    driver_type: str = "qcow2"  # qcow2 | raw
    source_path: str | None = None  # file / block
    source_pool: str | None = None  # volume
    source_volume: str | None = None  # volume
    readonly: bool = False
    serial: str | None = None
    cache: str | None = None
    backing: BackingStore | None = None
    boot_order: int | None = None  # per-device <boot order=N/> (then the domain's <os> names no boot devices)

    def to_element(self) -> ET.Element:
        el = ET.Element("disk", type=self.source_type, device=self.device)
        _sub(el, "driver", name="qemu", type=self.driver_type, cache=self.cache)
        if self.source_type == "volume":
            _sub(el, "source", pool=self.source_pool, volume=self.source_volume)
        elif self.source_type == "block":
            _sub(el, "source", dev=self.source_path)
        elif self.source_path is not None:
            _sub(el, "source", file=self.source_path)
        if self.backing is not None:
            el.append(self.backing.to_element())
        _sub(el, "target", dev=self.target_dev, bus=self.target_bus)
        if self.readonly:
            _sub(el, "readonly")
        if self.serial:
            _sub(el, "serial", self.serial)
        if self.boot_order is not None:
            _sub(el, "boot", order=str(self.boot_order))
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        source_type = el.get("type", "file")
        src = el.find("source")
        bs = el.find("backingStore")
        backing = None
        if bs is not None and bs.find("source") is not None:
            backing = BackingStore.from_element(bs)
        path = None
        if src is not None:
            path = src.get("dev") if source_type == "block" else src.get("file")
        return cls(
            target_dev=_attr(el, "target", "dev", "") or "",
            target_bus=_attr(el, "target", "bus", "virtio") or "virtio",
            device=el.get("device", "disk"),
            source_type=source_type,
            driver_type=_attr(el, "driver", "type", "raw") or "raw",
            source_path=path,
            source_pool=src.get("pool") if src is not None else None,
            source_volume=src.get("volume") if src is not None else None,
            readonly=el.find("readonly") is not None,
            serial=_text(el, "serial"),
            cache=_attr(el, "driver", "cache"),
            backing=backing,
            boot_order=int(order) if (order := _attr(el, "boot", "order")) else None,
        )


@dataclass(slots=True)
class InterfaceConfig(XmlConfig):
    """A NIC attached to a Linux bridge (``type='bridge'``) or a libvirt network (``type='network'``)."""

    root_tag: ClassVar[str] = "interface"
    type: str = "bridge"
    source: str = ""  # bridge or network name
    mac: str | None = None
    model: str = "virtio"
    target_dev: str | None = None
    mtu: int | None = None  # tap and (virtio) guest MTU

    def to_element(self) -> ET.Element:
        el = ET.Element("interface", type=self.type)
        if self.mac:
            _sub(el, "mac", address=self.mac)
        if self.type == "bridge":
            _sub(el, "source", bridge=self.source)
        elif self.type == "network":
            _sub(el, "source", network=self.source)
        if self.target_dev:
            _sub(el, "target", dev=self.target_dev)
        if self.model:  # Xen PV: no model (a netfront vif)
            _sub(el, "model", type=self.model)
        if self.mtu:
            _sub(el, "mtu", size=str(self.mtu))
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        itype = el.get("type", "bridge")
        return cls(
            type=itype,
            source=_attr(el, "source", "bridge" if itype == "bridge" else "network", "") or "",
            mac=_attr(el, "mac", "address"),
            model=_attr(el, "model", "type", "virtio") or "virtio",
            target_dev=_attr(el, "target", "dev"),
            mtu=int(m) if (m := _attr(el, "mtu", "size")) else None,
        )


@dataclass(slots=True)
class SerialConfig(XmlConfig):
    """Serial port. ``type='file'`` writes the console to ``path``; ``type='pty'`` with ``log_file`` keeps an
    interactive pty and still logs everything (needs virtlogd). ``tag`` is ``serial`` or ``console``."""

    root_tag: ClassVar[str] = "serial"
    type: str = "file"
    path: str | None = None
    log_file: str | None = None
    port: int = 0
    tag: str = "serial"
    append: bool = False  # type='file': keep the log across domain restarts instead of truncating it
    target_type: str | None = None  # <console>: "serial" (default) or "xen" (the PV console, hvc0)

    def to_element(self) -> ET.Element:
        el = ET.Element(self.tag, type=self.type)
        if self.type == "file" and self.path:
            _sub(el, "source", path=self.path, append="on" if self.append else None)
        if self.log_file:
            _sub(el, "log", file=self.log_file, append="on")
        target_type = self.target_type or ("serial" if self.tag == "console" else None)
        _sub(el, "target", port=str(self.port), type=target_type)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(
            type=el.get("type", "pty"),
            path=_attr(el, "source", "path") if el.get("type") == "file" else None,
            log_file=_attr(el, "log", "file"),
            port=int(_attr(el, "target", "port", "0") or 0),
            tag=el.tag,
            append=el.get("type") == "file" and _attr(el, "source", "append") == "on",
            target_type=(_attr(el, "target", "type") if el.tag == "console"
                         and _attr(el, "target", "type") != "serial" else None),
        )

    @classmethod
    def from_xml(cls, text: str | bytes) -> Self:
        el = ET.fromstring(text)
        if el.tag not in ("serial", "console"):
            raise ValueError(f"expected <serial> or <console>, got <{el.tag}>")
        return cls.from_element(el)


@dataclass(slots=True)
class GraphicsConfig(XmlConfig):
    """VNC on loopback with an automatic port; the live XML carries the allocated port."""

    root_tag: ClassVar[str] = "graphics"
    type: str = "vnc"
    listen: str = "127.0.0.1"
    autoport: bool = True
    port: int | None = None
    passwd: str | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element(
            "graphics",
            type=self.type,
            autoport="yes" if self.autoport else "no",
            listen=self.listen,
        )
        if self.port is not None and (not self.autoport or self.port > 0):
            el.set("port", str(self.port))
        if self.passwd:
            el.set("passwd", self.passwd)
        _sub(el, "listen", type="address", address=self.listen)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        port = el.get("port")
        return cls(
            type=el.get("type", "vnc"),
            listen=el.get("listen") or _attr(el, "listen", "address", "127.0.0.1") or "127.0.0.1",
            autoport=el.get("autoport", "yes") == "yes",
            port=int(port) if port is not None else None,
            passwd=el.get("passwd"),
        )


@dataclass(slots=True)
class ControllerConfig(XmlConfig):
    """E.g. virtio-scsi: SCSI disks hot-unplug without guest cooperation (virtio-blk PCI unplug needs it)."""

    root_tag: ClassVar[str] = "controller"
    type: str = "scsi"
    model: str | None = "virtio-scsi"
    index: int = 0

    def to_element(self) -> ET.Element:
        el = ET.Element("controller", type=self.type, index=str(self.index))
        if self.model:
            el.set("model", self.model)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(type=el.get("type", ""), model=el.get("model"), index=int(el.get("index", "0")))


# ----------------------------------------------------------------------------------------------- domain


@dataclass(slots=True)
class OsConfig(XmlConfig):
    root_tag: ClassVar[str] = "os"
    type: str = "hvm"
    arch: str | None = "x86_64"
    machine: str | None = None
    boot: list[str] = field(default_factory=lambda: ["hd"])
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element("os")
        _sub(el, "type", self.type, arch=self.arch, machine=self.machine)
        for name in ("kernel", "initrd", "cmdline"):
            value = getattr(self, name)
            if value:
                _sub(el, name, value)
        for dev in self.boot:
            _sub(el, "boot", dev=dev)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(
            type=_text(el, "type", "hvm") or "hvm",
            arch=_attr(el, "type", "arch"),
            machine=_attr(el, "type", "machine"),
            boot=[b.get("dev", "hd") for b in el.findall("boot")],
            kernel=_text(el, "kernel"),
            initrd=_text(el, "initrd"),
            cmdline=_text(el, "cmdline"),
        )


@dataclass(slots=True)
class CpuConfig(XmlConfig):
    """``mode``: ``host-passthrough``/``host-model`` (kvm) or ``custom`` with a ``model`` (TCG: qemu64)."""

    root_tag: ClassVar[str] = "cpu"
    mode: str = "custom"
    model: str | None = None
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element("cpu", mode=self.mode)
        if self.model:
            _sub(el, "model", self.model, fallback="allow")
        if self.sockets:
            _sub(el, "topology", sockets=str(self.sockets), cores=str(self.cores or 1),
                 threads=str(self.threads or 1))
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        topo = el.find("topology")
        return cls(
            mode=el.get("mode", "custom"),
            model=_text(el, "model"),
            sockets=int(topo.get("sockets", "1")) if topo is not None else None,
            cores=int(topo.get("cores", "1")) if topo is not None else None,
            threads=int(topo.get("threads", "1")) if topo is not None else None,
        )


@dataclass(slots=True)
class ClockConfig(XmlConfig):
    root_tag: ClassVar[str] = "clock"
    offset: str = "utc"
    timers: dict[str, str] = field(default_factory=dict)  # timer name -> tickpolicy ("" = none)

    def to_element(self) -> ET.Element:
        el = ET.Element("clock", offset=self.offset)
        for name, policy in self.timers.items():
            _sub(el, "timer", name=name, tickpolicy=policy or None)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(
            offset=el.get("offset", "utc"),
            timers={t.get("name", ""): t.get("tickpolicy", "") for t in el.findall("timer")},
        )


@dataclass(slots=True)
class DevcloudMetadata(XmlConfig):
    """Our mark in ``<metadata>``: the VM uuid and the volumes spawn created (so destroy deletes exactly
    those). A domain without it was not defined by devcloud and is never destroyed by sync."""

    root_tag: ClassVar[str] = f"{{{DEVCLOUD_NS}}}instance"
    vm_uuid: str = ""
    display_name: str | None = None
    created_volumes: list[tuple[str, str]] = field(default_factory=list)  # (pool, volume name)
    created_files: list[str] = field(default_factory=list)  # paths outside pools (config drive ISO)
    overlays: list[Overlay] = field(default_factory=list)  # bridges a remote host joins to the router's (hook)

    def to_element(self) -> ET.Element:
        el = ET.Element(self.root_tag)
        _sub(el, f"{{{DEVCLOUD_NS}}}uuid", self.vm_uuid)
        if self.display_name:
            _sub(el, f"{{{DEVCLOUD_NS}}}name", self.display_name)
        vols = _sub(el, f"{{{DEVCLOUD_NS}}}volumes")
        for pool, name in self.created_volumes:
            _sub(vols, f"{{{DEVCLOUD_NS}}}volume", pool=pool, name=name)
        for path in self.created_files:
            _sub(vols, f"{{{DEVCLOUD_NS}}}file", path=path)
        el.extend(o.to_element() for o in self.overlays)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        ns = f"{{{DEVCLOUD_NS}}}"
        vols = el.find(f"{ns}volumes")
        vol_els = vols.findall(f"{ns}volume") if vols is not None else []
        file_els = vols.findall(f"{ns}file") if vols is not None else []
        return cls(
            vm_uuid=_text(el, f"{ns}uuid", "") or "",
            display_name=_text(el, f"{ns}name"),
            created_volumes=[(v.get("pool", ""), v.get("name", "")) for v in vol_els],
            created_files=[f.get("path", "") for f in file_els],
            overlays=[Overlay.from_element(o) for o in el.findall(OVERLAY_TAG)],
        )


@dataclass(slots=True)
class DomainConfig(XmlConfig):
    root_tag: ClassVar[str] = "domain"
    virt_type: str = "qemu"  # qemu | kvm | xen | test
    name: str = ""
    uuid: str | None = None
    memory_kib: int = 262144
    vcpus: int = 1
    os: OsConfig = field(default_factory=OsConfig)
    features: list[str] = field(default_factory=lambda: ["acpi", "apic"])
    cpu: CpuConfig | None = None
    clock: ClockConfig | None = field(default_factory=ClockConfig)
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    disks: list[DiskConfig] = field(default_factory=list)
    interfaces: list[InterfaceConfig] = field(default_factory=list)
    serials: list[SerialConfig] = field(default_factory=list)
    graphics: list[GraphicsConfig] = field(default_factory=list)
    controllers: list[ControllerConfig] = field(default_factory=list)
    devcloud: DevcloudMetadata | None = None
    emulator: str | None = None
    domain_id: int | None = None  # live XML only; never leaves the driver
    bootloader: str | None = None  # Xen PV: e.g. pygrub (instead of <os><kernel>)

    def to_element(self) -> ET.Element:
        el = ET.Element("domain", type=self.virt_type)
        _sub(el, "name", self.name)
        if self.uuid:
            _sub(el, "uuid", self.uuid)
        if self.devcloud is not None:
            _sub(el, "metadata").append(self.devcloud.to_element())
        _sub(el, "memory", str(self.memory_kib), unit="KiB")
        _sub(el, "currentMemory", str(self.memory_kib), unit="KiB")
        _sub(el, "vcpu", str(self.vcpus), placement="static")
        if self.bootloader:
            _sub(el, "bootloader", self.bootloader)
        el.append(self.os.to_element())
        if self.features:
            feats = _sub(el, "features")
            for name in self.features:
                _sub(feats, name)
        if self.cpu is not None:
            el.append(self.cpu.to_element())
        if self.clock is not None:
            el.append(self.clock.to_element())
        _sub(el, "on_poweroff", self.on_poweroff)
        _sub(el, "on_reboot", self.on_reboot)
        _sub(el, "on_crash", self.on_crash)
        devices = _sub(el, "devices")
        if self.emulator:
            _sub(devices, "emulator", self.emulator)
        for item in (*self.controllers, *self.disks, *self.interfaces, *self.serials, *self.graphics):
            devices.append(item.to_element())
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        devices = el.find("devices")
        dev_list = list(devices) if devices is not None else []
        meta = el.find(f"metadata/{DevcloudMetadata.root_tag}")
        feats = el.find("features")
        cpu = el.find("cpu")
        clock = el.find("clock")
        os_el = el.find("os")
        dom_id = el.get("id")
        return cls(
            virt_type=el.get("type", "qemu"),
            name=_text(el, "name", "") or "",
            uuid=_text(el, "uuid"),
            memory_kib=_to_bytes(el.find("memory"), "KiB") // 1024,
            vcpus=int(_text(el, "vcpu", "1") or 1),
            os=OsConfig.from_element(os_el) if os_el is not None else OsConfig(),
            features=[f.tag for f in feats] if feats is not None else [],
            cpu=CpuConfig.from_element(cpu) if cpu is not None else None,
            clock=ClockConfig.from_element(clock) if clock is not None else None,
            on_poweroff=_text(el, "on_poweroff", "destroy") or "destroy",
            on_reboot=_text(el, "on_reboot", "restart") or "restart",
            on_crash=_text(el, "on_crash", "destroy") or "destroy",
            disks=[DiskConfig.from_element(d) for d in dev_list if d.tag == "disk"],
            interfaces=[InterfaceConfig.from_element(d) for d in dev_list if d.tag == "interface"],
            # libvirt mirrors serial 0 as a <console>; keep only the <serial> to avoid a duplicate device
            serials=[SerialConfig.from_element(d) for d in dev_list if d.tag == "serial"]
            or [SerialConfig.from_element(d) for d in dev_list if d.tag == "console"],
            graphics=[GraphicsConfig.from_element(d) for d in dev_list if d.tag == "graphics"],
            controllers=[ControllerConfig.from_element(d) for d in dev_list if d.tag == "controller"],
            devcloud=DevcloudMetadata.from_element(meta) if meta is not None else None,
            emulator=_text(devices, "emulator") if devices is not None else None,
            domain_id=int(dom_id) if dom_id not in (None, "-1") else None,
            bootloader=_text(el, "bootloader"),
        )


# ---------------------------------------------------------------------------------------------- storage


@dataclass(slots=True)
class PoolConfig(XmlConfig):
    """Storage pool: ``dir`` (local primary storage) or ``netfs`` (NFS export mounted at ``target_path``)."""

    root_tag: ClassVar[str] = "pool"
    type: str = "dir"
    name: str = ""
    uuid: str | None = None
    target_path: str = ""
    source_host: str | None = None  # netfs
    source_dir: str | None = None  # netfs: export path
    source_format: str | None = None  # netfs: "nfs" / "auto"
    capacity: int = 0  # read back only
    allocation: int = 0
    available: int = 0

    def to_element(self) -> ET.Element:
        el = ET.Element("pool", type=self.type)
        _sub(el, "name", self.name)
        if self.uuid:
            _sub(el, "uuid", self.uuid)
        if self.type == "netfs":
            src = _sub(el, "source")
            _sub(src, "host", name=self.source_host)
            _sub(src, "dir", path=self.source_dir)
            _sub(src, "format", type=self.source_format or "nfs")
        target = _sub(el, "target")
        _sub(target, "path", self.target_path)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(
            type=el.get("type", "dir"),
            name=_text(el, "name", "") or "",
            uuid=_text(el, "uuid"),
            target_path=_text(el, "target/path", "") or "",
            source_host=_attr(el, "source/host", "name"),
            source_dir=_attr(el, "source/dir", "path"),
            source_format=_attr(el, "source/format", "type"),
            capacity=_to_bytes(el.find("capacity")),
            allocation=_to_bytes(el.find("allocation")),
            available=_to_bytes(el.find("available")),
        )


@dataclass(slots=True)
class VolumeConfig(XmlConfig):
    """Storage volume; ``backing`` makes a qcow2 linked clone of another file (copy-on-write root disk)."""

    root_tag: ClassVar[str] = "volume"
    name: str = ""
    capacity: int = 0  # bytes
    allocation: int | None = None
    format: str = "qcow2"
    backing: BackingStore | None = None
    path: str | None = None  # read back only (key/target path)

    def to_element(self) -> ET.Element:
        el = ET.Element("volume", type="file")
        _sub(el, "name", self.name)
        _sub(el, "capacity", str(self.capacity), unit="bytes")
        if self.allocation is not None:
            _sub(el, "allocation", str(self.allocation), unit="bytes")
        target = _sub(el, "target")
        if self.path:
            _sub(target, "path", self.path)
        _sub(target, "format", type=self.format)
        if self.backing is not None:
            bs = _sub(el, "backingStore")
            _sub(bs, "path", self.backing.path)
            _sub(bs, "format", type=self.backing.format)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        bs = el.find("backingStore")
        backing = None
        if bs is not None and _text(bs, "path"):
            backing = BackingStore(
                path=_text(bs, "path", "") or "", format=_attr(bs, "format", "type", "raw") or "raw"
            )
        alloc = el.find("allocation")
        return cls(
            name=_text(el, "name", "") or "",
            capacity=_to_bytes(el.find("capacity")),
            allocation=_to_bytes(alloc) if alloc is not None else None,
            format=_attr(el, "target/format", "type", "raw") or "raw",
            backing=backing,
            path=_text(el, "target/path"),
        )


__all__ = [
    "DEVCLOUD_NS",
    "BackingStore",
    "ClockConfig",
    "ControllerConfig",
    "CpuConfig",
    "DevcloudMetadata",
    "DiskConfig",
    "DomainConfig",
    "GraphicsConfig",
    "InterfaceConfig",
    "OsConfig",
    "PoolConfig",
    "SerialConfig",
    "VolumeConfig",
]
