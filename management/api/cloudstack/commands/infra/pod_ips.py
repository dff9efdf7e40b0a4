"""acquirePodIpAddress / releasePodIpAddress: a pod's management addresses one at a time
(services/infra/pod_ips)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, ApiType, Long, Params, Ref, api_command
from management.api.cloudstack.schemas import Resp
from management.models.infra import Pod
from management.services.context import CallContext
from management.services.infra import pod_ips


class PodIpResp(Resp):
    id: int = Field(description="the id of the address (releasePodIpAddress takes it)")
    ipaddress: str = Field(description="the address")
    podid: int = Field(description="the database id of the pod the address belongs to")
    gateway: str | None = Field(None, description="the gateway of the pod")
    cidr: str | None = Field(None, description="the network address of the pod")
    nicid: int | None = Field(None, description="the id of the NIC holding the address (0: none)")
    hostmac: int | None = Field(None, description="the MAC address kept with the address, as a number")


class AcquirePodIpParams(Params):
    zoneid: Annotated[str, Ref("Zone"), ApiType("string")] = Field(description="the ID of the zone")
    podid: str | None = Field(None, description="the ID of the pod the address is taken from")


@api_command("acquirePodIpAddress", params=AcquirePodIpParams, result_key="acquirepodipaddress", response=PodIpResp,
             roles=ADMIN, event="POD.IP.ACQUIRE",
             description="Allocates an IP address from a pod's management range.")
def acquire_pod_ip(ctx: CallContext, p: AcquirePodIpParams) -> PodIpResp:
    pod = ctx.session.scalar(select(Pod).where(Pod.uuid == p.podid, Pod.removed.is_(None))) if p.podid else None
    row = pod_ips.acquire(ctx.session, ctx.refs["zoneid"], pod, ctx.caller.account_id,
                          root_admin=ctx.caller.is_root_admin)
    pod = ctx.session.get_one(Pod, row.pod_id)
    return PodIpResp(id=row.id, ipaddress=row.ip_address, podid=pod.id, gateway=pod.gateway,
                     cidr=pod_ips.cidr_address(pod), nicid=row.nic_id, hostmac=row.mac_address)


class ReleasePodIpParams(Params):
    id: Long = Field(description="the id of the address (acquirePodIpAddress's id)")


@api_command("releasePodIpAddress", params=ReleasePodIpParams, roles=ADMIN, event="POD.IP.RELEASE",
             response_name="releasepodipresponse", description="Releases an address of a pod's management range.")
def release_pod_ip(ctx: CallContext, p: ReleasePodIpParams) -> Success:
    pod_ips.release(ctx.session, p.id, root_admin=ctx.caller.is_root_admin)
    return Success()
