"""Affinity groups: the types CloudStack's processors offer, group membership, and the placement rules they make.

Types (CloudStack's affinity group processors):

* ``host anti-affinity`` - strict: a member never lands on a host another member runs on (or held until recently,
  while Stopped: CloudStack's capacity.skipcounting.hours); no such host left -> 533.
* ``host affinity`` - strict: every member runs on the host the running members share.
* ``non-strict host anti-affinity`` / ``non-strict host affinity`` - best effort: hosts with members are tried
  last / first, and any host still qualifies.

`constraints` turns a VM's groups into a `placement.Need` adjustment; the planner applies it on every hypervisor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.db.prepared import prepared
from management.errors import InsufficientCapacity, ParamError, PermissionDenied
from management.models.affinity import AffinityGroup, AffinityGroupVmMap
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.services import configuration
from management.services.context import Caller

ANTI, AFFINITY = "host anti-affinity", "host affinity"
NS_ANTI, NS_AFFINITY = "non-strict host anti-affinity", "non-strict host affinity"
# listAffinityGroupTypes order (CloudStack's processor order, the admin-only ExplicitDedication left out)
TYPES = (ANTI, AFFINITY, NS_ANTI, NS_AFFINITY)
configuration.register("capacity.skipcounting.hours", "3600", "Advanced", "Time (in seconds) to wait before "
                       "release VM's cpu and memory when VM in stopped state")
AFFINITY_HINT = ", Please check the affinity groups provided, there may not be sufficient capacity to follow them"


def validate_type(value: str) -> str:
    if value not in TYPES:
        raise ParamError(f"Unable to create affinity group, invalid affinity group type: {value}. Valid values are "
                         f"{','.join(TYPES)}")
    return value


def create(session: Session, owner: Account, name: str, type_: str, description: str | None) -> AffinityGroup:
    validate_type(type_)
    if session.scalar(select(AffinityGroup.id).where(AffinityGroup.account_id == owner.id,
                                                     AffinityGroup.name == name)) is not None:
        raise ParamError(f"Unable to create affinity group, a group with name {name} already exists.")
    group = AffinityGroup(name=name, type=type_, description=description, account_id=owner.id,
                          domain_id=owner.domain_id)
    session.add(group)
    session.flush()
    return group


def delete_group(session: Session, group: AffinityGroup) -> None:
    session.execute(delete(AffinityGroupVmMap).where(AffinityGroupVmMap.affinity_group_id == group.id))
    session.delete(group)
    session.flush()


def by_name(session: Session, account_id: int, name: str) -> AffinityGroup | None:
    return session.scalar(select(AffinityGroup).where(AffinityGroup.account_id == account_id,
                                                      AffinityGroup.name == name))


def resolve_for_vm(session: Session, caller: Caller, owner: Account, ids: list[AffinityGroup] | None,
                   names: list[str] | None) -> list[AffinityGroup]:
    """affinitygroupids (already resolved) / affinitygroupnames of a deploy or update; each must be the VM owner's
    (CloudStack: "Affinity Group ... does not belong to the VM's account")."""
    if ids and names:
        raise ParamError("affinityGroupNames and affinityGroupIds parameters can not be specified together")
    groups = list(ids or [])
    for name in names or []:
        group = by_name(session, owner.id, name)
        if group is None:
            raise ParamError(f"Unable to find affinity group by name {name}")
        groups.append(group)
    for group in groups:
        if group.account_id != owner.id:
            raise PermissionDenied(f"Affinity Group {group.name} does not belong to the VM's account")
    return list({g.id: g for g in groups}.values())


def set_groups(session: Session, vm: VirtualMachine, groups: list[AffinityGroup]) -> None:
    session.execute(delete(AffinityGroupVmMap).where(AffinityGroupVmMap.instance_id == vm.id))
    for group in groups:
        session.add(AffinityGroupVmMap(affinity_group_id=group.id, instance_id=vm.id))
    session.flush()


def update_vm_groups(session: Session, vm: VirtualMachine, groups: list[AffinityGroup]) -> None:
    """updateVMAffinityGroup: the VM must be Stopped."""
    if vm.state != "Stopped":
        raise ParamError(f"Unable update affinity groups of the virtual machine {vm.instance_name} in state "
                         f"{vm.state}; make sure the virtual machine is stopped and not in an error state before "
                         "updating.")
    set_groups(session, vm, groups)


def groups_of(session: Session, vm_ids: list[int]) -> dict[int, list[AffinityGroup]]:
    out: dict[int, list[AffinityGroup]] = {}
    if not vm_ids:
        return out
    rows = session.execute(prepared("affinity-groups-of", lambda: (
        select(AffinityGroupVmMap.instance_id, AffinityGroup)
        .join(AffinityGroup, AffinityGroup.id == AffinityGroupVmMap.affinity_group_id)
        .where(AffinityGroupVmMap.instance_id.in_(bindparam("ids", expanding=True))).order_by(AffinityGroup.id))),
        {"ids": list(vm_ids)})
    for vm_id, group in rows:
        out.setdefault(vm_id, []).append(group)
    return out


def members(session: Session, group_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for gid, vm_id in session.execute(select(AffinityGroupVmMap.affinity_group_id, AffinityGroupVmMap.instance_id)
                                      .where(AffinityGroupVmMap.affinity_group_id.in_(group_ids))):
        out.setdefault(gid, []).append(vm_id)
    return out


def forget_vm(session: Session, vm_id: int) -> None:
    """An expunged VM leaves its groups (CloudStack cleans the map when a VM reaches Expunging or Error)."""
    session.execute(delete(AffinityGroupVmMap).where(AffinityGroupVmMap.instance_id == vm_id))


# ------------------------------------------------------------------------------------------------- placement

@dataclass(slots=True)
class Constraints:
    avoid: set[int] = field(default_factory=set)  # strict anti-affinity: hosts that must not be used
    only: set[int] | None = None  # strict affinity: the one host allowed (None: any)
    last: set[int] = field(default_factory=set)  # non-strict anti-affinity: tried after every other host
    first: set[int] = field(default_factory=set)  # non-strict affinity: tried before every other host
    applied: bool = False  # the VM is in at least one group (the 533 text then points at the groups)


def _held_host(session: Session, vm: VirtualMachine) -> int | None:
    """The host a member occupies: where it runs, or (Stopped/Starting, recently) where it ran and still counts."""
    if vm.host_id is not None:
        return vm.host_id
    if vm.state in ("Stopped", "Starting") and vm.last_host_id is not None:
        hours = configuration.get_float(session, "capacity.skipcounting.hours", 3600.0)
        since = vm.power_state_updated
        if since is not None and utcnow() - since < timedelta(seconds=hours):
            return vm.last_host_id
    return None


def constraints(session: Session, vm: VirtualMachine) -> Constraints:
    out = Constraints()
    groups = session.scalars(prepared("affinity-of-vm", lambda: (
        select(AffinityGroup).join(AffinityGroupVmMap, AffinityGroupVmMap.affinity_group_id == AffinityGroup.id)
        .where(AffinityGroupVmMap.instance_id == bindparam("vm_id")).order_by(AffinityGroup.id)
        .with_for_update())), {"vm_id": vm.id}).all()  # serialises planners of one group on MariaDB
    if not groups:
        return out
    out.applied = True
    by_group = members(session, [g.id for g in groups])
    others = {vid for ids in by_group.values() for vid in ids if vid != vm.id}
    vms = {v.id: v for v in session.scalars(select(VirtualMachine).where(VirtualMachine.id.in_(others),
                                                                         VirtualMachine.removed.is_(None)))}
    for group in groups:
        hosts = {h for vid in by_group.get(group.id, []) if vid in vms
                 for h in [_held_host(session, vms[vid])] if h is not None}
        if group.type == ANTI:
            out.avoid |= hosts
        elif group.type == AFFINITY:
            running = {h for vid in by_group.get(group.id, []) if vid in vms
                       for h in [vms[vid].host_id] if h is not None}
            if len(running) > 1:
                raise InsufficientCapacity(f"Unable to create a deployment for VM[User|{vm.instance_name}]: the "
                                           f"members of affinity group {group.name} run on different hosts"
                                           + AFFINITY_HINT)
            if running:
                out.only = running if out.only is None else out.only & running
        elif group.type == NS_ANTI:
            out.last |= hosts
        elif group.type == NS_AFFINITY:
            out.first |= hosts
    return out
