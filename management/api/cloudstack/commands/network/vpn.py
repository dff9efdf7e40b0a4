"""Site-to-site VPN (cs_vpn_gateway, cs_vpn_customer_gateway, cs_vpn_connection) and remote-access VPN with its
users (cs_vpn_user)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.vpc import check_project, owner_fields
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import Long, OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_vpc import (
    CustomerGatewayResp,
    RemoteAccessVpnResp,
    VpnConnectionResp,
    VpnGatewayResp,
    VpnUserResp,
)
from management.errors import ParamError, invalid_id
from management.models.infra import PublicIpAddress
from management.models.vpc import (
    RemoteAccessVpn,
    S2sCustomerGateway,
    S2sVpnConnection,
    S2sVpnGateway,
    Vpc,
    VpnUser,
)
from management.services import access
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate
from management.services.network import vpn as svc


def _created(ctx: CallContext, model: type, result: object) -> object:
    row = ctx.session.scalar(select(model).where(model.uuid == ctx.created_uuid))  # type: ignore[attr-defined]
    if row is None:
        raise invalid_id(ctx.created_uuid or "")
    return row


def _custom_id(ctx: CallContext, row: object, customid: str | None) -> None:
    if customid:
        if not ctx.caller.is_root_admin:
            raise ParamError("Only root admin can set a custom id")
        row.uuid = customid  # type: ignore[attr-defined]
        ctx.session.flush()


# ------------------------------------------------------------------------------------------------ VPN gateways

def gateway_resp(ctx: CallContext, gw: S2sVpnGateway) -> VpnGatewayResp:
    ip = ctx.session.get(PublicIpAddress, gw.addr_id)
    vpc = ctx.session.get(Vpc, gw.vpc_id)
    return VpnGatewayResp(id=gw.uuid, publicip=ip.public_ip_address if ip else None, vpcid=vpc.uuid if vpc else None,
                          vpcname=vpc.name if vpc else None, removed=gw.removed, fordisplay=gw.display,
                          **owner_fields(ctx, gw.account_id, gw.domain_id))


class CreateVpnGatewayParams(Params):
    vpcid: Annotated[str, Ref("Vpc")] = Field(description="public ip address id of the vpn gateway")
    ipaddressid: Annotated[str | None, Ref("PublicIpAddress")] = Field(
        None, description="the public IP address ID for which VPN gateway is being enabled. By default the source "
        "NAT IP or router IP will be used.")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpn to the end "
                                    "user or not")


def _create_gateway(ctx: CallContext, p: CreateVpnGatewayParams) -> str:
    return svc.create_gateway(ctx.session, ctx.refs["vpcid"], ctx.refs.get("ipaddressid"), p.fordisplay).uuid


@api_command("createVpnGateway", params=CreateVpnGatewayParams, is_async=True, create=_create_gateway,
             result_key="vpngateway", response=VpnGatewayResp, event="VPN.S2S.VPN.GATEWAY.CREATE",
             entity="Site2SiteVpnGateway", description="Creates site to site vpn local gateway")
def create_vpn_gateway(ctx: CallContext, p: CreateVpnGatewayParams) -> VpnGatewayResp:
    return gateway_resp(ctx, _created(ctx, S2sVpnGateway, None))  # type: ignore[arg-type]


class VpnGatewayIdParams(Params):
    id: Annotated[str, Ref("Site2SiteVpnGateway")] = Field(description="id of customer gateway")


@api_command("deleteVpnGateway", params=VpnGatewayIdParams, is_async=True, event="VPN.S2S.VPN.GATEWAY.DELETE",
             entity="Site2SiteVpnGateway", description="Delete site to site vpn gateway")
def delete_vpn_gateway(ctx: CallContext, p: VpnGatewayIdParams) -> Success:
    svc.delete_gateway(ctx.session, ctx.refs["id"])
    return Success()


class UpdateVpnGatewayParams(VpnGatewayIdParams):
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpn to the end "
                                    "user or not")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateVpnGateway", params=UpdateVpnGatewayParams, is_async=True, result_key="vpngateway",
             response=VpnGatewayResp, event="VPN.S2S.VPN.GATEWAY.UPDATE", entity="Site2SiteVpnGateway",
             since="4.4", description="Updates site to site vpn local gateway")
def update_vpn_gateway(ctx: CallContext, p: UpdateVpnGatewayParams) -> VpnGatewayResp:
    gw: S2sVpnGateway = ctx.refs["id"]
    if p.fordisplay is not None:
        gw.display = p.fordisplay
    _custom_id(ctx, gw, p.customid)
    return gateway_resp(ctx, gw)


class ListVpnGatewaysParams(OwnedListParams):
    id: Annotated[str | None, Ref("Site2SiteVpnGateway", "read")] = Field(None, description="id of the vpn gateway")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="id of vpc")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listVpnGateways", params=ListVpnGatewaysParams, result_key="vpngateway", response=VpnGatewayResp,
             description="Lists site 2 site vpn gateways")
def list_vpn_gateways(ctx: CallContext, p: ListVpnGatewaysParams) -> ListResult:
    stmt = select(S2sVpnGateway).where(S2sVpnGateway.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, S2sVpnGateway, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(S2sVpnGateway.uuid == p.id)
    if p.vpcid:
        stmt = stmt.where(S2sVpnGateway.vpc_id == ctx.refs["vpcid"].id)
    if p.fordisplay is not None:
        stmt = stmt.where(S2sVpnGateway.display.is_(p.fordisplay))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, S2sVpnGateway.id)
    return ListResult([gateway_resp(ctx, g) for g in rows], count)


# ------------------------------------------------------------------------------------------------ customer gateways

def customer_resp(ctx: CallContext, c: S2sCustomerGateway) -> CustomerGatewayResp:
    return CustomerGatewayResp(id=c.uuid, name=c.name, gateway=c.gateway_ip, ipaddress=c.gateway_ip,
                               cidrlist=c.guest_cidr_list, ipsecpsk=c.ipsec_psk, ikepolicy=c.ike_policy,
                               esppolicy=c.esp_policy, ikelifetime=c.ike_lifetime, esplifetime=c.esp_lifetime,
                               dpd=c.dpd, forceencap=c.force_encap, removed=c.removed,
                               splitconnections=c.split_connections, ikeversion=c.ike_version,
                               **owner_fields(ctx, c.account_id, c.domain_id))


class CustomerGatewayFields(Params):
    name: str | None = Field(None, description="name of this customer gateway")
    gateway: str = Field(description="public ip address id of the customer gateway")
    cidrlist: str = Field(description="guest cidr list of the customer gateway. Multiple entries must be separated "
                          "by a single comma character (,).")
    ipsecpsk: str = Field(description="IPsec Preshared-Key of the customer gateway. Cannot contain newline or "
                          "double quotes.")
    ikepolicy: str = Field(description="IKE policy of the customer gateway")
    esppolicy: str = Field(description="ESP policy of the customer gateway")
    ikelifetime: Long | None = Field(None, description="Lifetime of phase 1 VPN connection to the customer gateway, "
                                    "in seconds")
    esplifetime: Long | None = Field(None, description="Lifetime of phase 2 VPN connection to the customer gateway, "
                                    "in seconds")
    dpd: bool | None = Field(None, description="If DPD is enabled for VPN connection")
    forceencap: bool | None = Field(None, description="Force Encapsulation for NAT traversal")
    account: str | None = Field(None, description="the account associated with the gateway. Must be used with the "
                                "domainId parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="the domain ID associated with "
                                                                   "the gateway. If used with the account "
                                                                   "parameter returns the gateway associated with "
                                                                   "the account for the specified domain.")
    splitconnections: bool | None = Field(None, description="For IKEv2, whether to split multiple right subnet "
                                          "cidrs into multiple connection statements.")
    ikeversion: str | None = Field(None, description="Which IKE Version to use, one of ike (autoselect), ikev1, or "
                                   "ikev2.Connections marked with 'ike' will use 'ikev2' when initiating, but "
                                   "accept any protocol version when responding. Defaults to ike")


class CreateCustomerGatewayParams(CustomerGatewayFields):
    projectid: Uuid | None = Field(None, description="create site-to-site VPN customer gateway for the project")


def _cgw_kw(p: CustomerGatewayFields) -> dict[str, object]:
    return {"name": p.name, "gateway": p.gateway, "cidrs": p.cidrlist, "psk": p.ipsecpsk, "ike": p.ikepolicy,
            "esp": p.esppolicy, "ike_lifetime": p.ikelifetime, "esp_lifetime": p.esplifetime, "dpd": p.dpd,
            "force_encap": p.forceencap, "split": p.splitconnections, "ike_version": p.ikeversion}


def _create_customer(ctx: CallContext, p: CreateCustomerGatewayParams) -> str:
    check_project(ctx, p.projectid)
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    return svc.create_customer_gateway(ctx.session, owner, **_cgw_kw(p)).uuid  # type: ignore[arg-type]


@api_command("createVpnCustomerGateway", params=CreateCustomerGatewayParams, is_async=True, create=_create_customer,
             result_key="vpncustomergateway", response=CustomerGatewayResp, event="VPN.S2S.CUSTOMER.GATEWAY.CREATE",
             entity="Site2SiteCustomerGateway", description="Creates site to site vpn customer gateway")
def create_vpn_customer_gateway(ctx: CallContext, p: CreateCustomerGatewayParams) -> CustomerGatewayResp:
    return customer_resp(ctx, _created(ctx, S2sCustomerGateway, None))  # type: ignore[arg-type]


class UpdateCustomerGatewayParams(CustomerGatewayFields):
    id: Annotated[str, Ref("Site2SiteCustomerGateway")] = Field(description="id of customer gateway")


@api_command("updateVpnCustomerGateway", params=UpdateCustomerGatewayParams, is_async=True,
             result_key="vpncustomergateway", response=CustomerGatewayResp, event="VPN.S2S.CUSTOMER.GATEWAY.UPDATE",
             entity="Site2SiteCustomerGateway", description="Update site to site vpn customer gateway")
def update_vpn_customer_gateway(ctx: CallContext, p: UpdateCustomerGatewayParams) -> CustomerGatewayResp:
    return customer_resp(ctx, svc.update_customer_gateway(ctx.session, ctx.refs["id"], **_cgw_kw(p)))


class CustomerGatewayIdParams(Params):
    id: Annotated[str, Ref("Site2SiteCustomerGateway")] = Field(description="id of customer gateway")


@api_command("deleteVpnCustomerGateway", params=CustomerGatewayIdParams, is_async=True,
             event="VPN.S2S.CUSTOMER.GATEWAY.DELETE", entity="Site2SiteCustomerGateway",
             description="Delete site to site vpn customer gateway")
def delete_vpn_customer_gateway(ctx: CallContext, p: CustomerGatewayIdParams) -> Success:
    svc.delete_customer_gateway(ctx.session, ctx.refs["id"])
    return Success()


class ListCustomerGatewaysParams(OwnedListParams):
    id: Annotated[str | None, Ref("Site2SiteCustomerGateway", "read")] = Field(None, description="id of the customer "
                                                                               "gateway")


@api_command("listVpnCustomerGateways", params=ListCustomerGatewaysParams, result_key="vpncustomergateway",
             response=CustomerGatewayResp, description="Lists site to site vpn customer gateways")
def list_vpn_customer_gateways(ctx: CallContext, p: ListCustomerGatewaysParams) -> ListResult:
    stmt = select(S2sCustomerGateway).where(S2sCustomerGateway.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, S2sCustomerGateway, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(S2sCustomerGateway.uuid == p.id)
    stmt = keyword_filter(stmt, p.keyword, S2sCustomerGateway.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, S2sCustomerGateway.id)
    return ListResult([customer_resp(ctx, c) for c in rows], count)


# ------------------------------------------------------------------------------------------------ connections

def connection_resp(ctx: CallContext, c: S2sVpnConnection, state: str | None = None) -> VpnConnectionResp:
    gw = ctx.session.get(S2sVpnGateway, c.vpn_gateway_id)
    cgw = ctx.session.get(S2sCustomerGateway, c.customer_gateway_id)
    ip = ctx.session.get(PublicIpAddress, gw.addr_id) if gw else None
    return VpnConnectionResp(
        id=c.uuid, s2svpngatewayid=gw.uuid if gw else None, publicip=ip.public_ip_address if ip else None,
        s2scustomergatewayid=cgw.uuid if cgw else None, gateway=cgw.gateway_ip if cgw else None,
        cidrlist=cgw.guest_cidr_list if cgw else None, ipsecpsk=cgw.ipsec_psk if cgw else None,
        ikepolicy=cgw.ike_policy if cgw else None, esppolicy=cgw.esp_policy if cgw else None,
        ikelifetime=cgw.ike_lifetime if cgw else None, esplifetime=cgw.esp_lifetime if cgw else None,
        dpd=cgw.dpd if cgw else None, forceencap=cgw.force_encap if cgw else None, state=state or c.state,
        passive=c.passive, created=c.created, removed=c.removed, fordisplay=c.display,
        splitconnections=cgw.split_connections if cgw else None, ikeversion=cgw.ike_version if cgw else None,
        **owner_fields(ctx, c.account_id, c.domain_id))


class CreateVpnConnectionParams(Params):
    s2svpngatewayid: Annotated[str, Ref("Site2SiteVpnGateway")] = Field(description="id of the vpn gateway")
    s2scustomergatewayid: Annotated[str, Ref("Site2SiteCustomerGateway")] = Field(description="id of the customer "
                                                                                 "gateway")
    passive: bool = Field(False, description="connection is passive or not")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpn to the end "
                                    "user or not")


def _create_connection(ctx: CallContext, p: CreateVpnConnectionParams) -> str:
    return svc.create_connection(ctx.session, ctx.refs["s2svpngatewayid"], ctx.refs["s2scustomergatewayid"],
                                 passive=p.passive, display=p.fordisplay).uuid


@api_command("createVpnConnection", params=CreateVpnConnectionParams, is_async=True, create=_create_connection,
             result_key="vpnconnection", response=VpnConnectionResp, event="VPN.S2S.CONNECTION.CREATE",
             entity="Site2SiteVpnConnection", description="Create site to site vpn connection")
def create_vpn_connection(ctx: CallContext, p: CreateVpnConnectionParams) -> VpnConnectionResp:
    conn: S2sVpnConnection = _created(ctx, S2sVpnConnection, None)  # type: ignore[assignment]
    svc.start_connection(ctx.session, conn)
    return connection_resp(ctx, conn)


class VpnConnectionIdParams(Params):
    id: Annotated[str, Ref("Site2SiteVpnConnection")] = Field(description="id of vpn connection")


@api_command("deleteVpnConnection", params=VpnConnectionIdParams, is_async=True, event="VPN.S2S.CONNECTION.DELETE",
             entity="Site2SiteVpnConnection", description="Delete site to site vpn connection")
def delete_vpn_connection(ctx: CallContext, p: VpnConnectionIdParams) -> Success:
    svc.delete_connection(ctx.session, ctx.refs["id"])
    return Success()


class ResetVpnConnectionParams(VpnConnectionIdParams):
    account: str | None = Field(None, description="an optional account for connection. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for "
                                                                   "connection. If the account parameter is used, "
                                                                   "domainId must also be used.")


@api_command("resetVpnConnection", params=ResetVpnConnectionParams, is_async=True, result_key="vpnconnection",
             response=VpnConnectionResp, event="VPN.S2S.CONNECTION.RESET", entity="Site2SiteVpnConnection",
             description="Reset site to site vpn connection")
def reset_vpn_connection(ctx: CallContext, p: ResetVpnConnectionParams) -> VpnConnectionResp:
    return connection_resp(ctx, svc.reset_connection(ctx.session, ctx.refs["id"]))


class UpdateVpnConnectionParams(VpnConnectionIdParams):
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpn to the end "
                                    "user or not")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateVpnConnection", params=UpdateVpnConnectionParams, is_async=True, result_key="vpnconnection",
             response=VpnConnectionResp, event="VPN.S2S.CONNECTION.UPDATE", entity="Site2SiteVpnConnection",
             since="4.4", description="Updates site to site vpn connection")
def update_vpn_connection(ctx: CallContext, p: UpdateVpnConnectionParams) -> VpnConnectionResp:
    conn: S2sVpnConnection = ctx.refs["id"]
    if p.fordisplay is not None:
        conn.display = p.fordisplay
    _custom_id(ctx, conn, p.customid)
    return connection_resp(ctx, conn)


class ListVpnConnectionsParams(OwnedListParams):
    id: Annotated[str | None, Ref("Site2SiteVpnConnection", "read")] = Field(None, description="id of the vpn "
                                                                             "connection")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="id of vpc")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listVpnConnections", params=ListVpnConnectionsParams, result_key="vpnconnection",
             response=VpnConnectionResp, description="Lists site to site vpn connection gateways")
def list_vpn_connections(ctx: CallContext, p: ListVpnConnectionsParams) -> ListResult:
    stmt = select(S2sVpnConnection).where(S2sVpnConnection.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, S2sVpnConnection, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(S2sVpnConnection.uuid == p.id)
    if p.vpcid:
        stmt = stmt.where(S2sVpnConnection.vpn_gateway_id.in_(
            select(S2sVpnGateway.id).where(S2sVpnGateway.vpc_id == ctx.refs["vpcid"].id)))
    if p.fordisplay is not None:
        stmt = stmt.where(S2sVpnConnection.display.is_(p.fordisplay))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, S2sVpnConnection.id)
    live = svc.live_states(ctx.session, rows)
    return ListResult([connection_resp(ctx, c, live.get(c.id)) for c in rows], count)


# ------------------------------------------------------------------------------------------------ remote access

def remote_access_resp(ctx: CallContext, ra: RemoteAccessVpn) -> RemoteAccessVpnResp:
    ip = ctx.session.get(PublicIpAddress, ra.vpn_server_addr_id)
    return RemoteAccessVpnResp(id=ra.uuid, publicipid=ip.uuid if ip else None,
                               publicip=ip.public_ip_address if ip else None, iprange=ra.ip_range,
                               presharedkey=ra.ipsec_psk, state=ra.state, fordisplay=ra.display,
                               **owner_fields(ctx, ra.account_id, ra.domain_id))


class CreateRemoteAccessVpnParams(Params):
    publicipid: Annotated[str, Ref("PublicIpAddress")] = Field(description="public ip address id of the vpn server")
    iprange: str | None = Field(None, description="the range of ip addresses to allocate to vpn clients. The first "
                                "ip in the range will be taken by the vpn server")
    account: str | None = Field(None, description="an optional account for the VPN. Must be used with domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "VPN. If the account parameter is used, domainId "
                                                                   "must also be used.")
    openfirewall: bool = Field(True, description="if true, firewall rule for source/end public port is "
                               "automatically created; if false - firewall rule has to be created explicitly. Has "
                               "value true by default")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpn to the end "
                                    "user or not")


def _create_remote_access(ctx: CallContext, p: CreateRemoteAccessVpnParams) -> str:
    return svc.create_remote_access(ctx.session, ctx.refs["publicipid"], iprange=p.iprange,
                                    display=p.fordisplay).uuid


@api_command("createRemoteAccessVpn", params=CreateRemoteAccessVpnParams, is_async=True,
             create=_create_remote_access, result_key="remoteaccessvpn", response=RemoteAccessVpnResp,
             event="VPN.REMOTE.ACCESS.CREATE", entity="RemoteAccessVpn", description="Creates a l2tp/ipsec remote "
             "access vpn")
def create_remote_access_vpn(ctx: CallContext, p: CreateRemoteAccessVpnParams) -> RemoteAccessVpnResp:
    return remote_access_resp(ctx, _created(ctx, RemoteAccessVpn, None))  # type: ignore[arg-type]


class DeleteRemoteAccessVpnParams(Params):
    publicipid: Annotated[str, Ref("PublicIpAddress")] = Field(description="public ip address id of the vpn server")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="the ID of the account")


@api_command("deleteRemoteAccessVpn", params=DeleteRemoteAccessVpnParams, is_async=True,
             event="VPN.REMOTE.ACCESS.DESTROY", entity="RemoteAccessVpn", description="Destroys a l2tp/ipsec remote "
             "access vpn")
def delete_remote_access_vpn(ctx: CallContext, p: DeleteRemoteAccessVpnParams) -> Success:
    ip: PublicIpAddress = ctx.refs["publicipid"]
    ra = ctx.session.scalar(select(RemoteAccessVpn).where(RemoteAccessVpn.vpn_server_addr_id == ip.id,
                                                          RemoteAccessVpn.removed.is_(None)))
    if ra is not None:
        svc.delete_remote_access(ctx.session, ra)
    return Success()


class UpdateRemoteAccessVpnParams(Params):
    id: Annotated[str, Ref("RemoteAccessVpn")] = Field(description="id of the remote access vpn")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="the ID of the account")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the vpn to the end "
                                    "user or not")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateRemoteAccessVpn", params=UpdateRemoteAccessVpnParams, is_async=True,
             result_key="remoteaccessvpn", response=RemoteAccessVpnResp, event="VPN.REMOTE.ACCESS.UPDATE",
             entity="RemoteAccessVpn", since="4.4", description="Updates remote access vpn")
def update_remote_access_vpn(ctx: CallContext, p: UpdateRemoteAccessVpnParams) -> RemoteAccessVpnResp:
    ra: RemoteAccessVpn = ctx.refs["id"]
    if p.fordisplay is not None:
        ra.display = p.fordisplay
    _custom_id(ctx, ra, p.customid)
    return remote_access_resp(ctx, ra)


class ListRemoteAccessVpnsParams(OwnedListParams):
    publicipid: Annotated[str | None, Ref("PublicIpAddress", "read")] = Field(None, description="public ip address "
                                                                              "id of the vpn server")
    id: Annotated[str | None, Ref("RemoteAccessVpn", "read")] = Field(None, description="Lists remote access vpn "
                                                                      "rule with the specified ID")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list remote access VPNs for "
                                                                     "certain network")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listRemoteAccessVpns", params=ListRemoteAccessVpnsParams, result_key="remoteaccessvpn",
             response=RemoteAccessVpnResp, description="Lists remote access vpns")
def list_remote_access_vpns(ctx: CallContext, p: ListRemoteAccessVpnsParams) -> ListResult:
    stmt = select(RemoteAccessVpn).where(RemoteAccessVpn.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, RemoteAccessVpn, ctx.caller, account=p.account,
                               domainid=p.domainid, isrecursive=p.isrecursive, listall=p.listall)
    if p.publicipid:
        stmt = stmt.where(RemoteAccessVpn.vpn_server_addr_id == ctx.refs["publicipid"].id)
    if p.id:
        stmt = stmt.where(RemoteAccessVpn.uuid == p.id)
    if p.networkid:
        stmt = stmt.where(RemoteAccessVpn.network_id == ctx.refs["networkid"].id)
    if p.fordisplay is not None:
        stmt = stmt.where(RemoteAccessVpn.display.is_(p.fordisplay))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, RemoteAccessVpn.id)
    return ListResult([remote_access_resp(ctx, r) for r in rows], count)


# ------------------------------------------------------------------------------------------------ VPN users

def user_resp(ctx: CallContext, u: VpnUser) -> VpnUserResp:
    return VpnUserResp(id=u.uuid, username=u.username, state=u.state, **owner_fields(ctx, u.account_id, u.domain_id))


class AddVpnUserParams(Params):
    username: str = Field(description="username for the vpn user")
    password: str = Field(description="password for the username")
    account: str | None = Field(None, description="an optional account for the vpn user. Must be used with "
                                "domainId.")
    projectid: Uuid | None = Field(None, description="add vpn user to the specific project")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "vpn user. If the account parameter is used, "
                                                                   "domainId must also be used.")


def _add_user(ctx: CallContext, p: AddVpnUserParams) -> str:
    check_project(ctx, p.projectid)
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    return svc.add_user(ctx.session, owner, p.username, p.password).uuid


@api_command("addVpnUser", params=AddVpnUserParams, is_async=True, create=_add_user, result_key="vpnuser",
             response=VpnUserResp, event="VPN.USER.ADD", entity="VpnUser", description="Adds vpn users")
def add_vpn_user(ctx: CallContext, p: AddVpnUserParams) -> VpnUserResp:
    return user_resp(ctx, _created(ctx, VpnUser, None))  # type: ignore[arg-type]


class RemoveVpnUserParams(Params):
    username: str = Field(description="username for the vpn user")
    account: str | None = Field(None, description="an optional account for the vpn user. Must be used with "
                                "domainId.")
    projectid: Uuid | None = Field(None, description="remove vpn user from the project")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="an optional domainId for the "
                                                                   "vpn user. If the account parameter is used, "
                                                                   "domainId must also be used.")


@api_command("removeVpnUser", params=RemoveVpnUserParams, is_async=True, event="VPN.USER.REMOVE", entity="VpnUser",
             description="Removes vpn user")
def remove_vpn_user(ctx: CallContext, p: RemoveVpnUserParams) -> Success:
    check_project(ctx, p.projectid)
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    svc.remove_user(ctx.session, owner, p.username)
    return Success()


class ListVpnUsersParams(OwnedListParams):
    id: Annotated[str | None, Ref("VpnUser", "read")] = Field(None, description="The uuid of the Vpn user")
    username: str | None = Field(None, description="The username of the vpn user.")


@api_command("listVpnUsers", params=ListVpnUsersParams, result_key="vpnuser", response=VpnUserResp,
             description="Lists vpn users")
def list_vpn_users(ctx: CallContext, p: ListVpnUsersParams) -> ListResult:
    stmt = select(VpnUser).where(VpnUser.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, VpnUser, ctx.caller, account=p.account, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=p.listall)
    if p.id:
        stmt = stmt.where(VpnUser.uuid == p.id)
    if p.username:
        stmt = stmt.where(VpnUser.username == p.username)
    stmt = keyword_filter(stmt, p.keyword, VpnUser.username)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, VpnUser.id)
    return ListResult([user_resp(ctx, u) for u in rows], count)
