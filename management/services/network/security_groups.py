"""Security groups: per-account groups with ingress/egress rules, the account's "default" group, VM membership
(deployVirtualMachine securitygroupids/securitygroupnames, else the default group, in SG-enabled zones), and their
enforcement on the host bridge.

Enforcement: every NIC of a running VM in a security-group-enabled zone on a local libvirt host gets a
``NicSecurity`` (rules of all its groups; a rule naming a group resolves to the IPs of that group's running members)
applied by ``network.security_groups.SecurityGroupEnforcer`` on the NIC's tap (read from the live domain,
``DomainInfo.extra["taps"]``). It is re-applied for every such VM after a VM starts, stops or is expunged (members
change) and after a rule is authorized or revoked; a stopped VM's chains are removed. Ingress is closed unless a rule
opens it; egress is open until a first egress rule exists (CloudStack's semantics).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session

from management.db.prepared import prepared
from management.errors import ParamError, ResourceInUse
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import Host, Zone
from management.models.network import Nic
from management.models.rules import SecurityGroup, SecurityGroupRule, SecurityGroupVmMap
from management.network.provider import PortRange
from management.network.security_groups import NicSecurity, SecurityGroupEnforcer, SgRule
from management.services import hypervisors, naming
from management.services.context import Caller
from management.services.network import firewall

log = logging.getLogger(__name__)
LIVE = ("Starting", "Running", "Stopping")


def find_default_group(session: Session, account: Account) -> SecurityGroup | None:
    return session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == account.id,
                                                      SecurityGroup.name == "default", SecurityGroup.removed.is_(None)))


def default_group(session: Session, account: Account) -> SecurityGroup:
    sg = find_default_group(session, account)
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
    # One statement for the rules, flushed before the group: the unit of work does not order two deletes that are
    # linked only by a foreign key, and a group deleted first would cascade its rules away under their own DELETE.
    session.execute(sa_delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id == sg.id),
                    execution_options={"synchronize_session": "fetch"})
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


# ------------------------------------------------------------------------------------------------ membership

def groups_for_deploy(session: Session, caller: Caller, owner: Account, zone: Zone, ids: list[str] | None,
                      names: list[str] | None) -> list[SecurityGroup]:
    """The groups a new VM joins: the given ones (by id or by the owner's group names), else the owner's default
    group, in a security-group-enabled zone; none elsewhere (and naming groups there is an error)."""
    from management.services import access

    if ids and names:
        raise ParamError("securitygroupids parameter is mutually exclusive with securitygroupnames parameter")
    if not zone.security_groups_enabled:
        if ids or names:
            raise ParamError("Can't create vm with security groups; security group feature is not enabled in "
                             f"zone {zone.name}")
        return []
    out: list[SecurityGroup] = []
    for uuid in ids or []:
        out.append(access.resolve(session, caller, "SecurityGroup", uuid, "read"))
    for name in names or []:
        g = session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == owner.id,
                                                       SecurityGroup.name == name, SecurityGroup.removed.is_(None)))
        if g is None:
            raise ParamError(f"Unable to find security group by name {name}")
        out.append(g)
    for g in out:
        if g.account_id != owner.id:
            raise ParamError(f"Security group {g.name} does not belong to the VM's account")
    return out or [default_group(session, owner)]


def join(session: Session, vm: VirtualMachine, groups: list[SecurityGroup]) -> None:
    for g in {g.id: g for g in groups}.values():
        session.add(SecurityGroupVmMap(security_group_id=g.id, vm_id=vm.id))
    session.flush()


def replace_groups(runtime: Any, session: Session, vm: VirtualMachine, groups: list[SecurityGroup]) -> None:
    """The VM's groups become exactly `groups` (EC2 ModifyInstanceAttribute groupSet); rules are re-applied."""
    if not groups:
        raise ParamError("A virtual machine must be in at least one security group")
    for g in groups:
        if g.account_id != vm.account_id:
            raise ParamError(f"Security group {g.name} does not belong to the VM's account")
    session.execute(sa_delete(SecurityGroupVmMap).where(SecurityGroupVmMap.vm_id == vm.id),
                    execution_options={"synchronize_session": "fetch"})
    join(session, vm, groups)
    zone = session.get(Zone, vm.zone_id)
    if zone is not None and zone.security_groups_enabled:
        changed(runtime, session)


def groups_of(session: Session, vm_ids: list[int]) -> dict[int, list[SecurityGroup]]:
    out: dict[int, list[SecurityGroup]] = {i: [] for i in vm_ids}
    if vm_ids:
        stmt = prepared("security-groups-of", lambda: select(SecurityGroupVmMap.vm_id, SecurityGroup).join(
            SecurityGroup, SecurityGroup.id == SecurityGroupVmMap.security_group_id).where(
            SecurityGroupVmMap.vm_id.in_(bindparam("ids", expanding=True))).order_by(SecurityGroup.id))
        for vm_id, g in session.execute(stmt, {"ids": list(vm_ids)}):
            out[vm_id].append(g)
    return out


# ------------------------------------------------------------------------------------------------ enforcement

def enforcer(runtime: Any) -> SecurityGroupEnforcer:
    e = runtime.extras.get("sg_enforcer")
    if e is None:
        with runtime.db.session(write=False) as s:
            table = naming.sg_table(naming.cloud_id(s))
        e = runtime.extras["sg_enforcer"] = SecurityGroupEnforcer(Path(runtime.settings.state_dir) / "network", table)
    return e  # type: ignore[no-any-return]


def _member_ips(session: Session, group_id: int, cache: dict[int, tuple[str, ...]]) -> tuple[str, ...]:
    if group_id not in cache:
        cache[group_id] = tuple(sorted(set(session.scalars(
            select(Nic.ip4_address).join(VirtualMachine, VirtualMachine.id == Nic.instance_id)
            .join(SecurityGroupVmMap, SecurityGroupVmMap.vm_id == VirtualMachine.id)
            .where(SecurityGroupVmMap.security_group_id == group_id, Nic.removed.is_(None),
                   Nic.ip4_address.is_not(None), VirtualMachine.removed.is_(None),
                   VirtualMachine.state.in_(LIVE))))))  # type: ignore[arg-type]
    return cache[group_id]


def vm_rules(session: Session, vm: VirtualMachine, cache: dict[int, tuple[str, ...]] | None = None
             ) -> tuple[tuple[SgRule, ...], tuple[SgRule, ...]]:
    """(ingress, egress) of the VM: the rules of all its groups."""
    cache = {} if cache is None else cache
    gids = list(session.scalars(select(SecurityGroupVmMap.security_group_id).where(SecurityGroupVmMap.vm_id == vm.id)))
    ingress: list[SgRule] = []
    egress: list[SgRule] = []
    for r in session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(gids))
                             .order_by(SecurityGroupRule.id)) if gids else []:
        ports = None
        if r.protocol in ("tcp", "udp") and r.start_port is not None:
            ports = PortRange(r.start_port, r.end_port if r.end_port not in (None, r.start_port) else None)
        rule = SgRule(protocol=r.protocol, ports=ports, icmp_type=r.icmp_type, icmp_code=r.icmp_code,
                      cidrs=(r.cidr,) if r.cidr else (),
                      member_ips=_member_ips(session, r.allowed_group_id, cache) if r.allowed_group_id else ())
        (ingress if r.type == "ingress" else egress).append(rule)
    return tuple(ingress), tuple(egress)


def _enforced_host(session: Session, vm: VirtualMachine) -> Host | None:
    """The VM's host when its NICs are filtered here: running, SG-enabled zone, local libvirt host."""
    from management.services.infra import kvm

    if vm.state != "Running" or vm.host_id is None or vm.removed is not None:
        return None
    zone = session.get(Zone, vm.zone_id)
    host = session.get(Host, vm.host_id)
    if zone is None or not zone.security_groups_enabled or host is None or not host.url:
        return None
    return host if kvm.is_libvirt_url(host.url) and kvm.is_local(host.url) else None


def _index(runtime: Any, vm_uuid: str) -> Path:
    d = enforcer(runtime).dir / "vms"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{vm_uuid}.json"


def enforce_vm(runtime: Any, session: Session, vm: VirtualMachine,
               cache: dict[int, tuple[str, ...]] | None = None) -> list[str]:
    """(Re)apply the VM's rules on its taps; returns the devices filtered."""
    host = _enforced_host(session, vm)
    if host is None:
        return []
    info = hypervisors.driver_for(runtime, host).get_domain(vm.uuid)
    if info is None:
        return []
    taps = dict(t.split("=", 1) for t in (info.extra.get("taps") or "").split(",") if "=" in t)
    ingress, egress = vm_rules(session, vm, cache)
    enf = enforcer(runtime)
    devices = []
    for nic in session.scalars(select(Nic).where(Nic.instance_id == vm.id, Nic.removed.is_(None),
                                                 Nic.ip4_address.is_not(None))):
        dev = taps.get(nic.mac_address.lower())
        if dev is None:
            log.warning("VM %s: no tap for NIC %s; security groups not applied to it", vm.name, nic.mac_address)
            continue
        enf.apply(NicSecurity(device=dev, mac=nic.mac_address.lower(), ips=(nic.ip4_address,),  # type: ignore
                              ingress=ingress, egress=egress))
        devices.append(dev)
    idx = _index(runtime, vm.uuid)
    old = _read_index(idx)
    for dev in set(old) - set(devices):
        enf.remove(dev)
    idx.write_text(json.dumps(devices))
    return devices


def _read_index(idx: Path) -> list[str]:
    try:
        return list(json.loads(idx.read_text()))
    except (OSError, ValueError):
        return []


def unenforce_vm(runtime: Any, vm_uuid: str) -> None:
    idx = _index(runtime, vm_uuid)
    for dev in _read_index(idx):
        enforcer(runtime).remove(dev)
    idx.unlink(missing_ok=True)


def enforce_all(runtime: Any, session: Session) -> dict[str, Any]:
    """Re-apply every running VM of a security-group zone (member IP sets follow membership and VM states)."""
    out: dict[str, Any] = {}
    cache: dict[int, tuple[str, ...]] = {}
    # Only VMs on local libvirt hosts are filtered here (`_enforced_host`): the host URL prefilter keeps this from
    # walking every running VM of the zone (a host lookup each) on every VM start/stop: O(VMs) per deploy.
    vms = session.scalars(select(VirtualMachine).join(Zone, Zone.id == VirtualMachine.zone_id)
                          .join(Host, Host.id == VirtualMachine.host_id).where(
        Zone.security_groups_enabled.is_(True), VirtualMachine.state == "Running", VirtualMachine.removed.is_(None),
        VirtualMachine.vm_type == "User", or_(*(Host.url.like(f"{scheme}%") for scheme in ("qemu", "lxc", "xen")))))
    for vm in vms:
        try:
            out[vm.name] = enforce_vm(runtime, session, vm, cache)
        except Exception as e:  # noqa: BLE001 - one VM must not keep the others unfiltered
            log.warning("security groups of VM %s not applied: %s", vm.name, e)
            out[vm.name] = e
    return out


def changed(runtime: Any, session: Session) -> None:
    """A rule or membership changed: re-apply (in the caller's transaction, after a flush)."""
    if runtime is None:
        return
    session.flush()
    enforce_all(runtime, session)


def _guarded(facts: hypervisors.VmFacts) -> bool:
    """Whether host-side security groups apply to the VM: a user VM in a zone with groups."""
    return facts.vm_type == "User" and facts.security_groups_enabled


def _on_vm(runtime: Any, vm_id: int, event: str, facts: hypervisors.VmFacts) -> None:
    if event == "expunged":  # an expunged VM leaves its groups (they can be deleted then)
        with runtime.db.session() as s:
            for m in s.scalars(select(SecurityGroupVmMap).where(SecurityGroupVmMap.vm_id == vm_id)):
                s.delete(m)
    # every VM start and stop passes here, in zones without groups too: the caller's facts say whether to act
    if not _guarded(facts):
        return
    # Enforcement only reads the database: a read transaction, not the SQLite write lock.
    with runtime.db.session(write=False) as s:
        if event != "started":
            unenforce_vm(runtime, facts.uuid)
        enforce_all(runtime, s)
        s.commit()


hypervisors.LIFECYCLE_HOOKS.append(_on_vm)
