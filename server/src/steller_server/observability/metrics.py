"""Prometheus metrics: what is observed where, and the ``GET /metrics`` exposition.

Process metrics (counters and histograms) are observed where things happen:

===========================================  ==========================================  ========
metric                                       labels                                      where
===========================================  ==========================================  ========
``steller_http_requests_total``              method, route (operationId), status         request
``steller_http_request_duration_seconds``    method, route, status                       request
``steller_rate_limited_total``               policy                                      request
``steller_vendor_calls_total``               endpoint, outcome                           vendor
``steller_vendor_call_duration_seconds``     endpoint                                    vendor
``steller_jobs_processed_total``             kind, outcome                               worker
``steller_job_duration_seconds``             kind                                        worker
``steller_fulfilment_duration_seconds``      (none) order placed → fulfilment job done   worker
``steller_webhook_deliveries_total``         outcome (delivered, failed)                 delivery
``steller_webhook_delivery_duration_seconds`` outcome                                    delivery
``steller_wallet_movements_total``           type (debit, refund, …), currency           ledger
``steller_wallet_movement_minor_units_total`` type, currency                             ledger
===========================================  ==========================================  ========

Ledger movements are counted when their transaction commits (a rolled-back debit never counts).
Gauges that describe the database (``steller_orders{status}``, ``steller_jobs{kind,status}``,
``steller_job_oldest_due_age_seconds{kind}``, ``steller_alerts_open{kind}``) are read from the
database at scrape time, so every process and the queue itself agree.

**Multiprocess.** With ``PROMETHEUS_MULTIPROC_DIR`` set *before the first metric is created*
(``steller-server serve --workers N`` and ``worker`` do it; see :func:`prepare_multiprocess_dir`),
every process writes its values to files there and a scrape of any server process aggregates
all of them; otherwise the default in-process registry is used.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import Pool

if TYPE_CHECKING:
    from steller_server.db.engine import Database

__all__ = [
    "MULTIPROC_ENV",
    "exposition",
    "is_enabled",
    "job_finished",
    "ledger_posted",
    "prepare_multiprocess_dir",
    "rate_limited",
    "request_done",
    "set_enabled",
    "vendor_call",
    "vendor_error_rate",
    "webhook_delivery",
]

log = logging.getLogger("steller.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_AFTER_COMMIT = "steller_after_commit"

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FULFILMENT_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 21600.0)
VENDOR_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

_enabled = True


def set_enabled(enabled: bool) -> None:
    """Turn observation on or off for this process (``STELLER_METRICS_ENABLED``)."""
    global _enabled  # noqa: PLW0603 - one switch per process, like the registry itself
    _enabled = enabled


def is_enabled() -> bool:
    return _enabled


class _Metrics:
    """The metric objects, created on first use (after the multiprocess directory is known)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram  # noqa: PLC0415

        self.requests = Counter(
            "steller_http_requests_total", "HTTP requests", ["method", "route", "status"]
        )
        self.request_seconds = Histogram(
            "steller_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS,
        )
        self.rate_limited = Counter(
            "steller_rate_limited_total", "Requests rejected by a rate limit", ["policy"]
        )
        self.vendor_calls = Counter(
            "steller_vendor_calls_total",
            "Logical Bamboo API calls (retries included in one call)",
            ["endpoint", "outcome"],
        )
        self.vendor_seconds = Histogram(
            "steller_vendor_call_duration_seconds",
            "Bamboo call latency, retries and waits included",
            ["endpoint"],
            buckets=VENDOR_BUCKETS,
        )
        self.jobs = Counter(
            "steller_jobs_processed_total", "Job runs by outcome", ["kind", "outcome"]
        )
        self.job_seconds = Histogram(
            "steller_job_duration_seconds", "Job handler run time", ["kind"], buckets=VENDOR_BUCKETS
        )
        self.fulfilment_seconds = Histogram(
            "steller_fulfilment_duration_seconds",
            "Order placed to fulfilment finished (completed, partially completed or failed)",
            buckets=FULFILMENT_BUCKETS,
        )
        self.webhooks = Counter(
            "steller_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"]
        )
        self.webhook_seconds = Histogram(
            "steller_webhook_delivery_duration_seconds",
            "Webhook delivery attempt latency",
            ["outcome"],
            buckets=REQUEST_BUCKETS,
        )
        self.wallet_count = Counter(
            "steller_wallet_movements_total", "Committed ledger movements", ["type", "currency"]
        )
        self.wallet_amount = Counter(
            "steller_wallet_movement_minor_units_total",
            "Committed ledger movement amounts, in minor units of the currency (absolute)",
            ["type", "currency"],
        )


_instance: _Metrics | None = None
_instance_lock = Lock()

# Labelled children of the per-request and per-movement metrics, by label values: ``labels()``
# validates and joins its arguments and takes the metric's lock on every call, which is most of
# an observation's cost. The children are the very objects ``labels()`` returns (prometheus-client
# keeps them for the life of the metric), so caching them changes nothing that is observed; the
# key space is the registry's own label combinations.
_request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_ledger_children: dict[tuple[str, str], tuple[Any, Any]] = {}


def _m() -> _Metrics:
    global _instance  # noqa: PLW0603 - Prometheus metrics are per process by design
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _request_children.clear()
                _ledger_children.clear()
                _instance = _Metrics()
    return _instance


# -- observation points ------------------------------------------------------------------------


def request_done(method: str, route: str, status: int, seconds: float) -> None:
    if not _enabled:
        return
    children = _request_children.get((method, route, status))
    if children is None:
        m = _m()
        labels = (method, route, str(status))
        children = (m.requests.labels(*labels), m.request_seconds.labels(*labels))
        _request_children[(method, route, status)] = children
    children[0].inc()
    children[1].observe(seconds)


def rate_limited(policy: str) -> None:
    if _enabled:
        _m().rate_limited.labels(policy).inc()


class _ErrorWindow:
    """Outcomes of this process's recent vendor calls (for the ``vendor_error_rate`` alert)."""

    def __init__(self, span: float = 300.0) -> None:
        self.span = span
        self.calls: deque[tuple[float, bool]] = deque()

    def add(self, failed: bool, now: float) -> None:
        self.calls.append((now, failed))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self.calls and self.calls[0][0] < now - self.span:
            self.calls.popleft()

    def rate(self, now: float) -> tuple[int, int]:
        """(calls, failed calls) in the window."""
        self._trim(now)
        return len(self.calls), sum(1 for _, failed in self.calls if failed)


_vendor_window = _ErrorWindow()

#: Vendor outcomes that say Bamboo (or the way to it) is unwell, not that we asked badly.
VENDOR_FAILURES = frozenset(
    {"unavailable", "rate_limited", "auth_error", "protocol_error", "error"}
)


def vendor_call(endpoint: str, outcome: str, seconds: float) -> None:
    _vendor_window.add(outcome in VENDOR_FAILURES, time.monotonic())
    if not _enabled:
        return
    m = _m()
    m.vendor_calls.labels(endpoint, outcome).inc()
    m.vendor_seconds.labels(endpoint).observe(seconds)


def vendor_error_rate() -> tuple[int, int]:
    """(calls, failures) this process made to the vendor in the last five minutes."""
    return _vendor_window.rate(time.monotonic())


def job_finished(
    kind: str, outcome: str, seconds: float, *, fulfilment_seconds: float | None = None
) -> None:
    if not _enabled:
        return
    m = _m()
    m.jobs.labels(kind, outcome).inc()
    m.job_seconds.labels(kind).observe(seconds)
    if fulfilment_seconds is not None:
        m.fulfilment_seconds.observe(max(fulfilment_seconds, 0.0))


def webhook_delivery(outcome: str, seconds: float) -> None:
    if not _enabled:
        return
    m = _m()
    m.webhooks.labels(outcome).inc()
    m.webhook_seconds.labels(outcome).observe(seconds)


def ledger_posted(conn: AsyncConnection, entry_type: str, currency: str, amount_minor: int) -> None:
    """Count a ledger movement once ``conn``'s transaction commits (never if it rolls back)."""
    if not _enabled:
        return
    pending: list[Callable[[], None]] = conn.info.setdefault(_AFTER_COMMIT, [])
    pending.append(lambda: ledger_committed(entry_type, currency, amount_minor))


def ledger_committed(entry_type: str, currency: str, amount_minor: int) -> None:
    """Count a ledger movement already committed (a statement run in autocommit)."""
    if not _enabled:
        return
    children = _ledger_children.get((entry_type, currency))
    if children is None:
        m = _m()
        children = (
            m.wallet_count.labels(entry_type, currency),
            m.wallet_amount.labels(entry_type, currency),
        )
        _ledger_children[(entry_type, currency)] = children
    children[0].inc()
    children[1].inc(abs(amount_minor))


@event.listens_for(Engine, "commit")
def _on_commit(conn: Connection) -> None:
    for callback in conn.info.pop(_AFTER_COMMIT, ()):
        try:
            callback()
        except Exception:  # metrics must never break a commit
            log.exception("metrics callback failed")


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Connection) -> None:
    # An invalidated connection (the database dropped it) refuses ``.info`` with
    # PendingRollbackError, which would mask the disconnect (a 500 instead of the 503); the
    # pool's checkin hook below drops its pending callbacks anyway.
    if conn.invalidated:
        return
    conn.info.pop(_AFTER_COMMIT, None)


@event.listens_for(Pool, "checkin")
def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info.pop(_AFTER_COMMIT, None)


# -- multiprocess ------------------------------------------------------------------------------


def prepare_multiprocess_dir(path: str | os.PathLike[str], *, wipe: bool) -> Path:
    """Create (and with ``wipe`` empty) the shared directory and point this process — and the
    processes it starts — at it. Call before any metric is created."""
    directory = Path(path)
    if wipe and directory.exists():
        for child in directory.glob("*.db"):
            child.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def remove_multiprocess_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- exposition --------------------------------------------------------------------------------


async def _database_gauges(db: Database, now: datetime) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415
    from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415

    from steller_server.db.tables import alerts, jobs, orders  # noqa: PLC0415

    async with db.read() as conn:
        order_rows = (
            await conn.execute(select(orders.c.status, func.count()).group_by(orders.c.status))
        ).all()
        job_rows = (
            await conn.execute(
                select(jobs.c.kind, jobs.c.status, func.count())
                .where(jobs.c.status.in_(("pending", "running")))
                .group_by(jobs.c.kind, jobs.c.status)
            )
        ).all()
        oldest_rows = (
            await conn.execute(
                select(jobs.c.kind, func.min(jobs.c.run_at))
                .where(jobs.c.status == "pending", jobs.c.run_at <= now)
                .group_by(jobs.c.kind)
            )
        ).all()
        alert_rows = (
            await conn.execute(
                select(alerts.c.kind, func.count())
                .where(alerts.c.status == "open")
                .group_by(alerts.c.kind)
            )
        ).all()

    order_family = GaugeMetricFamily("steller_orders", "Orders by status", labels=["status"])
    for status, count in order_rows:
        order_family.add_metric([str(status)], int(count))
    job_family = GaugeMetricFamily(
        "steller_jobs", "Queued (pending) and running jobs", labels=["kind", "status"]
    )
    for kind, status, count in job_rows:
        job_family.add_metric([str(kind), str(status)], int(count))
    age_family = GaugeMetricFamily(
        "steller_job_oldest_due_age_seconds",
        "How long the oldest due, unclaimed job has waited",
        labels=["kind"],
    )
    for kind, oldest in oldest_rows:
        if oldest is not None:
            age_family.add_metric([str(kind)], max((now - oldest).total_seconds(), 0.0))
    alert_family = GaugeMetricFamily(
        "steller_alerts_open", "Open (unacknowledged) alerts", labels=["kind"]
    )
    for kind, count in alert_rows:
        alert_family.add_metric([str(kind)], int(count))

    families = [order_family, job_family, age_family, alert_family]

    class _Snapshot:
        def collect(self) -> list[Any]:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot())
    return generate_latest(registry)


def _process_metrics() -> bytes:
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest  # noqa: PLC0415

    _m()  # every family is present (at zero) even before its first observation
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess  # noqa: PLC0415

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def exposition(db: Database, now: datetime) -> tuple[bytes, str]:
    """(body, content type) of a scrape: process metrics plus the database gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST  # noqa: PLC0415

    body = _process_metrics() + await _database_gauges(db, now)
    return body, CONTENT_TYPE_LATEST
