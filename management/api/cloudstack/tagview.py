"""Resource tags as CloudStack nests them in every response (ResourceTagResponse): key, value, resource type and
id, owner account and domain (path too), customer — the same fields listTags shows, from the tag's own owner."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from management.api.cloudstack.schemas import TagResp
from management.models.events import ResourceTag
from management.models.identity import Account, Domain
from management.services.listing import rows_by_id


def tag_views(session: Session, rows: Iterable[ResourceTag] | None) -> list[TagResp]:
    tags = list(rows or [])
    if not tags:
        return []
    accounts = rows_by_id(session, Account, {t.account_id for t in tags})
    domains = rows_by_id(session, Domain, {t.domain_id for t in tags})
    out = []
    for t in tags:
        a, d = accounts.get(t.account_id), domains.get(t.domain_id)
        out.append(TagResp(key=t.key, value=t.value, resourcetype=t.resource_type, resourceid=t.resource_uuid,
                           account=a.name if a else None, domainid=d.uuid if d else None,
                           domain=d.name if d else None, domainpath=d.display_path if d else None,
                           customer=t.customer))
    return out
