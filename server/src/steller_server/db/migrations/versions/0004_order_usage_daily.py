"""Daily per-partner order rollup for ``GET /api/partner/usage``.

``order_usage_daily``: per partner, UTC day of creation, SKU and *current* status, the number of
orders, their total and what was refunded of them. From now on it is kept in the transaction of
every order change (``domain.usage_rollup``); this migration backfills it from the existing orders
with the same grouping as the usage report's raw aggregate, so both give the same figures.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from steller_server.db.expressions import UTC_DAY_SQL


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_usage_daily',
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('order_count', sa.BigInteger(), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'day', 'sku', 'status', name=op.f('pk_order_usage_daily'))
    )
    day = UTC_DAY_SQL[op.get_bind().dialect.name]
    op.execute(
        'INSERT INTO order_usage_daily (partner_id, day, sku, status, order_count, total_minor, '
        'refunded_minor) '
        f'SELECT partner_id, {day}, sku, status, count(*), sum(total_minor), sum(refunded_minor) '
        f'FROM orders GROUP BY partner_id, {day}, sku, status'
    )


def downgrade() -> None:
    op.drop_table('order_usage_daily')
