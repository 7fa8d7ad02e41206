"""Usage, spend forecast and monthly statements against a scripted history with known answers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from steller_server.db.engine import Database
from steller_server.db.tables import ledger_entries, request_logs
from steller_server.domain import ledger, wallets
from steller_server.domain.ids import new_id
from steller_server.domain.request_log_queries import purge_request_logs, rollup_request_logs
from steller_server.settings import Settings
from tests.server.api.contract_check import assert_conforms
from tests.server.selfservice.selfservice_history import NOW, History, at, build_history


@pytest.fixture
async def history(factory: Any, database: Database, settings: Settings, clock: Any) -> History:
    clock.now = NOW
    return await build_history(factory, database, settings)


@pytest.fixture
async def headers(history: History, partner_key: Any) -> dict[str, str]:
    return {"x-api-key": await partner_key(history.partner, role="finance")}


async def _log(database: Database, partner_id: str, status: int, when: datetime) -> None:
    async with database.write() as conn:
        await conn.execute(
            insert(request_logs).values(
                id=new_id("log"),
                request_id=new_id("req"),
                partner_id=partner_id,
                key_id=None,
                method="GET",
                path="/api/orders",
                status=status,
                latency_ms=5,
                created_at=when,
            )
        )


# -- usage --------------------------------------------------------------------------------------


async def test_usage_over_30_days_matches_the_script(
    api: httpx.AsyncClient,
    app: Any,
    history: History,
    headers: dict[str, str],
    database: Database,
    factory: Any,
) -> None:
    pid = history.partner.id
    for status, when in [
        (200, "2026-03-10T09:00:00"),
        (202, "2026-03-01T10:00:00"),
        (422, "2026-02-20T10:00:00"),
        (500, "2026-02-09T00:00:00"),
        (200, "2026-02-08T23:59:59"),
    ]:  # the last one is before the window
        await _log(database, pid, status, at(when))
    other, _ = await factory.partner(name="Other")
    await _log(database, other.id, 500, at("2026-03-10T09:00:00"))

    response = await api.get("/api/partner/usage", headers=headers)
    assert response.status_code == 200, response.text
    assert_conforms(response, "getUsage")
    body = response.json()
    assert (body["days"], body["from"], body["to"], body["currency"]) == (
        30,
        "2026-02-09T00:00:00Z",
        "2026-03-11T00:00:00Z",
        "USD",
    )
    assert body["orders"] == {
        "total": 5,
        "processing": 1,
        "completed": 2,
        "partiallyCompleted": 1,
        "failed": 1,
        "cancelled": 0,
    }
    assert (body["spend"], body["refunds"], body["averageOrderValue"]) == (
        "392.50",
        "157.50",
        "78.50",
    )
    assert body["successRate"] == 0.5  # 2 completed of 4 final orders
    assert body["topProducts"] == [
        {"sku": "AMAZON-US-50", "name": "Amazon US", "orders": 4, "spend": "367.50"},
        {"sku": "STEAM-US-25", "name": "Steam US", "orders": 1, "spend": "25.00"},
    ]
    daily = {d["date"]: (d["orders"], d["spend"]) for d in body["daily"]}
    assert len(body["daily"]) == 30
    assert body["daily"][0]["date"] == "2026-02-09"
    assert body["daily"][-1]["date"] == "2026-03-10"
    assert {k: v for k, v in daily.items() if v != (0, "0.00")} == {
        "2026-02-10": (1, "52.50"),
        "2026-02-20": (1, "105.00"),
        "2026-03-01": (1, "25.00"),
        "2026-03-05": (1, "157.50"),
        "2026-03-10": (1, "52.50"),
    }
    assert (body["apiCalls"], body["errorResponses"]) == (4, 2)

    # Once closed hours are rolled up (the purge task does it), the answer is the same; the
    # rollup keeps counting after the raw rows are purged.
    # The hours from 2026-02-08 13:00 to 2026-03-10 10:00 (ended 10+ minutes before NOW).
    assert await rollup_request_logs(database, NOW) == 29 * 24 + 22
    assert await rollup_request_logs(database, NOW) == 0
    sink = app.state.steller.extras["request_logs"]
    await sink.flush()  # the usage call above is logged too (today, counted live)
    again = (await api.get("/api/partner/usage", headers=headers)).json()
    assert (again["apiCalls"], again["errorResponses"]) == (5, 2)
    assert {**again, "apiCalls": 4} == body
    await sink.flush()
    assert await purge_request_logs(database, NOW + timedelta(days=40)) == 8
    later = (await api.get("/api/partner/usage", headers=headers)).json()
    # 09:00 today was rolled up too; only the usage calls of 12:00 (after the rollup) are gone.
    assert (later["apiCalls"], later["errorResponses"]) == (4, 2)


async def test_usage_over_7_days_and_one_day(
    api: httpx.AsyncClient, history: History, headers: dict[str, str]
) -> None:
    week = (await api.get("/api/partner/usage?days=7", headers=headers)).json()
    assert week["from"] == "2026-03-04T00:00:00Z"
    assert week["orders"]["total"] == 2
    assert (week["spend"], week["refunds"], week["averageOrderValue"]) == (
        "210.00",
        "52.50",
        "105.00",
    )
    assert week["successRate"] == 0.0  # the one final order was only partly delivered
    today = (await api.get("/api/partner/usage?days=1", headers=headers)).json()
    assert today["daily"] == [{"date": "2026-03-10", "orders": 1, "spend": "52.50"}]
    assert today["orders"]["processing"] == 1
    assert today["successRate"] == 0.0  # no final order yet


async def test_usage_rejects_out_of_range_days_and_ordering_keys(
    api: httpx.AsyncClient, history: History, headers: dict[str, str], partner_key: Any
) -> None:
    bad = await api.get("/api/partner/usage?days=0", headers=headers)
    assert bad.status_code == 400
    assert_conforms(bad, "getUsage")
    ordering = {"x-api-key": await partner_key(history.partner, role="ordering")}
    forbidden = await api.get("/api/partner/usage", headers=ordering)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "insufficient_role"


async def test_usage_of_another_partner_is_empty(
    api: httpx.AsyncClient, history: History, factory: Any, partner_key: Any
) -> None:
    other, _ = await factory.partner(name="Other")
    body = (
        await api.get("/api/partner/usage", headers={"x-api-key": await partner_key(other)})
    ).json()
    assert body["orders"]["total"] == 0
    assert (body["spend"], body["averageOrderValue"], body["successRate"]) == ("0.00", "0.00", 0)
    assert body["topProducts"] == []


async def test_spend_forecast_matches_the_script(database: Database, history: History) -> None:
    async with database.read() as conn:
        view = await wallets.wallet_view(conn, partner_id=history.partner.id, now=NOW)
    # Net order spend in the 30 days before NOW: 392.50 debited - 157.50 refunded = 235.00;
    # 235.00 / 30 = 7.8333 → 7.83; 955.00 // 7.83 = 121 days → 2026-07-09.
    assert view.wallet.balance_minor == 95_500
    assert view.average_daily_spend_minor == 783
    assert view.projected_run_out_date == date(2026, 7, 9)


# -- statements ---------------------------------------------------------------------------------


async def _ledger_balance_before(database: Database, wallet_id: str, instant: datetime) -> int:
    async with database.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(ledger_entries.c.amount_minor).where(
                        ledger_entries.c.wallet_id == wallet_id,
                        ledger_entries.c.created_at < instant,
                    )
                )
            )
            .scalars()
            .all()
        )
    return sum(rows)


async def test_closed_month_statement_matches_the_ledger(
    api: httpx.AsyncClient, history: History, headers: dict[str, str], database: Database
) -> None:
    response = await api.get("/api/partner/statements/2026-02", headers=headers)
    assert response.status_code == 200, response.text
    assert_conforms(response, "getStatement")
    body = response.json()
    assert {
        k: body[k]
        for k in (
            "period",
            "currency",
            "openingBalance",
            "credits",
            "debits",
            "refunds",
            "adjustments",
            "closingBalance",
            "inProgress",
        )
    } == {
        "period": "2026-02",
        "currency": "USD",
        "openingBalance": "0.00",
        "credits": "1000.00",
        "debits": "-157.50",
        "refunds": "105.00",
        "adjustments": "-10.00",
        "closingBalance": "937.50",
        "inProgress": False,
    }
    assert [line["type"] for line in body["lines"]] == [
        "credit",
        "debit",
        "debit",
        "refund",
        "adjustment",
    ]
    # The closing balance is the ledger's balance at the month's end, and the last line's.
    month_end = at("2026-03-01T00:00:00")
    assert await _ledger_balance_before(database, history.wallet.id, month_end) == 93_750
    assert body["lines"][-1]["balanceAfter"] == body["closingBalance"]
    for before, after in zip(body["lines"], body["lines"][1:], strict=False):
        assert after["balanceBefore"] == before["balanceAfter"]


async def test_month_in_progress_says_so_and_closes_at_the_balance(
    api: httpx.AsyncClient, history: History, headers: dict[str, str], database: Database
) -> None:
    body = (await api.get("/api/partner/statements/2026-03", headers=headers)).json()
    assert body["inProgress"] is True
    assert body["generatedAt"] == "2026-03-10T12:00:00Z"
    assert (
        body["openingBalance"],
        body["credits"],
        body["debits"],
        body["refunds"],
        body["adjustments"],
        body["closingBalance"],
    ) == ("937.50", "200.00", "-235.00", "52.50", "0.00", "955.00")
    async with database.read() as conn:
        balance = (await wallets.get_wallet(conn, partner_id=history.partner.id)).balance_minor
        assert await ledger.ledger_sum(conn, wallet_id=history.wallet.id) == balance == 95_500
    # Opening of March is February's closing.
    february = (await api.get("/api/partner/statements/2026-02", headers=headers)).json()
    assert february["closingBalance"] == body["openingBalance"]


async def test_statement_csv_agrees_with_json(
    api: httpx.AsyncClient, history: History, headers: dict[str, str]
) -> None:
    as_json = (await api.get("/api/partner/statements/2026-03", headers=headers)).json()
    response = await api.get(
        "/api/partner/statements/2026-03", headers={**headers, "Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert_conforms(response, "getStatement")
    assert response.headers["content-type"].startswith("text/csv")
    assert "2026-03" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == [line["id"] for line in as_json["lines"]]
    for row, line in zip(rows, as_json["lines"], strict=True):
        for column in ("createdAt", "type", "amount", "currency", "balanceBefore", "balanceAfter"):
            assert row[column] == line[column]
        assert row["orderId"] == (line["orderId"] or "")
    # A description a spreadsheet would evaluate is quoted in the CSV only.
    formula = next(r for r in rows if r["type"] == "credit")
    assert formula["description"].startswith("'=HYPERLINK")
    total = sum((_cents(r["amount"]) for r in rows), 0)
    assert _cents(as_json["openingBalance"]) + total == _cents(as_json["closingBalance"])


def _cents(text: str) -> int:
    whole, _, frac = text.lstrip("-").partition(".")
    value = int(whole) * 100 + int(frac.ljust(2, "0"))
    return -value if text.startswith("-") else value


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv;q=0.9, application/json", "application/json"),
        ("application/json;q=0.1, text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("*/*", "application/json"),
    ],
)
async def test_statement_content_negotiation(
    api: httpx.AsyncClient,
    history: History,
    headers: dict[str, str],
    accept: str,
    expected: str,
) -> None:
    response = await api.get(
        "/api/partner/statements/2026-02", headers={**headers, "Accept": accept}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(expected)


async def test_statement_406_404_and_empty_past_month(
    api: httpx.AsyncClient, history: History, headers: dict[str, str]
) -> None:
    refused = await api.get(
        "/api/partner/statements/2026-02", headers={**headers, "Accept": "application/pdf"}
    )
    assert refused.status_code == 406
    assert refused.json()["code"] == "not_acceptable"
    assert_conforms(refused, "getStatement")
    future = await api.get("/api/partner/statements/2026-04", headers=headers)
    assert future.status_code == 404
    assert_conforms(future, "getStatement")
    malformed = await api.get("/api/partner/statements/2026-13", headers=headers)
    assert malformed.status_code == 404
    january = (await api.get("/api/partner/statements/2026-01", headers=headers)).json()
    assert (january["openingBalance"], january["closingBalance"], january["lines"]) == (
        "0.00",
        "0.00",
        [],
    )
    assert january["inProgress"] is False


async def test_statement_is_per_partner(
    api: httpx.AsyncClient, history: History, factory: Any, partner_key: Any
) -> None:
    other, _ = await factory.partner(name="Other")
    body = (
        await api.get(
            "/api/partner/statements/2026-02",
            headers={"x-api-key": await partner_key(other, role="finance")},
        )
    ).json()
    assert body["lines"] == []
    assert body["closingBalance"] == "0.00"


async def test_entries_at_the_month_boundary(
    api: httpx.AsyncClient,
    history: History,
    headers: dict[str, str],
    database: Database,
    clock: Any,
) -> None:
    # An entry at exactly 00:00:00 of April belongs to April, not March.
    async with database.write() as conn:
        await ledger.credit(
            conn,
            wallet_id=history.wallet.id,
            amount_minor=1,
            description="boundary",
            actor="system",
            now=datetime(2026, 4, 1, tzinfo=UTC),
        )
    clock.now = datetime(2026, 4, 2, tzinfo=UTC)
    march = (await api.get("/api/partner/statements/2026-03", headers=headers)).json()
    april = (await api.get("/api/partner/statements/2026-04", headers=headers)).json()
    assert march["inProgress"] is False
    assert march["closingBalance"] == "955.00"
    assert april["openingBalance"] == "955.00"
    assert april["closingBalance"] == "955.01"
    assert april["inProgress"] is True
    assert clock.now - timedelta(days=1) == datetime(2026, 4, 1, tzinfo=UTC)
