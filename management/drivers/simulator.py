"""An honest in-process hypervisor simulator (CloudStack's simulator, Nova's fake driver).

State lives in a process-wide registry keyed by the host URL without its query (``http://sim/c0/h0``), so
every driver instance for the same simulated host — the API worker's, the job worker's, a test's — sees the
same domains, volumes, snapshots and capacity. It obeys the same contract as the real drivers: spawn rolls
back, removal is idempotent, memory is claimed by Running domains and refused when the host is full, pool
space is claimed by volumes.

Fault injection ("mock configurations"), per operation name (the driver method name, or ``*``):

* ``fail``  — the operation raises DriverError (spawn fails *after* creating its disks, to exercise rollback);
* ``slow``  — the operation sleeps N seconds, then succeeds;
* ``hang``  — the operation sleeps N seconds, then raises DriverTimeout;
* ``unreachable`` — every operation (connect included) raises HostUnreachable.

Shared state (``DEVCLOUD_SIMULATOR_STORE=<directory>``): each simulated host's domains, volumes, pools and faults
live in a file there, read and written under a file lock by every process that uses the host — several management
servers (a farm), a server restarted after ``kill -9``, and the test driving them all see one hypervisor, as they
would a real one (CloudStack's simulator keeps its mock state in a database for the same reason). Without it the
state is per process.

HA signal: a simulated host that ``dies`` (``faults.set_alive(False)``) stops its domains, answers nothing and
stops writing its storage heartbeat; ``read_heartbeat`` on a neighbour host tells when it wrote its last one. A
host that is only ``unreachable`` keeps its domains and its heartbeat (the management link failed, not the host).

Set through the host URL query — ``http://sim/c0/h0?fail=spawn,stop&slow=start:2&hang=stop:5&unreachable=1``
(these apply to driver instances built from that URL) — or at run time for everyone using the host through
``SimulatorFaults.for_host(url)`` / ``driver.faults``. Host size: ``?cpu=8&mhz=2000&mem=16G&sockets=1``
(``mem`` plain number = MiB; suffixes M/G/T).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pickle
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

from management.drivers import simulator_mocks
from management.drivers.base import (
    BackupDisk,
    Capability,
    ConsoleAddress,
    DiskStats,
    DomainInfo,
    DomainSnapshotInfo,
    DomainSpec,
    DomainStats,
    GiB,
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
    VmStats,
    VolumeInfo,
    make_capabilities,
)
from management.drivers.errors import (
    DomainExists,
    DomainNotFound,
    DriverError,
    DriverTimeout,
    GuestAgentUnavailable,
    HostUnreachable,
    InsufficientResources,
    InvalidDomainState,
    PoolNotFound,
    SnapshotNotFound,
    TemplateNotFound,
    VolumeInUse,
    VolumeNotFound,
)

DEFAULT_CPU_CORES = 8
DEFAULT_CPU_MHZ = 2000
DEFAULT_MEMORY_BYTES = 16 * GiB
DEFAULT_POOL_CAPACITY = 1024 * GiB
DEFAULT_TEMPLATE_SIZE = 2 * GiB
SIMULATOR_VERSION = "4.19.0-devcloud"
STORE_ENV = "DEVCLOUD_SIMULATOR_STORE"

_STATE_EVENTS = {
    PowerState.RUNNING: LifecycleEventType.STARTED,
    PowerState.STOPPED: LifecycleEventType.STOPPED,
    PowerState.PAUSED: LifecycleEventType.PAUSED,
    PowerState.CRASHED: LifecycleEventType.CRASHED,
}


def host_key(url: str) -> str:
    """The identity of a simulated host: its URL without query/fragment, host lower-cased."""
    p = urlsplit(url)
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path.rstrip("/"), "", ""))


def _parse_size_mib(value: str) -> int:
    """'16G' / '16384M' / '16384' (MiB) / '1T' -> bytes."""
    v = value.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1024, "M": MiB, "G": GiB, "T": 1024 * GiB}
    if v and v[-1] in mult:
        return int(float(v[:-1]) * mult[v[-1]])
    return int(float(v) * MiB)


# ---------------------------------------------------------------------------------------------------- faults


class SimulatorFaults:
    """Thread-safe fault configuration: one per simulated host (shared), one per URL-configured driver."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fail: dict[str, list] = {}  # op -> [remaining times or None, exception or None]
        self._slow: dict[str, float] = {}
        self._hang: dict[str, float] = {}
        self._unreachable = False
        self._died_at: float | None = None  # None: alive (writes its storage heartbeat)

    @classmethod
    def for_host(cls, url: str) -> SimulatorFaults:
        """The shared faults of the simulated host at ``url`` (creating the host if needed). With a shared store,
        changes are written to it: use them through ``HostFaults`` (what this returns then)."""
        host = _host_state(url)
        if host.store is None:
            return host.faults
        return HostFaults(host)  # type: ignore[return-value]

    @classmethod
    def from_query(cls, query: str) -> SimulatorFaults:
        faults = cls()
        q = parse_qs(query)
        for item in _csv(q.get("fail")):
            faults.fail(item)
        for item in _csv(q.get("slow")):
            op, _, secs = item.partition(":")
            faults.slow(op, float(secs or 1))
        for item in _csv(q.get("hang")):
            op, _, secs = item.partition(":")
            faults.hang(op, float(secs or 30))
        if q.get("unreachable", ["0"])[-1].lower() in ("1", "true", "yes"):
            faults.set_unreachable(True)
        return faults

    # -- configuration -----------------------------------------------------------------------------------

    def fail(self, op: str, *, times: int | None = None, error: DriverError | None = None) -> None:
        """Make ``op`` raise ``error`` (default DriverError) for the next ``times`` calls (None: always)."""
        with self._lock:
            self._fail[op] = [times, error]

    def slow(self, op: str, seconds: float) -> None:
        with self._lock:
            self._slow[op] = seconds

    def hang(self, op: str, seconds: float) -> None:
        with self._lock:
            self._hang[op] = seconds

    def set_unreachable(self, unreachable: bool = True) -> None:
        with self._lock:
            self._unreachable = unreachable

    def _set_dead(self, died_at: float | None) -> None:
        with self._lock:
            self._died_at = died_at

    @property
    def alive(self) -> bool:
        return self._died_at is None

    @property
    def died_at(self) -> float | None:
        return self._died_at

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {"fail": {k: list(v) for k, v in self._fail.items()}, "slow": dict(self._slow),
                    "hang": dict(self._hang), "unreachable": self._unreachable, "died_at": self._died_at}

    def restore(self, snap: dict[str, object]) -> None:
        with self._lock:
            self._fail = {k: list(v) for k, v in snap["fail"].items()}  # type: ignore[attr-defined]
            self._slow = dict(snap["slow"])  # type: ignore[call-overload]
            self._hang = dict(snap["hang"])  # type: ignore[call-overload]
            self._unreachable = bool(snap["unreachable"])
            self._died_at = snap["died_at"]  # type: ignore[assignment]

    def clear(self, op: str | None = None) -> None:
        """Remove every fault (or only those on ``op``)."""
        with self._lock:
            if op is None:
                self._fail.clear()
                self._slow.clear()
                self._hang.clear()
                self._unreachable = False
                self._died_at = None
            else:
                self._fail.pop(op, None)
                self._slow.pop(op, None)
                self._hang.pop(op, None)

    @property
    def unreachable(self) -> bool:
        return self._unreachable

    def __bool__(self) -> bool:
        return bool(self._fail or self._slow or self._hang or self._unreachable or self._died_at is not None)

    # -- evaluation (driver side) ---------------------------------------------------------------------------

    def delay(self, op: str) -> tuple[float, float]:
        """(slow seconds, hang seconds) for op."""
        with self._lock:
            slow = self._slow.get(op, self._slow.get("*", 0.0))
            hang = self._hang.get(op, self._hang.get("*", 0.0))
        return slow, hang

    def take_failure(self, op: str) -> DriverError | None:
        """The exception to raise for this call of ``op``, consuming one of its ``times``."""
        with self._lock:
            key = op if op in self._fail else "*" if "*" in self._fail else None
            if key is None:
                return None
            entry = self._fail[key]
            times, error = entry
            if times is not None:
                if times <= 0:
                    del self._fail[key]
                    return None
                entry[0] = times - 1
                if entry[0] == 0:
                    del self._fail[key]
        return error if error is not None else DriverError(f"simulated failure of {op}")


def _csv(values: list[str] | None) -> list[str]:
    return [item for v in values or [] for item in v.split(",") if item]


# ---------------------------------------------------------------------------------------------------- state


@dataclass
class _Snapshot:
    uuid: str
    size_bytes: int
    created_at: float


@dataclass
class _DomainSnapshot:
    uuid: str
    memory: bool
    created_at: float
    sizes: dict[str, int]  # volume uuid -> size at the snapshot


@dataclass
class _Volume:
    uuid: str
    pool: str
    size_bytes: int
    format: str
    attached_to: str | None = None
    is_template: bool = False
    snapshots: dict[str, _Snapshot] = field(default_factory=dict)


@dataclass
class _Pool:
    spec: PoolSpec
    capacity_bytes: int
    volumes: dict[str, _Volume] = field(default_factory=dict)

    @property
    def allocated(self) -> int:
        return sum(v.size_bytes for v in self.volumes.values())


@dataclass
class _Domain:
    uuid: str
    name: str
    vcpus: int
    memory_mib: int
    cpu_mhz: int
    state: PowerState = PowerState.STOPPED
    disks: dict[str, tuple[str, int]] = field(default_factory=dict)  # volume uuid -> (pool, device id)
    owned: dict[str, str] = field(default_factory=dict)  # volumes spawn created -> pool; destroy deletes them
    nics: dict[str, NicSpec] = field(default_factory=dict)
    user_data: str | None = None
    console_port: int = 0
    load: tuple[float, float] = (0.0, 0.0)  # (cpu %, memory %) vm_stats reports; set_vm_load changes it
    snapshots: dict[str, _DomainSnapshot] = field(default_factory=dict)
    cdrom: tuple[str, str] | None = None  # (pool, ISO volume)
    guest_agent: bool = False  # simulated guests have no agent unless a test says so (ex_set_guest_agent)
    started_at: float = 0.0  # when the domain last started (its counters count from there)


@dataclass
class _Host:
    key: str
    cpu_sockets: int = 1
    cpu_cores: int = DEFAULT_CPU_CORES
    cpu_mhz: int = DEFAULT_CPU_MHZ
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    lock: _HostLock = field(init=False)
    faults: SimulatorFaults = field(default_factory=SimulatorFaults)
    domains: dict[str, _Domain] = field(default_factory=dict)
    pools: dict[str, _Pool] = field(default_factory=dict)
    drivers: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    next_console_port: int = 5900
    store: _Store | None = None

    def __post_init__(self) -> None:
        self.lock = _HostLock(self)

    def snapshot(self) -> dict[str, object]:
        return {"sizes": (self.cpu_sockets, self.cpu_cores, self.cpu_mhz, self.memory_bytes),
                "domains": self.domains, "pools": self.pools, "next_console_port": self.next_console_port,
                "faults": self.faults.snapshot()}

    def restore(self, snap: dict[str, object]) -> None:
        self.cpu_sockets, self.cpu_cores, self.cpu_mhz, self.memory_bytes = snap["sizes"]  # type: ignore[misc]
        self.domains = snap["domains"]  # type: ignore[assignment]
        self.pools = snap["pools"]  # type: ignore[assignment]
        self.next_console_port = snap["next_console_port"]  # type: ignore[assignment]
        self.faults.restore(snap["faults"])  # type: ignore[arg-type]


class _Store:
    """One simulated host's state in a file shared between processes (DEVCLOUD_SIMULATOR_STORE)."""

    def __init__(self, directory: str, key: str) -> None:
        base = os.path.join(directory, hashlib.sha1(key.encode()).hexdigest()[:20])
        os.makedirs(directory, exist_ok=True)
        self.path, self.lock_path = base + ".state", base + ".lock"
        self._seen: tuple[int, int] | None = None
        self._raw = b""

    def load(self, host: _Host) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        sig = (st.st_mtime_ns, st.st_size)
        if sig == self._seen:
            return
        with open(self.path, "rb") as f:
            raw = f.read()
        host.restore(pickle.loads(raw))  # noqa: S301 - our own file, written by save() below
        self._raw, self._seen = raw, sig

    def save(self, host: _Host) -> None:
        raw = pickle.dumps(host.snapshot(), protocol=pickle.HIGHEST_PROTOCOL)
        if raw == self._raw:
            return
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(raw)
        os.replace(tmp, self.path)
        st = os.stat(self.path)
        self._raw, self._seen = raw, (st.st_mtime_ns, st.st_size)


class _HostLock:
    """The host's lock: a re-entrant thread lock, and with a shared store also an exclusive file lock that
    loads the state on the way in and writes it back (if changed) on the way out."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._rlock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> _HostLock:
        self._rlock.acquire()
        self._depth += 1
        store = self._host.store
        if self._depth == 1 and store is not None:
            try:
                self._fd = os.open(store.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                store.load(self._host)
            except BaseException:
                self._release_file()
                self._depth -= 1
                self._rlock.release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._depth == 1 and self._host.store is not None:
                try:
                    self._host.store.save(self._host)
                finally:
                    self._release_file()
        finally:
            self._depth -= 1
            self._rlock.release()

    def _release_file(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class HostFaults:
    """The faults of a simulated host kept in a shared store: every change is written back under the host lock."""

    def __init__(self, host: _Host) -> None:
        self._host = host

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._host.faults, name)
        if not callable(attr):
            with self._host.lock:
                return getattr(self._host.faults, name)

        def call(*args: object, **kw: object) -> object:
            with self._host.lock:
                return attr(*args, **kw)

        return call



_HOSTS: dict[str, _Host] = {}
_HOSTS_LOCK = threading.Lock()
# Backup copies live on a repository every host of a zone shares: (directory, file name) -> size.
_BACKUPS: dict[tuple[str, str], int] = {}


def _host_state(url: str) -> _Host:
    key = host_key(url)
    with _HOSTS_LOCK:
        host = _HOSTS.get(key)
        if host is None:
            host = _HOSTS[key] = _Host(key=key)
            directory = os.environ.get(STORE_ENV)
            if directory:
                host.store = _Store(directory, key)
        return host


def set_vm_load(url: str, vm_uuid: str, *, cpu_percent: float, memory_percent: float = 0.0) -> None:
    """What the simulated domain's vm_stats report from now on (a test's stand-in for a guest's load)."""
    host = _host_state(url)
    with host.lock:
        dom = host.domains.get(vm_uuid)
        if dom is None:
            raise DomainNotFound(vm_uuid)
        dom.load = (float(cpu_percent), float(memory_percent))


def set_host_alive(url: str, alive: bool) -> None:
    """The simulated host at ``url`` dies (its domains stop, it answers nothing, it writes no storage heartbeat) or
    comes back (answering again; its domains stay stopped, as after a power cycle)."""
    host = _host_state(url)
    with host.lock:
        if alive:
            host.faults._set_dead(None)
            host.faults.set_unreachable(False)
            return
        host.faults._set_dead(time.time())
        host.faults.set_unreachable(True)
        for dom in host.domains.values():
            dom.state = PowerState.STOPPED


def reset_simulator(url: str | None = None) -> None:
    """Forget one simulated host (or all of them): domains, volumes, faults (and their shared store). For tests."""
    with _HOSTS_LOCK:
        gone = list(_HOSTS.values()) if url is None else [h for h in (_HOSTS.get(host_key(url)),) if h]
        if url is None:
            _HOSTS.clear()
        else:
            _HOSTS.pop(host_key(url), None)
    for h in gone:
        if h.store is not None:
            for path in (h.store.path, h.store.lock_path):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


# ---------------------------------------------------------------------------------------------------- driver


class SimulatorDriver(HypervisorDriver):
    name: ClassVar[str] = "simulator"
    capabilities = make_capabilities(
        volume_snapshot=True,
        volume_resize=True,
        volume_hotplug=True,
        nic_hotplug=True,
        console=True,
        events=True,
        config_drive=True,
        backup=True,
        volume_import=True,
        volume_check=True,
        vm_stats=True,
        ha_heartbeat=True,
        live_migration=True,
        storage_migration=True,
        vm_snapshot=True,
        vm_snapshot_memory=True,
        cdrom=True,
        volume_transfer=True,
        domain_stats=True,
    )

    def __init__(self, url: str, **options: object) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        self._query = parse_qs(parts.query)
        self._url_faults = SimulatorFaults.from_query(parts.query)
        self._host = _host_state(url)
        self._apply_size()
        self._connected = False

    def _apply_size(self) -> None:
        # Host size from the URL; last URL that states a size wins (they describe the same host).
        q = self._query
        with self._host.lock:
            if "cpu" in q:
                self._host.cpu_cores = int(q["cpu"][-1])
            if "sockets" in q:
                self._host.cpu_sockets = int(q["sockets"][-1])
            if "mhz" in q:
                self._host.cpu_mhz = int(q["mhz"][-1])
            if "mem" in q:
                self._host.memory_bytes = _parse_size_mib(q["mem"][-1])

    @property
    def faults(self) -> SimulatorFaults:
        """The shared, run-time fault configuration of this simulated host."""
        return self._host.faults

    # -- fault plumbing ----------------------------------------------------------------------------------

    def _enter(self, op: str, *, fail_now: bool = True) -> dict | None:
        """Apply unreachable/slow/hang faults; and `fail` unless the op raises it later itself. (Read under the
        host lock: with a shared store that is where the current faults are, and a consumed failure is written
        back.) Then the mock configured for the agent command behind ``op`` (simulator_mocks), whose answer
        values are returned."""
        sources = (self._url_faults, self._host.faults)
        with self._host.lock:
            if any(f.unreachable for f in sources):
                raise HostUnreachable(self._host.key, "simulated")
            slow = max(f.delay(op)[0] for f in sources)
            hang = max(f.delay(op)[1] for f in sources)
            if fail_now and not slow and not hang:
                self._fail_point(op)
        if slow:
            time.sleep(slow)
        if hang:
            time.sleep(hang)
            raise DriverTimeout(op, hang)
        if fail_now and slow:
            with self._host.lock:
                self._fail_point(op)
        return simulator_mocks.apply(self._host.key, op)

    def _fail_point(self, op: str) -> None:
        for f in (self._url_faults, self._host.faults):
            err = f.take_failure(op)
            if err is not None:
                raise err

    def _broadcast(self, events: list[LifecycleEvent]) -> None:
        # Outside the host lock: listeners may call back into the driver.
        for driver in list(self._host.drivers):
            for ev in events:
                driver._emit(ev)

    # -- connection --------------------------------------------------------------------------------------

    def connect(self) -> None:
        self._enter("connect")
        self._connected = True
        self._host.drivers.add(self)

    def close(self) -> None:
        self._connected = False
        self._host.drivers.discard(self)

    # -- host --------------------------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        self._enter("host_info")
        h = self._host
        with h.lock:
            path = urlsplit(h.key).path.strip("/").replace("/", "-")
            return HostInfo(
                hostname=f"sim-{path}" if path else "sim",
                cpu_sockets=h.cpu_sockets,
                cpu_cores=h.cpu_cores,
                cpu_mhz=h.cpu_mhz,
                memory_bytes=h.memory_bytes,
                hypervisor_type="Simulator",
                hypervisor_version=SIMULATOR_VERSION,
                virt_type="simulator",
            )

    def host_stats(self) -> HostStats:
        answer = self._enter("host_stats")
        h = self._host
        with h.lock:
            running = [d for d in h.domains.values() if d.state is PowerState.RUNNING]
            used = self._claimed_memory()
            vcpus = sum(d.vcpus for d in running)
            total = h.memory_bytes
            # deterministic pretend load: each running vcpu keeps a quarter of a core busy
            util = min(100.0, 25.0 * vcpus / max(h.cpu_cores, 1))
            mocked = simulator_mocks.numbers(answer, "cpuUtilization", "totalMemoryKBs", "freeMemoryKBs")
            util = mocked.get("cpuUtilization", util)
            if "totalMemoryKBs" in mocked:
                total = int(mocked["totalMemoryKBs"] * 1024)
            if "freeMemoryKBs" in mocked:
                used = max(total - int(mocked["freeMemoryKBs"] * 1024), 0)
            return HostStats(
                memory_total_bytes=total,
                memory_used_bytes=used,
                memory_free_bytes=max(total - used, 0),
                cpu_utilization=util,
                vcpus_allocated=vcpus,
                domains_running=len(running),
            )

    def domain_stats(self, vm_uuid: str) -> DomainStats | None:
        """The simulator's numbers: a running vCPU keeps a quarter of a core busy; each NIC receives 2 KiB/s and
        sends 1 KiB/s, each disk reads 4 KiB/s and writes 2 KiB/s (4 KiB per request), counted from the start;
        a GetVmStatsCommand mock's jsonresponse overrides them."""
        answer = self._enter("domain_stats")
        with self._host.lock:
            dom = self._host.domains.get(vm_uuid)
            if dom is None or dom.state is not PowerState.RUNNING:
                return None
            up = max(time.time() - dom.started_at, 0.0)
            disks = {v: DiskStats(int(up * 4096), int(up * 2048), int(up), int(up / 2)) for v in dom.disks}
            stats = DomainStats(vcpus=dom.vcpus, cpu_time_ns=int(0.25 * dom.vcpus * up * 1e9),
                                memory_kib=dom.memory_mib * 1024, memory_unused_kib=dom.memory_mib * 256,
                                memory_target_kib=dom.memory_mib * 1024, net_rx_bytes=int(up * 2048) * len(dom.nics),
                                net_tx_bytes=int(up * 1024) * len(dom.nics), disks=disks, cpu_utilization=25.0)
        m = simulator_mocks.numbers(answer, "cpuUtilization", "networkReadKBs", "networkWriteKBs",
                                    "diskReadKBs", "diskWriteKBs", "diskReadIOs", "diskWriteIOs", "memoryKBs",
                                    "intFreeMemoryKBs", "targetMemoryKBs")
        if not m:
            return stats
        first = next(iter(disks), "")
        disk = DiskStats(int(m.get("diskReadKBs", stats.disk_read_bytes / 1024) * 1024),
                         int(m.get("diskWriteKBs", stats.disk_write_bytes / 1024) * 1024),
                         int(m.get("diskReadIOs", stats.disk_read_requests)),
                         int(m.get("diskWriteIOs", stats.disk_write_requests)))
        return DomainStats(
            vcpus=stats.vcpus, cpu_time_ns=stats.cpu_time_ns,
            memory_kib=int(m.get("memoryKBs", stats.memory_kib)),
            memory_unused_kib=int(m.get("intFreeMemoryKBs", stats.memory_unused_kib or 0)),
            memory_target_kib=int(m.get("targetMemoryKBs", stats.memory_target_kib or 0)),
            net_rx_bytes=int(m.get("networkReadKBs", stats.net_rx_bytes / 1024) * 1024),
            net_tx_bytes=int(m.get("networkWriteKBs", stats.net_tx_bytes / 1024) * 1024),
            disks={first: disk} if first else {}, cpu_utilization=m.get("cpuUtilization", 25.0))

    def _claimed_memory(self) -> int:
        # Running and Paused domains hold their memory, as on a real host.
        return sum(
            d.memory_mib * MiB
            for d in self._host.domains.values()
            if d.state in (PowerState.RUNNING, PowerState.PAUSED)
        )

    def _claim(self, dom: _Domain) -> None:
        free = self._host.memory_bytes - self._claimed_memory()
        if dom.memory_mib * MiB > free:
            raise InsufficientResources(
                f"domain {dom.uuid} needs {dom.memory_mib} MiB, host has {free // MiB} MiB free"
            )
        dom.started_at = time.time()  # called exactly when a domain (re)starts: its counters begin here

    # -- domains -----------------------------------------------------------------------------------------

    def _info(self, dom: _Domain) -> DomainInfo:
        vols = sorted(dom.disks.items(), key=lambda kv: kv[1][1])
        return DomainInfo(
            uuid=dom.uuid,
            name=dom.name,
            state=dom.state,
            vcpus=dom.vcpus,
            memory_mib=dom.memory_mib,
            volumes=tuple(v for v, _ in vols),
            macs=tuple(dom.nics),
        )

    def _domain(self, vm_uuid: str) -> _Domain:
        dom = self._host.domains.get(vm_uuid)
        if dom is None:
            raise DomainNotFound(vm_uuid)
        return dom

    def list_domains(self) -> list[DomainInfo]:
        self._enter("list_domains")
        with self._host.lock:
            return [self._info(d) for d in self._host.domains.values()]

    def get_domain(self, vm_uuid: str) -> DomainInfo | None:
        self._enter("get_domain")
        with self._host.lock:
            dom = self._host.domains.get(vm_uuid)
            return self._info(dom) if dom else None

    def spawn(self, spec: DomainSpec) -> DomainInfo:
        self._enter("spawn", fail_now=False)
        if spec.vcpus <= 0 or spec.memory_mib <= 0:
            raise DriverError(f"domain {spec.uuid}: vcpus and memory must be positive")
        events: list[LifecycleEvent] = []
        h = self._host
        with h.lock:
            if spec.uuid in h.domains:
                raise DomainExists(spec.uuid)
            dom = _Domain(
                uuid=spec.uuid,
                name=spec.name,
                vcpus=spec.vcpus,
                memory_mib=spec.memory_mib,
                cpu_mhz=spec.cpu_mhz,
                user_data=spec.user_data,
            )
            try:
                # Disks one by one, exactly as a real driver would, so a failure half-way is rolled back.
                for disk in spec.disks:
                    if disk.create:
                        self._create_volume_locked(
                            disk.pool, disk.volume_uuid, disk.size_bytes, disk.template, disk.format
                        )
                        dom.owned[disk.volume_uuid] = disk.pool
                    else:
                        vol = self._shared_volume(disk.pool, disk.volume_uuid, disk.size_bytes, disk.format)
                        if vol.attached_to not in (None, spec.uuid):
                            raise VolumeInUse(vol.uuid, vol.attached_to)
                    h.pools[disk.pool].volumes[disk.volume_uuid].attached_to = spec.uuid
                    dom.disks[disk.volume_uuid] = (disk.pool, disk.device_id)
                for nic in spec.nics:
                    dom.nics[nic.mac] = nic
                if spec.cdrom is not None:
                    self._iso(*spec.cdrom)
                    dom.cdrom = spec.cdrom
                h.domains[spec.uuid] = dom
                self._fail_point("spawn")  # injected failures strike after disks exist
                events.append(LifecycleEvent(spec.uuid, LifecycleEventType.DEFINED, PowerState.STOPPED))
                if spec.start:
                    self._claim(dom)
                    dom.state = PowerState.RUNNING
                    events.append(LifecycleEvent(spec.uuid, LifecycleEventType.STARTED, PowerState.RUNNING))
            except BaseException:
                self._rollback_spawn(dom)
                raise
            info = self._info(dom)
        self._broadcast(events)
        return info

    def _rollback_spawn(self, dom: _Domain) -> None:
        h = self._host
        h.domains.pop(dom.uuid, None)
        for vol_uuid, (pool_name, _) in dom.disks.items():
            pool = h.pools.get(pool_name)
            vol = pool.volumes.get(vol_uuid) if pool else None
            if vol is not None and vol.attached_to == dom.uuid:
                vol.attached_to = None
        for vol_uuid, pool_name in dom.owned.items():
            if pool_name in h.pools:
                h.pools[pool_name].volumes.pop(vol_uuid, None)

    def start(self, vm_uuid: str) -> DomainInfo:
        self._enter("start")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            events = []
            if dom.state is PowerState.PAUSED:
                dom.state = PowerState.RUNNING
                events.append(LifecycleEvent(vm_uuid, LifecycleEventType.RESUMED, PowerState.RUNNING))
            elif dom.state is not PowerState.RUNNING:
                self._claim(dom)
                dom.state = PowerState.RUNNING
                events.append(LifecycleEvent(vm_uuid, LifecycleEventType.STARTED, PowerState.RUNNING))
            info = self._info(dom)
        self._broadcast(events)
        return info

    def stop(self, vm_uuid: str, force: bool = False) -> DomainInfo:
        self._enter("stop")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            events = []
            if dom.state is not PowerState.STOPPED:
                dom.state = PowerState.STOPPED
                events.append(
                    LifecycleEvent(
                        vm_uuid,
                        LifecycleEventType.STOPPED,
                        PowerState.STOPPED,
                        detail="destroyed" if force else "shutdown",
                    )
                )
            info = self._info(dom)
        self._broadcast(events)
        return info

    def reboot(self, vm_uuid: str) -> DomainInfo:
        self._enter("reboot")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if dom.state is not PowerState.RUNNING:
                raise InvalidDomainState(vm_uuid, dom.state, "reboot")
            info = self._info(dom)
        self._broadcast([LifecycleEvent(vm_uuid, LifecycleEventType.REBOOTED, PowerState.RUNNING)])
        return info

    def destroy(self, vm_uuid: str) -> None:
        self._enter("destroy")
        h = self._host
        events = []
        with h.lock:
            dom = h.domains.get(vm_uuid)
            if dom is None:
                return
            if dom.state is not PowerState.STOPPED:
                dom.state = PowerState.STOPPED
                events.append(
                    LifecycleEvent(
                        vm_uuid, LifecycleEventType.STOPPED, PowerState.STOPPED, detail="destroyed"
                    )
                )
            self._rollback_spawn(dom)  # same cleanup: undefine, delete owned disks, detach the rest
            events.append(LifecycleEvent(vm_uuid, LifecycleEventType.UNDEFINED, PowerState.STOPPED))
        self._broadcast(events)

    def ex_set_state(self, vm_uuid: str, state: PowerState) -> DomainInfo:
        """Simulate an out-of-band change (guest shut itself down, crashed, was paused) for VM-sync tests."""
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if state is PowerState.RUNNING and dom.state is not PowerState.RUNNING:
                self._claim(dom)
            changed = dom.state is not state
            dom.state = state
            info = self._info(dom)
        if changed and state in _STATE_EVENTS:
            self._broadcast([LifecycleEvent(vm_uuid, _STATE_EVENTS[state], state, detail="out-of-band")])
        return info

    # -- volumes on a domain -----------------------------------------------------------------------------

    def attach_volume(
        self, vm_uuid: str, pool: str, volume_uuid: str, device_id: int | None = None
    ) -> DomainInfo:
        self._enter("attach_volume")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            vol = self._shared_volume(pool, volume_uuid)
            if vol.attached_to == vm_uuid:
                return self._info(dom)
            if vol.attached_to is not None:
                raise VolumeInUse(volume_uuid, vol.attached_to)
            if vol.is_template:
                raise DriverError(f"volume {volume_uuid} is a template copy and cannot be attached")
            if dom.state is PowerState.RUNNING:
                self.require(Capability.VOLUME_HOTPLUG)
            used = {dev for _, dev in dom.disks.values()}
            if device_id is None:
                device_id = next(i for i in range(1, 64) if i not in used)
            elif device_id in used:
                raise DriverError(f"device id {device_id} is already used on domain {vm_uuid}")
            vol.attached_to = vm_uuid
            dom.disks[volume_uuid] = (pool, device_id)
            return self._info(dom)

    def detach_volume(self, vm_uuid: str, volume_uuid: str) -> DomainInfo:
        self._enter("detach_volume")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if volume_uuid not in dom.disks:
                return self._info(dom)
            if dom.state is PowerState.RUNNING:
                self.require(Capability.VOLUME_HOTPLUG)
            pool_name, _ = dom.disks.pop(volume_uuid)
            dom.owned.pop(volume_uuid, None)  # once detached, destroy no longer deletes it
            pool = self._host.pools.get(pool_name)
            if pool and volume_uuid in pool.volumes:
                pool.volumes[volume_uuid].attached_to = None
            return self._info(dom)

    # -- storage -----------------------------------------------------------------------------------------

    def _pool(self, name: str) -> _Pool:
        pool = self._host.pools.get(name)
        if pool is None:
            raise PoolNotFound(name)
        return pool

    def _volume(self, pool: str, volume_uuid: str) -> _Volume:
        vol = self._pool(pool).volumes.get(volume_uuid)
        if vol is None:
            raise VolumeNotFound(pool, volume_uuid)
        return vol

    def _shared_volume(self, pool: str, volume_uuid: str, size_bytes: int = 0, fmt: str = "qcow2") -> _Volume:
        """A volume to attach. Each simulated host keeps its own view of a pool; on shared storage (an ``nfs``
        pool) a volume another host created is there too: the first use here adopts it (after an HA restart the
        VM's disks are used from another host of the cluster)."""
        p = self._pool(pool)
        vol = p.volumes.get(volume_uuid)
        if vol is None and p.spec.kind == "nfs" and size_bytes > 0:
            vol = p.volumes[volume_uuid] = _Volume(uuid=volume_uuid, pool=pool, size_bytes=size_bytes, format=fmt)
        if vol is None:
            raise VolumeNotFound(pool, volume_uuid)
        return vol

    def _pool_info(self, pool: _Pool) -> PoolInfo:
        alloc = pool.allocated
        return PoolInfo(
            name=pool.spec.name,
            path=pool.spec.path,
            capacity_bytes=pool.capacity_bytes,
            available_bytes=max(pool.capacity_bytes - alloc, 0),
            allocated_bytes=alloc,
        )

    @staticmethod
    def _vol_info(vol: _Volume, pool: _Pool) -> VolumeInfo:
        return VolumeInfo(
            uuid=vol.uuid,
            pool=vol.pool,
            path=os.path.join(pool.spec.path, vol.uuid),
            size_bytes=vol.size_bytes,
            format=vol.format,
            allocated_bytes=vol.size_bytes,
        )

    def ensure_pool(self, spec: PoolSpec) -> PoolInfo:
        self._enter("ensure_pool")
        with self._host.lock:
            pool = self._host.pools.get(spec.name)
            if pool is None:
                pool = self._host.pools[spec.name] = _Pool(
                    spec=spec, capacity_bytes=spec.capacity_bytes or DEFAULT_POOL_CAPACITY
                )
            return self._pool_info(pool)

    def get_volume(self, pool: str, volume_uuid: str) -> VolumeInfo | None:
        self._enter("get_volume")
        with self._host.lock:
            p = self._pool(pool)
            vol = p.volumes.get(volume_uuid)
            return self._vol_info(vol, p) if vol else None

    def _create_volume_locked(
        self, pool: str, volume_uuid: str, size_bytes: int, template: str | None, fmt: str
    ) -> _Volume:
        p = self._pool(pool)
        if volume_uuid in p.volumes:
            raise DriverError(f"volume {volume_uuid} already exists in pool {pool!r}")
        if template is not None:
            tmpl = p.volumes.get(template)
            if tmpl is None or not tmpl.is_template:
                raise TemplateNotFound(template)
            size_bytes = max(size_bytes, tmpl.size_bytes)
        if size_bytes <= 0:
            raise DriverError(f"volume {volume_uuid}: size must be positive")
        free = p.capacity_bytes - p.allocated
        if size_bytes > free:
            raise InsufficientResources(f"pool {pool!r} has {free} bytes free, volume needs {size_bytes}")
        vol = p.volumes[volume_uuid] = _Volume(uuid=volume_uuid, pool=pool, size_bytes=size_bytes, format=fmt)
        return vol

    def create_volume(
        self,
        pool: str,
        volume_uuid: str,
        size_bytes: int,
        *,
        template: str | None = None,
        format: str = "qcow2",
    ) -> VolumeInfo:
        self._enter("create_volume")
        with self._host.lock:
            vol = self._create_volume_locked(pool, volume_uuid, size_bytes, template, format)
            return self._vol_info(vol, self._host.pools[pool])

    def delete_volume(self, pool: str, volume_uuid: str) -> None:
        self._enter("delete_volume")
        with self._host.lock:
            p = self._host.pools.get(pool)
            vol = p.volumes.get(volume_uuid) if p else None
            if p is None or vol is None:
                return
            if vol.attached_to is not None:
                raise VolumeInUse(volume_uuid, vol.attached_to)
            del p.volumes[volume_uuid]

    def resize_volume(self, pool: str, volume_uuid: str, new_size_bytes: int) -> VolumeInfo:
        self.require(Capability.VOLUME_RESIZE)
        self._enter("resize_volume")
        with self._host.lock:
            p = self._pool(pool)
            vol = self._volume(pool, volume_uuid)
            grow = new_size_bytes - vol.size_bytes  # negative: a shrink (the caller signed it off)
            if grow > p.capacity_bytes - p.allocated:
                raise InsufficientResources(f"pool {pool!r} cannot grow volume {volume_uuid} by {grow} bytes")
            vol.size_bytes = new_size_bytes
            return self._vol_info(vol, p)

    def snapshot_volume(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> SnapshotInfo:
        self.require(Capability.VOLUME_SNAPSHOT)
        self._enter("snapshot_volume")
        with self._host.lock:
            vol = self._volume(pool, volume_uuid)
            if snapshot_uuid in vol.snapshots:
                raise DriverError(f"snapshot {snapshot_uuid} of volume {volume_uuid} already exists")
            snap = vol.snapshots[snapshot_uuid] = _Snapshot(snapshot_uuid, vol.size_bytes, time.time())
            return SnapshotInfo(snapshot_uuid, volume_uuid, pool, snap.size_bytes, snap.created_at)

    def revert_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> VolumeInfo:
        self.require(Capability.VOLUME_SNAPSHOT)
        self._enter("revert_volume_snapshot")
        with self._host.lock:
            p = self._pool(pool)
            vol = self._volume(pool, volume_uuid)
            snap = vol.snapshots.get(snapshot_uuid)
            if snap is None:
                raise SnapshotNotFound(volume_uuid, snapshot_uuid)
            if vol.attached_to is not None:
                dom = self._host.domains.get(vol.attached_to)
                if dom is not None and dom.state is not PowerState.STOPPED:
                    raise InvalidDomainState(dom.uuid, dom.state, f"revert volume {volume_uuid} of")
            vol.size_bytes = snap.size_bytes  # the only "content" the simulator has
            return self._vol_info(vol, p)

    def delete_volume_snapshot(self, pool: str, volume_uuid: str, snapshot_uuid: str) -> None:
        self.require(Capability.VOLUME_SNAPSHOT)
        self._enter("delete_volume_snapshot")
        with self._host.lock:
            p = self._host.pools.get(pool)
            vol = p.volumes.get(volume_uuid) if p else None
            if vol is not None:
                vol.snapshots.pop(snapshot_uuid, None)

    def ex_list_snapshots(self, pool: str, volume_uuid: str) -> list[str]:
        with self._host.lock:
            return sorted(self._volume(pool, volume_uuid).snapshots)

    def prepare_template(self, pool: str, template_uuid: str, source: str) -> VolumeInfo:
        self._enter("prepare_template")
        scheme = urlsplit(source).scheme.lower()
        local = source.removeprefix("file://") if scheme in ("", "file") else None
        if not source or (local is not None and not os.path.exists(local)):
            raise TemplateNotFound(source or template_uuid)
        # "Download" a URL by pretending; a local file keeps its real size.
        size = max(os.path.getsize(local), 1) if local is not None else DEFAULT_TEMPLATE_SIZE
        with self._host.lock:
            p = self._pool(pool)
            existing = p.volumes.get(template_uuid)
            if existing is not None:
                if not existing.is_template:
                    raise DriverError(f"{template_uuid} exists in pool {pool!r} and is not a template")
                return self._vol_info(existing, p)
            if size > p.capacity_bytes - p.allocated:
                raise InsufficientResources(f"pool {pool!r} cannot hold template {template_uuid}")
            vol = p.volumes[template_uuid] = _Volume(
                uuid=template_uuid, pool=pool, size_bytes=size, format="qcow2", is_template=True
            )
            return self._vol_info(vol, p)

    # -- volumes this server did not create ----------------------------------------------------------------

    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        self._enter("list_volumes")
        with self._host.lock:
            p = self._pool(pool)
            return [self._vol_info(v, p) for v in p.volumes.values()]

    def adopt_volume(self, pool: str, name: str, volume_uuid: str) -> VolumeInfo:
        self._enter("adopt_volume")
        with self._host.lock:
            p = self._pool(pool)
            vol = self._volume(pool, name)
            if vol.attached_to is not None:
                raise VolumeInUse(name, vol.attached_to)
            if volume_uuid in p.volumes:
                raise DriverError(f"volume {volume_uuid} already exists in pool {pool!r}")
            del p.volumes[name]
            vol.uuid = volume_uuid
            p.volumes[volume_uuid] = vol
            return self._vol_info(vol, p)

    def check_volume(self, pool: str, volume_uuid: str, repair: str | None = None) -> tuple[dict[str, object],
                                                                                         dict[str, object] | None]:
        self._enter("check_volume")
        with self._host.lock:
            vol = self._volume(pool, volume_uuid)
            dom = self._host.domains.get(vol.attached_to or "")
            if dom is not None and dom.state is not PowerState.STOPPED:
                raise InvalidDomainState(dom.uuid, dom.state, f"check volume {volume_uuid} of")
            result: dict[str, object] = {"filename": volume_uuid, "format": vol.format, "check-errors": 0,
                                         "leaks": 0}
            return result, (dict(result, **{"leaks-fixed": 0}) if repair else None)

    # -- backups -----------------------------------------------------------------------------------------

    def backup_disks(self, vm_uuid: str | None, target_dir: str, disks: tuple[BackupDisk, ...]) -> dict[str, int]:
        self._enter("backup_disks")
        with self._host.lock:
            sizes = {d.volume_uuid: self._volume(d.pool, d.volume_uuid).size_bytes for d in disks}
            for d in disks:
                _BACKUPS[(target_dir, d.name)] = sizes[d.volume_uuid]
            return sizes

    def restore_disk(self, pool: str, volume_uuid: str, source_dir: str, name: str, *,
                     create: bool = False) -> VolumeInfo:
        self._enter("restore_disk")
        with self._host.lock:
            size = _BACKUPS.get((source_dir, name))
            if size is None:
                raise VolumeNotFound(source_dir, name)
            p = self._pool(pool)
            if create:
                vol = self._create_volume_locked(pool, volume_uuid, size, None, "qcow2")
                return self._vol_info(vol, p)
            vol = self._volume(pool, volume_uuid)
            dom = self._host.domains.get(vol.attached_to or "")
            if dom is not None and dom.state is not PowerState.STOPPED:
                raise InvalidDomainState(dom.uuid, dom.state, f"restore volume {volume_uuid} of")
            vol.size_bytes = size  # the only "content" the simulator has
            return self._vol_info(vol, p)

    def delete_backup(self, target_dir: str) -> None:
        self._enter("delete_backup")
        with self._host.lock:
            for key in [k for k in _BACKUPS if k[0] == target_dir]:
                del _BACKUPS[key]

    # -- network and console -----------------------------------------------------------------------------

    def plug_nic(self, vm_uuid: str, nic: NicSpec) -> DomainInfo:
        self._enter("plug_nic")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if nic.mac not in dom.nics:
                if dom.state is PowerState.RUNNING:
                    self.require(Capability.NIC_HOTPLUG)
                dom.nics[nic.mac] = nic
            return self._info(dom)

    def unplug_nic(self, vm_uuid: str, mac: str) -> DomainInfo:
        self._enter("unplug_nic")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if mac in dom.nics:
                if dom.state is PowerState.RUNNING:
                    self.require(Capability.NIC_HOTPLUG)
                del dom.nics[mac]
            return self._info(dom)

    def vm_stats(self, vm_uuid: str) -> VmStats:
        self._enter("vm_stats")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if dom.state is not PowerState.RUNNING:
                raise InvalidDomainState(vm_uuid, dom.state, "read the statistics of")
            return VmStats(cpu_percent=dom.load[0], memory_percent=dom.load[1])

    def console_address(self, vm_uuid: str) -> ConsoleAddress:
        self.require(Capability.CONSOLE)
        self._enter("console_address")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if dom.state is not PowerState.RUNNING:
                raise InvalidDomainState(vm_uuid, dom.state, "open a console on")
            if not dom.console_port:
                dom.console_port = self._host.next_console_port
                self._host.next_console_port += 1
            return ConsoleAddress(protocol="vnc", host="127.0.0.1", port=dom.console_port)

    # -- HA ----------------------------------------------------------------------------------------------

    def read_heartbeat(self, pool: str, host_id: str) -> float | None:
        """The last storage heartbeat of the simulated host ``host_id`` (its URL), as this host sees ``pool``: a
        live host writes one all the time; a dead one wrote its last when it died."""
        self.require(Capability.HA_HEARTBEAT)
        self._enter("read_heartbeat")
        other = _host_state(host_id)
        with other.lock:
            died = other.faults.died_at
        return time.time() if died is None else died

    # -- whole-domain snapshots --------------------------------------------------------------------------

    def ex_set_guest_agent(self, vm_uuid: str, present: bool = True) -> None:
        """Simulate a guest agent in the domain (quiesced snapshots need one)."""
        with self._host.lock:
            self._domain(vm_uuid).guest_agent = present

    def _volume_sizes(self, dom: _Domain) -> dict[str, int]:
        out = {}
        for vol_uuid, (pool, _dev) in dom.disks.items():
            vol = self._host.pools.get(pool, _Pool(PoolSpec(pool, ""), 0)).volumes.get(vol_uuid)
            if vol is not None:
                out[vol_uuid] = vol.size_bytes
        return out

    def snapshot_domain(self, vm_uuid: str, snapshot_uuid: str, *, memory: bool = False,
                        quiesce: bool = False) -> DomainSnapshotInfo:
        self.require(Capability.VM_SNAPSHOT)
        if memory:
            self.require(Capability.VM_SNAPSHOT_MEMORY)
        self._enter("snapshot_domain")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            if snapshot_uuid in dom.snapshots:
                raise DriverError(f"snapshot {snapshot_uuid} of domain {vm_uuid} already exists")
            if memory and dom.state is not PowerState.RUNNING:
                raise InvalidDomainState(vm_uuid, dom.state, "take a memory snapshot of")
            if quiesce and not dom.guest_agent:
                raise GuestAgentUnavailable(vm_uuid, "no guest agent is connected")
            sizes = self._volume_sizes(dom)
            snap = dom.snapshots[snapshot_uuid] = _DomainSnapshot(snapshot_uuid, memory, time.time(), sizes)
            size = sum(sizes.values()) + (dom.memory_mib * MiB if memory else 0)
            return DomainSnapshotInfo(snapshot_uuid, vm_uuid, memory, snap.created_at, size)

    def revert_domain_snapshot(self, vm_uuid: str, snapshot_uuid: str) -> DomainInfo:
        self.require(Capability.VM_SNAPSHOT)
        self._enter("revert_domain_snapshot")
        events: list[LifecycleEvent] = []
        with self._host.lock:
            dom = self._domain(vm_uuid)
            snap = dom.snapshots.get(snapshot_uuid)
            if snap is None:
                raise SnapshotNotFound(vm_uuid, snapshot_uuid)
            for vol_uuid, (pool, _dev) in dom.disks.items():
                vol = self._host.pools[pool].volumes.get(vol_uuid)
                if vol is not None and vol_uuid in snap.sizes:
                    vol.size_bytes = snap.sizes[vol_uuid]
            want = PowerState.RUNNING if snap.memory else PowerState.STOPPED
            if want is PowerState.RUNNING and dom.state is not PowerState.RUNNING:
                self._claim(dom)
            if dom.state is not want:
                dom.state = want
                kind = LifecycleEventType.STARTED if snap.memory else LifecycleEventType.STOPPED
                events.append(LifecycleEvent(vm_uuid, kind, want, detail="snapshot revert"))
            info = self._info(dom)
        self._broadcast(events)
        return info

    def delete_domain_snapshot(self, vm_uuid: str, snapshot_uuid: str) -> None:
        self.require(Capability.VM_SNAPSHOT)
        self._enter("delete_domain_snapshot")
        with self._host.lock:
            dom = self._host.domains.get(vm_uuid)
            if dom is not None:
                dom.snapshots.pop(snapshot_uuid, None)

    def snapshot_volume_from_domain_snapshot(self, vm_uuid: str, domain_snapshot_uuid: str, pool: str,
                                             volume_uuid: str, snapshot_uuid: str) -> SnapshotInfo:
        self.require(Capability.VM_SNAPSHOT)
        self._enter("snapshot_volume_from_domain_snapshot")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            dsnap = dom.snapshots.get(domain_snapshot_uuid)
            if dsnap is None or volume_uuid not in dsnap.sizes:
                raise SnapshotNotFound(vm_uuid, domain_snapshot_uuid)
            vol = self._volume(pool, volume_uuid)
            if snapshot_uuid in vol.snapshots:
                raise DriverError(f"snapshot {snapshot_uuid} of volume {volume_uuid} already exists")
            snap = vol.snapshots[snapshot_uuid] = _Snapshot(snapshot_uuid, dsnap.sizes[volume_uuid], time.time())
            return SnapshotInfo(snapshot_uuid, volume_uuid, pool, snap.size_bytes, snap.created_at)

    def list_domain_snapshots(self, vm_uuid: str) -> list[DomainSnapshotInfo]:
        self.require(Capability.VM_SNAPSHOT)
        with self._host.lock:
            dom = self._domain(vm_uuid)
            return [DomainSnapshotInfo(s.uuid, vm_uuid, s.memory, s.created_at, sum(s.sizes.values()))
                    for s in sorted(dom.snapshots.values(), key=lambda s: s.created_at)]

    # -- migration -------------------------------------------------------------------------------------------

    def migrate(self, vm_uuid: str, destination: HypervisorDriver, *,
                volumes: Mapping[str, str] | None = None) -> DomainInfo:
        self.require(Capability.LIVE_MIGRATION)
        if volumes:
            self.require(Capability.STORAGE_MIGRATION)
        self._enter("migrate")
        if not isinstance(destination, SimulatorDriver):
            raise DriverError(f"cannot migrate a simulated domain to a {destination.name} host")
        src, dst = self._host, destination._host
        if src is dst:
            raise DriverError(f"domain {vm_uuid} is already on host {src.key}")
        first, second = sorted((src, dst), key=lambda h: h.key)
        events: list[LifecycleEvent] = []
        with first.lock, second.lock:
            dom = self._domain(vm_uuid)
            if dom.state is not PowerState.RUNNING:
                raise InvalidDomainState(vm_uuid, dom.state, "migrate")
            if vm_uuid in dst.domains:
                raise DomainExists(vm_uuid)
            moves: list[tuple[_Pool, _Pool, _Volume]] = []
            for vol_uuid, (pool_name, _dev) in dom.disks.items():
                target = (volumes or {}).get(vol_uuid, pool_name)
                if target not in dst.pools:
                    raise PoolNotFound(target)
                vol = src.pools[pool_name].volumes[vol_uuid]
                moves.append((src.pools[pool_name], dst.pools[target], vol))
            if dom.cdrom is not None and dom.cdrom[0] not in dst.pools:
                raise PoolNotFound(dom.cdrom[0])
            used = sum(d.memory_mib * MiB for d in dst.domains.values()
                       if d.state in (PowerState.RUNNING, PowerState.PAUSED))
            if dom.memory_mib * MiB > dst.memory_bytes - used:
                raise InsufficientResources(f"destination host has {(dst.memory_bytes - used) // MiB} MiB free, "
                                            f"domain {vm_uuid} needs {dom.memory_mib} MiB")
            for from_pool, to_pool, vol in moves:
                del from_pool.volumes[vol.uuid]
                vol.pool = to_pool.spec.name
                to_pool.volumes[vol.uuid] = vol
                pool_name, dev = dom.disks[vol.uuid]
                dom.disks[vol.uuid] = (to_pool.spec.name, dev)
                if vol.uuid in dom.owned:
                    dom.owned[vol.uuid] = to_pool.spec.name
            del src.domains[vm_uuid]
            dom.console_port = 0
            dst.domains[vm_uuid] = dom
            info = destination._info(dom)
            events.append(LifecycleEvent(vm_uuid, LifecycleEventType.UNDEFINED, PowerState.STOPPED,
                                         detail="migrated away"))
        self._broadcast(events)
        destination._broadcast([LifecycleEvent(vm_uuid, LifecycleEventType.STARTED, PowerState.RUNNING,
                                               detail="migrated in")])
        return info

    def migrate_volume(self, pool: str, volume_uuid: str, dest_pool: str) -> VolumeInfo:
        self.require(Capability.STORAGE_MIGRATION)
        self._enter("migrate_volume")
        with self._host.lock:
            src = self._pool(pool)
            dst = self._pool(dest_pool)
            vol = self._volume(pool, volume_uuid)
            if pool == dest_pool:
                return self._vol_info(vol, src)
            dom = self._host.domains.get(vol.attached_to) if vol.attached_to else None
            if dom is not None and dom.state is not PowerState.STOPPED:
                raise InvalidDomainState(dom.uuid, dom.state, f"move volume {volume_uuid} of")
            if vol.size_bytes > dst.capacity_bytes - dst.allocated:
                raise InsufficientResources(f"pool {dest_pool!r} cannot hold volume {volume_uuid}")
            del src.volumes[volume_uuid]
            vol.pool = dest_pool
            vol.snapshots.clear()  # snapshots stay behind and go with the source
            dst.volumes[volume_uuid] = vol
            if dom is not None:
                dom.disks[volume_uuid] = (dest_pool, dom.disks[volume_uuid][1])
                if volume_uuid in dom.owned:
                    dom.owned[volume_uuid] = dest_pool
            return self._vol_info(vol, dst)

    # -- CD-ROM ----------------------------------------------------------------------------------------------

    def _iso(self, pool: str, volume_uuid: str) -> _Volume:
        vol = self._volume(pool, volume_uuid)
        if not vol.is_template:
            raise DriverError(f"volume {volume_uuid} is not an image prepared with prepare_template")
        return vol

    def insert_cdrom(self, vm_uuid: str, pool: str, volume_uuid: str) -> DomainInfo:
        self.require(Capability.CDROM)
        self._enter("insert_cdrom")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            self._iso(pool, volume_uuid)
            dom.cdrom = (pool, volume_uuid)
            return self._info(dom)

    def eject_cdrom(self, vm_uuid: str) -> DomainInfo:
        self.require(Capability.CDROM)
        self._enter("eject_cdrom")
        with self._host.lock:
            dom = self._domain(vm_uuid)
            dom.cdrom = None
            return self._info(dom)

    def cdrom_of(self, vm_uuid: str) -> str | None:
        self.require(Capability.CDROM)
        with self._host.lock:
            dom = self._domain(vm_uuid)
            return dom.cdrom[1] if dom.cdrom else None

    # -- volume transfer -------------------------------------------------------------------------------------

    def export_volume(self, pool: str, volume_uuid: str, dest_path: str) -> int:
        self.require(Capability.VOLUME_TRANSFER)
        self._enter("export_volume")
        with self._host.lock:
            vol = self._volume(pool, volume_uuid)
            dom = self._host.domains.get(vol.attached_to) if vol.attached_to else None
            if dom is not None and dom.state is not PowerState.STOPPED:
                raise InvalidDomainState(dom.uuid, dom.state, f"export volume {volume_uuid} of")
            size = vol.size_bytes
        # a raw image of the volume's size: sparse, so a 2 GiB simulated disk costs nothing on the store
        with open(dest_path, "wb") as fh:
            fh.truncate(size)
        return size

    def import_volume(self, pool: str, volume_uuid: str, source_path: str) -> VolumeInfo:
        self.require(Capability.VOLUME_TRANSFER)
        self._enter("import_volume")
        if not os.path.isfile(source_path):
            raise DriverError(f"image file {source_path} not found")
        size = max(os.path.getsize(source_path), 1)
        with open(source_path, "rb") as fh:
            head = fh.read(32)
        if head[:4] == b"QFI\xfb":  # a qcow2's virtual size, as a real hypervisor would see it
            size = int.from_bytes(head[24:32], "big")
        with self._host.lock:
            vol = self._create_volume_locked(pool, volume_uuid, size, None, "qcow2" if head[:4] == b"QFI\xfb"
                                             else "raw")
            return self._vol_info(vol, self._host.pools[pool])
