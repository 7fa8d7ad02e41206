"""Usage reporting at scale: covering indexes for the orders aggregate and hourly request counts.

- ``ix_orders_partner_usage`` (partner_id, created_at, UTC day of created_at, status, sku,
  total_minor, refunded_minor): ``GET /api/partner/usage`` aggregates a partner's orders of a
  window from the index alone (an index-only scan on PostgreSQL), day buckets included, instead
  of visiting every order row. The day expression is dialect-specific
  (``steller_server.db.expressions``).
- ``request_log_hourly``: per partner and UTC hour, the number of API calls and error responses,
  rolled up from ``request_logs`` once an hour is over (``domain.request_log_queries``). Usage
  counts rolled-up hours from here and only the latest from the raw log; the rollups also outlive
  the log's 30-day retention. A row with ``partner_id = '*'`` marks an hour as rolled up for every
  partner.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from steller_server.db.expressions import UTC_DAY_SQL


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    day = sa.text(UTC_DAY_SQL[op.get_bind().dialect.name])
    op.create_index(
        'ix_orders_partner_usage', 'orders',
        ['partner_id', 'created_at', day, 'status', 'sku', 'total_minor', 'refunded_minor'],
        unique=False,
    )
    op.create_table('request_log_hourly',
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('errors', sa.BigInteger(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'hour', name=op.f('pk_request_log_hourly'))
    )


def downgrade() -> None:
    op.drop_table('request_log_hourly')
    op.drop_index('ix_orders_partner_usage', table_name='orders')
