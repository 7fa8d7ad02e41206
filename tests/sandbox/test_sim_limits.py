"""Rate limits per endpoint and credential: 429 with Bamboo's text, on the manual clock."""

from __future__ import annotations

import re

import pytest

from steller_sandbox import RateLimit, RateLimits, SimulatorConfig, create_app

TEXT = re.compile(r"Too many requests\. Please wait for (\d+) seconds\.")
ACCOUNTS = "/api/integration/v1.0/accounts"


@pytest.fixture
def config(clock):
    return SimulatorConfig(clock=clock)  # limits on, Bamboo's numbers


def _wait(response) -> int:
    assert response.status_code == 429
    match = TEXT.search(response.text)
    assert match, response.text
    return int(match.group(1))


async def test_one_per_second_default_then_free_after_the_wait(client, clock):
    assert (await client.get(ACCOUNTS)).status_code == 200
    assert _wait(await client.get(ACCOUNTS)) == 1
    clock.advance(1.0)
    assert (await client.get(ACCOUNTS)).status_code == 200


async def test_limits_are_per_credential(client, app, bamboo):
    assert (await client.get(ACCOUNTS)).status_code == 200
    async with bamboo.other_client(app, "steller-production", "production-secret") as other:
        assert (await other.get(ACCOUNTS)).status_code == 200
    assert (await client.get(ACCOUNTS)).status_code == 429


async def test_transactions_four_per_hour(client, clock):
    params = {"startDate": "2024-05-16", "endDate": "2024-05-16"}
    for _ in range(4):
        assert (await client.get("/api/Integration/v1/transactions", params=params)).is_success
        clock.advance(10)
    assert _wait(await client.get("/api/Integration/v1/transactions", params=params)) == 3560


async def test_checkout_needs_500ms_spacing(bamboo, clock):
    ok = bamboo.product_id("SIM-OK-10")
    assert (await bamboo.checkout([bamboo.line(ok, 10)])).status_code == 200
    clock.advance(0.2)
    request_id = bamboo.new_request_id()
    assert _wait(await bamboo.checkout([bamboo.line(ok, 10)], request_id=request_id)) == 1
    assert bamboo.sim.order_count(request_id) == 0
    clock.advance(0.3)
    assert (await bamboo.checkout([bamboo.line(ok, 10)], request_id=request_id)).status_code == 200


async def test_at_most_six_orders_per_product_per_minute(bamboo, clock):
    ok, other = bamboo.product_id("SIM-OK-10"), bamboo.product_id("AMZ-US-10")
    for _ in range(6):
        assert (await bamboo.checkout([bamboo.line(ok, 10)])).status_code == 200
        clock.advance(1.0)
    assert _wait(await bamboo.checkout([bamboo.line(ok, 10)])) == 54
    clock.advance(1.0)
    assert (await bamboo.checkout([bamboo.line(other, 10)])).status_code == 200
    clock.advance(54.0)
    assert (await bamboo.checkout([bamboo.line(ok, 10)])).status_code == 200


async def test_configurable_numbers(clock, bamboo):
    limits = RateLimits(get_order=RateLimit(2, 10.0))
    app = create_app(SimulatorConfig(clock=clock, limits=limits))
    async with bamboo.other_client(app, "steller-sandbox", "sandbox-secret") as http:
        path = f"/api/integration/v1.0/orders/{bamboo.new_request_id()}"
        assert (await http.get(path)).status_code == 404
        assert (await http.get(path)).status_code == 404
        assert _wait(await http.get(path)) == 10


async def test_limits_can_be_lifted_at_run_time(client):
    assert (await client.get(ACCOUNTS)).status_code == 200
    assert (await client.get(ACCOUNTS)).status_code == 429
    lifted = await client.post("/_sim/limits", json={"enabled": False})
    assert lifted.json() == {"enabled": False}
    for _ in range(5):
        assert (await client.get(ACCOUNTS)).status_code == 200
