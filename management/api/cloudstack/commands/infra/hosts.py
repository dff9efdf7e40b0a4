"""Hosts: addHost (list-shaped response), updateHost, deleteHost, listHosts, prepareHostForMaintenance,
cancelHostMaintenance, reconnectHost. Hosts are real through the driver contract (services/infra/hosts.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import HostResp
from management.models.infra import Host
from management.services import access
from management.services.context import CallContext
from management.services.infra import hosts
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("Host", Host, "public")


def _pct(used: float, total: float) -> str:
    return f"{(100.0 * used / total) if total else 0.0:.2f}%"


def host_resp(h: Host) -> HostResp:
    c = h.cluster
    cpu_ratio = c.cpu_overcommit_ratio if c else 1.0
    mem_ratio = c.mem_overcommit_ratio if c else 1.0
    cpu_total = h.cpus * h.speed
    return HostResp(
        id=h.uuid, name=h.name, type=h.type, state=h.status, resourcestate=h.resource_state,
        hypervisor=h.hypervisor_type, hypervisorversion=h.hypervisor_version, ipaddress=h.private_ip,
        zoneid=h.zone.uuid, zonename=h.zone.name, podid=h.pod.uuid if h.pod else None,
        podname=h.pod.name if h.pod else None, clusterid=c.uuid if c else None, clustername=c.name if c else None,
        clustertype=c.cluster_type if c else None, cpusockets=h.cpu_sockets, cpunumber=h.cpus, cpuspeed=h.speed,
        cpuallocated=_pct(h.cpu_allocated, cpu_total * cpu_ratio), cpuallocatedvalue=h.cpu_allocated,
        cpuallocatedpercentage=_pct(h.cpu_allocated, cpu_total * cpu_ratio),
        cpuwithoverprovisioning=str(float(cpu_total * cpu_ratio)), cpuused="0%",
        memorytotal=h.total_memory, memorywithoverprovisioning=str(float(h.total_memory * mem_ratio)),
        memoryallocated=h.mem_allocated, memoryallocatedpercentage=_pct(h.mem_allocated, h.total_memory * mem_ratio),
        memoryused=h.mem_allocated, hosttags=h.host_tags, lastpinged=h.last_pinged, disconnected=h.disconnected,
        created=h.created, version="4.22.0.0", managementserverid=h.mgmt_server_id, islocalstorageactive=False,
        capabilities="hvm", events="ManagementServerDown; AgentConnected; Ping; AgentDisconnected; Remove; "
        "ShutdownRequested; StartAgentRebalance; HostDown; PingTimeout; Ping",
        arch="x86_64",
    )


class AddHostParams(Params):
    hypervisor: str = Field(description="hypervisor type of the host")
    podid: Annotated[str, Ref("Pod")] = Field(description="the Pod ID for the host")
    url: str = Field(description="the host URL")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="the Zone ID for the host")
    clusterid: Annotated[str | None, Ref("Cluster")] = Field(None, description="the cluster ID for the host")
    clustername: str | None = Field(None, description="the cluster name for the host")
    username: str | None = Field(None, description="the username for the host; required to be passed for "
                                 "hypervisors other than VMWare")
    password: str | None = Field(None, description="the password for the host; required to be passed for "
                                 "hypervisors other than VMWare")
    hosttags: list[str] | None = Field(None, description="list of tags to be added to the host")
    allocationstate: str | None = Field(None, description="Allocation state of this Host for allocation of new "
                                        "resources")


@api_command("addHost", params=AddHostParams, result_key="host", response=HostResp, roles=ADMIN,
             event="HOST.ADD", entity="Host", description="Adds a new host.")
def add_host(ctx: CallContext, p: AddHostParams) -> ListResult:
    added = hosts.add_hosts(ctx.runtime, ctx.session, zone=ctx.refs["zoneid"], pod=ctx.refs["podid"],
                            cluster=ctx.refs.get("clusterid"), clustername=p.clustername, url=p.url,
                            hypervisor=p.hypervisor, hosttags=",".join(p.hosttags) if p.hosttags else None,
                            username=p.username, password=p.password)
    if p.allocationstate and p.allocationstate.lower() in ("disable", "disabled"):
        for h in added:
            hosts.update_host(ctx.session, h, allocationstate="Disable", hosttags=None, name=None)
    # list-shaped, as CloudStack answers addHost (a XenServer pool master URL adds every pool member)
    return ListResult([host_resp(h) for h in added], len(added))


class UpdateHostParams(Params):
    id: Annotated[str, Ref("Host")] = Field(description="the ID of the host to update")
    allocationstate: str | None = Field(None, description="Change resource state of host, valid values are "
                                        "[Enable, Disable]. Operation may failed if host in states not allowing "
                                        "Enable/Disable")
    hosttags: list[str] | None = Field(None, description="list of tags to be added to the host")
    name: str | None = Field(None, description="the new name for the host")
    url: str | None = Field(None, description="the new uri for the secondary storage: nfs://host/path")
    annotation: str | None = Field(None, description="Add an annotation to this host")


@api_command("updateHost", params=UpdateHostParams, result_key="host", response=HostResp, roles=ADMIN,
             event="HOST.UPDATE", entity="Host", description="Updates a host.")
def update_host(ctx: CallContext, p: UpdateHostParams) -> HostResp:
    tags = None if p.hosttags is None else ",".join(p.hosttags)
    return host_resp(hosts.update_host(ctx.session, ctx.refs["id"], allocationstate=p.allocationstate,
                                       hosttags=tags, name=p.name))


class DeleteHostParams(Params):
    id: Annotated[str, Ref("Host")] = Field(description="the host ID")
    forced: bool = Field(False, description="Force delete the host. All HA enabled vms running on the host will "
                         "be put to HA; HA disabled ones will be stopped")
    forcedestroylocalstorage: bool = Field(True, description="Force destroy local storage on this host. All VMs "
                                           "created on this local storage will be destroyed")


@api_command("deleteHost", params=DeleteHostParams, roles=ADMIN, event="HOST.DELETE", entity="Host",
             description="Deletes a host.")
def delete_host(ctx: CallContext, p: DeleteHostParams) -> Success:
    hosts.delete_host(ctx.runtime, ctx.session, ctx.refs["id"], forced=p.forced)
    return Success()


class HostIdParams(Params):
    id: Annotated[str, Ref("Host")] = Field(description="the host ID")


@api_command("prepareHostForMaintenance", params=HostIdParams, result_key="host", response=HostResp,
             roles=ADMIN, is_async=True, event="MAINT.PREPARE", entity="Host",
             description="Prepares a host for maintenance.")
def prepare_host_for_maintenance(ctx: CallContext, p: HostIdParams) -> HostResp:
    return host_resp(hosts.prepare_maintenance(ctx.session, ctx.refs["id"]))


@api_command("cancelHostMaintenance", params=HostIdParams, result_key="host", response=HostResp, roles=ADMIN,
             is_async=True, event="MAINT.CANCEL", entity="Host", description="Cancels host maintenance.")
def cancel_host_maintenance(ctx: CallContext, p: HostIdParams) -> HostResp:
    return host_resp(hosts.cancel_maintenance(ctx.session, ctx.refs["id"]))


@api_command("reconnectHost", params=HostIdParams, result_key="host", response=HostResp, roles=ADMIN,
             is_async=True, event="HOST.RECONNECT", entity="Host", description="Reconnects a host.")
def reconnect_host(ctx: CallContext, p: HostIdParams) -> HostResp:
    return host_resp(hosts.reconnect(ctx.runtime, ctx.session, ctx.refs["id"]))


class ListHostsParams(ListParams):
    id: Annotated[str | None, Ref("Host", "read")] = Field(None, description="the id of the host")
    name: str | None = Field(None, description="the name of the host")
    type: str | None = Field(None, description="the host type")
    state: str | None = Field(None, description="the state of the host")
    resourcestate: str | None = Field(None, description="list hosts by resource state. Resource state represents "
                                      "current state determined by admin of host, value can be one of [Enabled, "
                                      "Disabled, Unmanaged, PrepareForMaintenance, ErrorInMaintenance, Maintenance, "
                                      "Error]")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID for the host")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="the Pod ID for the host")
    clusterid: Annotated[str | None, Ref("Cluster", "read")] = Field(None, description="lists hosts existing in "
                                                                     "particular cluster")
    hypervisor: str | None = Field(None, description="hypervisor type of host: XenServer,KVM,VMware,Hyperv,"
                                   "BareMetal,Simulator")
    details: list[str] | None = Field(None, description="comma separated list of host details requested")
    hahost: bool | None = Field(None, description="if true, list only hosts dedicated to HA")
    outofbandmanagementenabled: bool | None = Field(None, description="list hosts for which out-of-band "
                                                    "management is enabled")


@api_command("listHosts", params=ListHostsParams, result_key="host", response=HostResp, roles=ADMIN,
             description="Lists hosts.")
def list_hosts(ctx: CallContext, p: ListHostsParams) -> ListResult:
    stmt = select(Host).where(Host.removed.is_(None))
    if p.id:
        stmt = stmt.where(Host.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(Host.name, p.name))
    if p.type:
        stmt = stmt.where(Host.type.ilike(p.type))
    if p.state:
        stmt = stmt.where(Host.status.ilike(p.state))
    if p.resourcestate:
        stmt = stmt.where(Host.resource_state.ilike(p.resourcestate))
    if p.zoneid:
        stmt = stmt.where(Host.zone_id == ctx.refs["zoneid"].id)
    if p.podid:
        stmt = stmt.where(Host.pod_id == ctx.refs["podid"].id)
    if p.clusterid:
        stmt = stmt.where(Host.cluster_id == ctx.refs["clusterid"].id)
    if p.hypervisor:
        stmt = stmt.where(Host.hypervisor_type.ilike(p.hypervisor))
    stmt = keyword_filter(stmt, p.keyword, Host.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Host.id)
    return ListResult([host_resp(r) for r in rows], count)
