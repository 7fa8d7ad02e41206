"""The Idempotency-Key store: one winner under concurrency, replays, mismatches, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from steller_server.db.engine import Database
from steller_server.domain import idempotency
from steller_server.domain.clock import utcnow
from steller_server.domain.idempotency import InProgress, Mismatch, New, Replay

SCOPE = "partner:ptn_1:POST /api/orders"


async def test_first_request_owns_the_key_and_the_replay_gets_the_stored_response(
    database: Database,
) -> None:
    assert await idempotency.begin(database, scope=SCOPE, key="k1", request_hash="h") == New()
    assert isinstance(
        await idempotency.begin(database, scope=SCOPE, key="k1", request_hash="h"), InProgress
    )
    await idempotency.complete(
        database,
        scope=SCOPE,
        key="k1",
        status=202,
        headers={"content-type": "application/json"},
        body=b'{"id":1}',
    )

    replay = await idempotency.begin(database, scope=SCOPE, key="k1", request_hash="h")
    assert replay == Replay(
        status=202, headers={"content-type": "application/json"}, body=b'{"id":1}'
    )
    assert isinstance(
        await idempotency.begin(database, scope=SCOPE, key="k1", request_hash="other"), Mismatch
    )
    # Same key in another scope is another key.
    assert (
        await idempotency.begin(
            database, scope="partner:ptn_2:POST /api/orders", key="k1", request_hash="h"
        )
        == New()
    )


async def test_fifty_concurrent_first_requests_yield_exactly_one_new(database: Database) -> None:
    results = await asyncio.gather(
        *[idempotency.begin(database, scope=SCOPE, key="race", request_hash="h") for _ in range(50)]
    )
    assert sum(isinstance(r, New) for r in results) == 1
    assert sum(isinstance(r, InProgress) for r in results) == 49


async def test_abandon_releases_the_key_for_a_retry(database: Database) -> None:
    assert isinstance(
        await idempotency.begin(database, scope=SCOPE, key="k", request_hash="h"), New
    )
    await idempotency.abandon(database, scope=SCOPE, key="k")
    assert isinstance(
        await idempotency.begin(database, scope=SCOPE, key="k", request_hash="h"), New
    )


async def test_stale_in_progress_lease_is_taken_over(database: Database) -> None:
    start = utcnow()
    lease = timedelta(minutes=5)
    await idempotency.begin(
        database, scope=SCOPE, key="k", request_hash="h", now=start, lease=lease
    )
    assert isinstance(
        await idempotency.begin(
            database, scope=SCOPE, key="k", request_hash="h", now=start + timedelta(minutes=4)
        ),
        InProgress,
    )
    assert isinstance(
        await idempotency.begin(
            database, scope=SCOPE, key="k", request_hash="h", now=start + timedelta(minutes=6)
        ),
        New,
    )


async def test_records_expire_after_retention(database: Database) -> None:
    start = utcnow()
    await idempotency.begin(database, scope=SCOPE, key="k", request_hash="h", now=start)
    await idempotency.complete(database, scope=SCOPE, key="k", status=201, headers={}, body=b"")
    later = start + timedelta(hours=23)
    assert isinstance(
        await idempotency.begin(database, scope=SCOPE, key="k", request_hash="x", now=later),
        Mismatch,
    )
    expired = start + timedelta(hours=24, seconds=1)
    assert isinstance(
        await idempotency.begin(database, scope=SCOPE, key="k", request_hash="x", now=expired), New
    )
    assert await idempotency.purge_expired(database, now=expired + timedelta(days=2)) == 1
