"""Wallet over HTTP: balance and projection, the ledger with filters, the streamed CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update
from starlette.applications import Starlette

from steller_server.api.partner import wallet as wallet_routes
from steller_server.db.engine import Database
from steller_server.db.tables import ledger_entries, wallets
from steller_server.domain import ledger
from steller_server.domain.ids import new_id
from tests.server.api.contract_check import assert_conforms
from tests.server.api.partner_support import onboard, order_body

EXPORT = "/api/wallet/transactions/export"


def _z(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


async def test_wallet_shows_balance_spend_and_run_out_date(
    api: httpx.AsyncClient, clock: Any, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    partner, wallet, headers = await onboard(
        factory, partner_key, balance="500.00", approve={"AMAZON-US-50": "-5"}
    )
    fresh = await api.get("/api/wallet/me", headers=headers)
    assert fresh.status_code == 200
    assert_conforms(fresh, "getWallet")
    body = fresh.json()
    assert (body["id"], body["partnerId"], body["currency"]) == (wallet.id, partner.id, "USD")
    assert (body["balance"], body["averageDailySpend"], body["projectedRunOutDate"]) == (
        "500.00",
        "0.00",
        None,
    )

    await api.post("/api/orders", headers=headers, json=order_body())
    spent = (await api.get("/api/wallet/me", headers=headers)).json()
    # 52.50 over 30 days = 1.75 a day; 447.50 lasts 255 more days.
    assert (spent["balance"], spent["averageDailySpend"]) == ("447.50", "1.75")
    assert spent["projectedRunOutDate"] == (clock().date() + timedelta(days=255)).isoformat()


async def test_transactions_filter_and_page_newest_first(
    api: httpx.AsyncClient, clock: Any, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    _, _, headers = await onboard(
        factory, partner_key, balance="500.00", approve={"AMAZON-US-50": "-5"}
    )
    orders = []
    for i in range(3):
        clock.advance(minutes=5)
        orders.append(
            (await api.post("/api/orders", headers=headers, json=order_body(f"w-{i}"))).json()
        )

    first = await api.get("/api/wallet/transactions", headers=headers, params={"limit": 2})
    assert_conforms(first, "listWalletTransactions")
    page1 = first.json()
    second = (
        await api.get(
            "/api/wallet/transactions",
            headers=headers,
            params={"limit": 2, "cursor": page1["nextCursor"]},
        )
    ).json()
    entries = page1["data"] + second["data"]
    assert second["nextCursor"] is None
    assert [e["type"] for e in entries] == ["debit", "debit", "debit", "credit"]
    assert [e["orderId"] for e in entries[:3]] == [o["id"] for o in reversed(orders)]
    assert [e["balanceAfter"] for e in entries] == ["342.50", "395.00", "447.50", "500.00"]
    for newer, older in itertools.pairwise(entries):
        assert newer["balanceBefore"] == older["balanceAfter"]

    debits = (
        await api.get("/api/wallet/transactions", headers=headers, params={"type": "debit"})
    ).json()["data"]
    assert len(debits) == 3
    by_order = (
        await api.get(
            "/api/wallet/transactions", headers=headers, params={"orderId": orders[1]["id"]}
        )
    ).json()["data"]
    assert [e["orderId"] for e in by_order] == [orders[1]["id"]]
    window = (
        await api.get(
            "/api/wallet/transactions",
            headers=headers,
            params={
                "from": _z(clock() - timedelta(minutes=5)),
                "to": _z(clock()),
            },
        )
    ).json()["data"]
    assert [e["orderId"] for e in window] == [orders[1]["id"]]

    bad = await api.get("/api/wallet/transactions", headers=headers, params={"from": "yesterday"})
    assert bad.status_code == 400
    assert_conforms(bad, "listWalletTransactions")
    assert bad.json()["errors"][0]["pointer"] == "/query/from"


async def test_export_matches_the_json_ledger(
    api: httpx.AsyncClient, clock: Any, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    _, _, headers = await onboard(
        factory, partner_key, balance="500.00", approve={"AMAZON-US-50": "-5"}
    )
    for i in range(2):
        clock.advance(minutes=1)
        await api.post("/api/orders", headers=headers, json=order_body(f"x-{i}"))

    response = await api.get(EXPORT, headers=headers)
    assert response.status_code == 200
    assert_conforms(response, "exportWalletTransactions")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="steller-transactions.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "id",
        "createdAt",
        "type",
        "amount",
        "currency",
        "balanceBefore",
        "balanceAfter",
        "orderId",
        "description",
    ]
    entries = (await api.get("/api/wallet/transactions", headers=headers)).json()["data"]
    assert rows[1:] == [
        [
            e["id"],
            e["createdAt"],
            e["type"],
            e["amount"],
            e["currency"],
            e["balanceBefore"],
            e["balanceAfter"],
            e["orderId"] or "",
            e["description"],
        ]
        for e in entries
    ]
    debits = list(
        csv.reader(
            io.StringIO((await api.get(EXPORT, headers=headers, params={"type": "debit"})).text)
        )
    )
    assert [r[2] for r in debits[1:]] == ["debit", "debit"]


async def _bulk_credits(database: Database, wallet: Any, count: int, now: datetime) -> None:
    """``count`` credits of 1.00, 1.01, … as valid ledger rows (before/after chained, seq 1..n,
    the wallet balance equal to their sum), in one multi-row insert instead of n postings."""
    rows, balance = [], 0
    for i in range(count):
        amount = 100 + i
        rows.append(
            {
                "id": new_id("txn"),
                "wallet_id": wallet.id,
                "wallet_seq": i + 1,
                "partner_id": wallet.partner_id,
                "type": "credit",
                "amount_minor": amount,
                "currency": wallet.currency,
                "balance_before_minor": balance,
                "balance_after_minor": balance + amount,
                "description": f"top-up {i}",
                "order_id": None,
                "actor": "admin:usr_test",
                "entry_key": None,
                "request_id": None,
                "created_at": now - timedelta(seconds=count - i),
            }
        )
        balance += amount
    async with database.write() as conn:
        await conn.execute(insert(ledger_entries), rows)
        await conn.execute(
            update(wallets)
            .where(wallets.c.id == wallet.id)
            .values(balance_minor=balance, version=count)
        )


async def _raw_get(app: Starlette, path: str, headers: dict[str, str]) -> tuple[int, list[bytes]]:
    """Call the ASGI app directly and keep every body message (httpx would join them)."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    requested = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]


async def test_export_streams_page_by_page_with_bounded_memory(
    app: Starlette,
    database: Database,
    clock: Any,
    factory: Any,
    partner_key: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, wallet, headers = await onboard(factory, partner_key, balance=None)
    await _bulk_credits(database, wallet, 1000, clock())
    monkeypatch.setattr(wallet_routes, "EXPORT_PAGE_SIZE", 50)
    pages_read: list[int] = []
    real = wallet_routes.wallets.list_transactions

    async def counting(*args: Any, **kwargs: Any) -> Any:
        page = await real(*args, **kwargs)
        pages_read.append(len(page.data))
        return page

    monkeypatch.setattr(wallet_routes.wallets, "list_transactions", counting)

    status, chunks = await _raw_get(app, EXPORT, headers)

    assert status == 200
    assert len([c for c in chunks if c]) == 20  # one chunk per 50-row page, header in the first
    assert pages_read == [50] * 20
    assert max(len(c) for c in chunks) < 10_000  # no chunk holds the whole export
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 1001
    assert len({r[0] for r in rows[1:]}) == 1000  # every entry exactly once
    assert sum(int(r[3].replace(".", "")) for r in rows[1:]) == sum(100 + i for i in range(1000))
    assert [r[9 - 1] for r in rows[1:3]] == ["top-up 999", "top-up 998"]  # newest first
    async with database.read() as conn:
        assert await ledger.ledger_sum(conn, wallet_id=wallet.id) == sum(range(100, 1100))


async def test_export_neutralises_spreadsheet_formulas(
    api: httpx.AsyncClient, database: Database, factory: Any, partner_key: Any
) -> None:
    _, wallet, headers = await onboard(factory, partner_key, balance=None)
    async with database.write() as conn:
        await ledger.credit(
            conn,
            wallet_id=wallet.id,
            amount_minor=100,
            description='=HYPERLINK("http://evil.example")',
            actor="system",
        )
    rows = list(csv.reader(io.StringIO((await api.get(EXPORT, headers=headers)).text)))
    assert rows[1][8] == '\'=HYPERLINK("http://evil.example")'


@pytest.mark.parametrize("path", ["/api/wallet/transactions", EXPORT])
async def test_ordering_key_cannot_read_the_ledger(
    api: httpx.AsyncClient, factory: Any, partner_key: Any, path: str
) -> None:
    _, _, headers = await onboard(factory, partner_key, role="ordering")
    response = await api.get(path, headers=headers)
    assert response.status_code == 403
    operation = (
        "listWalletTransactions" if path.endswith("transactions") else ("exportWalletTransactions")
    )
    assert_conforms(response, operation)
    assert response.json()["code"] == "insufficient_role"
    wallet = await api.get("/api/wallet/me", headers=headers)  # balance stays readable
    assert wallet.status_code == 200


async def test_wallets_are_private(api: httpx.AsyncClient, factory: Any, partner_key: Any) -> None:
    _, a_wallet, a = await onboard(factory, partner_key, name="A", balance="10.00")
    _, b_wallet, b = await onboard(factory, partner_key, name="B", balance="20.00")
    assert (await api.get("/api/wallet/me", headers=a)).json()["id"] == a_wallet.id
    assert (await api.get("/api/wallet/me", headers=b)).json()["balance"] == "20.00"
    b_entries = (await api.get("/api/wallet/transactions", headers=b)).json()["data"]
    assert {e["walletId"] for e in b_entries} == {b_wallet.id}
    a_csv = (await api.get(EXPORT, headers=a)).text
    assert b_wallet.id not in a_csv
    assert all(e["id"] not in a_csv for e in b_entries)
