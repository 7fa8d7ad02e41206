"""The wallet ledger: every balance change is ONE guarded statement plus ONE ledger row.

    UPDATE wallets SET balance_minor = balance_minor + :delta, version = version + 1
     WHERE id = :wallet AND balance_minor + :delta >= 0
    RETURNING balance_minor, version, …

No read-modify-write: the database checks and changes the balance atomically, so concurrent
debits can never overdraw (a refused debit raises :class:`InsufficientFunds`). The ledger row
records before/after and copies the wallet ``version`` into ``wallet_seq``. Both run in the
caller's transaction (``conn``), so they commit or vanish together with whatever else the caller
writes. ``entry_key`` is UNIQUE: posting the same fact twice (``refund:{order}:{kind}``) fails
with :class:`InvalidState` and dooms the transaction. The table is append-only (database
triggers); corrections are new ``adjustment`` rows.

Invariant: ``wallets.balance_minor == SUM(ledger_entries.amount_minor)`` per wallet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import ledger_entries, wallets
from steller_server.domain import money
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InsufficientFunds, InvalidState, NotFound, ValidationFailed
from steller_server.domain.ids import new_id
from steller_server.domain.models import LedgerEntry
from steller_server.observability import metrics

__all__ = ["adjust", "credit", "debit", "ledger_sum", "post", "refund"]


async def post(
    conn: AsyncConnection,
    *,
    entry_type: str,
    wallet_id: str,
    delta_minor: int,
    description: str,
    actor: str,
    order_id: str | None = None,
    entry_key: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Move ``delta_minor`` (signed) and append the ledger row. Prefer the wrappers below."""
    if delta_minor == 0:
        raise ValidationFailed("amount must not be zero")
    now = now or utcnow()
    stmt = (
        update(wallets)
        .where(wallets.c.id == wallet_id)
        .values(
            balance_minor=wallets.c.balance_minor + delta_minor,
            version=wallets.c.version + 1,
            updated_at=now,
        )
        .returning(
            wallets.c.balance_minor, wallets.c.version, wallets.c.partner_id, wallets.c.currency
        )
    )
    if delta_minor < 0:
        stmt = stmt.where(wallets.c.balance_minor + delta_minor >= 0)
    row = (await conn.execute(stmt)).one_or_none()
    if row is None:
        exists = await conn.scalar(select(wallets.c.currency).where(wallets.c.id == wallet_id))
        if exists is None:
            raise NotFound("wallet not found")
        raise InsufficientFunds(
            f"wallet balance is below {money.format_amount(-delta_minor, exists)} {exists}"
        )
    entry = {
        "id": new_id("txn"),
        "wallet_id": wallet_id,
        "wallet_seq": row.version,
        "partner_id": row.partner_id,
        "type": entry_type,
        "amount_minor": delta_minor,
        "currency": row.currency,
        "balance_before_minor": row.balance_minor - delta_minor,
        "balance_after_minor": row.balance_minor,
        "description": description[:500],
        "order_id": order_id,
        "actor": actor,
        "entry_key": entry_key,
        "request_id": request_id,
        "created_at": now,
    }
    try:
        await conn.execute(insert(ledger_entries).values(**entry))
    except IntegrityError as exc:
        if entry_key is not None and await _entry_key_taken(conn, entry_key, exc):
            raise InvalidState(f"ledger entry {entry_key!r} was already posted") from exc
        raise
    metrics.ledger_posted(conn, entry_type, row.currency, delta_minor)  # counted on commit
    return LedgerEntry(**entry)


async def _entry_key_taken(conn: AsyncConnection, entry_key: str, exc: IntegrityError) -> bool:
    # On PostgreSQL the transaction is aborted after the error; judge by the constraint name.
    text = str(exc.orig)
    if "entry_key" in text:
        return True
    if conn.dialect.name == "postgresql":
        return False
    found = await conn.scalar(
        select(ledger_entries.c.id).where(ledger_entries.c.entry_key == entry_key)
    )
    return found is not None


def _positive(amount_minor: int) -> int:
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise ValidationFailed("amount must be a positive integer number of minor units")
    return amount_minor


async def credit(
    conn: AsyncConnection,
    *,
    wallet_id: str,
    amount_minor: int,
    description: str,
    actor: str,
    order_id: str | None = None,
    entry_key: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Add money (top-up, trial credit)."""
    return await post(
        conn,
        entry_type="credit",
        wallet_id=wallet_id,
        delta_minor=_positive(amount_minor),
        description=description,
        actor=actor,
        order_id=order_id,
        entry_key=entry_key,
        request_id=request_id,
        now=now,
    )


async def debit(
    conn: AsyncConnection,
    *,
    wallet_id: str,
    amount_minor: int,
    description: str,
    actor: str,
    order_id: str | None = None,
    entry_key: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Take money; :class:`InsufficientFunds` (nothing changed) if the balance is too low."""
    return await post(
        conn,
        entry_type="debit",
        wallet_id=wallet_id,
        delta_minor=-_positive(amount_minor),
        description=description,
        actor=actor,
        order_id=order_id,
        entry_key=entry_key,
        request_id=request_id,
        now=now,
    )


async def refund(
    conn: AsyncConnection,
    *,
    wallet_id: str,
    amount_minor: int,
    description: str,
    actor: str,
    order_id: str | None = None,
    entry_key: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Give back money for an order. Use :func:`orders.refund_order`, which also caps it."""
    return await post(
        conn,
        entry_type="refund",
        wallet_id=wallet_id,
        delta_minor=_positive(amount_minor),
        description=description,
        actor=actor,
        order_id=order_id,
        entry_key=entry_key,
        request_id=request_id,
        now=now,
    )


async def adjust(
    conn: AsyncConnection,
    *,
    wallet_id: str,
    amount_minor: int,
    description: str,
    actor: str,
    order_id: str | None = None,
    entry_key: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """A signed correction (admin debit/credit outside orders); negative is guarded like a debit."""
    return await post(
        conn,
        entry_type="adjustment",
        wallet_id=wallet_id,
        delta_minor=amount_minor,
        description=description,
        actor=actor,
        order_id=order_id,
        entry_key=entry_key,
        request_id=request_id,
        now=now,
    )


async def ledger_sum(conn: AsyncConnection, *, wallet_id: str) -> int:
    """Sum of the wallet's ledger (equals its balance; reconciliation checks that)."""
    total = await conn.scalar(
        select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0)).where(
            ledger_entries.c.wallet_id == wallet_id
        )
    )
    return int(total or 0)
