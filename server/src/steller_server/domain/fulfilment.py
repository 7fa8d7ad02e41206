"""Nudging fulfilment jobs: the vendor callback and reconciliation make an order's job due now.

The fulfilment job of order ``X`` has ``dedupe_key = "fulfilment:X"`` (created with the order).
:func:`make_due` moves a waiting job's ``run_at`` to now; it also revives a job that died
(``failed``) or was finished while the order is still ``processing``, and re-creates a missing one,
so a stuck order always gets a worker again. A job that is running is left alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import jobs as jobs_table
from steller_server.db.tables import orders
from steller_server.domain import jobs
from steller_server.domain.clock import utcnow

__all__ = ["make_due", "order_for_vendor_request"]


async def order_for_vendor_request(
    conn: AsyncConnection, *, vendor_request_id: str
) -> tuple[str, str] | None:
    """``(order_id, status)`` of the order with this Bamboo RequestId, or None."""
    row = (
        await conn.execute(
            select(orders.c.id, orders.c.status).where(
                orders.c.vendor_request_id == vendor_request_id.strip().lower()
            )
        )
    ).one_or_none()
    return (str(row.id), str(row.status)) if row else None


async def make_due(conn: AsyncConnection, *, order_id: str, now: datetime | None = None) -> str:
    """Make the order's fulfilment job run now. Returns what happened: ``due`` (a waiting job
    moved), ``running`` (left alone), ``revived`` (a finished/dead job re-armed), ``created``, or
    ``terminal`` (the order is no longer processing: nothing to do)."""
    now = now or utcnow()
    status = await conn.scalar(select(orders.c.status).where(orders.c.id == order_id))
    if status != "processing":
        return "terminal"
    key = f"fulfilment:{order_id}"
    job = (
        await conn.execute(
            select(jobs_table.c.id, jobs_table.c.status, jobs_table.c.run_at).where(
                jobs_table.c.dedupe_key == key
            )
        )
    ).one_or_none()
    if job is None:
        await jobs.enqueue(
            conn,
            kind=jobs.FULFILMENT,
            payload={"orderId": order_id},
            dedupe_key=key,
            now=now,
            max_attempts=1000,
        )
        return "created"
    if job.status == "running":
        return "running"
    if job.status == "pending":
        await conn.execute(
            update(jobs_table)
            .where(
                jobs_table.c.id == job.id,
                jobs_table.c.status == "pending",
                jobs_table.c.run_at > now,
            )
            .values(run_at=now, updated_at=now)
        )
        return "due"
    await conn.execute(
        update(jobs_table)
        .where(jobs_table.c.id == job.id, jobs_table.c.status.in_(("done", "failed")))
        .values(
            status="pending",
            run_at=now,
            attempts=0,
            locked_by=None,
            locked_until=None,
            updated_at=now,
        )
    )
    return "revived"
