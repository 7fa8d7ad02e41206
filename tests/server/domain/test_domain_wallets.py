"""Wallet views (spend projection) and admin credits/debits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import events
from steller_server.domain import ledger, wallets
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InsufficientFunds


async def test_average_daily_spend_and_run_out_date(database: Database, factory: Any) -> None:
    partner, wallet = await factory.partner(balance="1000.00")
    now = utcnow()
    async with database.write() as conn:
        await ledger.debit(
            conn,
            wallet_id=wallet.id,
            amount_minor=30_000,
            description="old",
            actor="system",
            now=now - timedelta(days=40),
        )
        await ledger.debit(
            conn,
            wallet_id=wallet.id,
            amount_minor=9_000,
            description="recent",
            actor="system",
            now=now - timedelta(days=3),
        )
        await ledger.refund(
            conn,
            wallet_id=wallet.id,
            amount_minor=3_000,
            description="r",
            actor="system",
            now=now - timedelta(days=2),
        )
    async with database.read() as conn:
        view = await wallets.wallet_view(conn, partner_id=partner.id, now=now)
    # 60.00 net spend in 30 days -> 2.00 per day; 640.00 left -> 320 days.
    assert view.wallet.balance_minor == 64_000
    assert view.average_daily_spend_minor == 200
    assert view.projected_run_out_date == now.date() + timedelta(days=320)
    public = view.public()
    assert (public["balance"], public["averageDailySpend"]) == ("640.00", "2.00")


async def test_no_spend_means_no_projection(database: Database, factory: Any) -> None:
    partner, _ = await factory.partner(balance="10.00")
    async with database.read() as conn:
        view = await wallets.wallet_view(conn, partner_id=partner.id)
    assert (view.average_daily_spend_minor, view.projected_run_out_date) == (0, None)


async def test_admin_credit_emits_wallet_credited_and_debit_is_guarded(
    database: Database, factory: Any
) -> None:
    partner, _ = await factory.partner()
    entry, wallet = await wallets.admin_credit(
        database, partner_id=partner.id, amount_minor=50_000, reason="wire 123", actor="admin:usr_1"
    )
    assert (entry.type, wallet.balance_minor) == ("credit", 50_000)
    with pytest.raises(InsufficientFunds):
        await wallets.admin_debit(
            database,
            partner_id=partner.id,
            amount_minor=50_001,
            reason="too much",
            actor="admin:usr_1",
        )
    entry, wallet = await wallets.admin_debit(
        database, partner_id=partner.id, amount_minor=1_000, reason="fee", actor="admin:usr_1"
    )
    assert (entry.type, entry.amount_minor, wallet.balance_minor) == ("adjustment", -1_000, 49_000)
    async with database.read() as conn:
        credited = (
            (await conn.execute(select(events.c.payload).where(events.c.type == "wallet.credited")))
            .scalars()
            .all()
        )
    assert credited == [
        {
            "walletId": wallet.id,
            "ledgerEntryId": credited[0]["ledgerEntryId"],
            "amount": "500.00",
            "currency": "USD",
            "balance": "500.00",
            "description": "wire 123",
        }
    ]
