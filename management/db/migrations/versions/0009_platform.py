"""Platform and plugin tables: dedicated resources, quota, VM/volume stats samples, management server maintenance,
annotations, resource details and icons, GUI themes, CA-issued certificates, extensions and custom actions,
console sessions, two-factor authentication; role state and archived events.

Revision ID: 0009_platform
Revises: 0008_hardening
"""
from alembic import op
import sqlalchemy as sa
import management.db.base


revision = '0009_platform'
down_revision = '0008_hardening'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('annotations',
    sa.Column('annotation', sa.Text(), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_uuid', sa.String(length=40), nullable=True),
    sa.Column('user_uuid', sa.String(length=40), nullable=False),
    sa.Column('admins_only', sa.Boolean(), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotations')),
    sa.UniqueConstraint('uuid', name=op.f('uq_annotations_uuid'))
    )
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.create_index('ix_annotations_entity', ['entity_type', 'entity_uuid'], unique=False)

    op.create_table('ca_certificates',
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('cn', sa.String(length=255), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=False),
    sa.Column('host_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('not_after', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('revoked', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_ca_certificates'))
    )
    op.create_table('extension',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('relative_path', sa.String(length=2048), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('is_user_defined', sa.Boolean(), nullable=False),
    sa.Column('orchestrator_requires_prepare_vm', sa.Boolean(), nullable=False),
    sa.Column('details_json', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension')),
    sa.UniqueConstraint('uuid', name=op.f('uq_extension_uuid'))
    )
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_removed'), ['removed'], unique=False)

    op.create_table('gui_themes',
    sa.Column('name', sa.String(length=2048), nullable=False),
    sa.Column('description', sa.String(length=4096), nullable=True),
    sa.Column('css', sa.Text(), nullable=True),
    sa.Column('json_configuration', sa.Text(), nullable=True),
    sa.Column('common_names', sa.Text(), nullable=True),
    sa.Column('domain_uuids', sa.Text(), nullable=True),
    sa.Column('account_uuids', sa.Text(), nullable=True),
    sa.Column('recursive_domains', sa.Boolean(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gui_themes')),
    sa.UniqueConstraint('uuid', name=op.f('uq_gui_themes_uuid'))
    )
    with op.batch_alter_table('gui_themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gui_themes_removed'), ['removed'], unique=False)

    op.create_table('mshost_maintenance',
    sa.Column('msid', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('maintenance_initiated', sa.Boolean(), nullable=False),
    sa.Column('shutdown_triggered', sa.Boolean(), nullable=False),
    sa.Column('updated', management.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('msid', name=op.f('pk_mshost_maintenance'))
    )
    op.create_table('quota_email_templates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('template_name', sa.String(length=64), nullable=False),
    sa.Column('template_subject', sa.String(length=255), nullable=False),
    sa.Column('template_body', sa.Text(), nullable=False),
    sa.Column('locale', sa.String(length=25), nullable=False),
    sa.Column('last_updated', management.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_email_templates')),
    sa.UniqueConstraint('template_name', 'locale', name=op.f('uq_quota_email_templates_template_name'))
    )
    op.create_table('quota_tariff',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('usage_type', sa.Integer(), nullable=False),
    sa.Column('usage_name', sa.String(length=255), nullable=False),
    sa.Column('usage_unit', sa.String(length=255), nullable=False),
    sa.Column('usage_discriminator', sa.String(length=255), nullable=False),
    sa.Column('currency_value', sa.Numeric(precision=15, scale=8), nullable=False),
    sa.Column('activation_rule', sa.Text(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('effective_on', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('end_date', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('updated_on', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_tariff')),
    sa.UniqueConstraint('uuid', name=op.f('uq_quota_tariff_uuid'))
    )
    with op.batch_alter_table('quota_tariff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quota_tariff_name'), ['name'], unique=False)

    op.create_table('resource_details',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('resource_uuid', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_details')),
    sa.UniqueConstraint('resource_type', 'resource_uuid', 'name', name=op.f('uq_resource_details_resource_type'))
    )
    with op.batch_alter_table('resource_details', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_details_resource_uuid'), ['resource_uuid'], unique=False)

    op.create_table('resource_icon',
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('resource_uuid', sa.String(length=40), nullable=False),
    sa.Column('icon', sa.Text(), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_icon')),
    sa.UniqueConstraint('resource_type', 'resource_uuid', name=op.f('uq_resource_icon_resource_type')),
    sa.UniqueConstraint('uuid', name=op.f('uq_resource_icon_uuid'))
    )
    with op.batch_alter_table('resource_icon', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_icon_resource_uuid'), ['resource_uuid'], unique=False)

    op.create_table('vm_stats',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('vm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mgmt_server_id', sa.String(length=64), nullable=False),
    sa.Column('timestamp', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('vm_stats_data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vm_stats'))
    )
    with op.batch_alter_table('vm_stats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vm_stats_timestamp'), ['timestamp'], unique=False)
        batch_op.create_index('ix_vm_stats_vm_time', ['vm_id', 'timestamp'], unique=False)

    op.create_table('volume_stats',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('volume_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mgmt_server_id', sa.String(length=64), nullable=False),
    sa.Column('timestamp', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('volume_stats_data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_stats'))
    )
    with op.batch_alter_table('volume_stats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volume_stats_timestamp'), ['timestamp'], unique=False)
        batch_op.create_index('ix_volume_stats_volume_time', ['volume_id', 'timestamp'], unique=False)

    op.create_table('extension_custom_action',
    sa.Column('extension_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('resource_type', sa.String(length=32), nullable=True),
    sa.Column('allowed_role_types', sa.Integer(), nullable=False),
    sa.Column('success_message', sa.Text(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('timeout', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('parameters_json', sa.Text(), nullable=True),
    sa.Column('details_json', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['extension_id'], ['extension.id'], name=op.f('fk_extension_custom_action_extension_id_extension'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_custom_action')),
    sa.UniqueConstraint('uuid', name=op.f('uq_extension_custom_action_uuid'))
    )
    with op.batch_alter_table('extension_custom_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_custom_action_extension_id'), ['extension_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extension_custom_action_removed'), ['removed'], unique=False)

    op.create_table('extension_resource_map',
    sa.Column('extension_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('details_json', sa.Text(), nullable=True),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['extension_id'], ['extension.id'], name=op.f('fk_extension_resource_map_extension_id_extension'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_resource_map')),
    sa.UniqueConstraint('resource_type', 'resource_id', name=op.f('uq_extension_resource_map_resource_type')),
    sa.UniqueConstraint('uuid', name=op.f('uq_extension_resource_map_uuid'))
    )
    with op.batch_alter_table('extension_resource_map', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_resource_map_extension_id'), ['extension_id'], unique=False)

    op.create_table('quota_account',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quota_balance', sa.Numeric(precision=15, scale=8), nullable=True),
    sa.Column('quota_balance_date', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('quota_enforce', sa.Boolean(), nullable=False),
    sa.Column('quota_min_balance', sa.Numeric(precision=15, scale=8), nullable=False),
    sa.Column('quota_alert_date', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('last_statement_date', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('updated_on', management.db.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_quota_account_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_quota_account'))
    )
    op.create_table('quota_balance',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_balance', sa.Numeric(precision=15, scale=8), nullable=False),
    sa.Column('credits_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_on', management.db.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_quota_balance_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_quota_balance_domain_id_domain')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_balance'))
    )
    with op.batch_alter_table('quota_balance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quota_balance_account_id'), ['account_id'], unique=False)

    op.create_table('quota_credits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit', sa.Numeric(precision=15, scale=4), nullable=False),
    sa.Column('updated_on', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_quota_credits_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_quota_credits_domain_id_domain')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_credits'))
    )
    with op.batch_alter_table('quota_credits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quota_credits_account_id'), ['account_id'], unique=False)

    op.create_table('quota_email_configuration',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email_template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_quota_email_configuration_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['email_template_id'], ['quota_email_templates.id'], name=op.f('fk_quota_email_configuration_email_template_id_quota_email_templates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'email_template_id', name=op.f('pk_quota_email_configuration'))
    )
    op.create_table('quota_usage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('usage_item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('zone_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('usage_type', sa.Integer(), nullable=False),
    sa.Column('tariff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quota_used', sa.Numeric(precision=15, scale=8), nullable=False),
    sa.Column('start_date', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('end_date', management.db.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_quota_usage_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_quota_usage_domain_id_domain')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_usage')),
    sa.UniqueConstraint('usage_item_id', 'tariff_id', name=op.f('uq_quota_usage_usage_item_id'))
    )
    with op.batch_alter_table('quota_usage', schema=None) as batch_op:
        batch_op.create_index('ix_quota_usage_account_start', ['account_id', 'start_date'], unique=False)

    op.create_table('console_session',
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('host_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('creator_address', sa.String(length=64), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('acquired', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_console_session_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_console_session_domain_id_domain')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_console_session_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_session')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_console_session_token_digest')),
    sa.UniqueConstraint('uuid', name=op.f('uq_console_session_uuid'))
    )
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_session_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_session_instance_id'), ['instance_id'], unique=False)

    op.create_table('session_two_factor',
    sa.Column('session_digest', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('verified', management.db.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_session_two_factor_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_digest', name=op.f('pk_session_two_factor'))
    )
    with op.batch_alter_table('session_two_factor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_two_factor_user_id'), ['user_id'], unique=False)

    op.create_table('user_two_factor',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('secret', sa.String(length=255), nullable=True),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('last_code_step', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_two_factor_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_two_factor'))
    )
    op.create_table('dedicated_resources',
    sa.Column('zone_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('pod_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('cluster_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('host_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_dedicated_resources_account_id_account')),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], name=op.f('fk_dedicated_resources_cluster_id_cluster')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_dedicated_resources_domain_id_domain')),
    sa.ForeignKeyConstraint(['host_id'], ['host.id'], name=op.f('fk_dedicated_resources_host_id_host')),
    sa.ForeignKeyConstraint(['pod_id'], ['host_pod_ref.id'], name=op.f('fk_dedicated_resources_pod_id_host_pod_ref')),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], name=op.f('fk_dedicated_resources_zone_id_data_center')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dedicated_resources')),
    sa.UniqueConstraint('cluster_id', name=op.f('uq_dedicated_resources_cluster_id')),
    sa.UniqueConstraint('host_id', name=op.f('uq_dedicated_resources_host_id')),
    sa.UniqueConstraint('pod_id', name=op.f('uq_dedicated_resources_pod_id')),
    sa.UniqueConstraint('uuid', name=op.f('uq_dedicated_resources_uuid')),
    sa.UniqueConstraint('zone_id', name=op.f('uq_dedicated_resources_zone_id'))
    )
    with op.batch_alter_table('dedicated_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dedicated_resources_domain_id'), ['domain_id'], unique=False)

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False,
                                      server_default='ENABLED'))



def downgrade() -> None:
    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.drop_column('state')

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('archived')

    with op.batch_alter_table('dedicated_resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dedicated_resources_domain_id'))

    op.drop_table('dedicated_resources')
    op.drop_table('user_two_factor')
    with op.batch_alter_table('session_two_factor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_two_factor_user_id'))

    op.drop_table('session_two_factor')
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_session_instance_id'))
        batch_op.drop_index(batch_op.f('ix_console_session_account_id'))

    op.drop_table('console_session')
    with op.batch_alter_table('quota_usage', schema=None) as batch_op:
        batch_op.drop_index('ix_quota_usage_account_start')

    op.drop_table('quota_usage')
    op.drop_table('quota_email_configuration')
    with op.batch_alter_table('quota_credits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quota_credits_account_id'))

    op.drop_table('quota_credits')
    with op.batch_alter_table('quota_balance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quota_balance_account_id'))

    op.drop_table('quota_balance')
    op.drop_table('quota_account')
    with op.batch_alter_table('extension_resource_map', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_resource_map_extension_id'))

    op.drop_table('extension_resource_map')
    with op.batch_alter_table('extension_custom_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_custom_action_removed'))
        batch_op.drop_index(batch_op.f('ix_extension_custom_action_extension_id'))

    op.drop_table('extension_custom_action')
    with op.batch_alter_table('volume_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_volume_stats_volume_time')
        batch_op.drop_index(batch_op.f('ix_volume_stats_timestamp'))

    op.drop_table('volume_stats')
    with op.batch_alter_table('vm_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_vm_stats_vm_time')
        batch_op.drop_index(batch_op.f('ix_vm_stats_timestamp'))

    op.drop_table('vm_stats')
    with op.batch_alter_table('resource_icon', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_icon_resource_uuid'))

    op.drop_table('resource_icon')
    with op.batch_alter_table('resource_details', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_details_resource_uuid'))

    op.drop_table('resource_details')
    with op.batch_alter_table('quota_tariff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quota_tariff_name'))

    op.drop_table('quota_tariff')
    op.drop_table('quota_email_templates')
    op.drop_table('mshost_maintenance')
    with op.batch_alter_table('gui_themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gui_themes_removed'))

    op.drop_table('gui_themes')
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_removed'))

    op.drop_table('extension')
    op.drop_table('ca_certificates')
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_index('ix_annotations_entity')

    op.drop_table('annotations')
