"""keys.AuthCache: TTL, generations (no stale re-insert), touch bookkeeping, and invalidation on
writes to api_keys/partners through the watched engine (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from steller_server.db.engine import Database
from steller_server.db.tables import partners
from steller_server.domain import keys
from steller_server.domain.crypto import hash_api_key
from steller_server.settings import Settings


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _issue(database: Database, factory: Any, settings: Settings) -> tuple[str, str]:
    partner, _ = await factory.partner()
    async with database.write() as conn:
        created = await keys.create_key(
            conn,
            partner_id=partner.id,
            environment=partner.environment,
            role="developer",
            secret_key=settings.effective_secret_key,
        )
    return created.raw, hash_api_key(created.raw, settings.effective_secret_key)


async def test_lookup_returns_key_and_partner_in_one_statement(
    database: Database, factory: Any, settings: Settings
) -> None:
    raw, key_hash = await _issue(database, factory, settings)
    async with database.statement() as conn:
        found = await keys.lookup(conn, key_hash=key_hash)
        missing = await keys.lookup(conn, key_hash="0" * 64)
    assert found is not None
    assert missing is None
    assert found.key.partner_id == found.partner.id
    assert raw.startswith(found.key.prefix)
    assert raw.endswith(found.key.last4)


async def test_entries_live_for_the_ttl_only(
    database: Database, factory: Any, settings: Settings
) -> None:
    _, key_hash = await _issue(database, factory, settings)
    clock = FakeMonotonic()
    cache = keys.AuthCache(ttl=5.0, monotonic=clock)
    async with database.statement() as conn:
        found = await keys.lookup(conn, key_hash=key_hash)
    assert found is not None

    cache.put(key_hash, found, generation=cache.generation)
    clock.now += 4.9
    assert cache.get(key_hash) is found
    clock.now += 0.1
    assert cache.get(key_hash) is None


async def test_a_lookup_older_than_an_invalidation_is_not_stored(
    database: Database, factory: Any, settings: Settings
) -> None:
    _, key_hash = await _issue(database, factory, settings)
    cache = keys.AuthCache()
    async with database.statement() as conn:
        found = await keys.lookup(conn, key_hash=key_hash)
    assert found is not None

    generation = cache.generation
    cache.invalidate()  # e.g. a revocation committed while the lookup was in flight
    cache.put(key_hash, found, generation=generation)
    assert cache.get(key_hash) is None


async def test_touched_updates_the_cached_last_use(
    database: Database, factory: Any, settings: Settings
) -> None:
    _, key_hash = await _issue(database, factory, settings)
    cache = keys.AuthCache()
    async with database.statement() as conn:
        found = await keys.lookup(conn, key_hash=key_hash)
    assert found is not None
    assert found.key.last_used_at is None
    cache.put(key_hash, found, generation=cache.generation)

    when = found.key.created_at
    cache.touched(key_hash, when)
    cached = cache.get(key_hash)
    assert cached is not None
    assert cached.key.last_used_at == when
    assert cached.partner is found.partner


async def test_writes_to_partners_or_keys_invalidate_but_a_touch_does_not(
    database: Database, factory: Any, settings: Settings
) -> None:
    raw, key_hash = await _issue(database, factory, settings)
    cache = keys.AuthCache()
    cache.watch(database.engine.sync_engine)

    async def cached_again() -> bool:
        async with database.statement() as conn:
            found = await keys.lookup(conn, key_hash=key_hash)
        assert found is not None
        cache.put(key_hash, found, generation=cache.generation)
        return cache.get(key_hash) is not None

    assert await cached_again()
    cached = cache.get(key_hash)
    assert cached is not None
    async with database.write() as conn:
        assert await keys.touch_key(conn, key_id=cached.key.id)
    assert cache.get(key_hash) is not None

    generation = cache.generation
    async with database.write() as conn:
        await conn.execute(update(partners).values(rate_limit_default=7))
    assert cache.get(key_hash) is None
    assert cache.generation >= generation + 2  # at the statement and again at COMMIT

    assert await cached_again()
    found = await keys.authenticate_cached(
        database,
        cache,
        raw_key=raw,
        secret_key=settings.effective_secret_key,
        now=cached.key.created_at,
    )
    assert found is not None
    async with database.write() as conn:
        await keys.revoke_all(conn, partner_id=found[0].partner.id)
    assert cache.get(key_hash) is None


async def test_a_full_cache_starts_over(
    database: Database, factory: Any, settings: Settings
) -> None:
    _, key_hash = await _issue(database, factory, settings)
    cache = keys.AuthCache(max_entries=2)
    async with database.statement() as conn:
        found = await keys.lookup(conn, key_hash=key_hash)
    assert found is not None
    for name in ("a", "b", "c"):
        cache.put(name, found, generation=cache.generation)
    assert cache.get("a") is None
    assert cache.get("c") is found
