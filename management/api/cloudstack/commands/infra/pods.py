"""Pods: createPod, updatePod, deletePod, listPods."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import PodResp
from management.models.infra import Pod
from management.services import access
from management.services.context import CallContext
from management.services.infra import infra
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("Pod", Pod, "public")


def pod_resp(p: Pod) -> PodResp:
    return PodResp(id=p.uuid, name=p.name, zoneid=p.zone.uuid, zonename=p.zone.name, gateway=p.gateway,
                   netmask=p.netmask, startip=[p.start_ip] if p.start_ip else [],
                   endip=[p.end_ip] if p.end_ip else [], allocationstate=p.allocation_state)


class CreatePodParams(Params):
    name: str = Field(description="the name of the Pod")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="the Zone ID in which the Pod will be created")
    gateway: str | None = Field(None, description="the gateway for the Pod")
    netmask: str | None = Field(None, description="the netmask for the Pod")
    startip: str | None = Field(None, description="the starting IP address for the Pod")
    endip: str | None = Field(None, description="the ending IP address for the Pod")
    allocationstate: str | None = Field(None, description="Allocation state of this Pod for allocation of new "
                                        "resources")


@api_command("createPod", params=CreatePodParams, result_key="pod", response=PodResp, roles=ADMIN,
             event="POD.CREATE", entity="Pod", description="Creates a new Pod.")
def create_pod(ctx: CallContext, p: CreatePodParams) -> PodResp:
    return pod_resp(infra.create_pod(ctx.session, zone=ctx.refs["zoneid"], name=p.name, gateway=p.gateway,
                                     netmask=p.netmask, startip=p.startip, endip=p.endip,
                                     allocationstate=p.allocationstate))


class UpdatePodParams(Params):
    id: Annotated[str, Ref("Pod")] = Field(description="the ID of the Pod")
    name: str | None = Field(None, description="the name of the Pod")
    gateway: str | None = Field(None, description="the gateway for the Pod")
    netmask: str | None = Field(None, description="the netmask of the Pod")
    startip: str | None = Field(None, description="the starting IP address for the Pod")
    endip: str | None = Field(None, description="the ending IP address for the Pod")
    allocationstate: str | None = Field(None, description="Allocation state of this cluster for allocation of new "
                                        "resources")


@api_command("updatePod", params=UpdatePodParams, result_key="pod", response=PodResp, roles=ADMIN,
             event="POD.EDIT", entity="Pod", description="Updates a Pod.")
def update_pod(ctx: CallContext, p: UpdatePodParams) -> PodResp:
    return pod_resp(infra.update_pod(ctx.session, ctx.refs["id"], name=p.name, gateway=p.gateway,
                                     netmask=p.netmask, startip=p.startip, endip=p.endip,
                                     allocationstate=p.allocationstate))


class DeletePodParams(Params):
    id: Annotated[str, Ref("Pod")] = Field(description="the ID of the Pod")


@api_command("deletePod", params=DeletePodParams, roles=ADMIN, event="POD.DELETE", entity="Pod",
             description="Deletes a Pod.")
def delete_pod(ctx: CallContext, p: DeletePodParams) -> Success:
    infra.delete_pod(ctx.session, ctx.refs["id"])
    return Success()


class ListPodsParams(ListParams):
    id: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="list Pods by ID")
    name: str | None = Field(None, description="list Pods by name")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="list Pods by Zone ID")
    allocationstate: str | None = Field(None, description="list pods by allocation state")
    showcapacities: bool = Field(False, description="flag to display the capacity of the pods")


@api_command("listPods", params=ListPodsParams, result_key="pod", response=PodResp, roles=ADMIN,
             description="Lists all Pods.")
def list_pods(ctx: CallContext, p: ListPodsParams) -> ListResult:
    stmt = select(Pod).where(Pod.removed.is_(None))
    if p.id:
        stmt = stmt.where(Pod.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(Pod.name, p.name))
    if p.zoneid:
        stmt = stmt.where(Pod.zone_id == ctx.refs["zoneid"].id)
    if p.allocationstate:
        stmt = stmt.where(Pod.allocation_state == p.allocationstate)
    stmt = keyword_filter(stmt, p.keyword, Pod.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Pod.id)
    return ListResult([pod_resp(r) for r in rows], count)
