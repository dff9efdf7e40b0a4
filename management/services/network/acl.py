"""Network ACL lists and their items (CloudStack's NetworkACLService): the built-in ``default_allow`` and
``default_deny`` lists, per-VPC lists, numbered items, replacing a tier's (or private gateway's) list, moving items.

What the router does with them (``vpc_router``): per tier, ingress items (matched on the source CIDR) in number
order, then drop; egress items (matched on the destination CIDR) in number order, then drop when the list has at
least one egress item and accept otherwise -- the VPC virtual router's semantics.
"""

from __future__ import annotations

import hashlib
import ipaddress

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from management.errors import ParamError, PermissionDenied, ResourceInUse
from management.models.network import Network
from management.models.vpc import NetworkAcl, NetworkAclItem, Vpc, VpcGateway
from management.services import access
from management.services.context import Caller
from management.services.network import routers

DEFAULT_ALLOW, DEFAULT_DENY = "default_allow", "default_deny"
PROTOCOLS = ("tcp", "udp", "icmp", "all")


# ------------------------------------------------------------------------------------------------ seeds

def seed(session: Session) -> None:
    """The two built-in lists and their items (deny list first: CloudStack's ids 1 and 2)."""
    have = set(session.scalars(select(NetworkAcl.name).where(NetworkAcl.builtin.is_(True))))
    for name, action, text in ((DEFAULT_DENY, "Deny", "Default Network ACL Deny All"),
                               (DEFAULT_ALLOW, "Allow", "Default Network ACL Allow All")):
        if name in have:
            continue
        acl = NetworkAcl(name=name, description=text, vpc_id=None, builtin=True)
        session.add(acl)
        session.flush()
        for number, traffic in ((1, "Ingress"), (2, "Egress")):
            session.add(NetworkAclItem(acl_id=acl.id, number=number, protocol="all", cidr="0.0.0.0/0",
                                       traffic_type=traffic, action=action, state="Active"))
    session.flush()


def builtin(session: Session, name: str) -> NetworkAcl:
    row = session.scalar(select(NetworkAcl).where(NetworkAcl.builtin.is_(True), NetworkAcl.name == name))
    if row is None:
        seed(session)
        row = session.scalar(select(NetworkAcl).where(NetworkAcl.builtin.is_(True), NetworkAcl.name == name))
    assert row is not None
    return row


# ------------------------------------------------------------------------------------------------ visibility

def _acl_visible(session: Session, caller: Caller, row: NetworkAcl, kind: str) -> bool:
    """Built-in and global lists: everyone reads them (writes are refused by the commands with CloudStack's texts);
    a VPC's list: whoever may use the VPC."""
    if row.vpc_id is None:
        return kind == "read" or caller.is_root_admin or row.builtin
    vpc = session.get(Vpc, row.vpc_id)
    return vpc is not None and access.can_access_owner(session, caller, vpc.account_id, vpc.domain_id)


def _item_visible(session: Session, caller: Caller, row: NetworkAclItem, kind: str) -> bool:
    acl = session.get(NetworkAcl, row.acl_id)
    return acl is not None and _acl_visible(session, caller, acl, kind)


access.register_entity("NetworkACL", NetworkAcl, "owned", visible=_acl_visible, soft_delete=False)
access.register_entity("NetworkACLItem", NetworkAclItem, "owned", visible=_item_visible)


def visible_vpc_ids(session: Session, caller: Caller, *, listall: bool = True) -> list[int]:
    stmt = access.owned_filter(session, select(Vpc.id).where(Vpc.removed.is_(None)), Vpc, caller, listall=listall)
    return list(session.scalars(stmt))


# ------------------------------------------------------------------------------------------------ lists

def _check_writable(session: Session, caller: Caller, acl: NetworkAcl, what: str) -> None:
    if acl.builtin:
        raise ParamError(f"Default ACL cannot be {what}")
    if acl.vpc_id is None and not caller.is_root_admin:
        raise PermissionDenied(f"Only Root Admin can {'delete' if what == 'removed' else 'update'} global ACLs.")


def create_list(session: Session, caller: Caller, *, name: str, description: str | None, vpc: Vpc | None,
                display: bool | None) -> NetworkAcl:
    if not name:
        raise ParamError("Unable to execute API command createnetworkacllist due to missing parameter name")
    if vpc is None and not caller.is_root_admin:
        raise PermissionDenied("Only Root Admins can create global ACLs.")
    if vpc is not None and vpc.state != "Enabled":
        raise ParamError(f"VPC {vpc.name} is not in Enabled state")
    acl = NetworkAcl(name=name, description=description or name, vpc_id=vpc.id if vpc else None,
                     display=True if display is None else display)
    session.add(acl)
    session.flush()
    return acl


def update_list(session: Session, caller: Caller, acl: NetworkAcl, *, name: str | None, description: str | None,
                display: bool | None) -> NetworkAcl:
    _check_writable(session, caller, acl, "modified")
    if name:
        acl.name = name
    if description:
        acl.description = description
    if display is not None:
        acl.display = display
    session.flush()
    return acl


def delete_list(session: Session, caller: Caller, acl: NetworkAcl) -> None:
    if acl.builtin:
        raise ParamError("Default ACL cannot be removed")
    _check_writable(session, caller, acl, "removed")
    users = list(session.scalars(select(Network.uuid).where(Network.network_acl_id == acl.id,
                                                            Network.removed.is_(None))))
    gws = list(session.scalars(select(VpcGateway.uuid).where(VpcGateway.network_acl_id == acl.id,
                                                             VpcGateway.removed.is_(None))))
    if users or gws:
        raise ResourceInUse(f"ACL {acl.name} is still associated with network(s) or private gateway(s): "
                            f"{', '.join(users + gws)}", uuids=users + gws)
    # items first, in one statement: deleted one by one, the unit of work could order them after the list, whose
    # ON DELETE CASCADE had already removed them (SQLAlchemy warned of rows it expected and did not find)
    session.execute(delete(NetworkAclItem).where(NetworkAclItem.acl_id == acl.id))
    session.delete(acl)
    session.flush()


def list_for_tier(session: Session, net: Network) -> NetworkAcl:
    if net.network_acl_id is not None:
        acl = session.get(NetworkAcl, net.network_acl_id)
        if acl is not None:
            return acl
    return builtin(session, DEFAULT_DENY)


def check_usable(session: Session, acl: NetworkAcl, vpc: Vpc, what: str) -> None:
    """A list may serve a tier/gateway of ``vpc`` when it is built-in, global, or the VPC's own."""
    if acl.vpc_id is not None and acl.vpc_id != vpc.id:
        raise ParamError(f"{what} and ACL: {acl.uuid} do not belong to the same VPC")


def replace_on_network(session: Session, acl: NetworkAcl, net: Network) -> None:
    if net.vpc_id is None:
        raise ParamError(f"Network is not part of a VPC: {net.uuid}")
    if net.traffic_type != "Guest":
        raise ParamError("Network ACL can be created just for networks of type Guest")
    vpc = session.get_one(Vpc, net.vpc_id)
    check_usable(session, acl, vpc, f"Network: {net.uuid}")
    net.network_acl_id = acl.id
    session.flush()
    routers.network_changed(session, net)


def replace_on_gateway(session: Session, acl: NetworkAcl, gw: VpcGateway) -> None:
    if gw.state != "Ready":
        raise ParamError("Gateway is not in Ready state")
    vpc = session.get_one(Vpc, gw.vpc_id)
    check_usable(session, acl, vpc, f"private gateway: {gw.uuid}")
    gw.network_acl_id = acl.id
    session.flush()
    routers.vpc_changed(session, vpc.id)


def apply(session: Session, acl: NetworkAcl) -> None:
    """Re-apply every router using the list (its tiers' VPC routers, private gateways)."""
    vpcs: set[int] = set()
    for net in session.scalars(select(Network).where(Network.removed.is_(None), Network.vpc_id.is_not(None),
                                                     Network.network_acl_id == acl.id)):
        vpcs.add(net.vpc_id)  # type: ignore[arg-type]
    for gw in session.scalars(select(VpcGateway).where(VpcGateway.removed.is_(None),
                                                       VpcGateway.network_acl_id == acl.id)):
        vpcs.add(gw.vpc_id)
    if acl.builtin or acl.vpc_id is None:  # built-in lists also serve tiers that have no list of their own
        vpcs.update(session.scalars(select(Network.vpc_id).where(
            Network.removed.is_(None), Network.vpc_id.is_not(None), Network.network_acl_id.is_(None))))
    for vpc_id in sorted(v for v in vpcs if v is not None):
        routers.vpc_changed(session, vpc_id)


# ------------------------------------------------------------------------------------------------ items

def _norm_protocol(protocol: str | None) -> str:
    p = (protocol or "").strip().lower()
    if not p:
        raise ParamError("Unable to execute API command createnetworkacl due to missing parameter protocol")
    if p.isdigit():
        if not 0 <= int(p) <= 255:
            raise ParamError(f"Invalid protocol number: {int(p)}")
        return str(int(p))
    if p not in PROTOCOLS:
        raise ParamError(f"Invalid protocol [{protocol}]. Expected one of: [{', '.join(PROTOCOLS)}]")
    return p


def _norm_action(action: str | None) -> str:
    if action is None:
        return "Allow"
    if action.lower() not in ("allow", "deny"):
        raise ParamError(f"Invalid action [{action}]. Permitted actions are Allow and Deny")
    return "Deny" if action.lower() == "deny" else "Allow"


def _norm_traffic(traffic: str | None) -> str:
    if traffic is None:
        return "Ingress"
    t = traffic.strip().lower()
    if t not in ("ingress", "egress"):
        raise ParamError(f"Invalid traffictype {traffic}; supported: Ingress, Egress")
    return t.capitalize()


def _norm_cidrs(cidrs: list[str] | None) -> str:
    out = []
    for c in cidrs or []:
        c = c.strip()
        if not c:
            continue
        try:
            out.append(str(ipaddress.IPv4Network(c, strict=False)))
        except ValueError:
            raise ParamError(f"Source cidrs formatting error {c}") from None
    return ",".join(out) if out else "0.0.0.0/0"


def _validate_item(protocol: str, start: int | None, end: int | None, icmp_type: int | None,
                   icmp_code: int | None) -> tuple[int | None, int | None]:
    if start is not None or end is not None:
        s = start if start is not None else end
        e = end if end is not None else start
        assert s is not None and e is not None
        if not 1 <= s <= 65535:
            raise ParamError(f"Start public port is an invalid value: {s}")
        if not 1 <= e <= 65535:
            raise ParamError(f"End public port is an invalid value: {e}")
        if s > e:
            raise ParamError(f"Start port can't be bigger than end port [startport={s},endport={e}]")
        if protocol == "all":
            raise ParamError("start port and end port must be null if protocol = 'all'")
        start, end = s, e
    icmp = protocol == "icmp"
    if not icmp and (icmp_type is not None or icmp_code is not None):
        raise ParamError("Can specify icmpCode and icmpType for ICMP protocol only")
    if icmp and (start is not None or end is not None):
        raise ParamError("Can't specify start/end port when protocol is ICMP")
    if icmp_type is not None and icmp_type != -1 and not 0 <= icmp_type <= 255:
        raise ParamError(f"Invalid icmp type [{icmp_type}]. It should belong to [0-255] range")
    if icmp_code is not None and icmp_code != -1 and not 0 <= icmp_code <= 16:
        raise ParamError(f"Invalid icmp code [{icmp_code}]. It should belong to [0-16] range and can be defined "
                         "when icmpType belongs to [0-40] range")
    return start, end


def _number_taken(session: Session, acl: NetworkAcl, number: int, exclude: int | None = None) -> bool:
    stmt = select(NetworkAclItem.id).where(NetworkAclItem.acl_id == acl.id, NetworkAclItem.number == number)
    if exclude is not None:
        stmt = stmt.where(NetworkAclItem.id != exclude)
    return session.scalar(stmt.limit(1)) is not None


def create_item(session: Session, caller: Caller, acl: NetworkAcl, *, protocol: str, start: int | None,
                end: int | None, cidrs: list[str] | None, icmp_type: int | None, icmp_code: int | None,
                traffic: str | None, number: int | None, action: str | None, reason: str | None,
                display: bool | None) -> NetworkAclItem:
    if acl.builtin:
        raise ParamError("Default ACL cannot be modified")
    if acl.vpc_id is None and not caller.is_root_admin:
        raise PermissionDenied("Only Root Admins can create rules for a global ACL.")
    if number is not None:
        if number < 1:
            raise ParamError(f"Invalid number [{number}]. Number cannot be < 1")
        if _number_taken(session, acl, number):
            raise ParamError(f"ACL item with number {number} already exists in ACL: {acl.uuid}")
    act = _norm_action(action)
    proto = _norm_protocol(protocol)
    start, end = _validate_item(proto, start, end, icmp_type, icmp_code)
    if number is None:
        number = (session.scalar(select(func.max(NetworkAclItem.number)).where(NetworkAclItem.acl_id == acl.id))
                  or 0) + 1
    item = NetworkAclItem(acl_id=acl.id, number=number, protocol=proto, start_port=start, end_port=end,
                          icmp_type=icmp_type, icmp_code=icmp_code, cidr=_norm_cidrs(cidrs),
                          traffic_type=_norm_traffic(traffic), action=act, state="Active", reason=reason,
                          display=True if display is None else display)
    session.add(item)
    session.flush()
    apply(session, acl)
    return item


def create_list_for_tier(session: Session, caller: Caller, net: Network) -> NetworkAcl:
    """createNetworkACL with networkid of a tier that has no list of its own yet: CloudStack's legacy path creates
    one for it (``VPC_<vpc>_Tier_<tier>_ACL_<uuid>``) and puts it on the tier."""
    if net.vpc_id is None:
        raise ParamError(f"Network: {net.uuid} does not belong to VPC")
    vpc = session.get_one(Vpc, net.vpc_id)
    name = f"VPC_{vpc.name}_Tier_{net.name}_ACL_{net.uuid}"
    acl = create_list(session, caller, name=name, description=f"ACL for {name}", vpc=vpc, display=True)
    replace_on_network(session, acl, net)
    return acl


def update_item(session: Session, caller: Caller, item: NetworkAclItem, *, partial: bool, **changes: object) -> \
        NetworkAclItem:
    acl = session.get_one(NetworkAcl, item.acl_id)
    if acl.builtin:
        raise ParamError("Default ACL cannot be modified")
    if acl.vpc_id is None and not caller.is_root_admin:
        raise PermissionDenied("Only Root Admins can update global ACLs.")
    number = changes.get("number")
    if number is not None:
        if _number_taken(session, acl, int(number), exclude=item.id):  # type: ignore[call-overload]
            raise ParamError(f"ACL item with number {number} already exists in ACL: {acl.uuid}")
        item.number = int(number)  # type: ignore[call-overload]

    def pick(name: str, current: object) -> object:
        value = changes.get(name)
        if value is None and partial:
            return current
        return value

    proto = pick("protocol", item.protocol)
    proto = _norm_protocol(str(proto)) if proto is not None else item.protocol
    start = pick("startport", item.start_port)
    end = pick("endport", item.end_port)
    icmp_type = pick("icmptype", item.icmp_type)
    icmp_code = pick("icmpcode", item.icmp_code)
    start, end = _validate_item(proto, start, end, icmp_type, icmp_code)  # type: ignore[arg-type]
    cidrs = changes.get("cidrlist")
    if cidrs or not partial:
        item.cidr = _norm_cidrs(cidrs)  # type: ignore[arg-type]
    action = changes.get("action")
    if action or not partial:
        item.action = _norm_action(action)  # type: ignore[arg-type]
    traffic = changes.get("traffictype")
    if traffic or not partial:
        item.traffic_type = _norm_traffic(traffic)  # type: ignore[arg-type]
    reason = changes.get("reason")
    if reason or not partial:
        item.reason = reason  # type: ignore[assignment]
    display = changes.get("fordisplay")
    if display is not None:
        item.display = bool(display)
    item.protocol, item.start_port, item.end_port = proto, start, end
    item.icmp_type, item.icmp_code = icmp_type, icmp_code  # type: ignore[assignment]
    session.flush()
    apply(session, acl)
    return item


def delete_item(session: Session, caller: Caller, item: NetworkAclItem) -> None:
    acl = session.get_one(NetworkAcl, item.acl_id)
    if acl.builtin:
        raise ParamError("ACL Items in default ACL cannot be deleted")
    if acl.vpc_id is None and not caller.is_root_admin:
        raise PermissionDenied("Only Root Admin can delete global ACL rules.")
    session.delete(item)
    session.flush()
    apply(session, acl)


def items_of(session: Session, acl: NetworkAcl) -> list[NetworkAclItem]:
    return list(session.scalars(select(NetworkAclItem).where(NetworkAclItem.acl_id == acl.id)
                                .order_by(NetworkAclItem.number, NetworkAclItem.id)))


def consistency_hash(items: list[NetworkAclItem]) -> str:
    """MD5 of the items' uuids in number order (moveNetworkAclItem's aclconsistencyhash)."""
    return hashlib.md5("".join(i.uuid for i in items).encode(), usedforsecurity=False).hexdigest()


def move_item(session: Session, caller: Caller, item: NetworkAclItem, *, previous: NetworkAclItem | None,
              nxt: NetworkAclItem | None, consistency: str | None) -> NetworkAclItem:
    if previous is None and nxt is None:
        raise ParamError("Both previous and next ACL rule IDs cannot be blank.")
    acl = session.get_one(NetworkAcl, item.acl_id)
    if acl.builtin:
        raise ParamError("Default ACL cannot be modified")
    for other in (previous, nxt):
        if other is not None and other.acl_id != item.acl_id:
            raise ParamError("Cannot use ACL rules from differenting ACLs. Rule being moved and the previous/next "
                             "rules must belong to the same ACL.")
    rows = items_of(session, acl)
    if consistency and rows and consistency_hash(rows) != consistency:
        raise ParamError("It seems that the access control list in the database is not in the state that you used "
                         "to apply the changed. Could you try it again?")
    order = [r for r in rows if r.id != item.id]
    if previous is None:
        pos = 0
    elif nxt is None:
        pos = len(order)
    else:
        pos = next(i for i, r in enumerate(order) if r.id == previous.id) + 1
    order.insert(pos, item)
    # The moved rule takes previous+1 (1 at the top); later rules move up only as far as needed to stay in order.
    wanted: list[int] = []
    for i, r in enumerate(order):
        floor = wanted[-1] + 1 if wanted else 1
        wanted.append(floor if i == pos else max(r.number, floor) if i > pos else r.number)
    changed = [(r, n) for r, n in zip(order, wanted, strict=True) if r.number != n]
    for i, (r, _) in enumerate(changed):  # two phases: the (acl, number) pair is unique
        r.number = -(i + 1)
    session.flush()
    for r, n in changed:
        r.number = n
    session.flush()
    apply(session, acl)
    return item


__all__ = ["DEFAULT_ALLOW", "DEFAULT_DENY", "apply", "builtin", "create_item", "create_list", "delete_item",
           "delete_list", "list_for_tier", "move_item", "replace_on_gateway", "replace_on_network", "seed",
           "update_item", "update_list"]
