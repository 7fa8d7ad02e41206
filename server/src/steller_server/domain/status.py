"""The public status page: component states from live signals, uptime from health probes.

Components and the live signal behind each (all read from the database, so every API process
answers the same):

- ``api`` — the database answers, and the share of 5xx answers among partner requests of the
  last 5 minutes (``request_logs``; at least 20 requests): ≥ 5 % degraded, ≥ 25 % partial outage.
- ``fulfilment`` — the age of the oldest fulfilment job that is due but not being worked on
  (``jobs``: pending and due, or running with an expired lease): ≥ 5 min degraded, ≥ 20 min
  partial outage, ≥ 60 min major outage.
- ``vendor`` — the share of fulfilment jobs touched in the last 15 minutes that ended in an error
  (vendor call failed; at least 5 jobs): ≥ 10 % degraded, ≥ 50 % partial, ≥ 90 % major outage.
- ``webhooks`` — the share of failed delivery attempts of the last 15 minutes
  (``webhook_attempts``; at least 10 attempts): ≥ 25 % degraded, ≥ 75 % partial outage. Partner
  endpoints fail on their own too, hence the higher thresholds.

An open incident raises each component it names to at least its impact (minor → degraded,
major → partial outage, critical → major outage). The overall status is the worst component.

Uptime: a scheduler calls :func:`record_probe` every minute; it stores one row per component in
``health_probes`` (``ok`` = operational or degraded). A probe vouches for the time from its
``checked_at`` until the next probe, but for at most :data:`PROBE_COVERAGE` (two intervals):
time nobody vouched for — the server or its scheduler was down, so nothing probed — counts as
downtime, like a failed probe. Time before the very first probe is not observed and is left out.
Uptime over a window = up time / observed time of the window, rounded *down* to 0.01 %
(100.0 when nothing was observed yet).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import health_probes, jobs, request_logs, webhook_attempts
from steller_server.domain import incidents as incidents_domain
from steller_server.domain.clock import utcnow
from steller_server.domain.incidents import Incident
from steller_server.domain.jobs import FULFILMENT
from steller_server.domain.serialize import iso

__all__ = [
    "COMPONENT_NAMES",
    "PROBE_COVERAGE",
    "PROBE_INTERVAL",
    "SEVERITY",
    "UPTIME_WINDOWS",
    "ComponentState",
    "Signals",
    "StatusPage",
    "assess",
    "compute_uptime",
    "read_signals",
    "record_probe",
    "status_page",
    "uptime",
    "worst",
]

COMPONENT_NAMES: dict[str, str] = {
    "api": "Partner and admin API",
    "fulfilment": "Order fulfilment",
    "vendor": "Gift-card vendor",
    "webhooks": "Webhook delivery",
}
SEVERITY = ("operational", "degraded", "partial_outage", "major_outage")
IMPACT_STATUS = {"minor": "degraded", "major": "partial_outage", "critical": "major_outage"}

PROBE_INTERVAL = timedelta(minutes=1)
PROBE_COVERAGE = 2 * PROBE_INTERVAL
UPTIME_WINDOWS = {
    "last24h": timedelta(hours=24),
    "last7d": timedelta(days=7),
    "last30d": timedelta(days=30),
}

API_WINDOW = timedelta(minutes=5)
API_MIN_REQUESTS = 20
API_THRESHOLDS = ((0.25, "partial_outage"), (0.05, "degraded"))
BACKLOG_THRESHOLDS = (
    (timedelta(minutes=60), "major_outage"),
    (timedelta(minutes=20), "partial_outage"),
    (timedelta(minutes=5), "degraded"),
)
VENDOR_WINDOW = timedelta(minutes=15)
VENDOR_MIN_JOBS = 5
VENDOR_THRESHOLDS = ((0.90, "major_outage"), (0.50, "partial_outage"), (0.10, "degraded"))
WEBHOOK_WINDOW = timedelta(minutes=15)
WEBHOOK_MIN_ATTEMPTS = 10
WEBHOOK_THRESHOLDS = ((0.75, "partial_outage"), (0.25, "degraded"))


def worst(states: Iterable[str]) -> str:
    return max(states, key=SEVERITY.index, default="operational")


@dataclass(frozen=True, kw_only=True)
class Signals:
    """The live measurements the component states are derived from."""

    database_ok: bool = True
    api_requests: int = 0
    api_server_errors: int = 0
    fulfilment_backlog: timedelta | None = None  # age of the oldest waiting fulfilment job
    vendor_jobs: int = 0
    vendor_failures: int = 0
    webhook_attempts: int = 0
    webhook_failures: int = 0


@dataclass(frozen=True, kw_only=True)
class ComponentState:
    id: str
    status: str
    detail: str | None
    uptime: dict[str, float] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": COMPONENT_NAMES[self.id],
            "status": self.status,
            "detail": self.detail,
            "uptime": {k: self.uptime.get(k, 100.0) for k in UPTIME_WINDOWS},
        }


@dataclass(frozen=True, kw_only=True)
class StatusPage:
    status: str
    components: list[ComponentState]
    incidents: list[Incident]
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """The ``StatusPage`` schema."""
        return {
            "status": self.status,
            "components": [c.public() for c in self.components],
            "incidents": [i.public() for i in self.incidents],
            "updatedAt": iso(self.updated_at),
        }


def _rate_state(
    failures: int, total: int, minimum: int, thresholds: Sequence[tuple[float, str]]
) -> str:
    if total < minimum:
        return "operational"
    rate = failures / total
    for bound, state in thresholds:
        if rate >= bound:
            return state
    return "operational"


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() // 60))


def assess(signals: Signals) -> dict[str, tuple[str, str | None]]:
    """Component id → (status, detail) from live signals alone (no incidents)."""
    out: dict[str, tuple[str, str | None]] = {}
    if not signals.database_ok:
        out["api"] = ("major_outage", "The database is not answering")
    else:
        state = _rate_state(
            signals.api_server_errors, signals.api_requests, API_MIN_REQUESTS, API_THRESHOLDS
        )
        detail = None
        if state != "operational":
            share = 100 * signals.api_server_errors // max(signals.api_requests, 1)
            detail = f"{share} % of requests in the last 5 minutes failed with a server error"
        out["api"] = (state, detail)

    backlog = signals.fulfilment_backlog
    state, detail = "operational", None
    if backlog is not None:
        for bound, candidate in BACKLOG_THRESHOLDS:
            if backlog >= bound:
                state = candidate
                detail = f"Orders are waiting up to {_minutes(backlog)} minutes for fulfilment"
                break
    out["fulfilment"] = (state, detail)

    state = _rate_state(
        signals.vendor_failures, signals.vendor_jobs, VENDOR_MIN_JOBS, VENDOR_THRESHOLDS
    )
    out["vendor"] = (
        state,
        None
        if state == "operational"
        else f"{signals.vendor_failures} of {signals.vendor_jobs} recent vendor calls failed",
    )

    state = _rate_state(
        signals.webhook_failures, signals.webhook_attempts, WEBHOOK_MIN_ATTEMPTS, WEBHOOK_THRESHOLDS
    )
    out["webhooks"] = (
        state,
        None
        if state == "operational"
        else f"{signals.webhook_failures} of {signals.webhook_attempts} recent "
        "webhook deliveries failed",
    )
    return out


async def read_signals(conn: AsyncConnection, *, now: datetime) -> Signals:
    """Measure the live signals (a handful of indexed aggregate queries)."""
    api = (
        await conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((request_logs.c.status >= 500, 1), else_=0)), 0),
            ).where(request_logs.c.created_at >= now - API_WINDOW, request_logs.c.created_at <= now)
        )
    ).one()
    oldest = await conn.scalar(
        select(func.min(jobs.c.run_at)).where(
            jobs.c.kind == FULFILMENT,
            or_(
                and_(jobs.c.status == "pending", jobs.c.run_at <= now),
                and_(jobs.c.status == "running", jobs.c.locked_until < now),
            ),
        )
    )
    failed_job = and_(jobs.c.status.in_(("pending", "failed")), jobs.c.last_error.is_not(None))
    vendor = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(case((failed_job, 1), else_=0)), 0)).where(
                jobs.c.kind == FULFILMENT,
                jobs.c.status != "running",
                jobs.c.updated_at >= now - VENDOR_WINDOW,
            )
        )
    ).one()
    hooks = (
        await conn.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(case((webhook_attempts.c.success.is_(False), 1), else_=0)), 0
                ),
            ).where(
                webhook_attempts.c.attempted_at >= now - WEBHOOK_WINDOW,
                webhook_attempts.c.attempted_at <= now,
            )
        )
    ).one()
    return Signals(
        database_ok=True,
        api_requests=int(api[0]),
        api_server_errors=int(api[1]),
        fulfilment_backlog=(now - oldest) if oldest is not None and oldest <= now else None,
        vendor_jobs=int(vendor[0]),
        vendor_failures=int(vendor[1]),
        webhook_attempts=int(hooks[0]),
        webhook_failures=int(hooks[1]),
    )


async def record_probe(db: Database, now: datetime | None = None) -> dict[str, bool]:
    """One health probe per component (call every :data:`PROBE_INTERVAL` from a scheduler).

    Several processes may run the scheduler: a component already probed within the last half
    interval is skipped, so the table keeps about one row per component per minute. Returns
    component → ok for the rows written. When the database is down nothing can be written: the
    missing probes then count as downtime (see the module docstring).
    """
    now = now or utcnow()
    async with db.read() as conn:
        signals = await read_signals(conn, now=now)
    states = assess(signals)
    written: dict[str, bool] = {}
    async with db.write() as conn:
        recent = set(
            (
                await conn.execute(
                    select(health_probes.c.component).where(
                        health_probes.c.checked_at > now - PROBE_INTERVAL / 2,
                        health_probes.c.checked_at <= now,
                    )
                )
            ).scalars()
        )
        rows = []
        for component, (state, detail) in states.items():
            if component in recent:
                continue
            ok = SEVERITY.index(state) <= SEVERITY.index("degraded")
            rows.append(
                {
                    "component": component,
                    "ok": ok,
                    "latency_ms": None,
                    "detail": (detail or state)[:500],
                    "checked_at": now,
                }
            )
            written[component] = ok
        if rows:
            await conn.execute(insert(health_probes), rows)
    return written


def compute_uptime(
    probes: Sequence[tuple[datetime, bool]],
    *,
    start: datetime,
    end: datetime,
    coverage: timedelta = PROBE_COVERAGE,
) -> float:
    """Uptime % of [start, end) from probes sorted by time.

    ``probes`` must include the last probe before ``start`` when there is one (it vouches for the
    beginning of the window). Each probe covers [t, min(next t, t + coverage)); uncovered time
    after the first probe is downtime. Rounded down to 0.01; 100.0 when nothing was observed.
    """
    if not probes or end <= start:
        return 100.0
    observed_from = max(start, probes[0][0])
    if observed_from >= end:
        return 100.0
    up = timedelta(0)
    for index, (at, ok) in enumerate(probes):
        if not ok:
            continue
        until = at + coverage
        if index + 1 < len(probes):
            until = min(until, probes[index + 1][0])
        lo, hi = max(at, observed_from), min(until, end)
        if hi > lo:
            up += hi - lo
    observed = end - observed_from
    percent = 100 * up / observed
    return min(100.0, math.floor(percent * 100) / 100)


async def uptime(
    conn: AsyncConnection, *, now: datetime, components: Iterable[str] = COMPONENT_NAMES
) -> dict[str, dict[str, float]]:
    """Component → {last24h, last7d, last30d} from ``health_probes``."""
    longest = max(UPTIME_WINDOWS.values())
    start = now - longest
    out: dict[str, dict[str, float]] = {}
    for component in components:
        before = (
            await conn.execute(
                select(health_probes.c.checked_at, health_probes.c.ok)
                .where(health_probes.c.component == component, health_probes.c.checked_at < start)
                .order_by(health_probes.c.checked_at.desc())
                .limit(1)
            )
        ).all()
        inside = (
            await conn.execute(
                select(health_probes.c.checked_at, health_probes.c.ok)
                .where(
                    health_probes.c.component == component,
                    health_probes.c.checked_at >= start,
                    health_probes.c.checked_at <= now,
                )
                .order_by(health_probes.c.checked_at)
            )
        ).all()
        probes = [(row[0], bool(row[1])) for row in (*before, *inside)]
        out[component] = {}
        for name, length in UPTIME_WINDOWS.items():
            window_start = now - length
            # Only the last probe before this window's start matters, then everything inside.
            first = 0
            for index, (at, _ok) in enumerate(probes):
                if at < window_start:
                    first = index
                else:
                    break
            out[component][name] = compute_uptime(probes[first:], start=window_start, end=now)
    return out


async def status_page(
    db: Database, *, now: datetime | None = None, uptimes: dict[str, dict[str, float]] | None = None
) -> StatusPage:
    """Everything ``GET /api/status`` shows. ``uptimes`` may come from a cache (they move slowly);
    states and incidents are always read live."""
    now = now or utcnow()
    async with db.read() as conn:
        signals = await read_signals(conn, now=now)
        open_and_recent = await incidents_domain.list_public_incidents(conn, now=now)
        if uptimes is None:
            uptimes = await uptime(conn, now=now)
    live = assess(signals)
    components = []
    for component in COMPONENT_NAMES:
        state, detail = live[component]
        for incident in open_and_recent:
            if incident.is_open and component in incident.components:
                raised = IMPACT_STATUS[incident.impact]
                if SEVERITY.index(raised) > SEVERITY.index(state):
                    state = raised
                    detail = detail or incident.title
        components.append(
            ComponentState(
                id=component, status=state, detail=detail, uptime=uptimes.get(component, {})
            )
        )
    return StatusPage(
        status=worst(c.status for c in components),
        components=components,
        incidents=open_and_recent,
        updated_at=now,
    )
