"""Paging, keyword and tag filters shared by every list command."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from management.db.prepared import prepared
from management.errors import ServerApiParamError
from management.models.events import Configuration, ResourceTag
from management.services.cache import TTLCache

DEFAULT_PAGE_SIZE = 500


_PAGE_SIZE: TTLCache[str | None] = TTLCache(5.0, watch=(Configuration,))


def rows_by_id(session: Session, model: Any, ids: Iterable[int | None]) -> dict[int | None, Any]:
    """One query for the rows a page of responses refers to, by id; an unset foreign key looks up as missing."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    stmt = prepared(("rows-by-id", model), lambda: select(model).where(model.id.in_(bindparam("ids", expanding=True))))
    return {r.id: r for r in session.scalars(stmt, {"ids": list(wanted)}).unique()}


def page_size_limit(session: Session) -> int:
    value = _PAGE_SIZE.get(str(session.get_bind().engine.url), lambda: session.scalar(
        select(Configuration.value).where(Configuration.name == "default.page.size")))
    try:
        return int(value) if value else DEFAULT_PAGE_SIZE
    except ValueError:
        return DEFAULT_PAGE_SIZE


def check_paging(session: Session, page: int | None, pagesize: int | None) -> tuple[int, int | None]:
    """Returns (offset, limit) following BaseListCmd's rules; 431 for the combinations CloudStack refuses."""
    if pagesize is None:
        limit = page_size_limit(session)
        return ((page or 1) - 1) * limit, limit
    if pagesize == -1:
        if page is not None:
            raise ServerApiParamError("Can't specify page parameter when pagesize is -1 (Unlimited)")
        return 0, None
    if page is None:
        raise ServerApiParamError('"page" parameter is required when "pagesize" is specified')
    limit = page_size_limit(session)
    if pagesize < 1 or pagesize > limit:
        raise ServerApiParamError(f"Page size can't exceed max allowed page size value: {limit}")
    return (page - 1) * pagesize, pagesize


def keyword_filter(stmt: Select[Any], keyword: str | None, *cols: Any) -> Select[Any]:
    if not keyword:
        return stmt
    pattern = f"%{keyword}%"
    return stmt.where(or_(*(c.ilike(pattern) for c in cols)))


def tags_filter(stmt: Select[Any], tags: list[dict[str, str]] | None, resource_type: str, uuid_col: Any) -> Select[Any]:
    """Every `tags[N].key/value` pair must be present on the resource (CloudStack ANDs them)."""
    for tag in tags or []:
        key, value = tag.get("key"), tag.get("value")
        conds = [ResourceTag.resource_type == resource_type, ResourceTag.resource_uuid == uuid_col]
        if key is not None:
            conds.append(ResourceTag.key == key)
        if value is not None:
            conds.append(ResourceTag.value == value)
        stmt = stmt.where(select(ResourceTag.id).where(and_(*conds)).exists())
    return stmt


def total(session: Session, on_page: int, offset: int, limit: int | None, matching: Select[Any]) -> int:
    """The count of a list response: the rows `matching` selects, of which a page at `offset` (at most `limit`)
    read `on_page`. The last page (most lists have only one) tells it without a query: what precedes it and what
    is on it is all there is (the same transaction reads both, and count(*) counts the same rows)."""
    if (on_page or offset == 0) and (limit is None or on_page < limit):
        return offset + on_page
    return session.scalar(select(func.count()).select_from(matching.order_by(None).subquery())) or 0


def paginate(session: Session, stmt: Select[Any], page: int | None, pagesize: int | None,
             order_by: Any) -> tuple[list[Any], int]:
    """Rows for the page and the total count of matching rows (the total, not the page's length). A statement of
    one entity gives its objects; one of several columns gives plain rows (the lean list paths)."""
    offset, limit = check_paging(session, page, pagesize)
    # A unique order keeps pages stable: no row appears on two pages.
    q = stmt.order_by(order_by).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    several = len(stmt.column_descriptions) > 1
    raw: list[Any] = list(session.execute(q)) if several else list(session.scalars(q))
    rows = raw if several else list(dict.fromkeys(raw))  # an entity a join repeats is listed once
    return rows, total(session, len(raw), offset, limit, stmt)


def same_name(col: Any, value: str) -> Any:
    """A name= filter as CloudStack's MySQL collation compares it: case-insensitively, on every backend."""
    return func.lower(col) == value.lower()
