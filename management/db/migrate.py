"""Alembic, driven from code: the package carries its migrations, no alembic.ini is needed at run time.

Alembic is imported lazily: a server whose database is already at the head revision (every start but the first)
only reads the version table and never loads Alembic or its migration scripts (cold start).

An empty database (the first start) gets its schema from the models' metadata and is stamped at the head revision,
instead of replaying every migration: the models are the schema the migrations build (tests/api/test_schema_create.py
checks tables, columns, server defaults, keys, indexes, constraints and rows on SQLite and MariaDB), and no migration
inserts rows: what a new cloud needs, the bootstrap makes (management.services.identity.identity.bootstrap)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^revision\s*(?::[^=]+)?=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]+)?=\s*(.+)$", re.M)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def script_heads() -> set[str]:
    """The head revisions of the packaged migrations, read from the scripts' text (no Alembic import)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text()
        rev = _REVISION.search(text)
        down = _DOWN.search(text)
        if rev is None or down is None:
            return set()  # a script this parser does not understand: let Alembic decide
        revisions.add(rev.group(1))
        downs.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return revisions - downs


def at_head(url: str) -> bool:
    """Whether the database's alembic_version names exactly the scripts' heads."""
    from sqlalchemy import create_engine, inspect, text

    heads = script_heads()
    if not heads:
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        return current == heads
    except Exception:  # noqa: BLE001 - anything odd: the full Alembic path decides (and reports)
        return False
    finally:
        engine.dispose()


def create_empty(url: str) -> bool:
    """On a database without any table: the models' tables and the version table at the heads, in one transaction
    on SQLite (MariaDB commits each CREATE TABLE). Returns False, doing nothing, when the database has a table."""
    from sqlalchemy import create_engine, event, inspect

    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        # pysqlite begins a transaction only before DML; DDL would commit (and sync) one table at a time.
        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        with engine.begin() as conn:
            if inspect(conn).get_table_names():
                return False
            from alembic.runtime.migration import MigrationContext
            from alembic.script import ScriptDirectory

            import management.models  # noqa: F401  (complete metadata)
            from management.db.base import Base

            Base.metadata.create_all(conn, checkfirst=False)
            MigrationContext.configure(conn).stamp(ScriptDirectory.from_config(alembic_config(url)), "heads")
        return True
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    if revision == "head" and (at_head(url) or create_empty(url)):
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raises when the models and the migrations disagree (a migration is missing)."""
    from alembic import command

    command.check(alembic_config(url))
