"""Guest networks (the records): creation, the account's default isolated network, implementation (guest VLAN,
source-NAT public IP), NIC allocation with unique MACs and IPs, public IP association, deletion.

Seams other rooms call:
- ``allocate_nics(session, vm, networks, requested_ips=None) -> list[Nic]`` (default NIC first),
- ``release_nics(session, vm)``,
- ``default_network(session, account, zone) -> Network`` (advanced-zone deploy naming no network),
- ``implement(session, network)`` (Allocated → Implementing → Implemented through ``fsm.transition``).

The virtual router that really provides the services plugs in behind :class:`GuestNetworkImplementer` (see
``set_implementer``); until one is set, implementing a network is records only, which is exactly what the
simulator needs.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import ColumnElement, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from management import fsm
from management.db.base import lock_rows, utcnow
from management.db.prepared import prepared
from management.errors import (
    ConcurrentOperation,
    InsufficientCapacity,
    ParamError,
    PermissionDenied,
    ResourceAllocationError,
    ResourceInUse,
)
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import GuestVlan, PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange, Zone
from management.models.network import Network, Nic
from management.models.network_access import NetworkPermission
from management.models.offerings import NetworkOffering
from management.models.rules import NetworkRule, RouterNetwork
from management.services import access
from management.services.context import Caller
from management.services.network import guest_vlans, ip_index, ipam, network_details, quarantine, routed_spec
from management.services.network import network_offerings as offerings
from management.services.platform import usage

log = logging.getLogger(__name__)

DEFAULT_GUEST_CIDR = "10.1.1.0/24"
LIVE_STATES = ("Allocated", "Setup", "Implementing", "Implemented", "Shutdown")


# ------------------------------------------------------------------------------------------------ provider seam

@runtime_checkable
class GuestNetworkImplementer(Protocol):
    """What implements a guest network on the hypervisors (``services.network.routers.RouterImplementer``).

    ``implement`` is called in the caller's transaction once the network's VLAN and source-NAT IP are allocated
    (flushed); it raises to fail the implementation. ``shutdown`` tears it down (idempotent). ``apply`` re-applies
    the network's current records (NICs, rules, IPs) to an implemented network."""

    def implement(self, session: Session, network: Network) -> None: ...

    def shutdown(self, session: Session, network: Network) -> None: ...

    def apply(self, session: Session, network: Network) -> None: ...


_IMPLEMENTER: GuestNetworkImplementer | None = None


def set_implementer(impl: GuestNetworkImplementer | None) -> None:
    """Installs the process-wide implementer (None: records only, the simulator's behaviour)."""
    global _IMPLEMENTER
    _IMPLEMENTER = impl


def current_implementer() -> GuestNetworkImplementer | None:
    return _IMPLEMENTER


def _reapply(session: Session, net: Network) -> None:
    if _IMPLEMENTER is not None and net.state == "Implemented" and net.removed is None:
        session.flush()
        _IMPLEMENTER.apply(session, net)


def reapply(session: Session, net: Network) -> None:
    """Push the network's NIC set to its implementer again (DHCP entries after a NIC was added or changed)."""
    _reapply(session, net)


def _serves(session: Session, net: Network) -> bool:
    """The implementer runs something real for this network (shared networks are implemented only then)."""
    serves = getattr(_IMPLEMENTER, "serves", None)
    return bool(serves(session, net)) if serves is not None else False


def guest_bridge_name(network: Network) -> str:
    """The host bridge a network's guest NICs (and its router's guest side) attach to.

    One bridge per network: this kernel has no 802.1Q or bridge VLAN filtering, so isolation is by bridge, and
    the VLAN stays a record. Named from the network's uuid, not its row id: two clouds on one host (a sandbox
    and a test run) number their networks from 1 alike. At most 15 characters (IFNAMSIZ)."""
    return guest_bridge_for(network.uuid)


def guest_bridge_for(network_uuid: str) -> str:
    """guest_bridge_name from the uuid alone (for tools that read the database without the ORM)."""
    return "dcb" + network_uuid.replace("-", "")[:11]


# ------------------------------------------------------------------------------------------------ visibility

def _network_visible(session: Session, caller: Caller, row: Network, access_kind: str) -> bool:
    if access.can_access_owner(session, caller, row.account_id, row.domain_id):
        return True
    if access_kind == "read" and session.scalar(select(NetworkPermission.id).where(
            NetworkPermission.network_id == row.id, NetworkPermission.account_id == caller.account_id)) is not None:
        return True  # shared with the caller's account (createNetworkPermissions)
    if access_kind != "read" or row.acl_type != "Domain":
        return False
    path = session.scalar(select(Domain.path).where(Domain.id == row.domain_id))
    return path is not None and caller.domain_path.startswith(path)


def _ip_visible(session: Session, caller: Caller, row: PublicIpAddress, access_kind: str) -> bool:
    if caller.is_root_admin:
        return True
    if row.account_id is None:
        return False
    return access.can_access_owner(session, caller, row.account_id, row.domain_id or 0)


access.register_entity("Network", Network, "owned", visible=_network_visible)
access.register_entity("NetworkOffering", NetworkOffering, "public")
access.register_entity("PublicIpAddress", PublicIpAddress, "owned", visible=_ip_visible)


def visible_condition(session: Session, caller: Caller) -> Any:
    """SQL: networks a caller sees without listall (own + Domain-wide shared networks of its domain's ancestors)."""
    parents = [p for p in _ancestor_paths(caller.domain_path)]
    shared = Network.acl_type == "Domain"
    dom_ids = select(Domain.id).where(Domain.path.in_(parents))
    permitted = select(NetworkPermission.network_id).where(NetworkPermission.account_id == caller.account_id)
    return ((Network.account_id == caller.account_id) | (shared & Network.domain_id.in_(dom_ids))
            | Network.id.in_(permitted))


def _ancestor_paths(path: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p]
    out = ["/"]
    for i in range(len(parts)):
        out.append("/" + "/".join(parts[:i + 1]) + "/")
    return out


# ------------------------------------------------------------------------------------------------ physical

def guest_physical_network(session: Session, zone: Zone, pn: PhysicalNetwork | None = None) -> PhysicalNetwork | None:
    if pn is not None:
        return pn
    tagged = session.scalar(select(PhysicalNetwork).join(TrafficType, TrafficType.physical_network_id ==
                                                         PhysicalNetwork.id)
                            .where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed.is_(None),
                                   TrafficType.traffic_type == "Guest").order_by(PhysicalNetwork.id).limit(1))
    if tagged is not None:
        return tagged
    return session.scalar(select(PhysicalNetwork).where(PhysicalNetwork.zone_id == zone.id,
                                                        PhysicalNetwork.removed.is_(None))
                          .order_by(PhysicalNetwork.id).limit(1))


def allocate_guest_vlan(session: Session, net: Network, pn: PhysicalNetwork) -> int | None:
    """Takes the lowest free VLAN of the physical network's range (the GuestVlan primary key makes a double
    allocation impossible; a concurrent taker makes us retry with the next one)."""
    ranges = ipam.parse_vlan_ranges(pn.vlan)
    if not ranges:
        return None
    # One allocator per physical network at a time: on MariaDB two locking reads of the taken VLANs followed by
    # two inserts into the same index gap deadlock (each waits on the other's gap lock), and InnoDB then rolls one
    # whole transaction back. The physical network's row is the mutex (SQLite has one writer anyway).
    lock_rows(session, select(PhysicalNetwork.id).where(PhysicalNetwork.id == pn.id))
    own, others = guest_vlans.dedicated_split(session, pn.id, net.account_id)
    for _ in range(16):
        taken = set(session.scalars(select(GuestVlan.vnet).where(GuestVlan.physical_network_id == pn.id,
                                                                 GuestVlan.taken.is_not(None))
                                    .with_for_update()))  # a locking read sees the latest commits
        # the account's dedicated VLANs first; VLANs dedicated to other accounts never
        vnet = ipam.first_free_vlan(own, taken) if own else None
        if vnet is None:
            vnet = ipam.first_free_vlan(ranges, taken | others)
        if vnet is None:
            return None
        try:
            with session.begin_nested():
                row = session.get(GuestVlan, (pn.id, vnet))
                if row is None:
                    session.add(GuestVlan(physical_network_id=pn.id, vnet=vnet, zone_id=pn.zone_id,
                                          account_id=net.account_id, network_id=net.id, taken=utcnow()))
                    session.flush()
                else:
                    res = session.execute(update(GuestVlan).where(
                        GuestVlan.physical_network_id == pn.id, GuestVlan.vnet == vnet, GuestVlan.taken.is_(None))
                        .values(account_id=net.account_id, network_id=net.id, taken=utcnow())
                        .execution_options(synchronize_session=False))
                    if res.rowcount != 1:  # type: ignore[attr-defined]
                        raise IntegrityError("vnet taken", None, Exception("taken"))
            return vnet
        except IntegrityError:
            continue
    return None


def release_guest_vlan(session: Session, net: Network) -> None:
    session.execute(delete(GuestVlan).where(GuestVlan.network_id == net.id))


# ------------------------------------------------------------------------------------------------ public IPs

def _free_public_ip(session: Session, zone_id: int, account_id: int, ip: str | None = None) -> PublicIpAddress | None:
    """A Free address of a public (VirtualNetwork) range in the zone, dedicated to the account or undedicated, not
    quarantined against the account (an address the account reserved may be asked for by name)."""
    free = PublicIpAddress.state == "Free"
    if ip is not None:
        free = free | ((PublicIpAddress.state == "Reserved") & (PublicIpAddress.account_id == account_id))
    stmt = (select(PublicIpAddress).join(VlanIpRange, VlanIpRange.id == PublicIpAddress.vlan_id)
            .where(PublicIpAddress.zone_id == zone_id, free, PublicIpAddress.is_portable.is_(False),
                   PublicIpAddress.removed.is_(None), VlanIpRange.vlan_type == "VirtualNetwork",
                   VlanIpRange.removed.is_(None), PublicIpAddress.id.not_in(quarantine.blocked_for(account_id)),
                   (VlanIpRange.account_id.is_(None)) | (VlanIpRange.account_id == account_id)))
    if ip is not None:
        stmt = stmt.where(PublicIpAddress.public_ip_address == ip)
    return session.scalar(stmt.order_by(VlanIpRange.account_id.is_(None), PublicIpAddress.id).limit(1)
                          .with_for_update(skip_locked=True))


def take_public_ip(session: Session, *, zone_id: int, account: Account, network: Network | None,
                   source_nat: bool = False, ip: str | None = None, state: str = "Allocated") -> PublicIpAddress:
    """Claims a Free public IP with a compare-and-swap on its state (no two networks get the same address)."""
    for _ in range(16):
        row = _free_public_ip(session, zone_id, account.id, ip)
        if row is None:
            if ip is not None:
                raise ParamError(f"The public IP address {ip} is not free in this zone")
            raise InsufficientCapacity("Insufficient address capacity: no free public IP address in the zone")
        res = session.execute(update(PublicIpAddress).where(PublicIpAddress.id == row.id,
                                                            PublicIpAddress.state == row.state)
                              .values(state=state, account_id=account.id, domain_id=account.domain_id,
                                      network_id=network.id if network else None, source_nat=source_nat,
                                      allocated=utcnow()).execution_options(synchronize_session=False))
        if res.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(row)
            quarantine.on_allocate(session, row, account)
            usage.ip_assigned(session, row)
            return row
    raise ResourceAllocationError("Unable to allocate a public IP address (too much contention); retry")


def release_public_ip(session: Session, ip: PublicIpAddress) -> None:
    usage.ip_released(session, ip)
    ip.state, ip.account_id, ip.domain_id, ip.network_id, ip.vpc_id = "Free", None, None, None, None
    ip.source_nat, ip.one_to_one_nat, ip.vm_id, ip.vm_ip, ip.allocated = False, False, None, None, None
    session.flush()


# ------------------------------------------------------------------------------------------------ create

def _check_name(name: str) -> None:
    if not name or len(name) > 255:
        raise ParamError("Network name must be 1 to 255 characters")


def create_network(session: Session, caller: Caller, owner: Account, zone: Zone, offering: NetworkOffering, *,
                   name: str, display_text: str | None = None, gateway: str | None = None,
                   netmask: str | None = None, startip: str | None = None, endip: str | None = None,
                   vlan: str | None = None, physical_network: PhysicalNetwork | None = None,
                   network_domain: str | None = None, acl_type: str | None = None,
                   is_default: bool = False, vpc_id: int | None = None, acl_id: int | None = None) -> Network:
    """A guest network; ``vpc_id`` makes it a VPC tier (``services.network.vpc.create_tier`` validates those)."""
    _check_name(name)
    if offering.removed is not None or offering.state != "Enabled":
        raise ParamError(f"Network offering {offering.name} is not enabled")
    if offering.traffic_type != "Guest" or offering.is_system:
        raise ParamError("Only guest network offerings can be used to create networks")
    gtype = offering.guest_type or "Isolated"
    if offering.for_vpc and vpc_id is None:
        raise ParamError(f"Network offering {offering.name} can be used for VPC networks only: specify vpcid")
    if vpc_id is not None and not offering.for_vpc:
        raise ParamError(f"Network offering {offering.name} can't be used for VPC networks")
    if zone.network_type == "Basic" and gtype != "Shared":
        raise ParamError("Only shared networks can be created in a Basic zone")
    pn = guest_physical_network(session, zone, physical_network)
    acl = (acl_type or ("Domain" if gtype == "Shared" else "Account")).capitalize()
    if acl not in ("Account", "Domain"):
        raise ParamError("acltype must be Account or Domain")
    if gtype == "Shared" and not caller.is_admin:
        raise PermissionDenied("Only admins can create shared networks")
    if vlan is not None and not caller.is_root_admin:
        raise PermissionDenied("Only the root admin can specify a VLAN")
    basic = zone.network_type == "Basic"
    if offering.specify_vlan and vlan is None and not basic:
        raise ParamError(f"Network offering {offering.name} requires a vlan to be specified")
    if vlan is not None and not offering.specify_vlan:
        raise ParamError(f"Network offering {offering.name} does not allow to specify a vlan")
    broadcast = None
    if vlan is not None:
        v = vlan.removeprefix("vlan://")
        if v.lower() != "untagged":
            try:
                if not 1 <= int(v) <= 4094:
                    raise ValueError
            except ValueError:
                raise ParamError(f"Invalid vlan {vlan}") from None
            clash = session.scalar(select(Network.id).where(Network.zone_id == zone.id,
                                                            Network.broadcast_uri == f"vlan://{v}",
                                                            Network.removed.is_(None)))
            if clash is not None:
                raise ParamError(f"The VLAN tag {v} is already used by another network in zone {zone.name}")
        broadcast = f"vlan://{v}"
    cidr = gw = None
    if gtype != "L2":
        if gateway and netmask:
            net = ipam.cidr_of(gateway, netmask)
            gw = str(ipam.check_ip(gateway, "gateway"))
        elif gateway or netmask:
            raise ParamError("gateway and netmask must be specified together")
        elif gtype == "Shared" and basic:
            net = None  # Basic zone: guest IPs come from the pods' ranges (createVlanIpRange podid=...)
        elif gtype == "Shared":
            raise ParamError("gateway and netmask are required to create a shared network")
        else:
            net = ipam.parse_cidr(zone.guest_cidr or DEFAULT_GUEST_CIDR)
            gw = ipam.default_gateway(net)
        cidr = str(net) if net is not None else None
    elif gateway or netmask or startip:
        raise ParamError("L2 networks have no IP addressing (no gateway, netmask or IP range)")
    if gtype == "Shared" and cidr is not None:
        if not startip:
            raise ParamError("startip is required to create a shared network")
        n = ipaddress.IPv4Network(cidr)  # type: ignore[arg-type]
        for what, ip in (("startip", startip), ("endip", endip or startip)):
            if ipam.check_ip(ip, what) not in n:
                raise ParamError(f"{what} {ip} is not in the network {cidr}")
    owner_row = owner
    domain_id = owner.domain_id
    row = Network(name=name, display_text=display_text or name, traffic_type="Guest", guest_type=gtype,
                  state="Setup" if gtype == "Shared" else "Allocated",
                  broadcast_domain_type="Vlan" if gtype != "L2" or broadcast else "Vlan", broadcast_uri=broadcast,
                  gateway=gw, cidr=cidr, network_domain=network_domain or zone.network_domain or "cs.internal",
                  dns1=zone.dns1, dns2=zone.dns2, zone_id=zone.id, physical_network_id=pn.id if pn else None,
                  network_offering_id=offering.id, account_id=owner_row.id, domain_id=domain_id, acl_type=acl,
                  specify_ip_ranges=offering.specify_ip_ranges, is_default=is_default, vpc_id=vpc_id,
                  network_acl_id=acl_id)
    session.add(row)
    session.flush()
    if gtype == "Shared" and cidr is not None:
        session.add(VlanIpRange(zone_id=zone.id, physical_network_id=row.physical_network_id, network_id=row.id,
                                vlan_tag=(broadcast or "vlan://untagged").removeprefix("vlan://"), gateway=gw,
                                netmask=str(ipaddress.IPv4Network(cidr).netmask),  # type: ignore[arg-type]
                                start_ip=startip, end_ip=endip or startip,  # type: ignore[arg-type]
                                vlan_type="DirectAttached"))
        session.flush()
    return row


def default_network(session: Session, account: Account, zone: Zone) -> Network:
    """CloudStack's advanced-zone deploy without networkids: the account's only isolated network in the zone, or
    a new `<account>-network` from the default isolated offering with source NAT. In a Basic zone: the zone's
    shared guest network."""
    if zone.network_type == "Basic":
        shared = session.scalar(select(Network).where(Network.zone_id == zone.id, Network.removed.is_(None),
                                                      Network.guest_type == "Shared",
                                                      Network.state.in_(LIVE_STATES)).order_by(Network.id).limit(1))
        if shared is None:
            raise ParamError(f"Basic zone {zone.name} has no guest network; create one with "
                             "DefaultSharedNetworkOfferingWithSGService")
        return shared
    # Concurrent first deploys of one account must not each create a default network: the account row lock
    # serialises them (MariaDB; SQLite writers are serial already), and the locking read sees a network committed
    # after this transaction's snapshot was taken.
    lock_rows(session, select(Account.id).where(Account.id == account.id))
    nets = list(session.scalars(prepared("networks-isolated-of-account", lambda: select(Network).where(
        Network.account_id == bindparam("account_id"), Network.zone_id == bindparam("zone_id"),
        Network.removed.is_(None), Network.guest_type == "Isolated", Network.vpc_id.is_(None),
        Network.state.in_(LIVE_STATES)).order_by(Network.id).with_for_update()),
        {"account_id": account.id, "zone_id": zone.id}))
    _locked_now(session, nets)
    if len(nets) == 1:
        return nets[0]
    if len(nets) > 1:
        defaults = [n for n in nets if n.is_default]
        if len(defaults) == 1:
            return defaults[0]
        raise ParamError(f"More than 1 default Isolated networks are found for account {account.name}; please "
                         "specify networkIds")
    off = offerings.by_name(session, offerings.DEFAULT_ISOLATED)
    if off is None or off.state != "Enabled":
        raise ParamError(f"Unable to find the required network offering {offerings.DEFAULT_ISOLATED} to create "
                         "the account's default network")
    caller = _system_caller(session, account)
    return create_network(session, caller, account, zone, off, name=f"{account.name}-network",
                          display_text=f"{account.name}-network", is_default=True)


def _system_caller(session: Session, account: Account) -> Caller:
    from management.models.identity import User

    user = session.scalar(select(User).where(User.account_id == account.id).order_by(User.id).limit(1))
    if user is None:
        user = session.scalars(select(User).order_by(User.id)).first()
    assert user is not None
    return Caller.from_user(user)


# ------------------------------------------------------------------------------------------------ implement

def implement(session: Session, network: Network, *, strict: bool = True) -> Network:
    """Allocated/Shutdown/Setup → Implementing → Implemented: guest VLAN from the physical network's range and,
    for offerings with SourceNat, a source-NAT public IP; then the implementer (none: records only).

    ``strict=False`` (used when a VM's NICs are allocated) records a missing VLAN range or public IP as a
    warning instead of failing, so simulator zones without public ranges still deploy."""
    # Lock the row and read its latest committed state (MariaDB's REPEATABLE READ snapshot would be stale): two
    # deploys racing to implement the same network then run one after the other instead of failing a CAS.
    session.refresh(network, with_for_update=True)
    if network.state == "Implemented":
        return network
    if network.state == "Destroy" or network.removed is not None:
        raise ParamError(f"Network {network.name} is destroyed")
    fsm.transition(session, network, "ImplementNetwork")
    try:
        off = session.get_one(NetworkOffering, network.network_offering_id)
        zone = session.get_one(Zone, network.zone_id)
        if network.broadcast_uri is None and network.guest_type in ("Isolated", "L2"):
            pn = session.get(PhysicalNetwork, network.physical_network_id) if network.physical_network_id else \
                guest_physical_network(session, zone)
            vnet = allocate_guest_vlan(session, network, pn) if pn is not None else None
            if vnet is None:
                msg = f"Unable to allocate a guest VLAN for network {network.name} in zone {zone.name}"
                if strict:
                    raise InsufficientCapacity(msg)
                log.warning("%s (no free VLAN in the physical network's range)", msg)
            else:
                network.broadcast_uri = f"vlan://{vnet}"
                if pn is not None:
                    network.physical_network_id = pn.id
        # a ROUTED network's router needs a public address too (upstream routes point at it); no NAT behind it.
        # A VPC tier's source NAT is the VPC's (its router holds it).
        if network.guest_type == "Isolated" and network.vpc_id is None and (offerings.has_service(off, "SourceNat")
                                                                            or routed_spec.is_routed(off)):
            has = session.scalar(select(PublicIpAddress.id).where(PublicIpAddress.network_id == network.id,
                                                                  PublicIpAddress.source_nat.is_(True),
                                                                  PublicIpAddress.removed.is_(None)))
            if has is None:
                owner = session.get_one(Account, network.account_id)
                try:
                    take_public_ip(session, zone_id=zone.id, account=owner, network=network, source_nat=True,
                                   ip=network_details.get(network, "sourcenatipaddress"))
                except InsufficientCapacity:
                    if strict:
                        raise
                    log.warning("network %s implemented without a source NAT IP: zone %s has no free public IP",
                                network.name, zone.name)
        if _IMPLEMENTER is not None:
            session.flush()
            _IMPLEMENTER.implement(session, network)
    except BaseException as exc:
        if network.state == "Implementing":
            try:
                fsm.transition(session, network, "OperationFailed")
            except ConcurrentOperation:
                # the database rolled the whole transaction back (a deadlock): Implementing was never committed,
                # and the error to report is the one that rolled it back
                raise exc from None
        raise
    fsm.transition(session, network, "OperationSucceeded")
    network.implemented = utcnow()
    network.restart_required = False
    session.flush()
    return network


# ------------------------------------------------------------------------------------------------ NICs

def _mac_exists(session: Session) -> Any:
    def exists(mac: str) -> bool:
        return session.scalar(prepared("nic-by-mac", lambda: select(Nic.id).where(Nic.mac_address == bindparam("mac"))),
                              {"mac": mac}) is not None

    return exists


def _ip_ranges(session: Session, net: Network) -> list[VlanIpRange]:
    """A shared network's guest IP ranges: its own, and in a Basic zone the pods' direct ranges."""
    cond = VlanIpRange.network_id == net.id
    zone = session.get(Zone, net.zone_id)
    if zone is not None and zone.network_type == "Basic":
        cond = cond | ((VlanIpRange.zone_id == net.zone_id) & VlanIpRange.pod_id.is_not(None)
                       & VlanIpRange.network_id.is_(None))
    return list(session.scalars(select(VlanIpRange).where(cond, VlanIpRange.removed.is_(None),
                                                          VlanIpRange.vlan_type == "DirectAttached")
                                .order_by(VlanIpRange.id)))


def used_ips(session: Session, net: Network, *, locking: bool = False) -> set[str]:
    """Addresses held by live NICs and their secondary addresses; ``locking`` reads the latest committed rows
    (not a MariaDB snapshot)."""
    from management.models.nic_secondary_ips import NicSecondaryIp

    stmt = select(Nic.ip4_address).where(Nic.network_id == net.id, Nic.removed.is_(None),
                                         Nic.ip4_address.is_not(None))
    if locking:
        stmt = stmt.with_for_update()
    used = {ip for ip in session.scalars(stmt) if ip is not None}
    return used | set(session.scalars(select(NicSecondaryIp.ip4_address).where(NicSecondaryIp.network_id == net.id)))


def pick_ip(session: Session, net: Network, requested: str | None = None) -> tuple[str, str, str] | None:
    """(ip, gateway, netmask): a free guest IP of the network, or the requested one validated; None for L2."""
    if net.guest_type == "L2":
        if requested:
            raise ParamError("L2 networks have no IP addresses to request")
        return None
    # Serialise allocations on this network (MariaDB row lock; SQLite writers are serialised already).
    lock_rows(session, select(Network.id).where(Network.id == net.id))
    spans: list[tuple[ipaddress.IPv4Network, str | None, str | None, str | None]] = []
    if net.guest_type == "Shared":
        for r in _ip_ranges(session, net):
            if r.gateway and r.netmask:
                spans.append((ipam.cidr_of(r.gateway, r.netmask), r.start_ip, r.end_ip, r.gateway))
        if not spans and net.cidr:
            spans = [(ipaddress.IPv4Network(net.cidr), None, None, net.gateway)]
    elif net.cidr:
        spans = [(ipaddress.IPv4Network(net.cidr), None, None, net.gateway)]
    if not spans:
        raise InsufficientCapacity(f"Network {net.name} has no IP range to allocate addresses from")
    if requested:
        for cidr, start, end, gw in spans:
            addr = ipam.check_ip(requested)
            if addr in cidr and (start is None or end is None
                                 or int(ipam.check_ip(start)) <= int(addr) <= int(ipam.check_ip(end))):
                used = ip_index.taken(session, net.id, [str(addr)], locking=True)
                chosen = ipam.check_requested(cidr, requested, used, gateway=gw, start=start, end=end)
                return chosen, gw or "", str(cidr.netmask)
        raise ParamError(f"IP address {requested} is outside the network's IP ranges")
    for cidr, start, end, gw in spans:
        lo = max(int(ipam.check_ip(start)) if start else 0, int(cidr.network_address) + 1)
        hi = min(int(ipam.check_ip(end)) if end else 1 << 32, int(cidr.broadcast_address) - 1)
        free = ip_index.first_free(session, net.id, lo, hi, reserved=[gw] if gw else [])
        if free is not None:
            return free, gw or "", str(cidr.netmask)
    raise InsufficientCapacity(f"Insufficient address capacity: no free IP address left in network {net.name}")


_LOCKED = "networks-locked"  # Session.info: (transaction, ids of the networks it read FOR UPDATE)


def _locked_now(session: Session, nets: Iterable[Network]) -> None:
    """These rows were just read FOR UPDATE in the session's transaction: they are current until it ends."""
    tx, held = session.info.get(_LOCKED, (None, frozenset()))
    now = session.get_transaction()
    session.info[_LOCKED] = (now, (held if tx is now else frozenset()) | {n.id for n in nets})


def _needs_implementing(session: Session, net: Network) -> bool:
    """Locks the network's row (its latest committed state) and says whether a VM's NIC on it needs it implemented
    first: an isolated network never implemented or shut down, a shared one only where something real serves it."""
    if net.guest_type == "Shared" and not _serves(session, net):
        return False
    tx, held = session.info.get(_LOCKED, (None, frozenset()))
    if tx is not session.get_transaction() or net.id not in held:  # (the default network was read so just now)
        session.refresh(net, with_for_update=True)
    return net.state in ("Allocated", "Shutdown", "Setup")


def allocate_nics(session: Session, vm: VirtualMachine, networks: list[Network],
                  requested_ips: dict[int, str] | None = None, *, new_vm: bool = False,
                  defer_implementing: bool = False) -> list[Nic]:
    """One NIC per network, the first one default: unique MAC, a free IP of the network (or the requested one),
    the network's VLAN. Isolated networks not yet implemented are implemented first (their VLAN is the NIC's).
    `new_vm`: the VM was created in this unit of work, so it has no NIC to number after.
    `defer_implementing` (a VM being deployed): such a network is left as it is and the NIC stays Allocated, without
    a VLAN; the VM's start implements it (`prepare_nics`), in the job, as CloudStack's prepare does, so the deploy
    request does not wait for the first router of a network to come up."""
    if not networks:
        return []
    if len({n.id for n in networks}) != len(networks):
        raise ParamError("A network can be given only once to a virtual machine")
    requested_ips = requested_ips or {}
    existing = () if new_vm else session.scalars(prepared("nic-devices-of-vm", lambda: select(Nic.device_id).where(
        Nic.instance_id == bindparam("vm_id"), Nic.removed.is_(None))), {"vm_id": vm.id})
    base = max(existing, default=-1) + 1
    out: list[Nic] = []
    mac_free = _mac_exists(session)
    for i, net in enumerate(networks):
        if net.removed is not None or net.state == "Destroy":
            raise ParamError(f"Network {net.name} is not usable (destroyed)")
        if net.zone_id != vm.zone_id:
            raise ParamError(f"Network {net.name} is in a different zone than the virtual machine")
        deferred = False
        if _needs_implementing(session, net):
            if defer_implementing:
                deferred = True
            else:
                implement(session, net, strict=False)
        picked = pick_ip(session, net, requested_ips.get(net.id))
        ip, gateway, netmask = picked if picked else (None, None, None)
        vlan = None if deferred else net.broadcast_uri
        nic = Nic(instance_id=vm.id, network_id=net.id, mac_address=ipam.random_mac(mac_free), ip4_address=ip,
                  netmask=netmask, gateway=gateway or None, broadcast_uri=vlan, isolation_uri=vlan,
                  device_id=base + i, default_nic=base == 0 and i == 0, state="Allocated" if deferred else "Reserved",
                  mode="Dhcp", traffic_type=net.traffic_type, vm_type=vm.vm_type or "User")
        session.add(nic)
        session.flush()
        out.append(nic)
    for net in networks:
        _reapply(session, net)
    return out


_UNPREPARED_STATES = ("Allocated", "Shutdown", "Setup")


def nic_unprepared() -> ColumnElement[bool]:
    """True for a NIC whose VM's start must prepare its network first (`prepare_nics`), as CloudStack's prepare
    finds on every start: the NIC still Allocated (a deploy leaves that to its start), its isolated network not
    implemented (never, or shut down when its router was destroyed), or its network's router stopped. A column
    correlated to `Nic`, so the start reads it with the VM's NICs, in one statement."""
    net_down = select(Network.id).where(
        Network.id == Nic.network_id, Network.state.in_(_UNPREPARED_STATES), Network.traffic_type == "Guest",
        Network.guest_type != "Shared").exists()
    router_stopped = select(RouterNetwork.router_id).join(
        VirtualMachine, VirtualMachine.id == RouterNetwork.router_id).where(
        RouterNetwork.network_id == Nic.network_id, VirtualMachine.removed.is_(None),
        VirtualMachine.state == "Stopped").exists()
    return or_(Nic.state == "Allocated", net_down, router_stopped)


def unprepared(session: Session, nics: Sequence[Nic]) -> bool:
    """Whether any of these NICs needs its network prepared (`nic_unprepared`)."""
    if any(n.state == "Allocated" for n in nics):
        return True
    ids = sorted(n.id for n in nics)
    return bool(ids) and session.scalar(prepared("nics-unprepared", lambda: select(Nic.id).where(
        Nic.id.in_(bindparam("ids", expanding=True)), nic_unprepared()).limit(1)), {"ids": ids}) is not None


def prepare_nics(session: Session, nics: Sequence[Nic]) -> None:
    """Makes a starting VM's networks ready for it (what `unprepared` finds): each network that needs it is
    implemented (in network id order, so two starts lock them alike) and the VM's NICs on it take its VLAN; NICs
    still Allocated become Reserved, their network told of them where another VM's start implemented it meanwhile;
    a stopped router is started, from the records, this VM's NIC among them."""
    live = [n for n in nics if n.removed is None]
    nets = networks_of(session, {n.network_id for n in live})
    # The owners' rows before the networks', as a deploy request takes them (default_network): implementing takes
    # a public address for the owner, and a request of the same account holding the account and waiting for the
    # network would otherwise deadlock with this (MariaDB).
    lock_rows(session, select(Account.id).where(Account.id.in_(sorted({n.account_id for n in nets.values()})))
              .order_by(Account.id))
    implemented: set[int] = set()
    for net_id in sorted(nets):
        net = nets[net_id]
        if net.removed is not None or net.state == "Destroy":
            raise ParamError(f"Network {net.name} is not usable (destroyed)")
        if _needs_implementing(session, net):
            implement(session, net, strict=False)
            implemented.add(net_id)
    told = {n.network_id for n in live if n.state == "Allocated"}
    for nic in live:
        if nic.state == "Allocated" or nic.network_id in implemented:
            nic.broadcast_uri = nic.isolation_uri = nets[nic.network_id].broadcast_uri
            nic.state = "Reserved"
    session.flush()
    start_router = getattr(_IMPLEMENTER, "prepare", None)
    for net_id in sorted(nets.keys() - implemented):  # implementing pushed every NIC already
        net = nets[net_id]
        if start_router is not None and net.state == "Implemented" and start_router(session, net):
            continue  # its router came up from the records, this VM's NIC among them
        if net_id in told:
            _reapply(session, net)


def release_nics(session: Session, vm: VirtualMachine) -> None:
    """Frees the VM's NICs (their IPs become free for the next allocation)."""
    now = utcnow()
    touched: set[int] = set()
    for nic in session.scalars(select(Nic).where(Nic.instance_id == vm.id, Nic.removed.is_(None))):
        nic.removed, nic.state = now, "Deallocating"
        touched.add(nic.network_id)
    session.flush()
    for net in networks_of(session, touched).values():
        _reapply(session, net)


def nics_in_use(session: Session, net: Network) -> list[str]:
    """VMs (uuids) that still hold a NIC on the network."""
    vm_ids = set(session.scalars(select(Nic.instance_id).where(Nic.network_id == net.id, Nic.removed.is_(None))))
    if not vm_ids:
        return []
    return list(session.scalars(select(VirtualMachine.uuid).where(VirtualMachine.id.in_(vm_ids),
                                                                  VirtualMachine.removed.is_(None))))


# ------------------------------------------------------------------------------------------------ delete/restart

def delete_network(session: Session, net: Network, forced: bool = False) -> None:
    users = nics_in_use(session, net)
    if users:
        raise ResourceInUse(f"Unable to delete network {net.name}: it is used by virtual machine(s) "
                            f"{', '.join(users)}", uuids=users)
    if _IMPLEMENTER is not None and net.state == "Implemented":
        _IMPLEMENTER.shutdown(session, net)
    # Walk the table: Implemented -> Shutdown -> Allocated -> Destroy (CloudStack's shutdown-then-destroy).
    if net.state == "Implementing":
        fsm.transition(session, net, "OperationFailed")
    if net.state == "Implemented":
        fsm.transition(session, net, "DestroyNetwork")
    if net.state == "Shutdown":
        fsm.transition(session, net, "OperationSucceeded")
    fsm.transition(session, net, "DestroyNetwork")
    release_guest_vlan(session, net)
    for ip in session.scalars(select(PublicIpAddress).where(PublicIpAddress.network_id == net.id,
                                                            PublicIpAddress.removed.is_(None))):
        if ip.vlan_id is not None and _is_direct(session, ip):
            continue
        if ip.vpc_id is not None:  # a VPC's IP stays the VPC's: its rules towards the tier end
            session.execute(update(NetworkRule).where(NetworkRule.ip_address_id == ip.id,
                                                      NetworkRule.removed.is_(None))
                            .values(state="Revoke", removed=utcnow()).execution_options(synchronize_session=False))
            ip.network_id, ip.one_to_one_nat, ip.vm_id, ip.vm_ip = None, False, None, None
            continue
        release_public_ip(session, ip)
    session.execute(update(VlanIpRange).where(VlanIpRange.network_id == net.id, VlanIpRange.removed.is_(None))
                    .values(removed=utcnow()).execution_options(synchronize_session=False))
    net.removed = utcnow()
    session.flush()


def _is_direct(session: Session, ip: PublicIpAddress) -> bool:
    rng = session.get(VlanIpRange, ip.vlan_id)
    return rng is not None and rng.vlan_type == "DirectAttached"


def restart(session: Session, net: Network, cleanup: bool = False) -> Network:
    """restartNetwork: cleanup=true destroys the router and implements it again from the records; false re-applies
    them. A Shutdown network (its router was destroyed) is implemented again."""
    if net.state == "Destroy" or net.removed is not None:
        raise ParamError(f"Network {net.name} is destroyed")
    if net.state == "Allocated":  # never implemented (an L2 network without a running VM, say): nothing to restart
        raise ParamError("Network is not in the right state to be restarted. Correct states are: Implemented, Setup")
    if net.state == "Implemented" and _IMPLEMENTER is not None:
        if cleanup:
            _IMPLEMENTER.shutdown(session, net)
        _IMPLEMENTER.implement(session, net)
    elif net.state == "Shutdown" and (net.guest_type != "Shared" or _serves(session, net)):
        implement(session, net, strict=False)
    net.restart_required = False
    session.flush()
    return net


def related_offering(session: Session, net: Network) -> NetworkOffering:
    return session.get_one(NetworkOffering, net.network_offering_id)


def networks_of(session: Session, ids: Iterable[int]) -> dict[int, Network]:
    ids = set(ids)
    if not ids:
        return {}
    return {n.id: n for n in session.scalars(select(Network).where(Network.id.in_(ids)))}


__all__ = ["GuestNetworkImplementer", "allocate_nics", "create_network", "default_network", "delete_network",
           "implement", "prepare_nics", "release_nics", "restart", "set_implementer", "take_public_ip"]
