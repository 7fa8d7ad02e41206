"""The async engine and :class:`Database`, the one way code opens transactions.

SQLite (``sqlite+aiosqlite``) has one writer for the whole file. Rather than letting writer
connections fight in the busy handler, :meth:`Database.write` serialises write transactions in the
process with an :class:`asyncio.Lock` and opens them with ``BEGIN IMMEDIATE`` (so a write never
fails half-way on lock upgrade); reads run concurrently (WAL). On PostgreSQL
(``postgresql+psycopg``) there is no lock: row locks and guarded statements do the work.

    db = Database.from_settings(settings)
    async with db.write() as conn:        # one transaction; commits on exit, rolls back on error
        await ledger.credit(conn, ...)
    async with db.read() as conn:
        ...
    await db.dispose()
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from steller_server.settings import Settings, normalise_database_url

__all__ = ["Database", "create_engine"]

SQLITE_BUSY_TIMEOUT_MS = 10_000
_WRITE_OPTION = "steller_write"


def create_engine(
    settings: Settings, *, pool_size: int = 10, max_overflow: int = 20
) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``settings.database_url`` with the pragmas/pool we rely on."""
    url = normalise_database_url(settings.database_url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql+psycopg"):
        # Keep every connection the pool opens, up to the same ceiling (pool_size +
        # max_overflow). QueuePool closes an "overflow" connection as soon as it is returned, so
        # a process whose concurrency sat above pool_size opened and closed a PostgreSQL
        # connection (a backend fork, authentication, psycopg's prepared statements lost) on
        # almost every request: bench/orders.py measured +32-68 % orders/s without that churn.
        # Pre-ping and pool_recycle still retire dead and old connections.
        if max_overflow >= 0:
            pool_size, max_overflow = pool_size + max_overflow, 0
        return create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
        )
    raise ValueError(f"unsupported database URL scheme: {url.split('://')[0]}")


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module so we can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """An engine plus the transaction discipline of its dialect. Create one per process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        self.is_postgres = self.dialect == "postgresql"
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @classmethod
    def from_settings(cls, settings: Settings, **engine_kwargs: int) -> Database:
        return cls(create_engine(settings, **engine_kwargs))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block exits, rolled back if it raises."""
        if self._write_lock is None:
            async with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            await conn.execution_options(**{_WRITE_OPTION: True})
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot); never takes the write lock."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    async def ping(self) -> bool:
        """True when a trivial query succeeds (readiness checks)."""
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
