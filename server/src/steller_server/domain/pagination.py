"""Keyset pagination: ``?limit=&cursor=`` → ``{"data": [...], "nextCursor": …}``.

Lists are ordered newest first by ``(created_at, id)`` and every list table has an index ending in
those columns, so a page costs the same at any depth. The cursor is opaque to clients:
base64url of ``"<created_at ISO>|<id>"`` of the last row of the previous page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.domain.errors import InvalidCursor

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Page", "decode_cursor", "encode_cursor", "fetch_page"]

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    data: list[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = f"{created_at.astimezone(UTC).isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(created_at, id) from a cursor; :class:`InvalidCursor` when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
        stamp, row_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not valid") from None
    if created_at.tzinfo is None or not row_id:
        raise InvalidCursor("the cursor is not valid")
    return created_at, row_id


async def fetch_page(
    conn: AsyncConnection,
    query: Select[Any],
    *,
    created_col: Column[Any],
    id_col: Column[Any],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    build: Callable[[Any], T],
) -> Page[T]:
    """Run ``query`` (already filtered) as one keyset page, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    if cursor is not None:
        created, row_id = decode_cursor(cursor)
        query = query.where(
            or_(created_col < created, and_(created_col == created, id_col < row_id))
        )
    query = query.order_by(created_col.desc(), id_col.desc()).limit(limit + 1)
    rows: Sequence[Any] = (await conn.execute(query)).mappings().all()
    items = [build(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last[created_col.name], last[id_col.name])
    return Page(items, next_cursor)
