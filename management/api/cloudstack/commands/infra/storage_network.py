"""Storage network IP ranges: createStorageNetworkIpRange, listStorageNetworkIpRange,
updateStorageNetworkIpRange, deleteStorageNetworkIpRange."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp
from management.models.infra import Pod, Zone
from management.models.network import Network
from management.models.storage_network import StorageNetworkIpRange
from management.services import access
from management.services.context import CallContext
from management.services.infra import storage_network
from management.services.listing import paginate, rows_by_id

access.register_entity("StorageNetworkIpRange", StorageNetworkIpRange, "public")


class StorageNetworkIpRangeResp(JobResp):
    id: str = Field(description="the uuid of storage network IP range.")
    vlan: int | None = Field(None, description="the ID or VID of the VLAN.")
    podid: str | None = Field(None, description="the Pod uuid for the storage network IP range")
    startip: str = Field(description="the start ip of the storage network IP range")
    endip: str = Field(description="the end ip of the storage network IP range")
    gateway: str | None = Field(None, description="the gateway of the storage network IP range")
    networkid: str | None = Field(None, description="the network uuid of storage network IP range")
    zoneid: str | None = Field(None, description="the Zone uuid of the storage network IP range")
    netmask: str | None = Field(None, description="the netmask of the storage network IP range")


def _resps(ctx: CallContext, rows: list[StorageNetworkIpRange]) -> list[StorageNetworkIpRangeResp]:
    pods = rows_by_id(ctx.session, Pod, (r.pod_id for r in rows))
    zones = rows_by_id(ctx.session, Zone, (r.zone_id for r in rows))
    nets = rows_by_id(ctx.session, Network, (r.network_id for r in rows))
    return [StorageNetworkIpRangeResp(
        id=r.uuid, vlan=r.vlan, podid=pods[r.pod_id].uuid, startip=r.start_ip, endip=r.end_ip, gateway=r.gateway,
        networkid=nets[r.network_id].uuid if r.network_id in nets else None, zoneid=zones[r.zone_id].uuid,
        netmask=r.netmask) for r in rows]


class CreateStorageNetworkIpRangeParams(Params):
    podid: Annotated[str, Ref("Pod")] = Field(description="UUID of pod where the ip range belongs to")
    startip: str = Field(description="the beginning IP address")
    endip: str | None = Field(None, description="the ending IP address")
    vlan: int | None = Field(None, description="Optional. The vlan the ip range sits on, default is Null which "
                             "means untagged")
    netmask: str = Field(description="the netmask for storage network")
    gateway: str = Field(description="the gateway for storage network")


@api_command("createStorageNetworkIpRange", params=CreateStorageNetworkIpRangeParams,
             result_key="storagenetworkiprange", response=StorageNetworkIpRangeResp, roles=ADMIN, is_async=True,
             entity="StorageNetworkIpRange", event="STORAGE.IP.RANGE.CREATE", since="3.0.0",
             description="Creates a Storage network IP range.")
def create_storage_network_ip_range(ctx: CallContext, p: CreateStorageNetworkIpRangeParams) -> \
        StorageNetworkIpRangeResp:
    rng = storage_network.create(ctx.session, ctx.refs["podid"], start=p.startip, end=p.endip, gateway=p.gateway,
                                 netmask=p.netmask, vlan=p.vlan)
    return _resps(ctx, [rng])[0]


class UpdateStorageNetworkIpRangeParams(Params):
    id: Annotated[str, Ref("StorageNetworkIpRange")] = Field(description="UUID of storage network ip range")
    startip: str | None = Field(None, description="the beginning IP address")
    endip: str | None = Field(None, description="the ending IP address")
    vlan: int | None = Field(None, description="Optional. the vlan the ip range sits on")
    netmask: str | None = Field(None, description="the netmask for storage network")


@api_command("updateStorageNetworkIpRange", params=UpdateStorageNetworkIpRangeParams,
             result_key="storagenetworkiprange", response=StorageNetworkIpRangeResp, roles=ADMIN, is_async=True,
             entity="StorageNetworkIpRange", event="STORAGE.IP.RANGE.UPDATE", since="3.0.0",
             description="Update a Storage network IP range, only allowed when no IPs in this range have been "
             "allocated.")
def update_storage_network_ip_range(ctx: CallContext, p: UpdateStorageNetworkIpRangeParams) -> \
        StorageNetworkIpRangeResp:
    rng = storage_network.update(ctx.session, ctx.refs["id"], start=p.startip, end=p.endip, netmask=p.netmask,
                                 vlan=p.vlan)
    return _resps(ctx, [rng])[0]


class DeleteStorageNetworkIpRangeParams(Params):
    id: Annotated[str, Ref("StorageNetworkIpRange")] = Field(description="the uuid of the storage network ip range")


@api_command("deleteStorageNetworkIpRange", params=DeleteStorageNetworkIpRangeParams, roles=ADMIN, is_async=True,
             entity="StorageNetworkIpRange", event="STORAGE.IP.RANGE.DELETE", since="3.0.0",
             description="Deletes a storage network IP Range.")
def delete_storage_network_ip_range(ctx: CallContext, p: DeleteStorageNetworkIpRangeParams) -> Success:
    storage_network.delete(ctx.session, ctx.refs["id"])
    return Success()


class ListStorageNetworkIpRangeParams(ListParams):
    id: Annotated[str | None, Ref("StorageNetworkIpRange", "read")] = Field(
        None, description="optional parameter. Storaget network IP range uuid, if specicied, using it to search the "
        "range.")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(
        None, description="optional parameter. Pod uuid, if specicied and range uuid is absent, using it to search "
        "the range.")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(
        None, description="optional parameter. Zone uuid, if specicied and both pod uuid and range uuid are absent, "
        "using it to search the range.")


@api_command("listStorageNetworkIpRange", params=ListStorageNetworkIpRangeParams,
             result_key="storagenetworkiprange", response=StorageNetworkIpRangeResp, roles=ADMIN, since="3.0.0",
             description="List a storage network IP range.")
def list_storage_network_ip_range(ctx: CallContext, p: ListStorageNetworkIpRangeParams) -> ListResult:
    stmt = select(StorageNetworkIpRange).where(StorageNetworkIpRange.removed.is_(None))
    # as CloudStack: the range id wins, then the pod, then the zone
    if p.id:
        stmt = stmt.where(StorageNetworkIpRange.id == ctx.refs["id"].id)
    elif p.podid:
        stmt = stmt.where(StorageNetworkIpRange.pod_id == ctx.refs["podid"].id)
    elif p.zoneid:
        stmt = stmt.where(StorageNetworkIpRange.zone_id == ctx.refs["zoneid"].id)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, StorageNetworkIpRange.id)
    return ListResult(_resps(ctx, rows), count)
