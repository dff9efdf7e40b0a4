"""Public IP addresses: list, associate (acquire) and disassociate (release)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import Params, Ref, TaggedListParams, Uuid, api_command
from management.api.cloudstack.schemas_network import PublicIpResp
from management.api.cloudstack.tagview import tag_views
from management.errors import ParamError, invalid_id
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import PhysicalNetwork, PublicIpAddress, VlanIpRange, Zone
from management.models.network import Network
from management.models.vpc import Vpc
from management.services import access, limits, tags
from management.services.context import CallContext
from management.services.listing import paginate, tags_filter
from management.services.network import firewall as fwsvc
from management.services.network import networks as svc
from management.services.network import portable_ips
from management.services.network import vpc as vpcsvc

tags.register("PublicIpAddress", "PublicIpAddress")


def ip_resp(ctx: CallContext, ip: PublicIpAddress, tag_rows: list | None = None) -> PublicIpResp:
    s = ctx.session
    zone = s.get(Zone, ip.zone_id)
    acct = s.get(Account, ip.account_id) if ip.account_id else None
    dom = s.get(Domain, ip.domain_id) if ip.domain_id else None
    vlan = s.get(VlanIpRange, ip.vlan_id)
    net = s.get(Network, ip.network_id) if ip.network_id else None
    vm = s.get(VirtualMachine, ip.vm_id) if ip.vm_id else None
    pn = s.get(PhysicalNetwork, ip.physical_network_id) if ip.physical_network_id else None
    vpc = s.get(Vpc, ip.vpc_id) if ip.vpc_id else None
    virtual = vlan is None or vlan.vlan_type == "VirtualNetwork"
    return PublicIpResp(
        id=ip.uuid, ipaddress=ip.public_ip_address, allocated=ip.allocated, zoneid=zone.uuid if zone else "",
        zonename=zone.name if zone else None, issourcenat=ip.source_nat, account=acct.name if acct else None,
        domainid=dom.uuid if dom else None, domain=dom.name if dom else None, forvirtualnetwork=virtual,
        vlanid=vlan.uuid if vlan else None, vlanname=vlan.vlan_tag if vlan else None, isstaticnat=ip.one_to_one_nat,
        issystem=ip.is_system, virtualmachineid=vm.uuid if vm else None,
        virtualmachinename=vm.name if vm else None, vmipaddress=ip.vm_ip,
        associatednetworkid=net.uuid if net and virtual else None,
        associatednetworkname=net.name if net and virtual else None,
        networkid=net.uuid if net and not virtual else None, state=ip.state, fordisplay=ip.for_display,
        physicalnetworkid=pn.uuid if pn else None, vpcid=vpc.uuid if vpc else None,
        vpcname=vpc.name if vpc else None, isportable=ip.is_portable,
        forsystemvms=bool(vlan and vlan.for_system_vms), networkname=net.name if net else None,
        virtualmachinedisplayname=(vm.display_name or vm.name) if vm else None,
        virtualmachinetype=vm.vm_type if vm else None, domainpath=dom.path if dom else None,
        purpose="SourceNat" if ip.source_nat else ("StaticNat" if ip.one_to_one_nat else None),
        hasrules=bool(ip.one_to_one_nat or fwsvc.rules_of_ip(s, ip)),
        tags=tag_views(ctx.session, tag_rows),
    )


class ListPublicIpParams(TaggedListParams):
    id: Annotated[str | None, Ref("PublicIpAddress", "read")] = Field(None, description="lists IP address by ID")
    ipaddress: str | None = Field(None, description="lists the specified IP address")
    allocatedonly: bool = Field(True, description="limits search results to allocated public IP addresses")
    associatednetworkid: Annotated[str | None, Ref("Network", "read")] = Field(
        None, description="lists all public IP addresses associated to the network specified")
    issourcenat: bool | None = Field(None, description="list only source NAT IP addresses")
    isstaticnat: bool | None = Field(None, description="list only static NAT IP addresses")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="lists all public IP addresses by "
                                                               "zone ID")
    vlanid: Annotated[str | None, Ref("VlanIpRange", "read")] = Field(None, description="lists all public IP "
                                                                      "addresses by VLAN ID")
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(
        None, description="lists all public IP addresses by physical network ID")
    forvirtualnetwork: bool | None = Field(None, description="the virtual network for the IP address")
    forloadbalancing: bool | None = Field(None, description="list only IPs used for load balancing")
    state: str | None = Field(None, description="lists all public IP addresses by state")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="lists all public IP "
                                                                     "addresses by source network ID")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="List IPs belonging to the VPC")
    issystem: bool | None = Field(None, description="true if range is dedicated for system VMs")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")
    forsystemvms: bool | None = Field(None, description="only addresses of ranges dedicated (or not) to system VMs")
    forprovider: bool | None = Field(None, description="only addresses a network provider uses itself (none here)")
    retrieveonlyresourcecount: bool = Field(False, description="answer the count only, without the addresses")


@api_command("listPublicIpAddresses", params=ListPublicIpParams, result_key="publicipaddress",
             response=PublicIpResp, description="Lists all public IP addresses")
def list_public_ip_addresses(ctx: CallContext, p: ListPublicIpParams) -> ListResult:
    s = ctx.session
    stmt = select(PublicIpAddress).join(VlanIpRange, VlanIpRange.id == PublicIpAddress.vlan_id).where(
        PublicIpAddress.removed.is_(None))
    if p.allocatedonly or not ctx.caller.is_root_admin:
        stmt = stmt.where(PublicIpAddress.state != "Free")
    if p.state:
        stmt = stmt.where(PublicIpAddress.state.ilike(p.state))
    if not (ctx.caller.is_root_admin and not p.allocatedonly and p.account is None and p.domainid is None
            and p.projectid is None):
        stmt = access.owned_filter(s, stmt, PublicIpAddress, ctx.caller, account=p.account, domainid=p.domainid,
                                   projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(PublicIpAddress.uuid == p.id)
    if p.ipaddress:
        stmt = stmt.where(PublicIpAddress.public_ip_address == p.ipaddress)
    if p.associatednetworkid:
        stmt = stmt.where(PublicIpAddress.network_id == ctx.refs["associatednetworkid"].id)
    if p.networkid:
        stmt = stmt.where(PublicIpAddress.network_id == ctx.refs["networkid"].id)
    if p.issourcenat is not None:
        stmt = stmt.where(PublicIpAddress.source_nat.is_(p.issourcenat))
    if p.isstaticnat is not None:
        stmt = stmt.where(PublicIpAddress.one_to_one_nat.is_(p.isstaticnat))
    if p.zoneid:
        stmt = stmt.where(PublicIpAddress.zone_id == ctx.refs["zoneid"].id)
    if p.vlanid:
        stmt = stmt.where(PublicIpAddress.vlan_id == ctx.refs["vlanid"].id)
    if p.physicalnetworkid:
        stmt = stmt.where(VlanIpRange.physical_network_id == ctx.refs["physicalnetworkid"].id)
    if p.forvirtualnetwork is not None:
        stmt = stmt.where((VlanIpRange.vlan_type == "VirtualNetwork") == p.forvirtualnetwork)
    if p.issystem is not None:
        stmt = stmt.where(PublicIpAddress.is_system.is_(p.issystem))
    if p.vpcid:
        stmt = stmt.where(PublicIpAddress.vpc_id == ctx.refs["vpcid"].id)
    if p.keyword:
        stmt = stmt.where(PublicIpAddress.public_ip_address.ilike(f"%{p.keyword}%"))
    stmt = tags_filter(stmt, p.tags, "PublicIpAddress", PublicIpAddress.uuid)
    if p.forsystemvms is not None:
        stmt = stmt.where(VlanIpRange.for_system_vms.is_(p.forsystemvms))
    if p.forprovider:
        return ListResult([], 0)
    rows, count = paginate(s, stmt, p.page, p.pagesize, PublicIpAddress.id)
    if p.retrieveonlyresourcecount:
        return ListResult([], count)
    by_uuid = tags.tags_of(s, "PublicIpAddress", [r.uuid for r in rows])
    return ListResult([ip_resp(ctx, r, by_uuid.get(r.uuid)) for r in rows], count)


class AssociateIpParams(Params):
    networkid: Annotated[str | None, Ref("Network")] = Field(None, description="The network this IP address should "
                                                             "be associated to.")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the ID of the availability zone "
                                                               "you want to acquire an public IP address from")
    ipaddress: str | None = Field(None, description="IP Address to be associated")
    vpcid: Annotated[str | None, Ref("Vpc")] = Field(None, description="the VPC you want the IP address to be "
                                                     "associated with")
    isportable: bool = Field(False, description="should be set to true if public IP is required to be transferable "
                             "across zones, if not specified defaults to false")
    regionid: int | None = Field(None, description="region ID from where portable IP is to be associated.")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the IP to the end "
                                    "user or not")
    account: str | None = Field(None, description="the account to associate with this IP address")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the ID of the domain to "
                                                                   "associate with this IP address")
    projectid: Uuid | None = Field(None, description="Deploy VM for the project")


def _associate_create(ctx: CallContext, p: AssociateIpParams) -> str:
    if p.vpcid:
        if p.networkid:
            raise ParamError("Either networkId or vpcId has to be specified, not both")
        ip_row = vpcsvc.associate_ip(ctx.session, ctx.refs["vpcid"], ip=p.ipaddress)
        if p.fordisplay is not None:
            ip_row.for_display = p.fordisplay
        return ip_row.uuid
    net: Network | None = ctx.refs.get("networkid")
    zone: Zone | None = ctx.refs.get("zoneid")
    if net is None and zone is None:
        raise ParamError("Either networkid or zoneid (or vpcid) has to be specified")
    if net is not None:
        if net.guest_type == "L2":
            raise ParamError("Can't associate a public IP address with an L2 network")
        zone = ctx.session.get_one(Zone, net.zone_id)
        owner = ctx.session.get_one(Account, net.account_id)
    else:
        owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
        assert zone is not None
        if zone.network_type == "Advanced":
            net = _only_isolated_network(ctx, owner, zone)
    assert zone is not None
    limits.check(ctx.session, owner, {"public_ip": 1})
    if p.isportable:
        ip = portable_ips.allocate(ctx.session, owner, p.regionid or 1, zone, net)
    else:
        ip = svc.take_public_ip(ctx.session, zone_id=zone.id, account=owner, network=net, ip=p.ipaddress,
                                state="Allocating")
    if p.fordisplay is not None:
        ip.for_display = p.fordisplay
    return ip.uuid


def _only_isolated_network(ctx: CallContext, owner: Account, zone: Zone) -> Network:
    """AssociateIPAddrCmd.getNetworkId: without networkid in an advanced zone the address goes to the owner's one
    isolated network there (VPC tiers excluded); none or several is an error."""
    stmt = select(Network).where(Network.account_id == owner.id, Network.zone_id == zone.id,
                                 Network.guest_type == "Isolated", Network.removed.is_(None))
    vpc_col = getattr(Network, "vpc_id", None)
    if vpc_col is not None:
        stmt = stmt.where(vpc_col.is_(None))
    nets = list(ctx.session.scalars(stmt.limit(2)))
    if not nets:
        domain = ctx.session.get_one(Domain, owner.domain_id)
        raise ParamError(f"Account name={owner.name} domain={domain.name} doesn't have virtual networks in "
                         f"zone={zone.name}")
    if len(nets) > 1:
        raise ParamError("Account has more than one isolated network in the zone")
    return nets[0]


@api_command("associateIpAddress", params=AssociateIpParams, is_async=True, result_key="ipaddress",
             response=PublicIpResp, event="NET.IPASSIGN", entity="IpAddress", create=_associate_create,
             description="Acquires and associates a public IP to an account.")
def associate_ip_address(ctx: CallContext, p: AssociateIpParams) -> PublicIpResp:
    ip = ctx.session.scalar(select(PublicIpAddress).where(PublicIpAddress.uuid == ctx.created_uuid))
    if ip is None:
        raise invalid_id(ctx.created_uuid or "")
    if ip.state == "Allocating":
        ip.state = "Allocated"
    ctx.session.flush()
    return ip_resp(ctx, ip)


class DisassociateIpParams(Params):
    id: Annotated[str | None, Ref("PublicIpAddress")] = Field(None, description="the ID of the public IP address to "
                                                              "disassociate. Mutually exclusive with the ipaddress "
                                                              "parameter")
    ipaddress: str | None = Field(None, description="IP Address to be disassociated. Mutually exclusive with the id "
                                  "parameter")
    accountid: Uuid | None = Field(None, description="not used: the address's owner is known")


@api_command("disassociateIpAddress", params=DisassociateIpParams, is_async=True, event="NET.IPRELEASE",
             entity="IpAddress", description="Disassociates an IP address from the account.")
def disassociate_ip_address(ctx: CallContext, p: DisassociateIpParams) -> Success:
    ip: PublicIpAddress | None = ctx.refs.get("id")
    if ip is None:
        if not p.ipaddress:
            raise ParamError("Either id or ipaddress has to be specified")
        ip = ctx.session.scalar(select(PublicIpAddress).where(PublicIpAddress.public_ip_address == p.ipaddress,
                                                              PublicIpAddress.removed.is_(None)))
        if ip is None or not access.check_row(ctx.session, ctx.caller, access.entity_policy("PublicIpAddress"), ip,
                                              "write"):
            raise ParamError(f"Unable to find IP address {p.ipaddress}")
    if ip.state == "Free":
        raise ParamError(f"IP address {ip.public_ip_address} is not associated")
    if ip.source_nat:
        raise ParamError(f"IP address {ip.public_ip_address} is a source NAT IP of its network and can't be "
                         "released")
    fwsvc.release_ip(ctx.session, ip)  # revokes its rules and static NAT, re-applies the router
    return Success()
