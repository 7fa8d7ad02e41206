"""BambooClient's typed results and error mapping, over real HTTP to the simulator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from steller_server.vendor import (
    Account,
    BambooClient,
    OrderLine,
    VendorAuthError,
    VendorOrder,
    VendorOrderNotFound,
    VendorRejected,
)


def _line(sim, sku: str, value: str | int, quantity: int = 1) -> OrderLine:
    return OrderLine(sim.catalog.by_sku[sku].id, quantity, Decimal(value))


async def test_catalog_page_is_typed_with_decimals(bamboo, sim):
    page = await bamboo.get_catalog_page(0, 10)
    assert page.page_index == 0
    assert page.page_size == 10
    assert page.count == len(sim.catalog.brands)
    assert len(page.items) == 10
    product = page.items[0].products[0]
    assert isinstance(product.min_face_value, Decimal)
    assert isinstance(product.price.min, Decimal)
    assert product.sku
    assert product.modified is not None
    assert product.modified.tzinfo is UTC


async def test_iter_catalog_reads_every_page_once(bamboo, sim):
    brands = [brand async for brand in bamboo.iter_catalog(page_size=30)]
    assert [b.internal_id for b in brands] == [b.internal_id for b in sim.catalog.brands]
    pages = [r for r in sim.request_log if r.endpoint == "catalog"]
    assert len(pages) == -(-len(brands) // 30)


async def test_catalog_filters_reach_the_vendor(bamboo):
    page = await bamboo.get_catalog_page(currency_code="EUR", target_currency="USD")
    assert page.count > 0
    assert {b.currency_code for b in page.items} == {"EUR"}
    assert {p.price.currency for b in page.items for p in b.products} == {"USD"}


async def test_accounts(bamboo):
    accounts = await bamboo.get_accounts()
    usd = next(a for a in accounts if a.id == 1001)
    assert usd == Account(
        id=1001, currency="USD", balance=Decimal("100000"), is_active=True, sandbox_mode=True
    )


async def test_place_then_get_order_with_sold_cards(bamboo, sim):
    request_id = uuid.uuid4()
    accepted = await bamboo.place_order(request_id, 1001, [_line(sim, "AMZ-US-50", 50, 2)])
    assert accepted == str(request_id)
    order = await bamboo.get_order(request_id)
    assert isinstance(order, VendorOrder)
    assert order.status == "Succeeded"
    assert order.is_final
    assert len(order.sold_cards) == 2
    assert all(len(card.card_code or "") == 32 for card in order.sold_cards)
    assert order.total == sim.catalog.by_sku["AMZ-US-50"].unit_price(Decimal(50)) * 2
    assert order.currency == "USD"
    assert sim.order_count(str(request_id)) == 1


async def test_an_existing_request_id_returns_the_existing_order(bamboo, sim):
    request_id = str(uuid.uuid4())
    lines = [_line(sim, "SIM-OK-10", 10)]
    assert await bamboo.place_order(request_id, 1001, lines) == request_id
    again = await bamboo.place_order(request_id, 1001, lines)
    assert isinstance(again, VendorOrder)
    assert again.request_id == request_id
    assert sim.order_count(request_id) == 1


async def test_rejections_carry_the_reason_code(bamboo, sim):
    request_id = uuid.uuid4()
    with pytest.raises(VendorRejected) as info:
        await bamboo.place_order(request_id, 1005, [_line(sim, "SIM-OK-10", 10)])
    assert info.value.reason_code == "InsufficientBalance"
    assert info.value.status_code == 400
    assert sim.order_count(str(request_id)) == 0


async def test_unknown_order_is_order_not_found(bamboo):
    with pytest.raises(VendorOrderNotFound):
        await bamboo.get_order(uuid.uuid4())


@pytest.mark.parametrize(
    ("client_id", "secret", "status"),
    [("steller-forbidden", "forbidden-secret", 403), ("steller-sandbox", "nope", 401)],
)
async def test_auth_errors(sim_url, client_id, secret, status):
    async with BambooClient(sim_url, client_id, secret) as bad:
        with pytest.raises(VendorAuthError) as info:
            await bad.get_accounts()
    assert info.value.status_code == status


async def test_exchange_rates(bamboo):
    default = await bamboo.get_exchange_rates()
    assert default.base == "USD"
    assert default.rates["EUR"] == Decimal("0.92")
    pair = await bamboo.get_exchange_rates("EUR", "GBP")
    assert list(pair.rates) == ["GBP"]


async def test_reports(bamboo, sim):
    request_id = str(uuid.uuid4())
    await bamboo.place_order(request_id, 1002, [_line(sim, "AMZ-US-25", 25, 2)])
    await bamboo.get_order(request_id)  # final
    today = datetime.now(UTC).date()
    [tx] = await bamboo.get_transactions(today, today)
    assert tx.request_id == request_id
    assert tx.transaction_id == tx.transaction_id.strip()
    assert tx.currency == "EUR"
    assert tx.available_balance == sim.accounts[1002].balance
    [row] = await bamboo.get_orders_report(today, today)
    assert row.request_id == request_id
    assert row.quantity == 2
    assert row.status == "Succeeded"
    assert row.account_currency == "EUR"


async def test_notification_round_trip(bamboo):
    stored = await bamboo.set_notification(
        notification_url="https://steller.example/hooks/bamboo",
        notification_url_sandbox="https://sandbox.steller.example/hooks/bamboo",
        secret_key="k",
    )
    assert stored.secret_key == "k"
    assert await bamboo.get_notification() == stored
