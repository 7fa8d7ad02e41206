"""Job-step observation for the worker: log context, one log line per step, job metrics.

``job_context(job)`` sets the log context (job id and kind, the order id of the payload, and the
request id of the request that caused the job — ``jobs.request_id``) for everything the handler
logs, vendor calls included. ``job_step_done`` logs the outcome and counts it; a fulfilment job
that is done also observes ``steller_fulfilment_duration_seconds`` (the job is created in the
order's transaction, so its ``created_at`` is the order's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from steller_server.domain.models import Job
from steller_server.jobs.base import Done, Later, Outcome
from steller_server.observability import metrics
from steller_server.observability.logging import JOB_ID, JOB_KIND, ORDER_ID, REQUEST_ID

__all__ = ["job_context", "job_step_done", "job_step_started"]

log = logging.getLogger("steller.jobs")


@contextmanager
def job_context(job: Job) -> Iterator[None]:
    order_id = job.payload.get("orderId") if isinstance(job.payload, dict) else None
    tokens = [
        (JOB_ID, JOB_ID.set(job.id)),
        (JOB_KIND, JOB_KIND.set(job.kind)),
        (ORDER_ID, ORDER_ID.set(str(order_id) if order_id else None)),
        (REQUEST_ID, REQUEST_ID.set(job.request_id)),
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)  # type: ignore[attr-defined]


def job_step_started(job: Job) -> None:
    log.info(
        "job %d (%s) started, attempt %d",
        job.id,
        job.kind,
        job.attempts,
        extra={"steller": {"step": "start", "attempt": job.attempts}},
    )


def _outcome_name(outcome: Outcome) -> str:
    if isinstance(outcome, Done):
        return "done"
    if isinstance(outcome, Later):
        return "later"
    return "retry" if outcome.retry else "failed"


def job_step_done(job: Job, outcome: Outcome, seconds: float, now: datetime) -> None:
    name = _outcome_name(outcome)
    fulfilment = None
    if job.kind == "fulfilment" and name == "done":
        fulfilment = (now - job.created_at).total_seconds()
    metrics.job_finished(job.kind, name, seconds, fulfilment_seconds=fulfilment)
    fields: dict[str, object] = {
        "step": "finish",
        "outcome": name,
        "duration_ms": round(seconds * 1000, 2),
    }
    if isinstance(outcome, Later):
        fields["next_run_at"] = outcome.run_at.isoformat()
    elif not isinstance(outcome, Done):
        fields["error"] = outcome.error[:500]
    level = logging.INFO if name in ("done", "later") else logging.WARNING
    log.log(
        level,
        "job %d (%s) %s in %.1f ms",
        job.id,
        job.kind,
        name,
        seconds * 1000,
        extra={"steller": fields},
    )
