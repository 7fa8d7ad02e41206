"""The asynchronous order lifecycle on an injectable clock, cards, refunds and order statuses."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from steller_sandbox import Simulator, SimulatorConfig, create_app


@pytest.fixture
def config(clock):
    return SimulatorConfig(limits_enabled=False, clock=clock, latency=2.0, slow_seconds=30.0)


def _cards(order):
    return [card for item in order["items"] for card in item["cards"]]


async def test_created_then_processing_then_succeeded_with_sold_cards(bamboo, client, sim, clock):
    product = sim.catalog.by_sku["AMZ-US-25"]
    request_id = bamboo.new_request_id()
    assert (
        await bamboo.checkout([bamboo.line(product.id, 25, 2)], request_id=request_id)
    ).is_success

    created = await bamboo.get_order(request_id)
    assert created["status"] == "Created"
    assert {c["status"] for c in _cards(created)} == {"Created"}
    assert all(c["cardCode"] is None for c in _cards(created))

    clock.advance(1.0)
    processing = await bamboo.get_order(request_id)
    assert processing["status"] == "Processing"
    assert {c["status"] for c in _cards(processing)} == {"Processing"}

    clock.advance(1.0)
    done = await bamboo.get_order(request_id)
    assert done["status"] == "Succeeded"
    cards = _cards(done)
    assert len(cards) == 2
    for card in cards:
        assert card["status"] == "Sold"
        assert re.fullmatch(r"[0-9a-f]{32}", card["cardCode"])
        assert re.fullmatch(r"[0-9a-f-]{36}", card["serialNumber"])
        assert card["pin"]
        assert card["expirationDate"].startswith("2025-05-16T04:36:35")
    assert done["createdDate"].startswith("2024-05-16T04:36:35")
    assert done["orderType"] == "Sandbox"
    assert done["total"] == product.unit_price(Decimal(25)) * 2
    assert done["errorMessage"] is None
    assert done["items"][0]["status"] == "Succeeded"


async def test_failed_has_no_sold_cards_total_zero_and_full_refund(bamboo, client, sim, clock):
    product = sim.catalog.by_sku["AMZ-US-VAR"]
    before = sim.accounts[1001].balance
    request_id = bamboo.new_request_id()
    assert (
        await bamboo.checkout([bamboo.line(product.id, "13.13", 3)], request_id=request_id)
    ).is_success
    assert sim.accounts[1001].balance < before  # charged at acceptance
    clock.advance(2.0)
    order = await bamboo.get_order(request_id)
    assert order["status"] == "Failed"
    assert order["total"] == 0
    assert order["errorMessage"]
    assert {c["status"] for c in _cards(order)} == {"Failed"}
    assert all(c["cardCode"] is None and c["pin"] is None for c in _cards(order))
    assert sim.accounts[1001].balance == before
    assert [t.type for t in sim.transactions if t.order.request_id == request_id] == [
        "Order",
        "Refund",
    ]


async def test_partial_failed_charges_only_sold_cards(bamboo, client, sim, clock):
    product = sim.catalog.by_sku["AMZ-GB-VAR"]  # GBP, into a USD account
    before = sim.accounts[1001].balance
    request_id = bamboo.new_request_id()
    assert (
        await bamboo.checkout([bamboo.line(product.id, "22.22", 4)], request_id=request_id)
    ).is_success
    clock.advance(2.0)
    order = await bamboo.get_order(request_id)
    assert order["status"] == "PartialFailed"
    cards = _cards(order)
    sold = [c for c in cards if c["status"] == "Sold"]
    failed = [c for c in cards if c["status"] == "Failed"]
    assert len(sold) == 2
    assert len(failed) == 2
    assert all(c["cardCode"] for c in sold)
    assert all(c["cardCode"] is None for c in failed)
    unit_cost = sim.convert(product.unit_price(Decimal("22.22")), "GBP", "USD")
    assert order["total"] == unit_cost * 2
    assert before - sim.accounts[1001].balance == unit_cost * 2
    assert order["errorMessage"]


async def test_failed_cards_go_back_to_stock(bamboo, client, sim, clock):
    low = sim.catalog.by_sku["SIM-LOW-10"]
    fail = sim.catalog.by_sku["SIM-FAIL-10"]
    request_id = bamboo.new_request_id()
    response = await bamboo.checkout(
        [bamboo.line(low.id, 10, 2), bamboo.line(fail.id, 10)], request_id=request_id
    )
    assert response.is_success
    assert sim.stock(low.id) == 1
    clock.advance(2.0)
    assert (await bamboo.get_order(request_id))["status"] == "Failed"
    assert sim.stock(low.id) == 3


async def test_slow_order_is_pending_until_slow_seconds(bamboo, client, sim, clock):
    product = sim.catalog.by_sku["GPL-US-VAR"]
    request_id = bamboo.new_request_id()
    assert (
        await bamboo.checkout([bamboo.line(product.id, "33.33")], request_id=request_id)
    ).is_success
    clock.advance(5.0)
    assert (await bamboo.get_order(request_id))["status"] == "Pending"
    clock.advance(24.0)
    assert (await bamboo.get_order(request_id))["status"] == "Pending"
    clock.advance(1.0)
    assert (await bamboo.get_order(request_id))["status"] == "Succeeded"


async def test_unknown_order_is_404_order_not_found(bamboo, client):
    response = await client.get(f"/api/integration/v1.0/orders/{bamboo.new_request_id()}")
    assert response.status_code == 404
    assert response.json() == {"message": "OrderNotFound"}
    not_a_guid = await client.get("/api/integration/v1.0/orders/whatever")
    assert not_a_guid.status_code == 404


async def test_orders_are_invisible_to_the_other_environment(bamboo, app, client, sim, clock):
    request_id = bamboo.new_request_id()
    await bamboo.checkout(
        [bamboo.line(sim.catalog.by_sku["SIM-OK-10"].id, 10)], request_id=request_id
    )
    async with bamboo.other_client(app, "steller-production", "production-secret") as production:
        response = await production.get(f"/api/integration/v1.0/orders/{request_id}")
    assert response.status_code == 404


async def test_zero_latency_orders_are_final_on_first_read(bamboo):
    from_conftest = type(bamboo)
    fast = create_app(SimulatorConfig(limits_enabled=False))
    simulator: Simulator = fast.state.simulator
    async with bamboo.other_client(fast, "steller-sandbox", "sandbox-secret") as http:
        harness = from_conftest(http, simulator)
        request_id = harness.new_request_id()
        product_id = harness.product_id("SIM-OK-10")
        assert (
            await harness.checkout([harness.line(product_id, 10)], request_id=request_id)
        ).is_success
        assert (await harness.get_order(request_id))["status"] == "Succeeded"
