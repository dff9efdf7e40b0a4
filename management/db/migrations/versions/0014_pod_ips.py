"""pod management addresses handed out one by one (acquirePodIpAddress / releasePodIpAddress)

Revision ID: 0014_pod_ips
Revises: 0013_core
Create Date: 2026-12-04 19:00:00
"""
from alembic import op
import sqlalchemy as sa
import management.db.base


revision = '0014_pod_ips'
down_revision = '0013_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('op_dc_ip_address_alloc',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('zone_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pod_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('nic_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reservation_id', sa.String(length=40), nullable=True),
    sa.Column('taken', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('mac_address', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['pod_id'], ['host_pod_ref.id'], name=op.f('fk_op_dc_ip_address_alloc_pod_id_host_pod_ref')),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], name=op.f('fk_op_dc_ip_address_alloc_zone_id_data_center')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_op_dc_ip_address_alloc')),
    sa.UniqueConstraint('pod_id', 'ip_address', name=op.f('uq_op_dc_ip_address_alloc_pod_id'))
    )
    with op.batch_alter_table('op_dc_ip_address_alloc', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_op_dc_ip_address_alloc_pod_id'), ['pod_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_op_dc_ip_address_alloc_zone_id'), ['zone_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('op_dc_ip_address_alloc', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_op_dc_ip_address_alloc_zone_id'))
        batch_op.drop_index(batch_op.f('ix_op_dc_ip_address_alloc_pod_id'))
    op.drop_table('op_dc_ip_address_alloc')
