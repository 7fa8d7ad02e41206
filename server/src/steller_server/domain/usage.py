"""Partner usage over the last N UTC days (``GET /api/partner/usage``).

Window: from UTC midnight ``days - 1`` days before today up to (excluding) tomorrow's midnight,
so ``days=1`` is today. Figures (wallet currency, integer minor units until rendered):

- ``orders`` — orders created in the window, by their current status;
- ``spend`` — gross amount charged for them (``SUM(total)``), ``refunds`` — what was refunded for
  them so far (``SUM(refunded)``), ``averageOrderValue`` — spend / orders, rounded half-up once;
- ``successRate`` — completed / final orders (final = not ``processing``), 4 decimals; 0 without
  final orders;
- ``topProducts`` — up to 10 SKUs by spend (ties by order count, then SKU);
- ``daily`` — every day of the window, with zero days present;
- ``apiCalls`` / ``errorResponses`` — partner requests in the window from the request log (status
  ≥ 400 for errors). The log keeps 30 days, so older days count no calls.

Cost: the window's rows of the daily order rollup (``domain.usage_rollup``, migration 0004: per
day, SKU and status, kept in the transaction of every order change, so it equals the aggregate
over the orders themselves), one small query for product names, and the API-call counts of
:func:`request_log_queries.api_call_counts` (hourly rollups for closed hours, the raw log only for
the rest). Nothing is loaded row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import products
from steller_server.domain import money, request_log_queries, usage_rollup
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import ValidationFailed

__all__ = ["MAX_DAYS", "TOP_PRODUCTS", "Usage", "usage_summary", "window"]

MAX_DAYS = 365
TOP_PRODUCTS = 10
STATUS_FIELDS = {
    "processing": "processing",
    "completed": "completed",
    "partially_completed": "partiallyCompleted",
    "failed": "failed",
    "cancelled": "cancelled",
}


@dataclass(frozen=True, kw_only=True)
class TopProduct:
    sku: str
    name: str
    orders: int
    spend_minor: int


@dataclass(frozen=True, kw_only=True)
class Usage:
    days: int
    start: datetime
    end: datetime
    currency: str
    counts: dict[str, int]
    spend_minor: int
    refunds_minor: int
    top_products: list[TopProduct]
    daily: list[tuple[date, int, int]]  # (day, orders, spend_minor)
    api_calls: int
    error_responses: int

    @property
    def total_orders(self) -> int:
        return sum(self.counts.values())

    @property
    def average_order_minor(self) -> int:
        if not self.total_orders:
            return 0
        return money.round_minor(Decimal(self.spend_minor) / self.total_orders)

    @property
    def success_rate(self) -> Decimal:
        final = self.total_orders - self.counts["processing"]
        if final <= 0:
            return Decimal(0)
        return (Decimal(self.counts["completed"]) / final).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )

    def public(self) -> dict[str, Any]:
        """The ``Usage`` schema."""
        cur = self.currency

        def fmt(minor: int) -> str:
            return money.format_amount(minor, cur)

        return {
            "days": self.days,
            "from": self.start.isoformat().replace("+00:00", "Z"),
            "to": self.end.isoformat().replace("+00:00", "Z"),
            "currency": cur,
            "orders": {
                "total": self.total_orders,
                **{STATUS_FIELDS[s]: n for s, n in self.counts.items()},
            },
            "spend": fmt(self.spend_minor),
            "refunds": fmt(self.refunds_minor),
            "averageOrderValue": fmt(self.average_order_minor),
            # A JSON number by contract; 4 decimals are exact in a double's shortest repr.
            "successRate": float(self.success_rate),
            "topProducts": [
                {"sku": p.sku, "name": p.name, "orders": p.orders, "spend": fmt(p.spend_minor)}
                for p in self.top_products
            ],
            "daily": [
                {"date": d.isoformat(), "orders": n, "spend": fmt(s)} for d, n, s in self.daily
            ],
            "apiCalls": self.api_calls,
            "errorResponses": self.error_responses,
        }


def window(days: int, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the last ``days`` UTC days, today included."""
    today = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return today - timedelta(days=days - 1), today + timedelta(days=1)


async def usage_summary(
    conn: AsyncConnection,
    *,
    partner_id: str,
    currency: str,
    days: int = 30,
    now: datetime | None = None,
    from_orders: bool = False,
) -> Usage:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"days must be 1..{MAX_DAYS}")
    now = now or utcnow()
    start, end = window(days, now)
    # A few thousand rollup rows (days x SKUs x statuses) instead of every order of the window;
    # `from_orders` aggregates the orders themselves, the reference the rollup must equal.
    if from_orders:
        grouped = await usage_rollup.raw_groups(conn, partner_id=partner_id, start=start, end=end)
    else:
        grouped = await usage_rollup.rollup_groups(
            conn, partner_id=partner_id, first_day=start.date(), end_day=end.date()
        )
    counts = dict.fromkeys(STATUS_FIELDS, 0)
    per_day: dict[date, list[int]] = {}
    per_sku: dict[str, list[int]] = {}
    spend = refunds = 0
    for row_day, status, sku, n, total, refunded in grouped:
        counts[status] = counts.get(status, 0) + n
        spend += total
        refunds += refunded
        bucket = per_day.setdefault(row_day, [0, 0])
        bucket[0] += n
        bucket[1] += total
        product = per_sku.setdefault(str(sku), [0, 0])
        product[0] += n
        product[1] += total
    # By spend, then order count, then SKU (stable for equal figures).
    top_rows = sorted(per_sku.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    top_rows = top_rows[:TOP_PRODUCTS]
    names: dict[str, str] = {}
    if top_rows:
        skus = [sku for sku, _ in top_rows]
        found = await conn.execute(
            select(products.c.sku, products.c.name).where(products.c.sku.in_(skus))
        )
        names = {str(row[0]): str(row[1]) for row in found.all()}
    top = [
        TopProduct(sku=sku, name=names.get(sku, sku), orders=n, spend_minor=total)
        for sku, (n, total) in top_rows
    ]

    calls, errors = await request_log_queries.api_call_counts(
        conn, partner_id=partner_id, start=start, end=end
    )

    daily = []
    for offset in range(days):
        current = (start + timedelta(days=offset)).date()
        n, s = per_day.get(current, (0, 0))
        daily.append((current, n, s))
    return Usage(
        days=days,
        start=start,
        end=end,
        currency=currency,
        counts=counts,
        spend_minor=spend,
        refunds_minor=refunds,
        top_products=top,
        daily=daily,
        api_calls=calls,
        error_responses=errors,
    )
