"""Simulator-only /_sim endpoints: fault injection, inspection, reset, top-up."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from steller_sandbox import SimulatorConfig

ACCOUNTS = "/api/integration/v1.0/accounts"


@pytest.fixture
def config(clock):
    return SimulatorConfig(limits_enabled=False, clock=clock, timeout_hang_seconds=5.0)


async def test_burst_429_answers_the_next_n_vendor_calls(client):
    response = await client.post("/_sim/faults", json={"burst_429": 2, "burst_429_seconds": 7})
    assert response.json()["burst_429"] == 2
    for _ in range(2):
        limited = await client.get(ACCOUNTS)
        assert limited.status_code == 429
        assert "Please wait for 7 seconds." in limited.text
    assert (await client.get(ACCOUNTS)).status_code == 200


async def test_burst_until_switched_off(client):
    await client.post("/_sim/faults", json={"burst_429": -1})
    for _ in range(3):
        assert (await client.get(ACCOUNTS)).status_code == 429
    await client.post("/_sim/faults", json={"burst_429": 0})
    assert (await client.get(ACCOUNTS)).status_code == 200


async def test_error_rate_one_makes_every_call_5xx_and_checkout_creates_nothing(bamboo, client):
    await client.post("/_sim/faults", json={"error_rate": 1.0, "error_status": 500})
    assert (await client.get(ACCOUNTS)).status_code == 500
    request_id = bamboo.new_request_id()
    response = await bamboo.checkout(
        [bamboo.line(bamboo.product_id("SIM-OK-10"), 10)], request_id=request_id
    )
    assert response.status_code == 500
    assert bamboo.sim.order_count(request_id) == 0


async def test_error_rate_is_a_seeded_probability(client):
    await client.post("/_sim/faults", json={"error_rate": 0.5})
    statuses = [(await client.get(ACCOUNTS)).status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35
    assert set(statuses) == {200, 503}


async def test_timeout_rate_on_checkout_creates_the_order_then_hangs(bamboo, client):
    await client.post("/_sim/faults", json={"timeout_rate": 1.0})
    request_id = bamboo.new_request_id()
    products = [bamboo.line(bamboo.product_id("SIM-OK-10"), 10)]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bamboo.checkout(products, request_id=request_id), timeout=0.1)
    assert bamboo.sim.order_count(request_id) == 1


async def test_unknown_fault_is_rejected(client):
    response = await client.post("/_sim/faults", json={"explode": True})
    assert response.status_code == 400
    assert (await client.get("/_sim/faults")).json()["error_rate"] == 0.0


async def test_orders_inspection_reset_and_top_up(bamboo, client, sim):
    request_id = bamboo.new_request_id()
    await bamboo.checkout([bamboo.line(bamboo.product_id("SIM-LOW-10"), 10)], request_id=request_id)
    [listed] = (await client.get("/_sim/orders")).json()
    assert listed["requestId"] == request_id
    assert listed["checkoutAttempts"] == 1
    assert sim.stock(bamboo.product_id("SIM-LOW-10")) == 2

    topped = await client.post("/_sim/accounts/1005/topup", json={"amount": "100.5"})
    assert topped.status_code == 200
    assert sim.accounts[1005].balance == Decimal("105.5000")

    assert (await client.post("/_sim/reset")).status_code == 200
    assert (await client.get("/_sim/orders")).json() == []
    assert sim.order_count(request_id) == 0
    assert sim.accounts[1005].balance == Decimal("5.0000")
    assert sim.stock(bamboo.product_id("SIM-LOW-10")) == 3
    accounts = (await client.get("/_sim/accounts")).json()
    assert {a["id"] for a in accounts} >= {1001, 1005, 2001}
