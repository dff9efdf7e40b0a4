"""Static NAT (enableStaticNat/disableStaticNat) and its listing as IP forwarding rules (libcloud reads it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_rules import IpForwardingRuleResp
from management.models.compute import VirtualMachine
from management.models.infra import PublicIpAddress
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate
from management.services.network import staticnat as svc


class EnableStaticNatParams(Params):
    ipaddressid: Annotated[str, Ref("PublicIpAddress")] = Field(description="the public IP address ID for which "
                                                                "static NAT feature is being enabled")
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="the ID of the virtual machine for "
                                                                    "enabling static NAT feature")
    networkid: Annotated[str | None, Ref("Network")] = Field(None, description="The network of the VM the static "
                                                             "NAT will be enabled for. Required when public IP "
                                                             "address is not associated with any guest network yet "
                                                             "(VPC case)")
    vmguestip: str | None = Field(None, description="VM guest NIC secondary IP address for the port forwarding rule")


@api_command("enableStaticNat", params=EnableStaticNatParams, event="STATICNAT.ENABLE", entity="IpAddress",
             description="Enables static NAT for given IP address")
def enable_static_nat(ctx: CallContext, p: EnableStaticNatParams) -> Success:
    svc.enable(ctx.session, ctx.refs["ipaddressid"], ctx.refs["virtualmachineid"],
               network=ctx.refs.get("networkid"), guest_ip=p.vmguestip)
    return Success()


class DisableStaticNatParams(Params):
    ipaddressid: Annotated[str, Ref("PublicIpAddress")] = Field(description="the public IP address ID for which "
                                                                "static NAT feature is being disabled")


@api_command("disableStaticNat", params=DisableStaticNatParams, is_async=True, event="STATICNAT.DISABLE",
             entity="IpAddress", description="Disables static rule for given IP address")
def disable_static_nat(ctx: CallContext, p: DisableStaticNatParams) -> Success:
    svc.disable(ctx.session, ctx.refs["ipaddressid"])
    return Success()


class ListIpForwardingParams(OwnedListParams):
    id: Uuid | None = Field(None, description="Lists rule with the specified ID.")
    ipaddressid: Annotated[str | None, Ref("PublicIpAddress", "read")] = Field(
        None, description="list the rule belonging to this public IP address")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="Lists all rules applied to the specified VM.")
    fordisplay: bool | None = Field(None, description="list resources by display flag")


@api_command("listIpForwardingRules", params=ListIpForwardingParams, result_key="ipforwardingrule",
             response=IpForwardingRuleResp, description="List the IP forwarding rules")
def list_ip_forwarding_rules(ctx: CallContext, p: ListIpForwardingParams) -> ListResult:
    stmt = select(PublicIpAddress).where(PublicIpAddress.removed.is_(None), PublicIpAddress.one_to_one_nat.is_(True))
    stmt = access.owned_filter(ctx.session, stmt, PublicIpAddress, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(PublicIpAddress.uuid == p.id)
    if p.ipaddressid:
        stmt = stmt.where(PublicIpAddress.id == ctx.refs["ipaddressid"].id)
    if p.virtualmachineid:
        stmt = stmt.where(PublicIpAddress.vm_id == ctx.refs["virtualmachineid"].id)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, PublicIpAddress.id)
    out = []
    for ip in rows:
        vm = ctx.session.get(VirtualMachine, ip.vm_id) if ip.vm_id else None
        # Static NAT forwards every port. CloudStack always answers a rule's port range, and libcloud's list_nodes
        # reads startport/endport of every rule (a KeyError without them).
        out.append(IpForwardingRuleResp(id=ip.uuid, protocol="NAT", startport=1, endport=65535, ipaddressid=ip.uuid,
                                        ipaddress=ip.public_ip_address, virtualmachineid=vm.uuid if vm else None,
                                        virtualmachinename=vm.name if vm else None,
                                        virtualmachinedisplayname=(vm.display_name or vm.name) if vm else None,
                                        vmguestip=ip.vm_ip, state="Active"))
    return ListResult(out, count)
