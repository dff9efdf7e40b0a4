"""Public and direct IP ranges: createVlanIpRange (response key `vlan`), listVlanIpRanges (`vlaniprange`),
deleteVlanIpRange. A range creates one PublicIpAddress row per address."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_infra import VlanIpRangeResp
from management.errors import ParamError, invalid_id
from management.models.identity import Account, Domain
from management.models.infra import PhysicalNetwork, Pod, VlanIpRange, Zone
from management.models.network import Network
from management.services import access
from management.services.context import CallContext
from management.services.infra import infra
from management.services.listing import paginate
from management.services.network import vlan_ranges

access.register_entity("VlanIpRange", VlanIpRange, "public")


def vlan_resp(ctx: CallContext, v: VlanIpRange) -> VlanIpRangeResp:
    s = ctx.session
    z = s.get_one(Zone, v.zone_id)
    pod = s.get(Pod, v.pod_id) if v.pod_id else None
    pn = s.get(PhysicalNetwork, v.physical_network_id) if v.physical_network_id else None
    net = s.get(Network, v.network_id) if v.network_id else None
    acct = s.get(Account, v.account_id) if v.account_id else None
    dom = s.get(Domain, v.domain_id) if v.domain_id else None
    cidr = None
    if v.gateway and v.netmask:
        import ipaddress

        cidr = str(ipaddress.IPv4Network(f"{v.gateway}/{v.netmask}", strict=False))
    return VlanIpRangeResp(id=v.uuid, forvirtualnetwork=v.vlan_type == "VirtualNetwork", zoneid=z.uuid,
                           vlan=v.vlan_tag, account=acct.name if acct else None, domainid=dom.uuid if dom else None,
                           domain=dom.name if dom else None, podid=pod.uuid if pod else None,
                           podname=pod.name if pod else None, gateway=v.gateway, netmask=v.netmask, cidr=cidr,
                           description=f"{v.start_ip}-{v.end_ip}", startip=v.start_ip, endip=v.end_ip,
                           networkid=net.uuid if net else None, physicalnetworkid=pn.uuid if pn else None,
                           forsystemvms=v.for_system_vms, ip6gateway=v.ip6_gateway, ip6cidr=v.ip6_cidr,
                           startipv6=v.ip6_range.split("-")[0] if v.ip6_range else None,
                           endipv6=v.ip6_range.split("-")[-1] if v.ip6_range else None)


class CreateVlanIpRangeParams(Params):
    zoneid: Annotated[str | None, Ref("Zone")] = Field(None, description="the Zone ID of the VLAN IP range")
    podid: Annotated[str | None, Ref("Pod")] = Field(None, description="optional parameter. Have to be specified "
                                                     "for Direct Untagged vlan only.")
    vlan: str | None = Field(None, description="the ID or VID of the VLAN. If not specified, will be defaulted to "
                             "the vlan of the network or if vlan of the network is null - to Untagged")
    gateway: str | None = Field(None, description="the gateway of the VLAN IP range")
    netmask: str | None = Field(None, description="the netmask of the VLAN IP range")
    startip: str | None = Field(None, description="the beginning IP address in the VLAN IP range")
    endip: str | None = Field(None, description="the ending IP address in the VLAN IP range")
    forvirtualnetwork: bool | None = Field(None, description="true if VLAN is of Virtual type, false if Direct")
    networkid: Uuid | None = Field(None, description="the network id")
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork")] = Field(None, description="the physical "
                                                                             "network id")
    account: str | None = Field(None, description="account who will own the VLAN. If VLAN is Zone wide, this "
                                "parameter should be omitted")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain ID of the account "
                                                                   "owning a VLAN")
    projectid: Uuid | None = Field(None, description="project who will own the VLAN.")
    forsystemvms: bool | None = Field(None, description="true if IP range is set to system vms, false if not")
    startipv6: str | None = Field(None, description="the beginning IPv6 address in the IPv6 network range")
    endipv6: str | None = Field(None, description="the ending IPv6 address in the IPv6 network range")
    ip6gateway: str | None = Field(None, description="the gateway of the IPv6 network (an IPv6-only call adds it "
                                   "to the VLAN's IPv4 range)")
    ip6cidr: str | None = Field(None, description="the CIDR of the IPv6 network, /64 or shorter")
    provider: str | None = Field(None, description="provider of the range (NSX; none here)")


@api_command("createVlanIpRange", params=CreateVlanIpRangeParams, result_key="vlan", response=VlanIpRangeResp,
             roles=ADMIN, event="VLAN.IP.RANGE.CREATE", entity="VlanIpRange",
             description="Creates a VLAN IP range.")
def create_vlan_ip_range(ctx: CallContext, p: CreateVlanIpRangeParams) -> VlanIpRangeResp:
    network = None
    if p.networkid:
        network = ctx.session.scalar(select(Network).where(Network.uuid == p.networkid, Network.removed.is_(None)))
        if network is None:
            raise invalid_id(p.networkid)
    zone = ctx.refs.get("zoneid")
    if zone is None:
        if network is not None:
            zone = ctx.session.get_one(Zone, network.zone_id)
        elif ctx.refs.get("podid") is not None:
            zone = ctx.refs["podid"].zone
        else:
            raise ParamError("Unable to execute API command createvlaniprange due to missing parameter zoneid")
    if p.provider:
        raise ParamError(f"Provider {p.provider} is not enabled in zone {zone.name}")
    ipv6 = dict(gateway6=p.ip6gateway, cidr6=p.ip6cidr, start6=p.startipv6, end6=p.endipv6)
    if not p.startip and (p.ip6gateway or p.ip6cidr):
        tag = infra.vlan_tag(p.vlan)
        rng = ctx.session.scalar(select(VlanIpRange).where(
            VlanIpRange.zone_id == zone.id, VlanIpRange.removed.is_(None), VlanIpRange.vlan_tag.in_((tag, tag.removeprefix("vlan://"))),
            VlanIpRange.network_id == (network.id if network else None)).order_by(VlanIpRange.id).limit(1))
        if rng is None:
            raise ParamError(f"There is no IPv4 range of VLAN {tag} in zone {zone.name} to add the IPv6 range to")
        return vlan_resp(ctx, vlan_ranges.add_ipv6(ctx.session, rng, **ipv6))
    if not p.startip:
        raise ParamError("Unable to execute API command createvlaniprange due to missing parameter startip")
    account_id = domain_id = None
    if p.account or p.domainid or p.projectid:
        acct = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
        account_id, domain_id = acct.id, acct.domain_id
    row = infra.create_vlan_range(ctx.session, zone=zone, pod=ctx.refs.get("podid"),
                                  pn=ctx.refs.get("physicalnetworkid"), network=network, vlan=p.vlan,
                                  gateway=p.gateway, netmask=p.netmask, startip=p.startip, endip=p.endip,
                                  forvirtualnetwork=p.forvirtualnetwork, account_id=account_id, domain_id=domain_id)
    if p.ip6gateway or p.ip6cidr:
        vlan_ranges.add_ipv6(ctx.session, row, **ipv6)
    return vlan_resp(ctx, row)


class ListVlanIpRangesParams(ListParams):
    id: Annotated[str | None, Ref("VlanIpRange", "read")] = Field(None, description="the ID of the VLAN IP range")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the Zone ID of the VLAN IP range")
    podid: Annotated[str | None, Ref("Pod", "read")] = Field(None, description="the Pod ID of the VLAN IP range")
    vlan: str | None = Field(None, description="the ID or VID of the VLAN. Default is an \"untagged\" VLAN.")
    networkid: Uuid | None = Field(None, description="network id of the VLAN IP range")
    physicalnetworkid: Annotated[str | None, Ref("PhysicalNetwork", "read")] = Field(None, description="physical "
                                                                                     "network id of the VLAN IP "
                                                                                     "range")
    forvirtualnetwork: bool | None = Field(None, description="true if VLAN is of Virtual type, false if Direct")
    account: str | None = Field(None, description="the account with which the VLAN IP range is associated. Must be "
                                "used with the domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the domain ID with which the "
                                                                   "VLAN IP range is associated.")
    projectid: Uuid | None = Field(None, description="project who will own the VLAN")


@api_command("listVlanIpRanges", params=ListVlanIpRangesParams, result_key="vlaniprange", response=VlanIpRangeResp,
             roles=ADMIN, description="Lists all VLAN IP ranges.")
def list_vlan_ip_ranges(ctx: CallContext, p: ListVlanIpRangesParams) -> ListResult:
    stmt = select(VlanIpRange).where(VlanIpRange.removed.is_(None))
    if p.id:
        stmt = stmt.where(VlanIpRange.uuid == p.id)
    if p.zoneid:
        stmt = stmt.where(VlanIpRange.zone_id == ctx.refs["zoneid"].id)
    if p.podid:
        stmt = stmt.where(VlanIpRange.pod_id == ctx.refs["podid"].id)
    if p.vlan:
        tag = p.vlan if p.vlan.startswith("vlan://") else f"vlan://{p.vlan}"
        stmt = stmt.where(VlanIpRange.vlan_tag == tag)
    if p.networkid:
        stmt = stmt.where(VlanIpRange.network_id.in_(select(Network.id).where(Network.uuid == p.networkid)))
    if p.physicalnetworkid:
        stmt = stmt.where(VlanIpRange.physical_network_id == ctx.refs["physicalnetworkid"].id)
    if p.forvirtualnetwork is not None:
        stmt = stmt.where(VlanIpRange.vlan_type == ("VirtualNetwork" if p.forvirtualnetwork else "DirectAttached"))
    if p.domainid:
        stmt = stmt.where(VlanIpRange.domain_id == ctx.refs["domainid"].id)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VlanIpRange.id)
    return ListResult([vlan_resp(ctx, r) for r in rows], count)


class DeleteVlanIpRangeParams(Params):
    id: Annotated[str, Ref("VlanIpRange")] = Field(description="the id of the VLAN IP range")


@api_command("deleteVlanIpRange", params=DeleteVlanIpRangeParams, roles=ADMIN, event="VLAN.IP.RANGE.DELETE",
             entity="VlanIpRange", description="Deletes a VLAN IP range.")
def delete_vlan_ip_range(ctx: CallContext, p: DeleteVlanIpRangeParams) -> Success:
    infra.delete_vlan_range(ctx.session, ctx.refs["id"])
    return Success()
