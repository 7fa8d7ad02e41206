"""The worker loop: dispatch by kind, outcomes, missing handlers, leases and heartbeats, stop."""

from __future__ import annotations

import asyncio
import sys
import types
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import jobs
from steller_server.domain.clock import utcnow
from steller_server.domain.models import Job
from steller_server.jobs import registry
from steller_server.jobs.base import Done, JobContext, Later, Outcome, Retry
from steller_server.jobs.worker import Worker
from steller_server.settings import Settings

MODULE = "steller_test_job_handlers"


class Handlers:
    """Test handlers registered under kinds ``t_*`` through a module in sys.modules."""

    def __init__(self) -> None:
        self.runs: Counter[int] = Counter()
        self.running: set[int] = set()
        self.overlaps = 0
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.outcome: Callable[[Job], Outcome] = lambda _job: Done()

    async def ok(self, job: Job, ctx: JobContext) -> Outcome:
        if job.id in self.running:
            self.overlaps += 1
        self.running.add(job.id)
        try:
            self.runs[job.id] += 1
            await asyncio.sleep(0)
            return self.outcome(job)
        finally:
            self.running.discard(job.id)

    async def boom(self, job: Job, ctx: JobContext) -> Outcome:
        raise RuntimeError("handler exploded")

    async def blocking(self, job: Job, ctx: JobContext) -> Outcome:
        self.runs[job.id] += 1
        self.started.set()
        await self.release.wait()
        return Done()


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> Handlers:
    h = Handlers()
    module = types.ModuleType(MODULE)
    module.ok = h.ok  # type: ignore[attr-defined]
    module.boom = h.boom  # type: ignore[attr-defined]
    module.blocking = h.blocking  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, MODULE, module)
    for kind, attr in (("t_ok", "ok"), ("t_boom", "boom"), ("t_block", "blocking")):
        monkeypatch.setitem(registry.HANDLERS, kind, f"{MODULE}:{attr}")
    monkeypatch.setitem(registry.HANDLERS, "t_missing", "steller_server.jobs.no_such_module:run")
    return h


def worker_for(database: Database, settings: Settings, **kwargs: Any) -> Worker:
    options: dict[str, Any] = {
        "kinds": ["t_ok", "t_boom", "t_block", "t_missing"],
        "poll_interval": 0.05,
    }
    options.update(kwargs)
    return Worker(database, settings, **options)


async def enqueue(database: Database, kind: str, n: int = 1) -> list[int]:
    async with database.write() as conn:
        return [await jobs.enqueue(conn, kind=kind, payload={"n": i}) for i in range(n)]


async def job_row(database: Database, job_id: int) -> Any:
    async with database.read() as conn:
        return (
            (await conn.execute(select(jobs_table).where(jobs_table.c.id == job_id)))
            .mappings()
            .one()
        )


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the condition lives in the database
            await asyncio.sleep(0.01)


async def test_three_workers_run_every_job_exactly_once(
    database: Database, settings: Settings, handlers: Handlers
) -> None:
    ids = await enqueue(database, "t_ok", 120)
    workers = [worker_for(database, settings, worker_id=f"w{i}", concurrency=5) for i in range(3)]

    counts = await asyncio.gather(*(w.run_until_idle() for w in workers))

    assert sum(counts) == 120
    assert handlers.runs == Counter(dict.fromkeys(ids, 1))
    assert handlers.overlaps == 0
    async with database.read() as conn:
        assert set((await conn.execute(select(jobs_table.c.status))).scalars()) == {"done"}


async def test_outcomes_map_to_queue_states(
    database: Database, settings: Settings, handlers: Handlers
) -> None:
    later_at = utcnow() + timedelta(minutes=5)
    [done_id, retry_id, giveup_id, later_id] = await enqueue(database, "t_ok", 4)
    outcomes: dict[int, Outcome] = {
        done_id: Done(),
        retry_id: Retry("vendor said no"),
        giveup_id: Retry("hopeless", retry=False),
        later_id: Later(later_at, {"polls": 1}),
    }
    handlers.outcome = lambda job: outcomes[job.id]
    [boom_id] = await enqueue(database, "t_boom")

    await worker_for(database, settings).run_until_idle()

    done, retry, giveup, later, boom = [
        await job_row(database, i) for i in (done_id, retry_id, giveup_id, later_id, boom_id)
    ]
    assert done["status"] == "done"
    assert (retry["status"], retry["last_error"]) == ("pending", "vendor said no")
    assert retry["run_at"] > utcnow()
    assert giveup["status"] == "failed"
    assert (later["status"], later["attempts"], later["payload"]) == ("pending", 0, {"polls": 1})
    assert later["run_at"] == later_at
    assert boom["status"] == "pending"
    assert "handler exploded" in boom["last_error"]


async def test_a_missing_handler_module_is_rescheduled_not_fatal(
    database: Database, settings: Settings, handlers: Handlers
) -> None:
    [missing] = await enqueue(database, "t_missing")
    [fine] = await enqueue(database, "t_ok")

    ran = await worker_for(database, settings).run_until_idle()

    assert ran == 2
    row = await job_row(database, missing)
    assert row["status"] == "pending"
    assert row["attempts"] == 0  # not counted: it must not die while the module is deployed
    assert row["run_at"] > utcnow() + timedelta(seconds=30)
    assert (await job_row(database, fine))["status"] == "done"


async def test_heartbeat_keeps_a_long_job_leased(
    database: Database, settings: Settings, handlers: Handlers
) -> None:
    [job_id] = await enqueue(database, "t_block")
    worker = worker_for(database, settings, lease=timedelta(seconds=0.6))
    task = asyncio.create_task(worker.run_forever())
    await asyncio.wait_for(handlers.started.wait(), 10)
    first = (await job_row(database, job_id))["locked_until"]

    async def extended() -> bool:
        return bool((await job_row(database, job_id))["locked_until"] > first)

    await eventually(extended)
    other = worker_for(database, settings, worker_id="thief")
    assert await other.run_until_idle() == 0  # the lease is alive: nobody else may take it

    handlers.release.set()
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert (await job_row(database, job_id))["status"] == "done"
    assert handlers.runs[job_id] == 1


async def test_a_lost_lease_cancels_the_handler_and_leaves_the_job_to_its_new_owner(
    database: Database, settings: Settings, handlers: Handlers
) -> None:
    [job_id] = await enqueue(database, "t_block")
    worker = worker_for(database, settings, worker_id="stalled", lease=timedelta(seconds=0.6))
    task = asyncio.create_task(worker.run_forever())
    await asyncio.wait_for(handlers.started.wait(), 10)
    async with database.write() as conn:  # as if the lease expired and "other" claimed it
        await conn.execute(
            update(jobs_table)
            .where(jobs_table.c.id == job_id)
            .values(locked_by="other", locked_until=utcnow() + timedelta(hours=1))
        )

    async def noticed() -> bool:
        return worker.stats["lost"] == 1

    await eventually(noticed)
    worker.stop()
    await asyncio.wait_for(task, 10)
    row = await job_row(database, job_id)
    assert (row["status"], row["locked_by"]) == ("running", "other")


async def test_stop_waits_for_running_jobs(
    database: Database, settings: Settings, handlers: Handlers
) -> None:
    [job_id] = await enqueue(database, "t_block")
    worker = worker_for(database, settings)
    task = asyncio.create_task(worker.run_forever())
    await asyncio.wait_for(handlers.started.wait(), 10)

    worker.stop()
    await asyncio.sleep(0)
    assert not task.done()  # still finishing the job
    handlers.release.set()
    await asyncio.wait_for(task, 10)

    assert (await job_row(database, job_id))["status"] == "done"


async def test_run_forever_picks_up_new_work_when_woken(
    database: Database, settings: Settings, handlers: Handlers
) -> None:
    worker = worker_for(database, settings, poll_interval=30.0)
    task = asyncio.create_task(worker.run_forever())
    await asyncio.sleep(0)
    ids = await enqueue(database, "t_ok", 5)
    worker.wake()

    async def all_done() -> bool:
        async with database.read() as conn:
            statuses = (
                (await conn.execute(select(jobs_table.c.status).where(jobs_table.c.id.in_(ids))))
                .scalars()
                .all()
            )
        return set(statuses) == {"done"}

    await eventually(all_done)
    worker.stop()
    await asyncio.wait_for(task, 10)


async def test_a_claim_takes_at_most_the_free_slots(database: Database) -> None:
    """Regression: on PostgreSQL, ``id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`` could be
    re-planned per row and lease every due job, not n of them."""
    await enqueue(database, "t_ok", 300)
    batches = [await jobs.claim(database, worker_id="w", kinds=["t_ok"], limit=6) for _ in range(3)]
    assert [len(b) for b in batches] == [6, 6, 6]
    async with database.read() as conn:
        running = (
            (await conn.execute(select(jobs_table.c.id).where(jobs_table.c.status == "running")))
            .scalars()
            .all()
        )
    assert len(running) == 18
