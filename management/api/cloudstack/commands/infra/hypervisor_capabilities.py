"""listHypervisorCapabilities / updateHypervisorCapabilities (per hypervisor and version)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, Long, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_tenancy import HypervisorCapabilitiesResp
from management.errors import ParamError
from management.models.governance import HypervisorCapability
from management.services import access
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate

access.register_entity("HypervisorCapabilities", HypervisorCapability, "public", soft_delete=False)

def cap_resp(c: HypervisorCapability) -> HypervisorCapabilitiesResp:
    return HypervisorCapabilitiesResp(
        id=c.uuid, hypervisor=c.hypervisor_type, hypervisorversion=c.hypervisor_version,
        maxguestslimit=c.max_guests_limit, securitygroupenabled=c.security_group_enabled,
        maxdatavolumeslimit=c.max_data_volumes_limit, maxhostspercluster=c.max_hosts_per_cluster,
        storagemotionenabled=c.storage_motion_supported, vmsnapshotenabled=c.vm_snapshot_enabled)


class ListCapabilitiesParams(ListParams):
    id: Uuid | None = Field(None, description="ID of the hypervisor capability")
    hypervisor: str | None = Field(None, description="the hypervisor for which to restrict the search")


@api_command("listHypervisorCapabilities", params=ListCapabilitiesParams, result_key="hypervisorCapabilities",
             response=HypervisorCapabilitiesResp, roles=ADMIN, since="3.0.0",
             description="Lists all hypervisor capabilities.")
def list_hypervisor_capabilities(ctx: CallContext, p: ListCapabilitiesParams) -> ListResult:
    stmt = select(HypervisorCapability)
    if p.id:
        stmt = stmt.where(HypervisorCapability.uuid == p.id)
    if p.hypervisor:
        stmt = stmt.where(func.lower(HypervisorCapability.hypervisor_type) == p.hypervisor.lower())
    stmt = keyword_filter(stmt, p.keyword, HypervisorCapability.hypervisor_type)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, HypervisorCapability.id)
    return ListResult([cap_resp(c) for c in rows], count)


class UpdateCapabilitiesParams(Params):
    id: Annotated[str | None, Ref("HypervisorCapabilities")] = Field(None, description="ID of the hypervisor "
                                                                     "capability")
    hypervisor: str | None = Field(None, description="the hypervisor for which the hypervisor capabilities are to "
                                   "be updated")
    hypervisorversion: str | None = Field(None, description="the hypervisor version for which the hypervisor "
                                          "capabilities are to be updated")
    securitygroupenabled: bool | None = Field(None, description="set true to enable security group for this "
                                              "hypervisor.")
    maxguestslimit: Long | None = Field(None, description="the max number of Guest VMs per host for this hypervisor.")
    maxdatavolumeslimit: int | None = Field(None, description="the maximum number of Data Volumes that can be "
                                            "attached to a VM for this hypervisor.")
    storagemotionenabled: bool | None = Field(None, description="set true to enable storage motion support for this "
                                              "hypervisor")
    maxhostspercluster: int | None = Field(None, description="the maximum number of the hypervisor hosts per "
                                           "cluster")
    vmsnapshotenabled: bool | None = Field(None, description="set true to enable VM snapshots for this hypervisor")


@api_command("updateHypervisorCapabilities", params=UpdateCapabilitiesParams, result_key="hypervisorcapabilities",
             response=HypervisorCapabilitiesResp, roles=ADMIN, event="HYPERVISOR.CAPABILITIES.UPDATE",
             entity="HypervisorCapabilities", since="3.0.0", description="Updates a hypervisor capabilities.")
def update_hypervisor_capabilities(ctx: CallContext, p: UpdateCapabilitiesParams) -> HypervisorCapabilitiesResp:
    c: HypervisorCapability | None = ctx.refs.get("id")
    if c is None:
        if not p.hypervisor or not p.hypervisorversion:
            raise ParamError("Either ID or hypervisor and hypervisor version must be passed")
        c = ctx.session.scalar(select(HypervisorCapability).where(
            func.lower(HypervisorCapability.hypervisor_type) == p.hypervisor.lower(),
            HypervisorCapability.hypervisor_version == p.hypervisorversion))
        if c is None:  # a new version of a known hypervisor starts from that hypervisor's default row
            base = ctx.session.scalar(select(HypervisorCapability).where(
                func.lower(HypervisorCapability.hypervisor_type) == p.hypervisor.lower(),
                HypervisorCapability.hypervisor_version == "default"))
            if base is None:
                raise ParamError(f"Hypervisor capabilities for {p.hypervisor} are not known")
            c = HypervisorCapability(hypervisor_type=base.hypervisor_type, hypervisor_version=p.hypervisorversion,
                                     max_guests_limit=base.max_guests_limit,
                                     security_group_enabled=base.security_group_enabled,
                                     max_data_volumes_limit=base.max_data_volumes_limit,
                                     max_hosts_per_cluster=base.max_hosts_per_cluster,
                                     storage_motion_supported=base.storage_motion_supported,
                                     vm_snapshot_enabled=base.vm_snapshot_enabled)
            ctx.session.add(c)
    for attr, value in (("security_group_enabled", p.securitygroupenabled), ("max_guests_limit", p.maxguestslimit),
                        ("max_data_volumes_limit", p.maxdatavolumeslimit),
                        ("storage_motion_supported", p.storagemotionenabled),
                        ("max_hosts_per_cluster", p.maxhostspercluster), ("vm_snapshot_enabled", p.vmsnapshotenabled)):
        if value is not None:
            setattr(c, attr, value)
    ctx.session.flush()
    return cap_resp(c)

