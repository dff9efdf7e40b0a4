"""in_subtree: a path value and a path column both select exactly the paths that start with the top's path, whatever
LIKE wildcards, escape characters or multi-byte characters the domain names hold (the API test runs MariaDB too)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from management.db.subtree import in_subtree

PATHS = ["/", "/a_b/", "/axb/", "/a%b/", "/axb/dé/", "/axb/dé/x/", "/a\\b/", "/a\\b/c/", "/a//b/", "/a/"]


def test_value_and_column_prefixes_are_exact() -> None:
    table = Table("d", MetaData(), Column("id", Integer, primary_key=True), Column("path", String(255)))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    want = {(top, p) for top in PATHS for p in PATHS if p.startswith(top)}
    below = table.alias("below")
    with engine.begin() as c:
        c.execute(table.insert(), [{"path": p} for p in PATHS])
        by_value = {(top, p) for top in PATHS for p in c.scalars(select(table.c.path)
                                                                  .where(in_subtree(table.c.path, top)))}
        by_column = {(top, p) for top, p in c.execute(select(table.c.path, below.c.path)
                                                        .join(below, in_subtree(below.c.path, table.c.path)))}
    assert by_value == want
    assert by_column == want
