"""Catalog sync runs (``catalog_sync_runs``): one row per pull of the vendor catalog and FX rates.

Only one run is ``running`` at a time: :func:`start_run` refuses (:class:`InvalidState`) while a
run younger than ``STALE_AFTER`` is running; an older one is taken to be dead (its worker crashed
and its job gave up) and marked ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import catalog_sync_runs
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidState, NotFound
from steller_server.domain.ids import new_id

__all__ = ["STALE_AFTER", "SyncCounts", "SyncRun", "finish_run", "get_run", "start_run"]

STALE_AFTER = timedelta(hours=2)
TRIGGERS = ("admin", "schedule")


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class SyncCounts:
    brands: int = 0
    products: int = 0
    created: int = 0
    updated: int = 0
    marked_unavailable: int = 0
    exchange_rates: int = 0


@dataclass(frozen=True, kw_only=True)
class SyncRun:
    id: str
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    brands: int
    products: int
    created: int
    updated: int
    marked_unavailable: int
    exchange_rates: int
    error: str | None

    @classmethod
    def from_row(cls, row: Any) -> SyncRun:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        """The ``CatalogSyncRun`` schema."""
        return {
            "id": self.id,
            "status": self.status,
            "trigger": self.trigger,
            "startedAt": _ts(self.started_at),
            "finishedAt": _ts(self.finished_at),
            "brands": self.brands,
            "products": self.products,
            "created": self.created,
            "updated": self.updated,
            "markedUnavailable": self.marked_unavailable,
            "exchangeRates": self.exchange_rates,
            "error": self.error,
        }


async def get_run(conn: AsyncConnection, *, run_id: str) -> SyncRun:
    row = (
        (await conn.execute(select(catalog_sync_runs).where(catalog_sync_runs.c.id == run_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound("catalog sync run not found")
    return SyncRun.from_row(row)


async def start_run(conn: AsyncConnection, *, trigger: str, now: datetime | None = None) -> SyncRun:
    """Record a new ``running`` run; :class:`InvalidState` while another one runs."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    now = now or utcnow()
    await conn.execute(
        update(catalog_sync_runs)
        .where(
            catalog_sync_runs.c.status == "running",
            catalog_sync_runs.c.started_at < now - STALE_AFTER,
        )
        .values(status="failed", finished_at=now, error="abandoned (no progress)")
    )
    running = await conn.scalar(
        select(catalog_sync_runs.c.id).where(catalog_sync_runs.c.status == "running").limit(1)
    )
    if running is not None:
        raise InvalidState(f"catalog sync {running} is still running")
    row = {
        "id": new_id("syn"),
        "status": "running",
        "trigger": trigger,
        "started_at": now,
        "finished_at": None,
        "brands": 0,
        "products": 0,
        "created": 0,
        "updated": 0,
        "marked_unavailable": 0,
        "exchange_rates": 0,
        "error": None,
    }
    await conn.execute(insert(catalog_sync_runs).values(**row))
    return SyncRun.from_row(row)


async def finish_run(
    conn: AsyncConnection,
    *,
    run_id: str,
    counts: SyncCounts,
    error: str | None = None,
    now: datetime | None = None,
) -> SyncRun:
    """End a run: ``succeeded`` (no error) or ``failed`` with the counts reached."""
    now = now or utcnow()
    await conn.execute(
        update(catalog_sync_runs)
        .where(catalog_sync_runs.c.id == run_id)
        .values(
            status="failed" if error else "succeeded",
            finished_at=now,
            brands=counts.brands,
            products=counts.products,
            created=counts.created,
            updated=counts.updated,
            marked_unavailable=counts.marked_unavailable,
            exchange_rates=counts.exchange_rates,
            error=None if error is None else error[:2000],
        )
    )
    return await get_run(conn, run_id=run_id)
