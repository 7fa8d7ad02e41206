"""SQL expressions that differ by dialect but must be *the same* in an index and in the queries
that use it (PostgreSQL only uses an expression index when the query repeats the expression).

``utc_day(column)`` — the UTC calendar day of a :class:`~steller_server.db.types.UTCDateTime`:

- PostgreSQL: ``CAST(timezone('UTC', col) AS DATE)`` (a ``date``);
- SQLite: ``substr(col, 1, 10)`` (``'YYYY-MM-DD'`` text; the column holds naive UTC text).

Used by ``ix_orders_partner_usage`` (migration 0002) and the usage report, whose index-only scan
then reads the day from the index instead of computing it per row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

__all__ = ["UTC_DAY_SQL", "utc_day"]

#: The index expression as DDL text, per dialect, for migrations (column ``created_at``).
UTC_DAY_SQL = {
    "postgresql": "(CAST(timezone('UTC', created_at) AS DATE))",
    "sqlite": "(substr(created_at, 1, 10))",
}


class utc_day(FunctionElement[Any]):
    """The UTC day of a timestamp column (see the module docstring)."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"
