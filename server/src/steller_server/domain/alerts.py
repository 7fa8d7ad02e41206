"""Admin alerts, de-duplicated by ``dedupe_key`` (kind + subject, e.g. ``wallet_drift:wal_…``).

:func:`raise_alert` opens an alert or bumps an existing one (``occurrences``, ``lastSeenAt``,
latest message/details); a ``resolved`` alert that is found again re-opens. An ``acknowledged``
alert stays acknowledged while the problem persists. :func:`resolve_absent` resolves the alerts of
the kinds a check covered that the check no longer finds. :func:`acknowledge` is the admin ack.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import alerts
from steller_server.domain import audit
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidState, NotFound
from steller_server.domain.ids import new_id
from steller_server.domain.pagination import DEFAULT_LIMIT, Page, fetch_page

__all__ = [
    "KINDS",
    "Alert",
    "acknowledge",
    "get_alert",
    "list_alerts",
    "raise_alert",
    "resolve_absent",
]

KINDS = (
    "wallet_drift",
    "vendor_order_missing",
    "vendor_status_mismatch",
    "stuck_order",
    "vendor_balance_low",
    # operational checks (jobs/notify.py ops_check)
    "job_backlog",
    "webhook_endpoint_disabled",
    "vendor_error_rate",
)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class Alert:
    id: str
    dedupe_key: str
    kind: str
    severity: str
    status: str
    message: str
    details: dict[str, Any]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Alert:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        """The ``Alert`` schema."""
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "details": self.details,
            "occurrences": self.occurrences,
            "firstSeenAt": _ts(self.first_seen_at),
            "lastSeenAt": _ts(self.last_seen_at),
            "acknowledgedAt": _ts(self.acknowledged_at),
            "acknowledgedBy": self.acknowledged_by,
        }


async def get_alert(conn: AsyncConnection, *, alert_id: str) -> Alert:
    row = (
        (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).mappings().one_or_none()
    )
    if row is None:
        raise NotFound("alert not found")
    return Alert.from_row(row)


async def raise_alert(
    conn: AsyncConnection,
    *,
    kind: str,
    severity: str,
    dedupe_key: str,
    message: str,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> Alert:
    """Open or bump the alert ``dedupe_key`` (callers serialise runs; see reconciliation)."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    now = now or utcnow()
    row = (
        (await conn.execute(select(alerts).where(alerts.c.dedupe_key == dedupe_key)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        values = {
            "id": new_id("alr"),
            "dedupe_key": dedupe_key,
            "kind": kind,
            "severity": severity,
            "status": "open",
            "message": message[:1000],
            "details": dict(details),
            "occurrences": 1,
            "first_seen_at": now,
            "last_seen_at": now,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "ack_note": None,
            "resolved_at": None,
        }
        await conn.execute(insert(alerts).values(**values))
        await _notify(conn, alert_id=str(values["id"]), reason="new", now=now)
        return Alert.from_row(values)
    changes: dict[str, Any] = {
        "severity": severity,
        "message": message[:1000],
        "details": dict(details),
        "occurrences": alerts.c.occurrences + 1,
        "last_seen_at": now,
    }
    if row["status"] == "resolved":
        changes.update(
            status="open",
            resolved_at=None,
            acknowledged_at=None,
            acknowledged_by=None,
            ack_note=None,
        )
    await conn.execute(update(alerts).where(alerts.c.id == row["id"]).values(**changes))
    if row["status"] == "resolved":
        await _notify(conn, alert_id=row["id"], reason="reopened", now=now)
    return await get_alert(conn, alert_id=row["id"])


async def _notify(conn: AsyncConnection, *, alert_id: str, reason: str, now: datetime) -> None:
    """Queue the notification of a new or re-opened alert (email + admin webhook) in the same
    transaction (steller_server.notify.alerts); bumps of open/acknowledged alerts send nothing."""
    from steller_server.notify.alerts import on_alert_raised  # noqa: PLC0415 (imports us)

    await on_alert_raised(conn, alert_id=alert_id, reason=reason, now=now)


async def resolve_absent(
    conn: AsyncConnection,
    *,
    kinds: Collection[str],
    seen: Collection[str],
    now: datetime | None = None,
) -> int:
    """Resolve open/acknowledged alerts of ``kinds`` whose key is not in ``seen``."""
    if not kinds:
        return 0
    now = now or utcnow()
    query = (
        update(alerts)
        .where(alerts.c.kind.in_(list(kinds)), alerts.c.status.in_(("open", "acknowledged")))
        .values(status="resolved", resolved_at=now)
    )
    if seen:
        query = query.where(alerts.c.dedupe_key.not_in(list(seen)))
    result = await conn.execute(query)
    return int(result.rowcount or 0)


async def list_alerts(
    conn: AsyncConnection,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[Alert]:
    """Most recently seen first."""
    query = select(alerts)
    if status is not None:
        query = query.where(alerts.c.status == status)
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    return await fetch_page(
        conn,
        query,
        created_col=alerts.c.last_seen_at,
        id_col=alerts.c.id,
        limit=limit,
        cursor=cursor,
        build=Alert.from_row,
    )


async def acknowledge(
    conn: AsyncConnection,
    *,
    alert_id: str,
    user_id: str,
    note: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """``open`` → ``acknowledged`` by ``user_id`` (+ audit ``alert.ack``); else InvalidState."""
    now = now or utcnow()
    result = await conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id, alerts.c.status == "open")
        .values(status="acknowledged", acknowledged_at=now, acknowledged_by=user_id, ack_note=note)
    )
    if result.rowcount != 1:
        current = await get_alert(conn, alert_id=alert_id)  # NotFound when unknown
        raise InvalidState(f"alert is {current.status}; only open alerts can be acknowledged")
    await audit.record(
        conn,
        actor=f"admin:{user_id}",
        action="alert.ack",
        target_type="alert",
        target_id=alert_id,
        before={"status": "open"},
        after={"status": "acknowledged"},
        reason=note,
        request_id=request_id,
        now=now,
    )
    return await get_alert(conn, alert_id=alert_id)
