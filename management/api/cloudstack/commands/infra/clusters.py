"""Clusters: addCluster (list-shaped response), updateCluster, deleteCluster, listClusters."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Ref, api_command
from management.api.cloudstack.schemas_infra import ClusterResp
from management.models.infra import Cluster
from management.services import access
from management.services.context import CallContext
from management.services.infra import infra
from management.services.listing import keyword_filter, paginate, same_name

access.register_entity("Cluster", Cluster, "public")


def _ratio(v: float) -> str:
    return str(float(v))


def cluster_resp(c: Cluster) -> ClusterResp:
    return ClusterResp(id=c.uuid, name=c.name, podid=c.pod.uuid, podname=c.pod.name, zoneid=c.zone.uuid,
                       zonename=c.zone.name, hypervisortype=c.hypervisor_type, clustertype=c.cluster_type,
                       allocationstate=c.allocation_state, managedstate=c.managed_state,
                       cpuovercommitratio=_ratio(c.cpu_overcommit_ratio),
                       memoryovercommitratio=_ratio(c.mem_overcommit_ratio))


class AddClusterParams(Params):
    clustername: str = Field(description="the cluster name")
    clustertype: str = Field(description="type of the cluster: CloudManaged, ExternalManaged")
    hypervisor: str = Field(description="hypervisor type of the cluster: XenServer,KVM,VMware,Hyperv,BareMetal,"
                            "Simulator,Ovm3")
    podid: Annotated[str, Ref("Pod")] = Field(description="the Pod ID for the host")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="the Zone ID for the cluster")
    allocationstate: str | None = Field(None, description="Allocation state of this cluster for allocation of new "
                                        "resources")
    url: str | None = Field(None, description="the URL")
    username: str | None = Field(None, description="the username for the cluster")
    password: str | None = Field(None, description="the password for the host")
    arch: str | None = Field(None, description="the CPU arch of the cluster. Valid options are: x86_64, aarch64")


@api_command("addCluster", params=AddClusterParams, result_key="cluster", response=ClusterResp, roles=ADMIN,
             event="CLUSTER.CREATE", entity="Cluster", description="Adds a new cluster")
def add_cluster(ctx: CallContext, p: AddClusterParams) -> ListResult:
    c = infra.add_cluster(ctx.session, zone=ctx.refs["zoneid"], pod=ctx.refs["podid"], name=p.clustername,
                          hypervisor=p.hypervisor, clustertype=p.clustertype, allocationstate=p.allocationstate,
                          url=p.url)
    # CloudStack answers addCluster with a list (CLOUDSTACK-9205): {"count":1,"cluster":[{...}]}.
    return ListResult([cluster_resp(c)], 1)


class UpdateClusterParams(Params):
    id: Annotated[str, Ref("Cluster")] = Field(description="the ID of the Cluster")
    clustername: str | None = Field(None, description="the cluster name")
    allocationstate: str | None = Field(None, description="Allocation state of this cluster for allocation of new "
                                        "resources")
    managedstate: str | None = Field(None, description="whether this cluster is managed by cloudstack")
    hypervisor: str | None = Field(None, description="hypervisor type of the cluster")
    clustertype: str | None = Field(None, description="hypervisor type of the cluster")


@api_command("updateCluster", params=UpdateClusterParams, result_key="cluster", response=ClusterResp,
             roles=ADMIN, event="CLUSTER.UPDATE", entity="Cluster", description="Updates an existing cluster")
def update_cluster(ctx: CallContext, p: UpdateClusterParams) -> ClusterResp:
    return cluster_resp(infra.update_cluster(ctx.session, ctx.refs["id"], name=p.clustername,
                                             allocationstate=p.allocationstate, managedstate=p.managedstate,
                                             hypervisor=p.hypervisor, clustertype=p.clustertype))


class DeleteClusterParams(Params):
    id: Annotated[str, Ref("Cluster")] = Field(description="the cluster ID")


@api_command("deleteCluster", params=DeleteClusterParams, roles=ADMIN, event="CLUSTER.DELETE", entity="Cluster",
             description="Deletes a cluster.")
def delete_cluster(ctx: CallContext, p: DeleteClusterParams) -> Success:
    infra.delete_cluster(ctx.session, ctx.refs["id"])
    return Success()


class ListClustersParams(ListParams):
    id: Annotated[str | None, Ref("Cluster", "read")] = Field(None, description="lists clusters by the cluster ID")
    name: str | None = Field(None, description="lists clusters by the cluster name")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="lists clusters by Zone ID")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="lists clusters by Pod ID")
    hypervisor: str | None = Field(None, description="lists clusters by hypervisor type")
    clustertype: str | None = Field(None, description="lists clusters by cluster type")
    allocationstate: str | None = Field(None, description="lists clusters by allocation state")
    managedstate: str | None = Field(None, description="whether this cluster is managed by cloudstack")
    showcapacities: bool = Field(False, description="flag to display the capacity of the clusters")


@api_command("listClusters", params=ListClustersParams, result_key="cluster", response=ClusterResp, roles=ADMIN,
             description="Lists clusters.")
def list_clusters(ctx: CallContext, p: ListClustersParams) -> ListResult:
    stmt = select(Cluster).where(Cluster.removed.is_(None))
    if p.id:
        stmt = stmt.where(Cluster.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(Cluster.name, p.name))
    if p.zoneid:
        stmt = stmt.where(Cluster.zone_id == ctx.refs["zoneid"].id)
    if p.podid:
        stmt = stmt.where(Cluster.pod_id == ctx.refs["podid"].id)
    if p.hypervisor:
        stmt = stmt.where(Cluster.hypervisor_type.ilike(p.hypervisor))
    if p.clustertype:
        stmt = stmt.where(Cluster.cluster_type == p.clustertype)
    if p.allocationstate:
        stmt = stmt.where(Cluster.allocation_state == p.allocationstate)
    if p.managedstate:
        stmt = stmt.where(Cluster.managed_state == p.managedstate)
    stmt = keyword_filter(stmt, p.keyword, Cluster.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Cluster.id)
    return ListResult([cluster_resp(r) for r in rows], count)
