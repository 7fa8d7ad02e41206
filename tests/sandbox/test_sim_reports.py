"""Transactions and orders reports (dates, quirks, environments) and exchange rates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

TRANSACTIONS = "/api/Integration/v1/transactions"
ORDERS = "/api/Integration/v1/orders"
RATES = "/api/integration/v1.0/exchange-rates"
DAY = {"startDate": "2024-05-16", "endDate": "2024-05-16"}


async def _transactions(client, **params):
    response = await client.get(TRANSACTIONS, params=params or DAY)
    assert response.status_code == 200, response.text
    return response.json(parse_float=Decimal)


async def test_transactions_report_shape_and_quirks(bamboo, client, sim, clock):
    product = sim.catalog.by_sku["AMZ-US-50"]
    request_id = bamboo.new_request_id()
    response = await bamboo.checkout([bamboo.line(product.id, 50, 2)], request_id=request_id)
    assert response.is_success
    report = await _transactions(client)
    assert report["startDate"] == "2024-05-16T00:00:00"
    assert report["endDate"] == "2024-05-16T23:59:59"
    [client_block] = report["clients"]
    [tx] = client_block["transactions"]
    assert tx["requestId"] == request_id
    assert tx["transactionId"].endswith(" ")
    assert tx["transactionType"] == "Order"
    assert tx["orderNumber"] == f"O-{tx['orderId']:08d}"
    assert tx["availableBalance"] == {"value": sim.accounts[1001].balance, "currencyCode": "USD"}
    assert tx["transactionAmount"]["value"] == product.unit_price(Decimal(50)) * 2
    [item] = tx["orderItems"]
    assert item["clientExchangeRate"]["exchangeRate"] == 0
    assert item["denomination"] == {"value": 50, "currencyCode": "USD"}
    assert item["quantity"] == 2


async def test_cross_currency_transaction_reports_the_rate(bamboo, client, sim):
    product = sim.catalog.by_sku["STM-DE-25"]
    await bamboo.checkout([bamboo.line(product.id, 25)], account_id=1001)
    [tx] = (await _transactions(client))["clients"][0]["transactions"]
    rate = tx["orderItems"][0]["clientExchangeRate"]
    assert rate["fromCurrency"] == "EUR"
    assert rate["toCurrency"] == "USD"
    assert rate["exchangeRate"] == sim.rate("EUR", "USD")


async def test_refunds_appear_as_a_second_transaction(bamboo, client, sim, clock):
    request_id = bamboo.new_request_id()
    fail = bamboo.product_id("SIM-FAIL-10")
    await bamboo.checkout([bamboo.line(fail, 10)], request_id=request_id)
    await bamboo.get_order(request_id)
    txs = (await _transactions(client))["clients"][0]["transactions"]
    assert [t["transactionType"] for t in txs] == ["Order", "Refund"]
    assert txs[1]["transactionAmount"]["value"] == -txs[0]["transactionAmount"]["value"]
    assert txs[1]["availableBalance"]["value"] == sim.accounts[1001].balance


async def test_end_date_is_inclusive_to_the_last_second(bamboo, client, sim, clock):
    clock.set(datetime(2024, 5, 16, 23, 59, 59, 900000, tzinfo=UTC))
    await bamboo.checkout([bamboo.line(bamboo.product_id("SIM-OK-10"), 10)])
    assert len((await _transactions(client))["clients"][0]["transactions"]) == 1
    later = await _transactions(client, startDate="2024-05-17", endDate="2024-05-20")
    assert later["clients"][0]["transactions"] == []
    earlier = await _transactions(client, startDate="2024-05-01", endDate="2024-05-15")
    assert earlier["clients"][0]["transactions"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"startDate": "2024-05-16"},
        {"startDate": "16/05/2024", "endDate": "2024-05-16"},
        {"startDate": "2024-05-17", "endDate": "2024-05-16"},
    ],
)
@pytest.mark.parametrize("path", [TRANSACTIONS, ORDERS])
async def test_report_dates_are_required_and_ordered(client, path, params):
    response = await client.get(path, params=params)
    assert response.status_code == 400
    assert "message" in response.json()


async def test_orders_report_is_flat_rows_per_line(bamboo, client, sim, clock):
    request_id = bamboo.new_request_id()
    products = [
        bamboo.line(bamboo.product_id("AMZ-US-25"), 25, 2),
        bamboo.line(bamboo.product_id("AMZ-US-VAR"), "17.5"),
    ]
    await bamboo.checkout(products, request_id=request_id)
    clock.advance(1)
    rows = (await client.get(ORDERS, params=DAY)).json(parse_float=Decimal)
    assert isinstance(rows, list)
    assert len(rows) == 2
    for row in rows:
        assert row["clientReferenceNumber"] == request_id
        assert row["orderDate"] == "2024-05-16T00:00:00"
        assert row["channel"] == "Sandbox"
        assert row["status"] == "Succeeded"
        assert row["accountCurrency"] == "USD"
    assert rows[0]["denomination"] == "USD 25"
    assert rows[0]["quantity"] == 2
    assert rows[0]["subTotal"] == rows[0]["unitPrice"] * 2
    assert rows[1]["denomination"] == "USD 17.5"


async def test_reports_are_separate_per_environment(bamboo, app, sim):
    await bamboo.checkout([bamboo.line(bamboo.product_id("SIM-OK-10"), 10)])
    async with bamboo.other_client(app, "steller-production", "production-secret") as production:
        rows = (await production.get(ORDERS, params=DAY)).json()
        txs = (await production.get(TRANSACTIONS, params=DAY)).json()
    assert rows == []
    assert txs["clients"][0]["transactions"] == []


async def test_exchange_rates_default_to_usd_base(client, sim):
    body = (await client.get(RATES)).json(parse_float=Decimal)
    assert body["baseCurrencyCode"] == "USD"
    rates = {r["currencyCode"]: r["value"] for r in body["rates"]}
    assert rates["EUR"] == Decimal("0.92")
    assert rates["AED"] == Decimal("3.6725")
    assert "USD" not in rates


async def test_exchange_rates_for_a_base_and_a_single_pair(client, sim):
    aed = (await client.get(RATES, params={"baseCurrency": "AED"})).json(parse_float=Decimal)
    assert aed["baseCurrencyCode"] == "AED"
    assert {r["currencyCode"] for r in aed["rates"]} >= {"USD", "EUR", "GBP", "INR"}
    pair = (await client.get(RATES, params={"baseCurrency": "EUR", "currency": "GBP"})).json(
        parse_float=Decimal
    )
    assert pair["rates"] == [{"currencyCode": "GBP", "value": sim.rate("EUR", "GBP")}]
    assert sim.rate("EUR", "GBP") == (Decimal("0.79") / Decimal("0.92")).quantize(
        Decimal("0.000001")
    )
    unknown = await client.get(RATES, params={"baseCurrency": "XXX"})
    assert unknown.status_code == 400
