"""Keyset pages over orders and ledger entries; cursors are opaque and validated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from steller_server.db.engine import Database
from steller_server.domain import ledger, wallets
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidCursor
from steller_server.domain.pagination import decode_cursor, encode_cursor


async def test_pages_walk_every_entry_once_newest_first(database: Database, factory: Any) -> None:
    _, wallet = await factory.partner()
    start = utcnow()
    async with database.write() as conn:
        for i in range(7):
            # Two entries share each timestamp: the id breaks the tie.
            await ledger.credit(
                conn,
                wallet_id=wallet.id,
                amount_minor=100 + i,
                description=f"c{i}",
                actor="system",
                now=start + timedelta(seconds=i // 2),
            )
    seen: list[str] = []
    cursor = None
    async with database.read() as conn:
        while True:
            page = await wallets.list_transactions(
                conn, wallet_id=wallet.id, limit=3, cursor=cursor
            )
            seen.extend(entry.id for entry in page.data)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        filtered = await wallets.list_transactions(
            conn, wallet_id=wallet.id, created_from=start + timedelta(seconds=3)
        )
    assert len(seen) == len(set(seen)) == 7
    assert [e.description for e in filtered.data] == ["c6"]


def test_cursor_round_trip_and_garbage() -> None:
    now = utcnow()
    assert decode_cursor(encode_cursor(now, "ord_x")) == (now, "ord_x")
    for bad in ("", "!!!", "bm90LWEtY3Vyc29y", encode_cursor(now, "x")[:-3]):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)
