"""What createNetwork/updateNetwork/listNetworks and the network response carry beyond a NATed IPv4 network:
ROUTED subnets (cidrsize, upstream routes), Dynamic routing (AS number, BGP peers), DualStack IPv6, DNS and MTU
overrides, the requested source-NAT address and associated networks. The network commands mix these parameter
classes in and call the hooks below."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Select, select

from management.api.cloudstack.commands.network.routing_resp import peer_resp
from management.api.cloudstack.registry import Long, ParamInfo, Params, Ref
from management.api.cloudstack.schemas_routing import RouteResp
from management.errors import ParamError
from management.models.identity import Account
from management.models.infra import PublicIpAddress, Zone
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.models.routing import BgpPeer, GuestIpv4Subnet
from management.services import configuration, custom_id
from management.services.context import CallContext
from management.services.network import bgp, network_details, routed, routed_spec
from management.services.network import network_offerings as offerings

PUBLIC_MTU, PRIVATE_MTU = "vr.public.interface.max.mtu", "vr.private.interface.max.mtu"
MIN_MTU = 68


class NetworkCommonParams(Params):
    """Parameters createNetwork and updateNetwork share."""

    dns1: str | None = Field(None, description="the first IPv4 DNS server the network's guests use")
    dns2: str | None = Field(None, description="the second IPv4 DNS server the network's guests use")
    ip6dns1: str | None = Field(None, description="the first IPv6 DNS server the network's guests use")
    ip6dns2: str | None = Field(None, description="the second IPv6 DNS server the network's guests use")
    publicmtu: int | None = Field(None, description="MTU of the router's public interface (capped at "
                                  "vr.public.interface.max.mtu)")
    privatemtu: int | None = Field(None, description="MTU of the router's guest interface (capped at "
                                   "vr.private.interface.max.mtu)")
    sourcenatipaddress: str | None = Field(None, description="the public IP the network's source NAT uses")


class CreateNetworkModeParams(NetworkCommonParams):
    cidrsize: int | None = Field(None, description="size of the subnet a ROUTED network takes from the zone's IPv4 "
                                 "subnets (instead of gateway/netmask)")
    asnumber: Long | None = Field(None, description="AS number of a dynamically routed network")
    bgppeerids: Annotated[list[str] | None, Ref("BgpPeer", "read")] = Field(
        None, description="BGP peers of a dynamically routed network")
    ip6gateway: str | None = Field(None, description="IPv6 gateway of a shared network")
    ip6cidr: str | None = Field(None, description="IPv6 CIDR of a shared network")
    startipv6: str | None = Field(None, description="first IPv6 address of a shared network's range")
    endipv6: str | None = Field(None, description="last IPv6 address of a shared network's range")
    associatednetworkid: Annotated[str | None, Ref("Network", "read")] = Field(
        None, description="the isolated network a shared or L2 network is associated to")
    hideipaddressusage: bool | None = Field(None, description="whether the shared network's addresses are left "
                                            "out of the public IP usage")
    isolatedpvlantype: str | None = Field(None, description="private VLAN type: community, isolated, promiscuous, "
                                          "none")
    routerip: str | None = Field(None, description="IPv4 address of the shared network's router")
    routeripv6: str | None = Field(None, description="IPv6 address of the shared network's router")
    tungstenvirtualrouteruuid: str | None = Field(None, description="Tungsten-Fabric virtual router (none here)")


class UpdateNetworkModeParams(NetworkCommonParams):
    hideipaddressusage: bool | None = Field(None, description="whether the shared network's addresses are left "
                                            "out of the public IP usage")
    customid: Annotated[str | None, ParamInfo(length=255)] = Field(None, description="a new UUID for the network "
                                                                   "(root admins only)")


class ListNetworkModeParams(Params):
    associatednetworkid: Annotated[str | None, Ref("Network", "read")] = Field(
        None, description="only networks associated to this network")
    networkfilter: str | None = Field(None, description="All, Account, Domain, AccountDomain, Shared or Public")
    retrieveonlyresourcecount: bool | None = Field(None, description="only the count, no networks")
    vlan: str | None = Field(None, description="only networks with this VLAN (root admins)")


# ---- create ------------------------------------------------------------------------------------------------------

def _ip(value: str, family: int, what: str) -> str:
    try:
        ok = ipaddress.ip_address(value).version == family
    except ValueError:
        ok = False
    if not ok:
        raise ParamError(f"Invalid IPv{family} address for {what}: {value}")
    return value


def _mtu(ctx: CallContext, value: int | None, key: str, what: str) -> int | None:
    if value is None:
        return None
    if value < MIN_MTU:
        raise ParamError(f"{what} MTU cannot be less than {MIN_MTU}")
    cap = int(configuration.get(ctx.session, key) or 1500)
    return min(value, cap)


def _common(ctx: CallContext, p: NetworkCommonParams, net: Network) -> None:
    for v, fam, what in ((p.dns1, 4, "dns1"), (p.dns2, 4, "dns2"), (p.ip6dns1, 6, "ip6dns1"),
                         (p.ip6dns2, 6, "ip6dns2")):
        if v:
            _ip(v, fam, what)
    if p.ip6dns1 or p.ip6dns2:
        off = ctx.session.get_one(NetworkOffering, net.network_offering_id)
        if not routed_spec.is_dual_stack(off) and not net.ip6_cidr:
            raise ParamError("IPv6 DNS can be specified for IPv6 networks only")
    if p.dns1:
        net.dns1 = p.dns1
    if p.dns2:
        net.dns2 = p.dns2
    network_details.put(net, ip6dns1=p.ip6dns1 or network_details.get(net, "ip6dns1"),
                        ip6dns2=p.ip6dns2 or network_details.get(net, "ip6dns2"),
                        publicmtu=_mtu(ctx, p.publicmtu, PUBLIC_MTU, "Public") or network_details.get(net,
                                                                                                    "publicmtu"),
                        privatemtu=_mtu(ctx, p.privatemtu, PRIVATE_MTU, "Private") or network_details.get(
                            net, "privatemtu"))
    if p.sourcenatipaddress:
        _ip(p.sourcenatipaddress, 4, "sourcenatipaddress")
        network_details.put(net, sourcenatipaddress=p.sourcenatipaddress)


def before_create(ctx: CallContext, p: CreateNetworkModeParams, off: NetworkOffering, zone: Zone,
                  owner: Account, gateway: str | None, netmask: str | None
                  ) -> tuple[str | None, str | None, GuestIpv4Subnet | None]:
    """Checks the routed/IPv6 parameters; a ROUTED network's gateway/netmask come from its subnet."""
    peers: list[BgpPeer] = list(ctx.refs.get("bgppeerids") or [])
    if (p.ip6gateway or p.ip6cidr or p.startipv6) and off.guest_type != "Shared":
        raise ParamError("IPv6 gateway/CIDR/range can be specified for shared networks only")
    if p.tungstenvirtualrouteruuid:
        raise ParamError("Tungsten-Fabric is not enabled in zone " + zone.name)
    if p.isolatedpvlantype and p.isolatedpvlantype.lower() not in ("community", "isolated", "promiscuous", "none"):
        raise ParamError(f"Invalid isolated private VLAN type {p.isolatedpvlantype}")
    if p.associatednetworkid and off.guest_type == "Isolated":
        raise ParamError("associatednetworkid is supported for shared and L2 networks only")
    if peers:
        bgp.validate_peers(ctx.session, owner, zone.id, peers)
    return routed.prepare_network(ctx.session, ctx.caller.is_root_admin, zone, owner, off, gateway=gateway,
                                  netmask=netmask, cidr_size=p.cidrsize, as_number=p.asnumber, peers=peers)


def after_create(ctx: CallContext, p: CreateNetworkModeParams, net: Network, off: NetworkOffering,
                 subnet: GuestIpv4Subnet | None) -> None:
    s = ctx.session
    if subnet is not None:
        routed.assign(s, subnet, net)
    bgp.setup_network(s, net, off, p.asnumber, list(ctx.refs.get("bgppeerids") or []))
    if routed_spec.is_dual_stack(off):
        routed.allocate_ipv6(s, net)
    if p.ip6cidr or p.ip6gateway:
        if not (p.ip6cidr and p.ip6gateway):
            raise ParamError("ip6gateway and ip6cidr must be specified together")
        try:
            six = ipaddress.IPv6Network(p.ip6cidr, strict=False)
            if ipaddress.IPv6Address(p.ip6gateway) not in six:
                raise ValueError
        except ValueError:
            raise ParamError(f"Invalid IPv6 gateway {p.ip6gateway} for CIDR {p.ip6cidr}") from None
        if six.prefixlen > 64:
            raise ParamError("The cidr size of IPv6 network must be no more than 64 bits")
        net.ip6_cidr, net.ip6_gateway = str(six), p.ip6gateway
    assoc: Network | None = ctx.refs.get("associatednetworkid")
    network_details.put(net, associatednetworkid=assoc.id if assoc else None,
                        hideipaddressusage=p.hideipaddressusage, isolatedpvlantype=p.isolatedpvlantype,
                        routerip=_ip(p.routerip, 4, "routerip") if p.routerip else None,
                        routeripv6=_ip(p.routeripv6, 6, "routeripv6") if p.routeripv6 else None,
                        ip6range=f"{p.startipv6}-{p.endipv6 or p.startipv6}" if p.startipv6 else None)
    _common(ctx, p, net)
    s.flush()


# ---- update / delete / list --------------------------------------------------------------------------------------

def apply_update(ctx: CallContext, p: UpdateNetworkModeParams, net: Network) -> None:
    _common(ctx, p, net)
    if p.hideipaddressusage is not None:
        network_details.put(net, hideipaddressusage=p.hideipaddressusage)
    if p.publicmtu is not None or p.privatemtu is not None or p.dns1 or p.dns2:
        net.restart_required = net.state == "Implemented"
    custom_id.apply(ctx.session, ctx.caller, net, p.customid)


def on_delete(ctx: CallContext, net: Network) -> None:
    """A deleted network gives back its guest subnet, /64, AS number and BGP peer links."""
    routed.release_network(ctx.session, net)
    bgp.release_network(ctx.session, net)


def list_filter(ctx: CallContext, p: ListNetworkModeParams, stmt: Select[Any]) -> Select[Any]:
    """The extra listNetworks filters."""
    if p.networkfilter and p.networkfilter.lower() not in ("all", "account", "domain", "accountdomain", "shared",
                                                           "public"):
        raise ParamError(f"Invalid network filter {p.networkfilter}")
    if p.vlan:
        if not ctx.caller.is_root_admin:
            raise ParamError("Only root admin can filter networks by VLAN")
        stmt = stmt.where(Network.broadcast_uri == f"vlan://{p.vlan.removeprefix('vlan://')}")
    assoc: Network | None = ctx.refs.get("associatednetworkid")
    if assoc is not None:
        key = f'"associatednetworkid": {assoc.id}'
        stmt = stmt.where(Network.details_json.contains(key + ",") | Network.details_json.contains(key + "}"))
    return stmt


# ---- response ----------------------------------------------------------------------------------------------------

def resp_fields(ctx: CallContext, n: Network, off: NetworkOffering) -> dict[str, Any]:
    s = ctx.session
    d = network_details.details(n)
    out: dict[str, Any] = {
        "internetprotocol": off.internet_protocol or "IPv4", "ip6gateway": n.ip6_gateway, "ip6cidr": n.ip6_cidr,
        "ip6dns1": d.get("ip6dns1"), "ip6dns2": d.get("ip6dns2"), "publicmtu": d.get("publicmtu"),
        "privatemtu": d.get("privatemtu"),
        "supportsvmautoscaling": n.guest_type == "Isolated" and offerings.has_service(off, "Lb"),
    }
    if out["publicmtu"] is None and n.guest_type == "Isolated":
        out["publicmtu"] = out["privatemtu"] = 1500
    assoc = s.get(Network, d["associatednetworkid"]) if d.get("associatednetworkid") else None
    if assoc is not None:
        out.update(associatednetworkid=assoc.uuid, associatednetwork=assoc.name)
    snat = s.scalar(select(PublicIpAddress).where(PublicIpAddress.network_id == n.id,
                                                  PublicIpAddress.source_nat.is_(True),
                                                  PublicIpAddress.removed.is_(None)).limit(1))
    if routed_spec.is_routed(off):
        out["ip4routing"] = off.routing_mode or "Static"
        if n.cidr:
            out["ip4routes"] = [RouteResp(subnet=n.cidr, gateway=snat.public_ip_address if snat else None)]
    if n.ip6_cidr and n.guest_type == "Isolated":
        out["ip6routing"] = "Static"
        out["ip6routes"] = [RouteResp(subnet=n.ip6_cidr, gateway=routed_spec.public_ipv6_of(n))]
    if routed_spec.is_dynamic(off):
        asn = bgp.number_of(s, n)
        if asn is not None:
            out.update(asnumberid=asn.uuid, asnumber=asn.as_number)
        out["bgppeers"] = [peer_resp(ctx, b) for b in bgp.peers_of(s, n)]
    return out
