"""IP forwarding rules (createIpForwardingRule): CloudStack's static NAT rules. Static NAT maps every port of a
public IP to the VM already; a forwarding rule names the port range (and protocol) the VM serves and, with
``openfirewall`` (the default), opens the router's firewall for exactly that range."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import NetworkRuleConflict, ParamError
from management.models.infra import PublicIpAddress
from management.models.rules import NetworkRule
from management.services.network import firewall, routers


def create(session: Session, ip: PublicIpAddress, *, protocol: str, start: int, end: int | None,
           open_firewall: bool) -> NetworkRule:
    if ip.source_nat or not ip.one_to_one_nat or ip.vm_id is None:
        raise NetworkRuleConflict(f"Can't do static nat on ip address: {ip.public_ip_address}")
    proto = firewall.norm_protocol(protocol, ("tcp", "udp"))
    lo, hi = firewall.check_ports(start, end if end is not None else start)
    net = firewall.ip_network(session, ip)
    firewall.detect_conflict(session, ip, "StaticNat", proto, lo, hi)
    rule = NetworkRule(purpose="StaticNat", traffic_type="Ingress", state="Active", ip_address_id=ip.id,
                       network_id=net.id, account_id=ip.account_id or net.account_id,
                       domain_id=ip.domain_id or net.domain_id, protocol=proto, start_port=lo, end_port=hi,
                       vm_id=ip.vm_id, dest_ip=ip.vm_ip)
    session.add(rule)
    session.flush()
    if open_firewall:
        firewall.create_firewall_rule(session, ip, protocol=proto, start=lo, end=hi, cidrs=None, related=rule.id)
    routers.network_changed(session, net)
    return rule


def get(session: Session, uuid: str) -> NetworkRule:
    rule = session.scalar(select(NetworkRule).where(NetworkRule.uuid == uuid, NetworkRule.removed.is_(None)))
    if rule is None or rule.purpose != "StaticNat":
        raise ParamError(f"Unable to find static nat rule by id: {uuid}")
    return rule


def revoke_all(session: Session, ip: PublicIpAddress) -> None:
    """disableStaticNat takes the IP's forwarding rules (and the firewall openings they made) along."""
    for rule in session.scalars(select(NetworkRule).where(NetworkRule.ip_address_id == ip.id,
                                                          NetworkRule.purpose == "StaticNat",
                                                          NetworkRule.removed.is_(None))):
        firewall.revoke(session, rule)
