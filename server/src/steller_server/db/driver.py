"""Hot statements executed on psycopg's own connection (PostgreSQL only).

SQLAlchemy's per-execution machinery (execution context, parameter construction, result
metadata from ``cursor.description``, events, greenlet hops) costs more CPU than psycopg's own
work and the round trip together: the order's pricing read, on a pooled autocommit connection,
takes 431 µs of CPU through ``AsyncConnection.execute`` and 295 µs this way, of which 83 µs are
the pool checkout both pay (``bench/statements.py``, docs/benchmarks.md). An order is two
statements; they run here.

A :class:`DriverStatement` is a Core statement compiled ONCE by SQLAlchemy for the connection's
dialect — the same SQL text, the same bind and result type processing (``UTCDateTime``,
``DecimalType``, JSON) — and executed with a prepared psycopg cursor on the DBAPI connection that
SQLAlchemy checked out. Pooling, transactions and the autocommit mode of
:meth:`Database.statement` stay SQLAlchemy's: the statement simply joins whatever the connection
is in.

What bypassing the execution layer gives up, and how that is covered:

* psycopg's errors are re-raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``…,
  built by ``DBAPIError.instance`` as SQLAlchemy itself does), so callers handle them unchanged;
  a disconnect invalidates the connection and the pool, as SQLAlchemy does, and is raised with
  ``connection_invalidated`` set (the API answers 503);
* SQLAlchemy events do not see these statements, so no :class:`WatchedCache` may watch a table
  they write: :func:`check_unwatched` says so for a statement and a cache's tables (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import psycopg
from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["DriverStatement", "check_unwatched", "psycopg_connection"]

_Processor = Callable[[Any], Any]


class DriverStatement:
    """``statement`` compiled once for ``dialect`` (PostgreSQL + psycopg); see the module. It
    must return rows (a ``SELECT``, or DML with ``RETURNING``)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        if dialect.driver != "psycopg":
            raise ValueError(f"DriverStatement needs psycopg, not {dialect.driver}")
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):  # pragma: no cover - DDL is not run here
            raise TypeError("DriverStatement runs SQL statements only")
        self.sql = str(compiled)
        self._dialect = dialect
        self._compiled = compiled
        self._binds: dict[str, _Processor] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._binds[name] = processor
        # (key, type) per result column, in row order; the processors need the column's type
        # code from the first result's description, so they are built then.
        selected = getattr(statement, "selected_columns", None) or ()
        self._columns = [(column.key, column.type) for column in selected]
        self._keys = tuple(key for key, _ in self._columns)
        self._results: list[_Processor | None] | None = None

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` plus the statement's literal binds, through the bind processors."""
        params = dict(self._compiled.construct_params(dict(values)))
        for name, processor in self._binds.items():
            params[name] = processor(params[name])
        return params

    async def first(
        self, conn: AsyncConnection, values: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Run on ``conn``'s DBAPI connection; the first row by column key, or None."""
        params = self.parameters(values)
        fairy = _fairy(conn)
        cursor = psycopg_connection(conn).cursor()
        try:
            await cursor.execute(self.sql, params, prepare=True)
            row = await cursor.fetchone()
            processors = self._results
            if processors is None:
                processors = self._results = self._result_processors(cursor)
        except psycopg.Error as exc:
            raise await self._translate(conn, fairy, cursor, params, exc) from exc
        finally:
            await cursor.close()
        if row is None:
            return None
        return {
            key: value if processor is None else processor(value)
            for key, processor, value in zip(self._keys, processors, row, strict=True)
        }

    def _result_processors(self, cursor: psycopg.AsyncCursor[Any]) -> list[_Processor | None]:
        description = cursor.description or []
        return [
            type_.dialect_impl(self._dialect).result_processor(self._dialect, column.type_code)
            for (_key, type_), column in zip(self._columns, description, strict=True)
        ]

    async def _translate(
        self,
        conn: AsyncConnection,
        fairy: Any,
        cursor: Any,
        params: dict[str, Any],
        exc: psycopg.Error,
    ) -> BaseException:
        invalidated = self._dialect.is_disconnect(
            exc,  # type: ignore[arg-type]  # psycopg's own error, as SQLAlchemy passes it
            fairy.dbapi_connection,
            cursor,
        )
        if invalidated:
            # As SQLAlchemy does on a disconnect: drop this connection, and let the pool
            # replace the others (they were opened before the server went away).
            await conn.invalidate(exc)
            await conn.engine.dispose(close=False)
        return DBAPIError.instance(
            self.sql,
            params,
            exc,
            psycopg.Error,
            connection_invalidated=invalidated,
            dialect=self._dialect,
        )


def _fairy(conn: AsyncConnection) -> Any:
    fairy = conn.sync_connection.connection if conn.sync_connection else None
    if fairy is None:  # pragma: no cover - a connected AsyncConnection has one
        raise RuntimeError("connection is closed")
    return fairy


def psycopg_connection(conn: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under ``conn`` (checked out, in ``conn``'s transaction state)."""
    driver: psycopg.AsyncConnection[Any] = _fairy(conn).driver_connection
    return driver


def check_unwatched(statement: DriverStatement, tables: Collection[str]) -> list[str]:
    """The ``tables`` (a :class:`WatchedCache`'s) that ``statement`` names: none is allowed,
    since a write run here is not seen by the cache's SQLAlchemy event hook."""
    return [table for table in tables if table in statement.sql]
