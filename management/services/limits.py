"""Resource limits and counts for accounts, projects (their project account) and domains.

Counts are computed from the resource tables themselves (what an account holds now), never kept in a second
counter that could drift: updateResourceCount is therefore always exact, and the number a limit check compares
is the number a recount gives. A check that could let two concurrent allocations both pass takes row locks on
the owner's account and domain chain first (MariaDB: SELECT ... FOR UPDATE; SQLite: writers are serialised by
BEGIN IMMEDIATE) and reads the counts past its own transaction's snapshot, so the second allocation sees the
first one's rows once it commits.

Limits: an explicit row (updateResourceLimit) or the global default (max.account.* / max.project.* /
max.domain.*); root admin accounts and the ROOT domain are unlimited. A domain without its own limit inherits the
nearest ancestor's explicit one (CloudStack's findCorrectResourceLimitForDomain).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from management.db.base import lock_rows
from management.db.prepared import prepared
from management.db.subtree import in_subtree
from management.errors import ParamError, ResourceLimitExceeded
from management.models.compute import VirtualMachine
from management.models.governance import ResourceLimit
from management.models.identity import Account, AccountType, Domain
from management.models.infra import PublicIpAddress, VlanIpRange
from management.models.network import Network
from management.models.projects import Project, ProjectAccount
from management.models.storage import Snapshot, Template, Volume
from management.models.vpc import Vpc
from management.services import configuration

GiB = 1024**3
UNLIMITED = -1


@dataclass(frozen=True, slots=True)
class ResourceType:
    name: str
    ordinal: int
    setting: str | None  # suffix of max.account.<x> / max.domain.<x> / max.project.<x>
    storage: bool = False  # limits given and shown in GiB, counted in bytes


# CloudStack's Resource.ResourceType, in ordinal order (clients pass resourcetype as the ordinal).
TYPES: tuple[ResourceType, ...] = (
    ResourceType("user_vm", 0, "user.vms"),
    ResourceType("public_ip", 1, "public.ips"),
    ResourceType("volume", 2, "volumes"),
    ResourceType("snapshot", 3, "snapshots"),
    ResourceType("template", 4, "templates"),
    ResourceType("project", 5, "projects"),
    ResourceType("network", 6, "networks"),
    ResourceType("vpc", 7, "vpcs"),
    ResourceType("cpu", 8, "cpus"),
    ResourceType("memory", 9, "memory"),
    ResourceType("primary_storage", 10, "primary.storage", storage=True),
    ResourceType("secondary_storage", 11, "secondary.storage", storage=True),
    ResourceType("backup", 12, "backups"),
    ResourceType("backup_storage", 13, "backup.storage", storage=True),
    ResourceType("bucket", 14, "buckets"),
    ResourceType("object_storage", 15, "object.storage", storage=True),
    ResourceType("gpu", 16, "gpus"),
)
BY_NAME = {t.name: t for t in TYPES}
BY_ORDINAL = {t.ordinal: t for t in TYPES}

# Global defaults (CloudStack's Config / ConfigKey defaults). Projects have no project-count limit.
DEFAULTS: dict[str, dict[str, int]] = {
    "account": {"user_vm": 20, "public_ip": 20, "volume": 20, "snapshot": 20, "template": 20, "project": 10,
                "network": 20, "vpc": 20, "cpu": 40, "memory": 40960, "primary_storage": 200,
                "secondary_storage": 400, "backup": 20, "backup_storage": 400, "bucket": 20,
                "object_storage": 400, "gpu": 20},
    "domain": {"user_vm": 40, "public_ip": 40, "volume": 40, "snapshot": 40, "template": 40, "project": 50,
               "network": 40, "vpc": 50, "cpu": 80, "memory": 81920, "primary_storage": 400,
               "secondary_storage": 800, "backup": 40, "backup_storage": 800, "bucket": 50,
               "object_storage": 800, "gpu": 40},
    "project": {"user_vm": 20, "public_ip": 20, "volume": 20, "snapshot": 20, "template": 20, "network": 20,
                "vpc": 20, "cpu": 40, "memory": 40960, "primary_storage": 200, "secondary_storage": 400,
                "backup": 20, "backup_storage": 400, "bucket": 20, "object_storage": 400, "gpu": 20},
}


def setting_name(scope: str, rtype: ResourceType) -> str:
    return f"max.{scope}.{rtype.setting}"


def resolve_type(value: int | str | None, name: str | None = None) -> ResourceType:
    if name is not None:
        t = BY_NAME.get(name.lower())
        if t is None:
            raise ParamError(f"Please specify a valid resource type name: {name} is not one of "
                             f"{', '.join(BY_NAME)}")
        return t
    try:
        return BY_ORDINAL[int(value)]  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        raise ParamError(f"Please specify valid resource type; {value} is not a valid resource type") from None


# ------------------------------------------------------------------------------------------------ counting

def _live_vms() -> Any:
    return (VirtualMachine.removed.is_(None), VirtualMachine.vm_type == "User",
            VirtualMachine.state.not_in(("Destroyed", "Error", "Expunging")))


def _counted_volumes() -> Any:
    user_vm = select(VirtualMachine.id).where(VirtualMachine.vm_type == "User")
    return (Volume.removed.is_(None), Volume.state.not_in(("Destroy", "Expunging", "Expunged", "Error")),
            or_(Volume.instance_id.is_(None), Volume.instance_id.in_(user_vm)))


def _counted_snapshots() -> Any:
    return Snapshot.removed.is_(None), Snapshot.state.not_in(("Destroyed", "Error"))


def _counted_templates() -> Any:
    return Template.removed.is_(None), Template.template_type.not_in(("SYSTEM", "BUILTIN", "ROUTING"))


def _group(stmt: Any, col: Any) -> Select[Any]:
    """Per owner, for the owners the statement is executed with (`ids`, an expanding parameter)."""
    return stmt.where(col.in_(bindparam("ids", expanding=True))).group_by(col)  # type: ignore[no-any-return]


Counter = Callable[[], Select[Any]]

# (types, counter): the counter builds the statement (once: it is kept prepared) that gives (account_id, amount,
# ...) rows for the owner ids it is executed with, one amount per type in order. Types read from the same rows
# share one statement: listAccounts, listDomains and listProjects count every type for their owners, so each
# statement here runs once per list call. An amount of a type under several counters adds up (secondary storage:
# snapshots and templates). Families with resources of their own add theirs with `register_counter`.
COUNTERS: list[tuple[tuple[str, ...], Counter]] = [
    # vm_running and vm_stopped are no limited type: listAccounts shows them (vmrunning, vmstopped) beside the rest
    (("user_vm", "cpu", "memory", "vm_running", "vm_stopped"), lambda: _group(
        select(VirtualMachine.account_id, func.count(), func.sum(VirtualMachine.cpu),
               func.sum(VirtualMachine.ram_size), func.sum(case((VirtualMachine.state == "Running", 1), else_=0)),
               func.sum(case((VirtualMachine.state == "Stopped", 1), else_=0))).where(*_live_vms()),
        VirtualMachine.account_id)),
    (("volume", "primary_storage"), lambda: _group(
        select(Volume.account_id, func.count(), func.sum(Volume.size)).where(*_counted_volumes()),
        Volume.account_id)),
    (("snapshot", "secondary_storage"), lambda: _group(
        select(Snapshot.account_id, func.count(), func.sum(func.coalesce(Snapshot.physical_size, Snapshot.size)))
        .where(*_counted_snapshots()), Snapshot.account_id)),
    (("template", "secondary_storage"), lambda: _group(
        select(Template.account_id, func.count(), func.sum(func.coalesce(Template.size, 0)))
        .where(*_counted_templates()), Template.account_id)),
    (("public_ip",), lambda: _group(
        select(PublicIpAddress.account_id, func.count()).join(VlanIpRange, VlanIpRange.id == PublicIpAddress.vlan_id)
        .where(PublicIpAddress.removed.is_(None), PublicIpAddress.state != "Free",
               PublicIpAddress.is_system.is_(False), VlanIpRange.vlan_type == "VirtualNetwork"),
        PublicIpAddress.account_id)),
    (("network",), lambda: _group(select(Network.account_id, func.count()).where(
        Network.removed.is_(None), Network.acl_type == "Account", Network.traffic_type == "Guest"),
        Network.account_id)),
    (("vpc",), lambda: _group(select(Vpc.account_id, func.count()).where(Vpc.removed.is_(None)), Vpc.account_id)),
    (("project",), lambda: _group(select(ProjectAccount.account_id, func.count())
                                  .join(Project, Project.id == ProjectAccount.project_id)
                                  .where(Project.removed.is_(None), ProjectAccount.role == "Admin",
                                         ProjectAccount.user_id.is_(None)), ProjectAccount.account_id)),
]


def register_counter(resource_type: str, counter: Counter) -> None:
    """A family's own resource: `counter` builds a statement of (account_id, amount) rows grouped with `_group`; it
    replaces an earlier one of the type."""
    COUNTERS[:] = [c for c in COUNTERS if c[0] != (resource_type,)] + [((resource_type,), counter)]


def counts_for_accounts(session: Session, account_ids: Iterable[int],
                        types: Iterable[str] | None = None) -> dict[int, dict[str, int]]:
    """{account id: {type: amount}} for every requested type (0 where the account has none, or where devcloud
    does not have the resource yet)."""
    ids = sorted(set(account_ids))
    wanted = list(types) if types is not None else [t.name for t in TYPES]
    out: dict[int, dict[str, int]] = {i: {t: 0 for t in wanted} for i in ids}
    if not ids:
        return out
    want = set(wanted)
    for counted, counter in COUNTERS:
        if want.isdisjoint(counted):
            continue
        rows: Any = session.execute(prepared(("owner-counts", counted), counter), {"ids": ids})
        for acct, *amounts in rows:
            held = out[acct]
            for t, amount in zip(counted, amounts, strict=True):
                if t in held:
                    held[t] += int(amount or 0)
    return out


def domain_accounts(session: Session, domain: Domain) -> list[int]:
    """Every account (projects included) of the domain and its sub-domains."""
    sub = select(Domain.id).where(in_subtree(Domain.path, domain.path), Domain.removed.is_(None))
    return list(session.scalars(select(Account.id).where(Account.domain_id.in_(sub), Account.removed.is_(None))))


def domain_counts(session: Session, domain: Domain, types: Iterable[str] | None = None) -> dict[str, int]:
    wanted = list(types) if types is not None else [t.name for t in TYPES]
    total = {t: 0 for t in wanted}
    for per in counts_for_accounts(session, domain_accounts(session, domain), wanted).values():
        for t, n in per.items():
            total[t] += n
    return total


def domains_counts(session: Session, domains: Iterable[Domain],
                   types: Iterable[str] | None = None) -> dict[int, dict[str, int]]:
    """{domain id: {type: amount}} for a page of domains, each counting the accounts of its whole sub-tree as
    `domain_counts` does: one read pairs every page domain with the accounts below it, then each counter runs once
    for all those accounts."""
    domains = list(domains)
    wanted = list(types) if types is not None else [t.name for t in TYPES]
    out: dict[int, dict[str, int]] = {d.id: {t: 0 for t in wanted} for d in domains}
    if not out:
        return out
    below = aliased(Domain)
    pairs = list(session.execute(prepared("domain-accounts", lambda: select(Domain.id, Account.id)
                                          .join(below, below.id == Account.domain_id)
                                          .join(Domain, in_subtree(below.path, Domain.path))
                                          .where(Domain.id.in_(bindparam("ids", expanding=True)),
                                                 below.removed.is_(None), Account.removed.is_(None))),
                                 {"ids": sorted(out)}))
    held = counts_for_accounts(session, {acct for _, acct in pairs}, wanted)
    for domain_id, acct in pairs:
        total = out[domain_id]
        for t, n in held[acct].items():
            total[t] += n
    return out


# ------------------------------------------------------------------------------------------------ limits

def _explicit(session: Session, owner_type: str, owner_ids: Iterable[int],
              names: Iterable[str]) -> dict[tuple[int, str], int]:
    """{(owner id, type): max} of the owners' explicit limits (updateResourceLimit) on the types, in one read."""
    ids, wanted = sorted(set(owner_ids)), sorted(set(names))
    if not ids or not wanted:
        return {}
    rows = session.execute(prepared("explicit-limits", lambda: select(
        ResourceLimit.owner_id, ResourceLimit.resource_type, ResourceLimit.max).where(
        ResourceLimit.owner_type == bindparam("owner_type"),
        ResourceLimit.owner_id.in_(bindparam("ids", expanding=True)),
        ResourceLimit.resource_type.in_(bindparam("names", expanding=True)), ResourceLimit.tag == "")),
        {"owner_type": owner_type, "ids": ids, "names": wanted})
    return {(owner, rtype): value for owner, rtype, value in rows}


def _default(session: Session, scope: str, rtype: ResourceType) -> int:
    fallback = DEFAULTS[scope].get(rtype.name)
    if fallback is None:
        return UNLIMITED
    name = setting_name(scope, rtype)
    # A setting outside the catalogue (the newer types: backups, buckets, GPUs) has no row and cannot get one
    # (updateConfiguration refuses unknown names): its default is the value, without a read per call.
    known = name in configuration.SETTINGS or name in configuration.catalogue()
    raw = configuration.get(session, name, str(fallback)) if known else None
    try:
        value = int(float(raw)) if raw is not None else fallback
    except ValueError:
        value = fallback
    if value < 0:
        return UNLIMITED
    return value * GiB if rtype.storage else value


def account_limits(session: Session, accounts: Iterable[Account],
                   names: Iterable[str] | None = None) -> dict[int, dict[str, int]]:
    """{account id: {type: limit}} in counting units (bytes for storage types); UNLIMITED for root admins. One
    read for the explicit limits of every account and type asked."""
    accounts = list(accounts)
    wanted = list(names) if names is not None else [t.name for t in TYPES]
    limited = [a.id for a in accounts if a.account_type != AccountType.ADMIN]
    explicit = _explicit(session, "Account", limited, wanted)
    out: dict[int, dict[str, int]] = {}
    for a in accounts:
        scope = "project" if a.account_type == AccountType.PROJECT else "account"
        per = out[a.id] = {}
        for n in wanted:
            if a.account_type == AccountType.ADMIN:
                per[n] = UNLIMITED
            elif (a.id, n) in explicit:
                per[n] = explicit[(a.id, n)]
            else:
                per[n] = _default(session, scope, BY_NAME[n])
    return out


def account_limit(session: Session, account: Account, rtype: ResourceType) -> int:
    return account_limits(session, [account], [rtype.name])[account.id][rtype.name]


def domain_limits(session: Session, domain: Domain, names: Iterable[str] | None = None) -> dict[str, int]:
    """{type: limit} of a domain: its own explicit limit, else the nearest ancestor's below ROOT, else the
    global default; ROOT is unlimited. One read for the explicit limits of the whole chain."""
    wanted = list(names) if names is not None else [t.name for t in TYPES]
    chain = [d for d in _chain(session, domain.id) if d.parent_id is not None]  # nearest first, ROOT left out
    return _chain_limits(session, chain, wanted, _explicit(session, "Domain", [d.id for d in chain], wanted))


def domains_limits(session: Session, domains: Iterable[Domain],
                   names: Iterable[str] | None = None) -> dict[int, dict[str, int]]:
    """`domain_limits` for a page of domains: the ancestors the page does not hold read in one statement, the
    explicit limits of every domain of every chain in another."""
    domains = list(domains)
    wanted = list(names) if names is not None else [t.name for t in TYPES]
    have = {d.path for d in domains}
    missing = sorted({d.path[:i + 1] for d in domains for i, c in enumerate(d.path) if c == "/"} - have)
    if missing:  # loaded into the session: the walks below find them without a read each
        session.scalars(select(Domain).where(Domain.path.in_(missing), Domain.removed.is_(None))).all()
    chains = {d.id: [x for x in _chain(session, d.id) if x.parent_id is not None] for d in domains}
    explicit = _explicit(session, "Domain", {x.id for chain in chains.values() for x in chain}, wanted)
    return {d.id: _chain_limits(session, chains[d.id], wanted, explicit) for d in domains}


def _chain_limits(session: Session, chain: list[Domain], names: list[str],
                  explicit: dict[tuple[int, str], int]) -> dict[str, int]:
    """The limits of chain[0] (empty chain: ROOT, unlimited) given the explicit limits of the chain's domains."""
    if not chain:
        return {n: UNLIMITED for n in names}
    out: dict[str, int] = {}
    for n in names:
        found = next((explicit[(d.id, n)] for d in chain if (d.id, n) in explicit), None)
        out[n] = found if found is not None else _default(session, "domain", BY_NAME[n])
    return out


def domain_limit(session: Session, domain: Domain, rtype: ResourceType) -> int:
    return domain_limits(session, domain, [rtype.name])[rtype.name]


def shown(rtype: ResourceType, value: int) -> int:
    """A limit as the API shows it: GiB for storage types."""
    if value == UNLIMITED or not rtype.storage:
        return value
    return -(-value // GiB)


def set_limit(session: Session, owner_type: str, owner_id: int, rtype: ResourceType, max_value: int | None) -> int:
    """updateResourceLimit; returns the stored value (counting units). max is in GiB for storage types."""
    value = UNLIMITED if max_value is None else int(max_value)
    if value < UNLIMITED:
        raise ParamError("Please specify either '-1' for an infinite limit, or a limit that is at least '0'.")
    if rtype.storage and value >= 0:
        value *= GiB
    row = session.scalar(select(ResourceLimit).where(
        ResourceLimit.owner_type == owner_type, ResourceLimit.owner_id == owner_id,
        ResourceLimit.resource_type == rtype.name, ResourceLimit.tag == ""))
    if row is None:
        row = ResourceLimit(owner_type=owner_type, owner_id=owner_id, resource_type=rtype.name, tag="", max=value)
        session.add(row)
    else:
        row.max = value
    session.flush()
    return value


# ------------------------------------------------------------------------------------------------ enforcement

def _chain(session: Session, domain_id: int) -> list[Domain]:
    out = []
    d = session.get(Domain, domain_id)
    while d is not None:
        out.append(d)
        d = session.get(Domain, d.parent_id) if d.parent_id is not None else None
    return out


@contextmanager
def _current(session: Session) -> Any:
    """A view of committed data newer than the session's own snapshot (MariaDB's REPEATABLE READ would hide
    an allocation committed while this one waited for the locks); SQLite's writer already sees it all."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        yield session
        return
    fresh = Session(bind=bind.engine if hasattr(bind, "engine") else bind)
    try:
        yield fresh
    finally:
        fresh.rollback()
        fresh.close()


def human(value: int) -> str:
    """CloudStack's NumbersUtil.toReadableSize."""
    kb, mb, gb, tb = 1024, 1024**2, 1024**3, 1024**4
    if 0 <= value < kb:
        return f"{value} bytes"
    if value < mb:
        return f"{value / kb:.2f} KB"
    if value < gb:
        return f"{value / mb:.2f} MB"
    if value < tb:
        return f"{value / gb:.2f} GB"
    return f"{value / tb:.4f} TB"


def check(session: Session, owner: Account, wanted: dict[str, int]) -> None:
    """Raises 532 when allocating `wanted` (type -> amount, counting units) would pass a limit of the owner or
    of a domain above it. Call it in the transaction that then creates the resources."""
    wanted = {t: n for t, n in wanted.items() if n > 0}
    if not wanted or owner.account_type == AccountType.ADMIN:
        return
    chain = [d for d in _chain(session, owner.domain_id) if d.parent_id is not None]
    ids = sorted(d.id for d in chain)
    if ids:
        lock_rows(session, select(Domain.id).where(Domain.id.in_(ids)).order_by(Domain.id))
    lock_rows(session, select(Account.id).where(Account.id == owner.id))
    project = None
    if owner.account_type == AccountType.PROJECT:
        project = session.scalar(select(Project).where(Project.project_account_id == owner.id))
    names = list(wanted)
    mine = account_limits(session, [owner], names)[owner.id]
    explicit = _explicit(session, "Domain", ids, names)
    theirs = {d.id: _chain_limits(session, chain[i:], names, explicit) for i, d in enumerate(chain)}
    with _current(session) as view:
        # Each owner's counts in one pass over the types it limits (the VM table gives VMs, CPUs and memory).
        held = counts_for_accounts(view, [owner.id], [n for n in names if mine[n] != UNLIMITED])[owner.id]
        domain_held: dict[int, dict[str, int]] = {}
        for d in chain:
            limited = [n for n in names if theirs[d.id][n] != UNLIMITED]
            domain_held[d.id] = domain_counts(view, d, limited) if limited else {}
        for name, amount in wanted.items():
            rtype = BY_NAME[name]
            fmt = human if rtype.storage else str
            limit = mine[name]
            if limit != UNLIMITED and held[name] + amount > limit:
                current = held[name]
                who = f"Project Name = {project.name}" if project is not None else f"Account Name = {owner.name}"
                raise ResourceLimitExceeded(
                    f"Maximum amount of resources of Type = '{name}', tag = 'null' for {who} in Domain Id = "
                    f"{owner.domain_id} is exceeded: Account Resource Limit = {fmt(limit)}, Current Account "
                    f"Resource Amount = {fmt(current)}, Current Account Resource Reservation = {fmt(0)}, "
                    f"Requested Resource Amount = {fmt(amount)}.")
            for d in chain:
                dlimit = theirs[d.id][name]
                if dlimit == UNLIMITED:
                    continue
                dcurrent = domain_held[d.id][name]
                if dcurrent + amount > dlimit:
                    raise ResourceLimitExceeded(
                        f"Maximum domain resource limits of Type '{name}' for Domain Id = {d.uuid} is exceeded: "
                        f"Domain Resource Limit = {fmt(dlimit)}, Current Domain Resource Amount = {fmt(dcurrent)}, "
                        f"Current Resource Reservation = {fmt(0)}, Requested Resource Amount = {fmt(amount)}.")


def check_by_id(session: Session, account_id: int, wanted: dict[str, int]) -> None:
    check(session, session.get_one(Account, account_id), wanted)


# ------------------------------------------------------------------------------------------------ display

PREFIXES = {"user_vm": "vm", "public_ip": "ip", "volume": "volume", "snapshot": "snapshot", "template": "template",
            "project": "project", "network": "network", "vpc": "vpc", "cpu": "cpu", "memory": "memory",
            "primary_storage": "primarystorage", "secondary_storage": "secondarystorage", "backup": "backup",
            "backup_storage": "backupstorage", "bucket": "bucket", "object_storage": "objectstorage", "gpu": "gpu"}


def display_fields(session: Session, *, account: Account | None = None, domain: Domain | None = None,
                   counts: dict[str, int] | None = None, limits: dict[str, int] | None = None) -> dict[str, Any]:
    """The <x>limit / <x>total / <x>available fields of an account, project (its account) or domain: limits
    as strings ("Unlimited" when none), totals as numbers (GiB for storage, a float for secondary storage)."""
    if counts is None:
        counts = (counts_for_accounts(session, [account.id])[account.id] if account is not None
                  else domain_counts(session, domain))  # type: ignore[arg-type]
    if limits is None:
        limits = (account_limits(session, [account])[account.id] if account is not None
                  else domain_limits(session, domain))  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    for rtype in TYPES:
        if account is not None and account.account_type == AccountType.PROJECT and rtype.name == "project":
            continue
        limit = limits[rtype.name]
        used = counts.get(rtype.name, 0)
        p = PREFIXES[rtype.name]
        if rtype.storage:
            total: float | int = used / GiB if rtype.name == "secondary_storage" else used // GiB
            lim = None if limit == UNLIMITED else limit // GiB
        else:
            total, lim = used, (None if limit == UNLIMITED else limit)
        out[f"{p}limit"] = "Unlimited" if lim is None else str(lim)
        out[f"{p}total"] = total
        out[f"{p}available"] = "Unlimited" if lim is None else str(
            lim - total if not isinstance(total, float) else lim - total)
    return out


def domain_display(session: Session, domains: Iterable[Domain]) -> dict[int, dict[str, Any]]:
    """listDomains' <x>limit/<x>total/<x>available fields for a page of domains, read for the page at once."""
    domains = list(domains)
    counts = domains_counts(session, domains)
    limits = domains_limits(session, domains)
    return {d.id: display_fields(session, domain=d, counts=counts[d.id], limits=limits[d.id]) for d in domains}


VM_STATES = {"vm_running": "vmrunning", "vm_stopped": "vmstopped"}  # counted with the VMs, shown by name


def account_display(session: Session, accounts: Iterable[Account]) -> dict[int, dict[str, Any]]:
    """listAccounts' per-account fields for a page, counted in one pass: <x>limit/<x>total/<x>available plus
    vmrunning and vmstopped."""
    accounts = list(accounts)
    counts = counts_for_accounts(session, [a.id for a in accounts], [*(t.name for t in TYPES), *VM_STATES])
    limits = account_limits(session, accounts)
    return {a.id: {**display_fields(session, account=a, counts=counts[a.id], limits=limits[a.id]),
                   **{field: counts[a.id][name] for name, field in VM_STATES.items()}}
            for a in accounts}
