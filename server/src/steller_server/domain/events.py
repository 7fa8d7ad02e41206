"""The event outbox: one row per thing a partner may be told about (webhooks, the events API).

:func:`record_event` runs in the caller's transaction, so an event exists iff the state change that
caused it committed. It decides the delivery status up front: ``pending`` (and a
``webhook_delivery`` job, same transaction) when the partner's endpoint is enabled and subscribed to
the type, else ``not_subscribed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import events as events_table
from steller_server.db.tables import webhook_endpoints
from steller_server.domain import jobs
from steller_server.domain.clock import utcnow
from steller_server.domain.ids import new_id
from steller_server.domain.models import Event
from steller_server.notify import partner as partner_notify

__all__ = ["EVENT_TYPES", "record_event"]

EVENT_TYPES = (
    "order.completed",
    "order.partially_completed",
    "order.failed",
    "order.cancelled",
    "wallet.credited",
    "wallet.low_balance",
    "webhook.test",
)


async def record_event(
    conn: AsyncConnection,
    *,
    partner_id: str,
    event_type: str,
    data: dict[str, Any],
    order_id: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Append an event (``data`` is the webhook ``data`` object) and schedule its delivery."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    now = now or utcnow()
    endpoint = (
        await conn.execute(
            select(
                webhook_endpoints.c.enabled,
                webhook_endpoints.c.status,
                webhook_endpoints.c.event_types,
            ).where(webhook_endpoints.c.partner_id == partner_id)
        )
    ).one_or_none()
    subscribed = (
        endpoint is not None
        and endpoint.enabled
        and endpoint.status == "active"
        and event_type in (endpoint.event_types or [])
    ) or (event_type == "webhook.test" and endpoint is not None)
    row: dict[str, Any] = {
        "id": new_id("evt"),
        "partner_id": partner_id,
        "type": event_type,
        "payload": data,
        "order_id": order_id,
        "delivery_status": "pending" if subscribed else "not_subscribed",
        "attempt_count": 0,
        "next_attempt_at": now if subscribed else None,
        "delivered_at": None,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(insert(events_table).values(**row))
    if subscribed:
        # partnerId lets the delivery handler apply its per-endpoint in-flight cap before any
        # database read; attempt numbers the retry schedule (jobs/delivery.py).
        await jobs.enqueue(
            conn,
            kind=jobs.WEBHOOK_DELIVERY,
            payload={"eventId": row["id"], "partnerId": partner_id, "attempt": 1},
            dedupe_key=f"webhook:{row['id']}",
            request_id=request_id,
            now=now,
            max_attempts=1000,
        )
    # The partner's email about it (low balance, order failed), queued in the same transaction.
    await partner_notify.on_event(
        conn,
        partner_id=partner_id,
        event_type=event_type,
        data=data,
        event_id=row["id"],
        request_id=request_id,
        now=now,
    )
    return Event(**row)
