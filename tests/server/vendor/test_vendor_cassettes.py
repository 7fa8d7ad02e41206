"""Recorded exchanges with the simulator for Bamboo's documented shapes, replayed offline.

Re-record (needs nothing running; the simulator is started in-process):
    .venv/bin/python -m pytest tests/server/vendor/test_vendor_cassettes.py --record-mode=all
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from steller_sandbox import SimulatorConfig, create_app
from steller_sandbox.testing import serve_in_thread
from steller_server.vendor import BambooClient, BambooLimits, OrderLine, VendorOrder

REQUEST_ID = "71ac2817-6f3c-4a53-9f5a-1e9c3c0d6f10"
AMAZON_US_50 = 400013  # SKU AMZ-US-50: ids are stable across seeds


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, object]:
    return {
        "filter_headers": ["authorization"],
        "match_on": ["method", "path", "query"],
        "decode_compressed_response": True,
    }


@pytest.fixture
def base_url(record_mode: str) -> Iterator[str]:
    if record_mode == "none":
        yield "http://bamboo.cassette.invalid"
        return
    app = create_app(SimulatorConfig(limits_enabled=False))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
async def recorded(base_url: str) -> AsyncIterator[BambooClient]:
    async with BambooClient(
        base_url, "steller-sandbox", "sandbox-secret", limits=BambooLimits(enabled=False)
    ) as client:
        yield client


@pytest.mark.vcr
async def test_catalog_page(recorded):
    page = await recorded.get_catalog_page(0, 5)
    assert page.count >= 50
    assert len(page.items) == 5
    assert page.items[0].name == "Amazon US"
    product = next(p for p in page.items[0].products if p.sku == "AMZ-US-50")
    assert product.id == AMAZON_US_50
    assert product.min_face_value == product.max_face_value == Decimal(50)
    assert page.items[0].categories == (4,)  # ids, named by the categories endpoint


@pytest.mark.vcr
async def test_categories(recorded):
    categories = {c.id: c.name for c in await recorded.get_categories()}
    assert categories[4] == "Shopping"
    assert {1: "Entertainment", 2: "Gaming", 3: "Prepaid Cards"}.items() <= categories.items()


@pytest.mark.vcr
async def test_accounts(recorded):
    accounts = await recorded.get_accounts()
    assert {a.currency for a in accounts} >= {"USD", "EUR", "GBP", "AED"}


@pytest.mark.vcr
async def test_checkout_and_get_order(recorded):
    line = OrderLine(AMAZON_US_50, 2, Decimal(50))
    assert await recorded.place_order(REQUEST_ID, 1001, [line]) == REQUEST_ID
    order = await recorded.get_order(REQUEST_ID)
    assert isinstance(order, VendorOrder)
    assert order.status == "Succeeded"
    assert len(order.sold_cards) == 2


@pytest.mark.vcr
async def test_exchange_rates(recorded):
    rates = await recorded.get_exchange_rates()
    assert rates.base == "USD"
    assert rates.rates["AED"] == Decimal("3.6725")
