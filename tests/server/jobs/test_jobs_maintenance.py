"""The scheduler keeps the status page's probes and the request-log retention running."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from steller_server.db.tables import health_probes
from steller_server.jobs import scheduler
from steller_server.jobs.base import Done, JobContext
from steller_server.jobs.maintenance import run_health_probe, run_request_log_maintenance
from steller_server.jobs.registry import HEALTH_PROBE, REQUEST_LOG_MAINTENANCE, resolve


def test_probes_and_log_maintenance_are_scheduled_and_registered() -> None:
    kinds = {p.kind: p.every for p in scheduler.DEFAULT_SCHEDULE}
    assert kinds[HEALTH_PROBE] == timedelta(minutes=1)
    assert kinds[REQUEST_LOG_MAINTENANCE] == timedelta(minutes=15)
    assert resolve(HEALTH_PROBE) is run_health_probe
    assert resolve(REQUEST_LOG_MAINTENANCE) is run_request_log_maintenance


async def test_a_probe_job_records_probes(database, settings) -> None:
    from steller_server.domain.clock import utcnow

    ctx = JobContext(db=database, settings=settings, worker_id="t", clock=utcnow)
    assert isinstance(await run_health_probe(None, ctx), Done)  # type: ignore[arg-type]
    assert isinstance(await run_request_log_maintenance(None, ctx), Done)  # type: ignore[arg-type]
    async with database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(health_probes)) > 0
