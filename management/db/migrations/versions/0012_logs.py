"""the API request id on async jobs

Revision ID: 0012_logs
Revises: 0011_tenancy
Create Date: 2026-12-04 15:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_logs'
down_revision = '0011_tenancy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('async_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_async_job_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('async_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_async_job_request_id'))
        batch_op.drop_column('request_id')
