"""The client's limiter waits for slots and never exceeds the configured rate at the vendor.

The simulator's windows are made 25% shorter than the client's so that loopback latency jitter
between "slot taken" and "request arrives" cannot turn a correct client into a 429.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from decimal import Decimal

import pytest

from steller_sandbox import RateLimit, RateLimits, SimulatorConfig
from steller_server.vendor import (
    BambooClient,
    BambooLimits,
    OrderLine,
    VendorLimiter,
    VendorOrderNotFound,
    VendorRateLimited,
)

REDIS_URL = os.environ.get("STELLER_TEST_REDIS_URL")


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


async def _get_missing_order(client: BambooClient) -> None:
    with pytest.raises(VendorOrderNotFound):
        await client.get_order(uuid.uuid4())


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        limits_enabled=True,
        limits=RateLimits(
            get_order=RateLimit(5, 0.75), checkout=RateLimit(2, 0.75), checkout_spacing=0.375
        ),
    )


@pytest.fixture
def client_limits() -> BambooLimits:
    return BambooLimits(get_order="5/second")


def _arrivals(sim, endpoint: str) -> list[float]:
    records = [r for r in sim.request_log if r.endpoint == endpoint]
    assert all(r.status_code != 429 for r in records), [r.status_code for r in records]
    return [r.at.timestamp() for r in records]


async def test_concurrent_calls_wait_for_slots_and_stay_under_the_rate(bamboo, sim):
    started = time.monotonic()
    await asyncio.gather(*(_get_missing_order(bamboo) for _ in range(12)))
    assert time.monotonic() - started >= 1.9  # 12 calls at 5/s need three windows
    arrivals = _arrivals(sim, "get_order")
    assert len(arrivals) == 12
    assert _max_in_window(arrivals, 0.75) <= 5


async def test_checkouts_are_spaced_by_half_a_second(bamboo, sim):
    products = ["SIM-OK-10", "AMZ-US-10", "STM-US-10"]
    for sku in products:
        line = OrderLine(sim.catalog.by_sku[sku].id, 1, Decimal(10))
        await bamboo.place_order(uuid.uuid4(), 1001, [line])
    arrivals = _arrivals(sim, "checkout")
    assert len(arrivals) == 3
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.375


async def test_a_slot_further_away_than_max_wait_raises():
    limiter = VendorLimiter("memory://", BambooLimits(default="1/minute"), max_wait=0.1)
    await limiter.acquire("client", "accounts")
    started = time.monotonic()
    with pytest.raises(VendorRateLimited) as info:
        await limiter.acquire("client", "accounts")
    assert time.monotonic() - started < 0.1
    assert info.value.retry_after is not None
    assert info.value.retry_after > 50


async def test_disabled_limits_never_wait():
    limiter = VendorLimiter("memory://", BambooLimits(default="1/minute", enabled=False))
    for _ in range(5):
        await limiter.acquire("client", "accounts")


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="needs STELLER_TEST_REDIS_URL")
async def test_two_clients_share_the_limit_through_redis(sim_url, sim):
    assert REDIS_URL
    namespace = f"test-{uuid.uuid4()}"
    limits = BambooLimits(get_order="5/second")
    clients = [
        BambooClient(
            sim_url,
            "steller-sandbox",
            "sandbox-secret",
            limiter_storage_uri=REDIS_URL,
            limiter_namespace=namespace,
            limits=limits,
        )
        for _ in range(2)
    ]
    try:
        started = time.monotonic()
        await asyncio.gather(*(_get_missing_order(c) for c in clients for _ in range(6)))
        assert time.monotonic() - started >= 1.9  # 12 calls at a *shared* 5/s
    finally:
        for client in clients:
            await client.aclose()
    arrivals = _arrivals(sim, "get_order")
    assert len(arrivals) == 12
    assert _max_in_window(arrivals, 0.75) <= 5
