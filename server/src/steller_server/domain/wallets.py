"""Wallet reads and the money movements admins make (credit / debit with audit and events).

Spend figures: ``average_daily_spend`` is the net order spend (debits minus refunds) of the last
30 days divided by 30, rounded half-up to minor units; ``projected_run_out_date`` is today plus
``balance // average`` days (None when nothing was spent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import ledger_entries, partners, wallets
from steller_server.domain import audit, events, ledger, money
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import NotFound
from steller_server.domain.models import LedgerEntry, Wallet
from steller_server.domain.pagination import DEFAULT_LIMIT, Page, fetch_page
from steller_server.domain.serialize import ledger_entry_public

__all__ = [
    "SPEND_WINDOW_DAYS",
    "WalletView",
    "admin_credit",
    "admin_debit",
    "get_wallet",
    "list_transactions",
    "note_balance_change",
    "spend_stats",
    "wallet_view",
]

SPEND_WINDOW_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class WalletView:
    """The ``Wallet`` schema's data: the row plus threshold and spend projection."""

    wallet: Wallet
    low_balance_threshold_minor: int
    average_daily_spend_minor: int
    projected_run_out_date: date | None

    def public(self) -> dict[str, Any]:
        cur = self.wallet.currency
        return {
            "id": self.wallet.id,
            "partnerId": self.wallet.partner_id,
            "currency": cur,
            "balance": money.format_amount(self.wallet.balance_minor, cur),
            "lowBalanceThreshold": money.format_amount(self.low_balance_threshold_minor, cur),
            "averageDailySpend": money.format_amount(self.average_daily_spend_minor, cur),
            "projectedRunOutDate": (
                self.projected_run_out_date.isoformat() if self.projected_run_out_date else None
            ),
            "updatedAt": self.wallet.updated_at.isoformat().replace("+00:00", "Z"),
        }


async def get_wallet(
    conn: AsyncConnection, *, partner_id: str | None = None, wallet_id: str | None = None
) -> Wallet:
    """The wallet of ``partner_id`` (or by ``wallet_id``); :class:`NotFound` otherwise."""
    query = select(wallets)
    if partner_id is not None:
        query = query.where(wallets.c.partner_id == partner_id)
    if wallet_id is not None:
        query = query.where(wallets.c.id == wallet_id)
    if partner_id is None and wallet_id is None:
        raise ValueError("give partner_id or wallet_id")
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound("wallet not found")
    return Wallet.from_row(row)


async def list_transactions(
    conn: AsyncConnection,
    *,
    wallet_id: str,
    entry_type: str | None = None,
    order_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[LedgerEntry]:
    """Ledger entries of a wallet, newest first (``GET /api/wallet/transactions``)."""
    query = select(ledger_entries).where(ledger_entries.c.wallet_id == wallet_id)
    if entry_type is not None:
        query = query.where(ledger_entries.c.type == entry_type)
    if order_id is not None:
        query = query.where(ledger_entries.c.order_id == order_id)
    if created_from is not None:
        query = query.where(ledger_entries.c.created_at >= created_from)
    if created_to is not None:
        query = query.where(ledger_entries.c.created_at < created_to)
    return await fetch_page(
        conn,
        query,
        created_col=ledger_entries.c.created_at,
        id_col=ledger_entries.c.id,
        limit=limit,
        cursor=cursor,
        build=LedgerEntry.from_row,
    )


async def spend_stats(
    conn: AsyncConnection, *, wallet_id: str, balance_minor: int, now: datetime
) -> tuple[int, date | None]:
    """(average daily spend in minor units over 30 days, projected run-out date or None)."""
    since = now - timedelta(days=SPEND_WINDOW_DAYS)
    net = await conn.scalar(
        select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0)).where(
            ledger_entries.c.wallet_id == wallet_id,
            ledger_entries.c.created_at >= since,
            ledger_entries.c.type.in_(("debit", "refund")),
        )
    )
    spent = max(-int(net or 0), 0)
    average = money.round_minor(Decimal(spent) / SPEND_WINDOW_DAYS)
    if average <= 0:
        return 0, None
    return average, now.date() + timedelta(days=balance_minor // average)


async def wallet_view(
    conn: AsyncConnection, *, partner_id: str, now: datetime | None = None
) -> WalletView:
    now = now or utcnow()
    wallet = await get_wallet(conn, partner_id=partner_id)
    threshold = await conn.scalar(
        select(partners.c.low_balance_threshold_minor).where(partners.c.id == partner_id)
    )
    average, run_out = await spend_stats(
        conn, wallet_id=wallet.id, balance_minor=wallet.balance_minor, now=now
    )
    return WalletView(
        wallet=wallet,
        low_balance_threshold_minor=int(threshold or 0),
        average_daily_spend_minor=average,
        projected_run_out_date=run_out,
    )


async def note_balance_change(
    conn: AsyncConnection,
    *,
    partner_id: str,
    wallet_id: str,
    balance_minor: int,
    currency: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Emit ``wallet.low_balance`` once when the balance drops below the threshold; re-arm it when
    the balance is back at or above. Conditional updates make it exactly-once under concurrency."""
    now = now or utcnow()
    below = balance_minor < partners.c.low_balance_threshold_minor
    crossed = (
        await conn.execute(
            update(partners)
            .where(partners.c.id == partner_id, partners.c.low_balance_notified.is_(False), below)
            .values(low_balance_notified=True, updated_at=now)
            .returning(partners.c.low_balance_threshold_minor)
        )
    ).one_or_none()
    if crossed is None:
        await conn.execute(
            update(partners)
            .where(
                partners.c.id == partner_id,
                partners.c.low_balance_notified.is_(True),
                balance_minor >= partners.c.low_balance_threshold_minor,
            )
            .values(low_balance_notified=False, updated_at=now)
        )
        return
    average, run_out = await spend_stats(
        conn, wallet_id=wallet_id, balance_minor=balance_minor, now=now
    )
    await events.record_event(
        conn,
        partner_id=partner_id,
        event_type="wallet.low_balance",
        request_id=request_id,
        now=now,
        data={
            "walletId": wallet_id,
            "balance": money.format_amount(balance_minor, currency),
            "threshold": money.format_amount(crossed.low_balance_threshold_minor, currency),
            "currency": currency,
            "averageDailySpend": money.format_amount(average, currency),
            "projectedRunOutDate": run_out.isoformat() if run_out else None,
        },
    )


async def admin_credit(
    db: Database,
    *,
    partner_id: str,
    amount_minor: int,
    reason: str,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> tuple[LedgerEntry, Wallet]:
    """Fund a wallet: credit + ``wallet.credited`` event + audit entry, one transaction."""
    now = now or utcnow()
    async with db.write() as conn:
        wallet = await get_wallet(conn, partner_id=partner_id)
        entry = await ledger.credit(
            conn,
            wallet_id=wallet.id,
            amount_minor=amount_minor,
            description=reason,
            actor=actor,
            request_id=request_id,
            now=now,
        )
        await _after_admin_movement(
            conn,
            wallet=wallet,
            entry=entry,
            action="wallet.credit",
            reason=reason,
            actor=actor,
            request_id=request_id,
            now=now,
        )
        await events.record_event(
            conn,
            partner_id=partner_id,
            event_type="wallet.credited",
            request_id=request_id,
            now=now,
            data={
                "walletId": wallet.id,
                "ledgerEntryId": entry.id,
                "amount": money.format_amount(entry.amount_minor, entry.currency),
                "currency": entry.currency,
                "balance": money.format_amount(entry.balance_after_minor, entry.currency),
                "description": entry.description,
            },
        )
        return entry, await get_wallet(conn, wallet_id=wallet.id)


async def admin_debit(
    db: Database,
    *,
    partner_id: str,
    amount_minor: int,
    reason: str,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> tuple[LedgerEntry, Wallet]:
    """Take money back (a negative ``adjustment``); :class:`InsufficientFunds` below zero."""
    now = now or utcnow()
    async with db.write() as conn:
        wallet = await get_wallet(conn, partner_id=partner_id)
        if amount_minor <= 0:
            raise ValueError("amount_minor must be positive")
        entry = await ledger.adjust(
            conn,
            wallet_id=wallet.id,
            amount_minor=-amount_minor,
            description=reason,
            actor=actor,
            request_id=request_id,
            now=now,
        )
        await _after_admin_movement(
            conn,
            wallet=wallet,
            entry=entry,
            action="wallet.debit",
            reason=reason,
            actor=actor,
            request_id=request_id,
            now=now,
        )
        return entry, await get_wallet(conn, wallet_id=wallet.id)


async def _after_admin_movement(
    conn: AsyncConnection,
    *,
    wallet: Wallet,
    entry: LedgerEntry,
    action: str,
    reason: str,
    actor: str,
    request_id: str | None,
    now: datetime,
) -> None:
    await audit.record(
        conn,
        actor=actor,
        action=action,
        target_type="wallet",
        target_id=wallet.id,
        before={"balance": money.format_amount(entry.balance_before_minor, entry.currency)},
        after={
            "balance": money.format_amount(entry.balance_after_minor, entry.currency),
            "entry": ledger_entry_public(entry),
        },
        reason=reason,
        request_id=request_id,
        now=now,
    )
    await note_balance_change(
        conn,
        partner_id=wallet.partner_id,
        wallet_id=wallet.id,
        balance_minor=entry.balance_after_minor,
        currency=entry.currency,
        request_id=request_id,
        now=now,
    )
