"""secrets at rest: seal API secret keys, guest passwords, host and object store credentials; keep session key digests

Revision ID: 0008_hardening
Revises: 0007_compute
Create Date: 2026-12-04 08:00:00

Sealing needs the database key (management.db.crypto), which the server installs from its state directory before
it migrates. The sealed secret key needs more room than the plain one: user.secret_key grows to 512.
"""
import hashlib

import sqlalchemy as sa
from alembic import op

from management.db import crypto

revision = '0008_hardening'
down_revision = '0007_compute'
branch_labels = None
depends_on = None

# (table, primary key column, secret column)
SECRETS = [("user", "id", "secret_key"), ("vm_instance", "id", "password"), ("vm_instance", "id", "vnc_password"),
           ("host", "id", "details_json"), ("object_store", "id", "details_json")]


def _rewrite(table: str, pk: str, column: str, change) -> None:  # type: ignore[no-untyped-def]
    conn = op.get_bind()
    t = sa.table(table, sa.column(pk), sa.column(column))
    rows = conn.execute(sa.select(t.c[pk], t.c[column]).where(t.c[column].is_not(None))).all()
    for key, value in rows:
        new = change(value)
        if new != value:
            conn.execute(sa.update(t).where(t.c[pk] == key).values({column: new}))


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('secret_key', existing_type=sa.String(length=255), type_=sa.String(length=512),
                              existing_nullable=True)
    for table, pk, column in SECRETS:
        _rewrite(table, pk, column, lambda v: v if crypto.is_sealed(v) else crypto.seal(v))
    # Sessions are looked up by the digest of the key the client holds.
    _rewrite("user_session", "key", "key",
             lambda v: v if len(v) == 64 and all(c in "0123456789abcdef" for c in v)
             else hashlib.sha256(v.encode()).hexdigest())


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM user_session"))  # a digest does not give the key back: log in again
    for table, pk, column in SECRETS:
        _rewrite(table, pk, column, crypto.open_sealed)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('secret_key', existing_type=sa.String(length=512), type_=sa.String(length=255),
                              existing_nullable=True)
