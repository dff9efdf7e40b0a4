"""listCapacity figures, computed from the inventory tables (no separate capacity table to drift).

Types (CloudStack's Capacity.CAPACITY_TYPE_*): 0 memory (bytes), 1 CPU (MHz), 2 primary storage (bytes used),
3 primary storage allocated (bytes, total × storage.overprovisioning.factor), 4 public IPs, 5 private (pod) IPs,
6 secondary storage (bytes), 7 guest VLANs. CPU and memory totals apply the cluster's overcommit ratios; hosts in
Maintenance or removed do not count.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.models.infra import (
    Cluster,
    GuestVlan,
    Host,
    ImageStore,
    PhysicalNetwork,
    Pod,
    PublicIpAddress,
    StoragePool,
    VlanIpRange,
    Zone,
)
from management.services import configuration
from management.services.infra import infra

NAMES = {0: "MEMORY", 1: "CPU", 2: "STORAGE", 3: "STORAGE_ALLOCATED", 4: "VIRTUAL_NETWORK_PUBLIC_IP",
         5: "PRIVATE_IP", 6: "SECONDARY_STORAGE", 7: "VLAN"}


@dataclass(slots=True)
class Capacity:
    type: int
    zone: Zone
    used: int
    total: int
    pod: Pod | None = None
    cluster: Cluster | None = None

    @property
    def name(self) -> str:
        return NAMES[self.type]

    @property
    def percent(self) -> str:
        return f"{(100.0 * self.used / self.total) if self.total else 0.0:.2f}"


def _hosts(session: Session, zone: Zone, pod: Pod | None, cluster: Cluster | None) -> list[Host]:
    stmt = select(Host).where(Host.zone_id == zone.id, Host.removed.is_(None), Host.type == "Routing",
                              Host.resource_state != "Maintenance")
    if pod is not None:
        stmt = stmt.where(Host.pod_id == pod.id)
    if cluster is not None:
        stmt = stmt.where(Host.cluster_id == cluster.id)
    return list(session.scalars(stmt))


def compute(session: Session, zone: Zone, *, pod: Pod | None = None, cluster: Cluster | None = None,
            types: set[int] | None = None) -> list[Capacity]:
    want = types if types is not None else set(NAMES)
    out: list[Capacity] = []
    if want & {0, 1}:
        hs = _hosts(session, zone, pod, cluster)
        clusters = {c.id: c for c in session.scalars(select(Cluster).where(Cluster.zone_id == zone.id))}
        mem_total = cpu_total = mem_used = cpu_used = 0
        for h in hs:
            c = clusters.get(h.cluster_id or -1)
            mem_total += int(h.total_memory * (c.mem_overcommit_ratio if c else 1.0))
            cpu_total += int(h.cpus * h.speed * (c.cpu_overcommit_ratio if c else 1.0))
            mem_used += h.mem_allocated
            cpu_used += h.cpu_allocated
        if 0 in want:
            out.append(Capacity(0, zone, mem_used, mem_total, pod=pod, cluster=cluster))
        if 1 in want:
            out.append(Capacity(1, zone, cpu_used, cpu_total, pod=pod, cluster=cluster))
    if want & {2, 3}:
        stmt = select(StoragePool).where(StoragePool.zone_id == zone.id, StoragePool.removed.is_(None),
                                         StoragePool.scope != "HOST")
        if cluster is not None:
            stmt = stmt.where(StoragePool.cluster_id == cluster.id)
        elif pod is not None:
            stmt = stmt.where(StoragePool.pod_id == pod.id)
        pools = list(session.scalars(stmt))
        factor = configuration.get_float(session, "storage.overprovisioning.factor", 2.0, zone=zone)
        if 2 in want:
            out.append(Capacity(2, zone, sum(p.used_bytes for p in pools), sum(p.capacity_bytes for p in pools),
                                pod=pod, cluster=cluster))
        if 3 in want:
            out.append(Capacity(3, zone, sum(p.allocated_bytes for p in pools),
                                int(sum(p.capacity_bytes for p in pools) * factor), pod=pod, cluster=cluster))
    if 4 in want and pod is None and cluster is None:
        base = (select(func.count()).select_from(PublicIpAddress).join(VlanIpRange, VlanIpRange.id ==
                                                                        PublicIpAddress.vlan_id)
                .where(PublicIpAddress.zone_id == zone.id, PublicIpAddress.removed.is_(None),
                       VlanIpRange.vlan_type == "VirtualNetwork", VlanIpRange.removed.is_(None)))
        total = session.scalar(base) or 0
        used = session.scalar(base.where(PublicIpAddress.state != "Free")) or 0
        out.append(Capacity(4, zone, used, total))
    if 5 in want and cluster is None:
        pods = select(Pod).where(Pod.zone_id == zone.id, Pod.removed.is_(None))
        if pod is not None:
            pods = pods.where(Pod.id == pod.id)
        total = used = 0
        for p in session.scalars(pods):
            if p.start_ip:
                total += int(ipaddress.IPv4Address(p.end_ip or p.start_ip)) - int(ipaddress.IPv4Address(p.start_ip)) + 1
                used += session.scalar(select(func.count()).select_from(Host).where(
                    Host.pod_id == p.id, Host.removed.is_(None), Host.private_ip.is_not(None))) or 0
        out.append(Capacity(5, zone, used, total, pod=pod))
    if 6 in want and pod is None and cluster is None:
        stores = list(session.scalars(select(ImageStore).where(ImageStore.zone_id == zone.id,
                                                               ImageStore.removed.is_(None),
                                                               ImageStore.role == "Image")))
        out.append(Capacity(6, zone, sum(s.used_bytes for s in stores), sum(s.total_bytes for s in stores)))
    if 7 in want and pod is None and cluster is None:
        total = 0
        pns = list(session.scalars(select(PhysicalNetwork).where(PhysicalNetwork.zone_id == zone.id,
                                                                 PhysicalNetwork.removed.is_(None))))
        for pn in pns:
            total += sum(hi - lo + 1 for lo, hi in infra.parse_vlan_ranges(pn.vlan))
        used = session.scalar(select(func.count()).select_from(GuestVlan).where(
            GuestVlan.zone_id == zone.id, GuestVlan.taken.is_not(None))) or 0
        out.append(Capacity(7, zone, used, total))
    return out
