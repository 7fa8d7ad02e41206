"""Periodic work: enqueue a catalog sync every hour, a reconciliation every 15 minutes and the
operational alert check (jobs/notify.py) every minute.

Every worker process runs a :class:`Scheduler` from its loop. A periodic job's ``dedupe_key`` is
``"{kind}:schedule:{slot}"`` with ``slot = epoch seconds // period``, inserted with
``ON CONFLICT DO NOTHING``: however many workers tick, each slot is enqueued once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from steller_server.db.dialect import insert_ignore
from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.jobs.registry import (
    CATALOG_SYNC,
    HEALTH_PROBE,
    OPS_CHECK,
    RECONCILIATION,
    REQUEST_LOG_MAINTENANCE,
)

__all__ = ["DEFAULT_SCHEDULE", "Periodic", "Scheduler"]


@dataclass(frozen=True, kw_only=True)
class Periodic:
    kind: str
    every: timedelta
    payload: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 5

    def slot(self, now: datetime) -> int:
        return int(now.timestamp() // self.every.total_seconds())


DEFAULT_SCHEDULE: tuple[Periodic, ...] = (
    Periodic(kind=CATALOG_SYNC, every=timedelta(hours=1), payload={"trigger": "schedule"}),
    Periodic(kind=RECONCILIATION, every=timedelta(minutes=15)),
    Periodic(kind=OPS_CHECK, every=timedelta(minutes=1), max_attempts=1),
    Periodic(kind=HEALTH_PROBE, every=timedelta(minutes=1), max_attempts=1),
    Periodic(kind=REQUEST_LOG_MAINTENANCE, every=timedelta(minutes=15)),
)


class Scheduler:
    """Enqueues each :class:`Periodic` once per slot; checks the database at most every
    ``check_every`` (so an idle worker polling every second does not write every second)."""

    def __init__(
        self,
        schedule: Sequence[Periodic] = DEFAULT_SCHEDULE,
        *,
        check_every: timedelta = timedelta(seconds=30),
    ) -> None:
        self.schedule = tuple(schedule)
        self.check_every = check_every
        self._next_check: datetime | None = None
        self._done_slots: dict[str, int] = {}

    async def tick(self, db: Database, *, now: datetime) -> int:
        """Enqueue the jobs whose slot has come; returns how many this call inserted."""
        if self._next_check is not None and now < self._next_check:
            return 0
        self._next_check = now + self.check_every
        due = [p for p in self.schedule if self._done_slots.get(p.kind) != p.slot(now)]
        if not due:
            return 0
        inserted = 0
        async with db.write() as conn:
            for periodic in due:
                slot = periodic.slot(now)
                result = await conn.execute(
                    insert_ignore(conn, jobs_table, ["dedupe_key"]).values(
                        kind=periodic.kind,
                        payload=dict(periodic.payload),
                        status="pending",
                        run_at=now,
                        attempts=0,
                        max_attempts=periodic.max_attempts,
                        dedupe_key=f"{periodic.kind}:schedule:{slot}",
                        request_id=None,
                        created_at=now,
                        updated_at=now,
                    )
                )
                inserted += max(result.rowcount or 0, 0)
                self._done_slots[periodic.kind] = slot
        return inserted
