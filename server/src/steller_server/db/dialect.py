"""Small portable helpers over dialect differences (both SQLite and PostgreSQL support these)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert_ignore", "upsert"]


def insert_ignore(conn: AsyncConnection, table: Table, index_elements: Sequence[str]) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` for the connection's dialect.

    On PostgreSQL a conflicting *uncommitted* insert makes this wait for that transaction, then do
    nothing (if it committed) or insert (if it rolled back): a race-free "insert unless exists".
    """
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=list(index_elements))


def upsert(
    conn: AsyncConnection,
    table: Table,
    index_elements: Sequence[str],
    update_values: dict[str, Any],
) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO UPDATE SET update_values``."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_update(
        index_elements=list(index_elements), set_=update_values
    )
