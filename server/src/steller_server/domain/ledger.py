"""The wallet ledger: every balance change is ONE guarded statement plus ONE ledger row.

    UPDATE wallets SET balance_minor = balance_minor + :delta, version = version + 1
     WHERE id = :wallet AND balance_minor + :delta >= 0
    RETURNING balance_minor, version, …

No read-modify-write: the database checks and changes the balance atomically, so concurrent
debits can never overdraw (a refused debit raises :class:`InsufficientFunds`). The ledger row
records before/after and copies the wallet ``version`` into ``wallet_seq``. On PostgreSQL both are
ONE statement (``WITH moved AS (UPDATE … RETURNING …) INSERT INTO ledger_entries SELECT … FROM
moved``), which holds the wallet row lock for less time; on SQLite they are two. Both run in the
caller's transaction (``conn``), so they commit or vanish together with whatever else the caller
writes. ``entry_key`` is UNIQUE: posting the same fact twice (``refund:{order}:{kind}``) fails
with :class:`InvalidState` and dooms the transaction. The table is append-only (database
triggers); corrections are new ``adjustment`` rows.

Invariant: ``wallets.balance_minor == SUM(ledger_entries.amount_minor)`` per wallet.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Insert, Update, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import ledger_entries, wallets
from steller_server.domain import money
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InsufficientFunds, InvalidState, NotFound, ValidationFailed
from steller_server.domain.ids import new_id
from steller_server.domain.models import LedgerEntry
from steller_server.observability import metrics

__all__ = ["adjust", "credit", "debit", "insufficient_funds", "ledger_sum", "post", "refund"]


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
    entry_id = new_id("txn")
    description = description[:500]
    try:
        if conn.dialect.name == "postgresql":
            moved = await _post_one_statement(
                conn,
                entry_id=entry_id,
                entry_type=entry_type,
                wallet_id=wallet_id,
                delta_minor=delta_minor,
                description=description,
                actor=actor,
                order_id=order_id,
                entry_key=entry_key,
                request_id=request_id,
                now=now,
            )
        else:
            moved = await _post_two_statements(
                conn,
                entry_id=entry_id,
                entry_type=entry_type,
                wallet_id=wallet_id,
                delta_minor=delta_minor,
                description=description,
                actor=actor,
                order_id=order_id,
                entry_key=entry_key,
                request_id=request_id,
                now=now,
            )
    except IntegrityError as exc:
        if entry_key is not None and await _entry_key_taken(conn, entry_key, exc):
            raise InvalidState(f"ledger entry {entry_key!r} was already posted") from exc
        raise
    if moved is None:
        exists = await conn.scalar(select(wallets.c.currency).where(wallets.c.id == wallet_id))
        if exists is None:
            raise NotFound("wallet not found")
        raise insufficient_funds(-delta_minor, exists)
    seq, partner_id, currency, balance_after = moved
    entry = LedgerEntry(
        id=entry_id,
        wallet_id=wallet_id,
        wallet_seq=seq,
        partner_id=partner_id,
        type=entry_type,
        amount_minor=delta_minor,
        currency=currency,
        balance_before_minor=balance_after - delta_minor,
        balance_after_minor=balance_after,
        description=description,
        order_id=order_id,
        actor=actor,
        entry_key=entry_key,
        request_id=request_id,
        created_at=now,
    )
    metrics.ledger_posted(conn, entry_type, currency, delta_minor)  # counted on commit
    return entry


def insufficient_funds(amount_minor: int, currency: str) -> InsufficientFunds:
    """The refusal of a debit of ``amount_minor`` that the wallet cannot cover."""
    return InsufficientFunds(
        f"wallet balance is below {money.format_amount(amount_minor, currency)} {currency}"
    )


#: (wallet_seq, partner_id, currency, balance_after_minor) of a posted entry.
_Moved = tuple[int, str, str, int]


def _wallet_update(*, guarded: bool) -> Update:
    delta = bindparam("delta", type_=BigInteger)
    stmt = (
        update(wallets)
        .where(wallets.c.id == bindparam("wallet_id", type_=wallets.c.id.type))
        .values(
            balance_minor=wallets.c.balance_minor + delta,
            version=wallets.c.version + 1,
            updated_at=bindparam("now", type_=wallets.c.updated_at.type),
        )
        .returning(
            wallets.c.balance_minor, wallets.c.version, wallets.c.partner_id, wallets.c.currency
        )
    )
    # A debit may not overdraw; a credit is never refused (the table's CHECK still holds).
    return stmt.where(wallets.c.balance_minor + delta >= 0) if guarded else stmt


_ENTRY_PARAMS = ("id", "type", "description", "order_id", "actor", "entry_key", "request_id")


@lru_cache(maxsize=2)
def _one_statement(*, guarded: bool) -> Insert:
    """PostgreSQL: the guarded wallet UPDATE and the ledger INSERT as ONE statement (a
    data-modifying CTE). The wallet row lock is then held from this statement to COMMIT only,
    and the ledger row takes ``wallet_seq`` and balances from the UPDATE's own RETURNING row."""
    moved = _wallet_update(guarded=guarded).cte("moved")
    delta = bindparam("delta", type_=BigInteger)

    def param(name: str) -> Any:
        return bindparam(f"e_{name}", type_=ledger_entries.c[name].type)

    columns = {
        "id": param("id"),
        "wallet_id": bindparam("wallet_id", type_=wallets.c.id.type),
        "wallet_seq": moved.c.version,
        "partner_id": moved.c.partner_id,
        "type": param("type"),
        "amount_minor": delta,
        "currency": moved.c.currency,
        "balance_before_minor": moved.c.balance_minor - delta,
        "balance_after_minor": moved.c.balance_minor,
        "description": param("description"),
        "order_id": param("order_id"),
        "actor": param("actor"),
        "entry_key": param("entry_key"),
        "request_id": param("request_id"),
        "created_at": bindparam("now", type_=ledger_entries.c.created_at.type),
    }
    return (
        insert(ledger_entries)
        .from_select(list(columns), select(*columns.values()).select_from(moved))
        .returning(
            ledger_entries.c.wallet_seq,
            ledger_entries.c.partner_id,
            ledger_entries.c.currency,
            ledger_entries.c.balance_after_minor,
        )
    )


async def _post_one_statement(
    conn: AsyncConnection,
    *,
    entry_id: str,
    entry_type: str,
    wallet_id: str,
    delta_minor: int,
    description: str,
    actor: str,
    order_id: str | None,
    entry_key: str | None,
    request_id: str | None,
    now: datetime,
) -> _Moved | None:
    values = {
        "wallet_id": wallet_id,
        "delta": delta_minor,
        "now": now,
        "e_id": entry_id,
        "e_type": entry_type,
        "e_description": description,
        "e_order_id": order_id,
        "e_actor": actor,
        "e_entry_key": entry_key,
        "e_request_id": request_id,
    }
    row = (await conn.execute(_one_statement(guarded=delta_minor < 0), values)).one_or_none()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def _post_two_statements(
    conn: AsyncConnection,
    *,
    entry_id: str,
    entry_type: str,
    wallet_id: str,
    delta_minor: int,
    description: str,
    actor: str,
    order_id: str | None,
    entry_key: str | None,
    request_id: str | None,
    now: datetime,
) -> _Moved | None:
    """SQLite (no data-modifying CTEs): the guarded UPDATE, then the INSERT."""
    row = (
        await conn.execute(
            _wallet_update(guarded=delta_minor < 0),
            {"wallet_id": wallet_id, "delta": delta_minor, "now": now},
        )
    ).one_or_none()
    if row is None:
        return None
    await conn.execute(
        insert(ledger_entries).values(
            id=entry_id,
            wallet_id=wallet_id,
            wallet_seq=row.version,
            partner_id=row.partner_id,
            type=entry_type,
            amount_minor=delta_minor,
            currency=row.currency,
            balance_before_minor=row.balance_minor - delta_minor,
            balance_after_minor=row.balance_minor,
            description=description,
            order_id=order_id,
            actor=actor,
            entry_key=entry_key,
            request_id=request_id,
            created_at=now,
        )
    )
    return row.version, row.partner_id, row.currency, row.balance_minor


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
