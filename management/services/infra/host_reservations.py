"""Planner reservations on hosts (cleanVMReservations, releaseHostReservation).

Here a host's reservations are its allocation ledger (`Host.cpu_allocated`/`mem_allocated`): what placement has
promised to the VMs it put there. CloudStack keeps the planner's promises in tables of their own; the behaviour the
two commands give is the same: cleaning drops the promises no VM holds any more (a crash between a claim and its
release leaves one), and a host that placement never used has no reservation to release.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from management.errors import InternalError
from management.models.compute import VirtualMachine
from management.models.infra import Host

log = logging.getLogger(__name__)

MiB = 1024**2
HOLDING = ("Starting", "Running", "Stopping")  # states whose VMs hold host capacity
STABLE = ("Running", "Stopped", "Destroyed", "Expunging", "Error", "Shutdown")


def clean_vm_reservations(s: Session) -> int:
    """Recompute each host's ledger from the VMs placed on it; returns how many hosts were corrected.

    As CloudStack keeps the reservation of a VM that is starting, a host where a VM is between states (starting,
    stopping, migrating to or from it) is left alone; while any VM migrates (its destination is not recorded until
    it lands), no host is touched."""
    if s.scalar(select(VirtualMachine.id).where(VirtualMachine.removed.is_(None),
                                                VirtualMachine.state == "Migrating").limit(1)) is not None:
        return 0
    busy = set(s.scalars(select(VirtualMachine.host_id).where(
        VirtualMachine.removed.is_(None), VirtualMachine.host_id.is_not(None), VirtualMachine.state.not_in(STABLE))))
    held: dict[int, tuple[int, int]] = {}
    for vm in s.scalars(select(VirtualMachine).where(VirtualMachine.removed.is_(None),
                                                     VirtualMachine.host_id.is_not(None),
                                                     VirtualMachine.state.in_(HOLDING))):
        cpu, mem = held.get(vm.host_id, (0, 0))  # type: ignore[arg-type]
        held[vm.host_id] = (cpu + vm.cpu * vm.speed, mem + vm.ram_size * MiB)  # type: ignore[index]
    fixed = 0
    for host in s.scalars(select(Host).where(Host.removed.is_(None)).with_for_update()):
        if host.id in busy:
            continue
        cpu, mem = held.get(host.id, (0, 0))
        if (host.cpu_allocated, host.mem_allocated) != (cpu, mem):
            log.info("host %s: reservations %s MHz / %s B no VM holds are released", host.uuid,
                     host.cpu_allocated - cpu, host.mem_allocated - mem)
            host.cpu_allocated, host.mem_allocated = cpu, mem
            fixed += 1
    return fixed


def release_host_reservation(s: Session, host: Host) -> None:
    """CloudStack records a host's planner usage once placement has used it and clears the usage on release; a host
    never used has no record and the release fails."""
    used = s.scalar(select(VirtualMachine.id).where(
        or_(VirtualMachine.host_id == host.id, VirtualMachine.last_host_id == host.id)).limit(1))
    if used is None:
        raise InternalError("Failed to release host reservation")
