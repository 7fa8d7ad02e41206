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
    async with db.statement() as conn:    # ONE read statement, no BEGIN/COMMIT (PostgreSQL)
        ...
    await db.dispose()
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from steller_server.settings import Settings, normalise_database_url

__all__ = ["NEUTRAL_WRITE", "Database", "WatchedCache", "create_engine"]

SQLITE_BUSY_TIMEOUT_MS = 10_000
#: A PostgreSQL connection idle in the pool for longer than this is pinged before use.
PING_IDLE_AFTER_SECONDS = 2.0
_IDLE_SINCE = "steller_idle_since"
_WRITE_OPTION = "steller_write"


#: Execution option marking a write that no :class:`WatchedCache` needs to see (e.g. a key's
#: ``last_used_at``): ``stmt.execution_options(**{NEUTRAL_WRITE: True})``.
NEUTRAL_WRITE = "steller_cache_neutral"
K = TypeVar("K")
V = TypeVar("V")
C = TypeVar("C", bound="WatchedCache[Any, Any]")
_WRITE_VERBS = ("UPDATE", "DELETE", "INSERT", "WITH", "TRUNCA", "ALTER ", "DROP T")


class WatchedCache(Generic[K, V]):
    """A per-process memo whose entries live ``ttl`` seconds (monotonic clock) and which empties
    itself when this process writes any of ``tables`` through a watched engine.

    Staleness bound: a write by THIS process empties the cache when the statement runs and again
    when its transaction ends (so a read that saw the old row before the COMMIT cannot linger),
    and a value looked up before an invalidation is not stored (:attr:`generation`): the change
    applies to the next request. A write by ANOTHER process (another ``serve`` worker, a worker
    process, the CLI) is seen at most ``ttl`` seconds later. Table detection is by name in
    non-``SELECT`` statements, erring towards invalidating too often.
    """

    def __init__(
        self,
        tables: Collection[str],
        *,
        ttl: float,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tables = tuple(tables)
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[K, tuple[float, V]] = {}
        self._dirty = f"steller_cache_dirty_{id(self)}"
        self.generation = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._monotonic() >= entry[0]:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, *, generation: int) -> None:
        """Store ``value`` unless the cache was invalidated since ``generation`` was read."""
        if generation != self.generation or self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (self._monotonic() + self.ttl, value)

    def replace(self, key: K, value: V) -> None:
        """Change a live entry's value, keeping its expiry (no-op when absent)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], value)

    def invalidate(self) -> None:
        self._entries.clear()
        self.generation += 1

    def watch(self, engine: Engine) -> None:
        """Invalidate on every write naming one of :attr:`tables` through ``engine``."""

        def on_execute(
            conn: Connection,
            _cursor: Any,
            statement: str,
            _parameters: Any,
            context: Any,
            _executemany: bool,
        ) -> None:
            if not self._names_a_table(statement):
                return
            if context is not None and context.execution_options.get(NEUTRAL_WRITE):
                return
            conn.info[self._dirty] = True
            self.invalidate()

        def on_end(conn: Connection) -> None:
            # An invalidated connection (the database dropped it) refuses ``.info`` with
            # PendingRollbackError, masking the disconnect; whether its writes committed is
            # unknown, so forget everything.
            if conn.invalidated:
                self.invalidate()
                return
            if conn.info.pop(self._dirty, False):
                self.invalidate()

        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_end)
        event.listen(engine, "rollback", on_end)

    def _names_a_table(self, statement: str) -> bool:
        if statement.lstrip()[:6].upper() not in _WRITE_VERBS:
            return False
        return any(table in statement for table in self.tables)


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
        # The idle ping (_ping_when_idle) and pool_recycle still retire dead and old connections.
        if max_overflow >= 0:
            pool_size, max_overflow = pool_size + max_overflow, 0
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
        )
        _ping_when_idle(engine)
        return engine
    raise ValueError(f"unsupported database URL scheme: {url.split('://')[0]}")


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it sat idle for
    :data:`PING_IDLE_AFTER_SECONDS`, instead of ``pool_pre_ping`` on every checkout.

    Pre-ping is a round trip per transaction (1 of ~8 for an order, 1 of 3 for a catalog page);
    a connection returned a moment ago is as alive as a ping would show. A connection that
    fails its ping is replaced (``DisconnectionError`` makes the pool reconnect). What this
    gives up: a connection used within the last seconds before the server went away is not
    pinged, so its next statement fails; SQLAlchemy then recognises the disconnect and
    invalidates the whole pool, so that costs one failed request per process, not one per
    connection.
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_AFTER_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: do not hand this connection out
            raise DisconnectionError("pooled connection failed its ping") from exc


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
        # Same pool; each checkout switches the connection to autocommit (a client-side flag in
        # psycopg, no round trip) and the pool switches it back on return.
        self._autocommit = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.is_postgres else None
        )
        self._caches: dict[str, WatchedCache[Any, Any]] = {}

    def cache(self, name: str, make: Callable[[], C]) -> C:
        """This database's :class:`WatchedCache` called ``name``, made by ``make()`` and wired to
        the engine on first use: one per database object, so per process and per app."""
        cache = self._caches.get(name)
        if cache is None:
            cache = self._caches[name] = make()
            cache.watch(self.engine.sync_engine)
        return cache  # type: ignore[return-value]

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

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for ONE read statement, without a transaction of its own.

        On PostgreSQL the connection is in autocommit, which saves the ``BEGIN`` and ``COMMIT``
        round trips of :meth:`read` (a single statement sees a consistent snapshot anyway). Do
        not run two statements that must agree with each other here: use :meth:`read`. On
        SQLite this is :meth:`read`.
        """
        if self._autocommit is None:
            async with self.read() as conn:
                yield conn
            return
        async with self._autocommit.connect() as conn:
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
