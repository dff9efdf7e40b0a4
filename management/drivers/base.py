"""The hypervisor driver contract.

A driver is the only code that talks to a hypervisor. Services call these few coarse methods; everything
hypervisor-specific (libvirt XML, XenAPI refs, simulator dicts) stays behind them.

Rules every driver obeys (the contract suite in ``tests/contract/drivers`` checks them):

1. **Atomic spawn.** ``spawn`` either returns a defined (and, if ``spec.start``, running) domain, or raises
   and leaves nothing behind: no domain definition, no volume it created for the spec.
2. **Idempotent removal.** ``destroy``, ``delete_volume`` and ``delete_volume_snapshot`` succeed when the
   object (or its pool) is already gone. ``start`` of a Running domain and ``stop`` of a Stopped one are
   no-ops that succeed.
3. **Our ids only.** Hypervisor ids (libvirt domain ids/names, Xen OpaqueRefs, file paths chosen by the
   driver are fine to *report* in ``path``) never replace our UUIDs: domains are addressed by ``vm_uuid``
   (the CloudStack VM uuid, also the libvirt domain UUID), volumes by ``(pool, volume_uuid)``.
4. **Normalised states.** Drivers return :class:`PowerState` members only, via a ``POWER_STATE_MAP``-style
   table; never raw ``virDomainState`` ints or Xen strings.
5. **No database.** Drivers never import ``management.db``, ``management.models``, ``management.services`` or
   ``management.api``. What they need to tell the rest of the system goes through return values, exceptions
   (:mod:`management.drivers.errors`) and lifecycle events.
6. **Declared capabilities.** An operation whose capability flag is False raises
   :class:`~management.drivers.errors.CapabilityNotSupported`; a driver never raises ``NotImplementedError``
   for a capability it claims.
7. **Errors.** Every failure is a :class:`~management.drivers.errors.DriverError` subclass; an unknown
   ``vm_uuid`` raises ``DomainNotFound`` (except ``get_domain``, which returns None, and ``destroy``).

Units: memory of domains in MiB, host memory and volume sizes in bytes, CPU speed in MHz.
Thread-safety: a driver instance may be called from several worker threads at once.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar

from management.drivers.errors import CapabilityNotSupported

log = logging.getLogger(__name__)

GiB = 1024**3
MiB = 1024**2


class PowerState(StrEnum):
    """Normalised power state; spellings match CloudStack's VM power states."""

    RUNNING = "Running"
    STOPPED = "Stopped"  # defined but not running (libvirt shutoff, Xen Halted)
    PAUSED = "Paused"
    CRASHED = "Crashed"
    UNKNOWN = "Unknown"


class Capability(StrEnum):
    VOLUME_SNAPSHOT = "volume_snapshot"  # snapshot_volume / revert_volume_snapshot / delete_volume_snapshot
    VOLUME_RESIZE = "volume_resize"  # resize_volume
    VOLUME_HOTPLUG = "volume_hotplug"  # attach/detach while the domain is Running
    NIC_HOTPLUG = "nic_hotplug"  # plug_nic / unplug_nic (on a Running domain; Stopped is always allowed)
    CONSOLE = "console"  # console_address
    LIVE_MIGRATION = "live_migration"  # migrate() of a Running domain to another host, the guest running on
    STORAGE_MIGRATION = "storage_migration"  # migrate(volumes=...) copies disks along; migrate_volume() between pools
    EVENTS = "events"  # lifecycle events are delivered to registered listeners
    CONFIG_DRIVE = "config_drive"  # DomainSpec.user_data/metadata are exposed to the guest
    BACKUP = "backup"  # backup_disks / restore_disk / delete_backup (files in a directory the host sees)
    VOLUME_IMPORT = "volume_import"  # list_volumes / adopt_volume: files in a pool devcloud did not create
    VOLUME_CHECK = "volume_check"  # check_volume (qemu-img check [-r leaks|all])
    DOMAIN_IMPORT = "domain_import"  # foreign_domains / adopt_domain / release_domain
    VM_STATS = "vm_stats"  # vm_stats: a domain's CPU and memory use (autoscale policies read them)
    HA_HEARTBEAT = "ha_heartbeat"  # read_heartbeat: hosts' storage heartbeats, the HA investigator's second signal
    VM_SNAPSHOT = "vm_snapshot"  # snapshot_domain / revert_domain_snapshot / delete_domain_snapshot (disks)
    VM_SNAPSHOT_MEMORY = "vm_snapshot_memory"  # snapshot_domain(memory=True): RAM too; revert resumes there
    CDROM = "cdrom"  # insert_cdrom / eject_cdrom: a media change, on a Running domain too; DomainSpec.cdrom
    VOLUME_TRANSFER = "volume_transfer"  # export_volume / import_volume: a volume to or from an image file

    DOMAIN_STATS = "domain_stats"  # domain_stats: per-domain CPU, memory, network and disk counters


def make_capabilities(**flags: bool) -> Mapping[str, bool]:
    """A read-only mapping holding every known capability (unlisted ones False).

    Unknown names raise, so a typo cannot silently declare nothing.
    """
    caps = {c.value: False for c in Capability}
    for key, value in flags.items():
        if key not in caps:
            raise ValueError(f"unknown capability {key!r}")
        caps[key] = bool(value)
    return MappingProxyType(caps)


# ---------------------------------------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class DiskSpec:
    """One disk of a domain.

    ``create=True``: the driver creates volume ``volume_uuid`` in ``pool`` (a clone of the prepared
    ``template`` if given, else blank of ``size_bytes``) and owns it: ``destroy`` deletes it.
    ``create=False``: the volume already exists (create_volume) and is only attached; ``destroy`` detaches
    it and leaves it in the pool.
    """

    volume_uuid: str
    pool: str
    size_bytes: int = 0
    create: bool = True
    template: str | None = None  # template uuid already prepared on ``pool`` (prepare_template)
    device_id: int = 0  # CloudStack deviceid: 0 = root
    bus: str = "virtio"
    format: str = "qcow2"


@dataclass(frozen=True, slots=True)
class NicSpec:
    mac: str
    bridge: str | None = None  # host bridge to plug into (libvirt <interface type='bridge'>)
    network: str | None = None  # or a hypervisor-side named network (libvirt <interface type='network'>)
    vlan: int | None = None
    ip: str | None = None  # informational (DHCP/config drive); drivers do not configure the guest
    device_id: int = 0
    model: str = "virtio"
    # (VNI, multicast group, an address of the management side): the bridge reaches the network's router over
    # VXLAN on a remote host (drivers.libvirt.overlay); the NIC's MTU leaves room for the encapsulation
    overlay: tuple[int, str, str] | None = None


@dataclass(frozen=True, slots=True)
class DomainSpec:
    uuid: str  # our VM uuid; becomes the hypervisor's domain UUID where it has one
    name: str  # CloudStack instance name, e.g. "i-2-3-VM"
    vcpus: int
    memory_mib: int
    cpu_mhz: int = 0  # per vcpu; 0 = unspecified (used for capacity/shares only)
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    start: bool = True  # False: define only
    user_data: str | None = None  # served through a config drive when the driver has CONFIG_DRIVE
    metadata: Mapping[str, str] = field(default_factory=dict)  # config-drive metadata (hostname, ...)
    os_type: str = "Other"
    extra: Mapping[str, str] = field(default_factory=dict)  # driver-specific hints, prefixed by driver name
    # (pool, volume) of an ISO prepared with prepare_template, in the domain's CD-ROM drive (CDROM); the domain
    # boots from it first when the root disk is blank (deploy from an ISO)
    cdrom: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class DomainInfo:
    uuid: str
    name: str
    state: PowerState
    vcpus: int
    memory_mib: int
    volumes: tuple[str, ...] = ()  # uuids of attached volumes (root first), in device order
    macs: tuple[str, ...] = ()  # MACs of plugged NICs
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A primary storage pool as the management server knows it (CloudStack ModifyStoragePoolCommand)."""

    name: str  # our identifier (pool uuid or name); what every volume call passes as ``pool``
    path: str  # local directory, or the export path of an NFS pool
    kind: str = "dir"  # dir | nfs | ...; drivers may refuse kinds they do not handle
    host: str | None = None  # NFS server; None: an NFS pool's path is already mounted on the host
    capacity_bytes: int | None = None  # simulator only: pretend size


@dataclass(frozen=True, slots=True)
class PoolInfo:
    name: str
    path: str
    capacity_bytes: int
    available_bytes: int
    allocated_bytes: int


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    uuid: str
    pool: str
    path: str  # where the hypervisor sees it (informational)
    size_bytes: int  # virtual size
    format: str = "qcow2"
    allocated_bytes: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    uuid: str
    volume_uuid: str
    pool: str
    size_bytes: int
    created_at: float


@dataclass(frozen=True, slots=True)
class BackupDisk:
    """One volume of a backup: copied to ``name`` inside the backup directory."""

    pool: str
    volume_uuid: str
    name: str


@dataclass(frozen=True, slots=True)
class ForeignDisk:
    device: str  # target device (vda, sdb, ...)
    bus: str
    path: str
    pool: str | None  # the pool holding the file (our pool uuid), None when it is in no known pool
    volume: str | None  # its name in that pool
    size_bytes: int
    format: str


@dataclass(frozen=True, slots=True)
class ForeignNic:
    mac: str
    source: str  # bridge or network name
    model: str


@dataclass(frozen=True, slots=True)
class ForeignDomain:
    """A domain of the host that this server did not define."""

    uuid: str
    name: str
    state: PowerState
    vcpus: int
    memory_mib: int
    disks: tuple[ForeignDisk, ...] = ()
    nics: tuple[ForeignNic, ...] = ()


@dataclass(frozen=True, slots=True)
class DomainSnapshotInfo:
    """A snapshot of a whole domain: every disk at one instant, and its RAM when ``memory``."""

    uuid: str
    vm_uuid: str
    memory: bool
    created_at: float
    size_bytes: int = 0  # what it occupies (memory image included), where the hypervisor reports it


@dataclass(frozen=True, slots=True)
class HostInfo:
    hostname: str
    cpu_sockets: int
    cpu_cores: int  # total cores (all sockets)
    cpu_mhz: int
    memory_bytes: int
    hypervisor_type: str  # CloudStack spelling: "KVM", "Simulator", "XenServer", ...
    hypervisor_version: str
    virt_type: str  # kvm | qemu | xen | simulator
    arch: str = "x86_64"
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HostStats:
    memory_total_bytes: int
    memory_used_bytes: int
    memory_free_bytes: int
    cpu_utilization: float  # percent, 0..100
    vcpus_allocated: int  # sum of vcpus of Running domains
    domains_running: int


@dataclass(frozen=True, slots=True)
class VmStats:
    cpu_percent: float  # busy share of the domain's vCPUs since the previous sample, 0..100
    memory_percent: float  # share of the domain's memory in use, 0..100


@dataclass(frozen=True, slots=True)
class DiskStats:
    """Cumulative I/O counters of one attached volume since the domain started."""

    read_bytes: int = 0
    write_bytes: int = 0
    read_requests: int = 0
    write_requests: int = 0


@dataclass(frozen=True, slots=True)
class DomainStats:
    """A domain's counters at one moment (CloudStack's GetVmStatsCommand answer). Counters are cumulative since
    the domain started; rates come from two samples. ``cpu_utilization`` is set by drivers that know it directly
    (percent of the domain's vCPUs); otherwise callers derive it from ``cpu_time_ns`` deltas."""

    vcpus: int
    cpu_time_ns: int
    memory_kib: int  # what the domain has
    memory_unused_kib: int | None = None  # free inside the guest (balloon driver), when the guest reports it
    memory_target_kib: int | None = None  # the balloon target
    net_rx_bytes: int = 0
    net_tx_bytes: int = 0
    disks: Mapping[str, DiskStats] = field(default_factory=dict)  # volume uuid -> counters
    cpu_utilization: float | None = None

    @property
    def disk_read_bytes(self) -> int:
        return sum(d.read_bytes for d in self.disks.values())

    @property
    def disk_write_bytes(self) -> int:
        return sum(d.write_bytes for d in self.disks.values())

    @property
    def disk_read_requests(self) -> int:
        return sum(d.read_requests for d in self.disks.values())

    @property
    def disk_write_requests(self) -> int:
        return sum(d.write_requests for d in self.disks.values())


@dataclass(frozen=True, slots=True)
class ConsoleAddress:
    protocol: str  # vnc | spice | serial
    host: str
    port: int
    password: str | None = None


class LifecycleEventType(StrEnum):
    DEFINED = "Defined"
    STARTED = "Started"
    STOPPED = "Stopped"
    REBOOTED = "Rebooted"
    PAUSED = "Paused"
    RESUMED = "Resumed"
    CRASHED = "Crashed"
    UNDEFINED = "Undefined"


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    vm_uuid: str
    type: LifecycleEventType
    state: PowerState
    timestamp: float = field(default_factory=time.time)
    detail: str = ""


EventListener = Callable[[LifecycleEvent], None]


# ---------------------------------------------------------------------------------------------- the contract


class HypervisorDriver(abc.ABC):
    """One instance talks to one hypervisor host, identified by ``url``.

    Constructed with ``cls(url, **options)`` (see :mod:`management.drivers.registry`); construction does no
    I/O. ``connect()`` opens the connection (idempotent); ``close()`` releases it (idempotent). Drivers may
    connect lazily on first use. Usable as a context manager.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Mapping[str, bool]] = make_capabilities()

    def __init__(self, url: str) -> None:
        self.url = url
        self._listeners: list[EventListener] = []
        self._listeners_lock = threading.Lock()

    # -- capabilities ---------------------------------------------------------------------------------------

    def supports(self, capability: str) -> bool:
        return bool(self.capabilities.get(str(capability), False))

    def require(self, capability: str) -> None:
        """Raise CapabilityNotSupported unless the capability is declared; call at the top of gated ops."""
        if not self.supports(capability):
            raise CapabilityNotSupported(self.name, str(capability))

    # -- connection -----------------------------------------------------------------------------------------

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection; raises HostUnreachable if the host cannot be reached."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection and stop event delivery. Safe to call twice."""

    def __enter__(self) -> HypervisorDriver:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- host -----------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def host_info(self) -> HostInfo:
        """Static facts about the host (what CloudStack's StartupRoutingCommand reports)."""

    @abc.abstractmethod
    def host_stats(self) -> HostStats:
        """Current usage (GetHostStatsCommand)."""

    # -- domains --------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def list_domains(self) -> list[DomainInfo]:
        """Every domain defined on the host that has a UUID, running or not."""

    @abc.abstractmethod
    def get_domain(self, vm_uuid: str) -> DomainInfo | None:
        """The domain, or None if it is not defined here."""

    @abc.abstractmethod
    def spawn(self, spec: DomainSpec) -> DomainInfo:
        """Create the disks with ``create=True``, define the domain, start it if ``spec.start``.

        Atomic: on any failure, everything created so far is removed before the error propagates.
        Raises DomainExists if ``spec.uuid`` is already defined, PoolNotFound/VolumeNotFound/TemplateNotFound
        for missing storage, InsufficientResources when the host cannot fit it.
        """

    @abc.abstractmethod
    def start(self, vm_uuid: str) -> DomainInfo:
        """Start a defined domain (no-op if Running). Resumes a Paused one."""

    @abc.abstractmethod
    def stop(self, vm_uuid: str, force: bool = False) -> DomainInfo:
        """Graceful shutdown (``force``: power off). Returns once the domain is Stopped; a graceful stop
        that does not finish in the driver's timeout raises DriverTimeout. No-op if already Stopped."""

    @abc.abstractmethod
    def reboot(self, vm_uuid: str) -> DomainInfo:
        """Reboot a Running domain; it is Running afterwards. InvalidDomainState if not Running."""

    @abc.abstractmethod
    def destroy(self, vm_uuid: str) -> None:
        """Power off, undefine, delete the volumes ``spawn`` created for it, detach the others.

        Succeeds (no-op) when the domain does not exist.
        """

    # -- volumes on a domain --------------------------------------------------------------------------------

    @abc.abstractmethod
    def attach_volume(
        self, vm_uuid: str, pool: str, volume_uuid: str, device_id: int | None = None
    ) -> DomainInfo:
        """Attach an existing volume (no-op if already attached to this domain).

        VolumeInUse if attached to another domain; needs VOLUME_HOTPLUG when the domain is Running.
        """

    @abc.abstractmethod
    def detach_volume(self, vm_uuid: str, volume_uuid: str) -> DomainInfo:
        """Detach (no-op if not attached). Needs VOLUME_HOTPLUG when the domain is Running."""

    # -- storage --------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def ensure_pool(self, spec: PoolSpec) -> PoolInfo:
        """Make the pool known to the hypervisor (create/start if needed). Idempotent; returns its usage."""

    @abc.abstractmethod
    def get_volume(self, pool: str, volume_uuid: str) -> VolumeInfo | None:
        """The volume, or None if it is not in the pool. PoolNotFound if the pool is unknown."""

    @abc.abstractmethod
    def create_volume(
        self,
        pool: str,
        volume_uuid: str,
        size_bytes: int,
        *,
        template: str | None = None,
        format: str = "qcow2",
    ) -> VolumeInfo:
        """Create a blank volume, or a clone of a prepared template (size at least the template's)."""

    @abc.abstractmethod
    def delete_volume(self, pool: str, volume_uuid: str) -> None:
        """Delete the volume and its snapshots. No-op when volume or pool is gone; VolumeInUse if attached."""

    @abc.abstractmethod
    def resize_volume(self, pool: str, volume_uuid: str, new_size_bytes: int) -> VolumeInfo:
        """Grow a volume (VOLUME_RESIZE). Shrinking raises DriverError."""

    @abc.abstractmethod
    def snapshot_volume(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> SnapshotInfo:
        """Point-in-time snapshot of a volume (VOLUME_SNAPSHOT)."""

    @abc.abstractmethod
    def revert_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> VolumeInfo:
        """Restore the volume to the snapshot (VOLUME_SNAPSHOT). The volume must not be in use by a Running
        domain (InvalidDomainState); SnapshotNotFound if unknown. The snapshot is kept."""

    @abc.abstractmethod
    def delete_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> None:
        """Delete a snapshot (VOLUME_SNAPSHOT). No-op if it, its volume or pool is gone."""

    def get_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> VolumeInfo | None:
        """The snapshot as a standalone image (its path and size), for drivers that keep one; None otherwise
        (the snapshot exists but has no file of its own to read, or it is unknown)."""
        return None

    def migrate_volume(self, pool: str, volume_uuid: str, dest_pool: str) -> VolumeInfo:
        """Move a volume to another pool of this host (STORAGE_MIGRATION): copy, then delete the source. The volume
        must not be in use by a Running domain (InvalidDomainState); a Stopped domain using it uses the copy."""
        self.require(Capability.STORAGE_MIGRATION)
        raise NotImplementedError  # a driver declaring STORAGE_MIGRATION overrides this

    def export_volume(self, pool: str, volume_uuid: str, dest_path: str) -> int:
        """Write the volume's whole content (backing chain folded in) as a standalone image file at ``dest_path``
        on the management server (VOLUME_TRANSFER); returns its size in bytes. Not while a Running domain uses
        it (InvalidDomainState)."""
        self.require(Capability.VOLUME_TRANSFER)
        raise NotImplementedError

    def import_volume(self, pool: str, volume_uuid: str, source_path: str) -> VolumeInfo:
        """Create volume ``volume_uuid`` from an image file on the management server (VOLUME_TRANSFER); an
        ordinary volume afterwards (attachable, deletable). DriverError if it exists."""
        self.require(Capability.VOLUME_TRANSFER)
        raise NotImplementedError

    @abc.abstractmethod
    def prepare_template(self, pool: str, template_uuid: str, source: str) -> VolumeInfo:
        """Copy a template (local path or URL, as the driver supports) to the pool once, as a volume named
        ``template_uuid`` that DiskSpec.template / create_volume(template=) clone from. Idempotent:
        returns the existing copy. TemplateNotFound if the source cannot be read."""

    # -- volumes this server did not create (VOLUME_IMPORT, VOLUME_CHECK) -------------------------------------

    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        """Every volume (file) of the pool as the hypervisor sees it now, ours or not."""
        self.require(Capability.VOLUME_IMPORT)
        raise CapabilityNotSupported(self.name, Capability.VOLUME_IMPORT)

    def adopt_volume(self, pool: str, name: str, volume_uuid: str) -> VolumeInfo:
        """Makes the pool's volume ``name`` the volume ``volume_uuid`` (renamed in place: this contract addresses
        volumes by uuid). VolumeNotFound when missing; VolumeInUse when a domain uses it."""
        self.require(Capability.VOLUME_IMPORT)
        raise CapabilityNotSupported(self.name, Capability.VOLUME_IMPORT)

    def check_volume(self, pool: str, volume_uuid: str, repair: str | None = None) -> tuple[dict[str, object],
                                                                                         dict[str, object] | None]:
        """The image's consistency check (qemu-img check's JSON), and with ``repair`` ("leaks" or "all") the
        result of the repair run. The volume must not be in use by a running domain (InvalidDomainState)."""
        self.require(Capability.VOLUME_CHECK)
        raise CapabilityNotSupported(self.name, Capability.VOLUME_CHECK)

    # -- domains this server did not define (DOMAIN_IMPORT) -------------------------------------------------

    def foreign_domains(self) -> list[ForeignDomain]:
        """The host's domains that carry no mark of ours, with their disks and NICs."""
        self.require(Capability.DOMAIN_IMPORT)
        raise CapabilityNotSupported(self.name, Capability.DOMAIN_IMPORT)

    def adopt_domain(self, vm_uuid: str, volumes: dict[str, tuple[str, str]], owned: tuple[str, str] | None
                     ) -> DomainInfo:
        """Takes a shut-off foreign domain over: each disk path in ``volumes`` becomes the volume
        ``(pool, volume uuid)`` (renamed in its pool), and the domain gets our mark, ``owned`` being the volume
        ``destroy`` deletes (its root disk). InvalidDomainState unless it is Stopped."""
        self.require(Capability.DOMAIN_IMPORT)
        raise CapabilityNotSupported(self.name, Capability.DOMAIN_IMPORT)

    def release_domain(self, vm_uuid: str) -> None:
        """Removes our mark: the domain and its disks stay, and from now on they are the host's own."""
        self.require(Capability.DOMAIN_IMPORT)
        raise CapabilityNotSupported(self.name, Capability.DOMAIN_IMPORT)

    # -- backups (BACKUP) -----------------------------------------------------------------------------------

    def backup_disks(self, vm_uuid: str | None, target_dir: str, disks: tuple[BackupDisk, ...]) -> dict[str, int]:
        """Full copies of the volumes into ``target_dir`` (a directory on the host; created if missing), taken at
        one point in time for all of them when ``vm_uuid`` runs here (the guest keeps running). Returns the size of
        each copy by volume uuid. On failure no copy is left behind."""
        self.require(Capability.BACKUP)
        raise CapabilityNotSupported(self.name, Capability.BACKUP)

    def restore_disk(self, pool: str, volume_uuid: str, source_dir: str, name: str, *,
                     create: bool = False) -> VolumeInfo:
        """Writes the backup copy ``source_dir/name`` over the volume (which no running domain may use:
        InvalidDomainState), or with ``create`` into a new volume ``volume_uuid`` of the pool. VolumeNotFound when
        the copy is missing."""
        self.require(Capability.BACKUP)
        raise CapabilityNotSupported(self.name, Capability.BACKUP)

    def delete_backup(self, target_dir: str) -> None:
        """Deletes the copies in ``target_dir`` and the directory. No-op when it is gone."""
        self.require(Capability.BACKUP)
        raise CapabilityNotSupported(self.name, Capability.BACKUP)

    # -- network and console --------------------------------------------------------------------------------

    @abc.abstractmethod
    def plug_nic(self, vm_uuid: str, nic: NicSpec) -> DomainInfo:
        """Add a NIC (no-op if that MAC is plugged). Needs NIC_HOTPLUG when the domain is Running."""

    @abc.abstractmethod
    def unplug_nic(self, vm_uuid: str, mac: str) -> DomainInfo:
        """Remove a NIC by MAC (no-op if absent). Needs NIC_HOTPLUG when the domain is Running."""

    def vm_stats(self, vm_uuid: str) -> VmStats:
        """The Running domain's current CPU and memory use (VM_STATS)."""
        raise CapabilityNotSupported(self.name, Capability.VM_STATS)

    @abc.abstractmethod
    def console_address(self, vm_uuid: str) -> ConsoleAddress:
        """Where a console proxy connects to reach the domain's console (CONSOLE). Domain must be Running."""

    # -- HA -------------------------------------------------------------------------------------------------

    def read_heartbeat(self, pool: str, host_id: str) -> float | None:
        """HA_HEARTBEAT: when host ``host_id`` last wrote its heartbeat into ``pool``, as this host sees the pool
        (epoch seconds; None if it never did). The HA investigator asks a neighbour of a host that stopped
        answering: a fresh heartbeat means the host is alive and only its management link failed."""
        self.require(Capability.HA_HEARTBEAT)
        return None

    # -- whole-domain snapshots -----------------------------------------------------------------------------

    def snapshot_domain(self, vm_uuid: str, snapshot_uuid: str, *, memory: bool = False,
                        quiesce: bool = False) -> DomainSnapshotInfo:
        """Snapshot every disk of the domain at one instant (VM_SNAPSHOT); with ``memory`` its RAM and device
        state too (VM_SNAPSHOT_MEMORY; the domain must be Running, else InvalidDomainState). ``quiesce`` asks a
        guest agent to freeze the guest's filesystems first; a guest without one raises GuestAgentUnavailable and
        nothing is taken. DriverError if ``snapshot_uuid`` exists on the domain."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotImplementedError

    def revert_domain_snapshot(self, vm_uuid: str, snapshot_uuid: str) -> DomainInfo:
        """Put the disks back to the snapshot (VM_SNAPSHOT). A memory snapshot leaves the domain Running at the
        snapshot's instant; a disk-only one leaves it Stopped. The snapshot is kept. SnapshotNotFound if unknown."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotImplementedError

    def delete_domain_snapshot(self, vm_uuid: str, snapshot_uuid: str) -> None:
        """Delete a domain snapshot (VM_SNAPSHOT); no-op if it or the domain is gone. Later and earlier snapshots
        stay revertible."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotImplementedError

    def snapshot_volume_from_domain_snapshot(self, vm_uuid: str, domain_snapshot_uuid: str, pool: str,
                                             volume_uuid: str, snapshot_uuid: str) -> SnapshotInfo:
        """A volume snapshot (as snapshot_volume makes) holding the volume's content at a domain snapshot
        (VM_SNAPSHOT); the domain snapshot is kept. SnapshotNotFound if unknown."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotImplementedError

    def list_domain_snapshots(self, vm_uuid: str) -> list[DomainSnapshotInfo]:
        """The domain's snapshots, oldest first (VM_SNAPSHOT). DomainNotFound for an unknown domain."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotImplementedError

    # -- migration ------------------------------------------------------------------------------------------

    def migrate(self, vm_uuid: str, destination: HypervisorDriver, *,
                volumes: Mapping[str, str] | None = None) -> DomainInfo:
        """Move a Running domain to the host ``destination`` drives (a driver of the same kind), live: the guest
        keeps running through it (LIVE_MIGRATION). Without ``volumes`` the disks stay where they are, on storage
        both hosts reach. ``volumes`` maps volume uuid -> pool name on the destination: those disks are copied
        there while the guest runs (STORAGE_MIGRATION) and deleted at the source afterwards. Returns the
        destination's DomainInfo; the source no longer has the domain. On failure the domain keeps running
        on the source and nothing is left on the destination. InvalidDomainState unless Running."""
        self.require(Capability.LIVE_MIGRATION)
        raise NotImplementedError

    # -- CD-ROM ---------------------------------------------------------------------------------------------

    def insert_cdrom(self, vm_uuid: str, pool: str, volume_uuid: str) -> DomainInfo:
        """Put an ISO (a volume prepared with prepare_template) into the domain's CD-ROM drive (CDROM): a media
        change the guest sees while running. Replaces what was inserted."""
        self.require(Capability.CDROM)
        raise NotImplementedError

    def eject_cdrom(self, vm_uuid: str) -> DomainInfo:
        """Empty the CD-ROM drive (CDROM); no-op when it is empty."""
        self.require(Capability.CDROM)
        raise NotImplementedError

    def cdrom_of(self, vm_uuid: str) -> str | None:
        """The volume uuid in the domain's CD-ROM drive, or None (CDROM)."""
        self.require(Capability.CDROM)
        raise NotImplementedError

    def domain_stats(self, vm_uuid: str) -> DomainStats | None:
        """Counters of a Running domain (DOMAIN_STATS); None when the domain is not running or unknown."""
        self.require(Capability.DOMAIN_STATS)
        raise AssertionError("a driver declaring DOMAIN_STATS overrides domain_stats")  # pragma: no cover

    # -- events ---------------------------------------------------------------------------------------------

    def register_event_listener(self, callback: EventListener) -> Callable[[], None]:
        """Call ``callback(LifecycleEvent)`` on lifecycle changes of this host; returns an unregister hook.

        Only drivers declaring EVENTS deliver anything. Callbacks may run on a driver thread: keep them
        short and thread-safe; exceptions they raise are logged and swallowed.
        """
        with self._listeners_lock:
            self._listeners.append(callback)

        def unregister() -> None:
            with self._listeners_lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unregister

    def _emit(self, event: LifecycleEvent) -> None:
        """For subclasses: deliver an event to every listener."""
        with self._listeners_lock:
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback(event)
            except Exception:  # a broken listener must not break the driver
                log.exception("lifecycle event listener failed for %s", event)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


__all__ = [
    "BackupDisk",
    "Capability",
    "VmStats",
    "ConsoleAddress",
    "DiskSpec",
    "DomainInfo",
    "DomainSnapshotInfo",
    "DomainSpec",
    "ForeignDisk",
    "ForeignDomain",
    "ForeignNic",
    "EventListener",
    "GiB",
    "HostInfo",
    "HostStats",
    "HypervisorDriver",
    "LifecycleEvent",
    "LifecycleEventType",
    "MiB",
    "NicSpec",
    "PoolInfo",
    "PoolSpec",
    "PowerState",
    "SnapshotInfo",
    "VolumeInfo",
    "make_capabilities",
]
