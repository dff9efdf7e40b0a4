"""VPCs (CloudStack's VpcManager): VPC offerings, the VPC lifecycle, tiers (guest networks with ``vpc_id``), public
IPs of a VPC, private gateways and static routes.

A VPC has one router (``vpc_router``): it is started with the VPC (``start=true``, the default) and holds the VPC's
source-NAT IP; every tier is a leg of it. Seams: ``routers.network_changed`` / ``routers.vpc_changed`` re-apply the
router after a change in the records, in the caller's transaction.
"""

from __future__ import annotations

import ipaddress
import json
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.errors import (
    InsufficientCapacity,
    InternalError,
    ParamError,
    ResourceInUse,
    ResourceLimitExceeded,
)
from management.models.identity import Account, Domain
from management.models.infra import PhysicalNetwork, PublicIpAddress, Zone
from management.models.network import Network
from management.models.offerings import NetworkOffering, ServiceOffering
from management.models.rules import NetworkRule
from management.models.vpc import (
    NetworkAcl,
    S2sVpnConnection,
    S2sVpnGateway,
    StaticRoute,
    Vpc,
    VpcGateway,
    VpcOffering,
)
from management.services import access, configuration
from management.services.context import Caller
from management.services.network import acl as aclsvc
from management.services.network import ipam, routers
from management.services.network import network_offerings as netoffs
from management.services.network import networks as netsvc

VPCVR, ILB = "VpcVirtualRouter", "InternalLbVm"
DEFAULT_OFFERING = "Default VPC offering"
REDUNDANT_OFFERING = "Redundant VPC offering"
SERVICES = ("Dhcp", "Dns", "SourceNat", "PortForwarding", "Lb", "UserData", "StaticNat", "NetworkACL", "Vpn",
            "Gateway")
UNSUPPORTED = ("SecurityGroup", "Firewall")
PROVIDERS = (VPCVR, ILB, "ConfigDrive")
MAX_TIERS_SETTING = "vpc.max.networks"
LIMIT_SETTING = "max.account.vpcs"


def _stock_services() -> dict[str, list[str]]:
    return {s: [VPCVR, ILB] if s == "Lb" else [VPCVR] for s in SERVICES}


# (name, redundant, is default): the stock offerings that need no hardware appliance (Netscaler, NSX, Netris ones
# are not seeded: nothing here could serve them).
STOCK = [(DEFAULT_OFFERING, False, True), (REDUNDANT_OFFERING, True, False)]


def _vpc_visible(session: Session, caller: Caller, row: Vpc, kind: str) -> bool:
    return access.can_access_owner(session, caller, row.account_id, row.domain_id)


access.register_entity("Vpc", Vpc, "owned", visible=_vpc_visible)
access.register_entity("VpcOffering", VpcOffering, "public")
access.register_entity("PrivateGateway", VpcGateway, "owned")
access.register_entity("StaticRoute", StaticRoute, "owned")


# ------------------------------------------------------------------------------------------------ offerings

def seed(session: Session) -> None:
    """Idempotent: the stock VPC offerings and the built-in ACL lists."""
    have = set(session.scalars(select(VpcOffering.unique_name).where(VpcOffering.unique_name.is_not(None))))
    for i, (name, redundant, default) in enumerate(STOCK):
        if name not in have:
            session.add(VpcOffering(name=name, unique_name=name, display_text=name, state="Enabled",
                                    is_default=default, redundant_router=redundant,
                                    services_json=json.dumps(_stock_services()), sort_key=i))
    session.flush()
    aclsvc.seed(session)


def ensure_seeded(session: Session) -> None:
    if session.scalar(select(func.count()).select_from(VpcOffering)
                      .where(VpcOffering.unique_name == DEFAULT_OFFERING)):
        return
    with session.begin_nested():
        seed(session)


def services_of(off: VpcOffering) -> dict[str, list[str]]:
    try:
        data = json.loads(off.services_json or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_services(supported: list[str] | None, provider_map: list[dict[str, str]] | None) -> dict[str, list[str]]:
    canon = {s.lower(): s for s in SERVICES + UNSUPPORTED + ("Connectivity",)}
    pcanon = {p.lower(): p for p in netoffs.PROVIDERS}
    out: dict[str, list[str]] = {}
    for raw in supported or []:
        name = canon.get(raw.strip().lower())
        if name is None:
            raise ParamError(f"Invalid service {raw}")
        if name in UNSUPPORTED:
            raise ParamError(f"Service {name} is not supported in VPC")
        out.setdefault(name, [])
    for item in provider_map or []:
        svc, prov = item.get("service"), item.get("provider")
        if not svc or not prov:
            raise ParamError("serviceproviderlist entries need a service and a provider")
        name, pname = canon.get(svc.lower()), pcanon.get(prov.lower())
        if name is None or name not in out:
            raise ParamError(f"Service {svc} is not in the list of supported services")
        if pname is None or pname not in PROVIDERS:
            raise ParamError(f"Provider {prov} is not supported for VPC")
        if pname == ILB and name != "Lb":
            raise ParamError(f"Provider {ILB} can only provide the Lb service")
        if pname not in out[name]:
            out[name].append(pname)
    for provs in out.values():
        if not provs:
            provs.append(VPCVR)
    if "SourceNat" not in out:
        raise ParamError("SourceNat service is required by the VPC offering")
    return out


def create_offering(session: Session, *, name: str, display_text: str | None, supported: list[str] | None,
                    provider_map: list[dict[str, str]] | None, service_offering: ServiceOffering | None,
                    domains: list[Domain] | None, zones: list[Zone] | None, enable: bool,
                    internet_protocol: str | None) -> VpcOffering:
    if not name:
        raise ParamError("Unable to execute API command createvpcoffering due to missing parameter name")
    if session.scalar(select(VpcOffering.id).where(VpcOffering.name == name, VpcOffering.removed.is_(None))):
        raise ParamError(f"VPC offering with name {name} already exists")
    if internet_protocol and internet_protocol.lower() not in ("ipv4",):
        raise ParamError("Configuration ipv6.offering.enabled needs to be enabled for creating IPv6 supported VPC "
                         "offering")
    if service_offering is not None and (service_offering.system_vm_type or "") != "domainrouter":
        raise ParamError(f"The specified service offering {service_offering.uuid} is not for the virtual router")
    services = parse_services(supported or list(SERVICES), provider_map)
    off = VpcOffering(name=name, unique_name=None, display_text=display_text or name,
                      state="Enabled" if enable else "Disabled", services_json=json.dumps(services),
                      service_offering_id=service_offering.id if service_offering else None,
                      internet_protocol=internet_protocol,
                      domain_ids=",".join(str(d.id) for d in domains) if domains else None,
                      zone_ids=",".join(str(z.id) for z in zones) if zones else None)
    session.add(off)
    session.flush()
    return off


def update_offering(session: Session, off: VpcOffering, *, name: str | None, display_text: str | None,
                    state: str | None, sort_key: int | None) -> VpcOffering:
    if name:
        off.name = name
    if display_text:
        off.display_text = display_text
    if state:
        if state.lower() not in ("enabled", "disabled"):
            raise ParamError(f"Incorrect state value: {state}")
        off.state = state.capitalize()
    if sort_key is not None:
        off.sort_key = sort_key
    session.flush()
    return off


def delete_offering(session: Session, off: VpcOffering) -> None:
    if off.is_default or off.unique_name in (DEFAULT_OFFERING, REDUNDANT_OFFERING):
        raise ParamError("Default network offering can't be deleted")
    used = session.scalar(select(func.count()).select_from(Vpc).where(Vpc.vpc_offering_id == off.id,
                                                                      Vpc.removed.is_(None))) or 0
    if used:
        raise ParamError(f"Can't delete vpc offering {off.uuid} as its used by {used} vpcs. To make the network "
                         "offering unavaiable, disable it")
    off.state, off.removed = "Disabled", utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ VPCs

_NAME = re.compile(r"^.{1,255}$")


def _check_vpc_cidr(cidr: str) -> ipaddress.IPv4Network:
    net = ipam.parse_cidr(cidr)
    if not net.is_private:
        raise ParamError(f"The cidr {cidr} is not RFC 1918 compliant")
    if net.prefixlen > 28:
        raise ParamError(f"The cidr {cidr} is too small for a VPC: a /28 or larger is needed")
    return net


def check_limit(session: Session, owner: Account) -> None:
    if owner.account_type == 1:  # root admins are not limited
        return
    limit = int(configuration.get(session, LIMIT_SETTING, "20") or "20")
    if limit < 0:
        return
    have = session.scalar(select(func.count()).select_from(Vpc).where(Vpc.account_id == owner.id,
                                                                      Vpc.removed.is_(None))) or 0
    if have >= limit:
        domain = session.get_one(Domain, owner.domain_id)
        raise ResourceLimitExceeded(f"Maximum number of resources of type 'vpc' for account name={owner.name} in "
                                    f"domain id={domain.uuid} has been exceeded.")


def create_vpc(session: Session, caller: Caller, owner: Account, zone: Zone, offering: VpcOffering, *, name: str,
               display_text: str | None, cidr: str | None, network_domain: str | None, start: bool,
               display: bool | None, dns1: str | None, dns2: str | None, public_mtu: int | None,
               snat_address: str | None) -> Vpc:
    if not name or not _NAME.match(name):
        raise ParamError("VPC name must be 1 to 255 characters")
    if zone.network_type == "Basic":
        raise ParamError(f"Can't create VPC in zone {zone.name}: VPCs need an Advanced zone")
    if zone.allocation_state == "Disabled" and not caller.is_root_admin:
        raise ParamError(f"Cannot perform this operation, Zone {zone.name} is currently disabled")
    if offering.removed is not None or offering.state != "Enabled":
        raise ParamError(f"Unable to create vpc as the vpc offering id={offering.uuid} is not enabled")
    if not cidr:
        raise ParamError("Unable to execute API command createvpc due to missing parameter cidr")
    net = _check_vpc_cidr(cidr)
    if network_domain and not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", network_domain):
        raise ParamError("Invalid network domain. Total length shouldn't exceed 190 chars. Each domain label must "
                         "be between 1 and 63 characters long, can contain ASCII letters 'a' through 'z', the "
                         "digits '0' through '9', and the hyphen ('-'); can't start or end with \"-\"")
    for d in (dns1, dns2):
        if d:
            ipam.check_ip(d, "dns")
    if public_mtu is not None and not 68 <= public_mtu <= 9000:
        raise ParamError(f"Invalid publicmtu {public_mtu}: it must be between 68 and 9000")
    check_limit(session, owner)
    vpc = Vpc(name=name, display_text=display_text or name, cidr=str(net), zone_id=zone.id,
              vpc_offering_id=offering.id, account_id=owner.id, domain_id=owner.domain_id, state="Enabled",
              network_domain=network_domain or zone.network_domain or "cs.internal",
              display=True if display is None else display, redundant=offering.redundant_router,
              dns1=dns1 or zone.dns1, dns2=dns2 or zone.dns2, public_mtu=public_mtu or 1500)
    session.add(vpc)
    session.flush()
    if start:
        start_vpc(session, vpc, requested_ip=snat_address)
    return vpc


def source_nat_ip(session: Session, vpc: Vpc) -> PublicIpAddress | None:
    return session.scalar(select(PublicIpAddress).where(PublicIpAddress.vpc_id == vpc.id,
                                                        PublicIpAddress.source_nat.is_(True),
                                                        PublicIpAddress.removed.is_(None)))


def start_vpc(session: Session, vpc: Vpc, *, requested_ip: str | None = None) -> None:
    """Allocates the VPC's source-NAT IP (once) and starts its router."""
    if source_nat_ip(session, vpc) is None:
        owner = session.get_one(Account, vpc.account_id)
        try:
            ip = netsvc.take_public_ip(session, zone_id=vpc.zone_id, account=owner, network=None, source_nat=True,
                                       ip=requested_ip)
        except InsufficientCapacity:
            raise InsufficientCapacity(f"Insufficient address capacity: unable to allocate a source NAT IP "
                                       f"address for VPC {vpc.name}") from None
        ip.vpc_id = vpc.id
        session.flush()
    routers.vpc_started(session, vpc.id)


def tiers(session: Session, vpc: Vpc) -> list[Network]:
    return list(session.scalars(select(Network).where(Network.vpc_id == vpc.id, Network.removed.is_(None))
                                .order_by(Network.id)))


def update_vpc(session: Session, vpc: Vpc, *, name: str | None, display_text: str | None, display: bool | None,
               public_mtu: int | None, snat_address: str | None) -> Vpc:
    if name:
        vpc.name = name
    if display_text:
        vpc.display_text = display_text
    if display is not None:
        vpc.display = display
    if public_mtu is not None:
        if not 68 <= public_mtu <= 9000:
            raise ParamError(f"Invalid publicmtu {public_mtu}: it must be between 68 and 9000")
        vpc.public_mtu = public_mtu
    if snat_address:
        new = session.scalar(select(PublicIpAddress).where(PublicIpAddress.vpc_id == vpc.id,
                                                           PublicIpAddress.public_ip_address == snat_address,
                                                           PublicIpAddress.removed.is_(None)))
        if new is None:
            raise ParamError(f"IP address {snat_address} is not associated with VPC {vpc.name}")
        if new.one_to_one_nat or session.scalar(select(NetworkRule.id).where(
                NetworkRule.ip_address_id == new.id, NetworkRule.removed.is_(None)).limit(1)):
            raise ParamError(f"IP address {snat_address} has rules and can't become the source NAT IP")
        old = source_nat_ip(session, vpc)
        if old is not None and old.id != new.id:
            old.source_nat = False
            new.source_nat = True
    session.flush()
    routers.vpc_changed(session, vpc.id)
    return vpc


def restart_vpc(session: Session, vpc: Vpc, *, cleanup: bool) -> Vpc:
    if vpc.removed is not None:
        raise ParamError(f"VPC {vpc.name} is removed")
    if source_nat_ip(session, vpc) is None:
        start_vpc(session, vpc)
    routers.vpc_restart(session, vpc.id, cleanup=cleanup)
    vpc.restart_required = False
    session.flush()
    return vpc


def delete_vpc(session: Session, vpc: Vpc) -> None:
    """deleteVPC: refused while tiers exist; removes the VPN, private gateways, static routes, the VPC's ACL lists,
    releases its public IPs and destroys its router."""
    count = len(tiers(session, vpc))
    if count:
        raise ResourceInUse(f"Can't delete VPC {vpc.name} as its used by {count} networks")
    from management.services.network import vpn

    vpn.remove_vpc(session, vpc)
    for gw in session.scalars(select(VpcGateway).where(VpcGateway.vpc_id == vpc.id, VpcGateway.removed.is_(None))):
        _remove_gateway(session, gw)
    for r in session.scalars(select(StaticRoute).where(StaticRoute.vpc_id == vpc.id, StaticRoute.removed.is_(None))):
        r.state, r.removed = "Revoke", utcnow()
    for ip in session.scalars(select(PublicIpAddress).where(PublicIpAddress.vpc_id == vpc.id,
                                                            PublicIpAddress.removed.is_(None))):
        for rule in session.scalars(select(NetworkRule).where(NetworkRule.ip_address_id == ip.id,
                                                              NetworkRule.removed.is_(None))):
            rule.state, rule.removed = "Revoke", utcnow()
        netsvc.release_public_ip(session, ip)
    routers.vpc_destroyed(session, vpc.id)
    for acl in session.scalars(select(NetworkAcl).where(NetworkAcl.vpc_id == vpc.id)):
        for item in aclsvc.items_of(session, acl):
            session.delete(item)
        session.delete(acl)
    vpc.state, vpc.removed = "Inactive", utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ tiers

def max_tiers(session: Session) -> int:
    try:
        return int(configuration.get(session, MAX_TIERS_SETTING, "3") or "3")
    except ValueError:
        return 3


def create_tier(session: Session, caller: Caller, vpc: Vpc, owner: Account, zone: Zone, offering: NetworkOffering,
                *, name: str, display_text: str | None, gateway: str | None, netmask: str | None,
                acl: NetworkAcl | None, physical_network: PhysicalNetwork | None, vlan: str | None) -> Network:
    if vpc.state != "Enabled" or vpc.removed is not None:
        raise ParamError(f"Network can't be created in VPC {vpc.name} as it's not in Enabled state")
    if vpc.zone_id != zone.id:
        raise ParamError(f"New network doesn't belong to vpc zone {zone.name}")
    if owner.id != vpc.account_id:
        raise ParamError(f"Vpc {vpc.name} owner is different from the network owner")
    if not offering.for_vpc:
        raise ParamError(f"Network offering {offering.name} can't be used for VPC networks")
    if offering.guest_type != "Isolated":
        raise ParamError("Only networks of type Isolated can be created in a VPC")
    if not gateway or not netmask:
        raise ParamError("Gateway/netmask are required when create network for VPC")
    cidr = ipam.cidr_of(gateway, netmask)
    super_cidr = ipaddress.IPv4Network(vpc.cidr)
    existing = tiers(session, vpc)
    limit = max_tiers(session)
    if len(existing) >= limit:  # a CloudRuntimeException in CloudStack: 530
        raise InternalError(f"Number of networks per VPC cannot surpass [{limit}].")
    if not cidr.subnet_of(super_cidr):
        raise ParamError(f"Network cidr {cidr} is not within vpc {vpc.name} cidr")
    for other in existing:
        if other.cidr and ipaddress.IPv4Network(other.cidr).overlaps(cidr):
            raise ParamError(f"Network cidr {cidr} crosses other network cidr {other.name} belonging to the same "
                             f"vpc {vpc.name}")
    if str(cidr.network_address) == gateway:
        raise ParamError("Invalid gateway specified. It should never be equal to the cidr subnet value")
    services = netoffs.services_of(offering)
    vpc_off = session.get_one(VpcOffering, vpc.vpc_offering_id)
    vpc_services = services_of(vpc_off)
    for svc, provs in services.items():
        if svc not in vpc_services:
            raise ParamError(f"Service {svc} is not supported by VPC {vpc.name}")
        for p in provs:
            if p not in vpc_services[svc] and p != "ConfigDrive":
                raise ParamError(f"Provider {p} for service {svc} is not supported by VPC {vpc.name}")
    if VPCVR in services.get("Lb", []):  # one public LB offering per VPC (tiers of that offering may share it)
        for other in existing:
            off = session.get(NetworkOffering, other.network_offering_id)
            if off is not None and off.id != offering.id and VPCVR in netoffs.services_of(off).get("Lb", []):
                raise ParamError(f"Public LB service is already supported by network {other.name} in VPC "
                                 f"{vpc.name}")
    if acl is not None:
        if "NetworkACL" not in services:
            raise ParamError("Cannot apply NetworkACL. Network Offering does not support NetworkACL service")
        aclsvc.check_usable(session, acl, vpc, f"Network: {name}")
    else:
        acl = aclsvc.builtin(session, aclsvc.DEFAULT_DENY) if "NetworkACL" in services else None
    net = netsvc.create_network(session, caller, owner, zone, offering, name=name, display_text=display_text,
                                gateway=gateway, netmask=netmask, vlan=vlan, physical_network=physical_network,
                                network_domain=vpc.network_domain, vpc_id=vpc.id,
                                acl_id=acl.id if acl is not None else None)
    net.dns1, net.dns2 = vpc.dns1 or net.dns1, vpc.dns2 or net.dns2
    session.flush()
    return net


# ------------------------------------------------------------------------------------------------ public IPs

def associate_ip(session: Session, vpc: Vpc, *, ip: str | None) -> PublicIpAddress:
    if vpc.state != "Enabled" or vpc.removed is not None:
        raise ParamError(f"VPC {vpc.name} is not in Enabled state")
    owner = session.get_one(Account, vpc.account_id)
    row = netsvc.take_public_ip(session, zone_id=vpc.zone_id, account=owner, network=None, ip=ip,
                                state="Allocating")
    row.vpc_id = vpc.id
    session.flush()
    return row


# ------------------------------------------------------------------------------------------------ private gateways

def create_private_gateway(session: Session, caller: Caller, vpc: Vpc, *, ip: str, gateway: str, netmask: str,
                           vlan: str | None, physical_network: PhysicalNetwork | None, source_nat: bool,
                           acl: NetworkAcl | None, associated: Network | None) -> VpcGateway:
    if vpc.state != "Enabled" or vpc.removed is not None:
        raise ParamError(f"VPC {vpc.name} is not in Enabled state")
    addr, gw = ipam.check_ip(ip, "ipaddress"), ipam.check_ip(gateway, "gateway")
    cidr = ipam.cidr_of(gateway, netmask)
    if addr not in cidr:
        raise ParamError(f"The IP address {ip} is not in the gateway's network {cidr}")
    if addr == gw:
        raise ParamError("The IP address of the private gateway can't be the gateway itself")
    if vlan is None and associated is None:
        raise ParamError("Either vlan or associatednetworkid must be specified to create a private gateway")
    if vlan is not None and not caller.is_root_admin:
        raise ParamError("Only the root admin can create a private gateway on a VLAN")
    if vlan is not None and vlan.removeprefix("vlan://").lower() != "untagged":
        try:
            if not 1 <= int(vlan.removeprefix("vlan://")) <= 4094:
                raise ValueError
        except ValueError:
            raise ParamError(f"Invalid vlan {vlan}") from None
    for other in session.scalars(select(VpcGateway).where(VpcGateway.vpc_id == vpc.id,
                                                          VpcGateway.removed.is_(None))):
        if ipaddress.IPv4Network(f"{other.gateway}/{other.netmask}", strict=False).overlaps(cidr):
            raise ParamError(f"The private gateway's network {cidr} overlaps the private gateway "
                             f"{other.ip4_address} of VPC {vpc.name}")
    if cidr.overlaps(ipaddress.IPv4Network(vpc.cidr)):
        raise ParamError(f"The private gateway's network {cidr} overlaps the VPC cidr {vpc.cidr}")
    if acl is not None:
        aclsvc.check_usable(session, acl, vpc, f"private gateway: {ip}")
    else:
        acl = aclsvc.builtin(session, aclsvc.DEFAULT_DENY)
    pn = physical_network or netsvc.guest_physical_network(session, session.get_one(Zone, vpc.zone_id))
    row = VpcGateway(ip4_address=str(addr), gateway=str(gw), netmask=str(cidr.netmask),
                     vlan_tag=(vlan or "").removeprefix("vlan://") or None, vpc_id=vpc.id, zone_id=vpc.zone_id,
                     physical_network_id=pn.id if pn else None,
                     associated_network_id=associated.id if associated else None, source_nat=source_nat,
                     network_acl_id=acl.id, account_id=vpc.account_id, domain_id=vpc.domain_id, state="Ready")
    session.add(row)
    session.flush()
    routers.vpc_changed(session, vpc.id)
    return row


def _remove_gateway(session: Session, gw: VpcGateway) -> None:
    for r in session.scalars(select(StaticRoute).where(StaticRoute.vpc_gateway_id == gw.id,
                                                       StaticRoute.removed.is_(None))):
        r.state, r.removed = "Revoke", utcnow()
    gw.state, gw.removed = "Deleting", utcnow()
    session.flush()


def delete_private_gateway(session: Session, gw: VpcGateway) -> None:
    live = session.scalar(select(func.count()).select_from(StaticRoute).where(
        StaticRoute.vpc_gateway_id == gw.id, StaticRoute.removed.is_(None))) or 0
    if live:
        raise ResourceInUse(f"Can't delete private gateway {gw.uuid} as it has {live} static routes applied. "
                            "Remove the static routes first")
    _remove_gateway(session, gw)
    routers.vpc_changed(session, gw.vpc_id)


def create_static_route(session: Session, caller: Caller, *, gateway: VpcGateway | None, vpc: Vpc | None,
                        next_hop: str | None, cidr: str) -> StaticRoute:
    if gateway is None and (vpc is None or not next_hop):
        raise ParamError("Either gatewayid or vpcid and nexthop must be specified")
    if gateway is not None:
        if gateway.state != "Ready":
            raise ParamError("Gateway is not in Ready state")
        vpc = session.get_one(Vpc, gateway.vpc_id)
    assert vpc is not None
    net = ipam.parse_cidr(cidr)
    if net.overlaps(ipaddress.IPv4Network(vpc.cidr)):
        raise ParamError(f"CIDR should be outside of VPC cidr {vpc.cidr}")
    if net.prefixlen == 0 or net.is_loopback or net.is_multicast or net.is_link_local:
        raise ParamError(f"The static gateway cidr {cidr} is invalid")
    if next_hop:
        ipam.check_ip(next_hop, "nexthop")
    for other in session.scalars(select(StaticRoute).where(StaticRoute.vpc_id == vpc.id,
                                                           StaticRoute.removed.is_(None))):
        if ipaddress.IPv4Network(other.cidr).overlaps(net):
            raise ParamError(f"Cidr {cidr} overlaps with the cidr {other.cidr} of static route {other.uuid}")
    row = StaticRoute(vpc_gateway_id=gateway.id if gateway else None, next_hop=next_hop, cidr=str(net),
                      state="Active", vpc_id=vpc.id, account_id=vpc.account_id, domain_id=vpc.domain_id)
    session.add(row)
    session.flush()
    routers.vpc_changed(session, vpc.id)
    return row


def delete_static_route(session: Session, route: StaticRoute) -> None:
    route.state, route.removed = "Revoke", utcnow()
    session.flush()
    routers.vpc_changed(session, route.vpc_id)


def connections_of(session: Session, vpc: Vpc) -> list[S2sVpnConnection]:
    gws = select(S2sVpnGateway.id).where(S2sVpnGateway.vpc_id == vpc.id, S2sVpnGateway.removed.is_(None))
    return list(session.scalars(select(S2sVpnConnection).where(S2sVpnConnection.vpn_gateway_id.in_(gws),
                                                               S2sVpnConnection.removed.is_(None))))


__all__ = ["DEFAULT_OFFERING", "associate_ip", "create_offering", "create_private_gateway", "create_static_route",
           "create_tier", "create_vpc", "delete_offering", "delete_private_gateway", "delete_static_route",
           "delete_vpc", "restart_vpc", "seed", "start_vpc", "tiers", "update_offering", "update_vpc"]
