"""Backup and recovery (the NAS provider model): repositories, providers and offerings, VM assignment, backups,
restores and backup schedules. The work is in services.storage.backups."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    ListParams,
    Long,
    OwnedListParams,
    Params,
    Ref,
    api_command,
)
from management.api.cloudstack.schemas_storage import (
    BackupOfferingResp,
    BackupProviderResp,
    BackupRepositoryResp,
    BackupResp,
    BackupScheduleResp,
)
from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.backups import Backup, BackupOffering, BackupRepository, BackupSchedule, VmBackupOffering
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.services import access, scheduling
from management.services.compute import vm as vm_service
from management.services.context import CallContext, Caller
from management.services.listing import keyword_filter, paginate
from management.services.storage import backups as svc


def _schedule_visible(session: Session, caller: Caller, row: BackupSchedule, kind: str) -> bool:
    vm = session.get(VirtualMachine, row.vm_id)
    return vm is not None and access.can_access_owner(session, caller, vm.account_id, vm.domain_id)


access.register_entity("BackupRepository", BackupRepository, "public")
access.register_entity("BackupOffering", BackupOffering, "public")
access.register_entity("Backup", Backup, "owned")
access.register_entity("BackupSchedule", BackupSchedule, "custom", visible=_schedule_visible, soft_delete=False)


def _zone(ctx: CallContext, zone_id: int | None) -> Zone | None:
    return ctx.session.get(Zone, zone_id) if zone_id else None


# ------------------------------------------------------------------------------------------------ repositories

def repo_resp(ctx: CallContext, r: BackupRepository) -> BackupRepositoryResp:
    z = _zone(ctx, r.zone_id)
    return BackupRepositoryResp(id=r.uuid, zoneid=z.uuid if z else "", zonename=z.name if z else "", name=r.name,
                                address=r.address, provider=r.provider, type=r.type, capacitybytes=r.capacity_bytes,
                                crosszoneinstancecreation=r.cross_zone, created=r.created)


class AddBackupRepositoryParams(Params):
    name: str = Field(description="name of the backup repository")
    address: str = Field(description="address of the backup repository")
    type: str = Field(description="type of the backup repository storage. Supported values: nfs, cephfs, cifs")
    provider: str | None = Field(None, description="backup repository provider")
    mountopts: str | None = Field(None, description="shared storage mount options")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="ID of the zone where the backup repository is to be "
                                                "added")
    capacitybytes: Long | None = Field(None, description="capacity of this backup repository")
    crosszoneinstancecreation: bool | None = Field(None, description="backups in this repository can be used to "
                                                   "create Instances on all Zones")


@api_command("addBackupRepository", params=AddBackupRepositoryParams, result_key="backuprepository",
             response=BackupRepositoryResp, roles=ADMIN, event="BACKUP.REPOSITORY.ADD", entity="BackupRepository",
             since="4.20.0", description="Adds a backup repository to store NAS backups")
def add_backup_repository(ctx: CallContext, p: AddBackupRepositoryParams) -> BackupRepositoryResp:
    r = BackupRepository(name=p.name, zone_id=ctx.refs["zoneid"].id, provider=(p.provider or "nas").lower(),
                         type=p.type, address=p.address, mount_opts=p.mountopts, capacity_bytes=p.capacitybytes,
                         cross_zone=bool(p.crosszoneinstancecreation))
    ctx.session.add(r)
    ctx.session.flush()
    return repo_resp(ctx, r)


class ListBackupRepositoriesParams(ListParams):
    name: str | None = Field(None, description="name of the backup repository")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="ID of the zone where the backup "
                                                               "repository is to be added")
    provider: str | None = Field(None, description="the backup repository provider")
    id: Annotated[str | None, Ref("BackupRepository", "read")] = Field(None, description="ID of the backup "
                                                                       "repository")


@api_command("listBackupRepositories", params=ListBackupRepositoriesParams, result_key="backuprepository",
             response=BackupRepositoryResp, roles=ADMIN, since="4.20.0", description="Lists all backup repositories")
def list_backup_repositories(ctx: CallContext, p: ListBackupRepositoriesParams) -> ListResult:
    stmt = select(BackupRepository).where(BackupRepository.removed.is_(None))
    if p.id:
        stmt = stmt.where(BackupRepository.uuid == p.id)
    if p.name:
        stmt = stmt.where(BackupRepository.name == p.name)
    if p.zoneid:
        stmt = stmt.where(BackupRepository.zone_id == ctx.refs["zoneid"].id)
    if p.provider:
        stmt = stmt.where(BackupRepository.provider == p.provider.lower())
    stmt = keyword_filter(stmt, p.keyword, BackupRepository.name, BackupRepository.provider)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, BackupRepository.id)
    return ListResult([repo_resp(ctx, r) for r in rows], count)


class UpdateBackupRepositoryParams(Params):
    id: Annotated[str, Ref("BackupRepository")] = Field(description="ID of the backup repository")
    name: str | None = Field(None, description="name of the backup repository")
    address: str | None = Field(None, description="address of the backup repository")
    mountopts: str | None = Field(None, description="shared storage mount options")
    crosszoneinstancecreation: bool | None = Field(None, description="backups in this repository can be used to "
                                                   "create Instances on all Zones")


@api_command("updateBackupRepository", params=UpdateBackupRepositoryParams, result_key="backuprepository",
             response=BackupRepositoryResp, roles=ADMIN, event="BACKUP.REPOSITORY.UPDATE",
             entity="BackupRepository", since="4.22.0", description="Update a backup repository")
def update_backup_repository(ctx: CallContext, p: UpdateBackupRepositoryParams) -> BackupRepositoryResp:
    r: BackupRepository = ctx.refs["id"]
    if p.name is not None:
        r.name = p.name
    if p.address is not None:
        r.address = p.address
    if p.mountopts is not None:
        r.mount_opts = p.mountopts
    if p.crosszoneinstancecreation is not None:
        r.cross_zone = p.crosszoneinstancecreation
    ctx.session.flush()
    return repo_resp(ctx, r)


class IdParams(Params):
    id: Annotated[str, Ref("BackupRepository")] = Field(description="ID of the backup repository to be deleted")


@api_command("deleteBackupRepository", params=IdParams, roles=ADMIN, event="BACKUP.REPOSITORY.DELETE",
             entity="BackupRepository", since="4.20.0", description="delete a backup repository")
def delete_backup_repository(ctx: CallContext, p: IdParams) -> Success:
    r: BackupRepository = ctx.refs["id"]
    used = ctx.session.scalar(select(BackupOffering.id).where(BackupOffering.external_id == r.uuid,
                                                              BackupOffering.removed.is_(None)).limit(1))
    if used is not None:
        raise InternalError("Backup repository is in use by a backup offering; delete the offering first")
    r.removed = utcnow()
    return Success()


# ------------------------------------------------------------------------------------------------ providers, offerings

class ListBackupProvidersParams(Params):
    name: str | None = Field(None, description="List Backup and Recovery provider by name")


@api_command("listBackupProviders", params=ListBackupProvidersParams, result_key="providers",
             response=BackupProviderResp, roles=ADMIN, since="4.14.0",
             description="Lists Backup and Recovery providers")
def list_backup_providers(ctx: CallContext, p: ListBackupProvidersParams) -> ListResult:
    rows = [BackupProviderResp(name=n, description=d) for n, d in svc.PROVIDERS.items()
            if p.name is None or p.name.lower() == n]
    return ListResult(rows, len(rows))


def offering_resp(ctx: CallContext, o: BackupOffering) -> BackupOfferingResp:
    z = _zone(ctx, o.zone_id)
    repo = ctx.session.scalar(select(BackupRepository).where(BackupRepository.uuid == o.external_id))
    return BackupOfferingResp(id=o.uuid, name=o.name, description=o.description, provider=o.provider,
                              externalid=o.external_id, allowuserdrivenbackups=o.user_driven_backup,
                              zoneid=z.uuid if z else None, zonename=z.name if z else None,
                              crosszoneinstancecreation=repo.cross_zone if repo else None, created=o.created)


class ListProviderOfferingsParams(ListParams):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="The zone ID")


@api_command("listBackupProviderOfferings", params=ListProviderOfferingsParams, result_key="backupoffering",
             response=BackupOfferingResp, roles=ADMIN, since="4.14.0",
             description="Lists external backup offerings of the provider")
def list_backup_provider_offerings(ctx: CallContext, p: ListProviderOfferingsParams) -> ListResult:
    zone: Zone = ctx.refs["zoneid"]
    svc.validate_zone(ctx.session, zone.id)
    provider = svc.provider_for(ctx.session, zone)
    stmt = select(BackupRepository).where(BackupRepository.zone_id == zone.id, BackupRepository.removed.is_(None),
                                          BackupRepository.provider == provider)
    stmt = keyword_filter(stmt, p.keyword, BackupRepository.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, BackupRepository.id)
    return ListResult([BackupOfferingResp(name=r.name, externalid=r.uuid, description=r.name, zoneid=zone.uuid,
                                          zonename=zone.name) for r in rows], count)


class ImportBackupOfferingParams(Params):
    name: str = Field(description="the name of the backup offering")
    description: str = Field(description="the description of the backup offering")
    externalid: str = Field(description="The backup offering ID (from backup provider side)")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="The zone ID")
    allowuserdrivenbackups: bool = Field(description="Whether users are allowed to create adhoc backups and backup "
                                         "schedules")


@api_command("importBackupOffering", params=ImportBackupOfferingParams, is_async=True, result_key="backupoffering",
             response=BackupOfferingResp, roles=ADMIN, event="BACKUP.IMPORT.OFFERING", entity="BackupOffering",
             since="4.14.0", description="Imports a backup offering using a backup provider")
def import_backup_offering(ctx: CallContext, p: ImportBackupOfferingParams) -> BackupOfferingResp:
    zone: Zone = ctx.refs["zoneid"]
    svc.validate_zone(ctx.session, zone.id)
    s = ctx.session
    live = (BackupOffering.zone_id == zone.id) & BackupOffering.removed.is_(None)
    if s.scalar(select(BackupOffering.id).where(live, BackupOffering.external_id == p.externalid)) is not None:
        raise InternalError(f"A backup offering with external ID {p.externalid} already exists")
    if s.scalar(select(BackupOffering.id).where(live, BackupOffering.name == p.name)) is not None:
        raise InternalError("A backup offering with the same name already exists in this zone")
    provider = svc.provider_for(s, zone)
    repo = s.scalar(select(BackupRepository).where(BackupRepository.uuid == p.externalid,
                                                   BackupRepository.removed.is_(None),
                                                   BackupRepository.zone_id == zone.id))
    if repo is None:
        raise InternalError(f"Backup offering '{p.externalid}' does not exist on provider {provider} on zone "
                            f"{zone.id}")
    o = BackupOffering(name=p.name, description=p.description, external_id=p.externalid, provider=provider,
                       zone_id=zone.id, user_driven_backup=p.allowuserdrivenbackups)
    s.add(o)
    s.flush()
    return offering_resp(ctx, o)


class ListBackupOfferingsParams(ListParams):
    id: Annotated[str | None, Ref("BackupOffering", "read")] = Field(None, description="The backup offering ID")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="The zone ID")


@api_command("listBackupOfferings", params=ListBackupOfferingsParams, result_key="backupoffering",
             response=BackupOfferingResp, since="4.14.0", description="Lists backup offerings")
def list_backup_offerings(ctx: CallContext, p: ListBackupOfferingsParams) -> ListResult:
    stmt = select(BackupOffering).where(BackupOffering.removed.is_(None))
    if p.id:
        stmt = stmt.where(BackupOffering.uuid == p.id)
    if p.zoneid:
        stmt = stmt.where(BackupOffering.zone_id == ctx.refs["zoneid"].id)
    if not ctx.caller.is_admin:
        stmt = stmt.where(BackupOffering.user_driven_backup.is_(True))
    stmt = keyword_filter(stmt, p.keyword, BackupOffering.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, BackupOffering.id)
    return ListResult([offering_resp(ctx, o) for o in rows], count)


class UpdateBackupOfferingParams(Params):
    id: Annotated[str, Ref("BackupOffering")] = Field(description="The ID of the Backup Offering to be updated")
    description: str | None = Field(None, description="The description of the Backup Offering to be updated")
    name: str | None = Field(None, description="The name of the Backup Offering to be updated")
    allowuserdrivenbackups: bool | None = Field(None, description="Whether to allow user driven backups or not")


@api_command("updateBackupOffering", params=UpdateBackupOfferingParams, result_key="backupoffering",
             response=BackupOfferingResp, roles=ADMIN, event="BACKUP.OFFERING.EDIT", entity="BackupOffering",
             since="4.16.0", description="Updates a backup offering.")
def update_backup_offering(ctx: CallContext, p: UpdateBackupOfferingParams) -> BackupOfferingResp:
    o: BackupOffering = ctx.refs["id"]
    if p.name is None and p.description is None and p.allowuserdrivenbackups is None:
        raise ParamError(f"Can't update Backup Offering [id: {o.uuid}] because there are no changes to be made.")
    if p.name is not None:
        o.name = p.name
    if p.description is not None:
        o.description = p.description
    if p.allowuserdrivenbackups is not None:
        o.user_driven_backup = p.allowuserdrivenbackups
    ctx.session.flush()
    return offering_resp(ctx, o)


class OfferingIdParams(Params):
    id: Annotated[str, Ref("BackupOffering")] = Field(description="ID of the backup offering")


@api_command("deleteBackupOffering", params=OfferingIdParams, roles=ADMIN, event="BACKUP.OFFERING.DELETE",
             entity="BackupOffering", since="4.14.0", description="Deletes a backup offering")
def delete_backup_offering(ctx: CallContext, p: OfferingIdParams) -> Success:
    o: BackupOffering = ctx.refs["id"]
    if svc.count_backups(ctx.session, o.id):
        raise InternalError("Backup Offering cannot be removed as it has backups associated with it.")
    if ctx.session.scalar(select(VmBackupOffering.vm_id).where(VmBackupOffering.offering_id == o.id).limit(1)):
        raise InternalError("Backup offering is assigned to VMs, remove the assignment(s) in order to remove the "
                            "offering.")
    svc.validate_zone(ctx.session, o.zone_id)
    o.removed = utcnow()
    return Success()


# ------------------------------------------------------------------------------------------------ assignment

class AssignParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of the virtual machine")
    backupofferingid: Annotated[str, Ref("BackupOffering", "read")] = Field(description="ID of the backup offering")


@api_command("assignVirtualMachineToBackupOffering", params=AssignParams, is_async=True, entity="VirtualMachine",
             event="BACKUP.OFFERING.ASSIGN", since="4.14.0",
             description="Assigns a VM to a backup offering")
def assign_vm(ctx: CallContext, p: AssignParams) -> Success:
    svc.assign(ctx.session, ctx.refs["virtualmachineid"], ctx.refs["backupofferingid"])
    return Success()


class RemoveParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of the virtual machine")
    forced: bool | None = Field(None, description="Whether to force remove VM from the backup offering that may "
                                "also delete VM backups.")


@api_command("removeVirtualMachineFromBackupOffering", params=RemoveParams, is_async=True, entity="VirtualMachine",
             event="BACKUP.OFFERING.REMOVE", since="4.14.0",
             description="Removes a VM from any existing backup offering")
def remove_vm(ctx: CallContext, p: RemoveParams) -> Success:
    svc.unassign(ctx.session, ctx.refs["virtualmachineid"])
    return Success()


# ------------------------------------------------------------------------------------------------ backups

def backup_responses(ctx: CallContext, rows: Sequence[Backup], *, vm_details: bool = False) -> list[BackupResp]:
    s = ctx.session
    out = []
    for b in rows:
        vm = s.get(VirtualMachine, b.vm_id)
        o = s.get(BackupOffering, b.backup_offering_id)
        a, d, z = s.get(Account, b.account_id), s.get(Domain, b.domain_id), _zone(ctx, b.zone_id)
        assigned = s.get(VmBackupOffering, b.vm_id)
        out.append(BackupResp(
            id=b.uuid, name=b.name, description=b.description, virtualmachineid=vm.uuid if vm else None,
            virtualmachinename=vm.name if vm else None, externalid=b.external_id, type=b.type, created=b.created,
            size=b.size, virtualsize=b.protected_size, status=b.status,
            volumes=json.dumps(svc.backup_volumes(b)), backupofferingid=o.uuid if o else None,
            backupofferingname=o.name if o else None, accountid=a.uuid if a else None, account=a.name if a else None,
            domainid=d.uuid if d else None, domain=d.name if d else None, zoneid=z.uuid if z else None,
            zone=z.name if z else None, intervaltype=svc.INTERVALS[b.interval_type],
            vmdetails=json.loads(b.details_json or "{}") if vm_details else None,
            vmbackupofferingremoved=assigned is None or assigned.offering_id != b.backup_offering_id,
            isbackupvmexpunged=vm is None or vm.removed is not None))
    return out


class CreateBackupParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of the VM")
    name: str | None = Field(None, description="the name of the backup")
    description: str | None = Field(None, description="the description for the backup")
    quiescevm: bool | None = Field(None, description="Quiesce the instance before checkpointing the disks for "
                                   "backup")


@api_command("createBackup", params=CreateBackupParams, is_async=True, entity="VirtualMachine",
             event="BACKUP.CREATE", since="4.14.0", description="Create VM backup")
def create_backup(ctx: CallContext, p: CreateBackupParams) -> Success:
    vm_id = ctx.refs["virtualmachineid"].id
    vm_service.release(ctx.session)
    svc.take(ctx.runtime, vm_id, name=p.name, description=p.description)
    return vm_service.done(ctx.session, Success())


class ListBackupsParams(OwnedListParams):
    id: Annotated[str | None, Ref("Backup", "read")] = Field(None, description="id of the backup")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(None, description="id of the VM")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="list backups by zone id")
    name: str | None = Field(None, description="list backups by name")
    backupofferingid: Annotated[str | None, Ref("BackupOffering", "read")] = Field(
        None, description="list backups by backup offering")
    listvmdetails: bool = Field(False, description="list backups with VM details")


@api_command("listBackups", params=ListBackupsParams, result_key="backup", response=BackupResp, since="4.14.0",
             description="Lists VM backups")
def list_backups(ctx: CallContext, p: ListBackupsParams) -> ListResult:
    s = ctx.session
    stmt = select(Backup).where(Backup.removed.is_(None))
    stmt = access.owned_filter(s, stmt, Backup, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(Backup.uuid == p.id)
    if p.virtualmachineid:
        stmt = stmt.where(Backup.vm_id == ctx.refs["virtualmachineid"].id)
    if p.zoneid:
        stmt = stmt.where(Backup.zone_id == ctx.refs["zoneid"].id)
    if p.name:
        stmt = stmt.where(Backup.name == p.name)
    if p.backupofferingid:
        stmt = stmt.where(Backup.backup_offering_id == ctx.refs["backupofferingid"].id)
    if p.keyword:
        stmt = stmt.where(Backup.vm_id.in_(select(VirtualMachine.id).where(
            VirtualMachine.name.ilike(f"%{p.keyword}%"))))
    rows, count = paginate(s, stmt, p.page, p.pagesize, Backup.id)
    return ListResult(backup_responses(ctx, rows, vm_details=p.listvmdetails), count)


class BackupIdParams(Params):
    id: Annotated[str, Ref("Backup")] = Field(description="ID of the backup")


class DeleteBackupParams(BackupIdParams):
    forced: bool | None = Field(None, description="force the deletion of backup which removes the entire backup "
                                "chain but keep VM in Backup Offering")


@api_command("deleteBackup", params=DeleteBackupParams, is_async=True, entity="Backup", event="BACKUP.DELETE",
             since="4.14.0", description="Delete VM backup")
def delete_backup(ctx: CallContext, p: DeleteBackupParams) -> Success:
    backup_id = ctx.refs["id"].id
    vm_service.release(ctx.session)
    svc.delete(ctx.runtime, backup_id, forced=bool(p.forced))
    return vm_service.done(ctx.session, Success())


@api_command("restoreBackup", params=BackupIdParams, is_async=True, entity="Backup", event="BACKUP.RESTORE",
             since="4.14.0", description="Restores an existing stopped or deleted VM using a VM backup")
def restore_backup(ctx: CallContext, p: BackupIdParams) -> Success:
    backup_id = ctx.refs["id"].id
    vm_service.release(ctx.session)
    svc.restore(ctx.runtime, backup_id)
    return vm_service.done(ctx.session, Success())


class RestoreVolumeParams(Params):
    backupid: Annotated[str, Ref("Backup")] = Field(description="ID of the VM backup")
    volumeid: str = Field(description="ID of the volume backed up")
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="id of the VM where to attach the "
                                                                    "restored volume")


@api_command("restoreVolumeFromBackupAndAttachToVM", params=RestoreVolumeParams, is_async=True, entity="Backup",
             event="BACKUP.RESTORE", since="4.14.0",
             description="Restore and attach a backed up volume to VM")
def restore_volume(ctx: CallContext, p: RestoreVolumeParams) -> Success:
    backup_id, vm_id = ctx.refs["backupid"].id, ctx.refs["virtualmachineid"].id
    vm_service.release(ctx.session)
    svc.restore_volume(ctx.runtime, backup_id, p.volumeid, vm_id)
    return vm_service.done(ctx.session, Success())


# ------------------------------------------------------------------------------------------------ schedules

def schedule_resp(ctx: CallContext, sch: BackupSchedule) -> BackupScheduleResp:
    vm = ctx.session.get_one(VirtualMachine, sch.vm_id)
    return BackupScheduleResp(id=sch.uuid, virtualmachinename=vm.name, virtualmachineid=vm.uuid,
                              schedule=sch.schedule, intervaltype=sch.schedule_type, timezone=sch.timezone,
                              maxbackups=sch.max_backups, quiescevm=sch.quiesce_vm)


class BackupScheduleParams(Params):
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="ID of the VM for which schedule "
                                                                    "is to be defined")
    intervaltype: str = Field(description="valid values are HOURLY, DAILY, WEEKLY, and MONTHLY")
    schedule: str = Field(description="custom backup schedule, the format is:for HOURLY MM*, for DAILY MM:HH*, for "
                          "WEEKLY MM:HH:DD (1-7)*, for MONTHLY MM:HH:DD (1-28)")
    timezone: str = Field(description="Specifies a timezone for this command. For more information on the timezone "
                          "parameter, see TimeZone Format.")
    maxbackups: int | None = Field(None, description="maximum number of backups to retain")
    quiescevm: bool | None = Field(None, description="Quiesce the instance before checkpointing the disks for "
                                   "backup. Applicable only to NAS backup provider. The filesystem is frozen before "
                                   "the backup starts and thawed immediately after. Requires the instance to have "
                                   "the QEMU Guest Agent installed and running.")


def _configure(ctx: CallContext, p: BackupScheduleParams) -> Any:
    sch = svc.configure_schedule(ctx.session, ctx.refs["virtualmachineid"], p.intervaltype, p.schedule, p.timezone,
                                 p.maxbackups, p.quiescevm, scheduling.now(ctx.runtime))
    return schedule_resp(ctx, sch)


@api_command("createBackupSchedule", params=BackupScheduleParams, result_key="backupschedule", response=BackupResp,
             entity="VirtualMachine", event="BACKUP.SCHEDULE.CONFIGURE", since="4.14.0",
             description="Creates a user-defined VM backup schedule")
def create_backup_schedule(ctx: CallContext, p: BackupScheduleParams) -> Any:
    return _configure(ctx, p)


@api_command("updateBackupSchedule", params=BackupScheduleParams, result_key="backupschedule", response=BackupResp,
             entity="VirtualMachine", event="BACKUP.SCHEDULE.CONFIGURE", since="4.14.0",
             description="Updates a user-defined VM backup schedule")
def update_backup_schedule(ctx: CallContext, p: BackupScheduleParams) -> Any:
    return _configure(ctx, p)


class ListBackupScheduleParams(OwnedListParams):
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="ID of the Instance")
    id: Annotated[str | None, Ref("BackupSchedule", "read")] = Field(None, description="ID of the backup schedule.")


@api_command("listBackupSchedule", params=ListBackupScheduleParams, result_key="backupschedule",
             response=BackupScheduleResp, since="4.14.0", description="List backup schedule of a VM")
def list_backup_schedule(ctx: CallContext, p: ListBackupScheduleParams) -> ListResult:
    s = ctx.session
    vms = select(VirtualMachine.id).where(VirtualMachine.removed.is_(None))
    vms = access.owned_filter(s, vms, VirtualMachine, ctx.caller, account=p.account, domainid=p.domainid,
                              isrecursive=p.isrecursive, listall=p.listall or bool(p.id or p.virtualmachineid))
    stmt = select(BackupSchedule).where(BackupSchedule.vm_id.in_(vms))
    if p.virtualmachineid:
        vm = ctx.refs["virtualmachineid"]
        svc.validate_zone(s, vm.zone_id)
        stmt = stmt.where(BackupSchedule.vm_id == vm.id)
    if p.id:
        stmt = stmt.where(BackupSchedule.uuid == p.id)
    rows, count = paginate(s, stmt, p.page, p.pagesize, BackupSchedule.id)
    return ListResult([schedule_resp(ctx, r) for r in rows], count)


class DeleteBackupScheduleParams(Params):
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine")] = Field(
        None, description="ID of the VM from which all backup schedules will be deleted.")
    id: Annotated[str | None, Ref("BackupSchedule")] = Field(None, description="ID of the backup schedule to be "
                                                             "deleted. It has precedence over the 'virtualmachineid' "
                                                             "parameter, i.e., when the 'id' parameter is specified, "
                                                             "the 'virtualmachineid' parameter will be ignored.")


@api_command("deleteBackupSchedule", params=DeleteBackupScheduleParams, entity="VirtualMachine",
             event="BACKUP.SCHEDULE.DELETE", since="4.14.0", description="Deletes the backup schedule of a VM")
def delete_backup_schedule(ctx: CallContext, p: DeleteBackupScheduleParams) -> Success:
    s = ctx.session
    if p.id is not None:
        s.delete(ctx.refs["id"])
        return Success()
    vm = ctx.refs.get("virtualmachineid")
    if vm is None:
        raise ParamError("Either instance ID or ID of backup schedule needs to be specified")
    svc.validate_zone(s, vm.zone_id)
    for sch in s.scalars(select(BackupSchedule).where(BackupSchedule.vm_id == vm.id)):
        s.delete(sch)
    return Success()
