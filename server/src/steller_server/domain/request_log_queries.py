"""Reading and expiring the partner request log (rows written by ``api.request_logs``).

Partners see their own requests of the last ``retention_days`` (30 by default), newest first,
filtered by method, status, path prefix, request id and time, paged by keyset on
``(created_at, id)`` (index ``ix_request_logs_partner_created``). Rows older than the retention
are hidden even before :func:`purge_request_logs` deletes them; a scheduler calls that
periodically (e.g. hourly). It deletes in bounded batches so it never holds long locks.

Hourly rollups: :func:`rollup_request_logs` (the purge task runs it first) counts every closed
UTC hour still fully inside the retention, and ended at least :data:`ROLLUP_GRACE` ago (so
buffered log rows are in), into ``request_log_hourly`` — calls and error responses (status
≥ 400) per partner — and marks the hour done with a ``partner_id = '*'`` row.
:func:`api_call_counts` (the usage report) sums marked hours from the rollup and counts only the
unmarked ones (the last hour or so, or everything when no scheduler runs) in the raw log, so its
answer is the same either way; the rollup only makes it cheap, and it outlives the raw rows.
Rolling up is idempotent (insert-or-ignore on the primary key; a closed hour's rows no longer
change), so several processes may run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.dialect import insert_ignore
from steller_server.db.engine import Database
from steller_server.db.tables import request_log_hourly, request_logs
from steller_server.domain.clock import utcnow
from steller_server.domain.pagination import DEFAULT_LIMIT, Page, fetch_page
from steller_server.domain.serialize import iso

__all__ = [
    "ALL_PARTNERS",
    "DEFAULT_RETENTION_DAYS",
    "ROLLUP_GRACE",
    "RequestLog",
    "api_call_counts",
    "list_request_logs",
    "purge_request_logs",
    "rollup_request_logs",
]

DEFAULT_RETENTION_DAYS = 30
PURGE_BATCH = 5000
ROLLUP_BATCH_HOURS = 24
#: How long after an hour ends its log rows may still arrive (buffered, retried writers).
ROLLUP_GRACE = timedelta(minutes=10)
#: ``request_log_hourly.partner_id`` of the row that marks an hour as rolled up for everyone.
ALL_PARTNERS = "*"
HOUR = timedelta(hours=1)


def _hour(instant: datetime) -> datetime:
    """The start of the UTC hour containing ``instant``."""
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _errors() -> Any:
    return func.coalesce(func.sum(case((request_logs.c.status >= 400, 1), else_=0)), 0)


@dataclass(frozen=True, kw_only=True)
class RequestLog:
    id: str
    request_id: str
    key_id: str | None
    method: str
    path: str
    status: int
    latency_ms: int
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> RequestLog:
        return cls(
            id=row["id"],
            request_id=row["request_id"],
            key_id=row["key_id"],
            method=row["method"],
            path=row["path"],
            status=int(row["status"]),
            latency_ms=int(row["latency_ms"]),
            created_at=row["created_at"],
        )

    def public(self) -> dict[str, Any]:
        """The ``RequestLog`` schema."""
        return {
            "id": self.id,
            "requestId": self.request_id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "latencyMs": max(0, self.latency_ms),
            "keyId": self.key_id,
            "createdAt": iso(self.created_at),
        }


async def list_request_logs(
    conn: AsyncConnection,
    *,
    partner_id: str,
    now: datetime,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    method: str | None = None,
    status: int | None = None,
    path_prefix: str | None = None,
    request_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RequestLog]:
    """One page of the partner's requests, newest first (:class:`InvalidCursor` on a bad
    cursor)."""
    oldest = now - timedelta(days=retention_days)
    if created_from is None or created_from < oldest:
        created_from = oldest
    query = select(request_logs).where(
        request_logs.c.partner_id == partner_id, request_logs.c.created_at >= created_from
    )
    if created_to is not None:
        query = query.where(request_logs.c.created_at < created_to)
    if method is not None:
        query = query.where(request_logs.c.method == method)
    if status is not None:
        query = query.where(request_logs.c.status == status)
    if path_prefix is not None:
        query = query.where(request_logs.c.path.startswith(path_prefix, autoescape=True))
    if request_id is not None:
        query = query.where(request_logs.c.request_id == request_id)
    return await fetch_page(
        conn,
        query,
        created_col=request_logs.c.created_at,
        id_col=request_logs.c.id,
        limit=limit,
        cursor=cursor,
        build=RequestLog.from_row,
    )


async def rollup_request_logs(
    db: Database, now: datetime | None = None, *, retention_days: int = DEFAULT_RETENTION_DAYS
) -> int:
    """Roll up every closed hour of the retention window not rolled up yet; returns how many
    hours were rolled up (one short write transaction per batch of hours)."""
    now = now or utcnow()
    first = _hour(now - timedelta(days=retention_days)) + HOUR  # fully retained
    stop = _hour(now - ROLLUP_GRACE)  # hours starting before this have ended ≥ grace ago
    if stop <= first:
        return 0
    async with db.read() as conn:
        done = set(
            (
                await conn.execute(
                    select(request_log_hourly.c.hour).where(
                        request_log_hourly.c.partner_id == ALL_PARTNERS,
                        request_log_hourly.c.hour >= first,
                        request_log_hourly.c.hour < stop,
                    )
                )
            ).scalars()
        )
    todo = []
    hour = first
    while hour < stop:
        if hour not in done:
            todo.append(hour)
        hour += HOUR
    for start in range(0, len(todo), ROLLUP_BATCH_HOURS):
        batch = todo[start : start + ROLLUP_BATCH_HOURS]
        async with db.write() as conn:
            rows: list[dict[str, Any]] = []
            for hour in batch:
                counts = (
                    await conn.execute(
                        select(request_logs.c.partner_id, func.count(), _errors())
                        .where(
                            request_logs.c.created_at >= hour,
                            request_logs.c.created_at < hour + HOUR,
                            request_logs.c.partner_id.is_not(None),
                        )
                        .group_by(request_logs.c.partner_id)
                    )
                ).all()
                rows += [
                    {
                        "partner_id": partner,
                        "hour": hour,
                        "calls": int(calls),
                        "errors": int(errors),
                        "computed_at": now,
                    }
                    for partner, calls, errors in counts
                ]
                rows.append(
                    {
                        "partner_id": ALL_PARTNERS,
                        "hour": hour,
                        "calls": 0,
                        "errors": 0,
                        "computed_at": now,
                    }
                )
            await conn.execute(
                insert_ignore(conn, request_log_hourly, ["partner_id", "hour"]), rows
            )
    return len(todo)


async def _marked_ranges(
    conn: AsyncConnection, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Rolled-up hours in [start, end) as [from, to) ranges (usually one: a contiguous run)."""
    marked = request_log_hourly.c.partner_id == ALL_PARTNERS
    in_range = (request_log_hourly.c.hour >= start, request_log_hourly.c.hour < end)
    low, high, count = (
        await conn.execute(
            select(
                func.min(request_log_hourly.c.hour),
                func.max(request_log_hourly.c.hour),
                func.count(),
            ).where(marked, *in_range)
        )
    ).one()
    if not count:
        return []
    if low + HOUR * (int(count) - 1) == high:  # contiguous: the normal case
        return [(low, high + HOUR)]
    hours = (
        await conn.execute(
            select(request_log_hourly.c.hour)
            .where(marked, *in_range)
            .order_by(request_log_hourly.c.hour)
        )
    ).scalars()
    ranges: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if ranges and ranges[-1][1] == hour:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges


async def api_call_counts(
    conn: AsyncConnection, *, partner_id: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """(calls, error responses) of the partner in [start, end) (whole UTC hours): rolled-up
    hours from ``request_log_hourly``, the others counted in ``request_logs``."""
    rolled = await _marked_ranges(conn, start, end)
    calls = errors = 0
    for low, high in rolled:
        found = (
            await conn.execute(
                select(
                    func.coalesce(func.sum(request_log_hourly.c.calls), 0),
                    func.coalesce(func.sum(request_log_hourly.c.errors), 0),
                ).where(
                    request_log_hourly.c.partner_id == partner_id,
                    request_log_hourly.c.hour >= low,
                    request_log_hourly.c.hour < high,
                )
            )
        ).one()
        calls += int(found[0])
        errors += int(found[1])
    # The gaps between rolled ranges are counted live.
    cursor = start
    for low, high in [*rolled, (end, end)]:
        if cursor < low:
            live = (
                await conn.execute(
                    select(func.count(), _errors()).where(
                        request_logs.c.partner_id == partner_id,
                        request_logs.c.created_at >= cursor,
                        request_logs.c.created_at < low,
                    )
                )
            ).one()
            calls += int(live[0])
            errors += int(live[1])
        cursor = max(cursor, high)
    return calls, errors


async def purge_request_logs(
    db: Database,
    now: datetime | None = None,
    *,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    batch_size: int = PURGE_BATCH,
) -> int:
    """Delete request-log rows older than ``retention_days``; returns how many were deleted.

    Rolls up the closed days first (:func:`rollup_request_logs`), so usage figures survive the
    purge. Runs as a series of short transactions of at most ``batch_size`` rows each (index
    ``ix_request_logs_created``), so API requests writing logs meanwhile are not blocked.
    """
    now = now or utcnow()
    await rollup_request_logs(db, now, retention_days=retention_days)
    cutoff = now - timedelta(days=retention_days)
    deleted = 0
    while True:
        async with db.write() as conn:
            batch = (
                select(request_logs.c.id)
                .where(request_logs.c.created_at < cutoff)
                .order_by(request_logs.c.created_at)
                .limit(batch_size)
            )
            result = await conn.execute(
                delete(request_logs).where(request_logs.c.id.in_(batch.scalar_subquery()))
            )
            count = int(result.rowcount or 0)
        deleted += count
        if count < batch_size:
            return deleted
