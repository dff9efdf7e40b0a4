"""VM snapshots: createVMSnapshot, listVMSnapshot, revertToVMSnapshot, deleteVMSnapshot,
createSnapshotFromVMSnapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.commands.storage.snapshots import snapshot_responses
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import Params, Ref, TaggedListParams, api_command
from management.api.cloudstack.schemas import TagResp
from management.api.cloudstack.schemas_compute import SnapshotResp, VirtualMachineResp
from management.api.cloudstack.schemas_compute_extras import VMSnapshotResp
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.models.storage import Snapshot
from management.models.vm_snapshots import VMSnapshot
from management.services import access, tags
from management.services.compute import vm as vm_service
from management.services.compute import vm_snapshots as svc
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, rows_by_id, tags_filter

access.register_entity("VMSnapshot", VMSnapshot, "owned")
tags.register("VMSnapshot", "VMSnapshot")
_ENTITY = "VMSnapshot"


def vm_snapshot_responses(ctx: CallContext, snaps: Sequence[VMSnapshot]) -> list[VMSnapshotResp]:
    s = ctx.session
    vms = rows_by_id(s, VirtualMachine, {x.vm_id for x in snaps})
    zones = rows_by_id(s, Zone, {v.zone_id for v in vms.values()})
    parents = rows_by_id(s, VMSnapshot, {x.parent_id for x in snaps if x.parent_id})
    accounts = rows_by_id(s, Account, {x.account_id for x in snaps})
    domains = rows_by_id(s, Domain, {x.domain_id for x in snaps})
    by_tags = tags.tags_of(s, "VMSnapshot", [x.uuid for x in snaps])
    out = []
    for x in snaps:
        vm = vms.get(x.vm_id)
        z = zones.get(vm.zone_id) if vm else None
        parent = parents.get(x.parent_id or -1)
        acct, dom = accounts.get(x.account_id), domains.get(x.domain_id)
        out.append(VMSnapshotResp(
            id=x.uuid, name=x.name, state=x.state, description=x.description, displayname=x.display_name,
            zoneid=z.uuid if z else None, zonename=z.name if z else None, virtualmachineid=vm.uuid if vm else "",
            virtualmachinename=(vm.display_name or vm.name) if vm else None, parent=parent.uuid if parent else None,
            parentName=parent.display_name if parent else None, current=x.current, type=x.snapshot_type,
            created=x.created, account=acct.name if acct else None, domainid=dom.uuid if dom else None,
            domain=dom.name if dom else None, domainpath=dom.path if dom else None, hypervisor=x.hypervisor_type,
            tags=[TagResp(key=t.key, value=t.value, resourcetype=t.resource_type, resourceid=t.resource_uuid)
                  for t in by_tags.get(x.uuid, [])]))
    return out


def _reload(ctx: CallContext, snap_id: int) -> VMSnapshotResp:
    ctx.session.expire_all()
    return vm_service.done(ctx.session, vm_snapshot_responses(ctx, [ctx.session.get_one(VMSnapshot, snap_id)])[0])


class CreateVmSnapshotParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="The ID of the vm")
    name: str | None = Field(None, description="The display name of the snapshot")
    description: str | None = Field(None, description="The description of the snapshot")
    snapshotmemory: bool = Field(False, description="snapshot memory if true")
    quiescevm: bool = Field(False, description="quiesce vm if true")


def _create(ctx: CallContext, p: CreateVmSnapshotParams) -> str:
    vm = ctx.refs["virtualmachineid"]
    return svc.allocate(ctx.runtime, ctx.session, vm, name=p.name, description=p.description,
                        memory=p.snapshotmemory).uuid


@api_command("createVMSnapshot", params=CreateVmSnapshotParams, result_key="vmsnapshot", is_async=True,
             create=_create, entity=_ENTITY, event="VMSNAPSHOT.CREATE", response=VMSnapshotResp, since="4.2.0",
             description="Creates snapshot for a vm.")
def create_vm_snapshot(ctx: CallContext, p: CreateVmSnapshotParams) -> VMSnapshotResp:
    snap = ctx.session.scalar(select(VMSnapshot).where(VMSnapshot.uuid == ctx.created_uuid))
    assert snap is not None
    snap_id = snap.id
    vm_service.release(ctx.session)
    svc.create(ctx.runtime, snap_id, quiesce=p.quiescevm)
    return _reload(ctx, snap_id)


class VmSnapshotIdParams(Params):
    vmsnapshotid: Annotated[str, Ref(_ENTITY)] = Field(description="The ID of the VM snapshot")


@api_command("revertToVMSnapshot", params=VmSnapshotIdParams, result_key="virtualmachine", is_async=True,
             entity="VirtualMachine", event="VMSNAPSHOT.REVERTTO", response=VirtualMachineResp, since="4.2.0",
             description="Revert VM from a vmsnapshot.")
def revert_to_vm_snapshot(ctx: CallContext, p: VmSnapshotIdParams) -> VirtualMachineResp:
    snap = ctx.refs["vmsnapshotid"]
    vm = ctx.session.get_one(VirtualMachine, snap.vm_id)
    svc.check_revert(ctx.session, snap, vm)
    snap_id, vm_uuid = snap.id, vm.uuid
    vm_service.release(ctx.session)
    svc.revert(ctx.runtime, snap_id)
    ctx.session.expire_all()
    reverted = vm_service.find_vm(ctx.session, vm_uuid)
    assert reverted is not None
    return vm_service.done(ctx.session, vm_response(ctx, reverted))


@api_command("deleteVMSnapshot", params=VmSnapshotIdParams, is_async=True, entity=_ENTITY,
             event="VMSNAPSHOT.DELETE", since="4.2.0", description="Deletes a vmsnapshot.")
def delete_vm_snapshot(ctx: CallContext, p: VmSnapshotIdParams) -> Success:
    snap_id = ctx.refs["vmsnapshotid"].id
    vm_service.release(ctx.session)
    svc.delete(ctx.runtime, snap_id)
    return vm_service.done(ctx.session, Success())


class ListVmSnapshotParams(TaggedListParams):
    vmsnapshotid: Annotated[str | None, Ref(_ENTITY, "read")] = Field(None, description="The ID of the VM snapshot")
    vmsnapshotids: list[str] | None = Field(None, description="the IDs of the vm snapshots, mutually exclusive with "
                                            "vmsnapshotid")
    state: str | None = Field(None, description="state of the virtual machine snapshot")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="the ID of the vm")
    name: str | None = Field(None, description="lists snapshot by snapshot name or display name")


@api_command("listVMSnapshot", params=ListVmSnapshotParams, result_key="vmSnapshot", response=VMSnapshotResp,
             since="4.2.0", description="List virtual machine snapshot by conditions")
def list_vm_snapshots(ctx: CallContext, p: ListVmSnapshotParams) -> ListResult:
    s = ctx.session
    stmt = select(VMSnapshot).where(VMSnapshot.removed.is_(None))
    stmt = access.owned_filter(s, stmt, VMSnapshot, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.vmsnapshotid:
        stmt = stmt.where(VMSnapshot.uuid == p.vmsnapshotid)
    if p.vmsnapshotids:
        stmt = stmt.where(VMSnapshot.uuid.in_(p.vmsnapshotids))
    if p.state:
        stmt = stmt.where(VMSnapshot.state == p.state)
    if p.virtualmachineid:
        stmt = stmt.where(VMSnapshot.vm_id == ctx.refs["virtualmachineid"].id)
    if p.name:
        stmt = stmt.where((VMSnapshot.name == p.name) | (VMSnapshot.display_name == p.name))
    stmt = keyword_filter(stmt, p.keyword, VMSnapshot.name, VMSnapshot.display_name)
    stmt = tags_filter(stmt, p.tags, "VMSnapshot", VMSnapshot.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, VMSnapshot.id)
    return ListResult(vm_snapshot_responses(ctx, rows), count)


class SnapshotFromVmSnapshotParams(Params):
    volumeid: Annotated[str, Ref("Volume")] = Field(description="The ID of the disk volume")
    vmsnapshotid: Annotated[str, Ref(_ENTITY)] = Field(description="The ID of the VM snapshot")
    name: str | None = Field(None, description="the name of the snapshot")


def _create_from(ctx: CallContext, p: SnapshotFromVmSnapshotParams) -> str:
    return svc.allocate_volume_snapshot(ctx.session, ctx.refs["vmsnapshotid"], ctx.refs["volumeid"], p.name).uuid


@api_command("createSnapshotFromVMSnapshot", params=SnapshotFromVmSnapshotParams, result_key="snapshot",
             is_async=True, create=_create_from, entity="Snapshot", event="SNAPSHOT.CREATE", response=SnapshotResp,
             since="4.10.0", description="Creates an instant snapshot of a volume from existing vm snapshot.")
def create_snapshot_from_vm_snapshot(ctx: CallContext, p: SnapshotFromVmSnapshotParams) -> SnapshotResp:
    snap = ctx.session.scalar(select(Snapshot).where(Snapshot.uuid == ctx.created_uuid))
    assert snap is not None
    snap_id, vmsnap_id = snap.id, ctx.refs["vmsnapshotid"].id
    vm_service.release(ctx.session)
    svc.create_volume_snapshot(ctx.runtime, vmsnap_id, snap_id)
    ctx.session.expire_all()
    return vm_service.done(ctx.session, snapshot_responses(ctx, [ctx.session.get_one(Snapshot, snap_id)])[0])
