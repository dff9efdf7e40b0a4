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
from management.models.network import Network
from management.models.rules import NetworkRule
from management.services import access
from management.services.context import CallContext
from management.services.listing import check_paging
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


def ip_forwarding_resp(ctx: CallContext, ip: PublicIpAddress, rule: NetworkRule | None) -> IpForwardingRuleResp:
    """A static NAT rule (createIpForwardingRule), or static NAT without one: every port forwarded. CloudStack
    answers a rule's port range always, and libcloud's list_nodes reads startport/endport of every rule."""
    vm = ctx.session.get(VirtualMachine, ip.vm_id) if ip.vm_id else None
    net = ctx.session.get(Network, ip.network_id) if ip.network_id else None
    start, end = (rule.start_port or 1, rule.end_port or rule.start_port or 1) if rule else (1, 65535)
    return IpForwardingRuleResp(
        id=rule.uuid if rule else ip.uuid, protocol=rule.protocol if rule else "NAT", startport=start, endport=end,
        ipaddressid=ip.uuid, ipaddress=ip.public_ip_address, virtualmachineid=vm.uuid if vm else None,
        virtualmachinename=vm.name if vm else None,
        virtualmachinedisplayname=(vm.display_name or vm.name) if vm else None, vmguestip=ip.vm_ip,
        state=rule.state if rule else "Active", privateport=str(start), privateendport=str(end),
        publicport=str(start), publicendport=str(end), networkid=net.uuid if net else None,
        cidrlist=(rule.source_cidrs or "") if rule else "", fordisplay=rule.for_display if rule else True)


@api_command("listIpForwardingRules", params=ListIpForwardingParams, result_key="ipforwardingrule",
             response=IpForwardingRuleResp, description="List the IP forwarding rules")
def list_ip_forwarding_rules(ctx: CallContext, p: ListIpForwardingParams) -> ListResult:
    stmt = select(PublicIpAddress).where(PublicIpAddress.removed.is_(None), PublicIpAddress.one_to_one_nat.is_(True))
    stmt = access.owned_filter(ctx.session, stmt, PublicIpAddress, ctx.caller, account=p.account, projectid=p.projectid,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.ipaddressid:
        stmt = stmt.where(PublicIpAddress.id == ctx.refs["ipaddressid"].id)
    if p.virtualmachineid:
        stmt = stmt.where(PublicIpAddress.vm_id == ctx.refs["virtualmachineid"].id)
    out = []
    for ip in ctx.session.scalars(stmt.order_by(PublicIpAddress.id)):
        rules = list(ctx.session.scalars(select(NetworkRule).where(
            NetworkRule.ip_address_id == ip.id, NetworkRule.purpose == "StaticNat",
            NetworkRule.removed.is_(None)).order_by(NetworkRule.id)))
        candidates: list[NetworkRule | None] = [*rules] or [None]
        for rule in candidates:
            if p.id and p.id not in ((rule.uuid if rule else None), ip.uuid):
                continue
            if p.fordisplay is not None and rule is not None and rule.for_display != p.fordisplay:
                continue
            out.append(ip_forwarding_resp(ctx, ip, rule))
    total = len(out)
    offset, limit = check_paging(ctx.session, p.page, p.pagesize)
    return ListResult(out[offset:offset + limit] if limit else out[offset:], total)
