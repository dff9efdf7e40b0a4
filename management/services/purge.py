"""purgeExpungedResources (CloudStack 4.20): removes the database rows that expunged resources leave behind
(CloudStack keeps them with `removed` set) — here expunged VMs with their released NICs, removed volumes without
snapshots, and their usage samples — optionally only those removed between two dates, in batches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.network import Nic
from management.models.platform import VmStats, VolumeStats
from management.models.storage import Snapshot, Volume

RESOURCE_TYPES = ("VirtualMachine",)


def purge(session: Session, resource_type: str | None, batch_size: int | None, start: datetime | None,
          end: datetime | None) -> int:
    if resource_type is not None and resource_type not in RESOURCE_TYPES:
        raise ParamError(f"Invalid resource type: {resource_type} specified. Supported types: "
                         f"{', '.join(RESOURCE_TYPES)}")
    if batch_size is not None and batch_size <= 0:
        raise ParamError("Invalid batch size: " + str(batch_size))
    if start is not None and end is not None and start > end:
        raise ParamError("Invalid start date and end date combination. Start date should be before end date")
    stmt = select(VirtualMachine).where(VirtualMachine.removed.is_not(None),
                                        VirtualMachine.state.in_(("Expunging", "Destroyed", "Error")))
    if start is not None:
        stmt = stmt.where(VirtualMachine.removed >= start)
    if end is not None:
        stmt = stmt.where(VirtualMachine.removed <= end)
    vms = list(session.scalars(stmt.order_by(VirtualMachine.id).limit(batch_size or 1000)))
    for vm in vms:
        vols = [v.id for v in session.scalars(select(Volume).where(Volume.instance_id == vm.id,
                                                                    Volume.removed.is_not(None)))]
        keep = set(session.scalars(select(Snapshot.volume_id).where(Snapshot.volume_id.in_(vols or [0]))))
        doomed = [v for v in vols if v not in keep]
        if doomed:
            session.execute(delete(VolumeStats).where(VolumeStats.volume_id.in_(doomed)))
            session.execute(delete(Volume).where(Volume.id.in_(doomed)))
        session.execute(delete(Nic).where(Nic.instance_id == vm.id, Nic.removed.is_not(None)))
        session.execute(delete(VmStats).where(VmStats.vm_id == vm.id))
        session.delete(vm)
    session.flush()
    return len(vms)
