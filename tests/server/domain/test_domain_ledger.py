"""The ledger: guarded balance changes and an append-only table enforced by the database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from steller_server.db.engine import Database
from steller_server.db.tables import ledger_entries, wallets
from steller_server.domain import ledger
from steller_server.domain.errors import InsufficientFunds, InvalidState, NotFound


async def test_credit_debit_refund_adjust_keep_balance_equal_to_ledger(
    database: Database, factory: Any
) -> None:
    _, wallet = await factory.partner()
    async with database.write() as conn:
        credit = await ledger.credit(
            conn,
            wallet_id=wallet.id,
            amount_minor=10_000,
            description="top-up",
            actor="admin:usr_1",
        )
        debit = await ledger.debit(
            conn, wallet_id=wallet.id, amount_minor=2_500, description="order", actor="partner:p"
        )
        await ledger.refund(
            conn, wallet_id=wallet.id, amount_minor=500, description="refund", actor="system"
        )
        adjust = await ledger.adjust(
            conn,
            wallet_id=wallet.id,
            amount_minor=-1_000,
            description="correction",
            actor="admin:usr_1",
        )
    assert (credit.balance_before_minor, credit.balance_after_minor) == (0, 10_000)
    assert (debit.amount_minor, debit.balance_after_minor) == (-2_500, 7_500)
    assert (adjust.amount_minor, adjust.balance_after_minor) == (-1_000, 7_000)
    async with database.read() as conn:
        balance = await conn.scalar(
            select(wallets.c.balance_minor).where(wallets.c.id == wallet.id)
        )
        assert await ledger.ledger_sum(conn, wallet_id=wallet.id) == balance == 7_000


async def test_debit_beyond_balance_changes_nothing(database: Database, factory: Any) -> None:
    _, wallet = await factory.partner(balance="10.00")
    with pytest.raises(InsufficientFunds):
        async with database.write() as conn:
            await ledger.debit(
                conn,
                wallet_id=wallet.id,
                amount_minor=1_001,
                description="too much",
                actor="system",
            )
    with pytest.raises(InsufficientFunds):
        async with database.write() as conn:
            await ledger.adjust(
                conn,
                wallet_id=wallet.id,
                amount_minor=-1_001,
                description="too much",
                actor="system",
            )
    async with database.read() as conn:
        assert await ledger.ledger_sum(conn, wallet_id=wallet.id) == 1_000
    with pytest.raises(NotFound):
        async with database.write() as conn:
            await ledger.credit(
                conn, wallet_id="wal_missing", amount_minor=1, description="x", actor="system"
            )


async def test_entry_key_makes_a_second_posting_impossible(
    database: Database, factory: Any
) -> None:
    _, wallet = await factory.partner()
    async with database.write() as conn:
        await ledger.credit(
            conn,
            wallet_id=wallet.id,
            amount_minor=100,
            description="once",
            actor="system",
            entry_key="trial:x",
        )
    with pytest.raises(InvalidState):
        async with database.write() as conn:
            await ledger.credit(
                conn,
                wallet_id=wallet.id,
                amount_minor=100,
                description="twice",
                actor="system",
                entry_key="trial:x",
            )
    async with database.read() as conn:
        assert await ledger.ledger_sum(conn, wallet_id=wallet.id) == 100


async def test_ledger_rows_cannot_be_updated_or_deleted(database: Database, factory: Any) -> None:
    _, wallet = await factory.partner(balance="10.00")
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.write() as conn:
            await conn.execute(update(ledger_entries).values(amount_minor=1))
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.write() as conn:
            await conn.execute(delete(ledger_entries))
    async with database.read() as conn:
        assert await ledger.ledger_sum(conn, wallet_id=wallet.id) == 1_000


async def test_wallet_balance_can_never_go_negative_even_by_hand(
    database: Database, factory: Any
) -> None:
    _, wallet = await factory.partner()
    with pytest.raises(IntegrityError):
        async with database.write() as conn:
            await conn.execute(
                update(wallets).where(wallets.c.id == wallet.id).values(balance_minor=-1)
            )
