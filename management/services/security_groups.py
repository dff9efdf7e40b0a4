"""Security groups (records): per-account groups with ingress/egress rules, the account's "default" group.
Enforcement on the host bridge (network.security_groups.SecurityGroupEnforcer) is not wired yet."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError, ResourceInUse
from management.models.identity import Account
from management.models.rules import SecurityGroup, SecurityGroupRule, SecurityGroupVmMap
from management.services import firewall


def default_group(session: Session, account: Account) -> SecurityGroup:
    sg = session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == account.id,
                                                    SecurityGroup.name == "default", SecurityGroup.removed.is_(None)))
    if sg is None:
        sg = SecurityGroup(name="default", description="Default Security Group", account_id=account.id,
                           domain_id=account.domain_id)
        session.add(sg)
        session.flush()
    return sg


def create(session: Session, account: Account, name: str, description: str | None) -> SecurityGroup:
    if not name or name.lower() == "default" and session.scalar(select(SecurityGroup.id).where(
            SecurityGroup.account_id == account.id, SecurityGroup.name == "default")) is not None:
        raise ParamError(f"Unable to create security group, a group with name {name} already exists.")
    if session.scalar(select(SecurityGroup.id).where(SecurityGroup.account_id == account.id,
                                                     SecurityGroup.name == name,
                                                     SecurityGroup.removed.is_(None))) is not None:
        raise ParamError(f"Unable to create security group, a group with name {name} already exists.")
    sg = SecurityGroup(name=name, description=description, account_id=account.id, domain_id=account.domain_id)
    session.add(sg)
    session.flush()
    return sg


def delete(session: Session, sg: SecurityGroup) -> None:
    if sg.name == "default":
        raise ParamError("The network default security group cannot be deleted")
    if session.scalar(select(SecurityGroupVmMap.id).where(SecurityGroupVmMap.security_group_id == sg.id)
                      .limit(1)) is not None:
        raise ResourceInUse(f"Cannot delete security group {sg.name}: it is in use by virtual machines")
    for r in session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == sg.id)):
        session.delete(r)
    session.delete(sg)
    session.flush()


def authorize(session: Session, sg: SecurityGroup, kind: str, *, protocol: str | None, start: int | None,
              end: int | None, icmp_type: int | None, icmp_code: int | None, cidrs: list[str] | None,
              groups: list[SecurityGroup]) -> list[SecurityGroupRule]:
    proto = firewall.norm_protocol(protocol or "all")
    if proto in ("tcp", "udp"):
        start, end = firewall.check_ports(start, end)
        if start is None:
            raise ParamError("startport and endport are required for tcp/udp rules")
    c = firewall.norm_cidrs(cidrs, default=None)
    targets: list[tuple[str | None, int | None]] = [(x, None) for x in (c.split(",") if c else [])]
    targets += [(None, g.id) for g in groups]
    if not targets:
        raise ParamError("At least one cidrlist or usersecuritygrouplist is required")
    out = []
    for cidr, gid in targets:
        r = SecurityGroupRule(security_group_id=sg.id, type=kind, protocol=proto, start_port=start, end_port=end,
                              icmp_type=icmp_type if proto == "icmp" else None,
                              icmp_code=icmp_code if proto == "icmp" else None, cidr=cidr, allowed_group_id=gid)
        session.add(r)
        out.append(r)
    session.flush()
    return out
