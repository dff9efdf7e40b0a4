"""Dedicated resources (plugins/dedicated-resources): a zone, pod, cluster or host reserved for one domain (and
its sub-domains) or one account. Placement keeps everyone else's VMs off them (placement._dedicated_to_others);
this module checks and records the dedications with CloudStack's rules and texts:

- a resource is dedicated once; under a dedicated parent only to the parent's domain or a sub-domain of it, and
  never under a parent dedicated to an account;
- dedications below it that belong to the same owner merge into the new one; one of another owner refuses it;
- hosts running (or recently running) VMs of another account/domain refuse it;
- dedicating a zone also records the domain on the zone (its `domainid`), as CloudStack does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from management.db.subtree import in_subtree
from management.errors import InternalError, ParamError
from management.models.compute import VirtualMachine
from management.models.identity import Account, Domain
from management.models.infra import Cluster, Host, Pod, Zone
from management.models.platform import DedicatedResource
from management.services import access
from management.services.context import Caller

KINDS = ("zone", "pod", "cluster", "host")
_COLUMN = {"zone": DedicatedResource.zone_id, "pod": DedicatedResource.pod_id,
           "cluster": DedicatedResource.cluster_id, "host": DedicatedResource.host_id}


def find(session: Session, kind: str, row_id: int | None) -> DedicatedResource | None:
    if row_id is None:
        return None
    return session.scalar(select(DedicatedResource).where(_COLUMN[kind] == row_id))


def _subtree(session: Session, domain: Domain) -> set[int]:
    return set(session.scalars(select(Domain.id).where(in_subtree(Domain.path, domain.path),
                                                       Domain.removed.is_(None))))


def _parent_allows(session: Session, parent: DedicatedResource, domain: Domain, account: Account | None) -> bool:
    """CloudStack: a child may be dedicated under a dedicated parent only when the parent is a domain dedication
    and the child's domain is that domain or below it."""
    if parent.account_id is not None:
        return False
    below = domain.id in _subtree(session, session.get_one(Domain, parent.domain_id))
    if account is None:
        return below
    return parent.domain_id == domain.id or below


def _children(session: Session, kind: str, row: Any) -> list[tuple[str, Any, DedicatedResource]]:
    """(kind, row, dedication) of every dedicated resource below `row`."""
    out: list[tuple[str, Any, DedicatedResource]] = []
    levels: list[tuple[str, Any, Any]] = []
    if kind == "zone":
        levels = [("pod", Pod, Pod.zone_id), ("cluster", Cluster, Cluster.zone_id), ("host", Host, Host.zone_id)]
    elif kind == "pod":
        levels = [("cluster", Cluster, Cluster.pod_id), ("host", Host, Host.pod_id)]
    elif kind == "cluster":
        levels = [("host", Host, Host.cluster_id)]
    for child_kind, model, col in levels:
        for child in session.scalars(select(model).where(col == row.id, model.removed.is_(None))):
            d = find(session, child_kind, child.id)
            if d is not None:
                out.append((child_kind, child, d))
    return out


def _hosts_of(session: Session, kind: str, row: Any) -> list[Host]:
    col = {"zone": Host.zone_id, "pod": Host.pod_id, "cluster": Host.cluster_id, "host": Host.id}[kind]
    return list(session.scalars(select(Host).where(col == row.id, Host.removed.is_(None))))


def _check_hosts(session: Session, hosts: list[Host], domain_ids: set[int], account: Account | None) -> None:
    for host in hosts:
        vms = session.scalars(select(VirtualMachine).where(
            ((VirtualMachine.host_id == host.id) & VirtualMachine.state.in_(("Starting", "Running", "Stopping",
                                                                              "Migrating")))
            | ((VirtualMachine.last_host_id == host.id) & (VirtualMachine.state == "Stopped")),
            VirtualMachine.removed.is_(None)))
        for vm in vms:
            if account is not None and vm.account_id != account.id:
                raise InternalError(f"Host {host.uuid} found to be unsuitable for explicit dedication as it is "
                                    "running instances of another account")
            if account is None and vm.domain_id not in domain_ids:
                raise InternalError(f"Host {host.uuid} found to be unsuitable for explicit dedication as it is "
                                    "running instances of another domain")


_PARENT_TEXT = {"pod": "Pod's", "cluster": "Cluster's", "host": "Host's"}
_ZONE_WORD = {"pod": "Zone", "cluster": "Zone", "host": "Data Center"}


def _parents(session: Session, kind: str, row: Any) -> list[tuple[str, str, DedicatedResource | None]]:
    """(word, name, dedication) of the resource's cluster, pod and zone, nearest first."""
    out: list[tuple[str, str, DedicatedResource | None]] = []
    if kind == "host" and row.cluster_id is not None:
        c = session.get_one(Cluster, row.cluster_id)
        out.append(("Cluster", c.name, find(session, "cluster", c.id)))
    if kind in ("host", "cluster") and row.pod_id is not None:
        p = session.get_one(Pod, row.pod_id)
        out.append(("Pod", p.name, find(session, "pod", p.id)))
    if kind != "zone":
        z = session.get_one(Zone, row.zone_id)
        out.append((_ZONE_WORD[kind], z.name, find(session, "zone", z.id)))
    return out


def dedicate(session: Session, caller: Caller, kind: str, row: Any, domain: Domain,
             account_name: str | None) -> DedicatedResource:
    account = access.owner_for(session, caller, account_name, domain.uuid) if account_name else None
    if account is not None and account.domain_id != domain.id:
        raise ParamError(f"Please specify the domain id of the account id {account.uuid}")
    if kind == "host" and row.type != "Routing":
        raise InternalError(f"Invalid host type for host {row.name}")
    noun = kind.capitalize()
    if find(session, kind, row.id) is not None:
        # CloudStack's zone text has two spaces after "Zone".
        raise InternalError(f"{noun}{'  ' if kind == 'zone' else ' '}{row.name} is already dedicated")
    for word, name, parent in _parents(session, kind, row):
        if parent is not None and not _parent_allows(session, parent, domain, account):
            raise InternalError(f"{_PARENT_TEXT[kind]} {word} {name} is already dedicated")
    domain_ids = _subtree(session, domain)
    merged: list[DedicatedResource] = []
    for child_kind, child, d in _children(session, kind, row):
        if d.domain_id not in domain_ids:
            raise InternalError(f"{child_kind.capitalize()} {child.name} under this {noun} {row.name} is dedicated "
                                "to different account/domain")
        if account is not None:
            if d.account_id != account.id:
                raise InternalError(f"{child_kind.capitalize()} {child.name} under this {noun} {row.name} is "
                                    "dedicated to different account/domain")
            merged.append(d)
        elif d.account_id is None and d.domain_id == domain.id:
            merged.append(d)
    _check_hosts(session, _hosts_of(session, kind, row), domain_ids, account)
    for d in merged:
        session.delete(d)
    session.flush()
    dr = DedicatedResource(domain_id=domain.id, account_id=account.id if account else None,
                           **{f"{kind}_id": row.id})
    session.add(dr)
    if kind == "zone":
        row.domain_id = domain.id  # CloudStack records the owning domain on the zone itself
    session.flush()
    return dr


def release(session: Session, kind: str, row: Any) -> None:
    d = find(session, kind, row.id)
    if d is None:
        raise ParamError("No Dedicated Resource available to release")
    session.execute(delete(DedicatedResource).where(DedicatedResource.id == d.id))
    if kind == "zone":
        row.domain_id = None
    session.flush()


def release_all_of(session: Session, kind: str, row_id: int) -> None:
    """When the resource itself goes away (deleteHost...), its dedication goes with it."""
    session.execute(delete(DedicatedResource).where(_COLUMN[kind] == row_id))
