"""Paging (services.listing.paginate): the count is always the total of matching rows, and it is read with a second
query only when the page cannot tell it (a full page, or a page beyond the end). Most list calls have one page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from management.db.base import Base
from management.db.session import Database
from management.models.events import Configuration
from management.services.listing import paginate

pytestmark = pytest.mark.unit


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    d = Database(f"sqlite:///{tmp_path / 'cloud.db'}")
    Base.metadata.create_all(d.engine, tables=[Configuration.__table__])
    with d.session() as s:
        s.add_all(Configuration(name=f"c{i}", value=str(i)) for i in range(7))
    yield d
    d.dispose()


def _page(db: Database, stmt: Any, page: int | None, pagesize: int | None) -> tuple[list[Any], int, int]:
    selects: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "default.page.size" not in parameters:
            selects.append(statement)  # the page size setting is cached: not the listing's own

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.session(write=False) as s:
            rows, count = paginate(s, stmt, page, pagesize, Configuration.name)
            names = [r.name for r in rows]
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return names, count, len(selects)


@pytest.mark.parametrize("stmt", [select(Configuration), select(Configuration.name, Configuration.value)],
                         ids=["entities", "columns"])
@pytest.mark.parametrize(("page", "pagesize", "names", "queries"), [
    (None, None, [f"c{i}" for i in range(7)], 1),  # one page: counted from the page itself
    (None, -1, [f"c{i}" for i in range(7)], 1),
    (1, 3, ["c0", "c1", "c2"], 2),  # a full page: more may follow, so they are counted
    (3, 3, ["c6"], 1),  # the last page: six before it and one on it
    (4, 3, [], 2),  # beyond the end: the count says how many there are
])
def test_count_is_the_total_and_read_only_when_the_page_cannot_tell(
        db: Database, stmt: Any, page: int | None, pagesize: int | None, names: list[str], queries: int) -> None:
    assert _page(db, stmt, page, pagesize) == (names, 7, queries)


def test_nothing_matching_is_one_query(db: Database) -> None:
    assert _page(db, select(Configuration).where(Configuration.name == "none"), None, None) == ([], 0, 1)
    assert _page(db, select(Configuration).where(Configuration.name == "none"), 2, 3) == ([], 0, 2)

