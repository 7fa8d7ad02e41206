"""Monthly wallet statements (UTC months), straight from the ledger.

    opening  = SUM(amount) of the wallet's entries created before the month     (the ledger)
    credits, debits, refunds, adjustments = SUM(amount) per type of the month's entries
    closing  = opening + credits + debits + refunds + adjustments
             = SUM(amount) of every entry created before the month's end

The lines are read in one statement and the per-type totals are summed from those very lines, so
the totals always match the lines even while the month is still being written to. Lines are in
ledger order (``wallet_seq``), which is the order the balance moved in, so each line's
``balanceBefore`` is the previous line's ``balanceAfter``.

The current month is returned with ``in_progress=True`` (figures up to ``generated_at``); a month
that has not started is :class:`NotFound`. CSV lines have the transactions-export columns and are
streamed in batches (keyset on ``wallet_seq``), so a large month never sits in memory; a
description that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is prefixed
with ``'`` there.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import ledger_entries
from steller_server.domain import money
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import NotFound, ValidationFailed
from steller_server.domain.models import LedgerEntry, Wallet
from steller_server.domain.serialize import iso, ledger_entry_public
from steller_server.domain.wallets import get_wallet

__all__ = [
    "CSV_COLUMNS",
    "Statement",
    "csv_header",
    "csv_row",
    "month_bounds",
    "monthly_statement",
    "stream_statement_csv",
]

CSV_COLUMNS = (
    "id",
    "createdAt",
    "type",
    "amount",
    "currency",
    "balanceBefore",
    "balanceAfter",
    "orderId",
    "description",
)
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CSV_BATCH = 1000


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of ``YYYY-MM`` in UTC."""
    match = _PERIOD.match(period)
    if match is None:
        raise ValidationFailed(
            "period must be YYYY-MM", errors=[{"pointer": "/path/period", "message": "YYYY-MM"}]
        )
    year, month = int(match.group(1)), int(match.group(2))
    if year < 1970:
        raise ValidationFailed("period is before 1970")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


@dataclass(frozen=True, kw_only=True)
class Statement:
    period: str
    wallet: Wallet
    opening_minor: int
    totals: dict[str, int]  # credit | debit | refund | adjustment → signed sum
    lines: list[LedgerEntry]
    in_progress: bool
    generated_at: datetime

    @property
    def currency(self) -> str:
        return self.wallet.currency

    @property
    def closing_minor(self) -> int:
        return self.opening_minor + sum(self.totals.values())

    def public(self) -> dict[str, Any]:
        """The ``Statement`` schema."""
        cur = self.currency

        def fmt(minor: int) -> str:
            return money.format_amount(minor, cur)

        return {
            "period": self.period,
            "currency": cur,
            "openingBalance": fmt(self.opening_minor),
            "credits": fmt(self.totals["credit"]),
            "debits": fmt(self.totals["debit"]),
            "refunds": fmt(self.totals["refund"]),
            "adjustments": fmt(self.totals["adjustment"]),
            "closingBalance": fmt(self.closing_minor),
            "inProgress": self.in_progress,
            "generatedAt": iso(self.generated_at),
            "lines": [ledger_entry_public(line) for line in self.lines],
        }


def _check_period(period: str, now: datetime) -> tuple[datetime, datetime, bool]:
    start, end = month_bounds(period)
    if start > now:
        raise NotFound(f"the statement for {period} does not exist yet")
    return start, end, now < end


async def _opening(conn: AsyncConnection, wallet_id: str, start: datetime) -> int:
    total = await conn.scalar(
        select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0)).where(
            ledger_entries.c.wallet_id == wallet_id, ledger_entries.c.created_at < start
        )
    )
    return int(total or 0)


async def monthly_statement(
    conn: AsyncConnection, *, partner_id: str, period: str, now: datetime | None = None
) -> Statement:
    """The statement of ``period`` (``YYYY-MM``) for the partner's wallet."""
    now = now or utcnow()
    start, end, in_progress = _check_period(period, now)
    wallet = await get_wallet(conn, partner_id=partner_id)
    opening = await _opening(conn, wallet.id, start)
    rows = (
        (
            await conn.execute(
                select(ledger_entries)
                .where(
                    ledger_entries.c.wallet_id == wallet.id,
                    ledger_entries.c.created_at >= start,
                    ledger_entries.c.created_at < end,
                )
                .order_by(ledger_entries.c.wallet_seq)
            )
        )
        .mappings()
        .all()
    )
    lines = [LedgerEntry.from_row(r) for r in rows]
    totals = {"credit": 0, "debit": 0, "refund": 0, "adjustment": 0}
    for line in lines:
        totals[line.type] += line.amount_minor
    return Statement(
        period=period,
        wallet=wallet,
        opening_minor=opening,
        totals=totals,
        lines=lines,
        in_progress=in_progress,
        generated_at=now,
    )


def csv_header() -> bytes:
    return _csv_bytes([list(CSV_COLUMNS)])


def csv_row(entry: LedgerEntry) -> list[str]:
    public = ledger_entry_public(entry)
    description = public["description"]
    if description[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # Free text that a spreadsheet would run as a formula (CSV injection): quote it.
        description = "'" + description
    return [
        public["id"],
        public["createdAt"],
        public["type"],
        public["amount"],
        public["currency"],
        public["balanceBefore"],
        public["balanceAfter"],
        public["orderId"] or "",
        description,
    ]


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def stream_statement_csv(
    db: Database, *, partner_id: str, period: str, now: datetime | None = None
) -> AsyncIterator[bytes]:
    """Check the period and wallet now (errors surface before streaming), then return an async
    iterator of CSV chunks: the header, then the month's lines in ledger order."""
    now = now or utcnow()
    start, end, _ = _check_period(period, now)
    async with db.read() as conn:
        wallet = await get_wallet(conn, partner_id=partner_id)
        last_seq = await conn.scalar(
            select(func.max(ledger_entries.c.wallet_seq)).where(
                ledger_entries.c.wallet_id == wallet.id
            )
        )
    upper = int(last_seq or 0)  # a consistent cut: entries appended later are not included

    async def chunks() -> AsyncIterator[bytes]:
        yield csv_header()
        after = 0
        while True:
            async with db.read() as conn:
                rows = (
                    (
                        await conn.execute(
                            select(ledger_entries)
                            .where(
                                ledger_entries.c.wallet_id == wallet.id,
                                ledger_entries.c.created_at >= start,
                                ledger_entries.c.created_at < end,
                                ledger_entries.c.wallet_seq > after,
                                ledger_entries.c.wallet_seq <= upper,
                            )
                            .order_by(ledger_entries.c.wallet_seq)
                            .limit(CSV_BATCH)
                        )
                    )
                    .mappings()
                    .all()
                )
            if not rows:
                return
            entries = [LedgerEntry.from_row(r) for r in rows]
            yield _csv_bytes([csv_row(e) for e in entries])
            if len(rows) < CSV_BATCH:
                return
            after = entries[-1].wallet_seq

    return chunks()
