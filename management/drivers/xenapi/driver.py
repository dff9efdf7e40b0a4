"""The XenAPI driver: one XCP-ng/XenServer pool member, spoken to through its pool master (``xenapi``).

URL ``http(s)://<host address>``; credentials from ``username=``/``password=`` (or the URL's user info). A
login to a pool member is redirected to the master (``HOST_IS_SLAVE``), and the driver keeps acting for *its*
host: its VMs are those resident on it (or halted with affinity to it), starts go to ``VM.start_on`` it.

Mapping to the contract:

* **Ids.** A VM carries our uuid in ``other_config['devcloud_uuid']`` (a VM made by hand reports its XAPI
  uuid); a VDI carries the volume uuid in ``other_config['devcloud_uuid']``, a prepared template
  ``devcloud_template``, a snapshot ``devcloud_snapshot`` (+ ``devcloud_snapshot_of``); VDIs created by
  ``spawn`` are marked ``devcloud_owner=<vm uuid>`` so ``destroy`` deletes exactly those. A pool (our
  PoolSpec.name) is the SR with ``other_config['devcloud_pool']``. OpaqueRefs never leave this module.
* **Storage.** NFS primary storage is an SR of type ``nfs`` (``PoolSpec.path`` ``server:/export`` or
  ``nfs://server/export``; a bare ``/export`` adopts an NFS SR already attached with that server path, or uses
  the ``nfs_server`` option); ``dir`` pools are ``file`` SRs. Root disks are ``VDI.clone`` of the template VDI
  on the same SR (``VDI.copy`` across SRs), data disks ``VDI.create``; snapshots are ``VDI.snapshot``; revert
  clones the snapshot and swaps it in under the volume's uuid.
* **Power.** ``Async.VM.start_on`` / ``clean_shutdown`` / ``hard_shutdown`` / ``clean_reboot``, tasks polled to
  the end and destroyed. ``VM_BAD_POWER_STATE`` is normalised: stopping or destroying a halted VM succeeds,
  rebooting one raises InvalidDomainState.
* **Networks.** A NIC goes to the network named by ``NicSpec.network`` or ``NicSpec.bridge`` (by name label or
  bridge); a missing one is created (``network.create``, plus ``pool.create_VLAN`` on the management PIF's
  device when ``vlan`` is set); no name and no VLAN: the management network.
* **Events.** ``event.from(["vm"], token, timeout)`` on a thread with its own session; power-state changes of
  this host's VMs become lifecycle events.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import XenAPI

from management.drivers.base import (
    Capability,
    ConsoleAddress,
    DomainInfo,
    DomainSpec,
    EventListener,
    HostInfo,
    HostStats,
    HypervisorDriver,
    LifecycleEvent,
    LifecycleEventType,
    MiB,
    NicSpec,
    PoolInfo,
    PoolSpec,
    PowerState,
    SnapshotInfo,
    VolumeInfo,
    make_capabilities,
)
from management.drivers.errors import (
    DomainExists,
    DomainNotFound,
    DriverError,
    HostUnreachable,
    InsufficientResources,
    InvalidDomainState,
    PoolNotFound,
    SnapshotNotFound,
    TemplateNotFound,
    VolumeInUse,
    VolumeNotFound,
)
from management.drivers.xenapi.session import SessionFactory, XapiConnection, failure_code
from management.drivers.xenapi.vm_ops import XenVmOps

log = logging.getLogger(__name__)

NULL = "OpaqueRef:NULL"
TAG = "devcloud_uuid"
OWNER = "devcloud_owner"
TEMPLATE = "devcloud_template"
SNAPSHOT = "devcloud_snapshot"
SNAPSHOT_OF = "devcloud_snapshot_of"
POOL = "devcloud_pool"
NETWORK = "devcloud_network"

# XAPI VM power_state -> PowerState: the one table every state goes through.
POWER_STATE_MAP: dict[str, PowerState] = {
    "Running": PowerState.RUNNING,
    "Halted": PowerState.STOPPED,
    "Paused": PowerState.PAUSED,
    "Suspended": PowerState.PAUSED,  # memory image kept, resumable: not running, not stopped (CloudStack: PowerOn)
}
_EVENT_FOR_STATE = {
    PowerState.RUNNING: LifecycleEventType.STARTED,
    PowerState.STOPPED: LifecycleEventType.STOPPED,
    PowerState.PAUSED: LifecycleEventType.PAUSED,
    PowerState.CRASHED: LifecycleEventType.CRASHED,
}
_REF = re.compile(r"OpaqueRef:[0-9a-fA-F-]+")


def power_state(xapi_state: str | None) -> PowerState:
    return POWER_STATE_MAP.get(str(xapi_state or "").capitalize(), PowerState.UNKNOWN)


def _scrub(details: Any) -> str:
    """An XAPI error for a message: hypervisor refs never leave the driver."""
    return _REF.sub("<xapi-object>", " ".join(str(d) for d in (details or [])))


class XenAPIDriver(XenVmOps, HypervisorDriver):
    name = "xenapi"
    capabilities: ClassVar = make_capabilities(
        volume_snapshot=True, volume_resize=True, volume_hotplug=True, nic_hotplug=True, console=True,
        events=True, vm_snapshot=True, vm_snapshot_memory=True, live_migration=True, storage_migration=True,
        cdrom=True, volume_transfer=True,
    )

    def __init__(self, url: str, username: str | None = None, password: str | None = None, *,
                 session_factory: SessionFactory | None = None, task_timeout: float = 600.0,
                 shutdown_timeout: float = 120.0, event_timeout: float = 5.0, nfs_server: str | None = None,
                 **options: Any) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https", "xenapi"):
            raise DriverError(f"XenAPI url must be http(s)://<pool member>, not {url!r}")
        self._scheme = "https" if parts.scheme.lower() == "https" else "http"
        self._address = (parts.hostname or "").lower()
        base = f"{self._scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
        user = username if username is not None else unquote(parts.username or "") or "root"
        pw = password if password is not None else unquote(parts.password or "")
        self._conn = XapiConnection(base, user, pw, session_factory, task_timeout=task_timeout)
        self._factory = session_factory
        self.shutdown_timeout = shutdown_timeout
        self.event_timeout = event_timeout
        self.nfs_server = nfs_server
        self._host_ref: str | None = None
        self._net_lock = threading.Lock()
        self._spawn_lock = threading.Lock()
        self._events_thread: threading.Thread | None = None
        self._events_stop = threading.Event()
        self._events_conn: XapiConnection | None = None
        self.options = options

    # ============================================================================================ plumbing

    def _x(self, method: str, *args: Any) -> Any:
        return self._conn.call(method, *args)

    def _async(self, method: str, *args: Any, timeout: float | None = None) -> str:
        return self._conn.run_async(method, *args, timeout=timeout)

    @contextlib.contextmanager
    def _errors(self, op: str, vm_uuid: str | None = None) -> Iterator[None]:
        """XenAPI.Failure -> DriverError subclasses."""
        try:
            yield
        except XenAPI.Failure as exc:
            raise self._translate(exc, op, vm_uuid) from None

    def _translate(self, exc: XenAPI.Failure, op: str, vm_uuid: str | None) -> DriverError:
        code, params = failure_code(exc), list(exc.details[1:])
        if code == "SR_FULL":
            req, avail = (params + ["?", "?"])[:2]
            return InsufficientResources(f"primary storage is full: {op} needs {req} bytes, {avail} bytes free")
        if code == "HOST_NOT_ENOUGH_FREE_MEMORY":
            need, free = (params + ["?", "?"])[:2]
            return InsufficientResources(f"host {self._address} has not enough free memory to {op}: needs "
                                         f"{need} bytes, {free} bytes free")
        if code == "VM_BAD_POWER_STATE" and vm_uuid:
            actual = power_state(params[2] if len(params) > 2 else "")
            return InvalidDomainState(vm_uuid, actual.value, op)
        if code == "HANDLE_INVALID" and vm_uuid and params[:1] == ["VM"]:
            return DomainNotFound(vm_uuid)
        return DriverError(f"XenAPI {op} failed on {self._address}: {code} {_scrub(params)}".rstrip())

    # ============================================================================================ connection

    def connect(self) -> None:
        self._conn.login()
        if self._host_ref is None:
            self._host_ref = self._find_own_host()

    def _find_own_host(self) -> str:
        hosts = self._x("host.get_all_records")
        for ref, rec in hosts.items():
            if self._address in (str(rec.get("address", "")).lower(), str(rec.get("hostname", "")).lower(),
                                 str(rec.get("name_label", "")).lower()):
                return ref
        pool = next(iter(self._x("pool.get_all")))
        return self._x("pool.get_master", pool)

    @property
    def host_ref(self) -> str:
        if self._host_ref is None:
            self.connect()
        assert self._host_ref is not None
        return self._host_ref

    def close(self) -> None:
        self._events_stop.set()
        conn = self._events_conn
        if conn is not None:
            conn.logout()
        thread = self._events_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)
        self._events_thread = None
        self._conn.logout()

    def ex_pool_hosts(self) -> list[dict[str, Any]]:
        """Every host of the pool: ``{url, address, hostname, uuid, master}`` (the master first)."""
        with self._errors("discover the pool"):
            self.connect()
            pool = next(iter(self._x("pool.get_all")))
            master = self._x("pool.get_master", pool)
            hosts = self._x("host.get_all_records")
        out = []
        for ref, rec in hosts.items():
            out.append({"url": f"{self._scheme}://{rec['address']}", "address": rec["address"],
                        "hostname": rec.get("hostname") or rec.get("name_label"), "uuid": rec["uuid"],
                        "master": ref == master})
        out.sort(key=lambda h: (not h["master"], h["address"]))
        return out

    # ============================================================================================ host

    def host_info(self) -> HostInfo:
        with self._errors("read host facts"):
            rec = self._x("host.get_record", self.host_ref)
            metrics = self._x("host_metrics.get_record", rec["metrics"])
            cpus = [self._x("host_cpu.get_record", c) for c in rec.get("host_CPUs", [])]
        info = rec.get("cpu_info", {})
        sw = rec.get("software_version", {})
        cores = len(cpus) or int(info.get("cpu_count", 1) or 1)
        sockets = max(int(info.get("socket_count", 1) or 1), 1)
        mhz = int(float(cpus[0]["speed"])) if cpus else int(float(info.get("speed", 0) or 0))
        return HostInfo(hostname=rec.get("hostname") or rec["name_label"], cpu_sockets=sockets,
                        cpu_cores=max(cores, sockets), cpu_mhz=mhz, memory_bytes=int(metrics["memory_total"]),
                        hypervisor_type="XenServer", hypervisor_version=str(sw.get("product_version") or "unknown"),
                        virt_type="xen",
                        extra={"product_brand": str(sw.get("product_brand", "")), "xen": str(sw.get("xen", "")),
                               "address": str(rec.get("address", "")), "host_uuid": rec["uuid"],
                               "master": self._conn.master_url})

    def host_stats(self) -> HostStats:
        with self._errors("read host usage"):
            rec = self._x("host.get_record", self.host_ref)
            total = int(self._x("host_metrics.get_memory_total", rec["metrics"]))
            free = int(self._x("host.compute_free_memory", self.host_ref))
            utils = [float(self._x("host_cpu.get_utilisation", c)) for c in rec.get("host_CPUs", [])]
            vms = self._x("VM.get_all_records")
        running = [v for v in vms.values() if self._guest(v) and v["resident_on"] == self.host_ref
                   and v["power_state"] in ("Running", "Paused")]
        free = min(max(free, 0), total)
        return HostStats(memory_total_bytes=total, memory_used_bytes=total - free, memory_free_bytes=free,
                         cpu_utilization=min(max(100.0 * sum(utils) / len(utils), 0.0), 100.0) if utils else 0.0,
                         vcpus_allocated=sum(int(v["VCPUs_at_startup"]) for v in running),
                         domains_running=len(running))

    # ============================================================================================ VM lookup

    @staticmethod
    def _guest(rec: dict[str, Any]) -> bool:
        return not (rec.get("is_control_domain") or rec.get("is_a_template") or rec.get("is_a_snapshot"))

    def _mine(self, rec: dict[str, Any]) -> bool:
        if rec.get("resident_on", NULL) not in (NULL, ""):
            return rec["resident_on"] == self.host_ref
        affinity = rec.get("affinity", NULL)
        if affinity in (NULL, ""):
            return self.host_ref == self._master_ref()
        return affinity == self.host_ref

    def _master_ref(self) -> str:
        pool = next(iter(self._x("pool.get_all")))
        return self._x("pool.get_master", pool)

    @staticmethod
    def _our_uuid(rec: dict[str, Any]) -> str:
        return str(rec.get("other_config", {}).get(TAG) or rec["uuid"])

    def _find_vm(self, vm_uuid: str) -> tuple[str, dict[str, Any]] | None:
        with self._errors("look up a domain"):
            vms = self._x("VM.get_all_records")
        for ref, rec in vms.items():
            if self._guest(rec) and self._our_uuid(rec) == vm_uuid and self._mine(rec):
                return ref, rec
        return None

    def _vm(self, vm_uuid: str) -> tuple[str, dict[str, Any]]:
        found = self._find_vm(vm_uuid)
        if found is None:
            raise DomainNotFound(vm_uuid)
        return found

    def _info(self, ref: str, rec: dict[str, Any] | None = None) -> DomainInfo:
        if rec is None:
            rec = self._x("VM.get_record", ref)
        disks = []
        for vbd in rec.get("VBDs", []):
            b = self._x("VBD.get_record", vbd)
            if b.get("empty") or b.get("VDI") in (NULL, "") or b.get("type") == "CD":
                continue
            try:
                vdi_cfg = self._x("VDI.get_other_config", b["VDI"])
                vdi_uuid = vdi_cfg.get(TAG) or self._x("VDI.get_uuid", b["VDI"])
            except XenAPI.Failure:
                continue
            disks.append((int(b["userdevice"]) if str(b["userdevice"]).isdigit() else 99, vdi_uuid))
        nics = []
        for vif in rec.get("VIFs", []):
            v = self._x("VIF.get_record", vif)
            nics.append((int(v["device"]) if str(v["device"]).isdigit() else 99, v["MAC"]))
        return DomainInfo(uuid=self._our_uuid(rec), name=rec["name_label"], state=power_state(rec["power_state"]),
                          vcpus=int(rec["VCPUs_at_startup"]), memory_mib=int(rec["memory_static_max"]) // MiB,
                          volumes=tuple(u for _, u in sorted(disks)), macs=tuple(m for _, m in sorted(nics)),
                          extra={"xapi_uuid": rec["uuid"], "domid": str(rec.get("domid", "-1"))})

    def _info_of(self, vm_uuid: str, ref: str) -> DomainInfo:
        with self._errors("read domain", vm_uuid):
            return self._info(ref)

    # ============================================================================================ domains

    def list_domains(self) -> list[DomainInfo]:
        with self._errors("list domains"):
            vms = self._x("VM.get_all_records")
            out = []
            for ref, rec in vms.items():
                if self._guest(rec) and self._mine(rec):
                    with contextlib.suppress(XenAPI.Failure):  # removed meanwhile
                        out.append(self._info(ref, rec))
        return out

    def get_domain(self, vm_uuid: str) -> DomainInfo | None:
        found = self._find_vm(vm_uuid)
        if found is None:
            return None
        try:
            with self._errors("read domain", vm_uuid):
                return self._info(*found)
        except DomainNotFound:
            return None

    def spawn(self, spec: DomainSpec) -> DomainInfo:
        with self._spawn_lock:  # the uniqueness check and VM.create are one step per driver
            if self._find_vm(spec.uuid) is not None:
                raise DomainExists(spec.uuid)
            made_vdis: list[str] = []
            vm_ref: str | None = None
            try:
                disks: list[tuple[Any, str]] = []
                for disk in sorted(spec.disks, key=lambda d: d.device_id):
                    if disk.create:
                        vdi = self._create_vdi(disk.pool, disk.volume_uuid, disk.size_bytes, disk.template,
                                               owner=spec.uuid, made=made_vdis)
                    else:
                        vdi = self._vdi(disk.pool, disk.volume_uuid)[0]
                        self._check_free(vdi, disk.volume_uuid, spec.uuid)
                    disks.append((disk, vdi))
                with self._errors("create the domain", spec.uuid):
                    vm_ref = self._x("VM.create", self._vm_record(spec))
                    for disk, vdi in disks:
                        self._x("VBD.create", self._vbd_record(vm_ref, vdi, disk.device_id))
                    iso = self._iso_vdi(*spec.cdrom) if spec.cdrom else None
                    self._x("VBD.create", self._cd_record(vm_ref, iso, self._cd_device(
                        {str(d.device_id) for d, _ in disks})))
                    for nic in spec.nics:
                        self._x("VIF.create", self._vif_record(vm_ref, nic, nic.device_id))
                    if spec.start:
                        self._async("VM.start_on", vm_ref, self.host_ref, False, False)
                return self._info_of(spec.uuid, vm_ref)
            except BaseException:
                self._rollback(vm_ref, made_vdis)
                raise

    def _rollback(self, vm_ref: str | None, vdis: list[str]) -> None:
        if vm_ref is not None:
            with contextlib.suppress(XenAPI.Failure, DriverError):
                if self._x("VM.get_power_state", vm_ref) != "Halted":
                    self._async("VM.hard_shutdown", vm_ref)
            with contextlib.suppress(XenAPI.Failure, DriverError):
                for vbd in self._x("VM.get_VBDs", vm_ref):
                    self._x("VBD.destroy", vbd)
            with contextlib.suppress(XenAPI.Failure, DriverError):
                self._x("VM.destroy", vm_ref)  # and its VIFs
        for vdi in reversed(vdis):
            with contextlib.suppress(XenAPI.Failure, DriverError):
                self._x("VDI.destroy", vdi)

    def _vm_record(self, spec: DomainSpec) -> dict[str, Any]:
        mem = str(spec.memory_mib * MiB)
        return {
            "name_label": spec.name, "name_description": f"devcloud VM {spec.uuid}", "user_version": "1",
            "is_a_template": False, "affinity": self.host_ref,
            "memory_static_min": mem, "memory_static_max": mem, "memory_dynamic_min": mem, "memory_dynamic_max": mem,
            "VCPUs_max": str(spec.vcpus), "VCPUs_at_startup": str(spec.vcpus),
            "VCPUs_params": {"weight": str(max(spec.cpu_mhz, 1) * spec.vcpus)} if spec.cpu_mhz else {},
            "actions_after_shutdown": "destroy", "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "",
            "PV_legacy_args": "", "HVM_boot_policy": "BIOS order", "HVM_boot_params": {"order": "dc"},
            "HVM_shadow_multiplier": 1.0, "platform": {"acpi": "1", "apic": "true", "pae": "true", "nx": "true",
                                                       "viridian": "false"},
            "PCI_bus": "", "recommendations": "", "xenstore_data": {},
            "other_config": {TAG: spec.uuid, "devcloud_os_type": spec.os_type},
            "tags": [], "blocked_operations": {}, "protection_policy": NULL, "is_snapshot_from_vmpp": False,
            "ha_always_run": False, "ha_restart_priority": "",
        }

    @staticmethod
    def _vbd_record(vm_ref: str, vdi: str, device: int) -> dict[str, Any]:
        return {"VM": vm_ref, "VDI": vdi, "userdevice": str(device), "bootable": device == 0, "mode": "RW",
                "type": "Disk", "empty": False, "unpluggable": True, "other_config": {}, "qos_algorithm_type": "",
                "qos_algorithm_params": {}}

    def _vif_record(self, vm_ref: str, nic: NicSpec, device: int) -> dict[str, Any]:
        return {"device": str(device), "network": self._network_for(nic), "VM": vm_ref, "MAC": nic.mac.lower(),
                "MTU": "1500", "other_config": {"devcloud_ip": nic.ip or ""}, "qos_algorithm_type": "",
                "qos_algorithm_params": {}, "locking_mode": "network_default"}

    def start(self, vm_uuid: str) -> DomainInfo:
        ref, rec = self._vm(vm_uuid)
        with self._errors("start", vm_uuid):
            state = rec["power_state"]
            try:
                if state == "Paused":
                    self._async("VM.unpause", ref)
                elif state == "Suspended":
                    self._async("VM.resume_on", ref, self.host_ref, False, False)
                elif state == "Halted":
                    self._async("VM.start_on", ref, self.host_ref, False, False)
            except XenAPI.Failure as exc:
                if not (failure_code(exc) == "VM_BAD_POWER_STATE" and str(exc.details[-1]).lower() == "running"):
                    raise
        return self._info_of(vm_uuid, ref)

    def stop(self, vm_uuid: str, force: bool = False) -> DomainInfo:
        ref, rec = self._vm(vm_uuid)
        with self._errors("stop", vm_uuid):
            if rec["power_state"] != "Halted":
                try:
                    if force or rec["power_state"] != "Running":
                        self._async("VM.hard_shutdown", ref)
                    else:
                        self._async("VM.clean_shutdown", ref, timeout=self.shutdown_timeout)
                except XenAPI.Failure as exc:
                    # stopping a VM that halted meanwhile: done (the contract's no-op)
                    if not (failure_code(exc) == "VM_BAD_POWER_STATE" and str(exc.details[-1]).lower() == "halted"):
                        raise
        return self._info_of(vm_uuid, ref)

    def reboot(self, vm_uuid: str) -> DomainInfo:
        ref, rec = self._vm(vm_uuid)
        if rec["power_state"] != "Running":
            raise InvalidDomainState(vm_uuid, power_state(rec["power_state"]).value, "reboot")
        with self._errors("reboot", vm_uuid):
            self._async("VM.clean_reboot", ref, timeout=self.shutdown_timeout)
        return self._info_of(vm_uuid, ref)

    def destroy(self, vm_uuid: str) -> None:
        found = self._find_vm(vm_uuid)
        if found is None:
            return
        ref, rec = found
        with self._errors("destroy", vm_uuid):
            try:
                if rec["power_state"] != "Halted":
                    self._async("VM.hard_shutdown", ref)
            except XenAPI.Failure as exc:
                if failure_code(exc) == "HANDLE_INVALID":
                    return
                if not (failure_code(exc) == "VM_BAD_POWER_STATE" and str(exc.details[-1]).lower() == "halted"):
                    raise
            self._delete_all_domain_snapshots(ref)
            owned: list[str] = []
            for vbd in self._x("VM.get_VBDs", ref):
                vdi = self._x("VBD.get_VDI", vbd)
                if vdi not in (NULL, ""):
                    with contextlib.suppress(XenAPI.Failure):
                        if self._x("VDI.get_other_config", vdi).get(OWNER) == vm_uuid:
                            owned.append(vdi)
                self._x("VBD.destroy", vbd)
            try:
                self._x("VM.destroy", ref)
            except XenAPI.Failure as exc:
                if failure_code(exc) != "HANDLE_INVALID":
                    raise
            for vdi in owned:
                self._destroy_vdi(vdi)

    # ============================================================================================ disks on VMs

    def attach_volume(self, vm_uuid: str, pool: str, volume_uuid: str, device_id: int | None = None) -> DomainInfo:
        ref, rec = self._vm(vm_uuid)
        vdi, _ = self._vdi(pool, volume_uuid)
        with self._errors("attach a volume", vm_uuid):
            for vbd in self._x("VDI.get_VBDs", vdi):
                if self._x("VBD.get_VM", vbd) == ref:
                    return self._info(ref)
            self._check_free(vdi, volume_uuid, vm_uuid)
            if rec["power_state"] == "Running":
                self.require(Capability.VOLUME_HOTPLUG)
            used = {str(self._x("VBD.get_userdevice", b)) for b in rec["VBDs"]}
            device = device_id if device_id is not None and str(device_id) not in used else \
                next(n for n in range(1, 64) if str(n) not in used)
            vbd = self._x("VBD.create", self._vbd_record(ref, vdi, device))
            if rec["power_state"] == "Running":
                try:
                    self._x("VBD.plug", vbd)
                except XenAPI.Failure:
                    with contextlib.suppress(XenAPI.Failure):
                        self._x("VBD.destroy", vbd)
                    raise
            return self._info(ref)

    def _check_free(self, vdi: str, volume_uuid: str, vm_uuid: str) -> None:
        for vbd in self._x("VDI.get_VBDs", vdi):
            other = self._x("VBD.get_VM", vbd)
            with contextlib.suppress(XenAPI.Failure):
                holder = self._our_uuid(self._x("VM.get_record", other))
                if holder != vm_uuid:
                    raise VolumeInUse(volume_uuid, holder)

    def detach_volume(self, vm_uuid: str, volume_uuid: str) -> DomainInfo:
        ref, rec = self._vm(vm_uuid)
        with self._errors("detach a volume", vm_uuid):
            for vbd in rec["VBDs"]:
                vdi = self._x("VBD.get_VDI", vbd)
                if vdi in (NULL, ""):
                    continue
                cfg = self._x("VDI.get_other_config", vdi)
                if (cfg.get(TAG) or self._x("VDI.get_uuid", vdi)) != volume_uuid:
                    continue
                if self._x("VBD.get_currently_attached", vbd):
                    self.require(Capability.VOLUME_HOTPLUG)
                    self._x("VBD.unplug", vbd)
                self._x("VBD.destroy", vbd)
            return self._info(ref)

    # ============================================================================================ storage

    def _srs(self) -> dict[str, dict[str, Any]]:
        return self._x("SR.get_all_records")

    def _sr(self, pool: str) -> str:
        with self._errors("look up a pool"):
            srs = self._srs()
        for ref, rec in srs.items():
            if rec.get("other_config", {}).get(POOL) == pool:
                return ref
        for ref, rec in srs.items():
            if rec.get("name_label") == pool:
                return ref
        raise PoolNotFound(pool)

    def _pool_info(self, name: str, sr: str) -> PoolInfo:
        rec = self._x("SR.get_record", sr)
        size, used = int(rec["physical_size"]), int(rec["physical_utilisation"])
        return PoolInfo(name=name, path=f"/var/run/sr-mount/{rec['uuid']}", capacity_bytes=size,
                        available_bytes=max(size - used, 0), allocated_bytes=int(rec.get("virtual_allocation", used)))

    def ensure_pool(self, spec: PoolSpec) -> PoolInfo:
        with contextlib.suppress(PoolNotFound):
            return self._pool_info(spec.name, self._sr(spec.name))
        kind = spec.kind.lower()
        with self._errors(f"set up storage pool {spec.name}"):
            if kind in ("nfs", "networkfilesystem"):
                server, path = (spec.host, spec.path) if spec.host else _nfs_target(spec.path, self.nfs_server)
                sr = self._adopt_nfs_sr(server, path)
                if sr is None:
                    if not server:
                        raise DriverError(f"pool {spec.name}: no NFS server for {spec.path!r} (use server:/export, "
                                          "or attach an NFS SR with that path to the pool)")
                    sr = self._x("SR.create", self.host_ref, {"server": server, "serverpath": path}, "0", spec.name,
                                 "devcloud primary storage", "nfs", "user", True, {})
            elif kind in ("dir", "filesystem", "local", "file"):
                sr = self._x("SR.create", self.host_ref, {"location": spec.path},
                             str(spec.capacity_bytes or 0), spec.name, "devcloud primary storage", "file", "user",
                             False, {})
            else:
                raise DriverError(f"pool kind {spec.kind!r} is not supported by the XenAPI driver")
            self._x("SR.add_to_other_config", sr, POOL, spec.name)
            return self._pool_info(spec.name, sr)

    def _adopt_nfs_sr(self, server: str | None, path: str) -> str | None:
        """An NFS SR already attached to the pool for that export (an administrator made it)."""
        for ref, rec in self._srs().items():
            if rec.get("type") != "nfs" or rec.get("other_config", {}).get(POOL):
                continue
            for pbd in rec.get("PBDs", []):
                cfg = self._x("PBD.get_device_config", pbd)
                if cfg.get("serverpath", "").rstrip("/") == path.rstrip("/") and (not server or
                                                                                   cfg.get("server") == server):
                    return ref
        return None

    def ex_delete_pool(self, name: str) -> None:
        """Forget the pool's SR mark (the SR and its VDIs stay in the pool). No-op if unknown."""
        with contextlib.suppress(PoolNotFound, XenAPI.Failure):
            self._x("SR.remove_from_other_config", self._sr(name), POOL)

    def _vdis(self, sr: str) -> dict[str, dict[str, Any]]:
        return {r: v for r, v in self._x("VDI.get_all_records").items() if v.get("SR") == sr}

    def _vdi(self, pool: str, volume_uuid: str) -> tuple[str, dict[str, Any]]:
        found = self._find_vdi(pool, volume_uuid)
        if found is None:
            raise VolumeNotFound(pool, volume_uuid)
        return found

    def _find_vdi(self, pool: str, volume_uuid: str, key: str = TAG) -> tuple[str, dict[str, Any]] | None:
        sr = self._sr(pool)
        with self._errors("look up a volume"):
            for ref, rec in self._vdis(sr).items():
                if rec.get("other_config", {}).get(key) == volume_uuid and (key != TAG or not rec["is_a_snapshot"]):
                    return ref, rec
        return None

    def _volume_info(self, pool: str, volume_uuid: str, rec: dict[str, Any]) -> VolumeInfo:
        sr_uuid = self._x("SR.get_uuid", rec["SR"])
        return VolumeInfo(uuid=volume_uuid, pool=pool, path=f"/var/run/sr-mount/{sr_uuid}/{rec['uuid']}.vhd",
                          size_bytes=int(rec["virtual_size"]), format="vhd",
                          allocated_bytes=int(rec.get("physical_utilisation", 0)))

    def get_volume(self, pool: str, volume_uuid: str) -> VolumeInfo | None:
        found = self._find_vdi(pool, volume_uuid)
        if found is None:
            return None
        with self._errors("read a volume"):
            return self._volume_info(pool, volume_uuid, found[1])

    def _create_vdi(self, pool: str, volume_uuid: str, size: int, template: str | None, *, owner: str | None,
                    made: list[str]) -> str:
        sr = self._sr(pool)
        if self._find_vdi(pool, volume_uuid) is not None:
            raise DriverError(f"volume {volume_uuid} already exists in pool {pool!r}")
        cfg = {TAG: volume_uuid}
        if owner:
            cfg[OWNER] = owner
        with self._errors(f"create volume {volume_uuid}"):
            if template:
                src = self._find_vdi(pool, template, TEMPLATE)
                if src is None:
                    raise TemplateNotFound(template)
                src_ref, src_rec = src
                if src_rec["SR"] == sr:
                    vdi = self._async("VDI.clone", src_ref, {})
                else:  # pragma: no cover - templates are prepared on the pool they are cloned on
                    vdi = self._async("VDI.copy", src_ref, sr)
                made.append(vdi)
                self._x("VDI.set_other_config", vdi, cfg)
                self._x("VDI.set_name_label", vdi, volume_uuid)
                if size > int(src_rec["virtual_size"]):
                    self._x("VDI.resize", vdi, str(size))
            else:
                vdi = self._x("VDI.create", {"name_label": volume_uuid, "name_description": "devcloud volume",
                                             "SR": sr, "virtual_size": str(max(size, MiB)), "type": "user",
                                             "sharable": False, "read_only": False, "other_config": cfg,
                                             "xenstore_data": {}, "sm_config": {}, "tags": []})
                made.append(vdi)
        return vdi

    def create_volume(self, pool: str, volume_uuid: str, size_bytes: int, *, template: str | None = None,
                      format: str = "qcow2") -> VolumeInfo:
        made: list[str] = []
        try:
            self._create_vdi(pool, volume_uuid, size_bytes, template, owner=None, made=made)
        except BaseException:
            for vdi in made:
                with contextlib.suppress(XenAPI.Failure, DriverError):
                    self._x("VDI.destroy", vdi)
            raise
        info = self.get_volume(pool, volume_uuid)
        assert info is not None
        return info

    def _holder(self, vdi: str) -> str | None:
        for vbd in self._x("VDI.get_VBDs", vdi):
            with contextlib.suppress(XenAPI.Failure):
                return self._our_uuid(self._x("VM.get_record", self._x("VBD.get_VM", vbd)))
        return None

    def _destroy_vdi(self, vdi: str) -> None:
        """Destroy a VDI and the snapshots we made of it; gone already is fine."""
        try:
            cfg = self._x("VDI.get_other_config", vdi)
            sr = self._x("VDI.get_SR", vdi)
        except XenAPI.Failure as exc:
            if failure_code(exc) == "HANDLE_INVALID":
                return
            raise
        vol = cfg.get(TAG)
        if vol:
            for ref, rec in self._vdis(sr).items():
                if rec.get("other_config", {}).get(SNAPSHOT_OF) == vol and rec.get("is_a_snapshot"):
                    with contextlib.suppress(XenAPI.Failure):
                        self._x("VDI.destroy", ref)
        try:
            self._x("VDI.destroy", vdi)
        except XenAPI.Failure as exc:
            if failure_code(exc) != "HANDLE_INVALID":
                raise

    def delete_volume(self, pool: str, volume_uuid: str) -> None:
        try:
            found = self._find_vdi(pool, volume_uuid)
        except PoolNotFound:
            return
        if found is None:
            return
        vdi, _ = found
        with self._errors(f"delete volume {volume_uuid}"):
            holder = self._holder(vdi)
            if holder is not None:
                raise VolumeInUse(volume_uuid, holder)
            self._destroy_vdi(vdi)

    def resize_volume(self, pool: str, volume_uuid: str, new_size_bytes: int) -> VolumeInfo:
        vdi, rec = self._vdi(pool, volume_uuid)
        if new_size_bytes < int(rec["virtual_size"]):
            raise DriverError(f"volume {volume_uuid} cannot shrink from {rec['virtual_size']} to {new_size_bytes}")
        with self._errors(f"resize volume {volume_uuid}"):
            if new_size_bytes > int(rec["virtual_size"]):
                self._x("VDI.resize", vdi, str(new_size_bytes))
        info = self.get_volume(pool, volume_uuid)
        assert info is not None
        return info

    def snapshot_volume(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> SnapshotInfo:
        vdi, rec = self._vdi(pool, volume_uuid)
        with self._errors(f"snapshot volume {volume_uuid}"):
            snap = self._async("VDI.snapshot", vdi, {})
            try:
                self._x("VDI.set_other_config", snap, {SNAPSHOT: snapshot_uuid, SNAPSHOT_OF: volume_uuid})
                self._x("VDI.set_name_label", snap, f"snapshot {snapshot_uuid} of {volume_uuid}")
            except BaseException:
                with contextlib.suppress(XenAPI.Failure):
                    self._x("VDI.destroy", snap)
                raise
        return SnapshotInfo(uuid=snapshot_uuid, volume_uuid=volume_uuid, pool=pool, size_bytes=int(rec["virtual_size"]),
                            created_at=time.time())

    def _snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> str | None:
        found = self._find_vdi(pool, snapshot_uuid, SNAPSHOT)
        if found is None or found[1]["other_config"].get(SNAPSHOT_OF) != volume_uuid:
            return None
        return found[0]

    def revert_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> VolumeInfo:
        vdi, rec = self._vdi(pool, volume_uuid)
        snap = self._snapshot(pool, volume_uuid, snapshot_uuid)
        if snap is None:
            raise SnapshotNotFound(volume_uuid, snapshot_uuid)
        with self._errors(f"revert volume {volume_uuid}"):
            vbds = [(r, self._x("VBD.get_record", r)) for r in self._x("VDI.get_VBDs", vdi)]
            for _, b in vbds:
                if self._x("VM.get_power_state", b["VM"]) != "Halted":
                    holder = self._our_uuid(self._x("VM.get_record", b["VM"]))
                    raise InvalidDomainState(holder, PowerState.RUNNING.value, f"revert volume {volume_uuid} of")
            new = self._async("VDI.clone", snap, {})
            try:
                self._x("VDI.set_other_config", new, dict(rec["other_config"]))
                self._x("VDI.set_name_label", new, rec["name_label"])
                for r, _ in vbds:
                    self._x("VBD.destroy", r)
                for _, b in vbds:
                    self._x("VBD.create", self._vbd_record(b["VM"], new, int(b["userdevice"])))
            except BaseException:
                with contextlib.suppress(XenAPI.Failure):
                    self._x("VDI.destroy", new)
                raise
            self._x("VDI.destroy", vdi)
        info = self.get_volume(pool, volume_uuid)
        assert info is not None
        return info

    def delete_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> None:
        try:
            snap = self._snapshot(pool, volume_uuid, snapshot_uuid)
        except PoolNotFound:
            return
        if snap is not None:
            with self._errors(f"delete snapshot {snapshot_uuid}"), contextlib.suppress(XenAPI.Failure):
                self._x("VDI.destroy", snap)

    def prepare_template(self, pool: str, template_uuid: str, source: str) -> VolumeInfo:
        sr = self._sr(pool)
        found = self._find_vdi(pool, template_uuid, TEMPLATE)
        if found is None:
            with self._spawn_lock:
                found = self._find_vdi(pool, template_uuid, TEMPLATE)
                if found is None:
                    self._import_template(sr, template_uuid, source)
                    found = self._find_vdi(pool, template_uuid, TEMPLATE)
        assert found is not None
        with self._errors("read a template"):
            return self._volume_info(pool, template_uuid, found[1])

    def _import_template(self, sr: str, template_uuid: str, source: str) -> None:
        cfg = {TEMPLATE: template_uuid, TAG: template_uuid}
        with self._errors(f"prepare template {template_uuid}"):
            if source.startswith("vdi:"):  # a disk already in the pool (uuid or name label): copy it over
                key = source[4:]
                vdis = self._x("VDI.get_all_records")
                src = next((r for r, v in vdis.items() if key in (v["uuid"], v["name_label"])), None)
                if src is None:
                    raise TemplateNotFound(template_uuid)
                vdi = self._async("VDI.copy", src, sr)
                self._x("VDI.set_other_config", vdi, cfg)
                self._x("VDI.set_name_label", vdi, f"template {template_uuid}")
                return
            path = source[7:] if source.startswith("file://") else source
            try:
                size = os.path.getsize(path)
            except OSError:
                raise TemplateNotFound(template_uuid) from None
            vdi = self._x("VDI.create", {"name_label": f"template {template_uuid}", "name_description": source,
                                         "SR": sr, "virtual_size": str(max(size, MiB)), "type": "user",
                                         "sharable": False, "read_only": False, "other_config": {},
                                         "xenstore_data": {}, "sm_config": {}, "tags": []})
            try:
                self._upload(vdi, path)
                self._x("VDI.set_other_config", vdi, cfg)  # marked only once its content is complete
            except BaseException:
                with contextlib.suppress(XenAPI.Failure):
                    self._x("VDI.destroy", vdi)
                raise

    def _upload(self, vdi: str, path: str) -> None:
        """Raw upload into a VDI: HTTP PUT ``/import_raw_vdi`` on the master (an in-process fake session
        offers the same as a method)."""
        session = self._conn._session
        importer = getattr(type(session), "import_raw_vdi", None)
        with open(path, "rb") as f:
            if importer is not None:
                importer(session, vdi, f.read())
                return
            import http.client

            parts = urlsplit(self._conn.master_url)
            if not parts.hostname:
                raise DriverError(f"uploading template to {self._address}: no host in XenAPI URL "
                                  f"{self._conn.master_url!r}")
            cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = cls(parts.hostname, parts.port, timeout=600)
            try:
                conn.request("PUT", f"/import_raw_vdi?session_id={session.handle}&vdi={vdi}&format=raw", body=f,
                             headers={"Content-Length": str(os.path.getsize(path))})
                resp = conn.getresponse()
                if resp.status != 200:
                    raise DriverError(f"uploading template to {self._address}: HTTP {resp.status}")
            except OSError as exc:
                raise HostUnreachable(self._address, str(exc)) from None
            finally:
                conn.close()

    # ============================================================================================ networks

    def _network_for(self, nic: NicSpec) -> str:
        name = nic.network or nic.bridge
        with self._net_lock:
            nets = self._x("network.get_all_records")
            if name:
                for ref, rec in nets.items():
                    if name in (rec.get("other_config", {}).get(NETWORK), rec.get("name_label"), rec.get("bridge")):
                        return ref
            elif nic.vlan is None:
                pifs = self._x("host.get_PIFs", self.host_ref)
                for pif in pifs:
                    if self._x("PIF.get_management", pif):
                        return self._x("PIF.get_network", pif)
                return next(iter(nets))
            label = name or f"devcloud-vlan-{nic.vlan}"
            for ref, rec in nets.items():
                if rec.get("other_config", {}).get(NETWORK) == label:
                    return ref
            net = self._x("network.create", {"name_label": label, "name_description": "devcloud guest network",
                                             "MTU": "1500", "other_config": {NETWORK: label}, "tags": []})
            if nic.vlan is not None:
                try:
                    self._x("pool.create_VLAN", self._management_device(), net, str(nic.vlan))
                except XenAPI.Failure:
                    with contextlib.suppress(XenAPI.Failure):
                        self._x("network.destroy", net)
                    raise
            return net

    def _management_device(self) -> str:
        for pif in self._x("host.get_PIFs", self.host_ref):
            rec = self._x("PIF.get_record", pif)
            if rec.get("management"):
                return rec["device"]
        return "eth0"

    def plug_nic(self, vm_uuid: str, nic: NicSpec) -> DomainInfo:
        ref, rec = self._vm(vm_uuid)
        with self._errors("plug a NIC", vm_uuid):
            vifs = [self._x("VIF.get_record", v) for v in rec["VIFs"]]
            if any(v["MAC"].lower() == nic.mac.lower() for v in vifs):
                return self._info(ref)
            running = rec["power_state"] == "Running"
            if running:
                self.require(Capability.NIC_HOTPLUG)
            used = {str(v["device"]) for v in vifs}
            device = nic.device_id if str(nic.device_id) not in used else \
                next(n for n in range(0, 64) if str(n) not in used)
            vif = self._x("VIF.create", self._vif_record(ref, nic, device))
            if running:
                try:
                    self._x("VIF.plug", vif)
                except XenAPI.Failure:
                    with contextlib.suppress(XenAPI.Failure):
                        self._x("VIF.destroy", vif)
                    raise
            return self._info(ref)

    def unplug_nic(self, vm_uuid: str, mac: str) -> DomainInfo:
        ref, rec = self._vm(vm_uuid)
        with self._errors("unplug a NIC", vm_uuid):
            for vif in rec["VIFs"]:
                v = self._x("VIF.get_record", vif)
                if v["MAC"].lower() != mac.lower():
                    continue
                if v["currently_attached"]:
                    self.require(Capability.NIC_HOTPLUG)
                    self._x("VIF.unplug", vif)
                self._x("VIF.destroy", vif)
            return self._info(ref)

    def console_address(self, vm_uuid: str) -> ConsoleAddress:
        ref, rec = self._vm(vm_uuid)
        if rec["power_state"] != "Running":
            raise InvalidDomainState(vm_uuid, power_state(rec["power_state"]).value, "open the console of")
        with self._errors("find the console", vm_uuid):
            consoles = [self._x("console.get_record", c) for c in self._x("VM.get_consoles", ref)]
        consoles.sort(key=lambda c: c.get("protocol") != "rfb")
        for con in consoles:
            loc = urlsplit(con.get("location", ""))
            if loc.hostname:
                port = loc.port or (443 if loc.scheme == "https" else 80)
                return ConsoleAddress(protocol="vnc" if con.get("protocol") == "rfb" else "serial",
                                      host=loc.hostname, port=port)
        raise DriverError(f"domain {vm_uuid} has no console on {self._address}")

    # ============================================================================================ events

    def register_event_listener(self, callback: EventListener):  # type: ignore[no-untyped-def]
        unregister = super().register_event_listener(callback)
        if self._events_thread is None or not self._events_thread.is_alive():
            self._events_stop.clear()
            ready = threading.Event()
            self._events_thread = threading.Thread(target=self._watch_events, args=(ready,), daemon=True,
                                                   name=f"xenapi-events-{self._address}")
            self._events_thread.start()
            ready.wait(10.0)
        return unregister

    def _watch_events(self, ready: threading.Event) -> None:
        known: dict[str, tuple[str, PowerState]] = {}  # VM ref -> (our uuid, state) for this host's VMs
        token = ""
        backoff = 0.5
        while not self._events_stop.is_set():
            try:
                if self._events_conn is None:
                    self._events_conn = XapiConnection(self._conn.master_url, self._conn.username,
                                                       self._conn.password, self._conn.factory)
                batch = self._events_conn.call("event.from", ["vm"], token, float(self.event_timeout))
                first = token == ""
                token = batch["token"]
                for ev in batch["events"]:
                    self._event(ev, known, initial=first)
                if first:
                    ready.set()
                backoff = 0.5
            except Exception as exc:  # noqa: BLE001 - keep watching; a dead master comes back
                if self._events_stop.is_set():
                    break
                log.debug("XenAPI event watch on %s: %s", self._address, exc)
                if self._events_conn is not None:
                    with contextlib.suppress(Exception):
                        self._events_conn.logout()
                self._events_conn = None
                token = ""
                ready.set()
                self._events_stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        ready.set()

    def _event(self, ev: dict[str, Any], known: dict[str, tuple[str, PowerState]], *, initial: bool) -> None:
        ref, op, snap = ev.get("ref"), ev.get("operation"), ev.get("snapshot") or {}
        if ref is None:  # every event.from record names its object; nothing to track without one
            return
        if op == "del":
            old = known.pop(ref, None)
            if old is not None:
                self._emit(LifecycleEvent(vm_uuid=old[0], type=LifecycleEventType.UNDEFINED,
                                          state=PowerState.UNKNOWN, detail="VM destroyed"))
            return
        if not snap or not self._guest(snap) or TAG not in snap.get("other_config", {}):
            return
        resident = snap.get("resident_on", NULL)
        mine = resident == self._host_ref or (resident in (NULL, "") and
                                              (ref in known or snap.get("affinity") == self._host_ref))
        if not mine:
            known.pop(ref, None)
            return
        uuid, state = snap["other_config"][TAG], power_state(snap.get("power_state"))
        old = known.get(ref)
        known[ref] = (uuid, state)
        if initial:
            return
        if old is None:
            self._emit(LifecycleEvent(vm_uuid=uuid, type=LifecycleEventType.DEFINED, state=state))
            if state is PowerState.STOPPED:
                return
        elif old[1] is state:
            return
        kind: LifecycleEventType | None
        if old is not None and old[1] is PowerState.PAUSED and state is PowerState.RUNNING:
            kind = LifecycleEventType.RESUMED
        else:
            kind = _EVENT_FOR_STATE.get(state)
        if kind is not None:
            self._emit(LifecycleEvent(vm_uuid=uuid, type=kind, state=state, detail=f"xapi {snap.get('power_state')}"))


def _nfs_target(path: str, default_server: str | None) -> tuple[str | None, str]:
    """(server, export path) from ``server:/export``, ``nfs://server/export`` or ``/export``."""
    if path.startswith("nfs://"):
        p = urlsplit(path)
        return p.hostname, p.path or "/"
    if ":" in path and not path.startswith("/"):
        server, _, export = path.partition(":")
        return server, export or "/"
    return default_server, path


__all__ = ["POWER_STATE_MAP", "XenAPIDriver", "power_state"]
