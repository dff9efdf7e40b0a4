"""An empty database gets its schema from the models' metadata and is stamped at head, instead of replaying every
migration (management.db.migrate.create_empty): issue 22, first start. That is only right while both ways give the
same database, which these tests check on SQLite and MariaDB: tables, columns (type, nullability, server default),
keys, indexes, unique constraints, foreign keys, table options, the rows (a migration that inserts data would
make the two differ) and the version table. Column order is not compared: columns a migration added to an existing
table come last there, and nothing reads columns by position."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.conftest import MYSQL_ENV, fresh_mysql_database


@pytest.fixture
def empty_urls(backend_name: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases on this backend."""
    from management.db import crypto

    crypto.install(crypto.load_or_create_key(tmp_path / crypto.KEY_FILE))  # 0008 seals rows (there are none)
    if backend_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'replayed.db'}", f"sqlite:///{tmp_path / 'created.db'}"
        return
    with fresh_mysql_database(os.environ[MYSQL_ENV]) as a, fresh_mysql_database(os.environ[MYSQL_ENV]) as b:
        yield a, b


def replay(url: str, revision: str = "head") -> None:
    """The migrations, one after another (what an empty database got before)."""
    from alembic import command

    from management.db import migrate

    command.upgrade(migrate.alembic_config(url), revision)


def schema(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            out: dict[str, Any] = {}
            for t in insp.get_table_names():
                out[t] = {
                    "columns": {c["name"]: (str(c["type"]), c["nullable"], str(c.get("default")),
                                            c.get("autoincrement"), c.get("comment"))
                                for c in insp.get_columns(t)},
                    "pk": (insp.get_pk_constraint(t).get("name"), insp.get_pk_constraint(t)["constrained_columns"]),
                    "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                      for i in insp.get_indexes(t)),
                    "unique": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t)),
                    "fks": sorted((f["name"], tuple(f["constrained_columns"]), f["referred_table"],
                                   tuple(f["referred_columns"]), str(sorted(f.get("options", {}).items())))
                                  for f in insp.get_foreign_keys(t)),
                    "options": insp.get_table_options(t),
                    "rows": sorted(tuple(map(str, r)) for r in conn.execute(text(f"SELECT * FROM {t}"))),
                }
            return out
    finally:
        engine.dispose()


def current_heads(url: str) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def script_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from management.db import migrate

    return set(ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_heads())


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert sorted(a) == sorted(b)
    for table in a:
        for part in a[table]:
            assert a[table][part] == b[table][part], (table, part)


def test_an_empty_database_is_created_from_the_models_as_the_migrations_make_it(
        empty_urls: tuple[str, str]) -> None:
    from management.db import migrate

    replayed, created = empty_urls
    replay(replayed)
    assert migrate.create_empty(created) is True
    assert current_heads(replayed) == current_heads(created) == script_heads() == migrate.script_heads()
    assert migrate.at_head(created)
    a, b = schema(replayed), schema(created)
    assert "alembic_version" in b and len(a) > 100
    assert_same(a, b)
    # The models agree with the migrations by alembic's own comparison too (what `db check` runs).
    migrate.check(created)


def test_upgrade_creates_only_an_empty_database(empty_urls: tuple[str, str]) -> None:
    """`upgrade` takes the short way on an empty database only: one part-way up the migrations, or with any table
    in it, is migrated (or refused) by Alembic; one at head is left alone."""
    from management.db import migrate

    partial, created = empty_urls
    replay(partial, "0013_core")
    assert migrate.create_empty(partial) is False
    migrate.upgrade(partial)
    assert current_heads(partial) == script_heads()
    assert migrate.create_empty(partial) is False  # at head: not empty either
    migrate.upgrade(created)
    assert current_heads(created) == script_heads()
    assert_same(schema(partial), schema(created))


NEXT_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = 'zz_next'
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('op_dc_ip_address_alloc', schema=None) as batch_op:
        batch_op.drop_constraint('fk_op_dc_ip_address_alloc_pod_id_host_pod_ref', type_='foreignkey')
        batch_op.drop_constraint('uq_op_dc_ip_address_alloc_pod_id', type_='unique')
        batch_op.add_column(sa.Column('next_flag', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_op_dc_ip_address_alloc_next_flag', ['next_flag'], unique=False)
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_constraint('uq_account_name', type_='unique')


def downgrade() -> None:
    raise NotImplementedError
"""


def test_a_later_migration_applies_to_a_created_database(empty_urls: tuple[str, str], tmp_path: Path) -> None:
    """A database made from the models takes a later migration as a migrated one does: one that drops foreign keys
    and constraints by the names the migrations gave them, adds a column and an index, leaves both databases
    alike, at its revision. (Downgrading the last real migration is no test: 0014's downgrade fails on MariaDB.)"""
    import shutil

    from alembic import command

    from management.db import migrate

    replayed, created = empty_urls
    replay(replayed)
    assert migrate.create_empty(created)
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (head,) = script_heads()
    (scripts / "versions" / "zz_next.py").write_text(NEXT_MIGRATION.format(head=head))
    for url in (replayed, created):
        cfg = migrate.alembic_config(url)
        cfg.set_main_option("script_location", str(scripts))
        command.upgrade(cfg, "head")
        assert current_heads(url) == {"zz_next"}
    a, b = schema(replayed), schema(created)
    assert "next_flag" in b["op_dc_ip_address_alloc"]["columns"]
    assert_same(a, b)


def test_a_database_with_other_tables_is_not_created_over(empty_urls: tuple[str, str]) -> None:
    from management.db import migrate

    url, _ = empty_urls
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    assert migrate.create_empty(url) is False
    assert set(schema(url)) == {"someone_elses"}
