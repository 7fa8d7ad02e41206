"""The job queue: exclusive claims, lease expiry, retries."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import jobs
from steller_server.domain.clock import utcnow


async def _enqueue(database: Database, n: int, **kwargs: object) -> list[int]:
    async with database.write() as conn:
        return [
            await jobs.enqueue(conn, kind="test", payload={"n": i}, **kwargs)  # type: ignore[arg-type]
            for i in range(n)
        ]


async def test_three_concurrent_claimers_never_take_the_same_job(database: Database) -> None:
    await _enqueue(database, 300)

    async def worker(name: str) -> list[int]:
        taken: list[int] = []
        while batch := await jobs.claim(database, worker_id=name, limit=7):
            taken.extend(job.id for job in batch)
            async with database.write() as conn:
                for job in batch:
                    assert await jobs.complete(conn, job_id=job.id, worker_id=name)
        return taken

    results = await asyncio.gather(*[worker(f"w{i}") for i in range(3)])
    claimed = [job_id for result in results for job_id in result]
    assert len(claimed) == 300
    assert len(set(claimed)) == 300
    async with database.read() as conn:
        statuses = set((await conn.execute(select(jobs_table.c.status))).scalars())
    assert statuses == {"done"}


async def test_expired_lease_is_reclaimed_and_the_old_worker_loses_it(database: Database) -> None:
    start = utcnow()
    [job_id] = await _enqueue(database, 1, now=start)
    lease = timedelta(seconds=60)

    [first] = await jobs.claim(database, worker_id="dead", lease=lease, now=start)
    assert await jobs.claim(database, worker_id="other", now=start + timedelta(seconds=30)) == []
    [again] = await jobs.claim(
        database, worker_id="other", lease=lease, now=start + timedelta(seconds=61)
    )

    assert (first.id, again.id) == (job_id, job_id)
    assert again.attempts == 2
    async with database.write() as conn:
        assert not await jobs.complete(conn, job_id=job_id, worker_id="dead")
        assert await jobs.complete(conn, job_id=job_id, worker_id="other")


async def test_failures_back_off_then_give_up(database: Database) -> None:
    start = utcnow()
    await _enqueue(database, 1, now=start, max_attempts=2)

    [job] = await jobs.claim(database, worker_id="w", now=start)
    async with database.write() as conn:
        assert (
            await jobs.fail(conn, job_id=job.id, worker_id="w", error="boom", now=start)
            == "pending"
        )
    assert await jobs.claim(database, worker_id="w", now=start + timedelta(seconds=4)) == []
    [job] = await jobs.claim(database, worker_id="w", now=start + timedelta(seconds=5))
    async with database.write() as conn:
        assert (
            await jobs.fail(conn, job_id=job.id, worker_id="w", error="boom again", now=start)
            == "failed"
        )
    assert await jobs.claim(database, worker_id="w", now=start + timedelta(days=1)) == []


async def test_reschedule_is_not_counted_as_an_attempt(database: Database) -> None:
    start = utcnow()
    await _enqueue(database, 1, now=start)
    [job] = await jobs.claim(database, worker_id="w", now=start)
    async with database.write() as conn:
        assert await jobs.reschedule(
            conn,
            job_id=job.id,
            worker_id="w",
            run_at=start + timedelta(seconds=10),
            payload={"n": 0, "polls": 1},
        )
    [job] = await jobs.claim(database, worker_id="w", now=start + timedelta(seconds=10))
    assert job.attempts == 1
    assert job.payload == {"n": 0, "polls": 1}


def test_backoff_grows_and_is_capped() -> None:
    assert [jobs.backoff_delay(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert jobs.backoff_delay(50) == jobs.BACKOFF_CAP
