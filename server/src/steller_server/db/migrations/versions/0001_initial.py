"""Initial schema: every table, index and the append-only ledger triggers.

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Exact decimals: NUMERIC on PostgreSQL, text on SQLite (see steller_server.db.types.DecimalType).
RATE = sa.Numeric(24, 12).with_variant(sa.String(48), 'sqlite')
PERCENT = sa.Numeric(7, 4).with_variant(sa.String(48), 'sqlite')

PG_LEDGER_TRIGGER = [
    """
    CREATE FUNCTION steller_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP
            USING ERRCODE = 'raise_exception';
    END;
    $$
    """,
    """
    CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION steller_ledger_append_only()
    """,
]

SQLITE_LEDGER_TRIGGERS = [
    """
    CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only (UPDATE refused)'); END
    """,
    """
    CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only (DELETE refused)'); END
    """,
]


def upgrade() -> None:
    op.create_table('admin_users',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'support', 'finance')", name=op.f('ck_admin_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_users'))
    )
    op.create_index('ix_admin_users_created', 'admin_users', ['created_at', 'id'], unique=False)
    op.create_index('uq_admin_users_email_lower', 'admin_users', [sa.literal_column('lower(email)')], unique=True)
    op.create_table('alerts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=80), nullable=True),
    sa.Column('ack_note', sa.String(length=1000), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("severity IN ('warning', 'critical')", name=op.f('ck_alerts_severity')),
    sa.CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name=op.f('ck_alerts_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_alerts_dedupe_key'))
    )
    op.create_index('ix_alerts_last_seen', 'alerts', ['last_seen_at', 'id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.String(length=80), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('request_id', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('sequence', name=op.f('uq_audit_log_sequence'))
    )
    op.create_index('ix_audit_log_created', 'audit_log', ['created_at', 'id'], unique=False)
    op.create_index('ix_audit_log_target', 'audit_log', ['target_type', 'target_id'], unique=False)
    op.create_table('catalog_sync_runs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('brands', sa.Integer(), nullable=False),
    sa.Column('products', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('marked_unavailable', sa.Integer(), nullable=False),
    sa.Column('exchange_rates', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_sync_runs'))
    )
    op.create_index('ix_catalog_sync_runs_started', 'catalog_sync_runs', ['started_at', 'id'], unique=False)
    op.create_table('fx_rates',
    sa.Column('base', sa.String(length=3), nullable=False),
    sa.Column('quote', sa.String(length=3), nullable=False),
    sa.Column('rate', RATE, nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('base', 'quote', name=op.f('pk_fx_rates'))
    )
    op.create_table('health_probes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('component', sa.String(length=32), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_probes'))
    )
    op.create_index('ix_health_probes_component', 'health_probes', ['component', 'checked_at'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_headers', sa.JSON(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('in_progress', 'completed')", name=op.f('ck_idempotency_keys_state')),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index('ix_idempotency_keys_expires', 'idempotency_keys', ['expires_at'], unique=False)
    op.create_table('incidents',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('impact', sa.String(length=16), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('updates', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    op.create_index('ix_incidents_created', 'incidents', ['created_at', 'id'], unique=False)
    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_by', sa.String(length=120), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('request_id', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name=op.f('ck_jobs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_jobs_dedupe_key'))
    )
    op.create_index('ix_jobs_claim', 'jobs', ['status', 'run_at', 'id'], unique=False)
    op.create_index('ix_jobs_lease', 'jobs', ['status', 'locked_until'], unique=False)
    op.create_table('partners',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('company', sa.String(length=120), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('api_version', sa.String(length=10), nullable=False),
    sa.Column('low_balance_threshold_minor', sa.BigInteger(), nullable=False),
    sa.Column('low_balance_notified', sa.Boolean(), nullable=False),
    sa.Column('notifications', sa.JSON(), nullable=False),
    sa.Column('rate_limit_catalog', sa.Integer(), nullable=True),
    sa.Column('rate_limit_orders', sa.Integer(), nullable=True),
    sa.Column('rate_limit_default', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("environment IN ('sandbox', 'live')", name=op.f('ck_partners_environment')),
    sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f('ck_partners_status')),
    sa.CheckConstraint('low_balance_threshold_minor >= 0', name=op.f('ck_partners_threshold')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners'))
    )
    op.create_index('ix_partners_created', 'partners', ['created_at', 'id'], unique=False)
    op.create_index('uq_partners_email_lower', 'partners', [sa.literal_column('lower(email)')], unique=True)
    op.create_table('products',
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('vendor_product_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('brand_name', sa.String(length=200), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('face_currency', sa.String(length=3), nullable=False),
    sa.Column('denomination_type', sa.String(length=8), nullable=False),
    sa.Column('min_face_minor', sa.BigInteger(), nullable=False),
    sa.Column('max_face_minor', sa.BigInteger(), nullable=False),
    sa.Column('cost_min_minor', sa.BigInteger(), nullable=False),
    sa.Column('cost_max_minor', sa.BigInteger(), nullable=False),
    sa.Column('cost_currency', sa.String(length=3), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('redemption_instructions', sa.Text(), nullable=True),
    sa.Column('terms', sa.Text(), nullable=True),
    sa.Column('logo_url', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("denomination_type IN ('fixed', 'range')", name=op.f('ck_products_denomination_type')),
    sa.CheckConstraint('cost_min_minor >= 0 AND cost_max_minor >= 0', name=op.f('ck_products_cost')),
    sa.CheckConstraint('min_face_minor > 0 AND max_face_minor >= min_face_minor', name=op.f('ck_products_face_range')),
    sa.PrimaryKeyConstraint('sku', name=op.f('pk_products'))
    )
    op.create_index('ix_products_face_currency', 'products', ['face_currency', 'sku'], unique=False)
    op.create_index('ix_products_vendor_product', 'products', ['vendor_product_id'], unique=False)
    op.create_table('reconciliation_runs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wallets_checked', sa.Integer(), nullable=False),
    sa.Column('orders_checked', sa.Integer(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_runs'))
    )
    op.create_index('ix_reconciliation_runs_started', 'reconciliation_runs', ['started_at', 'id'], unique=False)
    op.create_table('request_logs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=80), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=True),
    sa.Column('key_id', sa.String(length=40), nullable=True),
    sa.Column('admin_user_id', sa.String(length=40), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('client_ip', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_logs'))
    )
    op.create_index('ix_request_logs_created', 'request_logs', ['created_at', 'id'], unique=False)
    op.create_index('ix_request_logs_partner_created', 'request_logs', ['partner_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_request_logs_request_id', 'request_logs', ['request_id'], unique=False)
    op.create_table('admin_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['admin_users.id'], name=op.f('fk_admin_sessions_user_id_admin_users')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_admin_sessions'))
    )
    op.create_index('ix_admin_sessions_expires', 'admin_sessions', ['expires_at'], unique=False)
    op.create_index('ix_admin_sessions_user', 'admin_sessions', ['user_id'], unique=False)
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('ip_allowlist', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rotated_from_id', sa.String(length=40), nullable=True),
    sa.CheckConstraint("role IN ('developer', 'ordering', 'finance')", name=op.f('ck_api_keys_role')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_api_keys_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_index('ix_api_keys_partner_created', 'api_keys', ['partner_id', 'created_at', 'id'], unique=False)
    op.create_table('events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('delivery_status', sa.String(length=16), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("delivery_status IN ('pending', 'delivered', 'failed', 'not_subscribed')", name=op.f('ck_events_delivery_status')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_events_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index('ix_events_order', 'events', ['order_id'], unique=False)
    op.create_index('ix_events_partner_created', 'events', ['partner_id', 'created_at', 'id'], unique=False)
    op.create_table('partner_products',
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('discount_percent', PERCENT, nullable=False),
    sa.Column('approved_by', sa.String(length=80), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_products_partner_id_partners')),
    sa.ForeignKeyConstraint(['sku'], ['products.sku'], name=op.f('fk_partner_products_sku_products')),
    sa.PrimaryKeyConstraint('partner_id', 'sku', name=op.f('pk_partner_products'))
    )
    op.create_table('wallets',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance_minor >= 0', name=op.f('ck_wallets_balance_non_negative')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_wallets_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallets')),
    sa.UniqueConstraint('partner_id', name=op.f('uq_wallets_partner_id'))
    )
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('previous_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disabled_reason', sa.String(length=500), nullable=True),
    sa.Column('failure_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f('ck_webhook_endpoints_status')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_webhook_endpoints_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    sa.UniqueConstraint('partner_id', name=op.f('uq_webhook_endpoints_partner_id'))
    )
    op.create_table('orders',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('wallet_id', sa.String(length=40), nullable=False),
    sa.Column('reference_id', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('product_name', sa.String(length=200), nullable=False),
    sa.Column('brand_name', sa.String(length=200), nullable=False),
    sa.Column('face_value_minor', sa.BigInteger(), nullable=False),
    sa.Column('face_currency', sa.String(length=3), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('quantity_fulfilled', sa.Integer(), nullable=False),
    sa.Column('unit_price_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('discount_percent', PERCENT, nullable=False),
    sa.Column('exchange_rate', RATE, nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('vendor_request_id', sa.String(length=36), nullable=False),
    sa.Column('vendor_order_id', sa.String(length=64), nullable=True),
    sa.Column('vendor_status', sa.String(length=32), nullable=True),
    sa.Column('vendor_submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('request_id', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('processing', 'completed', 'partially_completed', 'failed', 'cancelled')", name=op.f('ck_orders_status')),
    sa.CheckConstraint('quantity BETWEEN 1 AND 100', name=op.f('ck_orders_quantity')),
    sa.CheckConstraint('quantity_fulfilled BETWEEN 0 AND quantity', name=op.f('ck_orders_quantity_fulfilled')),
    sa.CheckConstraint('refunded_minor >= 0 AND refunded_minor <= total_minor', name=op.f('ck_orders_refunded')),
    sa.CheckConstraint('total_minor = unit_price_minor * quantity', name=op.f('ck_orders_total')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_orders_partner_id_partners')),
    sa.ForeignKeyConstraint(['wallet_id'], ['wallets.id'], name=op.f('fk_orders_wallet_id_wallets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('partner_id', 'reference_id', name=op.f('uq_orders_partner_id_reference_id')),
    sa.UniqueConstraint('vendor_request_id', name=op.f('uq_orders_vendor_request_id'))
    )
    op.create_index('ix_orders_created', 'orders', ['created_at', 'id'], unique=False)
    op.create_index('ix_orders_partner_created', 'orders', ['partner_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_orders_status_created', 'orders', ['status', 'created_at'], unique=False)
    op.create_table('webhook_attempts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_webhook_attempts_event_id_events')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_webhook_attempts_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts'))
    )
    op.create_index('ix_webhook_attempts_event', 'webhook_attempts', ['event_id', 'attempted_at'], unique=False)
    op.create_table('ledger_entries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('wallet_id', sa.String(length=40), nullable=False),
    sa.Column('wallet_seq', sa.BigInteger(), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance_before_minor', sa.BigInteger(), nullable=False),
    sa.Column('balance_after_minor', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('entry_key', sa.String(length=200), nullable=True),
    sa.Column('request_id', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(type = 'credit' AND amount_minor > 0) OR (type = 'debit' AND amount_minor < 0) OR (type = 'refund' AND amount_minor > 0) OR (type = 'adjustment' AND amount_minor <> 0)", name=op.f('ck_ledger_entries_amount_sign')),
    sa.CheckConstraint("type IN ('credit', 'debit', 'refund', 'adjustment')", name=op.f('ck_ledger_entries_type')),
    sa.CheckConstraint('balance_after_minor = balance_before_minor + amount_minor', name=op.f('ck_ledger_entries_balance_arithmetic')),
    sa.CheckConstraint('balance_after_minor >= 0', name=op.f('ck_ledger_entries_balance_after_non_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_entries_order_id_orders')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_ledger_entries_partner_id_partners')),
    sa.ForeignKeyConstraint(['wallet_id'], ['wallets.id'], name=op.f('fk_ledger_entries_wallet_id_wallets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('entry_key', name=op.f('uq_ledger_entries_entry_key')),
    sa.UniqueConstraint('wallet_id', 'wallet_seq', name=op.f('uq_ledger_entries_wallet_id_wallet_seq'))
    )
    op.create_index('ix_ledger_order', 'ledger_entries', ['order_id'], unique=False)
    op.create_index('ix_ledger_partner_created', 'ledger_entries', ['partner_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_ledger_wallet_created', 'ledger_entries', ['wallet_id', 'created_at', 'id'], unique=False)
    op.create_table('order_cards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('serial_encrypted', sa.Text(), nullable=False),
    sa.Column('code_encrypted', sa.Text(), nullable=False),
    sa.Column('pin_encrypted', sa.Text(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_cards_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_cards')),
    sa.UniqueConstraint('order_id', 'position', name=op.f('uq_order_cards_order_id_position'))
    )

    bind = op.get_bind()
    statements = PG_LEDGER_TRIGGER if bind.dialect.name == 'postgresql' else SQLITE_LEDGER_TRIGGERS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries')
        op.execute('DROP FUNCTION IF EXISTS steller_ledger_append_only()')
    else:
        op.execute('DROP TRIGGER IF EXISTS ledger_entries_no_update')
        op.execute('DROP TRIGGER IF EXISTS ledger_entries_no_delete')
    op.drop_table('order_cards')
    op.drop_index('ix_ledger_wallet_created', table_name='ledger_entries')
    op.drop_index('ix_ledger_partner_created', table_name='ledger_entries')
    op.drop_index('ix_ledger_order', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index('ix_webhook_attempts_event', table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_orders_status_created', table_name='orders')
    op.drop_index('ix_orders_partner_created', table_name='orders')
    op.drop_index('ix_orders_created', table_name='orders')
    op.drop_table('orders')
    op.drop_table('webhook_endpoints')
    op.drop_table('wallets')
    op.drop_table('partner_products')
    op.drop_index('ix_events_partner_created', table_name='events')
    op.drop_index('ix_events_order', table_name='events')
    op.drop_table('events')
    op.drop_index('ix_api_keys_partner_created', table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_index('ix_admin_sessions_user', table_name='admin_sessions')
    op.drop_index('ix_admin_sessions_expires', table_name='admin_sessions')
    op.drop_table('admin_sessions')
    op.drop_index('ix_request_logs_request_id', table_name='request_logs')
    op.drop_index('ix_request_logs_partner_created', table_name='request_logs')
    op.drop_index('ix_request_logs_created', table_name='request_logs')
    op.drop_table('request_logs')
    op.drop_index('ix_reconciliation_runs_started', table_name='reconciliation_runs')
    op.drop_table('reconciliation_runs')
    op.drop_index('ix_products_vendor_product', table_name='products')
    op.drop_index('ix_products_face_currency', table_name='products')
    op.drop_table('products')
    op.drop_index('uq_partners_email_lower', table_name='partners')
    op.drop_index('ix_partners_created', table_name='partners')
    op.drop_table('partners')
    op.drop_index('ix_jobs_lease', table_name='jobs')
    op.drop_index('ix_jobs_claim', table_name='jobs')
    op.drop_table('jobs')
    op.drop_index('ix_incidents_created', table_name='incidents')
    op.drop_table('incidents')
    op.drop_index('ix_idempotency_keys_expires', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_health_probes_component', table_name='health_probes')
    op.drop_table('health_probes')
    op.drop_table('fx_rates')
    op.drop_index('ix_catalog_sync_runs_started', table_name='catalog_sync_runs')
    op.drop_table('catalog_sync_runs')
    op.drop_index('ix_audit_log_target', table_name='audit_log')
    op.drop_index('ix_audit_log_created', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_alerts_last_seen', table_name='alerts')
    op.drop_table('alerts')
    op.drop_index('uq_admin_users_email_lower', table_name='admin_users')
    op.drop_index('ix_admin_users_created', table_name='admin_users')
    op.drop_table('admin_users')
