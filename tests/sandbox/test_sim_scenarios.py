"""Every scenario trigger, by magic face value on a range product and by special SKU."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest

from steller_sandbox import MAGIC_FACE_VALUES, SCENARIO_SKUS, Scenario, SimulatorConfig

RANGE_PRODUCTS = ["AMZ-US-VAR", "GPL-AE-VAR", "SIM-US-VAR"]


@pytest.fixture
def config(clock):
    return SimulatorConfig(
        limits_enabled=False,
        clock=clock,
        latency=1.0,
        slow_seconds=20.0,
        timeout_hang_seconds=5.0,
        scenario_retry_after_seconds=3,
    )


def _triggers(scenario: Scenario) -> list[tuple[str, Decimal]]:
    [value] = [v for v, s in MAGIC_FACE_VALUES.items() if s is scenario]
    [sku] = [k for k, s in SCENARIO_SKUS.items() if s is scenario]
    return [(p, value) for p in RANGE_PRODUCTS] + [(sku, Decimal(10))]


def _params(scenario: Scenario):
    return pytest.mark.parametrize(("sku", "value"), _triggers(scenario))


def test_every_scenario_has_a_magic_value_and_a_sku():
    assert set(MAGIC_FACE_VALUES.values()) == set(Scenario)
    assert set(SCENARIO_SKUS.values()) == set(Scenario)


async def _final(bamboo, clock, request_id, seconds=1.0):
    clock.advance(seconds)
    return await bamboo.get_order(request_id)


@_params(Scenario.FAIL)
async def test_vendor_failure(bamboo, clock, sku, value):
    request_id = bamboo.new_request_id()
    response = await bamboo.checkout(
        [bamboo.line(bamboo.product_id(sku), value, 2)], request_id=request_id
    )
    assert response.status_code == 200
    order = await _final(bamboo, clock, request_id)
    assert order["status"] == "Failed"
    assert order["total"] == 0


@_params(Scenario.PARTIAL)
async def test_partial_delivery(bamboo, clock, sku, value):
    request_id = bamboo.new_request_id()
    await bamboo.checkout([bamboo.line(bamboo.product_id(sku), value, 5)], request_id=request_id)
    order = await _final(bamboo, clock, request_id)
    assert order["status"] == "PartialFailed"
    statuses = [c["status"] for c in order["items"][0]["cards"]]
    assert statuses.count("Sold") == 2
    assert statuses.count("Failed") == 3


async def test_partial_only_hits_the_triggering_line(bamboo, clock):
    request_id = bamboo.new_request_id()
    lines = [
        bamboo.line(bamboo.product_id("SIM-PARTIAL-10"), 10, 1),
        bamboo.line(bamboo.product_id("SIM-OK-10"), 10, 2),
    ]
    await bamboo.checkout(lines, request_id=request_id)
    order = await _final(bamboo, clock, request_id)
    assert order["status"] == "PartialFailed"
    assert [item["status"] for item in order["items"]] == ["Failed", "Succeeded"]


@_params(Scenario.SLOW)
async def test_slow_fulfilment(bamboo, clock, sku, value):
    request_id = bamboo.new_request_id()
    await bamboo.checkout([bamboo.line(bamboo.product_id(sku), value)], request_id=request_id)
    assert (await _final(bamboo, clock, request_id, 19.0))["status"] == "Pending"
    assert (await _final(bamboo, clock, request_id, 1.0))["status"] == "Succeeded"


@_params(Scenario.OUT_OF_STOCK)
async def test_out_of_stock(bamboo, sku, value):
    response = await bamboo.checkout([bamboo.line(bamboo.product_id(sku), value)])
    assert response.status_code == 400
    assert response.json() == {"message": "ProductIsOutOfStock"}


@_params(Scenario.RATE_LIMITED)
async def test_rate_limited_first_attempt_then_success(bamboo, sku, value):
    request_id = bamboo.new_request_id()
    products = [bamboo.line(bamboo.product_id(sku), value)]
    first = await bamboo.checkout(products, request_id=request_id)
    assert first.status_code == 429
    assert re.search(r"Please wait for 3 seconds\.", first.text)
    assert bamboo.sim.order_count(request_id) == 0
    retry = await bamboo.checkout(products, request_id=request_id)
    assert retry.status_code == 200
    assert bamboo.sim.order_count(request_id) == 1


@_params(Scenario.VENDOR_5XX)
async def test_vendor_5xx_first_attempt_creates_nothing(bamboo, sku, value):
    request_id = bamboo.new_request_id()
    products = [bamboo.line(bamboo.product_id(sku), value)]
    before = bamboo.sim.accounts[1001].balance
    first = await bamboo.checkout(products, request_id=request_id)
    assert first.status_code == 503
    assert bamboo.sim.order_count(request_id) == 0
    assert bamboo.sim.accounts[1001].balance == before
    retry = await bamboo.checkout(products, request_id=request_id)
    assert retry.status_code == 200
    assert bamboo.sim.order_count(request_id) == 1


@_params(Scenario.VENDOR_TIMEOUT)
async def test_vendor_timeout_creates_the_order_then_hangs(bamboo, clock, sku, value):
    request_id = bamboo.new_request_id()
    products = [bamboo.line(bamboo.product_id(sku), value)]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bamboo.checkout(products, request_id=request_id), timeout=0.1)
    assert bamboo.sim.order_count(request_id) == 1
    retry = await bamboo.checkout(products, request_id=request_id)
    assert retry.status_code == 400
    assert retry.json() == {"message": "OrderAlreadyExists"}
    assert (await _final(bamboo, clock, request_id))["status"] == "Succeeded"
    assert bamboo.sim.order_count(request_id) == 1


async def test_magic_values_do_nothing_outside_the_trigger(bamboo, clock):
    # 13.13 on a range product fails; 13 (not magic) succeeds.
    request_id = bamboo.new_request_id()
    await bamboo.checkout([bamboo.line(bamboo.product_id("AMZ-US-VAR"), 13)], request_id=request_id)
    assert (await _final(bamboo, clock, request_id))["status"] == "Succeeded"
