"""moveDomain (CloudStack's DomainManagerImpl.moveDomainAndChildrenToNewParentDomain): a domain and its whole
subtree change parent; paths and levels follow. Accounts and their resources stay with their domains."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.db.subtree import in_subtree
from management.errors import ParamError, PermissionDenied
from management.models.identity import Domain
from management.services.access import domain_in_scope
from management.services.context import Caller


def _usable(d: Domain) -> None:
    if d.state == "Inactive":
        raise ParamError(f"Unable to use the domain [{d.uuid}] as it is in state [Inactive].")


def move(s: Session, caller: Caller, domain: Domain, new_parent: Domain) -> Domain:
    if domain.parent_id is None:
        raise ParamError("The domain to be moved cannot be the ROOT domain.")
    if domain.id == new_parent.id:
        raise ParamError("The domain to be moved and the new parent domain cannot be the same.")
    _usable(domain)
    _usable(new_parent)
    for d in (domain, new_parent):
        if not domain_in_scope(caller, d.path):
            raise PermissionDenied(f"Account '{caller.account_name}' does not have permission to access domain "
                                   f"{d.uuid}")
    if domain.parent_id == new_parent.id:
        raise ParamError(f"The current parent domain of the domain to be moved is equal to the new parent domain "
                         f"[{new_parent.uuid}].")
    if new_parent.path.startswith(domain.path):
        raise ParamError("The new parent domain of the domain cannot be one of its children.")
    dup = s.scalar(select(Domain.id).where(Domain.parent_id == new_parent.id, Domain.removed.is_(None),
                                           func.lower(Domain.name) == domain.name.lower()))
    if dup is not None:
        raise ParamError(f"Domain with name {domain.name} already exists for the parent id={new_parent.uuid}")

    old_path, new_path = domain.path, f"{new_parent.path}{domain.name}/"
    shift = new_parent.level + 1 - domain.level
    subtree = list(s.scalars(select(Domain).where(in_subtree(Domain.path, old_path), Domain.removed.is_(None))))
    for d in subtree:
        d.path = new_path + d.path[len(old_path):]
        d.level += shift
    domain.parent_id = new_parent.id
    s.flush()
    s.refresh(domain)
    return domain
