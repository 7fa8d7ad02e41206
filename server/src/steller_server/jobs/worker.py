"""The job worker: claims due jobs from the durable queue and runs their handlers.

    worker = Worker(db, settings, worker_id="w1", vendor=bamboo)
    await worker.run_forever()          # until stop(); `steller-server worker` does this
    await worker.run_until_idle()       # tests: run every due job (and what they make due) now

* Jobs are claimed in batches of up to ``concurrency - running`` with a lease
  (:func:`steller_server.domain.jobs.claim`, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so any
  number of workers — tasks, processes, machines — never hold the same job at once.
* While a handler runs, a heartbeat extends the lease every ``lease / 3``. If the lease was lost
  (the worker stalled past it and another worker took the job), the handler is cancelled and its
  outcome dropped: the other worker owns the job now. Every state change a handler makes is guarded
  in the domain (``WHERE status = 'processing'``…), so even a late write cannot apply twice.
* Outcomes: ``Done`` → complete; ``Retry`` or an exception → fail (backoff, counted);
  ``Later`` → reschedule (not counted). A kind whose handler module cannot be imported is
  logged and rescheduled (``MISSING_HANDLER_DELAY``), never crashing the loop.
* :meth:`wake` makes the loop poll now (the vendor callback uses it); :meth:`stop` is graceful:
  no new claims, running jobs finish (up to ``stop_timeout``; then they are cancelled and their
  leases simply expire, so another worker resumes them).
* Periodic work (catalog sync, reconciliation) is enqueued by :class:`~.scheduler.Scheduler`
  from the loop; it de-duplicates across workers through job ``dedupe_key``\\ s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from steller_server.db.engine import Database
from steller_server.domain import jobs
from steller_server.domain.clock import utcnow
from steller_server.domain.models import Job
from steller_server.jobs import registry
from steller_server.jobs.base import Done, JobContext, Later, Outcome, Retry
from steller_server.jobs.scheduler import Scheduler
from steller_server.observability.jobs import job_context, job_step_done, job_step_started
from steller_server.settings import ConfigError, Settings
from steller_server.vendor import BambooClient

__all__ = [
    "MISSING_HANDLER_DELAY",
    "Worker",
    "WorkerService",
    "default_worker_id",
    "vendor_from_settings",
]

log = logging.getLogger("steller.worker")

MISSING_HANDLER_DELAY = timedelta(seconds=60)
DEFAULT_LEASE = timedelta(seconds=60)


def vendor_from_settings(
    settings: Settings,
    *,
    required: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> BambooClient | None:
    """The Bamboo client from ``STELLER_BAMBOO_BASE_URL`` / ``_CLIENT_ID`` / ``_CLIENT_SECRET``
    (None when unset, or :class:`ConfigError` when ``required``). The vendor limiter is shared
    through Redis when ``STELLER_REDIS_URL`` is set, so every process respects one budget."""
    missing = [
        name
        for name, value in (
            ("STELLER_BAMBOO_BASE_URL", settings.bamboo_base_url),
            ("STELLER_BAMBOO_CLIENT_ID", settings.bamboo_client_id),
            ("STELLER_BAMBOO_CLIENT_SECRET", settings.bamboo_client_secret),
        )
        if not value
    ]
    if missing:
        if required:
            raise ConfigError(f"the vendor is not configured: set {', '.join(missing)}")
        return None
    return BambooClient(
        settings.bamboo_base_url or "",
        settings.bamboo_client_id or "",
        settings.bamboo_client_secret or "",
        transport=transport,
        limiter_storage_uri=settings.redis_url or "memory://",
        **options,
    )


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{id(object()):x}"


class Worker:
    """Runs jobs of ``kinds`` (default: every registered kind) with bounded concurrency."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        worker_id: str | None = None,
        kinds: Sequence[str] | None = None,
        concurrency: int = 8,
        poll_interval: float = 1.0,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = utcnow,
        vendor: Any = None,
        webhook_http: httpx.AsyncClient | None = None,
        extras: dict[str, Any] | None = None,
        scheduler: Scheduler | None = None,
        stop_timeout: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.db = db
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.kinds = list(kinds) if kinds is not None else sorted(registry.HANDLERS)
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.lease = lease
        self.clock = clock
        self.scheduler = scheduler
        self.stop_timeout = stop_timeout
        self.context = JobContext(
            db=db,
            settings=settings,
            worker_id=self.worker_id,
            clock=clock,
            vendor=vendor,
            webhook_http=webhook_http,
            extras=extras if extras is not None else {},
        )
        self._running: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._preloaded = False
        #: Jobs finished by this worker, by outcome (for logs, tests and metrics).
        self.stats: dict[str, int] = {"done": 0, "retry": 0, "later": 0, "lost": 0, "error": 0}

    # -- control -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Poll for due jobs now instead of after ``poll_interval``."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the loop to finish: no new claims; :meth:`run_forever` returns once jobs end."""
        self._stopping = True
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def preload(self) -> None:
        """Import every handler module now: a first import inside ``_run_one`` blocks the event
        loop (seconds on a busy machine) while the claimed batch's leases are already running."""
        if self._preloaded:
            return
        self._preloaded = True
        for kind in self.kinds:
            try:
                registry.resolve(kind)
            except (ImportError, AttributeError, KeyError) as exc:
                log.warning("job kind %r has no handler yet (%s); its jobs wait", kind, exc)

    # -- loops ---------------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Claim and run jobs until :meth:`stop`; errors of the queue itself are logged and the
        loop carries on (a database outage must not kill the worker)."""
        self.preload()
        log.info(
            "worker %s started (kinds=%s, concurrency=%d)",
            self.worker_id,
            ",".join(self.kinds),
            self.concurrency,
        )
        try:
            while not self._stopping:
                self._wake.clear()
                claimed = 0
                try:
                    await self._tick_scheduler()
                    claimed = await self._claim_and_start()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("worker %s: claiming failed; retrying", self.worker_id)
                if claimed and self.in_flight < self.concurrency:
                    continue  # there may be more due work: claim again at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_for_change(), self.poll_interval)
        finally:
            await self._drain()
            # The webhook handler keeps its outbound client in extras when none was passed in.
            client = self.context.extras.pop("webhook_client", None)
            if client is not None:
                await client.aclose()
            log.info("worker %s stopped", self.worker_id)

    async def run_until_idle(self, *, max_jobs: int = 100_000, within: float = 60.0) -> int:
        """Run due jobs (and jobs they make due) until none is due; returns how many ran.

        Jobs rescheduled into the future are not due, so with a frozen test clock this returns
        once every order is waiting on the vendor; move the clock and call it again. Raises
        TimeoutError after ``within`` seconds.
        """
        ran = 0
        self.preload()

        async def loop() -> None:
            nonlocal ran
            while ran < max_jobs:
                await self._tick_scheduler()
                batch = await self._claim(self.concurrency)
                if not batch:
                    return
                await asyncio.gather(*(self._run_one(job) for job in batch))
                ran += len(batch)

        await asyncio.wait_for(loop(), within)
        return ran

    async def _tick_scheduler(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.tick(self.db, now=self.clock())

    async def _wait_for_change(self) -> None:
        """Return when woken, or when a running job finished (a slot is free again)."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wake.wait())]
        waiters.extend(self._running.values())
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiters[0].cancel()

    async def _claim_and_start(self) -> int:
        free = self.concurrency - self.in_flight
        if free <= 0:
            return 0
        batch = await self._claim(free)
        for job in batch:
            task = asyncio.create_task(self._run_one(job), name=f"job-{job.id}-{job.kind}")
            self._running[job.id] = task
            task.add_done_callback(self._forget(job.id))
        return len(batch)

    def _forget(self, job_id: int) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._running.pop(job_id, None)
            self._wake.set()  # a slot is free

        return done

    async def _claim(self, limit: int) -> list[Job]:
        return await jobs.claim(
            self.db,
            worker_id=self.worker_id,
            kinds=self.kinds,
            limit=limit,
            lease=self.lease,
            now=self.clock(),
        )

    async def _drain(self) -> None:
        if not self._running:
            return
        tasks = list(self._running.values())
        _, pending = await asyncio.wait(tasks, timeout=self.stop_timeout)
        for task in pending:
            task.cancel()  # its lease expires; another worker resumes the job
        if pending:
            await asyncio.wait(pending)

    # -- one job -------------------------------------------------------------------------------

    async def _run_one(self, job: Job) -> None:
        # Every log line of this job (vendor calls included) carries the job and the request
        # that caused it; the handler task below copies this context.
        with job_context(job):
            await self._run_one_in_context(job)

    async def _run_one_in_context(self, job: Job) -> None:
        try:
            handler = registry.resolve(job.kind)
        except (ImportError, AttributeError, KeyError) as exc:
            log.error("no handler for job kind %r (%s); job %d rescheduled", job.kind, exc, job.id)
            await self._finish(job, Later(self.clock() + MISSING_HANDLER_DELAY))
            return
        started = time.perf_counter()
        job_step_started(job)
        handler_task: asyncio.Task[Outcome] = asyncio.ensure_future(handler(job, self.context))
        heartbeat = asyncio.create_task(self._heartbeat(job, handler_task))
        outcome: Outcome
        try:
            outcome = await handler_task
        except asyncio.CancelledError:
            if heartbeat.done() and not heartbeat.cancelled() and heartbeat.result() is False:
                self.stats["lost"] += 1
                log.warning("job %d (%s): lease lost; left to its new owner", job.id, job.kind)
                return
            raise
        except Exception as exc:
            log.exception("job %d (%s) raised", job.id, job.kind)
            self.stats["error"] += 1
            outcome = Retry(f"{type(exc).__name__}: {exc}")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        job_step_done(job, outcome, time.perf_counter() - started, self.clock())
        await self._finish(job, outcome)

    async def _heartbeat(self, job: Job, handler_task: asyncio.Task[Outcome]) -> bool:
        """Extend the lease every lease/3; cancel the handler and return False once it is lost."""
        interval = max(self.lease.total_seconds() / 3, 0.01)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.db.write() as conn:
                    held = await jobs.extend_lease(
                        conn,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        lease=self.lease,
                        now=self.clock(),
                    )
            except Exception:
                log.exception("job %d: heartbeat failed", job.id)
                continue
            if not held:
                handler_task.cancel()
                return False

    async def _finish(self, job: Job, outcome: Outcome) -> None:
        now = self.clock()
        try:
            async with self.db.write() as conn:
                if isinstance(outcome, Done):
                    held = await jobs.complete(
                        conn, job_id=job.id, worker_id=self.worker_id, now=now
                    )
                    self.stats["done"] += 1
                elif isinstance(outcome, Later):
                    held = await jobs.reschedule(
                        conn,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        run_at=outcome.run_at,
                        payload=outcome.payload,
                        now=now,
                    )
                    self.stats["later"] += 1
                else:
                    status = await jobs.fail(
                        conn,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        error=outcome.error,
                        retry=outcome.retry,
                        now=now,
                    )
                    held = status is not None
                    self.stats["retry"] += 1
                    log.warning(
                        "job %d (%s) failed: %s → %s", job.id, job.kind, outcome.error, status
                    )
        except Exception:
            # The lease expires and the job is claimed again: at-least-once, handlers are safe.
            log.exception("job %d: could not record its outcome", job.id)
            return
        if not held:
            self.stats["lost"] += 1
            log.warning("job %d (%s): lease lost before the outcome was recorded", job.id, job.kind)


class WorkerService:
    """The in-process worker as an app service (``create_app(services=[...])``): one worker in
    the server process, used on SQLite by ``serve`` and ``sandbox``."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.worker.run_forever(), name="steller-worker")

    async def stop(self) -> None:
        self.worker.stop()
        if self._task is not None:
            await self._task
