"""The datacenter inventory: zones, pods, clusters, primary pools, image stores, physical networks with their
traffic types and service providers, VLAN IP ranges. Business rules only; the API layer shapes responses.

Image stores and NFS: an `nfs://` image store in a zone with real hosts is mounted by this server
(`management.storage.nfs`, at `<state_dir>/mnt/secondary/<uuid>`, again at every start); where the kernel has no NFS
client it is refused with a clear error (use a `file://` directory store). In a zone whose clusters are all
simulators (or that has none yet) the URL is recorded unchanged and served from a stand-in directory under the state
dir (`<state_dir>/imagestores/<uuid>`), which is where template downloads land; this is logged.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import CloudError, InternalError, InvalidStateTransition, ParamError, ResourceInUse
from management.models.compute import VirtualMachine
from management.models.identity import Domain
from management.models.infra import (
    Cluster,
    GuestVlan,
    Host,
    ImageStore,
    NetworkServiceProvider,
    PhysicalNetwork,
    Pod,
    PublicIpAddress,
    StoragePool,
    TrafficType,
    VirtualRouterElement,
    VlanIpRange,
    Zone,
)
from management.models.network import Network
from management.models.storage import TemplateStoreRef, Volume
from management.services.infra import hosts
from management.services.runtime import Runtime
from management.storage import nfs

log = logging.getLogger(__name__)

MAX_RANGE = 65536

# Storage reacts to a new cluster or image store (a zone's first simulator cluster, or a new store, gets the seeded
# template): the templates service registers here when it is imported. Hooks run in the caller's session right after
# the new row is flushed; an error propagates to the command.
CLUSTER_ADDED_HOOKS: list[Callable[[Session, Cluster], None]] = []
IMAGE_STORE_ADDED_HOOKS: list[Callable[[Session, ImageStore], None]] = []


class NotDeletable(CloudError):
    """CloudStack raises a CloudRuntimeException (530) when an inventory object still has children."""

    code = 530
    cs_code = 4250


def _ip(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise ParamError(f"Please specify a valid {what}: {value}") from None


def _netmask(value: str) -> int:
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{value}").prefixlen
    except ValueError:
        raise ParamError(f"Please specify a valid netmask: {value}") from None


def _check_range(gateway: str | None, netmask: str | None, start: str, end: str | None) -> tuple[int, int]:
    s = _ip(start, "start IP")
    e = _ip(end, "end IP") if end else s
    if int(e) < int(s):
        raise ParamError(f"Invalid IP range: start IP {start} is greater than end IP {end}")
    if int(e) - int(s) + 1 > MAX_RANGE:
        raise ParamError(f"IP range {start}-{end} is too large (at most {MAX_RANGE} addresses)")
    if gateway and netmask:
        net = ipaddress.IPv4Network(f"{_ip(gateway, 'gateway')}/{_netmask(netmask)}", strict=False)
        if s not in net or e not in net:
            raise ParamError(f"The IP range {start}-{end} is not in the subnet of gateway {gateway}/{netmask}")
    return int(s), int(e)


def _unique(session: Session, model: Any, what: str, name: str, *, text: str | None = None, **where: Any) -> None:
    """Refuses a live `model` row named `name` (matching `where`); `text` replaces the generic error text."""
    stmt = select(model.id).where(model.name == name)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    if hasattr(model, "removed"):
        stmt = stmt.where(model.removed.is_(None))
    if session.scalar(stmt.limit(1)) is not None:
        raise ParamError(text or f"A {what} with name {name} already exists")


def _allocation_state(value: str | None, default: str) -> str:
    if value is None:
        return default
    for s in ("Enabled", "Disabled"):
        if value.lower() == s.lower():
            return s
    raise ParamError(f"Invalid allocation state {value}: Enabled or Disabled")


def _alive(session: Session, model: Any, *conds: Any) -> int:
    stmt = select(func.count()).select_from(model).where(*conds)
    if hasattr(model, "removed"):
        stmt = stmt.where(model.removed.is_(None))
    return session.scalar(stmt) or 0


# ---- zones ------------------------------------------------------------------------------------------------------

def create_zone(session: Session, *, name: str, networktype: str, dns1: str, dns2: str | None, internaldns1: str,
                internaldns2: str | None, guestcidraddress: str | None, domain: str | None,
                securitygroupenabled: bool | None, localstorageenabled: bool | None, allocationstate: str | None,
                owner_domain: Domain | None, description: str | None) -> Zone:
    nt = {"basic": "Basic", "advanced": "Advanced"}.get(networktype.lower())
    if nt is None:
        raise ParamError(f"Invalid network type {networktype}: Basic or Advanced")
    _unique(session, Zone, "zone", name)
    for label, v in (("dns1", dns1), ("dns2", dns2), ("internaldns1", internaldns1), ("internaldns2", internaldns2)):
        if v:
            try:
                ipaddress.ip_address(v)
            except ValueError:
                raise ParamError(f"Please specify a valid IP address for {label}: {v}") from None
    if guestcidraddress:
        try:
            ipaddress.IPv4Network(guestcidraddress, strict=False)
        except ValueError:
            raise ParamError(f"Please specify a valid guest cidr: {guestcidraddress}") from None
    if nt == "Advanced" and not guestcidraddress:
        guestcidraddress = "10.1.1.0/24"
    sg = bool(securitygroupenabled) if securitygroupenabled is not None else nt == "Basic"
    zone = Zone(name=name, network_type=nt, dns1=dns1, dns2=dns2, internal_dns1=internaldns1,
                internal_dns2=internaldns2, guest_cidr=guestcidraddress if nt == "Advanced" else None,
                network_domain=domain, security_groups_enabled=sg, local_storage_enabled=bool(localstorageenabled),
                allocation_state=_allocation_state(allocationstate, "Disabled"),
                domain_id=owner_domain.id if owner_domain else None, description=description)
    session.add(zone)
    session.flush()
    return zone


def update_zone(session: Session, zone: Zone, **fields: Any) -> Zone:
    name = fields.get("name")
    if name and name != zone.name:
        _unique(session, Zone, "zone", name)
        zone.name = name
    mapping = {"dns1": "dns1", "dns2": "dns2", "internaldns1": "internal_dns1", "internaldns2": "internal_dns2",
               "guestcidraddress": "guest_cidr", "domain": "network_domain", "description": "description"}
    for param, col in mapping.items():
        if fields.get(param) is not None:
            setattr(zone, col, fields[param])
    if fields.get("localstorageenabled") is not None:
        zone.local_storage_enabled = bool(fields["localstorageenabled"])
    if fields.get("allocationstate") is not None:
        zone.allocation_state = _allocation_state(fields["allocationstate"], zone.allocation_state)
    details = fields.get("details")
    if details:
        data = json.loads(zone.details_json or "{}")
        d = data.setdefault("details", {})
        for item in details:
            for k, v in item.items():
                d[k] = v
        zone.details_json = json.dumps(data)
    session.flush()
    return zone


def zone_details(zone: Zone) -> dict[str, str]:
    data = json.loads(zone.details_json or "{}")
    return dict(data.get("details") or {}) if isinstance(data, dict) else {}


def delete_zone(session: Session, zone: Zone) -> None:
    checks = [
        (Host, Host.zone_id == zone.id, "there are servers in this zone"),
        (Pod, Pod.zone_id == zone.id, "there are pods in this zone"),
        (VirtualMachine, VirtualMachine.zone_id == zone.id, "there are virtual machines in this zone"),
        (StoragePool, StoragePool.zone_id == zone.id, "there are primary storage pools in this zone"),
        (ImageStore, ImageStore.zone_id == zone.id, "there are image stores in this zone"),
        (PhysicalNetwork, PhysicalNetwork.zone_id == zone.id, "there are physical networks in this zone"),
        (VlanIpRange, VlanIpRange.zone_id == zone.id, "there are public IP ranges in this zone"),
    ]
    for model, cond, why in checks:
        if _alive(session, model, cond):
            raise NotDeletable(f"The zone {zone.name} is not deletable because {why}")
    zone.removed = utcnow()
    session.flush()


# ---- pods -------------------------------------------------------------------------------------------------------

def create_pod(session: Session, *, zone: Zone, name: str, gateway: str | None, netmask: str | None,
               startip: str | None, endip: str | None, allocationstate: str | None) -> Pod:
    _unique(session, Pod, "pod", name, zone_id=zone.id)
    if startip:
        if not gateway or not netmask:
            raise ParamError("gateway and netmask are required with a pod IP range")
        if not endip:  # CloudStack: the range runs to the last usable address of the pod's CIDR
            net = ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False)
            endip = str(net.broadcast_address - 1) if net.num_addresses > 2 else str(net.broadcast_address)
        _check_range(gateway, netmask, startip, endip)
        _check_pod_overlap(session, zone, None, startip, endip or startip)
    pod = Pod(name=name, zone_id=zone.id, gateway=gateway, netmask=netmask, start_ip=startip,
              end_ip=endip or startip, allocation_state=_allocation_state(allocationstate, "Enabled"))
    session.add(pod)
    session.flush()
    return pod


def _check_pod_overlap(session: Session, zone: Zone, pod: Pod | None, start: str, end: str) -> None:
    s, e = int(_ip(start, "start IP")), int(_ip(end, "end IP"))
    for other in session.scalars(select(Pod).where(Pod.zone_id == zone.id, Pod.removed.is_(None))):
        if pod is not None and other.id == pod.id or not other.start_ip:
            continue
        os_, oe = int(_ip(other.start_ip, "ip")), int(_ip(other.end_ip or other.start_ip, "ip"))
        if s <= oe and os_ <= e:
            raise ParamError(f"The IP range {start}-{end} overlaps with pod {other.name} ({other.start_ip}-"
                             f"{other.end_ip})")


def update_pod(session: Session, pod: Pod, *, name: str | None, gateway: str | None, netmask: str | None,
               startip: str | None, endip: str | None, allocationstate: str | None) -> Pod:
    if name and name != pod.name:
        _unique(session, Pod, "pod", name, zone_id=pod.zone_id)
        pod.name = name
    gw, nm = gateway or pod.gateway, netmask or pod.netmask
    st, en = startip or pod.start_ip, endip or (pod.end_ip if not startip else endip or startip)
    if st and (gateway or netmask or startip or endip):
        _check_range(gw, nm, st, en)
        _check_pod_overlap(session, pod.zone, pod, st, en or st)
    pod.gateway, pod.netmask, pod.start_ip, pod.end_ip = gw, nm, st, en
    if allocationstate is not None:
        pod.allocation_state = _allocation_state(allocationstate, pod.allocation_state)
    session.flush()
    return pod


def delete_pod(session: Session, pod: Pod) -> None:
    if _alive(session, Host, Host.pod_id == pod.id):
        raise NotDeletable(f"The pod {pod.name} is not deletable because there are servers in this pod")
    if _alive(session, Cluster, Cluster.pod_id == pod.id):
        raise NotDeletable(f"The pod {pod.name} is not deletable because there are clusters in this pod")
    if _alive(session, VlanIpRange, VlanIpRange.pod_id == pod.id):
        raise NotDeletable(f"The pod {pod.name} is not deletable because there are IP ranges in this pod")
    pod.removed = utcnow()
    session.flush()


# ---- clusters ---------------------------------------------------------------------------------------------------

def add_cluster(session: Session, *, zone: Zone, pod: Pod, name: str, hypervisor: str, clustertype: str,
                allocationstate: str | None, url: str | None = None) -> Cluster:
    hv = hosts.canonical_hypervisor(hypervisor)
    ct = {"cloudmanaged": "CloudManaged", "externalmanaged": "ExternalManaged"}.get(clustertype.lower())
    if ct is None:
        raise ParamError(f"Invalid cluster type {clustertype}: CloudManaged or ExternalManaged")
    if pod.zone_id != zone.id:
        raise ParamError(f"Pod {pod.name} does not belong to zone {zone.name}")
    _unique(session, Cluster, "cluster", name, pod_id=pod.id)
    cluster = Cluster(name=name, zone_id=zone.id, pod_id=pod.id, hypervisor_type=hv, cluster_type=ct,
                      allocation_state=_allocation_state(allocationstate, "Enabled"), url=url)
    session.add(cluster)
    session.flush()
    for hook in list(CLUSTER_ADDED_HOOKS):
        hook(session, cluster)
    return cluster


def update_cluster(session: Session, cluster: Cluster, *, name: str | None, allocationstate: str | None,
                   managedstate: str | None, hypervisor: str | None, clustertype: str | None) -> Cluster:
    if name and name != cluster.name:
        _unique(session, Cluster, "cluster", name, pod_id=cluster.pod_id)
        cluster.name = name
    if allocationstate is not None:
        cluster.allocation_state = _allocation_state(allocationstate, cluster.allocation_state)
    if managedstate is not None:
        ms = {"managed": "Managed", "unmanaged": "Unmanaged"}.get(managedstate.lower())
        if ms is None:
            raise ParamError(f"Invalid managed state {managedstate}: Managed or Unmanaged")
        cluster.managed_state = ms
    if hypervisor is not None and hypervisor.lower() != cluster.hypervisor_type.lower():
        raise ParamError("The hypervisor of a cluster can't be changed")
    if clustertype is not None and clustertype.lower() != cluster.cluster_type.lower():
        raise ParamError("The type of a cluster can't be changed")
    session.flush()
    return cluster


def delete_cluster(session: Session, cluster: Cluster) -> None:
    if _alive(session, Host, Host.cluster_id == cluster.id):
        raise NotDeletable(f"The cluster {cluster.name} is not deletable because there are servers in it")
    if _alive(session, StoragePool, StoragePool.cluster_id == cluster.id):
        raise NotDeletable(f"The cluster {cluster.name} is not deletable because there are primary storage "
                           "pools in it")
    cluster.removed = utcnow()
    session.flush()


# ---- primary storage --------------------------------------------------------------------------------------------

def parse_pool_url(url: str) -> tuple[str, str | None, str]:
    """(pool_type, host_address, path) for nfs://host/path, file:///path, /path."""
    if url.startswith("/"):
        return "Filesystem", None, url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "nfs":
        path = parts.path
        if parts.netloc.endswith(":"):  # nfs://10.147.28.6:/export/... (Marvin's spelling)
            pass
        if not parts.hostname or not path:
            raise ParamError(f"Invalid NFS url {url}: nfs://<server>/<path>")
        return "NetworkFilesystem", parts.hostname, path
    if scheme == "file":
        if not parts.path:
            raise ParamError(f"Invalid file url {url}")
        return "Filesystem", parts.hostname or "localhost", parts.path
    if scheme in ("sharedmountpoint", "mountpoint"):
        return "SharedMountPoint", parts.hostname, parts.path
    raise ParamError(f"Unsupported storage pool url {url}: nfs://, file:// or an absolute path")


def create_storage_pool(runtime: Runtime, session: Session, *, zone: Zone, pod: Pod | None,
                        cluster: Cluster | None, name: str, url: str, scope: str | None, hypervisor: str | None,
                        tags: str | None, provider: str | None, capacitybytes: int | None) -> StoragePool:
    sc = (scope or ("CLUSTER" if cluster is not None else "ZONE")).upper()
    if sc not in ("CLUSTER", "ZONE"):
        raise ParamError(f"Invalid scope {scope}: cluster or zone")
    if sc == "CLUSTER":
        if cluster is None:
            raise ParamError("clusterid is required for a cluster-scoped storage pool")
        if pod is None:
            pod = cluster.pod
        if cluster.zone_id != zone.id or cluster.pod_id != pod.id:
            raise ParamError(f"Cluster {cluster.name} does not belong to pod {pod.name} in zone {zone.name}")
    else:
        cluster, pod = None, None
        if hypervisor:
            hypervisor = hosts.canonical_hypervisor(hypervisor)
    _unique(session, StoragePool, "storage pool", name, zone_id=zone.id)
    pool_type, address, path = parse_pool_url(url)
    if pool_type == "Filesystem":
        Path(path).mkdir(parents=True, exist_ok=True)
    pool = StoragePool(name=name, zone_id=zone.id, pod_id=pod.id if pod else None,
                       cluster_id=cluster.id if cluster else None, scope=sc, pool_type=pool_type, url=url,
                       host_address=address, path=path, status="Up",
                       hypervisor=hypervisor if sc == "ZONE" else (cluster.hypervisor_type if cluster else None),
                       provider=provider or "DefaultPrimary", tags=tags or None,
                       capacity_bytes=capacitybytes or 0)
    if pool_type == "Filesystem" and not capacitybytes:
        usage = shutil.disk_usage(path)
        pool.capacity_bytes, pool.used_bytes = usage.total, usage.used
    session.add(pool)
    session.flush()
    outcome = hosts.ensure_pool_everywhere(runtime, session, pool)
    failed = {h: why for h, why in outcome.items() if why}
    if failed and len(failed) == len(outcome):
        # no host can use it (an NFS export that does not mount): refuse rather than record a dead pool
        raise InternalError(f"Failed to add data store {name}: " + "; ".join(f"{h}: {why}" for h, why in
                                                                           failed.items()))
    if failed:
        log.warning("storage pool %s: hosts %s could not set it up (they retry on reconnect)", name, list(failed))
    return pool


def update_storage_pool(session: Session, pool: StoragePool, *, name: str | None, tags: str | None,
                        enabled: bool | None, capacitybytes: int | None) -> StoragePool:
    if name and name != pool.name:
        _unique(session, StoragePool, "storage pool", name, zone_id=pool.zone_id)
        pool.name = name
    if tags is not None:
        pool.tags = tags or None
    if capacitybytes:
        pool.capacity_bytes = capacitybytes
    if enabled is not None:
        if pool.status in ("Maintenance", "PrepareForMaintenance"):
            raise InvalidStateTransition(f"Storage pool {pool.name} is in maintenance")
        pool.status = "Up" if enabled else "Disabled"
    session.flush()
    return pool


def delete_storage_pool(session: Session, pool: StoragePool, *, forced: bool) -> None:
    vols = _alive(session, Volume, Volume.pool_id == pool.id) if hasattr(Volume, "pool_id") else 0
    if vols and not forced:
        raise ResourceInUse(f"Cannot delete storage pool {pool.name}: it holds {vols} volume(s)")
    pool.removed = utcnow()
    pool.status = "Removed"
    session.flush()


def pool_maintenance(session: Session, pool: StoragePool, enable: bool) -> StoragePool:
    if enable:
        if pool.status == "Maintenance":
            return pool
        if pool.status not in ("Up", "Disabled", "ErrorInMaintenance"):
            raise InvalidStateTransition(f"Storage pool {pool.name} is {pool.status}; can't enter maintenance")
        pool.status = "Maintenance"
    else:
        if pool.status not in ("Maintenance", "PrepareForMaintenance", "ErrorInMaintenance"):
            raise InvalidStateTransition(f"Storage pool {pool.name} is not in maintenance (state {pool.status})")
        pool.status = "Up"
    session.flush()
    return pool


# ---- image stores -----------------------------------------------------------------------------------------------

def _zone_is_simulated(session: Session, zone: Zone | None) -> bool:
    if zone is None:
        return True
    hvs = set(session.scalars(select(Cluster.hypervisor_type).where(Cluster.zone_id == zone.id,
                                                                    Cluster.removed.is_(None))))
    return not hvs or hvs == {"Simulator"}


def add_image_store(runtime: Runtime, session: Session, *, zone: Zone | None, name: str | None, url: str | None,
                    provider: str, role: str = "Image") -> ImageStore:
    prov = {"nfs": "NFS", "s3": "S3", "swift": "Swift"}.get(provider.lower())
    if prov is None:
        raise ParamError(f"Invalid image store provider {provider}: NFS")
    if prov != "NFS":
        raise ParamError(f"Image store provider {prov} is not supported yet; use NFS (an nfs:// or file:// url)")
    if not url:
        raise ParamError("Unable to execute API command addimagestore due to missing parameter url")
    name = name or url
    if role == "Image":  # staging stores, named after their URL, are not checked (as in CloudStack)
        # StorageManagerImpl.discoverImageStore's text: image store names are unique cloud-wide
        _unique(session, ImageStore, "image store", name, role="Image",
                text=f"The image store with name {name} already exists, try creating with another name")
    if url.startswith("/") or url.lower().startswith("file://"):
        local = url if url.startswith("/") else urlsplit(url).path
        protocol = "file"
        Path(local).mkdir(parents=True, exist_ok=True)
        store = ImageStore(name=name, zone_id=zone.id if zone else None, url=url, protocol=protocol,
                           provider="NFS", role=role, local_path=local)
    elif url.lower().startswith("nfs://"):
        parse_pool_url(url)
        simulated = _zone_is_simulated(session, zone)
        if not simulated and not nfs.client_available():
            raise ParamError(f"Cannot mount NFS store {url} on this machine (no NFS client in its kernel); use a "
                             "directory store (file:///path)")
        store = ImageStore(name=name, zone_id=zone.id if zone else None, url=url, protocol="nfs",
                           provider="NFS", role=role, local_path="")
        session.add(store)
        session.flush()
        if simulated:
            base = runtime.settings.state_dir / "imagestores" / store.uuid
            base.mkdir(parents=True, exist_ok=True)
            log.info("image store %s: %s is not mounted (simulator zone); its local stand-in is %s", name, url,
                     base)
        else:
            base = nfs.mount_point(runtime.settings.state_dir, store.uuid)
            try:
                _mount_nfs_store(store, base)
            except nfs.MountError as exc:
                raise InternalError(f"Failed to add secondary storage {name}: {exc}") from None
        store.local_path = str(base)
    else:
        raise ParamError(f"Unsupported image store url {url}: nfs://server/path, file:///path or /path")
    try:
        usage = shutil.disk_usage(store.local_path)
        store.total_bytes, store.used_bytes = usage.total, usage.used
    except OSError:
        pass
    session.add(store)
    session.flush()
    for hook in list(IMAGE_STORE_ADDED_HOOKS):
        hook(session, store)
    return store


def _mount_nfs_store(store: ImageStore, base: Path) -> None:
    """Mount the store's nfs:// export on base unless it is mounted there already (raises nfs.MountError)."""
    _, server, export = parse_pool_url(store.url)
    if nfs.ensure_mounted(server or "", export, base):
        log.info("image store %s: %s mounted on %s", store.name, store.url, base)


def mount_image_stores(runtime: Runtime) -> None:
    """At start-up: mount the NFS image stores that were mounted when they were added (a reboot unmounted them).
    A store that does not mount is logged; template and snapshot copies to it fail with the mount's error."""
    with runtime.db.session() as session:
        stores = list(session.scalars(select(ImageStore).where(ImageStore.removed.is_(None),
                                                                ImageStore.protocol == "nfs")))
        for store in stores:
            base = nfs.mount_point(runtime.settings.state_dir, store.uuid)
            if store.local_path != str(base):
                continue  # a simulator zone's stand-in directory
            try:
                _mount_nfs_store(store, base)
            except nfs.MountError as exc:
                log.error("image store %s: %s", store.name, exc)


def delete_image_store(session: Session, store: ImageStore) -> None:
    n = session.scalar(select(func.count()).select_from(TemplateStoreRef)
                       .where(TemplateStoreRef.store_id == store.id)) or 0
    if n:
        raise NotDeletable(f"Cannot delete image store {store.name}: it holds {n} template(s)/ISO(s)")
    store.removed = utcnow()
    session.flush()
    if store.protocol != "nfs" or not store.local_path:
        return
    if os.path.ismount(store.local_path):
        # a real NFS export: its contents are the NFS server's, only the mount goes
        nfs.unmount(Path(store.local_path))
        with contextlib.suppress(OSError):
            os.rmdir(store.local_path)
    elif os.path.isdir(store.local_path):  # a simulator zone's stand-in directory
        shutil.rmtree(store.local_path, ignore_errors=True)


# ---- physical networks, traffic types, providers ----------------------------------------------------------------

PROVIDERS = {
    "VirtualRouter": "Vpn,Dhcp,Dns,Firewall,Lb,UserData,SourceNat,StaticNat,PortForwarding,Gateway",
    "VpcVirtualRouter": "Vpn,Dhcp,Dns,Lb,UserData,SourceNat,StaticNat,NetworkACL,PortForwarding,Gateway",
    "InternalLbVm": "Lb",
    "SecurityGroupProvider": "SecurityGroup",
}
_ELEMENT_PROVIDERS = ("VirtualRouter", "VpcVirtualRouter", "InternalLbVm")
TRAFFIC_TYPES = ("Guest", "Public", "Management", "Storage")
ISOLATION_METHODS = ("VLAN", "L3", "GRE", "VXLAN", "STT", "BCF_SEGMENT", "SSP", "ODL", "L3VPN", "VCS", "VNS",
                     "NSX", "NETRIS")


def parse_vlan_ranges(vlan: str | None) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for part in (vlan or "").split(","):
        part = part.strip()
        if not part:
            continue
        a, _, b = part.partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            raise ParamError(f"Invalid vlan range {part}") from None
        if not 0 < lo <= hi <= 4094:
            raise ParamError(f"Invalid vlan range {part}: VLAN ids are 1-4094")
        out.append((lo, hi))
    return out


def create_physical_network(session: Session, *, zone: Zone, name: str, isolationmethods: list[str] | None,
                            vlan: str | None, broadcastdomainrange: str | None, tags: list[str] | None,
                            networkspeed: str | None, domain: Domain | None) -> PhysicalNetwork:
    methods = []
    for m in isolationmethods or ["VLAN"]:
        match = next((x for x in ISOLATION_METHODS if x.lower() == m.lower()), None)
        if match is None:
            raise ParamError(f"Invalid isolation method {m}")
        methods.append(match)
    parse_vlan_ranges(vlan)
    bdr = (broadcastdomainrange or ("POD" if zone.network_type == "Basic" else "ZONE")).upper()
    if bdr not in ("POD", "ZONE"):
        raise ParamError(f"Invalid broadcast domain range {broadcastdomainrange}: POD or ZONE")
    pn = PhysicalNetwork(name=name, zone_id=zone.id, isolation_methods=",".join(methods), vlan=vlan or None,
                         broadcast_domain_range=bdr, state="Disabled", tags=",".join(tags) if tags else None,
                         speed=networkspeed, domain_id=domain.id if domain else None)
    session.add(pn)
    session.flush()
    for pname, services in PROVIDERS.items():
        nsp = NetworkServiceProvider(physical_network_id=pn.id, name=pname, state="Disabled", services=services)
        session.add(nsp)
        session.flush()
        if pname in _ELEMENT_PROVIDERS:
            session.add(VirtualRouterElement(nsp_id=nsp.id, type=pname, enabled=False))
    session.flush()
    return pn


def update_physical_network(session: Session, pn: PhysicalNetwork, *, state: str | None, vlan: str | None,
                            tags: list[str] | None, networkspeed: str | None) -> PhysicalNetwork:
    if vlan is not None:
        new = parse_vlan_ranges(vlan)
        taken = list(session.scalars(select(GuestVlan.vnet).where(GuestVlan.physical_network_id == pn.id,
                                                                  GuestVlan.taken.is_not(None))))
        for v in taken:
            if not any(lo <= v <= hi for lo, hi in new):
                raise ResourceInUse(f"VLAN {v} of physical network {pn.name} is in use; the new range must "
                                    "include it")
        pn.vlan = vlan or None
    if state is not None:
        st = {"enabled": "Enabled", "disabled": "Disabled"}.get(state.lower())
        if st is None:
            raise ParamError(f"Invalid state {state}: Enabled or Disabled")
        pn.state = st
    if tags is not None:
        pn.tags = ",".join(tags) or None
    if networkspeed is not None:
        pn.speed = networkspeed
    session.flush()
    return pn


def delete_physical_network(session: Session, pn: PhysicalNetwork) -> None:
    if _alive(session, Network, Network.physical_network_id == pn.id):
        raise NotDeletable(f"Unable to delete physical network {pn.name}: guest networks use it")
    if _alive(session, VlanIpRange, VlanIpRange.physical_network_id == pn.id):
        raise NotDeletable(f"Unable to delete physical network {pn.name}: it has IP ranges")
    for nsp in session.scalars(select(NetworkServiceProvider).where(
            NetworkServiceProvider.physical_network_id == pn.id)):
        for el in session.scalars(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == nsp.id)):
            session.delete(el)
        session.delete(nsp)
    for tt in session.scalars(select(TrafficType).where(TrafficType.physical_network_id == pn.id)):
        session.delete(tt)
    for gv in session.scalars(select(GuestVlan).where(GuestVlan.physical_network_id == pn.id)):
        session.delete(gv)
    pn.removed = utcnow()
    session.flush()


def add_traffic_type(session: Session, pn: PhysicalNetwork, traffictype: str, labels: dict[str, str | None],
                     vlan: str | None) -> TrafficType:
    tt = next((t for t in TRAFFIC_TYPES if t.lower() == traffictype.lower()), None)
    if tt is None:
        raise ParamError(f"Invalid traffic type {traffictype}: {', '.join(TRAFFIC_TYPES)}")
    dup = session.scalar(select(TrafficType.id).where(TrafficType.physical_network_id == pn.id,
                                                      TrafficType.traffic_type == tt))
    if dup is not None:
        raise ParamError(f"The physical network {pn.name} already has traffic type {tt}")
    if tt != "Guest":  # only Guest traffic may be carried by several physical networks of a zone
        other = session.scalar(select(PhysicalNetwork.name).join(TrafficType, TrafficType.physical_network_id ==
                                                                 PhysicalNetwork.id)
                               .where(PhysicalNetwork.zone_id == pn.zone_id, PhysicalNetwork.removed.is_(None),
                                      TrafficType.traffic_type == tt))
        if other is not None:
            raise ParamError(f"Traffic type {tt} is already carried by physical network {other} in this zone")
    row = TrafficType(physical_network_id=pn.id, traffic_type=tt, kvm_label=labels.get("kvm"),
                      xen_label=labels.get("xen"), vmware_label=labels.get("vmware"),
                      simulator_label=labels.get("simulator"), vlan=vlan)
    session.add(row)
    session.flush()
    return row


def delete_traffic_type(session: Session, tt: TrafficType) -> None:
    session.delete(tt)
    session.flush()


def update_provider(session: Session, nsp: NetworkServiceProvider, *, state: str | None,
                    servicelist: list[str] | None) -> NetworkServiceProvider:
    if state is not None:
        st = {"enabled": "Enabled", "disabled": "Disabled", "shutdown": "Shutdown"}.get(state.lower())
        if st is None:
            raise ParamError(f"Invalid state {state}: Enabled, Disabled or Shutdown")
        if st == "Enabled" and nsp.name in _ELEMENT_PROVIDERS:
            el = session.scalar(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == nsp.id))
            if el is not None and not el.enabled:
                raise ParamError(f"Provider {nsp.name} is not ready, cannot Enable the provider, please configure "
                                 "the provider first")
        nsp.state = "Disabled" if st == "Shutdown" else st
    if servicelist is not None:
        allowed = set(PROVIDERS.get(nsp.name, "").split(","))
        bad = [s for s in servicelist if s not in allowed]
        if bad:
            raise ParamError(f"Provider {nsp.name} does not support services {', '.join(bad)}")
        nsp.services = ",".join(servicelist)
    session.flush()
    return nsp


def configure_element(session: Session, el: VirtualRouterElement, enabled: bool) -> VirtualRouterElement:
    el.enabled = enabled
    session.flush()
    return el


# ---- VLAN IP ranges ---------------------------------------------------------------------------------------------

def vlan_tag(vlan: str | None) -> str:
    v = (vlan or "untagged").strip()
    if v.lower().startswith("vlan://"):
        v = v[7:]
    if v.lower() == "untagged":
        return "vlan://untagged"
    try:
        n = int(v)
    except ValueError:
        raise ParamError(f"Invalid vlan {vlan}") from None
    if not 0 < n <= 4094:
        raise ParamError(f"Invalid vlan {vlan}: 1-4094 or untagged")
    return f"vlan://{n}"


def create_vlan_range(session: Session, *, zone: Zone, pod: Pod | None, pn: PhysicalNetwork | None,
                      network: Network | None, vlan: str | None, gateway: str | None, netmask: str | None,
                      startip: str, endip: str | None, forvirtualnetwork: bool | None,
                      account_id: int | None, domain_id: int | None, description: str | None = None) -> VlanIpRange:
    if not gateway or not netmask:
        raise ParamError("gateway and netmask are required for an IP range")
    virtual = forvirtualnetwork if forvirtualnetwork is not None else (network is None and pod is None)
    s, e = _check_range(gateway, netmask, startip, endip)
    if pod is not None and pod.zone_id != zone.id:
        raise ParamError(f"Pod {pod.name} does not belong to zone {zone.name}")
    if network is not None and network.zone_id != zone.id:
        raise ParamError("The network is not in the zone")
    if virtual and network is None:
        if zone.network_type == "Basic" and not zone.security_groups_enabled:
            raise ParamError("Public IP ranges are not supported in Basic zones")
        if pn is None:
            pn = session.scalar(select(PhysicalNetwork).join(TrafficType, TrafficType.physical_network_id ==
                                                             PhysicalNetwork.id)
                                .where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed.is_(None),
                                       TrafficType.traffic_type == "Public"))
            if pn is None:
                pn = session.scalar(select(PhysicalNetwork).where(PhysicalNetwork.zone_id == zone.id,
                                                                  PhysicalNetwork.removed.is_(None))
                                    .order_by(PhysicalNetwork.id))
    elif not virtual and network is None and pod is None:
        raise ParamError("A direct (guest) IP range needs a networkid (shared network) or a podid (Basic zone)")
    if network is not None and pn is None and network.physical_network_id:
        pn = session.get(PhysicalNetwork, network.physical_network_id)
    if _ranges_overlap(session, zone, s, e):
        raise ParamError(f"The IP range {startip}-{endip or startip} overlaps with an existing range in zone "
                         f"{zone.name}")
    row = VlanIpRange(zone_id=zone.id, pod_id=pod.id if pod else None, physical_network_id=pn.id if pn else None,
                      network_id=network.id if network else None, vlan_tag=vlan_tag(vlan), gateway=gateway,
                      netmask=netmask, start_ip=startip, end_ip=endip or startip,
                      vlan_type="VirtualNetwork" if virtual else "DirectAttached", account_id=account_id,
                      domain_id=domain_id)
    session.add(row)
    session.flush()
    session.execute(_public_ip_table().insert(), [
        {"uuid": _uuid(), "public_ip_address": str(ipaddress.IPv4Address(n)), "zone_id": zone.id,
         "vlan_id": row.id, "physical_network_id": row.physical_network_id, "state": "Free",
         "network_id": row.network_id if not virtual else None, "source_nat": False, "one_to_one_nat": False,
         "is_system": False, "for_display": True, "account_id": account_id, "domain_id": domain_id}
        for n in range(s, e + 1)
    ])
    session.flush()
    return row


def _public_ip_table() -> Table:
    """The address table, for Core bulk INSERT/DELETE of a whole range's rows."""
    table = PublicIpAddress.__table__
    assert isinstance(table, Table)  # a declarative class with __tablename__ is mapped to a Table
    return table


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _ranges_overlap(session: Session, zone: Zone, s: int, e: int) -> bool:
    for r in session.scalars(select(VlanIpRange).where(VlanIpRange.zone_id == zone.id,
                                                       VlanIpRange.removed.is_(None))):
        rs, re_ = int(ipaddress.IPv4Address(r.start_ip)), int(ipaddress.IPv4Address(r.end_ip))
        if s <= re_ and rs <= e:
            return True
    return False


def delete_vlan_range(session: Session, row: VlanIpRange) -> None:
    used = session.scalar(select(func.count()).select_from(PublicIpAddress).where(
        PublicIpAddress.vlan_id == row.id, PublicIpAddress.removed.is_(None),
        PublicIpAddress.state != "Free")) or 0
    if used:
        raise ResourceInUse(f"The IP range {row.start_ip}-{row.end_ip} can't be deleted: {used} of its "
                            "addresses are allocated")
    session.execute(_public_ip_table().delete().where(PublicIpAddress.vlan_id == row.id))
    row.removed = utcnow()
    session.flush()
