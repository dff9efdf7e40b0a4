"""Resource limits, totals and what is left, as listAccounts and listDomains show them (`vmlimit`, `vmtotal`,
`vmavailable`, ... `primarystoragetotal`).

Totals are counted from the live rows; limits come from the `max.account.*` / `max.domain.*` settings (CloudStack's
defaults where unset; a root admin account and the ROOT domain are unlimited). Limits per account or domain
(updateResourceLimit) and their enforcement belong to the resource-limits work (issue 17): this one function is
the seam it takes over — `usage_fields` keeps its signature, the limit lookup becomes the per-owner one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.models.compute import VirtualMachine
from management.models.identity import Account, AccountType, Domain
from management.models.infra import PublicIpAddress
from management.models.network import Network
from management.models.storage import Snapshot, Template, Volume
from management.models.vpc import Vpc
from management.services import configuration

GiB = 1024**3
UNLIMITED = "Unlimited"
# response prefix -> (setting suffix, CloudStack's account default, domain default)
TYPES: dict[str, tuple[str, int, int]] = {
    "vm": ("user.vms", 20, 40), "ip": ("public.ips", 20, 40), "volume": ("volumes", 20, 40),
    "snapshot": ("snapshots", 20, 40), "template": ("templates", 20, 40), "network": ("networks", 20, 20),
    "vpc": ("vpcs", 20, 20), "cpu": ("cpus", 40, 80), "memory": ("memory", 40960, 81920),
    "primarystorage": ("primary.storage", 200, 400), "secondarystorage": ("secondary.storage", 400, 800),
    "project": ("projects", 10, 50),
}
_GONE_VM = ("Destroyed", "Expunging", "Error")


def _totals(session: Session, account_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    ids = list(set(account_ids))
    out: dict[int, dict[str, int]] = {a: defaultdict(int) for a in ids}
    if not ids:
        return out
    vm = VirtualMachine
    for acct, state, n, cpus, mem in session.execute(
            select(vm.account_id, vm.state, func.count(), func.sum(vm.cpu), func.sum(vm.ram_size))
            .where(vm.account_id.in_(ids), vm.vm_type == "User", vm.removed.is_(None), vm.state.not_in(_GONE_VM))
            .group_by(vm.account_id, vm.state)):
        t = out[acct]
        t["vm"] += n
        t["cpu"] += int(cpus or 0)
        t["memory"] += int(mem or 0)
        if state == "Running":
            t["vmrunning"] += n
        elif state == "Stopped":
            t["vmstopped"] += n
    counts = (
        ("ip", select(PublicIpAddress.account_id, func.count()).where(
            PublicIpAddress.account_id.in_(ids), PublicIpAddress.removed.is_(None),
            PublicIpAddress.state.in_(("Allocating", "Allocated"))).group_by(PublicIpAddress.account_id)),
        ("volume", select(Volume.account_id, func.count()).where(
            Volume.account_id.in_(ids), Volume.removed.is_(None)).group_by(Volume.account_id)),
        ("primarystorage", select(Volume.account_id, func.sum(Volume.size)).where(
            Volume.account_id.in_(ids), Volume.removed.is_(None)).group_by(Volume.account_id)),
        ("snapshot", select(Snapshot.account_id, func.count()).where(
            Snapshot.account_id.in_(ids), Snapshot.removed.is_(None)).group_by(Snapshot.account_id)),
        ("secondarystorage", select(Snapshot.account_id, func.sum(Snapshot.physical_size)).where(
            Snapshot.account_id.in_(ids), Snapshot.removed.is_(None)).group_by(Snapshot.account_id)),
        ("template", select(Template.account_id, func.count()).where(
            Template.account_id.in_(ids), Template.removed.is_(None),
            Template.template_type == "USER").group_by(Template.account_id)),
        ("network", select(Network.account_id, func.count()).where(
            Network.account_id.in_(ids), Network.removed.is_(None),
            Network.guest_type == "Isolated").group_by(Network.account_id)),
        ("vpc", select(Vpc.account_id, func.count()).where(
            Vpc.account_id.in_(ids), Vpc.removed.is_(None)).group_by(Vpc.account_id)),
    )
    for key, stmt in counts:
        for acct_id, value in session.execute(stmt):
            if acct_id in out:
                out[acct_id][key] += int(value or 0)
    for acct, size in session.execute(
            select(Template.account_id, func.sum(Template.size)).where(
                Template.account_id.in_(ids), Template.removed.is_(None), Template.template_type == "USER")
            .group_by(Template.account_id)):
        out[acct]["secondarystorage"] += int(size or 0)
    for t in out.values():  # storage is shown in GiB, as CloudStack does
        t["primarystorage"] = t["primarystorage"] // GiB
        t["secondarystorage"] = t["secondarystorage"] // GiB
    return out


def _limit(session: Session, scope: str, kind: str) -> int:
    suffix, account_default, domain_default = TYPES[kind]
    default = account_default if scope == "account" else domain_default
    value = configuration.get(session, f"max.{scope}.{suffix}", str(default))
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _fields(limits: dict[str, int], totals: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in TYPES:
        limit, total = limits[kind], totals.get(kind, 0)
        out[f"{kind}limit"] = UNLIMITED if limit < 0 else str(limit)
        out[f"{kind}total"] = total
        out[f"{kind}available"] = UNLIMITED if limit < 0 else str(max(limit - total, 0))
    return out


def account_usage(session: Session, accounts: Iterable[Account]) -> dict[int, dict[str, Any]]:
    """Per account id: the limit/total/available fields plus vmrunning/vmstopped."""
    accounts = list(accounts)
    totals = _totals(session, (a.id for a in accounts))
    account_limits = {k: _limit(session, "account", k) for k in TYPES}
    unlimited = dict.fromkeys(TYPES, -1)
    out = {}
    for a in accounts:
        limits = unlimited if a.account_type == AccountType.ADMIN else account_limits
        t = totals[a.id]
        out[a.id] = {**_fields(limits, t), "vmrunning": t.get("vmrunning", 0), "vmstopped": t.get("vmstopped", 0)}
    return out


def domain_usage(session: Session, domain: Domain) -> dict[str, Any]:
    """The domain's subtree summed; the ROOT domain is unlimited."""
    ids = list(session.scalars(select(Account.id).join(Domain, Domain.id == Account.domain_id).where(
        Domain.path.startswith(domain.path), Account.removed.is_(None))))
    summed: dict[str, int] = defaultdict(int)
    for t in _totals(session, ids).values():
        for k, v in t.items():
            summed[k] += v
    limits = dict.fromkeys(TYPES, -1) if domain.parent_id is None else {
        k: _limit(session, "domain", k) for k in TYPES}
    return _fields(limits, summed)
