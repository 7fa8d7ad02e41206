"""What a job handler receives and returns; the worker (jobs/worker.py) owns the loop.

A handler is `async def run(job: Job, ctx: JobContext) -> Outcome` registered for a job kind in
`jobs/registry.py`. It returns `Done()`, `Retry(error, retry=True)` (counted attempt, backoff) or
`Later(run_at, payload)` (poll again; not a failure). An exception is treated as `Retry(str(exc))`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from steller_server.db.engine import Database
from steller_server.settings import Settings


@dataclass(frozen=True, slots=True)
class Done:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    error: str
    retry: bool = True


@dataclass(frozen=True, slots=True)
class Later:
    run_at: datetime
    payload: dict[str, Any] | None = None


Outcome = Done | Retry | Later


@dataclass(slots=True)
class JobContext:
    db: Database
    settings: Settings
    worker_id: str
    clock: Callable[[], datetime]
    #: The Bamboo client (steller_server.vendor.BambooClient); None when no vendor is configured.
    vendor: Any = None
    #: An httpx.AsyncClient for outbound webhooks (no redirects followed, 10 s timeout).
    webhook_http: httpx.AsyncClient | None = None
    extras: dict[str, Any] = field(default_factory=dict)
