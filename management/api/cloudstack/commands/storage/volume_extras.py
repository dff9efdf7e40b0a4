"""Volumes: changeOfferingForVolume, checkVolume, assignVolume, listVolumesForImport, importVolume,
unmanageVolume."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from management.api.cloudstack.commands.storage.volumes import _reload
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Long, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_compute import VolumeResp
from management.api.cloudstack.schemas_storage import VolumeForImportResp
from management.errors import ParamError
from management.models.infra import StoragePool
from management.models.offerings import DiskOffering
from management.models.storage import Volume
from management.services import access
from management.services.compute import vm as vm_service
from management.services.context import CallContext
from management.services.hypervisors import GiB
from management.services.storage import volume_import as svc
from management.services.storage import volumes as volumes_service


class CheckedVolumeResp(VolumeResp):
    volumecheckresult: dict[str, Any] | None = Field(None, description="details for the volume check")
    volumerepairresult: dict[str, Any] | None = Field(None, description="details for the volume repair")


class ChangeOfferingParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="the ID of the volume")
    diskofferingid: Annotated[str, Ref("DiskOffering", "read")] = Field(description="new disk offering id")
    size: Long | None = Field(None, description="New volume size in GB for the custom disk offering")
    miniops: Long | None = Field(None, description="New minimum number of IOPS for the custom disk offering")
    maxiops: Long | None = Field(None, description="New maximum number of IOPS for the custom disk offering")
    automigrate: bool = Field(False, description="Flag to allow automatic migration of the volume to another "
                              "suitable storage pool that accommodates the new size")
    shrinkok: bool = Field(False, description="Verify OK to Shrink")


@api_command("changeOfferingForVolume", params=ChangeOfferingParams, is_async=True, result_key="volume",
             response=VolumeResp, entity="Volume", event="VOLUME.CHANGE.DISK.OFFERING", since="4.17",
             description="Change disk offering of the volume and also an option to auto migrate if required to apply "
             "the new disk offering")
def change_offering(ctx: CallContext, p: ChangeOfferingParams) -> VolumeResp:
    vol: Volume = ctx.refs["id"]
    do: DiskOffering = ctx.refs["diskofferingid"]
    if vol.disk_offering_id == do.id and p.size is None:
        raise ParamError(f"Volume {vol.uuid} already has the disk offering {do.name}")
    if do.customized:
        if p.size is None:
            raise ParamError("The new disk offering requires that a size be specified.")
        new = p.size * GiB
    else:
        if p.size is not None:
            raise ParamError("Size provided with a non-custom disk offering")
        new = do.disk_size
    if new <= 0:
        raise ParamError("Invalid size: it must be a positive number of GB")
    vol_id = vol.id
    vm_service.release(ctx.session)
    volumes_service.resize(ctx.runtime, vol_id, new, shrink_ok=p.shrinkok, offering=do)
    return _reload(ctx, vol_id)


class CheckVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="The ID of the volume")
    repair: str | None = Field(None, description="parameter to repair the volume, leaks or all are the possible "
                               "values")


@api_command("checkVolume", params=CheckVolumeParams, is_async=True, result_key="volume",
             response=CheckedVolumeResp, entity="Volume", event="VOLUME.CHECK", since="4.19.1",
             response_name="checkandrepairvolumeresponse",
             description="Check the volume for any errors or leaks and also repairs when repair parameter is "
             "passed, this is currently supported for KVM only")
def check_volume(ctx: CallContext, p: CheckVolumeParams) -> CheckedVolumeResp:
    repair = p.repair.lower() if p.repair else None
    if repair not in (None, "leaks", "all"):
        raise ParamError(f"Repair parameter value {p.repair} is invalid: leaks or all")
    vol_id = ctx.refs["id"].id
    vm_service.release(ctx.session)
    check, fixed = svc.check(ctx.runtime, vol_id, repair)
    base = _reload(ctx, vol_id)
    return CheckedVolumeResp(**base.model_dump(), volumecheckresult=check, volumerepairresult=fixed)


class AssignVolumeParams(Params):
    volumeid: Annotated[str, Ref("Volume")] = Field(description="The ID of the volume to be reassigned.")
    accountid: Annotated[str | None, Ref("Account")] = Field(None, description="The ID of the account to which the "
                                                             "volume will be assigned. Mutually exclusive with "
                                                             "parameter 'projectid'.")
    projectid: Uuid | None = Field(None, description="The ID of the project to which the volume will be assigned. "
                                   "Mutually exclusive with 'accountid'.")


@api_command("assignVolume", params=AssignVolumeParams, result_key="volume", response=VolumeResp, roles=ADMIN,
             entity="Volume", event="VOLUME.ASSIGN", since="4.18.0.0",
             description="Changes ownership of a Volume from one account to another.")
def assign_volume(ctx: CallContext, p: AssignVolumeParams) -> VolumeResp:
    if (p.accountid is None) == (p.projectid is None):
        raise ParamError("Either accountid or projectid must be specified, but not both")
    if p.projectid is not None:
        raise ParamError(f"Unable to find project with ID [{p.projectid}]")
    vol: Volume = ctx.refs["volumeid"]
    svc.assign(ctx.session, vol, ctx.refs["accountid"])
    ctx.session.flush()
    return _reload(ctx, vol.id)


class ListForImportParams(ListParams):
    storageid: Annotated[str, Ref("StoragePool", "read")] = Field(description="the ID of the storage pool")
    path: str | None = Field(None, description="the path of the volume on the storage pool")


@api_command("listVolumesForImport", params=ListForImportParams, result_key="volumeforimport",
             response=VolumeForImportResp, roles=ADMIN, since="4.19.1",
             description="Lists unmanaged volumes on a storage pool")
def list_volumes_for_import(ctx: CallContext, p: ListForImportParams) -> ListResult:
    pool: StoragePool = ctx.refs["storageid"]
    infos = svc.unmanaged(ctx.runtime, ctx.session, pool, p.path)
    if p.keyword:
        infos = [i for i in infos if p.keyword.lower() in i.uuid.lower()]
    rows = [VolumeForImportResp(name=i.uuid, path=i.uuid, fullpath=i.path, format=i.format.upper(),
                                size=i.allocated_bytes, virtualsize=i.size_bytes, storageid=pool.uuid,
                                storage=pool.name, storagetype=pool.pool_type) for i in infos]
    if p.pagesize is not None and p.pagesize != -1:
        start = ((p.page or 1) - 1) * p.pagesize
        return ListResult(rows[start:start + p.pagesize], len(rows))
    return ListResult(rows, len(rows))


class ImportVolumeParams(Params):
    path: str = Field(description="the path of the volume")
    name: str | None = Field(None, description="the name of the volume. If not set, it will be set to the path of "
                             "the volume.")
    storageid: Annotated[str, Ref("StoragePool", "read")] = Field(description="the ID of the storage pool")
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="the ID of the disk offering linked to the volume")
    account: str | None = Field(None, description="an optional account for the volume. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="import volume to the domain specified")
    projectid: Uuid | None = Field(None, description="import volume for the project")


@api_command("importVolume", params=ImportVolumeParams, is_async=True, result_key="volume", response=VolumeResp,
             roles=ADMIN, entity="Volume", event="VOLUME.IMPORT", since="4.19.1",
             description="Import an unmanaged volume from a storage pool on a host into CloudStack.")
def import_volume(ctx: CallContext, p: ImportVolumeParams) -> VolumeResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    pool: StoragePool = ctx.refs["storageid"]
    do = ctx.refs.get("diskofferingid")
    pool_id = pool.id
    vm_service.release(ctx.session)
    vol_id = svc.import_volume(ctx.runtime, pool_id, p.path, owner=owner, name=p.name,
                               disk_offering_id=do.id if do else None)
    return _reload(ctx, vol_id)


class UnmanageVolumeParams(Params):
    id: Annotated[str, Ref("Volume")] = Field(description="The ID of the volume to unmanage")


@api_command("unmanageVolume", params=UnmanageVolumeParams, is_async=True, roles=ADMIN, entity="Volume",
             event="VOLUME.UNMANAGE", since="4.19.1", description="Unmanage a volume on storage pool.")
def unmanage_volume(ctx: CallContext, p: UnmanageVolumeParams) -> Success:
    svc.unmanage(ctx.session, ctx.refs["id"])
    return Success()
