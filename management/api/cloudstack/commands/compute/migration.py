"""Live and storage migration of VMs: findHostsForMigration, migrateVirtualMachine,
migrateVirtualMachineWithVolume (volumes alone: the storage family's migrateVolume)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.commands.infra.hosts import host_resp
from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, MapParam, Params, Ref, api_command
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.api.cloudstack.schemas_compute_extras import HostForMigrationResp
from management.errors import ParamError
from management.models.storage import Volume
from management.services import access
from management.services.compute import migration
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.listing import check_paging

_VM = "VirtualMachine"


class FindHostsParams(ListParams):
    virtualmachineid: Annotated[str, Ref(_VM)] = Field(description="find hosts to which this VM can be migrated and "
                                                       "flag the hosts with enough CPU/RAM to host the VM")


@api_command("findHostsForMigration", params=FindHostsParams, result_key="host", response=HostForMigrationResp,
             roles=ADMIN, description="Find hosts suitable for migrating a virtual machine.")
def find_hosts(ctx: CallContext, p: FindHostsParams) -> ListResult:
    found = migration.hosts_for_migration(ctx.session, ctx.refs["virtualmachineid"])
    if p.keyword:
        found = [c for c in found if p.keyword.lower() in c.host.name.lower()]
    offset, limit = check_paging(ctx.session, p.page, p.pagesize)
    page = found[offset:offset + limit] if limit is not None else found[offset:]
    items = [HostForMigrationResp(**host_resp(c.host).model_dump(), requiresStorageMotion=c.requires_storage_motion,
                                  suitableformigration=c.suitable) for c in page]
    return ListResult(items, len(found))


class MigrateVmParams(Params):
    virtualmachineid: Annotated[str, Ref(_VM)] = Field(description="the ID of the virtual machine")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(
        None, description="Destination Host ID to migrate VM to.")
    storageid: Annotated[str | None, Ref("StoragePool", "read")] = Field(
        None, description="Destination storage pool ID to migrate VM volumes to. Required for migrating the root disk "
        "volume")
    autoselect: bool = Field(True, description="Automatically select a destination host which do not require storage "
                             "migration, if hostId and storageId are not specified. false by default")


def _respond(ctx: CallContext, uuid: str) -> VirtualMachineResp:
    ctx.session.expire_all()
    vm = vm_service.find_vm(ctx.session, uuid)
    assert vm is not None
    return vm_service.done(ctx.session, vm_response(ctx, vm))


@api_command("migrateVirtualMachine", params=MigrateVmParams, result_key="virtualmachine", is_async=True,
             entity=_VM, event="VM.MIGRATE", response=VirtualMachineResp, roles=ADMIN,
             description="Attempts Migration of a VM to a different host or Root volume of the vm to a different "
             "storage pool")
def migrate_vm(ctx: CallContext, p: MigrateVmParams) -> VirtualMachineResp:
    vm, host, pool = ctx.refs["virtualmachineid"], ctx.refs.get("hostid"), ctx.refs.get("storageid")
    if host is not None and pool is not None:
        raise ParamError("Only one of hostId and storageId can be specified")
    if host is not None and host.type != "Routing":
        raise ParamError(f"The specified host({host.name}) is not suitable to migrate the VM, please specify another "
                         "one")
    if host is None and pool is None and not p.autoselect:
        raise ParamError("Please specify a host or storage as destination, or pass 'autoselect=true' to automatically "
                         "select a destination host which do not require storage migration")
    vm_id, uuid = vm.id, vm.uuid
    if pool is not None:
        if vm.state != "Stopped":
            raise ParamError("VM is running; only a Stopped VM's volumes move with storageid")
        vols = {vid: pool.id for vid in ctx.session.scalars(select(Volume.id).where(Volume.instance_id == vm.id,
                                                                                    Volume.removed.is_(None)))}
        vm_service.release(ctx.session)
        migration.migrate_storage(ctx.runtime, vm_id, vols)
    else:
        vm_service.release(ctx.session)
        migration.migrate_live(ctx.runtime, vm_id, host.id if host else None)
    return _respond(ctx, uuid)


class MigrateWithVolumeParams(Params):
    virtualmachineid: Annotated[str, Ref(_VM)] = Field(description="the ID of the virtual machine")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="Destination Host ID to migrate VM "
                                                               "to.")
    migrateto: MapParam | None = Field(None, description="Storage to pool mapping. This parameter specifies the "
                                       "mapping between a volume and a pool where you want to migrate that volume. "
                                       "Format of this parameter: migrateto[volume-index].volume=<uuid>&migrateto["
                                       "volume-index].pool=<uuid>")
    autoselect: bool = Field(True, description="Automatically select a destination host for a running instance, if "
                             "hostId is not specified. false by default")


@api_command("migrateVirtualMachineWithVolume", params=MigrateWithVolumeParams, result_key="virtualmachine",
             is_async=True, entity=_VM, event="VM.MIGRATE", response=VirtualMachineResp, roles=ADMIN,
             since="4.2.0", description="Attempts Migration of a VM with its volumes to a different host")
def migrate_vm_with_volume(ctx: CallContext, p: MigrateWithVolumeParams) -> VirtualMachineResp:
    vm, host = ctx.refs["virtualmachineid"], ctx.refs.get("hostid")
    if host is None and not p.migrateto:
        raise ParamError("Either hostid or migrateto  must be passed for migrating the VM")
    if vm.state != "Running" and host is not None:
        raise ParamError(f"VM ID: {vm.uuid} is not in Running state to migrate it to new host")
    if vm.state != "Stopped" and host is None:
        raise ParamError(f"VM ID: {vm.uuid} is not in Stopped state to migrate, use hostid parameter to migrate it "
                         "to a new host")
    mapping: dict[int, int] = {}
    for item in p.migrateto or []:
        if "volume" not in item or "pool" not in item:
            raise ParamError("migrateto entries need a volume and a pool")
        vol = access.resolve(ctx.session, ctx.caller, "Volume", item["volume"])
        pool = access.resolve(ctx.session, ctx.caller, "StoragePool", item["pool"], "read")
        mapping[vol.id] = pool.id
    vm_id, uuid = vm.id, vm.uuid
    vm_service.release(ctx.session)
    if host is not None:
        migration.migrate_live(ctx.runtime, vm_id, host.id, mapping, with_storage=True)
    else:
        migration.migrate_storage(ctx.runtime, vm_id, mapping)
    return _respond(ctx, uuid)
