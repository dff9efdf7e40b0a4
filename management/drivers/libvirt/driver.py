"""HypervisorDriver over libvirt (QEMU/KVM, QEMU-TCG, Xen/libxl, and the in-process ``test:///`` driver).

Design choices (why):
- The libvirt domain UUID *is* our VM uuid, so lookups need no mapping table. Domains we define carry a
  ``<metadata><devcloud:instance>`` element; a domain without it is reported with ``extra['owned']='false'``
  and is never touched by ``destroy`` (it raises) - sync never kills a hand-made domain.
- Volumes are named by their uuid inside the pool; templates by the template uuid; snapshots
  ``snap-<volume>-<snapshot>``. The metadata records exactly which volumes/files spawn created, so destroy
  deletes those and only those.
- Stopped domains are edited by redefining their persistent XML (works everywhere, incl. ``test:///``);
  running ones via ``attachDeviceFlags(LIVE|CONFIG)``. Hot-plugged data disks go on a virtio-scsi
  controller because SCSI unplug completes without the guest's help (virtio-blk PCI unplug needs an
  ACPI-aware guest, which a TCG guest at the boot loader is not).
- Volume snapshots are full copies into the pool (``createXMLFrom``), for a volume in use by a running
  domain through a libvirt push backup (``backupBegin``), which QEMU makes point-in-time consistent.
  Revert copies the snapshot back over the volume (volume not in use by a running domain).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import libvirt

from management.drivers import configdrive
from management.drivers.base import (
    BackupDisk,
    Capability,
    ConsoleAddress,
    DiskStats,
    DomainInfo,
    DomainSpec,
    DomainStats,
    ForeignDisk,
    ForeignDomain,
    ForeignNic,
    HostInfo,
    HostStats,
    HypervisorDriver,
    LifecycleEvent,
    NicSpec,
    PoolInfo,
    PoolSpec,
    PowerState,
    SnapshotInfo,
    VmStats,
    VolumeInfo,
    make_capabilities,
)
from management.drivers.errors import (
    DomainExists,
    DomainNotFound,
    DriverError,
    DriverTimeout,
    InvalidDomainState,
    PoolNotFound,
    SnapshotNotFound,
    TemplateNotFound,
    VolumeInUse,
    VolumeNotFound,
)
from management.drivers.libvirt import overlay, storage
from management.drivers.libvirt.connection import Connection
from management.drivers.libvirt.domain_snapshots import DomainSnapshots
from management.drivers.libvirt.events import normalise_lifecycle, power_state
from management.drivers.libvirt.moves import Moves
from management.drivers.libvirt.xml import (
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
)

log = logging.getLogger(__name__)

_FULL = make_capabilities(
    volume_snapshot=True, volume_resize=True, volume_hotplug=True, nic_hotplug=True, console=True,
    events=True, config_drive=True, backup=True, volume_import=True, volume_check=True, domain_import=True,
    vm_stats=True, vm_snapshot=True, vm_snapshot_memory=True, cdrom=True, volume_transfer=True,
    storage_migration=True, live_migration=True,
    domain_stats=True,
)
# test:/// keeps only metadata: no hotplug (attachDeviceFlags unsupported), no resize, no console port,
# no bytes to put a config drive in. Snapshots are metadata copies (createXMLFrom works there).
_TEST = make_capabilities(volume_snapshot=True, events=True, backup=True, volume_import=True, domain_stats=True)
# Xen (libxl) PV guests: no config drive (an IDE cdrom needs an HVM guest); disks and NICs are xen devices.
_XEN = make_capabilities(
    volume_snapshot=True, volume_resize=True, volume_hotplug=True, nic_hotplug=True, console=True, events=True,
    vm_stats=True, domain_stats=True,
)
# Xen PV boot files a host provides (host preparation uploads them): pool -> volumes (see ``_pv_boot``)
PV_BOOT_POOL = "devcloud-pvboot"
PV_KERNEL_VOLUME = "vmlinuz"
PV_INITRD_VOLUME = "initrd.img"
PV_DEFAULT_CMDLINE = "root=LABEL=dcroot console=hvc0 panic=-1"
NFS_MOUNT_ROOT = "/mnt"  # where libvirt mounts an NFS primary pool: <root>/<pool uuid>, CloudStack's layout

_LIVE_CONFIG = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
# Each try opens the tray, which a booting guest notices and may answer by opening the drive (closing the tray): under
# load the guest won 3 tries in a row here.
MEDIA_CHANGE_TRIES = 10
MEDIA_CHANGE_RETRY_S = 1.0
ISO_DEV = "hdd"  # the CD-ROM drive for ISOs (IDE secondary slave); the config drive is hdc
_BUS_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd", "xen": "xvd", "usb": "sd"}


def capabilities_for_uri(uri: str) -> Mapping[str, bool]:
    if uri.startswith("test:"):
        return _TEST
    return _XEN if _is_xen_uri(uri) else _FULL


def _is_xen_uri(uri: str) -> bool:
    return urlsplit(uri).scheme.split("+", 1)[0].lower() == "xen"


def _overlays(nics: tuple[NicSpec, ...]) -> list[overlay.Overlay]:
    """One per bridge whose NICs come with an overlay: the QEMU hook on the host makes them before the start."""
    seen: dict[str, overlay.Overlay] = {}
    for n in nics:
        if n.bridge and n.overlay and n.bridge not in seen:
            vni, group, peer = n.overlay
            seen[n.bridge] = overlay.Overlay(bridge=n.bridge, vni=vni, group=group, peer=peer)
    return list(seen.values())


def tap_name(mac: str) -> str:
    """The host tap of a guest NIC: ``dt`` + the MAC's 12 hex digits (14 characters, within IFNAMSIZ).

    libvirt's own ``vnetN`` names are handed out again after a domain is gone (and from 0 after a libvirtd
    restart), and a security-group table keyed by one of them -- a leftover of a cloud that died without cleaning
    up, or another cloud on this host -- would then filter a stranger's NIC. A MAC is unique per NIC (random per
    cloud), so the name is too, and stays the same across the NIC's restarts."""
    return "dt" + mac.replace(":", "").lower()


def _dev_name(bus: str, index: int) -> str:
    return _BUS_PREFIX.get(bus, "vd") + "abcdefghijklmnopqrstuvwxyz"[index]


def _iso_drives(devices: ET.Element) -> list[ET.Element]:
    """The `<disk>` elements at the ISO drive's target under a domain's `<devices>`."""
    return [e for e in devices.iterfind("disk") if _attr_of(e, "target", "dev") == ISO_DEV]


def _devices(root: ET.Element) -> ET.Element:
    """The <devices> of a domain's XML (libvirt always writes one; a domain without it is not ours to edit)."""
    devices = root.find("devices")
    if devices is None:
        raise DriverError("the domain XML has no <devices> element")
    return devices


def _attr_of(el: ET.Element, child: str, name: str) -> str | None:
    found = el.find(child)
    return found.get(name) if found is not None else None


# libvirt loads a cgroup BPF device program at every domain start. The kernel's verifier gives up with EAGAIN when a
# signal reaches the loading thread (since Linux ~4.20; libbpf and cilium/ebpf retry, libvirt does not), e.g. the
# SIGCHLD of another QEMU started at the same moment. The start failed before QEMU ran, so starting again is safe.
START_ATTEMPTS = 5
START_RETRY_DELAY = 0.2  # seconds, times the attempt number


def _start_interrupted(exc: libvirt.libvirtError) -> bool:
    msg = exc.get_error_message() or ""
    return "cgroup BPF prog" in msg and "Resource temporarily unavailable" in msg


# QEMU's two refusals when the guest closed the tray between libvirt's open and its swap: removing the old medium
# ("Tray of device 'ide0-1-1' is not open") and inserting the new one ("Tray of the device is not open").
_TRAY_CLOSED = re.compile(r"Tray of (the )?device( '[^']*')? is not open")
_REMOVE_REFUSED = "blockdev-remove-medium"


def _tray_raced(exc: libvirt.libvirtError) -> bool:
    return _TRAY_CLOSED.search(exc.get_error_message() or "") is not None


def _retrying(call: Callable[[], Any], transient: Callable[[libvirt.libvirtError], bool], tries: int,
              wait: Callable[[int], float], what: str,
              mend: Callable[[libvirt.libvirtError], None] | None = None) -> Any:
    """`call()`, asked for again (up to `tries` calls in all, `wait(attempt)` seconds apart) while libvirt's error
    is one `transient` knows to be a race worth retrying, `mend(error)` first when given; any other error, or the
    last, is raised."""
    for attempt in range(1, tries + 1):
        try:
            return call()
        except libvirt.libvirtError as exc:
            if attempt == tries or not transient(exc):
                raise
            log.warning("%s: %s; attempt %d of %d", what, exc.get_error_message(), attempt + 1, tries)
            if mend is not None:
                mend(exc)
            time.sleep(wait(attempt))
    raise AssertionError("unreachable")


def _not_found(exc: libvirt.libvirtError) -> bool:
    return exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_STORAGE_VOL,
                                    libvirt.VIR_ERR_NO_STORAGE_POOL)


class LibvirtDriver(DomainSnapshots, Moves, HypervisorDriver):
    """``LibvirtDriver(uri, **options)``; options:

    virt_type       domain type: "qemu" (TCG, default), "kvm" or "xen"; the host-prepare probe decides.
                    ``xen://``/``xen+tcp://``/``xen+ssh://`` URIs default to "xen" (libxl): PV guests.
    pv_kernel, pv_initrd, pv_cmdline  Xen PV direct boot: paths on the Xen host (default: the volumes
                    ``vmlinuz``/``initrd.img`` of the host's pool ``devcloud-pvboot``, else ``pv_bootloader``).
    pv_bootloader   Xen PV boot loader run by libxl when no kernel is known (default "pygrub").
    console_log_dir directory for serial console logs (default /var/log/devcloud/console).
    config_drive_dir where config-drive ISOs are built before upload (default: a temp dir).
    shutdown_timeout seconds a graceful stop may take before falling back to destroy (default 10).
    stop_fallback   True (default): a graceful stop that times out powers off; False: raise DriverTimeout.
    hotplug_timeout seconds to wait for a live device removal (default 10).
    data_disk_bus   bus for attach_volume and non-root DiskSpecs with bus "virtio" (default "scsi").
    reboot_mode     "acpi" (virDomainReboot, default) or "reset" (hard reset; for guests ignoring ACPI).
    machine         machine type (default "pc"); cpu_mode: "host-model"/"host-passthrough" (kvm) or None.
    memory_mib_min  refuse specs below this (default 0).
    events          deliver lifecycle events (default True).
    nic_hotplug     declare NIC_HOTPLUG (default True). virtio-net PCI unplug completes only when the guest
                    OS acknowledges it; set False for hosts whose guests may not run an ACPI-aware OS.
    """

    name: ClassVar[str] = "libvirt"
    capabilities: ClassVar[Mapping[str, bool]] = _FULL

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url)
        self.uri = url
        self.is_test = url.startswith("test:")
        # per-URI honesty: the instance attribute shadows the class default
        self.capabilities = capabilities_for_uri(url)  # type: ignore[misc]
        self.virt_type: str = options.pop(
            "virt_type", "test" if self.is_test else ("xen" if _is_xen_uri(url) else "qemu"))
        if self.virt_type == "xen" and not self.is_test:
            self.capabilities = _XEN  # type: ignore[misc]
        self.pv_kernel: str | None = options.pop("pv_kernel", None)
        self.pv_initrd: str | None = options.pop("pv_initrd", None)
        self.pv_cmdline: str = options.pop("pv_cmdline", PV_DEFAULT_CMDLINE)
        self.pv_bootloader: str = options.pop("pv_bootloader", "pygrub")
        self.console_log_dir: str = options.pop("console_log_dir", "/var/log/devcloud/console")
        self.config_drive_dir: str | None = options.pop("config_drive_dir", None)
        self.shutdown_timeout: float = float(options.pop("shutdown_timeout", 10))
        self.stop_fallback: bool = bool(options.pop("stop_fallback", True))
        self.hotplug_timeout: float = float(options.pop("hotplug_timeout", 10))
        self.data_disk_bus: str = options.pop("data_disk_bus", "xen" if self.virt_type == "xen" else "scsi")
        self.reboot_mode: str = options.pop("reboot_mode", "acpi")
        self.machine: str | None = options.pop("machine", None if self.is_test else "pc")
        self.cpu_mode: str | None = options.pop("cpu_mode", None)
        self.events_enabled: bool = bool(options.pop("events", True))
        if not options.pop("nic_hotplug", True) and self.capabilities.get(Capability.NIC_HOTPLUG):
            self.capabilities = make_capabilities(  # type: ignore[misc]
                **{k: v for k, v in self.capabilities.items() if k != Capability.NIC_HOTPLUG})
        if options:
            raise DriverError(f"unknown libvirt driver options: {sorted(options)}")
        self._conn = Connection(url, on_open=self._on_open, events=self.events_enabled)
        self._callback_ids: list[tuple[libvirt.virConnect, int]] = []
        self._cpu_sample: tuple[float, int, int] | None = None
        self._vm_samples: dict[str, tuple[float, int]] = {}  # vm uuid -> (monotonic time, cpu ns) for vm_stats
        self._lock = threading.RLock()  # serialises XML read-modify-write of one host's domains

    # ------------------------------------------------------------------------------------------ connection

    def connect(self) -> None:
        self._conn.get()

    def close(self) -> None:
        for conn, cb_id in self._callback_ids:
            with contextlib.suppress(libvirt.libvirtError):
                conn.domainEventDeregisterAny(cb_id)
        self._callback_ids.clear()
        self._conn.close()

    def _on_open(self, conn: libvirt.virConnect) -> None:
        self._callback_ids = [(c, i) for c, i in self._callback_ids if c is conn]
        if not self.events_enabled:
            return
        cb_life = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              self._lifecycle_cb, None)
        self._callback_ids.append((conn, cb_life))
        with contextlib.suppress(libvirt.libvirtError):
            cb_reboot = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                                                    self._reboot_cb, None)
            self._callback_ids.append((conn, cb_reboot))

    def _call(self, fn: Callable[[libvirt.virConnect], Any]) -> Any:
        try:
            return self._conn.call(fn)
        except libvirt.libvirtError as exc:
            raise DriverError(f"libvirt ({self.uri}): {exc.get_error_message()}") from exc

    @property
    def conn(self) -> libvirt.virConnect:
        return self._conn.get()

    def _create(self, dom: libvirt.virDomain) -> None:
        """Starts a defined domain; a start the kernel interrupted (see _start_interrupted) is tried again."""
        self._call(lambda _c: _retrying(dom.create, _start_interrupted, START_ATTEMPTS,
                                        lambda attempt: START_RETRY_DELAY * attempt,
                                        f"start of {dom.UUIDString()} interrupted"))

    # ---------------------------------------------------------------------------------------------- events

    def _lifecycle_cb(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, event: int, detail: int,
                      _opaque: object) -> None:
        mapped = normalise_lifecycle(event, detail)
        if mapped is None:
            return
        etype, state = mapped
        self._emit(LifecycleEvent(vm_uuid=dom.UUIDString(), type=etype, state=state,
                                  detail=f"libvirt event {event}/{detail}"))

    def _reboot_cb(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, _opaque: object) -> None:
        from management.drivers.base import LifecycleEventType

        self._emit(LifecycleEvent(vm_uuid=dom.UUIDString(), type=LifecycleEventType.REBOOTED,
                                  state=PowerState.RUNNING, detail="libvirt reboot"))

    # ------------------------------------------------------------------------------------------------ host

    def host_info(self) -> HostInfo:
        def q(conn: libvirt.virConnect) -> HostInfo:
            _model, mem_mib, cpus, mhz, _nodes, sockets, _cores, _threads = conn.getInfo()
            arch = _model
            with contextlib.suppress(Exception):
                caps = ET.fromstring(conn.getCapabilities())
                arch = caps.findtext("host/cpu/arch") or arch
            hv_version = conn.getVersion()
            return HostInfo(
                hostname=conn.getHostname(), cpu_sockets=sockets, cpu_cores=cpus, cpu_mhz=mhz,
                memory_bytes=mem_mib * 1024 * 1024,
                hypervisor_type="Xen" if self.virt_type == "xen" else "KVM",
                hypervisor_version=f"{hv_version // 1000000}.{hv_version // 1000 % 1000}.{hv_version % 1000}",
                virt_type=self.virt_type, arch=arch,
                extra={"libvirt_version": str(conn.getLibVersion()), "uri": self.uri,
                       "driver": conn.getType()},
            )
        return self._call(q)

    def host_stats(self) -> HostStats:
        def q(conn: libvirt.virConnect) -> HostStats:
            total = conn.getInfo()[1] * 1024 * 1024
            try:
                free = conn.getFreeMemory()
            except libvirt.libvirtError:
                free = total
            util = 0.0
            with contextlib.suppress(libvirt.libvirtError):
                st = conn.getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS)
                busy = st.get("kernel", 0) + st.get("user", 0)
                idle = st.get("idle", 0) + st.get("iowait", 0)
                prev, self._cpu_sample = self._cpu_sample, (time.monotonic(), busy, idle)
                if prev is not None and (busy + idle) > (prev[1] + prev[2]):
                    util = 100.0 * (busy - prev[1]) / ((busy - prev[1]) + (idle - prev[2]))
            running = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
            vcpus = answered = 0
            for d in running:
                # a domain destroyed between the listing and this call is gone, not a host failure (the ping
                # would otherwise mark the host Disconnected whenever VMs are destroyed while it runs)
                with contextlib.suppress(libvirt.libvirtError):
                    vcpus += d.info()[3]
                    answered += 1
            return HostStats(memory_total_bytes=total, memory_used_bytes=max(total - free, 0),
                             memory_free_bytes=min(free, total), cpu_utilization=round(util, 2),
                             vcpus_allocated=vcpus, domains_running=answered)
        return self._call(q)

    # --------------------------------------------------------------------------------------------- domains

    def _lookup(self, vm_uuid: str) -> libvirt.virDomain | None:
        def q(conn: libvirt.virConnect) -> libvirt.virDomain | None:
            try:
                return conn.lookupByUUIDString(vm_uuid)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG):
                    return None
                raise
        return self._call(q)

    def _require(self, vm_uuid: str) -> libvirt.virDomain:
        dom = self._lookup(vm_uuid)
        if dom is None:
            raise DomainNotFound(vm_uuid)
        return dom

    @staticmethod
    def _state(dom: libvirt.virDomain) -> PowerState:
        try:
            return power_state(dom.state(0)[0])
        except libvirt.libvirtError as exc:
            if _not_found(exc):
                return PowerState.STOPPED
            raise

    def _info(self, dom: libvirt.virDomain) -> DomainInfo:
        try:
            cfg = DomainConfig.from_xml(dom.XMLDesc(0))
            state = self._state(dom)
        except libvirt.libvirtError as exc:
            raise DriverError(f"libvirt ({self.uri}): {exc.get_error_message()}") from exc
        vols = [self._disk_volume_id(d) for d in cfg.disks if d.device == "disk"]
        extra = {"owned": "true" if cfg.devcloud is not None else "false", "virt_type": cfg.virt_type}
        vnc = next((g for g in cfg.graphics if g.type == "vnc" and g.port and g.port > 0), None)
        if vnc is not None:
            extra["vnc"] = f"{vnc.listen}:{vnc.port}"
        taps = [f"{i.mac.lower()}={i.target_dev}" for i in cfg.interfaces if i.mac and i.target_dev]
        if taps:  # host device of each NIC (live domains): "mac=vnet0,mac=vnet1" for security groups
            extra["taps"] = ",".join(taps)
        return DomainInfo(uuid=dom.UUIDString(), name=cfg.name, state=state, vcpus=cfg.vcpus,
                          memory_mib=cfg.memory_kib // 1024, volumes=tuple(v for v in vols if v),
                          macs=tuple(i.mac for i in cfg.interfaces if i.mac), extra=extra)

    @staticmethod
    def _disk_volume_id(disk: DiskConfig) -> str:
        if disk.source_type == "volume":
            return disk.source_volume or ""
        return os.path.basename(disk.source_path or "")

    def list_domains(self) -> list[DomainInfo]:
        result = []
        for dom in self._call(lambda c: c.listAllDomains(0)):
            try:
                result.append(self._info(dom))
            except DriverError:
                continue  # undefined between list and lookup
        return result

    def get_domain(self, vm_uuid: str) -> DomainInfo | None:
        dom = self._lookup(vm_uuid)
        if dom is None:
            return None
        try:
            return self._info(dom)
        except DriverError:
            if self._lookup(vm_uuid) is None:
                return None
            raise

    def domain_stats(self, vm_uuid: str) -> DomainStats | None:
        """libvirt's own counters: virDomainGetInfo (vCPUs, CPU time, memory), interface and block statistics
        per device, and the balloon's memory statistics where the guest has a balloon driver."""
        self.require(Capability.DOMAIN_STATS)
        dom = self._lookup(vm_uuid)
        if dom is None:
            return None
        try:
            if self._state(dom) is not PowerState.RUNNING:
                return None
            _state, _max_kib, mem_kib, vcpus, cpu_ns = dom.info()
            cfg = DomainConfig.from_xml(dom.XMLDesc(0))
        except libvirt.libvirtError as exc:
            if _not_found(exc):
                return None
            raise DriverError(f"libvirt ({self.uri}): {exc.get_error_message()}") from exc
        rx = tx = 0
        for nic in cfg.interfaces:
            if nic.target_dev:
                with contextlib.suppress(libvirt.libvirtError):
                    counters = dom.interfaceStats(nic.target_dev)
                    rx, tx = rx + counters[0], tx + counters[4]
        disks: dict[str, DiskStats] = {}
        for disk in cfg.disks:
            if disk.device == "disk":
                with contextlib.suppress(libvirt.libvirtError):
                    rd_req, rd_bytes, wr_req, wr_bytes, _errs = dom.blockStats(disk.target_dev)
                    disks[self._disk_volume_id(disk) or disk.target_dev] = DiskStats(rd_bytes, wr_bytes, rd_req,
                                                                                      wr_req)
        unused = target = None
        with contextlib.suppress(libvirt.libvirtError):
            mem = dom.memoryStats()
            unused, target = mem.get("unused"), mem.get("actual")
        return DomainStats(vcpus=vcpus, cpu_time_ns=cpu_ns, memory_kib=mem_kib, memory_unused_kib=unused,
                           memory_target_kib=target, net_rx_bytes=rx, net_tx_bytes=tx, disks=disks)

    def ex_is_owned(self, vm_uuid: str) -> bool:
        """True if devcloud defined this domain (carries our metadata)."""
        return DomainConfig.from_xml(self._require(vm_uuid).XMLDesc(0)).devcloud is not None

    # ------------------------------------------------------------------------------------------------ spawn

    def _pv_boot(self) -> tuple[str | None, str | None]:
        """(kernel, initrd) paths on the Xen host: the options, else the ``devcloud-pvboot`` pool's volumes."""
        if self.pv_kernel:
            return self.pv_kernel, self.pv_initrd
        def q(conn: libvirt.virConnect) -> tuple[str | None, str | None]:
            try:
                pool = conn.storagePoolLookupByName(PV_BOOT_POOL)
                if not pool.isActive():
                    pool.create(0)
                storage.refresh(pool)
                kernel = pool.storageVolLookupByName(PV_KERNEL_VOLUME).path()
            except libvirt.libvirtError:
                return None, None
            try:
                initrd = pool.storageVolLookupByName(PV_INITRD_VOLUME).path()
            except libvirt.libvirtError:
                initrd = None
            return kernel, initrd
        return self._call(q)

    def _build_xen_pv(self, spec: DomainSpec, disks: list[DiskConfig], meta: DevcloudMetadata) -> DomainConfig:
        """Xen PV guest (libxl): direct kernel boot (or a boot loader), xen disks/vifs, the PV console."""
        kernel, initrd = self._pv_boot()
        # os type "xen" as libvirt's capabilities name PV guests ("linux" is the legacy alias)
        os_cfg = OsConfig(type="xen", arch="x86_64", machine="xenpv", boot=[], kernel=kernel, initrd=initrd,
                          cmdline=self.pv_cmdline if kernel else None)
        ifaces = [InterfaceConfig(type="bridge" if n.bridge else "network", source=n.bridge or n.network or "default",
                                  mac=n.mac, model="")
                  for n in sorted(spec.nics, key=lambda n: n.device_id)]
        for d in disks:
            if d.device == "disk":
                d.target_bus = "xen"
        return DomainConfig(
            virt_type="xen", name=spec.name, uuid=spec.uuid, memory_kib=spec.memory_mib * 1024,
            vcpus=spec.vcpus, os=os_cfg, features=[], cpu=None, clock=None, disks=disks, interfaces=ifaces,
            serials=[SerialConfig(type="pty", tag="console", target_type="xen")], devcloud=meta,
            bootloader=None if kernel else self.pv_bootloader,
        )

    def _build_domain(self, spec: DomainSpec, disks: list[DiskConfig],
                      meta: DevcloudMetadata) -> DomainConfig:
        if self.virt_type == "xen":
            return self._build_xen_pv(spec, disks, meta)
        ifaces = [self._iface_config(n) for n in sorted(spec.nics, key=lambda n: n.device_id)]
        serials: list[SerialConfig] = []
        graphics: list[GraphicsConfig] = []
        if not self.is_test:
            log_path = os.path.join(self.console_log_dir, f"{spec.name}.log")
            serials = [SerialConfig(type="file", path=log_path, append=True)]
            graphics = [GraphicsConfig(listen="127.0.0.1", autoport=True)]
        cpu = CpuConfig(mode=self.cpu_mode) if self.cpu_mode else None
        root = next((d for d in spec.disks if d.device_id == 0), None)
        boot = ["hd"]
        if spec.cdrom is not None and root is not None and root.template is None:
            # deploy from an ISO: a blank root disk boots the ISO's drive first, then the disk (installers); per
            # device, since <boot dev='cdrom'/> would try the config drive (the first CD-ROM) only
            boot = []
            for d in disks:
                if d.target_dev == ISO_DEV:
                    d.boot_order = 1
                elif d is disks[0]:  # the root disk (disks are in device id order)
                    d.boot_order = 2
        return DomainConfig(
            virt_type=self.virt_type, name=spec.name, uuid=spec.uuid, memory_kib=spec.memory_mib * 1024,
            vcpus=spec.vcpus, os=OsConfig(arch="x86_64" if not self.is_test else "i686", machine=self.machine,
                                          boot=boot),
            cpu=cpu, disks=disks, interfaces=ifaces, serials=serials, graphics=graphics,
            controllers=[] if self.is_test else [ControllerConfig(type="scsi", model="virtio-scsi")],
            devcloud=meta,
        )

    @staticmethod
    def _iface_config(nic: NicSpec) -> InterfaceConfig:
        tap = tap_name(nic.mac)
        if nic.bridge:
            return InterfaceConfig(type="bridge", source=nic.bridge, mac=nic.mac, model=nic.model, target_dev=tap,
                                   mtu=overlay.GUEST_MTU if nic.overlay else None)
        return InterfaceConfig(type="network", source=nic.network or "default", mac=nic.mac, model=nic.model,
                               target_dev=tap)

    def spawn(self, spec: DomainSpec) -> DomainInfo:
        if self._lookup(spec.uuid) is not None:
            raise DomainExists(spec.uuid)
        meta = DevcloudMetadata(vm_uuid=spec.uuid, display_name=spec.name, overlays=_overlays(spec.nics))
        dom: libvirt.virDomain | None = None
        try:
            disks = self._prepare_disks(spec, meta)
            cdrom = self._prepare_config_drive(spec, meta)
            if cdrom is not None:
                disks.append(cdrom)
            if self.supports(Capability.CDROM):
                disks.append(self._iso_drive(spec.cdrom))
            # Xen PV: a pty console in dom0, no local log; a remote host's log is on that host (it makes the dir)
            if not self.is_test and self.virt_type != "xen" and self._is_local():
                os.makedirs(self.console_log_dir, exist_ok=True)
                log_path = os.path.join(self.console_log_dir, f"{spec.name}.log")
                meta.created_files.append(log_path)
                # the log is appended to across restarts (reboots keep their history); a new domain starts empty
                with open(log_path, "w"):
                    pass
            cfg = self._build_domain(spec, disks, meta)
            dom = self._call(lambda c: c.defineXML(cfg.to_xml()))
            if spec.start:
                self._create(dom)
            return self._info(dom)
        except BaseException as exc:
            self._rollback_spawn(spec.uuid, dom, meta)
            if isinstance(exc, DriverError):
                raise
            if isinstance(exc, libvirt.libvirtError):
                raise DriverError(f"spawn of {spec.uuid} failed: {exc.get_error_message()}") from exc
            raise

    def _rollback_spawn(self, vm_uuid: str, dom: libvirt.virDomain | None, meta: DevcloudMetadata) -> None:
        if dom is not None:
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isActive():
                    dom.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                self._undefine(dom)
        self._delete_created(meta)
        log.info("spawn of %s rolled back", vm_uuid)

    def _delete_created(self, meta: DevcloudMetadata) -> None:
        for pool_name, vol_name in meta.created_volumes:
            try:
                self._delete_volume_quiet(pool_name, vol_name)
            except Exception:
                log.exception("could not delete volume %s/%s", pool_name, vol_name)
        for path in meta.created_files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _prepare_disks(self, spec: DomainSpec, meta: DevcloudMetadata) -> list[DiskConfig]:
        disks: list[DiskConfig] = []
        used: dict[str, set[int]] = {}
        for d in sorted(spec.disks, key=lambda d: d.device_id):
            if d.create:
                info = self.create_volume(d.pool, d.volume_uuid, d.size_bytes, template=d.template,
                                          format=d.format)
                meta.created_volumes.append((d.pool, d.volume_uuid))
            else:
                found = self.get_volume(d.pool, d.volume_uuid)
                if found is None:
                    raise VolumeNotFound(d.pool, d.volume_uuid)
                info = found
                owner = self._volume_owner(info.path)
                if owner is not None:
                    raise VolumeInUse(d.volume_uuid, owner)
            bus = d.bus
            if self.virt_type == "xen":
                bus = "xen"
            elif d.device_id > 0 and bus == "virtio" and not self.is_test:
                bus = self.data_disk_bus
            prefix = _BUS_PREFIX.get(bus, "vd")
            idx = 0
            while idx in used.setdefault(prefix, set()):
                idx += 1
            used[prefix].add(idx)
            disks.append(DiskConfig(target_dev=_dev_name(bus, idx), target_bus=bus, source_path=info.path,
                                    driver_type=info.format if info.format in ("qcow2", "raw") else "raw"))
        return disks

    def _prepare_config_drive(self, spec: DomainSpec, meta: DevcloudMetadata) -> DiskConfig | None:
        if not (spec.user_data or spec.metadata) or not self.supports(Capability.CONFIG_DRIVE):
            return None
        root = next((d for d in spec.disks if d.device_id == 0), spec.disks[0] if spec.disks else None)
        if root is None:
            return None
        tmpdir = tempfile.mkdtemp(prefix="devcloud-cfgdrive-", dir=self.config_drive_dir)
        try:
            iso = os.path.join(tmpdir, "config.iso")
            build_config_drive(iso, spec)
            vol_name = f"cfg-{spec.uuid}.iso"
            conn = self.conn
            pool = self._pool(root.pool)
            meta.created_volumes.append((root.pool, vol_name))

            def replace(_c: libvirt.virConnect) -> libvirt.virStorageVol:
                # A start that died half way (its server killed) may have left the drive: it is rebuilt from
                # the spec each start, so the old one goes and the start is repeatable.
                old = storage.lookup_volume(pool, vol_name)
                if old is not None:
                    old.delete(0)
                return storage.upload_file(conn, pool, vol_name, iso)

            vol = self._call(replace)
            return DiskConfig(target_dev="hdc", target_bus="ide", device="cdrom", driver_type="raw",
                              source_path=vol.path(), readonly=True)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    # ---------------------------------------------------------------------------------------------- power

    def start(self, vm_uuid: str) -> DomainInfo:
        dom = self._require(vm_uuid)
        state = self._state(dom)
        if state == PowerState.PAUSED:
            self._call(lambda _c: dom.resume())
        elif state != PowerState.RUNNING:
            self._create(dom)
        return self._info(dom)

    def _wait_state(self, dom: libvirt.virDomain, want: PowerState, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._state(dom) == want:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def stop(self, vm_uuid: str, force: bool = False) -> DomainInfo:
        dom = self._require(vm_uuid)
        if self._state(dom) in (PowerState.STOPPED,):
            return self._info(dom)
        if not force:
            with contextlib.suppress(libvirt.libvirtError):
                dom.shutdown()
            if self._wait_state(dom, PowerState.STOPPED, self.shutdown_timeout):
                return self._info(dom)
            if not self.stop_fallback:
                raise DriverTimeout(f"graceful stop of {vm_uuid}", self.shutdown_timeout)
            log.info("%s ignored ACPI shutdown for %.0fs; powering off", vm_uuid, self.shutdown_timeout)
        try:
            dom.destroy()
        except libvirt.libvirtError as exc:
            if self._state(dom) != PowerState.STOPPED:
                raise DriverError(f"power off of {vm_uuid} failed: {exc.get_error_message()}") from exc
        return self._info(dom)

    def reboot(self, vm_uuid: str) -> DomainInfo:
        dom = self._require(vm_uuid)
        state = self._state(dom)
        if state != PowerState.RUNNING:
            raise InvalidDomainState(vm_uuid, state.value, "reboot")
        try:
            if self.reboot_mode == "reset":
                dom.reset(0)
            else:
                dom.reboot(0)
        except libvirt.libvirtError:
            try:
                dom.reset(0)  # the test driver and some guests have only one of the two
            except libvirt.libvirtError as exc:
                raise DriverError(f"reboot of {vm_uuid} failed: {exc.get_error_message()}") from exc
        return self._info(dom)

    def _undefine(self, dom: libvirt.virDomain) -> None:
        flags = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                 | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        try:
            dom.undefineFlags(flags)
        except libvirt.libvirtError as exc:
            if _not_found(exc):
                return
            dom.undefine()  # a driver refusing some flags (test:///, older libxl): plain undefine

    def destroy(self, vm_uuid: str) -> None:
        dom = self._lookup(vm_uuid)
        if dom is None:
            return
        try:
            cfg = DomainConfig.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        except libvirt.libvirtError as exc:
            if _not_found(exc):
                return
            raise DriverError(f"libvirt ({self.uri}): {exc.get_error_message()}") from exc
        if cfg.devcloud is None:
            raise DriverError(f"domain {vm_uuid} was not defined by devcloud; refusing to destroy it")
        try:
            if dom.isActive():
                dom.destroy()
            self._undefine(dom)
        except libvirt.libvirtError as exc:
            if not _not_found(exc):
                raise DriverError(f"destroy of {vm_uuid} failed: {exc.get_error_message()}") from exc
        self._delete_created(cfg.devcloud)

    # ------------------------------------------------------------------------------------ device editing

    def _running(self, dom: libvirt.virDomain) -> bool:
        return self._state(dom) in (PowerState.RUNNING, PowerState.PAUSED)

    def _redefine(self, dom: libvirt.virDomain, edit: Callable[[ET.Element], None]) -> None:
        """Read-modify-write of the persistent XML, keeping every element we do not model."""
        with self._lock:
            root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE))
            edit(root)
            self._call(lambda c: c.defineXML(ET.tostring(root, encoding="unicode")))

    def _wait_device_gone(self, dom: libvirt.virDomain, present: Callable[[DomainConfig], bool],
                          what: str) -> None:
        deadline = time.monotonic() + self.hotplug_timeout
        while present(DomainConfig.from_xml(dom.XMLDesc(0))):
            if time.monotonic() >= deadline:
                raise DriverTimeout(f"live removal of {what}", self.hotplug_timeout)
            time.sleep(0.1)

    def _volume_owner(self, path: str) -> str | None:
        for dom in self._call(lambda c: c.listAllDomains(0)):
            with contextlib.suppress(libvirt.libvirtError):
                cfg = DomainConfig.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
                if any(d.source_path == path for d in cfg.disks):
                    return dom.UUIDString()
                if dom.isActive():
                    live = DomainConfig.from_xml(dom.XMLDesc(0))
                    if any(d.source_path == path for d in live.disks):
                        return dom.UUIDString()
        return None

    def attach_volume(self, vm_uuid: str, pool: str, volume_uuid: str, device_id: int | None = None
                      ) -> DomainInfo:
        dom = self._require(vm_uuid)
        info = self.get_volume(pool, volume_uuid)
        if info is None:
            raise VolumeNotFound(pool, volume_uuid)
        owner = self._volume_owner(info.path)
        if owner == vm_uuid:
            return self._info(dom)
        if owner is not None:
            raise VolumeInUse(volume_uuid, owner)
        running = self._running(dom)
        if running:
            self.require(Capability.VOLUME_HOTPLUG)
        bus = "virtio" if self.is_test else self.data_disk_bus
        cfg = DomainConfig.from_xml(dom.XMLDesc(0 if running else libvirt.VIR_DOMAIN_XML_INACTIVE))
        taken = {d.target_dev for d in cfg.disks}
        start = max(device_id, 1) if device_id is not None and bus == "virtio" else 0
        dev = next(_dev_name(bus, i) for i in range(start, 26) if _dev_name(bus, i) not in taken)
        disk = DiskConfig(target_dev=dev, target_bus=bus, source_path=info.path,
                          driver_type=info.format if info.format in ("qcow2", "raw") else "raw")
        try:
            if running:
                dom.attachDeviceFlags(disk.to_xml(pretty=False), _LIVE_CONFIG)
            else:
                self._redefine(dom, lambda root: _devices(root).append(disk.to_element()))
        except libvirt.libvirtError as exc:
            raise DriverError(f"attach of {volume_uuid} to {vm_uuid} failed: {exc.get_error_message()}"
                              ) from exc
        return self._info(dom)

    def detach_volume(self, vm_uuid: str, volume_uuid: str) -> DomainInfo:
        dom = self._require(vm_uuid)

        def match(el: ET.Element) -> bool:
            return el.tag == "disk" and self._disk_volume_id(DiskConfig.from_element(el)) == volume_uuid

        self._remove_device(dom, match, f"volume {volume_uuid}", Capability.VOLUME_HOTPLUG)
        return self._info(dom)

    @staticmethod
    def _live_has(dom: libvirt.virDomain, match: Callable[[ET.Element], bool]) -> bool:
        devices = ET.fromstring(dom.XMLDesc(0)).find("devices")
        return devices is not None and any(match(e) for e in devices)

    def _remove_device(self, dom: libvirt.virDomain, match: Callable[[ET.Element], bool], what: str,
                       capability: str) -> None:
        running = self._running(dom)
        try:
            if running:
                live = ET.fromstring(dom.XMLDesc(0)).find("devices")
                el = next((e for e in live if match(e)), None) if live is not None else None
                if el is not None:
                    self.require(capability)
                    dom.detachDeviceFlags(ET.tostring(el, encoding="unicode"), _LIVE_CONFIG)
                    self._wait_device_gone(dom, lambda _cfg: self._live_has(dom, match), what)
            # persistent config (also covers "live removed, config still had it" and stopped domains)
            def drop(root: ET.Element) -> None:
                devices = _devices(root)
                for e in [e for e in devices if match(e)]:
                    devices.remove(e)

            inactive = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).find("devices")
            if inactive is not None and any(match(e) for e in inactive):
                self._redefine(dom, drop)
        except libvirt.libvirtError as exc:
            raise DriverError(f"removing {what} from {dom.UUIDString()} failed: {exc.get_error_message()}"
                              ) from exc

    # ---------------------------------------------------------------------------------------------- NICs

    def plug_nic(self, vm_uuid: str, nic: NicSpec) -> DomainInfo:
        dom = self._require(vm_uuid)
        running = self._running(dom)
        cfg = DomainConfig.from_xml(dom.XMLDesc(0))
        if any((i.mac or "").lower() == nic.mac.lower() for i in cfg.interfaces):
            return self._info(dom)
        iface = self._iface_config(nic)
        try:
            if running:
                self.require(Capability.NIC_HOTPLUG)
                dom.attachDeviceFlags(iface.to_xml(pretty=False), _LIVE_CONFIG)
            else:
                self._redefine(dom, lambda root: _devices(root).append(iface.to_element()))
        except libvirt.libvirtError as exc:
            raise DriverError(f"plugging {nic.mac} into {vm_uuid} failed: {exc.get_error_message()}") from exc
        return self._info(dom)

    def unplug_nic(self, vm_uuid: str, mac: str) -> DomainInfo:
        dom = self._require(vm_uuid)

        def match(el: ET.Element) -> bool:
            m = el.find("mac")
            return el.tag == "interface" and m is not None and m.get("address", "").lower() == mac.lower()

        self._remove_device(dom, match, f"NIC {mac}", Capability.NIC_HOTPLUG)
        return self._info(dom)

    # ------------------------------------------------------------------------------------------- statistics

    def vm_stats(self, vm_uuid: str) -> VmStats:
        """CPU: the domain's CPU time between this sample and the previous one over its vCPUs' wall time (the
        first sample of a domain reads 0); memory: the balloon driver's view when the guest reports it, else the
        resident share of the domain's memory."""
        self.require(Capability.VM_STATS)
        dom = self._require(vm_uuid)
        state = self._state(dom)
        if state != PowerState.RUNNING:
            raise InvalidDomainState(vm_uuid, state.value, "read the statistics of")
        try:
            _, max_kib, _, vcpus, cpu_ns = dom.info()
            mem = dom.memoryStats()
        except libvirt.libvirtError as exc:
            raise DriverError(f"libvirt ({self.uri}): {exc.get_error_message()}") from exc
        now = time.monotonic()
        with self._lock:
            prev = self._vm_samples.get(vm_uuid)
            self._vm_samples[vm_uuid] = (now, cpu_ns)
        cpu = 0.0
        if prev is not None and now > prev[0]:
            cpu = 100.0 * (cpu_ns - prev[1]) / ((now - prev[0]) * 1e9 * max(vcpus, 1))
        total = mem.get("available") or mem.get("actual") or max_kib
        used = total - mem["unused"] if "unused" in mem and mem.get("available") else mem.get("rss", 0)
        return VmStats(cpu_percent=round(min(max(cpu, 0.0), 100.0), 2),
                       memory_percent=round(min(100.0 * used / total, 100.0), 2) if total else 0.0)

    # -------------------------------------------------------------------------------------------- CD-ROM

    def _iso_drive(self, media: tuple[str, str] | None) -> DiskConfig:
        path = None
        if media is not None:
            vol = storage.require_volume(self._pool(media[0]), media[1])
            path = vol.path()
        return DiskConfig(target_dev=ISO_DEV, target_bus="ide", device="cdrom", driver_type="raw", source_path=path,
                          readonly=True)

    def _media(self, vm_uuid: str, media: tuple[str, str] | None) -> DomainInfo:
        self.require(Capability.CDROM)
        dom = self._require(vm_uuid)
        drive = self._iso_drive(media)
        running = self._running(dom)
        has_slot = any(d.target_dev == ISO_DEV for d in DomainConfig.from_xml(dom.XMLDesc(0)).disks)
        try:
            if running and has_slot:
                # a media change: the guest sees the tray close on the new disc (or open, empty)
                self._change_media(dom, drive.to_xml(pretty=False))
            elif running:
                raise DriverError(f"domain {vm_uuid} has no CD-ROM drive; stop it to add one")
            else:
                def put(root: ET.Element) -> None:
                    devices = _devices(root)
                    for e in _iso_drives(devices):
                        devices.remove(e)
                    devices.append(drive.to_element())

                self._redefine(dom, put)
        except libvirt.libvirtError as exc:
            raise DriverError(f"changing the CD-ROM of {vm_uuid} failed: {exc.get_error_message()}") from exc
        return self._info(dom)

    def _change_media(self, dom: libvirt.virDomain, xml: str) -> None:
        # libvirt opens the tray, swaps the medium and closes it; a guest that opens the drive meanwhile (Linux
        # closes the tray on open(), as a boot-time scan for a config drive does) makes the remove or the insert
        # fail (`_TRAY_CLOSED`), the old medium possibly already out. The whole change is asked for again: libvirt
        # starts its open/remove/insert/close sequence over.
        _retrying(lambda: dom.updateDeviceFlags(xml, _LIVE_CONFIG), _tray_raced, MEDIA_CHANGE_TRIES,
                  lambda _attempt: MEDIA_CHANGE_RETRY_S, f"CD-ROM change on {dom.name()} raced the guest's tray",
                  lambda exc: self._mend_tray(dom, exc))

    def _mend_tray(self, dom: libvirt.virDomain, exc: libvirt.libvirtError) -> None:
        # libvirt skips its "open the tray" step when it believes the tray open, and it keeps that belief from
        # QEMU's last tray event. Seen here under load: libvirt's live XML said tray='open' while QEMU's
        # query-block said tray_open=false, and every later change failed at the removal, 20 of 20. Opening the
        # tray in QEMU makes the two agree again (QEMU reports the move, libvirt records it); the next try swaps
        # the medium and closes the tray as usual.
        if _REMOVE_REFUSED not in (exc.get_error_message() or ""):
            return
        drive = next(iter(_iso_drives(_devices(ET.fromstring(dom.XMLDesc(0))))), None)
        if drive is None or _attr_of(drive, "target", "tray") != "open":
            return
        qom = _attr_of(drive, "alias", "name")
        if not qom:
            return
        log.warning("libvirt holds the tray of %s on %s open, QEMU had it closed: opening it in QEMU", qom, dom.name())
        try:
            self._qmp(dom, {"execute": "blockdev-open-tray", "arguments": {"id": qom, "force": True}})
        except libvirt.libvirtError as err:
            log.warning("could not reopen the tray of %s on %s: %s", qom, dom.name(), err.get_error_message())

    @staticmethod
    def _qmp(dom: libvirt.virDomain, command: dict[str, Any]) -> str:
        # libvirt marks the domain "tainted: custom-monitor" for this; it is used only to mend the tray state above
        import libvirt_qemu

        return str(libvirt_qemu.qemuMonitorCommand(dom, json.dumps(command), 0))

    def insert_cdrom(self, vm_uuid: str, pool: str, volume_uuid: str) -> DomainInfo:
        return self._media(vm_uuid, (pool, volume_uuid))

    def eject_cdrom(self, vm_uuid: str) -> DomainInfo:
        if self.cdrom_of(vm_uuid) is None:
            return self._info(self._require(vm_uuid))
        return self._media(vm_uuid, None)

    def cdrom_of(self, vm_uuid: str) -> str | None:
        self.require(Capability.CDROM)
        dom = self._require(vm_uuid)
        flags = 0 if self._running(dom) else libvirt.VIR_DOMAIN_XML_INACTIVE
        for d in DomainConfig.from_xml(dom.XMLDesc(flags)).disks:
            if d.target_dev == ISO_DEV and d.source_path:
                return os.path.basename(d.source_path)
        return None

    # ------------------------------------------------------------------------------------------- console

    def console_address(self, vm_uuid: str) -> ConsoleAddress:
        self.require(Capability.CONSOLE)
        dom = self._require(vm_uuid)
        state = self._state(dom)
        if state != PowerState.RUNNING:
            raise InvalidDomainState(vm_uuid, state.value, "open a console of")
        cfg = DomainConfig.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE))
        for g in cfg.graphics:
            if g.port and g.port > 0:
                host = g.listen if g.listen not in ("0.0.0.0", "::") else "127.0.0.1"
                remote = urlsplit(self.uri).hostname
                if remote and host in ("127.0.0.1", "localhost"):
                    host = remote  # the proxy must tunnel; report where the listener is
                return ConsoleAddress(protocol=g.type, host=host, port=g.port, password=g.passwd)
        raise DriverError(f"domain {vm_uuid} has no graphics console")

    # ------------------------------------------------------------------------------------------- storage

    def _pool(self, name: str) -> libvirt.virStoragePool:
        try:
            return self._conn.call(lambda c: storage.lookup_pool(c, name))
        except libvirt.libvirtError as exc:
            raise DriverError(f"pool {name}: {exc.get_error_message()}") from exc

    def ensure_pool(self, spec: PoolSpec) -> PoolInfo:
        try:
            pool = self._pool(spec.name)
        except PoolNotFound:
            if spec.kind not in ("dir", "nfs", "local", "filesystem"):
                raise DriverError(f"pool kind {spec.kind!r} is not supported by the libvirt driver") from None
            if spec.kind == "nfs" and spec.host:
                # libvirt mounts the export itself, at /mnt/<pool> as CloudStack's KVM agent does
                return self.ex_define_netfs_pool(spec.name, spec.host, spec.path,
                                                  f"{NFS_MOUNT_ROOT}/{spec.name}")
            # a directory, or an NFS share the host already mounts at spec.path
            cfg = PoolConfig(type="dir", name=spec.name, target_path=spec.path)
            try:
                pool = self._conn.call(lambda c: storage.define_pool(c, cfg))
            except libvirt.libvirtError as exc:
                raise DriverError(f"defining pool {spec.name} failed: {exc.get_error_message()}") from exc
        return storage.pool_info(pool)

    def ex_define_netfs_pool(self, name: str, host: str, export: str, mount_path: str) -> PoolInfo:
        """An NFS primary pool that libvirt mounts itself (``<pool type='netfs'>``). A host whose kernel cannot
        mount NFS gets no half-made pool: the definition is removed again and the error names the mount."""
        cfg = PoolConfig(type="netfs", name=name, target_path=mount_path, source_host=host,
                         source_dir=export, source_format="nfs")
        try:
            pool = self._conn.call(lambda c: storage.define_pool(c, cfg))
        except libvirt.libvirtError as exc:
            with contextlib.suppress(libvirt.libvirtError):  # the empty mount point libvirt made
                self._conn.call(lambda c: c.storagePoolLookupByName(name)).delete(0)
            self.ex_delete_pool(name)
            raise DriverError(f"mounting NFS export {host}:{export} for pool {name} at {mount_path} failed: "
                              f"{exc.get_error_message()}") from exc
        return storage.pool_info(pool)

    def ex_delete_pool(self, name: str) -> None:
        """Stop and undefine a pool (its directory and files stay). No-op if unknown."""
        try:
            pool = self._conn.call(lambda c: c.storagePoolLookupByName(name))
        except libvirt.libvirtError:
            return
        with contextlib.suppress(libvirt.libvirtError):
            pool.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            pool.undefine()

    def get_volume(self, pool: str, volume_uuid: str) -> VolumeInfo | None:
        p = self._pool(pool)
        vol = storage.lookup_volume(p, volume_uuid)
        return storage.volume_info(p, vol) if vol is not None else None

    def create_volume(self, pool: str, volume_uuid: str, size_bytes: int, *, template: str | None = None,
                      format: str = "qcow2") -> VolumeInfo:
        p = self._pool(pool)
        if storage.lookup_volume(p, volume_uuid) is not None:
            raise DriverError(f"volume {volume_uuid} already exists in pool {pool!r}")
        try:
            if template is not None:
                tvol = storage.lookup_volume(p, template)
                if tvol is None:
                    raise TemplateNotFound(template)
                vol = storage.create_linked_clone(p, volume_uuid, tvol, size_bytes)
            else:
                if size_bytes <= 0:
                    raise DriverError("a blank volume needs size_bytes > 0")
                vol = storage.create_blank(p, volume_uuid, size_bytes, format)
        except libvirt.libvirtError as exc:
            raise DriverError(f"creating volume {volume_uuid} in {pool!r} failed: {exc.get_error_message()}"
                              ) from exc
        return storage.volume_info(p, vol)

    def _delete_volume_quiet(self, pool: str, name: str) -> None:
        try:
            p = self._pool(pool)
        except PoolNotFound:
            return
        vol = storage.lookup_volume(p, name)
        if vol is not None:
            try:
                vol.delete(0)
            except libvirt.libvirtError as exc:
                if not _not_found(exc):
                    raise DriverError(f"deleting {name} from {pool!r} failed: {exc.get_error_message()}"
                                      ) from exc

    def delete_volume(self, pool: str, volume_uuid: str) -> None:
        try:
            p = self._pool(pool)
        except PoolNotFound:
            return
        vol = storage.lookup_volume(p, volume_uuid)
        if vol is None:
            return
        owner = self._volume_owner(vol.path())
        if owner is not None:
            raise VolumeInUse(volume_uuid, owner)
        for name in self._snapshot_names(p, volume_uuid):
            self._delete_volume_quiet(pool, name)
        self._delete_volume_quiet(pool, volume_uuid)

    def _snapshot_names(self, p: libvirt.virStoragePool, volume_uuid: str) -> list[str]:
        prefix = storage.snapshot_volume_name(volume_uuid, "")
        return [n for n in p.listVolumes() if n.startswith(prefix)]

    def resize_volume(self, pool: str, volume_uuid: str, new_size_bytes: int) -> VolumeInfo:
        self.require(Capability.VOLUME_RESIZE)
        p = self._pool(pool)
        vol = storage.require_volume(p, volume_uuid)
        current = vol.info()[1]
        if new_size_bytes < current:
            raise DriverError(f"shrinking volume {volume_uuid} from {current} to {new_size_bytes} is refused")
        if new_size_bytes == current:
            return storage.volume_info(p, vol)
        try:
            owner = self._volume_owner(vol.path())
            dom = self._lookup(owner) if owner else None
            if dom is not None and dom.isActive():
                # QEMU holds the image open: resize through the running domain (block_resize)
                live = DomainConfig.from_xml(dom.XMLDesc(0))
                dev = next(d.target_dev for d in live.disks if d.source_path == vol.path())
                dom.blockResize(dev, new_size_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
                storage.refresh(p)
                vol = storage.require_volume(p, volume_uuid)
            else:
                vol.resize(new_size_bytes, 0)
        except libvirt.libvirtError as exc:
            raise DriverError(f"resizing {volume_uuid} failed: {exc.get_error_message()}") from exc
        return storage.volume_info(p, vol)

    # ----------------------------------------------------------------------------------------- snapshots

    def snapshot_volume(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> SnapshotInfo:
        self.require(Capability.VOLUME_SNAPSHOT)
        p = self._pool(pool)
        vol = storage.require_volume(p, volume_uuid)
        name = storage.snapshot_volume_name(volume_uuid, snapshot_uuid)
        existing = storage.lookup_volume(p, name)
        if existing is None:
            owner = self._volume_owner(vol.path())
            dom = self._lookup(owner) if owner else None
            try:
                if dom is not None and dom.isActive() and not self.is_test:
                    self._live_backup(dom, p, vol, name)
                else:
                    storage.full_copy(p, name, vol)
            except libvirt.libvirtError as exc:
                self._delete_volume_quiet(pool, name)
                raise DriverError(f"snapshot of {volume_uuid} failed: {exc.get_error_message()}") from exc
            existing = storage.require_volume(p, name)
        return SnapshotInfo(uuid=snapshot_uuid, volume_uuid=volume_uuid, pool=pool,
                            size_bytes=existing.info()[1], created_at=time.time())

    def _live_backup(self, dom: libvirt.virDomain, p: libvirt.virStoragePool, vol: libvirt.virStorageVol,
                     name: str) -> None:
        """Point-in-time copy of a disk of a running domain: libvirt push-mode backup into the pool dir."""
        live = DomainConfig.from_xml(dom.XMLDesc(0))
        target = os.path.join(os.path.dirname(vol.path()), name)
        root = ET.Element("domainbackup", mode="push")
        disks = ET.SubElement(root, "disks")
        for d in live.disks:
            if d.source_path == vol.path():
                de = ET.SubElement(disks, "disk", name=d.target_dev, backup="yes", type="file")
                ET.SubElement(de, "target", file=target)
                ET.SubElement(de, "driver", type="qcow2")
            elif d.target_dev:
                ET.SubElement(disks, "disk", name=d.target_dev, backup="no")
        dom.backupBegin(ET.tostring(root, encoding="unicode"), None, 0)
        deadline = time.monotonic() + 600
        while True:
            stats = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
            if stats.get("type") == libvirt.VIR_DOMAIN_JOB_COMPLETED:
                break
            if stats.get("type") in (libvirt.VIR_DOMAIN_JOB_FAILED, libvirt.VIR_DOMAIN_JOB_CANCELLED):
                raise DriverError(f"live backup of {vol.name()} failed: {stats.get('errmsg', '')}")
            if time.monotonic() >= deadline:
                with contextlib.suppress(libvirt.libvirtError):
                    dom.abortJob()
                raise DriverTimeout("live volume backup", 600)
            active = dom.jobInfo()[0]
            if active == libvirt.VIR_DOMAIN_JOB_NONE and not stats:
                break
            time.sleep(0.05)
        storage.refresh(p)
        if storage.lookup_volume(p, name) is None:
            raise DriverError(f"live backup of {vol.name()} produced no file")

    def revert_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> VolumeInfo:
        self.require(Capability.VOLUME_SNAPSHOT)
        p = self._pool(pool)
        vol = storage.require_volume(p, volume_uuid)
        snap = storage.lookup_volume(p, storage.snapshot_volume_name(volume_uuid, snapshot_uuid))
        if snap is None:
            raise SnapshotNotFound(volume_uuid, snapshot_uuid)
        path = vol.path()
        owner = self._volume_owner(path)
        if owner is not None:
            dom = self._lookup(owner)
            if dom is not None and self._running(dom):
                raise InvalidDomainState(owner, self._state(dom).value, f"revert volume {volume_uuid} of")
        fmt = storage.VolumeConfig.from_xml(vol.XMLDesc(0)).format
        tmp_name = f".revert-{volume_uuid}"
        self._delete_volume_quiet(pool, tmp_name)
        try:
            tmp = storage.full_copy(p, tmp_name, snap, fmt)
            if self._is_local():
                # atomic swap: the volume never exists half-written under its own name
                os.replace(tmp.path(), path)
                storage.refresh(p)
            else:
                vol.delete(0)
                storage.full_copy(p, volume_uuid, tmp, fmt)
                tmp.delete(0)
        except (libvirt.libvirtError, OSError) as exc:
            self._delete_volume_quiet(pool, tmp_name)
            raise DriverError(f"revert of {volume_uuid} to {snapshot_uuid} failed: {exc}") from exc
        return storage.volume_info(p, storage.require_volume(p, volume_uuid))

    def get_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> VolumeInfo | None:
        p = self._pool(pool)
        snap = storage.lookup_volume(p, storage.snapshot_volume_name(volume_uuid, snapshot_uuid))
        return storage.volume_info(p, snap) if snap is not None else None

    def delete_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> None:
        self.require(Capability.VOLUME_SNAPSHOT)
        self._delete_volume_quiet(pool, storage.snapshot_volume_name(volume_uuid, snapshot_uuid))

    # ------------------------------------------------------------------------- domains we did not define

    def _pool_of_path(self, path: str) -> tuple[str | None, str | None, int, str]:
        def q(conn: libvirt.virConnect) -> tuple[str | None, str | None, int, str]:
            try:
                vol = conn.storageVolLookupByPath(path)
            except libvirt.libvirtError:
                return None, None, 0, "raw"
            fmt = storage.VolumeConfig.from_xml(vol.XMLDesc(0)).format
            return vol.storagePoolLookupByVolume().name(), vol.name(), vol.info()[1], fmt
        return self._call(q)  # type: ignore[no-any-return]

    def foreign_domains(self) -> list[ForeignDomain]:
        self.require(Capability.DOMAIN_IMPORT)
        out = []
        for dom in self._call(lambda c: c.listAllDomains(0)):
            try:
                cfg = DomainConfig.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
                state = self._state(dom)
            except libvirt.libvirtError:
                continue
            if cfg.devcloud is not None:
                continue
            disks = []
            for d in cfg.disks:
                if d.device != "disk" or not d.source_path:
                    continue
                pool, vol, size, fmt = self._pool_of_path(d.source_path)
                disks.append(ForeignDisk(device=d.target_dev, bus=d.target_bus, path=d.source_path, pool=pool,
                                         volume=vol, size_bytes=size, format=fmt))
            nics = tuple(ForeignNic(mac=i.mac or "", source=i.source, model=i.model) for i in cfg.interfaces)
            out.append(ForeignDomain(uuid=dom.UUIDString(), name=cfg.name, state=state, vcpus=cfg.vcpus,
                                     memory_mib=cfg.memory_kib // 1024, disks=tuple(disks), nics=nics))
        return out

    def adopt_domain(self, vm_uuid: str, volumes: dict[str, tuple[str, str]], owned: tuple[str, str] | None
                     ) -> DomainInfo:
        self.require(Capability.DOMAIN_IMPORT)
        dom = self._require(vm_uuid)
        state = self._state(dom)
        if state != PowerState.STOPPED:
            raise InvalidDomainState(vm_uuid, state.value, "import")
        renamed: list[tuple[str, str, str]] = []  # (pool, new name, old name)
        paths: dict[str, str] = {}
        try:
            for path, (pool, new_uuid) in volumes.items():
                old = self._pool_of_path(path)[1]
                if old is None:
                    raise VolumeNotFound(pool, path)
                info = self._rename_volume(pool, old, new_uuid, vm_uuid)
                renamed.append((pool, new_uuid, old))
                paths[path] = info.path
            meta = DevcloudMetadata(vm_uuid=vm_uuid, display_name=dom.name(),
                                    created_volumes=[owned] if owned else [])

            def edit(root: ET.Element) -> None:
                for disk in _devices(root).findall("disk"):
                    src = disk.find("source")
                    if src is not None and src.get("file") in paths:
                        src.set("file", paths[src.get("file") or ""])
                md = root.find("metadata")
                if md is None:
                    md = ET.SubElement(root, "metadata")
                for old_el in list(md):
                    if old_el.tag == meta.root_tag:
                        md.remove(old_el)
                md.append(meta.to_element())

            self._redefine(dom, edit)
        except (DriverError, libvirt.libvirtError) as exc:
            for pool, new_name, old in reversed(renamed):  # put the files back under their names
                with contextlib.suppress(DriverError):
                    self._rename_volume(pool, new_name, old, vm_uuid)
            if isinstance(exc, DriverError):
                raise
            raise DriverError(f"import of domain {vm_uuid} failed: {exc.get_error_message()}") from exc
        return self._info(dom)

    def release_domain(self, vm_uuid: str) -> None:
        self.require(Capability.DOMAIN_IMPORT)
        dom = self._require(vm_uuid)

        def edit(root: ET.Element) -> None:
            md = root.find("metadata")
            if md is not None:
                for el in list(md):
                    if el.tag == DevcloudMetadata.root_tag:
                        md.remove(el)

        try:
            self._redefine(dom, edit)
        except libvirt.libvirtError as exc:
            raise DriverError(f"unmanaging domain {vm_uuid} failed: {exc.get_error_message()}") from exc

    # ------------------------------------------------------------------------- volumes we did not create

    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        self.require(Capability.VOLUME_IMPORT)
        p = self._pool(pool)
        try:
            storage.refresh(p)
            return [storage.volume_info(p, v) for v in p.listAllVolumes()]
        except libvirt.libvirtError as exc:
            raise DriverError(f"listing pool {pool!r} failed: {exc.get_error_message()}") from exc

    def adopt_volume(self, pool: str, name: str, volume_uuid: str) -> VolumeInfo:
        """Renames the file in place (a local pool), or copies it to the new name and deletes the old one."""
        self.require(Capability.VOLUME_IMPORT)
        return self._rename_volume(pool, name, volume_uuid, None)

    def _rename_volume(self, pool: str, name: str, volume_uuid: str, user: str | None) -> VolumeInfo:
        """``user``: the (stopped) domain being imported may use the file; any other user refuses."""
        p = self._pool(pool)
        vol = storage.require_volume(p, name)
        owner = self._volume_owner(vol.path())
        if owner is not None and owner != user:
            raise VolumeInUse(name, owner)
        if storage.lookup_volume(p, volume_uuid) is not None:
            raise DriverError(f"volume {volume_uuid} already exists in pool {pool!r}")
        try:
            if self._is_local() or self.is_test:
                if not self.is_test:
                    os.rename(vol.path(), os.path.join(os.path.dirname(vol.path()), volume_uuid))
                else:
                    storage.full_copy(p, volume_uuid, vol)
                    vol.delete(0)
                storage.refresh(p)
            else:
                fmt = storage.VolumeConfig.from_xml(vol.XMLDesc(0)).format
                storage.full_copy(p, volume_uuid, vol, fmt)
                vol.delete(0)
        except (libvirt.libvirtError, OSError) as exc:
            raise DriverError(f"adopting {name} as {volume_uuid} in {pool!r} failed: {exc}") from exc
        return storage.volume_info(p, storage.require_volume(p, volume_uuid))

    def check_volume(self, pool: str, volume_uuid: str, repair: str | None = None) -> tuple[dict[str, object],
                                                                                         dict[str, object] | None]:
        """``qemu-img check`` on the host (this machine: a local connection only)."""
        self.require(Capability.VOLUME_CHECK)
        if not self._is_local():
            raise DriverError("checking a volume runs qemu-img on the host; only a local host can do that here")
        vol = storage.require_volume(self._pool(pool), volume_uuid)
        owner = self._volume_owner(vol.path())
        dom = self._lookup(owner) if owner else None
        if dom is not None and self._running(dom):
            raise InvalidDomainState(owner or "", self._state(dom).value, f"check volume {volume_uuid} of")
        fmt = storage.VolumeConfig.from_xml(vol.XMLDesc(0)).format
        check = _qemu_img_check(vol.path(), fmt, None)
        return check, (_qemu_img_check(vol.path(), fmt, repair) if repair else None)

    # ------------------------------------------------------------------------------------------- backups

    def backup_disks(self, vm_uuid: str | None, target_dir: str, disks: tuple[BackupDisk, ...]) -> dict[str, int]:
        """A running domain's disks go through one libvirt push backup job (QEMU copies every disk as of the same
        instant while the guest runs, CloudStack's nasbackup.sh way); otherwise each volume is converted into the
        directory (qemu-img convert through a transient pool)."""
        self.require(Capability.BACKUP)
        vols = [(d, storage.require_volume(self._pool(d.pool), d.volume_uuid)) for d in disks]
        dom = self._lookup(vm_uuid) if vm_uuid else None
        conn = self.conn
        try:
            with storage.directory_pool(conn, target_dir, build=True) as target:
                try:
                    if dom is not None and dom.isActive() and not self.is_test:
                        self._backup_running(dom, target_dir, vols)
                        storage.refresh(target)
                    else:
                        for d, vol in vols:
                            storage.full_copy(target, d.name, vol)
                    return {d.volume_uuid: storage.require_volume(target, d.name).info()[2] or
                            storage.require_volume(target, d.name).info()[1] for d, _vol in vols}
                except (libvirt.libvirtError, DriverError):
                    for d, _vol in vols:
                        self._delete_in(target, d.name)
                    raise
        except libvirt.libvirtError as exc:
            raise DriverError(f"backup into {target_dir} failed: {exc.get_error_message()}") from exc

    @staticmethod
    def _delete_in(pool: libvirt.virStoragePool, name: str) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            storage.refresh(pool)
            vol = storage.lookup_volume(pool, name)
            if vol is not None:
                vol.delete(0)

    def _backup_running(self, dom: libvirt.virDomain, target_dir: str,
                        vols: list[tuple[BackupDisk, libvirt.virStorageVol]]) -> None:
        live = DomainConfig.from_xml(dom.XMLDesc(0))
        by_path = {vol.path(): d for d, vol in vols}
        root = ET.Element("domainbackup", mode="push")
        disks = ET.SubElement(root, "disks")
        for disk in live.disks:
            d = by_path.get(disk.source_path or "")
            if d is not None and disk.device == "disk":
                de = ET.SubElement(disks, "disk", name=disk.target_dev, backup="yes", type="file")
                ET.SubElement(de, "target", file=os.path.join(target_dir, d.name))
                ET.SubElement(de, "driver", type="qcow2")
            elif disk.target_dev:
                ET.SubElement(disks, "disk", name=disk.target_dev, backup="no")
        if len(disks.findall("disk[@backup='yes']")) != len(vols):
            raise DriverError(f"not every volume to back up is a disk of domain {dom.UUIDString()}")
        dom.backupBegin(ET.tostring(root, encoding="unicode"), None, 0)
        self._wait_job(dom, "backup")

    def _wait_job(self, dom: libvirt.virDomain, what: str, timeout: float = 1800) -> None:
        deadline = time.monotonic() + timeout
        while True:
            stats = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
            if stats.get("type") == libvirt.VIR_DOMAIN_JOB_COMPLETED:
                return
            if stats.get("type") in (libvirt.VIR_DOMAIN_JOB_FAILED, libvirt.VIR_DOMAIN_JOB_CANCELLED):
                raise DriverError(f"{what} of {dom.UUIDString()} failed: {stats.get('errmsg', '')}")
            if time.monotonic() >= deadline:
                with contextlib.suppress(libvirt.libvirtError):
                    dom.abortJob()
                raise DriverTimeout(what, timeout)
            if dom.jobInfo()[0] == libvirt.VIR_DOMAIN_JOB_NONE and not stats:
                return
            time.sleep(0.05)

    def restore_disk(self, pool: str, volume_uuid: str, source_dir: str, name: str, *,
                     create: bool = False) -> VolumeInfo:
        self.require(Capability.BACKUP)
        p = self._pool(pool)
        conn = self.conn
        try:
            with storage.directory_pool(conn, source_dir) as src_pool:
                src = storage.lookup_volume(src_pool, name)
                if src is None:
                    raise VolumeNotFound(source_dir, name)
                if create:
                    if storage.lookup_volume(p, volume_uuid) is not None:
                        raise DriverError(f"volume {volume_uuid} already exists in pool {pool!r}")
                    storage.full_copy(p, volume_uuid, src)
                    return storage.volume_info(p, storage.require_volume(p, volume_uuid))
                vol = storage.require_volume(p, volume_uuid)
                owner = self._volume_owner(vol.path())
                dom = self._lookup(owner) if owner else None
                if dom is not None and self._running(dom):
                    raise InvalidDomainState(owner or "", self._state(dom).value, f"restore volume {volume_uuid} of")
                fmt = storage.VolumeConfig.from_xml(vol.XMLDesc(0)).format
                tmp_name = f".restore-{volume_uuid}"
                self._delete_volume_quiet(pool, tmp_name)
                try:
                    tmp = storage.full_copy(p, tmp_name, src, fmt)
                    if self._is_local():
                        os.replace(tmp.path(), vol.path())
                        storage.refresh(p)
                    else:
                        vol.delete(0)
                        storage.full_copy(p, volume_uuid, tmp, fmt)
                        tmp.delete(0)
                except (libvirt.libvirtError, OSError):
                    self._delete_volume_quiet(pool, tmp_name)
                    raise
                return storage.volume_info(p, storage.require_volume(p, volume_uuid))
        except libvirt.libvirtError as exc:
            raise DriverError(f"restore of {volume_uuid} from {source_dir}/{name} failed: "
                              f"{exc.get_error_message()}") from exc
        except OSError as exc:
            raise DriverError(f"restore of {volume_uuid} from {source_dir}/{name} failed: {exc}") from exc

    def delete_backup(self, target_dir: str) -> None:
        self.require(Capability.BACKUP)
        conn = self.conn
        try:
            with storage.directory_pool(conn, target_dir) as pool:
                for vol in pool.listAllVolumes():
                    with contextlib.suppress(libvirt.libvirtError):
                        vol.delete(0)
            if self._is_local():
                with contextlib.suppress(OSError):
                    os.rmdir(target_dir)  # a remote host keeps the empty directory
        except libvirt.libvirtError as exc:
            if "No such file" in (exc.get_error_message() or "") or not self._exists_dir(target_dir):
                return
            raise DriverError(f"deleting backup {target_dir} failed: {exc.get_error_message()}") from exc

    def _exists_dir(self, path: str) -> bool:
        return not self._is_local() or os.path.isdir(path)

    def _is_local(self) -> bool:
        return not self.is_test and not urlsplit(self.uri).hostname

    # ------------------------------------------------------------------------------------------ templates

    def prepare_template(self, pool: str, template_uuid: str, source: str) -> VolumeInfo:
        p = self._pool(pool)
        # Concurrent deploys of one template to one pool: the first copies it, the others wait for that copy
        # and use it (each copying found no volume, and all but one failed with "exists already").
        with _template_lock(self.uri, pool, template_uuid):
            vol = storage.lookup_volume(p, template_uuid)
            if vol is None:
                if source.startswith("file://"):
                    source = urlsplit(source).path
                try:
                    vol = storage.upload_file(self.conn, p, template_uuid, source, fake_data=self.is_test)
                except libvirt.libvirtError as exc:
                    raise DriverError(f"copying template {template_uuid} failed: {exc.get_error_message()}"
                                      ) from exc
            return storage.volume_info(p, vol)

    # ------------------------------------------------------------------------------------------ extras

    def ex_domain_xml(self, vm_uuid: str, inactive: bool = False) -> str:
        """The domain's libvirt XML (debugging / tests)."""
        dom = self._require(vm_uuid)
        return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0)

    @contextlib.contextmanager
    def ex_paused(self, vm_uuid: str) -> Iterator[None]:
        """Pause a running domain for the duration of the block."""
        dom = self._require(vm_uuid)
        dom.suspend()
        try:
            yield
        finally:
            dom.resume()


_TEMPLATE_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_TEMPLATE_LOCKS_GUARD = threading.Lock()


def _template_lock(uri: str, pool: str, template_uuid: str) -> threading.Lock:
    """One lock per template copy on a host's pool, shared by every driver of this process."""
    with _TEMPLATE_LOCKS_GUARD:
        return _TEMPLATE_LOCKS.setdefault((uri, pool, template_uuid), threading.Lock())


def _qemu_img_check(path: str, fmt: str, repair: str | None) -> dict[str, object]:
    import json
    import subprocess

    cmd = ["qemu-img", "check", "--output=json", "-f", fmt]
    if repair:
        cmd += ["-r", repair]
    r = subprocess.run([*cmd, path], capture_output=True, text=True, timeout=600, check=False)
    try:
        out: dict[str, object] = json.loads(r.stdout)
    except ValueError:
        raise DriverError(f"qemu-img check of {path} failed: {(r.stderr or r.stdout).strip()}") from None
    return out


def build_config_drive(path: str, spec: DomainSpec) -> None:
    """ConfigDrive v2 ISO for the spec (`management.drivers.configdrive`, genisoimage)."""
    meta = dict(spec.metadata)
    # services write "public-keys" (the metadata-service name); "public_keys" is accepted too
    raw_keys = "\n".join(meta.pop(k, "") for k in ("public_keys", "public-keys"))
    keys = [k for k in raw_keys.split("\n") if k.strip()]
    hostname = meta.pop("hostname", spec.name)
    meta.pop("instance-id", None)  # meta_data.json has uuid already
    try:
        configdrive.build_config_drive(path, hostname=hostname, instance_uuid=spec.uuid, public_keys=keys,
                                       user_data=spec.user_data.encode() if spec.user_data is not None else None,
                                       extra_meta=meta or None)
    except Exception as exc:
        raise DriverError(f"building the config drive failed: {exc}") from exc


__all__ = ["LibvirtDriver", "capabilities_for_uri"]
