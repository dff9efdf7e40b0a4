"""migrateNetwork: a network moves to another offering of the same kind; its router is rebuilt from the new
offering's services (egress policy, services), as CloudStack's migration re-implements the network elements."""

from __future__ import annotations

from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.network import Network
from management.models.offerings import NetworkOffering
from management.services.network import networks, routed_spec


def migrate(session: Session, net: Network, off: NetworkOffering) -> Network:
    cur = session.get_one(NetworkOffering, net.network_offering_id)
    if net.state == "Destroy" or net.removed is not None:
        raise ParamError(f"Network {net.name} is destroyed")
    if off.id == cur.id:
        raise ParamError(f"Network {net.name} already uses the network offering {off.name}")
    if off.state != "Enabled" or off.removed is not None:
        raise ParamError(f"Network offering {off.name} is not enabled")
    same_kind = (off.guest_type == cur.guest_type and off.for_vpc == cur.for_vpc and off.traffic_type == "Guest"
                 and routed_spec.is_routed(off) == routed_spec.is_routed(cur)
                 and routed_spec.is_dual_stack(off) == routed_spec.is_dual_stack(cur))
    if not same_kind:
        raise ParamError(f"Can't upgrade from network offering {cur.uuid} to {off.uuid}; check logs for more "
                         "information")
    net.network_offering_id = off.id
    session.flush()
    if net.state == "Implemented":
        networks.restart(session, net, cleanup=True)
    else:
        net.restart_required = False
    session.flush()
    return net
