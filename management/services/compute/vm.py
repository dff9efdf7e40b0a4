"""Virtual machine lifecycle: allocate, start (place + spawn), stop, reboot, destroy, recover, expunge, scale.

Transactions: the API's create phase runs in the request session. Job-side operations never hold a database
transaction across a hypervisor call: every step is a short unit of work (`runtime.db.session()`), with the
driver call between them. Job handlers call `release(ctx)` first so the job's own session does not keep the
SQLite write lock while a driver works.

Every state change goes through `fsm.transition` (compare-and-swap); the capacity ledger moves in the same unit
of work as the transition that justifies it (claim while Starting, release on the way to Stopped), so the ledger
equals the sum over Starting/Running/Stopping VMs at every commit.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from management import fsm, placement
from management.db.base import utcnow
from management.db.prepared import prepared
from management.drivers import base as drv
from management.drivers.errors import (
    DomainNotFound,
    DriverError,
    DriverTimeout,
    HostUnreachable,
    InsufficientResources,
)
from management.drivers.libvirt import overlay
from management.errors import (
    CloudError,
    InsufficientCapacity,
    InternalError,
    InvalidStateTransition,
    ParamError,
    ResourceUnavailable,
)
from management.fsm import VmEvent, VolumeEvent
from management.jobs import journal
from management.logcontext import request_id
from management.models.compute import SSHKeyPair, VirtualMachine
from management.models.identity import Account
from management.models.infra import Host, StoragePool, Zone
from management.models.network import Network, Nic
from management.models.offerings import DiskOffering, ServiceOffering
from management.models.storage import Template, Volume
from management.services.compute import (
    affinity,
    vm_snapshots,
    vmsync,  # noqa: F401  (registers VM sync's driver watcher)
)
from management.services.hypervisors import GiB, VmFacts, driver_error, driver_for, facts_of, notify, starting, tx
from management.services.infra import hosts as hosts_service
from management.services.network import networks as networks_service
from management.services.runtime import Runtime
from management.services.storage import snapshot_policies
from management.services.storage import templates as templates_service

log = logging.getLogger(__name__)

MiB = 1024**2
ACTIVE = ("Starting", "Running", "Stopping")  # states whose VMs hold host capacity
RETRYABLE = (InsufficientResources, HostUnreachable, DriverTimeout)
MAX_PLACEMENT_ATTEMPTS = 8


# ------------------------------------------------------------------------------------------------ plumbing

def release(session: Session) -> None:
    """End the job session's transaction (and its SQLite write lock) before long driver work."""
    session.commit()


def done(session: Session, value: Any) -> Any:
    """End the read transaction a job handler used to build its response: the dispatcher's next statement is
    then a write that starts its own transaction (SQLite cannot upgrade a stale read snapshot to a writer)."""
    session.commit()
    return value


def template_source(session: Session, template: Template, zone: Zone) -> tuple[str, str]:
    return templates_service.source_for_pool(session, template, zone)


# ------------------------------------------------------------------------------------------------ allocate

@dataclass(slots=True)
class DeployRequest:
    owner: Account
    zone: Zone
    offering: ServiceOffering
    template: Template | None
    user_id: int | None = None
    name: str | None = None
    displayname: str | None = None
    group: str | None = None
    userdata: str | None = None
    keypairs: list[str] | None = None
    hostid: int | None = None
    rootdisksize: int | None = None  # GiB
    disk_offering: DiskOffering | None = None
    size: int | None = None  # GiB, custom data disk
    networks: list[Network] | None = None
    ip_for_network: dict[int, str] | None = None
    details: dict[str, str] | None = None
    hypervisor: str | None = None


_NAME_CHARS = set(string.ascii_letters + string.digits + "-")


def validate_hostname(name: str) -> None:
    if not name or len(name) > 63 or not set(name) <= _NAME_CHARS or name[0] == "-" or name[-1] == "-" \
            or name.isdigit():
        raise ParamError(f"Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through "
                         f"'9', and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or "
                         f"end with \"-\" and can't start with digit: {name}")


def validate_userdata(value: str | None, limit: int = 1048576) -> str | None:
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise ParamError("User data must be base64 encoded") from None
    if len(raw) > limit:
        raise ParamError(f"User data is too long: {len(raw)} bytes (limit {limit})")
    return value


def sizing(offering: ServiceOffering, details: dict[str, str] | None) -> tuple[int, int, int]:
    """(cpu, speed MHz, ram MiB): the offering's, or details cpuNumber/cpuSpeed/memory for a customized one."""
    d = {k.lower(): v for k, v in (details or {}).items()}

    def pick(fixed: int | None, key: str, label: str) -> int:
        if fixed:
            return int(fixed)
        if key not in d:
            raise ParamError(f"Need to specify custom parameter values cpu, cpu speed and memory when using custom "
                             f"offering ({label} missing)")
        try:
            value = int(d[key])
        except ValueError:
            raise ParamError(f"Invalid {label} value {d[key]!r}") from None
        if value <= 0:
            raise ParamError(f"Invalid {label} value {value}")
        return value

    return (pick(offering.cpu, "cpunumber", "cpuNumber"), pick(offering.speed, "cpuspeed", "cpuSpeed"),
            pick(offering.ram_size, "memory", "memory"))


def resolve_keypairs(session: Session, owner: Account, names: list[str] | None) -> list[SSHKeyPair]:
    out = []
    for n in names or []:
        kp = session.scalar(select(SSHKeyPair).where(SSHKeyPair.account_id == owner.id, SSHKeyPair.name == n))
        if kp is None:
            raise ParamError("Not all specified keyparis exist")  # sic: CloudStack's own spelling
        out.append(kp)
    return out


def needs(req: DeployRequest) -> dict[str, int]:
    """What the VM will take from its owner's resource limits (before anything is allocated)."""
    cpu, _speed, ram = sizing(req.offering, req.details)
    tmpl = req.template
    root = int(req.rootdisksize) * GiB if req.rootdisksize else \
        ((tmpl.size if tmpl else None) or req.offering.root_disk_size or 2 * GiB)
    disks = [root]
    if req.disk_offering is not None:
        disks.append(int(req.size or 0) * GiB if req.disk_offering.customized else req.disk_offering.disk_size)
    return {"user_vm": 1, "cpu": cpu, "memory": ram, "volume": len(disks), "primary_storage": sum(disks)}


def allocate(session: Session, req: DeployRequest) -> VirtualMachine:
    """Create the VM row (Stopped), its volumes (Allocated) and NICs; nothing touches a hypervisor yet."""
    zone, so, tmpl = req.zone, req.offering, req.template
    if zone.allocation_state != "Enabled" and not req.hostid:
        # Admins may still deploy with a hostid into a disabled zone (CloudStack lets root admins do so).
        raise ResourceUnavailable(f"Cannot deploy a VM in zone {zone.name}: the zone is disabled")
    if tmpl is None:
        raise ParamError("Unable to deploy a VM: templateid is required")
    from_iso = tmpl.format == "ISO"
    if from_iso and req.disk_offering is None:
        raise ParamError("Installing from ISO requires a disk offering to be specified for the root disk.")
    if so.state != "Active" or so.is_system:
        raise ParamError(f"Service offering {so.uuid} cannot be used to deploy a user VM")
    cpu, speed, ram = sizing(so, req.details)
    if req.name:
        validate_hostname(req.name)
        clash = session.scalar(prepared("vm-name-clash", lambda: select(VirtualMachine.id).where(
            VirtualMachine.name == bindparam("name"), VirtualMachine.account_id == bindparam("account_id"),
            VirtualMachine.zone_id == bindparam("zone_id"), VirtualMachine.removed.is_(None)).limit(1)),
            {"name": req.name, "account_id": req.owner.id, "zone_id": zone.id})
        if clash is not None:
            raise ParamError(f"The vm with hostName {req.name} already exists in the network domain of zone "
                             f"{zone.name}; vm hostnames must be unique within a network domain")
    keypairs = resolve_keypairs(session, req.owner, req.keypairs)
    userdata = validate_userdata(req.userdata)
    password = new_password() if tmpl.password_enabled else None
    details = dict(req.details or {})
    if not req.networks and zone.network_type == "Advanced":
        # The account's default network before the VM row (as CloudStack does): inserting the VM takes a shared
        # lock on the account row (its foreign key), and the default network's account lock taken after it
        # deadlocked concurrent first deploys of the account on MariaDB.
        req.networks = [networks_service.default_network(session, req.owner, zone)]
    vm = VirtualMachine(
        instance_name="i-pending", name=req.name or "pending", display_name=req.displayname or req.name,
        vm_type="User", account_id=req.owner.id, domain_id=req.owner.domain_id, user_id=req.user_id,
        zone_id=zone.id, template_id=tmpl.id, service_offering_id=so.id, os_type_id=tmpl.os_type_id,
        hypervisor_type=req.hypervisor or tmpl.hypervisor_type, cpu=cpu, speed=speed, ram_size=ram,
        ha_enabled=so.offer_ha, user_data=userdata, keypairs=",".join(k.name for k in keypairs) or None,
        password=password, group_name=req.group, details_json=json.dumps(details) if details else None,
    )
    session.add(vm)
    session.flush()
    vm.instance_name = f"i-{req.owner.id}-{vm.id}-{instance_suffix(session)}"
    if not req.name:
        vm.name = f"VM-{vm.uuid}"
        vm.display_name = vm.display_name or vm.name
    if from_iso:  # the ISO sits in the CD-ROM drive and the disk offering sizes a blank root disk
        vm.iso_id = tmpl.id
        do = req.disk_offering
        assert do is not None
        size = int(req.size) * GiB if do.customized and req.size else do.disk_size
        if do.customized and not req.size:
            raise ParamError("Disk offering is customized: size is required")
        session.add(Volume(name=f"ROOT-{vm.id}", account_id=vm.account_id, domain_id=vm.domain_id, zone_id=zone.id,
                           instance_id=vm.id, device_id=0, volume_type="ROOT", size=size, disk_offering_id=do.id,
                           format="QCOW2"))
        allocate_nics(session, vm, req)
        session.flush()
        return vm
    # Root disk: template size, or rootdisksize GiB (never smaller than the template).
    root_size = tmpl.size or so.root_disk_size or 0
    if req.rootdisksize is not None:
        if req.rootdisksize <= 0:
            raise ParamError("Root disk size should be a positive number.")
        wanted = int(req.rootdisksize) * GiB
        if tmpl.size and wanted < tmpl.size:
            raise ParamError(f"Unsupported: rootdisksize override ({req.rootdisksize} GB) is smaller than template "
                             f"size {readable_size(tmpl.size)}")
        root_size = wanted
    session.add(Volume(name=f"ROOT-{vm.id}", account_id=vm.account_id, domain_id=vm.domain_id, zone_id=zone.id,
                       instance_id=vm.id, device_id=0, volume_type="ROOT", size=root_size or 2 * GiB,
                       template_id=tmpl.id, format=(tmpl.format or "QCOW2").upper()))
    if req.disk_offering is not None:
        do = req.disk_offering
        if do.customized:
            if not req.size:
                raise ParamError("Disk offering is customized: size is required")
            dsize = int(req.size) * GiB
        else:
            dsize = do.disk_size
        session.add(Volume(name=f"DATA-{vm.id}", account_id=vm.account_id, domain_id=vm.domain_id,
                           zone_id=zone.id, instance_id=vm.id, device_id=1, volume_type="DATADISK", size=dsize,
                           disk_offering_id=do.id, provisioning_type=do.provisioning_type))
    allocate_nics(session, vm, req)
    session.flush()
    return vm


def readable_size(size: int) -> str:
    """CloudStack's NumbersUtil.toHumanReadableSize with display.human.readable.sizes on: "(1.00 GB) 1073741824"."""
    units = ((1024**4, "%.4f TB"), (GiB, "%.2f GB"), (1024**2, "%.2f MB"), (1024, "%.2f KB"))
    text = next((fmt % (size / unit) for unit, fmt in units if size >= unit), f"{size} bytes")
    return f"({text}) {size}"


def instance_suffix(session: Session) -> str:
    """CloudStack's `instance.name` setting: the suffix of instance names (i-<account>-<vm>-VM by default). Two
    management servers driving one libvirt host need different suffixes (domain names are unique per host)."""
    from management.services import configuration

    value = (configuration.get(session, "instance.name", "VM") or "VM").strip()
    return value if value.isalnum() else "VM"


def allocate_nics(session: Session, vm: VirtualMachine, req: DeployRequest) -> list[Nic]:
    """The NICs of a VM `allocate` has just created, through services.network.networks (IPs, VLANs); without
    networkids an advanced zone uses the account's default isolated network (created on first use) and a basic zone
    its shared guest network."""
    networks = list(req.networks or [])
    if not networks:
        if req.zone.network_type == "Advanced":
            networks = [networks_service.default_network(session, req.owner, req.zone)]
        elif req.zone.network_type == "Basic":
            shared = session.scalar(select(Network).where(
                Network.zone_id == req.zone.id, Network.guest_type == "Shared", Network.traffic_type == "Guest",
                Network.removed.is_(None)).order_by(Network.id).limit(1))
            networks = [shared] if shared is not None else []
    # a network this VM is the first of is implemented when the VM starts (in the job), not in this request
    return list(networks_service.allocate_nics(session, vm, networks, req.ip_for_network or {}, new_vm=True,
                                               defer_implementing=True))


def new_password() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


def random_mac() -> str:
    return "02:00:" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(4))


def release_nics(session: Session, vm: VirtualMachine) -> None:
    networks_service.release_nics(session, vm)


# ------------------------------------------------------------------------------------------------ start

def _need(vm: VirtualMachine, so: ServiceOffering, *, pin: int | None, avoid: set[int]) -> placement.Need:
    return placement.Need.for_vm(vm.cpu, vm.speed, vm.ram_size, hypervisor=vm.hypervisor_type or None,
                                 host_tag=so.host_tag, host_id=pin, avoid=frozenset(avoid),
                                 account_id=vm.account_id, domain_id=vm.domain_id)


def _volumes(session: Session, vm: VirtualMachine) -> list[Volume]:
    return list(session.scalars(prepared("volumes-of-vm", lambda: (
        select(Volume).where(Volume.instance_id == bindparam("vm_id"), Volume.removed.is_(None))
        .order_by(Volume.device_id, Volume.id))), {"vm_id": vm.id}))


def _uses_bridges(host: Host | None) -> bool:
    """libvirt hosts plug guest NICs into the network's host bridge; the simulator has no bridges."""
    if host is None:
        return False
    from management.services.infra import kvm

    return kvm.is_libvirt_url(host.url or "")


def _bridge_for(session: Session, network_id: int | None, cache: dict[int, str | None]) -> str | None:
    if network_id is None:
        return None
    if network_id not in cache:
        net = session.get(Network, network_id)
        name = None
        if net is not None:
            name = networks_service.guest_bridge_name(net)
        cache[network_id] = name
    return cache[network_id]


def _nics(session: Session, vm: VirtualMachine) -> list[Nic]:
    return list(session.scalars(prepared("nics-of-vm", lambda: (
        select(Nic).where(Nic.instance_id == bindparam("vm_id"), Nic.removed.is_(None)).order_by(Nic.device_id))),
        {"vm_id": vm.id}))


def _nic_specs(session: Session, vm: VirtualMachine, host: Host | None = None,
               nics: Sequence[Nic] | None = None) -> tuple[drv.NicSpec, ...]:
    if nics is None:
        nics = _nics(session, vm)
    bridged = _uses_bridges(host)
    bridges: dict[int, str | None] = {}
    # a remote libvirt host reaches the routers' bridges here over VXLAN (services.infra.kvm.ensure_bridges)
    peer = None
    if bridged and host is not None:
        from management.services.infra import kvm

        peer = None if kvm.is_local(host.url or "") else kvm.overlay_peer(host.url or "")
    out = []
    for n in nics:
        vlan = None
        if n.broadcast_uri and n.broadcast_uri.startswith("vlan://"):
            try:
                vlan = int(n.broadcast_uri[7:])
            except ValueError:
                vlan = None
        bridge = _bridge_for(session, n.network_id, bridges) if bridged else None
        stretched = None
        if bridge and peer:
            vni = overlay.vni_for(session.get_one(Network, n.network_id).uuid)
            stretched = (vni, overlay.group_for(vni), peer)
        out.append(drv.NicSpec(mac=n.mac_address, vlan=vlan, ip=n.ip4_address, device_id=n.device_id,
                               bridge=bridge, overlay=stretched))
    return tuple(out)


@dataclass(slots=True)
class _Attempt:
    host: Host
    need: placement.Need
    created: list[tuple[int, int, int]]  # (volume id, pool id, bytes claimed) for volumes created this attempt
    spec: drv.DomainSpec
    pools: dict[int, StoragePool]
    template: tuple[int, str, str] | None  # (pool id, template uuid, source)
    existing_domain: bool
    data_to_create: list[tuple[str, str, int]]  # (pool uuid, volume uuid, size)
    # The rows of the VM and of the volumes it creates as this attempt's unit of work committed them (sessions keep
    # them: expire_on_commit is off). The unit of work after the spawn compare-and-swaps their states from these
    # instead of reading them again; if anyone changed them since, that fails on update_count.
    vm_row: VirtualMachine
    volume_rows: dict[int, Volume]
    facts: VmFacts  # for the lifecycle hooks once it runs
    iso: tuple[int, str, str] | None = None  # (pool id, ISO uuid, source): prepared, then in the CD-ROM drive


@dataclass(slots=True)
class _Placed:
    created: list[tuple[int, int, int]]
    pools: dict[int, StoragePool]
    disks: list[drv.DiskSpec]
    template: tuple[int, str, str] | None
    data_to_create: list[tuple[str, str, int]]
    rows: dict[int, Volume]


def _place_volumes(s: Session, vm: VirtualMachine, so: ServiceOffering, zone: Zone, host: Host) -> _Placed:
    """Chooses and claims a pool for each of the VM's volumes not created yet, as seen from ``host``; the disks
    of the domain spec. Raises 533 when the host's cluster (or the zone) has no suitable pool for one of them."""
    created: list[tuple[int, int, int]] = []
    rows: dict[int, Volume] = {}
    pools: dict[int, StoragePool] = {}
    disks: list[drv.DiskSpec] = []
    template: tuple[int, str, str] | None = None
    data_to_create: list[tuple[str, str, int]] = []
    for vol in _volumes(s, vm):
        if vol.state == "Allocated":
            tags = so.tags if vol.volume_type == "ROOT" else (
                s.get_one(DiskOffering, vol.disk_offering_id).tags if vol.disk_offering_id else None)
            pool = placement.choose_pool(s, zone, vol.size, cluster_id=host.cluster_id, host_id=host.id, tags=tags,
                                         what=f"volume {vol.name}")
            fsm.transition(s, vol, VolumeEvent.CreateRequested, also={"pool_id": pool.id})
            created.append((vol.id, pool.id, vol.size))
            rows[vol.id] = vol
            pools[pool.id] = pool
            if vol.volume_type == "ROOT" and vol.template_id is not None and vm.iso_id != vol.template_id:
                tmpl = s.get_one(Template, vol.template_id)
                t_uuid, source = template_source(s, tmpl, zone)
                template = (pool.id, t_uuid, source)
                disks.append(drv.DiskSpec(volume_uuid=vol.uuid, pool=pool.uuid, size_bytes=vol.size, create=True,
                                          template=t_uuid, device_id=vol.device_id or 0))
            elif vol.volume_type == "ROOT":
                disks.append(drv.DiskSpec(volume_uuid=vol.uuid, pool=pool.uuid, size_bytes=vol.size, create=True,
                                          device_id=0))
            else:
                data_to_create.append((pool.uuid, vol.uuid, vol.size))
                disks.append(drv.DiskSpec(volume_uuid=vol.uuid, pool=pool.uuid, size_bytes=vol.size, create=False,
                                          device_id=vol.device_id or 1))
        elif vol.pool_id is not None:
            pool = s.get_one(StoragePool, vol.pool_id)
            pools[pool.id] = pool
            disks.append(drv.DiskSpec(volume_uuid=vol.uuid, pool=pool.uuid, size_bytes=vol.size, create=False,
                                      device_id=vol.device_id or 0))
    return _Placed(created, pools, disks, template, data_to_create, rows)


class _NicsUnprepared(Exception):
    """The VM's networks need preparing first: a NIC still Allocated (a deploy leaves its network to the start), a
    network shut down, a router stopped."""


def _prepare_networks(runtime: Runtime, vm_id: int) -> None:
    """Prepares the VM's networks (`networks.prepare_nics`) in a unit of work of its own: what it brings up on the
    hosts (a router) is recorded whatever the placement that follows decides."""
    with tx(runtime) as s:
        networks_service.prepare_nics(s, _nics(s, s.get_one(VirtualMachine, vm_id)))


def _plan_attempt(s: Session, vm: VirtualMachine, *, pin: int | None, avoid: set[int]) -> _Attempt:
    rows = s.execute(prepared("nics-of-vm-unprepared", lambda: (
        select(Nic, networks_service.nic_unprepared()).where(Nic.instance_id == bindparam("vm_id"),
                                                             Nic.removed.is_(None)).order_by(Nic.device_id))),
        {"vm_id": vm.id}).all()
    if any(unprepared for _nic, unprepared in rows):
        raise _NicsUnprepared
    nics = [nic for nic, _ in rows]
    zone = s.get_one(Zone, vm.zone_id)
    restart_host = None
    if pin is None and vm.last_host_id is not None:
        # A VM that ran before lives where its disks and domain are: its last host (CloudStack tries it first).
        restart_host = vm.last_host_id
        last = s.get(Host, restart_host)
        if last is None or last.removed is not None or last.status != "Up" or restart_host in avoid:
            restart_host = None  # the last host is gone: place afresh (its domain is lost anyway)
    rules = affinity.constraints(s, vm)
    target = pin or restart_host
    if rules.only is not None:
        if target is not None and target not in rules.only:
            raise affinity_conflict(vm, zone)
        target = next(iter(rules.only))
    if target is not None and target in rules.avoid:
        raise affinity_conflict(vm, zone)
    so = s.get_one(ServiceOffering, vm.service_offering_id)  # held here: the session's identity map is weak
    need = _need(vm, so, pin=target, avoid=avoid | rules.avoid)
    try:
        candidates = placement.plan(s, zone, need, what=f"VM[User|{vm.instance_name}]")
    except InsufficientCapacity:
        if rules.applied:
            raise affinity_conflict(vm, zone) from None
        raise placement.no_capacity(f"VM[User|{vm.instance_name}]", zone) from None
    # non-strict groups: hosts with members first (affinity) or last (anti-affinity); any host still qualifies
    candidates.sort(key=lambda c: 0 if c.host.id in rules.first else 2 if c.host.id in rules.last else 1)
    # First fit over hosts; a host whose cluster has no room for the volumes (no suitable pool, tags, space)
    # rules out its whole cluster and the next cluster is tried, as CloudStack's planner does. Each try runs in a
    # savepoint so its host and pool claims vanish with it.
    host: Host | None = None
    storage_error: InsufficientCapacity | None = None
    no_storage: set[int | None] = set()
    for c in candidates:
        if c.host.cluster_id in no_storage:
            continue
        savepoint = s.begin_nested()
        if not placement.claim_host(s, c.host, need, c.factors):
            savepoint.rollback()
            continue
        try:
            placed = _place_volumes(s, vm, so, zone, c.host)
        except InsufficientCapacity as exc:
            savepoint.rollback()
            storage_error = exc
            no_storage.add(c.host.cluster_id)
            continue
        savepoint.commit()
        host = c.host
        break
    if host is None:
        raise storage_error or placement.no_capacity(f"VM[User|{vm.instance_name}]", zone)
    vm.host_id = host.id
    vm.pod_id = host.pod_id
    vm.hypervisor_type = host.hypervisor_type
    vm.power_state_updated = utcnow()
    kp_keys = []
    if vm.keypairs:
        for name in vm.keypairs.split(","):
            kp = s.scalar(select(SSHKeyPair).where(SSHKeyPair.account_id == vm.account_id, SSHKeyPair.name == name))
            if kp is not None:
                kp_keys.append(kp.public_key)
    metadata = {"hostname": vm.name, "instance-id": vm.uuid, "local-hostname": vm.name}
    if kp_keys:
        metadata["public-keys"] = "\n".join(kp_keys)
    iso = iso_for(s, vm, zone, placed.disks, placed.pools)
    spec = drv.DomainSpec(uuid=vm.uuid, name=vm.instance_name, vcpus=vm.cpu, memory_mib=vm.ram_size,
                          cpu_mhz=vm.speed, disks=tuple(placed.disks), nics=_nic_specs(s, vm, host, nics), start=True,
                          user_data=base64.b64decode(vm.user_data).decode("utf-8", "replace") if vm.user_data
                          else None, metadata=metadata,
                          cdrom=(placed.pools[iso[0]].uuid, iso[1]) if iso is not None else None)
    return _Attempt(host=host, need=need, created=placed.created, spec=spec, pools=placed.pools,
                    template=placed.template, existing_domain=restart_host is not None and restart_host == host.id,
                    data_to_create=placed.data_to_create, vm_row=vm, volume_rows=placed.rows, iso=iso,
                    facts=VmFacts(vm.uuid, vm.vm_type, bool(zone.security_groups_enabled)))


def iso_for(s: Session, vm: VirtualMachine, zone: Zone, disks: list[drv.DiskSpec],
            pools: dict[int, StoragePool]) -> tuple[int, str, str] | None:
    """(pool id, ISO uuid, source) of the VM's attached ISO, copied next to its root disk; None without one."""
    if vm.iso_id is None:
        return None
    root = next((d for d in disks if d.device_id == 0), None)
    pool = next((p for p in pools.values() if root is not None and p.uuid == root.pool), None)
    if pool is None:
        return None
    t_uuid, source = template_source(s, s.get_one(Template, vm.iso_id), zone)
    return pool.id, t_uuid, source


def affinity_conflict(vm: VirtualMachine, zone: Zone) -> InsufficientCapacity:
    """533 for a placement the VM's affinity groups rule out (CloudStack's deploy text plus its hint)."""
    return InsufficientCapacity(f"Unable to create a deployment for VM[User|{vm.instance_name}]"
                                + affinity.AFFINITY_HINT)


def _undo_attempt(runtime: Runtime, vm_id: int, a: _Attempt) -> None:
    """Give back what the attempt claimed: host capacity, pool space, volume states."""
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        placement.release_host(s, a.host.id, a.need.cpu_mhz, a.need.mem_bytes)
        for vol_id, pool_id, size in a.created:
            placement.release_pool(s, pool_id, size)
            vol = s.get_one(Volume, vol_id)
            if vol.state == "Creating":
                fsm.transition(s, vol, VolumeEvent.OperationFailed)  # back to Allocated
            vol.pool_id = None
            vol.path = None
        vm.host_id = None


def start(runtime: Runtime, vm_id: int, *, host_id: int | None = None, deploy: bool = False,
          known: Sequence[object] = ()) -> None:
    """Stopped -> Starting -> (place, create disks, spawn or start) -> Running, retrying other hosts.

    ``known``: rows the caller read moments ago that placement reads again (the deploy's zone, offering,
    template): put in each unit of work's identity map as they are, so they are not selected once more."""
    avoid: set[int] = set()
    last_error: Exception | None = None
    attempt = 0
    prepared_nics = False
    while attempt < MAX_PLACEMENT_ATTEMPTS:
        transitioned = attempt > 0
        try:
            with tx(runtime) as s:
                s.info["known"] = [s.merge(row, load=False) for row in known]  # held: the identity map is weak
                vm = s.get_one(VirtualMachine, vm_id)
                if attempt == 0:
                    # StartRequested and the first placement share one unit of work: if planning fails, the
                    # VM was never Starting as far as anyone else could see.
                    if fsm.transition(s, vm, VmEvent.StartRequested) == "Running":
                        return  # no-op: already running
                    transitioned = True
                a = _plan_attempt(s, vm, pin=host_id, avoid=avoid)
                # What this attempt is about to create on the host: whoever resumes an interrupted job removes it.
                journal.intent(s, "spawn", host_id=a.host.id, volumes=[[p, v] for p, v, _ in a.data_to_create] + [
                    [d.pool, d.volume_uuid] for d in a.spec.disks if d.create])
        except _NicsUnprepared:
            # (rolled back: the VM is not Starting yet.) Prepare its networks, then plan again. Once only:
            # preparing leaves nothing to prepare, so a second time is a bug.
            if prepared_nics:
                _fail_start(runtime, vm_id, deploy)
                raise InternalError(f"VM {vm_id}'s networks still need preparing after they were prepared") from None
            prepared_nics = True
            try:
                _prepare_networks(runtime, vm_id)
            except BaseException:
                _fail_start(runtime, vm_id, deploy)
                raise
            continue
        except CloudError as err:
            if not transitioned:
                raise  # the start itself was refused (invalid state, concurrent change): nothing to undo
            _fail_start(runtime, vm_id, deploy)
            if isinstance(err, InsufficientCapacity) and last_error is not None:
                raise InsufficientCapacity(f"{err.text}; last hypervisor error: {last_error}") from None
            raise
        # its hypervisor's lifecycle events meanwhile are this start's own: VM sync need not look them up
        with starting(runtime, a.spec.uuid):
            try:
                _run_attempt(runtime, a)
            except RETRYABLE as exc:
                log.info("VM %s could not start on host %s (%s); trying another host", vm_id, a.host.name, exc)
                _cleanup_driver(runtime, a)
                _undo_attempt(runtime, vm_id, a)
                avoid.add(a.host.id)
                last_error = exc
                if a.existing_domain or host_id is not None:
                    _fail_start(runtime, vm_id, deploy)
                    raise ResourceUnavailable(f"Unable to start VM instance {a.spec.name} on host {a.host.name}: "
                                              f"{exc}") from None
                attempt += 1
                continue
            except DriverError as exc:
                _cleanup_driver(runtime, a)
                _undo_attempt(runtime, vm_id, a)
                _fail_start(runtime, vm_id, deploy)
                raise InternalError(f"Unable to start VM instance {a.spec.name} ({a.spec.uuid}) on host "
                                    f"{a.host.name}: {exc} (request id {request_id()})") from None
            except BaseException:
                _cleanup_driver(runtime, a)
                _undo_attempt(runtime, vm_id, a)
                _fail_start(runtime, vm_id, deploy)
                raise
            with tx(runtime) as s:
                vm = s.merge(a.vm_row, load=False)
                for vol_id, _pool, _size in a.created:
                    vol = s.merge(a.volume_rows[vol_id], load=False)
                    fsm.transition(s, vol, VolumeEvent.OperationSucceeded, also={"path": vol.uuid})
                fsm.transition(s, vm, VmEvent.OperationSucceeded, also={
                    "last_host_id": a.host.id, "power_state": "PowerOn", "power_state_updated": utcnow()})
        notify(runtime, vm_id, "started", a.facts)
        return
    _fail_start(runtime, vm_id, deploy)
    with tx(runtime) as s:
        zone = s.get_one(Zone, s.get_one(VirtualMachine, vm_id).zone_id)
        name = s.get_one(VirtualMachine, vm_id).instance_name
    raise InsufficientCapacity(f"Unable to create a deployment for VM[User|{name}] in Zone {zone.uuid} after "
                               f"{MAX_PLACEMENT_ATTEMPTS} attempts: {last_error}")


def _run_attempt(runtime: Runtime, a: _Attempt) -> None:
    d = driver_for(runtime, a.host)
    if any(n.bridge for n in a.spec.nics):
        from management.services.infra import kvm

        try:
            kvm.ensure_bridges(a.host.url, a.spec.nics)
        except Exception as exc:  # noqa: BLE001 - ProviderError/OSError: the NIC cannot be plugged
            raise DriverError(f"cannot create the guest bridge on host {a.host.name}: {exc}") from exc
    for pool in a.pools.values():
        d.ensure_pool(hosts_service.pool_spec(pool))
    for image in (a.template, a.iso):
        if image is not None:
            pool_id, t_uuid, source = image
            d.prepare_template(a.pools[pool_id].uuid, t_uuid, source)
    if a.existing_domain and d.get_domain(a.spec.uuid) is not None:
        for disk in a.spec.disks:  # volumes attached while stopped whose domain predates them
            if not disk.create and disk.volume_uuid in {v for _, v, _ in a.data_to_create}:
                d.create_volume(disk.pool, disk.volume_uuid, disk.size_bytes)
                d.attach_volume(a.spec.uuid, disk.pool, disk.volume_uuid, disk.device_id)
        if a.spec.cdrom is not None and d.supports(drv.Capability.CDROM) and d.cdrom_of(a.spec.uuid) is None:
            d.insert_cdrom(a.spec.uuid, *a.spec.cdrom)  # an ISO attached while the VM was stopped
        d.start(a.spec.uuid)
        return
    made: list[tuple[str, str]] = []
    try:
        for pool_uuid, vol_uuid, size in a.data_to_create:
            d.create_volume(pool_uuid, vol_uuid, size)
            made.append((pool_uuid, vol_uuid))
        d.spawn(a.spec)
    except BaseException:
        for pool_uuid, vol_uuid in made:
            try:
                d.delete_volume(pool_uuid, vol_uuid)
            except DriverError:
                log.warning("could not delete volume %s after a failed spawn", vol_uuid, exc_info=True)
        raise


def _cleanup_driver(runtime: Runtime, a: _Attempt) -> None:
    """spawn is atomic; a failed start of an existing domain leaves it defined (its disks are the VM's)."""


def _fail_start(runtime: Runtime, vm_id: int, deploy: bool) -> None:
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.state == "Starting":
            fsm.transition(s, vm, VmEvent.OperationFailed)  # -> Stopped
        vm.host_id = None
        if deploy and vm.state == "Stopped" and vm.last_host_id is None:
            # A deploy that never ran anywhere: CloudStack marks the VM Error (the expunger removes it).
            fsm.transition(s, vm, VmEvent.OperationFailed)  # Stopped -> Error


# ------------------------------------------------------------------------------------------------ stop etc.

def stop(runtime: Runtime, vm_id: int, *, forced: bool = False) -> None:
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.state in ("Error", "Unknown", "Shutdown") and vm.host_id is None:
            fsm.transition(s, vm, VmEvent.StopRequested)
            return
        if fsm.transition(s, vm, VmEvent.StopRequested) == "Stopped":
            return  # no-op
        host = s.get_one(Host, vm.host_id) if vm.host_id else None
        uuid = vm.uuid
        facts = facts_of(s, vm)
    if host is not None:
        try:
            driver_for(runtime, host).stop(uuid, force=forced)
        except DomainNotFound:
            pass
        except DriverError as exc:
            if not forced:
                with tx(runtime) as s:
                    fsm.transition(s, s.get_one(VirtualMachine, vm_id), VmEvent.OperationFailed)  # -> Running
                raise driver_error("stop", f"VM {uuid}", exc) from None
            log.warning("forced stop of %s: hypervisor error ignored: %s", uuid, exc)
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        fsm.transition(s, vm, VmEvent.OperationSucceeded)
        release_capacity(s, vm)
    notify(runtime, vm_id, "stopped", facts)


def release_capacity(s: Session, vm: VirtualMachine) -> None:
    """Called right after the transition that left the active states (in the same unit of work)."""
    if vm.host_id is not None:
        placement.release_host(s, vm.host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
        vm.last_host_id = vm.host_id
        vm.host_id = None
    vm.power_state = "PowerOff"
    vm.power_state_updated = utcnow()


def reboot(runtime: Runtime, vm_id: int) -> None:
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        fsm.next_state(fsm.Kind.VM, vm.state, VmEvent.RebootRequested)
        if vm.state != "Running":
            raise InvalidStateTransition(f"Unable to reboot VM in state {vm.state}")
        host = s.get_one(Host, vm.host_id)
        uuid = vm.uuid
    try:
        driver_for(runtime, host).reboot(uuid)
    except DriverError as exc:
        raise driver_error("reboot", f"VM {uuid}", exc) from None


def destroy(runtime: Runtime, vm_id: int, *, expunge_now: bool = False, volume_ids: list[int] | None = None) -> None:
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        state = vm.state
    if state in ("Destroyed", "Expunging") and not expunge_now:
        return  # destroying twice is a no-op
    if state in ("Running", "Starting", "Stopping", "Unknown", "Shutdown"):
        if state in ("Starting", "Stopping"):
            raise InvalidStateTransition(f"Unable to destroy VM in state {state}")
        stop(runtime, vm_id, forced=True)
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.state != "Destroyed":
            fsm.transition(s, vm, VmEvent.DestroyRequested)  # Stopped -> Destroyed, Error -> Expunging
        if vm.state == "Destroyed":
            for vol in _volumes(s, vm):
                if vol.volume_type == "ROOT" and vol.state == "Ready":
                    fsm.transition(s, vol, VolumeEvent.DestroyRequested)
            from management.services import configuration

            delay = configuration.get_float(s, "expunge.delay", 86400.0)
            vm.expunge_after = utcnow() + timedelta(seconds=delay)
        must_expunge = expunge_now or vm.state == "Expunging"
    if volume_ids:
        from management.services.storage import volumes as volumes_service

        for vid in volume_ids:
            volumes_service.detach(runtime, vid, force_db=True)
            volumes_service.delete(runtime, vid)
    if must_expunge:
        expunge(runtime, vm_id)


def recover(session: Session, vm: VirtualMachine) -> None:
    fsm.transition(session, vm, VmEvent.RecoveryRequested)  # Destroyed -> Stopped
    vm.expunge_after = None
    for vol in _volumes(session, vm):
        if vol.state == "Destroy":
            fsm.transition(session, vol, VolumeEvent.RecoverRequested)


def expunge(runtime: Runtime, vm_id: int) -> None:
    """Destroyed/Error -> Expunging -> removed: the domain and its root disk go, data disks are detached and kept,
    NICs and IPs are released, pool space is given back."""
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.removed is not None:
            return
        if vm.state != "Expunging":
            fsm.transition(s, vm, VmEvent.ExpungeOperation)
        host_id = vm.host_id or vm.last_host_id
        host = s.get_one(Host, host_id) if host_id else None
        uuid = vm.uuid
        data = [(v.uuid, s.get_one(StoragePool, v.pool_id).uuid) for v in _volumes(s, vm)
                if v.volume_type != "ROOT" and v.pool_id is not None]
    if host is not None:
        try:
            d = driver_for(runtime, host)
            for vol_uuid, _pool in data:
                try:
                    d.detach_volume(uuid, vol_uuid)
                except DomainNotFound:
                    break
            d.destroy(uuid)
        except DriverError as exc:
            raise driver_error("expunge", f"VM {uuid}", exc) from None
    vm_snapshots.expunge_all(runtime, vm_id)
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        now = utcnow()
        if vm.host_id is not None:  # Error VMs that still held a claim
            placement.release_host(s, vm.host_id, vm.cpu * vm.speed, vm.ram_size * MiB)
            vm.last_host_id, vm.host_id = vm.host_id, None
        for vol in _volumes(s, vm):
            if vol.volume_type == "ROOT":
                if vol.state in ("Ready", "Allocated"):
                    fsm.transition(s, vol, VolumeEvent.DestroyRequested)
                fsm.transition(s, vol, VolumeEvent.ExpungingRequested)
                fsm.transition(s, vol, VolumeEvent.OperationSucceeded)  # -> Expunged
                if vol.pool_id is not None:
                    placement.release_pool(s, vol.pool_id, vol.size)
                vol.removed = now
                snapshot_policies.delete_for_volume(s, vol.id)
            elif vol.state == "Allocated":
                vol.instance_id, vol.device_id = None, None
            else:
                vol.instance_id, vol.device_id, vol.attached = None, None, None
        release_nics(s, vm)
        affinity.forget_vm(s, vm.id)
        vm.removed = now
        vm.power_state = "PowerOff"
        facts = facts_of(s, vm)
    notify(runtime, vm_id, "expunged", facts)


# ------------------------------------------------------------------------------------------------ scale/restore

def change_offering(session: Session, vm: VirtualMachine, so: ServiceOffering, details: dict[str, str] | None,
                    *, live: bool = False) -> None:
    """changeServiceForVirtualMachine (Stopped) / scaleVirtualMachine (Running: capacity is re-claimed)."""
    cpu, speed, ram = sizing(so, details)
    if vm.state == "Running" and live:
        host = session.get_one(Host, vm.host_id)
        delta_cpu, delta_mem = cpu * speed - vm.cpu * vm.speed, (ram - vm.ram_size) * MiB
        if delta_cpu < 0 or delta_mem < 0:
            raise ParamError("Only scaling up a running VM is supported (CPU and memory must not decrease)")
        cluster = host.cluster
        f = placement.factors_for(session, cluster) if cluster else placement.Factors()
        if not placement.claim_host(session, host, placement.Need(delta_cpu, delta_mem), f):
            raise InsufficientCapacity(f"Unable to scale VM {vm.uuid}: host {host.name} has not enough capacity")
    elif vm.state != "Stopped":
        raise InvalidStateTransition(f"Unable to change the service offering of VM in state {vm.state}; stop it "
                                     "first")
    vm.service_offering_id = so.id
    vm.cpu, vm.speed, vm.ram_size = cpu, speed, ram


def restore(runtime: Runtime, vm_id: int, template_id: int | None) -> None:
    """restoreVirtualMachine: a fresh root disk from the (new) template; a Running VM is restarted."""
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        if vm.state not in ("Running", "Stopped"):
            raise InvalidStateTransition(f"Unable to restore VM in state {vm.state}")
        was_running = vm.state == "Running"
    if was_running:
        stop(runtime, vm_id, forced=True)
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        host_id = vm.last_host_id
        root = next(v for v in _volumes(s, vm) if v.volume_type == "ROOT")
        old_uuid, old_pool = root.uuid, (s.get_one(StoragePool, root.pool_id) if root.pool_id else None)
        uuid = vm.uuid
        host = s.get_one(Host, host_id) if host_id else None
        if template_id is not None:
            vm.template_id = template_id
            tmpl = s.get_one(Template, template_id)
            if tmpl.size and root.size < tmpl.size:
                root.size = tmpl.size
    if host is not None:
        try:
            d = driver_for(runtime, host)
            d.destroy(uuid)  # the domain and its spawned root disk; data disks are detached, not deleted
            if old_pool is not None:
                d.delete_volume(old_pool.uuid, old_uuid)
        except DriverError as exc:
            raise driver_error("restore", f"VM {uuid}", exc) from None
    with tx(runtime) as s:
        vm = s.get_one(VirtualMachine, vm_id)
        root = next(v for v in _volumes(s, vm) if v.volume_type == "ROOT")
        if root.pool_id is not None:
            placement.release_pool(s, root.pool_id, root.size)
        # The old root disk is gone: a fresh Allocated root volume replaces it (same ids, new volume uuid).
        fsm.transition(s, root, VolumeEvent.DestroyRequested)
        fsm.transition(s, root, VolumeEvent.ExpungingRequested)
        fsm.transition(s, root, VolumeEvent.OperationSucceeded)
        root.removed = utcnow()
        s.add(Volume(name=root.name, account_id=root.account_id, domain_id=root.domain_id, zone_id=root.zone_id,
                     instance_id=vm.id, device_id=0, volume_type="ROOT", size=root.size, template_id=vm.template_id,
                     format=root.format))
        # last_host_id stays: the data disks live in that host's pools; start spawns a new domain there.
    if was_running:
        start(runtime, vm_id)


def keypairs_of(session: Session, vm: VirtualMachine) -> list[str]:
    return [k for k in (vm.keypairs or "").split(",") if k]


def find_vm(session: Session, uuid: str) -> VirtualMachine | None:
    return session.scalar(prepared("vm-by-uuid", lambda: select(VirtualMachine).where(
        VirtualMachine.uuid == bindparam("uuid"))), {"uuid": uuid})


def id_and_password(session: Session, uuid: str) -> tuple[int, str | None]:
    """A VM's id and its (decrypted) password in one statement: the password column is deferred."""
    vm_id, password = session.execute(prepared("vm-id-password", lambda: select(
        VirtualMachine.id, VirtualMachine.password).where(VirtualMachine.uuid == bindparam("uuid"))),
        {"uuid": uuid}).one()
    return vm_id, password


def as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if value else {}
