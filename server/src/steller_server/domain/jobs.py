"""The durable job queue (outbox): fulfilment, webhook delivery, checks.

Jobs are rows. A worker :func:`claim`\\ s up to ``limit`` due jobs, which sets a lease
(``locked_until``); it then calls :func:`complete`, :func:`fail` (retry with backoff, or give up
after ``max_attempts``) or :func:`reschedule` (poll again later, not counted as a failure).
A worker that dies keeps its lease only until it expires; the next :func:`claim` takes the job
again. On PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED``, so any number of workers can claim
concurrently without taking the same job; on SQLite the write lock serialises claims.

``attempts`` counts claims that did not end in :func:`reschedule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import jobs
from steller_server.domain.clock import utcnow
from steller_server.domain.models import Job

__all__ = [
    "FULFILMENT",
    "LOW_BALANCE_CHECK",
    "WEBHOOK_DELIVERY",
    "backoff_delay",
    "claim",
    "complete",
    "enqueue",
    "extend_lease",
    "fail",
    "reschedule",
]

FULFILMENT = "fulfilment"
WEBHOOK_DELIVERY = "webhook_delivery"
LOW_BALANCE_CHECK = "low_balance_check"

DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_LEASE = timedelta(seconds=60)
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)


def backoff_delay(
    attempt: int, *, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_CAP
) -> timedelta:
    """Exponential delay after the ``attempt``-th failure: base, 2*base, 4*base … capped."""
    exponent = min(max(attempt - 1, 0), 32)  # 2**32 x base is past any cap
    delay: timedelta = min(base * (2**exponent), cap)
    return delay


async def enqueue(
    conn: AsyncConnection,
    *,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime | None = None,
    request_id: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> int:
    """Add a job in the caller's transaction; returns its id. ``dedupe_key`` is UNIQUE."""
    now = now or utcnow()
    job_id = await conn.scalar(
        insert(jobs)
        .values(
            kind=kind,
            payload=payload,
            status="pending",
            run_at=run_at or now,
            attempts=0,
            max_attempts=max_attempts,
            dedupe_key=dedupe_key,
            request_id=request_id,
            created_at=now,
            updated_at=now,
        )
        .returning(jobs.c.id)
    )
    return int(job_id)  # RETURNING always yields the new id


async def claim(
    db: Database,
    *,
    worker_id: str,
    kinds: Sequence[str] | None = None,
    limit: int = 1,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> list[Job]:
    """Lease up to ``limit`` due jobs (pending and due, or running with an expired lease)."""
    now = now or utcnow()
    due = or_(
        and_(jobs.c.status == "pending", jobs.c.run_at <= now),
        and_(jobs.c.status == "running", jobs.c.locked_until < now),
    )
    async with db.write() as conn:
        # A job whose lease ran out on its last allowed attempt is dead, not retried forever.
        await conn.execute(
            update(jobs)
            .where(
                jobs.c.status == "running",
                jobs.c.locked_until < now,
                jobs.c.attempts >= jobs.c.max_attempts,
            )
            .values(
                status="failed",
                locked_by=None,
                locked_until=None,
                updated_at=now,
                last_error="lease expired on the last attempt",
            )
        )
        candidates = select(jobs.c.id).where(due)
        if kinds is not None:
            candidates = candidates.where(jobs.c.kind.in_(list(kinds)))
        # A MATERIALIZED CTE, not ``id IN (subquery)``: PostgreSQL may plan the subquery as the
        # inner side of a nested-loop semi join and re-run its LIMIT … SKIP LOCKED per outer row,
        # claiming every due job instead of ``limit`` of them.
        chosen = (
            candidates.order_by(jobs.c.run_at, jobs.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("claim_candidates")
            .prefix_with("MATERIALIZED")
        )
        result = await conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(select(chosen.c.id)), due)
            .values(
                status="running",
                locked_by=worker_id,
                locked_until=now + lease,
                attempts=jobs.c.attempts + 1,
                updated_at=now,
            )
            .returning(*jobs.c)
        )
        claimed = [Job.from_row(row) for row in result.mappings()]
    return sorted(claimed, key=lambda job: (job.run_at, job.id))


def _owned(job_id: int, worker_id: str) -> Any:
    return and_(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.locked_by == worker_id)


async def complete(
    conn: AsyncConnection, *, job_id: int, worker_id: str, now: datetime | None = None
) -> bool:
    """Mark done. False when this worker no longer holds the lease (someone reclaimed it)."""
    now = now or utcnow()
    result = await conn.execute(
        update(jobs)
        .where(_owned(job_id, worker_id))
        .values(status="done", locked_by=None, locked_until=None, updated_at=now)
    )
    return result.rowcount == 1


async def fail(
    conn: AsyncConnection,
    *,
    job_id: int,
    worker_id: str,
    error: str,
    retry: bool = True,
    now: datetime | None = None,
) -> str | None:
    """Record a failure: back to ``pending`` after :func:`backoff_delay`, or ``failed`` when out of
    attempts or ``retry`` is False. Returns the new status (None if the lease was lost)."""
    now = now or utcnow()
    row = (
        await conn.execute(
            select(jobs.c.attempts, jobs.c.max_attempts).where(_owned(job_id, worker_id))
        )
    ).one_or_none()
    if row is None:
        return None
    if retry and row.attempts < row.max_attempts:
        values: dict[str, Any] = {"status": "pending", "run_at": now + backoff_delay(row.attempts)}
    else:
        values = {"status": "failed"}
    await conn.execute(
        update(jobs)
        .where(_owned(job_id, worker_id))
        .values(
            locked_by=None, locked_until=None, last_error=error[:2000], updated_at=now, **values
        )
    )
    return str(values["status"])


async def reschedule(
    conn: AsyncConnection,
    *,
    job_id: int,
    worker_id: str,
    run_at: datetime,
    payload: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Put the job back to run at ``run_at`` (e.g. poll the vendor again); not a failure."""
    now = now or utcnow()
    values: dict[str, Any] = {
        "status": "pending",
        "run_at": run_at,
        "locked_by": None,
        "locked_until": None,
        "attempts": jobs.c.attempts - 1,
        "updated_at": now,
    }
    if payload is not None:
        values["payload"] = payload
    result = await conn.execute(update(jobs).where(_owned(job_id, worker_id)).values(**values))
    return result.rowcount == 1


async def extend_lease(
    conn: AsyncConnection,
    *,
    job_id: int,
    worker_id: str,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> bool:
    """Heartbeat for long jobs; False when the lease was already lost."""
    now = now or utcnow()
    result = await conn.execute(
        update(jobs)
        .where(_owned(job_id, worker_id), jobs.c.locked_until >= now)
        .values(locked_until=now + lease, updated_at=now)
    )
    return result.rowcount == 1
