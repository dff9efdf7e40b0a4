"""Port forwarding rules (cs_portforward, libcloud's ex_create_port_forwarding_rule)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import Params, Ref, TaggedListParams, api_command
from management.api.cloudstack.schemas_rules import PortForwardingRuleResp
from management.errors import invalid_id
from management.models.compute import VirtualMachine
from management.models.infra import PublicIpAddress
from management.models.network import Network
from management.models.rules import NetworkRule
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate
from management.services.network import firewall as fwsvc
from management.services.network import portforwarding as svc

access.register_entity("PortForwardingRule", NetworkRule, "owned")


def pf_resp(ctx: CallContext, r: NetworkRule) -> PortForwardingRuleResp:
    s = ctx.session
    ip = s.get_one(PublicIpAddress, r.ip_address_id)
    vm = s.get(VirtualMachine, r.vm_id) if r.vm_id else None
    net = s.get(Network, r.network_id)
    return PortForwardingRuleResp(
        id=r.uuid, privateport=str(r.dest_start_port), privateendport=str(r.dest_end_port or r.dest_start_port),
        publicport=str(r.start_port), publicendport=str(r.end_port or r.start_port), protocol=r.protocol,
        virtualmachineid=vm.uuid if vm else None, virtualmachinename=vm.name if vm else None,
        virtualmachinedisplayname=(vm.display_name or vm.name) if vm else None, vmguestip=r.dest_ip,
        ipaddressid=ip.uuid, ipaddress=ip.public_ip_address, networkid=net.uuid if net else None, state=r.state,
        cidrlist=r.source_cidrs or "", fordisplay=r.for_display)


def _rule(ctx: CallContext, r: NetworkRule | None, uuid: str) -> NetworkRule:
    if r is None or r.purpose != "PortForwarding" or r.removed is not None:
        raise invalid_id(uuid)
    return r


class CreatePfParams(Params):
    ipaddressid: Annotated[str, Ref("PublicIpAddress")] = Field(description="the IP address id of the port "
                                                                "forwarding rule")
    privateport: int = Field(description="the starting port of port forwarding rule's private port range")
    privateendport: int | None = Field(None, description="the ending port of port forwarding rule's private port "
                                       "range")
    publicport: int = Field(description="the starting port of port forwarding rule's public port range")
    publicendport: int | None = Field(None, description="the ending port of port forwarding rule's private port "
                                      "range")
    protocol: str = Field(description="the protocol for the port forwarding rule. Valid values are TCP or UDP.")
    virtualmachineid: Annotated[str, Ref("VirtualMachine")] = Field(description="the ID of the virtual machine for "
                                                                    "the port forwarding rule")
    vmguestip: str | None = Field(None, description="VM guest nic secondary IP address for the port forwarding rule")
    networkid: Annotated[str | None, Ref("Network")] = Field(None, description="the network of the virtual machine "
                                                             "the port forwarding rule will be created for.")
    openfirewall: bool = Field(True, description="if true, firewall rule for source/end public port is "
                               "automatically created; if false - firewall rule has to be created explicitly.")
    cidrlist: list[str] | None = Field(None, description="the source CIDR list to allow traffic from; all other "
                                       "CIDRs will be blocked.")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")


def _create(ctx: CallContext, p: CreatePfParams) -> str:
    r = svc.create(ctx.session, ctx.refs["ipaddressid"], ctx.refs["virtualmachineid"], protocol=p.protocol,
                   public_start=p.publicport, public_end=p.publicendport, private_start=p.privateport,
                   private_end=p.privateendport, open_firewall=p.openfirewall, cidrs=p.cidrlist,
                   guest_ip=p.vmguestip, network=ctx.refs.get("networkid"))
    if p.fordisplay is not None:
        r.for_display = p.fordisplay
    return r.uuid


@api_command("createPortForwardingRule", params=CreatePfParams, is_async=True, create=_create,
             result_key="portforwardingrule", response=PortForwardingRuleResp, event="NET.RULEADD",
             entity="FirewallRule", description="Creates a port forwarding rule")
def create_pf(ctx: CallContext, p: CreatePfParams) -> PortForwardingRuleResp:
    r = ctx.session.scalar(select(NetworkRule).where(NetworkRule.uuid == ctx.created_uuid))
    return pf_resp(ctx, _rule(ctx, r, ctx.created_uuid or ""))


class PfIdParams(Params):
    id: Annotated[str, Ref("PortForwardingRule")] = Field(description="the ID of the port forwarding rule")


@api_command("deletePortForwardingRule", params=PfIdParams, is_async=True, event="NET.RULEDELETE",
             entity="FirewallRule", description="Deletes a port forwarding rule")
def delete_pf(ctx: CallContext, p: PfIdParams) -> Success:
    fwsvc.revoke(ctx.session, _rule(ctx, ctx.refs["id"], p.id))
    return Success()


class UpdatePfParams(Params):
    id: Annotated[str, Ref("PortForwardingRule")] = Field(description="the ID of the port forwarding rule")
    privateport: int | None = Field(None, description="the private start port of the port forwarding rule")
    privateendport: int | None = Field(None, description="the private end port of the port forwarding rule")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine")] = Field(None, description="the ID of the "
                                                                           "virtual machine for the port forwarding "
                                                                           "rule")
    vmguestip: str | None = Field(None, description="VM guest nic Secondary ip address for the port forwarding rule")
    cidrlist: list[str] | None = Field(None, description="the source CIDR list to allow traffic from; all other "
                                       "CIDRs will be blocked")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updatePortForwardingRule", params=UpdatePfParams, is_async=True, result_key="portforwardingrule",
             response=PortForwardingRuleResp, event="NET.RULEMODIFY", entity="FirewallRule",
             description="Updates a port forwarding rule: its private ports, virtual machine and source CIDRs.")
def update_pf(ctx: CallContext, p: UpdatePfParams) -> PortForwardingRuleResp:
    r = _rule(ctx, ctx.refs["id"], p.id)
    svc.update(ctx.session, r, private_start=p.privateport, private_end=p.privateendport,
               vm=ctx.refs.get("virtualmachineid"), guest_ip=p.vmguestip, cidrs=p.cidrlist)
    if p.fordisplay is not None:
        r.for_display = p.fordisplay
    return pf_resp(ctx, r)


class ListPfParams(TaggedListParams):
    id: Annotated[str | None, Ref("PortForwardingRule", "read")] = Field(None, description="Lists rule with the "
                                                                         "specified ID.")
    ipaddressid: Annotated[str | None, Ref("PublicIpAddress", "read")] = Field(
        None, description="the ID of IP address of the port forwarding services")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list port forwarding rules "
                                                                     "for certain network")
    fordisplay: bool | None = Field(None, description="list resources by display flag")


@api_command("listPortForwardingRules", params=ListPfParams, result_key="portforwardingrule",
             response=PortForwardingRuleResp, description="Lists all port forwarding rules for an IP address.")
def list_pf(ctx: CallContext, p: ListPfParams) -> ListResult:
    stmt = select(NetworkRule).where(NetworkRule.removed.is_(None), NetworkRule.purpose == "PortForwarding")
    stmt = access.owned_filter(ctx.session, stmt, NetworkRule, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(NetworkRule.uuid == p.id)
    if p.ipaddressid:
        stmt = stmt.where(NetworkRule.ip_address_id == ctx.refs["ipaddressid"].id)
    if p.networkid:
        stmt = stmt.where(NetworkRule.network_id == ctx.refs["networkid"].id)
    if p.fordisplay is not None:
        stmt = stmt.where(NetworkRule.for_display.is_(p.fordisplay))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, NetworkRule.id)
    return ListResult([pf_resp(ctx, r) for r in rows], count)
