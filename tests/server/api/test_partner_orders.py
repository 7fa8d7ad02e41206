"""Orders over HTTP: quote → order → wallet, both idempotency layers, races, reads, the trail."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import ledger_entries
from steller_server.domain import orders as order_ops
from steller_server.domain.crypto import Cipher
from steller_server.domain.models import Card
from steller_server.settings import Settings
from tests.server.api.contract_check import assert_conforms
from tests.server.api.partner_support import (
    balance_and_ledger_sum,
    counts,
    onboard,
    order_body,
)

WORKED_SENTENCE = (
    "Partner Acme, wallet was 500.00 USD, bought 1 \u00d7 Amazon US 50.00, "
    "charged 52.50, balance 447.50"
)


@pytest.fixture
async def acme(factory: Any, partner_key: Any) -> tuple[Any, Any, dict[str, str]]:
    await factory.product()
    return await onboard(factory, partner_key, approve={"AMAZON-US-50": "-5"})


async def test_worked_example_quote_order_wallet_and_trail(
    api: httpx.AsyncClient, database: Database, acme: Any
) -> None:
    partner, wallet, headers = acme

    quote = await api.post(
        "/api/orders/quote",
        headers=headers,
        json={"sku": "AMAZON-US-50", "faceValue": "50.00", "quantity": 1},
    )
    assert quote.status_code == 200, quote.text
    assert_conforms(quote, "quoteOrder")
    q = quote.json()
    assert (q["unitPrice"], q["total"], q["currency"]) == ("52.50", "52.50", "USD")
    assert (q["walletBalance"], q["sufficientFunds"]) == ("500.00", True)
    assert q["discountPercent"] == "-5.00"

    placed = await api.post("/api/orders", headers=headers, json=order_body())
    assert placed.status_code == 202, placed.text
    assert_conforms(placed, "createOrder")
    order = placed.json()
    assert order["status"] == "processing"
    assert order["total"] == q["total"]
    assert order["quantityFulfilled"] == 0
    assert "cards" not in order

    wallet_body = (await api.get("/api/wallet/me", headers=headers)).json()
    assert wallet_body["balance"] == "447.50"  # 500.00 - exactly the quoted 52.50

    txns = await api.get(
        "/api/wallet/transactions", headers=headers, params={"orderId": order["id"]}
    )
    assert_conforms(txns, "listWalletTransactions")
    [debit] = txns.json()["data"]
    assert (debit["type"], debit["amount"]) == ("debit", "-52.50")
    assert (debit["balanceBefore"], debit["balanceAfter"]) == ("500.00", "447.50")
    assert debit["actor"] == f"partner:{partner.id}"

    trail = await api.get(f"/api/orders/{order['id']}/trail", headers=headers)
    assert trail.status_code == 200
    assert_conforms(trail, "getOrderTrail")
    t = trail.json()
    assert t["sentence"] == WORKED_SENTENCE
    assert (t["walletBefore"], t["charged"], t["walletAfter"]) == ("500.00", "52.50", "447.50")
    assert (t["refundedTotal"], t["netCharged"], t["refunds"]) == ("0.00", "52.50", [])
    assert [e["id"] for e in t["ledger"]] == [debit["id"]]

    balance, ledger_sum = await balance_and_ledger_sum(database, wallet.id)
    assert balance == ledger_sum == 44750


async def test_same_reference_twice_is_one_order_and_one_debit(
    api: httpx.AsyncClient, database: Database, acme: Any
) -> None:
    _, wallet, headers = acme
    first = await api.post("/api/orders", headers=headers, json=order_body("ref-7"))
    # Same body, decimals written differently: the same order.
    second = await api.post("/api/orders", headers=headers, json=order_body("ref-7", face="50"))
    assert (first.status_code, second.status_code) == (202, 200)
    assert_conforms(second, "createOrder")
    assert second.json()["id"] == first.json()["id"]
    assert "idempotent-replayed" not in second.headers

    conflict = await api.post("/api/orders", headers=headers, json=order_body("ref-7", quantity=2))
    assert conflict.status_code == 409
    assert_conforms(conflict, "createOrder")
    assert conflict.json()["code"] == "reference_conflict"

    assert (await counts(database))["orders"] == 1
    assert await balance_and_ledger_sum(database, wallet.id) == (44750, 44750)


async def test_insufficient_funds_is_402_and_writes_nothing(
    api: httpx.AsyncClient, database: Database, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    _, wallet, headers = await onboard(
        factory, partner_key, balance="52.49", approve={"AMAZON-US-50": "-5"}
    )
    before = await counts(database)

    response = await api.post("/api/orders", headers=headers, json=order_body())

    assert response.status_code == 402
    assert_conforms(response, "createOrder")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_funds"
    assert await counts(database) == before  # no order, no ledger row, no job
    assert await balance_and_ledger_sum(database, wallet.id) == (5249, 5249)
    listed = await api.get("/api/orders", headers=headers)
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (order_body(expectedTotal="52.49"), 422, "price_above_expected_total"),
        (order_body(face="25.00"), 422, "invalid_face_value"),
        (order_body(sku="NOT-APPROVED"), 422, "product_not_available"),
        (order_body(quantity=101), 400, "validation_failed"),
        (order_body(face="50.001"), 422, "invalid_face_value"),
    ],
)
async def test_orders_refused_before_money_moves(
    api: httpx.AsyncClient,
    database: Database,
    acme: Any,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    _, wallet, headers = acme
    response = await api.post("/api/orders", headers=headers, json=body)
    assert response.status_code == status, response.text
    assert_conforms(response, "createOrder")
    assert response.json()["code"] == code
    assert (await counts(database))["orders"] == 0
    assert await balance_and_ledger_sum(database, wallet.id) == (50000, 50000)


async def test_expected_total_at_the_price_is_accepted(api: httpx.AsyncClient, acme: Any) -> None:
    _, _, headers = acme
    response = await api.post(
        "/api/orders", headers=headers, json=order_body(expectedTotal="52.50")
    )
    assert response.status_code == 202


async def test_unknown_field_in_the_order_is_400_with_its_pointer(
    api: httpx.AsyncClient, database: Database, acme: Any
) -> None:
    _, _, headers = acme
    response = await api.post("/api/orders", headers=headers, json=order_body(colour="blue"))
    assert response.status_code == 400
    assert_conforms(response, "createOrder")
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"] == [{"pointer": "/colour", "message": "unknown field"}]
    assert (await counts(database))["orders"] == 0


async def test_idempotency_key_replays_the_stored_response(
    api: httpx.AsyncClient, database: Database, acme: Any
) -> None:
    _, wallet, headers = acme
    keyed = {**headers, "Idempotency-Key": "retry-1"}
    first = await api.post("/api/orders", headers=keyed, json=order_body("ref-a"))
    replay = await api.post("/api/orders", headers=keyed, json=order_body("ref-a"))

    assert (first.status_code, replay.status_code) == (202, 202)
    assert_conforms(replay, "createOrder")
    assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert replay.json() == first.json()

    reused = await api.post("/api/orders", headers=keyed, json=order_body("ref-b"))
    assert reused.status_code == 422
    assert_conforms(reused, "createOrder")
    assert reused.json()["code"] == "idempotency_key_reused"

    assert (await counts(database))["orders"] == 1
    assert await balance_and_ledger_sum(database, wallet.id) == (44750, 44750)


async def test_a_refused_order_is_replayed_as_refused(
    api: httpx.AsyncClient, database: Database, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    _, _, headers = await onboard(
        factory, partner_key, balance="10.00", approve={"AMAZON-US-50": "-5"}
    )
    keyed = {**headers, "Idempotency-Key": "k-402"}
    first = await api.post("/api/orders", headers=keyed, json=order_body())
    replay = await api.post("/api/orders", headers=keyed, json=order_body())
    assert (first.status_code, replay.status_code) == (402, 402)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"] == "application/problem+json"
    assert_conforms(replay, "createOrder")
    assert (await counts(database))["orders"] == 0


async def test_fifty_concurrent_requests_with_one_idempotency_key_make_one_order(
    api: httpx.AsyncClient, database: Database, acme: Any
) -> None:
    _, wallet, headers = acme
    keyed = {**headers, "Idempotency-Key": "burst-1"}
    await api.get("/api/partner/me", headers=headers)  # a key in use: no last-used write per call

    responses = await asyncio.gather(
        *[api.post("/api/orders", headers=keyed, json=order_body("burst")) for _ in range(50)]
    )

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}, statuses
    assert statuses[202] >= 1
    for response in responses:
        assert_conforms(response, "createOrder")
        if response.status_code == 409:
            assert response.json()["code"] == "idempotency_in_progress"
            assert response.headers["retry-after"]
    assert len({r.json()["id"] for r in responses if r.status_code == 202}) == 1
    assert (await counts(database))["orders"] == 1
    assert await balance_and_ledger_sum(database, wallet.id) == (44750, 44750)


async def test_200_concurrent_orders_on_a_wallet_funded_for_100(
    api: httpx.AsyncClient, database: Database, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    _, wallet, headers = await onboard(
        factory, partner_key, balance="5250.00", approve={"AMAZON-US-50": "-5"}
    )
    await api.get("/api/partner/me", headers=headers)  # a key in use: no last-used write per call

    responses = await asyncio.gather(
        *[
            api.post("/api/orders", headers=headers, json=order_body(f"race-{i}"))
            for i in range(200)
        ]
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {202: 100, 402: 100}, statuses
    assert all(r.json()["code"] == "insufficient_funds" for r in responses if r.status_code == 402)
    assert (await counts(database))["orders"] == 100
    assert await balance_and_ledger_sum(database, wallet.id) == (0, 0)


async def test_list_orders_filters_and_pages(
    api: httpx.AsyncClient, clock: Any, factory: Any, partner_key: Any
) -> None:
    await factory.product()
    await factory.product(
        "STEAM-US-20",
        name="Steam US",
        brand_name="Steam",
        min_face_minor=2000,
        max_face_minor=2000,
        cost_min_minor=1800,
        cost_max_minor=1800,
    )
    _, _, headers = await onboard(
        factory, partner_key, balance="1000.00", approve={"AMAZON-US-50": "-5", "STEAM-US-20": "0"}
    )
    start = clock()
    for i in range(5):
        sku, face = ("AMAZON-US-50", "50.00") if i % 2 == 0 else ("STEAM-US-20", "20.00")
        response = await api.post(
            "/api/orders", headers=headers, json=order_body(f"list-{i}", sku=sku, face=face)
        )
        assert response.status_code == 202
        clock.advance(minutes=1)

    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await api.get("/api/orders", headers=headers, params=params)
        assert response.status_code == 200
        assert_conforms(response, "listOrders")
        body = response.json()
        pages.append([o["referenceId"] for o in body["data"]])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == [["list-4", "list-3"], ["list-2", "list-1"], ["list-0"]]  # newest first

    steam = (await api.get("/api/orders", headers=headers, params={"sku": "STEAM-US-20"})).json()[
        "data"
    ]
    assert [o["referenceId"] for o in steam] == ["list-3", "list-1"]
    by_ref = (
        await api.get("/api/orders", headers=headers, params={"referenceId": "list-2"})
    ).json()["data"]
    assert [o["referenceId"] for o in by_ref] == ["list-2"]
    window = await api.get(
        "/api/orders",
        headers=headers,
        params={
            "from": (start.replace(microsecond=0) + _minutes(1)).isoformat().replace("+00:00", "Z"),
            "to": (start + _minutes(3)).isoformat().replace("+00:00", "Z"),
        },
    )
    assert [o["referenceId"] for o in window.json()["data"]] == ["list-2", "list-1"]
    processing = (
        await api.get("/api/orders", headers=headers, params={"status": "completed"})
    ).json()["data"]
    assert processing == []

    bad = await api.get("/api/orders", headers=headers, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
    assert_conforms(bad, "listOrders")
    assert bad.json()["code"] == "invalid_cursor"
    bad_status = await api.get("/api/orders", headers=headers, params={"status": "lost"})
    assert bad_status.status_code == 400
    assert bad_status.json()["errors"][0]["pointer"] == "/query/status"


def _minutes(n: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=n)


async def test_cards_only_for_the_owner_once_delivered(
    api: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    acme: Any,
    factory: Any,
    partner_key: Any,
) -> None:
    _, _, headers = acme
    _, _, other = await onboard(factory, partner_key, name="Other")
    order = (await api.post("/api/orders", headers=headers, json=order_body())).json()

    processing = await api.get(f"/api/orders/{order['id']}", headers=headers)
    assert processing.status_code == 200
    assert_conforms(processing, "getOrder")
    assert processing.json()["status"] == "processing"
    assert "cards" not in processing.json()

    async with database.write() as conn:
        await order_ops.complete_order(
            conn,
            order_id=order["id"],
            cipher=Cipher(settings.effective_secret_key),
            cards=[Card(serial_number="SN-1", code="CODE-SECRET-1", pin="1234")],
        )
    done = await api.get(f"/api/orders/{order['id']}", headers=headers)
    assert_conforms(done, "getOrder")
    body = done.json()
    assert (body["status"], body["quantityFulfilled"]) == ("completed", 1)
    assert body["cards"] == [
        {"serialNumber": "SN-1", "code": "CODE-SECRET-1", "pin": "1234", "expiresAt": None}
    ]
    listed = (await api.get("/api/orders", headers=headers)).json()["data"]
    assert "cards" not in listed[0]

    # Another partner cannot see it at all, cards or not.
    for path in (f"/api/orders/{order['id']}", f"/api/orders/{order['id']}/trail"):
        response = await api.get(path, headers=other)
        assert response.status_code == 404
        assert_conforms(response, "getOrder" if path.endswith(order["id"]) else "getOrderTrail")
        assert "CODE-SECRET-1" not in response.text
    assert (await api.get("/api/orders", headers=other)).json()["data"] == []
    missing = await api.get("/api/orders/ord_doesnotexist00000000", headers=headers)
    assert missing.status_code == 404
    malformed = await api.get("/api/orders/nope", headers=headers)
    assert malformed.status_code == 404


async def test_trail_tells_refunds(api: httpx.AsyncClient, database: Database, acme: Any) -> None:
    _, _, headers = acme
    order = (await api.post("/api/orders", headers=headers, json=order_body())).json()
    async with database.write() as conn:
        await order_ops.fail_order(conn, order_id=order["id"], reason="vendor said no")

    trail = await api.get(f"/api/orders/{order['id']}/trail", headers=headers)
    assert_conforms(trail, "getOrderTrail")
    t = trail.json()
    assert (t["charged"], t["refundedTotal"], t["netCharged"]) == ("52.50", "52.50", "0.00")
    assert [r["amount"] for r in t["refunds"]] == ["52.50"]
    assert [e["type"] for e in t["ledger"]] == ["debit", "refund"]
    assert t["sentence"].startswith(WORKED_SENTENCE)
    assert "refunded 52.50" in t["sentence"]
    assert t["sentence"].endswith("balance 500.00")
    async with database.read() as conn:
        rows = (
            await conn.execute(
                select(ledger_entries.c.type).where(ledger_entries.c.order_id == order["id"])
            )
        ).all()
    assert sorted(r.type for r in rows) == ["debit", "refund"]
