"""vpc, network acl, vpn, internal lb

Revision ID: 0006_vpc
Revises: 0005_farm
Create Date: 2026-12-04 07:13:13.607562
"""
from alembic import op
import sqlalchemy as sa
import management.db.base


revision = '0006_vpc'
down_revision = '0005_farm'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('network_acl',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('builtin', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_acl')),
    sa.UniqueConstraint('uuid', name=op.f('uq_network_acl_uuid'))
    )
    with op.batch_alter_table('network_acl', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_acl_vpc_id'), ['vpc_id'], unique=False)

    op.create_table('network_acl_item',
    sa.Column('acl_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('start_port', sa.Integer(), nullable=True),
    sa.Column('end_port', sa.Integer(), nullable=True),
    sa.Column('icmp_type', sa.Integer(), nullable=True),
    sa.Column('icmp_code', sa.Integer(), nullable=True),
    sa.Column('cidr', sa.Text(), nullable=True),
    sa.Column('traffic_type', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=2500), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['acl_id'], ['network_acl.id'], name=op.f('fk_network_acl_item_acl_id_network_acl'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_acl_item')),
    sa.UniqueConstraint('acl_id', 'number', name=op.f('uq_network_acl_item_acl_id')),
    sa.UniqueConstraint('uuid', name=op.f('uq_network_acl_item_uuid'))
    )
    with op.batch_alter_table('network_acl_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_acl_item_acl_id'), ['acl_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_acl_item_removed'), ['removed'], unique=False)

    op.create_table('vpc_offerings',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('unique_name', sa.String(length=255), nullable=True),
    sa.Column('display_text', sa.String(length=4096), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('services_json', sa.Text(), nullable=False),
    sa.Column('service_offering_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('redundant_router', sa.Boolean(), nullable=False),
    sa.Column('distributed_router', sa.Boolean(), nullable=False),
    sa.Column('region_level_vpc', sa.Boolean(), nullable=False),
    sa.Column('internet_protocol', sa.String(length=16), nullable=True),
    sa.Column('domain_ids', sa.Text(), nullable=True),
    sa.Column('zone_ids', sa.Text(), nullable=True),
    sa.Column('sort_key', sa.Integer(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['service_offering_id'], ['service_offering.id'], name=op.f('fk_vpc_offerings_service_offering_id_service_offering')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vpc_offerings')),
    sa.UniqueConstraint('uuid', name=op.f('uq_vpc_offerings_uuid'))
    )
    with op.batch_alter_table('vpc_offerings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vpc_offerings_removed'), ['removed'], unique=False)

    op.create_table('remote_access_vpn',
    sa.Column('vpn_server_addr_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('network_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('local_ip', sa.String(length=64), nullable=False),
    sa.Column('ip_range', sa.String(length=255), nullable=False),
    sa.Column('ipsec_psk', sa.String(length=256), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_remote_access_vpn_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_remote_access_vpn_domain_id_domain')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remote_access_vpn')),
    sa.UniqueConstraint('uuid', name=op.f('uq_remote_access_vpn_uuid')),
    sa.UniqueConstraint('vpn_server_addr_id', name=op.f('uq_remote_access_vpn_vpn_server_addr_id'))
    )
    with op.batch_alter_table('remote_access_vpn', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_access_vpn_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remote_access_vpn_removed'), ['removed'], unique=False)

    op.create_table('s2s_customer_gateway',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('gateway_ip', sa.String(length=64), nullable=False),
    sa.Column('guest_cidr_list', sa.Text(), nullable=False),
    sa.Column('ipsec_psk', sa.String(length=256), nullable=False),
    sa.Column('ike_policy', sa.String(length=255), nullable=False),
    sa.Column('esp_policy', sa.String(length=255), nullable=False),
    sa.Column('ike_lifetime', sa.BigInteger(), nullable=False),
    sa.Column('esp_lifetime', sa.BigInteger(), nullable=False),
    sa.Column('dpd', sa.Boolean(), nullable=False),
    sa.Column('force_encap', sa.Boolean(), nullable=False),
    sa.Column('split_connections', sa.Boolean(), nullable=False),
    sa.Column('ike_version', sa.String(length=8), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_s2s_customer_gateway_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_s2s_customer_gateway_domain_id_domain')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_s2s_customer_gateway')),
    sa.UniqueConstraint('uuid', name=op.f('uq_s2s_customer_gateway_uuid'))
    )
    with op.batch_alter_table('s2s_customer_gateway', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_s2s_customer_gateway_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_s2s_customer_gateway_removed'), ['removed'], unique=False)

    op.create_table('vpc',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_text', sa.String(length=255), nullable=True),
    sa.Column('cidr', sa.String(length=64), nullable=False),
    sa.Column('zone_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('vpc_offering_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('network_domain', sa.String(length=255), nullable=True),
    sa.Column('restart_required', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('redundant', sa.Boolean(), nullable=False),
    sa.Column('dns1', sa.String(length=64), nullable=True),
    sa.Column('dns2', sa.String(length=64), nullable=True),
    sa.Column('public_mtu', sa.Integer(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vpc_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_vpc_domain_id_domain')),
    sa.ForeignKeyConstraint(['vpc_offering_id'], ['vpc_offerings.id'], name=op.f('fk_vpc_vpc_offering_id_vpc_offerings')),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], name=op.f('fk_vpc_zone_id_data_center')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vpc')),
    sa.UniqueConstraint('uuid', name=op.f('uq_vpc_uuid'))
    )
    with op.batch_alter_table('vpc', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vpc_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vpc_removed'), ['removed'], unique=False)
        batch_op.create_index(batch_op.f('ix_vpc_zone_id'), ['zone_id'], unique=False)

    op.create_table('vpn_users',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('password', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vpn_users_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_vpn_users_domain_id_domain')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vpn_users')),
    sa.UniqueConstraint('uuid', name=op.f('uq_vpn_users_uuid'))
    )
    with op.batch_alter_table('vpn_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vpn_users_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vpn_users_removed'), ['removed'], unique=False)

    op.create_table('s2s_vpn_gateway',
    sa.Column('addr_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_s2s_vpn_gateway_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_s2s_vpn_gateway_domain_id_domain')),
    sa.ForeignKeyConstraint(['vpc_id'], ['vpc.id'], name=op.f('fk_s2s_vpn_gateway_vpc_id_vpc')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_s2s_vpn_gateway')),
    sa.UniqueConstraint('uuid', name=op.f('uq_s2s_vpn_gateway_uuid'))
    )
    with op.batch_alter_table('s2s_vpn_gateway', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_s2s_vpn_gateway_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_s2s_vpn_gateway_removed'), ['removed'], unique=False)
        batch_op.create_index(batch_op.f('ix_s2s_vpn_gateway_vpc_id'), ['vpc_id'], unique=False)

    op.create_table('static_routes',
    sa.Column('vpc_gateway_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('next_hop', sa.String(length=64), nullable=True),
    sa.Column('cidr', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_static_routes_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_static_routes_domain_id_domain')),
    sa.ForeignKeyConstraint(['vpc_id'], ['vpc.id'], name=op.f('fk_static_routes_vpc_id_vpc')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_static_routes')),
    sa.UniqueConstraint('uuid', name=op.f('uq_static_routes_uuid'))
    )
    with op.batch_alter_table('static_routes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_static_routes_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_static_routes_removed'), ['removed'], unique=False)
        batch_op.create_index(batch_op.f('ix_static_routes_vpc_gateway_id'), ['vpc_gateway_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_static_routes_vpc_id'), ['vpc_id'], unique=False)

    op.create_table('vpc_gateways',
    sa.Column('ip4_address', sa.String(length=64), nullable=False),
    sa.Column('gateway', sa.String(length=64), nullable=False),
    sa.Column('netmask', sa.String(length=64), nullable=False),
    sa.Column('vlan_tag', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('zone_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('physical_network_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('associated_network_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('source_nat', sa.Boolean(), nullable=False),
    sa.Column('network_acl_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vpc_gateways_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_vpc_gateways_domain_id_domain')),
    sa.ForeignKeyConstraint(['vpc_id'], ['vpc.id'], name=op.f('fk_vpc_gateways_vpc_id_vpc')),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], name=op.f('fk_vpc_gateways_zone_id_data_center')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vpc_gateways')),
    sa.UniqueConstraint('uuid', name=op.f('uq_vpc_gateways_uuid'))
    )
    with op.batch_alter_table('vpc_gateways', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vpc_gateways_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vpc_gateways_removed'), ['removed'], unique=False)
        batch_op.create_index(batch_op.f('ix_vpc_gateways_vpc_id'), ['vpc_id'], unique=False)

    op.create_table('vpc_router_ref',
    sa.Column('router_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider_key', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['vpc_id'], ['vpc.id'], name=op.f('fk_vpc_router_ref_vpc_id_vpc')),
    sa.PrimaryKeyConstraint('router_id', name=op.f('pk_vpc_router_ref'))
    )
    with op.batch_alter_table('vpc_router_ref', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vpc_router_ref_vpc_id'), ['vpc_id'], unique=False)

    op.create_table('internal_lb_vm_ref',
    sa.Column('vm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('network_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_ip', sa.String(length=64), nullable=False),
    sa.Column('provider_key', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_internal_lb_vm_ref_network_id_networks')),
    sa.PrimaryKeyConstraint('vm_id', name=op.f('pk_internal_lb_vm_ref')),
    sa.UniqueConstraint('network_id', 'source_ip', name=op.f('uq_internal_lb_vm_ref_network_id'))
    )
    with op.batch_alter_table('internal_lb_vm_ref', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_internal_lb_vm_ref_network_id'), ['network_id'], unique=False)

    op.create_table('s2s_vpn_connection',
    sa.Column('vpn_gateway_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_gateway_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('passive', sa.Boolean(), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('domain_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.Column('created', management.db.base.UTCDateTime(), nullable=False),
    sa.Column('removed', management.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_s2s_vpn_connection_account_id_account')),
    sa.ForeignKeyConstraint(['customer_gateway_id'], ['s2s_customer_gateway.id'], name=op.f('fk_s2s_vpn_connection_customer_gateway_id_s2s_customer_gateway')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_s2s_vpn_connection_domain_id_domain')),
    sa.ForeignKeyConstraint(['vpn_gateway_id'], ['s2s_vpn_gateway.id'], name=op.f('fk_s2s_vpn_connection_vpn_gateway_id_s2s_vpn_gateway')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_s2s_vpn_connection')),
    sa.UniqueConstraint('uuid', name=op.f('uq_s2s_vpn_connection_uuid'))
    )
    with op.batch_alter_table('s2s_vpn_connection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_s2s_vpn_connection_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_s2s_vpn_connection_customer_gateway_id'), ['customer_gateway_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_s2s_vpn_connection_removed'), ['removed'], unique=False)
        batch_op.create_index(batch_op.f('ix_s2s_vpn_connection_vpn_gateway_id'), ['vpn_gateway_id'], unique=False)

    op.create_table('load_balancing_internal',
    sa.Column('rule_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scheme', sa.String(length=16), nullable=False),
    sa.Column('source_ip', sa.String(length=64), nullable=False),
    sa.Column('source_network_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['firewall_rules.id'], name=op.f('fk_load_balancing_internal_rule_id_firewall_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_network_id'], ['networks.id'], name=op.f('fk_load_balancing_internal_source_network_id_networks')),
    sa.PrimaryKeyConstraint('rule_id', name=op.f('pk_load_balancing_internal'))
    )
    with op.batch_alter_table('load_balancing_internal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_load_balancing_internal_source_network_id'), ['source_network_id'], unique=False)

    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('network_acl_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_networks_vpc_id'), ['vpc_id'], unique=False)

    with op.batch_alter_table('user_ip_address', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vpc_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_user_ip_address_vpc_id'), ['vpc_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('user_ip_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_ip_address_vpc_id'))
        batch_op.drop_column('vpc_id')

    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_networks_vpc_id'))
        batch_op.drop_column('network_acl_id')
        batch_op.drop_column('vpc_id')

    with op.batch_alter_table('load_balancing_internal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_load_balancing_internal_source_network_id'))

    op.drop_table('load_balancing_internal')
    with op.batch_alter_table('s2s_vpn_connection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_s2s_vpn_connection_vpn_gateway_id'))
        batch_op.drop_index(batch_op.f('ix_s2s_vpn_connection_removed'))
        batch_op.drop_index(batch_op.f('ix_s2s_vpn_connection_customer_gateway_id'))
        batch_op.drop_index(batch_op.f('ix_s2s_vpn_connection_account_id'))

    op.drop_table('s2s_vpn_connection')
    with op.batch_alter_table('internal_lb_vm_ref', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_internal_lb_vm_ref_network_id'))

    op.drop_table('internal_lb_vm_ref')
    with op.batch_alter_table('vpc_router_ref', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vpc_router_ref_vpc_id'))

    op.drop_table('vpc_router_ref')
    with op.batch_alter_table('vpc_gateways', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vpc_gateways_vpc_id'))
        batch_op.drop_index(batch_op.f('ix_vpc_gateways_removed'))
        batch_op.drop_index(batch_op.f('ix_vpc_gateways_account_id'))

    op.drop_table('vpc_gateways')
    with op.batch_alter_table('static_routes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_static_routes_vpc_id'))
        batch_op.drop_index(batch_op.f('ix_static_routes_vpc_gateway_id'))
        batch_op.drop_index(batch_op.f('ix_static_routes_removed'))
        batch_op.drop_index(batch_op.f('ix_static_routes_account_id'))

    op.drop_table('static_routes')
    with op.batch_alter_table('s2s_vpn_gateway', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_s2s_vpn_gateway_vpc_id'))
        batch_op.drop_index(batch_op.f('ix_s2s_vpn_gateway_removed'))
        batch_op.drop_index(batch_op.f('ix_s2s_vpn_gateway_account_id'))

    op.drop_table('s2s_vpn_gateway')
    with op.batch_alter_table('vpn_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vpn_users_removed'))
        batch_op.drop_index(batch_op.f('ix_vpn_users_account_id'))

    op.drop_table('vpn_users')
    with op.batch_alter_table('vpc', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vpc_zone_id'))
        batch_op.drop_index(batch_op.f('ix_vpc_removed'))
        batch_op.drop_index(batch_op.f('ix_vpc_account_id'))

    op.drop_table('vpc')
    with op.batch_alter_table('s2s_customer_gateway', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_s2s_customer_gateway_removed'))
        batch_op.drop_index(batch_op.f('ix_s2s_customer_gateway_account_id'))

    op.drop_table('s2s_customer_gateway')
    with op.batch_alter_table('remote_access_vpn', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_access_vpn_removed'))
        batch_op.drop_index(batch_op.f('ix_remote_access_vpn_account_id'))

    op.drop_table('remote_access_vpn')
    with op.batch_alter_table('vpc_offerings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vpc_offerings_removed'))

    op.drop_table('vpc_offerings')
    with op.batch_alter_table('network_acl_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_acl_item_removed'))
        batch_op.drop_index(batch_op.f('ix_network_acl_item_acl_id'))

    op.drop_table('network_acl_item')
    with op.batch_alter_table('network_acl', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_acl_vpc_id'))

    op.drop_table('network_acl')
    
