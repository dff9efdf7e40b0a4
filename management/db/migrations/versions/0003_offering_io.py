"""Offerings' I/O settings (cache mode, byte and IOPS throttles) and encryption flags.

Revision ID: 0003_offering_io
Revises: 0002_ec2_tokens
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_offering_io'
down_revision = '0002_ec2_tokens'
branch_labels = None
depends_on = None

_IO = ("bytes_read_rate", "bytes_write_rate", "iops_read_rate", "iops_write_rate")


def upgrade() -> None:
    for table, flag in (("service_offering", "encrypt_root"), ("disk_offering", "encrypt")):
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("cache_mode", sa.String(32), nullable=True))
            for col in _IO:
                b.add_column(sa.Column(col, sa.BigInteger(), nullable=True))
            b.add_column(sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for table, flag in (("service_offering", "encrypt_root"), ("disk_offering", "encrypt")):
        with op.batch_alter_table(table) as b:
            for col in ("cache_mode", *_IO, flag):
                b.drop_column(col)
