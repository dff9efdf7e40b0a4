"""VM autoscaling on a load-balancer rule (CloudStack's AutoScale with the virtual router as provider).

Records: counters (what is measured), conditions (counter, operator, threshold), scale-up/scale-down policies
(all their conditions held for ``duration`` seconds, then ``quiettime`` seconds of rest), VM profiles (what a new
member is deployed from) and VM groups (a profile, policies and member bounds on one LB rule).

The engine (``run_once``, every ``autoscale.stats.interval`` seconds from a thread; tests call it with their own
clock): for every enabled group whose interval elapsed, it samples its members' counters from the hypervisor
(``HypervisorDriver.vm_stats``: CPU and memory), averages each counter over a policy's duration, and deploys a new
member through the compute service (and adds it to the LB rule) when a scale-up policy holds, or takes the newest
member out of the rule and destroys it when a scale-down policy holds; the group never leaves [min, max] and is
brought up to its minimum first. Counters of the router itself (LB connections, public traffic) have no samples
here, so conditions on them never hold.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from management import loops
from management.db.base import utcnow
from management.drivers.errors import DriverError
from management.errors import CloudError, ParamError
from management.models.autoscale import (
    AutoScalePolicy,
    AutoScalePolicyCondition,
    AutoScaleVmGroup,
    AutoScaleVmGroupPolicy,
    AutoScaleVmGroupStatistic,
    AutoScaleVmGroupVm,
    AutoScaleVmProfile,
    Condition,
    Counter,
)
from management.models.compute import VirtualMachine
from management.models.identity import Account
from management.models.infra import Host, Zone
from management.models.network import Network
from management.models.offerings import ServiceOffering
from management.models.rules import NetworkRule
from management.models.storage import Template
from management.services import configuration
from management.services.runtime import Runtime

log = logging.getLogger(__name__)

SOURCES = ("CPU", "MEMORY", "VIRTUALROUTER", "NETSCALER", "SNMP")
PROVIDERS = ("VirtualRouter", "VpcVirtualRouter", "Netscaler")
OPERATORS = ("GT", "GE", "LT", "LE", "EQ")
ACTIONS = ("ScaleUp", "ScaleDown")
STATS_INTERVAL = "autoscale.stats.interval"

# CloudStack's default counters of the virtual router provider (name, source, value)
DEFAULT_COUNTERS = (
    ("VM CPU - average percentage", "CPU", "vm.cpu.average.percentage"),
    ("VM Memory - average percentage", "MEMORY", "vm.memory.average.percentage"),
    ("Public Network - mbps received", "VIRTUALROUTER", "public.network.received.average.mbps"),
    ("Public Network - mbps transmit", "VIRTUALROUTER", "public.network.transmit.average.mbps"),
    ("Load Balancer - average connections per vm", "VIRTUALROUTER", "virtual.network.lb.average.connections"),
)


# ------------------------------------------------------------------------------------------------ counters

def ensure_counters(session: Session) -> None:
    if session.scalar(select(func.count()).select_from(Counter)):
        return
    for name, source, value in DEFAULT_COUNTERS:
        session.add(Counter(name=name, source=source, value=value, provider="VirtualRouter"))
    session.flush()


def create_counter(session: Session, name: str, source: str, value: str, provider: str) -> Counter:
    src = source.upper()
    if src not in SOURCES:
        raise ParamError(f"Source {source} is not supported; supported: {', '.join(SOURCES)}")
    prov = next((p for p in PROVIDERS if p.lower() == provider.lower()), None)
    if prov is None:
        raise ParamError(f"The Provider {provider} does not support AutoScale")
    row = Counter(name=name, source=src, value=value, provider=prov)
    session.add(row)
    session.flush()
    return row


def delete_counter(session: Session, counter: Counter) -> None:
    used = session.scalar(select(Condition.id).where(Condition.counter_id == counter.id,
                                                     Condition.removed.is_(None)).limit(1))
    if used is not None:
        raise ParamError(f"Counter is in use by condition {session.get_one(Condition, used).uuid}")
    counter.removed = utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ conditions

def _operator(op: str) -> str:
    o = op.upper()
    if o not in OPERATORS:
        raise ParamError(f"The Operator {op} is not supported; supported: {', '.join(OPERATORS)}")
    return o


def _threshold(value: int) -> int:
    if value < 0:
        raise ParamError("The threshold of a condition can not be negative")
    return value


def create_condition(session: Session, owner: Account, counter: Counter, operator: str,
                     threshold: int) -> Condition:
    row = Condition(counter_id=counter.id, relational_operator=_operator(operator), threshold=_threshold(threshold),
                    account_id=owner.id, domain_id=owner.domain_id)
    session.add(row)
    session.flush()
    return row


def _policies_of_condition(session: Session, cond: Condition) -> list[AutoScalePolicy]:
    ids = select(AutoScalePolicyCondition.policy_id).where(AutoScalePolicyCondition.condition_id == cond.id)
    return list(session.scalars(select(AutoScalePolicy).where(AutoScalePolicy.id.in_(ids),
                                                              AutoScalePolicy.removed.is_(None))))


def update_condition(session: Session, cond: Condition, operator: str, threshold: int) -> Condition:
    for pol in _policies_of_condition(session, cond):
        for group in groups_of_policy(session, pol):
            if group.state != "disabled":
                raise ParamError(f"Cannot update condition {cond.uuid} as it is being used in AutoScale Policy "
                                 f"{pol.uuid} of AutoScale VM group {group.uuid} which is not disabled")
    cond.relational_operator, cond.threshold = _operator(operator), _threshold(threshold)
    session.flush()
    return cond


def delete_condition(session: Session, cond: Condition) -> None:
    if _policies_of_condition(session, cond):
        raise ParamError("Cannot delete Condition when it is in use by one or more AutoScale Policies.")
    cond.removed = utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ policies

def conditions_of(session: Session, pol: AutoScalePolicy) -> list[Condition]:
    ids = select(AutoScalePolicyCondition.condition_id).where(AutoScalePolicyCondition.policy_id == pol.id)
    return list(session.scalars(select(Condition).where(Condition.id.in_(ids)).order_by(Condition.id)))


def groups_of_policy(session: Session, pol: AutoScalePolicy) -> list[AutoScaleVmGroup]:
    ids = select(AutoScaleVmGroupPolicy.vmgroup_id).where(AutoScaleVmGroupPolicy.policy_id == pol.id)
    return list(session.scalars(select(AutoScaleVmGroup).where(AutoScaleVmGroup.id.in_(ids),
                                                               AutoScaleVmGroup.removed.is_(None))))


def _check_conditions(session: Session, owner_id: int, conds: list[Condition]) -> None:
    if not conds:
        raise ParamError("AutoScale policy must have at least one condition")
    for c in conds:
        if c.account_id != owner_id:
            raise ParamError(f"Condition {c.uuid} does not belong to the owner of the AutoScale policy")
    counters = [session.get_one(Counter, c.counter_id) for c in conds]
    if len({c.provider for c in counters}) > 1:
        raise ParamError("All the counters of the conditions of an AutoScale policy must have the same provider")


def _duration(duration: int | None, quiet: int | None) -> None:
    if duration is not None and duration <= 0:
        raise ParamError("duration is an invalid value: " + str(duration))
    if quiet is not None and quiet < 0:
        raise ParamError("quiettime is an invalid value: " + str(quiet))


def create_policy(session: Session, owner: Account, *, name: str | None, action: str, duration: int,
                  quiet_time: int | None, conds: list[Condition]) -> AutoScalePolicy:
    act = next((a for a in ACTIONS if a.lower() == action.lower()), None)
    if act is None:
        raise ParamError(f"action is invalid. Supported actions are: {', '.join(ACTIONS)}")
    _duration(duration, quiet_time)
    _check_conditions(session, owner.id, conds)
    pol = AutoScalePolicy(name=name, action=act, duration=duration,
                          quiet_time=quiet_time if quiet_time is not None else 300, account_id=owner.id,
                          domain_id=owner.domain_id)
    session.add(pol)
    session.flush()
    session.add_all(AutoScalePolicyCondition(policy_id=pol.id, condition_id=c.id) for c in conds)
    session.flush()
    return pol


def update_policy(session: Session, pol: AutoScalePolicy, *, name: str | None, duration: int | None,
                  quiet_time: int | None, conds: list[Condition] | None) -> AutoScalePolicy:
    _duration(duration, quiet_time)
    for group in groups_of_policy(session, pol):
        if group.state != "disabled":
            raise ParamError("The AutoScale Policy can be updated only if the Vm Group it is associated with is "
                             "disabled in state")
    if name is not None:
        pol.name = name
    if duration is not None:
        pol.duration = duration
    if quiet_time is not None:
        pol.quiet_time = quiet_time
    if conds is not None:
        _check_conditions(session, pol.account_id, conds)
        session.execute(delete(AutoScalePolicyCondition).where(AutoScalePolicyCondition.policy_id == pol.id))
        session.add_all(AutoScalePolicyCondition(policy_id=pol.id, condition_id=c.id) for c in conds)
    session.flush()
    return pol


def delete_policy(session: Session, pol: AutoScalePolicy) -> None:
    if groups_of_policy(session, pol):
        raise ParamError("Cannot delete AutoScale Policy when it is in use by one or more AutoScale Vm Groups.")
    session.execute(delete(AutoScalePolicyCondition).where(AutoScalePolicyCondition.policy_id == pol.id))
    pol.removed = utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ profiles

def _map(items: list[dict[str, str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "name" in item and "value" in item:
            out[item["name"]] = item["value"]
        else:
            out.update(item)
    return out


def _grace(value: int | None) -> int:
    if value is not None and value < 0:
        raise ParamError("expungevmgraceperiod is an invalid value: " + str(value))
    return value if value is not None else 120


def create_profile(session: Session, owner: Account, zone: Zone, offering: ServiceOffering, template: Template, *,
                   other_deploy_params: list[dict[str, str]] | None, counter_params: list[dict[str, str]] | None,
                   grace: int | None, user_data: str | None, user_data_id: str | None,
                   user_data_details: list[dict[str, str]] | None, autoscale_user_id: int | None,
                   for_display: bool | None) -> AutoScaleVmProfile:
    if offering.is_system or offering.state != "Active":
        raise ParamError(f"Unable to find service offering by id {offering.uuid}")
    other = _map(other_deploy_params)
    prof = AutoScaleVmProfile(zone_id=zone.id, service_offering_id=offering.id, template_id=template.id,
                              other_deploy_params=json.dumps(other) if other else None,
                              counter_params=json.dumps(_map(counter_params)) if counter_params else None,
                              expunge_vm_grace_period=_grace(grace), user_data=user_data, user_data_id=user_data_id,
                              user_data_details=json.dumps(_map(user_data_details)) if user_data_details else None,
                              autoscale_user_id=autoscale_user_id, account_id=owner.id, domain_id=owner.domain_id,
                              for_display=True if for_display is None else for_display)
    session.add(prof)
    session.flush()
    return prof


def groups_of_profile(session: Session, prof: AutoScaleVmProfile) -> list[AutoScaleVmGroup]:
    return list(session.scalars(select(AutoScaleVmGroup).where(AutoScaleVmGroup.profile_id == prof.id,
                                                               AutoScaleVmGroup.removed.is_(None))))


def update_profile(session: Session, prof: AutoScaleVmProfile, **changes: Any) -> AutoScaleVmProfile:
    if any(g.state != "disabled" for g in groups_of_profile(session, prof)) and \
            any(v is not None for k, v in changes.items() if k != "for_display"):
        raise ParamError("The AutoScale Vm Profile can be updated only if the Vm Group it is associated with is "
                         "disabled in state")
    for key in ("service_offering_id", "template_id", "user_data", "user_data_id", "autoscale_user_id",
                "for_display"):
        if changes.get(key) is not None:
            setattr(prof, key, changes[key])
    if changes.get("grace") is not None:
        prof.expunge_vm_grace_period = _grace(changes["grace"])
    for key, col in (("other_deploy_params", "other_deploy_params"), ("counter_params", "counter_params"),
                     ("user_data_details", "user_data_details")):
        if changes.get(key) is not None:
            setattr(prof, col, json.dumps(_map(changes[key])))
    session.flush()
    return prof


def delete_profile(session: Session, prof: AutoScaleVmProfile) -> None:
    if groups_of_profile(session, prof):
        raise ParamError("Cannot delete AutoScale Vm Profile when it is in use by one more vm groups")
    prof.removed = utcnow()
    session.flush()


# ------------------------------------------------------------------------------------------------ groups

def policies_of(session: Session, group: AutoScaleVmGroup, action: str | None = None) -> list[AutoScalePolicy]:
    ids = select(AutoScaleVmGroupPolicy.policy_id).where(AutoScaleVmGroupPolicy.vmgroup_id == group.id)
    stmt = select(AutoScalePolicy).where(AutoScalePolicy.id.in_(ids)).order_by(AutoScalePolicy.id)
    if action is not None:
        stmt = stmt.where(AutoScalePolicy.action == action)
    return list(session.scalars(stmt))


def members(session: Session, group: AutoScaleVmGroup) -> list[VirtualMachine]:
    ids = select(AutoScaleVmGroupVm.instance_id).where(AutoScaleVmGroupVm.vmgroup_id == group.id)
    return list(session.scalars(select(VirtualMachine).where(VirtualMachine.id.in_(ids),
                                                             VirtualMachine.removed.is_(None),
                                                             VirtualMachine.state.not_in(("Destroyed", "Expunging",
                                                                                          "Error")))
                                .order_by(VirtualMachine.id)))


def _check_bounds(session: Session, lo: int, hi: int, interval: int | None) -> None:
    if lo <= 0:
        raise ParamError(f"minmembers is an invalid value: {lo}")
    if hi < lo:
        raise ParamError(f"maxmembers should be greater than or equal to minmembers: {hi} < {lo}")
    if interval is not None and interval <= 0:
        raise ParamError(f"interval is an invalid value: {interval}")


def _check_policies(up: list[AutoScalePolicy], down: list[AutoScalePolicy], owner_id: int) -> None:
    if not up or not down:
        raise ParamError("An AutoScale Vm Group needs at least one ScaleUp and one ScaleDown policy")
    for pols, action, what in ((up, "ScaleUp", "scaleuppolicyids"), (down, "ScaleDown", "scaledownpolicyids")):
        for p in pols:
            if p.action != action:
                raise ParamError(f"Only {action} policies can be specified in {what}")
            if p.account_id != owner_id:
                raise ParamError(f"AutoScale policy {p.uuid} does not belong to the owner of the Vm Group")


def _set_policies(session: Session, group: AutoScaleVmGroup, up: list[AutoScalePolicy],
                  down: list[AutoScalePolicy]) -> None:
    session.execute(delete(AutoScaleVmGroupPolicy).where(AutoScaleVmGroupPolicy.vmgroup_id == group.id))
    session.add_all(AutoScaleVmGroupPolicy(vmgroup_id=group.id, policy_id=p.id) for p in up + down)


def create_group(session: Session, rule: NetworkRule, prof: AutoScaleVmProfile, *, name: str | None, lo: int,
                 hi: int, interval: int | None, up: list[AutoScalePolicy], down: list[AutoScalePolicy],
                 for_display: bool | None) -> AutoScaleVmGroup:
    if rule.purpose != "LoadBalancing" or rule.removed is not None:
        raise ParamError(f"Unable to find load balancer rule {rule.uuid}")
    if prof.account_id != rule.account_id:
        raise ParamError("AutoScale Vm Profile and load balancer rule should belong to the same account")
    net = session.get_one(Network, rule.network_id)
    if prof.zone_id != net.zone_id:
        raise ParamError("The zone of the AutoScale Vm Profile and of the load balancer rule differ")
    if session.scalar(select(AutoScaleVmGroup.id).where(AutoScaleVmGroup.load_balancer_id == rule.id,
                                                        AutoScaleVmGroup.removed.is_(None))) is not None:
        raise ParamError(f"There is already a AutoScale Vm Group on the load balancer rule {rule.uuid}")
    _check_bounds(session, lo, hi, interval)
    _check_policies(up, down, rule.account_id)
    group = AutoScaleVmGroup(name=name, zone_id=net.zone_id, load_balancer_id=rule.id, profile_id=prof.id,
                             min_members=lo, max_members=hi, member_port=rule.dest_start_port or 0,
                             interval=interval or 30, state="enabled", account_id=rule.account_id,
                             domain_id=rule.domain_id, for_display=True if for_display is None else for_display)
    session.add(group)
    session.flush()
    _set_policies(session, group, up, down)
    session.flush()
    return group


def update_group(session: Session, group: AutoScaleVmGroup, *, name: str | None, lo: int | None, hi: int | None,
                 interval: int | None, up: list[AutoScalePolicy] | None, down: list[AutoScalePolicy] | None,
                 for_display: bool | None) -> AutoScaleVmGroup:
    if any(v is not None for v in (lo, hi, interval, up, down)) and group.state != "disabled":
        raise ParamError("An AutoScale Vm Group can be updated only when it is in disabled state")
    new_lo = lo if lo is not None else group.min_members
    new_hi = hi if hi is not None else group.max_members
    _check_bounds(session, new_lo, new_hi, interval)
    if up is not None or down is not None:
        cur_up = policies_of(session, group, "ScaleUp")
        cur_down = policies_of(session, group, "ScaleDown")
        _check_policies(up if up is not None else cur_up, down if down is not None else cur_down, group.account_id)
        _set_policies(session, group, up if up is not None else cur_up, down if down is not None else cur_down)
    group.min_members, group.max_members = new_lo, new_hi
    if interval is not None:
        group.interval = interval
    if name is not None:
        group.name = name
    if for_display is not None:
        group.for_display = for_display
    session.flush()
    return group


def set_state(session: Session, group: AutoScaleVmGroup, enable: bool) -> AutoScaleVmGroup:
    if enable and group.state != "disabled":
        raise ParamError("Only a AutoScale Vm Group which is in Disabled state can be enabled.")
    if not enable and group.state not in ("enabled", "scaling"):
        raise ParamError("Only a AutoScale Vm Group which is in Enabled state can be disabled.")
    group.state = "enabled" if enable else "disabled"
    session.flush()
    return group


def groups_on_rule(session: Session, rule: NetworkRule) -> list[AutoScaleVmGroup]:
    return list(session.scalars(select(AutoScaleVmGroup).where(AutoScaleVmGroup.load_balancer_id == rule.id,
                                                               AutoScaleVmGroup.removed.is_(None))))


# ------------------------------------------------------------------------------------------------ engine

def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _compare(value: float, op: str, threshold: float) -> bool:
    return {"GT": value > threshold, "GE": value >= threshold, "LT": value < threshold,
            "LE": value <= threshold, "EQ": value == threshold}[op]


def _sample(runtime: Runtime, group_id: int, now: datetime) -> None:
    """One sample of every CPU/MEMORY counter the group's policies use, per Running member."""
    from management.services.hypervisors import driver_for

    with runtime.db.session() as s:
        group = s.get_one(AutoScaleVmGroup, group_id)
        counters = {c.id: c for pol in policies_of(s, group) for cond in conditions_of(s, pol)
                    for c in [s.get_one(Counter, cond.counter_id)] if c.source in ("CPU", "MEMORY")}
        targets = [(vm.id, vm.uuid, s.get(Host, vm.host_id)) for vm in members(s, group)
                   if vm.state == "Running" and vm.host_id is not None]
    if not counters:
        return
    rows = []
    for vm_id, uuid, host in targets:
        if host is None:
            continue
        try:
            stats = driver_for(runtime, host).vm_stats(uuid)
        except (DriverError, CloudError) as exc:
            log.info("autoscale: no statistics of VM %s: %s", uuid, exc)
            continue
        for c in counters.values():
            value = stats.cpu_percent if c.source == "CPU" else stats.memory_percent
            rows.append(AutoScaleVmGroupStatistic(vmgroup_id=group_id, counter_id=c.id, resource_id=vm_id,
                                                  value=float(value), created=now))
    if rows:
        with runtime.db.session() as s:
            s.add_all(rows)


def _holds(session: Session, group: AutoScaleVmGroup, pol: AutoScalePolicy, now: datetime) -> bool:
    """All the policy's conditions hold on the members' average over the policy's duration (which must be
    covered by samples: at least duration/interval rounds of them)."""
    since = now - timedelta(seconds=pol.duration)
    need = max(1, pol.duration // max(group.interval, 1))
    conds = conditions_of(session, pol)
    if not conds:
        return False
    for cond in conds:
        window = select(AutoScaleVmGroupStatistic).where(AutoScaleVmGroupStatistic.vmgroup_id == group.id,
                                                         AutoScaleVmGroupStatistic.counter_id == cond.counter_id,
                                                         AutoScaleVmGroupStatistic.created > since,
                                                         AutoScaleVmGroupStatistic.created <= now)
        samples = list(session.scalars(window))
        if len({r.created for r in samples}) < need:
            return False
        avg = sum(r.value for r in samples) / len(samples)
        if not _compare(avg, cond.relational_operator, cond.threshold):
            return False
    return True


def _quiet(pol: AutoScalePolicy, now: datetime) -> bool:
    return pol.last_quiet_time is not None and now < pol.last_quiet_time + timedelta(seconds=pol.quiet_time)


def _member_name(group: AutoScaleVmGroup, seq: int) -> str:
    base = re.sub(r"[^A-Za-z0-9-]", "-", group.name or f"group{group.id}").strip("-")[:30] or f"group{group.id}"
    return f"autoScaleVm-{base}-{seq}"


def scale_up(runtime: Runtime, group_id: int) -> int | None:
    """Deploys one member from the group's profile on the LB rule's network and adds it to the rule."""
    from management.services.compute import vm as vm_service
    from management.services.network import loadbalancer

    with runtime.db.session() as s:
        group = s.get_one(AutoScaleVmGroup, group_id)
        prof = s.get_one(AutoScaleVmProfile, group.profile_id)
        rule = s.get_one(NetworkRule, group.load_balancer_id)
        other = json.loads(prof.other_deploy_params or "{}")
        nets = [s.get_one(Network, rule.network_id)]
        for uuid in [u for u in str(other.get("networkids", "")).split(",") if u]:
            extra = s.scalar(select(Network).where(Network.uuid == uuid, Network.removed.is_(None)))
            if extra is not None and extra.id != nets[0].id:
                nets.append(extra)
        seq = group.next_vm_seq
        group.next_vm_seq = seq + 1
        req = vm_service.DeployRequest(
            owner=s.get_one(Account, group.account_id), zone=s.get_one(Zone, prof.zone_id),
            offering=s.get_one(ServiceOffering, prof.service_offering_id),
            template=s.get_one(Template, prof.template_id), name=_member_name(group, seq),
            displayname=_member_name(group, seq), userdata=prof.user_data, networks=nets,
            keypairs=[k for k in str(other.get("keypairs", other.get("keypair", ""))).split(",") if k] or None)
        vm = vm_service.allocate(s, req)
        s.add(AutoScaleVmGroupVm(vmgroup_id=group.id, instance_id=vm.id, created=utcnow()))
        vm_id = vm.id
    vm_service.start(runtime, vm_id, deploy=True)
    with runtime.db.session() as s:
        rule = s.get_one(NetworkRule, s.get_one(AutoScaleVmGroup, group_id).load_balancer_id)
        loadbalancer.assign(s, rule, [(s.get_one(VirtualMachine, vm_id), None)])
    log.info("autoscale: group %s scaled up with VM %s", group_id, vm_id)
    return vm_id


def scale_down(runtime: Runtime, group_id: int) -> int | None:
    """Takes the newest member out of the LB rule and destroys it."""
    from management.services.compute import vm as vm_service
    from management.services.network import loadbalancer

    with runtime.db.session() as s:
        group = s.get_one(AutoScaleVmGroup, group_id)
        mem = members(s, group)
        if not mem:
            return None
        vm = mem[-1]
        rule = s.get_one(NetworkRule, group.load_balancer_id)
        if vm.id in {m.vm_id for m in loadbalancer.members(s, rule)}:
            loadbalancer.remove(s, rule, [vm])
        s.execute(delete(AutoScaleVmGroupVm).where(AutoScaleVmGroupVm.vmgroup_id == group.id,
                                                   AutoScaleVmGroupVm.instance_id == vm.id))
        vm_id = vm.id
    vm_service.destroy(runtime, vm_id)
    log.info("autoscale: group %s scaled down by VM %s", group_id, vm_id)
    return vm_id


def evaluate(runtime: Runtime, group_id: int, now: datetime | None = None) -> str | None:
    """One round for one group: sample, then at most one action. Returns "ScaleUp"/"ScaleDown"/None."""
    now = _now(now)
    with runtime.db.session() as s:
        group = s.get_one(AutoScaleVmGroup, group_id)
        if group.state != "enabled" or group.removed is not None:
            return None
        count = len(members(s, group))
        lo, hi = group.min_members, group.max_members
    if count < lo:
        scale_up(runtime, group_id)
        return "ScaleUp"
    if count > hi:
        scale_down(runtime, group_id)
        return "ScaleDown"
    _sample(runtime, group_id, now)
    with runtime.db.session() as s:
        group = s.get_one(AutoScaleVmGroup, group_id)
        group.last_interval = now
        action = None
        for pol in policies_of(s, group, "ScaleUp"):
            if count < hi and not _quiet(pol, now) and _holds(s, group, pol, now):
                action, pol.last_quiet_time = "ScaleUp", now
                break
        if action is None:
            for pol in policies_of(s, group, "ScaleDown"):
                if count > lo and not _quiet(pol, now) and _holds(s, group, pol, now):
                    action, pol.last_quiet_time = "ScaleDown", now
                    break
        # samples older than the longest policy are of no further use
        longest = max((p.duration for p in policies_of(s, group)), default=0)
        s.execute(delete(AutoScaleVmGroupStatistic).where(
            AutoScaleVmGroupStatistic.vmgroup_id == group.id,
            AutoScaleVmGroupStatistic.created < now - timedelta(seconds=longest + group.interval)))
    if action == "ScaleUp":
        scale_up(runtime, group_id)
    elif action == "ScaleDown":
        scale_down(runtime, group_id)
    return action


def fill_minimum(runtime: Runtime, group_id: int) -> int:
    """An enabled group below its minimum gets members up to it (a new or re-enabled group); returns how many."""
    added = 0
    while True:
        with runtime.db.session(write=False) as s:
            group = s.get_one(AutoScaleVmGroup, group_id)
            if group.state != "enabled" or len(members(s, group)) >= group.min_members:
                return added
        scale_up(runtime, group_id)
        added += 1


def run_once(runtime: Runtime, now: datetime | None = None) -> dict[int, str | None]:
    """Every enabled group whose interval elapsed gets a round."""
    now = _now(now)
    with runtime.db.session(write=False) as s:
        due = [g.id for g in s.scalars(select(AutoScaleVmGroup).where(AutoScaleVmGroup.removed.is_(None),
                                                                     AutoScaleVmGroup.state == "enabled"))
               if g.last_interval is None or now >= g.last_interval + timedelta(seconds=g.interval)]
    out: dict[int, str | None] = {}
    for gid in due:
        try:
            out[gid] = evaluate(runtime, gid, now)
        except CloudError as exc:
            log.warning("autoscale round of group %s failed: %s", gid, exc.text)
            out[gid] = None
    return out


def delete_group(runtime: Runtime, group_id: int, cleanup: bool) -> None:
    with runtime.db.session() as s:
        group = s.get_one(AutoScaleVmGroup, group_id)
        ids = [vm.id for vm in members(s, group)]
        if ids and not cleanup:
            raise ParamError("Cannot delete AutoScale Vm Group as it has Vms; delete it with cleanup=true")
        group.state = "revoke"
    for _ in ids:
        scale_down(runtime, group_id)
    with runtime.db.session() as s:
        group = s.get_one(AutoScaleVmGroup, group_id)
        s.execute(delete(AutoScaleVmGroupPolicy).where(AutoScaleVmGroupPolicy.vmgroup_id == group.id))
        s.execute(delete(AutoScaleVmGroupStatistic).where(AutoScaleVmGroupStatistic.vmgroup_id == group.id))
        group.removed = utcnow()


# ------------------------------------------------------------------------------------------------ the thread

class AutoScaler:
    """Runs ``run_once`` every ``autoscale.stats.interval`` seconds (0 or less: off)."""

    def __init__(self, runtime: Runtime, stop_event: threading.Event | None = None) -> None:
        self.runtime = runtime
        self._loop = loops.Loop("autoscaler", self._interval, lambda: run_once(self.runtime), stop_event=stop_event)

    def _interval(self) -> float:
        with self.runtime.db.session(write=False) as s:
            return configuration.get_float(s, STATS_INTERVAL, 60.0)

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)


def start(runtime: Runtime, stop_event: threading.Event | None = None) -> AutoScaler:
    a = runtime.extras.get("autoscaler")
    if a is None:
        a = runtime.extras["autoscaler"] = AutoScaler(runtime, stop_event)
        a.start()
    return a  # type: ignore[no-any-return]


def stop(runtime: Runtime) -> None:
    a = runtime.extras.pop("autoscaler", None)
    if a is not None:
        a.stop()

