"""Periodic housekeeping: status-page health probes, request-log rollup and purge."""

from __future__ import annotations

from steller_server.domain import request_log_queries, status
from steller_server.domain.models import Job
from steller_server.jobs.base import Done, JobContext, Outcome


async def run_health_probe(_job: Job, ctx: JobContext) -> Outcome:
    """Record one probe per component (uptime over 24 h / 7 d / 30 d is computed from these)."""
    await status.record_probe(ctx.db, ctx.clock())
    return Done()


async def run_request_log_maintenance(_job: Job, ctx: JobContext) -> Outcome:
    """Roll finished hours into request_log_hourly, then delete rows past the retention."""
    await request_log_queries.purge_request_logs(
        ctx.db, ctx.clock(), retention_days=ctx.settings.request_log_retention_days
    )
    return Done()
