"""Site-to-site VPN (VPN gateways, customer gateways, connections) and remote-access VPN (on a source-NAT IP, with
the account's VPN users), as CloudStack's Site2SiteVpnManager and RemoteAccessVpnService keep them; and their
translation into the router's ``VpnSpec``.

State of a connection: ``Connecting``/``Disconnected`` (passive) once configured, ``Connected`` when the router's
charon has the IKE SA established with its CHILD SA installed (read live where the router is real; a simulator zone
reports active connections as Connected), ``Error`` when the router refused it.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import string
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import ParamError, ResourceInUse
from management.models.identity import Account
from management.models.infra import PublicIpAddress
from management.models.network import Network
from management.models.vpc import (
    RemoteAccessVpn,
    S2sCustomerGateway,
    S2sVpnConnection,
    S2sVpnGateway,
    Vpc,
    VpcOffering,
    VpnUser,
)
from management.network import vpn as ipsec
from management.network.provider import RemoteAccess, S2sConnection, VpnSpec, VpnUserCred
from management.services import access, configuration
from management.services.network import routers

IPRANGE_SETTING = "remote.access.vpn.client.iprange"
PSK_LENGTH_SETTING = "remote.access.vpn.psk.length"
USER_LIMIT_SETTING = "remote.access.vpn.user.limit"
_CIPHERS = ("3des", "aes128", "aes192", "aes256")
_HASHES = ("md5", "sha1", "sha256", "sha384", "sha512")
_GROUPS = ("modp1024", "modp1536", "modp2048", "modp3072", "modp4096", "modp6144", "modp8192")
_USERNAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9@._-]{2,63}$")
_PASSWORD = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9@#+=._-]{2,31}$")

access.register_entity("Site2SiteVpnGateway", S2sVpnGateway, "owned")
access.register_entity("Site2SiteCustomerGateway", S2sCustomerGateway, "owned")
access.register_entity("Site2SiteVpnConnection", S2sVpnConnection, "owned")
access.register_entity("RemoteAccessVpn", RemoteAccessVpn, "owned")
access.register_entity("VpnUser", VpnUser, "owned")


def _vpc_supports_vpn(session: Session, vpc: Vpc) -> bool:
    from management.services.network.vpc import services_of

    off = session.get(VpcOffering, vpc.vpc_offering_id)
    return off is not None and "Vpn" in services_of(off)


# ------------------------------------------------------------------------------------------------ gateways

def create_gateway(session: Session, vpc: Vpc, ip: PublicIpAddress | None, display: bool | None) -> S2sVpnGateway:
    if vpc.state != "Enabled" or vpc.removed is not None:
        raise ParamError(f"Unable to create VPN gateway: VPC {vpc.name} is not in Enabled state")
    if not _vpc_supports_vpn(session, vpc):
        raise ParamError(f"Vpn service is not supported in vpc {vpc.name}")
    if session.scalar(select(S2sVpnGateway.id).where(S2sVpnGateway.vpc_id == vpc.id,
                                                     S2sVpnGateway.removed.is_(None))) is not None:
        raise ParamError(f"The VPN gateway of VPC {vpc.uuid} already existed!")
    if ip is None:
        ip = session.scalar(select(PublicIpAddress).where(PublicIpAddress.vpc_id == vpc.id,
                                                          PublicIpAddress.source_nat.is_(True),
                                                          PublicIpAddress.removed.is_(None)))
        if ip is None:
            raise ParamError(f"Unable to create VPN gateway: VPC {vpc.name} has no source NAT IP")
    elif ip.vpc_id != vpc.id:
        raise ParamError(f"The IP address {ip.public_ip_address} doesn't belong to VPC {vpc.name}")
    gw = S2sVpnGateway(addr_id=ip.id, vpc_id=vpc.id, account_id=vpc.account_id, domain_id=vpc.domain_id,
                       display=True if display is None else display)
    session.add(gw)
    session.flush()
    return gw


def delete_gateway(session: Session, gw: S2sVpnGateway) -> None:
    if session.scalar(select(S2sVpnConnection.id).where(S2sVpnConnection.vpn_gateway_id == gw.id,
                                                        S2sVpnConnection.removed.is_(None)).limit(1)):
        raise ResourceInUse(f"Unable to delete VPN gateway {gw.uuid} because there is still related VPN "
                            "connections!")
    gw.removed = utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ customer gateways

def check_policy(policy: str | None, *, ike: bool) -> None:
    """CloudStack's ``cipher-hash[;group][,...]`` with its ciphers, hashes and MODP groups. An IKE policy without
    a DH group is accepted here (the router then proposes modp1536, see ``network.vpn.proposals``)."""
    what = "IKE" if ike else "ESP"
    if not policy:
        raise ParamError(f"The customer gateway {what} policy {policy} is invalid!")
    for p in policy.split(","):
        cipher_hash, _, group = p.partition(";")
        parts = cipher_hash.split("-")
        if (len(parts) != 2 or parts[0] not in _CIPHERS or parts[1] not in _HASHES
                or (group and group not in _GROUPS) or (";" in p and not group)):
            raise ParamError(f"The customer gateway {what} policy {policy} is invalid!")


def _check_cgw(*, gateway: str, cidrs: str, psk: str, ike: str, esp: str, ike_lifetime: int | None,
               esp_lifetime: int | None, ike_version: str | None, split: bool | None) -> tuple[int, int, str, str]:
    try:
        ipaddress.IPv4Address(gateway)
    except ValueError:
        raise ParamError(f"The customer gateway ip {gateway} is invalid!") from None
    norm = []
    for c in cidrs.split(","):
        try:
            norm.append(str(ipaddress.IPv4Network(c.strip())))
        except ValueError:
            raise ParamError(f"The customer gateway peer cidr list {cidrs} contains an invalid cidr!") from None
    if not psk or any(ch in psk for ch in "\r\n"):
        raise ParamError("The customer gateway ipsec psk is invalid!")
    check_policy(ike, ike=True)
    check_policy(esp, ike=False)
    ike_l = 86400 if ike_lifetime is None else ike_lifetime
    esp_l = 3600 if esp_lifetime is None else esp_lifetime
    if not 0 < ike_l <= 86400:
        raise ParamError(f"The IKE lifetime {ike_l} of vpn connection is invalid!")
    if not 0 < esp_l <= 86400:
        raise ParamError(f"The ESP lifetime {esp_l} of vpn connection is invalid!")
    version = (ike_version or "ike").lower()
    if version not in ("ike", "ikev1", "ikev2"):
        raise ParamError(f"The customer gateway IKE version {ike_version} is invalid!")
    if split and version == "ikev1":
        raise ParamError("Split connections are only supported with IKEv2")
    return ike_l, esp_l, version, ",".join(norm)


def create_customer_gateway(session: Session, owner: Account, *, name: str | None, gateway: str, cidrs: str,
                            psk: str, ike: str, esp: str, ike_lifetime: int | None, esp_lifetime: int | None,
                            dpd: bool | None, force_encap: bool | None, split: bool | None,
                            ike_version: str | None) -> S2sCustomerGateway:
    ike_l, esp_l, version, norm = _check_cgw(gateway=gateway, cidrs=cidrs, psk=psk, ike=ike, esp=esp,
                                             ike_lifetime=ike_lifetime, esp_lifetime=esp_lifetime,
                                             ike_version=ike_version, split=split)
    name = name or f"VPN-{gateway}"
    if session.scalar(select(S2sCustomerGateway.id).where(S2sCustomerGateway.account_id == owner.id,
                                                          S2sCustomerGateway.name == name,
                                                          S2sCustomerGateway.removed.is_(None))):
        raise ParamError(f"The customer gateway with name {name} already existed!")
    cgw = S2sCustomerGateway(name=name, gateway_ip=gateway, guest_cidr_list=norm, ipsec_psk=psk, ike_policy=ike,
                             esp_policy=esp, ike_lifetime=ike_l, esp_lifetime=esp_l, dpd=bool(dpd),
                             force_encap=bool(force_encap), split_connections=bool(split), ike_version=version,
                             account_id=owner.id, domain_id=owner.domain_id)
    session.add(cgw)
    session.flush()
    return cgw


def connections_of_customer(session: Session, cgw: S2sCustomerGateway) -> list[S2sVpnConnection]:
    return list(session.scalars(select(S2sVpnConnection).where(S2sVpnConnection.customer_gateway_id == cgw.id,
                                                               S2sVpnConnection.removed.is_(None))))


def update_customer_gateway(session: Session, cgw: S2sCustomerGateway, **kw: object) -> S2sCustomerGateway:
    for conn in connections_of_customer(session, cgw):
        if conn.state not in ("Error", "Disconnected"):
            raise ParamError(f"Unable to update customer gateway with connections in {conn.state} state!")
    ike_l, esp_l, version, norm = _check_cgw(
        gateway=str(kw["gateway"]), cidrs=str(kw["cidrs"]), psk=str(kw["psk"]), ike=str(kw["ike"]),
        esp=str(kw["esp"]), ike_lifetime=kw.get("ike_lifetime"),  # type: ignore[arg-type]
        esp_lifetime=kw.get("esp_lifetime"), ike_version=kw.get("ike_version"),  # type: ignore[arg-type]
        split=kw.get("split"))  # type: ignore[arg-type]
    name = kw.get("name")
    if name and name != cgw.name and session.scalar(select(S2sCustomerGateway.id).where(
            S2sCustomerGateway.account_id == cgw.account_id, S2sCustomerGateway.name == name,
            S2sCustomerGateway.removed.is_(None))):
        raise ParamError(f"The customer gateway with name {name} already existed!")
    cgw.name = str(name or cgw.name)
    cgw.gateway_ip, cgw.guest_cidr_list, cgw.ipsec_psk = str(kw["gateway"]), norm, str(kw["psk"])
    cgw.ike_policy, cgw.esp_policy, cgw.ike_lifetime, cgw.esp_lifetime = str(kw["ike"]), str(kw["esp"]), ike_l, \
        esp_l
    cgw.dpd, cgw.force_encap = bool(kw.get("dpd")), bool(kw.get("force_encap"))
    cgw.split_connections, cgw.ike_version = bool(kw.get("split")), version
    session.flush()
    for conn in connections_of_customer(session, cgw):
        start_connection(session, conn)
    return cgw


def delete_customer_gateway(session: Session, cgw: S2sCustomerGateway) -> None:
    if connections_of_customer(session, cgw):
        raise ResourceInUse(f"Unable to delete VPN customer gateway with id {cgw.uuid} because there is still "
                            "related VPN connections!")
    cgw.removed = utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ connections

def create_connection(session: Session, gw: S2sVpnGateway, cgw: S2sCustomerGateway, *, passive: bool,
                      display: bool | None) -> S2sVpnConnection:
    if gw.account_id != cgw.account_id or gw.domain_id != cgw.domain_id:
        raise ParamError("VPN connection can only be established between same account's VPN gateway and customer "
                         "gateway!")
    if session.scalar(select(S2sVpnConnection.id).where(S2sVpnConnection.vpn_gateway_id == gw.id,
                                                        S2sVpnConnection.customer_gateway_id == cgw.id,
                                                        S2sVpnConnection.removed.is_(None))):
        raise ParamError(f"The vpn connection with customer gateway id {cgw.uuid} and vpn gateway id {gw.uuid} "
                         "already existed!")
    vpc = session.get_one(Vpc, gw.vpc_id)
    ip = session.get_one(PublicIpAddress, gw.addr_id)
    if ip.public_ip_address == cgw.gateway_ip:
        raise ParamError(f"The customer gateway ip {cgw.gateway_ip} is the VPN gateway's own IP")
    vpc_net = ipaddress.IPv4Network(vpc.cidr)
    for c in cgw.guest_cidr_list.split(","):
        if ipaddress.IPv4Network(c).overlaps(vpc_net):
            raise ParamError(f"The subnets of customer gateway {cgw.uuid}'s subnet {c} is overlapped with VPC cidr "
                             f"{vpc.cidr}!")
    for other in session.scalars(select(S2sVpnConnection).where(S2sVpnConnection.vpn_gateway_id == gw.id,
                                                                S2sVpnConnection.removed.is_(None))):
        theirs = session.get_one(S2sCustomerGateway, other.customer_gateway_id)
        for a in theirs.guest_cidr_list.split(","):
            for b in cgw.guest_cidr_list.split(","):
                if ipaddress.IPv4Network(a).overlaps(ipaddress.IPv4Network(b)):
                    raise ParamError(f"The subnets of customer gateway {cgw.uuid}'s subnet {b} is overlapped with "
                                     f"customer gateway {theirs.uuid}'s subnet {a}!")
    conn = S2sVpnConnection(vpn_gateway_id=gw.id, customer_gateway_id=cgw.id, state="Pending", passive=passive,
                            account_id=gw.account_id, domain_id=gw.domain_id,
                            display=True if display is None else display)
    session.add(conn)
    session.flush()
    return conn


def start_connection(session: Session, conn: S2sVpnConnection) -> None:
    """Configures the router; an active connection is initiated and its state read back."""
    gw = session.get_one(S2sVpnGateway, conn.vpn_gateway_id)
    conn.state = "Pending"
    session.flush()
    try:
        routers.vpc_changed(session, gw.vpc_id)
    except Exception:
        conn.state = "Error"
        session.flush()
        raise
    impl = _live_router(session, gw.vpc_id)
    if impl is not None:
        if not conn.passive:
            impl.vpn_initiate(session, gw.vpc_id, conn_name(conn))
        refresh_states(session, [conn])
        if conn.state == "Pending":
            conn.state = "Disconnected" if conn.passive else "Connecting"
    else:  # records only (simulator): what CloudStack's simulator router reports
        conn.state = "Disconnected" if conn.passive else "Connected"
    session.flush()


def _live_router(session: Session, vpc_id: int) -> Any:
    """The router implementer when the VPC's router is real (it then answers vpn_* calls), else None."""
    impl: Any = routers.current()
    if impl is not None and hasattr(impl, "vpc_routed") and impl.vpc_routed(session, vpc_id):
        return impl
    return None


def conn_name(conn: S2sVpnConnection) -> str:
    return f"s2s{conn.id}"


def live_states(session: Session, conns: list[S2sVpnConnection]) -> dict[int, str]:
    """Connection id -> its state as the router's charon has it now, for connections whose router is real; a read
    only (listVpnConnections answers it without writing: a list never waits for the database's writers)."""
    reader = getattr(routers.current(), "vpn_states", None)
    found: dict[int, str] = {}
    if reader is None:
        return found
    by_vpc: dict[int, dict[str, str] | None] = {}
    for conn in conns:
        if conn.state == "Error":
            continue
        gw = session.get(S2sVpnGateway, conn.vpn_gateway_id)
        if gw is None:
            continue
        if gw.vpc_id not in by_vpc:
            by_vpc[gw.vpc_id] = reader(session, gw.vpc_id)
        states = by_vpc[gw.vpc_id]
        if states is None:  # records only
            continue
        if states.get(conn_name(conn)) == "Connected":
            found[conn.id] = "Connected"
        elif conn.state == "Connected":
            found[conn.id] = "Disconnected"
    return found


def refresh_states(session: Session, conns: list[S2sVpnConnection]) -> None:
    """Records the live state of connections whose router is real (after a job changed them)."""
    for conn_id, state in live_states(session, conns).items():
        next(c for c in conns if c.id == conn_id).state = state


def reset_connection(session: Session, conn: S2sVpnConnection) -> S2sVpnConnection:
    gw = session.get_one(S2sVpnGateway, conn.vpn_gateway_id)
    impl = _live_router(session, gw.vpc_id)
    if impl is not None:
        impl.vpn_reset(session, gw.vpc_id, conn_name(conn), initiate=not conn.passive)
        conn.state = "Disconnected" if conn.passive else "Connecting"
        refresh_states(session, [conn])
    else:
        conn.state = "Disconnected" if conn.passive else "Connected"
    session.flush()
    return conn


def delete_connection(session: Session, conn: S2sVpnConnection) -> None:
    gw = session.get_one(S2sVpnGateway, conn.vpn_gateway_id)
    conn.state, conn.removed = "Removed", utcnow()
    session.flush()
    routers.vpc_changed(session, gw.vpc_id)


def remove_vpc(session: Session, vpc: Vpc) -> None:
    """deleteVPC: its VPN connections, VPN gateway and remote-access VPN go with it."""
    for gw in session.scalars(select(S2sVpnGateway).where(S2sVpnGateway.vpc_id == vpc.id,
                                                          S2sVpnGateway.removed.is_(None))):
        for conn in session.scalars(select(S2sVpnConnection).where(S2sVpnConnection.vpn_gateway_id == gw.id,
                                                                   S2sVpnConnection.removed.is_(None))):
            conn.state, conn.removed = "Removed", utcnow()
        gw.removed = utcnow()
    for ra in session.scalars(select(RemoteAccessVpn).where(RemoteAccessVpn.vpc_id == vpc.id,
                                                            RemoteAccessVpn.removed.is_(None))):
        ra.state, ra.removed = "Removed", utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ remote access

def _pool(iprange: str) -> tuple[str, str]:
    lo, _, hi = iprange.partition("-")
    try:
        a, b = ipaddress.IPv4Address(lo.strip()), ipaddress.IPv4Address((hi or lo).strip())
    except ValueError:
        raise ParamError(f"Invalid ip range {iprange}") from None
    if a > b:
        raise ParamError(f"Invalid ip range {iprange}: the start is after the end")
    return str(a), str(b)


def create_remote_access(session: Session, ip: PublicIpAddress, *, iprange: str | None,
                         display: bool | None) -> RemoteAccessVpn:
    if ip.state not in ("Allocated", "Allocating"):
        raise ParamError(f"The IP address {ip.public_ip_address} is not associated")
    if session.scalar(select(RemoteAccessVpn.id).where(RemoteAccessVpn.vpn_server_addr_id == ip.id,
                                                       RemoteAccessVpn.removed.is_(None))):
        raise ParamError("A Remote Access VPN already exists for this public Ip address")
    if not ip.source_nat:
        raise ParamError(f"Vpn service can only be enabled on the source NAT IP address; "
                         f"{ip.public_ip_address} is not one")
    vpc = session.get(Vpc, ip.vpc_id) if ip.vpc_id else None
    net = session.get(Network, ip.network_id) if ip.network_id and vpc is None else None
    if vpc is None and net is None:
        raise ParamError(f"The IP address {ip.public_ip_address} is not associated with a network or a VPC")
    if vpc is not None and not _vpc_supports_vpn(session, vpc):
        raise ParamError(f"Vpn service is not supported in vpc {vpc.name}")
    rng = iprange or configuration.get(session, IPRANGE_SETTING, "10.1.2.1-10.1.2.8") or "10.1.2.1-10.1.2.8"
    lo, hi = _pool(rng)
    guest = ipaddress.IPv4Network(vpc.cidr if vpc else (net.cidr if net and net.cidr else "10.1.1.0/24"))
    for n in ipaddress.summarize_address_range(ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi)):
        if n.overlaps(guest):
            raise ParamError(f"Invalid ip range: {rng} overlaps with guest ip range {guest}")
    length = int(configuration.get(session, PSK_LENGTH_SETTING, "24") or "24")
    psk = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(max(8, min(length, 256))))
    local = lo  # the range's first address is the server's end (CloudStack's local_ip); clients get the others
    ra = RemoteAccessVpn(vpn_server_addr_id=ip.id, network_id=net.id if net else None,
                         vpc_id=vpc.id if vpc else None, local_ip=local, ip_range=f"{lo}-{hi}", ipsec_psk=psk,
                         state="Added", account_id=ip.account_id or (vpc or net).account_id,  # type: ignore[union-attr]
                         domain_id=ip.domain_id or (vpc or net).domain_id,  # type: ignore[union-attr]
                         display=True if display is None else display)
    session.add(ra)
    session.flush()
    _apply_remote_access(session, ra)
    ra.state = "Running"
    session.flush()
    return ra


def _apply_remote_access(session: Session, ra: RemoteAccessVpn) -> None:
    if ra.vpc_id is not None:
        routers.vpc_changed(session, ra.vpc_id)
    elif ra.network_id is not None:
        routers.network_changed(session, ra.network_id)


def delete_remote_access(session: Session, ra: RemoteAccessVpn) -> None:
    ra.state, ra.removed = "Removed", utcnow()
    session.flush()
    _apply_remote_access(session, ra)


def users_of(session: Session, account_id: int) -> list[VpnUser]:
    return list(session.scalars(select(VpnUser).where(VpnUser.account_id == account_id, VpnUser.removed.is_(None),
                                                      VpnUser.state != "Revoke").order_by(VpnUser.id)))


def _apply_users(session: Session, account_id: int) -> None:
    for ra in session.scalars(select(RemoteAccessVpn).where(RemoteAccessVpn.account_id == account_id,
                                                            RemoteAccessVpn.removed.is_(None))):
        _apply_remote_access(session, ra)


def add_user(session: Session, owner: Account, username: str, password: str) -> VpnUser:
    if not _USERNAME.match(username or ""):
        raise ParamError("Username has to begin with an alphabet have 3-64 characters including alphabets, numbers "
                         "and the set '@.-_'")
    if not _PASSWORD.match(password or ""):
        raise ParamError("Password has to be 3-31 characters including alphabets, numbers and the set '@#+=.-_'")
    limit = int(configuration.get(session, USER_LIMIT_SETTING, "8") or "8")
    count = session.scalar(select(func.count()).select_from(VpnUser).where(VpnUser.account_id == owner.id,
                                                                           VpnUser.removed.is_(None))) or 0
    if count >= limit:
        raise ParamError(f"Cannot add more than {limit} remote access vpn users")
    if session.scalar(select(VpnUser.id).where(VpnUser.account_id == owner.id, VpnUser.username == username,
                                               VpnUser.removed.is_(None))):
        raise ParamError(f"VPN User with name {username} is already added for account {owner.name}")
    user = VpnUser(account_id=owner.id, domain_id=owner.domain_id, username=username, password=password, state="Add")
    session.add(user)
    session.flush()
    _apply_users(session, owner.id)
    user.state = "Active"
    session.flush()
    return user


def remove_user(session: Session, owner: Account, username: str) -> None:
    user = session.scalar(select(VpnUser).where(VpnUser.account_id == owner.id, VpnUser.username == username,
                                                VpnUser.removed.is_(None)))
    if user is None:
        raise ParamError(f"Could not find vpn user {username}")
    user.state, user.removed = "Revoke", utcnow()
    session.flush()
    _apply_users(session, owner.id)


# ------------------------------------------------------------------------------------------------ router specs

def s2s_for_vpc(session: Session, vpc: Vpc) -> tuple[S2sConnection, ...]:
    out: list[S2sConnection] = []
    for gw in session.scalars(select(S2sVpnGateway).where(S2sVpnGateway.vpc_id == vpc.id,
                                                          S2sVpnGateway.removed.is_(None))):
        ip = session.get(PublicIpAddress, gw.addr_id)
        if ip is None or ip.removed is not None or ip.vpc_id != vpc.id:
            continue
        for conn in session.scalars(select(S2sVpnConnection).where(S2sVpnConnection.vpn_gateway_id == gw.id,
                                                                   S2sVpnConnection.removed.is_(None))
                                    .order_by(S2sVpnConnection.id)):
            cgw = session.get_one(S2sCustomerGateway, conn.customer_gateway_id)
            out.append(S2sConnection(
                name=conn_name(conn), local_ip=ip.public_ip_address, peer_ip=cgw.gateway_ip,
                local_cidrs=(vpc.cidr,), peer_cidrs=tuple(cgw.guest_cidr_list.split(",")), psk=cgw.ipsec_psk,
                ike_proposals=ipsec.proposals(cgw.ike_policy, ike=True),
                esp_proposals=ipsec.proposals(cgw.esp_policy, ike=False),
                ike_version=cgw.ike_version if cgw.ike_version in ("ikev1", "ikev2") else "ike",  # type: ignore
                ike_lifetime=cgw.ike_lifetime, esp_lifetime=cgw.esp_lifetime, dpd=cgw.dpd, passive=conn.passive,
                force_encap=cgw.force_encap, split=cgw.split_connections))
    return tuple(out)


def remote_access_for(session: Session, *, vpc: Vpc | None = None, network: Network | None = None,
                      local_cidrs: tuple[str, ...]) -> tuple[RemoteAccess, ...]:
    stmt = select(RemoteAccessVpn).where(RemoteAccessVpn.removed.is_(None))
    stmt = stmt.where(RemoteAccessVpn.vpc_id == vpc.id) if vpc is not None else \
        stmt.where(RemoteAccessVpn.network_id == (network.id if network else -1))
    out: list[RemoteAccess] = []
    for ra in session.scalars(stmt.order_by(RemoteAccessVpn.id)):
        ip = session.get(PublicIpAddress, ra.vpn_server_addr_id)
        if ip is None or ip.state not in ("Allocated", "Allocating"):
            continue
        users = tuple(VpnUserCred(u.username, u.password) for u in users_of(session, ra.account_id))
        lo, hi = _pool(ra.ip_range)
        if lo != hi:
            lo = str(ipaddress.IPv4Address(lo) + 1)
        out.append(RemoteAccess(ip.public_ip_address, ra.ipsec_psk, (lo, hi), local_cidrs, users))
    return tuple(out)


def spec_for_vpc(session: Session, vpc: Vpc) -> VpnSpec:
    return VpnSpec(s2s=s2s_for_vpc(session, vpc),
                   remote_access=remote_access_for(session, vpc=vpc, local_cidrs=(vpc.cidr,)))


def spec_for_network(session: Session, net: Network) -> VpnSpec:
    if not net.cidr:
        return VpnSpec()
    return VpnSpec(remote_access=remote_access_for(session, network=net, local_cidrs=(net.cidr,)))
