"""The partner's wallet: balance and spend projection, ledger entries, and the CSV export.

``GET /api/wallet/transactions/export`` streams with constant memory whatever the row count: the
generator walks the ledger one keyset page at a time (each page its own short read transaction,
so no connection is held while the client reads) and yields each page as CSV. Entries created
during the export are newer than the walk's position, so they are neither duplicated nor make it
skip rows. The first page is read before the response starts, so a database failure is still
answered with a proper problem document.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from steller_server.api.partner.orders import parse_instant
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.db.engine import Database
from steller_server.domain import money, wallets
from steller_server.domain.keys import Capability
from steller_server.domain.models import LedgerEntry, Partner
from steller_server.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from steller_server.domain.serialize import iso, ledger_entry_public

endpoints = Endpoints()

#: Ledger rows fetched per query while exporting (the export's memory bound).
EXPORT_PAGE_SIZE = MAX_LIMIT
EXPORT_COLUMNS = (
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
#: Leading characters a spreadsheet would run as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _me(ctx: Ctx) -> Partner:
    if ctx.partner is None:  # pragma: no cover - auth="partner" always sets it
        raise RuntimeError("partner route without a partner principal")
    return ctx.partner.partner


@endpoints.op("getWallet", auth="partner", capability=Capability.WALLET_READ)
async def get_wallet(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    async with ctx.state.db.read() as conn:
        view = await wallets.wallet_view(conn, partner_id=partner.id, now=ctx.state.clock())
    return Reply(200, view.public())


@endpoints.op("listWalletTransactions", auth="partner", capability=Capability.FINANCE_READ)
async def list_transactions(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    q = ctx.query
    created_from = parse_instant(q.get("from"), "from")
    created_to = parse_instant(q.get("to"), "to")
    async with ctx.state.db.read() as conn:
        wallet = await wallets.get_wallet(conn, partner_id=partner.id)
        page = await wallets.list_transactions(
            conn,
            wallet_id=wallet.id,
            entry_type=q.get("type"),
            order_id=q.get("orderId"),
            created_from=created_from,
            created_to=created_to,
            limit=q.get("limit", DEFAULT_LIMIT),
            cursor=q.get("cursor"),
        )
    return Reply(
        200, {"data": [ledger_entry_public(e) for e in page.data], "nextCursor": page.next_cursor}
    )


def _safe_text(value: str) -> str:
    """Free text for a spreadsheet: a leading formula character is neutralised with a quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_rows(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def _entry_row(entry: LedgerEntry) -> tuple[str, ...]:
    cur = entry.currency
    return (
        entry.id,
        iso(entry.created_at) or "",
        entry.type,
        money.format_amount(entry.amount_minor, cur),
        cur,
        money.format_amount(entry.balance_before_minor, cur),
        money.format_amount(entry.balance_after_minor, cur),
        entry.order_id or "",
        _safe_text(entry.description),
    )


async def _export_stream(
    db: Database,
    first: Page[LedgerEntry],
    *,
    wallet_id: str,
    entry_type: str | None,
    order_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> AsyncIterator[bytes]:
    page = first
    yield _csv_rows([EXPORT_COLUMNS, *(_entry_row(e) for e in page.data)])
    while page.next_cursor is not None:
        async with db.read() as conn:
            page = await wallets.list_transactions(
                conn,
                wallet_id=wallet_id,
                entry_type=entry_type,
                order_id=order_id,
                created_from=created_from,
                created_to=created_to,
                limit=EXPORT_PAGE_SIZE,
                cursor=page.next_cursor,
            )
        if page.data:
            yield _csv_rows([_entry_row(e) for e in page.data])


@endpoints.op("exportWalletTransactions", auth="partner", capability=Capability.FINANCE_READ)
async def export_transactions(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    q = ctx.query
    entry_type: str | None = q.get("type")
    order_id: str | None = q.get("orderId")
    created_from = parse_instant(q.get("from"), "from")
    created_to = parse_instant(q.get("to"), "to")
    db = ctx.state.db
    async with db.read() as conn:
        wallet = await wallets.get_wallet(conn, partner_id=partner.id)
        first = await wallets.list_transactions(
            conn,
            wallet_id=wallet.id,
            entry_type=entry_type,
            order_id=order_id,
            created_from=created_from,
            created_to=created_to,
            limit=EXPORT_PAGE_SIZE,
        )
    stream = _export_stream(
        db,
        first,
        wallet_id=wallet.id,
        entry_type=entry_type,
        order_id=order_id,
        created_from=created_from,
        created_to=created_to,
    )
    return Reply(
        200,
        stream=stream,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="steller-transactions.csv"'},
    )
