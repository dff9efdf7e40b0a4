"""dedicatePublicIpRange / releasePublicIpRange: a zone's public range reserved for one account (or released to
the system pool again), as CloudStack's ConfigurationManagerImpl does it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.commands.network.vlans import vlan_resp
from management.api.cloudstack.envelope import Success
from management.api.cloudstack.registry import ADMIN, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_infra import VlanIpRangeResp
from management.errors import ParamError
from management.models.infra import PublicIpAddress, VlanIpRange
from management.services import access
from management.services.context import CallContext


class DedicatePublicIpRangeParams(Params):
    id: Annotated[str, Ref("VlanIpRange")] = Field(description="the id of the VLAN IP range")
    account: str | None = Field(None, description="account who will own the VLAN")
    projectid: Uuid | None = Field(None, description="project who will own the VLAN")
    domainid: Annotated[str, Ref("Domain", "read")] = Field(description="domain ID of the account owning a VLAN")


@api_command("dedicatePublicIpRange", params=DedicatePublicIpRangeParams, result_key="vlan",
             response=VlanIpRangeResp, roles=ADMIN, event="VLAN.IP.RANGE.DEDICATE", entity="VlanIpRange",
             since="4.2.0", description="Dedicates a Public IP range to an account")
def dedicate_public_ip_range(ctx: CallContext, p: DedicatePublicIpRangeParams) -> VlanIpRangeResp:
    rng: VlanIpRange = ctx.refs["id"]
    if p.projectid:
        raise ParamError(f"Unable to find project by id {p.projectid}")
    if not p.account:
        raise ParamError("Please specify an account to dedicate the public IP range to")
    if rng.vlan_type != "VirtualNetwork":
        raise ParamError("Public IP range can be dedicated to an account only if the range is of type "
                         "VirtualNetwork")
    if rng.account_id is not None:
        raise ParamError("Specified Public IP range has already been dedicated to an account")
    if rng.domain_id is not None:
        raise ParamError("Specified Public IP range has already been dedicated to a domain")
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    taken = ctx.session.scalar(select(func.count()).select_from(PublicIpAddress).where(
        PublicIpAddress.vlan_id == rng.id, PublicIpAddress.account_id.is_not(None),
        PublicIpAddress.account_id != owner.id, PublicIpAddress.removed.is_(None)))
    if taken:
        raise ParamError("Public IP address in range is allocated to another account")
    rng.account_id, rng.domain_id = owner.id, owner.domain_id
    ctx.session.flush()
    return vlan_resp(ctx, rng)


class ReleasePublicIpRangeParams(Params):
    id: Annotated[str, Ref("VlanIpRange")] = Field(description="the id of the Public IP range")


@api_command("releasePublicIpRange", params=ReleasePublicIpRangeParams, roles=ADMIN, event="VLAN.IP.RANGE.RELEASE",
             entity="VlanIpRange", since="4.2.0", description="Releases a Public IP range back to the system pool")
def release_public_ip_range(ctx: CallContext, p: ReleasePublicIpRangeParams) -> Success:
    rng: VlanIpRange = ctx.refs["id"]
    if rng.account_id is None and rng.domain_id is None:
        raise ParamError(f"Unable to find IP range, dedicated to an account or domain, with id {rng.uuid}")
    rng.account_id = rng.domain_id = None
    ctx.session.flush()
    return Success()
