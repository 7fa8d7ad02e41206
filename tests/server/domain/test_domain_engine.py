"""The Database wrapper: SQLite pragmas, BEGIN IMMEDIATE writes, serialised writers."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from steller_server.db import engine as engine_module
from steller_server.db.engine import Database
from steller_server.settings import Settings, normalise_database_url


async def test_sqlite_connections_use_wal_foreign_keys_and_full_sync(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite only")
    async with database.read() as conn:
        pragmas = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,
        "busy_timeout": 10_000,
    }


async def test_sqlite_write_takes_the_write_lock_at_begin(
    database: Database, settings: Settings
) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite only")
    path = make_url(settings.database_url).database
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with database.write():
            # No statement ran yet, but BEGIN IMMEDIATE already holds the RESERVED lock.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            async with database.read() as reader:  # WAL: readers are not blocked
                assert (await reader.exec_driver_sql("SELECT 1")).scalar() == 1
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_write_blocks_run_one_at_a_time_on_sqlite(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite only")
    inside = 0
    peak = 0

    async def writer() -> None:
        nonlocal inside, peak
        async with database.write() as conn:
            inside += 1
            peak = max(peak, inside)
            await conn.exec_driver_sql("SELECT 1")
            await asyncio.sleep(0)  # yield to the others while holding the transaction
            inside -= 1

    await asyncio.gather(*[writer() for _ in range(10)])
    assert peak == 1


async def test_ping(database: Database) -> None:
    assert await database.ping()
    assert database.dialect in ("sqlite", "postgresql")


async def test_statement_runs_outside_a_transaction_on_postgres(database: Database) -> None:
    async with database.statement() as conn:
        value = await conn.scalar(text("SELECT 1"))
        if database.is_postgres:
            # No BEGIN was sent: the server sees no transaction block.
            in_block = await conn.scalar(text("SELECT now() = statement_timestamp()"))
            assert in_block is True
    assert value == 1


async def test_an_idle_connection_that_died_is_replaced_before_use(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database.is_postgres:
        pytest.skip("PostgreSQL only")
    import psycopg

    await database.engine.dispose()  # a pool holding exactly the one connection below
    async with database.read() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    url = make_url(normalise_database_url(settings.database_url)).set(drivername="postgresql")
    async with await psycopg.AsyncConnection.connect(
        url.render_as_string(hide_password=False), autocommit=True
    ) as other:
        await other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(engine_module, "PING_IDLE_AFTER_SECONDS", 0.0)

    async with database.read() as conn:
        assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
