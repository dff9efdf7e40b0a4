"""listCapacity (computed from the inventory), listHypervisors, listOsTypes, listOsCategories,
listStorageProviders."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import Flat, ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, Ref, api_command
from management.api.cloudstack.schemas_infra import CapacityResp, HypervisorResp, OsCategoryResp, OsTypeResp
from management.errors import ParamError
from management.models.infra import Cluster, Zone
from management.models.offerings import OsCategory, OsType
from management.services import access
from management.services.context import CallContext
from management.services.infra import capacity, hosts
from management.services.listing import check_paging, keyword_filter, paginate, same_name

access.register_entity("OsType", OsType, "public", soft_delete=False)
access.register_entity("OsCategory", OsCategory, "public", soft_delete=False)


class ListCapacityParams(ListParams):
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="lists capacity by the Zone ID")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="lists capacity by the Pod ID")
    clusterid: Annotated[str | None, Ref("Cluster", "read")] = Field(None, description="lists capacity by the "
                                                                     "Cluster ID")
    type: int | None = Field(None, description="lists capacity by type* CAPACITY_TYPE_MEMORY = 0* "
                             "CAPACITY_TYPE_CPU = 1* CAPACITY_TYPE_STORAGE = 2* CAPACITY_TYPE_STORAGE_ALLOCATED = 3* "
                             "CAPACITY_TYPE_VIRTUAL_NETWORK_PUBLIC_IP = 4* CAPACITY_TYPE_PRIVATE_IP = 5* "
                             "CAPACITY_TYPE_SECONDARY_STORAGE = 6* CAPACITY_TYPE_VLAN = 7")
    fetchlatest: bool = Field(False, description="recalculate capacities and fetch the latest")
    sortby: str | None = Field(None, description="Sort the results. Available values: Usage")


@api_command("listCapacity", params=ListCapacityParams, result_key="capacity", response=CapacityResp, roles=ADMIN,
             description="Lists all the system wide capacities.")
def list_capacity(ctx: CallContext, p: ListCapacityParams) -> ListResult:
    pod, cluster = ctx.refs.get("podid"), ctx.refs.get("clusterid")
    if cluster is not None:
        pod = pod or cluster.pod
    zone = ctx.refs.get("zoneid") or (pod.zone if pod is not None else None)
    if p.type is not None and p.type not in capacity.NAMES:
        raise ParamError(f"Invalid capacity type {p.type}")
    zones = [zone] if zone is not None else list(ctx.session.scalars(
        select(Zone).where(Zone.removed.is_(None)).order_by(Zone.id)))
    items = []
    for z in zones:
        items.extend(capacity.compute(ctx.session, z, pod=pod, cluster=cluster,
                                      types={p.type} if p.type is not None else None))
    if (p.sortby or "").lower() == "usage":
        items.sort(key=lambda c: -float(c.percent))
    offset, limit = check_paging(ctx.session, p.page, p.pagesize)
    page = items[offset:offset + limit] if limit is not None else items[offset:]
    return ListResult([CapacityResp(type=c.type, name=c.name, zoneid=c.zone.uuid, zonename=c.zone.name,
                                    podid=c.pod.uuid if c.pod else None, podname=c.pod.name if c.pod else None,
                                    clusterid=c.cluster.uuid if c.cluster else None,
                                    clustername=c.cluster.name if c.cluster else None, capacityused=c.used,
                                    capacityallocated=c.used, capacitytotal=c.total, percentused=c.percent)
                       for c in page], len(items))


class ListHypervisorsParams(ListParams):
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the zone id for listing "
                                                               "hypervisors.")


@api_command("listHypervisors", params=ListHypervisorsParams, result_key="hypervisor", response=HypervisorResp,
             description="List hypervisors")
def list_hypervisors(ctx: CallContext, p: ListHypervisorsParams) -> ListResult:
    zone = ctx.refs.get("zoneid")
    if zone is not None:
        names = sorted(set(ctx.session.scalars(select(Cluster.hypervisor_type).where(
            Cluster.zone_id == zone.id, Cluster.removed.is_(None)))))
    else:
        names = list(hosts.KNOWN_HYPERVISORS)
    return ListResult([HypervisorResp(name=n) for n in names], len(names))


def _ostype_resp(o: OsType, cat: OsCategory) -> OsTypeResp:
    return OsTypeResp(id=o.uuid, name=o.display_name, description=o.display_name, oscategoryid=cat.uuid,
                      oscategoryname=cat.name, isuserdefined=bool(o.is_user_defined), fordisplay=o.for_display)


class ListOsTypesParams(ListParams):
    id: Annotated[str | None, Ref("OsType", "read")] = Field(None, description="list by Os type Id")
    oscategoryid: Annotated[str | None, Ref("OsCategory", "read")] = Field(None, description="list by Os Category "
                                                                           "id")
    description: str | None = Field(None, description="list os by description")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listOsTypes", params=ListOsTypesParams, result_key="ostype", response=OsTypeResp,
             description="Lists all supported OS types for this cloud.")
def list_os_types(ctx: CallContext, p: ListOsTypesParams) -> ListResult:
    stmt = select(OsType)
    if p.id:
        stmt = stmt.where(OsType.uuid == p.id)
    if p.oscategoryid:
        stmt = stmt.where(OsType.category_id == ctx.refs["oscategoryid"].id)
    if p.description:
        stmt = stmt.where(OsType.display_name.ilike(f"%{p.description}%"))
    if p.fordisplay is not None:
        stmt = stmt.where(OsType.for_display.is_(p.fordisplay))
    stmt = keyword_filter(stmt, p.keyword, OsType.display_name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, OsType.id)
    cats = {c.id: c for c in ctx.session.scalars(select(OsCategory))}
    return ListResult([_ostype_resp(o, cats[o.category_id]) for o in rows], count)


class ListOsCategoriesParams(ListParams):
    id: Annotated[str | None, Ref("OsCategory", "read")] = Field(None, description="list Os category by id")
    name: str | None = Field(None, description="list os category by name")
    isfeatured: bool | None = Field(None, description="List available OS categories by featured or not")
    isiso: bool | None = Field(None, description="List OS category types available for given ISO or not")
    isvnf: bool | None = Field(None, description="List OS category types for VNF templates or not")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="List available OS categories "
                                                               "types for the zone")
    arch: str | None = Field(None, description="List OS category types for the CPU arch")
    showicon: bool = Field(False, description="flag to display the resource image for the OS category")


@api_command("listOsCategories", params=ListOsCategoriesParams, result_key="oscategory", response=OsCategoryResp,
             description="Lists all supported OS categories for this cloud.")
def list_os_categories(ctx: CallContext, p: ListOsCategoriesParams) -> ListResult:
    stmt = select(OsCategory)
    if p.id:
        stmt = stmt.where(OsCategory.uuid == p.id)
    if p.name:
        stmt = stmt.where(same_name(OsCategory.name, p.name))
    if p.isfeatured is not None:
        stmt = stmt.where(OsCategory.is_featured.is_(p.isfeatured))
    stmt = keyword_filter(stmt, p.keyword, OsCategory.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, OsCategory.id)
    return ListResult([OsCategoryResp(id=c.uuid, name=c.name, isfeatured=c.is_featured) for c in rows], count)


class ListStorageProvidersParams(ListParams):
    type: str = Field(description="the type of storage provider: either primary or image")


@api_command("listStorageProviders", params=ListStorageProvidersParams, roles=ADMIN,
             description="Lists storage providers.")
def list_storage_providers(ctx: CallContext, p: ListStorageProvidersParams) -> Flat:
    kind = p.type.lower()
    if kind not in ("primary", "image", "object"):
        raise ParamError(f"Invalid storage provider type {p.type}: primary, image or object")
    names = {"primary": ["DefaultPrimary"], "image": ["NFS"], "object": ["Simulator"]}[kind]
    return Flat({"count": len(names), "dataStoreProvider": [{"name": n, "type": kind.upper()} for n in names]})
