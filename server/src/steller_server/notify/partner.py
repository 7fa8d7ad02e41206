"""Partner emails, queued in the transaction of the change they report.

Hooks (each enqueues an ``email`` job when the partner wants that kind of email):

* :func:`on_event` — from ``domain.events.record_event``: ``wallet.low_balance`` (once per
  crossing, which ``wallets.note_balance_change`` guarantees) and ``order.failed`` (with the
  refund amount);
* :func:`key_changed` — from ``domain.keys.rotate_key`` / ``revoke_key``;
* :func:`webhook_disabled` — from the ops check (``jobs/notify.py``), once per disablement.

Recipients are ``partners.notifications.emails`` (``PATCH /api/partner/me``), else the partner's
account email; the per-kind booleans (``lowBalance``, ``orderFailed``, ``keyChanges``,
``webhookDisabled``) turn a kind off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import partners
from steller_server.domain.clock import utcnow
from steller_server.notify import email, templates

__all__ = ["key_changed", "on_event", "recipients", "webhook_disabled"]

#: Event type → (email kind, notifications flag).
EVENT_EMAILS = {
    "wallet.low_balance": ("low_balance", "lowBalance"),
    "order.failed": ("order_failed", "orderFailed"),
}


async def recipients(
    conn: AsyncConnection, *, partner_id: str, flag: str
) -> tuple[str, list[str]] | None:
    """(partner name, addresses) when the partner wants emails of ``flag``, else None."""
    row = (
        await conn.execute(
            select(partners.c.name, partners.c.email, partners.c.notifications).where(
                partners.c.id == partner_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    settings: dict[str, Any] = dict(row.notifications or {})
    if settings.get(flag, True) is False:
        return None
    emails = [str(e) for e in settings.get("emails") or [] if str(e).strip()]
    return str(row.name), emails or [str(row.email)]


async def on_event(
    conn: AsyncConnection,
    *,
    partner_id: str,
    event_type: str,
    data: dict[str, Any],
    event_id: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue the email an event calls for (if any); True when one was queued."""
    kind_flag = EVENT_EMAILS.get(event_type)
    if kind_flag is None:
        return False
    kind, flag = kind_flag
    found = await recipients(conn, partner_id=partner_id, flag=flag)
    if found is None:
        return False
    name, to = found
    if kind == "low_balance":
        rendered = templates.low_balance(partner_name=name, data=data)
    else:
        rendered = templates.order_failed(partner_name=name, order=data)
    return await email.enqueue(
        conn,
        kind=kind,
        to=to,
        rendered=rendered,
        partner_id=partner_id,
        dedupe_key=f"email:{kind}:{event_id}",
        request_id=request_id,
        now=now,
    )


async def key_changed(
    conn: AsyncConnection,
    *,
    partner_id: str,
    change: str,
    key_id: str,
    prefix: str,
    last4: str,
    details: Sequence[tuple[str, str]] = (),
    now: datetime | None = None,
) -> bool:
    found = await recipients(conn, partner_id=partner_id, flag="keyChanges")
    if found is None:
        return False
    name, to = found
    rendered = templates.key_changed(
        partner_name=name,
        change=change,
        key_id=key_id,
        key_hint=f"{prefix}…{last4}",
        details=details,
    )
    now = now or utcnow()
    return await email.enqueue(
        conn,
        kind=f"key_{change}",
        to=to,
        rendered=rendered,
        partner_id=partner_id,
        dedupe_key=f"email:key_{change}:{key_id}",
        now=now,
    )


async def webhook_disabled(
    conn: AsyncConnection,
    *,
    partner_id: str,
    endpoint_id: str,
    url: str,
    reason: str | None,
    disabled_at: datetime,
    now: datetime | None = None,
) -> bool:
    found = await recipients(conn, partner_id=partner_id, flag="webhookDisabled")
    if found is None:
        return False
    name, to = found
    rendered = templates.webhook_disabled(partner_name=name, url=url, reason=reason)
    stamp = int(disabled_at.timestamp())
    return await email.enqueue(
        conn,
        kind="webhook_disabled",
        to=to,
        rendered=rendered,
        partner_id=partner_id,
        dedupe_key=f"email:webhook_disabled:{endpoint_id}:{stamp}",
        now=now,
    )
