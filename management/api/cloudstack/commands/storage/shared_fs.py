"""Shared file systems, answered as a CloudStack without a shared filesystem provider answers.

CloudStack implements a shared file system with its SHAREDFSVM provider: a storage-FS system VM, deployed from a
system VM template that runs an NFS server, exporting a data volume. This server has no such provider: the only
guest image it builds (the tiny image) has no NFS server, and this machine's kernel has no nfsd to serve one. So
no provider is listed, a create is refused with CloudStack's "Invalid Shared FileSystem provider name!" after the
same zone and offering checks, and every other command finds no shared file system."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ListParams,
    Long,
    MapParam,
    OwnedListParams,
    Params,
    Ref,
    Uuid,
    api_command,
)
from management.api.cloudstack.schemas_storage import SharedFSProviderResp, SharedFSResp
from management.errors import InternalError, ParamError, PermissionDenied, invalid_id
from management.models.infra import Zone
from management.models.offerings import DiskOffering
from management.services import access
from management.services.context import CallContext

NO_PROVIDER = "Invalid Shared FileSystem provider name!"
FS_FORMATS = ("EXT4", "XFS")


@api_command("listSharedFileSystemProviders", params=ListParams, result_key="sharedfilesystemprovider",
             response=SharedFSProviderResp, since="4.20.0",
             description="Lists all available shared filesystem providers.")
def list_providers(ctx: CallContext, p: ListParams) -> ListResult:
    return ListResult([], 0)


class CreateSharedFSParams(Params):
    name: str = Field(description="the name of the shared filesystem.")
    account: str | None = Field(None, description="the account associated with the shared filesystem. Must be "
                                "used with the domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="the domain ID associated with the shared filesystem. If used with the account parameter "
        "returns the shared filesystem associated with the account for the specified domain.If account is NOT "
        "provided then the shared filesystem will be assigned to the caller account and domain.")
    projectid: Uuid | None = Field(None, description="the project associated with the shared filesystem. Mutually "
                                  "exclusive with account parameter")
    description: str | None = Field(None, description="the description for the shared filesystem.")
    size: Long | None = Field(None, description="the size of the shared filesystem in GiB")
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the zone id.")
    diskofferingid: Annotated[str, Ref("DiskOffering", "read")] = Field(
        description="the disk offering to use for the underlying storage. This will define the size and other "
        "specifications like encryption and qos for the shared filesystem.")
    miniops: Long | None = Field(None, description="min iops")
    maxiops: Long | None = Field(None, description="max iops")
    serviceofferingid: Annotated[str, Ref("ServiceOffering", "read")] = Field(
        description="the service offering to use for the shared filesystem instance hosting the data. The "
        "offering should be HA enabled and the cpu count and memory size should be greater than equal to "
        "sharedfsvm.min.cpu.count and sharedfsvm.min.ram.size respectively")
    filesystem: str = Field(description="the filesystem format (XFS / EXT4) which will be installed on the shared "
                            "filesystem.")
    provider: str | None = Field(None, description="the provider to be used for the shared filesystem. The list of "
                                 "providers can be fetched by using the listSharedFileSystemProviders API.")
    networkid: Annotated[str, Ref("Network", "read")] = Field(description="network to attach the shared filesystem "
                                                              "to")


def _refuse_create(ctx: CallContext, p: CreateSharedFSParams) -> str:
    access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    zone: Zone = ctx.refs["zoneid"]
    if zone.allocation_state == "Disabled":
        raise PermissionDenied(f"Cannot perform this operation, zone ID: {zone.uuid} is currently disabled")
    if zone.network_type == "Basic" or zone.security_groups_enabled:
        raise PermissionDenied("This feature is supported only on Advanced Zone without security groups")
    do: DiskOffering = ctx.refs["diskofferingid"]
    if not do.customized and p.size is not None:
        raise ParamError("Size provided with a non-custom disk offering")
    if p.miniops is not None or p.maxiops is not None:
        raise ParamError("Iops provided with a non-custom-iops disk offering")
    raise InternalError(NO_PROVIDER)


@api_command("createSharedFileSystem", params=CreateSharedFSParams, is_async=True, create=_refuse_create,
             result_key="sharedfilesystem", response=SharedFSResp, entity="SharedFS", event="SHAREDFS.CREATE",
             since="4.20.0", description="Create a new Shared File System of specified size and disk offering, "
             "attached to the given network")
def create_shared_fs(ctx: CallContext, p: CreateSharedFSParams) -> SharedFSResp:
    raise InternalError(NO_PROVIDER)


class ListSharedFSParams(OwnedListParams):
    id: Uuid | None = Field(None, description="the ID of the shared filesystem")
    name: str | None = Field(None, description="the name of the shared filesystem")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the availability zone")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="the ID of the network")
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="the disk offering of the shared filesystem")
    serviceofferingid: Annotated[str | None, Ref("ServiceOffering", "read")] = Field(
        None, description="the service offering of the shared filesystem")
    retrieveonlyresourcecount: bool = Field(False, description="makes the API's response contains only the "
                                            "resource count")
    tags: MapParam | None = Field(None, description="List resources by tags (key/value pairs)")


@api_command("listSharedFileSystems", params=ListSharedFSParams, result_key="sharedfilesystem",
             response=SharedFSResp, entity="SharedFS", since="4.20.0", description="List Shared FileSystems")
def list_shared_fs(ctx: CallContext, p: ListSharedFSParams) -> ListResult:
    return ListResult([], 0)


class SharedFSIdParams(Params):
    id: Uuid = Field(description="the ID of the shared filesystem")


class OptionalIdParams(Params):
    id: Uuid | None = Field(None, description="the ID of the shared filesystem")


def _unknown(value: str | None) -> InternalError | ParamError:
    return invalid_id(value or "") if value else ParamError("Unable to find the shared filesystem: no id given")


class UpdateSharedFSParams(SharedFSIdParams):
    name: str | None = Field(None, description="the name of the shared filesystem.")
    description: str | None = Field(None, description="the description for the shared filesystem.")


@api_command("updateSharedFileSystem", params=UpdateSharedFSParams, result_key="sharedfilesystem",
             response=SharedFSResp, entity="SharedFS", event="SHAREDFS.UPDATE", since="4.20.0",
             description="Update a Shared FileSystem")
def update_shared_fs(ctx: CallContext, p: UpdateSharedFSParams) -> SharedFSResp:
    raise _unknown(p.id)


@api_command("startSharedFileSystem", params=SharedFSIdParams, is_async=True, result_key="sharedfilesystem",
             response=SharedFSResp, entity="SharedFS", event="SHAREDFS.START", since="4.20.0",
             description="Start a Shared FileSystem")
def start_shared_fs(ctx: CallContext, p: SharedFSIdParams) -> SharedFSResp:
    raise _unknown(p.id)


class StopSharedFSParams(SharedFSIdParams):
    forced: bool = Field(False, description="Force stop the shared filesystem.")


@api_command("stopSharedFileSystem", params=StopSharedFSParams, is_async=True, result_key="sharedfilesystem",
             response=SharedFSResp, entity="SharedFS", event="SHAREDFS.STOP", since="4.20.0",
             description="Stop a Shared FileSystem")
def stop_shared_fs(ctx: CallContext, p: StopSharedFSParams) -> SharedFSResp:
    raise _unknown(p.id)


class RestartSharedFSParams(SharedFSIdParams):
    cleanup: bool = Field(False, description="is cleanup required")


@api_command("restartSharedFileSystem", params=RestartSharedFSParams, is_async=True, entity="SharedFS",
             event="SHAREDFS.RESTART", since="4.20.0", description="Restart a Shared FileSystem")
def restart_shared_fs(ctx: CallContext, p: RestartSharedFSParams) -> Success:
    raise _unknown(p.id)


class DestroySharedFSParams(OptionalIdParams):
    expunge: bool = Field(False, description="If true is passed, the shared filesystem is expunged immediately. "
                          "False by default.")
    forced: bool = Field(False, description="If true is passed, the shared filesystem can be destroyed without "
                         "stopping it first.")


@api_command("destroySharedFileSystem", params=DestroySharedFSParams, is_async=True, entity="SharedFS",
             event="SHAREDFS.DESTROY", since="4.20.0", description="Destroy a Shared FileSystem by id")
def destroy_shared_fs(ctx: CallContext, p: DestroySharedFSParams) -> Success:
    raise _unknown(p.id)


@api_command("recoverSharedFileSystem", params=OptionalIdParams, entity="SharedFS", event="SHAREDFS.RECOVER",
             since="4.20.0", description="Recover a Shared FileSystem by id")
def recover_shared_fs(ctx: CallContext, p: OptionalIdParams) -> Success:
    raise _unknown(p.id)


@api_command("expungeSharedFileSystem", params=OptionalIdParams, is_async=True, entity="SharedFS",
             event="SHAREDFS.EXPUNGE", since="4.20.0", description="Expunge a Shared FileSystem by id")
def expunge_shared_fs(ctx: CallContext, p: OptionalIdParams) -> Success:
    raise _unknown(p.id)


class ChangeDiskOfferingParams(SharedFSIdParams):
    diskofferingid: Annotated[str | None, Ref("DiskOffering", "read")] = Field(
        None, description="the disk offering to use for the underlying storage")
    size: Long | None = Field(None, description="the size of the shared filesystem in GiB")
    miniops: Long | None = Field(None, description="min iops")
    maxiops: Long | None = Field(None, description="max iops")


@api_command("changeSharedFileSystemDiskOffering", params=ChangeDiskOfferingParams, is_async=True,
             result_key="sharedfilesystem", response=SharedFSResp, entity="SharedFS",
             event="SHAREDFS.CHANGE.DISK.OFFERING", since="4.20.0",
             description="Change Disk offering of a Shared FileSystem")
def change_disk_offering(ctx: CallContext, p: ChangeDiskOfferingParams) -> SharedFSResp:
    raise _unknown(p.id)


class ChangeServiceOfferingParams(SharedFSIdParams):
    serviceofferingid: Annotated[str, Ref("ServiceOffering", "read")] = Field(
        description="the offering to use for the shared filesystem instance")


@api_command("changeSharedFileSystemServiceOffering", params=ChangeServiceOfferingParams, is_async=True,
             result_key="sharedfilesystem", response=SharedFSResp, entity="SharedFS",
             event="SHAREDFS.CHANGE.SERVICE.OFFERING", since="4.20.0",
             description="Change Service offering of a Shared FileSystem")
def change_service_offering(ctx: CallContext, p: ChangeServiceOfferingParams) -> SharedFSResp:
    raise _unknown(p.id)
