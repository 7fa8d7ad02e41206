"""Job kind → handler, as `module:function` paths so the worker imports only what it runs."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from steller_server.domain import jobs
from steller_server.domain.models import Job
from steller_server.jobs.base import JobContext, Outcome

Handler = Callable[[Job, JobContext], Awaitable[Outcome]]

#: Pull the vendor catalog and FX rates (payload ``{"runId"?: "syn_…", "trigger": …}``).
CATALOG_SYNC = "catalog_sync"
#: Reconcile wallets, vendor orders, stuck orders and vendor balances (``{"runId"?: "rec_…"}``).
RECONCILIATION = "reconciliation"

#: Send (or, in sandbox mode without SMTP, capture) one email (jobs/notify.py).
EMAIL = "email"
#: Send one admin alert notification to the configured channels (``{"alertId", "reason"}``).
ALERT_NOTIFY = "alert_notify"
#: Operational alerts (job backlog, disabled webhook endpoints, vendor error rate), reminders.
OPS_CHECK = "ops_check"
#: One health probe per status-page component (jobs/maintenance.py).
HEALTH_PROBE = "health_probe"
#: Request-log hourly rollup and retention purge (jobs/maintenance.py).
REQUEST_LOG_MAINTENANCE = "request_log_maintenance"

HANDLERS: dict[str, str] = {
    jobs.FULFILMENT: "steller_server.jobs.fulfilment:run",
    jobs.WEBHOOK_DELIVERY: "steller_server.jobs.delivery:run",
    jobs.LOW_BALANCE_CHECK: "steller_server.jobs.delivery:run_low_balance_check",
    CATALOG_SYNC: "steller_server.jobs.catalog_sync:run",
    RECONCILIATION: "steller_server.jobs.reconciliation:run",
    EMAIL: "steller_server.jobs.notify:run_email",
    ALERT_NOTIFY: "steller_server.jobs.notify:run_alert_notify",
    OPS_CHECK: "steller_server.jobs.notify:run_ops_check",
    HEALTH_PROBE: "steller_server.jobs.maintenance:run_health_probe",
    REQUEST_LOG_MAINTENANCE: "steller_server.jobs.maintenance:run_request_log_maintenance",
}


def resolve(kind: str) -> Handler:
    """The handler for ``kind``; KeyError (unknown kind), ImportError/AttributeError (missing)."""
    module_name, _, attr = HANDLERS[kind].partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), attr)
    return handler
