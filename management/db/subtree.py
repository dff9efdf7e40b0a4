"""Sub-tree selection on a materialized path column (`Domain.path`: "/" for ROOT, "/a/b/" below it).

A domain's sub-tree is every domain whose path starts with its own, character for character (the domain itself
included). A path is never a LIKE pattern as it is: a domain name may hold LIKE's wildcards (`_`, `%`), and `/a_b/%`
would also match the sibling `/axb/`. Every sub-tree query goes through `in_subtree`.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, func, literal

ESCAPE = "/"  # SQLAlchemy's own autoescape character: a "/" of the path itself is written "//"


def in_subtree(path: SQLColumnExpression[str], top: str | SQLColumnExpression[str]) -> ColumnElement[bool]:
    """`path` is `top` or below it: LIKE on `top` with its wildcards (and the escape character) escaped. A path
    value is escaped here (`autoescape`; the column's index still serves the prefix); a path column (a join: one
    domain per row) is escaped by the database with the same rule, so both read the same (LIKE counts characters on
    SQLite and MariaDB alike, and keeps each database's collation as before)."""
    if isinstance(top, str):
        return path.startswith(top, autoescape=True)
    escaped = func.replace(func.replace(func.replace(top, ESCAPE, ESCAPE * 2), "%", ESCAPE + "%"), "_", ESCAPE + "_")
    return path.like(escaped.concat(literal("%")), escape=ESCAPE)
