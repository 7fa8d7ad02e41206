"""Job kind → handler, as `module:function` paths so the worker imports only what it runs."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from steller_server.domain import jobs
from steller_server.domain.models import Job
from steller_server.jobs.base import JobContext, Outcome

Handler = Callable[[Job, JobContext], Awaitable[Outcome]]

HANDLERS: dict[str, str] = {
    jobs.FULFILMENT: "steller_server.jobs.fulfilment:run",
    jobs.WEBHOOK_DELIVERY: "steller_server.jobs.delivery:run",
    jobs.LOW_BALANCE_CHECK: "steller_server.jobs.delivery:run_low_balance_check",
}


def resolve(kind: str) -> Handler:
    module_name, _, attr = HANDLERS[kind].partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), attr)
    return handler
