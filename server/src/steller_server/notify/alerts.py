"""Admin alerts that reach people: email (``STELLER_ALERT_EMAILS``) and a signed admin webhook
(``STELLER_ALERT_WEBHOOK_URL`` + ``STELLER_ALERT_WEBHOOK_SECRET``).

* :func:`on_alert_raised` (called by ``domain.alerts.raise_alert`` in its transaction) queues one
  ``alert_notify`` job when an alert is new or re-opened — never for a bump of an alert that is
  already open or acknowledged (de-duplication is the alert's ``dedupe_key``).
* :func:`schedule_repeats` (the periodic ops check) queues a reminder for alerts still *open*
  every ``STELLER_ALERT_REPEAT_HOURS``; one per period, through the job ``dedupe_key``.
  Acknowledged alerts are not open, so acknowledging stops reminders.
* The ``alert_notify`` job (:func:`fan_out`) re-reads the alert and does nothing once it is no
  longer open; else it queues the alert email (its own ``email`` job, de-duplicated, so a retry
  of the webhook never re-sends it) and POSTs the admin webhook, signed like partner webhooks
  (:func:`steller.webhooks.sign`; Standard Webhooks headers). A webhook failure retries the job.

Admin webhook body::

    {"id": "<notification id>", "type": "alert.opened" | "alert.reopened" | "alert.reminder",
     "timestamp": "…Z", "data": <Alert object, as GET /api/admin/alerts/{id}>}

(the partner webhook envelope; ``webhook-id`` is the notification id, the same on retries).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller.webhooks import sign
from steller_server.db.dialect import insert_ignore
from steller_server.db.engine import Database
from steller_server.db.tables import alerts as alerts_table
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import alerts
from steller_server.notify import email, templates
from steller_server.settings import Settings

__all__ = ["ALERT_NOTIFY_KIND", "HTTP_EXTRA", "fan_out", "on_alert_raised", "schedule_repeats"]

log = logging.getLogger("steller.alerts")

ALERT_NOTIFY_KIND = "alert_notify"
#: ``ctx.extras`` key of an injectable httpx.AsyncClient for the admin webhook (tests).
HTTP_EXTRA = "alert_http"
MAX_ATTEMPTS = 14
WEBHOOK_TIMEOUT = 10.0
EVENT_TYPES = {"new": "alert.opened", "reopened": "alert.reopened", "repeat": "alert.reminder"}


async def _enqueue(
    conn: AsyncConnection, *, alert_id: str, reason: str, dedupe_key: str, now: datetime
) -> bool:
    result = await conn.execute(
        insert_ignore(conn, jobs_table, ["dedupe_key"]).values(
            kind=ALERT_NOTIFY_KIND,
            payload={"alertId": alert_id, "reason": reason},
            status="pending",
            run_at=now,
            attempts=0,
            max_attempts=MAX_ATTEMPTS,
            dedupe_key=dedupe_key,
            request_id=None,
            created_at=now,
            updated_at=now,
        )
    )
    return bool(result.rowcount and result.rowcount > 0)


async def on_alert_raised(
    conn: AsyncConnection, *, alert_id: str, reason: str, now: datetime
) -> bool:
    """``reason``: ``new`` or ``reopened`` (the caller knows which)."""
    stamp = int(now.timestamp() * 1000)
    key = (
        f"alert_notify:{alert_id}:new"
        if reason == "new"
        else f"alert_notify:{alert_id}:reopened:{stamp}"
    )
    return await _enqueue(conn, alert_id=alert_id, reason=reason, dedupe_key=key, now=now)


async def schedule_repeats(conn: AsyncConnection, *, every: timedelta, now: datetime) -> int:
    """Queue a reminder for each open alert per full ``every`` since it was first seen."""
    if every <= timedelta(0):
        return 0
    rows = (
        await conn.execute(
            select(alerts_table.c.id, alerts_table.c.first_seen_at).where(
                alerts_table.c.status == "open", alerts_table.c.first_seen_at <= now - every
            )
        )
    ).all()
    queued = 0
    for alert_id, first_seen in rows:
        slot = int((now - first_seen) / every)
        if await _enqueue(
            conn,
            alert_id=alert_id,
            reason="repeat",
            dedupe_key=f"alert_notify:{alert_id}:repeat:{slot}",
            now=now,
        ):
            queued += 1
    return queued


def webhook_body(alert: alerts.Alert, *, reason: str, notification_id: str, now: datetime) -> bytes:
    body = {
        "id": notification_id,
        "type": EVENT_TYPES.get(reason, "alert.opened"),
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": alert.public(),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> str | None:
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


async def fan_out(
    db: Database,
    settings: Settings,
    *,
    alert_id: str,
    reason: str,
    notification_id: str,
    now: datetime,
    http: httpx.AsyncClient | None = None,
) -> str | None:
    """Send one alert notification to every configured channel; the error of a failed channel
    (the job retries), or None."""
    async with db.write() as conn:
        alert = await alerts.get_alert(conn, alert_id=alert_id)
        if alert.status != "open":
            log.info(
                "alert %s is %s: notification %s not sent", alert.id, alert.status, notification_id
            )
            return None
        if settings.alert_emails:
            rendered = templates.alert(alert_public=alert.public(), reason=reason)
            await email.enqueue(
                conn,
                kind="alert",
                to=settings.alert_emails,
                rendered=rendered,
                dedupe_key=f"email:alert:{notification_id}",
                now=now,
            )
    if not settings.alert_webhook_url or not settings.alert_webhook_secret:
        return None
    body = webhook_body(alert, reason=reason, notification_id=notification_id, now=now)
    headers = sign(body, settings.alert_webhook_secret, msg_id=notification_id, timestamp=now)
    headers["content-type"] = "application/json"
    if http is not None:
        error = await _post(http, settings.alert_webhook_url, body, headers)
    else:
        async with httpx.AsyncClient(
            timeout=WEBHOOK_TIMEOUT, follow_redirects=False, trust_env=False
        ) as client:
            error = await _post(client, settings.alert_webhook_url, body, headers)
    if error is None:
        log.info(
            "alert %s: admin webhook delivered",
            alert.id,
            extra={"steller": {"alert_id": alert.id, "notification": notification_id}},
        )
    return error


def describe(payload: dict[str, Any]) -> tuple[str, str]:
    return str(payload["alertId"]), str(payload.get("reason", "new"))
