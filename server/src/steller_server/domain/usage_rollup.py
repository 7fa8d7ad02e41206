"""The daily order rollup behind ``GET /api/partner/usage`` (table ``order_usage_daily``, 0004).

One row per partner, UTC day of creation, SKU and *current* status holds the number of orders,
their total and what was refunded of them — exactly the groups of the raw aggregate over
``orders`` (:func:`raw_groups`), so the report reads a few thousand rows instead of every order
and still gives the same figures.

Kept in the same transaction as each order change, by ``domain.orders``:

- :func:`record_accepted` — a new ``processing`` order (on PostgreSQL the order's placement
  statement does the same upsert itself: ``domain.placement``);
- :func:`record_finished` — a ``processing`` order became final, with the refunds made in that
  transaction (one statement moves it from the ``processing`` group to its new one);
- :func:`record_refund` — a refund of an order whose status does not change (admin refund).

Each call is one ``INSERT … ON CONFLICT DO UPDATE`` made at the end of its transaction, after the
wallet row was locked: every writer takes the wallet lock first and the rollup rows last (in key
order when there are two), so the rollup's row locks add no lock-order cycle and are held briefly.
Rows whose count drops to zero stay (all figures zero) and are skipped by the readers.

Migration 0004 backfills the table from the orders; :func:`rebuild` does the same on a live
database (after a rolling deploy in which processes older than 0004 kept changing orders).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.expressions import utc_day
from steller_server.db.tables import order_usage_daily as rollup
from steller_server.db.tables import orders
from steller_server.domain.models import Order

__all__ = [
    "day_of",
    "raw_groups",
    "rebuild",
    "record_accepted",
    "record_finished",
    "record_refund",
    "rollup_groups",
]

#: (day, status, sku, orders, total_minor, refunded_minor)
Group = tuple[date, str, str, int, int, int]
_KEY = ("partner_id", "day", "sku", "status")


def day_of(created_at: datetime) -> date:
    """The rollup day of an order created at ``created_at`` (its UTC day)."""
    if created_at.tzinfo is None:  # naive values are UTC throughout the schema
        return created_at.date()
    return created_at.astimezone(UTC).date()


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """One statement object per dialect, executed with bound rows: SQLAlchemy caches its
    compilation (a ``values([...])`` statement embeds its rows and is compiled on every call)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        module = postgresql if dialect == "postgresql" else sqlite
        ins = module.insert(rollup)
        stmt = ins.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={
                "order_count": rollup.c.order_count + ins.excluded.order_count,
                "total_minor": rollup.c.total_minor + ins.excluded.total_minor,
                "refunded_minor": rollup.c.refunded_minor + ins.excluded.refunded_minor,
            },
        )
        _UPSERTS[dialect] = stmt
    return stmt


async def _add(conn: AsyncConnection, deltas: list[dict[str, Any]]) -> None:
    # Rows in key order, applied in that order (executemany keeps it): no lock-order cycle.
    ordered = sorted(deltas, key=lambda d: tuple(str(d[k]) for k in _KEY))
    stmt = _upsert(conn.dialect.name)
    await conn.execute(stmt, ordered[0] if len(ordered) == 1 else ordered)


def _delta(
    partner_id: str, created_at: datetime, sku: str, status: str, *figures: int
) -> dict[str, Any]:
    n, total, refunded = figures
    return {
        "partner_id": partner_id,
        "day": day_of(created_at),
        "sku": sku,
        "status": status,
        "order_count": n,
        "total_minor": total,
        "refunded_minor": refunded,
    }


async def record_accepted(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    """Count a newly inserted order (``row``: the values inserted)."""
    total, refunded = int(row["total_minor"]), int(row["refunded_minor"])
    group = (row["partner_id"], row["created_at"], row["sku"], row["status"])
    await _add(conn, [_delta(*group, 1, total, refunded)])


async def record_finished(conn: AsyncConnection, *, before: Order, after: Order) -> None:
    """Move an order from ``before`` (its ``processing`` state as the transition found it) to
    ``after`` (re-read once the transaction's refunds were made)."""
    key = (after.partner_id, after.created_at, after.sku)
    await _add(
        conn,
        [
            _delta(*key, "processing", -1, -before.total_minor, -before.refunded_minor),
            _delta(*key, after.status, 1, after.total_minor, after.refunded_minor),
        ],
    )


async def record_refund(conn: AsyncConnection, *, order: Order, amount_minor: int) -> None:
    """Add a refund of ``order`` (in its current status) made without a status change."""
    group = (order.partner_id, order.created_at, order.sku, order.status)
    await _add(conn, [_delta(*group, 0, 0, amount_minor)])


def _groups(rows: Iterable[Sequence[Any]]) -> list[Group]:
    return [
        (_as_date(d), str(status), str(sku), int(n), int(total or 0), int(refunded or 0))
        for d, status, sku, n, total, refunded in rows
    ]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def rollup_groups(
    conn: AsyncConnection, *, partner_id: str, first_day: date, end_day: date
) -> list[Group]:
    """The partner's groups for UTC days ``[first_day, end_day)``, from the rollup."""
    rows = await conn.execute(
        select(
            rollup.c.day,
            rollup.c.status,
            rollup.c.sku,
            rollup.c.order_count,
            rollup.c.total_minor,
            rollup.c.refunded_minor,
        ).where(
            rollup.c.partner_id == partner_id,
            rollup.c.day >= first_day,
            rollup.c.day < end_day,
            rollup.c.order_count > 0,
        )
    )
    return _groups(rows.all())


async def raw_groups(
    conn: AsyncConnection, *, partner_id: str, start: datetime, end: datetime
) -> list[Group]:
    """The same groups aggregated from ``orders`` created in ``[start, end)`` (the reference the
    rollup must equal; an index-only scan of ``ix_orders_partner_usage``)."""
    day = utc_day(orders.c.created_at).label("day")  # the expression of the index
    rows = await conn.execute(
        select(
            day,
            orders.c.status,
            orders.c.sku,
            func.count(),
            func.sum(orders.c.total_minor),
            func.sum(orders.c.refunded_minor),
        )
        .where(
            orders.c.partner_id == partner_id,
            orders.c.created_at >= start,
            orders.c.created_at < end,
        )
        .group_by(day, orders.c.status, orders.c.sku)
    )
    return _groups(rows.all())


async def rebuild(conn: AsyncConnection) -> None:
    """Recompute the whole rollup from the orders (in ``conn``'s transaction).

    On PostgreSQL the table is locked against writers first: an order change committed before the
    lock is in the aggregate, one still open adds its delta after this commits.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("LOCK TABLE order_usage_daily IN EXCLUSIVE MODE"))
    await conn.execute(delete(rollup))
    day = utc_day(orders.c.created_at)
    grouped = select(
        orders.c.partner_id,
        day,
        orders.c.sku,
        orders.c.status,
        func.count(),
        func.sum(orders.c.total_minor),
        func.sum(orders.c.refunded_minor),
    ).group_by(orders.c.partner_id, day, orders.c.sku, orders.c.status)
    names = ["partner_id", "day", "sku", "status", "order_count", "total_minor", "refunded_minor"]
    await conn.execute(insert(rollup).from_select(names, grouped))
